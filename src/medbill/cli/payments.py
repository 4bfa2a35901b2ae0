"""``medbill remit post FILE``, ``medbill denials`` and ``medbill ar aging``: the payment services from the shell.

The command line acts as a biller of one practice (``--practice ID``; without it, the only practice of
the install): an :class:`~medbill.services.context.Actor` with role ``biller``, no user id, source
``cli``, audited like any user. It opens the practice database from the settings (SQLCipher file in
``MEDBILL_HOME`` or ``MEDBILL_DATABASE_URL``) and brings its schema up to date first.

- ``medbill remit post FILE [--practice ID] [--preview] [--json]`` posts an 835 exactly once (the same
  file again, renamed or resent, posts nothing) and prints what happened to each claim payment, by
  surrogate claim id; ``--preview`` shows the same report and keeps nothing.
- ``medbill denials [--practice ID] [--json]``: denied and underpaid lines with the CARC/RARC texts
  (from the reference store ``MEDBILL_REFDATA`` when it is built), category and next action.
- ``medbill ar aging [--as-of DATE] [--view payer|patient] [--basis billing|service] [--json]``.

``register(group)`` adds ``post`` to the ``remit`` group (created by :mod:`medbill.cli.remit`, or here
when this runs first) and the ``denials`` and ``ar`` commands to ``group``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import click
from sqlalchemy import select

from medbill.cli.common import emit_json, handles_errors, json_option, parse_date, settings
from medbill.core.errors import NotFound, ValidationFailed
from medbill.ledger.reports import BUCKET_LABELS, AgingView, Buckets
from medbill.services import payments
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database

__all__ = ["ar_group", "denials_command", "register", "remit_post_command"]

practice_option = click.option(
    "--practice", "practice_id", type=int, default=None, help="Practice id (default: the only practice)."
)


@contextmanager
def _database() -> Iterator[Database]:
    db = Database.from_settings(settings())
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


def _actor(db: Database, practice_id: int | None) -> Actor:
    with db.read() as s:
        ids = list(s.scalars(select(m.Practice.id).order_by(m.Practice.id).limit(2)))
        if practice_id is None:
            if len(ids) != 1:
                raise ValidationFailed(
                    "this install has several practices (or none): say which with --practice ID",
                    field="practice",
                )
            practice_id = ids[0]
        elif s.get(m.Practice, practice_id) is None:
            raise NotFound(f"practice {practice_id} not found")
    return Actor(user_id=None, role=Role.BILLER, practice_id=practice_id, source="cli")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


# --------------------------------------------------------------------------------------------------- remit post
@click.command("post")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@practice_option
@click.option("--preview", is_flag=True, help="Show what posting would do; keep nothing.")
@json_option
@handles_errors
def remit_post_command(file: Path, practice_id: int | None, preview: bool, as_json: bool) -> None:
    """Post an 835 remittance into the practice's ledger (exactly once)."""
    with _database() as db:
        report = payments.post_remittance(
            db, actor=_actor(db, practice_id), content=file.read_bytes(), filename=file.name, preview=preview
        )
    if as_json:
        emit_json(report.to_dict())
        return
    for line in report_lines(report):
        click.echo(line)


def report_lines(report: payments.PostingReport) -> list[str]:
    c = report.counts
    head = "preview (nothing kept)" if report.preview else f"remittance {report.remittance_id}"
    if report.already_received:
        head += " (this file was received before)"
    out = [head]
    for t in report.transactions:
        out.append(
            f"  ST02 {t.transaction}  trace {t.payer_trace_id}/{t.trace}  payment {_money(t.payment)}  "
            f"{t.claims} claims, {t.provider_adjustments} PLB"
        )
        out += [f"    does not balance: {p}" for p in t.problems]
    out.append(
        f"posted {c.posted}, already posted {c.already_posted}, suspected duplicates {c.duplicates}, "
        f"unmatched {c.unmatched}, on hold {c.on_hold}, informational {c.informational}; "
        f"PLB posted {c.plb_posted}, already {c.plb_already_posted}"
    )
    out.append(
        f"paid posted {_money(report.paid_posted)}, provider adjustments posted {_money(report.provider_posted)}, "
        f"status changes {report.status_changes}, new work items {report.work_items}"
    )
    if report.lines:
        out.append(f"  {'ST02':<9} {'#':>4} {'CLP02':>5} {'claim':>7} {'paid':>12} {'outcome':<15} disposition")
    for ln in report.lines:
        claim = str(ln.claim_id) if ln.claim_id is not None else "-"
        what = ln.disposition + (f" -> {ln.queue}" if ln.queue else "") + (f": {ln.reason}" if ln.reason else "")
        out.append(
            f"  {ln.transaction:<9} {ln.position:>4} {ln.status:>5} {claim:>7} {_money(ln.paid):>12} "
            f"{ln.outcome or '-':<15} {what}"
        )
    out += [f"note: {p}" for p in report.problems]
    return out


# --------------------------------------------------------------------------------------------------- denials
@click.command("denials")
@practice_option
@json_option
@handles_errors
def denials_command(practice_id: int | None, as_json: bool) -> None:
    """Denied and underpaid lines, largest amount at stake first, with the reason and the next action."""
    refdata = settings().refdata_path
    with _database() as db:
        items = payments.denials(db, actor=_actor(db, practice_id), refdata=refdata if refdata.is_file() else None)
    if as_json:
        emit_json({"items": [payments.to_jsonable(i) for i in items]})
        return
    if not items:
        click.echo("no denied or underpaid lines")
        return
    for i in items:
        line = "claim level" if i.line_number is None else f"line {i.line_number}"
        click.echo(
            f"claim {i.claim_id} {line} {i.procedure or ''}  {i.kind.value}  denied {_money(i.denied)}  "
            f"paid {_money(i.paid)}  {i.payer}  [{i.category.value}]"
        )
        for r in i.reasons:
            text = f" {r.carc_text}" if r.carc_text else ""
            click.echo(f"    {r.group}-{r.carc} {_money(r.amount)} ({r.group_text}){text}")
        for remark in i.remarks:
            click.echo(f"    remark {remark.code}{': ' + remark.text if remark.text else ''}")
        if i.variance is not None:
            click.echo(f"    expected allowed {i.expected_allowed}, allowed {i.allowed} ({i.expected_basis})")
        click.echo(f"    next: {i.next_action}")
        if i.scrub_rule is not None:
            rule = f" ({i.scrub_rule.rule})" if i.scrub_rule.rule else ""
            click.echo(f"    the scrubber's {i.scrub_rule.family} rules{rule} would have caught it")


# --------------------------------------------------------------------------------------------------- ar aging
@click.group("ar")
def ar_group() -> None:
    """Accounts receivable."""


@ar_group.command("aging")
@practice_option
@click.option("--as-of", "as_of", default=None, help="Report date YYYY-MM-DD (default: today).")
@click.option("--view", type=click.Choice(["payer", "patient"]), default="payer", help="Payer or patient A/R.")
@click.option(
    "--basis",
    type=click.Choice([v.value for v in AgingView]),
    default=AgingView.BILLING.value,
    help="Age from first submission / statement (billing) or from the date of service (service).",
)
@json_option
@handles_errors
def ar_aging_command(practice_id: int | None, as_of: str | None, view: str, basis: str, as_json: bool) -> None:
    """A/R aging in buckets 0-30, 31-60, 61-90, 91-120, >120 days, by payer or by patient."""
    with _database() as db:
        report = payments.ar_aging(db, actor=_actor(db, practice_id), as_of=parse_date(as_of), view=AgingView(basis))
    rows = report.by_payer if view == "payer" else report.by_patient
    total = report.payers if view == "payer" else report.patients
    if as_json:
        emit_json(
            {
                "as_of": report.as_of.isoformat(),
                "view": view,
                "basis": report.view.value,
                "rows": {k: _buckets_json(b) for k, b in rows.items()},
                "total": _buckets_json(total),
            }
        )
        return
    click.echo(f"{view} A/R as of {report.as_of.isoformat()} ({report.view.value} basis)")
    head = "".join(f"{label:>12}" for label in (*BUCKET_LABELS, "unbilled", "credit", "total"))
    click.echo(f"{view:<24}{head}")
    for name, b in (*rows.items(), ("TOTAL", total)):
        values = (*b.aged, b.unbilled, b.credit, b.net)
        click.echo(f"{name:<24}" + "".join(f"{_money(v):>12}" for v in values))


def _buckets_json(b: Buckets) -> dict[str, str]:
    out = {label: str(v) for label, v in b.by_label().items()}
    out.update(unbilled=str(b.unbilled), credit=str(b.credit), total=str(b.total), net=str(b.net))
    return out


def register(group: click.Group) -> None:
    """``remit post`` into the ``remit`` group, and ``denials`` and ``ar`` on ``group``."""
    existing = group.commands.get("remit")
    if isinstance(existing, click.Group):
        existing.add_command(remit_post_command)
    else:
        from medbill.cli.remit import remit_group

        remit_group.add_command(remit_post_command)
        group.add_command(remit_group)
    group.add_command(denials_command)
    group.add_command(ar_group)

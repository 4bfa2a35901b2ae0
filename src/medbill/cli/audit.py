"""``medbill audit verify`` and ``medbill audit report``: review the tamper-evident audit log.

``verify`` recomputes every chain's HMAC links against the key file and compares each chain's head
with the anchor kept outside the database. Exit status 0 when intact; 1 with every problem listed
(chain, seq, kind: edited, deleted, inserted, reordered, truncated, forged_plain_hash, ...).

``report --from YYYY-MM-DD --to YYYY-MM-DD [--user ID]`` lists the records of those UTC dates
(inclusive), oldest first. Both run as the local operator (a system administrator: every chain) and
are themselves audited. ``--json`` prints ``{"intact": .., "problems": [..]}`` / ``{"records": [..]}``.
"""

from __future__ import annotations

import sys

import click

from medbill.cli.common import emit_json, handles_errors, json_option, parse_date, settings
from medbill.services.audit import audit_report, verify_audit
from medbill.services.context import system_actor
from medbill.store.db import Database

__all__ = ["audit_group", "register"]


def _open() -> Database:
    db = Database.from_settings(settings())
    db.migrate()
    return db


@click.group("audit")
def audit_group() -> None:
    """Verify and report the audit log."""


@audit_group.command("verify")
@json_option
@handles_errors
def verify_command(as_json: bool) -> None:
    """Check every audit chain for edited, deleted, inserted, reordered or truncated records."""
    db = _open()
    try:
        result = verify_audit(db, actor=system_actor())
    finally:
        db.dispose()
    if as_json:
        emit_json(result.to_dict())
    else:
        for c in result.chains:
            click.echo(f"chain {c.chain}: {c.records} records, last seq {c.last_seq}, anchored seq {c.anchor_seq}")
        for p in result.problems:
            where = f"chain {p.chain}" if p.chain is not None else "anchor"
            seq = f" seq {p.seq}" if p.seq is not None else ""
            click.echo(f"PROBLEM {where}{seq}: {p.kind}: {p.message}")
        verdict = "intact" if result.intact else f"NOT intact ({len(result.problems)} problems)"
        click.echo(f"{result.records} records verified in {result.seconds:.2f} s: {verdict}")
    sys.exit(0 if result.intact else 1)


@audit_group.command("report")
@click.option("--from", "start", required=True, help="First date (YYYY-MM-DD, UTC).")
@click.option("--to", "end", required=True, help="Last date (YYYY-MM-DD, UTC), inclusive.")
@click.option("--user", "user_id", type=int, default=None, help="Only this user id.")
@json_option
@handles_errors
def report_command(start: str, end: str, user_id: int | None, as_json: bool) -> None:
    """List audit records between two dates."""
    lo, hi = parse_date(start), parse_date(end)
    assert lo is not None and hi is not None
    if hi < lo:
        raise click.BadParameter("--to is before --from")
    db = _open()
    try:
        rows = audit_report(db, actor=system_actor(), start=lo, end=hi, user_id=user_id)
    finally:
        db.dispose()
    if as_json:
        emit_json({"records": [r.to_dict() for r in rows]})
        return
    for r in rows:
        ids = ",".join(str(i) for i in r.record_ids)
        click.echo(
            f"{r.at.isoformat(sep=' ', timespec='seconds')}  chain {r.chain} #{r.seq}  user {r.user_id or '-'}"
            f" ({r.role or '-'})  {r.action} {r.resource} [{ids}]  {r.outcome}  from {r.source or '-'}"
            + (f"  {r.detail}" if r.detail else "")
        )
    click.echo(f"{len(rows)} records")


def register(group: click.Group) -> None:
    group.add_command(audit_group)

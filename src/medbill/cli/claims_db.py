"""``medbill claims build|scrub|batch`` and ``medbill ack apply``: the claim services on the practice database.

A thin skin over :mod:`medbill.services.claims`. The command line acts inside one practice
(``--practice ID``) as a biller without a user account: ``Actor(user_id=None, role=BILLER,
source="cli")`` — the local system administrator (:func:`~medbill.services.context.system_actor`) holds
no claim permissions, by design of the permission matrix. Every command is audited like any request.

- ``medbill claims build ENCOUNTER_ID --practice ID [--rank 1|2|3]``: a draft claim from the encounter;
- ``medbill claims scrub CLAIM_ID --practice ID``: every finding; exit 1 when one is an error;
- ``medbill claims batch --partner ID --practice ID [--kind 837P|837I] [--claim ID ...] [--out FILE]``:
  the 837 of the ready claims (all, or the ones named), written to FILE (temp file + rename) or stdout;
- ``medbill ack apply FILE --practice ID``: a 999 or 277CA applied to the claims it answers.

The database comes from the settings (``MEDBILL_DATABASE_URL`` or the SQLCipher file in
``MEDBILL_HOME``); the reference store for scrubbing from ``MEDBILL_REFDATA``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from medbill.cli.common import emit_json, handles_errors, json_option, settings
from medbill.core.errors import MedbillError
from medbill.services import claims
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.store.db import Database

__all__ = ["ack_apply_command", "claims_group", "register"]


@contextmanager
def _database() -> Iterator[Database]:
    db = Database.from_settings(settings())
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


def cli_actor(practice_id: int) -> Actor:
    """The command line's actor inside a practice: a biller with no user account, source "cli"."""
    return Actor(user_id=None, role=Role.BILLER, practice_id=practice_id, source="cli")


practice_option = click.option(
    "--practice", "practice_id", type=int, required=True, help="The practice to act in (its id)."
)


@click.group("claims")
def claims_group() -> None:
    """Claims in the practice database: build, scrub, send in 837 batches."""


@claims_group.command("build")
@click.argument("encounter_id", type=int)
@practice_option
@click.option("--rank", "payer_rank", type=click.IntRange(1, 3), default=1, show_default=True,
              help="The payer: 1 primary, 2 secondary, 3 tertiary coverage.")  # fmt: skip
@json_option
@handles_errors
def build_command(encounter_id: int, practice_id: int, payer_rank: int, as_json: bool) -> None:
    """Build a draft claim from a coded encounter."""
    with _database() as db:
        view = claims.build_claim(db, actor=cli_actor(practice_id), encounter_id=encounter_id, payer_rank=payer_rank)
    if as_json:
        emit_json(view.model_dump(mode="json"))
        return
    click.echo(
        f"claim {view.id} built from encounter {encounter_id}: {view.kind}, {len(view.document.get('lines', []))} "
        f"lines, total {view.total_charge}, status {view.status}"
    )


@claims_group.command("scrub")
@click.argument("claim_id", type=int)
@practice_option
@json_option
@handles_errors
def scrub_command(claim_id: int, practice_id: int, as_json: bool) -> None:
    """Scrub a claim: every finding; a clean draft becomes ready (exit 1 when an error remains)."""
    with _database() as db:
        view = claims.scrub_claim(db, actor=cli_actor(practice_id), claim_id=claim_id)
    if as_json:
        emit_json(view.model_dump(mode="json"))
    else:
        click.echo(
            f"claim {claim_id}: {view.errors} errors, {view.warnings} warnings, {view.infos} infos; "
            f"status {view.status}"
        )
        for f in view.findings:
            color = {"error": "red", "warning": "yellow"}.get(f.severity)
            click.secho(f"  {f.severity:<8}{f.rule:<8}{f.name}  {f.location}", fg=color)
            click.echo(f"      {f.message}")
            if f.fix:
                click.echo(f"      fix: {f.fix}")
    if view.errors:
        sys.exit(1)


@claims_group.command("batch")
@click.option("--partner", "partner_id", type=int, required=True, help="The trading partner (its id).")
@practice_option
@click.option("--kind", type=click.Choice(["837P", "837I"], case_sensitive=False), default="837P", show_default=True)
@click.option(
    "--claim", "claim_ids", type=int, multiple=True, help="Only these claims (repeatable); default all ready."
)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write the 837 here (else stdout).")
@json_option
@handles_errors
def batch_command(
    partner_id: int, practice_id: int, kind: str, claim_ids: tuple[int, ...], out: Path | None, as_json: bool
) -> None:
    """Send ready claims: write their 837 with new control numbers; the claims become submitted."""
    from medbill.cli.x12_write import write_atomic

    if out is not None and not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise MedbillError(f"{out}: the folder {out.parent} does not exist")
    with _database() as db:
        view = claims.create_batch(
            db, actor=cli_actor(practice_id), partner_id=partner_id, claim_ids=list(claim_ids) or None, kind=kind
        )
    if out is not None:
        write_atomic(out, view.content)
    summary = view.model_dump(mode="json", exclude={"content"})
    if as_json:
        if out is None:
            summary["content"] = view.content
        emit_json(summary)
        return
    if out is None:
        click.echo(view.content, nl=False)
        return
    click.echo(
        f"batch {view.id}: {view.claim_count} claims, {view.kind}, ISA13 {view.interchange_control}, "
        f"GS06 {view.group_control}, ST02 {', '.join(t.control_number for t in view.transactions)}; wrote {out}"
    )


@click.group("ack")
def _ack_group() -> None:
    """999 and 277CA acknowledgments."""


@click.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@practice_option
@json_option
@handles_errors
def ack_apply_command(file: Path, practice_id: int, as_json: bool) -> None:
    """Apply a 999 or 277CA FILE to the claims it answers (the same file twice changes nothing)."""
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise MedbillError(f"{file}: cannot read: {exc.strerror or exc}") from None
    with _database() as db:
        view = claims.apply_acknowledgment(db, actor=cli_actor(practice_id), content=content, filename=file.name)
    if as_json:
        emit_json(view.model_dump(mode="json"))
        return
    if view.duplicate:
        click.echo(f"{view.kind} {file.name}: already applied (acknowledgment {view.id}); nothing changed")
        return
    click.echo(
        f"{view.kind} {file.name}: {view.accepted} accepted, {view.rejected} rejected; "
        f"{len(view.changes)} claim status changes, {view.work_items} work items"
    )
    for c in view.changes:
        click.echo(f"  claim {c.claim_id}: {c.from_status} -> {c.to_status} ({c.cause_ref})")
    for p in view.problems:
        click.echo(f"  problem: {p}")


def register(group: click.Group) -> None:
    """Add ``claims build|scrub|batch`` and ``ack apply`` (into an existing ``ack`` group when there is one)."""
    group.add_command(claims_group)
    existing = group.commands.get("ack")
    if isinstance(existing, click.Group):
        existing.add_command(ack_apply_command)
    else:
        _ack_group.add_command(ack_apply_command)
        group.add_command(_ack_group)

"""``medbill demo``, ``medbill import`` and ``medbill export deidentified``: the practice's records.

- ``medbill demo [--seed N] [--patients N] [--json]`` creates the "Demo Family Medicine" practice with
  synthetic patients, payers, fee schedules, encounters and notes, and one user per role; it prints the
  practice, the users, their passwords and otpauth:// URIs (synthetic demo credentials: add the URI to an
  authenticator app to sign in).
- ``medbill import FILE [--csv|--fhir] [--practice ID] [--dry-run] [--json]`` imports patients, coverage
  and encounters from CSV (a file or a folder: see docs/import.md) or a FHIR R4 bundle (JSON), all or
  nothing; every error is listed with its file, row / entry and field, and the exit status is 1.
- ``medbill export deidentified OUT [--practice ID] [--include-notes] [--format csv|jsonl]
  [--zip3-list FILE] [--json]`` writes the practice's encounters and claims de-identified by HIPAA Safe
  Harbor, and OUT.manifest.json beside it.

The command line opens the practice database from the settings and brings its schema up to date. It acts
as the local operator: the system actor (audited with source "cli") with the role of the practice's
administrator for import and export, which need a practice and PHI permissions a system administrator
does not have. ``--practice`` may be left out when the install has one practice.

``register(group)`` adds ``demo``, ``import`` and the ``export`` group to ``group``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import select

from medbill.cli.common import emit_json, handles_errors, json_option, settings
from medbill.core.errors import NotFound
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database

__all__ = ["demo_command", "export_group", "import_command", "register"]


@contextmanager
def _database() -> Iterator[Database]:
    db = Database.from_settings(settings())
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


def _operator(db: Database, practice_id: int | None) -> Actor:
    """The local operator acting as the administrator of one practice (the only one when not given)."""
    with db.read() as s:
        ids = list(s.scalars(select(m.Practice.id).order_by(m.Practice.id)))
    if practice_id is None:
        if len(ids) != 1:
            raise NotFound(
                "give --practice ID" if ids else "no practice on this install",
                hint="`medbill practices create NAME` or `medbill demo` creates one",
            )
        practice_id = ids[0]
    elif practice_id not in ids:
        raise NotFound(f"practice {practice_id} not found")
    return dataclasses.replace(system_actor(practice_id), role=Role.PRACTICE_ADMIN)


@click.command("demo")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the synthetic data.")
@click.option("--patients", type=click.IntRange(1, 10_000), default=40, show_default=True)
@json_option
@handles_errors
def demo_command(seed: int, patients: int, as_json: bool) -> None:
    """Create a demo practice with synthetic records and one user per role (prints their sign-in)."""
    from medbill.services.demo import create_demo

    with _database() as db:
        summary = create_demo(db, seed=seed, patients=patients)
    if as_json:
        emit_json(summary.to_dict())
        return
    click.echo(f"practice {summary.practice_id}: {summary.practice_name}")
    click.echo(
        f"  {summary.providers} providers, {len(summary.payers)} payers, {summary.fee_schedules} fee schedules, "
        f"{summary.patients} patients, {summary.coverages} coverages"
    )
    click.echo(f"  {summary.encounters} encounters: {summary.coded} coded, {summary.to_code} to code")
    click.echo("payers: " + ", ".join(f"{pid} {name}" for pid, name in summary.payers))
    if summary.users:
        click.echo("demo users (synthetic credentials; add the otpauth URI to an authenticator app):")
        for u in summary.users:
            click.echo(f"  {u.role:15} {u.username:28} password {u.password}")
            click.echo(f"  {'':15} {u.otpauth_uri}")
    if summary.users_note:
        click.echo(summary.users_note)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--csv", "kind", flag_value="csv", default=True, help="CSV file or folder (default).")
@click.option("--fhir", "kind", flag_value="fhir", help="FHIR R4 bundle (JSON) or a folder of them.")
@click.option("--practice", "practice_id", type=int, default=None, help="Practice id (when there are several).")
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing.")
@json_option
@handles_errors
def import_command(path: Path, kind: str, practice_id: int | None, dry_run: bool, as_json: bool) -> None:
    """Import patients, coverage and encounters (all or nothing; every error listed)."""
    from medbill.services.imports import import_records

    with _database() as db:
        report = import_records(db, actor=_operator(db, practice_id), path=path, kind=kind, dry_run=dry_run)
    if as_json:
        emit_json(report.to_dict())
    else:
        head = "dry run: " if dry_run else ""
        if report.ok:
            verb = "would import" if dry_run else "imported"
            click.echo(
                f"{head}{verb} patients +{report.patients_created} (matched {report.patients_matched}), "
                f"coverages +{report.coverages_created} (existing {report.coverages_existing}), "
                f"encounters +{report.encounters_created} (existing {report.encounters_existing}), "
                f"payers +{len(report.payers_created)}"
            )
        else:
            click.echo(f"{head}{len(report.errors)} error(s), nothing imported:", err=True)
            for issue in report.errors:
                click.echo(f"  {issue}", err=True)
        for notice in report.notices:
            click.echo(f"  note: {notice}", err=True)
    if not report.ok:
        raise SystemExit(1)


@click.group("export")
def export_group() -> None:
    """Exports of the practice's records."""


@export_group.command("deidentified")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--practice", "practice_id", type=int, default=None, help="Practice id (when there are several).")
@click.option("--include-notes", is_flag=True, help="Add the notes: the export is then NOT de-identified.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None, help="Default: from OUT's suffix.")
@click.option(
    "--zip3-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Restricted ZIP3 list (default: the HHS 2000 Census list shipped with medbill).",
)
@json_option
@handles_errors
def export_deidentified_command(
    out: Path, practice_id: int | None, include_notes: bool, fmt: str | None, zip3_list: Path | None, as_json: bool
) -> None:
    """Encounters and claims de-identified by HIPAA Safe Harbor (CSV or JSON lines, with a manifest)."""
    from medbill.services.exports import export_deidentified

    with _database() as db:
        summary = export_deidentified(
            db,
            actor=_operator(db, practice_id),
            path_or_stream=out,
            include_notes=include_notes,
            fmt=fmt,
            restricted_zip3=zip3_list,
        )
    if as_json:
        emit_json(summary.to_dict())
        return
    state = "de-identified (Safe Harbor)" if summary.deidentified else "NOT de-identified: notes included"
    click.echo(
        f"wrote {summary.rows} rows ({summary.encounters} encounters, {summary.claims} claims) to {summary.path}: "
        f"{state}"
    )
    click.echo(f"manifest: {summary.manifest_path} (ZIP3 list: {summary.zip3_list_date})")


def register(group: click.Group) -> None:
    group.add_command(demo_command)
    group.add_command(import_command)
    existing = group.commands.get("export")
    if isinstance(existing, click.Group):
        existing.add_command(export_deidentified_command)
    else:
        group.add_command(export_group)

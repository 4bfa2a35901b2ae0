"""``medbill suggest``: code suggestions for a clinical note (computer-assisted coding)."""

from __future__ import annotations

import sys
import textwrap

import click

from medbill.cli.common import emit_json, handles_errors, json_option, parse_date, settings
from medbill.coding import CodingOptions, CodingResult, NoteError, decode_note, suggest
from medbill.core.errors import MedbillError
from medbill.services.reference import open_store

MAX_BYTES = 5_000_000


class NoteInputError(MedbillError):
    code = "bad_note"


def _read(note_file: str) -> tuple[str, list[str]]:
    try:
        if note_file == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(note_file, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise NoteInputError(f"cannot read {note_file}: {exc.strerror or exc}") from None
    try:
        return decode_note(raw, max_bytes=MAX_BYTES)
    except NoteError as exc:
        raise NoteInputError(f"{'stdin' if note_file == '-' else note_file}: {exc}") from None


def _print(result: CodingResult) -> None:
    for w in result.warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    if not result.suggestions:
        click.echo("no suggestions")
    for s in result.suggestions:
        mark = "" if s.billable else " (not billable)"
        click.echo(f"{s.display:<9} {s.status:<9} {s.assertion:<12} {s.confidence:.2f}  {s.description}{mark}")
        ev = "; ".join(f"[{e.start}:{e.end}] {e.text!r}" for e in s.evidence[:4])
        click.echo(textwrap.fill(f"evidence: {ev}", 100, initial_indent="    ", subsequent_indent="      "))
        click.echo(textwrap.fill(f"path: {' > '.join(s.path)}", 100, initial_indent="    ", subsequent_indent="      "))
        click.echo(f"    why: {s.why}")
    for t in result.tasks:
        extra = f" [note supports: {', '.join(t.candidates)}]" if t.candidates else ""
        click.echo(textwrap.fill(f"task {t.kind}: {t.message}{extra}", 100, subsequent_indent="    "))
    for c in result.conflicts:
        click.echo(f"conflict: {c.code} / {c.other}: {c.note}")
    if result.drg:
        click.echo(f"MS-DRG {result.drg.drg} {result.drg.description} ({result.drg.source})")


@click.command("suggest")
@click.argument("note_file")
@click.option("--setting", type=click.Choice(["outpatient", "inpatient"]), default="outpatient", show_default=True)
@click.option("--date", "on", help="Date of service (YYYY-MM-DD); default today.")
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(1, 500))
@json_option
@handles_errors
def suggest_cmd(note_file: str, setting: str, on: str | None, limit: int, as_json: bool) -> None:
    """Suggest ICD-10-CM (and HCPCS/PCS) codes for a clinical note, with evidence.

    NOTE_FILE is a text file (UTF-8, UTF-16 with BOM or Latin-1), or - for stdin. Negated,
    family-history and historical mentions are never suggested as present; in the outpatient
    setting neither are uncertain ones ("possible", "rule out").
    """
    text, warnings = _read(note_file)
    store = open_store(settings=settings())
    result = suggest(
        text,
        store=store,
        setting="inpatient" if setting == "inpatient" else "outpatient",
        on=parse_date(on),
        options=CodingOptions(limit=limit),
    )
    if warnings:
        from dataclasses import replace

        result = replace(result, warnings=tuple(warnings) + result.warnings)
    if as_json:
        emit_json(result.to_dict())
        return
    _print(result)


def register(group: click.Group) -> None:
    group.add_command(suggest_cmd)

"""``medbill scrub`` and ``medbill rules``.

``medbill scrub claims.json [--date D] [--payer-rules FILE] [--json]`` scrubs every claim of a claims
document (``{"claims": [...]}``, a list of claims, or one claim) against the reference store
(``MEDBILL_REFDATA``; without one, code and edit-table checks are reported as skipped). Exit status:
0 no error-severity finding, 1 at least one, 2 a bad input file (one line naming the file and the
claim path, never a traceback). ``medbill rules [--family F] [--json]`` lists every rule with its code,
name, severity and the first line of its docstring.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import click

from medbill.cli.common import emit_json, handles_errors, json_option, parse_date, settings
from medbill.core.claim import Claim, ClaimFormatError, claim_from_dict, claims_from_dict
from medbill.core.errors import CodeSetError, MedbillError
from medbill.core.finding import Finding, Severity
from medbill.scrub import EditTables, PayerRules, ScrubContext, all_rules, scrub_many
from medbill.scrub.rule import FAMILIES


class ScrubInputError(MedbillError):
    """A claims file that cannot be read."""

    code = "scrub_input_error"


def read_claims(path: Path) -> tuple[Claim, ...]:
    """The claims in a JSON file: ``{"claims": [...]}``, a list of claims, or one claim."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScrubInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ScrubInputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise ScrubInputError(f"{path}: not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    try:
        if isinstance(data, dict) and "claims" in data:
            return claims_from_dict(data)
        if isinstance(data, list):
            return claims_from_dict({"claims": data})
        if isinstance(data, dict):
            return (claim_from_dict(data),)
    except ClaimFormatError as exc:
        raise ScrubInputError(f"{path}: {exc.message}", hint=exc.hint) from exc
    raise ScrubInputError(f'{path}: expected {{"claims": [...]}}, a list of claims or one claim')


def _counts(findings: list[Finding]) -> dict[str, int]:
    c = Counter(f.severity for f in findings)
    return {"errors": c[Severity.ERROR], "warnings": c[Severity.WARNING], "infos": c[Severity.INFO]}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _print_claim(index: int, claim: Claim, findings: list[Finding]) -> None:
    c = _counts(findings)
    head = f"claim {index + 1} ({claim.id}): " + ", ".join(
        (_plural(c["errors"], "error"), _plural(c["warnings"], "warning"), _plural(c["infos"], "info"))
    )
    click.echo(head)
    for f in findings:
        color = {"error": "red", "warning": "yellow"}.get(str(f.severity))
        click.secho(f"  {str(f.severity):<8}{f.rule:<8}{f.name}  {f.location}", fg=color)
        click.echo(f"      {f.message}")
        if f.fix:
            click.echo(f"      fix: {f.fix}")


@click.command("scrub")
@click.argument("claims_file", metavar="CLAIMS.json", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--date", "on", help="The submission date to scrub as of (YYYY-MM-DD); default today.")
@click.option(
    "--payer-rules",
    "payer_rules_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML file of the practice's payer rules (see `medbill rules --family payer`).",
)
@json_option
@handles_errors
def scrub_command(claims_file: Path, on: str | None, payer_rules_file: Path | None, as_json: bool) -> None:
    """Scrub claims: every edit, every finding (exit 1 when an error-severity finding exists)."""
    today = parse_date(on) or date.today()
    claims = read_claims(claims_file)
    payer_rules = PayerRules.load(payer_rules_file) if payer_rules_file is not None else PayerRules.empty()
    refdata = settings().refdata_path
    if refdata.is_file():
        try:
            tables = EditTables.open(refdata)
        except CodeSetError as exc:
            raise ScrubInputError(f"reference store {refdata}: {exc.message}") from exc
    else:
        tables = EditTables.empty()
        if not as_json:
            click.echo(
                f"note: no reference store at {refdata}: code and edit-table checks are skipped "
                "(build it with `medbill data build`)",
                err=True,
            )
    ctx = ScrubContext(today=today, tables=tables, payer_rules=payer_rules)
    results = scrub_many(claims, ctx)
    failed = sum(1 for fs in results if any(f.severity is Severity.ERROR for f in fs))
    if as_json:
        out: dict[str, Any] = {
            "date": today.isoformat(),
            "tables": tables.summary(),
            "claims": [
                {"index": i, "id": claim.id, **_counts(fs), "findings": [f.to_dict() for f in fs]}
                for i, (claim, fs) in enumerate(zip(claims, results, strict=True))
            ],
            "summary": {"claims": len(claims), "claims_with_errors": failed},
        }
        emit_json(out)
    else:
        for i, (claim, fs) in enumerate(zip(claims, results, strict=True)):
            _print_claim(i, claim, fs)
        click.echo(f"{_plural(len(claims), 'claim')} scrubbed as of {today.isoformat()}: {failed} with errors")
    if failed:
        sys.exit(1)


@click.command("rules")
@click.option("--family", type=click.Choice([f for f in FAMILIES]), help="Only the rules of this family.")
@json_option
@handles_errors
def rules_command(family: str | None, as_json: bool) -> None:
    """List the scrubber's rules: code, name, severity and what each checks."""
    rules = all_rules(family)
    if as_json:
        emit_json([r.to_dict() for r in rules])
        return
    for r in rules:
        mark = " (overridable)" if r.overridable else ""
        click.echo(f"{r.code:<8}{r.name:<38}{str(r.severity):<8}{r.summary}{mark}")


def register(group: click.Group) -> None:
    """Add the scrubber's commands to the top-level group."""
    group.add_command(scrub_command)
    group.add_command(rules_command)

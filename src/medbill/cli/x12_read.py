"""``medbill x12 read FILE``: read an 837P/837I file into claims (registered onto ``medbill x12``, see x12.py).

Prints the claims as the JSON claims document (``{"claims": [...]}``, see ``medbill.core.claim``) with
``--json``, else a short summary. A file that cannot be read gets one line naming the segment
(``error: segment 14 NM1 2010AA NM109: ...``) and exit status 2.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from medbill.cli.common import emit_json, handles_errors, json_option
from medbill.core.claim import Claim, claims_to_dict
from medbill.core.errors import X12ParseError


def read_text(path: Path) -> str:
    """The file's text (UTF-8; a byte-order mark is left for the tokenizer to strip)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise X12ParseError(
            f"{path.name} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}); X12 files are ASCII/UTF-8"
        ) from None


def summary(claims: list[Claim]) -> list[str]:
    kinds = Counter("837P" if c.kind.value == "professional" else "837I" for c in claims)
    head = f"{len(claims)} claim{'s' if len(claims) != 1 else ''}"
    if claims:
        head += " (" + ", ".join(f"{kind}: {n}" for kind, n in sorted(kinds.items())) + ")"
    out = [head]
    for claim in claims:
        total = claim.stated_total if claim.stated_total is not None else claim.total_charge
        out.append(
            f"  {claim.id}  {'837P' if claim.kind.value == 'professional' else '837I'}  "
            f"{len(claim.lines)} line{'s' if len(claim.lines) != 1 else ''}  {total}  "
            f"{claim.payer.name} ({claim.payer.payer_id or 'no payer id'})"
        )
    return out


@click.command("read")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--drop",
    "drop",
    multiple=True,
    metavar="KEY",
    help="Accept losing data medbill claims do not carry (a key the error names, e.g. REF*G2). Repeatable.",
)
@json_option
@handles_errors
def read_command(file: Path, drop: tuple[str, ...], as_json: bool) -> None:
    """Read an 837P/837I FILE into claims (JSON with --json, else a summary)."""
    from medbill.x12.read837 import read_837

    claims = read_837(read_text(file), drop=drop)
    if as_json:
        emit_json(claims_to_dict(claims))
        return
    for line in summary(claims):
        click.echo(line)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``x12`` group."""
    group.add_command(read_command)

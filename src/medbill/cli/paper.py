"""``medbill paper``: CMS-1500 (02/12) and UB-04 PDFs from a claims file."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from medbill.cli.common import emit_json, handles_errors, json_option
from medbill.core.claim import Claim, claims_from_json
from medbill.core.errors import MedbillError
from medbill.paper import cms1500_pages, render_cms1500, render_ub04, ub04_pages

log = logging.getLogger(__name__)

_claims_file = click.argument("claims_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_output = click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The PDF to write."
)
_data_only = click.option(
    "--data-only", is_flag=True, help="Print the data alone, positioned for pre-printed red OCR forms."
)


@click.group("paper")
def paper_group() -> None:
    """Paper claims: CMS-1500 (02/12) and UB-04 PDFs from a claims file ({"claims": [...]})."""


@paper_group.command("cms1500")
@_claims_file
@_output
@_data_only
@json_option
@handles_errors
def cms1500_cmd(claims_file: Path, output: Path, data_only: bool, as_json: bool) -> None:
    """Write CMS-1500 (02/12) forms for the professional claims in CLAIMS_FILE.

    Six service lines a form; a longer claim continues on further forms with the total on the last.
    An institutional claim is an error (print it with `medbill paper ub04`); nothing is written then.
    """
    _run("cms1500", claims_file, output, data_only, as_json, render_cms1500, cms1500_pages)


@paper_group.command("ub04")
@_claims_file
@_output
@_data_only
@json_option
@handles_errors
def ub04_cmd(claims_file: Path, output: Path, data_only: bool, as_json: bool) -> None:
    """Write UB-04 (CMS-1450) forms for the institutional claims in CLAIMS_FILE.

    22 service lines a form and the 0001 totals line; a longer claim continues on further forms with
    the total on the last. A professional claim is an error (print it with `medbill paper cms1500`);
    nothing is written then.
    """
    _run("ub04", claims_file, output, data_only, as_json, render_ub04, ub04_pages)


def _run(
    name: str,
    claims_file: Path,
    output: Path,
    data_only: bool,
    as_json: bool,
    render: Callable[..., bytes],
    pages: Callable[[Claim], int],
) -> None:
    try:
        text = claims_file.read_bytes()
    except OSError as exc:
        raise MedbillError(f"cannot read {claims_file}: {exc.strerror}") from None
    claims = claims_from_json(text)
    pdf = render(claims, form=not data_only)
    _write_atomically(output, pdf)
    count = sum(pages(claim) for claim in claims)
    log.info("wrote %d %s pages for %d claims", count, name, len(claims))
    if as_json:
        emit_json({"form": name, "output": str(output), "claims": len(claims), "pages": count, "data_only": data_only})
    else:
        click.echo(f"wrote {count} page(s) for {len(claims)} claim(s) to {output}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename it into place: never a half-written PDF."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise MedbillError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MedbillError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(group: click.Group) -> None:
    """Add ``medbill paper`` to the top-level group."""
    group.add_command(paper_group)

"""``medbill simulate BATCH.837``: a payer's 999, 277CA and 835 for a submitted 837 (005010X222A1/X223A2).

Writes ``<stem>.999``, ``<stem>.277`` (277CA, 005010X214) and ``<stem>.835`` (005010X221A1) into
``--out`` (default: the batch's folder). ``--rules FILE`` (YAML or JSON, see
``medbill.x12.simulate.SimulationRules``) sets the allowed ratio, patient shares, rejections, denials,
reversals and take-backs; ``--seed`` the payer's control and claim numbers (same seed, same bytes).
``register(group)`` adds the command to ``group``.
"""

from __future__ import annotations

from pathlib import Path

import click

from medbill.cli.common import emit_json, handles_errors, json_option
from medbill.cli.x12_read import read_text

__all__ = ["register", "simulate_command"]


@click.command("simulate")
@click.argument("batch", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Folder for the answers.")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Rules file (YAML or JSON).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for control and claim numbers.")
@json_option
@handles_errors
def simulate_command(batch: Path, out: Path | None, rules_file: Path | None, seed: int, as_json: bool) -> None:
    """Answer the 837 BATCH as a payer would: a 999, a 277CA and an 835."""
    from medbill.x12.simulate import load_rules, simulate

    rules = load_rules(rules_file) if rules_file is not None else None
    result = simulate(read_text(batch), rules, seed=seed)
    folder = out if out is not None else batch.parent
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for suffix, text in ((".999", result.ack_999), (".277", result.ack_277ca), (".835", result.remit_835)):
        path = folder / f"{batch.stem}{suffix}"
        path.write_text(text, encoding="ascii")
        files[suffix[1:]] = str(path)
    if as_json:
        emit_json(
            {
                "files": files,
                "accepted": list(result.accepted),
                "rejected": list(result.rejected),
                "paid": str(result.paid),
            }
        )
        return
    click.echo(f"{len(result.accepted)} accepted, {len(result.rejected)} rejected, paid {result.paid}")
    for kind, written in files.items():
        click.echo(f"  {kind}: {written}")


def register(group: click.Group) -> None:
    """Add ``simulate`` to ``group`` (the top-level ``medbill`` group)."""
    group.add_command(simulate_command)

"""``medbill data``: build, status, fetch, import-cpt."""

from __future__ import annotations

from dataclasses import asdict

import click

from medbill.cli.common import emit_json, handles_errors, json_option, settings
from medbill.codesets.build import LoadResult
from medbill.services.reference import build_reference, reference_status


@click.group("data")
def data_group() -> None:
    """Reference data: the official code sets and edit tables."""


@data_group.command("build")
@json_option
@handles_errors
def build_cmd(as_json: bool) -> None:
    """Build (or update) the reference store from the official files.

    Reads the packaged code sets and MEDBILL_SOURCE_DIR. A file already loaded (same SHA-256) is
    skipped, so re-running is a no-op; a newer release is added beside the older one.
    """
    cfg = settings()

    def progress(res: LoadResult) -> None:
        if as_json:
            return
        if res.status == "loaded":
            click.echo(f"  loaded     {res.dataset:<22} {res.rows:>9,} rows  {res.seconds:5.1f}s  {res.source or ''}")
        elif res.status == "unchanged":
            click.echo(f"  unchanged  {res.dataset:<22} (same SHA-256 already loaded)")
        elif res.status == "missing":
            click.echo(f"  {'optional' if res.optional else 'missing':<10} {res.dataset:<22} {res.message}")
        else:
            click.secho(f"  FAILED     {res.dataset:<22} {res.message}", fg="red")

    if not as_json:
        click.echo(f"building {cfg.refdata_path}")
        click.echo(f"  sources: packaged code sets + {cfg.source_dir or '(MEDBILL_SOURCE_DIR not set)'}")
    results = build_reference(settings=cfg, progress=progress)
    if as_json:
        emit_json({"refdata": str(cfg.refdata_path), "results": [asdict(r) for r in results]})
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(1)


@data_group.command("status")
@json_option
@handles_errors
def status_cmd(as_json: bool) -> None:
    """List what is loaded (release, source file, dates, SHA-256) and what is missing."""
    cfg = settings()
    rows = reference_status(settings=cfg)
    if as_json:
        emit_json({"refdata": str(cfg.refdata_path), "datasets": [r.to_dict() for r in rows]})
        return
    click.echo(f"reference store: {cfg.refdata_path}")
    for r in rows:
        if r.state == "loaded":
            for rel in r.releases:
                span = f"{rel['effective_from'] or '?'}..{rel['effective_to'] or 'open'}"
                click.echo(
                    f"  loaded     {r.id:<22} {rel['release']:<30} {span:<23} {rel['rows']:>9,} rows"
                    f"  {rel['source']}  sha256 {rel['sha256'][:12]}"
                )
        elif r.state == "available":
            click.echo(f"  available  {r.id:<22} found but not loaded: run `medbill data build`")
        elif r.state == "optional":
            click.echo(f"  optional   {r.id:<22} {r.where}")
        else:
            click.echo(f"  missing    {r.id:<22} {r.where}")


def register(group: click.Group) -> None:
    group.add_command(data_group)

"""``medbill data fetch`` and ``medbill data import-cpt``: official files, a licensed CPT file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from medbill.cli.common import emit_json, handles_errors, json_option, settings
from medbill.codesets.manifest import ManifestEntry, load_manifest
from medbill.services.fetch import (
    AMA_LICENSE_URL,
    CPT_NOTICE,
    FetchError,
    FetchResult,
    fetch_sources,
    import_cpt,
)

_LABEL = {
    "fetched": "fetched",
    "copied": "copied",
    "unchanged": "unchanged",
    "present": "present",
    "refused": "REFUSED",
    "unavailable": "missing",
    "failed": "FAILED",
}


def _interactive() -> bool:
    """Whether a person can answer a question (stdin and stdout are terminals)."""
    return sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()


def _confirm_fetch(entries: list[ManifestEntry]) -> bool:
    click.echo("These files carry CPT content (AMA licence):")
    for e in entries:
        click.echo(f"  {e.id:<30} {e.url or e.page}")
    click.echo(CPT_NOTICE)
    return click.confirm("Do you accept the AMA CPT licence for these files?", default=False)


def _confirm_import() -> bool:
    click.echo(
        "CPT descriptors are copyright American Medical Association; import them only under your "
        f"own CPT licence (AMA; CMS's end-user terms: {AMA_LICENSE_URL})."
    )
    return click.confirm("Do you hold a CPT licence covering this file and accept its terms?", default=False)


def _print_result(r: FetchResult) -> None:
    label = _LABEL.get(r.status, r.status)
    head = f"  {label:<10} {r.entry:<30}"
    if r.status in ("fetched", "copied", "unchanged", "present"):
        check = {True: "sha256 verified", None: "sha256 unverified", False: "sha256 unverified"}[r.verified]
        files = ", ".join(r.files) if len(r.files) <= 3 else f"{len(r.files)} files in {r.folder}/"
        extra = f"  ({check} {r.sha256[:12]})" if r.sha256 else ""
        click.echo(f"{head} {files}{extra}")
        if r.message and r.status == "fetched":
            click.echo(f"  {'':<10} {'':<30} {r.message}")
    elif r.status == "failed":
        click.secho(f"{head} {r.message}", fg="red", err=True)
    elif r.status != "refused":  # refused files are summed up once at the end
        click.echo(f"{head} {r.message}")


@click.command("fetch")
@click.option(
    "--from",
    "from_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Take the files from this folder (the downloaded zips, or their unpacked files), not the internet.",
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="ID",
    help="Only the files feeding this dataset (or manifest entry); repeatable. Default: all the build reads.",
)
@click.option("--accept-cpt-license", is_flag=True, help="Accept the AMA CPT licence (files with CPT content).")
@click.option("--list", "list_only", is_flag=True, help="List the manifest (files, URLs, datasets) and stop.")
@json_option
@handles_errors
def fetch_cmd(
    from_dir: Path | None, datasets: tuple[str, ...], accept_cpt_license: bool, list_only: bool, as_json: bool
) -> None:
    """Download the official CMS/CDC release files (or take them from --from DIR).

    The files, their URLs and checksums are listed in one manifest (--list). They are unpacked into
    MEDBILL_HOME/sources in the layout `medbill data build` reads. NCCI, MUE, PFS and I/OCE files
    carry CPT content: they are taken only after you accept the AMA licence (--accept-cpt-license,
    or a yes when asked); the acceptance is recorded in MEDBILL_HOME/licenses.json.
    """
    cfg = settings()
    if list_only:
        man = load_manifest()
        chosen = man.select(datasets)
        if as_json:
            emit_json({"checked": man.checked, "entries": [e.to_dict() for e in chosen]})
            return
        click.echo(f"official files (manifest checked {man.checked}):")
        for e in chosen:
            flags = [
                f
                for f, on in (
                    ("CPT licence", e.cpt_license),
                    ("URL unconfirmed", not e.url_confirmed),
                    ("not read by the build yet", e.converter_needed),
                )
                if on
            ]
            click.echo(
                f"  {e.id:<30} -> {e.folder}/  feeds {', '.join(e.datasets)}"
                + (f"  [{'; '.join(flags)}]" if flags else "")
            )
            click.echo(f"  {'':<30}    {e.url or 'no direct URL: ' + e.page}")
        return
    confirm = _confirm_fetch if (not accept_cpt_license and not as_json and _interactive()) else None
    if not as_json:
        src = f"from {from_dir}" if from_dir else "from the official URLs"
        click.echo(f"fetching into {cfg.download_dir} ({src})")
    report = fetch_sources(
        settings=cfg,
        datasets=datasets,
        from_dir=from_dir,
        accept_cpt_license=accept_cpt_license,
        confirm_cpt=confirm,
        progress=None if as_json else _print_result,
    )
    if as_json:
        emit_json(report.to_dict())
        if report.failed:
            raise SystemExit(1)
        return
    refused = [r for r in report.results if r.status == "refused"]
    if refused:
        feeds = sorted({d for r in refused for d in r.datasets})
        click.echo(
            f"  {_LABEL['refused']:<10} {len(refused)} files with CPT content ({', '.join(feeds)}): "
            "rerun with --accept-cpt-license to take them"
        )
    if report.next_steps:
        click.echo("next:")
        for step in report.next_steps:
            click.echo(f"  {step}")
    if report.failed:
        first = report.failed[0]
        more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
        raise FetchError(f"{first.entry}: {first.message}{more}")


@click.command("import-cpt")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--accept-cpt-license", is_flag=True, help="Confirm you hold an AMA CPT licence for this file.")
@json_option
@handles_errors
def import_cpt_cmd(file: Path, accept_cpt_license: bool, as_json: bool) -> None:
    """Load your licensed AMA CPT descriptor file (LONGULT.txt, SHORTU.txt, CSV ...) into the store.

    Without it, CPT codes show "descriptor requires a CPT license". The same file twice is a no-op
    (same SHA-256); the acceptance is recorded in MEDBILL_HOME/licenses.json.
    """
    cfg = settings()
    confirm = _confirm_import if (not accept_cpt_license and not as_json and _interactive()) else None
    result = import_cpt(settings=cfg, path=file, accept_cpt_license=accept_cpt_license, confirm=confirm)
    if as_json:
        emit_json(result.to_dict())
        return
    if result.status == "loaded":
        click.echo(f"imported {result.rows:,} CPT codes from {result.file} into {result.refdata}")
    else:
        click.echo(f"unchanged: {result.file} is already loaded (same SHA-256 {result.sha256[:12]})")


def register(group: click.Group) -> None:
    """Add ``fetch`` and ``import-cpt`` to the ``medbill data`` group."""
    group.add_command(fetch_cmd)
    group.add_command(import_cpt_cmd)

"""``medbill db upgrade|status``, ``medbill backup``, ``medbill restore``, ``medbill keys rotate|retire|rekey-db``.

Thin skins over :mod:`medbill.services.maintenance`, run as the local operator (a system
administrator, audited). The database is the one the settings name: ``MEDBILL_DATABASE_URL``
(PostgreSQL) or the SQLCipher file in ``MEDBILL_HOME``, with the key file ``MEDBILL_KEY_FILE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from medbill.cli.common import emit_json, handles_errors, json_option, settings
from medbill.core.errors import ValidationFailed
from medbill.services import maintenance
from medbill.services.context import system_actor
from medbill.store.db import Database

passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Protect (or open) the backup with the passphrase in this file instead of the key file.",
)


@contextmanager
def _database(*, create_keys: bool = True) -> Iterator[Database]:
    db = Database.from_settings(settings(), create_keys=create_keys)
    try:
        yield db
    finally:
        db.dispose()


def _passphrase(path: Path | None) -> str | None:
    if path is None:
        return None
    text = path.read_text(encoding="utf-8").rstrip("\r\n")
    if not text:
        raise ValidationFailed(f"{path} is empty", field="passphrase-file")
    return text


# ------------------------------------------------------------------------------------------ medbill db
@click.group("db")
def db_group() -> None:
    """The practice database: schema and status."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to migrate to.")
@json_option
@handles_errors
def upgrade_cmd(revision: str, as_json: bool) -> None:
    """Create or migrate the database schema (from an empty database too)."""
    with _database() as db:
        now = maintenance.upgrade_schema(db, actor=system_actor(), revision=revision)
        where = str(db.path) if db.path else db.engine.url.render_as_string(hide_password=True)
    if as_json:
        emit_json({"location": where, "schema_revision": now})
    else:
        click.echo(f"{where}: schema at revision {now}")


@db_group.command("status")
@json_option
@handles_errors
def status_cmd(as_json: bool) -> None:
    """Backend, schema revision, encryption, PHI key versions in use (never key material)."""
    with _database(create_keys=False) as db:
        st = maintenance.database_status(db, actor=system_actor())
    if as_json:
        emit_json(st.to_dict())
        return
    click.echo(f"backend          {st.backend}  {st.location}")
    state = "up to date" if st.schema_revision == st.head_revision else f"head is {st.head_revision}: run upgrade"
    click.echo(f"schema           {st.schema_revision or '(none)'}  ({state})")
    click.echo(f"file encryption  {'SQLCipher' if st.file_encrypted else 'none (use disk encryption and TLS)'}")
    click.echo(f"PHI columns      {'AES-256-GCM' if st.phi_columns_encrypted else 'NOT encrypted'}")
    click.echo(f"key file         {st.key_file}")
    click.echo(f"key versions     {st.key_versions} (active {st.active_key_version})")
    in_use = ", ".join(f"v{v}: {n:,}" for v, n in st.versions_in_use.items()) or "(no PHI values)"
    click.echo(f"values per key   {in_use}")
    if st.rekey_pending:
        click.secho("rekey pending    an interrupted rekey: run `medbill keys rekey-db` to finish it", fg="yellow")


# ------------------------------------------------------------------------------------------ backup / restore
@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@passphrase_option
@json_option
@handles_errors
def backup_cmd(out: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Write an encrypted, authenticated backup of the whole database to OUT (a new file).

    Safe while medbill is running (a consistent snapshot). Keep the key file (or the passphrase)
    apart from the backup: the backup cannot be read without it.
    """
    with _database(create_keys=False) as db:
        info = maintenance.backup_database(db, actor=system_actor(), out=out, passphrase=_passphrase(passphrase_file))
    if as_json:
        emit_json(info.to_dict())
    else:
        h = info.header
        click.echo(
            f"backup {info.path}: {h.kind}, schema {h.schema_revision}, {info.size:,} bytes, "
            f"sha256 {h.content_sha256[:16]}…, {info.seconds:.2f}s"
        )


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@passphrase_option
@json_option
@handles_errors
def restore_cmd(backup_file: Path, force: bool, passphrase_file: Path | None, as_json: bool) -> None:
    """Restore BACKUP_FILE into the configured database (empty unless --force).

    The whole backup is authenticated before anything is written; a restore killed half way leaves
    the database as it was. Stop the medbill servers first.
    """
    with _database(create_keys=False) as db:
        info = maintenance.restore_database(
            db, actor=system_actor(), backup_file=backup_file, force=force, passphrase=_passphrase(passphrase_file)
        )
    if as_json:
        emit_json(info.to_dict())
    else:
        rows = f", {info.rows:,} rows" if info.rows is not None else ""
        click.echo(f"restored {info.header.kind} backup of {info.header.created_at} into {info.target}{rows}")


# ------------------------------------------------------------------------------------------ medbill keys
@click.group("keys")
def keys_group() -> None:
    """PHI key rotation and retirement, SQLCipher re-keying."""


@keys_group.command("rotate")
@click.option("--resume", is_flag=True, help="Continue an interrupted rotation (no new key).")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@handles_errors
def rotate_cmd(resume: bool, batch_size: int, as_json: bool) -> None:
    """Add a PHI key version and re-encrypt every PHI value under it.

    Restart the running servers afterwards so they read the new key; then `medbill keys retire`.
    """
    with _database(create_keys=False) as db:
        report = maintenance.rotate_keys(db, actor=system_actor(), resume=resume, batch_size=batch_size)
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(
        f"active key v{report.active_version}: {report.reencrypted:,} values re-encrypted in {report.seconds:.1f}s"
    )
    for column, c in report.columns.items():
        if c["reencrypted"] or c["changed_concurrently"]:
            click.echo(f"  {column:<40} {c['reencrypted']:>9,} re-encrypted  {c['current']:>9,} already current")
    if report.remaining:
        click.secho(f"still under old keys: {report.remaining} — run `medbill keys rotate --resume`", fg="yellow")


@keys_group.command("retire")
@click.argument("version", type=int)
@json_option
@handles_errors
def retire_cmd(version: int, as_json: bool) -> None:
    """Remove PHI key VERSION from the key file (refused while any value still uses it).

    Backups taken while that key was in use cannot be restored without a copy of the older key file.
    """
    with _database(create_keys=False) as db:
        report = maintenance.retire_keys(db, actor=system_actor(), versions=[version])
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"retired key version(s) {report.retired}; key file keeps {report.key_versions}")


@keys_group.command("rekey-db")
@json_option
@handles_errors
def rekey_cmd(as_json: bool) -> None:
    """Give the SQLCipher database file a new key (saved to the key file once it took). Stop servers first."""
    with _database(create_keys=False) as db:
        report = maintenance.rekey_database(db, actor=system_actor())
    if as_json:
        emit_json(report.to_dict())
    else:
        extra = f" (first {report.recovered} an interrupted rekey)" if report.recovered else ""
        click.echo(f"{report.path}: new SQLCipher key in place{extra}, {report.seconds:.2f}s")


def register(group: click.Group) -> None:
    group.add_command(db_group)
    group.add_command(backup_cmd)
    group.add_command(restore_cmd)
    group.add_command(keys_group)

"""Install-level maintenance: schema upgrade and status, encrypted backup and restore, key rotation.

Every operation here acts on the whole installation (all practices), so it needs a system
administrator (the role holding ``Permission.PRACTICE_ADMIN``) outside any practice — the local
operator of the command line is one (:func:`medbill.services.context.system_actor`). Each operation
writes one audit record (action ``backup``/``restore``/``key_rotate``/``key_retire``/``rekey``/
``schema_upgrade``, resource ``database``) with counts and versions only, never key material or PHI.

Key rotation in a running installation: the new key is saved to the key file *before* any row is
re-encrypted, but other processes hold the key ring they read at start-up. Restart the API/workers
after ``rotate`` (so they can read rows under the new version and write under it), rerun
``rotate --resume`` if the report shows values changed concurrently, then ``retire`` the old version.
Backup/restore/rekey of an SQLite file: stop the servers first (restore replaces the file; rekey
rewrites every page under a key the servers do not have).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbill.core.errors import Conflict, MedbillError, NotFound, PermissionDenied, ValidationFailed
from medbill.services import audit
from medbill.services.context import Actor
from medbill.services.permissions import Permission, Role, allowed
from medbill.store import audit as store_audit
from medbill.store import backup as backup_store
from medbill.store import rotation
from medbill.store.db import MIGRATIONS, Database

__all__ = [
    "DatabaseStatus",
    "RetireReport",
    "RotationReport",
    "backup_database",
    "database_status",
    "rekey_database",
    "restore_database",
    "retire_keys",
    "rotate_keys",
    "upgrade_schema",
]

log = logging.getLogger(__name__)

RESOURCE = "database"


# ------------------------------------------------------------------------------------------ audit + permission
def _audit(
    db: Database,
    actor: Actor,
    *,
    action: str,
    outcome: str = "success",
    detail: str | None = None,
) -> None:
    """The one audit call site of this module: one record in its own transaction (install chain 0)."""
    audit.record_separately(db, actor, action=action, resource=RESOURCE, outcome=outcome, detail=detail)


def _require_system_admin(db: Database, actor: Actor, *, action: str) -> None:
    if actor.role is not Role.SYSTEM_ADMIN or not allowed(actor.role, Permission.PRACTICE_ADMIN):
        _safe_audit(db, actor, action=action, outcome="denied", detail=f"missing {Permission.PRACTICE_ADMIN.value}")
        raise PermissionDenied(f"your role ({actor.role.value}) may not run install-level maintenance ({action})")
    if actor.practice_id is not None:
        _safe_audit(db, actor, action=action, outcome="denied", detail="inside a practice")
        raise PermissionDenied(f"{action} acts on the whole installation: run it outside any practice")


def _run(db: Database, actor: Actor, action: str, body: Callable[[], Any], detail: Callable[[Any], str]) -> Any:
    """Permission, body, one audit record for the outcome."""
    _require_system_admin(db, actor, action=action)
    try:
        result = body()
    except MedbillError as exc:
        _safe_audit(db, actor, action=action, outcome="failed", detail=exc.code)
        raise
    _safe_audit(db, actor, action=action, detail=detail(result))
    return result


def _safe_audit(db: Database, actor: Actor, **kw: Any) -> None:
    """Audit a denied or failed attempt without hiding its error: a database with no schema yet (a
    restore target, before ``upgrade``) cannot hold the record, which is then only logged."""
    if kw.get("outcome", "success") == "success":
        _audit(db, actor, **kw)
        return
    if db.path is not None and not db.path.exists():  # do not create an empty file just to fail in it
        log.warning("audit record not written (no database yet): %s %s", kw.get("action"), kw.get("outcome"))
        return
    try:
        _audit(db, actor, **kw)
    except Exception:  # noqa: BLE001 - the original error is what the caller must see
        log.warning("audit record not written (database not ready): %s %s", kw.get("action"), kw.get("outcome"))


# ------------------------------------------------------------------------------------------ schema
def upgrade_schema(db: Database, *, actor: Actor, revision: str = "head") -> str | None:
    """Migrate to ``revision`` (Alembic); returns the revision now in the database."""

    def body() -> str | None:
        db.migrate(revision)
        return _revision(db)

    result: str | None = _run(db, actor, "schema_upgrade", body, lambda r: f"revision {r}")
    return result


def _revision(db: Database) -> str | None:
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def _head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    backend: str
    location: str  # the file, or the URL without its password
    schema_revision: str | None
    head_revision: str | None
    file_encrypted: bool  # SQLCipher (SQLite); PostgreSQL: False (use TLS and disk encryption)
    phi_columns_encrypted: bool
    key_file: str | None
    key_versions: list[int]
    active_key_version: int
    versions_in_use: dict[str, int]  # key version -> values under it, all PHI columns together
    rekey_pending: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "location": self.location,
            "schema_revision": self.schema_revision,
            "head_revision": self.head_revision,
            "up_to_date": self.schema_revision == self.head_revision,
            "file_encrypted": self.file_encrypted,
            "phi_columns_encrypted": self.phi_columns_encrypted,
            "key_file": self.key_file,
            "key_versions": self.key_versions,
            "active_key_version": self.active_key_version,
            "versions_in_use": self.versions_in_use,
            "rekey_pending": self.rekey_pending,
        }


def database_status(db: Database, *, actor: Actor) -> DatabaseStatus:
    """Backend, schema revision, encryption, key versions in use (never key material). Not audited:
    it reads no records."""
    _require_system_admin(db, actor, action="status")
    revision = _revision(db)
    in_use: dict[str, int] = {}
    if revision is not None:
        for per in rotation.versions_in_use(db).values():
            for version, n in per.items():
                in_use[version] = in_use.get(version, 0) + n
    ring = db.keyring
    pending = ring.path is not None and ring.path.with_name(ring.path.name + ".rekey-pending").exists()
    return DatabaseStatus(
        backend=db.kind,
        location=str(db.path) if db.path else db.engine.url.render_as_string(hide_password=True),
        schema_revision=revision,
        head_revision=_head_revision(),
        file_encrypted=db.kind == "sqlite" and db.engine.url.get_driver_name() == "pysqlcipher",
        phi_columns_encrypted=db.cipher.enabled,
        key_file=str(ring.path) if ring.path else None,
        key_versions=sorted(ring.phi_keys),
        active_key_version=ring.active_phi_key,
        versions_in_use=dict(sorted(in_use.items())),
        rekey_pending=pending,
    )


# ------------------------------------------------------------------------------------------ backup / restore
def backup_database(db: Database, *, actor: Actor, out: Path, passphrase: str | None = None) -> backup_store.BackupInfo:
    """An encrypted, authenticated snapshot of the whole database (see :mod:`medbill.store.backup`)."""
    info: backup_store.BackupInfo = _run(
        db,
        actor,
        "backup",
        lambda: backup_store.backup(db, out=out, passphrase=passphrase),
        lambda i: f"kind {i.header.kind}, revision {i.header.schema_revision}, {i.size} bytes",
    )
    return info


def restore_database(
    db: Database, *, actor: Actor, backup_file: Path, force: bool = False, passphrase: str | None = None
) -> backup_store.RestoreInfo:
    """Restore a backup into ``db`` (empty unless ``force``). Authenticated in full before any write.

    The audit record goes into the restored database. Its audit chains end where they ended at
    backup time, so the outside anchor (newer) reports the restore as a truncated tail until the
    audit module re-anchors: that alarm is true — the records after the backup are gone.
    """
    if not Path(backup_file).is_file():
        raise NotFound(f"{backup_file}: no such backup file")
    info: backup_store.RestoreInfo = _run(
        db,
        actor,
        "restore",
        lambda: _restore_and_reanchor(db, backup_file=backup_file, force=force, passphrase=passphrase),
        lambda i: f"kind {i.header.kind}, created {i.header.created_at}, revision {i.header.schema_revision}; "
        f"audit anchor reset to the restored chains (superseded anchor kept beside it)",
    )
    return info


def _restore_and_reanchor(
    db: Database, *, backup_file: Path, force: bool, passphrase: str | None
) -> backup_store.RestoreInfo:
    """Restore, then re-anchor the audit chains at the restored heads.

    The records written after the backup are gone with the restore; the superseded anchor file is kept
    (``audit-anchor.json.superseded-<time>``) as the evidence of how far the chains had gone, and this
    restore's own audit record says so. Without this, every later verification would report the
    restore as a truncated tail.
    """
    info = backup_store.restore(db, backup_file=backup_file, force=force, passphrase=passphrase)
    if db.audit_anchor is not None:
        store_audit.reset_anchor(db.audit_anchor, store_audit.database_heads(db))
    return info


# ------------------------------------------------------------------------------------------ PHI key rotation
@dataclass(frozen=True, slots=True)
class RotationReport:
    active_version: int
    new_key: bool  # False: resumed under the existing active version
    columns: dict[str, dict[str, int]]  # "table.column" -> reencrypted/current/null/changed_concurrently
    reencrypted: int
    changed_concurrently: int
    seconds: float
    remaining: dict[str, int] = field(default_factory=dict)  # old version -> values still under it

    def to_dict(self) -> dict[str, Any]:
        return {
            "active_version": self.active_version,
            "new_key": self.new_key,
            "reencrypted": self.reencrypted,
            "changed_concurrently": self.changed_concurrently,
            "remaining": self.remaining,
            "seconds": round(self.seconds, 3),
            "columns": self.columns,
        }


def rotate_keys(
    db: Database,
    *,
    actor: Actor,
    resume: bool = False,
    batch_size: int = 1000,
    progress: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Add a PHI key version (saved atomically to the key file first) and re-encrypt every PHI value
    under it; ``resume=True`` continues an interrupted rotation under the current active version.
    """

    def body() -> RotationReport:
        started = time.perf_counter()
        if db.keyring.path is None:
            raise ValidationFailed("this database's keys were not read from a key file: cannot save a new key")
        if not resume:
            ring = db.keyring.with_new_phi_key()
            ring.save()  # before any row uses it: a crash now leaves a key no row needs yet
            rotation.use_keyring(db, ring)
            log.info("PHI key version %d added", ring.active_phi_key)
        result = rotation.reencrypt(db, batch_size=batch_size, progress=progress)
        remaining: dict[str, int] = {}
        for per in rotation.versions_in_use(db).values():
            for version, n in per.items():
                if version != str(result.active_version):
                    remaining[version] = remaining.get(version, 0) + n
        cols = {k: v.to_dict() for k, v in result.columns.items()}
        return RotationReport(
            active_version=result.active_version,
            new_key=not resume,
            columns=cols,
            reencrypted=sum(c["reencrypted"] for c in cols.values()),
            changed_concurrently=sum(c["changed_concurrently"] for c in cols.values()),
            seconds=time.perf_counter() - started,
            remaining=remaining,
        )

    report: RotationReport = _run(
        db,
        actor,
        "key_rotate",
        body,
        lambda r: f"active v{r.active_version}, {r.reencrypted} values re-encrypted, remaining {r.remaining}",
    )
    return report


@dataclass(frozen=True, slots=True)
class RetireReport:
    retired: list[int]
    key_versions: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"retired": self.retired, "key_versions": self.key_versions}


def retire_keys(db: Database, *, actor: Actor, versions: Sequence[int]) -> RetireReport:
    """Drop old PHI key versions from the key file — only when no stored value still uses them."""

    def body() -> RetireReport:
        wanted = set(versions)
        ring = db.keyring
        if not wanted:
            raise ValidationFailed("name at least one key version to retire", field="versions")
        unknown = sorted(wanted - set(ring.phi_keys))
        if unknown:
            raise NotFound(f"no PHI key version {unknown} in the key file")
        if ring.active_phi_key in wanted:
            raise Conflict(f"version {ring.active_phi_key} is the active PHI key", hint="rotate first")
        if ring.path is None:
            raise ValidationFailed("this database's keys were not read from a key file")
        still: dict[str, int] = {}
        for column, per in rotation.versions_in_use(db).items():
            n = sum(per.get(str(v), 0) for v in wanted)
            if n:
                still[column] = n
        if still:
            total = sum(still.values())
            raise Conflict(
                f"{total} stored values in {len(still)} columns still use version(s) {sorted(wanted)}",
                hint="run `medbill keys rotate --resume` first (and restart other processes after a rotation)",
            )
        new_ring = ring.without_phi_keys(wanted)
        new_ring.save()
        rotation.use_keyring(db, new_ring)
        return RetireReport(sorted(wanted), sorted(new_ring.phi_keys))

    report: RetireReport = _run(db, actor, "key_retire", body, lambda r: f"retired {r.retired}, left {r.key_versions}")
    return report


# ------------------------------------------------------------------------------------------ SQLCipher rekey
@dataclass(frozen=True, slots=True)
class RekeyReport:
    path: str
    seconds: float
    recovered: str | None  # an interrupted earlier rekey that was completed/abandoned first

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "seconds": round(self.seconds, 3), "recovered": self.recovered}


def rekey_database(db: Database, *, actor: Actor) -> RekeyReport:
    """Give the SQLCipher file a new key (``PRAGMA rekey``), saved to the key file once it took.

    ``db`` is disposed afterwards and keeps the old key in memory: reopen the database
    (``Database.from_settings``). The audit record is written through a fresh connection under the
    new key. Stop other processes first.
    """
    _require_system_admin(db, actor, action="rekey")
    started = time.perf_counter()
    try:
        recovered = rotation.recover_rekey(db)
        ring = rotation.rekey_sqlcipher(db)
    except MedbillError as exc:
        _safe_audit(db, actor, action="rekey", outcome="failed", detail=exc.code)
        raise
    assert db.path is not None
    report = RekeyReport(str(db.path), time.perf_counter() - started, recovered)
    fresh = Database(keyring=ring, path=db.path, audit_anchor=db.audit_anchor, encrypt_columns=db.cipher.enabled)
    try:
        _safe_audit(fresh, actor, action="rekey", detail="sqlcipher file key replaced")
    finally:
        fresh.dispose()
    return report

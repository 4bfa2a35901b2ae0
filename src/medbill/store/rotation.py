"""Key rotation: re-encrypting PHI columns under a new key version, retiring old versions, and
re-keying the SQLCipher file.

PHI columns are found by inspecting the models for :class:`EncryptedText` / :class:`EncryptedDate` /
:class:`EncryptedJSON`; the associated data of each value is the type's ``column`` name (see
:mod:`medbill.store.crypto`). Re-encryption works on the raw stored text through SQLAlchemy Core, in
batches of rows ordered by primary key, each batch one write transaction; a row's update is a
compare-and-swap on the old ciphertext, so a value changed by a concurrent writer is left alone (it
was written under whatever key that writer had; a second pass picks it up). Rows already under the
active version are skipped, which makes an interrupted rotation resumable. Re-encryption changes
neither ``updated_at`` nor the claim's optimistic-lock ``version`` (the value is the same).

``rekey_sqlcipher`` changes the SQLCipher key of the file (``PRAGMA rekey``: one transaction that
rewrites every page). Crash window: the file's key changes when the rekey commits, the key file is
written after. To close the window the new key is first written (fsynced, 0600) to a side file
``<key file>.rekey-pending``; the key file is updated and the side file removed only after the
rekey committed. After a crash, :func:`recover_rekey` (run first by every rekey) opens the database
with the pending key or the old one and completes or abandons the change, so one of the two files
always holds the key the database opens with.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from medbill.core.errors import Conflict, ValidationFailed
from medbill.store.backup import BackupError, _connect_sqlcipher, _fsync_dir, raw_tables
from medbill.store.crypto import FieldCipher
from medbill.store.db import Database
from medbill.store.keys import KeyError_, KeyRing, load_or_create_keyring
from medbill.store.models import Base
from medbill.store.types import EncryptedDate, EncryptedJSON, EncryptedText

__all__ = [
    "ColumnCounts",
    "PhiColumn",
    "phi_columns",
    "recover_rekey",
    "reencrypt",
    "rekey_sqlcipher",
    "use_keyring",
    "versions_in_use",
]

log = logging.getLogger(__name__)

ENCRYPTED_TYPES = (EncryptedText, EncryptedDate, EncryptedJSON)


@dataclass(frozen=True, slots=True)
class PhiColumn:
    table: str
    column: str
    aad: str  # the associated data the value was encrypted with


def phi_columns() -> list[PhiColumn]:
    """Every encrypted column of every model, in table order."""
    out: list[PhiColumn] = []
    for table in Base.metadata.sorted_tables:
        for col in table.columns:
            if isinstance(col.type, ENCRYPTED_TYPES):
                out.append(PhiColumn(table.name, col.name, col.type.column))
    return out


@dataclass(slots=True)
class ColumnCounts:
    reencrypted: int = 0
    current: int = 0  # already under the active version: skipped
    null: int = 0
    changed_concurrently: int = 0  # a writer changed the value between read and update: left for a rerun

    def to_dict(self) -> dict[str, int]:
        return {
            "reencrypted": self.reencrypted,
            "current": self.current,
            "null": self.null,
            "changed_concurrently": self.changed_concurrently,
        }


@dataclass(slots=True)
class ReencryptResult:
    active_version: int
    columns: dict[str, ColumnCounts] = field(default_factory=dict)  # "table.column" -> counts
    rows_updated: int = 0


def use_keyring(db: Database, ring: KeyRing) -> None:
    """Make ``db`` encrypt and decrypt with ``ring`` from now on (this process only)."""
    db.keyring = ring
    db.cipher = FieldCipher(ring, enabled=db.cipher.enabled)
    db.engine.dialect.medbill_cipher = db.cipher  # type: ignore[attr-defined]


def _write_conn(db: Database) -> Any:
    return db.engine.connect().execution_options(medbill_write=True)


def reencrypt(
    db: Database,
    *,
    batch_size: int = 1000,
    progress: Callable[[str, int], None] | None = None,
) -> ReencryptResult:
    """Re-encrypt every PHI value not under ``db.cipher``'s active version; counts per column.

    ``progress(table, rows_seen)`` is called after each committed batch.
    """
    cipher = db.cipher
    if not cipher.enabled:
        raise ValidationFailed("PHI column encryption is off for this database: nothing to rotate")
    active = cipher.active_version
    result = ReencryptResult(active)
    raw = {t.name: t for t in raw_tables()}
    by_table: dict[str, list[PhiColumn]] = {}
    for pc in phi_columns():
        by_table.setdefault(pc.table, []).append(pc)
        result.columns[f"{pc.table}.{pc.column}"] = ColumnCounts()
    for name, cols in by_table.items():
        table = raw[name]
        pks = list(table.primary_key.columns)
        if len(pks) != 1:
            raise ValidationFailed(f"table {name}: PHI columns need a single-column primary key to rotate")
        pk = pks[0]
        last: Any = None
        seen = 0
        while True:
            with _write_conn(db) as conn, conn.begin():
                # FOR UPDATE (PostgreSQL) locks the batch; SQLite's BEGIN IMMEDIATE already holds the write lock
                query = sa.select(pk, *[table.c[c.column] for c in cols]).order_by(pk).limit(batch_size)
                if last is not None:
                    query = query.where(pk > last)
                rows = conn.execute(query.with_for_update()).all()
                if not rows:
                    break
                groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
                for row in rows:
                    params: dict[str, Any] = {"_pk": row[0]}
                    for pc, value in zip(cols, row[1:], strict=True):
                        counts = result.columns[f"{pc.table}.{pc.column}"]
                        if value is None:
                            counts.null += 1
                        elif FieldCipher.version_of(value) == active:
                            counts.current += 1
                        else:
                            plain = cipher.decrypt(value, column=pc.aad)
                            params[f"_old_{pc.column}"] = value
                            params[f"_new_{pc.column}"] = cipher.encrypt(plain, column=pc.aad)
                    changed = tuple(c.column for c in cols if f"_new_{c.column}" in params)
                    if changed:
                        groups.setdefault(changed, []).append(params)
                for changed, plist in groups.items():
                    _update_group(conn, table, pk, changed, plist, result)
                last = rows[-1][0]
                seen += len(rows)
            if progress is not None:
                progress(name, seen)
    return result


def _update_group(
    conn: Any,
    table: sa.Table,
    pk: sa.Column[Any],
    changed: tuple[str, ...],
    plist: list[dict[str, Any]],
    result: ReencryptResult,
) -> None:
    """One executemany for the rows whose same columns change; compare-and-swap on the old ciphertext."""

    guards = [table.c[c] == sa.bindparam(f"_old_{c}") for c in changed]
    values: dict[str, Any] = {c: sa.bindparam(f"_new_{c}") for c in changed}
    stmt = sa.update(table).where(pk == sa.bindparam("_pk"), *guards).values(values)
    done = conn.execute(stmt, plist).rowcount
    if done == len(plist):
        outcomes = [True] * len(plist)
    else:  # a value changed under us (not expected under the lock): which rows hold our new ciphertext?
        check = sa.select(pk, *[table.c[c] for c in changed]).where(pk.in_([p["_pk"] for p in plist]))
        now = {r[0]: tuple(r[1:]) for r in conn.execute(check)}
        outcomes = [now.get(p["_pk"]) == tuple(p[f"_new_{c}"] for c in changed) for p in plist]
    for ok in outcomes:
        result.rows_updated += int(ok)
        for c in changed:
            counts = result.columns[f"{table.name}.{c}"]
            if ok:
                counts.reencrypted += 1
            else:
                counts.changed_concurrently += 1


def versions_in_use(db: Database) -> dict[str, dict[str, int]]:
    """``{"table.column": {"1": n, "2": m, "other": k}}`` for every PHI column with values (one scan per table)."""
    versions = sorted(db.keyring.phi_keys)
    raw = {t.name: t for t in raw_tables()}
    out: dict[str, dict[str, int]] = {}
    by_table: dict[str, list[PhiColumn]] = {}
    for pc in phi_columns():
        by_table.setdefault(pc.table, []).append(pc)
    with db.engine.connect() as conn:
        for name, cols in by_table.items():
            table = raw[name]
            exprs: list[Any] = []
            for pc in cols:
                c = table.c[pc.column]
                exprs.append(sa.func.count(c))
                for v in versions:
                    exprs.append(sa.func.coalesce(sa.func.sum(sa.case((c.like(f"v{v}:%"), 1), else_=0)), 0))
            row = conn.execute(sa.select(*exprs).select_from(table)).one()
            i = 0
            for pc in cols:
                total = int(row[i])
                i += 1
                per = {str(v): int(row[i + k]) for k, v in enumerate(versions)}
                i += len(versions)
                if total:
                    other = total - sum(per.values())
                    counts = {k: n for k, n in per.items() if n}
                    if other:
                        counts["other"] = other
                    out[f"{pc.table}.{pc.column}"] = counts
    return out


# ------------------------------------------------------------------------------------------ SQLCipher rekey
def _pending_path(ring: KeyRing) -> Path:
    if ring.path is None:
        raise KeyError_("this database's keys were not read from a key file: nothing to save a new key into")
    return ring.path.with_name(ring.path.name + ".rekey-pending")


def _write_private(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rekey-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _opens_with(path: Path, db_key: str) -> bool:
    try:
        conn = _connect_sqlcipher(path, db_key)
    except Exception:  # noqa: BLE001
        return False
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except Exception:  # noqa: BLE001 - sqlcipher3.DatabaseError: file is not a database (wrong key)
        return False
    finally:
        conn.close()


def _file_ring(db: Database) -> KeyRing:
    """The key file as stored (the running ring may carry a MEDBILL_DB_KEY override)."""
    assert db.keyring.path is not None
    return load_or_create_keyring(db.keyring.path, create=False)


def recover_rekey(db: Database) -> str | None:
    """Finish or abandon a rekey interrupted by a crash; returns what it did, or None if nothing pending."""
    pending = _pending_path(db.keyring)
    if not pending.exists():
        return None
    if db.path is None:
        raise BackupError("a pending SQLCipher rekey exists but this database is not an SQLite file")
    try:
        new_key = str(json.loads(pending.read_text())["db_key"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyError_(f"{pending}: unreadable pending rekey file") from exc
    db.dispose()
    if _opens_with(db.path, new_key):
        ring = replace(_file_ring(db), db_key=new_key)
        ring.save()
        pending.unlink()
        _fsync_dir(pending.parent)
        log.warning("completed an interrupted SQLCipher rekey (the key file now holds the new key)")
        return "completed"
    if _opens_with(db.path, _file_ring(db).db_key):
        pending.unlink()
        _fsync_dir(pending.parent)
        log.warning("abandoned an interrupted SQLCipher rekey (the database still uses the old key)")
        return "abandoned"
    raise KeyError_(f"{db.path} opens with neither the key file's db_key nor the pending one ({pending})")


def rekey_sqlcipher(db: Database) -> KeyRing:
    """Change the SQLCipher key of ``db``'s file; returns the saved key ring. ``db`` is disposed:
    reopen the database with the returned ring (or from the settings). Other processes must be stopped.
    """
    if db.kind != "sqlite" or db.path is None or db.engine.url.get_driver_name() != "pysqlcipher":
        raise ValidationFailed("rekey applies to an SQLCipher file; PostgreSQL has no file key (rotate PHI keys)")
    recover_rekey(db)
    stored = _file_ring(db)
    if stored.db_key.lower() != db.keyring.db_key.lower():
        raise Conflict(
            "MEDBILL_DB_KEY overrides the key file's db_key",
            hint="unset MEDBILL_DB_KEY to rekey through the key file, or rekey by hand",
        )
    if not _opens_with(db.path, stored.db_key):
        raise KeyError_(f"{db.path} does not open with the key file's db_key")
    new_key = secrets.token_hex(32)
    pending = _pending_path(db.keyring)
    _write_private(pending, json.dumps({"db_key": new_key}))
    db.dispose()
    try:
        conn = _connect_sqlcipher(db.path, stored.db_key)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute(f"PRAGMA rekey = \"x'{new_key}'\"")  # one transaction rewriting every page
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except Exception:
        if not _opens_with(db.path, new_key):  # failed before its commit: the old key still holds
            pending.unlink(missing_ok=True)
        raise
    if not _opens_with(db.path, new_key):  # the rekey did not take: keep the old key
        pending.unlink(missing_ok=True)
        raise KeyError_("the SQLCipher rekey did not take effect; the database keeps its key")
    ring = replace(stored, db_key=new_key)
    ring.save()
    pending.unlink()
    _fsync_dir(pending.parent)
    log.info("SQLCipher file re-keyed: %s", db.path)
    return ring

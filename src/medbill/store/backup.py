"""Encrypted, authenticated backups of the practice database, and their restore.

A backup is one file::

    magic   b"MEDBILL-BACKUP\\n\\x00"                  16 bytes
    header  JSON, UTF-8, padded with spaces to 4096 bytes (format, created_at, kind, backend,
            schema_revision, content_sha256, content_size, chunk_size, kdf + salt, nonce prefix,
            key id, PHI key versions) — public metadata, no key material, no PHI
    mac     HMAC-SHA256(header key, magic ‖ header)    32 bytes
    chunks  u32 big-endian length ‖ AES-256-GCM(ciphertext ‖ tag), 1 MiB of content each

The content is encrypted as a stream (the STREAM construction): chunk ``i`` uses the nonce
``prefix(7) ‖ i (u32) ‖ last (1 byte)``, so chunks cannot be reordered, dropped or the file cut
at a chunk boundary without failing authentication. The encryption and header keys come from
HKDF-SHA256 over the key file's ``index_key`` (never rotated in place) with a fresh random salt per
backup, or from scrypt over a passphrase (``passphrase=``), for backups kept away from the key file.
The header is written last (its slot is reserved first), because it carries the SHA-256 of the
whole content, which is checked after decrypting, before anything is written to the target.

Two kinds of content:

* ``sqlcipher`` (the SQLite default): a page copy of the database taken with SQLite's online backup
  API through the sqlcipher3 connection, into a temporary file keyed with the same SQLCipher key
  (so the copy is encrypted on disk too — there is never a plaintext file); the copy runs as one
  read transaction, so writers in other threads/processes keep going (WAL) and the copy is a
  consistent snapshot. Restoring needs the key file whose ``db_key`` the database had then.
* ``logical`` (PostgreSQL): every medbill table read through SQLAlchemy Core inside one
  ``REPEATABLE READ READ ONLY`` transaction (one snapshot), serialised as JSON lines exactly as
  stored — PHI columns stay application ciphertext. No ``pg_dump`` binary is needed. Restored in one
  transaction (into PostgreSQL, or into an SQLite file), then the id sequences are moved past the
  restored ids.

A restore needs the key file's PHI key versions that the rows use (old backups need the key file
kept with them: retiring a PHI key makes backups taken before the rotation unreadable — that is the
point of retiring it).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.types import TypeDecorator

from medbill.core.errors import Conflict, MedbillError
from medbill.store.db import Database
from medbill.store.keys import KeyRing
from medbill.store.models import Base

__all__ = [
    "BackupError",
    "BackupHeader",
    "BackupInfo",
    "RestoreInfo",
    "backup",
    "read_header",
    "raw_tables",
    "restore",
    "verify",
]

log = logging.getLogger(__name__)

MAGIC = b"MEDBILL-BACKUP\n\x00"
HEADER_SLOT = 4096
MAC_SIZE = 32
FORMAT = 1
CHUNK_SIZE = 1 << 20
TAG_SIZE = 16
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 17, 8, 1


class BackupError(MedbillError):
    """A backup that cannot be made, read, authenticated or restored."""

    code = "backup_error"


# ------------------------------------------------------------------------------------------ storage view
def _storage_type(t: Any) -> Any:
    return t.impl_instance if isinstance(t, TypeDecorator) else t


def raw_tables() -> list[sa.Table]:
    """Every medbill table in foreign-key order, with storage types only (ciphertext stays text)."""
    md = sa.MetaData()
    out: list[sa.Table] = []
    for table in Base.metadata.sorted_tables:
        cols = [sa.Column(c.name, _storage_type(c.type), primary_key=c.primary_key) for c in table.columns]
        out.append(sa.Table(table.name, md, *cols))
    return out


def _db_key_id(db_key: str) -> str:
    return hashlib.sha256(b"medbill-db-key-id\x00" + db_key.lower().encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ records
@dataclass(frozen=True, slots=True)
class BackupHeader:
    format: int
    created_at: str
    kind: str  # sqlcipher | logical
    backend: str  # sqlite | postgresql (where it was taken)
    schema_revision: str | None
    content_sha256: str
    content_size: int
    chunk_size: int
    kdf: dict[str, Any]
    nonce_prefix: str
    key_id: str | None
    phi_key_versions: list[int]
    db_key_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "created_at": self.created_at,
            "kind": self.kind,
            "backend": self.backend,
            "schema_revision": self.schema_revision,
            "content_sha256": self.content_sha256,
            "content_size": self.content_size,
            "chunk_size": self.chunk_size,
            "cipher": "AES-256-GCM",
            "kdf": self.kdf,
            "nonce_prefix": self.nonce_prefix,
            "key_id": self.key_id,
            "phi_key_versions": self.phi_key_versions,
            "db_key_id": self.db_key_id,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BackupHeader:
        return cls(
            format=int(d["format"]),
            created_at=str(d["created_at"]),
            kind=str(d["kind"]),
            backend=str(d["backend"]),
            schema_revision=d.get("schema_revision"),
            content_sha256=str(d["content_sha256"]),
            content_size=int(d["content_size"]),
            chunk_size=int(d["chunk_size"]),
            kdf=dict(d["kdf"]),
            nonce_prefix=str(d["nonce_prefix"]),
            key_id=d.get("key_id"),
            phi_key_versions=[int(v) for v in d.get("phi_key_versions", [])],
            db_key_id=d.get("db_key_id"),
        )


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    header: BackupHeader
    size: int  # bytes of the backup file
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)  # rows per table (logical backups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size": self.size,
            "seconds": round(self.seconds, 3),
            **self.header.to_dict(),
            "tables": self.tables,
        }


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    target: str
    header: BackupHeader
    rows: int | None  # rows inserted (logical); None for a file image
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "rows": self.rows, "seconds": round(self.seconds, 3), **self.header.to_dict()}


# ------------------------------------------------------------------------------------------ keys
def _keys_from_keyring(ring: KeyRing, salt: bytes) -> tuple[bytes, bytes]:
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=b"medbill backup v1").derive(ring.index_key)
    return okm[:32], okm[32:]


def _keyring_key_id(ring: KeyRing) -> str:
    return hmac.new(ring.index_key, b"medbill backup key id", hashlib.sha256).hexdigest()[:16]


def _keys_from_passphrase(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    if not (1 << 14 <= n <= 1 << 20 and 1 <= r <= 16 and 1 <= p <= 4):
        raise BackupError("backup header: scrypt parameters out of range")
    okm = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return okm[:32], okm[32:]


def _new_kdf(ring: KeyRing, passphrase: str | None) -> tuple[dict[str, Any], str | None, bytes, bytes]:
    salt = secrets.token_bytes(32)
    if passphrase is not None:
        if len(passphrase) < 12:
            raise BackupError("a backup passphrase must have at least 12 characters")
        kdf = {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": base64.b64encode(salt).decode()}
        enc, mac = _keys_from_passphrase(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return kdf, None, enc, mac
    kdf = {"name": "hkdf-sha256", "input": "key_file.index_key", "salt": base64.b64encode(salt).decode()}
    enc, mac = _keys_from_keyring(ring, salt)
    return kdf, _keyring_key_id(ring), enc, mac


def _keys_for(header: BackupHeader, ring: KeyRing | None, passphrase: str | None) -> tuple[bytes, bytes]:
    kdf = header.kdf
    try:
        salt = base64.b64decode(kdf["salt"], validate=True)
    except (KeyError, ValueError) as exc:
        raise BackupError("backup header: bad key derivation salt") from exc
    if kdf.get("name") == "scrypt":
        if passphrase is None:
            raise BackupError("this backup is protected by a passphrase", hint="give --passphrase-file")
        return _keys_from_passphrase(passphrase, salt, int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    if kdf.get("name") == "hkdf-sha256":
        if ring is None:
            raise BackupError("this backup needs the key file it was made with")
        if header.key_id is not None and header.key_id != _keyring_key_id(ring):
            raise BackupError(
                "this backup was made with another key file",
                hint="point MEDBILL_KEY_FILE at the key file of the installation that made it",
            )
        return _keys_from_keyring(ring, salt)
    raise BackupError(f"backup header: unknown key derivation {kdf.get('name')!r}")


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


# ------------------------------------------------------------------------------------------ writer / reader
class _Writer:
    """Streams content into ``tmp`` as authenticated chunks; the header goes into its slot last."""

    def __init__(self, fh: IO[bytes], enc_key: bytes, chunk_size: int = CHUNK_SIZE) -> None:
        self.fh = fh
        self.aead = AESGCM(enc_key)
        self.prefix = secrets.token_bytes(7)
        self.chunk_size = chunk_size
        self.buf = bytearray()
        self.counter = 0
        self.sha = hashlib.sha256()
        self.size = 0
        fh.write(b"\x00" * (len(MAGIC) + HEADER_SLOT + MAC_SIZE))

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self.buf += data
        while len(self.buf) > self.chunk_size:  # keep at least one byte back: the last chunk is flagged
            self._emit(bytes(self.buf[: self.chunk_size]), last=False)
            del self.buf[: self.chunk_size]

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        ct = self.aead.encrypt(_nonce(self.prefix, self.counter, last), chunk, None)
        self.fh.write(len(ct).to_bytes(4, "big"))
        self.fh.write(ct)
        self.counter += 1

    def finish(self, header_fields: dict[str, Any], mac_key: bytes) -> BackupHeader:
        self._emit(bytes(self.buf), last=True)
        self.buf.clear()
        header = BackupHeader.from_dict(
            {
                **header_fields,
                "content_sha256": self.sha.hexdigest(),
                "content_size": self.size,
                "chunk_size": self.chunk_size,
                "nonce_prefix": base64.b64encode(self.prefix).decode(),
            }
        )
        raw = json.dumps(header.to_dict(), sort_keys=True).encode()
        if len(raw) > HEADER_SLOT:
            raise BackupError("backup header too large")
        slot = raw + b" " * (HEADER_SLOT - len(raw))
        mac = hmac.new(mac_key, MAGIC + slot, hashlib.sha256).digest()
        self.fh.seek(0)
        self.fh.write(MAGIC + slot + mac)
        return header


def read_header(path: Path) -> BackupHeader:
    """The backup's public header, NOT yet authenticated (for display; :func:`verify` authenticates)."""
    with path.open("rb") as fh:
        return _parse_header(fh.read(len(MAGIC) + HEADER_SLOT + MAC_SIZE), path)[0]


def _parse_header(head: bytes, path: Path) -> tuple[BackupHeader, bytes, bytes]:
    if len(head) < len(MAGIC) + HEADER_SLOT + MAC_SIZE or not head.startswith(MAGIC):
        raise BackupError(f"{path}: not a medbill backup")
    slot = head[len(MAGIC) : len(MAGIC) + HEADER_SLOT]
    mac = head[len(MAGIC) + HEADER_SLOT :]
    try:
        header = BackupHeader.from_dict(json.loads(slot.rstrip(b" ").decode()))
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path}: backup header unreadable (altered file?)") from exc
    if header.format != FORMAT:
        raise BackupError(f"{path}: backup format {header.format} is not supported (this medbill reads {FORMAT})")
    return header, slot, mac


def _open_stream(
    path: Path, ring: KeyRing | None, passphrase: str | None, keys: tuple[bytes, bytes] | None = None
) -> tuple[BackupHeader, Iterator[bytes]]:
    """Authenticate the header, then yield the decrypted content chunk by chunk (each authenticated).

    The iterator raises :class:`BackupError` on any altered, reordered, missing or extra chunk, and at
    the end when the content's size or SHA-256 differs from the header.
    """
    fh = path.open("rb")
    try:
        header, slot, mac = _parse_header(fh.read(len(MAGIC) + HEADER_SLOT + MAC_SIZE), path)
        enc_key, mac_key = keys or _keys_for(header, ring, passphrase)
        if not hmac.compare_digest(mac, hmac.new(mac_key, MAGIC + slot, hashlib.sha256).digest()):
            raise BackupError(f"{path}: backup header fails authentication (wrong key or altered file)")
        prefix = base64.b64decode(header.nonce_prefix)
        if len(prefix) != 7:
            raise BackupError(f"{path}: bad nonce prefix")
    except BaseException:
        fh.close()
        raise

    def chunks() -> Iterator[bytes]:
        aead = AESGCM(enc_key)
        sha = hashlib.sha256()
        size = 0
        counter = 0
        limit = header.chunk_size + TAG_SIZE
        try:
            pending = fh.read(4)
            while True:
                if len(pending) != 4:
                    raise BackupError(f"{path}: backup is truncated")
                n = int.from_bytes(pending, "big")
                if n < TAG_SIZE or n > limit:
                    raise BackupError(f"{path}: chunk {counter} has a bad length (altered file)")
                ct = fh.read(n)
                if len(ct) != n:
                    raise BackupError(f"{path}: backup is truncated")
                pending = fh.read(4)
                last = pending == b""
                try:
                    plain = aead.decrypt(_nonce(prefix, counter, last), ct, None)
                except InvalidTag:
                    raise BackupError(
                        f"{path}: chunk {counter} fails authentication (altered, reordered or truncated file)"
                    ) from None
                sha.update(plain)
                size += len(plain)
                counter += 1
                yield plain
                if last:
                    break
            if size != header.content_size or not hmac.compare_digest(sha.hexdigest(), header.content_sha256):
                raise BackupError(f"{path}: content does not match the SHA-256 in the header")
        finally:
            fh.close()

    return header, chunks()


def verify(path: Path, *, keyring: KeyRing | None, passphrase: str | None = None) -> BackupHeader:
    """Authenticate the whole backup (header MAC, every chunk's tag, content size and SHA-256)."""
    return _verify(path, keyring, passphrase)[0]


def _verify(path: Path, keyring: KeyRing | None, passphrase: str | None) -> tuple[BackupHeader, tuple[bytes, bytes]]:
    header = read_header(path)
    keys = _keys_for(header, keyring, passphrase)
    header, stream = _open_stream(path, keyring, passphrase, keys)
    for _ in stream:
        pass
    return header, keys


# ------------------------------------------------------------------------------------------ backup
def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _key_pragma(db_key: str) -> str:
    if len(db_key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in db_key):
        raise BackupError("db_key must be 64 hex characters")
    return f"PRAGMA key = \"x'{db_key}'\""


def _connect_sqlcipher(path: Path, db_key: str) -> Any:
    import sqlcipher3  # type: ignore[import-untyped]

    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(_key_pragma(db_key))
    return conn


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(db: Database, *, out: Path, passphrase: str | None = None) -> BackupInfo:
    """Write an encrypted, authenticated snapshot of ``db`` to ``out`` (which must not exist).

    Safe while other threads or processes keep writing: the snapshot is one read transaction.
    ``out`` appears complete or not at all (written beside it, fsynced, then renamed).
    """
    started = time.perf_counter()
    out = Path(out)
    if out.exists():
        raise Conflict(f"{out} already exists", hint="choose a new file name; backups are never overwritten")
    out.parent.mkdir(parents=True, exist_ok=True)
    kdf, key_id, enc_key, mac_key = _new_kdf(db.keyring, passphrase)
    fields: dict[str, Any] = {
        "format": FORMAT,
        "created_at": _now(),
        "backend": db.kind,
        "kdf": kdf,
        "key_id": key_id,
        "phi_key_versions": sorted(db.keyring.phi_keys),
    }
    counts: dict[str, int] = {}
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as fh:
            writer = _Writer(fh, enc_key)
            if db.kind == "sqlite":
                fields |= _sqlite_content(db, writer, workdir=out.parent)
            else:
                fields |= _logical_content(db, writer, counts)
            header = writer.finish(fields, mac_key)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    info = BackupInfo(out, header, out.stat().st_size, time.perf_counter() - started, counts)
    log.info("backup written: %s (%s, %d bytes, %.2fs)", out, header.kind, info.size, info.seconds)
    return info


def _sqlite_content(db: Database, writer: _Writer, *, workdir: Path) -> dict[str, Any]:
    """Page copy through the online backup API into a temp file under the same SQLCipher key."""
    if db.engine.url.get_driver_name() != "pysqlcipher":
        raise BackupError("only SQLCipher-encrypted SQLite files can be backed up (this one is not encrypted)")
    fd, snap_name = tempfile.mkstemp(dir=workdir, prefix=".medbill-snapshot-", suffix=".db")
    os.close(fd)
    snap = Path(snap_name)
    try:
        raw = db.engine.raw_connection()
        try:
            dest = _connect_sqlcipher(snap, db.keyring.db_key)
            try:
                raw.driver_connection.backup(dest)  # type: ignore[union-attr]
                row = dest.execute(
                    "SELECT version_num FROM alembic_version"
                    if dest.execute(
                        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
                    ).fetchone()
                    else "SELECT NULL"
                ).fetchone()
                revision = row[0] if row else None
                dest.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            finally:
                dest.close()
        finally:
            raw.close()
        with snap.open("rb") as fh:
            while block := fh.read(CHUNK_SIZE):
                writer.write(block)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(snap) + suffix).unlink(missing_ok=True)
    return {"kind": "sqlcipher", "schema_revision": revision, "db_key_id": _db_key_id(db.keyring.db_key)}


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _line(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _logical_content(db: Database, writer: _Writer, counts: dict[str, int]) -> dict[str, Any]:
    """Every table in one REPEATABLE READ READ ONLY transaction, rows as stored (PHI stays ciphertext).

    Row counts go into ``counts`` and the encrypted content, not the public header."""
    tables = raw_tables()
    options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
    if db.kind == "postgresql":
        options["postgresql_readonly"] = True
    with db.engine.connect() as conn:
        conn = conn.execution_options(**options)
        with conn.begin():
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            writer.write(_line({"medbill_logical": 1, "schema_revision": revision, "tables": [t.name for t in tables]}))
            for table in tables:
                names = [c.name for c in table.columns]
                writer.write(_line({"table": table.name, "columns": names}))
                n = 0
                order = list(table.primary_key.columns) or list(table.columns)
                result = conn.execution_options(stream_results=True, yield_per=2000).execute(
                    sa.select(table).order_by(*order)
                )
                for part in result.partitions():
                    buf = bytearray()
                    for row in part:
                        buf += _line([_encode(v) for v in row])
                    n += len(part)
                    writer.write(bytes(buf))
                writer.write(_line({"end": table.name, "rows": n}))
                counts[table.name] = n
    return {"kind": "logical", "schema_revision": revision}


# ------------------------------------------------------------------------------------------ restore
def _row_counts(conn: sa.Connection, tables: list[sa.Table]) -> dict[str, int]:
    existing = set(sa.inspect(conn).get_table_names())
    return {
        t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
        for t in tables
        if t.name in existing
    }


def _current_revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def restore(db: Database, *, backup_file: Path, force: bool = False, passphrase: str | None = None) -> RestoreInfo:
    """Restore ``backup_file`` into ``db``, which must be empty unless ``force``.

    The whole backup is authenticated (every chunk, the SHA-256) before anything is written. An
    SQLite target is replaced by one ``os.replace`` of a fully written, verified file; a PostgreSQL
    target is filled in one transaction. Either way a restore killed half way leaves the target as
    it was. Stop the servers using the database first.
    """
    started = time.perf_counter()
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise BackupError(f"{backup_file}: no such backup file")
    header, keys = _verify(backup_file, db.keyring, passphrase)  # nothing is written before this
    missing = sorted(set(header.phi_key_versions) - set(db.keyring.phi_keys))
    if missing:
        raise BackupError(
            f"the key file lacks PHI key version(s) {missing} that this backup may use",
            hint="restore with the key file kept with the backup (MEDBILL_KEY_FILE)",
        )
    if header.kind == "sqlcipher":
        if db.kind != "sqlite" or db.path is None:
            raise BackupError("an SQLCipher file backup restores into an SQLite database only")
        _restore_sqlite_file(db, db.path, backup_file, header, force=force, keys=keys)
        rows = None
        target = str(db.path)
    elif header.kind == "logical":
        rows = _restore_logical(db, backup_file, header, force=force, keys=keys)
        target = db.path.as_posix() if db.path else db.engine.url.render_as_string(hide_password=True)
    else:
        raise BackupError(f"unknown backup kind {header.kind!r}")
    info = RestoreInfo(target, header, rows, time.perf_counter() - started)
    log.info("restored %s backup of %s into %s (%.2fs)", header.kind, header.created_at, target, info.seconds)
    return info


def _sqlite_target_state(db: Database, path: Path) -> str:
    """'absent', 'empty', 'non-empty' or 'unreadable' (wrong key, not a database)."""
    if not path.exists():
        return "absent"
    try:
        with db.engine.connect() as conn:
            counts = _row_counts(conn, raw_tables())
    except sa.exc.DatabaseError:
        return "unreadable"
    return "non-empty" if any(counts.values()) else "empty"


def _restore_sqlite_file(
    db: Database, path: Path, backup_file: Path, header: BackupHeader, *, force: bool, keys: tuple[bytes, bytes]
) -> None:
    state = _sqlite_target_state(db, path)
    if state == "non-empty" and not force:
        raise Conflict(f"{path} holds data: restore replaces it", hint="restore into an empty database, or --force")
    if state == "unreadable" and not force:
        raise Conflict(f"{path} exists and cannot be opened with this key file", hint="--force replaces it")
    if header.db_key_id is not None and header.db_key_id != _db_key_id(db.keyring.db_key):
        raise BackupError(
            "the backup's database was encrypted with another db_key than this key file's",
            hint="restore with the key file kept with the backup, then `medbill keys rekey-db` if needed",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.restore-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        _, stream = _open_stream(backup_file, db.keyring, None, keys)
        with os.fdopen(fd, "wb") as fh:
            for block in stream:  # re-authenticated while writing: the file could change under us
                fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
        check = _connect_sqlcipher(tmp, db.keyring.db_key)
        try:
            ok = check.execute("PRAGMA quick_check").fetchone()
        except Exception as exc:  # noqa: BLE001 - sqlcipher3.DatabaseError: wrong key
            raise BackupError("the restored file does not open with this key file's db_key") from exc
        finally:
            check.close()
        if not ok or ok[0] != "ok":
            raise BackupError("the restored file fails SQLite's quick_check")
        # the old database's WAL must not be replayed onto the new file: checkpoint it empty first
        db.dispose()
        if path.exists() and state != "unreadable":
            old = _connect_sqlcipher(path, db.keyring.db_key)
            try:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                old.close()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        raise
    finally:
        db.dispose()


def _decode_row(values: list[Any], converters: list[Any]) -> list[Any]:
    return [v if v is None or conv is None else conv(v) for v, conv in zip(values, converters, strict=True)]


def _converter(col: sa.Column[Any]) -> Any:
    t = col.type
    if isinstance(t, sa.DateTime):
        return dt.datetime.fromisoformat
    if isinstance(t, sa.Date):
        return dt.date.fromisoformat
    if isinstance(t, sa.LargeBinary):
        return base64.b64decode
    return None


def _iter_lines(stream: Iterator[bytes]) -> Iterator[Any]:
    rest = b""
    for block in stream:
        rest += block
        *lines, rest = rest.split(b"\n")
        for line in lines:
            yield json.loads(line)
    if rest.strip():
        yield json.loads(rest)


def _restore_logical(
    db: Database, backup_file: Path, header: BackupHeader, *, force: bool, keys: tuple[bytes, bytes]
) -> int:
    tables = {t.name: t for t in raw_tables()}
    with db.engine.connect() as conn:
        revision = _current_revision(conn)
        counts = _row_counts(conn, list(tables.values()))
    if any(counts.values()) and not force:
        raise Conflict(
            "the target database holds data: restore replaces it", hint="restore into an empty one, or --force"
        )
    if revision is None:
        db.migrate(header.schema_revision or "head")  # an empty schema is not a half-restored database
    elif revision != header.schema_revision:
        raise BackupError(
            f"the target database is at schema revision {revision}, the backup at {header.schema_revision}",
            hint="restore into an empty database (no schema), or migrate it to the backup's revision",
        )
    _, stream = _open_stream(backup_file, db.keyring, None, keys)
    total = 0
    with db.engine.connect() as conn:
        conn = conn.execution_options(medbill_write=True)
        with conn.begin():
            order = [t for t in raw_tables()]
            if db.kind == "postgresql":
                conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t.name}"' for t in order))
            else:
                for t in reversed(order):
                    conn.execute(sa.delete(t))
            lines = _iter_lines(stream)
            head = next(lines, None)
            if not isinstance(head, dict) or head.get("medbill_logical") != 1:
                raise BackupError("not a medbill logical backup")
            table: sa.Table | None = None
            names: list[str] = []
            converters: list[Any] = []
            batch: list[list[Any]] = []
            n = 0
            for item in lines:
                if isinstance(item, list):
                    if table is None:
                        raise BackupError("logical backup: a row outside a table")
                    batch.append(_decode_row(item, converters))
                    if len(batch) >= 5000:
                        n += _insert(conn, table, names, batch)
                        batch = []
                elif "table" in item:
                    if item["table"] not in tables:
                        raise BackupError(f"logical backup: table {item['table']!r} is not in this schema")
                    table = tables[item["table"]]
                    names = list(item["columns"])
                    unknown = set(names) - set(table.c.keys())
                    if unknown:
                        raise BackupError(f"logical backup: {table.name} has columns this schema lacks")
                    converters = [_converter(table.c[c]) for c in names]
                    n = 0
                elif "end" in item:
                    if table is None or item["end"] != table.name:
                        raise BackupError("logical backup: table sections out of step")
                    if batch:
                        n += _insert(conn, table, names, batch)
                        batch = []
                    if n != int(item["rows"]):
                        raise BackupError(f"logical backup: {table.name} row count differs from its trailer")
                    total += n
                    table = None
            if table is not None:
                raise BackupError("logical backup: the last table section is incomplete")
            if db.kind == "postgresql":
                _reset_sequences(conn, list(tables.values()))
    return total


def _insert(conn: sa.Connection, table: sa.Table, names: list[str], rows: list[list[Any]]) -> int:
    """PostgreSQL: COPY ... FROM STDIN on the transaction's own connection; elsewhere an executemany INSERT."""
    if conn.dialect.name == "postgresql":
        cols = ", ".join(f'"{c}"' for c in names)
        dbapi: Any = conn.connection.driver_connection
        with dbapi.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(sa.insert(table), [dict(zip(names, row, strict=True)) for row in rows])
    return len(rows)


def _reset_sequences(conn: sa.Connection, tables: list[sa.Table]) -> None:
    for t in tables:
        pk = list(t.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer):
            continue
        seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": t.name, "c": pk[0].name}).scalar()
        if seq is None:
            continue
        conn.execute(
            sa.text(
                f'SELECT setval(:s, coalesce(max("{pk[0].name}"), 1), max("{pk[0].name}") IS NOT NULL) FROM "{t.name}"'
            ),
            {"s": seq},
        )

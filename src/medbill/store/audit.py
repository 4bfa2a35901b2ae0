"""The audit log: append-only, hash-chained with an HMAC key kept outside the database, anchored outside it too.

One chain per practice (``chain`` = practice id; 0 = install-wide events such as a system administrator's
sign-in), so users of different practices never wait on one another. Each record::

    hash = HMAC-SHA256(audit_key, prev_hash ‖ "\\n" ‖ canonical(record))

where ``prev_hash`` is the previous record's hash (the first record of a chain links to :func:`genesis`,
a fixed constant per chain) and ``canonical`` is the compact JSON array
``["medbill-audit/1", chain, seq, at, user_id, role, action, resource, record_ids, outcome, source,
request_id, detail]`` (``at`` ISO 8601 with microseconds, naive UTC; ``record_ids`` the exact JSON text
stored in the row). A JSON array of typed scalars is unambiguous: no two records encode alike.

Appending (:func:`append_event`) happens inside the caller's transaction: the chain's ``audit_head`` row is
locked (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the write transaction's ``BEGIN IMMEDIATE``
already serialises writers), ``seq = head.seq + 1``, the record and the new head are written, and the
audit record commits or rolls back with the data change it describes.

The anchor: a JSON file outside the database (``Database.audit_anchor``) holding, per chain, the highest
committed ``{"seq", "hash", "at"}``. The database alone cannot reveal a truncated tail (an attacker who
deletes the last records and rewinds ``audit_head`` leaves a self-consistent chain); the anchor can.
It is written AFTER commit: :func:`anchor_after_commit` hooks the session (``before_commit`` reads the
chains' heads inside the transaction, so a rolled-back savepoint is reflected; ``after_commit`` hands
them to a per-process background writer, or writes them at once with ``wait=True``; a rollback writes
nothing), or a caller may call :func:`update_anchor` itself. Writes merge under
an ``fcntl`` lock on ``<anchor>.lock`` (threads and processes alike), keep the highest ``seq`` per chain
and replace the file atomically (temp file, fsync, ``os.replace``). An anchor that lags the database
(a crash between commit and anchor write) is not an alarm; an anchor ahead of it is.

:func:`verify` recomputes every chain (streamed in chunks, Core selects, no ORM objects) and names each
problem with its chain, seq and kind (:class:`TamperKind`). :func:`report` lists records for
``medbill audit report``. Records hold surrogate ids, roles, actions and control numbers — never PHI —
so problems and reports carry none either.
"""

from __future__ import annotations

import atexit
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from medbill.store.models import AuditEvent, AuditHead, utcnow

if TYPE_CHECKING:
    from medbill.store.db import Database

__all__ = [
    "AnchorHead",
    "AuditRow",
    "ChainStatus",
    "Problem",
    "TamperKind",
    "VerifyReport",
    "anchor_after_commit",
    "append_event",
    "append_events",
    "canonical",
    "flush_anchor",
    "chain_hash",
    "genesis",
    "read_anchor",
    "report",
    "update_anchor",
    "verify",
]

log = logging.getLogger(__name__)

FORMAT = "medbill-audit/1"
CHUNK = 5000  # rows fetched per round trip while verifying
SHIFT_WINDOW = 64  # how far a renumbered record's true seq is searched for (only for records that fail)

_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[assignment]
_HEADS: sa.Table = AuditHead.__table__  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------- hashing
def genesis(chain: int) -> str:
    """The fixed ``prev_hash`` of a chain's first record."""
    return hashlib.sha256(f"{FORMAT}/genesis/{chain}".encode()).hexdigest()


def _iso(at: dt.datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _ids_text(record_ids: Iterable[Any]) -> str:
    """The stored (and hashed) JSON text of the record ids: ints stay ints, anything else becomes text."""
    ids = [i if isinstance(i, int) and not isinstance(i, bool) else str(i) for i in record_ids]
    return json.dumps(ids, sort_keys=True, separators=(",", ":"))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def canonical(
    chain: int,
    seq: int,
    at: dt.datetime,
    user_id: int | None,
    role: str | None,
    action: str,
    resource: str,
    record_ids_text: str,
    outcome: str,
    source: str | None,
    request_id: str | None,
    detail: str | None,
) -> bytes:
    """The unambiguous encoding of one record (a compact JSON array of typed scalars)."""
    return _ENCODER.encode(
        [
            FORMAT,
            chain,
            seq,
            at.isoformat(timespec="microseconds"),
            user_id,
            role,
            action,
            resource,
            record_ids_text,
            outcome,
            source,
            request_id,
            detail,
        ]
    ).encode("utf-8")


def chain_hash(key: bytes, prev_hash: str, canon: bytes) -> str:
    """``HMAC-SHA256(key, prev_hash ‖ "\\n" ‖ canonical)`` as 64 hex characters."""
    return hmac.digest(key, prev_hash.encode("ascii") + b"\n" + canon, "sha256").hex()


def _plain_hashes(prev_hash: str, canon: bytes) -> tuple[str, str]:
    """What a forger without the key could compute (OpenEMR-style unkeyed checksums)."""
    return (
        hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canon).hexdigest(),
        hashlib.sha256(canon).hexdigest(),
    )


# --------------------------------------------------------------------------------------------- append
_LIMITS = {"role": 30, "action": 30, "resource": 60, "outcome": 12, "source": 64, "request_id": 36}


_SELECT_HEAD = sa.select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.chain == sa.bindparam("c")).with_for_update()
_UPDATE_HEAD = (
    sa.update(_HEADS)
    .where(_HEADS.c.chain == sa.bindparam("c"))
    .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)
# record_ids: bound as the exact text that was hashed (bypassing the JSON type's own dumping)
_INSERT_EVENT = sa.insert(_EVENTS).values(record_ids=sa.bindparam("ids_text", type_=sa.Text)).returning(_EVENTS.c.id)
_SELECT_HEADS_IN = sa.select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash).where(
    _HEADS.c.chain.in_(sa.bindparam("chains", expanding=True))
)
_INSERT_EVENTS = sa.insert(_EVENTS).values(record_ids=sa.bindparam("ids_text", type_=sa.Text))


def _lock_head(conn: sa.Connection, chain: int) -> tuple[int, str]:
    row = conn.execute(_SELECT_HEAD, {"c": chain}).one_or_none()
    if row is None:
        # first record of the chain: create its head (a concurrent creator makes this a no-op), then lock it
        values = {"chain": chain, "seq": 0, "hash": genesis(chain)}
        ins: Any
        if conn.dialect.name == "postgresql":
            ins = postgresql.insert(_HEADS).values(values).on_conflict_do_nothing(index_elements=["chain"])
        elif conn.dialect.name == "sqlite":
            ins = sqlite.insert(_HEADS).values(values).on_conflict_do_nothing(index_elements=["chain"])
        else:  # pragma: no cover - other backends: plain insert (a race surfaces as an IntegrityError)
            ins = sa.insert(_HEADS).values(values)
        conn.execute(ins)
        row = conn.execute(_SELECT_HEAD, {"c": chain}).one()
    return int(row.seq), str(row.hash)


def _fields(
    *,
    user_id: int | None,
    role: str | None,
    action: str,
    resource: str,
    record_ids: Iterable[Any],
    outcome: str,
    source: str | None = None,
    request_id: str | None = None,
    detail: str | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """A record's columns, checked and normalised (``ids_text``: the record ids' JSON text)."""
    values: dict[str, Any] = {
        "role": None if role is None else str(role),
        "action": str(action),
        "resource": str(resource),
        "outcome": str(outcome),
        "source": source,
        "request_id": request_id,
    }
    for name, limit in _LIMITS.items():
        if values[name] is not None and len(values[name]) > limit:
            raise ValueError(f"audit {name} longer than {limit} characters")
    if at is None:
        at = utcnow()
    elif at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    values.update(user_id=user_id, detail=detail, at=at, ids_text=_ids_text(record_ids))
    return values


def _seal(key: bytes, chain: int, seq: int, prev_hash: str, v: dict[str, Any]) -> str:
    """Number and hash a record (``v`` from :func:`_fields`); returns its hash."""
    canon = canonical(
        chain,
        seq,
        v["at"],
        v["user_id"],
        v["role"],
        v["action"],
        v["resource"],
        v["ids_text"],
        v["outcome"],
        v["source"],
        v["request_id"],
        v["detail"],
    )
    digest = chain_hash(key, prev_hash, canon)
    v.update(chain=chain, seq=seq, prev_hash=prev_hash, hash=digest)
    return digest


def _connection(session: Session, chain: int) -> sa.Connection:
    session.flush()  # pending ORM changes first (as autoflush would), then Core on the same connection
    session.info.setdefault("medbill_audit_chains", set()).add(chain)
    return session.connection()


def append_event(
    session: Session,
    *,
    key: bytes,
    chain: int,
    user_id: int | None,
    role: str | None,
    action: str,
    resource: str,
    record_ids: Iterable[Any],
    outcome: str,
    source: str | None = None,
    request_id: str | None = None,
    detail: str | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one record to ``chain`` inside the caller's transaction; returns it (detached, with its id).

    The chain's head is locked until the caller's transaction ends, so a chain never forks. The
    record commits or rolls back with the caller's transaction. Call :func:`anchor_after_commit` (or
    :func:`update_anchor` after the commit) to advance the outside anchor.
    """
    v = _fields(
        user_id=user_id,
        role=role,
        action=action,
        resource=resource,
        record_ids=record_ids,
        outcome=outcome,
        source=source,
        request_id=request_id,
        detail=detail,
        at=at,
    )
    conn = _connection(session, chain)
    seq, prev_hash = _lock_head(conn, chain)
    digest = _seal(key, chain, seq + 1, prev_hash, v)
    new_id = conn.execute(_INSERT_EVENT, v).scalar_one()
    conn.execute(_UPDATE_HEAD, {"c": chain, "new_seq": seq + 1, "new_hash": digest})
    # a detached instance built the way the ORM loads rows (no per-attribute events: appends are hot)
    if AuditEvent.__mapper__.configured is False:
        sa.orm.configure_mappers()
    ev: AuditEvent = AuditEvent.__mapper__.class_manager.new_instance()
    ids_text = v.pop("ids_text")
    ev.__dict__.update(v, id=new_id, record_ids=json.loads(ids_text))
    make_transient_to_detached(ev)
    return ev


def append_events(session: Session, *, key: bytes, chain: int, events: Iterable[Mapping[str, Any]]) -> int:
    """Append many records to one chain under one head lock (imports of old logs, benchmarks, tests).

    Each mapping holds :func:`append_event`'s record arguments (``user_id``, ``role``, ``action``,
    ``resource``, ``record_ids``, ``outcome`` and optionally ``source``, ``request_id``, ``detail``,
    ``at``). Same chain, same hashes as one :func:`append_event` call per record. Returns the count.
    """
    conn = _connection(session, chain)
    seq, digest = _lock_head(conn, chain)
    batch: list[dict[str, Any]] = []
    count = 0
    for spec in events:
        v = _fields(**spec)
        seq += 1
        digest = _seal(key, chain, seq, digest, v)
        batch.append(v)
        if len(batch) >= CHUNK:
            conn.execute(_INSERT_EVENTS, batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(_INSERT_EVENTS, batch)
        count += len(batch)
    if count:
        conn.execute(_UPDATE_HEAD, {"c": chain, "new_seq": seq, "new_hash": digest})
    return count


# --------------------------------------------------------------------------------------------- anchor
@dataclass(frozen=True, slots=True)
class AnchorHead:
    seq: int
    hash: str
    at: str | None = None  # when the anchor last advanced (ISO, UTC)


@contextmanager
def _locked(anchor_path: Path) -> Iterator[None]:
    anchor_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(anchor_path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read_anchor(anchor_path: Path) -> dict[int, AnchorHead]:
    """The anchored heads. Raises FileNotFoundError when absent, ValueError when not an anchor file."""
    data = json.loads(anchor_path.read_text())
    if not isinstance(data, dict):
        raise ValueError("not an audit anchor (expected an object)")
    out: dict[int, AnchorHead] = {}
    for chain, head in data.items():
        out[int(chain)] = AnchorHead(seq=int(head["seq"]), hash=str(head["hash"]), at=head.get("at"))
    return out


def update_anchor(anchor_path: Path, heads: Mapping[int, tuple[int, str]], *, durable: bool = True) -> None:
    """Merge committed chain heads ``{chain: (seq, hash)}`` into the anchor file; the highest seq wins.

    Safe across threads and processes (``fcntl`` lock); the file is replaced atomically.
    """
    if not heads:
        return
    now = _iso(utcnow())
    with _locked(anchor_path):
        try:
            current = read_anchor(anchor_path)
        except FileNotFoundError:
            current = {}
        except (ValueError, KeyError, TypeError) as exc:
            # never silently overwrite evidence: keep the bad file aside and start again
            aside = anchor_path.with_name(f"{anchor_path.name}.corrupt-{int(time.time())}")
            os.replace(anchor_path, aside)
            log.warning("audit anchor %s unreadable (%s); moved to %s", anchor_path, type(exc).__name__, aside)
            current = {}
        changed = False
        for chain, (seq, digest) in heads.items():
            old = current.get(chain)
            if old is None or seq > old.seq:
                current[chain] = AnchorHead(seq, digest, now)
                changed = True
        if not changed:
            return
        payload = json.dumps(
            {str(c): {"seq": h.seq, "hash": h.hash, "at": h.at} for c, h in sorted(current.items())}, indent=0
        )
        fd, tmp = tempfile.mkstemp(dir=anchor_path.parent, prefix=".audit-anchor-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(payload)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, anchor_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class _AnchorWriter:
    """Writes anchor updates off the request path: commits enqueue heads, one thread merges and writes them.

    A request waits only for a dictionary update. The thread writes at most every ``MIN_INTERVAL``
    seconds (a replace-by-rename costs a disk flush on ext4, which would otherwise compete with the
    database's own commits) and fsyncs at most every ``SYNC_INTERVAL`` seconds, so a burst of commits
    costs one write. Pending heads are flushed at exit and by :func:`flush_anchor` (which
    :func:`verify` calls first); a crash loses at most the last second of anchor updates: the anchor
    then lags the database, which is never reported as tampering.
    """

    MIN_INTERVAL = 0.1
    SYNC_INTERVAL = 1.0

    def __init__(self) -> None:
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[Path, dict[int, tuple[int, str]]] = {}
        self._busy = False
        self._hurry = False
        self._thread: threading.Thread | None = None
        self._last_write = 0.0
        self._last_sync = 0.0

    def submit(self, path: Path, heads: Mapping[int, tuple[int, str]]) -> None:
        with self._cond:
            merged = self._pending.setdefault(path, {})
            for chain, (seq, digest) in heads.items():
                if chain not in merged or seq > merged[chain][0]:
                    merged[chain] = (seq, digest)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="medbill-audit-anchor", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending))
                due = self._last_write + self.MIN_INTERVAL
                while not self._hurry and (now := time.monotonic()) < due:
                    self._cond.wait(due - now)
                work, self._pending, self._busy, self._hurry = self._pending, {}, True, False
            try:
                durable = time.monotonic() - self._last_sync >= self.SYNC_INTERVAL
                for path, heads in work.items():
                    try:
                        update_anchor(path, heads, durable=durable)
                    except OSError as exc:  # the data is committed; verify will see the lag
                        log.warning("audit anchor not updated for chains %s (%s)", sorted(heads), type(exc).__name__)
                self._last_write = time.monotonic()
                if durable:
                    self._last_sync = self._last_write
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout: float | None = 30.0) -> bool:
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)


_WRITER = _AnchorWriter()
atexit.register(_WRITER.flush)
os.register_at_fork(after_in_child=_WRITER.reset_after_fork)


def reset_anchor(anchor_path: Path, heads: Mapping[int, tuple[int, str]]) -> Path | None:
    """Replace the anchor with ``heads`` after a restore, keeping the superseded anchor beside it.

    The only way the anchor moves backwards. The old file is kept (``<name>.superseded-<time>``) as
    evidence of the records the restore dropped; the caller writes an audit record naming them.
    Returns the path of the superseded file (None when there was none).
    """
    flush_anchor()
    with _locked(anchor_path):
        kept: Path | None = None
        if anchor_path.exists():
            kept = anchor_path.with_name(f"{anchor_path.name}.superseded-{int(time.time())}")
            os.replace(anchor_path, kept)
        now = _iso(utcnow())
        payload = json.dumps(
            {str(c): {"seq": s, "hash": h, "at": now} for c, (s, h) in sorted(heads.items())}, indent=0
        )
        fd, tmp = tempfile.mkstemp(dir=anchor_path.parent, prefix=".audit-anchor-", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, anchor_path)
    return kept


def database_heads(db_or_session: Database | Session) -> dict[int, tuple[int, str]]:
    """Every chain's head as the database holds it (``audit_head``)."""
    with _reading(db_or_session) as s:
        rows = s.execute(sa.select(AuditHead.chain, AuditHead.seq, AuditHead.hash)).all()
    return {int(c): (int(q), str(h)) for c, q, h in rows}


def flush_anchor(timeout: float | None = 30.0) -> bool:
    """Wait until this process's queued anchor updates are written (True when done within ``timeout``)."""
    return _WRITER.flush(timeout)


def _on_before_commit(session: Session) -> None:
    chains = session.info.get("medbill_audit_chains")
    if not chains:
        return
    rows = session.connection().execute(_SELECT_HEADS_IN, {"chains": sorted(chains)}).all()
    session.info["medbill_audit_commit_heads"] = {int(r.chain): (int(r.seq), str(r.hash)) for r in rows}


def _on_after_commit(session: Session) -> None:
    heads = session.info.pop("medbill_audit_commit_heads", None)
    session.info.pop("medbill_audit_chains", None)
    path = session.info.get("medbill_audit_anchor")
    if not heads or path is None:
        return
    if session.info.get("medbill_audit_anchor_wait"):
        try:
            update_anchor(path, heads)
        except OSError as exc:  # the data is committed: never fail the request; verify will see the lag
            log.warning("audit anchor not updated for chains %s (%s)", sorted(heads), type(exc).__name__)
    else:
        _WRITER.submit(path, heads)


def _on_after_rollback(session: Session) -> None:
    session.info.pop("medbill_audit_commit_heads", None)
    if not session.in_transaction():
        session.info.pop("medbill_audit_chains", None)


def anchor_after_commit(session: Session, anchor_path: Path | None, *, wait: bool = False) -> None:
    """Advance the anchor at ``anchor_path`` once ``session`` commits the audit records it appended.

    The chains' heads are read inside the transaction (``before_commit``) and written after the commit,
    by the background writer (default) or before the commit call returns (``wait=True``). Idempotent
    per session; a rollback advances nothing. ``None`` (no anchor configured) does nothing.
    """
    if anchor_path is None or session.info.get("medbill_audit_anchor") is not None:
        return
    session.info["medbill_audit_anchor"] = anchor_path
    session.info["medbill_audit_anchor_wait"] = wait
    event.listen(session, "before_commit", _on_before_commit)
    event.listen(session, "after_commit", _on_after_commit)
    event.listen(session, "after_rollback", _on_after_rollback)


# --------------------------------------------------------------------------------------------- verify
class TamperKind(StrEnum):
    EDITED = "edited"  # a record's content changed (its original hash is still referenced)
    DELETED = "deleted"  # records missing from the chain (seq gap or broken link)
    INSERTED = "inserted"  # a record nobody with the key wrote (HMAC mismatch, not referenced)
    REORDERED = "reordered"  # authentic records moved to other positions (seq changed)
    TRUNCATED = "truncated"  # the anchor's head is beyond the database's, or its record was replaced
    FORGED_PLAIN_HASH = "forged_plain_hash"  # a record whose hash is an unkeyed SHA-256 (forgery)
    BROKEN_LINK = "broken_link"  # an authentic record not linked to its predecessor
    HEAD_MISMATCH = "head_mismatch"  # audit_head disagrees with the chain's last record
    ANCHOR_MISMATCH = "anchor_mismatch"  # the anchored record exists but has been tampered with
    ANCHOR_MISSING = "anchor_missing"  # no anchor (file or chain entry): truncation cannot be ruled out
    ANCHOR_UNREADABLE = "anchor_unreadable"


@dataclass(frozen=True, slots=True)
class Problem:
    chain: int | None
    seq: int | None
    kind: TamperKind
    message: str  # surrogate facts only (seqs, counts), never PHI

    def to_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "kind": str(self.kind), "message": self.message}


@dataclass(frozen=True, slots=True)
class ChainStatus:
    chain: int
    records: int
    last_seq: int  # highest seq stored (0: none)
    head_seq: int | None  # audit_head
    anchor_seq: int | None


@dataclass(slots=True)
class VerifyReport:
    chains: list[ChainStatus] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    records: int = 0
    seconds: float = 0.0

    @property
    def intact(self) -> bool:
        return not self.problems

    def kinds(self) -> set[TamperKind]:
        return {p.kind for p in self.problems}

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "chains": [
                {
                    "chain": c.chain,
                    "records": c.records,
                    "last_seq": c.last_seq,
                    "head_seq": c.head_seq,
                    "anchor_seq": c.anchor_seq,
                }
                for c in self.chains
            ],
            "problems": [p.to_dict() for p in self.problems],
        }


_COLUMNS = (
    _EVENTS.c.chain,
    _EVENTS.c.seq,
    _EVENTS.c.at,
    _EVENTS.c.user_id,
    _EVENTS.c.role,
    _EVENTS.c.action,
    _EVENTS.c.resource,
    sa.type_coerce(_EVENTS.c.record_ids, sa.Text).label("record_ids"),
    _EVENTS.c.outcome,
    _EVENTS.c.source,
    _EVENTS.c.request_id,
    _EVENTS.c.detail,
    _EVENTS.c.prev_hash,
    _EVENTS.c.hash,
)


def _ranges(seqs: Sequence[int]) -> str:
    out: list[str] = []
    start = prev = seqs[0]
    for s in seqs[1:]:
        if s == prev + 1:
            prev = s
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = s
    out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


class _ChainChecker:
    """Walks one chain in stored seq order, recovering each authentic record's true position."""

    def __init__(
        self, chain: int, key: bytes, anchor: AnchorHead | None, problems: list[Problem], *, anchor_known: bool
    ) -> None:
        self.chain = chain
        self.key = key
        self.anchor = anchor
        self.anchor_known = anchor_known  # False: the anchor file itself is missing (reported once)
        self.problems = problems
        self.records = 0
        self.last_seq = 0  # highest stored seq
        self.last_hash: str | None = None  # stored hash of the last record (stored order)
        self.max_true = 0  # highest true seq of an authentic record seen
        self.prev_true: int | None = None  # true seq of the previous record in stored order, if authentic
        self.prev_digest: str | None = None  # the previous record's stored hash
        self.shift = 0  # the last recovered (true - stored) offset
        self.failures = 0  # consecutive records not authentic under any position
        self.missing: list[list[int]] = []  # true seq ranges [lo, hi] not seen (yet)
        self.forged_slots: set[int] = set()
        self.pending: tuple[int, str] | None = None  # (seq, hash) of a forged record awaiting classification
        self.anchor_found = False  # the anchored hash is in the chain
        self.anchor_slot_authentic = False  # an authentic record holds the anchor's seq (with another hash)

    def _add(self, kind: TamperKind, seq: int | None, message: str) -> None:
        self.problems.append(Problem(self.chain, seq, kind, message))

    def _resolve_pending(self, next_prev_hash: str | None) -> None:
        if self.pending is None:
            return
        seq, digest = self.pending
        self.pending = None
        # an original hash is still referenced by its successor (or by the anchor): the content was edited
        referenced = digest == next_prev_hash or (self.anchor is not None and self.anchor.hash == digest)
        if referenced:
            self._add(TamperKind.EDITED, seq, "record content changed: its hash no longer matches (HMAC)")
        else:
            self._add(TamperKind.INSERTED, seq, "record not written with the audit key (HMAC mismatch)")

    def _missing_remove(self, t: int) -> bool:
        for i, (lo, hi) in enumerate(self.missing):
            if lo <= t <= hi:
                parts = [[lo, t - 1]] if lo < t else []
                if t < hi:
                    parts.append([t + 1, hi])
                self.missing[i : i + 1] = parts
                return True
        return False

    def _true_seq(self, seq: int, prev: str, digest: str, canon: bytes, args: tuple[Any, ...]) -> int | None:
        key, chain = self.key, self.chain
        if chain_hash(key, prev, canon) == digest:
            return seq
        tries = [self.shift] if self.shift else []
        if self.failures < 8:  # a long forged run does not pay the window search on every record
            tries += [d for k in range(1, SHIFT_WINDOW + 1) for d in (k, -k) if d != self.shift]
        for d in tries:
            if seq + d >= 1 and chain_hash(key, prev, canonical(chain, seq + d, *args)) == digest:
                self.shift = d
                return seq + d
        return None

    def row(self, r: Sequence[Any]) -> None:
        """One record: a tuple in :data:`_COLUMNS` order (positional: name lookups cost more than the HMAC)."""
        seq = int(r[1])
        args = tuple(r[2:12])  # at, user_id, role, action, resource, record_ids, outcome, source, request_id, detail
        prev: str = r[12] or ""
        digest: str = r[13] or ""
        self.records += 1
        if self.records > 1 and seq == self.last_seq:
            self._add(TamperKind.INSERTED, seq, "a second record with the same seq")
        a = self.anchor
        if a is not None and digest == a.hash:
            self.anchor_found = True

        canon = canonical(self.chain, seq, *args)
        true = self._true_seq(seq, prev, digest, canon, args)
        if true is None:
            self._resolve_pending(prev)
            if digest in _plain_hashes(prev, canon):
                self._add(TamperKind.FORGED_PLAIN_HASH, seq, "hash is an unkeyed SHA-256, not the chain's HMAC")
            else:
                self.pending = (seq, digest)
            self.failures += 1
            self.forged_slots.add(seq + self.shift)
            self.prev_true = None
        else:
            self._resolve_pending(prev)
            self.failures = 0
            if a is not None and true == a.seq:
                self.anchor_slot_authentic = True
            if true > self.max_true:
                if true > self.max_true + 1:
                    self.missing.append([self.max_true + 1, true - 1])
                elif self.prev_true == true - 1 and prev != self.prev_digest:
                    self._add(TamperKind.BROKEN_LINK, seq, "record does not link to the record before it")
                if true == 1 and prev != genesis(self.chain):
                    self._add(TamperKind.BROKEN_LINK, seq, "first record does not link to the chain's genesis")
                self.max_true = true
            elif self._missing_remove(true):
                self._add(TamperKind.REORDERED, seq, f"authentic record {true} moved to position {seq}")
            else:
                self._add(TamperKind.INSERTED, seq, f"a copy of record {true} (replayed)")
            self.prev_true = true
        self.prev_digest = digest
        self.last_seq = max(self.last_seq, seq)
        self.last_hash = digest

    def finish(self, head: tuple[int, str] | None) -> ChainStatus:
        self._resolve_pending(None)
        gaps = [s for lo, hi in self.missing for s in range(lo, hi + 1) if s not in self.forged_slots]
        if gaps:
            self._add(TamperKind.DELETED, gaps[0], f"{len(gaps)} record(s) missing: seq {_ranges(gaps)}")
        if self.records:
            if head is None:
                self._add(TamperKind.HEAD_MISMATCH, None, "chain has records but no audit_head row")
            elif head[0] != self.last_seq or head[1] != self.last_hash:
                self._add(
                    TamperKind.HEAD_MISMATCH,
                    head[0],
                    f"audit_head says seq {head[0]}, the last record is seq {self.last_seq}",
                )
        elif head is not None and head[0] != 0:
            self._add(TamperKind.TRUNCATED, 1, f"audit_head says seq {head[0]} but the chain has no records")
        a = self.anchor
        if a is not None and not self.anchor_found:
            top = max(self.max_true, max(self.forged_slots, default=0))
            if top < a.seq:
                self._add(TamperKind.TRUNCATED, top + 1, f"the anchor records seq {a.seq}; the chain ends at seq {top}")
            elif self.anchor_slot_authentic:
                self._add(
                    TamperKind.TRUNCATED,
                    a.seq,
                    f"the anchored record seq {a.seq} was replaced (tail truncated, then rewritten)",
                )
            elif a.seq in self.forged_slots:
                self._add(TamperKind.ANCHOR_MISMATCH, a.seq, f"the anchored record seq {a.seq} was altered")
            # else: the anchored record is missing, already reported as deleted
        elif a is None and self.records and self.anchor_known:
            self._add(TamperKind.ANCHOR_MISSING, None, "chain not in the anchor: a truncated tail cannot be ruled out")
        return ChainStatus(self.chain, self.records, self.last_seq, head[0] if head else None, a.seq if a else None)


@contextmanager
def _reading(db_or_session: Database | Session) -> Iterator[Session]:
    if isinstance(db_or_session, Session):
        yield db_or_session
        return
    with db_or_session.read() as s:
        if db_or_session.kind == "postgresql":  # one snapshot for heads and records
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield s


def verify(
    db_or_session: Database | Session,
    *,
    key: bytes,
    anchor_path: Path | None,
    chains: Iterable[int] | None = None,
) -> VerifyReport:
    """Recompute every chain (or ``chains``) and report each problem with its chain, seq and kind.

    The anchor is read first, then the database in one snapshot, so records committed in between
    never look like a truncation.
    """
    started = time.perf_counter()
    flush_anchor()  # this process's queued anchor updates first
    report_ = VerifyReport()
    wanted = None if chains is None else sorted(set(chains))
    anchor: dict[int, AnchorHead] = {}
    if anchor_path is None:
        report_.problems.append(Problem(None, None, TamperKind.ANCHOR_MISSING, "no audit anchor configured"))
    else:
        try:
            anchor = read_anchor(anchor_path)
        except FileNotFoundError:
            report_.problems.append(
                Problem(None, None, TamperKind.ANCHOR_MISSING, f"anchor file {anchor_path} not found")
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            report_.problems.append(
                Problem(None, None, TamperKind.ANCHOR_UNREADABLE, f"anchor file {anchor_path} is not an anchor")
            )
    if wanted is not None:
        anchor = {c: h for c, h in anchor.items() if c in wanted}
    anchor_known = not report_.problems

    with _reading(db_or_session) as s:
        head_q = sa.select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash)
        q = sa.select(*_COLUMNS).order_by(_EVENTS.c.chain, _EVENTS.c.seq, _EVENTS.c.id)
        if wanted is not None:
            head_q = head_q.where(_HEADS.c.chain.in_(wanted))
            q = q.where(_EVENTS.c.chain.in_(wanted))
        heads = {int(r.chain): (int(r.seq), str(r.hash)) for r in s.execute(head_q)}
        checkers: dict[int, _ChainChecker] = {}
        current: _ChainChecker | None = None
        result = s.execute(q, execution_options={"yield_per": CHUNK})
        for part in result.partitions(CHUNK):
            for r in part:
                if current is None or current.chain != r[0]:
                    c = int(r[0])
                    current = checkers[c] = _ChainChecker(
                        c, key, anchor.get(c), report_.problems, anchor_known=anchor_known
                    )
                current.row(r)
        result.close()
    for c in sorted(set(checkers) | set(heads) | set(anchor)):
        checker = checkers.get(c) or _ChainChecker(c, key, anchor.get(c), report_.problems, anchor_known=anchor_known)
        status = checker.finish(heads.get(c))
        report_.chains.append(status)
        report_.records += status.records
    report_.problems.sort(key=lambda p: (p.chain if p.chain is not None else -1, p.seq or 0))
    report_.seconds = time.perf_counter() - started
    return report_


# --------------------------------------------------------------------------------------------- report
@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    chain: int
    seq: int
    at: dt.datetime
    user_id: int | None
    role: str | None
    action: str
    resource: str
    record_ids: tuple[Any, ...]
    outcome: str
    source: str | None
    request_id: str | None
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chain": self.chain,
            "seq": self.seq,
            "at": _iso(self.at),
            "user_id": self.user_id,
            "role": self.role,
            "action": self.action,
            "resource": self.resource,
            "record_ids": list(self.record_ids),
            "outcome": self.outcome,
            "source": self.source,
            "request_id": self.request_id,
            "detail": self.detail,
        }


def report(
    db: Database | Session,
    *,
    start: dt.date,
    end: dt.date,
    user_id: int | None = None,
    practice_id: int | None = None,
    action: str | None = None,
) -> list[AuditRow]:
    """Records with ``start <= at < end + 1 day`` (UTC dates, both inclusive), oldest first."""
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    t = _EVENTS
    q = sa.select(
        t.c.id,
        t.c.chain,
        t.c.seq,
        t.c.at,
        t.c.user_id,
        t.c.role,
        t.c.action,
        t.c.resource,
        t.c.record_ids,
        t.c.outcome,
        t.c.source,
        t.c.request_id,
        t.c.detail,
    ).where(t.c.at >= lo, t.c.at < hi)
    if user_id is not None:
        q = q.where(t.c.user_id == user_id)
    if practice_id is not None:
        q = q.where(t.c.chain == practice_id)
    if action is not None:
        q = q.where(t.c.action == str(action))
    q = q.order_by(t.c.at, t.c.chain, t.c.seq)
    with _reading(db) as s:
        return [
            AuditRow(
                r.id,
                r.chain,
                r.seq,
                r.at,
                r.user_id,
                r.role,
                r.action,
                r.resource,
                tuple(r.record_ids or ()),
                r.outcome,
                r.source,
                r.request_id,
                r.detail,
            )
            for r in s.execute(q)
        ]

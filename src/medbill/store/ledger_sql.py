"""The ledger's :class:`~medbill.ledger.entries.LedgerStore` over the practice database (``posting`` and
``ledger_entry`` tables), with the semantics of :class:`medbill.ledger.memory.InMemoryLedger`.

- **Exactly once by key**: a batch whose posting key is already held is skipped (``already_posted``).
  The key's text holds CLP01 (PHI), so the table keeps only a keyed hash of it (``key_hash``: HMAC with
  a sub-key derived from the key ring's index key, over the exact text: no case or space folding, so
  "PCN1" and "pcn1" stay two keys); the key itself and the payment's raw content fingerprint are kept
  encrypted in ``key_doc`` (needed to answer ``posted_fingerprint`` and to rebuild entries).
- **Suspected duplicates**: a batch whose content fingerprint is live (posted more often than
  reversed) under another (TRN03, TRN02), not ``duplicate_approved`` and not the reversal of a live
  payment, is skipped (``suspected_duplicate``). Fingerprints are stored as keyed hashes
  (``fingerprint``, ``reverses``); TRN03/TRN02 are payment identifiers, not PHI, and are kept plain.
- **Two posters at once**: on PostgreSQL :meth:`SqlLedger.lock` takes ``pg_advisory_xact_lock`` for
  the practice (posters of one practice queue; the lock ends with the transaction); on SQLite the
  write transaction's ``BEGIN IMMEDIATE`` already serialises writers. The unique constraint
  ``(practice_id, key_hash)`` is the last guard: an ``IntegrityError`` (a poster that did not lock)
  rolls the append's savepoint back and the append is decided again against what is committed now,
  so the loser's batches come back as ``already_posted``.

``Entry.claim_id`` is a string in the ledger domain: here it is ``str(ClaimRecord.id)``, and every
claim an appended entry names must belong to the practice (else ``LedgerError``). Reads and writes go
through the session the caller owns; nothing here commits. Logs carry key digests and counts only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medbill.ledger.entries import (
    AppendResult,
    Entry,
    EntryKind,
    FingerprintUses,
    LedgerError,
    PostingBatch,
    PostingKey,
    Skipped,
    SkipReason,
    Source,
    SourceKind,
)
from medbill.store.crypto import FieldCipher
from medbill.store.models import ClaimRecord, LedgerEntryRecord, PostingRecord, utcnow

__all__ = ["LOCK_NAMESPACE", "SqlLedger"]

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 835_001
"""First key of ``pg_advisory_xact_lock(namespace, practice_id)``: the posting lock of one practice."""

_CHUNK = 500
_RETRIES = 5
# Core inserts (one executemany per chunk; the ORM's bulk insert splits rows whose None columns differ)
_POSTING = cast(Table, PostingRecord.__table__)
_ENTRY = cast(Table, LedgerEntryRecord.__table__)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_SOURCE_FIELDS = tuple(f.name for f in dataclasses.fields(Source) if f.name != "kind")


def _source_doc(source: Source) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": source.kind.value}
    for name in _SOURCE_FIELDS:
        value = getattr(source, name)
        if value is not None:
            doc[name] = value
    return doc


def _source_of(doc: dict[str, Any]) -> Source:
    rest = {k: v for k, v in doc.items() if k != "kind"}
    return Source(kind=SourceKind(doc["kind"]), **rest)


def _key_of(doc: dict[str, Any]) -> PostingKey:
    return PostingKey(str(doc["source"]), tuple(str(p) for p in doc["parts"]))


class SqlLedger:
    """A practice's ledger in the database (see the module docstring).

    ``remittance_id`` / ``posted_by`` are written on the postings appended through this object (the
    service sets them before appending an 835's batches).
    """

    def __init__(
        self,
        session: Session,
        *,
        practice_id: int,
        cipher: FieldCipher,
        remittance_id: int | None = None,
        posted_by: int | None = None,
    ) -> None:
        self.session = session
        self.practice_id = practice_id
        self.cipher = cipher
        self.remittance_id = remittance_id
        self.posted_by = posted_by
        # what this transaction knows: key hash -> posted fingerprint ("" when none), known-absent hashes,
        # raw fingerprint -> its uses. Valid inside one transaction; append keeps it in step.
        self._posted: dict[str, str] = {}
        self._absent: set[str] = set()
        self._uses: dict[str, FingerprintUses] = {}
        self._subkeys: dict[str, bytes] = {}

    # ------------------------------------------------------------------ hashes
    def _mac(self, purpose: str, text: str) -> str:
        key = self._subkeys.get(purpose)
        if key is None:
            # a sub-key per purpose, derived from the index key (HMAC of a constant): exact (no folding) and fast
            key = bytes.fromhex(self.cipher.blind_index(f"medbill.{purpose}.subkey", purpose=purpose))
            self._subkeys[purpose] = key
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def key_hash(self, key: PostingKey) -> str:
        """The keyed hash of the key's text stored under the unique constraint (case and spaces count)."""
        return self._mac("posting.key", key.text)

    def fingerprint_hash(self, fingerprint: str) -> str:
        return self._mac("posting.fingerprint", fingerprint)

    def _trace_hash(self, trace: tuple[str, str] | None) -> str | None:
        return None if trace is None else self._mac("posting.trace", f"{trace[0]}|{trace[1]}")

    # ------------------------------------------------------------------ locking
    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def lock(self) -> None:
        """Serialise posters of this practice until the transaction ends (PostgreSQL advisory lock).

        SQLite needs nothing: a write transaction begins with ``BEGIN IMMEDIATE``. Call it before reading
        what a plan is made from, so the plan and the append see the same ledger.
        """
        if self.dialect == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :practice)"),
                {"ns": LOCK_NAMESPACE, "practice": self.practice_id},
            )

    def forget(self) -> None:
        """Drop what this object remembers of the ledger (after a rollback of the caller's transaction)."""
        self._posted.clear()
        self._absent.clear()
        self._uses.clear()

    # ------------------------------------------------------------------ PostedKeys
    def prefetch(self, keys: Iterable[PostingKey] = (), fingerprints: Iterable[str] = ()) -> None:
        """Load what ``posted_fingerprint`` / ``fingerprint_uses`` will be asked about, in a few queries."""
        by_hash = {self.key_hash(k): k for k in keys}
        wanted = [h for h in by_hash if h not in self._posted and h not in self._absent]
        for part in _chunks(wanted):
            rows = self.session.execute(
                select(PostingRecord.key_hash, PostingRecord.key_doc).where(
                    PostingRecord.practice_id == self.practice_id, PostingRecord.key_hash.in_(part)
                )
            ).all()
            found = {h: doc for h, doc in rows}
            for h in part:
                if h in found:
                    self._posted[h] = found[h].get("fingerprint") or ""
                else:
                    self._absent.add(h)
        fps = [fp for fp in dict.fromkeys(fingerprints) if fp and fp not in self._uses]
        for part in _chunks(fps):
            hashes = {self.fingerprint_hash(fp): fp for fp in part}
            keys_of: dict[str, list[PostingKey]] = defaultdict(list)
            for fh, doc in self.session.execute(
                select(PostingRecord.fingerprint, PostingRecord.key_doc)
                .where(PostingRecord.practice_id == self.practice_id, PostingRecord.fingerprint.in_(list(hashes)))
                .order_by(PostingRecord.id)
            ):
                keys_of[hashes[fh]].append(_key_of(doc))
            reversed_of: dict[str, int] = {}
            for rh, count in self.session.execute(
                select(PostingRecord.reverses, func.count())
                .where(PostingRecord.practice_id == self.practice_id, PostingRecord.reverses.in_(list(hashes)))
                .group_by(PostingRecord.reverses)
            ):
                if rh is not None:
                    reversed_of[hashes[rh]] = int(count)
            for fp in part:
                self._uses[fp] = FingerprintUses(tuple(keys_of.get(fp, ())), reversed_of.get(fp, 0))

    def posted_fingerprint(self, key: PostingKey) -> str | None:
        h = self.key_hash(key)
        if h not in self._posted and h not in self._absent:
            self.prefetch([key])
        return self._posted.get(h)

    def fingerprint_uses(self, fingerprint: str) -> FingerprintUses:
        if not fingerprint:
            return FingerprintUses()
        if fingerprint not in self._uses:
            self.prefetch(fingerprints=[fingerprint])
        return self._uses[fingerprint]

    # ------------------------------------------------------------------ LedgerStore
    def append(self, batches: Sequence[PostingBatch]) -> AppendResult:
        """Append the batches not yet posted (see the module docstring); skips are returned, never raised."""
        if not batches:
            return AppendResult()
        self.lock()
        for attempt in range(_RETRIES):
            try:
                with self.session.begin_nested():
                    return self._append_once(batches)
            except IntegrityError:
                # another poster committed some of these keys after we looked: decide again against it
                log.info("posting: unique key conflict on attempt %d; deciding again", attempt + 1)
                self.forget()
        raise LedgerError("posting kept conflicting with another poster; nothing was appended")

    def _append_once(self, batches: Sequence[PostingBatch]) -> AppendResult:
        fps = [fp for b in batches for fp in (b.fingerprint, b.reverses) if fp]
        self.prefetch([b.key for b in batches], fps)
        appended: list[PostingBatch] = []
        skipped: list[Skipped] = []
        for batch in batches:
            h = self.key_hash(batch.key)
            if h in self._posted:
                skipped.append(Skipped(batch.key, SkipReason.ALREADY_POSTED))
                continue
            cancels_live = bool(batch.reverses) and self.fingerprint_uses(batch.reverses or "").live > 0
            if batch.fingerprint and not batch.duplicate_approved and not cancels_live:
                uses = self.fingerprint_uses(batch.fingerprint)
                if uses.live > 0 and any(k.trace != batch.key.trace for k in uses.keys):
                    skipped.append(Skipped(batch.key, SkipReason.SUSPECTED_DUPLICATE))
                    continue
            self._posted[h] = batch.fingerprint or ""
            self._absent.discard(h)
            if batch.fingerprint:
                u = self.fingerprint_uses(batch.fingerprint)
                self._uses[batch.fingerprint] = FingerprintUses((*u.keys, batch.key), u.reversed)
            if batch.reverses:
                u = self.fingerprint_uses(batch.reverses)
                self._uses[batch.reverses] = FingerprintUses(u.keys, u.reversed + 1)
            appended.append(batch)
        if appended:
            self._insert(appended)
        return AppendResult(tuple(b.key for b in appended), tuple(skipped))

    def _patients(self, claim_ids: Collection[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        ids = sorted(claim_ids)
        for part in _chunks(ids):
            for claim_id, patient_id in self.session.execute(
                select(ClaimRecord.id, ClaimRecord.patient_id).where(
                    ClaimRecord.practice_id == self.practice_id, ClaimRecord.id.in_(part)
                )
            ):
                out[claim_id] = patient_id
        missing = [i for i in ids if i not in out]
        if missing:
            raise LedgerError(f"entries name claim {missing[0]}, which is not a claim of this practice")
        return out

    def _insert(self, batches: Sequence[PostingBatch]) -> None:
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for b in batches:
            trace = b.key.trace
            rows.append(
                {
                    "practice_id": self.practice_id,
                    "key_hash": self.key_hash(b.key),
                    "key_digest": b.key.digest,
                    "source": b.key.source,
                    "trace_hash": self._trace_hash(trace),
                    "payer_trace_id": trace[0] if trace else None,
                    "trace_number": trace[1] if trace else None,
                    "fingerprint": self.fingerprint_hash(b.fingerprint) if b.fingerprint else None,
                    "reverses": self.fingerprint_hash(b.reverses) if b.reverses else None,
                    "duplicate_approved": b.duplicate_approved,
                    "key_doc": {"source": b.key.source, "parts": list(b.key.parts), "fingerprint": b.fingerprint},
                    "remittance_id": self.remittance_id,
                    "posted_by": self.posted_by,
                    "posted_at": now,
                }
            )
        # one executemany, then the ids by key hash (RETURNING with row order degrades to one INSERT per row on
        # SQLite; the sequence is shared with other practices' posters on PostgreSQL, so ids cannot be guessed)
        for part in _chunks(rows, 1000):
            self.session.execute(insert(_POSTING), list(part))
        id_of: dict[str, int] = {}
        hashes = [r["key_hash"] for r in rows]
        for part in _chunks(hashes):
            for pid, h in self.session.execute(
                select(PostingRecord.id, PostingRecord.key_hash).where(
                    PostingRecord.practice_id == self.practice_id, PostingRecord.key_hash.in_(part)
                )
            ):
                id_of[h] = pid
        ids = [id_of[h] for h in hashes]
        claim_ids: set[int] = set()
        for b in batches:
            for e in b.entries:
                for cid in (e.claim_id, e.related_claim_id):
                    if cid is not None:
                        claim_ids.add(self._claim_int(cid))
        patients = self._patients(claim_ids)
        entries: list[dict[str, Any]] = []
        for posting_id, b in zip(ids, batches, strict=True):
            for e in b.entries:
                claim_id = self._claim_int(e.claim_id) if e.claim_id is not None else None
                entries.append(
                    {
                        "practice_id": self.practice_id,
                        "posting_id": posting_id,
                        "entry_id": e.id,
                        "claim_id": claim_id,
                        "patient_id": patients.get(claim_id) if claim_id is not None else None,
                        "line_number": e.line_number,
                        "kind": e.kind.value,
                        "of_kind": e.of_kind.value if e.of_kind is not None else None,
                        "party": e.party,
                        "amount": e.amount,
                        "effective": e.effective,
                        "group_code": e.group,
                        "carc": e.carc,
                        "rarcs": list(e.rarcs),
                        "quantity": self._quantity(e.quantity),
                        "plb_reason": e.plb_reason,
                        "reference": e.reference,
                        "source": _source_doc(e.source),
                        "related_claim_id": self._claim_int(e.related_claim_id) if e.related_claim_id else None,
                        "memo": e.memo,
                        "created_at": now,
                    }
                )
        for part in _chunks(entries, 1000):
            self.session.execute(insert(_ENTRY), list(part))
        log.info("posting: %d batches, %d entries appended", len(batches), len(entries))

    @staticmethod
    def _claim_int(claim_id: str) -> int:
        try:
            return int(claim_id)
        except ValueError:
            raise LedgerError("a ledger entry's claim id must be the claim's row id (an integer)") from None

    @staticmethod
    def _quantity(quantity: Decimal | None) -> Decimal | None:
        if quantity is None:
            return None
        if quantity != quantity.quantize(Decimal("0.01")):
            raise LedgerError(f"CAS quantity {quantity} has more than two decimal places")
        return quantity

    def entries(self, *, claim_ids: Collection[str] | None = None) -> Sequence[Entry]:
        """The practice's entries in append order (only those of ``claim_ids`` when given)."""
        cond = [LedgerEntryRecord.practice_id == self.practice_id]
        if claim_ids is not None:
            wanted = sorted({self._claim_int(c) for c in claim_ids})
            if not wanted:
                return ()
            cond.append(LedgerEntryRecord.claim_id.in_(wanted))
        E = LedgerEntryRecord
        rows = self.session.execute(
            select(
                E.posting_id,
                E.entry_id,
                E.claim_id,
                E.line_number,
                E.kind,
                E.of_kind,
                E.party,
                E.amount,
                E.effective,
                E.group_code,
                E.carc,
                E.rarcs,
                E.quantity,
                E.plb_reason,
                E.reference,
                E.source,
                E.related_claim_id,
                E.memo,
            )
            .where(*cond)
            .order_by(E.id)
        ).all()
        posting_ids = sorted({r.posting_id for r in rows})
        keys: dict[int, PostingKey] = {}
        for part in _chunks(posting_ids):
            for pid, doc in self.session.execute(
                select(PostingRecord.id, PostingRecord.key_doc).where(PostingRecord.id.in_(part))
            ):
                keys[pid] = _key_of(doc)
        return tuple(
            Entry(
                id=r.entry_id,
                key=keys[r.posting_id],
                claim_id=str(r.claim_id) if r.claim_id is not None else None,
                line_number=r.line_number,
                kind=EntryKind(r.kind),
                party=r.party,
                amount=r.amount,
                effective=r.effective,
                source=_source_of(r.source),
                of_kind=EntryKind(r.of_kind) if r.of_kind else None,
                group=r.group_code,
                carc=r.carc,
                rarcs=tuple(r.rarcs or ()),
                quantity=r.quantity,
                plb_reason=r.plb_reason,
                reference=r.reference,
                related_claim_id=str(r.related_claim_id) if r.related_claim_id is not None else None,
                memo=r.memo,
            )
            for r in rows
        )

    def __len__(self) -> int:
        """The number of batches posted for the practice."""
        count = self.session.scalar(
            select(func.count()).select_from(PostingRecord).where(PostingRecord.practice_id == self.practice_id)
        )
        return int(count or 0)

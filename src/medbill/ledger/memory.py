"""An in-memory :class:`~medbill.ledger.entries.LedgerStore` for tests, demos and one-process use.

Exactly-once under concurrency: ``append`` holds a lock while it checks and appends each batch, so
two threads posting the same remittance append it once; the loser gets the batches back as
``already_posted`` skips (nothing is raised). The database store (with a unique index on the
posting key) will follow the same contract.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence

from medbill.ledger.entries import (
    AppendResult,
    Entry,
    FingerprintUses,
    PostingBatch,
    PostingKey,
    Skipped,
    SkipReason,
)

__all__ = ["InMemoryLedger"]


class InMemoryLedger:
    """Entries in a list; keys and fingerprints in dicts; one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._keys: dict[PostingKey, str] = {}
        self._uses: dict[str, list[PostingKey]] = defaultdict(list)
        self._reversed: Counter[str] = Counter()

    def posted_fingerprint(self, key: PostingKey) -> str | None:
        with self._lock:
            return self._keys.get(key)

    def fingerprint_uses(self, fingerprint: str) -> FingerprintUses:
        with self._lock:
            return FingerprintUses(tuple(self._uses.get(fingerprint, ())), self._reversed[fingerprint])

    def append(self, batches: Sequence[PostingBatch]) -> AppendResult:
        appended: list[PostingKey] = []
        skipped: list[Skipped] = []
        with self._lock:
            for batch in batches:
                if batch.key in self._keys:
                    skipped.append(Skipped(batch.key, SkipReason.ALREADY_POSTED))
                    continue
                cancels_live = bool(batch.reverses) and (
                    len(self._uses.get(batch.reverses or "", [])) - self._reversed[batch.reverses or ""] > 0
                )
                if batch.fingerprint and not batch.duplicate_approved and not cancels_live:
                    keys = self._uses.get(batch.fingerprint, [])
                    live = len(keys) - self._reversed[batch.fingerprint]
                    if live > 0 and any(k.trace != batch.key.trace for k in keys):
                        skipped.append(Skipped(batch.key, SkipReason.SUSPECTED_DUPLICATE))
                        continue
                self._keys[batch.key] = batch.fingerprint or ""
                if batch.fingerprint:
                    self._uses[batch.fingerprint].append(batch.key)
                if batch.reverses:
                    self._reversed[batch.reverses] += 1
                self._entries.extend(batch.entries)
                appended.append(batch.key)
        return AppendResult(tuple(appended), tuple(skipped))

    def entries(self) -> Sequence[Entry]:
        with self._lock:
            return tuple(self._entries)

    def __len__(self) -> int:
        """The number of batches posted."""
        with self._lock:
            return len(self._keys)

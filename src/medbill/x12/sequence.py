"""Persisted X12 control numbers (ISA13, GS06, ST02) per trading partner, in a small SQLite file.

Format: an SQLite 3 database (``sqlite3`` from the standard library) with one table,
``x12_control_number(partner, kind, last_value)``. It holds no PHI: only partner keys and counters.

Each ``next_*`` call is one ``BEGIN IMMEDIATE`` transaction that increments the counter and returns the
new value, so concurrent writers (threads or processes) never receive the same number, and a number
handed out is never handed out again even when the file it went into is discarded. Counters stop at
999,999,999 (ISA13 is nine digits) with an error rather than wrapping around to reuse old numbers.

This is the CLI's store for now; the records issue will move the counters into the main store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType

from medbill.x12.envelope import MAX_CONTROL_NUMBER, X12WriteError

__all__ = ["KINDS", "SqliteControlNumbers"]

KINDS = ("interchange", "group", "transaction")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS x12_control_number (
    partner    TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('interchange', 'group', 'transaction')),
    last_value INTEGER NOT NULL CHECK (last_value BETWEEN 0 AND 999999999),
    PRIMARY KEY (partner, kind)
) WITHOUT ROWID
"""


class SqliteControlNumbers:
    """``ControlNumbers`` for one trading partner, kept in the SQLite file at ``path``.

    The first number of each kind is ``start`` (default 1). ``ensure_at_least`` raises a counter (never
    lowers it), e.g. to continue after numbers a previous system already used with this partner.
    """

    def __init__(self, path: str | Path, *, partner: str, start: int = 1, timeout: float = 30.0) -> None:
        if not partner:
            raise X12WriteError("a trading-partner key is required", path="control_numbers.partner")
        if not 1 <= start <= MAX_CONTROL_NUMBER:
            raise X12WriteError(f"start {start} is not 1..999999999", path="control_numbers.start")
        self.path = Path(path)
        self.partner = partner
        self.start = start
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteControlNumbers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _next(self, kind: str) -> int:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT last_value FROM x12_control_number WHERE partner = ? AND kind = ?", (self.partner, kind)
            ).fetchone()
            value = self.start if row is None else max(int(row[0]) + 1, self.start)
            if value > MAX_CONTROL_NUMBER:
                raise X12WriteError(
                    f"{kind} control numbers for {self.partner!r} are exhausted (999999999 used)",
                    path=f"control_numbers.{kind}",
                    hint="agree a new sender id with the trading partner; numbers are never reused",
                )
            conn.execute(
                "INSERT INTO x12_control_number (partner, kind, last_value) VALUES (?, ?, ?) "
                "ON CONFLICT (partner, kind) DO UPDATE SET last_value = excluded.last_value",
                (self.partner, kind, value),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return value

    def next_interchange(self) -> int:
        return self._next("interchange")

    def next_group(self) -> int:
        return self._next("group")

    def next_transaction(self) -> int:
        return self._next("transaction")

    def last(self, kind: str) -> int | None:
        """The last number handed out of ``kind`` (None when none yet)."""
        if kind not in KINDS:
            raise ValueError(f"kind is one of {KINDS}")
        row = self._conn.execute(
            "SELECT last_value FROM x12_control_number WHERE partner = ? AND kind = ?", (self.partner, kind)
        ).fetchone()
        return None if row is None else int(row[0])

    def ensure_at_least(self, kind: str, used: int) -> None:
        """Record that numbers up to ``used`` are taken for ``kind``; the next one will be above it."""
        if kind not in KINDS:
            raise ValueError(f"kind is one of {KINDS}")
        if not 0 <= used <= MAX_CONTROL_NUMBER:
            raise X12WriteError(f"{used} is not 0..999999999", path=f"control_numbers.{kind}")
        self._conn.execute(
            "INSERT INTO x12_control_number (partner, kind, last_value) VALUES (?, ?, ?) "
            "ON CONFLICT (partner, kind) DO UPDATE SET last_value = max(last_value, excluded.last_value)",
            (self.partner, kind, used),
        )

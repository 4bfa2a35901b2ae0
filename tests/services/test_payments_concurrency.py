"""The replay test: two posters post the same 835 at the same moment (two threads, each its own database
connection), then the same file renamed, then resent in new interchanges, then after a restart (a new
Database object on the same files/server). The ledger changes exactly once; after every step every
claim keeps charges = payments + adjustments + open balance; the claim status moves once.

A second test takes the posting lock away (the advisory lock on PostgreSQL) so that only the unique
constraint on the posting key stands between two racing posters: still exactly once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from medbill.services import payments
from medbill.store import models as m
from medbill.store.db import Database
from medbill.store.ledger_sql import SqlLedger
from tests.services.paydata import (
    biller,
    insert_claims,
    invariant_problems,
    ledger_state,
    office_claims,
    practice,
    professional_examples,
    resend,
    simulated_835,
)
from tests.services.test_payments import RULES

T = TypeVar("T")
D = Decimal


def race(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..n-1)`` in ``n`` threads released at the same moment; re-raise the first failure."""
    barrier = threading.Barrier(n)
    results: list[T | BaseException | None] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


def reopen(db: Database) -> Database:
    """A new Database object on the same storage and keys (a restart of the application)."""
    if db.kind == "sqlite":
        return Database(keyring=db.keyring, path=db.path, audit_anchor=db.audit_anchor)
    url = os.environ["MEDBILL_TEST_DATABASE_URL"]
    return Database(keyring=db.keyring, url=url, audit_anchor=db.audit_anchor)


def status_changes(db: Database, practice_id: int) -> int:
    with db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(m.ClaimStatusChange)
                .join(m.ClaimRecord, m.ClaimRecord.id == m.ClaimStatusChange.claim_id)
                .where(m.ClaimRecord.practice_id == practice_id)
            )
            or 0
        )


def test_two_concurrent_posters_post_once_renamed_resent_and_after_a_restart(db: Database) -> None:
    pid, patient, payers = practice(db)
    claims = professional_examples() + office_claims(20)
    insert_claims(db, pid, patient, payers, claims)
    content = simulated_835(claims, RULES).encode()
    actor = biller(pid)
    n = len(claims)
    charges = ledger_state(db, pid)
    assert charges[0] == n and invariant_problems(db, pid) == []

    def post(data: bytes, name: str, on: Database = db) -> Callable[[int], payments.PostingReport]:
        return lambda i: payments.post_remittance(on, actor=actor, content=data, filename=f"{name}-{i}.835")

    # 1. the same file by two users at the same moment
    first = race(2, post(content, "era"))
    assert sorted(r.counts.posted for r in first) == [0, n]
    assert sorted(r.counts.already_posted for r in first) == [0, n]
    assert sorted(r.already_received for r in first) == [False, True]
    assert sorted(r.counts.plb_posted for r in first) == [0, 1]
    state = ledger_state(db, pid)
    assert state[0] == charges[0] + n + 1  # one posting per claim payment and one for the PLB
    assert status_changes(db, pid) == n and invariant_problems(db, pid) == []

    # 2. renamed, two posters again
    renamed = race(2, post(content, "renamed"))
    assert [r.counts.posted for r in renamed] == [0, 0] and all(r.already_received for r in renamed)
    assert ledger_state(db, pid) == state and invariant_problems(db, pid) == []

    # 3. resent by the payer in new interchanges (other bytes), two posters
    resent = race(2, lambda i: post(resend(content.decode(), f"00000088{i}").encode(), "resent")(i))
    assert [r.counts.posted for r in resent] == [0, 0] and [r.counts.already_posted for r in resent] == [n, n]
    assert ledger_state(db, pid) == state and invariant_problems(db, pid) == []

    # 4. after a restart: a new Database object, two posters
    again = reopen(db)
    try:
        after = race(2, post(content, "restart", on=again))
        assert [r.counts.posted for r in after] == [0, 0]
        assert ledger_state(again, pid) == state and invariant_problems(again, pid) == []
    finally:
        again.dispose()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Remittance)) == 3  # the file and its two resends
        assert s.scalar(select(func.count()).select_from(m.WorkItem)) == 0
    assert status_changes(db, pid) == n


def test_without_the_posting_lock_the_unique_key_still_posts_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, patient, payers = practice(db)
    claims = office_claims(30)
    insert_claims(db, pid, patient, payers, claims)
    text = simulated_835(claims)
    monkeypatch.setattr(SqlLedger, "lock", lambda self: None)  # only the unique constraint is left
    actor = biller(pid)
    reports = race(
        4,
        lambda i: payments.post_remittance(db, actor=actor, content=resend(text, f"00000099{i}").encode()),
    )
    assert sum(r.counts.posted for r in reports) == 30
    assert sum(r.counts.already_posted for r in reports) == 90
    postings, entries, total = ledger_state(db, pid)
    assert postings == 30 + 30 and invariant_problems(db, pid) == []
    assert status_changes(db, pid) == 30

"""SqlLedger against the in-memory reference: the same random batch sequences give the same results.

Each hypothesis example runs in a fresh practice of the same database (practices are isolated), one
write transaction per append call (as the services do), and compares after every call the
AppendResults, and at the end the entries (ids, keys, amounts, sources ...), ``posted_fingerprint`` of
every key of the pool, ``fingerprint_uses`` of every fingerprint and the number of postings. Keys differ
only by case in places ("PCN1" / "pcn1"), which the blind index's folding must not merge.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from medbill.ledger.entries import (
    PATIENT,
    AppendResult,
    Entry,
    EntryKind,
    LedgerError,
    PostingBatch,
    PostingKey,
    SkipReason,
    Source,
    SourceKind,
    entry_id,
    payer_party,
)
from medbill.ledger.memory import InMemoryLedger
from medbill.store import models as m
from medbill.store.db import Database
from medbill.store.ledger_sql import SqlLedger
from tests.services.paydata import insert_claims, office_claims, practice

D = Decimal
PCNS = ("PCN1", "pcn1", "PCN 2", "PCN2", "X|Y")
TRACES = (("1999999999", "TRN1"), ("1999999999", "TRN2"), ("1888888888", "TRN1"))
FPS = ("f0", "f1", "f2", "F0")
RUNS: list[int] = []
OPS: list[int] = []


def _key(k: int, t: int) -> PostingKey:
    if k >= 8:
        return PostingKey.action(f"act{k}") if k % 2 else PostingKey.provider_adjustment(
            payer_trace_id=TRACES[t][0], trace=TRACES[t][1], position=k
        )  # fmt: skip
    return PostingKey.remittance(
        payer_trace_id=TRACES[t][0],
        trace=TRACES[t][1],
        patient_control_number=PCNS[k % len(PCNS)],
        payer_claim_number="ICN1" if k % 3 else None,
        status="22" if k == 7 else "1",
        position=k // len(PCNS),
    )


batch_spec = st.tuples(
    st.integers(0, 9),  # key
    st.integers(0, 2),  # trace
    st.one_of(st.none(), st.integers(0, 3)),  # fingerprint
    st.one_of(st.none(), st.integers(0, 3)),  # reverses
    st.booleans(),  # duplicate approved
    st.lists(st.tuples(st.integers(0, 2), st.integers(-50_000, 50_000), st.booleans()), max_size=3),  # entries
)


def _batch(spec: tuple[Any, ...], claim_ids: list[str]) -> PostingBatch:
    k, t, fp, rev, approved, rows = spec
    key = _key(k, t)
    source = Source(kind=SourceKind.REMITTANCE, payer_trace_id=TRACES[t][0], trace=TRACES[t][1], claim_position=k)
    entries = tuple(
        Entry(
            id=entry_id(key, i),
            key=key,
            claim_id=claim_ids[c],
            line_number=(i % 2) + 1 if line else None,
            kind=EntryKind.PAYER_PAYMENT if cents < 0 else EntryKind.CHARGE,
            party=payer_party("TESTCI001") if c else PATIENT,
            amount=(D(cents) / 100).quantize(D("0.01")),
            effective=dt.date(2025, 4, 15),
            source=source,
            group="CO" if line else None,
            carc="45" if line else None,
            rarcs=("N130",) if line and c else (),
            reference="ICN1:PCN1" if c == 2 else None,
        )
        for i, (c, cents, line) in enumerate(rows)
    )
    return PostingBatch(
        key=key,
        entries=entries,
        fingerprint=FPS[fp] if fp is not None else None,
        reverses=FPS[rev] if rev is not None else None,
        duplicate_approved=approved,
    )


def test_sql_ledger_agrees_with_the_in_memory_ledger(db: Database) -> None:
    RUNS.clear()
    OPS.clear()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(calls=st.lists(st.lists(batch_spec, min_size=1, max_size=3), min_size=1, max_size=10))
    def run(calls: list[list[tuple[Any, ...]]]) -> None:
        pid, patient, payers = practice(db, name=f"P{len(RUNS)}")
        ids = insert_claims(db, pid, patient, payers, office_claims(3), charges=False)
        claim_ids = [str(i) for i in ids.values()]
        memory = InMemoryLedger()
        for call in calls:
            batches = [_batch(spec, claim_ids) for spec in call]
            expected = memory.append(batches)
            with db.write() as s:
                got = SqlLedger(s, practice_id=pid, cipher=db.cipher).append(batches)
            assert got == expected
            OPS.append(len(batches))
        with db.read() as s:
            ledger = SqlLedger(s, practice_id=pid, cipher=db.cipher)
            assert list(ledger.entries()) == list(memory.entries())
            assert len(ledger) == len(memory)
            for k in range(10):
                for t in range(3):
                    assert ledger.posted_fingerprint(_key(k, t)) == memory.posted_fingerprint(_key(k, t))
            for fp in FPS:
                assert ledger.fingerprint_uses(fp) == memory.fingerprint_uses(fp)
        RUNS.append(len(calls))

    run()
    assert len(RUNS) >= 40 and sum(OPS) >= 200, (len(RUNS), sum(OPS))


def test_keys_and_fingerprints_are_stored_as_keyed_hashes(db: Database) -> None:
    pid, patient, payers = practice(db)
    ids = insert_claims(db, pid, patient, payers, office_claims(1), charges=False)
    key = _key(0, 0)
    batch = _batch((0, 0, 0, None, False, [(0, -1000, True)]), [str(i) for i in ids.values()] * 3)
    with db.write() as s:
        assert SqlLedger(s, practice_id=pid, cipher=db.cipher).append([batch]).appended == (key,)
    with db.read() as s:
        row = s.scalars(select(m.PostingRecord).where(m.PostingRecord.practice_id == pid)).one()
        raw = s.execute(select(m.PostingRecord.__table__.c.key_doc)).scalar_one()
        assert "PCN1" not in row.key_hash and len(row.key_hash) == 32 and row.fingerprint != "f0"
        assert (row.payer_trace_id, row.trace_number) == ("1999999999", "TRN1")  # payment ids kept plain
        assert row.key_doc["parts"][2] == "PCN1" and "PCN1" not in raw  # the key itself only encrypted
    with db.write() as s:  # the same key again, in a new transaction: already posted
        again = SqlLedger(s, practice_id=pid, cipher=db.cipher).append([batch])
    assert again == AppendResult((), (again.skipped[0],)) and again.skipped[0].reason is SkipReason.ALREADY_POSTED


def test_entries_must_name_claims_of_the_practice(db: Database) -> None:
    pid, patient, payers = practice(db)
    other, other_patient, other_payers = practice(db, name="OTHER")
    foreign = insert_claims(db, other, other_patient, other_payers, office_claims(1), charges=False)
    batch = _batch((0, 0, None, None, False, [(0, 500, False)]), [str(i) for i in foreign.values()] * 3)
    with pytest.raises(LedgerError, match="not a claim of this practice"), db.write() as s:
        SqlLedger(s, practice_id=pid, cipher=db.cipher).append([batch])
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.PostingRecord)) == 0

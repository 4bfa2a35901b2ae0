"""The audit chain: HMAC links, the outside anchor, and the six kinds of tampering each detected and named."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from medbill.store import audit
from medbill.store.audit import TamperKind
from medbill.store.db import Database

K = TamperKind


def _append(
    db: Database, n: int, *, chain: int = 1, per_txn: int = 1000, anchor: bool = True, wait: bool = False
) -> None:
    done = 0
    while done < n:
        with db.write() as s:
            for _ in range(min(per_txn, n - done)):
                done += 1
                audit.append_event(
                    s,
                    key=db.keyring.audit_key,
                    chain=chain,
                    user_id=7,
                    role="biller",
                    action="read",
                    resource="claim",
                    record_ids=[done, done + 1],
                    outcome="success",
                    source="10.0.0.1",
                    request_id=f"req-{chain}-{done}",
                    detail=None if done % 3 else "batch 12",
                )
            if anchor:
                audit.anchor_after_commit(s, db.audit_anchor, wait=wait)


def _verify(db: Database, **kw: Any) -> audit.VerifyReport:
    return audit.verify(db, key=db.keyring.audit_key, anchor_path=db.audit_anchor, **kw)


def _problems(rep: audit.VerifyReport) -> list[tuple[int | None, int | None, TamperKind]]:
    return [(p.chain, p.seq, p.kind) for p in rep.problems]


def _sql(db: Database, sql: str, **params: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _row(db: Database, chain: int, seq: int) -> Any:
    with db.read() as s:
        return s.execute(sa.select(*audit._COLUMNS).where(sa.column("chain") == chain, sa.column("seq") == seq)).one()


def _plain(prev: str, r: Any, seq: int | None = None) -> str:
    canon = audit.canonical(r[0], seq if seq is not None else r[1], *r[2:12])
    return hashlib.sha256(prev.encode() + b"\n" + canon).hexdigest()


def _shift(db: Database, chain: int, from_seq: int, by: int) -> None:
    """Renumber seq >= from_seq by ``by`` (two steps: the unique (chain, seq) is checked row by row on PG)."""
    _sql(db, "update audit_event set seq = -(seq + :by) where chain = :c and seq >= :f", by=by, c=chain, f=from_seq)
    _sql(db, "update audit_event set seq = -seq where chain = :c and seq < 0", c=chain)


def _rewind_head(db: Database, chain: int) -> None:
    """What a careful attacker does: make audit_head agree with the (tampered) last record."""
    with db.read() as s:
        last = s.execute(
            sa.text("select seq, hash from audit_event where chain = :c order by seq desc limit 1"), {"c": chain}
        ).one()
    _sql(db, "update audit_head set seq = :s, hash = :h where chain = :c", s=last.seq, h=last.hash, c=chain)


# ------------------------------------------------------------------------------------------------ basics
def test_canonical_encoding_is_unambiguous() -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, 5)
    a = audit.canonical(1, 1, at, 7, "ab", "c", "claim", "[1]", "success", None, None, None)
    b = audit.canonical(1, 1, at, 7, "a", "bc", "claim", "[1]", "success", None, None, None)
    c = audit.canonical(1, 1, at, 7, "ab", "c", "claim", '["1"]', "success", None, None, None)
    d = audit.canonical(1, 1, at, 7, "ab", "c", "claim", "[1]", "success", "", None, None)
    assert len({a, b, c, d}) == 4
    assert audit.genesis(1) != audit.genesis(2)


def test_intact_chains_verify_and_the_anchor_holds_each_head(db: Database) -> None:
    _append(db, 30, chain=1, per_txn=7)
    _append(db, 12, chain=0, per_txn=5)
    rep = _verify(db)
    assert rep.intact, _problems(rep)
    assert rep.records == 42
    assert {(c.chain, c.records, c.last_seq, c.head_seq, c.anchor_seq) for c in rep.chains} == {
        (0, 12, 12, 12, 12),
        (1, 30, 30, 30, 30),
    }
    assert audit.flush_anchor()
    anchor = json.loads(Path(db.audit_anchor or "").read_text())
    assert anchor["1"]["seq"] == 30 and anchor["0"]["seq"] == 12
    assert anchor["1"]["hash"] == _row(db, 1, 30)[13]
    assert set(anchor["1"]) == {"seq", "hash", "at"}


def test_append_returns_the_stored_record_and_links_it(db: Database) -> None:
    with db.write() as s:
        first = audit.append_event(
            s,
            key=db.keyring.audit_key,
            chain=5,
            user_id=None,
            role="system_admin",
            action="login",
            resource="session",
            record_ids=[3, "ISA000000123"],
            outcome="success",
        )
        second = audit.append_event(
            s,
            key=db.keyring.audit_key,
            chain=5,
            user_id=3,
            role="coder",
            action="read",
            resource="encounter",
            record_ids=(),
            outcome="denied",
        )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == audit.genesis(5) and second.prev_hash == first.hash
    assert first.record_ids == [3, "ISA000000123"]
    assert _row(db, 5, 1)[7] == '[3,"ISA000000123"]'


# ------------------------------------------------------------------------------------------------ six kinds
def test_edited_record_is_detected(db: Database) -> None:
    _append(db, 40)
    _sql(db, "update audit_event set user_id = 999 where chain = 1 and seq = 17")
    assert _problems(_verify(db)) == [(1, 17, K.EDITED)]


def test_edited_last_record_is_named_edited_through_the_anchor(db: Database) -> None:
    _append(db, 10)
    _sql(db, "update audit_event set outcome = 'denied' where chain = 1 and seq = 10")
    assert _problems(_verify(db)) == [(1, 10, K.EDITED)]


def test_deleted_record_is_detected(db: Database) -> None:
    _append(db, 40)
    _sql(db, "delete from audit_event where chain = 1 and seq in (17, 18)")
    rep = _verify(db)
    assert _problems(rep) == [(1, 17, K.DELETED)]
    assert "17-18" in rep.problems[0].message


def test_deleted_record_with_the_rest_renumbered_is_detected(db: Database) -> None:
    _append(db, 40)
    _sql(db, "delete from audit_event where chain = 1 and seq = 17")
    _shift(db, 1, 18, -1)
    _rewind_head(db, 1)
    assert _problems(_verify(db)) == [(1, 17, K.DELETED)]


def test_inserted_record_forged_without_the_key_is_detected(db: Database) -> None:
    _append(db, 40)
    last = _row(db, 1, 40)
    forged_at = last[2] + dt.timedelta(seconds=1)
    canon = audit.canonical(1, 41, forged_at, 7, "biller", "read", "claim", "[1]", "success", None, None, None)
    wrong_key = secrets.token_bytes(32)
    _sql(
        db,
        "insert into audit_event (chain, seq, at, user_id, role, action, resource, record_ids, outcome,"
        " prev_hash, hash) values (1, 41, :at, 7, 'biller', 'read', 'claim', '[1]', 'success', :p, :h)",
        at=forged_at,
        p=last[13],
        h=audit.chain_hash(wrong_key, last[13], canon),
    )
    _rewind_head(db, 1)
    assert _problems(_verify(db)) == [(1, 41, K.INSERTED)]


def test_inserted_record_in_the_middle_with_renumbering_is_detected(db: Database) -> None:
    _append(db, 40)
    before = _row(db, 1, 19)
    _shift(db, 1, 20, +1)
    _sql(
        db,
        "insert into audit_event (chain, seq, at, user_id, role, action, resource, record_ids, outcome,"
        " prev_hash, hash) values (1, 20, :at, 3, 'coder', 'read', 'patient', '[9]', 'success', :p, :h)",
        at=before[2],
        p=before[13],
        h=secrets.token_hex(32),
    )
    _rewind_head(db, 1)
    assert _problems(_verify(db)) == [(1, 20, K.INSERTED)]


def test_reordered_records_are_detected(db: Database) -> None:
    _append(db, 40)
    _sql(db, "update audit_event set seq = -1 where chain = 1 and seq = 20")
    _sql(db, "update audit_event set seq = 20 where chain = 1 and seq = 21")
    _sql(db, "update audit_event set seq = 21 where chain = 1 and seq = -1")
    rep = _verify(db)
    assert _problems(rep) == [(1, 21, K.REORDERED)]
    assert "record 20 moved to position 21" in rep.problems[0].message


def test_truncated_tail_is_detected_even_with_audit_head_rewound(db: Database) -> None:
    _append(db, 50)
    _sql(db, "delete from audit_event where chain = 1 and seq > 42")
    _rewind_head(db, 1)
    # the database alone is now self-consistent ...
    assert _problems(audit.verify(db, key=db.keyring.audit_key, anchor_path=None)) == [(None, None, K.ANCHOR_MISSING)]
    # ... only the outside anchor reveals the missing tail
    rep = _verify(db)
    assert _problems(rep) == [(1, 43, K.TRUNCATED)]
    assert "50" in rep.problems[0].message


def test_truncation_stays_detected_after_new_records_refill_the_seqs(db: Database) -> None:
    _append(db, 50)
    _sql(db, "delete from audit_event where chain = 1 and seq > 45")
    _rewind_head(db, 1)
    _append(db, 5)  # the application carries on: seqs 46..50 again, with other hashes
    assert _problems(_verify(db)) == [(1, 50, K.TRUNCATED)]


def test_record_forged_with_a_plain_sha256_is_detected(db: Database) -> None:
    _append(db, 30)
    # OpenEMR-style: edit a record and recompute its unkeyed checksum
    _sql(db, "update audit_event set action = 'update' where chain = 1 and seq = 12")
    r = _row(db, 1, 12)
    _sql(db, "update audit_event set hash = :h where chain = 1 and seq = 12", h=_plain(r[12], r))
    assert _problems(_verify(db)) == [(1, 12, K.FORGED_PLAIN_HASH)]


def test_whole_tail_rewritten_with_plain_hashes_is_detected(db: Database) -> None:
    _append(db, 30)
    _sql(db, "update audit_event set user_id = 1 where chain = 1 and seq = 25")
    prev = _row(db, 1, 24)[13]
    for seq in range(25, 31):
        r = _row(db, 1, seq)
        h = _plain(prev, r)
        _sql(db, "update audit_event set prev_hash = :p, hash = :h where chain = 1 and seq = :s", p=prev, h=h, s=seq)
        prev = h
    _rewind_head(db, 1)
    rep = _verify(db)
    forged = [(1, s, K.FORGED_PLAIN_HASH) for s in range(25, 31)]
    assert [p for p in _problems(rep) if p[2] != K.ANCHOR_MISMATCH] == forged
    assert (1, 30, K.ANCHOR_MISMATCH) in _problems(rep)


# ------------------------------------------------------------------------------------------------ anchor
def test_missing_or_corrupt_anchor_is_reported_not_a_crash(db: Database) -> None:
    _append(db, 5)
    assert audit.flush_anchor()
    path = Path(db.audit_anchor or "")
    path.unlink()
    assert _problems(_verify(db)) == [(None, None, K.ANCHOR_MISSING)]
    path.write_text("{not json")
    assert _problems(_verify(db)) == [(None, None, K.ANCHOR_UNREADABLE)]
    # the next commit starts a fresh anchor (the unreadable one is kept aside as evidence)
    _append(db, 1, wait=True)
    assert list(path.parent.glob(path.name + ".corrupt-*"))
    assert _verify(db).intact


def test_chain_absent_from_the_anchor_is_reported(db: Database) -> None:
    _append(db, 3, chain=1)
    _append(db, 3, chain=2, anchor=False)
    assert _problems(_verify(db)) == [(2, None, K.ANCHOR_MISSING)]
    assert _problems(_verify(db, chains=[1])) == []


def test_rolled_back_transaction_leaves_no_record_and_no_anchor_advance(db: Database) -> None:
    _append(db, 5)
    assert audit.flush_anchor()
    path = Path(db.audit_anchor or "")
    before = path.read_text()
    with pytest.raises(RuntimeError), db.write() as s:
        audit.append_event(
            s,
            key=db.keyring.audit_key,
            chain=1,
            user_id=1,
            role="coder",
            action="update",
            resource="claim",
            record_ids=[1],
            outcome="success",
        )
        audit.anchor_after_commit(s, db.audit_anchor)
        raise RuntimeError("the data change failed")
    assert audit.flush_anchor()
    assert path.read_text() == before
    # a rolled-back savepoint: its record is gone, the anchor follows what was committed
    with db.write() as s:
        audit.anchor_after_commit(s, db.audit_anchor)
        audit.append_event(
            s,
            key=db.keyring.audit_key,
            chain=1,
            user_id=1,
            role="coder",
            action="read",
            resource="claim",
            record_ids=[2],
            outcome="success",
        )
        nested = s.begin_nested()
        audit.append_event(
            s,
            key=db.keyring.audit_key,
            chain=1,
            user_id=1,
            role="coder",
            action="update",
            resource="claim",
            record_ids=[2],
            outcome="success",
        )
        nested.rollback()
    rep = _verify(db)
    assert rep.intact, _problems(rep)
    assert json.loads(path.read_text())["1"]["seq"] == 6 and rep.records == 6


def test_anchor_keeps_the_highest_seq(tmp_path: Path) -> None:
    path = tmp_path / "a" / "anchor.json"
    audit.update_anchor(path, {1: (10, "a" * 64), 2: (3, "b" * 64)})
    audit.update_anchor(path, {1: (9, "c" * 64), 2: (4, "d" * 64)})  # a slower committer arrives late
    got = audit.read_anchor(path)
    assert (got[1].seq, got[1].hash, got[2].seq, got[2].hash) == (10, "a" * 64, 4, "d" * 64)


def test_concurrent_appenders_leave_intact_chains_and_a_correct_anchor(db: Database) -> None:
    # 4 threads: the SQLCipher engine's default SingletonThreadPool (size 5) closes the connections of
    # other threads beyond 5 (reported to the lead: Database should give SQLite a QueuePool)
    per_thread = 40
    chains = [1, 1, 2, 3]
    errors: list[BaseException] = []

    def work(chain: int, n: int) -> None:
        try:
            for i in range(n):
                with db.write() as s:
                    audit.append_event(
                        s,
                        key=db.keyring.audit_key,
                        chain=chain,
                        user_id=n,
                        role="coder",
                        action="read",
                        resource="encounter",
                        record_ids=[i],
                        outcome="success",
                    )
                    audit.anchor_after_commit(s, db.audit_anchor)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c, per_thread)) for c in chains]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    rep = _verify(db)
    assert rep.intact, _problems(rep)
    expected = {c: chains.count(c) * per_thread for c in set(chains)}
    assert {c.chain: (c.records, c.last_seq, c.anchor_seq) for c in rep.chains} == {
        c: (n, n, n) for c, n in expected.items()
    }


# ------------------------------------------------------------------------------------------------ scale
def _bulk(db: Database, n: int, *, chain: int, per_txn: int = 10_000) -> None:
    base = dt.datetime(2026, 1, 1)
    done = 0
    while done < n:
        size = min(per_txn, n - done)
        specs = [
            {
                "user_id": i % 50,
                "role": "coder",
                "action": "read",
                "resource": "encounter",
                "record_ids": [i],
                "outcome": "success",
                "source": "10.1.2.3",
                "request_id": f"r{i}",
                "detail": None if i % 7 else "route /encounters",
                "at": base + dt.timedelta(seconds=i),
            }
            for i in range(done, done + size)
        ]
        with db.write() as s:
            assert audit.append_events(s, key=db.keyring.audit_key, chain=chain, events=specs) == size
            audit.anchor_after_commit(s, db.audit_anchor)
        done += size


def test_no_false_alarm_on_100000_records(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    """100,000 records (20,000 on PostgreSQL): bulk appends mixed with single appends, then 0 problems."""
    n = 100_000 if db.kind == "sqlite" else 20_000
    t0 = time.perf_counter()
    _bulk(db, n // 2, chain=1)
    _append(db, 1000, chain=1, per_txn=1000)  # single appends continue the bulk-written chain
    _bulk(db, n // 2 - 3000, chain=1)
    _bulk(db, 2000, chain=2)
    appended = time.perf_counter() - t0
    rep = _verify(db)
    assert rep.intact, _problems(rep)[:10]
    assert rep.records == n
    assert {c.chain: c.anchor_seq for c in rep.chains} == {1: n - 2000, 2: 2000}
    with capsys.disabled():
        print(
            f"\n[{db.kind}] {n} records appended in {appended:.1f} s; verify {rep.seconds:.2f} s"
            f" ({rep.seconds / n * 1e6:.1f} us/record)"
        )


def test_a_bulk_written_chain_detects_an_edit(db: Database) -> None:
    _bulk(db, 3000, chain=4, per_txn=1000)
    _sql(db, "update audit_event set record_ids = '[2]' where chain = 4 and seq = 2500")
    assert _problems(_verify(db)) == [(4, 2500, K.EDITED)]


def test_append_cost_per_request_with_and_without_anchor(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    n = 100

    def run(anchor: bool, wait: bool = False) -> float:
        t0 = time.perf_counter()
        _append(db, n, chain=3, per_txn=1, anchor=anchor, wait=wait)
        return (time.perf_counter() - t0) / n * 1e6

    plain, queued, waited = run(False), run(True), run(True, wait=True)
    assert audit.flush_anchor()
    with capsys.disabled():
        print(
            f"\n[{db.kind}] one event per transaction: {plain:.0f} us; with anchor {queued:.0f} us"
            f" (background writer), {waited:.0f} us (written before commit returns)"
        )
    assert audit.read_anchor(Path(db.audit_anchor or ""))[3].seq == 3 * n


# ------------------------------------------------------------------------------------------------ report
def test_report_filters_by_dates_user_practice_and_action(db: Database) -> None:
    day = dt.datetime(2026, 3, 10, 12, 0)
    with db.write() as s:
        for chain, user, action, offset in [
            (1, 5, "read", 0),
            (1, 6, "update", 1),
            (2, 5, "read", 1),
            (1, 5, "login", 3),
        ]:
            audit.append_event(
                s,
                key=db.keyring.audit_key,
                chain=chain,
                user_id=user,
                role="coder",
                action=action,
                resource="claim",
                record_ids=[offset],
                outcome="success",
                at=day + dt.timedelta(days=offset),
            )
    d = dt.date(2026, 3, 10)
    everything = audit.report(db, start=d, end=d + dt.timedelta(days=3))
    assert [(r.chain, r.user_id, r.action) for r in everything] == [
        (1, 5, "read"),
        (1, 6, "update"),
        (2, 5, "read"),
        (1, 5, "login"),
    ]
    assert [r.record_ids for r in audit.report(db, start=d, end=d + dt.timedelta(days=1), user_id=5)] == [(0,), (1,)]
    assert len(audit.report(db, start=d, end=d + dt.timedelta(days=3), practice_id=1, action="read")) == 1
    assert audit.report(db, start=d + dt.timedelta(days=4), end=d + dt.timedelta(days=9)) == []

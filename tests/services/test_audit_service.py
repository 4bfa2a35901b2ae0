"""The audit service: records inside the caller's transaction, separate records for denials, scoped review."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from medbill.core.errors import PermissionDenied
from medbill.services import audit as svc
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import Role
from medbill.store import audit as store_audit
from medbill.store.db import Database
from medbill.store.models import AuditEvent, Practice


def _practices(db: Database) -> tuple[int, int]:
    with db.write() as s:
        a, b = Practice(name="A"), Practice(name="B")
        s.add_all([a, b])
        s.flush()
        return a.id, b.id


def _events(db: Database) -> list[tuple[int, int, str, str, str, str | None]]:
    with db.read() as s:
        rows = s.execute(
            sa.select(
                AuditEvent.chain,
                AuditEvent.seq,
                AuditEvent.action,
                AuditEvent.resource,
                AuditEvent.outcome,
                AuditEvent.detail,
            ).order_by(AuditEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_record_commits_with_the_change_and_rolls_back_with_it(db: Database) -> None:
    p1, _ = _practices(db)
    coder = Actor(user_id=4, role=Role.CODER, practice_id=p1, source="10.0.0.9")
    with db.write() as s:
        s.add(Practice(name="C"))
        svc.record(s, db, coder, action=svc.AuditAction.CREATE, resource="practice", record_ids=[3])
    with pytest.raises(RuntimeError), db.write() as s:
        svc.record(s, db, coder, action="update", resource="claim", record_ids=[1])
        raise RuntimeError("validation failed half way")
    assert _events(db) == [(p1, 1, "create", "practice", "success", None)]
    with db.read() as s:
        ev = s.scalars(sa.select(AuditEvent)).one()
        assert (ev.user_id, ev.role, ev.source, ev.request_id) == (4, "coder", "10.0.0.9", coder.request_id)
    assert store_audit.verify(db, key=db.keyring.audit_key, anchor_path=db.audit_anchor).intact


def test_record_separately_survives_the_failed_main_transaction(db: Database) -> None:
    p1, _ = _practices(db)
    desk = Actor(user_id=2, role=Role.FRONT_DESK, practice_id=p1)
    try:
        with db.write() as s:
            s.add(Practice(name="never"))
            raise PermissionDenied("front desk may not delete patients")
    except PermissionDenied:
        # after the main transaction is gone (on SQLite a second writer would wait for the first)
        svc.record_separately(db, desk, action="delete", resource="patient", record_ids=[7], detail="no permission")
    with db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Practice)) == 2
    assert _events(db) == [(p1, 1, "delete", "patient", "denied", "no permission")]


def test_install_wide_events_and_break_glass_are_marked(db: Database) -> None:
    p1, _ = _practices(db)
    svc.record_separately(
        db, system_actor(), action=svc.AuditAction.LOGIN, resource="session", outcome=svc.AuditOutcome.SUCCESS
    )
    emergency = Actor(user_id=9, role=Role.CODER, practice_id=p1, break_glass=True)
    svc.record_separately(db, emergency, action="read", resource="patient", record_ids=[5], outcome="success")
    assert _events(db) == [
        (0, 1, "login", "session", "success", None),
        (p1, 1, "read", "patient", "success", "break-glass"),
    ]


def test_review_needs_audit_read_and_the_refusal_is_audited(db: Database) -> None:
    p1, _ = _practices(db)
    biller = Actor(user_id=3, role=Role.BILLER, practice_id=p1)
    with pytest.raises(PermissionDenied):
        svc.verify_audit(db, actor=biller)
    with pytest.raises(PermissionDenied):
        svc.audit_report(db, actor=biller, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
    assert [e[2:5] for e in _events(db)] == [("verify", "audit_log", "denied"), ("read", "audit_log", "denied")]


def test_a_practice_reviews_only_its_own_chain(db: Database) -> None:
    p1, p2 = _practices(db)
    for p in (p1, p2):
        for i in range(3):
            svc.record_separately(
                db,
                Actor(user_id=10 + i, role=Role.CODER, practice_id=p),
                action="read",
                resource="claim",
                record_ids=[i],
                outcome="success",
            )
    with db.engine.begin() as conn:  # tamper with practice 2's chain
        conn.execute(sa.text("update audit_event set user_id = 99 where chain = :c and seq = 2"), {"c": p2})
    auditor = Actor(user_id=20, role=Role.AUDITOR, practice_id=p1)
    own = svc.verify_audit(db, actor=auditor)
    assert own.intact and [c.chain for c in own.chains] == [p1]
    everything = svc.verify_audit(db, actor=system_actor())
    assert [(p.chain, p.seq, p.kind) for p in everything.problems] == [(p2, 2, store_audit.TamperKind.EDITED)]

    today = dt.datetime.now(dt.UTC).date()
    admin = Actor(user_id=21, role=Role.PRACTICE_ADMIN, practice_id=p2)
    rows = svc.audit_report(db, actor=admin, start=today - dt.timedelta(days=1), end=today + dt.timedelta(days=1))
    assert {r.chain for r in rows} == {p2} and len(rows) == 3
    only = svc.audit_report(
        db, actor=admin, start=today - dt.timedelta(days=1), end=today + dt.timedelta(days=1), user_id=12
    )
    assert [(r.user_id, r.record_ids) for r in only] == [(12, (2,))]
    # the reviews themselves are on record
    assert ("verify", "audit_log", "success") in [e[2:5] for e in _events(db) if e[0] == p1]

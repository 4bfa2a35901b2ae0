"""Revenue-cycle measures over the practice database (services.reports): days in A/R, net collection
rate, first-pass acceptance, clean-claim and denial rates — on claims posted by a simulated 835."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from medbill.core.errors import PermissionDenied, ValidationFailed
from medbill.services import payments, reports
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database
from medbill.x12.simulate import Denial, SimulationRules
from tests.services.paydata import biller, practice, professional_examples, simulated_835

D = Decimal
AS_OF = dt.date(2026, 12, 31)
LONG = 3650  # a period that holds every entry of the test


@dataclasses.dataclass
class Posted:
    db: Database
    practice_id: int
    ids: dict[str, int]
    report: payments.PostingReport


@pytest.fixture
def posted(db: Database) -> Posted:
    from tests.services.paydata import insert_claims

    pid, patient, payers = practice(db)
    claims = professional_examples()
    ids = insert_claims(db, pid, patient, payers, claims)
    rules = SimulationRules(reject_member_prefixes=(), denials=(Denial(carc="96", procedure="90715"),))
    report = payments.post_remittance(db, actor=biller(pid), content=simulated_835(claims, rules).encode())
    assert report.counts.posted == len(claims)
    return Posted(db, pid, ids, report)


def test_measures_of_a_posted_remittance(posted: Posted) -> None:
    r = reports.revenue_measures(posted.db, actor=biller(posted.practice_id), as_of=AS_OF, period_days=LONG)
    charges = sum((c.total_charge for c in professional_examples()), D("0"))
    assert r.period_charges == charges == D("1047.75")
    assert r.period_start == AS_OF - dt.timedelta(days=LONG - 1)
    # every claim was accepted on its first submission (adjudicated by the 835, no 999/277CA rejection)
    assert (r.first_pass.numerator, r.first_pass.denominator) == (D(3), D(3)) and r.first_pass.value == D("1.0000")
    assert r.clean_claims.value == D("1.0000")
    # the vaccine line of TESTPCN0002 was denied (CO-96): one of the three adjudicated claims
    assert (r.denials.adjudicated, r.denials.denied) == (3, 1)
    assert r.denials.rate.value == D("0.3333")
    assert sum(r.denials.by_category.values()) == 1
    # collections: what the payer paid ÷ (charges − contractual adjustments)
    assert r.net_collection.numerator == posted.report.paid_posted > 0
    assert 0 < r.net_collection.denominator < charges
    assert r.net_collection.value is not None and D("0") < r.net_collection.value <= D("1")
    # days in A/R: open balances ÷ average daily charge over the period
    assert r.open_ar > 0 and r.open_ar < charges
    assert r.days_in_ar == (r.open_ar / (charges / LONG)).quantize(D("0.1"))


def test_a_rejected_first_submission_counts_against_first_pass(posted: Posted) -> None:
    db, pid = posted.db, posted.practice_id
    first = posted.ids["TESTPCN0001"]
    with db.write() as s:
        claim = s.get(m.ClaimRecord, first)
        assert claim is not None
        # the first submission was rejected by the 277CA, then resent: the later payment does not make it first-pass
        s.add_all(
            [
                m.ClaimStatusChange(claim_id=first, from_status="ready", to_status="submitted", cause_kind="user",
                                    cause_ref="batch", at=dt.datetime(2025, 7, 1, 9, 0)),
                m.ClaimStatusChange(claim_id=first, from_status="submitted", to_status="rejected",
                                    cause_kind="277CA", cause_ref="277CA#1", at=dt.datetime(2025, 7, 2, 9, 0)),
                m.ClaimStatusChange(claim_id=first, from_status="rejected", to_status="submitted",
                                    cause_kind="user", cause_ref="batch", at=dt.datetime(2025, 7, 3, 9, 0)),
            ]
        )  # fmt: skip
    r = reports.revenue_measures(db, actor=biller(pid), as_of=AS_OF, period_days=LONG)
    assert (r.first_pass.numerator, r.first_pass.denominator) == (D(2), D(3))
    assert r.clean_claims.numerator == D(2)
    # as of a date before anything was answered, nothing is known yet
    early = reports.revenue_measures(db, actor=biller(pid), as_of=dt.date(2025, 3, 1), period_days=30)
    assert early.first_pass.denominator == 0 and early.first_pass.value is None
    assert early.days_in_ar is None and early.period_charges == 0


def test_permission_practice_isolation_and_no_phi_in_the_audit(posted: Posted) -> None:
    db, pid = posted.db, posted.practice_id
    for role in (Role.CODER, Role.FRONT_DESK, Role.SYSTEM_ADMIN):
        with pytest.raises(PermissionDenied):
            reports.revenue_measures(db, actor=biller(pid, role), as_of=AS_OF)
    for role in (Role.AUDITOR, Role.PRACTICE_ADMIN):
        assert reports.revenue_measures(db, actor=biller(pid, role), as_of=AS_OF, period_days=LONG).denials.denied == 1
    with pytest.raises(ValidationFailed):
        reports.revenue_measures(db, actor=biller(pid), period_days=0)
    other, _patient, _payers = practice(db, name="OTHERCLINIC")
    r = reports.revenue_measures(db, actor=biller(other), as_of=AS_OF, period_days=LONG)
    assert r.open_ar == 0 and r.denials.adjudicated == 0 and r.first_pass.denominator == 0
    with db.read() as s:
        rows = s.execute(
            select(m.AuditEvent.record_ids, m.AuditEvent.detail).where(m.AuditEvent.resource == "revenue_measures")
        ).all()
    assert rows and all(not json.loads(json.dumps(list(ids or []))) for ids, _ in rows)
    dumped = repr(rows)
    assert "TESTPCN" not in dumped and "TESTPATIENT" not in dumped

"""Payment services on SQLCipher and PostgreSQL: posting 835s (simulated and hand-written), work queues,
claim status, denials, A/R aging, claim ledgers, statements and patient payments.

The concurrent replay test is in test_payments_concurrency.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medbill.core.errors import NotFound, PermissionDenied, X12ParseError
from medbill.ledger.entries import PATIENT, EntryKind, payer_party
from medbill.ledger.reports import AgingView
from medbill.services import payments
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database
from medbill.x12.simulate import Denial, SimulationRules
from tests.services.paydata import (
    biller,
    claim_with,
    insert_claims,
    invariant_problems,
    ledger_state,
    make_835,
    office_claims,
    practice,
    professional_examples,
    resend,
    simulated_835,
)

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "x12" / "data"
RULES = SimulationRules(
    allowed_ratio=D("0.75"),
    deductible=D("50"),
    copay=D("20"),
    reject_member_prefixes=(),
    denials=(Denial(carc="96", procedure="90715"),),
    take_backs=(("TESTPCN0002", D("10.5")),),
)


@dataclasses.dataclass
class Env:
    db: Database
    practice_id: int
    patient_id: int
    payers: dict[str, int]

    @property
    def actor(self) -> payments.Actor:
        return biller(self.practice_id)

    def claims(self, claims: list[payments.Claim], **kw: object) -> dict[str, int]:
        return insert_claims(self.db, self.practice_id, self.patient_id, self.payers, claims, **kw)  # type: ignore[arg-type]

    def post(self, content: bytes | str, **kw: object) -> payments.PostingReport:
        data = content.encode() if isinstance(content, str) else content
        return payments.post_remittance(self.db, actor=self.actor, content=data, **kw)  # type: ignore[arg-type]

    def count(self, model: type[m.Base]) -> int:
        with self.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(model.practice_id == self.practice_id)))  # type: ignore[attr-defined]

    def statuses(self) -> dict[int, str]:
        with self.db.read() as s:
            return {i: st for i, st in s.execute(select(m.ClaimRecord.id, m.ClaimRecord.status))}


@pytest.fixture
def env(db: Database) -> Env:
    pid, patient, payers = practice(db)
    return Env(db, pid, patient, payers)


# --------------------------------------------------------------------------------------------------- posting
def test_simulated_835_posts_moves_claims_and_keeps_phi_out(env: Env) -> None:
    claims = professional_examples() + office_claims(5)
    ids = env.claims(claims)
    text = simulated_835(claims, RULES)
    report = env.post(text, filename="era.835")
    assert report.counts.posted == len(claims) and report.counts.unmatched == 0 and report.counts.on_hold == 0
    assert report.counts.plb_posted == 1 and report.provider_posted == D("10.5")
    assert report.remittance_id is not None and not report.already_received
    assert {line.claim_id for line in report.lines} == set(ids.values())
    assert sum((line.paid for line in report.lines), D("0")) == report.paid_posted
    assert report.payment_total == report.paid_posted - report.provider_posted
    # claim status: the claim with the denied vaccine line is partially paid, the others paid
    statuses = env.statuses()
    assert statuses[ids["TESTPCN0002"]] == "partially_paid"
    assert {statuses[i] for pcn, i in ids.items() if pcn != "TESTPCN0002"} == {"paid"}
    with env.db.read() as s:
        changes = s.execute(select(m.ClaimStatusChange.cause_kind, m.ClaimStatusChange.cause_ref)).all()
        plb = s.scalars(select(m.LedgerEntryRecord).where(m.LedgerEntryRecord.kind == "plb_takeback")).one()
        assert plb.related_claim_id == ids["TESTPCN0002"] and plb.claim_id is None and plb.amount == D("10.50")
        numbers = s.scalars(select(m.ClaimRecord.payer_claim_number)).all()
    assert len(changes) == len(claims) and {k for k, _ in changes} == {"835"}
    assert all(re.fullmatch(r"1999999999/SIM\d+#\d+", ref or "") for _k, ref in changes), changes
    assert all(n and n.startswith("SIM") for n in numbers)  # CLP07 kept for matching later 835s
    assert invariant_problems(env.db, env.practice_id) == []
    # no patient control number (CLP01) in the report, the status causes or the audit trail
    with env.db.read() as s:
        audit = s.execute(select(m.AuditEvent.record_ids, m.AuditEvent.detail, m.AuditEvent.outcome)).all()
    dumped = json.dumps(report.to_dict()) + repr(changes) + repr(audit)
    assert "TESTPCN" not in dumped and "TESTPATIENT" not in dumped
    assert ("success" in {a.outcome for a in audit}) and report.work_items == 0


def test_the_same_file_again_renamed_or_resent_changes_nothing(env: Env) -> None:
    claims = office_claims(6)
    env.claims(claims)
    text = simulated_835(claims, RULES)
    first = env.post(text, filename="a.835")
    state = ledger_state(env.db, env.practice_id)
    assert first.counts.posted == 6 and state[0] == 6 + 6  # charges + payments
    again = env.post(text, filename="renamed.835")
    assert again.already_received and again.remittance_id == first.remittance_id
    assert again.counts.already_posted == 6 and again.counts.posted == 0 and not again.changed
    resent = env.post(resend(text))
    assert not resent.already_received and resent.counts.already_posted == 6 and resent.status_changes == 0
    assert ledger_state(env.db, env.practice_id) == state
    assert env.count(m.Remittance) == 2
    assert invariant_problems(env.db, env.practice_id) == []


def test_reissued_payment_under_a_new_trace_is_a_suspected_duplicate(env: Env) -> None:
    claims = office_claims(2)
    ids = env.claims(claims)
    text = simulated_835(claims)
    env.post(text)
    trace = re.search(r"TRN\*1\*([^*~]+)\*", text)
    assert trace is not None
    reissued = env.post(text.replace(trace.group(1), "REISSUE0001"))
    assert reissued.counts.duplicates == 2 and reissued.counts.posted == 0 and reissued.work_items == 2
    assert {line.queue for line in reissued.lines} == {"duplicate"}
    assert {line.claim_id for line in reissued.lines} == set(ids.values())
    again = env.post(text.replace(trace.group(1), "REISSUE0001"))  # the same reissue again: no new item
    assert again.work_items == 0 and again.already_received
    items = payments.work_items(env.db, actor=env.actor, queue="duplicate")
    assert len(items) == 2 and all("TESTPCN" not in i.summary for i in items)


def test_reversal_and_correction_both_post_and_net_to_the_correction(env: Env) -> None:
    on = dt.date(2026, 3, 1)
    [cid] = env.claims([claim_with("PCN1001", [("99213", "200", on, "PCN1001-1")])]).values()
    original = make_835(
        "ORIG20260301",
        ["LX*1", "CLP*PCN1001*1*200*120*30*12*ICN20260001*11*1", "SVC*HC:99213*200*120**1", "DTM*472*20260301",
         "CAS*CO*45*50", "CAS*PR*2*30", "REF*6R*PCN1001-1"],
    )  # fmt: skip
    assert env.post(original).counts.posted == 1
    report = env.post((DATA / "835_reversal_and_correction.835").read_bytes())
    assert report.counts.posted == 2 and [line.status for line in report.lines] == ["22", "1"]
    assert [line.outcome for line in report.lines] == [None, "paid"]
    ledger = payments.claim_ledger(env.db, actor=env.actor, claim_id=cid)
    assert ledger.balanced and ledger.problems == ()
    payer = payer_party("TESTCI001")
    assert ledger.totals.party(payer) == 0 and ledger.totals.patient == D("20.00")
    assert ledger.totals.payments == D("140.00") and ledger.totals.adjustments == D("40.00")
    reversals = [x for x in ledger.lines if x.kind == EntryKind.REVERSAL.value]
    assert reversals and {x.of_kind for x in reversals} == {"payer_payment", "contractual_adjustment",
                                                           "patient_responsibility"}  # fmt: skip
    assert env.statuses()[cid] == "paid"
    assert env.post((DATA / "835_reversal_and_correction.835").read_bytes()).counts.already_posted == 2


def test_wo_take_back_names_our_claim_by_its_payer_claim_number(env: Env) -> None:
    on = dt.date(2026, 3, 5)
    ids = env.claims(
        [claim_with("PCN2002", [("99214", "150", on, "PCN2002-1")]), claim_with("PCN2001", [("99214", "75", on, None)])]
    )
    with env.db.write() as s:  # an earlier 835 gave claim PCN2001 the payer's number ICN20259999
        s.get(m.ClaimRecord, ids["PCN2001"]).payer_claim_number = "ICN20259999"  # type: ignore[union-attr]
    report = env.post((DATA / "835_wo_takeback.835").read_bytes())
    assert report.counts.posted == 1 and report.counts.plb_posted == 1 and report.work_items == 0
    with env.db.read() as s:
        plb = s.scalars(select(m.LedgerEntryRecord).where(m.LedgerEntryRecord.plb_reason == "WO")).one()
        assert (plb.related_claim_id, plb.amount, plb.kind) == (ids["PCN2001"], D("75.00"), "plb_takeback")
    assert invariant_problems(env.db, env.practice_id) == []


def test_take_back_naming_no_claim_goes_to_the_plb_queue(env: Env) -> None:
    env.claims([claim_with("PCN2002", [("99214", "150", dt.date(2026, 3, 5), "PCN2002-1")])])
    report = env.post((DATA / "835_wo_takeback.835").read_bytes())
    assert report.counts.plb_posted == 1 and report.work_items == 1
    [item] = payments.work_items(env.db, actor=env.actor)
    assert item.queue == "unmatched_plb" and "ICN20259999" not in item.summary and "75" in item.summary


def test_split_claim_posts_both_parts(env: Env) -> None:
    on = dt.date(2026, 3, 5)
    lines = [("99213", "100", on, "PCN4001-1"), ("36415", "150", on, "PCN4001-2"), ("71046", "200", on, "PCN4001-3")]
    [cid] = env.claims([claim_with("PCN4001", lines)]).values()
    report = env.post((DATA / "835_split_claim.835").read_bytes())
    assert report.counts.posted == 2 and {line.claim_id for line in report.lines} == {cid}
    ledger = payments.claim_ledger(env.db, actor=env.actor, claim_id=cid)
    assert ledger.balanced and ledger.totals.party(payer_party("TESTCI001")) == 0
    assert ledger.totals.payments == D("310.00") and ledger.totals.patient == D("20.00")
    assert {x.line_number for x in ledger.lines if x.kind == "payer_payment"} == {1, 2, 3}
    assert env.statuses()[cid] == "paid"


def test_unmatched_claims_wait_in_the_queue_and_post_once_the_claim_exists(env: Env) -> None:
    content = (DATA / "835_split_claim.835").read_bytes()
    report = env.post(content)
    assert report.counts.unmatched == 2 and report.counts.posted == 0 and report.work_items == 2
    assert {line.queue for line in report.lines} == {"unmatched_claim"}
    assert ledger_state(env.db, env.practice_id)[0] == 0
    assert env.post(content).work_items == 0  # the same items are not filed twice
    on = dt.date(2026, 3, 5)
    lines = [("99213", "100", on, "PCN4001-1"), ("36415", "150", on, "PCN4001-2"), ("71046", "200", on, "PCN4001-3")]
    env.claims([claim_with("PCN4001", lines)])
    later = env.post(content)
    assert later.counts.posted == 2 and later.already_received
    assert payments.work_items(env.db, actor=env.actor) == []  # resolved by the posting
    assert len(payments.work_items(env.db, actor=env.actor, open_only=False)) == 2
    with env.db.read() as s:
        assert s.scalar(select(m.Remittance.status)) == "posted"


def test_a_bad_835_posts_nothing(env: Env) -> None:
    claims = office_claims(2)
    env.claims(claims)
    before = ledger_state(env.db, env.practice_id)
    text = simulated_835(claims)
    broken = text.replace("CLP*TESTPCN00001*1*", "CLP*TESTPCN00001*99*", 1)
    with pytest.raises(X12ParseError, match=r"segment \d+ CLP"):
        env.post(broken)
    with pytest.raises(X12ParseError):
        env.post(b"\xff\xfe not an 835")
    with pytest.raises(X12ParseError):
        env.post(text[: len(text) // 2])
    assert env.count(m.Remittance) == 0 and ledger_state(env.db, env.practice_id) == before
    with env.db.read() as s:
        outcomes = s.scalars(select(m.AuditEvent.outcome).where(m.AuditEvent.resource == "remittance")).all()
    assert outcomes == ["failed", "failed", "failed"]
    assert set(env.statuses().values()) == {"submitted"}


def test_preview_reports_and_keeps_nothing(env: Env) -> None:
    claims = office_claims(3)
    env.claims(claims)
    before = ledger_state(env.db, env.practice_id)
    preview = env.post(simulated_835(claims), preview=True)
    assert preview.preview and preview.remittance_id is None and preview.counts.posted == 3
    assert preview.status_changes == 3 and [line.outcome for line in preview.lines] == ["paid"] * 3
    assert ledger_state(env.db, env.practice_id) == before and env.count(m.Remittance) == 0
    assert env.count(m.WorkItem) == 0 and set(env.statuses().values()) == {"submitted"}
    assert env.post(simulated_835(claims)).counts.posted == 3  # the real posting afterwards


def test_permissions_and_practice_isolation(env: Env) -> None:
    claims = office_claims(1)
    [cid] = env.claims(claims).values()
    text = simulated_835(claims)
    with pytest.raises(PermissionDenied):
        payments.post_remittance(env.db, actor=biller(env.practice_id, Role.CODER), content=text.encode())
    with pytest.raises(PermissionDenied):
        payments.denials(env.db, actor=biller(env.practice_id, Role.FRONT_DESK))
    with pytest.raises(PermissionDenied):
        payments.ar_aging(env.db, actor=biller(env.practice_id, Role.FRONT_DESK))
    other, _patient, _payers = practice(env.db, name="OTHER")
    with pytest.raises(NotFound):
        payments.claim_ledger(env.db, actor=biller(other), claim_id=cid)
    with pytest.raises(NotFound):
        payments.record_patient_payment(env.db, actor=biller(other), claim_id=cid, amount=D("5.00"), action_id="x")
    # the other practice's posting of the same file finds none of our claims
    report = payments.post_remittance(env.db, actor=biller(other), content=text.encode())
    assert report.counts.unmatched == 1 and report.counts.posted == 0


# --------------------------------------------------------------------------------------------------- reading
def test_denials_aging_statement_and_patient_payment(env: Env) -> None:
    claims = professional_examples()
    ids = env.claims(claims)
    env.post(simulated_835(claims, RULES))
    refdata = os.environ.get("MEDBILL_TEST_REFDATA")
    items = payments.denials(env.db, actor=env.actor, refdata=Path(refdata) if refdata else None)
    [item] = items
    assert item.claim_id == str(ids["TESTPCN0002"]) and item.procedure == "90715" and item.kind.value == "denied"
    assert [(r.group, r.carc, r.amount) for r in item.reasons] == [("CO", "96", D("65.25"))]
    if refdata and Path(refdata).is_file():
        assert item.reasons[0].carc_text and "covered" in item.reasons[0].carc_text.lower()

    aging = payments.ar_aging(env.db, actor=env.actor, as_of=dt.date(2025, 9, 15))
    # payer balances left: the Medicare claim's sequestration-free remainder is 0; the PR moved to the patient
    assert aging.payers.net == sum((b.net for b in aging.by_payer.values()), D("0"))
    patient_key = f"patient:{env.patient_id}"
    assert set(aging.by_patient) == {patient_key} and aging.by_patient[patient_key].unbilled > 0
    service = payments.ar_aging(env.db, actor=env.actor, as_of=dt.date(2025, 9, 15), view=AgingView.SERVICE)
    assert service.by_patient[patient_key].unbilled == 0 and service.by_patient[patient_key].total > 0

    statement = payments.patient_statement(env.db, actor=env.actor, patient_id=env.patient_id)
    assert {v.claim_id for v in statement.visits} <= {str(i) for i in ids.values()}
    due = statement.total_due
    assert due == aging.by_patient[patient_key].net
    cid = ids["TESTPCN0001"]
    visit = next(v for v in statement.visits if v.claim_id == str(cid))
    pay = dict(actor=env.actor, claim_id=cid, amount=D("10.00"), action_id="desk-1")
    paid = payments.record_patient_payment(env.db, **pay)  # type: ignore[arg-type]
    twice = payments.record_patient_payment(env.db, **pay)  # type: ignore[arg-type]
    assert paid.posted and not twice.posted and twice.patient_balance == visit.balance - D("10.00")
    ledger = payments.claim_ledger(env.db, actor=env.actor, claim_id=cid)
    assert [x.kind for x in ledger.lines].count("patient_payment") == 1 and ledger.balanced
    assert ledger.totals.party(PATIENT) == visit.balance - D("10.00")
    assert invariant_problems(env.db, env.practice_id) == []

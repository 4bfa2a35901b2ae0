"""A/R aging, first-pass and clean-claim rates, denial rates, days in A/R, net collection, statements."""

from __future__ import annotations

import datetime as dt

from medbill.core.claim import ClaimFrequency
from medbill.ledger.actions import charge_batch, copay_at_time_of_service, patient_payment
from medbill.ledger.entries import payer_party
from medbill.ledger.memory import InMemoryLedger
from medbill.ledger.posting import apply, plan_posting
from medbill.ledger.reasons import ReasonCategory
from medbill.ledger.reports import (
    AgingView,
    ar_aging,
    clean_claim_rate,
    days_in_ar,
    denial_rates,
    first_pass_acceptance,
    net_collection_rate,
    patient_statement,
    service_dates,
)
from medbill.ledger.status import Cause, CauseKind, ClaimStatus, StatusChange, submit, transition
from tests.ledger.builders import D, cas, clp, dependent, office, office_paid, remit, svc

USER = Cause(kind=CauseKind.USER, reference="a", user="u")
PAYER = payer_party("TESTCI001")


def _history(claim_id: str, *steps: tuple[ClaimStatus, dt.date]) -> list[StatusChange]:
    h: list[StatusChange] = []
    for to, at in steps:
        if to is ClaimStatus.SUBMITTED:
            h.append(submit(h, claim_id=claim_id, at=at, cause=USER, frequency=ClaimFrequency.ORIGINAL))
        else:
            h.append(transition(h, to, claim_id=claim_id, at=at, cause=USER))
    return h


def _world() -> tuple[InMemoryLedger, dict[str, list[StatusChange]]]:
    """Office claim (DOS 2025-03-10) paid with PR 38.00; dependent claim (DOS 2025-04-02) unpaid."""
    a, b = office(), dependent()
    store = InMemoryLedger()
    store.append([charge_batch(a, on=dt.date(2025, 3, 10)), charge_batch(b, on=dt.date(2025, 4, 2))])
    apply(plan_posting(remit(office_paid()), {a.id: a}, store), store)  # paid 2025-04-15
    histories = {
        a.id: _history(
            a.id,
            (ClaimStatus.READY, dt.date(2025, 3, 11)),
            (ClaimStatus.SUBMITTED, dt.date(2025, 3, 12)),
            (ClaimStatus.ACCEPTED, dt.date(2025, 3, 13)),
        ),
        b.id: _history(
            b.id,
            (ClaimStatus.READY, dt.date(2025, 4, 3)),
            (ClaimStatus.SUBMITTED, dt.date(2025, 4, 4)),
            (ClaimStatus.REJECTED, dt.date(2025, 4, 5)),
            (ClaimStatus.READY, dt.date(2025, 4, 8)),
            (ClaimStatus.SUBMITTED, dt.date(2025, 4, 9)),
        ),
    }
    return store, histories


def test_aging_billing_view_by_payer_and_patient() -> None:
    store, histories = _world()
    a, b = office(), dependent()
    report = ar_aging(
        store.entries(),
        histories,
        as_of=dt.date(2025, 6, 1),
        statement_dates={a.id: dt.date(2025, 4, 20)},
        patient_of={a.id: "P-ALPHA", b.id: "P-FOXTROT"},
    )
    # dependent claim: 420.25 owed by the payer since first submission 2025-04-04 (58 days)
    assert report.by_payer[PAYER].by_label() == {
        "0-30": D("0"),
        "31-60": D("420.25"),
        "61-90": D("0"),
        "91-120": D("0"),
        ">120": D("0"),
    }
    # office claim: 38.00 patient balance since the statement of 2025-04-20 (42 days)
    assert report.by_patient["P-ALPHA"].aged[1] == D("38.00")
    assert "P-FOXTROT" not in report.by_patient
    assert report.payers.total == D("420.25") and report.patients.total == D("38.00")


def test_aging_service_view_and_unbilled_patient_balance() -> None:
    store, histories = _world()
    a, b = office(), dependent()
    dos = service_dates([a, b])
    assert dos == {a.id: dt.date(2025, 3, 10), b.id: dt.date(2025, 4, 2)}
    report = ar_aging(
        store.entries(), histories, as_of=dt.date(2025, 7, 15), view=AgingView.SERVICE, dates_of_service=dos
    )
    assert report.by_payer[PAYER].aged[3] == D("420.25")  # 104 days since 2025-04-02
    assert report.patients.aged[4] == D("38.00")  # 127 days since 2025-03-10
    billing = ar_aging(store.entries(), histories, as_of=dt.date(2025, 7, 15))
    assert billing.patients.unbilled == D("38.00")  # no statement yet
    before = ar_aging(store.entries(), histories, as_of=dt.date(2025, 3, 31))
    assert before.payers.total == D("327.50")  # the dependent claim is not charged yet, the office claim not paid
    assert before.payers.aged[0] == D("327.50")


def test_credit_balances_are_not_aged() -> None:
    store, histories = _world()
    a = office()
    store.append(
        [patient_payment(action_id="p1", user="desk", claim_id=a.id, amount=D("50.00"), on=dt.date(2025, 5, 1))]
    )
    report = ar_aging(store.entries(), histories, as_of=dt.date(2025, 6, 1))
    assert report.patients.credit == D("-12.00") and report.patients.total == 0


def test_first_pass_acceptance_and_clean_claim_rate() -> None:
    _store, histories = _world()
    histories["EDITED"] = _history(
        "EDITED",
        (ClaimStatus.READY, dt.date(2025, 4, 1)),
        (ClaimStatus.DRAFT, dt.date(2025, 4, 1)),  # sent back for edits
        (ClaimStatus.READY, dt.date(2025, 4, 2)),
        (ClaimStatus.SUBMITTED, dt.date(2025, 4, 2)),
        (ClaimStatus.PAID, dt.date(2025, 4, 30)),
    )
    histories["PENDING"] = _history(
        "PENDING", (ClaimStatus.READY, dt.date(2025, 4, 1)), (ClaimStatus.SUBMITTED, dt.date(2025, 4, 2))
    )
    fpa = first_pass_acceptance(histories)
    assert (fpa.numerator, fpa.denominator, fpa.value) == (D(2), D(3), D("0.6667"))
    clean = clean_claim_rate(histories)
    assert (clean.numerator, clean.denominator) == (D(1), D(3))
    assert clean_claim_rate(histories, edited={office().id}).numerator == 0
    assert first_pass_acceptance(histories, as_of=dt.date(2025, 3, 31)).denominator == 1


def test_denial_rates_by_category() -> None:
    store, _h = _world()
    b = dependent()
    d = dt.date(2025, 4, 2)
    partial = clp(
        b.id,
        "420.25",
        "100.00",
        [
            svc("99213", "120.00", "100.00", cas("CO", "45", "20.00"), on=d),
            svc("12011", "210.00", "0", cas("CO", "197", "210.00"), on=d),
            svc("90715", "65.25", "0", cas("CO", "50", "65.25"), on=d),
            svc("90471", "25.00", "0", cas("CO", "97", "25.00"), on=d),
        ],
        icn="ICN0002",
    )
    apply(plan_posting(remit(partial, trace="T2"), {b.id: b}, store), store)
    rates = denial_rates(store.entries())
    assert (rates.adjudicated, rates.denied) == (2, 1)
    assert rates.rate.value == D("0.5000")
    assert dict(rates.by_category) == {
        ReasonCategory.AUTHORIZATION: 1,
        ReasonCategory.BUNDLING: 1,
        ReasonCategory.MEDICAL_NECESSITY: 1,
    }
    assert rates.category_rate(ReasonCategory.ELIGIBILITY).value == 0


def test_days_in_ar_and_net_collection_rate() -> None:
    store, _h = _world()
    as_of = dt.date(2025, 6, 1)
    # A/R 420.25 + 38.00 = 458.25; charges in the 90 days before: 327.50 + 420.25 = 747.75 → 8.3083/day
    assert days_in_ar(store.entries(), as_of=as_of) == D("55.2")
    assert days_in_ar(store.entries(), as_of=dt.date(2025, 1, 1)) is None
    rate = net_collection_rate(store.entries(), start=dt.date(2025, 3, 1), end=as_of)
    # payments 172.00 ÷ (747.75 − contractual 117.50)
    assert (rate.numerator, rate.denominator, rate.value) == (D("172.00"), D("630.25"), D("0.2729"))


def test_patient_statement_by_visit() -> None:
    store, _h = _world()
    a, b = office(), dependent()
    store.append(
        [
            copay_at_time_of_service(
                action_id="c1", user="desk", claim_id=a.id, amount=D("20.00"), on=dt.date(2025, 3, 10)
            ),
            patient_payment(action_id="p1", user="desk", claim_id=a.id, amount=D("5.00"), on=dt.date(2025, 5, 2)),
        ]
    )
    statement = patient_statement(
        store.entries(), [a.id, b.id], as_of=dt.date(2025, 6, 1), dates_of_service=service_dates([a, b])
    )
    [visit] = statement.visits  # the dependent claim has no patient balance
    assert visit.claim_id == a.id and visit.service_date == dt.date(2025, 3, 10)
    assert (visit.charges, visit.insurance_paid, visit.adjustments) == (D("327.50"), D("172.00"), D("117.50"))
    assert (visit.patient_responsibility, visit.patient_paid, visit.balance) == (D("38.00"), D("25.00"), D("13.00"))
    assert visit.pending_insurance == 0
    assert statement.total_due == D("13.00")

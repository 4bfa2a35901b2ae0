"""The three balancing rules of an 835, on records built by hand."""

from __future__ import annotations

from decimal import Decimal as D

from medbill.core.claim import AdjustmentGroup, ClaimAdjustment
from medbill.core.remit import (
    ClaimPayment,
    ClaimStatusCode,
    PayerIdentity,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    remit_problems,
)


def _cas(group: str, reason: str, amount: str) -> ClaimAdjustment:
    return ClaimAdjustment(group=AdjustmentGroup(group), reason=reason, amount=D(amount))


def _remit(paid_total: str, plb: str | None = None, line_cas: str = "60") -> Remittance:
    line = ServicePayment(
        procedure="99213",
        charge=D("150"),
        paid=D("80"),
        adjustments=(_cas("CO", "45", line_cas), _cas("PR", "2", "10")),
    )
    claim = ClaimPayment(
        patient_control_number="C1",
        status=ClaimStatusCode.PRIMARY,
        charge=D("150"),
        paid=D("80"),
        patient_responsibility=D("10"),
        services=(line,),
    )
    adjustments = (
        (ProviderAdjustment(provider_id="1", fiscal_period_end=None, reason="WO", reference="X", amount=D(plb)),)
        if plb
        else ()
    )
    return Remittance(
        control_number="0001",
        payment_amount=D(paid_total),
        trace_number="T1",
        payer_trace_id="1999999999",
        payer=PayerIdentity(name="PAYER"),
        payee=PayerIdentity(name="CLINIC"),
        claims=(claim,),
        provider_adjustments=adjustments,
    )


def test_balanced_remittance_has_no_problem() -> None:
    assert remit_problems(_remit("80")) == []


def test_take_back_reduces_the_payment() -> None:
    assert remit_problems(_remit("55", plb="25")) == []
    problems = remit_problems(_remit("80", plb="25"))
    assert [p.location for p in problems] == ["BPR02"]


def test_line_and_claim_imbalance_are_located() -> None:
    problems = remit_problems(_remit("80", line_cas="50"))
    assert [p.location for p in problems] == ["claims[0]", "claims[0].services[0]"]
    assert "SVC02 150 − SVC03 80 ≠ adjustments 60" in problems[1].message

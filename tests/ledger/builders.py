"""Build 835 records by hand for ledger tests (the X12 reader is tested elsewhere)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from medbill.core.claim import AdjustmentGroup, Claim, ClaimAdjustment, example_claims
from medbill.core.codes import Code, CodeSystem
from medbill.core.remit import (
    ClaimPayment,
    ClaimStatusCode,
    PayerIdentity,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)

D = Decimal
PAID_ON = dt.date(2025, 4, 15)
PAYER_TRN03 = "1999999999"


def cas(group: str, reason: str, amount: str, quantity: str | None = None) -> ClaimAdjustment:
    return ClaimAdjustment(
        group=AdjustmentGroup(group),
        reason=Code.parse(reason, system=CodeSystem.CARC),
        amount=D(amount),
        quantity=D(quantity) if quantity else None,
    )


def svc(
    procedure: str,
    charge: str,
    paid: str,
    *adjustments: ClaimAdjustment,
    control: str | None = None,
    on: dt.date | None = None,
    allowed: str | None = None,
    submitted: str | None = None,
    modifiers: tuple[str, ...] = (),
    remarks: tuple[str, ...] = (),
    qualifier: str = "HC",
    revenue: str | None = None,
) -> ServicePayment:
    return ServicePayment(
        procedure=procedure,
        procedure_qualifier=qualifier,
        modifiers=modifiers,
        charge=D(charge),
        paid=D(paid),
        revenue_code=revenue,
        submitted_procedure=submitted,
        service_date=on,
        adjustments=tuple(adjustments),
        control_number=control,
        allowed=D(allowed) if allowed is not None else None,
        remarks=remarks,
    )


def clp(
    pcn: str,
    charge: str,
    paid: str,
    services: Sequence[ServicePayment] = (),
    *,
    status: str = "1",
    adjustments: Sequence[ClaimAdjustment] = (),
    icn: str | None = "ICN0001",
    remarks: tuple[str, ...] = (),
) -> ClaimPayment:
    pr = sum(
        (a.amount for s in services for a in s.adjustments if a.group is AdjustmentGroup.PATIENT_RESPONSIBILITY),
        D("0"),
    ) + sum((a.amount for a in adjustments if a.group is AdjustmentGroup.PATIENT_RESPONSIBILITY), D("0"))
    return ClaimPayment(
        patient_control_number=pcn,
        status=ClaimStatusCode(status),
        charge=D(charge),
        paid=D(paid),
        patient_responsibility=pr,
        payer_claim_number=icn,
        adjustments=tuple(adjustments),
        services=tuple(services),
        remarks=remarks,
    )


def plb(reason: str, amount: str, reference: str | None = None) -> ProviderAdjustment:
    return ProviderAdjustment(
        provider_id="1999999991",
        fiscal_period_end=dt.date(2025, 12, 31),
        reason=reason,
        reference=reference,
        amount=D(amount),
    )


def remit(
    *claims: ClaimPayment,
    trace: str = "TRACE0001",
    st02: str = "0001",
    isa13: str = "000000001",
    plbs: Sequence[ProviderAdjustment] = (),
    paid_on: dt.date = PAID_ON,
    payer_id: str = "TESTCI001",
    payer_trace_id: str = PAYER_TRN03,
) -> Remittance:
    total = sum((c.paid for c in claims), D("0")) - sum((p.amount for p in plbs), D("0"))
    return Remittance(
        control_number=st02,
        interchange_control_number=isa13,
        payment_amount=total if total >= 0 else -total,
        credit_debit="C" if total >= 0 else "D",
        payment_method="ACH",
        payment_date=paid_on,
        trace_number=trace,
        payer_trace_id=payer_trace_id,
        payer=PayerIdentity(name="TEST COMMERCIAL HEALTH PLAN", identifier=payer_id),
        payee=PayerIdentity(name="TESTCLINIC FAMILY PRACTICE", identifier="1999900017", identifier_qualifier="XX"),
        claims=tuple(claims),
        provider_adjustments=tuple(plbs),
    )


def office() -> Claim:
    """Example claim 0: 99214-25 $185.00 (TESTLINE0001) + 20610-59-RT $142.50 (TESTLINE0002), 2025-03-10."""
    return example_claims()[0]


def dependent() -> Claim:
    """Example claim 1: 4 lines without control numbers (99213 120, 12011 210, 90715 65.25, 90471 25), 2025-04-02."""
    return example_claims()[1]


def office_paid(pcn: str = "TESTPCN0001", *, status: str = "1", icn: str = "ICN0001", sign: int = 1) -> ClaimPayment:
    """A balanced payment of the office claim: line 1 allowed 120 (PR 3 copay 20), line 2 allowed 90 (PR 2 18)."""
    s = D(sign)

    def m(v: str) -> str:
        return str(D(v) * s)

    d = dt.date(2025, 3, 10)
    lines = [
        svc(
            "99214",
            m("185.00"),
            m("100.00"),
            cas("CO", "45", m("65.00")),
            cas("PR", "3", m("20.00")),
            control="TESTLINE0001",
            on=d,
            allowed=m("120.00"),
            modifiers=("25",),
        ),
        svc(
            "20610",
            m("142.50"),
            m("72.00"),
            cas("CO", "45", m("52.50")),
            cas("PR", "2", m("18.00")),
            control="TESTLINE0002",
            on=d,
            allowed=m("90.00"),
            modifiers=("59", "RT"),
        ),
    ]
    return clp(pcn, m("327.50"), m("172.00"), lines, status=status, icn=icn)

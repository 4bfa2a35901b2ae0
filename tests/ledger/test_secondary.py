"""Secondary claims from a primary 835: pyx12 accepts the written 837, and the COB amounts balance."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from medbill.core.claim import (
    Claim,
    ClaimFilingIndicator,
    ClaimFrequency,
    Coverage,
    InsuranceType,
    Payer,
    Relationship,
    Responsibility,
    claim_problems,
    example_claims,
)
from medbill.core.remit import ClaimPayment, ClaimStatusCode, PayerIdentity, Remittance
from medbill.ledger.secondary import SecondaryClaimError, build_secondary, build_secondary_from_remittance
from medbill.x12.envelope import CounterControlNumbers
from medbill.x12.read837 import read_837
from medbill.x12.write837 import build_837i, build_837p
from tests.ledger.builders import cas, svc
from tests.x12.test_write837 import SETTINGS, WHEN, pyx12_errors

D = Decimal
ADJUDICATED = dt.date(2025, 4, 20)
CLAIMS = example_claims()
OFFICE, DEPENDENT, OUTPATIENT, REPLACEMENT = CLAIMS[0], CLAIMS[1], CLAIMS[3], CLAIMS[5]

MEDICARE = Coverage(
    payer=Payer(
        name="TEST MEDICARE CARRIER", payer_id="TESTMB001", filing_indicator=ClaimFilingIndicator.MEDICARE_PART_B
    ),
    subscriber=dataclasses.replace(
        OFFICE.coverage.subscriber, member_id="TESTMBI0009", group_number=None, group_name=None
    ),
    insurance_type=InsuranceType.WORKING_AGED,
)
SUPPLEMENT = Coverage(
    payer=Payer(name="TEST SUPPLEMENT PLAN", payer_id="TESTSUP01", filing_indicator=ClaimFilingIndicator.COMMERCIAL),
    subscriber=dataclasses.replace(OFFICE.coverage.subscriber, member_id="TESTSUPMEM1", group_number="TESTSUPGRP"),
)


def office_payment() -> ClaimPayment:
    """Claim 0: 99214-25 185.00 and 20610-59-RT 142.50; REF*6R on both; claim-level OA-23 10 and PR-1 20."""
    lines = (  # given in reverse order: REF*6R, not position, decides
        svc(
            "20610",
            "142.5",
            "80",
            cas("CO", "45", "40"),
            cas("PR", "3", "22.5"),
            control="TESTLINE0002",
            modifiers=("59", "RT"),
        ),
        svc(
            "99214",
            "185",
            "100",
            cas("CO", "45", "55"),
            cas("PR", "2", "30"),
            control="TESTLINE0001",
            modifiers=("25",),
        ),
    )
    return ClaimPayment(
        patient_control_number=OFFICE.id,
        status=ClaimStatusCode.PRIMARY,
        charge=D("327.5"),
        paid=D("150"),
        patient_responsibility=D("72.5"),
        payer_claim_number="TESTICN7001",
        adjustments=(cas("OA", "23", "10"), cas("PR", "1", "20")),
        services=lines,
    )


def dependent_payment() -> ClaimPayment:
    """Claim 1: four lines without REF*6R (matched by code and charge, given out of order); 12011 denied."""
    return ClaimPayment(
        patient_control_number=DEPENDENT.id,
        status=ClaimStatusCode.PRIMARY,
        charge=D("420.25"),
        paid=D("150.25"),
        patient_responsibility=D("40"),
        payer_claim_number="TESTICN7002",
        services=(
            svc("90471", "25", "20", cas("CO", "45", "5")),
            svc("12011", "210", "0", cas("CO", "197", "210")),
            svc("99213", "120", "70", cas("CO", "45", "10"), cas("PR", "2", "40"), modifiers=("25",)),
            svc("90715", "65.25", "60.25", cas("CO", "45", "5")),
        ),
    )


def outpatient_payment() -> ClaimPayment:
    """Claim 3 (837I, 131): HC codes with SVC04 revenue codes; one line paid with a claim-level PR-1."""
    return ClaimPayment(
        patient_control_number=OUTPATIENT.id,
        status=ClaimStatusCode.PRIMARY,
        charge=D("1823.75"),
        paid=D("1100"),
        patient_responsibility=D("250"),
        payer_claim_number="TESTICN7003",
        adjustments=(cas("PR", "1", "250"),),
        services=(
            svc("99284", "1250", "900", cas("CO", "45", "350"), modifiers=("25",), revenue="0450"),
            svc("85025", "88.4", "50", cas("CO", "45", "38.4"), revenue="0300"),
            svc("71046", "310", "250", cas("CO", "45", "60"), revenue="0320"),
            svc("93005", "175.35", "150", cas("CO", "45", "25.35"), revenue="0730"),
        ),
    )


# ---------------------------------------------------------------------------------------------------
# COB balance on the written text


def segments(text: str) -> list[list[str]]:
    element, terminator = text[3], text[105]
    return [s.strip("\r\n").split(element) for s in text.split(terminator) if s.strip("\r\n")]


def cas_total(seg: list[str]) -> Decimal:
    return sum((D(seg[k]) for k in range(3, len(seg), 3) if seg[k]), D("0"))


def cob_figures(text: str) -> list[dict[str, object]]:
    """Per CLM: CLM02, AMT*D, 2320 CAS total, 2430 CAS total, and per line (charge, SVD02 total, CAS total)."""
    out: list[dict[str, object]] = []
    cur: dict[str, object] | None = None
    where = ""
    for seg in segments(text):
        tag = seg[0]
        if tag == "CLM":
            cur = {"clm02": D(seg[2]), "amt_d": None, "claim_cas": D(0), "line_cas": D(0), "lines": []}
            out.append(cur)
            where = "2300"
        elif cur is None:
            continue
        elif tag == "SBR":
            where = "2320"
        elif tag == "NM1" and where == "2320":
            where = "2330"
        elif tag == "AMT" and seg[1] == "D" and where == "2320":
            cur["amt_d"] = D(seg[2])
        elif tag == "CAS" and where == "2320":
            cur["claim_cas"] = cur["claim_cas"] + cas_total(seg)  # type: ignore[operator]
        elif tag == "LX":
            where = "2400"
        elif tag in {"SV1", "SV2"}:
            charge = D(seg[2] if tag == "SV1" else seg[3])
            cur["lines"].append([charge, D(0), D(0)])  # type: ignore[attr-defined]
        elif tag == "SVD":
            where = "2430"
            cur["lines"][-1][1] += D(seg[2])  # type: ignore[index]
        elif tag == "CAS" and where == "2430":
            cur["line_cas"] = cur["line_cas"] + cas_total(seg)  # type: ignore[operator]
            cur["lines"][-1][2] += cas_total(seg)  # type: ignore[index]
    return out


def assert_cob_balanced(text: str, expected_claims: int) -> list[dict[str, object]]:
    figures = cob_figures(text)
    assert len(figures) == expected_claims
    for f in figures:
        assert f["amt_d"] is not None
        assert f["clm02"] == f["amt_d"] + f["claim_cas"] + f["line_cas"]  # type: ignore[operator]
        for charge, paid, line_cas in f["lines"]:  # type: ignore[attr-defined]
            assert charge == paid + line_cas
    return figures


# ---------------------------------------------------------------------------------------------------
# 837P


@pytest.fixture(scope="module")
def professional() -> tuple[tuple[Claim, Claim], str]:
    office = build_secondary(OFFICE, office_payment(), secondary=MEDICARE, adjudicated=ADJUDICATED)
    child = dataclasses.replace(SUPPLEMENT, relationship=Relationship.CHILD)
    dependent = build_secondary(DEPENDENT, dependent_payment(), secondary=child, adjudicated=ADJUDICATED)
    written = build_837p([office, dependent], SETTINGS, CounterControlNumbers(), when=WHEN)
    return (office, dependent), written.text


def test_secondary_837p_pyx12_accepts(professional: tuple[tuple[Claim, Claim], str]) -> None:
    assert pyx12_errors(professional[1]) == []


def test_secondary_837p_cob_balances(professional: tuple[tuple[Claim, Claim], str]) -> None:
    figures = assert_cob_balanced(professional[1], 2)
    assert figures[0]["clm02"] == D("327.5") and figures[0]["amt_d"] == D("150")
    assert figures[0]["claim_cas"] == D("30") and figures[0]["line_cas"] == D("147.5")
    assert figures[0]["lines"] == [[D("185"), D("100"), D("85")], [D("142.5"), D("80"), D("62.5")]]
    assert figures[1]["lines"][1] == [D("210"), D("0"), D("210")]  # type: ignore[index]


def test_secondary_837p_segments(professional: tuple[tuple[Claim, Claim], str]) -> None:
    text = professional[1]
    segs = ["*".join(s) for s in segments(text)]
    # SBR05 = 12 for Medicare secondary, SBR01 S; the primary in 2320 as P
    assert "SBR*S*18*******MB" not in segs
    assert any(s.startswith("SBR*S*18***12****MB") for s in segs)
    assert any(s.startswith("SBR*P*18*TESTGRP01*TEST EMPLOYER GROUP*****CI") for s in segs)
    assert "CAS*OA*23*10" in segs and "CAS*PR*1*20" in segs
    assert "AMT*D*150" in segs and "AMT*EAF*72.5" in segs and "REF*F8*TESTICN7001" in segs
    assert "SVD*TESTCI001*100*HC:99214:25**1" in segs
    assert "SVD*TESTCI001*0*HC:12011**1" in segs and "CAS*CO*197*210" in segs
    assert segs.count("DTP*573*D8*20250420") == 6  # one per 2430, none in 2330B


def test_secondary_claim_model(professional: tuple[tuple[Claim, Claim], str]) -> None:
    office, dependent = professional[0]
    assert claim_problems(office) == [] and claim_problems(dependent) == []
    assert office.coverage.responsibility is Responsibility.SECONDARY
    other = office.other_payers[0]
    assert other.coverage == OFFICE.coverage and other.paid_amount == D("150")
    assert other.payer_claim_control_number == "TESTICN7001" and other.remaining_patient_liability == D("72.5")
    # REF*6R decides: the 99214 line (TESTLINE0001) got the SVC that carried TESTLINE0001
    first = office.lines[0].adjudications[0]
    assert first.paid_amount == D("100") and first.procedure is not None and first.procedure.value == "99214"
    assert [a.reason.value for a in first.adjustments] == ["45", "2"]
    # code/charge matching across out-of-order SVCs
    assert [ln.adjudications[0].paid_amount for ln in dependent.lines] == [D("70"), D("0"), D("60.25"), D("20")]
    # the 837 reads back with the same COB data
    back = read_837(professional[1])
    assert back[0].other_payers[0].paid_amount == D("150")
    assert back[1].lines[1].adjudications[0].adjustments[0].amount == D("210")


def test_replacement_becomes_original() -> None:
    payment = dataclasses.replace(office_payment(), patient_control_number=REPLACEMENT.id)
    out = build_secondary(REPLACEMENT, payment, secondary=SUPPLEMENT, adjudicated=ADJUDICATED)
    assert out.frequency is ClaimFrequency.ORIGINAL and out.original_claim_number is None


def test_date_from_the_835() -> None:
    remit = Remittance(
        control_number="0001",
        payment_amount=D("150"),
        trace_number="TESTTRACE1",
        payer_trace_id="1999999999",
        payment_date=dt.date(2025, 4, 18),
        payer=PayerIdentity(name="TEST COMMERCIAL HEALTH PLAN"),
        payee=PayerIdentity(name="TESTCLINIC FAMILY PRACTICE"),
        claims=(office_payment(),),
    )
    out = build_secondary_from_remittance(OFFICE, remit, secondary=SUPPLEMENT)
    assert out.other_payers[0].adjudication_date == dt.date(2025, 4, 18)
    assert out.lines[1].adjudications[0].adjudication_date == dt.date(2025, 4, 18)
    with pytest.raises(SecondaryClaimError, match="no claim payment"):
        build_secondary_from_remittance(DEPENDENT, remit, secondary=SUPPLEMENT)


# ---------------------------------------------------------------------------------------------------
# 837I


def test_secondary_837i() -> None:
    out = build_secondary(OUTPATIENT, outpatient_payment(), secondary=SUPPLEMENT, adjudicated=ADJUDICATED)
    text = build_837i([out], SETTINGS, CounterControlNumbers(), when=WHEN).text
    assert pyx12_errors(text) == []
    figures = assert_cob_balanced(text, 1)
    assert figures[0]["claim_cas"] == D("250") and figures[0]["line_cas"] == D("473.75")
    assert "SVD*TESTCI001*900*HC:99284:25*0450*1" in ["*".join(s) for s in segments(text)]


# ---------------------------------------------------------------------------------------------------
# Refusals


def test_remittance_of_another_claim() -> None:
    with pytest.raises(SecondaryClaimError, match="not claim TESTPCN0002"):
        build_secondary(DEPENDENT, office_payment(), secondary=SUPPLEMENT, adjudicated=ADJUDICATED)


def test_unbalanced_remittance() -> None:
    bad = dataclasses.replace(office_payment(), paid=D("151"))
    with pytest.raises(SecondaryClaimError, match="does not balance"):
        build_secondary(OFFICE, bad, secondary=SUPPLEMENT, adjudicated=ADJUDICATED)
    p = office_payment()
    line = dataclasses.replace(p.services[0], paid=D("79"))
    with pytest.raises(SecondaryClaimError, match=r"SVC\[1\].*does not balance"):
        build_secondary(
            OFFICE,
            dataclasses.replace(p, services=(line, p.services[1])),
            secondary=SUPPLEMENT,
            adjudicated=ADJUDICATED,
        )


def test_reversal_and_charge_mismatch_refused() -> None:
    reversal = dataclasses.replace(office_payment(), status=ClaimStatusCode.REVERSAL)
    with pytest.raises(SecondaryClaimError, match="CLP02 22"):
        build_secondary(OFFICE, reversal, secondary=SUPPLEMENT, adjudicated=ADJUDICATED)
    other_charge = dataclasses.replace(office_payment(), charge=D("300"))
    with pytest.raises(SecondaryClaimError, match="CLP03 300"):
        build_secondary(OFFICE, other_charge, secondary=SUPPLEMENT, adjudicated=ADJUDICATED)


def test_unmatched_line_refused() -> None:
    p = dependent_payment()
    recoded = dataclasses.replace(p.services[0], procedure="90472")
    with pytest.raises(SecondaryClaimError, match="HC:90472 charge 25 matches none"):
        build_secondary(
            DEPENDENT,
            dataclasses.replace(p, services=(recoded, *p.services[1:])),
            secondary=SUPPLEMENT,
            adjudicated=ADJUDICATED,
        )
    # SVC06 carries the code as submitted when the payer re-coded: then it matches
    recoded = dataclasses.replace(recoded, submitted_procedure="90471", submitted_qualifier="HC")
    out = build_secondary(
        DEPENDENT,
        dataclasses.replace(p, services=(recoded, *p.services[1:])),
        secondary=SUPPLEMENT,
        adjudicated=ADJUDICATED,
    )
    adj = out.lines[3].adjudications[0]
    assert adj.procedure is not None and adj.procedure.value == "90472"


def test_medicare_secondary_needs_insurance_type_and_a_date() -> None:
    no_type = dataclasses.replace(MEDICARE, insurance_type=None)
    with pytest.raises(SecondaryClaimError, match="SBR05"):
        build_secondary(OFFICE, office_payment(), secondary=no_type, adjudicated=ADJUDICATED)
    with pytest.raises(SecondaryClaimError, match="DTP\\*573"):
        build_secondary(OFFICE, office_payment(), secondary=SUPPLEMENT)

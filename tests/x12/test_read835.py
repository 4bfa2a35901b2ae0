# ruff: noqa: E501  -- the expectation tables keep one fixture per line
"""The 835 reader: every shared 835 fixture read or refused as written down, the three balancing rules,
the hand-written 835s (reversal, WO take-back, 72 authorized return, split claim, L6 interest) checked
by pyx12 and read field by field, robustness (BOM, line breaks, delimiters, several ISA/GS/ST) and
errors that name the segment.

Inputs are third-party files used as they are (or transformed in memory, each transformation
documented where it is made) and the small files in ``tests/x12/data/`` written for this module.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medbill.core.claim import AdjustmentGroup, ClaimAdjustment
from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import X12ParseError
from medbill.core.remit import (
    BankAccount,
    ClaimStatusCode,
    PostalAddress,
    ProviderAdjustment,
    RemitContact,
    RemitParty,
    Remittance,
    remit_problems,
)
from medbill.x12.read835 import grammar, known_segments, parse_835, read_835
from medbill.x12.tokenizer import Delimiters, format_segment, tokenize

DATA = Path(__file__).parent / "data"
TR3 = "x12/stupidedi-tr3-examples"
LFH = "x12/linuxforhealth-x12"
HAND_WRITTEN = (
    "835_reversal_and_correction.835",
    "835_wo_takeback.835",
    "835_authorized_return_72.835",
    "835_split_claim.835",
    "835_interest_l6.835",
)


def _text(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode("utf-8")


def _data(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def transaction_sets(root: Path, code: str) -> list[str]:
    """Every file under ``root/x12`` holding an ST with ST01 = ``code`` (found by content, not name)."""
    out = []
    for path in sorted((root / "x12").rglob("*")):
        if not path.is_file() or path.name in ("SOURCE.txt", "README.md"):
            continue
        text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
        if not text.startswith("ISA") or len(text) < 4:
            continue
        sep = re.escape(text[3])
        if re.search(rf"(?:^|[^A-Z0-9])ST{sep}{code}{sep}", text):
            out.append(path.relative_to(root).as_posix())
    return out


def outcome(text: str, **kwargs: Any) -> tuple[object, ...]:
    """("read", remittances, claims, service lines, PLB adjustments) or ("error", index, id, element, message)."""
    try:
        remits = read_835(text, **kwargs)
    except X12ParseError as exc:
        return ("error", exc.segment_index, exc.segment_id, exc.element, exc.message)
    return (
        "read",
        len(remits),
        sum(len(r.claims) for r in remits),
        sum(len(c.services) for r in remits for c in r.claims),
        sum(len(r.provider_adjustments) for r in remits),
    )


# ---------------------------------------------------------------------------------------------------
# Every shared 835 fixture, with its expected outcome

EXPECTED: dict[str, tuple[object, ...]] = {
    # linuxforhealth copies of the TR3 examples, edited by hand upstream. pyx12 4.0.0 rejects all six too.
    # BPR has 11 element separators after BPR04 where the TR3 example has 12: the payment date lands in
    # BPR15 (the payee's account number) and BPR16 is empty. (These files also write SVC01 as "HC>55669"
    # while ISA16 is ":", refused in test_svc01_without_the_isa16_component_separator.)
    f"{LFH}/835_005010X221A1__cob-contractural-adjustment.835": ("error", 4, "BPR", "BPR15", "segment 4 BPR BPR15: '20050318' without the bank it belongs to (BPR12 DFI id number qualifier and BPR13 DFI identification number); is it the payment date one element early? BPR16 is empty"),
    f"{LFH}/835_005010X221A1__secondary-payment.835": ("error", 4, "BPR", "BPR15", "segment 4 BPR BPR15: '20050412' without the bank it belongs to (BPR12 DFI id number qualifier and BPR13 DFI identification number); is it the payment date one element early? BPR16 is empty"),
    f"{LFH}/835_005010X221A1__tertiary-payment.835": ("error", 4, "BPR", "BPR15", "segment 4 BPR BPR15: '20050412' without the bank it belongs to (BPR12 DFI id number qualifier and BPR13 DFI identification number); is it the payment date one element early? BPR16 is empty"),
    # BPR16 20002316: month 23 (the TR3 example has 20020316)
    f"{LFH}/835_005010X221A1__managed-care.835": ("error", 4, "BPR", "BPR16", "segment 4 BPR BPR16: '20002316' is not a valid date"),
    # TS3 written with 4 empty elements where the TR3 has 8: the MSP and non-lab amounts land in TS309 and
    # TS311, which the 835 guide does not use (read with drop={"TS309", "TS311"}: see below)
    f"{LFH}/835_005010X221A1__medicare-part-a.835": ("error", 13, "TS3", "2000 TS309", "segment 13 TS3 2000 TS309: TS309 '138018.40' (an element not used in the 835 guide) is not carried by medbill remittances; refusing to drop it (pass drop={'TS309'} to accept losing it)"),
    f"{LFH}/demo-file__demo.835": ("error", 13, "TS3", "2000 TS309", "segment 13 TS3 2000 TS309: TS309 '138018.40' (an element not used in the 835 guide) is not carried by medbill remittances; refusing to drop it (pass drop={'TS309'} to accept losing it)"),
    # pyx12's own sample: a denied claim (CLP02 4), 3 lines with LQ*HE remarks, BPR*H notification
    "x12/pyx12/835_mult_loops.txt": ("read", 1, 1, 3, 0),
    # the seven X12 TR3 examples (pyx12 accepts them all)
    f"{TR3}/X221A1_HP835__dollars-and-data-sent-separate.edi": ("read", 1, 2, 2, 0),
    f"{TR3}/X221A1_HP835__dollars-and-data-sent-together.edi": ("read", 1, 2, 0, 1),
    f"{TR3}/X221A1_HP835__era-sample.edi": ("read", 1, 1, 5, 0),
    f"{TR3}/X221A1_HP835__multiple-claims-single-check.edi": ("read", 1, 9, 33, 0),
    f"{TR3}/X221A1_HP835__secondary-payment-with-higher-fee-schedule.edi": ("read", 1, 1, 1, 0),
    f"{TR3}/X221A1_HP835__secondary-payments.edi": ("read", 1, 2, 2, 0),
    f"{TR3}/X221A1_HP835__tertiary-payments.edi": ("read", 1, 1, 1, 0),
    # x12sdk's generated 835s: no BPR16 and no 1000A PER*BL (pyx12 reports both); neither is needed to
    # post, so they are read (payment_date None)
    "x12/x12sdk/generated-bundling-denials.835": ("read", 1, 3, 3, 0),
    "x12/x12sdk/generated-mixed-claims.835": ("read", 1, 8, 16, 0),
}  # fmt: skip

UNBALANCED: dict[str, list[tuple[str, str]]] = {}
"""Fixtures read that break a balancing rule (location, message). None does: every fixture read balances
at all three levels (the refused medicare-part-a file balances too when read with its drop keys)."""


def test_the_table_covers_every_835_fixture(fixtures_dir: Path) -> None:
    assert transaction_sets(fixtures_dir, "835") == sorted(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED), ids=lambda r: r.split("/", 1)[1][:60])
def test_fixture_outcome(fixtures_dir: Path, rel: str) -> None:
    text = _text(fixtures_dir, rel)
    assert outcome(text) == EXPECTED[rel]
    if EXPECTED[rel][0] == "read":
        problems = [(p.location, p.message) for r in read_835(text) for p in remit_problems(r)]
        assert problems == UNBALANCED.get(rel, [])


def test_refused_fixture_reads_with_its_drop_keys_and_balances(fixtures_dir: Path) -> None:
    text = _text(fixtures_dir, f"{LFH}/835_005010X221A1__medicare-part-a.835")
    with pytest.raises(X12ParseError, match=re.escape("pass drop={'TS311'}")):
        read_835(text, drop={"TS309"})
    (remit,) = read_835(text, drop={"TS309", "TS311"})
    assert remit_problems(remit) == []
    assert [s.amounts for s in remit.provider_summaries] == [
        (
            ("TS201", Decimal("2178.45")),
            ("TS202", Decimal("1919.71")),
            ("TS204", Decimal("56.82")),
            ("TS205", Decimal("197.69")),
            ("TS206", Decimal("4.23")),
        ),
        (),
    ]


def test_svc01_without_the_isa16_component_separator(fixtures_dir: Path) -> None:
    # in memory: the BPR repaired (the payment date moved from BPR15 to BPR16), so the next problem shows
    text = _text(fixtures_dir, f"{LFH}/835_005010X221A1__cob-contractural-adjustment.835")
    text = text.replace("CHK***********20050318", "CHK************20050318")
    assert outcome(text) == (
        "error",
        21,
        "SVC",
        "2110 SVC01",
        "segment 21 SVC 2110 SVC01: 'HC>55669' holds no component separator ':' (ISA16): SVC01 is a composite of a qualifier and a procedure code (HC:99213)",
    )


def test_linuxforhealth_tertiary_svc_lacks_its_procedure_code(fixtures_dir: Path) -> None:
    # in memory: the BPR repaired as above; SVC*HC*24599.00*... has the code in SVC02's place
    text = _text(fixtures_dir, f"{LFH}/835_005010X221A1__tertiary-payment.835")
    text = text.replace("CHK***********20050412", "CHK************20050412")
    assert outcome(text) == (
        "error",
        20,
        "SVC",
        "2110 SVC01",
        "segment 20 SVC 2110 SVC01: 'HC' holds no component separator ':' (ISA16): SVC01 is a composite of a qualifier and a procedure code (HC:99213)",
    )


# ---------------------------------------------------------------------------------------------------
# Field mapping on the TR3 examples


def test_dollars_and_data_together(fixtures_dir: Path) -> None:
    (r,) = read_835(_text(fixtures_dir, f"{TR3}/X221A1_HP835__dollars-and-data-sent-together.edi"))
    assert (r.control_number, r.interchange_control_number, r.group_control_number) == ("1234", "000010216", "20213")
    assert (r.handling, r.payment_amount, r.credit_debit, r.payment_method, r.payment_format) == (
        "C",
        Decimal("150000.00"),
        "C",
        "ACH",
        "CTX",
    )
    assert r.payer_account == BankAccount(
        dfi_qualifier="01", dfi_id="999999992", account_qualifier="DA", account_number="123456"
    )
    assert r.payee_account == BankAccount(
        dfi_qualifier="01", dfi_id="999988880", account_qualifier="DA", account_number="98765"
    )
    assert (r.originator_id, r.payment_date, r.production_date) == (
        "1512345678",
        dt.date(2002, 9, 13),
        dt.date(2002, 9, 16),
    )
    assert (r.trace_number, r.payer_trace_id) == ("12345", "1512345678")
    assert r.payer.name == "INSURANCE COMPANY OF TIMBUCKTU"
    assert (r.payer.identifier, r.payer.identifier_qualifier) == ("999", "2U")  # no N104: REF*2U
    assert r.payer.address == PostalAddress(line1="1 MAIN STREET", city="TIMBUCKTU", state="AK", zip="89111")
    assert r.payer.contacts == (RemitContact(function="BL", numbers=(("UR", "www.anyhealthplan.com/policies.html"),)),)
    assert (r.payee.name, r.payee.identifier_qualifier, r.payee.identifier) == (
        "REGIONAL HOPE HOSPITAL",
        "XX",
        "6543210903",
    )
    first, second = r.claims
    assert [s.header_number for s in r.provider_summaries] == ["110212", "130212"]
    summary = r.provider_summaries[0]
    assert (
        summary.provider_id,
        summary.facility_type,
        summary.fiscal_period_end,
        summary.claim_count,
        summary.total_charge,
    ) == (
        "6543210903",
        "11",
        dt.date(2002, 12, 31),
        1,
        Decimal("211366.97"),
    )
    assert summary.amounts[:3] == (
        ("TS313", Decimal("138018.4")),
        ("TS315", Decimal("73348.57")),
        ("TS201", Decimal("2178.45")),
    )
    assert (first.position, first.header_number, second.position, second.header_number) == (0, "110212", 1, "130212")
    assert (first.patient_control_number, first.status, first.charge, first.paid) == (
        "666123",
        ClaimStatusCode.PRIMARY,
        Decimal("211366.97"),
        Decimal("138018.40"),
    )
    assert (first.filing_indicator, first.payer_claim_number, first.facility_type, first.frequency) == (
        "MA",
        "1999999444444",
        "11",
        "1",
    )
    assert first.adjustments == (
        ClaimAdjustment(
            group=AdjustmentGroup.CONTRACTUAL,
            reason=Code.parse("45", system=CodeSystem.CARC),
            amount=Decimal("73348.57"),
        ),
    )
    assert (first.patient_name, first.member_id) == ("JONES, SAM O", "666666666A")
    assert first.parties == (
        RemitParty(
            role="QC",
            entity="1",
            last_name="JONES",
            first_name="SAM",
            middle_name="O",
            id_qualifier="HN",
            identifier="666666666A",
        ),
    )
    assert first.adjudication == (("MIA01", Decimal("0")), ("MIA04", Decimal("138018.4")))
    assert (first.statement_from, first.statement_to, first.quantities) == (
        dt.date(2002, 8, 16),
        dt.date(2002, 8, 24),
        (("CA", Decimal("8")),),
    )
    assert second.remarks == ("MA02",)  # MOA03
    assert r.provider_adjustments == (
        ProviderAdjustment(
            provider_id="6543210903",
            fiscal_period_end=dt.date(2002, 12, 31),
            reason="CV",
            reference="CP",
            amount=Decimal("-1.27"),
        ),
    )
    assert remit_problems(r) == []  # 150000 = 138018.40 + 11980.33 - (-1.27)


def test_dollars_and_data_separate_lines(fixtures_dir: Path) -> None:
    (r,) = read_835(_text(fixtures_dir, f"{TR3}/X221A1_HP835__dollars-and-data-sent-separate.edi"))
    assert r.payer.contacts == (
        RemitContact(function="BL", name="JOHN WAYNE", numbers=(("TE", "8005551212"), ("EX", "123"))),
    )
    assert r.payee.references == (("TJ", "777667755"),)
    claim = r.claims[1]
    assert (claim.patient_responsibility, claim.payer_claim_number) == (Decimal("600.00"), "9407779923000")
    (line,) = claim.services
    assert (line.procedure_qualifier, line.procedure, line.modifiers, line.charge, line.paid, line.units_paid) == (
        "HC",
        "93555",
        (),
        Decimal("1200.00"),
        Decimal("550.00"),
        Decimal("1"),
    )
    assert (line.service_date, line.service_date_to) == (dt.date(2002, 3, 10), dt.date(2002, 3, 12))
    assert [(a.group.value, a.reason.value, a.amount) for a in line.adjustments] == [
        ("PR", "1", Decimal("600.00")),
        ("CO", "45", Decimal("50.00")),
    ]
    assert [(a.group.value, a.reason.value, a.amount) for a in claim.adjustments] == [("CO", "A2", Decimal("55.00"))]


def test_era_sample_dental_lines_and_allowed_amounts(fixtures_dir: Path) -> None:
    (r,) = read_835(_text(fixtures_dir, f"{TR3}/X221A1_HP835__era-sample.edi"))
    (claim,) = r.claims
    assert r.payment_date == dt.date(2014, 3, 31) and r.references == (("EV", "CLEARINGHOUSE"),)
    assert claim.amounts == (("AU", Decimal("132.00")),)
    assert [p.role for p in claim.parties] == ["QC", "82"]
    assert (claim.parties[1].id_qualifier, claim.parties[1].identifier) == ("XX", "1811901945")
    assert [(s.procedure_qualifier, s.procedure, s.allowed) for s in claim.services] == [
        ("AD", "D0120", Decimal("25.00")),
        ("AD", "D0220", Decimal("14.00")),
        ("AD", "D0230", Decimal("10.00")),
        ("AD", "D0274", Decimal("34.00")),
        ("AD", "D1110", Decimal("49.00")),
    ]
    assert {s.service_date for s in claim.services} == {dt.date(2014, 3, 24)}


def test_secondary_payments(fixtures_dir: Path) -> None:
    (r,) = read_835(_text(fixtures_dir, f"{TR3}/X221A1_HP835__secondary-payments.edi"))
    first, second = r.claims
    assert first.status is ClaimStatusCode.SECONDARY and first.services == ()
    assert first.amounts == (("AU", Decimal("912.00")),)
    assert r.payee.references == (("PQ", "10488"),) and r.payee.address is not None
    line = second.services[1]
    assert (line.procedure, line.modifiers, line.revenue_code, line.units_paid) == (
        "66543",
        ("26",),
        "220",
        Decimal("1"),
    )
    assert [(a.group.value, a.reason.value, a.amount) for a in line.adjustments] == [
        ("PR", "1", Decimal("150.00")),
        ("PR", "2", Decimal("70.00")),
        ("CO", "42", Decimal("85.00")),
    ]
    assert (line.references, line.allowed) == ((("1B", "43285"),), Decimal("500.00"))
    assert second.parties[1] == RemitParty(
        role="82", entity="2", last_name="SMITH JONES PA", id_qualifier="BS", identifier="34426"
    )


def test_negative_adjustment_and_denied_claim(fixtures_dir: Path) -> None:
    (r,) = read_835(_text(fixtures_dir, f"{TR3}/X221A1_HP835__secondary-payment-with-higher-fee-schedule.edi"))
    assert [(a.reason.value, a.amount) for a in r.claims[0].services[0].adjustments] == [
        ("23", Decimal("516.00")),
        ("94", Decimal("-9.00")),
    ]
    (r,) = read_835(_text(fixtures_dir, "x12/pyx12/835_mult_loops.txt"))
    (claim,) = r.claims
    assert (r.handling, r.payment_amount, r.payment_method) == ("H", Decimal("0.00"), "NON")
    assert (claim.status, claim.paid, claim.member_id) == (ClaimStatusCode.DENIED, Decimal("0.00"), "00001612")
    assert [
        (s.units_paid, s.remarks, s.adjustments[0].group.value, s.adjustments[0].reason.value) for s in claim.services
    ] == [
        (Decimal("68"), ("N14",), "CO", "16"),
        (Decimal("16"), ("N14",), "OA", "A7"),
        (Decimal("36"), ("N14",), "OA", "A7"),
    ]


def test_known_segments_carry_all_but_rdm() -> None:
    known = known_segments()
    assert [(loop, label) for loop, label, carried in known if not carried] == [("1000B", "RDM")]
    labels = {label for _loop, label, _c in known}
    assert {
        "BPR",
        "TRN*1",
        "CUR*PR",
        "DTM*405",
        "N1*PR",
        "N1*PE",
        "LX",
        "TS3",
        "TS2",
        "CLP",
        "CAS",
        "MIA",
        "MOA",
        "SVC",
        "LQ*HE/RX",
        "PLB",
        "REF*6R",
    } <= labels
    assert grammar().id == "ST"


# ---------------------------------------------------------------------------------------------------
# Hand-written 835s: pyx12 accepts them; they read and balance


def pyx12_errors(text: str) -> list[str]:
    """Every error pyx12 4.0.0 reports (its 005010X221A1 map; fd_json error tree)."""
    import pyx12.params
    import pyx12.x12n_document

    ack, js = io.StringIO(), io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=ack, fd_html=None, fd_json=js
    )
    out: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            here = f"{node['seg_id']}@{node.get('cur_line')}" if "seg_id" in node else where
            out.extend(f"{here}: {e.get('err_cde')} {e.get('err_str')}" for e in node.get("errors") or [])
            for key, value in node.items():
                if key != "errors":
                    walk(value, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(json.loads(js.getvalue()), "")
    if not ok and not out:
        out.append("pyx12 returned False without an error entry")
    return out


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_pyx12_accepts_the_hand_written_835(name: str) -> None:
    text = _data(name)
    assert "*005010X221A1~" in text.split("\n")[1]  # GS08 exactly: pyx12 has no map for anything else
    assert len(text) < 2_000
    assert pyx12_errors(text) == []


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_hand_written_835_reads_and_balances(name: str) -> None:
    (remit,) = read_835(_data(name))
    assert remit_problems(remit) == []


def test_reversal_then_correction() -> None:
    (r,) = read_835(_data("835_reversal_and_correction.835"))
    reversal, correction = r.claims
    assert [c.patient_control_number for c in r.claims] == ["PCN1001", "PCN1001"]  # CLP01 is not a key
    assert [(c.status, c.position, c.payer_claim_number) for c in r.claims] == [
        (ClaimStatusCode.REVERSAL, 0, "ICN20260001"),
        (ClaimStatusCode.PRIMARY, 1, "ICN20260002"),
    ]
    assert (reversal.charge, reversal.paid, reversal.patient_responsibility) == (
        Decimal("-200.00"),
        Decimal("-120.00"),
        Decimal("-30.00"),
    )
    (line,) = reversal.services
    assert (line.charge, line.paid, line.control_number) == (Decimal("-200.00"), Decimal("-120.00"), "PCN1001-1")
    # negated amounts under the original group codes (5010 has no CR group)
    assert [(a.group, a.reason.value, a.amount) for a in line.adjustments] == [
        (AdjustmentGroup.CONTRACTUAL, "45", Decimal("-50.00")),
        (AdjustmentGroup.PATIENT_RESPONSIBILITY, "2", Decimal("-30.00")),
    ]
    assert correction.references == (("F8", "ICN20260001"),)
    assert (correction.paid, correction.services[0].allowed) == (Decimal("140.00"), Decimal("160.00"))
    assert r.payment_amount == reversal.paid + correction.paid == Decimal("20.00")


def test_wo_takeback_refers_to_a_claim() -> None:
    (r,) = read_835(_data("835_wo_takeback.835"))
    assert r.provider_adjustments == (
        ProviderAdjustment(
            provider_id="1234567893",
            fiscal_period_end=dt.date(2026, 12, 31),
            reason="WO",
            reference="ICN20259999",
            amount=Decimal("75.00"),
        ),
    )
    assert r.payment_amount == r.claims[0].paid - Decimal("75") == Decimal("25.00")


def test_authorized_return_offsets_the_reversal() -> None:
    (r,) = read_835(_data("835_authorized_return_72.835"))
    (claim,) = r.claims
    assert (r.handling, r.payment_method, r.payment_amount) == ("H", "NON", Decimal("0.00"))
    assert (claim.status, claim.paid) == (ClaimStatusCode.REVERSAL, Decimal("-180.00"))
    (plb,) = r.provider_adjustments
    assert (plb.reason, plb.reference, plb.amount) == ("72", "ICN20258888", Decimal("-180.00"))


def test_split_claim_is_two_clps() -> None:
    (r,) = read_835(_data("835_split_claim.835"))
    first, second = r.claims
    assert first.patient_control_number == second.patient_control_number == "PCN4001"
    assert (first.payer_claim_number, second.payer_claim_number) == ("ICN20260041", "ICN20260042")
    assert [s.control_number for c in r.claims for s in c.services] == ["PCN4001-1", "PCN4001-2", "PCN4001-3"]
    assert first.charge + second.charge == Decimal("450.00")
    assert r.payment_amount == Decimal("310.00")


def test_interest_is_a_negative_plb() -> None:
    (r,) = read_835(_data("835_interest_l6.835"))
    (plb,) = r.provider_adjustments
    assert (plb.reason, plb.reference, plb.amount) == ("L6", "ICN20260051", Decimal("-2.35"))
    assert r.payment_amount == Decimal("98.35") and r.claims[0].received == dt.date(2025, 12, 1)


# ---------------------------------------------------------------------------------------------------
# Balancing is reported, never raised


def test_what_does_not_balance_is_flagged(fixtures_dir: Path) -> None:
    # in memory: BPR02 raised by 10; the first line's CO-131 21 made 22 (claim and line then differ by 1)
    text = _text(fixtures_dir, f"{TR3}/X221A1_HP835__multiple-claims-single-check.edi")
    text = text.replace("BPR*I*810.8*", "BPR*I*820.8*").replace("CAS*CO*131*21~", "CAS*CO*131*22~", 1)
    (r,) = read_835(text)
    assert [(p.location, p.message) for p in remit_problems(r)] == [
        ("BPR02", "payment 820.80 ≠ claims paid 810.80 − provider adjustments 0 = 810.80"),
        ("claims[0]", "CLP03 226.00 − CLP04 132.00 ≠ adjustments 95.00"),
        ("claims[0].services[0]", "SVC02 46.00 − SVC03 25.00 ≠ adjustments 22.00"),
    ]


# ---------------------------------------------------------------------------------------------------
# Robustness: byte-order mark, line breaks, other delimiters, several ISA/GS/ST


def redelimit(text: str, d: Delimiters) -> str:
    """``text`` written again with the delimiters ``d`` (ISA11 and ISA16 changed to match)."""
    out = []
    for interchange in tokenize(text).interchanges:
        for seg in interchange.segments:
            if seg.id == "ISA":
                elements = list(seg.elements)
                elements[10], elements[15] = d.repetition or "U", d.component
                seg = seg._replace(elements=tuple(elements))
            out.append(format_segment(seg, d) + d.segment)
    return "".join(out)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: "\ufeff" + t,
        lambda t: t.replace("~\n", "~\r\n"),
        lambda t: t.replace("~\n", "~"),
        lambda t: "\ufeff" + t.replace("~\n", "~"),
        lambda t: redelimit(t, Delimiters("|", "}", "'", "^")),
        lambda t: redelimit(t, Delimiters("*", ">", "\n", "^")),
        lambda t: redelimit(t, Delimiters("^", "\\", "~", "{")),
    ],
    ids=["bom", "crlf", "no-line-breaks", "bom-no-breaks", "pipe-brace-quote", "newline-terminator", "caret-backslash"],
)
def test_same_records_whatever_the_layout(fixtures_dir: Path, change: Any) -> None:
    text = _text(fixtures_dir, f"{TR3}/X221A1_HP835__dollars-and-data-sent-together.edi")
    assert read_835(change(text)) == read_835(text)


def _segments(text: str) -> list[str]:
    return [s for s in text.replace("\n", "").split("~") if s]


def test_several_st_in_one_group_and_several_groups_and_interchanges() -> None:
    texts = [_data(n) for n in HAND_WRITTEN]
    singles = [read_835(t)[0] for t in texts]
    # in memory: the five STs moved into one GS (GE01 5), then that interchange twice more with other ISA13
    segs = [_segments(t) for t in texts]
    body = [s for ss in segs for s in ss if not s.startswith(("ISA", "GS", "GE", "IEA"))]
    one_group = "~\n".join([segs[0][0], segs[0][1], *body, "GE*5*101", "IEA*1*000000101"]) + "~\n"
    remits = read_835(one_group)
    assert [r.trace_number for r in remits] == [r.trace_number for r in singles]
    assert [r.claims for r in remits] == [r.claims for r in singles]
    second = one_group.replace("000000101", "000000201").replace("*101*X*", "*201*X*").replace("GE*5*101", "GE*5*201")
    third = redelimit(one_group.replace("000000101", "000000301"), Delimiters("|", ">", "'", "^"))
    remits = read_835(one_group + second + third)
    assert len(remits) == 15
    assert [r.interchange_control_number for r in remits[::5]] == ["000000101", "000000201", "000000301"]
    assert [r.group_control_number for r in remits[::5]] == ["101", "201", "101"]
    assert [r.claims for r in remits[10:]] == [r.claims for r in singles]


# ---------------------------------------------------------------------------------------------------
# Errors name the segment


def recount(text: str) -> str:
    """SE01 set to the number of segments ST..SE (each transaction set), after segments were added."""
    out, count = [], 0
    for seg in text.split("~\n"):
        if seg.startswith("ST*"):
            count = 0
        count += 1
        if seg.startswith("SE*"):
            seg = re.sub(r"^SE\*\d+", f"SE*{count}", seg)
        out.append(seg)
    return "~\n".join(out)


def _mutate(text: str, old: str, new: str) -> str:
    """``old`` replaced by ``new`` once, SE01 recounted (so the error shown is the one made here)."""
    assert old in text, old
    return recount(text.replace(old, new, 1))


WO = "835_wo_takeback.835"
ERRORS: list[tuple[str, str, str, tuple[object, ...]]] = [
    # (what, old, new, ("error", index, id, element, message))
    ("unknown status", "CLP*PCN2002*1*", "CLP*PCN2002*7*", ("error", 14, "CLP", "2100 CLP02", "segment 14 CLP 2100 CLP02: '7' is not a claim status code medbill remittances carry (1, 2, 3, 4, 19, 20, 21, 22, 23, 25)")),
    ("CR group", "CAS*CO*45*50", "CAS*CR*45*50", ("error", 18, "CAS", "2110 CAS01", "segment 18 CAS 2110 CAS01: 'CR' is not a claim adjustment group code medbill remittances carry (CO, PR, OA, PI)")),
    ("bad amount", "CLP*PCN2002*1*150*100*", "CLP*PCN2002*1*150*1O0*", ("error", 14, "CLP", "2100 CLP04", "segment 14 CLP 2100 CLP04: '1O0' is not an amount")),
    ("sub-cent amount", "CAS*CO*45*50", "CAS*CO*45*50.005", ("error", 18, "CAS", "2110 CAS03", "segment 18 CAS 2110 CAS03: '50.005' is not a whole number of cents")),
    ("bad CARC", "CAS*CO*45*50", "CAS*CO*XYZ1*50", ("error", 18, "CAS", "2110 CAS02", "segment 18 CAS 2110 CAS02: 'XYZ1' is not a well-formed CARC code")),
    ("segment not in the 835", "DTM*472*20260305~", "DTM*472*20260305~\nHI*ABK:M1711~", ("error", 18, "HI", None, "segment 18 HI: HI*ABK is not expected here: it is not part of loop 2110 (service payment information) after DTM*472 (segment 17) in the 835 guide")),
    ("SVC before CLP", "CLP*PCN2002*1*150*100**12*ICN20260010*11*1~\nNM1*QC*1*DOE*JANE****MI*W123456789~\n", "", ("error", 14, "SVC", None, "segment 14 SVC: SVC is not expected here: it is not part of loop 2000 (header number) after LX (segment 13) in the 835 guide")),
    ("no payee", "N1*PE*MEDBILL TEST CLINIC*XX*1234567893~\nREF*TJ*123456789~\n", "", ("error", 11, "LX", None, "segment 11 LX: loop ST (transaction set) needs loop 1000B (payee identification) before loop 2000 (header number)")),
    ("two BPR", "TRN*1*", "BPR*I*25*C*CHK************20260415~\nTRN*1*", ("error", 5, "BPR", None, "segment 5 BPR: BPR (financial information) may occur once in loop ST; this is one more")),
    ("RDM not carried", "REF*TJ*123456789~", "REF*TJ*123456789~\nRDM*BM*PROVIDER*~", ("error", 13, "RDM", None, "segment 13 RDM: RDM (remittance delivery method, loop 1000B) is not carried by medbill remittances; refusing to drop it (pass drop={'RDM'} to accept losing it)")),
    ("CLP10 not used", "ICN20260010*11*1~", "ICN20260010*11*1*01~", ("error", 14, "CLP", "2100 CLP10", "segment 14 CLP 2100 CLP10: CLP10 '01' (patient status code; not used in the 835 guide) is not carried by medbill remittances; refusing to drop it (pass drop={'CLP10'} to accept losing it)")),
    ("bad RARC", "AMT*B6*100~", "AMT*B6*100~\nLQ*HE*X99~", ("error", 21, "LQ", "2110 LQ02", "segment 21 LQ 2110 LQ02: 'X99' is not a well-formed RARC code")),
    ("PLB amount missing", "WO:ICN20259999*75", "WO:ICN20259999*", ("error", 21, "PLB", "PLB04", "segment 21 PLB PLB04: adjustment WO has no amount")),
    ("PLB no reason", "WO:ICN20259999*75", ":ICN20259999*75", ("error", 21, "PLB", "PLB03-1", "segment 21 PLB PLB03-1: an adjustment without its reason code")),
    ("wrong SE01", "SE*20*0001", "SE*19*0001", ("error", 22, "SE", "SE01", "segment 22 SE SE01: says 19 but there are 20 segments in the transaction set (ST through SE)")),
    ("wrong version", "*X*005010X221A1", "*X*005010X221", ("error", 2, "GS", "GS08", "segment 2 GS GS08: version 005010X221 is not the 835 guide 005010X221A1")),
    ("not an 835", "ST*835*0001", "ST*999*0001", ("error", 3, "ST", "ST01", "segment 3 ST ST01: is 999: read_835 reads 835 remittance transactions")),
    ("bad date", "DTM*472*20260305", "DTM*472*20260231", ("error", 17, "DTM", "2110 DTM02", "segment 17 DTM 2110 DTM02: '20260231' is not a valid date")),
    ("two service dates", "DTM*472*20260305~", "DTM*472*20260305~\nDTM*150*20260305~", ("error", 18, "DTM", "2110 DTM01", "segment 18 DTM 2110 DTM01: DTM*150: the line already has its service date")),
    ("no IEA", "GE*1*102~\nIEA*1*000000102~\n", "GE*1*102~\n", ("error", 23, "GE", None, "segment 23 GE: the interchange begun by ISA at segment 1 has no IEA")),
]  # fmt: skip


@pytest.mark.parametrize("what,old,new,expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_segment(what: str, old: str, new: str, expected: tuple[object, ...]) -> None:
    text = _mutate(_data(WO), old, new) if what != "wrong SE01" else _data(WO).replace(old, new)
    assert outcome(text) == expected


def test_drop_keys_accept_the_loss() -> None:
    text = _mutate(_data(WO), "REF*TJ*123456789~", "REF*TJ*123456789~\nRDM*BM*PROVIDER*~")
    text = _mutate(text, "ICN20260010*11*1~", "ICN20260010*11*1*01~")
    with pytest.raises(X12ParseError, match="CLP10"):
        read_835(text, drop={"RDM"})
    assert read_835(text, drop={"RDM", "CLP10"}) == read_835(_data(WO))


def test_plb_with_six_adjustments() -> None:
    pairs = "*WO:A*1*FB:B*2*L6:C*-3*72:D*-4*J1:E*5*CS*6"
    text = _mutate(_data(WO), "*WO:ICN20259999*75", pairs).replace("BPR*I*25*", "BPR*I*93*")
    (r,) = read_835(text)
    assert [(p.reason, p.reference, p.amount) for p in r.provider_adjustments] == [
        ("WO", "A", Decimal("1.00")),
        ("FB", "B", Decimal("2.00")),
        ("L6", "C", Decimal("-3.00")),
        ("72", "D", Decimal("-4.00")),
        ("J1", "E", Decimal("5.00")),
        ("CS", None, Decimal("6.00")),
    ]
    assert remit_problems(r) == []  # 93 = 100 - (1 + 2 - 3 - 4 + 5 + 6)


def test_empty_and_garbage_are_errors() -> None:
    assert outcome("") == ("error", 1, None, None, "segment 1: no X12 data: the text is empty")
    assert outcome("hello") == (
        "error",
        1,
        "hel",
        None,
        "segment 1 hel: an X12 interchange starts with ISA, found 'hello'",
    )
    assert parse_835(_data(WO))[0].root.children[-1].id == "PLB"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_never_a_traceback(data: st.DataObject) -> None:
    """Random damage (segments dropped, repeated, swapped; characters changed) is read or refused."""
    segs = _segments(_data("835_split_claim.835"))
    for _ in range(data.draw(st.integers(1, 3))):
        k = data.draw(st.integers(0, len(segs) - 1))
        action = data.draw(st.sampled_from(["drop", "repeat", "swap", "char"]))
        if action == "drop" and len(segs) > 1:
            del segs[k]
        elif action == "repeat":
            segs.insert(k, segs[k])
        elif action == "swap" and k + 1 < len(segs):
            segs[k], segs[k + 1] = segs[k + 1], segs[k]
        elif action == "char" and segs[k]:
            i = data.draw(st.integers(0, len(segs[k]) - 1))
            segs[k] = segs[k][:i] + data.draw(st.sampled_from(list("*:~-.0A ^"))) + segs[k][i + 1 :]
    text = "~\n".join(segs) + "~\n"
    try:
        remits = read_835(text)
    except X12ParseError as exc:
        assert exc.segment_index is not None or exc.message
        return
    for remit in remits:
        assert isinstance(remit, Remittance)
        remit_problems(remit)


# ---------------------------------------------------------------------------------------------------
# The benchmark's file


def _bench() -> ModuleType:
    name = "medbill_bench_remit_speed"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parents[2] / "bench" / "remit_speed.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_file_is_valid_and_balanced(fixtures_dir: Path) -> None:
    bench = _bench()
    text = bench.build_835(_text(fixtures_dir, bench.FIXTURE), 40)
    (remit,) = read_835(text)
    assert len(remit.claims) == 40 and remit_problems(remit) == []
    assert len({c.patient_control_number for c in remit.claims}) == 40
    assert pyx12_errors(text) == []


def test_benchmark_runs(fixtures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    rc = bench.main(["--n", "60", "--reps", "1", "--no-pyx12", "--fixtures", str(fixtures_dir)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    rows = [line.split()[0] for line in printed.splitlines()]
    assert "medbill" in rows and "x12sdk" in rows
    assert re.search(r"x12sdk 2\.2\.0 models\s+60 ", printed)

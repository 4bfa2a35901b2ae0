"""The denial/underpayment worklist, the CARC table and expected allowed amounts (PFS and contract)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from medbill.codesets.records import GpciRow, RvuRow
from medbill.core.claim import Claim, ServiceLine
from medbill.core.codes import Code, CodeSystem
from medbill.ledger.actions import charge_batch
from medbill.ledger.denials import (
    QP_CONVERSION_FACTOR_2026,
    ContractFeeSchedule,
    PfsFeeSource,
    PfsSettings,
    WorkKind,
    denial_worklist,
    expected_allowed,
)
from medbill.ledger.memory import InMemoryLedger
from medbill.ledger.posting import apply, plan_posting
from medbill.ledger.reasons import (
    _TABLE,
    ReasonCategory,
    ScrubHint,
    group_text,
    next_action,
    reason_category,
    responsibility_type,
    scrub_hint,
)
from tests.ledger.builders import D, cas, clp, office, remit, svc

TEXTS = {
    ("CARC", "97"): "The benefit for this service is included in the payment/allowance for another service.",
    ("CARC", "204"): "This service/equipment/drug is not covered under the patient's current benefit plan",
    ("RARC", "M15"): "Separately billed services/tests have been bundled as they are considered components.",
}


def describe(system: str, code: str) -> str | None:
    return TEXTS.get((system, code))


MD01 = GpciRow(mac="12302", state="MD", locality="01", name="BALTIMORE/SURROUNDING COUNTIES",
               work=D("1.020"), pe=D("1.122"), mp=D("0.934"))  # fmt: skip


def _rvu(code: str, modifier: str, work: str, nf_pe: str, f_pe: str, mp: str, **attrs: str) -> RvuRow:
    base = {"mult_proc": "0", "bilat_surg": "0", "asst_surg": "0", "co_surg": "0", "pctc_ind": "0"}
    base.update(attrs)
    return RvuRow(
        code=code,
        modifier=modifier,
        status="A",
        work_rvu=D(work),
        nonfacility_pe_rvu=D(nf_pe),
        facility_pe_rvu=D(f_pe),
        mp_rvu=D(mp),
        conversion_factor=D("33.4009"),
        global_days="XXX",
        attrs=base,
    )


# values as in the CY 2026 PPRRVU file (July release)
ROWS = [
    _rvu("99214", "", "1.92", "2.00", "0.47", "0.14"),
    _rvu("20610", "", "0.77", "1.16", "0.29", "0.13", mult_proc="2", bilat_surg="1", asst_surg="1"),
    _rvu("20611", "", "1.10", "1.80", "0.40", "0.15", mult_proc="2", bilat_surg="1", asst_surg="2", co_surg="1"),
    _rvu("71046", "", "0.21", "0.76", "0.76", "0.02", pctc_ind="1"),
    _rvu("71046", "26", "0.21", "0.08", "0.08", "0.01", pctc_ind="1"),
    _rvu("71046", "TC", "0.00", "0.68", "0.68", "0.01", pctc_ind="1"),
]


def _fee(
    rvu: tuple[str, str, str], gpci: tuple[str, str, str] = ("1.020", "1.122", "0.934"), cf: str = "33.4009"
) -> Decimal:
    """The PFS formula written out independently: Σ RVU × GPCI × CF, rounded half up to cents."""
    total = sum((D(r) * D(g) for r, g in zip(rvu, gpci, strict=True)), D("0"))
    return (total * D(cf)).quantize(D("0.01"), rounding="ROUND_HALF_UP")


def _line(code: str, *mods: str, number: int = 1, pos: str | None = None, units: str = "1") -> ServiceLine:
    return ServiceLine(
        line_number=number,
        procedure=Code.parse(code, system=CodeSystem.CPT),
        modifiers=tuple(Code.parse(m, system=CodeSystem.MODIFIER) for m in mods),
        charge=D("100.00"),
        units=D(units),
        service_date=dt.date(2026, 3, 2),
        place_of_service=Code.parse(pos, system=CodeSystem.POS) if pos else None,
    )


PFS = PfsFeeSource(ROWS, PfsSettings(locality=MD01))


def test_pfs_non_facility_facility_and_qp_conversion_factor() -> None:
    assert _fee(("1.92", "2.00", "0.14")) == D("144.73")
    assert expected_allowed(_line("99214"), PFS).amount == D("144.73")  # type: ignore[union-attr]
    assert expected_allowed(_line("99214", pos="22"), PFS).amount == _fee(("1.92", "0.47", "0.14")) == D("87.39")  # type: ignore[union-attr]
    qp = PfsFeeSource(ROWS, PfsSettings(locality=MD01, conversion_factor=QP_CONVERSION_FACTOR_2026))
    assert expected_allowed(_line("99214"), qp).amount == _fee(("1.92", "2.00", "0.14"), cf="33.5675") == D("145.45")  # type: ignore[union-attr]
    nonpar = PfsFeeSource(ROWS, PfsSettings(locality=MD01, participating=False))
    assert expected_allowed(_line("99214"), nonpar).amount == (D("144.73") * D("0.95")).quantize(D("0.01"))  # type: ignore[union-attr]
    assert expected_allowed(_line("99214", units="2"), PFS).amount == D("289.46")  # type: ignore[union-attr]
    assert expected_allowed(_line("99999"), PFS) is None


def test_pfs_professional_and_technical_components() -> None:
    assert expected_allowed(_line("71046", "26"), PFS).amount == _fee(("0.21", "0.08", "0.01"))  # type: ignore[union-attr]
    assert expected_allowed(_line("71046", "TC"), PFS).amount == _fee(("0.00", "0.68", "0.01"))  # type: ignore[union-attr]
    assert expected_allowed(_line("71046"), PFS).amount == _fee(("0.21", "0.76", "0.02"))  # type: ignore[union-attr]


def test_pfs_multiple_procedure_bilateral_assistant_and_co_surgeon() -> None:
    a = _line("20610", number=1)
    b = _line("20611", number=2)
    claim = dataclasses.replace(office(), lines=(a, b))
    fee_a, fee_b = _fee(("0.77", "1.16", "0.13")), _fee(("1.10", "1.80", "0.15"))
    assert fee_b > fee_a
    assert expected_allowed(b, PFS, claim=claim).amount == fee_b  # type: ignore[union-attr]
    reduced = expected_allowed(a, PFS, claim=claim)
    assert reduced is not None and reduced.amount == (fee_a * D("0.5")).quantize(D("0.01"))
    assert "rank 2: 50%" in reduced.basis
    assert expected_allowed(_line("20610", "50"), PFS).amount == (fee_a * D("1.5")).quantize(D("0.01"))  # type: ignore[union-attr]
    assert expected_allowed(_line("20610", "80"), PFS).amount == 0  # type: ignore[union-attr]  # assistant indicator 1
    assert expected_allowed(_line("20611", "80"), PFS).amount == (fee_b * D("0.16")).quantize(D("0.01"))  # type: ignore[union-attr]
    assert expected_allowed(_line("20611", "62"), PFS).amount == (fee_b * D("0.625")).quantize(D("0.01"))  # type: ignore[union-attr]


def test_contract_fee_schedule() -> None:
    contract = ContractFeeSchedule("TESTCI 2025", {"99214": D("130.00"), "71046-26": D("11.00")})
    assert expected_allowed(_line("99214", units="2"), contract).amount == D("260.00")  # type: ignore[union-attr]
    assert expected_allowed(_line("71046", "26"), contract).amount == D("11.00")  # type: ignore[union-attr]
    assert expected_allowed(_line("71046"), contract) is None


def _posted(claim: Claim, *remits: object) -> InMemoryLedger:
    store = InMemoryLedger()
    store.append([charge_batch(claim, on=dt.date(2025, 3, 10))])
    for r in remits:
        apply(plan_posting(r, {claim.id: claim}, store), store)  # type: ignore[arg-type]
    return store


def _bundled_denial(allowed_1: str = "120.00", paid_1: str = "100.00", pr_1: str = "20.00") -> object:
    co = str(D("185.00") - D(allowed_1))
    return remit(
        clp(
            "TESTPCN0001",
            "327.50",
            paid_1,
            [
                svc("99214", "185.00", paid_1, cas("CO", "45", co), cas("PR", "3", pr_1), control="TESTLINE0001",
                    allowed=allowed_1),
                svc("20610", "142.50", "0", cas("CO", "97", "142.50"), control="TESTLINE0002", remarks=("M15",)),
            ],
        )
    )  # fmt: skip


def test_worklist_lists_the_bundled_line_with_texts_category_action_and_scrub_rule() -> None:
    claim = office()
    store = _posted(claim, _bundled_denial())
    [item] = denial_worklist(store.entries(), describe=describe, claims={claim.id: claim})
    assert (item.claim_id, item.line_number, item.kind) == (claim.id, 2, WorkKind.DENIED)
    assert item.category is ReasonCategory.BUNDLING
    assert item.scrub_rule == ScrubHint("ncci", "NCCI001")
    assert item.denied == D("142.50") and item.paid == 0 and item.procedure == "20610"
    [reason] = item.reasons
    assert (reason.group, reason.carc, reason.amount) == ("CO", "97", D("142.50"))
    assert reason.carc_text == TEXTS[("CARC", "97")]
    assert "not billable to the patient" in reason.group_text
    assert "NCCI" in item.next_action
    assert [(r.code, r.text) for r in item.remarks] == [("M15", TEXTS[("RARC", "M15")])]
    assert item.trace == "TRACE0001"


def test_worklist_drops_a_denial_that_was_reversed_and_paid() -> None:
    claim = office()
    denial = _bundled_denial()
    reversal = clp(
        "TESTPCN0001",
        "-142.50",
        "0",
        [svc("20610", "-142.50", "0", cas("CO", "97", "-142.50"), control="TESTLINE0002")],
        status="22",
    )
    corrected = clp(
        "TESTPCN0001",
        "142.50",
        "80.00",
        [svc("20610", "142.50", "80.00", cas("CO", "45", "62.50"), control="TESTLINE0002")],
        icn="ICN0002",
    )
    store = _posted(claim, denial, remit(reversal, corrected, trace="TRACE0002"))
    assert denial_worklist(store.entries(), describe=describe) == []


def test_underpayment_uses_the_allowed_amount_never_the_paid_amount() -> None:
    claim = office()
    store = _posted(claim, _bundled_denial())
    contract = ContractFeeSchedule("TESTCI", {"99214": D("130.00")})
    items = denial_worklist(store.entries(), describe=describe, claims={claim.id: claim}, fee_source=contract)
    under = [i for i in items if i.kind is WorkKind.UNDERPAID]
    [item] = under
    assert (item.line_number, item.allowed, item.expected_allowed, item.variance) == (
        1,
        D("120.00"),
        D("130.00"),
        D("10.00"),
    )
    assert item.paid == D("100.00")
    assert item.category is ReasonCategory.PRICING
    assert not [
        i for i in denial_worklist(store.entries(), describe=describe, claims={claim.id: claim}, fee_source=contract,
                                   tolerance=D("10.00")) if i.kind is WorkKind.UNDERPAID
    ]  # fmt: skip
    paid_in_full = ContractFeeSchedule("TESTCI", {"99214": D("120.00")})
    items = denial_worklist(store.entries(), describe=describe, claims={claim.id: claim}, fee_source=paid_in_full)
    assert [i.kind for i in items] == [WorkKind.DENIED]


def test_allowed_without_amt_b6_is_paid_plus_patient_share_plus_sequestration() -> None:
    claim = office()
    medicare = remit(
        clp(
            "TESTPCN0001",
            "185.00",
            "78.40",
            [svc("99214", "185.00", "78.40", cas("CO", "45", "85.00"), cas("CO", "253", "1.60"),
                 cas("PR", "2", "20.00"), control="TESTLINE0001")],
        )
    )  # fmt: skip
    store = _posted(claim, medicare)
    contract = ContractFeeSchedule("MEDICARE", {"99214": D("100.00")})
    items = denial_worklist(store.entries(), describe=describe, claims={claim.id: claim}, fee_source=contract)
    assert [i for i in items if i.line_number == 1] == []  # 78.40 + 20.00 + 1.60 = 100.00 allowed
    contract = ContractFeeSchedule("MEDICARE", {"99214": D("110.00")})
    items = denial_worklist(store.entries(), describe=describe, claims={claim.id: claim}, fee_source=contract)
    [item] = [i for i in items if i.line_number == 1]
    assert (item.allowed, item.variance) == (D("100.00"), D("10.00"))


def test_patient_responsibility_non_covered_is_a_denial_and_closed_claims_are_left_out() -> None:
    claim = office()
    r = remit(
        clp(
            "TESTPCN0001",
            "185.00",
            "0",
            [svc("99214", "185.00", "0", cas("PR", "204", "185.00"), control="TESTLINE0001")],
        )
    )
    store = _posted(claim, r)
    [item] = denial_worklist(store.entries(), describe=describe)
    assert item.category is ReasonCategory.NON_COVERED
    assert item.reasons[0].group == "PR" and "patient" in item.reasons[0].group_text
    assert denial_worklist(store.entries(), describe=describe, closed={claim.id}) == []


def test_reason_table() -> None:
    expected = {
        "1": ReasonCategory.COST_SHARING,
        "2": ReasonCategory.COST_SHARING,
        "3": ReasonCategory.COST_SHARING,
        "4": ReasonCategory.CODING,
        "11": ReasonCategory.CODING,
        "16": ReasonCategory.MISSING_INFORMATION,
        "18": ReasonCategory.DUPLICATE,
        "22": ReasonCategory.COORDINATION_OF_BENEFITS,
        "27": ReasonCategory.ELIGIBILITY,
        "29": ReasonCategory.TIMELY_FILING,
        "45": ReasonCategory.PRICING,
        "50": ReasonCategory.MEDICAL_NECESSITY,
        "96": ReasonCategory.NON_COVERED,
        "97": ReasonCategory.BUNDLING,
        "109": ReasonCategory.COORDINATION_OF_BENEFITS,
        "119": ReasonCategory.NON_COVERED,
        "146": ReasonCategory.CODING,
        "167": ReasonCategory.MEDICAL_NECESSITY,
        "170": ReasonCategory.PROVIDER_ELIGIBILITY,
        "185": ReasonCategory.PROVIDER_ELIGIBILITY,
        "197": ReasonCategory.AUTHORIZATION,
        "204": ReasonCategory.NON_COVERED,
        "236": ReasonCategory.BUNDLING,
        "242": ReasonCategory.PROVIDER_ELIGIBILITY,
        "252": ReasonCategory.MISSING_INFORMATION,
        "253": ReasonCategory.PRICING,
        "23": ReasonCategory.PRIOR_PAYER,
        "ZZZ": ReasonCategory.OTHER,
    }
    assert {c: reason_category(c) for c in expected} == expected
    assert scrub_hint("11") == ScrubHint("codes") and scrub_hint("29") == ScrubHint("structure", "STR012")
    assert scrub_hint(Code.parse("236", system=CodeSystem.CARC)) == ScrubHint("ncci", "NCCI001")
    assert scrub_hint("45") is None
    assert [responsibility_type(c).value for c in ("1", "2", "3", "96")] == [
        "deductible",
        "coinsurance",
        "copay",
        "other",
    ]
    assert "5010" in group_text("CR") and "Payer-initiated" in group_text("PI")
    assert "correct payer" in next_action("109")
    codes = [c for codes in _TABLE.values() for c in codes]
    assert len(codes) == len(set(codes)), "a CARC in two categories"


def test_scrub_hints_name_registered_rules() -> None:
    from medbill.ledger import reasons
    from medbill.scrub import get_rule

    for carc, hint in reasons._SCRUB.items():
        if hint.rule is not None:
            rule = get_rule(hint.rule)
            assert rule is not None, f"CARC {carc}: no scrub rule {hint.rule}"
            assert rule.family == hint.family, carc


def test_every_mapped_carc_is_in_the_official_list(source_dir: Path) -> None:
    with open(source_dir / "carc-rarc" / "DERIVED_carc_clean.csv", newline="", encoding="utf-8") as f:
        official = {row["code"] for row in csv.DictReader(f)}
    assert len(official) > 300
    codes = {c for codes in _TABLE.values() for c in codes}
    assert codes - official == set()


def test_pfs_from_the_official_files(source_dir: Path) -> None:
    from medbill.codesets.pfs import parse_gpci_file, parse_rvu_file

    folder = source_dir / "mpfs-2026"
    wanted = {"99214", "20610", "71046"}
    rows = [r for r in parse_rvu_file(folder / "PPRRVU2026_Jul_nonQPP_no_cpt_descriptors.csv") if r.code in wanted]
    md01 = next(g for g in parse_gpci_file(folder / "GPCI2026.csv") if (g.state, g.locality) == ("MD", "01"))
    source = PfsFeeSource(rows, PfsSettings(locality=md01))
    assert expected_allowed(_line("99214"), source).amount == D("144.73")  # type: ignore[union-attr]
    assert expected_allowed(_line("71046", "26"), source).amount == _fee(("0.21", "0.08", "0.01"))  # type: ignore[union-attr]
    assert expected_allowed(_line("20610", "50"), source).amount == (  # type: ignore[union-attr]
        _fee(("0.77", "1.16", "0.13")) * D("1.5")
    ).quantize(D("0.01"))


@pytest.mark.parametrize("carc", ["97", "236"])
def test_bundling_codes_point_at_ncci(carc: str) -> None:
    assert scrub_hint(carc) == ScrubHint("ncci", "NCCI001")

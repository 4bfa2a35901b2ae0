"""837P/837I writers: independent validators (pyx12, x12sdk), COB balance, computed counts, structure.

The files are checked by readers we did not write: pyx12 4.0.0 (full syntax + its 005010 maps) and
x12sdk 2.2.0 (LinuxForHealth-derived loop parser and pydantic models). Where x12sdk's models disagree
with the implementation guides, ``X12SDK_ALLOWED`` names the exact error and why it is wrong. pyx12
needs no allow-list: it reports 0 errors on every file written here (``PYX12_ALLOWED_837I`` is kept
empty on purpose — see ``test_poa_exempt_is_blank`` for the one place its 837I map and our model's
documentation differ, where the map follows the guide).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import json
import multiprocessing
import re
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from medbill.core.claim import (
    AdjustmentGroup,
    BenefitsAssignment,
    Claim,
    ClaimAdjustment,
    ClaimFrequency,
    ClaimKind,
    Contact,
    DiagnosisRole,
    EntityType,
    PresentOnAdmission,
    Provider,
    ProviderRole,
    Sex,
    example_claims,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.money import money
from medbill.x12.envelope import (
    CounterControlNumbers,
    Delimiters,
    InterchangeSettings,
    X12WriteError,
    format_r,
    interchange_settings_from_mapping,
)
from medbill.x12.sequence import SqliteControlNumbers
from medbill.x12.write837 import build_837i, build_837p, write_837p
from tests.x12.claimgen import institutional_claims, professional_claims

WHEN = dt.datetime(2025, 8, 1, 9, 30)
R_FORMAT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")

SETTINGS = InterchangeSettings(
    sender_id="TESTSUBMIT01",
    receiver_id="TESTRECV01",
    submitter_name="TEST BILLING SERVICE",
    submitter_id="TESTETIN01",
    submitter_contact=Contact(name="TEST CONTACT", phone="5555550199", email="edi@example.test"),
    receiver_name="TEST CLEARINGHOUSE",
)

# ---------------------------------------------------------------------------------------------------
# A tiny local segment splitter (the project's tokenizer is written elsewhere)


def split(text: str) -> list[list[str]]:
    """Segments as element lists, delimiters taken from the fixed-width ISA."""
    element, terminator = text[3], text[105]
    return [seg.strip("\r\n").split(element) for seg in text.split(terminator) if seg.strip("\r\n")]


def component(text: str) -> str:
    return text[104]


# ---------------------------------------------------------------------------------------------------
# Oracles


def pyx12_errors(text: str) -> list[str]:
    """Every error pyx12 reports (interchange, group, transaction, segment and element level)."""
    import pyx12.params
    import pyx12.x12n_document

    ack, js = io.StringIO(), io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=ack, fd_html=None, fd_json=js
    )
    out: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            here = where
            if "seg_id" in node:
                here = f"{node['seg_id']}@line{node.get('cur_line')}"
            for err in node.get("errors") or []:
                out.append(f"{here}: {err.get('err_cde')} {err.get('err_str')}")
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


PYX12_ALLOWED_837I: dict[str, str] = {}
"""pyx12 errors on our 837I that are pyx12 map defects (none today; see module docstring)."""


def x12sdk_parse(text: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """x12sdk's own loop tree for each transaction set, with its model-validation errors."""
    from pydantic import ValidationError
    from x12sdk.io import X12SegmentReader
    from x12sdk.parsing import create_parser

    out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    version = None
    parser: Any = None
    with X12SegmentReader(text) as reader:
        for name, fields in reader.segments():
            if name == "GS":
                version = fields[8]
            if name in ("ISA", "GS", "GE", "IEA"):
                continue
            if name == "ST":
                parser = create_parser(fields[1], version, reader.delimiters)

                def load(parser: Any = parser) -> None:
                    data = copy.deepcopy(parser._context.transaction_data)
                    try:
                        parser._transaction_model(**data)
                        errors: list[dict[str, Any]] = []
                    except ValidationError as exc:
                        errors = list(exc.errors())
                    out.append((data, errors))

                parser.load_model = load
            parser.parse(name, fields)
    return out


X12SDK_ALLOWED: dict[tuple[str, str, str | None], str] = {
    ("loop_2320.oi_segment.benefits_assignment_certification", "enum", "W"): (
        "x12sdk's OI03 enum is {'NO', 'N', 'Y'} (a typo: its CLM08 enum for the same element 1073 is N/W/Y); "
        "the TR3 2320 OI03 codes are N, W, Y and pyx12's map agrees"
    ),
    ("loop_2010ca.dmg_segment.gender_code", "enum", "U"): (
        "x12sdk's DmgSegment.GenderCode has F and M only; the TR3 DMG03 codes are F, M, U (unknown)"
    ),
    ("loop_2430.svd_segment.composite_medical_procedure_identifier", "string_type", None): (
        "x12sdk's 837I model requires SVD03; in the 837I TR3 SVD03 is situational (a revenue-code-only "
        "line such as room and board has no HCPCS; SVD04 carries the revenue code) - stupidedi's X223A3 "
        "definition and pyx12's map agree"
    ),
    ("loop_2410.ref_segment", "missing", None): (
        "x12sdk requires the 2410 REF; in the TR3 it is situational (a prescription or compound drug "
        "association number, only when there is one)"
    ),
    ("nte_segment.note_reference_code", "enum", "ADD"): (
        "x12sdk models only the 837I 2300 Claim Note (NTE01 ALG..UPI); the TR3 also has the Billing Note "
        "NTE*ADD (stupidedi X223A3: 'Billing Note', NTE01 = ADD)"
    ),
    ("loop_2300.loop_2400", "too_long", None): (
        "x12sdk caps 837I 2400 at 50 lines (the 837P limit); 837I 2400 repeats up to 999 (pyx12 map: 999)"
    ),
}


def x12sdk_unexpected(errors: list[dict[str, Any]]) -> list[str]:
    out = []
    for err in errors:
        loc = re.sub(r"\.\d+", "", ".".join(str(x) for x in err["loc"]))
        value = err.get("input") if isinstance(err.get("input"), str) else None
        allowed = any(
            loc.endswith(suffix) and err["type"] == kind and (expected is None or value == expected)
            for suffix, kind, expected in X12SDK_ALLOWED
        )
        if not allowed:
            out.append(f"{loc}: {err['type']} {err['msg']} ({str(err.get('input'))[:60]})")
    return out


def x12sdk_claims(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for billing in data.get("loop_2000a", []):
        for subscriber in billing.get("loop_2000b", []):
            yield from subscriber.get("loop_2300") or []
            for patient in subscriber.get("loop_2000c") or []:
                yield from patient.get("loop_2300") or []


# ---------------------------------------------------------------------------------------------------
# Files written once per module


@pytest.fixture(scope="module")
def professional() -> list[Claim]:
    return professional_claims(240)


@pytest.fixture(scope="module")
def institutional() -> list[Claim]:
    return institutional_claims(160)


@pytest.fixture(scope="module")
def written_p(professional: list[Claim]):  # type: ignore[no-untyped-def]
    return build_837p(professional, SETTINGS, CounterControlNumbers(), when=WHEN)


@pytest.fixture(scope="module")
def written_i(institutional: list[Claim]):  # type: ignore[no-untyped-def]
    return build_837i(institutional, SETTINGS, CounterControlNumbers(interchange=7, group=7, transaction=70), when=WHEN)


def test_generated_claims_cover_the_features(professional: list[Claim], institutional: list[Claim]) -> None:
    assert len(professional) + len(institutional) >= 200
    p = professional
    assert sum(1 for c in p if c.patient is not None) >= 40  # dependents
    assert sum(1 for c in p if c.frequency is ClaimFrequency.REPLACEMENT) >= 5
    assert sum(1 for c in p if c.frequency is ClaimFrequency.VOID) >= 5
    assert sum(1 for c in p if len(c.diagnoses) == 12) >= 20
    assert sum(1 for c in p if len(c.lines) == 50) >= 5
    assert sum(1 for c in p for line in c.lines if line.drug is not None) >= 20
    assert sum(1 for c in p for line in c.lines if line.description) >= 20  # NOC with descriptions
    assert sum(1 for c in p for line in c.lines if len(line.modifiers) == 4) >= 20
    assert sum(1 for c in p if any(o.paid_amount is not None for o in c.other_payers)) >= 40  # COB
    assert sum(1 for c in p if any(line.adjudications for line in c.lines)) >= 20  # 2430
    assert sum(1 for c in p if len(c.other_payers) == 2) >= 5  # tertiary
    assert sum(1 for c in p if c.coverage.insurance_type is not None) >= 10  # Medicare secondary
    i = institutional
    assert {c.type_of_bill[:2] for c in i if c.type_of_bill} >= {"11", "13"}
    assert sum(1 for c in i for d in c.diagnoses if d.poa is PresentOnAdmission.EXEMPT) >= 10
    assert sum(1 for c in i if sum(1 for d in c.diagnoses if d.role is DiagnosisRole.OTHER) == 24) >= 5
    assert sum(1 for c in i if c.institutional and len(c.institutional.other_procedures) == 24) >= 1
    assert sum(1 for c in i if c.institutional and c.institutional.value_codes) >= 40
    assert sum(1 for c in i if c.institutional and c.institutional.occurrence_codes) >= 40
    assert sum(1 for c in i if c.institutional and c.institutional.condition_codes) >= 40
    assert sum(1 for c in i if c.institutional and c.institutional.occurrence_spans) >= 20
    assert sum(1 for c in i if any(line.adjudications for line in c.lines)) >= 10


# ---------------------------------------------------------------------------------------------------
# pyx12


def test_pyx12_accepts_the_837p(written_p: Any) -> None:
    assert written_p.claim_count == 240
    assert pyx12_errors(written_p.text) == []


def test_pyx12_accepts_the_837i(written_i: Any) -> None:
    assert written_i.claim_count == 160
    errors = [e for e in pyx12_errors(written_i.text) if not any(k in e for k in PYX12_ALLOWED_837I)]
    assert errors == []


def test_pyx12_accepts_split_transactions_other_delimiters_and_full_hls(
    professional: list[Claim], institutional: list[Claim]
) -> None:
    """Several ST/SE per file, other delimiters with line breaks, >100 claims for one subscriber."""
    settings = dataclasses.replace(
        SETTINGS,
        max_claims_per_transaction=37,
        delimiters=Delimiters(element="|", component=">", repetition="!", segment="\\", suffix="\r\n"),
    )
    same = professional[0]
    many = [dataclasses.replace(same, id=f"TESTSAME{k:04d}") for k in range(130)]
    written = build_837p(professional[:60] + many, settings, CounterControlNumbers(), when=WHEN)
    segments = split(written.text)
    assert len(written.transactions) == 6  # 190 claims / 37
    assert [s[0] for s in segments].count("ST") == 6
    assert pyx12_errors(written.text) == []
    written_i = build_837i(institutional[:50], settings, CounterControlNumbers(), when=WHEN)
    assert len(written_i.transactions) == 2
    assert pyx12_errors(written_i.text) == []


def test_pyx12_accepts_the_model_examples() -> None:
    examples = example_claims()
    p = [c for c in examples if c.kind is ClaimKind.PROFESSIONAL]
    i = [c for c in examples if c.kind is ClaimKind.INSTITUTIONAL]
    assert pyx12_errors(write_837p(p, SETTINGS, CounterControlNumbers(), when=WHEN)) == []
    assert pyx12_errors(build_837i(i, SETTINGS, CounterControlNumbers(), when=WHEN).text) == []


# ---------------------------------------------------------------------------------------------------
# x12sdk


@pytest.mark.parametrize("which", ["p", "i"])
def test_x12sdk_reads_every_claim(
    which: str, written_p: Any, written_i: Any, professional: list[Claim], institutional: list[Claim]
) -> None:
    written, claims = (written_p, professional) if which == "p" else (written_i, institutional)
    results = x12sdk_parse(written.text)
    assert len(results) == len(written.transactions)
    unexpected = [msg for _data, errors in results for msg in x12sdk_unexpected(errors)]
    assert unexpected == []
    read = [clm for data, _errors in results for clm in x12sdk_claims(data)]
    assert len(read) == len(claims)
    by_id = {c.id: c for c in claims}
    assert {r["clm_segment"]["patient_control_number"] for r in read} == set(by_id)
    for r in read:
        claim = by_id[r["clm_segment"]["patient_control_number"]]
        assert Decimal(r["clm_segment"]["total_claim_charge_amount"]) == claim.total_charge
        lines = r["loop_2400"]
        assert len(lines) == len(claim.lines)
        segment = "sv1_segment" if which == "p" else "sv2_segment"
        charge = "line_item_charge_amount"
        assert [Decimal(line[segment][charge]) for line in lines] == [line.charge for line in claim.lines]


def test_x12sdk_models_validate_without_allowances(professional: list[Claim]) -> None:
    """Inside x12sdk's narrower models (no OI03 W, no DMG U) its full typed parse succeeds."""
    from x12sdk.io import X12ModelReader

    def narrow(claim: Claim) -> Claim:
        patient = claim.patient
        if patient is not None and patient.sex is Sex.UNKNOWN:
            patient = dataclasses.replace(patient, sex=Sex.FEMALE)
        benefits = claim.benefits_assigned
        if benefits is BenefitsAssignment.NOT_APPLICABLE:
            benefits = BenefitsAssignment.NO
        return dataclasses.replace(claim, patient=patient, benefits_assigned=benefits)

    text = write_837p([narrow(c) for c in professional], SETTINGS, CounterControlNumbers(), when=WHEN)
    with X12ModelReader(text) as reader:
        models = list(reader.models())
    assert len(models) == 1
    count = sum(
        len(b.loop_2300 or []) + sum(len(c.loop_2300 or []) for c in b.loop_2000c or [])
        for a in models[0].loop_2000a
        for b in a.loop_2000b
    )
    assert count == len(professional)


# ---------------------------------------------------------------------------------------------------
# COB balance on the written file


def _cas_total(segment: list[str]) -> Decimal:
    return sum((Decimal(segment[k]) for k in range(3, len(segment), 3) if segment[k]), Decimal("0"))


def cob_view(text: str) -> list[dict[str, Any]]:
    """Per claim: CLM02, each 2320 (payer id, AMT*D, CAS), each line (charge, 2430s)."""
    claims: list[dict[str, Any]] = []
    claim: dict[str, Any] | None = None
    other: dict[str, Any] | None = None
    line: dict[str, Any] | None = None
    svd: dict[str, Any] | None = None
    state = ""
    for seg in split(text):
        tag = seg[0]
        if tag in ("HL", "SE"):
            claim, state = None, ""
        elif tag == "CLM":
            claim = {"id": seg[1], "total": Decimal(seg[2]), "others": [], "lines": []}
            claims.append(claim)
            state = "2300"
        elif claim is None:
            continue
        elif tag == "SBR":
            other = {"payer": None, "paid": None, "cas": Decimal("0"), "cas_segments": 0}
            claim["others"].append(other)
            state = "2320"
        elif tag == "CAS" and state == "2320" and other is not None:
            other["cas"] += _cas_total(seg)
            other["cas_segments"] += 1
        elif tag == "AMT" and state == "2320" and seg[1] == "D" and other is not None:
            other["paid"] = Decimal(seg[2])
        elif tag == "NM1" and seg[1] == "PR" and state == "2320" and other is not None:
            other["payer"] = seg[9]
        elif tag == "LX":
            line = {"charge": None, "svds": []}
            claim["lines"].append(line)
            state = "2400"
        elif tag in ("SV1", "SV2") and line is not None:
            line["charge"] = Decimal(seg[2] if tag == "SV1" else seg[3])
        elif tag == "SVD" and line is not None:
            svd = {"payer": seg[1], "paid": Decimal(seg[2]), "cas": Decimal("0")}
            line["svds"].append(svd)
            state = "2430"
        elif tag == "CAS" and state == "2430" and svd is not None:
            svd["cas"] += _cas_total(seg)
    return claims


@pytest.mark.parametrize("which", ["p", "i"])
def test_cob_balances_in_the_written_file(which: str, written_p: Any, written_i: Any) -> None:
    written = written_p if which == "p" else written_i
    claims = cob_view(written.text)
    checked_claims = checked_lines = line_level = 0
    for claim in claims:
        for other in claim["others"]:
            if other["paid"] is None:
                continue  # listed, not adjudicated
            line_cas = sum(
                (s["cas"] for line in claim["lines"] for s in line["svds"] if s["payer"] == other["payer"]),
                Decimal("0"),
            )
            # 2300 CLM02 = 2320 AMT*D + claim-level CAS + the CAS of this payer's 2430s
            assert claim["total"] == other["paid"] + other["cas"] + line_cas, claim["id"]
            checked_claims += 1
            line_level += line_cas != 0
        for line in claim["lines"]:
            for svd in line["svds"]:
                # 2400 SV102/SV203 = 2430 SVD02 + its CAS
                assert line["charge"] == svd["paid"] + svd["cas"], claim["id"]
                checked_lines += 1
    assert checked_claims >= (40 if which == "p" else 20)
    assert checked_lines >= (100 if which == "p" else 50)
    assert line_level >= 10


# ---------------------------------------------------------------------------------------------------
# Counts, HL tree, money format


@pytest.mark.parametrize("which", ["p", "i"])
def test_counts_and_hierarchy_are_computed(which: str, written_p: Any, written_i: Any) -> None:
    written = written_p if which == "p" else written_i
    text = written.text
    assert text.startswith("ISA") and len(text.split("~")[0]) == 105  # fixed-width ISA
    segments = split(text)
    isa, gs, ge, iea = segments[0], segments[1], segments[-2], segments[-1]
    assert isa[13] == written.interchange_control_number == iea[2]
    assert gs[6] == written.group_control_number == ge[2]
    assert gs[8] == ("005010X222A1" if which == "p" else "005010X223A2")
    assert int(iea[1]) == 1
    starts = [k for k, s in enumerate(segments) if s[0] == "ST"]
    assert int(ge[1]) == len(starts) == len(written.transactions)
    for start, record in zip(starts, written.transactions, strict=True):
        end = next(k for k in range(start, len(segments)) if segments[k][0] == "SE")
        st, se = segments[start], segments[end]
        assert st[2] == se[2] == record.control_number
        assert int(se[1]) == end - start + 1 == record.segment_count
        hls = [s for s in segments[start:end] if s[0] == "HL"]
        levels: dict[str, str] = {}
        for n, hl in enumerate(hls, start=1):
            assert hl[1] == str(n)  # HL01 numbered 1..n
            parent_level = {"20": None, "22": "20", "23": "22"}[hl[3]]
            if parent_level is None:
                assert hl[2] == ""
            else:
                assert levels[hl[2]] == parent_level  # HL02 points at a parent of the right level
            levels[hl[1]] = hl[3]
            has_child = any(h[2] == hl[1] for h in hls)
            assert hl[4] == ("1" if has_child else "0")  # HL04 computed
        clms = [s[1] for s in segments[start:end] if s[0] == "CLM"]
        assert clms == list(record.claim_ids)


@pytest.mark.parametrize("which", ["p", "i"])
def test_money_and_quantities_in_r_form(which: str, written_p: Any, written_i: Any) -> None:
    written = written_p if which == "p" else written_i
    checked = 0
    for seg in split(written.text):
        tag = seg[0]
        values: list[str] = []
        if tag == "CLM":
            values = [seg[2]]
        elif tag == "SV1":
            values = [seg[2], seg[4]]
        elif tag == "SV2":
            values = [seg[3], seg[5]] + ([seg[7]] if len(seg) > 7 else [])
        elif tag in ("AMT",):
            values = [seg[2]]
        elif tag == "SVD":
            values = [seg[2], seg[5]]
        elif tag == "CAS":
            values = [seg[k] for k in range(3, len(seg), 3)] + [seg[k] for k in range(4, len(seg), 3) if seg[k]]
        elif tag == "CTP":
            values = [seg[4]]
        for value in values:
            assert R_FORMAT.fullmatch(value), (tag, value)
            checked += 1
    assert checked > 1000


def test_format_r() -> None:
    assert format_r(Decimal("100.00")) == "100"
    assert format_r(Decimal("100.50")) == "100.5"
    assert format_r(Decimal("100.25")) == "100.25"
    assert format_r(Decimal("0.00")) == "0"
    assert format_r(Decimal("-0.00")) == "0"
    assert format_r(Decimal("-3.10")) == "-3.1"
    assert format_r(Decimal("1E+2")) == "100"
    assert format_r(Decimal("0.125")) == "0.125"
    with pytest.raises(ValueError):
        format_r(Decimal("NaN"))


# ---------------------------------------------------------------------------------------------------
# Structure, on small hand-made claims


def _example(n: int) -> Claim:
    return example_claims()[n]


_SMALL_FILES: list[str] = []  # every file _segments_of wrote, for one pyx12 run at the end
_SMALL_NUMBERS = CounterControlNumbers(interchange=500, group=500, transaction=500)


def _segments_of(claims: list[Claim], *, institutional: bool = False) -> list[list[str]]:
    build = build_837i if institutional else build_837p
    text = build(claims, SETTINGS, _SMALL_NUMBERS, when=WHEN).text
    _SMALL_FILES.append(text)
    return split(text)


def test_subscriber_is_patient_and_dependents_share_and_split_hls() -> None:
    office, dependent = _example(0), _example(1)
    sibling = dataclasses.replace(
        dependent, id="TESTPCN0102", patient=dataclasses.replace(dependent.patient, first_name="KILO")
    )
    office2 = dataclasses.replace(office, id="TESTPCN0101")
    segments = _segments_of([office, dependent, office2, sibling])
    hls = [s for s in segments if s[0] == "HL"]
    # 2000A, 2000B (self, two claims), 2000B (dependents) with two 2000C
    assert [h[1:] for h in hls] == [
        ["1", "", "20", "1"],
        ["2", "1", "22", "0"],
        ["3", "1", "22", "1"],
        ["4", "3", "23", "0"],
        ["5", "3", "23", "0"],
    ]
    sbrs = [s for s in segments if s[0] == "SBR"]
    assert sbrs[0][2] == "18" and sbrs[1][2] == ""  # SBR02 18 only when the subscriber is the patient
    pats = [s for s in segments if s[0] == "PAT"]
    assert pats == [["PAT", "19"], ["PAT", "19"]]
    assert [s[3] for s in segments if s[:2] == ["NM1", "QC"]] == ["TESTPATIENT", "TESTPATIENT"]
    assert [s[1] for s in segments if s[0] == "CLM"] == ["TESTPCN0001", "TESTPCN0101", "TESTPCN0002", "TESTPCN0102"]


def test_providers_written_only_when_they_differ_from_billing() -> None:
    office = _example(0)
    billing = office.billing_provider
    same_facility = Provider(
        role=ProviderRole.SERVICE_FACILITY, organization_name=billing.name, npi=billing.npi, address=billing.address
    )
    other_facility = dataclasses.replace(
        same_facility,
        organization_name="TEST SURGERY CENTER",
        npi="1999900503",
        address=dataclasses.replace(billing.address, line1="9 OTHER ROAD"),  # type: ignore[arg-type]
    )
    solo_rendering = Provider(
        role=ProviderRole.RENDERING, entity_type=EntityType.PERSON, last_name="SAME", npi=billing.npi
    )
    claims = [
        dataclasses.replace(office, id="A1", service_facility=same_facility, rendering_provider=solo_rendering),
        dataclasses.replace(office, id="A2", service_facility=other_facility),
    ]
    segments = _segments_of(claims)
    clm = [k for k, s in enumerate(segments) if s[0] == "CLM"]
    first, second = segments[clm[0] : clm[1]], segments[clm[1] :]
    assert not any(s[:2] == ["NM1", "77"] or s[:2] == ["NM1", "82"] for s in first)
    facility = [k for k, s in enumerate(second) if s[:2] == ["NM1", "77"]]
    assert len(facility) == 1
    assert second[facility[0]][8:] == ["XX", "1999900503"]
    assert second[facility[0] + 1][0] == "N3" and second[facility[0] + 2][3] == billing.address.zip  # type: ignore[union-attr]
    assert any(s[:2] == ["NM1", "82"] for s in second)


def test_frequency_and_payer_claim_number() -> None:
    office = _example(0)
    claims = [
        office,
        dataclasses.replace(office, id="R7", frequency=ClaimFrequency.REPLACEMENT, original_claim_number="ICN7"),
        dataclasses.replace(office, id="V8", frequency=ClaimFrequency.VOID, original_claim_number="ICN8"),
    ]
    segments = _segments_of(claims)
    clms = [k for k, s in enumerate(segments) if s[0] == "CLM"] + [len(segments)]
    composites = [segments[k][5] for k in clms[:-1]]
    assert composites == ["11:B:1", "11:B:7", "11:B:8"]
    f8 = [[s[2] for s in segments[a:b] if s[:2] == ["REF", "F8"]] for a, b in zip(clms, clms[1:], strict=False)]
    assert f8 == [[], ["ICN7"], ["ICN8"]]


def test_837p_hi_uses_icd10_qualifiers_for_twelve_diagnoses(professional: list[Claim]) -> None:
    claim = next(c for c in professional if len(c.diagnoses) == 12)
    segments = _segments_of([claim])
    (hi,) = [s for s in segments if s[0] == "HI"]
    assert [h.split(":")[0] for h in hi[1:]] == ["ABK"] + ["ABF"] * 11
    assert [h.split(":")[1] for h in hi[1:]] == [d.code.value for d in claim.diagnoses]


def test_837i_hi_segments_poa_and_procedures(institutional: list[Claim]) -> None:
    claim = next(
        c
        for c in institutional
        if c.institutional is not None
        and c.institutional.facility_type_code == "11"
        and sum(1 for d in c.diagnoses if d.role is DiagnosisRole.OTHER) == 24
    )
    info = claim.institutional
    assert info is not None
    segments = _segments_of([claim], institutional=True)
    his = [s for s in segments if s[0] == "HI"]
    qualifiers = [[h.split(":")[0] for h in s[1:]] for s in his]
    order = [q[0] for q in qualifiers]
    expected_order = ["ABK", "ABJ", "APR", "ABN", "DR", "ABF", "BBR", "BBQ", "BI", "BH", "BE", "BG"]
    assert order == sorted(order, key=expected_order.index)  # the TR3 order of the HI segments
    abf = [q for q in qualifiers if q[0] == "ABF"]
    assert [len(q) for q in abf] == [12, 12]  # 24 other diagnoses in two HI segments
    others = [d for d in claim.diagnoses if d.role is DiagnosisRole.OTHER]
    written_poa = [h.split(":")[8] if len(h.split(":")) > 8 else "" for s in his for h in s[1:] if h.startswith("ABF")]
    expected = {"Y": "Y", "N": "N", "U": "U", "W": "W", "1": ""}
    assert written_poa == [expected[d.poa.value] if d.poa else "" for d in others]
    assert all(q == "BBQ" for s in qualifiers if s[0] == "BBQ" for q in s)
    assert (len(info.other_procedures) > 0) == ("BBQ" in order)


def test_poa_exempt_is_blank() -> None:
    """005010 HIxx-9 takes Y, N, U, W only (X12 RFI 2797): "exempt" is an empty element, never "1"."""
    inpatient = _example(4)
    segments = _segments_of([inpatient], institutional=True)
    text = "~".join("*".join(s) for s in segments)
    assert "ABF:Z794~" in text or "ABF:Z794*" in text
    assert ":::::::1" not in text
    assert "ABK:I214:::::::Y" in text


def test_noc_description_ndc_line_pos_and_pointers() -> None:
    secondary = _example(2)
    line3 = secondary.lines[2]
    lines = (
        secondary.lines[0],
        dataclasses.replace(secondary.lines[1], place_of_service=Code.parse("22", system=CodeSystem.POS)),
        line3,
    )
    segments = _segments_of([dataclasses.replace(secondary, lines=lines)])
    sv1 = [s for s in segments if s[0] == "SV1"]
    assert sv1[0] == ["SV1", "HC:99214", "200", "UN", "1", "", "", "1:2"]
    assert sv1[1][5] == "22"  # SV105 only when it differs from CLM05-1
    assert sv1[2][1] == "HC:J3490:::::TESTDRUG 10 MG INJECTION"  # SV101-7
    assert ["LIN", "", "N4", "00000000002"] in segments
    assert ["CTP", "", "", "", "1", "ML"] in segments


def test_cas_one_segment_per_group_with_six_triplets() -> None:
    secondary = _example(2)
    other = secondary.other_payers[0]
    reasons = ["45", "253", "97", "59", "94", "B7"]
    adjustments = tuple(
        ClaimAdjustment(
            group=AdjustmentGroup.CONTRACTUAL, reason=Code.parse(r, system=CodeSystem.CARC), amount=money("1")
        )
        for r in reasons
    ) + (
        ClaimAdjustment(
            group=AdjustmentGroup.PATIENT_RESPONSIBILITY,
            reason=Code.parse("1", system=CodeSystem.CARC),
            amount=money("2.50"),
            quantity=Decimal("1"),
        ),
    )
    lines = tuple(dataclasses.replace(line, adjudications=()) for line in secondary.lines)
    total = sum((line.charge for line in lines), Decimal("0"))
    other = dataclasses.replace(other, adjustments=adjustments, paid_amount=total - Decimal("8.50"))
    claim = dataclasses.replace(secondary, lines=lines, other_payers=(other,))
    segments = _segments_of([claim])
    cas = [s for s in segments if s[0] == "CAS"]
    assert cas == [
        ["CAS", "CO", "45", "1", "", "253", "1", "", "97", "1", "", "59", "1", "", "94", "1", "", "B7", "1"],
        ["CAS", "PR", "1", "2.5", "1"],
    ]
    # no 2430 for this payer: 2330B carries the adjudication date, then REF*F8
    k = next(i for i, s in enumerate(segments) if s[:2] == ["NM1", "PR"] and s[9] == "TESTCI001" and i > 20)
    assert segments[k + 3][:2] == ["DTP", "573"] and segments[k + 4][:2] == ["REF", "F8"]


def test_2330b_date_omitted_when_lines_carry_it() -> None:
    segments = _segments_of([_example(2)])
    k = next(i for i, s in enumerate(segments) if s[0] == "SBR" and i > 20)
    loop_2320 = segments[k : next(i for i, s in enumerate(segments) if s[0] == "LX")]
    assert not any(s[:2] == ["DTP", "573"] for s in loop_2320)
    assert ["REF", "F8", "TESTICN000003"] in loop_2320
    assert sum(1 for s in segments if s[:2] == ["DTP", "573"]) == 3  # one per 2430


def test_free_text_cleaned_and_identifiers_refused() -> None:
    office = _example(0)
    messy = dataclasses.replace(
        office,
        note="SEE ~ATTACHED*: ÉCHO",
        coverage=dataclasses.replace(
            office.coverage,
            subscriber=dataclasses.replace(office.coverage.subscriber, last_name="O'NEIL*SMITH"),
        ),
    )
    segments = _segments_of([messy])
    assert ["NTE", "ADD", "SEE ATTACHED ECHO"] in segments
    assert any(s[:4] == ["NM1", "IL", "1", "O'NEIL SMITH"] for s in segments)
    bad = dataclasses.replace(office, prior_authorization="AUTH*1")
    with pytest.raises(X12WriteError) as exc:
        _segments_of([office, bad])
    assert exc.value.path == "claims[1]" and exc.value.element == "2300 REF02 (G1)"


def test_pyx12_accepts_every_small_file(professional: list[Claim], institutional: list[Claim]) -> None:
    """The hand-made files of the structure tests above, all interchanges in one pyx12 run."""
    _SMALL_FILES.clear()
    test_subscriber_is_patient_and_dependents_share_and_split_hls()
    test_providers_written_only_when_they_differ_from_billing()
    test_frequency_and_payer_claim_number()
    test_837p_hi_uses_icd10_qualifiers_for_twelve_diagnoses(professional)
    test_837i_hi_segments_poa_and_procedures(institutional)
    test_poa_exempt_is_blank()
    test_noc_description_ndc_line_pos_and_pointers()
    test_cas_one_segment_per_group_with_six_triplets()
    test_2330b_date_omitted_when_lines_carry_it()
    test_free_text_cleaned_and_identifiers_refused()
    assert len(_SMALL_FILES) == 10
    assert pyx12_errors("".join(_SMALL_FILES)) == []


# ---------------------------------------------------------------------------------------------------
# Errors: one message naming the claim and the element; no control number used


def test_missing_member_id_names_claim_and_element() -> None:
    office, dependent = _example(0), _example(1)
    bad = dataclasses.replace(
        dependent,
        coverage=dataclasses.replace(
            dependent.coverage, subscriber=dataclasses.replace(dependent.coverage.subscriber, member_id=None)
        ),
    )
    numbers = CounterControlNumbers()
    with pytest.raises(X12WriteError) as exc:
        build_837p([office, bad], SETTINGS, numbers, when=WHEN)
    assert exc.value.path == "claims[1]" and exc.value.element == "2010BA NM109"
    assert "claims[1] (claim TESTPCN0002): 2010BA NM109: " in exc.value.message
    assert numbers.next_interchange() == 1  # nothing was taken


@pytest.mark.parametrize(
    ("change", "path", "text"),
    [
        ({"kind": ClaimKind.INSTITUTIONAL}, "claims[0].kind", "cannot go on an 837P"),
        ({"place_of_service": None}, "claims[0]", "place of service"),
        ({"diagnoses": ()}, "claims[0].diagnoses", "at least one diagnosis"),
        ({"frequency": ClaimFrequency.REPLACEMENT}, "claims[0].original_claim_number", "original claim number"),
        ({"id": "X" * 21}, "claims[0]", "longer than 20"),
        ({"lines": (dataclasses.replace(example_claims()[0].lines[0], units=Decimal("NaN")),)}, "claims[0]", "finite"),
    ],
)
def test_unwritable_claims_raise(change: dict[str, Any], path: str, text: str) -> None:
    claim = dataclasses.replace(_example(0), **change)
    with pytest.raises(X12WriteError) as exc:
        build_837p([claim], SETTINGS, CounterControlNumbers(), when=WHEN)
    assert exc.value.path == path
    assert text in exc.value.message


def test_837i_refuses_what_it_cannot_carry_and_needs_cl101() -> None:
    outpatient = _example(3)
    with pytest.raises(X12WriteError, match="no place for supervising_provider"):
        build_837i(
            [
                dataclasses.replace(
                    outpatient,
                    supervising_provider=_example(0).rendering_provider
                    and dataclasses.replace(_example(0).rendering_provider, role=ProviderRole.SUPERVISING),
                )
            ],  # type: ignore[arg-type]
            SETTINGS,
            CounterControlNumbers(),
            when=WHEN,
        )
    info = dataclasses.replace(outpatient.institutional, admission_type=None)  # type: ignore[arg-type]
    with pytest.raises(X12WriteError) as exc:
        build_837i([dataclasses.replace(outpatient, institutional=info)], SETTINGS, CounterControlNumbers(), when=WHEN)
    assert exc.value.element == "2300 CL101"
    with pytest.raises(X12WriteError, match="no claims"):
        build_837i([], SETTINGS, CounterControlNumbers(), when=WHEN)


def test_billing_zip_must_have_nine_digits() -> None:
    office = _example(0)
    billing = dataclasses.replace(
        office.billing_provider,
        address=dataclasses.replace(office.billing_provider.address, zip="21244"),  # type: ignore[arg-type]
    )
    with pytest.raises(X12WriteError) as exc:
        build_837p(
            [dataclasses.replace(office, billing_provider=billing)], SETTINGS, CounterControlNumbers(), when=WHEN
        )
    assert exc.value.element == "2010AA N403"


def test_settings_are_checked() -> None:
    with pytest.raises(X12WriteError, match="sender_qualifier"):
        dataclasses.replace(SETTINGS, sender_qualifier="Z")
    with pytest.raises(X12WriteError, match="usage_indicator"):
        dataclasses.replace(SETTINGS, usage_indicator="X")
    with pytest.raises(X12WriteError, match="differ"):
        Delimiters(element="*", component="*")
    with pytest.raises(X12WriteError, match="delimiter"):
        dataclasses.replace(SETTINGS, sender_id="A*B")
    with pytest.raises(X12WriteError, match="submitter_contact"):
        dataclasses.replace(SETTINGS, submitter_contact=Contact(name="NOBODY"))
    loaded = interchange_settings_from_mapping(
        {
            "sender_id": "S1",
            "receiver_id": "R1",
            "submitter_name": "SUB",
            "submitter_id": "ETIN",
            "submitter_contact": {"phone": "5555550100"},
            "receiver_name": "RECV",
            "usage_indicator": "P",
            "acknowledgment_requested": "yes",
            "delimiters": {"suffix": "\n"},
        },
        source="partner.toml",
    )
    assert loaded.usage_indicator == "P" and loaded.acknowledgment_requested and loaded.delimiters.suffix == "\n"
    with pytest.raises(X12WriteError) as exc:
        interchange_settings_from_mapping({"sender_id": "S1", "colour": "red"}, source="partner.toml")
    assert exc.value.path == "partner.toml.colour"


# ---------------------------------------------------------------------------------------------------
# Control numbers


def test_control_numbers_advance_and_claim_map() -> None:
    numbers = CounterControlNumbers(interchange=41, group=7, transaction=9998)
    office, dependent = _example(0), _example(1)
    first = build_837p([office, dependent], SETTINGS, numbers, when=WHEN)
    second = build_837p([dependent], dataclasses.replace(SETTINGS, max_claims_per_transaction=1), numbers, when=WHEN)
    assert (first.interchange_control_number, first.group_control_number) == ("000000041", "7")
    assert (second.interchange_control_number, second.group_control_number) == ("000000042", "8")
    assert [t.control_number for t in first.transactions] == ["9998"]
    assert [t.control_number for t in second.transactions] == ["9999"]
    assert first.claim_map() == ((0, "TESTPCN0001", "9998"), (1, "TESTPCN0002", "9998"))
    assert "BHT*0019*00*9998*20250801*0930*CH~" in first.text
    assert pyx12_errors(first.text + second.text) == []


def test_sqlite_control_numbers_persist_per_partner(tmp_path: Path) -> None:
    path = tmp_path / "seq" / "x12.sqlite"
    with SqliteControlNumbers(path, partner="ZZ:A>ZZ:B") as a:
        assert [a.next_interchange(), a.next_interchange(), a.next_group(), a.next_transaction()] == [1, 2, 1, 1]
    with SqliteControlNumbers(path, partner="ZZ:A>ZZ:B") as a, SqliteControlNumbers(path, partner="ZZ:A>ZZ:C") as c:
        assert a.next_interchange() == 3  # persisted
        assert c.next_interchange() == 1  # another partner has its own counters
        a.ensure_at_least("transaction", 500)
        a.ensure_at_least("transaction", 10)  # never lowers
        assert a.next_transaction() == 501
        a.ensure_at_least("group", 999_999_999)
        with pytest.raises(X12WriteError, match="exhausted"):
            a.next_group()
        assert a.last("group") == 999_999_999


def _take_many(args: tuple[str, int]) -> list[int]:
    path, count = args
    with SqliteControlNumbers(path, partner="ZZ:A>ZZ:B") as numbers:
        return [numbers.next_interchange() for _ in range(count)]


def test_sqlite_control_numbers_never_repeat_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "x12.sqlite")
    SqliteControlNumbers(path, partner="ZZ:A>ZZ:B").close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        taken = [n for chunk in pool.map(_take_many, [(path, 50)] * 4) for n in chunk]
    assert sorted(taken) == list(range(1, 201))


# ---------------------------------------------------------------------------------------------------
# Throughput on a 10,000-claim file


def test_write_throughput_10000_claims(professional: list[Claim], capsys: pytest.CaptureFixture[str]) -> None:
    claims = [dataclasses.replace(professional[k % len(professional)], id=f"TESTBULK{k:06d}") for k in range(10_000)]
    start = time.perf_counter()
    written = build_837p(claims, SETTINGS, CounterControlNumbers(), when=WHEN)
    elapsed = time.perf_counter() - start
    segments = split(written.text)
    assert Counter(s[0] for s in segments)["CLM"] == 10_000
    assert len(written.transactions) == 2  # at most 5000 claims per ST/SE
    assert sum(t.segment_count for t in written.transactions) == sum(
        1 for s in segments if s[0] not in ("ISA", "GS", "GE", "IEA")
    )
    rate = 10_000 / elapsed
    with capsys.disabled():
        print(f"\n837P write: 10,000 claims in {elapsed:.2f} s = {rate:,.0f} claims/s, {len(written.text):,} bytes")
    assert rate > 1_000

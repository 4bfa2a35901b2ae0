# ruff: noqa: E501  -- the expectation tables keep one fixture per line
"""The 837 reader: real fixtures (imsweb, TR3 examples) with their expected outcomes, field mapping, errors.

Nothing here is read back from our own writer: the inputs are third-party files (used as they are, or
transformed in memory in a documented way) and hand-written 837s checked field by field.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbill.core.claim import (
    Address,
    AdjustmentGroup,
    AssignmentCode,
    BenefitsAssignment,
    Claim,
    ClaimAdjustment,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimKind,
    Contact,
    Coverage,
    Diagnosis,
    DiagnosisRole,
    Drug,
    EntityType,
    LineAdjudication,
    NdcUnit,
    Occurrence,
    OccurrenceSpan,
    OtherPayer,
    Patient,
    PatientSignatureSource,
    Payer,
    PcsProcedure,
    PresentOnAdmission,
    Provider,
    ProviderRole,
    RelatedCause,
    Relationship,
    ReleaseOfInformation,
    Responsibility,
    ServiceLine,
    Sex,
    Subscriber,
    TaxIdType,
    ValueCode,
    claim_problems,
    claims_to_dict,
    npi_check_digit,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import X12ParseError
from medbill.x12.read837 import Loop, grammar, known_segments, parse_837, read_837
from medbill.x12.tokenizer import Interchange, tokenize, write
from tests.x12.tr3 import TR3, icd10ize

IMSWEB = "x12/imsweb-x12-parser"


def _text(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode("utf-8")


def _outcome(call: object) -> tuple[object, ...]:
    """("claims", n) or ("error", segment index, segment id, element, message) of a read."""
    try:
        claims = call()  # type: ignore[operator]
    except X12ParseError as exc:
        return ("error", exc.segment_index, exc.segment_id, exc.element, exc.message)
    return ("claims", len(claims))


def _npi(base: str) -> str:
    return base + npi_check_digit(base)


# ---------------------------------------------------------------------------------------------------
# In-memory transformations of fixtures (documented; the files themselves are used as they are)


def renumber(text: str, *, hls: bool = True) -> str:
    """Repair what every imsweb 837 shares: HL01 numbering / HL02 parents and the SE01/GE01/IEA01 counts.

    The imsweb files repeat one block (HL*1, HL*2, HL*2 with parent 3) and keep SE*25 whatever the
    length; with this repaired, each file's own defect shows. ``hls=False`` fixes the counts only.
    """
    document = tokenize(text)
    interchanges = []
    for interchange in document.interchanges:
        segs = list(interchange.segments)
        last: dict[str, str] = {}
        n = start = groups = sets = 0
        for k, seg in enumerate(segs):
            if seg.id == "ST":
                n, last, start = 0, {}, k
                sets += 1
            elif seg.id == "GS":
                groups, sets = groups + 1, 0
            elif seg.id == "HL" and hls:
                n += 1
                level = seg.text(3)
                parent = {"20": "", "22": last.get("20", ""), "23": last.get("22", "")}[level]
                last[level] = str(n)
                segs[k] = seg._replace(elements=(str(n), parent) + seg.elements[2:])
            elif seg.id == "SE":
                segs[k] = seg._replace(elements=(str(k - start + 1),) + seg.elements[1:])
            elif seg.id == "GE":
                segs[k] = seg._replace(elements=(str(sets),) + seg.elements[1:])
            elif seg.id == "IEA":
                segs[k] = seg._replace(elements=(str(groups),) + seg.elements[1:])
        interchanges.append(Interchange(interchange.delimiters, tuple(segs)))
    return write(document.__class__(tuple(interchanges), document.bom, document.leading))


def clean_imsweb(text: str) -> str:
    """renumber + icd10ize + the one malformed procedure code (``HC:478331``, six digits) as 99212."""
    document = tokenize(icd10ize(renumber(text)))
    interchanges = []
    for interchange in document.interchanges:
        segs = []
        for seg in interchange.segments:
            if seg.id == "SV1" and seg.component(1, 2) == "478331":
                seg = seg._replace(elements=(("HC", "99212") + seg.components(1)[2:],) + seg.elements[1:])
            segs.append(seg)
        interchanges.append(Interchange(interchange.delimiters, tuple(segs)))
    return write(document.__class__(tuple(interchanges), document.bom, document.leading))


IMSWEB_DROP = frozenset({"PER*IC", "SV109"})  # a second 2010AA contact; SV109 emergency indicator


# ---------------------------------------------------------------------------------------------------
# imsweb: every file's expected outcome
#
# raw      = read_837 on the file as it is;
# repaired = after renumber() (HL numbering and counts, which all their 837s get wrong);
# clean    = after clean_imsweb(), reading with drop=IMSWEB_DROP.
# An outcome is ("claims", n) or ("error", segment index, segment id, element, text in the message).

PER2 = (14, "PER", None, "PER*IC (a second billing provider contact, loop 2010AA) is not carried")
HL_NUMBERING = (27, "HL", "HL01", "is 2 but should be 3")

IMSWEB_TABLE: list[tuple[str, tuple[object, ...], tuple[object, ...] | None, tuple[object, ...] | None, str]] = [
    # -- the "valid" ones: right by imsweb's loop checks, but HL01 repeats 1, 2, 2 with parent 3, SE01 is
    #    25 whatever the length (pyx12 reports both), HI writes BK and its code as two elements (ICD-9),
    #    one procedure code is six digits, and 2010AA has two PER (medbill keeps one contact).
    ("837_5010__x12_valid.txt", HL_NUMBERING, PER2, ("claims", 2), "valid"),
    ("837_5010__x12_valid_different_separators.txt", HL_NUMBERING, PER2, ("claims", 2), "valid; ~ ^ _ delimiters"),
    ("837_5010__x12_no_errors.txt", (27, "HL", "HL01", "is 1 but should be 3"), PER2, ("claims", 2), "2 billing HLs"),
    ("837_5010__x12_many_claims.txt", HL_NUMBERING, PER2, ("claims", 820), "410 blocks of 2 claims"),
    ("837_5010__x12_multiple_isa.txt", HL_NUMBERING, PER2, ("claims", 4), "2 interchanges"),
    ("837_5010__x12_multiple_gs.txt", HL_NUMBERING, PER2, ("claims", 6), "3 functional groups"),
    ("837_5010__x12_multiple_st.txt", HL_NUMBERING, PER2, ("claims", 4), "2 transaction sets"),
    ("837_5010__x12_multiple_transactions.txt", HL_NUMBERING, PER2, ("claims", 624), "312 transaction sets"),
    # -- valid structure, but data medbill claims do not carry
    (
        "837_5010__x12_writer_test.txt",
        (33, "SE", "SE01", "says 25 but there are 31 segments"),
        PER2,
        (26, "DTP", None, "DTP*435 (admission date, loop 2300) is not carried"),
        "837P admission date",
    ),
    (
        "837_5010__x12_ambiguous_loop.txt",
        (35, "SE", "SE01", "says 25 but there are 33 segments"),
        PER2,
        (26, "DTP", None, "DTP*435 (admission date, loop 2300) is not carried"),
        "837P admission date; 2420A at the end",
    ),
    (
        "837_5010__x12_complex.txt",
        (66, "HL", "HL01", "is 2 but should be 3"),
        (15, "PER", None, "PER*IC (a second billing provider contact"),
        (19, "NM1", None, "2010AC (pay-to plan name: the whole loop) is not carried"),
        "every loop of the guide",
    ),
    # -- the broken ones: each names its segment
    (
        "837_5010__x12_bad_first_line.txt",
        (1, "ISA", "ISA02", "must be 10 characters (fixed width), got 9"),
        (1, "ISA", "ISA02", "must be 10 characters"),
        (1, "ISA", "ISA02", "must be 10 characters"),
        "ISA02 one space short",
    ),
    (
        "837_5010__x12_bad_segment_identifier.txt",
        (6, None, None, "segment identifier '(empty)' is not valid"),
        (6, None, None, "segment identifier '(empty)' is not valid"),
        (6, None, None, "segment identifier '(empty)' is not valid"),
        "'*IC*...', then 'Nd4', 'NM31'",
    ),
    (
        "837_5010__x12_no_isa_line.txt",
        (1, "GS", None, "an X12 interchange starts with ISA"),
        None,
        None,
        "no ISA: no delimiters",
    ),
    (
        "837_5010__x12_bad_valid_code.txt",
        (9, "NM1", None, "NM1*117 is not expected here: it is not part of loop 2000A"),
        (9, "NM1", None, "NM1*117 is not expected here"),
        (9, "NM1", None, "NM1*117 is not expected here"),
        "NM101 117 for 85",
    ),
    (
        "837_5010__x12_missing_elements.txt",
        HL_NUMBERING,
        (7, "NM1", "1000B NM102", "is empty; it must be 1 or 2"),
        (7, "NM1", "1000B NM102", "is empty"),
        "NM102 missing (CLM05 too)",
    ),
    (
        "837_5010__x12_segments_out_of_order.txt",
        (11, "REF", None, "loop 2010AA (billing provider name) needs N4 (city, state, ZIP) before REF*EI/SY"),
        (11, "REF", None, "needs N4"),
        (11, "REF", None, "needs N4"),
        "N4 after REF",
    ),
    (
        "837_5010__x12_segment_errors.txt",
        (10, "N4", None, "loop 2010AA (billing provider name) needs N3 (address) before N4"),
        (10, "N4", None, "needs N3"),
        (10, "N4", None, "needs N3"),
        "N3 missing, REF*EI twice, HI missing",
    ),
    (
        "837_5010__x12_loop_errors1_exceeds_max_1_parent.txt",
        (15, "NM1", None, "loop 2010AA (billing provider name) may occur once in loop 2000A"),
        (15, "NM1", None, "may occur once"),
        (15, "NM1", None, "may occur once"),
        "2010AA twice",
    ),
    (
        "837_5010__x12_loop_errors2_exceeds_max_repeats_multiple_parents.txt",
        (27, "HL", "HL01", "is 1 but should be 3"),
        (34, "NM1", None, "loop 2010AA (billing provider name) may occur once in loop 2000A"),
        (34, "NM1", None, "may occur once"),
        "2010AA twice in the 2nd 2000A",
    ),
    (
        "837_5010__x12_loop_errors3_missing_loops.txt",
        (9, "NM1", None, "loop 2000A (billing provider) needs loop 2010AA (billing provider name) before loop 2010AB"),
        (9, "NM1", None, "needs loop 2010AA"),
        (9, "NM1", None, "needs loop 2010AA"),
        "no 2010AA",
    ),
    (
        "837_5010__x12_missing_required_loop_in_one_repeat.txt",
        (18, "HL", "HL02", "parent 3 is not an earlier HL"),
        (20, "NM1", None, "loop 2000B (subscriber) needs loop 2010BA (subscriber name) before loop 2010BB"),
        (20, "NM1", None, "needs loop 2010BA"),
        "no 2010BA in one 2000B",
    ),
    (
        "837_5010__x12_missing_required_loops_mult_repeats.txt",
        HL_NUMBERING,
        (33, "SV1", None, "it belongs in loop 2400 (service line), which begins with LX"),
        (33, "SV1", None, "which begins with LX"),
        "SV1 without LX",
    ),
    (
        "837_5010__x223-test.txt",
        (49, "DTP", None, "DTP*304 is not expected here: in loop 2400 (service line) DTP01 '304' is not one of 472"),
        (49, "DTP", None, "DTP*304"),
        (49, "DTP", None, "DTP*304"),
        "837I with 837P-only DTP*304 (and CLM05-2 B, CLM06)",
    ),
    # -- not 837s
    ("837_5010__x12_999_accepted.txt", (3, "ST", "ST01", "is 999: read_837 reads 837"), None, None, "a 999"),
    ("837_5010__x12_999_rejected.txt", (3, "ST", "ST01", "is 999"), None, None, "a 999"),
    ("277_5010__x12_277CA_accepted.txt", (3, "ST", "ST01", "is 277"), None, None, "a 277CA"),
    ("277_5010__x12_277CA_rejected.txt", (3, "ST", "ST01", "is 277"), None, None, "a 277CA"),
    ("277_5010__x12_277_x212.txt", (3, "ST", "ST01", "is 277"), None, None, "a 277"),
    ("x270_271__x270.txt", (3, "ST", "ST01", "is 270"), None, None, "a 270"),
    ("x270_271__x271.txt", (3, "ST", "ST01", "is 271"), None, None, "a 271"),
]


def _check(outcome: tuple[object, ...], expected: tuple[object, ...]) -> None:
    if expected[0] == "claims":
        assert outcome == expected
        return
    index, seg_id, element, fragment = expected
    assert outcome[0] == "error", outcome
    assert outcome[1:4] == (index, seg_id, element), outcome
    assert isinstance(fragment, str) and fragment in str(outcome[4]), outcome


def test_imsweb_table_covers_every_file(fixtures_dir: Path) -> None:
    files = sorted(p.name for p in (fixtures_dir / IMSWEB).iterdir() if p.name != "SOURCE.txt")
    assert sorted(row[0] for row in IMSWEB_TABLE) == files


@pytest.mark.parametrize(
    ("name", "raw", "repaired", "clean", "why"), IMSWEB_TABLE, ids=[row[0] for row in IMSWEB_TABLE]
)
def test_imsweb_outcomes(
    fixtures_dir: Path,
    name: str,
    raw: tuple[object, ...],
    repaired: tuple[object, ...] | None,
    clean: tuple[object, ...] | None,
    why: str,
) -> None:
    text = _text(fixtures_dir, f"{IMSWEB}/{name}")
    _check(_outcome(lambda: read_837(text)), raw)
    if repaired is not None:
        _check(_outcome(lambda: read_837(renumber(text))), repaired)
    if clean is not None:
        _check(_outcome(lambda: read_837(clean_imsweb(text), drop=IMSWEB_DROP)), clean)


def test_imsweb_valid_icd9_is_refused_naming_hi(fixtures_dir: Path) -> None:
    """After the HL/count repair, with the two drop keys, the "valid" file stops at its ICD-9 HI."""
    text = renumber(_text(fixtures_dir, f"{IMSWEB}/837_5010__x12_valid.txt"))
    with pytest.raises(X12ParseError) as info:
        read_837(text, drop=IMSWEB_DROP)
    assert (info.value.segment_index, info.value.segment_id, info.value.element) == (23, "HI", "2300 HI01-1")
    assert "BK is an ICD-9-CM qualifier" in info.value.message


def test_imsweb_valid_fields(fixtures_dir: Path) -> None:
    claims = read_837(clean_imsweb(_text(fixtures_dir, f"{IMSWEB}/837_5010__x12_valid.txt")), drop=IMSWEB_DROP)
    first, second = claims
    assert [c.id for c in claims] == ["A37YH556", "A37YH667"]
    assert first.kind is ClaimKind.PROFESSIONAL
    assert first.stated_total == Decimal("500.00") and first.total_charge == Decimal("12.25")
    assert first.billing_provider.organization_name == "MEDICAL GROUP"
    assert first.billing_provider.npi == "1234567890" and first.billing_provider.tax_id == "123456789"
    assert first.billing_provider.contact == Contact(name="JANE JONES", phone="3022893453")
    assert first.pay_to_provider is not None and first.pay_to_provider.address == Address(
        line1="227 LASTNER LANE", city="GREENBELT", state="MD", zip="20770"
    )
    assert first.subscriber.name == "DOE, JOHN T" and first.subscriber.suffix == "JR"
    assert first.subscriber.member_id == "123456" and first.subscriber.group_number == "SUBSCRIBER GROUP"
    assert second.subscriber.name == "DOE, DAVID J"
    assert first.payer.name == "HEALTH INSURANCE COMPANY" and first.payer.payer_id == "11122333"
    assert second.payer.name == "HEALTH INSURANCE COMPANY TWO"
    assert first.payer.filing_indicator is ClaimFilingIndicator.COMMERCIAL
    assert first.patient is None and first.coverage.relationship is Relationship.SELF
    assert [str(d.code) for d in first.diagnoses] == ["S71.109A", "S01.309A", "K50.90"]
    assert [str(d.code) for d in second.diagnoses] == ["C79.70", "I20.9", "K50.90"]
    line = first.lines[0]
    assert (line.procedure, line.modifiers) == (Code(CodeSystem.CPT, "99211"), (Code(CodeSystem.MODIFIER, "25"),))
    assert line.charge == Decimal("12.25") and line.units == Decimal("1")
    assert line.place_of_service == Code(CodeSystem.POS, "11") and line.diagnosis_pointers == (1,)
    assert (line.service_date, line.service_date_to) == (dt.date(2005, 3, 14), dt.date(2005, 3, 25))
    assert second.lines[0].line_number == 2 and second.lines[0].diagnosis_pointers == (1, 2, 3)
    assert first.patient_signature_source is PatientSignatureSource.PROVIDER
    assert first.release_of_information is ReleaseOfInformation.INFORMED_CONSENT
    # what the claim says, bad data included, for the scrubber: CLM02 500 against 12.25 of lines
    assert "total.mismatch" in [p.code for p in claim_problems(first)]
    assert "line.number" in [p.code for p in claim_problems(second)]


def test_imsweb_multi_envelope_files(fixtures_dir: Path) -> None:
    gs = parse_837(clean_imsweb(_text(fixtures_dir, f"{IMSWEB}/837_5010__x12_multiple_gs.txt")))
    assert [t.envelope.gs.index for t in gs] == [2, 38, 74]
    isa = parse_837(clean_imsweb(_text(fixtures_dir, f"{IMSWEB}/837_5010__x12_multiple_isa.txt")))
    assert [t.envelope.isa.index for t in isa] == [1, 39]
    many = read_837(
        clean_imsweb(_text(fixtures_dir, f"{IMSWEB}/837_5010__x12_multiple_transactions.txt")), drop=IMSWEB_DROP
    )
    assert len({c.id for c in many}) == 2 and len(many) == 624


def test_imsweb_structure_without_totals(fixtures_dir: Path) -> None:
    """``parse_837(check_totals=False)`` gives the loop tree of a file whose only fault is its counts."""
    text = _text(fixtures_dir, f"{IMSWEB}/837_5010__x12_writer_test.txt")
    (tx,) = parse_837(text, check_totals=False)
    assert [hl.id for hl in tx.root.children] == ["1000A", "1000B", "2000A", "2000B"]
    (claim,) = tx.root.loops("2300")
    assert claim.start.text(1) == "A37YH556"
    assert [s.id for s in claim.segments] == ["CLM", "DTP", "DTP", "HI"]
    with pytest.raises(X12ParseError) as info:
        parse_837(text)
    assert info.value.element == "SE01"


# ---------------------------------------------------------------------------------------------------
# The TR3 examples (stupidedi transcriptions): each uses ICD-9 qualifiers, so it is read as it is
# (expected: the first thing medbill refuses) and in its ICD-10 version with the listed drop keys.


TR3_TABLE: list[tuple[str, tuple[int, str, str | None, str], frozenset[str], tuple[int, ...]]] = [
    # file, first refusal as it is, drop keys for the ICD-10 version, HL levels (20=1, 22=2, 23=3)
    ("X222A1_HC837__COB-claim-from-billing-provider-to-payer-a.edi", (24, "REF", None, "REF*G2"), frozenset({"OI06", "REF*G2"}), (1, 2, 3)),
    ("X222A1_HC837__COB-claim-from-billing-provider-to-payer-b.edi", (24, "REF", None, "REF*G2"), frozenset({"OI04", "OI06", "REF*G2"}), (1, 2, 3)),
    ("X222A1_HC837__COB-claim-from-payer-a-to-payer-b-in-payer-to-payer.edi", (24, "REF", None, "REF*G2"), frozenset({"2330D", "OI06", "REF*G2"}), (1, 2, 3)),
    ("X222A1_HC837__ambulance.edi", (25, "CR1", None, "CR1 (ambulance transport"), frozenset({"2310E", "2310F", "CR1", "CRC*07", "NTE*ADD", "QTY*PT", "SV109"}), (1, 2)),
    ("X222A1_HC837__anesthesia.edi", (21, "HI", "2300 HI01-1", "BK is an ICD-9-CM qualifier"), frozenset({"REF*1G"}), (1, 2)),
    ("X222A1_HC837__chiropractic.edi", (22, "DTP", None, "DTP*454"), frozenset({"CR2", "DTP*453", "DTP*454", "DTP*455"}), (1, 2)),
    ("X222A1_HC837__commercial-health-insurance.edi", (22, "REF", None, "REF*G2"), frozenset({"REF*D9", "REF*G2"}), (1, 2, 3)),
    ("X222A1_HC837__drug-administered-in-the-physician-office.edi", (19, "NM1", "2010BB NM108", "NM108*XV"), frozenset({"AMT*T", "NM108*XV"}), (1, 2)),
    ("X222A1_HC837__encounter.edi", (4, "BHT", "BHT06", "BHT06*RP"), frozenset({"BHT06*RP", "REF*D9"}), (1, 2)),
    ("X222A1_HC837__home-infusion-therapy-pharmacy-_adjudicated-with-HCPCS-in-loop-2400-or-NDC-in-loop-2410_.edi", (20, "NM1", "2010BB NM108", "NM108*XV"), frozenset({"DTP*471", "NM108*XV", "REF*XZ"}), (1, 2)),
    ("X222A1_HC837__home-infusion-therapy-pharmacy-_adjudicated-with-NDC-in-loop-2410_.edi", (20, "NM1", "2010BB NM108", "NM108*XV"), frozenset({"DTP*471", "NM108*XV", "REF*XZ"}), (1, 2)),
    ("X222A1_HC837__medicare-secondary-payer-COB.edi", (13, "REF", None, "REF*1G"), frozenset({"AMT*A8", "REF*1G", "REF*G2"}), (1, 2)),
    ("X222A1_HC837__out-of-network-repriced-claim.edi", (27, "REF", None, "REF*9A"), frozenset({"HCP", "OI04", "REF*9A", "REF*D9"}), (1, 2, 3)),
    ("X222A1_HC837__oxygen.edi", (21, "HI", "2300 HI01-1", "BK is an ICD-9-CM qualifier"), frozenset({"2440", "CR3", "DTP*461", "DTP*463", "DTP*607", "PWK", "REF*1G"}), (1, 2)),
    ("X222A1_HC837__ppo-repriced-claim.edi", (22, "REF", None, "REF*9A"), frozenset({"HCP", "REF*9A", "REF*D9"}), (1, 2)),
    ("X222A1_HC837__wheelchair.edi", (13, "REF", None, "REF*1G"), frozenset({"2440", "CR3", "DTP*461", "DTP*463", "MEA", "PAT", "PWK", "REF*1G"}), (1, 2)),
    ("X223A2_HC837__837-institutional-claim.edi", (21, "REF", None, "REF*G2"), frozenset({"REF*G2"}), (1, 2)),
    ("X223A2_HC837__automobile-accident.edi", (24, "REF", None, "REF*Y4"), frozenset({"REF*Y4"}), (1, 2, 3)),
    ("X223A2_HC837__out-of-network-repriced-claim.edi", (24, "AMT", None, "AMT*F3"), frozenset({"AMT*F3", "HCP", "REF*9A", "REF*D9"}), (1, 2)),
    ("X223A2_HC837__ppo-repriced-claim.edi", (30, "AMT", None, "AMT*F3"), frozenset({"AMT*F3", "HCP", "REF*9A", "REF*D9"}), (1, 2, 3)),
    ("X223A2_HC837__two-claims-for-the-same-provider.edi", (24, "HI", "2300 HI01-1", "BK is an ICD-9-CM qualifier"), frozenset({"REF*1G"}), (1, 2, 2)),
]  # fmt: skip

# ICD-10 version read with its drop keys: (CLM01, CLM02, lines, diagnoses, patient HL?, relationship, other payers)
TR3_CLAIMS: dict[str, list[tuple[str, str, int, list[str], bool, str, int]]] = {
    "X222A1_HC837__COB-claim-from-billing-provider-to-payer-a.edi": [("26407789", "79.04", 3, ["J30.9", "E78.5", "E66.9", "K21.9"], True, "19", 1)],
    "X222A1_HC837__COB-claim-from-billing-provider-to-payer-b.edi": [("26407789", "79.04", 3, ["J30.9", "E78.5", "E66.9", "K21.9"], True, "19", 1)],
    "X222A1_HC837__COB-claim-from-payer-a-to-payer-b-in-payer-to-payer.edi": [("26407789", "79.04", 3, ["J30.9", "E78.5", "E66.9", "K21.9"], True, "19", 1)],
    "X222A1_HC837__ambulance.edi": [("051068", "766.50", 4, ["S27.9XXA", "W18.30XA", "S49.90XA", "S06.9X0A"], False, "18", 0)],
    "X222A1_HC837__anesthesia.edi": [("153829140", "827.00", 1, ["H25.10"], False, "18", 0)],
    "X222A1_HC837__chiropractic.edi": [("125WILL", "145.50", 1, ["M48.20"], False, "18", 0)],
    "X222A1_HC837__commercial-health-insurance.edi": [("26463774", "100.00", 4, ["J02.0", "Z11.59"], True, "19", 0)],
    "X222A1_HC837__drug-administered-in-the-physician-office.edi": [("CLMNO12345", "103.37", 2, ["A46"], False, "18", 0)],
    "X222A1_HC837__encounter.edi": [("26462967", "100.00", 4, ["J02.0", "Z11.59"], False, "18", 0)],
    "X222A1_HC837__home-infusion-therapy-pharmacy-_adjudicated-with-HCPCS-in-loop-2400-or-NDC-in-loop-2410_.edi": [("CLMNO12345", "2232.93", 6, ["J06.9"], False, "18", 0)],
    "X222A1_HC837__home-infusion-therapy-pharmacy-_adjudicated-with-NDC-in-loop-2410_.edi": [("CLMNO12345", "2232.93", 6, ["J06.9"], False, "18", 0)],
    "X222A1_HC837__medicare-secondary-payer-COB.edi": [("101KEN6055", "120.00", 1, ["M17.10", "M25.469"], False, "18", 1)],
    "X222A1_HC837__out-of-network-repriced-claim.edi": [("TS234H3", "252.71", 1, ["T78.3XXA"], True, "19", 1)],
    "X222A1_HC837__oxygen.edi": [("R03996273 #01", "520.24", 2, ["J44.9", "J96.00", "D64.9"], False, "18", 0)],
    "X222A1_HC837__ppo-repriced-claim.edi": [("ABC123-RI", "28.75", 2, ["J44.9", "E11.9"], False, "18", 0)],
    "X222A1_HC837__wheelchair.edi": [("SMI123", "75.00", 1, ["I67.9", "G83.9"], False, "18", 0)],
    "X223A2_HC837__out-of-network-repriced-claim.edi": [("W392-49141", "14.84", 1, ["K21.9"], False, "18", 0)],
    "X223A2_HC837__ppo-repriced-claim.edi": [("456DFH43", "237.50", 2, ["H69.80", "H90.20"], True, "19", 1)],
    "X223A2_HC837__two-claims-for-the-same-provider.edi": [
        ("756048Q", "89.95", 2, ["H26.9", "I10", "R94.31"], False, "18", 0),
        ("756049Q", "50.00", 1, ["F41.9"], False, "18", 0),
    ],
}  # fmt: skip

# Two 837I examples stop on their own data after the ICD-10 change (a careful reader must say so):
TR3_DATA_ERRORS = {
    "X223A2_HC837__837-institutional-claim.edi": (23, "DTP", "2300 DTP03", "'19960911' is not a date range"),
    "X223A2_HC837__automobile-accident.edi": (27, "CL1", "2300 CL103", "'1' is not a patient status code"),
}


def test_tr3_table_covers_every_837(fixtures_dir: Path) -> None:
    files = sorted(p.name for p in (fixtures_dir / TR3).glob("*HC837*"))
    assert sorted(row[0] for row in TR3_TABLE) == files
    assert sorted(TR3_CLAIMS) + sorted(TR3_DATA_ERRORS) == sorted(
        [r[0] for r in TR3_TABLE if r[0] not in TR3_DATA_ERRORS]
    ) + sorted(TR3_DATA_ERRORS)


@pytest.mark.parametrize(("name", "first", "drop", "levels"), TR3_TABLE, ids=[r[0][:60] for r in TR3_TABLE])
def test_tr3_example(
    fixtures_dir: Path,
    name: str,
    first: tuple[int, str, str | None, str],
    drop: frozenset[str],
    levels: tuple[int, ...],
) -> None:
    raw = _text(fixtures_dir, f"{TR3}/{name}")
    kind = ClaimKind.PROFESSIONAL if name.startswith("X222") else ClaimKind.INSTITUTIONAL
    # structure: the HL hierarchy and the 2300/2400 loops, read before any value
    (tx,) = parse_837(raw)
    assert tx.kind is kind
    hls = [hl for hl in tx.root.children if hl.id.startswith("2000")]
    assert tuple({"2000A": 1, "2000B": 2, "2000C": 3}[hl.id] for hl in hls) == levels
    assert [hl.start.text(1) for hl in hls] == [str(i) for i in range(1, len(hls) + 1)]
    for hl in hls[1:]:
        parent = hls[int(hl.start.text(2)) - 1]
        assert {"2000B": "2000A", "2000C": "2000B"}[hl.id] == parent.id
    clms = tx.root.loops("2300")
    # as it is: the first refusal, naming the segment
    index, seg_id, element, fragment = first
    outcome = _outcome(lambda: read_837(raw))
    assert outcome[0] == "error" and outcome[1:4] == (index, seg_id, element), outcome
    assert fragment in str(outcome[4])
    # the ICD-10 version with the drop keys: each key is needed (no key is dropped that is not there)
    text = icd10ize(raw)
    for key in drop:
        with pytest.raises(X12ParseError, match=re.escape(f"pass drop={{{key!r}}}")):
            read_837(text, drop=drop - {key})
    if name in TR3_DATA_ERRORS:
        index, seg_id, element, fragment = TR3_DATA_ERRORS[name]
        outcome = _outcome(lambda: read_837(text, drop=drop))
        assert outcome[1:4] == (index, seg_id, element) and fragment in str(outcome[4]), outcome
        return
    claims = read_837(text, drop=drop)
    assert len(claims) == len(clms) == len(TR3_CLAIMS[name])
    for claim, loop, (clm01, total, nlines, dx, has_patient, rel, others) in zip(
        claims, clms, TR3_CLAIMS[name], strict=True
    ):
        assert claim.kind is kind
        assert claim.id == clm01 == loop.start.text(1)
        assert claim.stated_total == Decimal(total) == claim.total_charge
        assert len(claim.lines) == nlines == len(loop.loops("2400"))
        assert [str(d.code) for d in claim.diagnoses] == dx
        assert (claim.patient is not None) == has_patient
        assert claim.coverage.relationship.value == rel
        assert len(claim.other_payers) == others
        assert claim.billing_provider.npi and len(claim.billing_provider.npi) == 10
        claims_to_dict([claim])  # every claim read has a JSON form


def test_tr3_commercial_fields(fixtures_dir: Path) -> None:
    raw = _text(fixtures_dir, f"{TR3}/X222A1_HC837__commercial-health-insurance.edi")
    (claim,) = read_837(icd10ize(raw), drop={"REF*D9", "REF*G2"})
    assert claim.billing_provider == Provider(
        role=ProviderRole.BILLING,
        entity_type=EntityType.ORGANIZATION,
        organization_name="BEN KILDARE SERVICE",
        npi="9876543210",
        taxonomy="203BF0100Y",
        tax_id="587654321",
        tax_id_type=TaxIdType.EIN,
        address=Address(line1="234 SEAWAY ST", city="MIAMI", state="FL", zip="33111"),
    )
    assert claim.pay_to_provider == Provider(
        role=ProviderRole.PAY_TO, address=Address(line1="2345 OCEAN BLVD", city="MIAMI", state="FL", zip="33111")
    )
    assert claim.subscriber == Subscriber(
        member_id="JS00111223333",
        group_number="2222-SJ",
        last_name="SMITH",
        first_name="JANE",
        date_of_birth=dt.date(1943, 5, 1),
        sex=Sex.FEMALE,
    )
    assert claim.patient == Patient(
        last_name="SMITH",
        first_name="TED",
        date_of_birth=dt.date(1973, 5, 1),
        sex=Sex.MALE,
        address=Address(line1="236 N MAIN  ST", city="MIAMI", state="FL", zip="33413"),
    )
    assert claim.coverage.relationship is Relationship.CHILD
    assert [(str(line.procedure), line.charge, line.diagnosis_pointers) for line in claim.lines] == [
        ("99213", Decimal("40.00"), (1,)),
        ("87070", Decimal("15.00"), (1,)),
        ("99214", Decimal("35.00"), (2,)),
        ("86663", Decimal("10.00"), (2,)),
    ]
    assert [line.service_date for line in claim.lines] == [dt.date(2006, 10, 3)] * 2 + [dt.date(2006, 10, 10)] * 2
    assert claim.provider_signature_on_file and claim.assignment is AssignmentCode.ASSIGNED
    assert claim_problems(claim) == []


def test_tr3_cob_fields(fixtures_dir: Path) -> None:
    raw = _text(fixtures_dir, f"{TR3}/X222A1_HC837__COB-claim-from-billing-provider-to-payer-b.edi")
    (claim,) = read_837(icd10ize(raw), drop={"OI04", "OI06", "REF*G2"})
    assert claim.coverage.responsibility is Responsibility.SECONDARY
    (other,) = claim.other_payers
    assert other.coverage.responsibility is Responsibility.PRIMARY
    assert other.coverage.relationship is Relationship.SPOUSE
    assert other.coverage.payer == Payer(
        name="KEY INSURANCE COMPANY", payer_id="999996666", filing_indicator=ClaimFilingIndicator.COMMERCIAL
    )
    assert other.coverage.subscriber.member_id == "JS00111223333"
    assert other.paid_amount == Decimal("39.15") and other.remaining_patient_liability == Decimal("36.89")
    assert other.adjustments == (
        ClaimAdjustment(group=AdjustmentGroup.PATIENT_RESPONSIBILITY, reason=Code(CodeSystem.CARC, "1"), amount=Decimal("21.89")),
        ClaimAdjustment(group=AdjustmentGroup.PATIENT_RESPONSIBILITY, reason=Code(CodeSystem.CARC, "2"), amount=Decimal("15.00")),
    )  # fmt: skip
    # 2330B has no DTP*573: the date the 2430 loops agree on
    assert other.adjudication_date == dt.date(2005, 10, 15)
    adj = claim.lines[0].adjudications[0]
    assert adj == LineAdjudication(
        payer_id="999996666",
        paid_amount=Decimal("40.00"),
        procedure=Code(CodeSystem.CPT, "99213"),
        paid_units=Decimal("1"),
        adjustments=(
            ClaimAdjustment(group=AdjustmentGroup.CONTRACTUAL, reason=Code(CodeSystem.CARC, "42"), amount=Decimal("3.00")),
        ),
        adjudication_date=dt.date(2005, 10, 15),
    )  # fmt: skip
    assert claim.lines[2].procedure == Code(CodeSystem.HCPCS, "J3301")
    assert claim.rendering_provider is not None and claim.rendering_provider.taxonomy == "204C00000X"
    assert claim.service_facility is not None and claim.service_facility.npi == "1581234567"
    # COB balance: CLM02 = paid + all CAS, as the reader found it
    assert claim_problems(claim) == []


def test_tr3_drug_fields(fixtures_dir: Path) -> None:
    raw = _text(fixtures_dir, f"{TR3}/X222A1_HC837__drug-administered-in-the-physician-office.edi")
    (claim,) = read_837(icd10ize(raw), drop={"AMT*T", "NM108*XV"})
    assert claim.payer.payer_id is None  # NM108 XV (the plan id) dropped on request
    assert claim.lines[1].drug == Drug(ndc="00026063512", quantity=Decimal("10"), unit=NdcUnit.MILLILITER)
    assert claim.lines[1].procedure == Code(CodeSystem.HCPCS, "J1550")
    assert claim.rendering_provider is not None and claim.rendering_provider.name == "Hendrix, Jim"
    assert claim.subscriber.group_number == "GRP01020102"


def test_tr3_institutional_fields(fixtures_dir: Path) -> None:
    raw = _text(fixtures_dir, f"{TR3}/X223A2_HC837__837-institutional-claim.edi")
    # the transcription writes DTP*434*RD8 with one date: corrected here to a one-day range
    text = icd10ize(raw).replace("DTP*434*RD8*19960911", "DTP*434*RD8*19960911-19960911")
    (claim,) = read_837(text, drop={"REF*G2", "REF*1G"})  # REF*1G: the attending provider's UPIN
    info = claim.institutional
    assert info is not None
    assert claim.type_of_bill == "141"
    assert (info.statement_from, info.statement_to) == (dt.date(1996, 9, 11), dt.date(1996, 9, 11))
    assert (info.admission_type, info.admission_source, info.patient_status) == ("3", None, "01")
    assert [(d.role, str(d.code)) for d in claim.diagnoses] == [
        (DiagnosisRole.PRINCIPAL, "H26.9"),
        (DiagnosisRole.OTHER, "I10"),
        (DiagnosisRole.OTHER, "R94.31"),
    ]
    assert info.occurrence_codes == (
        Occurrence(code="A1", date=dt.date(1926, 11, 11)),
        Occurrence(code="A2", date=dt.date(1991, 11, 1)),
        Occurrence(code="B1", date=dt.date(1926, 11, 11)),
        Occurrence(code="B2", date=dt.date(1987, 1, 1)),
    )
    assert info.value_codes == (ValueCode(code="A2", amount=Decimal("15.31")),)
    assert info.condition_codes == ("09",)
    assert info.attending_provider is not None and info.attending_provider.last_name == "JONES"
    assert claim.assignment is AssignmentCode.ASSIGNED and claim.benefits_assigned is BenefitsAssignment.YES
    (other,) = claim.other_payers
    assert other.paid_amount is None and other.coverage.payer.payer_id == "1135"
    assert other.coverage.subscriber.group_number == "351630"
    assert [(str(ln.revenue_code), str(ln.procedure), ln.charge, ln.units) for ln in claim.lines] == [
        ("0305", "85025", Decimal("13.39"), Decimal("1")),
        ("0730", "93005", Decimal("76.54"), Decimal("3")),
    ]


def test_tr3_automobile_accident_fields(fixtures_dir: Path) -> None:
    raw = _text(fixtures_dir, f"{TR3}/X223A2_HC837__automobile-accident.edi")
    text = icd10ize(raw).replace("CL1*3*7*1~", "CL1*3*7*01~")  # CL103 is a two-digit NUBC code
    (claim,) = read_837(text, drop={"REF*Y4"})
    assert claim.accident_state == "CA"
    assert claim.payer.filing_indicator is ClaimFilingIndicator.AUTOMOBILE_MEDICAL
    assert claim.coverage.relationship is Relationship.UNKNOWN
    assert [(d.role, str(d.code)) for d in claim.diagnoses] == [
        (DiagnosisRole.PRINCIPAL, "S51.809A"),
        (DiagnosisRole.REASON_FOR_VISIT, "S51.809A"),
        (DiagnosisRole.EXTERNAL_CAUSE, "V43.52XA"),
        (DiagnosisRole.EXTERNAL_CAUSE, "Y92.410"),
    ]
    assert claim.total_charge == Decimal("545.00") and len(claim.lines) == 4


def test_known_segments_list() -> None:
    """The documented list: every segment of the grammar, carried or not."""
    prof = known_segments(ClaimKind.PROFESSIONAL)
    inst = known_segments(ClaimKind.INSTITUTIONAL)
    assert ("2300", "CLM", True) in prof and ("2300", "CR1", False) in prof
    assert ("2400", "SV1", True) in prof and ("2400", "SV2", True) in inst
    assert ("2310E", "NM1*PW", False) in prof  # an uncarried loop: nothing in it is carried
    assert ("2300", "HI*ABK/BK", True) in prof
    assert ("2330B", "REF*F8", True) in inst
    carried = {(loop, seg) for loop, seg, c in prof if c}
    assert {("2010AA", "NM1*85"), ("2430", "SVD"), ("2410", "CTP"), ("2420E", "NM1*DK")} <= carried
    assert len(prof) > 150 and len(inst) > 130


def test_grammar_loops() -> None:
    root = grammar(ClaimKind.PROFESSIONAL)
    assert [c.id for c in root.children] == ["1000A", "1000B", "2000A", "2000B", "2000C"]


# ---------------------------------------------------------------------------------------------------
# Hand-written 837s, field by field

BILLING_NPI, RENDER_NPI, REF_NPI, FAC_NPI, SUP_NPI, ORD_NPI = (
    _npi(b) for b in ("199990001", "199990002", "199990003", "199990004", "199990005", "199990006")
)


def envelope(body: list[str], version: str = "005010X222A1", *, sep: str = "~\n") -> str:
    """ISA/GS/ST ... SE/GE/IEA around ``body`` (segments without terminators), counts computed."""
    isa = "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *250301*1200*^*00501*000000101*0*T*:"
    head = [isa, f"GS*HC*SUBMITTER*RECEIVER*20250301*1200*101*X*{version}", f"ST*837*0001*{version}"]
    st = [
        "BHT*0019*00*BATCH1*20250301*1200*CH",
        "NM1*41*2*TEST SUBMITTER*****46*SUB01",
        "PER*IC*TEST CONTACT*TE*5555550100",
        "NM1*40*2*TEST RECEIVER*****46*REC01",
        *body,
    ]
    segs = head + st + [f"SE*{len(st) + 2}*0001", "GE*1*101", "IEA*1*000000101"]
    return sep.join(segs) + sep


P_BILLING = [
    "HL*1**20*1",
    "PRV*BI*PXC*207Q00000X",
    f"NM1*85*2*TEST CLINIC*****XX*{BILLING_NPI}",
    "N3*100 TEST AVENUE*SUITE 2",
    "N4*ANYTOWN*MD*212440001",
    "REF*EI*990000001",
    "PER*IC*TEST BILLER*TE*5555550100*EX*12*EM*BILL@EXAMPLE.COM",
    "NM1*87*2",
    "N3*PO BOX 77",
    "N4*ANYTOWN*MD*21244",
]
P_SELF = [
    "HL*2*1*22*0",
    "SBR*P*18*GRP01*TEST GROUP*****CI",
    "NM1*IL*1*TESTPATIENT*ALPHA*Q**JR*MI*MEMBER01",
    "N3*1 TEST LANE",
    "N4*ANYTOWN*MD*21244",
    "DMG*D8*19710412*F",
    "NM1*PR*2*TEST PLAN*****PI*PAYER01",
    "N3*PO BOX 1000",
    "N4*ANYTOWN*MD*21244",
    "CLM*PCN001*327.5***11:B:7*Y*A*Y*Y*P*AA:OA::NY*********3",
    "DTP*431*D8*20250201",
    "DTP*439*D8*20250115",
    "REF*9F*REFERRAL1",
    "REF*G1*AUTH1",
    "REF*F8*ICN0001",
    "REF*EA*MRN01",
    "NTE*ADD*CORRECTED CLAIM",
    "HI*ABK:M1711*ABF:E119*ABF:I10",
    f"NM1*DN*1*TESTREFERRER*ECHO****XX*{REF_NPI}",
    f"NM1*82*1*TESTDOCTOR*CHARLIE****XX*{RENDER_NPI}",
    "PRV*PE*PXC*207Q00000X",
    f"NM1*77*2*TEST SURGERY CENTER*****XX*{FAC_NPI}",
    "N3*9 FACILITY ROAD",
    "N4*ANYTOWN*MD*212440009",
    "PER*IC*FRONT DESK*TE*5555550199",
    f"NM1*DQ*1*TESTSUPERVISOR*DELTA****XX*{SUP_NPI}",
    "LX*1",
    "SV1*HC:99214:25*185*UN*1***1:2:3",
    "DTP*472*D8*20250310",
    "REF*G1*LINEAUTH",
    "REF*6R*LINE0001",
    "LX*2",
    "SV1*HC:J3490:59:RT:::TESTDRUG 10 MG*142.5*UN*2.5*22**1",
    "DTP*472*RD8*20250310-20250312",
    "LIN**N4*00000000002",
    "CTP****1.5*ML",
    f"NM1*82*1*TESTOTHERDOC*FOX****XX*{RENDER_NPI[:-1] + npi_check_digit('199990007')[-1:]}",
    f"NM1*DK*1*TESTORDERER*GOLF****XX*{ORD_NPI}",
    "N3*5 ORDER ST",
    "N4*ANYTOWN*MD*21244",
]
P_DEPENDENT = [
    "HL*3*1*22*1",
    "SBR*S**GRP02******MB",
    "NM1*IL*1*TESTPARENT*BRAVO****MI*MEMBER02",
    "NM1*PR*2*TEST MEDICARE*****PI*PAYER02",
    "HL*4*3*23*0",
    "PAT*19",
    "NM1*QC*1*TESTPATIENT*FOXTROT",
    "N3*1 TEST LANE",
    "N4*ANYTOWN*MD*21244",
    "DMG*D8*20180615*M",
    "CLM*PCN002*120***11:B:1*N*A*Y*I",
    "HI*ABK:S0181XA",
    "SBR*P*01*GRP03******CI",
    "CAS*CO*45*10",
    "AMT*D*80",
    "AMT*EAF*30",
    "OI***Y***I",
    "NM1*IL*1*TESTPARENT*HOTEL****MI*MEMBER03",
    "N3*2 OTHER LANE",
    "N4*ANYTOWN*MD*21244",
    "NM1*PR*2*TEST PRIMARY PLAN*****PI*PAYER03",
    "DTP*573*D8*20250401",
    "REF*F8*PRIMARYICN",
    "LX*1",
    "SV1*HC:99213*120*UN*1***1",
    "DTP*472*D8*20250320",
    "SVD*PAYER03*80*HC:99213**1",
    "CAS*CO*45*10",
    "CAS*PR*2*30*1",
    "DTP*573*D8*20250401",
]

P_TEXT = envelope(P_BILLING + P_SELF + P_DEPENDENT)


def _claims(text: str, **kw: object) -> list[Claim]:
    return read_837(text, **kw)  # type: ignore[arg-type]


def test_professional_field_by_field() -> None:
    first, second = _claims(P_TEXT)
    address = Address(line1="1 TEST LANE", city="ANYTOWN", state="MD", zip="21244")
    billing = Provider(
        role=ProviderRole.BILLING,
        organization_name="TEST CLINIC",
        npi=BILLING_NPI,
        taxonomy="207Q00000X",
        tax_id="990000001",
        tax_id_type=TaxIdType.EIN,
        address=Address(line1="100 TEST AVENUE", line2="SUITE 2", city="ANYTOWN", state="MD", zip="212440001"),
        contact=Contact(name="TEST BILLER", phone="5555550100", phone_extension="12", email="BILL@EXAMPLE.COM"),
    )
    pay_to = Provider(
        role=ProviderRole.PAY_TO, address=Address(line1="PO BOX 77", city="ANYTOWN", state="MD", zip="21244")
    )
    expected = Claim(
        id="PCN001",
        kind=ClaimKind.PROFESSIONAL,
        frequency=ClaimFrequency.REPLACEMENT,
        original_claim_number="ICN0001",
        billing_provider=billing,
        pay_to_provider=pay_to,
        rendering_provider=Provider(
            role=ProviderRole.RENDERING,
            entity_type=EntityType.PERSON,
            last_name="TESTDOCTOR",
            first_name="CHARLIE",
            npi=RENDER_NPI,
            taxonomy="207Q00000X",
        ),
        referring_provider=Provider(
            role=ProviderRole.REFERRING,
            entity_type=EntityType.PERSON,
            last_name="TESTREFERRER",
            first_name="ECHO",
            npi=REF_NPI,
        ),
        supervising_provider=Provider(
            role=ProviderRole.SUPERVISING,
            entity_type=EntityType.PERSON,
            last_name="TESTSUPERVISOR",
            first_name="DELTA",
            npi=SUP_NPI,
        ),
        service_facility=Provider(
            role=ProviderRole.SERVICE_FACILITY,
            organization_name="TEST SURGERY CENTER",
            npi=FAC_NPI,
            address=Address(line1="9 FACILITY ROAD", city="ANYTOWN", state="MD", zip="212440009"),
            contact=Contact(name="FRONT DESK", phone="5555550199"),
        ),
        coverage=Coverage(
            payer=Payer(
                name="TEST PLAN",
                payer_id="PAYER01",
                filing_indicator=ClaimFilingIndicator.COMMERCIAL,
                address=Address(line1="PO BOX 1000", city="ANYTOWN", state="MD", zip="21244"),
            ),
            subscriber=Subscriber(
                member_id="MEMBER01",
                group_number="GRP01",
                group_name="TEST GROUP",
                last_name="TESTPATIENT",
                first_name="ALPHA",
                middle_name="Q",
                suffix="JR",
                date_of_birth=dt.date(1971, 4, 12),
                sex=Sex.FEMALE,
                address=address,
            ),
        ),
        diagnoses=(
            Diagnosis(code=Code(CodeSystem.ICD10CM, "M1711"), role=DiagnosisRole.PRINCIPAL),
            Diagnosis(code=Code(CodeSystem.ICD10CM, "E119")),
            Diagnosis(code=Code(CodeSystem.ICD10CM, "I10")),
        ),
        lines=(
            ServiceLine(
                line_number=1,
                procedure=Code(CodeSystem.CPT, "99214"),
                modifiers=(Code(CodeSystem.MODIFIER, "25"),),
                charge=Decimal("185.00"),
                diagnosis_pointers=(1, 2, 3),
                service_date=dt.date(2025, 3, 10),
                prior_authorization="LINEAUTH",
                control_number="LINE0001",
            ),
            ServiceLine(
                line_number=2,
                procedure=Code(CodeSystem.HCPCS, "J3490"),
                modifiers=(Code(CodeSystem.MODIFIER, "59"), Code(CodeSystem.MODIFIER, "RT")),
                description="TESTDRUG 10 MG",
                units=Decimal("2.5"),
                charge=Decimal("142.50"),
                place_of_service=Code(CodeSystem.POS, "22"),
                diagnosis_pointers=(1,),
                service_date=dt.date(2025, 3, 10),
                service_date_to=dt.date(2025, 3, 12),
                drug=Drug(ndc="00000000002", quantity=Decimal("1.5"), unit=NdcUnit.MILLILITER),
                rendering_provider=Provider(
                    role=ProviderRole.RENDERING,
                    entity_type=EntityType.PERSON,
                    last_name="TESTOTHERDOC",
                    first_name="FOX",
                    npi=RENDER_NPI[:-1] + npi_check_digit("199990007")[-1:],
                ),
                ordering_provider=Provider(
                    role=ProviderRole.ORDERING,
                    entity_type=EntityType.PERSON,
                    last_name="TESTORDERER",
                    first_name="GOLF",
                    npi=ORD_NPI,
                    address=Address(line1="5 ORDER ST", city="ANYTOWN", state="MD", zip="21244"),
                ),
            ),
        ),
        place_of_service=Code(CodeSystem.POS, "11"),
        patient_signature_source=PatientSignatureSource.PROVIDER,
        prior_authorization="AUTH1",
        referral_number="REFERRAL1",
        medical_record_number="MRN01",
        delay_reason="3",
        related_causes=(RelatedCause.AUTO_ACCIDENT, RelatedCause.OTHER_ACCIDENT),
        accident_state="NY",
        accident_date=dt.date(2025, 1, 15),
        onset_date=dt.date(2025, 2, 1),
        stated_total=Decimal("327.50"),
        note="CORRECTED CLAIM",
    )
    assert first == expected
    assert second == Claim(
        id="PCN002",
        kind=ClaimKind.PROFESSIONAL,
        billing_provider=billing,
        pay_to_provider=pay_to,
        coverage=Coverage(
            payer=Payer(name="TEST MEDICARE", payer_id="PAYER02", filing_indicator=ClaimFilingIndicator.MEDICARE_PART_B),
            subscriber=Subscriber(member_id="MEMBER02", group_number="GRP02", last_name="TESTPARENT", first_name="BRAVO"),
            responsibility=Responsibility.SECONDARY,
            relationship=Relationship.CHILD,
        ),
        patient=Patient(
            last_name="TESTPATIENT", first_name="FOXTROT", date_of_birth=dt.date(2018, 6, 15), sex=Sex.MALE, address=address
        ),
        other_payers=(
            OtherPayer(
                coverage=Coverage(
                    payer=Payer(name="TEST PRIMARY PLAN", payer_id="PAYER03", filing_indicator=ClaimFilingIndicator.COMMERCIAL),
                    subscriber=Subscriber(
                        member_id="MEMBER03",
                        group_number="GRP03",
                        last_name="TESTPARENT",
                        first_name="HOTEL",
                        address=Address(line1="2 OTHER LANE", city="ANYTOWN", state="MD", zip="21244"),
                    ),
                    responsibility=Responsibility.PRIMARY,
                    relationship=Relationship.SPOUSE,
                ),
                paid_amount=Decimal("80.00"),
                adjustments=(ClaimAdjustment(group=AdjustmentGroup.CONTRACTUAL, reason=Code(CodeSystem.CARC, "45"), amount=Decimal("10.00")),),
                adjudication_date=dt.date(2025, 4, 1),
                payer_claim_control_number="PRIMARYICN",
                remaining_patient_liability=Decimal("30.00"),
            ),
        ),
        diagnoses=(Diagnosis(code=Code(CodeSystem.ICD10CM, "S0181XA"), role=DiagnosisRole.PRINCIPAL),),
        lines=(
            ServiceLine(
                line_number=1,
                procedure=Code(CodeSystem.CPT, "99213"),
                charge=Decimal("120.00"),
                diagnosis_pointers=(1,),
                service_date=dt.date(2025, 3, 20),
                adjudications=(
                    LineAdjudication(
                        payer_id="PAYER03",
                        paid_amount=Decimal("80.00"),
                        procedure=Code(CodeSystem.CPT, "99213"),
                        adjustments=(
                            ClaimAdjustment(group=AdjustmentGroup.CONTRACTUAL, reason=Code(CodeSystem.CARC, "45"), amount=Decimal("10.00")),
                            ClaimAdjustment(group=AdjustmentGroup.PATIENT_RESPONSIBILITY, reason=Code(CodeSystem.CARC, "2"), amount=Decimal("30.00"), quantity=Decimal("1")),
                        ),
                        adjudication_date=dt.date(2025, 4, 1),
                    ),
                ),
            ),
        ),
        place_of_service=Code(CodeSystem.POS, "11"),
        provider_signature_on_file=False,
        release_of_information=ReleaseOfInformation.INFORMED_CONSENT,
        stated_total=Decimal("120.00"),
    )  # fmt: skip


I_TEXT = envelope(
    [
        "HL*1**20*1",
        "PRV*BI*PXC*282N00000X",
        f"NM1*85*2*TEST HOSPITAL*****XX*{BILLING_NPI}",
        "N3*500 TEST HOSPITAL DRIVE",
        "N4*ANYTOWN*MD*212440005",
        "REF*EI*990000010",
        "HL*2*1*22*0",
        "SBR*P*18*******MA",
        "NM1*IL*1*TESTPATIENT*GOLF*H***MI*MBI0001",
        "N3*1 TEST LANE",
        "N4*ANYTOWN*MD*21244",
        "DMG*D8*19550120*M",
        "NM1*PR*2*TEST MEDICARE A*****PI*PAYERA",
        "CLM*PCN005*25202.15***11:A:1**A*Y*I",
        "DTP*096*TM*1100",
        "DTP*434*RD8*20250701-20250704",
        "DTP*435*DT*202507012215",
        "CL1*1*7*01",
        "REF*EA*MRN05",
        "REF*LU*MD",
        "HI*ABK:I214:::::::Y",
        "HI*ABJ:R079",
        "HI*APR:R0789*APR:R0602",
        "HI*ABN:W010XXA:::::::N",
        "HI*DR:247",
        "HI*ABF:I2510:::::::Y*ABF:E119:::::::Y*ABF:N390:::::::N*ABF:Z794:::::::1*ABF:R51",
        "HI*BBR:027034Z:D8:20250702",
        "HI*BBQ:02C03ZZ:D8:20250702",
        "HI*BI:70:RD8:20250601-20250605",
        "HI*BH:11:D8:20250701",
        "HI*BE:80:::3*BE:A1:::12.5",
        "HI*BG:01*BG:17",
        f"NM1*71*1*TESTATTENDING*INDIA****XX*{RENDER_NPI}",
        "PRV*AT*PXC*207RC0000X",
        f"NM1*72*1*TESTSURGEON*JULIET****XX*{REF_NPI}",
        f"NM1*ZZ*1*TESTASSIST*KILO****XX*{SUP_NPI}",
        f"NM1*82*1*TESTRENDER*LIMA****XX*{ORD_NPI}",
        f"NM1*77*2*TEST ANNEX*****XX*{FAC_NPI}",
        "N3*7 ANNEX WAY",
        "N4*ANYTOWN*MD*212440007",
        f"NM1*DN*1*TESTREFERRER*ECHO****XX*{REF_NPI}",
        "LX*1",
        "SV2*0120**5400*UN*3",
        "LX*2",
        "SV2*0250*HC:J3490:JW::::SALINE*912.15*UN*12**100",
        "DTP*472*D8*20250702",
        "REF*6R*LINE2",
        "LIN**N4*00000000003",
        "CTP****2*UN",
        f"NM1*82*1*TESTLINEDOC*MIKE****XX*{SUP_NPI}",
        "LX*3",
        "SV2*0481*HC:93458*18890*UN*1",
    ],
    "005010X223A2",
)


def test_institutional_field_by_field() -> None:
    (claim,) = _claims(I_TEXT)
    info = claim.institutional
    assert info is not None
    assert claim.kind is ClaimKind.INSTITUTIONAL and claim.type_of_bill == "111"
    assert claim.place_of_service is None and claim.accident_state == "MD"
    assert claim.medical_record_number == "MRN05"
    assert claim.release_of_information is ReleaseOfInformation.INFORMED_CONSENT
    assert claim.payer.filing_indicator is ClaimFilingIndicator.MEDICARE_PART_A
    assert info.facility_type_code == "11"
    assert (info.admission_date, info.admission_time) == (dt.date(2025, 7, 1), dt.time(22, 15))
    assert info.discharge_time == dt.time(11, 0)
    assert (info.statement_from, info.statement_to) == (dt.date(2025, 7, 1), dt.date(2025, 7, 4))
    assert (info.admission_type, info.admission_source, info.patient_status) == ("1", "7", "01")
    assert info.drg == "247"
    cm = CodeSystem.ICD10CM
    assert claim.diagnoses == (
        Diagnosis(code=Code(cm, "I214"), role=DiagnosisRole.PRINCIPAL, poa=PresentOnAdmission.YES),
        Diagnosis(code=Code(cm, "R079"), role=DiagnosisRole.ADMITTING),
        Diagnosis(code=Code(cm, "R0789"), role=DiagnosisRole.REASON_FOR_VISIT),
        Diagnosis(code=Code(cm, "R0602"), role=DiagnosisRole.REASON_FOR_VISIT),
        Diagnosis(code=Code(cm, "W010XXA"), role=DiagnosisRole.EXTERNAL_CAUSE, poa=PresentOnAdmission.NO),
        Diagnosis(code=Code(cm, "I2510"), poa=PresentOnAdmission.YES),
        Diagnosis(code=Code(cm, "E119"), poa=PresentOnAdmission.YES),
        Diagnosis(code=Code(cm, "N390"), poa=PresentOnAdmission.NO),
        Diagnosis(code=Code(cm, "Z794"), poa=PresentOnAdmission.EXEMPT),
        Diagnosis(code=Code(cm, "R51")),
    )
    pcs = CodeSystem.ICD10PCS
    assert info.principal_procedure == PcsProcedure(code=Code(pcs, "027034Z"), date=dt.date(2025, 7, 2))
    assert info.other_procedures == (PcsProcedure(code=Code(pcs, "02C03ZZ"), date=dt.date(2025, 7, 2)),)
    assert info.occurrence_spans == (
        OccurrenceSpan(code="70", date_from=dt.date(2025, 6, 1), date_to=dt.date(2025, 6, 5)),
    )
    assert info.occurrence_codes == (Occurrence(code="11", date=dt.date(2025, 7, 1)),)
    assert info.value_codes == (
        ValueCode(code="80", amount=Decimal("3.00")),
        ValueCode(code="A1", amount=Decimal("12.50")),
    )
    assert info.condition_codes == ("01", "17")
    names = [
        (p.role, p.last_name)
        for p in (info.attending_provider, info.operating_provider, info.other_operating_provider)
        if p
    ]
    assert names == [
        (ProviderRole.ATTENDING, "TESTATTENDING"),
        (ProviderRole.OPERATING, "TESTSURGEON"),
        (ProviderRole.OTHER_OPERATING, "TESTASSIST"),
    ]
    assert info.attending_provider is not None and info.attending_provider.taxonomy == "207RC0000X"
    assert claim.rendering_provider is not None and claim.rendering_provider.last_name == "TESTRENDER"
    assert claim.service_facility is not None and claim.service_facility.organization_name == "TEST ANNEX"
    assert claim.referring_provider is not None and claim.referring_provider.first_name == "ECHO"
    room, drug, cath = claim.lines
    assert room == ServiceLine(
        line_number=1, revenue_code=Code(CodeSystem.REVENUE, "0120"), units=Decimal("3"), charge=Decimal("5400.00")
    )
    assert drug.procedure == Code(CodeSystem.HCPCS, "J3490") and drug.modifiers == (Code(CodeSystem.MODIFIER, "JW"),)
    assert drug.description == "SALINE" and drug.non_covered_charge == Decimal("100.00")
    assert drug.drug == Drug(ndc="00000000003", quantity=Decimal("2"), unit=NdcUnit.UNIT)
    assert drug.rendering_provider is not None and drug.rendering_provider.last_name == "TESTLINEDOC"
    assert (drug.control_number, drug.service_date) == ("LINE2", dt.date(2025, 7, 2))
    assert cath.procedure == Code(CodeSystem.CPT, "93458")
    assert claim.stated_total == claim.total_charge == Decimal("25202.15")
    assert [p.code for p in claim_problems(claim)] == []


def test_professional_and_institutional_in_one_file() -> None:
    p = P_TEXT.split("IEA*")[0].rsplit("GE*", 1)[0]  # up to the GE of the 837P
    i_group = (
        I_TEXT.split("~\n", 1)[1].rsplit("IEA*", 1)[0].replace("*101*X*", "*102*X*").replace("GE*1*101", "GE*1*102")
    )
    text = p + "GE*1*101~\n" + i_group + "IEA*2*000000101~\n"
    claims = read_837(text)
    assert [c.kind for c in claims] == [ClaimKind.PROFESSIONAL] * 2 + [ClaimKind.INSTITUTIONAL]


# ---------------------------------------------------------------------------------------------------
# Errors: one line naming the segment


def _swap(old: str, new: str, text: str = P_TEXT) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "index", "seg_id", "element", "fragment"),
    [
        # ICD-9 qualifiers, whatever the code looks like
        (_swap("HI*ABK:M1711", "HI*BK:M1711"), 35, "HI", "2300 HI01-1", "BK is an ICD-9-CM qualifier"),
        (_swap("ABF:E119", "BF:25000"), 35, "HI", "2300 HI02-1", "BF is an ICD-9-CM qualifier"),
        (_swap("HI*ABK:S0181XA", "HI*ABK:XYZ"), 69, "HI", "2300 HI01-2", "not a well-formed ICD-10-CM"),
        (_swap("HI*ABK:M1711*ABF:E119", "HI*ABK:M1711*ABK:E119"), 35, "HI", "2300 HI02-1", "on an 837P HI02-1 is ABF"),
        (_swap("HI*ABK:M1711*ABF:E119", "HI*ABF:M1711*ABK:E119"), 35, "HI", None, "HI01 'ABF' is not one of ABK"),
        # not carried: a segment, an element, a component, a loop, a second occurrence
        (_swap("REF*EA*MRN01", "REF*D9*TRACE1"), 33, "REF", None, "REF*D9 (claim identifier for transmission"),
        (_swap("SV1*HC:99213*120*UN*1***1", "SV1*HC:99213*120*UN*1***1**Y"), 82, "SV1", "2400 SV109", "SV109 'Y'"),
        (_swap("HC:99214:25", "HC:99214:25::::DESC:X"), 45, "SV1", "2400 SV101-8", "SV101-8 'X'"),
        (_swap("NM1*87*2~\nN3*PO BOX 77~\nN4*ANYTOWN*MD*21244", "NM1*PE*2*PLAN*****PI*X1~\nN3*A~\nN4*B*MD*21244~\nREF*EI*990000002"), 15, "NM1", None, "2010AC (pay-to plan name"),
        (_swap("REF*6R*LINE0001", "REF*6R*LINE0001~\nNTE*ADD*LINE NOTE"), 49, "NTE", None, "NTE*ADD (line note"),
        (_swap("PRV*BI*PXC*207Q00000X", "PRV*BI*PXC*207Q00000X~\nCUR*85*USD"), 10, "CUR", None, "CUR (foreign currency"),
        (_swap("NM1*PR*2*TEST PLAN*****PI*PAYER01", "NM1*PR*2*TEST PLAN*****XV*PAYER01"), 24, "NM1", "2010BB NM108", "NM108*XV"),
        (_swap("OI***Y***I", "OI***N***I"), 74, "OI", "2320 OI03", "CLM08 (benefits assignment) Y"),
        (_swap("N4*ANYTOWN*MD*212440001", "N4*ANYTOWN*MD*212440001*CA"), 12, "N4", "2010AA N404", "country code"),
        (_swap("SV1*HC:99214:25*185", "SV1*IV:99214:25*185"), 45, "SV1", "2400 SV101-1", "SV101-1*IV"),
        # values
        (_swap("DTP*431*D8*20250201", "DTP*431*D8*20250231"), 28, "DTP", "2300 DTP03", "not a valid date"),
        (_swap("DTP*431*D8*20250201", "DTP*431*RD8*20250201"), 28, "DTP", "2300 DTP02", "here it must be D8"),
        (_swap("CLM*PCN001*327.5", "CLM*PCN001*327.555"), 27, "CLM", "2300 CLM02", "not a whole number of cents"),
        (_swap("CLM*PCN001*327.5", "CLM*PCN001*12A"), 27, "CLM", "2300 CLM02", "'12A' is not an amount"),
        (_swap("11:B:7", "11:A:7"), 27, "CLM", "2300 CLM05-2", "on an 837P it must be B"),
        (_swap("11:B:7", "11:B:9"), 27, "CLM", "2300 CLM05-3", "'9' is not a claim frequency code"),
        (_swap("SV1*HC:99214:25*185", "SV1*HC:9921:25*185"), 45, "SV1", "2400 SV101-2", "'9921' is not a well-formed CPT"),
        (_swap("***1:2:3", "***1:2:13"), 45, "SV1", "2400 SV107-3", "'13' is not a diagnosis pointer"),
        (_swap("DMG*D8*19710412*F", "DMG*D8*19710412*X"), 23, "DMG", "2010BA DMG03", "'X' is not a sex code"),
        (_swap("NM1*DN*1*TESTREFERRER", "NM1*DN*2*TESTREFERRER"), 36, "NM1", "2310A NM102", "must be 1 (person)"),
        (_swap("CAS*CO*45*10~\nAMT*D*80", "CAS*XX*45*10~\nAMT*D*80"), 71, "CAS", "2320 CAS01", "'XX' is not a claim adjustment group"),
        (_swap("PAT*19", "PAT*99"), 63, "PAT", "2000C PAT01", "'99' is not a patient relationship code"),
        (_swap("N3*1 TEST LANE~\nN4*ANYTOWN*MD*21244~\nDMG*D8*1971", "N3*1 TEST:LANE~\nN4*ANYTOWN*MD*21244~\nDMG*D8*1971"), 21, "N3", "N301", "component separator"),
        # structure
        (_swap("N3*100 TEST AVENUE*SUITE 2~\nN4*ANYTOWN*MD*212440001", "N4*ANYTOWN*MD*212440001~\nN3*100 TEST AVENUE*SUITE 2"), 11, "N4", None, "loop 2010AA (billing provider name) needs N3 (address) before N4"),
        (_swap("REF*EI*990000001~\nPER", "REF*EI*990000001~\nN3*AGAIN~\nPER"), 14, "N3", None, "N3 (address) may occur once in loop 2010AA"),
        (_swap("REF*EA*MRN01~\n", "REF*EA*MRN01~\nDTP*439*D8*20250115~\n", _swap("DTP*439*D8*20250115~\n", "")), 33, "DTP", None, "DTP*439 is out of order in loop 2300 (claim information): it must come before REF*"),
        (_swap("HI*ABK:M1711*ABF:E119*ABF:I10~\n", ""), 35, "NM1", None, "loop 2300 (claim information) needs HI*ABK/BK"),
        (_swap("DTP*472*D8*20250310~\n", ""), 46, "REF", None, "loop 2400 (service line) needs DTP*472"),
        (_swap("REF*9F*REFERRAL1", "REF*G1*AUTH0"), 31, "REF", None, "REF*G1 (prior authorization) may occur once in loop 2300"),
        (_swap("HL*3*1*22*1", "HL*3*2*22*1"), 58, "HL", "HL02", "parent 2 is a subscriber HL; a subscriber HL belongs to a billing provider HL"),
        (_swap("HL*4*3*23*0", "HL*5*3*23*0"), 62, "HL", "HL01", "is 5 but should be 4"),
        (_swap("HL*4*3*23*0", "HL*4*9*23*0"), 62, "HL", "HL02", "parent 9 is not an earlier HL"),
        (_swap("HL*1**20*1", "HL*1*1*20*1"), 8, "HL", "HL02", "a billing provider HL has no parent"),
        (_swap("HL*4*3*23*0", "HL*4*3*24*0"), 62, "HL", None, "HL (HL03 24) is not expected here"),
        (_swap("LX*2~\n", ""), 49, "SV1", None, "SV1 (professional service) may occur once in loop 2400"),
        (_swap("BHT*0019*00", "BHT*0019*99"), 4, "BHT", "BHT02", "00 (original) or 18 (reissue)"),
        (_swap("ST*837*0001*005010X222A1", "ST*837*0001*005010X224A2"), 3, "ST", "ST03", "differs from GS08"),
        (_swap("005010X222A1", "005010X224A2").replace("005010X222A1", "005010X224A2"), 3, "ST", "ST03", "is not an 837P"),
        (_swap("NM1*40*2*TEST RECEIVER*****46*REC01", "NM1*40*2*TEST RECEIVER*****XX*REC01"), 7, "NM1", "1000B NM108", "46 (ETIN)"),
    ],
)  # fmt: skip
def test_errors_name_segment_and_element(
    text: str, index: int, seg_id: str, element: str | None, fragment: str
) -> None:
    with pytest.raises(X12ParseError) as info:
        read_837(renumber(text, hls=False))  # the SE count follows the edit; the edit is the only fault
    assert (info.value.segment_index, info.value.segment_id, info.value.element) == (index, seg_id, element), str(
        info.value
    )
    assert fragment in info.value.message


def test_control_totals_come_after_structure_and_before_values() -> None:
    wrong_count = _swap("SE*", "SE*9")
    with pytest.raises(X12ParseError) as info:
        read_837(wrong_count)
    assert (info.value.segment_index, info.value.element) == (88, "SE01")
    # a structural fault earlier in the file is reported first; a value fault after the counts
    with pytest.raises(X12ParseError, match="HL01: is 5"):
        read_837(_swap("HL*4*3*23*0", "HL*5*3*23*0", wrong_count))
    with pytest.raises(X12ParseError, match="SE01"):
        read_837(_swap("DMG*D8*19710412*F", "DMG*D8*19710412*X", wrong_count))


def test_drop_accepts_named_losses_only() -> None:
    text = _swap("SV1*HC:99213*120*UN*1***1", "SV1*HC:99213*120*UN*1***1**Y")
    text = _swap("REF*EA*MRN01", "REF*D9*TRACE1", text)
    with pytest.raises(X12ParseError, match="REF\\*D9"):
        read_837(text, drop={"SV109"})
    claims = read_837(text, drop={"SV109", "REF*D9"})
    assert claims[0].medical_record_number is None  # REF*EA was replaced by the dropped REF*D9
    assert claims[1].lines[0].procedure == Code(CodeSystem.CPT, "99213")


def test_second_referring_provider_and_pcp() -> None:
    pcp = _swap(f"NM1*DN*1*TESTREFERRER*ECHO****XX*{REF_NPI}", f"NM1*P3*1*TESTPCP*OSCAR****XX*{REF_NPI}")
    with pytest.raises(X12ParseError, match="NM1\\*P3"):
        read_837(pcp)
    (first, _) = read_837(pcp, drop={"NM1*P3"})
    assert first.referring_provider is None


def test_subscriber_claim_with_empty_sbr02_is_the_subscribers_own() -> None:
    """imsweb writes SBR02 empty on a subscriber-is-patient claim; the 2300 under 2000B says it."""
    (first, _) = read_837(_swap("SBR*P*18*GRP01", "SBR*P**GRP01"))
    assert first.patient is None and first.coverage.relationship is Relationship.SELF
    with pytest.raises(X12ParseError, match="in 2000B it is 18"):
        read_837(_swap("SBR*P*18*GRP01", "SBR*P*01*GRP01"))


def test_empty_hls_are_refused() -> None:
    text = envelope(P_BILLING + P_SELF[:9] + ["HL*3*1*22*0"] + P_SELF[1:])
    with pytest.raises(X12ParseError) as info:
        read_837(text)
    assert (info.value.segment_index, info.value.segment_id) == (18, "HL")
    assert "subscriber HL 2 has no claims" in info.value.message


def test_segment_indexes_count_from_the_isa_across_transactions() -> None:
    text = renumber(P_TEXT.replace("SE*", "SE*0").replace("~\nSE", "~\nSE", 1))
    tx = parse_837(text)[0]
    assert tx.envelope.st.index == 3 and tx.envelope.se.index == 88
    assert isinstance(tx.root, Loop)


# ---------------------------------------------------------------------------------------------------
# Scale: 10,000 claims built by repeating the imsweb many_claims blocks


def synthetic_claims(fixtures_dir: Path, claims: int = 10_000) -> str:
    """The clean many_claims file with its 2000A block (2 claims) repeated ``claims // 2`` times."""
    text = clean_imsweb(_text(fixtures_dir, f"{IMSWEB}/837_5010__x12_many_claims.txt"))
    lines = text.split("~\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("HL"))
    end = next(i for i, line in enumerate(lines) if line.startswith("SE"))
    block = lines[start : start + 28]
    assert block[0].startswith("HL*1**20") and lines[start + 28].startswith("HL*")
    return renumber("~\n".join(lines[:start] + block * (claims // 2) + lines[end:]))


def test_ten_thousand_claims(fixtures_dir: Path) -> None:
    text = synthetic_claims(fixtures_dir)
    claims = read_837(text, drop=IMSWEB_DROP)
    assert len(claims) == 10_000
    assert {c.id for c in claims} == {"A37YH556", "A37YH667"}
    assert sum(len(c.lines) for c in claims) == 10_000
    assert claims[-1].billing_provider is claims[-2].billing_provider  # one provider record per 2000A


# ---------------------------------------------------------------------------------------------------
# Property: whatever is done to a good file, the reader answers with claims or one X12ParseError


_SEGMENTS = P_TEXT.split("~\n")[:-1]
_INST_SEGMENTS = I_TEXT.split("~\n")[:-1]


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    segs = list(draw(st.sampled_from([_SEGMENTS, _INST_SEGMENTS])))
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(3, len(segs) - 4))  # keep the envelope headers and trailers
        action = draw(st.sampled_from(["drop", "dup", "swap", "edit", "move"]))
        if action == "drop":
            del segs[k]
        elif action == "dup":
            segs.insert(k, segs[k])
        elif action == "swap":
            segs[k], segs[k + 1] = segs[k + 1], segs[k]
        elif action == "move":
            segs.insert(draw(st.integers(3, len(segs) - 4)), segs.pop(k))
        else:
            elements = segs[k].split("*")
            pos = draw(st.integers(0, len(elements)))
            value = draw(st.text(alphabet="ABC019:^ .-", max_size=6))
            if pos == len(elements):
                elements.append(value)
            else:
                elements[pos] = value
            segs[k] = "*".join(elements)
    return renumber("~\n".join(segs) + "~\n", hls=False)


@settings(max_examples=400, deadline=None)
@given(_mutated())
def test_mutated_files_give_claims_or_one_parse_error(text: str) -> None:
    try:
        claims = read_837(text)
    except X12ParseError as exc:
        assert exc.segment_index is None or exc.segment_index >= 1
        assert "\n" not in exc.message
        return
    for claim in claims:
        claims_to_dict([claim])

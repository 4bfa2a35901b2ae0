"""Safe Harbor de-identification (pure): every identifier planted as a canary is absent from the output."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from medbill.core.claim import claim_to_dict, example_claims
from medbill.core.errors import SourceFileError
from medbill.interop.deid import (
    COLUMNS,
    SourceClaim,
    SourceEncounter,
    SourcePatient,
    SourceProcedure,
    deidentify,
    load_restricted_zip3,
    write_csv,
    write_jsonl,
    zip3_of,
)

AS_OF = dt.date(2026, 6, 30)
HHS_2000 = {
    "036",
    "059",
    "063",
    "102",
    "203",
    "556",
    "692",
    "790",
    "821",
    "823",
    "830",
    "831",
    "878",
    "879",
    "884",
    "890",
    "893",
}


@pytest.fixture(scope="module")
def zip3():  # type: ignore[no-untyped-def]
    return load_restricted_zip3()


def canary_patient(key: str = "4711", birth: dt.date = dt.date(1957, 3, 17)) -> SourcePatient:
    return SourcePatient(
        key=key,
        birth_date=birth,
        sex="F",
        state="OH",
        zip="43215-9876",
        death_date=None,
        last_name="CanaryLastname",
        first_name="CanaryFirstname",
        middle_name="CanaryMiddle",
        address1="417 Canary Street",
        address2="Apt Canary9",
        city="Canaryville",
        phone="6145550177",
        fax="6145550188",
        email="canary.mail@example.net",
        ssn="900112222",
        mrn="MRN-CANARY-31337",
        account_number="ACCT-CANARY-7",
        member_ids=("MEMBER-CANARY-55",),
        group_numbers=("GROUP-CANARY-66",),
        subscriber_names=("SubscriberCanary",),
        subscriber_birth_dates=(dt.date(1931, 11, 23),),
    )


def canary_encounter(patient: SourcePatient, key: str = "9001") -> SourceEncounter:
    return SourceEncounter(
        key=key,
        patient=patient,
        service_date=dt.date(2025, 8, 19),
        discharge_date=dt.date(2025, 8, 23),
        admission_date=dt.date(2025, 8, 19),
        kind="professional",
        setting="outpatient",
        place_of_service="11",
        status="coded",
        provider_key="77",
        provider_taxonomy="207Q00000X",
        provider_npi="1234567893",
        provider_name="DrCanary",
        external_id="EXT-CANARY-42",
        note="NOTE-CANARY: patient seen by DrCanary at 417 Canary Street",
        diagnoses=("E1122", "N1831"),
        procedures=(
            SourceProcedure("CPT", "99214", ("25",), Decimal("1"), Decimal("195.00"), dt.date(2025, 8, 19)),
            SourceProcedure("HCPCS", "J1100", (), Decimal("2"), Decimal("20.50"), None, ndc="00009037502"),
        ),
    )


def canary_claim(patient: SourcePatient) -> SourceClaim:
    doc = claim_to_dict(example_claims()[0])
    return SourceClaim(
        key="555",
        patient=patient,
        document=doc,
        encounter_key="9001",
        payer_name="Synthetic Plan",
        filing_indicator="CI",
        payer_rank=1,
        kind="professional",
        frequency="1",
        status="submitted",
        total_charge=Decimal("100.00"),
        patient_control_number="PCN-CANARY-88",
        payer_claim_number="PAYERCLAIM-CANARY-99",
        submitted_at=dt.datetime(2025, 8, 27, 10, 11, 12),
    )


IDENTIFYING_KEYS = {
    "id",
    "last_name",
    "first_name",
    "middle_name",
    "organization_name",
    "name",
    "member_id",
    "group_number",
    "line1",
    "line2",
    "city",
    "zip",
    "npi",
    "tax_id",
    "phone",
    "fax",
    "email",
    "date_of_birth",
    "service_date",
    "service_date_to",
    "prior_authorization",
    "referral_number",
    "medical_record_number",
    "control_number",
    "payer_claim_control_number",
    "adjudication_date",
    "accident_date",
    "original_claim_number",
}


def _identifying(value: object, key: str = "") -> list[str]:
    """The identifying string leaves of a claim document (by key)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _identifying(v, k)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _identifying(v, key)]
    if isinstance(value, str) and key in IDENTIFYING_KEYS:
        return [value]
    return []


def _outputs(export) -> str:  # type: ignore[no-untyped-def]
    a, b = io.StringIO(), io.StringIO()
    write_csv(export, a)
    write_jsonl(export, b)
    return a.getvalue() + "\n" + b.getvalue()


def test_restricted_zip3_list_is_the_dated_hhs_list(zip3) -> None:  # type: ignore[no-untyped-def]
    assert zip3.codes == HHS_2000
    assert "2000 Census" in zip3.date
    assert "HHS" in zip3.source
    assert len(zip3.sha256) == 64


def test_zip3_generalisation(zip3) -> None:  # type: ignore[no-untyped-def]
    assert zip3_of("43215-1234", zip3.codes) == "432"
    assert zip3_of("03601", zip3.codes) == "000"  # 036: population <= 20,000
    assert zip3_of("89301", zip3.codes) == "000"
    assert zip3_of("82301", zip3.codes) == "000"
    assert zip3_of("10001", zip3.codes) == "100"
    assert zip3_of("", zip3.codes) == ""
    assert zip3_of("43", zip3.codes) == ""


def test_a_newer_zip3_list_replaces_the_shipped_one(tmp_path: Path) -> None:
    f = tmp_path / "zip3.txt"
    f.write_text("# source: a newer Census list\n# date: 2030 Census\n432\n")
    z = load_restricted_zip3(f)
    assert z.codes == {"432"} and z.date == "2030 Census"
    assert zip3_of("43215", z.codes) == "000"
    assert zip3_of("03601", z.codes) == "036"
    f.write_text("432\n")
    with pytest.raises(SourceFileError, match="source"):
        load_restricted_zip3(f)
    f.write_text("# source: x\n# date: y\n43\n")
    with pytest.raises(SourceFileError, match="line 3"):
        load_restricted_zip3(f)


def test_no_identifier_survives(zip3) -> None:  # type: ignore[no-untyped-def]
    patient = canary_patient()
    claim = canary_claim(patient)
    export = deidentify([canary_encounter(patient)], [claim], zip3=zip3, as_of=AS_OF)
    text = _outputs(export)
    canaries = [
        "Canary",
        "CANARY",
        "417",
        "43215",
        "6145550177",
        "6145550188",
        "example.net",
        "900112222",
        "31337",
        "1234567893",
        "4711",
        "9001",
        "555,",
        "1957-03-17",
        "03-17",
        "08-19",
        "08-23",
        "2025-08-27",
        "1931",
        "10:11",
    ]
    for canary in canaries:
        assert canary not in text, canary
    # the claim document's identifiers: names, member id, addresses, NPIs, CLM01, dates with month/day
    leaves = set(_identifying(claim.document))
    assert len(leaves) >= 10
    for leaf in leaves:
        assert leaf not in text, leaf
    rows = list(csv.DictReader(io.StringIO(text.split("\n\n")[0])))
    enc = next(r for r in rows if r["record_type"] == "encounter")
    assert enc["zip3"] == "432" and enc["state"] == "OH" and enc["year"] == "2025"
    assert enc["age"] == "68" and enc["birth_year"] == "1957"
    assert enc["diagnoses"] == "E11.22 N18.31"
    assert enc["procedures"] == "CPT:99214-25*1=195.00|HCPCS:J1100*2=20.50"
    assert enc["patient"].startswith("P-") and enc["record"].startswith("E-") and enc["provider"].startswith("R-")
    cl = next(r for r in rows if r["record_type"] == "claim")
    assert cl["patient"] == enc["patient"] and cl["encounter"] == enc["record"]  # linked by pseudonyms
    assert cl["record"].startswith("C-") and cl["total_charge"] == "100.00"
    assert tuple(rows[0].keys()) == COLUMNS and "note" not in rows[0]


def test_pseudonyms_are_random_per_export(zip3) -> None:  # type: ignore[no-untyped-def]
    p = canary_patient()
    a = deidentify([canary_encounter(p)], [], zip3=zip3, as_of=AS_OF).rows[0]
    b = deidentify([canary_encounter(p)], [], zip3=zip3, as_of=AS_OF).rows[0]
    assert a["patient"] != b["patient"] and a["record"] != b["record"]


def test_ages_over_89_are_grouped_and_birth_year_removed(zip3) -> None:  # type: ignore[no-untyped-def]
    old = canary_patient("1", dt.date(1930, 1, 5))  # 95 at service
    turning = canary_patient("2", dt.date(1936, 9, 1))  # 88 at service 2025-08-19, 89 now -> kept
    over_now = canary_patient("3", dt.date(1935, 9, 1))  # 89 at service, 90 at export -> grouped
    export = deidentify(
        [canary_encounter(old, "a"), canary_encounter(turning, "b"), canary_encounter(over_now, "c")],
        [],
        zip3=zip3,
        as_of=AS_OF,
    )
    text = _outputs(export)
    by_patient = {r["record"]: r for r in export.rows}
    ages = sorted((r["age"], r["birth_year"]) for r in by_patient.values())
    assert ages == [("88", "1936"), ("90+", ""), ("90+", "")]
    assert "1930" not in text and "1935" not in text


def test_restricted_zip3_becomes_000(zip3) -> None:  # type: ignore[no-untyped-def]
    p = canary_patient()
    from dataclasses import replace

    row = deidentify([canary_encounter(replace(p, zip="69201"))], [], zip3=zip3, as_of=AS_OF).rows[0]
    assert row["zip3"] == "000"


def test_notes_are_left_out_unless_asked_and_then_marked(zip3) -> None:  # type: ignore[no-untyped-def]
    p = canary_patient()
    plain = deidentify([canary_encounter(p)], [], zip3=zip3, as_of=AS_OF)
    assert plain.deidentified and plain.manifest["deidentified"] is True
    assert "NOTE-CANARY" not in _outputs(plain) and "note" not in plain.columns
    with_notes = deidentify([canary_encounter(p)], [], zip3=zip3, as_of=AS_OF, include_notes=True)
    assert not with_notes.deidentified and with_notes.manifest["deidentified"] is False
    assert "NOT de-identified" in with_notes.manifest["notes"]
    assert with_notes.rows[0]["note"].startswith("NOTE-CANARY") and with_notes.rows[0]["deidentified"] == "no"
    first = json.loads(_outputs(with_notes).split("\n\n")[1].splitlines()[0])
    assert first["manifest"]["deidentified"] is False


def test_manifest_lists_the_18_identifiers_and_the_zip3_list(zip3) -> None:  # type: ignore[no-untyped-def]
    m = deidentify([], [], zip3=zip3, as_of=AS_OF).manifest
    assert len(m["identifiers"]) == 19  # the 18 Safe Harbor identifiers, ages over 89 listed on their own
    assert m["zip3_list"]["date"] == zip3.date and m["zip3_list"]["restricted"] == sorted(HHS_2000)
    assert m["method"].startswith("HIPAA Safe Harbor")

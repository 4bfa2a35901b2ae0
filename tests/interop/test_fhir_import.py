"""FHIR R4 bundles (pure): each resource type read, errors located by entry, resource id and element."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from medbill.interop.fhir_import import parse_bundle, parse_fhir

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2026, 1, 15)


def test_bundle_with_each_resource_type() -> None:
    parsed = parse_fhir(DATA / "bundle_r4.json", today=TODAY)
    assert parsed.issues == ()
    (p,) = parsed.patients
    assert (p.mrn, p.last_name, p.first_name, p.middle_name) == ("FHIR-MRN-1", "Fhirperson", "Gail", "Ann")
    assert p.birth_date == dt.date(1958, 7, 21) and p.sex == "F" and p.ssn == "900551234"
    assert (p.zip, p.state, p.phone, p.email) == ("43215", "OH", "6145550199", "gail@example.org")
    assert p.source == "bundle_r4.json, entry 0 (Patient/pat1)"
    (c,) = parsed.coverages
    assert (c.mrn, c.payer_id, c.payer_name, c.member_id, c.rank, c.group_number) == (
        "FHIR-MRN-1",
        "FHIRPAY",
        "Synthetic FHIR Health Plan",
        "FHIRMEMBER01",
        1,
        "GRP-77",
    )
    assert c.effective_from == dt.date(2024, 1, 1) and c.relationship_code == "18"
    (e,) = parsed.encounters
    assert e.external_id == "FHIR-ENC-1" and e.service_date == dt.date(2025, 4, 2) and e.place_of_service == "11"
    assert e.discharge_date is None  # ambulatory: no discharge
    assert [d.code.value for d in e.diagnoses] == ["E119", "I10"]  # Encounter.diagnosis.rank order
    assert [(x.code.system.value, x.code.value, x.procedure_date) for x in e.procedures] == [
        ("CPT", "99213", dt.date(2025, 4, 2))
    ]
    assert [(n.location, n.field) for n in parsed.notices] == [("entry 6 (Condition/cond3)", "code")]


def test_bad_bundle_lists_every_problem_with_entry_and_field() -> None:
    parsed = parse_fhir(DATA / "bundle_bad.json", today=TODAY)
    got = {(i.file, i.location, i.field) for i in parsed.issues}
    assert got == {
        ("bundle_bad.json", "entry 0 (Patient/p-bad-date)", "birthDate"),
        ("bundle_bad.json", "entry 1 (Patient/p-no-mrn)", "identifier"),
        ("bundle_bad.json", "entry 2 (Coverage/c-no-patient)", "beneficiary"),
        ("bundle_bad.json", "entry 2 (Coverage/c-no-patient)", "payor[0]"),
        ("bundle_bad.json", "entry 2 (Coverage/c-no-patient)", "subscriberId"),
        ("bundle_bad.json", "entry 3 (Encounter/e-no-period)", "subject"),
        ("bundle_bad.json", "entry 3 (Encounter/e-no-period)", "period.start"),
        ("bundle_bad.json", "entry 4 (Condition/cond-bad-code)", "code.coding[0].code"),
    }
    assert not parsed.patients and not parsed.encounters


def test_not_a_bundle_and_not_json(tmp_path: Path) -> None:
    assert parse_bundle({"resourceType": "Patient"}, file="x.json").issues[0].message == "not a FHIR Bundle"
    bad = tmp_path / "broken.json"
    bad.write_text('{"resourceType": "Bundle", ')
    issue = parse_fhir(bad).issues[0]
    assert issue.file == "broken.json" and issue.location.startswith("line 1")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "total": "many", "entry": []}))
    issue = parse_fhir(wrong).issues[0]
    assert (issue.location, issue.field) == ("bundle", "total")

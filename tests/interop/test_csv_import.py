"""CSV import (pure): the three layouts, and every bad row reported with its file, row and field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from medbill.interop.csv_import import parse_csv, parse_procedures

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2026, 1, 15)


def test_folder_layout_reads_all_three_files(tmp_path: Path) -> None:
    for name in ("patients.csv", "coverage.csv", "encounters.csv"):
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    parsed = parse_csv(tmp_path, today=TODAY)
    assert parsed.issues == ()
    assert [p.mrn for p in parsed.patients] == ["SYN001", "SYN002", "SYN003"]
    alma = parsed.patients[0]
    assert alma.birth_date == dt.date(1961, 4, 12) and alma.ssn == "900123456" and alma.phone == "6145550101"
    assert alma.source == "patients.csv, row 2"
    assert [(c.mrn, c.payer_id, c.rank) for c in parsed.coverages] == [
        ("SYN001", "SYNPAY1", 1),
        ("SYN002", "SYNMCR", 1),
        ("SYN002", "SYNPAY1", 2),
        ("SYN003", "SYNPAY1", 1),
    ]
    assert parsed.coverages[3].relationship_code == "19" and parsed.coverages[3].subscriber_first_name == "Dana"
    enc = parsed.encounters[0]
    assert [d.code.value for d in enc.diagnoses] == ["E1122", "N1831", "Z7984"] and enc.status == "coded"
    assert [(p.code.value, p.charge, p.diagnosis_pointers) for p in enc.procedures] == [
        ("99214", Decimal("195.00"), (1, 2)),
        ("83036", Decimal("38.00"), (1,)),
    ]
    assert parsed.encounters[1].procedures[0].modifiers == ("25",)
    assert (
        parsed.encounters[2].status == "to_code"
        and parsed.encounters[2].note == "Sore throat for 3 days, denies fever."
    )


def test_every_bad_row_and_field_is_reported_at_once() -> None:
    parsed = parse_csv([DATA / "bad_patients.csv", DATA / "bad_encounters.csv"], today=TODAY)
    got = {(i.file, i.location, i.field) for i in parsed.issues}
    assert got == {
        ("bad_patients.csv", "row 3", "last_name"),
        ("bad_patients.csv", "row 3", "birth_date"),
        ("bad_patients.csv", "row 3", "sex"),
        ("bad_patients.csv", "row 3", "state"),
        ("bad_patients.csv", "row 3", "zip"),
        ("bad_patients.csv", "row 3", "email"),
        ("bad_patients.csv", "row 4", "mrn"),  # the same MRN as row 2
        ("bad_encounters.csv", "row 2", "diagnoses[2]"),
        ("bad_encounters.csv", "row 2", "procedures[1].charge"),
        ("bad_encounters.csv", "row 3", "procedures[1].dx"),
    }
    dup = next(i for i in parsed.issues if i.field == "mrn")
    assert "bad_patients.csv, row 2" in dup.message
    text = "\n".join(str(i) for i in parsed.issues)
    assert "1970-13-01" not in text and "not-an-email" not in text  # PHI values are never echoed
    assert "bad_patients.csv, row 3, field birth_date: not a date (expected YYYY-MM-DD)" in text


def test_unknown_column_is_refused_with_its_name() -> None:
    parsed = parse_csv(DATA / "unknown_column.csv", today=TODAY)
    assert len(parsed.issues) == 1
    issue = parsed.issues[0]
    assert (issue.location, issue.field) == ("row 1", "header") and "favourite_colour" in issue.message


def test_procedure_syntax() -> None:
    (a, b, c) = parse_procedures("99213 mod=25,59 units=2 charge=10.50 dx=2; J1100 units=4; PCS:0DTJ4ZZ", diagnoses=2)
    assert (a.code.system.value, a.modifiers, a.units, a.charge, a.diagnosis_pointers) == (
        "CPT",
        ("25", "59"),
        Decimal("2"),
        Decimal("10.50"),
        (2,),
    )
    assert b.code.system.value == "HCPCS" and b.units == Decimal("4") and b.diagnosis_pointers == (1, 2)
    assert c.code.system.value == "ICD10PCS"

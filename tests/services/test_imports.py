"""import_records: all or nothing, MRN de-duplication by blind index, payers, audit, permissions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medbill.core.errors import PermissionDenied
from medbill.services.auth import create_practice
from medbill.services.context import Actor, system_actor
from medbill.services.imports import import_records
from medbill.services.permissions import Role
from medbill.store import models as m

DATA = Path(__file__).resolve().parents[1] / "interop" / "data"


def _practice(db, name: str = "Import Test Practice") -> int:  # type: ignore[no-untyped-def]
    return create_practice(db, actor=system_actor(), name=name).id


def _admin(pid: int) -> Actor:
    return Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=pid, source="test")


def _count(db, model, pid: int) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(model.practice_id == pid)) or 0)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "good"
    folder.mkdir()
    for name in ("patients.csv", "coverage.csv", "encounters.csv"):
        shutil.copy(DATA / name, folder / name)
    return folder


def test_csv_import_writes_everything_and_dedupes_by_mrn(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pid = _practice(db)
    folder = _folder(tmp_path)
    report = import_records(db, actor=_admin(pid), path=folder, kind="csv")
    assert report.ok and report.written, report.errors
    assert (report.patients_created, report.coverages_created, report.encounters_created) == (3, 4, 3)
    assert set(report.payers_created) == {"SYNPAY1", "SYNMCR"}
    with db.read() as s:
        alma = s.scalars(
            select(m.Patient).where(m.Patient.mrn_bidx == db.cipher.blind_index("SYN001", purpose="patient.mrn"))
        ).one()
        assert alma.last_name == "Testperson" and alma.practice_id == pid
        enc = s.scalars(select(m.Encounter).where(m.Encounter.external_id == "ENC-1")).one()
        assert [d.code for d in enc.diagnoses] == ["E1122", "N1831", "Z7984"] and enc.status == "coded"
        assert [p.code for p in enc.procedures] == ["99214", "83036"]
        events = s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "import")).all()
        assert [e.outcome for e in events] == ["success"]
        assert "Testperson" not in (events[0].detail or "") and "SYN001" not in str(events[0].record_ids)
    # the same files again: patients matched by MRN, nothing duplicated
    again = import_records(db, actor=_admin(pid), path=folder, kind="csv")
    assert again.ok and again.patients_created == 0 and again.patients_matched == 3
    assert again.coverages_existing == 4 and again.encounters_existing == 3 and again.encounters_created == 0
    assert _count(db, m.Patient, pid) == 3 and _count(db, m.Encounter, pid) == 3 and _count(db, m.Payer, pid) == 2


def test_one_bad_row_and_nothing_is_written(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pid = _practice(db)
    folder = _folder(tmp_path)
    # a coverage of an unknown patient and an unknown payer without a name: found only against the database
    with (folder / "coverage.csv").open("a") as f:
        f.write("NOBODY,SYNPAY1,,,1,XQA1,,18,,,,\nSYN001,UNKNOWNPAYER,,,2,XQA2,,18,,,,\n")
    report = import_records(db, actor=_admin(pid), path=folder, kind="csv")
    assert not report.ok and not report.written
    assert {(i.file, i.location, i.field) for i in report.errors} == {
        ("coverage.csv", "row 6", "mrn"),
        ("coverage.csv", "row 7", "payer_id"),
    }
    for model in (m.Patient, m.Coverage, m.Encounter, m.Payer):
        assert _count(db, model, pid) == 0, model
    with db.read() as s:
        outcomes = list(s.scalars(select(m.AuditEvent.outcome).where(m.AuditEvent.action == "import")))
    assert outcomes == ["failed"]


def test_parse_errors_and_dry_run_write_nothing(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pid = _practice(db)
    bad = import_records(db, actor=_admin(pid), path=DATA / "bad_patients.csv", kind="csv")
    assert not bad.ok and len(bad.errors) == 7
    dry = import_records(db, actor=_admin(pid), path=_folder(tmp_path), kind="csv", dry_run=True)
    assert dry.ok and not dry.written and dry.patients_created == 3
    assert _count(db, m.Patient, pid) == 0 and _count(db, m.Payer, pid) == 0


def test_fhir_import(db) -> None:  # type: ignore[no-untyped-def]
    pid = _practice(db)
    report = import_records(db, actor=_admin(pid), path=DATA / "bundle_r4.json", kind="fhir")
    assert report.ok, report.errors
    assert (report.patients_created, report.coverages_created, report.encounters_created) == (1, 1, 1)
    assert len(report.notices) == 1 and report.payers_created == ("FHIRPAY",)
    with db.read() as s:
        enc = s.scalars(select(m.Encounter).where(m.Encounter.practice_id == pid)).one()
        assert [d.code for d in enc.diagnoses] == ["E119", "I10"] and enc.external_id == "FHIR-ENC-1"
    bad = import_records(db, actor=_admin(pid), path=DATA / "bundle_bad.json", kind="fhir")
    assert not bad.ok and len(bad.errors) == 8
    assert _count(db, m.Patient, pid) == 1


def test_practices_are_isolated_and_permission_checked(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = _practice(db, "A"), _practice(db, "B")
    folder = _folder(tmp_path)
    assert import_records(db, actor=_admin(a), path=folder).ok
    report = import_records(db, actor=_admin(b), path=folder)
    assert report.patients_created == 3 and report.patients_matched == 0  # A's patients are not B's
    coder = Actor(user_id=None, role=Role.CODER, practice_id=a)
    with pytest.raises(PermissionDenied):
        import_records(db, actor=coder, path=folder)

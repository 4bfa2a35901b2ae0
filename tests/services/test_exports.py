"""export_deidentified: Safe Harbor rows from the database, canaries absent, notes flagged, audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from medbill.core.errors import PermissionDenied
from medbill.services.auth import create_practice
from medbill.services.context import Actor, system_actor
from medbill.services.exports import export_deidentified
from medbill.services.permissions import Role
from medbill.store import models as m

CANARIES = (
    "Zyxcanary",
    "Qwcanary",
    "777 Canary Blvd",
    "Canarytown",
    "6145550123",
    "canary@example.org",
    "900776655",
    "MRN-CANARY",
    "MEMBER-CANARY",
    "1944-02-29",
    "02-29",
    "03-21",
    "NOTE-CANARY",
    "1234567893",
)


def _seed(db) -> int:  # type: ignore[no-untyped-def]
    pid = create_practice(db, actor=system_actor(), name="Export Test").id
    with db.write() as s:
        payer = m.Payer(practice_id=pid, name="Synthetic Plan", payer_id="SYN1", filing_indicator="CI")
        prov = m.Provider(
            practice_id=pid, npi="1234567893", last_name="Drcanary", first_name="Qwcanary", taxonomy="207Q00000X"
        )
        s.add_all([payer, prov])
        s.flush()
        p = m.Patient(
            practice_id=pid,
            mrn="MRN-CANARY",
            last_name="Zyxcanary",
            first_name="Qwcanary",
            birth_date=dt.date(1944, 2, 29),
            sex="M",
            ssn="900776655",
            address1="777 Canary Blvd",
            city="Canarytown",
            state="NV",
            zip="89301",
            phone="6145550123",
            email="canary@example.org",
        )
        s.add(p)
        s.flush()
        s.add(m.Coverage(practice_id=pid, patient_id=p.id, payer_id=payer.id, member_id="MEMBER-CANARY"))
        e = m.Encounter(
            practice_id=pid,
            patient_id=p.id,
            rendering_provider_id=prov.id,
            service_date=dt.date(2025, 3, 21),
            note="NOTE-CANARY Zyxcanary seen",
            status="coded",
        )
        e.diagnoses = [m.EncounterDiagnosis(seq=1, code="I10")]
        e.procedures = [m.EncounterProcedure(seq=1, code="99213", charge=Decimal("135.00"), diagnosis_pointers=[1])]
        s.add(e)
    return pid


def _admin(pid: int) -> Actor:
    return Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=pid, source="test")


def test_export_is_deidentified_and_audited(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pid = _seed(db)
    out = tmp_path / "deid.csv"
    summary = export_deidentified(db, actor=_admin(pid), path_or_stream=out, as_of=dt.date(2026, 6, 1))
    assert summary.deidentified and summary.encounters == 1 and summary.rows == 1
    text = out.read_text() + Path(summary.manifest_path or "").read_text()
    for canary in CANARIES:
        assert canary not in text, canary
    (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
    assert row["age"] == "81" and row["birth_year"] == "1944"  # 81 at service; 82 now
    assert row["zip3"] == "000"  # 893 is on the restricted list
    assert row["state"] == "NV" and row["year"] == "2025" and row["diagnoses"] == "I10"
    assert row["procedures"] == "CPT:99213*1=135.00" and row["provider_taxonomy"] == "207Q00000X"
    manifest = json.loads(Path(summary.manifest_path or "").read_text())
    assert manifest["deidentified"] is True and "2000 Census" in manifest["zip3_list"]["date"]
    with db.read() as s:
        (event,) = s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "export")).all()
        assert event.outcome == "success" and "de-identified" in (event.detail or "")
        assert "encounter:" in str(event.record_ids) and "Zyxcanary" not in (event.detail or "")


def test_notes_mark_the_export_not_deidentified(db) -> None:  # type: ignore[no-untyped-def]
    pid = _seed(db)
    buf = io.StringIO()
    summary = export_deidentified(db, actor=_admin(pid), path_or_stream=buf, include_notes=True, fmt="jsonl")
    lines = buf.getvalue().splitlines()
    assert json.loads(lines[0])["manifest"]["deidentified"] is False and not summary.deidentified
    assert json.loads(lines[1])["note"].startswith("NOTE-CANARY") and json.loads(lines[1])["deidentified"] == "no"


def test_other_practice_and_roles(db) -> None:  # type: ignore[no-untyped-def]
    pid = _seed(db)
    other = create_practice(db, actor=system_actor(), name="Other").id
    buf = io.StringIO()
    assert export_deidentified(db, actor=_admin(other), path_or_stream=buf).encounters == 0
    with pytest.raises(PermissionDenied):
        export_deidentified(db, actor=Actor(user_id=None, role=Role.BILLER, practice_id=pid), path_or_stream=buf)

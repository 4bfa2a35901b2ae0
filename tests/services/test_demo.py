"""create_demo: a practice with N synthetic patients, coverage, fee schedules, encounters, users."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from medbill.core.claim import is_valid_npi
from medbill.services.demo import FEES, create_demo
from medbill.services.permissions import Role
from medbill.store import models as m

TODAY = dt.date(2026, 3, 1)


def test_demo_creates_patients_with_encounters_and_users(db) -> None:  # type: ignore[no-untyped-def]
    summary = create_demo(db, seed=11, patients=8, today=TODAY)
    pid = summary.practice_id
    assert summary.patients == 8 and summary.encounters >= 16 and summary.coded > 0 and summary.to_code > 0
    with db.read() as s:
        patients = s.scalars(select(m.Patient).where(m.Patient.practice_id == pid)).all()
        assert len(patients) == 8
        for p in patients:
            assert p.coverages and p.coverages[0].rank == 1
            n = s.scalar(select(func.count()).select_from(m.Encounter).where(m.Encounter.patient_id == p.id))
            assert n and n >= 2
        assert all(is_valid_npi(p.npi) for p in s.scalars(select(m.Provider).where(m.Provider.practice_id == pid)))
        payers = s.scalars(select(m.Payer).where(m.Payer.practice_id == pid)).all()
        assert sorted(p.filing_indicator for p in payers) == ["BL", "CI", "MB", "MC"]
        schedules = s.scalars(select(m.FeeSchedule).where(m.FeeSchedule.practice_id == pid)).all()
        assert len(schedules) == 5 and all(len(x.items) == len(FEES) for x in schedules)
        encounters = s.scalars(select(m.Encounter).where(m.Encounter.practice_id == pid)).all()
        for e in encounters:
            assert e.note and ("Denies" in e.note or "denies" in e.note)
            if e.status == "coded":
                assert e.diagnoses and e.procedures
            else:
                assert not e.diagnoses
        fractures = [e for e in encounters if e.note and "malleolus" in e.note and e.status == "coded"]
        for e in fractures:  # the side in the note is the side of the code and the modifiers
            side = "right" if "right ankle" in e.note else "left"
            assert e.diagnoses[0].code in (("S8261XA", "S8264XA") if side == "right" else ("S8262XA", "S8265XA"))
            assert (["RT"] if side == "right" else ["LT"]) in [p.modifiers for p in e.procedures]
    assert sorted(u.role for u in summary.users) == sorted(r.value for r in Role)
    assert all(u.otpauth_uri.startswith("otpauth://totp/") and len(u.password) >= 12 for u in summary.users)


def test_same_seed_same_records(db) -> None:  # type: ignore[no-untyped-def]
    a = create_demo(db, seed=3, patients=4, today=TODAY, with_users=False)
    b = create_demo(db, seed=3, patients=4, today=TODAY, with_users=False)
    with db.read() as s:

        def names(pid: int) -> list[tuple[str, str, dt.date]]:
            rows = s.scalars(select(m.Patient).where(m.Patient.practice_id == pid).order_by(m.Patient.id))
            return [(p.last_name, p.first_name, p.birth_date) for p in rows]

        assert names(a.practice_id) == names(b.practice_id)
    assert (a.encounters, a.coded) == (b.encounters, b.coded)

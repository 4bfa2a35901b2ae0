"""Code suggestions for an encounter and learning from the coder: practice synonyms, suppressions."""

from __future__ import annotations

import datetime as dt

from medbill.services.auth import create_practice
from medbill.services.coding import DecisionIn, practice_synonyms, record_decision, suggest_for_encounter
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import Role
from medbill.store import models as m

NOTE = "Assessment: sugar problem, poorly controlled. Essential hypertension."


def _seed(db, name: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    pid = create_practice(db, actor=system_actor(), name=name).id
    with db.write() as s:
        p = m.Patient(
            practice_id=pid, mrn="M1", last_name="Test", first_name="Pat", birth_date=dt.date(1960, 1, 2), sex="F"
        )
        s.add(p)
        s.flush()
        e = m.Encounter(practice_id=pid, patient_id=p.id, service_date=dt.date(2026, 4, 2), note=NOTE)
        s.add(e)
        s.flush()
        return pid, e.id


def _codes(view) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    return {s["code"]: s for s in view.suggestions}


def test_accepted_mention_becomes_a_practice_synonym(db, store) -> None:  # type: ignore[no-untyped-def]
    pid, enc = _seed(db, "Synonym Practice")
    other_pid, other_enc = _seed(db, "Other Practice")
    coder = Actor(user_id=None, role=Role.CODER, practice_id=pid)
    before = _codes(suggest_for_encounter(db, actor=coder, encounter_id=enc, refdata_path=store.path))
    assert "I10" in before and "E11.9" not in before  # the code sets do not know "sugar problem"

    record_decision(
        db,
        actor=coder,
        encounter_id=enc,
        decision=DecisionIn(code="E11.9", accepted=True, mention="Sugar problem"),
    )
    with db.read() as s:
        assert practice_synonyms(s, practice_id=pid) == (("Sugar problem", "ICD10CM", "E119"),)
        assert practice_synonyms(s, practice_id=other_pid) == ()
        stored = s.query(m.CodingDecision).one()
        assert stored.mention == "Sugar problem" and stored.mention_bidx  # decrypted in Python, indexed blind

    after = _codes(suggest_for_encounter(db, actor=coder, encounter_id=enc, refdata_path=store.path))
    e119 = after["E11.9"]
    assert e119["status"] == "suggested" and e119["assertion"] == "present"
    span = e119["evidence"][0]
    assert NOTE[span["start"] : span["end"]] == "sugar problem" == span["text"]
    assert any("practice synonym" in p for p in e119["path"])
    assert "I10" in after

    # another practice does not learn from this one
    other = Actor(user_id=None, role=Role.CODER, practice_id=other_pid)
    assert "E11.9" not in _codes(
        suggest_for_encounter(db, actor=other, encounter_id=other_enc, refdata_path=store.path)
    )

    # rejected as often as accepted: no longer a synonym; three rejections suppress the pair
    for _ in range(3):
        record_decision(
            db,
            actor=coder,
            encounter_id=enc,
            decision=DecisionIn(code="E11.9", accepted=False, mention="Sugar problem"),
        )
    with db.read() as s:
        assert practice_synonyms(s, practice_id=pid) == ()
    assert "E11.9" not in _codes(suggest_for_encounter(db, actor=coder, encounter_id=enc, refdata_path=store.path))

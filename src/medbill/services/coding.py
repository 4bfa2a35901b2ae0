"""Code suggestions for an encounter, and the coder's decisions on them (kept for learning).

``suggest_for_encounter`` decrypts the encounter's note, runs ``medbill.coding.suggest`` against
the reference store, and returns the suggestions with their evidence (offsets into the note).
``record_decision`` stores an accept/reject with its evidence text (encrypted) so that accepted
mention → code pairs can become practice synonyms and repeated rejections suppressions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from medbill.coding import CodingOptions, suggest
from medbill.core.codes import CodeSystem, normalize
from medbill.core.errors import MedbillError, NotFound, ValidationFailed
from medbill.services import reference
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.unit import operation
from medbill.settings import Settings
from medbill.store import models as m
from medbill.store.db import Database

__all__ = ["DecisionIn", "SuggestionsView", "practice_synonyms", "record_decision", "suggest_for_encounter"]



class SuggestionsView(BaseModel):
    encounter_id: int
    setting: str
    suggestions: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    drg: dict[str, Any] | None
    warnings: list[str]
    suppressed: list[str] = Field(default_factory=list)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: Literal["ICD10CM", "ICD10PCS", "HCPCS", "CPT"] = "ICD10CM"
    code: str = Field(min_length=3, max_length=8)
    accepted: bool
    mention: str | None = Field(default=None, max_length=500)


SUPPRESS_AFTER = 3
"""Rejections of the same mention → code pair after which it is no longer suggested in this practice."""


def suggest_for_encounter(
    db: Database,
    *,
    actor: Actor,
    encounter_id: int,
    setting: Literal["outpatient", "inpatient"] | None = None,
    settings: Settings | None = None,
    refdata_path: Path | None = None,
) -> SuggestionsView:
    with operation(db, actor, Permission.ENCOUNTER_READ, action="read", resource="encounter") as op:
        enc = op.session.get(m.Encounter, encounter_id)
        if enc is None or enc.practice_id != op.practice_id:
            raise NotFound(f"encounter {encounter_id} not found")
        op.ids.append(encounter_id)
        op.detail = "code suggestions"
        note = enc.note or ""
        chosen = setting or ("inpatient" if enc.setting == "inpatient" else "outpatient")
        rejected = op.session.execute(
            select(m.CodingDecision.system, m.CodingDecision.code, m.CodingDecision.mention_bidx, func.count())
            .where(m.CodingDecision.practice_id == op.practice_id, m.CodingDecision.accepted.is_(False))
            .group_by(m.CodingDecision.system, m.CodingDecision.code, m.CodingDecision.mention_bidx)
        ).all()
        synonyms = practice_synonyms(op.session, practice_id=op.practice_id)
        on = enc.service_date
    path = refdata_path or (settings or Settings.from_env()).refdata_path
    with reference.using_store(path) as store:
        result = suggest(note, store=store, setting=chosen, on=on, options=CodingOptions(practice_synonyms=synonyms))
    suppressed_keys = {(s, c, b) for s, c, b, n in rejected if n >= SUPPRESS_AFTER}
    kept, suppressed = [], []
    for sug in result.suggestions:
        mentions = {db.cipher.blind_index(e.text, purpose="coding_decision.mention") for e in sug.evidence}
        if any((str(sug.system), sug.code, b) in suppressed_keys for b in mentions):
            suppressed.append(sug.code)
            continue
        kept.append(sug.to_dict())
    data = result.to_dict()
    return SuggestionsView(
        encounter_id=encounter_id,
        setting=chosen,
        suggestions=kept,
        tasks=list(data.get("tasks", [])),
        conflicts=list(data.get("conflicts", [])),
        drg=data.get("drg"),
        warnings=list(result.warnings),
        suppressed=suppressed,
    )


MAX_SYNONYMS = 5_000
"""Practice synonyms passed to the pipeline at most (the most often accepted first)."""


def practice_synonyms(session: Any, *, practice_id: int | None) -> tuple[tuple[str, str, str], ...]:
    """The practice's accepted mention → code pairs, as ``CodingOptions.practice_synonyms``.

    The mention is encrypted in the database: rows are read and decrypted here, in Python, and
    grouped by (lower-cased mention, system, code); the most often accepted come first. A pair the
    practice has since rejected at least as often as it accepted it is left out.
    """
    if practice_id is None:
        return ()
    rows = session.execute(
        select(m.CodingDecision.mention, m.CodingDecision.system, m.CodingDecision.code, m.CodingDecision.accepted)
        .where(m.CodingDecision.practice_id == practice_id, m.CodingDecision.mention.is_not(None))
        .order_by(m.CodingDecision.id)
    ).all()
    votes: dict[tuple[str, str, str], int] = {}
    shown: dict[tuple[str, str, str], str] = {}
    for mention, system, code, accepted in rows:
        text = " ".join(str(mention or "").split())
        if not text or len(text) > 200:
            continue
        key = (text.lower(), str(system), str(code))
        votes[key] = votes.get(key, 0) + (1 if accepted else -1)
        if accepted:
            shown.setdefault(key, text)
    kept = sorted((k for k, v in votes.items() if v > 0 and k in shown), key=lambda k: (-votes[k], k))
    return tuple((shown[k], k[1], k[2]) for k in kept[:MAX_SYNONYMS])


def record_decision(db: Database, *, actor: Actor, encounter_id: int, decision: DecisionIn) -> int:
    """Store the coder's accept/reject of a suggestion (with the mention it rested on)."""
    try:
        code = normalize(decision.code, CodeSystem(decision.system))
    except MedbillError as exc:
        raise ValidationFailed(exc.message, field="code") from None
    with operation(db, actor, Permission.CODING_WRITE, action="create", resource="coding_decision") as op:
        enc = op.session.get(m.Encounter, encounter_id)
        if enc is None or enc.practice_id != op.practice_id:
            raise NotFound(f"encounter {encounter_id} not found")
        row = m.CodingDecision(
            practice_id=op.practice_id,
            encounter_id=encounter_id,
            user_id=actor.user_id,
            system=decision.system,
            code=code,
            accepted=decision.accepted,
            mention=decision.mention,
        )
        op.session.add(row)
        op.session.flush()
        op.ids.extend([encounter_id, row.id])
        return row.id

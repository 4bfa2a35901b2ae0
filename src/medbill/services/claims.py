"""Claim services over the practice database: encounter → claim → scrub → 837 batch → 999/277CA.

Each function is keyword-only (``fn(db, *, actor, ...)``) and runs inside one :func:`operation`
(permission check, one transaction, one audit record holding surrogate ids and control numbers only):

- :func:`build_claim` turns a coded encounter into a core :class:`~medbill.core.claim.Claim` (837P, or
  837I with type of bill, revenue codes and ICD-10-PCS procedures), charges from the procedure or the
  practice's fee schedule effective on the date of service, a generated patient control number
  (``"MB" + claim id + Luhn digit``: unique, no PHI in it), saved as a ``draft`` :class:`ClaimRecord`
  whose ``document`` is the claim's JSON form (encrypted); the encounter becomes ``billed``;
- :func:`scrub_claim` runs every scrubber rule (reference store from the settings, the practice's payer
  rules, the patient's lines on other claims) and moves draft/rejected → ready (no error) or
  ready → draft (errors);
- :func:`get_claim`, :func:`list_claims`, :func:`update_claim` (edit the JSON form in draft, ready or
  rejected; validated and re-scrubbed), :func:`claim_history`;
- :func:`create_batch` writes the 837P/837I of ready claims with control numbers kept in the
  ``control_number`` table (:class:`StoreControlNumbers`: ``SELECT … FOR UPDATE`` on PostgreSQL, the
  write transaction's ``BEGIN IMMEDIATE`` on SQLite — never reused), stores the
  :class:`SubmissionBatch` (content encrypted, SHA-256, ISA13/GS06) and moves the claims to
  ``submitted`` (cause ``submission``, reference ``ISA13/ST02``); 7/8 only for adjudicated claims;
- :func:`apply_acknowledgment` reads a 999 or a 277CA, stores it once (unique SHA-256 per practice: the
  same file again changes nothing), matches it to our batches (999: GS06/ST02) or claims (277CA: the
  patient control number's blind index, then the payer claim number) and applies the status changes of
  :mod:`medbill.ledger.status`; each rejection opens a work item in the ``rejections`` queue.

Claim status changes are written as :class:`ClaimStatusChange` rows with their cause (``user``,
``scrub``, ``submission``, ``999``, ``277CA``, ``835``) and a reference made of control numbers and
status codes; free text that may carry PHI (999 IK3 contexts, 277CA messages) goes only into the
encrypted work-item detail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medbill.core import claim as cc
from medbill.core.claim import ClaimFormatError, claim_from_dict, claim_to_dict
from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import Conflict, MedbillError, NotFound, ValidationFailed, X12ParseError
from medbill.core.finding import Finding, Severity
from medbill.core.money import money, sum_money
from medbill.core.remit import AckStatus, ClaimAck, FunctionalAck
from medbill.ledger import status as st
from medbill.ledger.actions import charge_batch
from medbill.scrub import EditTables, OtherLine, PayerRules, PayerRulesError, ScrubContext, scrub
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.schemas import Money, Page, UtcDateTime
from medbill.services.unit import Operation, operation, require
from medbill.settings import Settings
from medbill.store import models as m
from medbill.store.db import Database
from medbill.store.ledger_sql import SqlLedger
from medbill.x12.envelope import MAX_CONTROL_NUMBER, InterchangeSettings, X12WriteError
from medbill.x12.write837 import Written837, build_837i, build_837p

__all__ = [
    "PCN_PURPOSE",
    "AckChangeView",
    "AckView",
    "BatchView",
    "ClaimSummary",
    "ClaimView",
    "FindingView",
    "ScrubView",
    "StatusChangeView",
    "StoreControlNumbers",
    "apply_acknowledgment",
    "build_claim",
    "claim_history",
    "create_batch",
    "get_claim",
    "list_claims",
    "scrub_claim",
    "update_claim",
]

log = logging.getLogger(__name__)

PCN_PURPOSE = "claim.patient_control_number"
PAYER_CLAIM_PURPOSE = "claim.payer_claim_number"
EDITABLE = frozenset({"draft", "ready", "rejected"})
RANK_NAMES = {1: "primary", 2: "secondary", 3: "tertiary"}
_RESPONSIBILITY = {1: cc.Responsibility.PRIMARY, 2: cc.Responsibility.SECONDARY, 3: cc.Responsibility.TERTIARY}
_BATCH_KINDS = {"837P": cc.ClaimKind.PROFESSIONAL, "837I": cc.ClaimKind.INSTITUTIONAL}
P = Permission


# --------------------------------------------------------------------------------------------- views
class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ClaimSummary(_View):
    """A claim in a list (no PHI beyond ids and amounts)."""

    id: int
    encounter_id: int | None
    patient_id: int
    payer_id: int
    coverage_id: int | None
    kind: str
    payer_rank: int
    frequency: str
    status: str
    total_charge: Money
    scrub_errors: int
    scrub_warnings: int
    batch_id: int | None
    transaction_control: str | None
    submitted_at: UtcDateTime | None
    original_claim_id: int | None
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ClaimView(ClaimSummary):
    """One claim with its patient control number, payer claim number and JSON form (PHI)."""

    patient_control_number: str
    payer_claim_number: str | None
    document: dict[str, Any]


class FindingView(_View):
    rule: str
    name: str
    severity: str
    location: str
    message: str
    fix: str


class ScrubView(_View):
    claim_id: int
    status: str
    errors: int
    warnings: int
    infos: int
    findings: list[FindingView]
    reference: str  # which edit tables were used (release digest), never PHI


class StatusChangeView(_View):
    id: int
    from_status: str | None
    to_status: str
    cause_kind: str
    cause_ref: str | None
    detail: str | None
    user_id: int | None
    at: UtcDateTime


class BatchTransactionView(_View):
    control_number: str  # ST02
    claim_ids: list[int]


class BatchView(_View):
    id: int
    partner_id: int | None
    kind: str
    interchange_control: str  # ISA13
    group_control: str  # GS06
    claim_count: int
    total_charge: Money
    sha256: str
    status: str
    created_at: UtcDateTime
    transactions: list[BatchTransactionView]
    content: str  # the 837 text, for download (PHI)


class AckChangeView(_View):
    claim_id: int
    from_status: str
    to_status: str
    cause_ref: str
    detail: str | None


class AckView(_View):
    id: int
    kind: Literal["999", "277CA"]
    duplicate: bool  # the same file was applied before: nothing changed
    interchange_control: str | None
    accepted: int  # 999: transaction sets accepted; 277CA: claims accepted
    rejected: int
    changes: list[AckChangeView]
    problems: list[str]  # codes and control numbers only
    work_items: int


# --------------------------------------------------------------------------------------------- control numbers
class StoreControlNumbers:
    """X12 control numbers (ISA13, GS06, ST02) kept in ``control_number`` rows, in the caller's transaction.

    ISA13: one row per practice; GS06 and ST02: one row per practice, partner key and kind. Each
    ``next_*`` makes sure the row exists (an insert that ignores a conflict), locks it (``SELECT … FOR
    UPDATE`` on PostgreSQL; on SQLite the write transaction began with ``BEGIN IMMEDIATE`` and already
    excludes other writers), increments it and returns the new value. Two transactions never get the
    same number; a number taken by a transaction that rolls back was never sent, and the next
    transaction takes it again. Counters stop at 999,999,999.
    """

    def __init__(self, session: Session, *, practice_id: int, partner: str) -> None:
        self.session = session
        self.practice_id = practice_id
        self.partner = partner

    def _name(self, kind: str) -> str:
        # ISA13 is counted per practice (our batches are unique by practice and ISA13, whatever the
        # clearinghouse); GS06 and ST02 per trading partner
        return "interchange" if kind == "interchange" else f"{self.partner}/{kind}"

    def _next(self, kind: str) -> int:
        name = self._name(kind)
        table = cast(Table, m.ControlNumber.__table__)
        dialect = self.session.get_bind().dialect.name
        values = {"practice_id": self.practice_id, "name": name, "last_value": 0}
        if dialect == "postgresql":
            ins: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
        else:
            ins = sqlite.insert(table).values(**values).on_conflict_do_nothing()
        self.session.execute(ins)
        cond = (table.c.practice_id == self.practice_id, table.c.name == name)
        current = self.session.execute(select(table.c.last_value).where(*cond).with_for_update()).scalar_one()
        value = int(current) + 1
        if value > MAX_CONTROL_NUMBER:
            raise Conflict(
                f"{kind} control numbers for trading partner {self.partner} are exhausted",
                hint="agree a new sender id with the trading partner; numbers are never reused",
            )
        self.session.execute(update(table).where(*cond).values(last_value=value))
        return value

    def next_interchange(self) -> int:
        return self._next("interchange")

    def next_group(self) -> int:
        return self._next("group")

    def next_transaction(self) -> int:
        return self._next("transaction")


# --------------------------------------------------------------------------------------------- helpers
def _load(op: Operation, model: type[Any], record_id: int, name: str, *, lock: bool = False) -> Any:
    q = select(model).where(model.id == record_id, model.practice_id == op.practice_id)
    if lock:
        q = q.with_for_update()
    row = op.session.scalars(q).one_or_none()
    if row is None:
        raise NotFound(f"{name} {record_id} not found")
    return row


def _today(op: Operation) -> dt.date:
    practice = op.session.get(m.Practice, op.practice_id)
    try:
        zone = ZoneInfo(practice.timezone) if practice is not None else ZoneInfo("UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return dt.datetime.now(zone).date()


def _now_local(op: Operation) -> dt.datetime:
    practice = op.session.get(m.Practice, op.practice_id)
    try:
        zone = ZoneInfo(practice.timezone) if practice is not None else ZoneInfo("UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return dt.datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0)


def patient_control_number(claim_id: int) -> str:
    """``MB`` + the claim id + a Luhn check digit: unique per install, no PHI, a typo is caught."""
    digits = str(claim_id)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return f"MB{digits}{(10 - total % 10) % 10}"


def _record_change(
    claim: m.ClaimRecord,
    to: str,
    *,
    cause_kind: str,
    cause_ref: str | None,
    detail: str | None,
    user_id: int | None,
) -> m.ClaimStatusChange:
    change = m.ClaimStatusChange(
        from_status=claim.status,
        to_status=to,
        cause_kind=cause_kind,
        cause_ref=cause_ref,
        detail=detail,
        user_id=user_id,
    )
    claim.history.append(change)
    claim.status = to
    return change


def _move(
    claim: m.ClaimRecord,
    to: st.ClaimStatus,
    *,
    cause_kind: str,
    cause_ref: str | None,
    detail: str | None,
    user_id: int | None,
) -> None:
    """A user/scrub/submission transition the state machine must allow (else ``Conflict``)."""
    current = st.ClaimStatus(claim.status)
    if not st.can_transition(current, to):
        allowed = ", ".join(sorted(st.TRANSITIONS[current]))
        raise Conflict(f"claim {claim.id} is {current}: it cannot become {to} (allowed: {allowed})")
    _record_change(claim, to.value, cause_kind=cause_kind, cause_ref=cause_ref, detail=detail, user_id=user_id)


_CAUSES = {"999": st.CauseKind.ACK_999, "277ca": st.CauseKind.ACK_277CA, "835": st.CauseKind.REMITTANCE}


def _history(claim: m.ClaimRecord) -> list[st.StatusChange]:
    """The claim's stored history as ledger status changes (the initial ``draft`` row has no origin)."""
    out: list[st.StatusChange] = []
    for row in claim.history:
        if row.from_status is None:
            continue
        try:
            frm, to = st.ClaimStatus(row.from_status), st.ClaimStatus(row.to_status)
        except ValueError:
            continue
        out.append(
            st.StatusChange(
                claim_id=str(claim.id),
                from_status=frm,
                to_status=to,
                at=row.at.date(),
                cause=st.Cause(
                    kind=_CAUSES.get(row.cause_kind.lower(), st.CauseKind.USER),
                    reference=row.cause_ref or "",
                    detail=row.detail,
                ),
            )
        )
    return out


def _document(claim: m.ClaimRecord) -> cc.Claim:
    try:
        return claim_from_dict(claim.document)
    except ClaimFormatError as exc:  # a stored document that no longer reads: a broken contract
        raise ValidationFailed(f"claim {claim.id}: stored document unreadable: {exc.detail}", field=exc.path) from None


def _claim_view(claim: m.ClaimRecord) -> ClaimView:
    return ClaimView.model_validate(claim)


# --------------------------------------------------------------------------------------------- build
def _address(line1: str | None, city: str | None, state: str | None, zip_: str | None) -> cc.Address | None:
    if not (line1 and city and state and zip_):
        return None
    return cc.Address(line1=line1, city=city, state=state, zip=zip_.replace("-", ""))


def _sex(value: str | None) -> cc.Sex | None:
    return cc.Sex(value) if value in ("F", "M", "U") else None


def _provider(
    p: m.Provider, role: cc.ProviderRole, *, tax_id: str | None = None, with_address: bool = False
) -> cc.Provider:
    person = p.entity == "1"
    tin = tax_id if tax_id is not None else p.tax_id
    return cc.Provider(
        role=role,
        entity_type=cc.EntityType.PERSON if person else cc.EntityType.ORGANIZATION,
        organization_name=None if person else p.last_name,
        last_name=p.last_name if person else None,
        first_name=p.first_name if person else None,
        npi=p.npi,
        taxonomy=p.taxonomy,
        tax_id=tin,
        tax_id_type=cc.TaxIdType.EIN if tin else None,
        address=_address(p.address1, p.city, p.state, p.zip) if with_address else None,
    )


def _covers(cov: m.Coverage, on: dt.date) -> bool:
    return (
        cov.active
        and (cov.effective_from is None or cov.effective_from <= on)
        and (cov.effective_to is None or on <= cov.effective_to)
    )


def _coverage_for(op: Operation, patient: m.Patient, rank: int, on: dt.date) -> m.Coverage:
    rows = op.session.scalars(
        select(m.Coverage)
        .where(m.Coverage.practice_id == op.practice_id, m.Coverage.patient_id == patient.id, m.Coverage.rank == rank)
        .order_by(m.Coverage.id)
    ).all()
    live = [c for c in rows if _covers(c, on)]
    if not live:
        raise ValidationFailed(
            f"coverage: the patient has no {RANK_NAMES.get(rank, f'rank {rank}')} coverage active on the date "
            "of service",
            field="coverage",
            hint="add or correct the patient's coverage (effective dates, active)",
        )
    return max(live, key=lambda c: (c.effective_from or dt.date.min, c.id))


def _core_coverage(
    cov: m.Coverage, patient: m.Patient, responsibility: cc.Responsibility
) -> tuple[cc.Coverage, cc.Patient | None]:
    payer = cov.payer
    core_payer = cc.Payer(
        name=payer.name,
        payer_id=payer.payer_id,
        filing_indicator=cc.ClaimFilingIndicator(payer.filing_indicator),
        address=_address(payer.address1, payer.city, payer.state, payer.zip),
    )
    home = _address(patient.address1, patient.city, patient.state, patient.zip)
    relationship = cc.Relationship(cov.relationship_code)
    if relationship is cc.Relationship.SELF:
        subscriber = cc.Subscriber(
            member_id=cov.member_id,
            group_number=cov.group_number,
            last_name=patient.last_name,
            first_name=patient.first_name,
            middle_name=patient.middle_name,
            date_of_birth=patient.birth_date,
            sex=_sex(patient.sex),
            address=home,
        )
        person = None
    else:
        if not cov.subscriber_last_name:
            raise ValidationFailed(
                f"coverage.subscriber_last_name: coverage {cov.id} has a subscriber who is not the patient "
                f"(relationship {relationship.value}) but no subscriber name",
                field="coverage.subscriber_last_name",
            )
        subscriber = cc.Subscriber(
            member_id=cov.member_id,
            group_number=cov.group_number,
            last_name=cov.subscriber_last_name,
            first_name=cov.subscriber_first_name,
            date_of_birth=cov.subscriber_birth_date,
            sex=_sex(cov.subscriber_sex),
            address=home,
        )
        person = cc.Patient(
            last_name=patient.last_name,
            first_name=patient.first_name,
            middle_name=patient.middle_name,
            date_of_birth=patient.birth_date,
            sex=_sex(patient.sex),
            address=home,
        )
    insurance_type = None
    if cov.insurance_type:
        try:
            insurance_type = cc.InsuranceType(cov.insurance_type)
        except ValueError:
            raise ValidationFailed(
                f"coverage.insurance_type: {cov.insurance_type} is not an SBR05 insurance type code",
                field="coverage.insurance_type",
            ) from None
    coverage = cc.Coverage(
        payer=core_payer,
        subscriber=subscriber,
        responsibility=responsibility,
        relationship=relationship,
        insurance_type=insurance_type if responsibility is not cc.Responsibility.PRIMARY else None,
    )
    return coverage, person


def _fee(op: Operation, code: str, modifiers: Sequence[str], on: dt.date) -> Decimal | None:
    """The practice's own charge (fee schedule without payer) for code [+ first modifier] on a date."""
    schedules = op.session.scalars(
        select(m.FeeSchedule)
        .where(
            m.FeeSchedule.practice_id == op.practice_id,
            m.FeeSchedule.payer_id.is_(None),
            m.FeeSchedule.effective_from <= on,
        )
        .order_by(m.FeeSchedule.effective_from.desc(), m.FeeSchedule.id.desc())
    ).all()
    wanted = [modifiers[0], ""] if modifiers else [""]
    for schedule in schedules:
        if schedule.effective_to is not None and schedule.effective_to < on:
            continue
        items = {(i.code, i.modifier): i.amount for i in schedule.items}
        for mod in wanted:
            if (code, mod) in items:
                return items[(code, mod)]
    return None


def _tob(encounter: m.Encounter) -> tuple[str, cc.ClaimFrequency]:
    raw = (encounter.type_of_bill or "").strip()
    if len(raw) == 4 and raw.startswith("0"):
        raw = raw[1:]
    if not re.fullmatch(r"\d{3}", raw):
        raise ValidationFailed(
            "type_of_bill: an institutional encounter needs its type of bill (e.g. 131, 111)", field="type_of_bill"
        )
    try:
        frequency = cc.ClaimFrequency(raw[2])
    except ValueError:
        raise ValidationFailed(f"type_of_bill: {raw[2]} is not a claim frequency code", field="type_of_bill") from None
    if frequency in (cc.ClaimFrequency.REPLACEMENT, cc.ClaimFrequency.VOID):
        raise ValidationFailed(
            "type_of_bill: a replacement (7) or void (8) is made from the adjudicated claim, not from an encounter",
            field="type_of_bill",
        )
    return raw[:2], frequency


def _build_core(op: Operation, encounter: m.Encounter, rank: int) -> tuple[cc.Claim, m.Coverage]:
    session = op.session
    patient = session.get(m.Patient, encounter.patient_id)
    if patient is None or patient.practice_id != op.practice_id:
        raise ValidationFailed("patient_id: the encounter's patient does not exist", field="patient_id")
    on = encounter.service_date
    coverage_row = _coverage_for(op, patient, rank, on)
    if not coverage_row.payer.active:
        raise ValidationFailed(
            f"coverage.payer_id: payer {coverage_row.payer_id} is retired", field="coverage.payer_id"
        )
    coverage, person = _core_coverage(coverage_row, patient, _RESPONSIBILITY.get(rank, cc.Responsibility.TERTIARY))

    practice = session.get(m.Practice, op.practice_id)
    assert practice is not None
    billing_row: m.Provider | None = None
    if encounter.billing_provider_id is not None:
        billing_row = session.get(m.Provider, encounter.billing_provider_id)
    elif practice.npi:
        billing_row = session.scalars(
            select(m.Provider).where(m.Provider.practice_id == op.practice_id, m.Provider.npi == practice.npi)
        ).first()
    if billing_row is None or billing_row.practice_id != op.practice_id:
        raise ValidationFailed(
            "billing_provider_id: the encounter names no billing provider and the practice has no provider "
            "record with its NPI",
            field="billing_provider_id",
        )
    billing = _provider(
        billing_row, cc.ProviderRole.BILLING, tax_id=billing_row.tax_id or practice.tax_id, with_address=True
    )
    rendering_row = (
        session.get(m.Provider, encounter.rendering_provider_id) if encounter.rendering_provider_id else None
    )
    if rendering_row is not None and rendering_row.practice_id != op.practice_id:
        rendering_row = None

    if not encounter.diagnoses:
        raise ValidationFailed("diagnoses: the encounter has no coded diagnosis", field="diagnoses")
    if not encounter.procedures:
        raise ValidationFailed("procedures: the encounter has no coded procedure", field="procedures")
    institutional = encounter.kind == "institutional"
    inpatient = False
    facility = ""
    frequency = cc.ClaimFrequency.ORIGINAL
    if institutional:
        facility, frequency = _tob(encounter)
        inpatient = facility == "11" or encounter.setting == "inpatient"

    diagnoses: list[cc.Diagnosis] = []
    for i, d in enumerate(encounter.diagnoses):
        try:
            code = Code.parse(d.code, system=CodeSystem.ICD10CM)
        except MedbillError as exc:
            raise ValidationFailed(f"diagnoses[{i}].code: {exc.message}", field=f"diagnoses[{i}].code") from None
        poa = cc.PresentOnAdmission(d.poa) if inpatient and d.poa else None
        role = cc.DiagnosisRole.PRINCIPAL if i == 0 else cc.DiagnosisRole.OTHER
        diagnoses.append(cc.Diagnosis(code=code, role=role, poa=poa))

    lines: list[cc.ServiceLine] = []
    pcs: list[cc.PcsProcedure] = []
    for i, p in enumerate(encounter.procedures):
        where = f"procedures[{i}]"
        when = p.procedure_date or on
        if p.system == "ICD10PCS":
            if not institutional:
                raise ValidationFailed(
                    f"{where}.system: ICD-10-PCS procedures go on institutional claims only", field=f"{where}.system"
                )
            pcs.append(cc.PcsProcedure(code=Code.parse(p.code, system=CodeSystem.ICD10PCS), date=when))
            continue
        system = CodeSystem.HCPCS if p.system == "HCPCS" else CodeSystem.CPT
        modifiers = tuple(p.modifiers or ())
        charge = p.charge
        if charge is None:
            charge = _fee(op, p.code, modifiers, on)
        if charge is None:
            raise ValidationFailed(
                f"{where}.charge: {p.system} {p.code} has no charge and the practice fee schedule effective on "
                "the date of service has no fee for it",
                field=f"{where}.charge",
                hint="enter the charge on the procedure or add the code to the practice's fee schedule",
            )
        revenue = None
        if institutional:
            if not p.revenue_code:
                raise ValidationFailed(
                    f"{where}.revenue_code: an institutional line needs a revenue code", field=f"{where}.revenue_code"
                )
            revenue = Code.parse(p.revenue_code, system=CodeSystem.REVENUE)
        units = p.units.normalize() if p.units is not None else Decimal("1")
        lines.append(
            cc.ServiceLine(
                line_number=len(lines) + 1,
                procedure=Code.parse(p.code, system=system),
                modifiers=tuple(Code.parse(x, system=CodeSystem.MODIFIER) for x in modifiers),
                units=units,
                charge=money(charge),
                diagnosis_pointers=() if institutional else tuple(p.diagnosis_pointers or ()),
                service_date=when,
                revenue_code=revenue,
                drug=cc.Drug(ndc=p.ndc, quantity=units, unit=cc.NdcUnit.UNIT) if p.ndc else None,
            )
        )
    if not lines:
        raise ValidationFailed("procedures: the encounter has no billable service line (CPT/HCPCS)", field="procedures")

    info = None
    rendering = None
    if institutional:
        end = encounter.discharge_date or on
        info = cc.InstitutionalInfo(
            facility_type_code=facility,
            admission_date=on if inpatient else None,
            admission_type="9" if inpatient else None,  # information not available (not on the encounter)
            admission_source="9" if inpatient else None,
            patient_status="01" if (encounter.discharge_date or not inpatient) else "30",
            statement_from=on,
            statement_to=end,
            principal_procedure=pcs[0] if pcs else None,
            other_procedures=tuple(pcs[1:]),
            attending_provider=_provider(rendering_row, cc.ProviderRole.ATTENDING) if rendering_row else None,
        )
    elif rendering_row is not None:
        rendering = _provider(rendering_row, cc.ProviderRole.RENDERING)

    others: list[cc.OtherPayer] = []
    if rank > 1:  # COB: the coverages ahead of this one (their adjudication comes from ledger.secondary)
        for higher in range(1, rank):
            try:
                row = _coverage_for(op, patient, higher, on)
            except ValidationFailed:
                continue
            other, _ = _core_coverage(row, patient, _RESPONSIBILITY[higher])
            others.append(cc.OtherPayer(coverage=other))

    claim = cc.Claim(
        id="MBNEW",
        kind=cc.ClaimKind.INSTITUTIONAL if institutional else cc.ClaimKind.PROFESSIONAL,
        frequency=frequency,
        billing_provider=billing,
        rendering_provider=rendering,
        coverage=coverage,
        patient=person,
        other_payers=tuple(others),
        diagnoses=tuple(diagnoses),
        lines=tuple(lines),
        place_of_service=None if institutional else Code.parse(encounter.place_of_service, system=CodeSystem.POS),
        institutional=info,
        medical_record_number=patient.mrn if institutional else None,
    )
    return claim, coverage_row


def build_claim(db: Database, *, actor: Actor, encounter_id: int, payer_rank: int = 1) -> ClaimView:
    """A draft claim from a coded encounter, for the payer of ``payer_rank`` (1 primary, 2, 3)."""
    if payer_rank not in RANK_NAMES:
        raise ValidationFailed("payer_rank is 1 (primary), 2 (secondary) or 3 (tertiary)", field="payer_rank")
    with operation(db, actor, P.CLAIM_WRITE, action="create", resource="claim") as op:
        encounter: m.Encounter = _load(op, m.Encounter, encounter_id, "encounter", lock=True)
        if encounter.status == "void":
            raise Conflict(f"encounter {encounter_id} is void")
        existing = op.session.scalars(
            select(m.ClaimRecord.id).where(
                m.ClaimRecord.practice_id == op.practice_id,
                m.ClaimRecord.encounter_id == encounter_id,
                m.ClaimRecord.payer_rank == payer_rank,
                m.ClaimRecord.status != "closed",
            )
        ).first()
        if existing is not None:
            raise Conflict(
                f"encounter {encounter_id} already has claim {existing} for its {RANK_NAMES[payer_rank]} payer",
                hint=f"edit claim {existing}, or close it first",
            )
        claim, coverage = _build_core(op, encounter, payer_rank)
        row = m.ClaimRecord(
            practice_id=op.practice_id,
            encounter_id=encounter.id,
            patient_id=encounter.patient_id,
            payer_id=coverage.payer_id,
            coverage_id=coverage.id,
            kind=claim.kind.value,
            payer_rank=payer_rank,
            frequency=claim.frequency.value,
            status="draft",
            patient_control_number="MBNEW",
            total_charge=claim.total_charge,
            document=claim_to_dict(claim),
        )
        op.session.add(row)
        op.session.flush()
        pcn = patient_control_number(row.id)
        claim = dataclasses.replace(claim, id=pcn)
        row.patient_control_number = pcn
        row.document = claim_to_dict(claim)
        row.history.append(
            m.ClaimStatusChange(
                from_status=None, to_status="draft", cause_kind="user", cause_ref="build", user_id=actor.user_id
            )
        )
        encounter.status = "billed"
        op.session.flush()
        op.ids.extend([row.id, f"encounter:{encounter.id}"])
        log.info("claim %s built from encounter %s (%d lines)", row.id, encounter.id, len(claim.lines))
        return _claim_view(row)


# --------------------------------------------------------------------------------------------- scrub
@lru_cache(maxsize=4)
def _edit_tables(path: str, mtime_ns: int, cache_dir: str) -> EditTables:
    del mtime_ns  # part of the cache key: a rebuilt store is read again
    from medbill.codesets.refstore import RefStore

    store = RefStore.open(Path(path))
    try:
        return EditTables.load(store, cache=Path(cache_dir))
    finally:
        store.close()


def _tables(refdata_path: Path | None) -> EditTables:
    settings = Settings.from_env()
    path = refdata_path or settings.refdata_path
    if not path.is_file():
        raise ValidationFailed(
            f"no reference store at {path}: code and edit-table checks cannot run",
            field="refdata",
            hint="build it with `medbill data build` (or set MEDBILL_REFDATA)",
        )
    try:
        return _edit_tables(str(path.resolve()), path.stat().st_mtime_ns, str(settings.home / "edit-tables"))
    except MedbillError as exc:
        raise ValidationFailed(f"reference store {path}: {exc.message}", field="refdata") from None


def _payer_rules(op: Operation, payer: m.Payer) -> PayerRules:
    rows = op.session.scalars(
        select(m.PayerRule)
        .where(
            m.PayerRule.practice_id == op.practice_id,
            m.PayerRule.active.is_(True),
            (m.PayerRule.payer_id == payer.id) | m.PayerRule.payer_id.is_(None),
        )
        .order_by(m.PayerRule.id)
    ).all()
    payers: list[Any] = []
    for r in rows:
        d = dict(r.definition)
        who = payer.payer_id if r.payer_id is not None else "*"
        if "payers" in d:  # a whole payer-rules document
            payers.extend(d["payers"] if isinstance(d["payers"], list) else [d["payers"]])
        elif {"rules", "timely_filing_days", "reenable"} & set(d):  # one payer's configuration
            payers.append({"payer_id": who, **d} if "payer_id" not in d else d)
        else:  # one rule
            payers.append({"payer_id": who, "rules": [d]})
    if not payers:
        return PayerRules.empty()
    try:
        return PayerRules.from_data({"version": 1, "payers": payers}, source="payer rules")
    except PayerRulesError as exc:
        raise ValidationFailed(f"payer rules: {exc.message}", field="payer_rule") from None


def _other_lines(op: Operation, claim: m.ClaimRecord) -> list[OtherLine]:
    """The patient's lines on other live claims (not this encounter's, not its replacement chain)."""
    rows = op.session.scalars(
        select(m.ClaimRecord).where(
            m.ClaimRecord.practice_id == op.practice_id,
            m.ClaimRecord.patient_id == claim.patient_id,
            m.ClaimRecord.id != claim.id,
            m.ClaimRecord.status != "closed",
        )
    ).all()
    out: list[OtherLine] = []
    for other in rows:
        if claim.encounter_id is not None and other.encounter_id == claim.encounter_id:
            continue
        if other.original_claim_id == claim.id or claim.original_claim_id == other.id:
            continue
        try:
            core = claim_from_dict(other.document)
        except ClaimFormatError:
            continue
        out.extend(
            dataclasses.replace(line, patient=None, claim_id=str(other.id)) for line in OtherLine.from_claim(core)
        )
    return out


def _scrub(op: Operation, claim: m.ClaimRecord, core: cc.Claim, refdata_path: Path | None) -> ScrubView:
    tables = _tables(refdata_path)
    payer = op.session.get(m.Payer, claim.payer_id)
    assert payer is not None
    ctx = ScrubContext(
        today=_today(op),
        tables=tables,
        payer_rules=_payer_rules(op, payer),
        timely_filing_days=payer.timely_filing_days,
        other_lines=tuple(_other_lines(op, claim)),
    )
    findings: list[Finding] = scrub(core, ctx)
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    infos = len(findings) - errors - warnings
    claim.scrub_errors, claim.scrub_warnings = errors, warnings
    summary = f"{errors} errors, {warnings} warnings"
    current = st.ClaimStatus(claim.status)
    if errors == 0 and current in (st.ClaimStatus.DRAFT, st.ClaimStatus.REJECTED):
        _move(claim, st.ClaimStatus.READY, cause_kind="scrub", cause_ref=None, detail=summary, user_id=op.actor.user_id)
    elif errors and current in (st.ClaimStatus.READY, st.ClaimStatus.REJECTED):
        _move(claim, st.ClaimStatus.DRAFT, cause_kind="scrub", cause_ref=None, detail=summary, user_id=op.actor.user_id)
    op.session.flush()
    digest = str(tables.summary().get("digest") or "")[:16]
    return ScrubView(
        claim_id=claim.id,
        status=claim.status,
        errors=errors,
        warnings=warnings,
        infos=infos,
        findings=[FindingView.model_validate(f.to_dict()) for f in findings],
        reference=f"edit tables {digest}" if digest else "edit tables",
    )


def scrub_claim(db: Database, *, actor: Actor, claim_id: int, refdata_path: Path | None = None) -> ScrubView:
    """Run every scrubber rule on the claim; store the counts; draft/rejected → ready or ready → draft."""
    with operation(db, actor, P.CLAIM_WRITE, action="update", resource="claim") as op:
        claim: m.ClaimRecord = _load(op, m.ClaimRecord, claim_id, "claim", lock=True)
        if claim.status not in EDITABLE:
            raise Conflict(
                f"claim {claim_id} is {claim.status}: only draft, ready or rejected claims are scrubbed here"
            )
        view = _scrub(op, claim, _document(claim), refdata_path)
        op.ids.append(claim.id)
        op.detail = f"scrub: {view.errors} errors, {view.warnings} warnings"
        return view


# --------------------------------------------------------------------------------------------- read, edit
def get_claim(db: Database, *, actor: Actor, claim_id: int) -> ClaimView:
    with operation(db, actor, P.CLAIM_READ, action="read", resource="claim") as op:
        claim = _load(op, m.ClaimRecord, claim_id, "claim")
        op.ids.append(claim.id)
        return _claim_view(claim)


def list_claims(
    db: Database,
    *,
    actor: Actor,
    status: str | None = None,
    payer_id: int | None = None,
    patient_id: int | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[ClaimSummary]:
    """Claims of the practice, newest first, filtered on non-PHI columns."""
    if not 0 <= offset <= 10_000_000 or not 1 <= limit <= 200:
        raise ValidationFailed("offset must be ≥ 0 and limit between 1 and 200", field="limit")
    if status is not None and status not in {s.value for s in st.ClaimStatus}:
        raise ValidationFailed(f"status {status!r} is not a claim status", field="status")
    if kind is not None and kind not in ("professional", "institutional"):
        raise ValidationFailed("kind is professional or institutional", field="kind")
    with operation(db, actor, P.CLAIM_READ, action="read", resource="claim") as op:
        conds: list[ColumnElement[bool]] = [m.ClaimRecord.practice_id == op.practice_id]
        if status is not None:
            conds.append(m.ClaimRecord.status == status)
        if payer_id is not None:
            conds.append(m.ClaimRecord.payer_id == payer_id)
        if patient_id is not None:
            conds.append(m.ClaimRecord.patient_id == patient_id)
        if kind is not None:
            conds.append(m.ClaimRecord.kind == kind)
        total = op.session.scalar(select(func.count()).select_from(m.ClaimRecord).where(*conds)) or 0
        rows = op.session.scalars(
            select(m.ClaimRecord).where(*conds).order_by(m.ClaimRecord.id.desc()).offset(offset).limit(limit)
        ).all()
        op.ids.extend(r.id for r in rows)
        return Page[ClaimSummary](
            items=[ClaimSummary.model_validate(r) for r in rows], total=total, offset=offset, limit=limit
        )


def update_claim(
    db: Database,
    *,
    actor: Actor,
    claim_id: int,
    document: dict[str, Any],
    expected_version: int | None = None,
    refdata_path: Path | None = None,
) -> tuple[ClaimView, ScrubView]:
    """Replace the claim's JSON form (draft, ready or rejected only), validated, then re-scrubbed."""
    with operation(db, actor, P.CLAIM_WRITE, action="update", resource="claim") as op:
        claim: m.ClaimRecord = _load(op, m.ClaimRecord, claim_id, "claim", lock=True)
        if expected_version is not None and claim.version != expected_version:
            raise Conflict(
                f"claim {claim_id} changed since you read it (version {claim.version})",
                hint="reload the claim and edit again",
            )
        if claim.status not in EDITABLE:
            raise Conflict(
                f"claim {claim_id} is {claim.status}: only draft, ready or rejected claims can be edited",
                hint="an adjudicated claim is corrected with a replacement (7) or void (8)",
            )
        try:
            core = claim_from_dict(document)
        except ClaimFormatError as exc:
            raise ValidationFailed(exc.message, field=exc.path or "document", hint=exc.hint) from None
        if core.id != claim.patient_control_number:
            raise ValidationFailed("id: the patient control number of a claim cannot be changed", field="id")
        if core.kind.value != claim.kind:
            raise ValidationFailed(f"kind: this claim is {claim.kind}", field="kind")
        if core.frequency.value not in ("1", "7", "8") and core.kind is cc.ClaimKind.PROFESSIONAL:
            raise ValidationFailed("frequency: 837P claims use 1, 7 or 8", field="frequency")
        claim.document = claim_to_dict(core)
        claim.total_charge = sum_money(line.charge for line in core.lines)
        claim.frequency = core.frequency.value
        op.session.flush()
        view = _scrub(op, claim, core, refdata_path)
        op.ids.append(claim.id)
        op.detail = f"edit; scrub: {view.errors} errors"
        return _claim_view(claim), view


def claim_history(db: Database, *, actor: Actor, claim_id: int) -> list[StatusChangeView]:
    with operation(db, actor, P.CLAIM_READ, action="read", resource="claim") as op:
        claim: m.ClaimRecord = _load(op, m.ClaimRecord, claim_id, "claim")
        op.ids.append(claim.id)
        return [StatusChangeView.model_validate(h) for h in claim.history]


# --------------------------------------------------------------------------------------------- batches
def _interchange(partner: m.TradingPartner, practice: m.Practice) -> InterchangeSettings:
    if not (partner.contact_phone or partner.contact_email):
        raise ValidationFailed(
            f"trading partner {partner.id}: the submitter contact needs a phone or an email (837 1000A PER)",
            field="contact_phone",
        )
    try:
        return InterchangeSettings(
            sender_id=partner.sender_id,
            receiver_id=partner.receiver_id,
            sender_qualifier=partner.sender_qualifier,
            receiver_qualifier=partner.receiver_qualifier,
            application_sender_code=partner.gs_sender,
            application_receiver_code=partner.gs_receiver,
            submitter_name=(partner.submitter_name or practice.name)[:60],
            submitter_id=partner.submitter_id or partner.sender_id.strip(),
            submitter_contact=cc.Contact(
                name=partner.contact_name, phone=partner.contact_phone, email=partner.contact_email
            ),
            receiver_name=(partner.receiver_name or partner.name)[:60],
            usage_indicator=partner.usage,
        )
    except X12WriteError as exc:
        field = exc.path.removeprefix("settings.")
        raise ValidationFailed(f"trading partner {partner.id}: {field}: {exc.detail}", field=field) from None


def _check_frequency(op: Operation, claim: m.ClaimRecord, core: cc.Claim) -> None:
    """7/8 only for a claim the payer adjudicated (the original's history), else a new original (1)."""
    history = _history(claim)
    if claim.original_claim_id is not None:
        original = op.session.get(m.ClaimRecord, claim.original_claim_id)
        if original is not None and original.practice_id == op.practice_id:
            history = _history(original)
    allowed = set(st.allowed_frequencies(history))
    if core.kind is cc.ClaimKind.INSTITUTIONAL and cc.ClaimFrequency.ORIGINAL in allowed:
        # 837I: interim and late-charge bills (0-5) are originals too; 7/8 still need an adjudication
        allowed |= {f for f in cc.ClaimFrequency if f not in (cc.ClaimFrequency.REPLACEMENT, cc.ClaimFrequency.VOID)}
    if core.frequency not in allowed:
        nxt = st.next_frequency(history)
        why = (
            "the payer adjudicated it: send a replacement (7) or void (8)"
            if st.was_adjudicated(history)
            else "the payer never adjudicated it: fix it and send it as a new original (1)"
        )
        raise ValidationFailed(
            f"claims[{claim.id}].frequency: frequency {core.frequency.value} not allowed: {why}",
            field="frequency",
            hint=f"set frequency {nxt.value}",
        )


def create_batch(
    db: Database,
    *,
    actor: Actor,
    partner_id: int,
    claim_ids: Sequence[int] | None = None,
    kind: str = "837P",
) -> BatchView:
    """An 837 of ready claims (the given ones, or every ready claim of ``kind``) for a trading partner."""
    kind = kind.upper()
    if kind not in _BATCH_KINDS:
        raise ValidationFailed("kind is 837P or 837I", field="kind")
    claim_kind = _BATCH_KINDS[kind]
    with operation(db, actor, P.CLAIM_SUBMIT, action="submit", resource="submission_batch") as op:
        session = op.session
        partner: m.TradingPartner = _load(op, m.TradingPartner, partner_id, "trading partner")
        practice = session.get(m.Practice, op.practice_id)
        assert practice is not None
        q = select(m.ClaimRecord).where(m.ClaimRecord.practice_id == op.practice_id)
        if claim_ids is None:
            q = q.where(m.ClaimRecord.status == "ready", m.ClaimRecord.kind == claim_kind.value)
        else:
            ids = list(dict.fromkeys(claim_ids))
            if not ids:
                raise ValidationFailed("claim_ids: give at least one claim", field="claim_ids")
            q = q.where(m.ClaimRecord.id.in_(ids))
        rows = list(session.scalars(q.order_by(m.ClaimRecord.id).with_for_update()).all())
        if claim_ids is not None:
            found = {r.id for r in rows}
            missing = [i for i in claim_ids if i not in found]
            if missing:
                raise NotFound(f"claim {missing[0]} not found")
        if not rows:
            raise ValidationFailed(f"claim_ids: there is no ready {claim_kind.value} claim to send", field="claim_ids")
        cores: list[cc.Claim] = []
        for r in rows:
            if r.status != "ready":
                raise Conflict(
                    f"claim {r.id} is {r.status}: only ready claims are sent",
                    hint="scrub the claim until it has no error",
                )
            if r.kind != claim_kind.value:
                raise ValidationFailed(f"claims[{r.id}].kind: a {r.kind} claim cannot go in an {kind}", field="kind")
            core = _document(r)
            _check_frequency(op, r, core)
            cores.append(core)
        settings = _interchange(partner, practice)
        numbers = StoreControlNumbers(session, practice_id=op.practice_id, partner=settings.partner_key)
        build = build_837p if claim_kind is cc.ClaimKind.PROFESSIONAL else build_837i
        try:
            written: Written837 = build(cores, settings, numbers, when=_now_local(op))
        except X12WriteError as exc:
            path = exc.path
            hit = re.match(r"claims\[(\d+)\]", path)
            if hit and int(hit.group(1)) < len(rows):
                path = path.replace(hit.group(0), f"claims[{rows[int(hit.group(1))].id}]", 1)
            raise ValidationFailed(f"{path}: {exc.detail}", field=path, hint=exc.hint) from None
        isa13, gs06 = written.interchange_control_number, written.group_control_number
        batch = m.SubmissionBatch(
            practice_id=op.practice_id,
            partner_id=partner.id,
            kind=kind,
            interchange_control=isa13,
            group_control=gs06,
            claim_count=written.claim_count,
            total_charge=sum_money(c.total_charge for c in cores),
            sha256=hashlib.sha256(written.text.encode("ascii")).hexdigest(),
            content=written.text,
            status="created",
            created_by=actor.user_id,
        )
        session.add(batch)
        session.flush()
        submitted_at = m.utcnow()
        by_index: dict[int, str] = {index: st02 for index, _pcn, st02 in written.claim_map()}
        transactions: dict[str, list[int]] = {}
        for index, r in enumerate(rows):
            st02 = by_index[index]
            _move(
                r,
                st.ClaimStatus.SUBMITTED,
                cause_kind="submission",
                cause_ref=f"{isa13}/{st02}",
                detail=f"{kind} frequency {cores[index].frequency.value}",
                user_id=actor.user_id,
            )
            r.batch_id = batch.id
            r.transaction_control = st02
            r.submitted_at = submitted_at
            transactions.setdefault(st02, []).append(r.id)
        # a rejected claim sent again: its open rejection items are settled (the queue shows what is left to fix)
        session.execute(
            update(m.WorkItem)
            .where(
                m.WorkItem.practice_id == op.practice_id,
                m.WorkItem.queue == "rejections",
                m.WorkItem.claim_id.in_([r.id for r in rows]),
                m.WorkItem.resolved_at.is_(None),
            )
            .values(resolved_at=submitted_at, resolved_by=actor.user_id)
        )
        session.flush()
        # the charges enter the ledger when the claim is first sent (exactly once per claim: keyed on its id),
        # so that for every claim charges = payments + adjustments + open balance from then on
        ledger = SqlLedger(session, practice_id=op.practice_id, cipher=db.cipher, posted_by=actor.user_id)
        ledger.append(
            [
                charge_batch(dataclasses.replace(core, id=str(r.id)), on=submitted_at.date())
                for core, r in zip(cores, rows, strict=True)
            ]
        )
        op.ids.extend([f"batch:{batch.id}", *(r.id for r in rows)])
        op.detail = f"{kind} ISA13 {isa13} GS06 {gs06} ST02 {','.join(transactions)}; {len(rows)} claims"
        log.info("batch %s: %s ISA13 %s GS06 %s, %d claims", batch.id, kind, isa13, gs06, len(rows))
        return BatchView(
            id=batch.id,
            partner_id=batch.partner_id,
            kind=kind,
            interchange_control=isa13,
            group_control=gs06,
            claim_count=batch.claim_count,
            total_charge=batch.total_charge,
            sha256=batch.sha256,
            status=batch.status,
            created_at=batch.created_at,
            transactions=[BatchTransactionView(control_number=k, claim_ids=v) for k, v in transactions.items()],
            content=written.text,
        )


# --------------------------------------------------------------------------------------------- acknowledgments
def _ack_text(content: bytes, filename: str) -> str:
    raw = content[3:] if content.startswith(b"\xef\xbb\xbf") else content
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(f"{filename}: not an X12 text file (not UTF-8/ASCII)", field="content") from None
    if not text.lstrip().startswith("ISA"):
        raise ValidationFailed(f"{filename}: not an X12 interchange (no ISA at the start)", field="content")
    return text


def _ack_envelope(text: str, filename: str) -> tuple[Literal["999", "277CA"], str, str]:
    """(kind, ISA06 sender, ISA13) of the first interchange; the kind from GS01 (FA 999, HN 277CA)."""
    from medbill.x12.tokenizer import tokenize

    try:
        doc = tokenize(text)
    except X12ParseError as exc:
        raise ValidationFailed(f"{filename}: {exc.message}", field="content") from None
    sender = isa13 = ""
    for interchange in doc.interchanges:
        for seg in interchange.segments:
            if seg.id == "ISA" and not isa13:
                sender, isa13 = str(seg.element(6)).strip(), str(seg.element(13)).strip()
            if seg.id != "GS":
                continue
            gs01 = seg.text(1)
            if gs01 == "FA":
                return "999", sender, isa13
            if gs01 == "HN":
                return "277CA", sender, isa13
            raise ValidationFailed(
                f"{filename}: segment {seg.index} GS01 is {gs01 or '(empty)'}: not a 999 (FA) or 277CA (HN)",
                field="content",
            )
    raise ValidationFailed(f"{filename}: the file has no functional group (GS)", field="content")


_SAFE_999 = re.compile(r"IK(?:304|403)=\w+")


def _detail_999(status: AckStatus, errors: Iterable[str]) -> str:
    codes = sorted({c for e in errors for c in _SAFE_999.findall(e)})
    return f"IK501 {status.value}" + (f"; {' '.join(codes)}" if codes else "")


class _AckResult:
    def __init__(self) -> None:
        self.changes: list[AckChangeView] = []
        self.problems: list[str] = []
        self.work_items = 0
        self.accepted = 0
        self.rejected = 0


def _work_item(
    op: Operation, ack_id: int, queue: str, claim_id: int | None, summary: str, detail: dict[str, Any]
) -> None:
    op.session.add(
        m.WorkItem(
            practice_id=op.practice_id,
            queue=queue,
            claim_id=claim_id,
            summary=summary[:200],
            detail={"acknowledgment_id": ack_id, **detail},
        )
    )


def _apply_999(op: Operation, ack_id: int, acks: list[FunctionalAck], sender: str, out: _AckResult) -> None:
    session = op.session
    today = _today(op)
    for fa in acks:
        gs06 = fa.group_control_number
        out.accepted += sum(
            1 for t in fa.transactions if t.status in (AckStatus.ACCEPTED, AckStatus.ACCEPTED_WITH_ERRORS)
        )
        out.rejected += sum(
            1 for t in fa.transactions if t.status not in (AckStatus.ACCEPTED, AckStatus.ACCEPTED_WITH_ERRORS)
        )
        batches = list(
            session.scalars(
                select(m.SubmissionBatch)
                .where(m.SubmissionBatch.practice_id == op.practice_id, m.SubmissionBatch.group_control == gs06)
                .order_by(m.SubmissionBatch.id)
            ).all()
        )
        if len(batches) > 1 and sender:
            partners = {
                p.id
                for p in session.scalars(
                    select(m.TradingPartner).where(m.TradingPartner.practice_id == op.practice_id)
                ).all()
                if p.receiver_id.strip() == sender
            }
            batches = [b for b in batches if b.partner_id in partners] or batches
        if not batches:
            out.problems.append(f"999 for GS06 {gs06}: no batch of ours has this group control number")
            continue
        batch = batches[-1]
        claims = list(
            session.scalars(
                select(m.ClaimRecord)
                .where(m.ClaimRecord.practice_id == op.practice_id, m.ClaimRecord.batch_id == batch.id)
                .order_by(m.ClaimRecord.id)
                .with_for_update()
            ).all()
        )
        sets: dict[str, list[str]] = {}
        for c in claims:
            sets.setdefault(c.transaction_control or "", []).append(str(c.id))
        submissions = [
            st.Submission(group_control_number=gs06, transaction_control_number=k, claim_ids=tuple(v))
            for k, v in sets.items()
        ]
        by_id = {str(c.id): c for c in claims}
        update_ = st.changes_from_999(fa, submissions, {k: _history(c) for k, c in by_id.items()}, at=today)
        errors = {t.control_number: (t.status, t.errors) for t in fa.transactions}
        for ch in update_.changes:
            claim = by_id[ch.claim_id]
            st02 = ch.cause.reference.split("/", 1)[-1]
            status, errs = errors.get(st02, (fa.status, fa.errors))
            detail = _detail_999(status, errs)
            _record_change(
                claim,
                ch.to_status.value,
                cause_kind="999",
                cause_ref=ch.cause.reference,
                detail=detail,
                user_id=op.actor.user_id,
            )
            out.changes.append(
                AckChangeView(
                    claim_id=claim.id,
                    from_status=ch.from_status.value,
                    to_status=ch.to_status.value,
                    cause_ref=ch.cause.reference,
                    detail=detail,
                )
            )
            if ch.to_status is st.ClaimStatus.REJECTED:
                _work_item(
                    op,
                    ack_id,
                    "rejections",
                    claim.id,
                    f"999 rejected claim {claim.id} (GS06 {gs06} ST02 {st02}): {detail}",
                    {"kind": "999", "errors": list(errs) or list(fa.errors)},
                )
                out.work_items += 1
        out.problems.extend(p.message for p in update_.problems)
        statuses = {t.status for t in fa.transactions} or {fa.status}
        good = {AckStatus.ACCEPTED, AckStatus.ACCEPTED_WITH_ERRORS}
        batch.status = "accepted" if statuses <= good else ("rejected" if not statuses & good else "partial")


def _find_claim(op: Operation, ack: ClaimAck, cipher: Any) -> m.ClaimRecord | None:
    base = select(m.ClaimRecord).where(m.ClaimRecord.practice_id == op.practice_id).with_for_update()
    if ack.patient_control_number:
        bidx = cipher.blind_index(ack.patient_control_number, purpose=PCN_PURPOSE)
        row = op.session.scalars(base.where(m.ClaimRecord.pcn_bidx == bidx).order_by(m.ClaimRecord.id.desc())).first()
        if row is not None:
            return row
    if ack.payer_claim_number:
        bidx = cipher.blind_index(ack.payer_claim_number, purpose=PAYER_CLAIM_PURPOSE)
        return op.session.scalars(
            base.where(m.ClaimRecord.payer_claim_bidx == bidx).order_by(m.ClaimRecord.id.desc())
        ).first()
    return None


def _apply_277(op: Operation, db: Database, ack_id: int, acks: list[ClaimAck], out: _AckResult) -> None:
    today = _today(op)
    mapped: list[ClaimAck] = []
    by_id: dict[str, m.ClaimRecord] = {}
    for position, ack in enumerate(acks, 1):
        code = f"{ack.category}:{ack.status}"
        if ack.accepted:
            out.accepted += 1
        else:
            out.rejected += 1
        claim = _find_claim(op, ack, db.cipher)
        if claim is None:
            out.problems.append(f"277CA claim {position} ({code}): no claim of ours has this patient control number")
            _work_item(
                op,
                ack_id,
                "unmatched_ack",
                None,
                f"277CA claim {position} ({code}) matches no claim",
                {
                    "kind": "277CA",
                    "patient_control_number": ack.patient_control_number,
                    "payer_claim_number": ack.payer_claim_number,
                    "messages": list(ack.messages),
                },
            )
            out.work_items += 1
            continue
        by_id[str(claim.id)] = claim
        mapped.append(dataclasses.replace(ack, patient_control_number=str(claim.id)))
        if ack.accepted and ack.payer_claim_number and not claim.payer_claim_number:
            claim.payer_claim_number = ack.payer_claim_number
    update_ = st.changes_from_277ca(mapped, {k: _history(c) for k, c in by_id.items()}, at=today)
    originals = {a.patient_control_number: a for a in mapped}
    for ch in update_.changes:
        claim = by_id[ch.claim_id]
        ack = originals[ch.claim_id]
        detail = f"277CA STC {':'.join(p for p in (ack.category, ack.status, ack.entity) if p)}"
        _record_change(
            claim,
            ch.to_status.value,
            cause_kind="277CA",
            cause_ref=ch.cause.reference,
            detail=detail,
            user_id=op.actor.user_id,
        )
        if ch.payer_claim_number:
            claim.payer_claim_number = ch.payer_claim_number
        out.changes.append(
            AckChangeView(
                claim_id=claim.id,
                from_status=ch.from_status.value,
                to_status=ch.to_status.value,
                cause_ref=ch.cause.reference,
                detail=detail,
            )
        )
        if ch.to_status is st.ClaimStatus.REJECTED:
            _work_item(
                op,
                ack_id,
                "rejections",
                claim.id,
                f"277CA rejected claim {claim.id}: {ch.cause.reference}",
                {
                    "kind": "277CA",
                    "messages": list(ack.messages),
                    "line_statuses": [list(x) for x in ack.line_statuses],
                },
            )
            out.work_items += 1
    out.problems.extend(p.message for p in update_.problems)


def apply_acknowledgment(db: Database, *, actor: Actor, content: bytes, filename: str) -> AckView:
    """Read a 999 or 277CA, store it once, and move the claims it answers (rejections to a worklist)."""
    require(db, actor, P.CLAIM_SUBMIT, action="import", resource="acknowledgment")  # before reading the file
    text = _ack_text(content, filename)
    kind, sender, isa13 = _ack_envelope(text, filename)
    acks_999: list[FunctionalAck] = []
    acks_277: list[ClaimAck] = []
    try:
        if kind == "999":
            from medbill.x12.read999 import read_999

            acks_999 = read_999(text)
        else:
            from medbill.x12.read277 import read_277ca

            acks_277 = read_277ca(text)
    except X12ParseError as exc:
        raise ValidationFailed(f"{filename}: {exc.message}", field="content") from None
    digest = hashlib.sha256(content).hexdigest()
    for attempt in (1, 2):
        try:
            return _apply_ack(db, actor, kind, text, digest, isa13, sender, acks_999, acks_277)
        except IntegrityError:  # the same file applied at the same moment: the other one won
            if attempt == 2:
                raise Conflict("this acknowledgment is being applied by someone else; try again") from None
    raise AssertionError("unreachable")


def _apply_ack(
    db: Database,
    actor: Actor,
    kind: Literal["999", "277CA"],
    text: str,
    digest: str,
    isa13: str,
    sender: str,
    acks_999: list[FunctionalAck],
    acks_277: list[ClaimAck],
) -> AckView:
    with operation(db, actor, P.CLAIM_SUBMIT, action="import", resource="acknowledgment") as op:
        existing = op.session.scalars(
            select(m.Acknowledgment).where(
                m.Acknowledgment.practice_id == op.practice_id, m.Acknowledgment.sha256 == digest
            )
        ).first()
        if existing is not None:
            op.ids.append(f"ack:{existing.id}")
            op.detail = f"{kind} ISA13 {isa13}: already applied"
            return AckView(
                id=existing.id,
                kind=kind,
                duplicate=True,
                interchange_control=existing.interchange_control,
                accepted=existing.accepted,
                rejected=existing.rejected,
                changes=[],
                problems=[],
                work_items=0,
            )
        row = m.Acknowledgment(
            practice_id=op.practice_id, kind=kind, sha256=digest, interchange_control=isa13[:9] or None, content=text
        )
        op.session.add(row)
        op.session.flush()  # the unique (practice, sha256) guard, before any claim moves
        out = _AckResult()
        if kind == "999":
            _apply_999(op, row.id, acks_999, sender, out)
        else:
            _apply_277(op, db, row.id, acks_277, out)
        row.accepted, row.rejected = out.accepted, out.rejected
        op.session.flush()
        op.ids.extend([f"ack:{row.id}", *sorted({c.claim_id for c in out.changes})])
        op.detail = f"{kind} ISA13 {isa13}: {len(out.changes)} changes, {len(out.problems)} problems"
        log.info("acknowledgment %s (%s ISA13 %s): %d changes", row.id, kind, isa13, len(out.changes))
        return AckView(
            id=row.id,
            kind=kind,
            duplicate=False,
            interchange_control=row.interchange_control,
            accepted=out.accepted,
            rejected=out.rejected,
            changes=out.changes,
            problems=out.problems,
            work_items=out.work_items,
        )

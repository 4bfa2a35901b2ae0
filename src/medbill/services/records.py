"""Create, read, update, list and retire the practice's records — one generic service, one registry.

Every call names a resource of :data:`RESOURCES` (patients, coverage, providers, payers, encounters,
fee schedules, payer rules, trading partners). The registry says which model, schemas and permissions
it has, which non-PHI columns a list may filter on, and which other records it refers to (each must
belong to the same practice: a foreign id is "not found", exactly like a missing one). Lists sort by
id (PHI columns are encrypted and never sorted in SQL). PHI searches go through
:func:`search_patients`, which matches keyed blind indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from medbill.core.errors import Conflict, NotFound, ValidationFailed
from medbill.services import schemas as sc
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.unit import Operation, operation
from medbill.store import models as m
from medbill.store.db import Database

__all__ = ["RESOURCES", "Resource", "create", "delete", "get", "list_records", "search_patients", "update"]


@dataclass(frozen=True, slots=True)
class Resource:
    name: str  # singular, as in audit records and messages
    model: type[m.Base]
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    read_permission: Permission
    write_permission: Permission
    filters: tuple[str, ...] = ()  # non-PHI columns a list may filter on (equality)
    refs: dict[str, type[m.Base]] = field(default_factory=dict)  # field -> model it must point into
    soft_delete: bool = True  # retire (active = False) rather than delete
    nested: Callable[[Session, Any, dict[str, Any]], None] | None = None  # children (lines, items)


def _encounter_children(session: Session, row: Any, data: dict[str, Any]) -> None:
    if "diagnoses" in data and data["diagnoses"] is not None:
        row.diagnoses = [
            m.EncounterDiagnosis(seq=i, code=d["code"], poa=d.get("poa")) for i, d in enumerate(data["diagnoses"], 1)
        ]
    if "procedures" in data and data["procedures"] is not None:
        count = len(row.diagnoses)
        procs = []
        for i, p in enumerate(data["procedures"], 1):
            bad = [n for n in p.get("diagnosis_pointers", []) if n > count]
            if bad:
                raise ValidationFailed(
                    f"procedure {i} points to diagnosis {bad[0]}, but the encounter has {count}",
                    field=f"procedures[{i - 1}].diagnosis_pointers",
                )
            procs.append(m.EncounterProcedure(seq=i, **p))
        row.procedures = procs


def _fee_items(session: Session, row: Any, data: dict[str, Any]) -> None:
    if data.get("items") is not None:
        seen: set[tuple[str, str]] = set()
        items = []
        for i, it in enumerate(data["items"]):
            key = (it["code"].upper(), it.get("modifier", ""))
            if key in seen:
                raise ValidationFailed(f"code {key[0]} {key[1]} appears twice", field=f"items[{i}]")
            seen.add(key)
            items.append(m.FeeScheduleItem(code=key[0], modifier=key[1], amount=it["amount"]))
        if row.items:  # the old items go first: a kept code/modifier would otherwise collide with itself
            row.items.clear()
            session.flush()
        row.items = items


P = Permission
RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "patient",
            m.Patient,
            sc.PatientCreate,
            sc.PatientUpdate,
            sc.PatientRead,
            P.PATIENT_READ,
            P.PATIENT_WRITE,
            filters=("active", "sex"),
        ),
        Resource(
            "coverage",
            m.Coverage,
            sc.CoverageCreate,
            sc.CoverageUpdate,
            sc.CoverageRead,
            P.PATIENT_READ,
            P.PATIENT_WRITE,
            filters=("patient_id", "payer_id", "rank", "active"),
            refs={"patient_id": m.Patient, "payer_id": m.Payer},
        ),
        Resource(
            "provider",
            m.Provider,
            sc.ProviderCreate,
            sc.ProviderUpdate,
            sc.ProviderRead,
            P.PAYER_READ,
            P.PROVIDER_WRITE,
            filters=("npi", "active", "entity"),
        ),
        Resource(
            "payer",
            m.Payer,
            sc.PayerCreate,
            sc.PayerUpdate,
            sc.PayerRead,
            P.PAYER_READ,
            P.PAYER_WRITE,
            filters=("payer_id", "filing_indicator", "active"),
        ),
        Resource(
            "encounter",
            m.Encounter,
            sc.EncounterCreate,
            sc.EncounterUpdate,
            sc.EncounterRead,
            P.ENCOUNTER_READ,
            P.ENCOUNTER_WRITE,
            filters=("patient_id", "status", "kind", "setting", "rendering_provider_id"),
            refs={"patient_id": m.Patient, "rendering_provider_id": m.Provider, "billing_provider_id": m.Provider},
            soft_delete=False,
            nested=_encounter_children,
        ),
        Resource(
            "fee_schedule",
            m.FeeSchedule,
            sc.FeeScheduleCreate,
            sc.FeeScheduleUpdate,
            sc.FeeScheduleRead,
            P.PAYER_READ,
            P.FEE_SCHEDULE_WRITE,
            filters=("payer_id",),
            refs={"payer_id": m.Payer},
            soft_delete=False,
            nested=_fee_items,
        ),
        Resource(
            "payer_rule",
            m.PayerRule,
            sc.PayerRuleCreate,
            sc.PayerRuleUpdate,
            sc.PayerRuleRead,
            P.PAYER_READ,
            P.PAYER_WRITE,
            filters=("payer_id", "active"),
            refs={"payer_id": m.Payer},
        ),
        Resource(
            "trading_partner",
            m.TradingPartner,
            sc.TradingPartnerCreate,
            sc.TradingPartnerUpdate,
            sc.TradingPartnerRead,
            P.PAYER_READ,
            P.PAYER_WRITE,
            filters=("usage",),
            soft_delete=False,
        ),
    )
}


def _resource(name: str) -> Resource:
    try:
        return RESOURCES[name]
    except KeyError:
        raise NotFound(f"no such kind of record: {name}") from None


def _load(op: Operation, res: Resource, record_id: int) -> Any:
    row = op.session.get(res.model, record_id)
    if row is None or getattr(row, "practice_id", None) != op.practice_id:
        raise NotFound(f"{res.name} {record_id} not found")
    return row


def _check_refs(op: Operation, res: Resource, data: dict[str, Any]) -> None:
    for fld, model in res.refs.items():
        value = data.get(fld)
        if value is None:
            continue
        row = op.session.get(model, value)
        if row is None or getattr(row, "practice_id", None) != op.practice_id:
            raise NotFound(f"{fld} {value} does not exist")


_SPECIAL_UNIQUE = {"provider": ("npi",), "payer": ("payer_id",)}


def _check_unique(op: Operation, res: Resource, data: dict[str, Any], exclude: int | None = None) -> None:
    for fld in _SPECIAL_UNIQUE.get(res.name, ()):
        if fld not in data:
            continue
        col = getattr(res.model, fld)
        q = select(res.model.id).where(res.model.practice_id == op.practice_id, col == data[fld])  # type: ignore[attr-defined]
        if exclude is not None:
            q = q.where(res.model.id != exclude)  # type: ignore[attr-defined]
        if op.session.scalar(q) is not None:
            raise Conflict(f"a {res.name} with this {fld} already exists", hint="update the existing record")


def _read(res: Resource, row: Any) -> BaseModel:
    return res.read.model_validate(row)


def create(db: Database, *, actor: Actor, resource: str, data: BaseModel) -> BaseModel:
    res = _resource(resource)
    with operation(db, actor, res.write_permission, action="create", resource=res.name) as op:
        if not isinstance(data, res.create):
            data = res.create.model_validate(data.model_dump())
        values = data.model_dump()
        _check_refs(op, res, values)
        _check_unique(op, res, values)
        children = {k: values.pop(k) for k in ("diagnoses", "procedures", "items") if k in values}
        row = res.model(practice_id=op.practice_id, **values)
        if res.nested:
            res.nested(op.session, row, children)
        op.session.add(row)
        op.session.flush()
        op.ids.append(row.id)  # type: ignore[attr-defined]
        return _read(res, row)


def get(db: Database, *, actor: Actor, resource: str, record_id: int) -> BaseModel:
    res = _resource(resource)
    with operation(db, actor, res.read_permission, action="read", resource=res.name) as op:
        row = _load(op, res, record_id)
        op.ids.append(record_id)
        return _read(res, row)


def list_records(
    db: Database,
    *,
    actor: Actor,
    resource: str,
    offset: int = 0,
    limit: int = 50,
    filters: dict[str, Any] | None = None,
) -> sc.Page[Any]:
    res = _resource(resource)
    if not 0 <= offset <= 10_000_000 or not 1 <= limit <= 200:
        raise ValidationFailed("offset must be ≥ 0 and limit between 1 and 200", field="limit")
    with operation(db, actor, res.read_permission, action="read", resource=res.name) as op:
        conds: list[ColumnElement[bool]] = [res.model.practice_id == op.practice_id]  # type: ignore[attr-defined]
        for key, value in (filters or {}).items():
            if value is None:
                continue
            if key not in res.filters:
                raise ValidationFailed(f"{res.name} lists cannot be filtered by {key}", field=key)
            conds.append(getattr(res.model, key) == value)
        total = op.session.scalar(select(func.count()).select_from(res.model).where(*conds)) or 0
        rows = op.session.scalars(
            select(res.model).where(*conds).order_by(res.model.id).offset(offset).limit(limit)  # type: ignore[attr-defined]
        ).all()
        op.ids.extend(r.id for r in rows)  # type: ignore[attr-defined]
        return sc.Page[Any](items=[_read(res, r) for r in rows], total=total, offset=offset, limit=limit)


def update(db: Database, *, actor: Actor, resource: str, record_id: int, data: BaseModel) -> BaseModel:
    res = _resource(resource)
    with operation(db, actor, res.write_permission, action="update", resource=res.name) as op:
        row = _load(op, res, record_id)
        values = data.model_dump(exclude_unset=True)
        _check_refs(op, res, values)
        _check_unique(op, res, values, exclude=record_id)
        children = {k: values.pop(k) for k in ("diagnoses", "procedures", "items") if k in values}
        for key, value in values.items():
            if value is None and not res.model.__table__.c[key].nullable:  # type: ignore[attr-defined]
                raise ValidationFailed(f"{key} cannot be empty", field=key)
            setattr(row, key, value)
        if res.nested and children:
            if "procedures" in children or "diagnoses" in children:
                children.setdefault("procedures", [_proc_dict(p) for p in row.procedures])
            res.nested(op.session, row, children)
        op.session.flush()
        op.ids.append(record_id)
        return _read(res, row)


def _proc_dict(p: m.EncounterProcedure) -> dict[str, Any]:
    return {
        "system": p.system,
        "code": p.code,
        "modifiers": p.modifiers,
        "units": p.units,
        "charge": p.charge,
        "diagnosis_pointers": p.diagnosis_pointers,
        "revenue_code": p.revenue_code,
        "ndc": p.ndc,
        "procedure_date": p.procedure_date,
    }


def delete(db: Database, *, actor: Actor, resource: str, record_id: int) -> None:
    """Retire a record (``active = False``) or, for those without history, delete it."""
    res = _resource(resource)
    with operation(db, actor, res.write_permission, action="delete", resource=res.name) as op:
        row = _load(op, res, record_id)
        if res.soft_delete:
            row.active = False
        elif res.name == "encounter" and row.status == "billed":
            raise Conflict("a billed encounter cannot be deleted", hint="void its claim first")
        else:
            if res.name == "encounter" and op.session.scalar(
                select(m.ClaimRecord.id).where(m.ClaimRecord.encounter_id == record_id)
            ):
                raise Conflict("this encounter has claims and cannot be deleted")
            op.session.delete(row)
        op.ids.append(record_id)


def search_patients(db: Database, *, actor: Actor, query: sc.PatientSearch) -> sc.Page[sc.PatientRead]:
    """Find patients by last name, birth date, MRN, account number or member id (blind-index equality)."""
    given = query.model_dump(exclude={"offset", "limit"}, exclude_none=True)
    if not given:
        raise ValidationFailed("give at least one of last_name, birth_date, mrn, account_number, member_id")
    with operation(db, actor, Permission.PATIENT_READ, action="search", resource="patient") as op:
        bidx = db.cipher.blind_index
        conds: list[ColumnElement[bool]] = [m.Patient.practice_id == op.practice_id]
        if query.last_name:
            conds.append(m.Patient.name_bidx == bidx(query.last_name, purpose="patient.last_name"))
        if query.birth_date:
            conds.append(m.Patient.birth_bidx == bidx(query.birth_date.isoformat(), purpose="patient.birth_date"))
        if query.mrn:
            conds.append(m.Patient.mrn_bidx == bidx(query.mrn, purpose="patient.mrn"))
        if query.account_number:
            conds.append(m.Patient.account_bidx == bidx(query.account_number, purpose="patient.account_number"))
        if query.member_id:
            sub = select(m.Coverage.patient_id).where(
                m.Coverage.practice_id == op.practice_id,
                m.Coverage.member_bidx == bidx(query.member_id, purpose="coverage.member_id"),
            )
            conds.append(m.Patient.id.in_(sub))
        total = op.session.scalar(select(func.count()).select_from(m.Patient).where(*conds)) or 0
        rows: Sequence[m.Patient] = op.session.scalars(
            select(m.Patient).where(*conds).order_by(m.Patient.id).offset(query.offset).limit(query.limit)
        ).all()
        op.ids.extend(r.id for r in rows)
        op.detail = "fields: " + ",".join(sorted(given))
        return sc.Page[sc.PatientRead](
            items=[sc.PatientRead.model_validate(r) for r in rows],
            total=total,
            offset=query.offset,
            limit=query.limit,
        )

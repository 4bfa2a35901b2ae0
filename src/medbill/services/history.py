"""What came and went: submission batches, remittances and acknowledgments, listed and read back.

Lists carry control numbers, counts and amounts (no PHI); reading one batch, remittance or
acknowledgment returns its X12 text too (PHI: the permission that reads claims or remittances, and
an audit record naming it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from medbill.core.errors import NotFound, ValidationFailed
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.schemas import Money, Page, UtcDateTime
from medbill.services.unit import operation
from medbill.store import models as m
from medbill.store.db import Database

__all__ = [
    "AckSummary",
    "BatchSummary",
    "RemittanceSummary",
    "get_batch_file",
    "get_remittance_file",
    "list_acknowledgments",
    "list_batches",
    "list_remittances",
]


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class BatchSummary(_View):
    id: int
    partner_id: int | None
    kind: str
    interchange_control: str
    group_control: str
    claim_count: int
    total_charge: Money
    sha256: str
    status: str
    created_at: UtcDateTime


class RemittanceSummary(_View):
    id: int
    payer_trace_id: str
    trace: str
    payment_amount: Money
    payment_method: str | None
    interchange_control: str | None
    claim_count: int
    status: str
    sha256: str
    received_at: UtcDateTime
    posted_at: UtcDateTime | None


class AckSummary(_View):
    id: int
    kind: str
    interchange_control: str | None
    accepted: int
    rejected: int
    sha256: str
    received_at: UtcDateTime


class X12File(BaseModel):
    id: int
    kind: str
    content: str


def _page(offset: int, limit: int) -> None:
    if not 0 <= offset <= 10_000_000 or not 1 <= limit <= 200:
        raise ValidationFailed("offset must be ≥ 0 and limit between 1 and 200", field="limit")


def _list(
    db: Database,
    actor: Actor,
    model: Any,
    view: type[_View],
    permission: Permission,
    resource: str,
    order: Any,
    offset: int,
    limit: int,
) -> Page[Any]:
    _page(offset, limit)
    with operation(db, actor, permission, action="read", resource=resource) as op:
        cond = model.practice_id == op.practice_id
        total = op.session.scalar(select(func.count()).select_from(model).where(cond)) or 0
        # list columns only: the encrypted X12 text is not loaded
        cols = [getattr(model, f) for f in view.model_fields]
        rows = op.session.execute(select(*cols).where(cond).order_by(order.desc()).offset(offset).limit(limit)).all()
        op.ids.extend(r.id for r in rows)
        items = [view.model_validate(dict(r._mapping)) for r in rows]
        return Page[Any](items=items, total=total, offset=offset, limit=limit)


def list_batches(db: Database, *, actor: Actor, offset: int = 0, limit: int = 50) -> Page[Any]:
    return _list(
        db,
        actor,
        m.SubmissionBatch,
        BatchSummary,
        Permission.CLAIM_READ,
        "submission_batch",
        m.SubmissionBatch.id,
        offset,
        limit,
    )


def list_remittances(db: Database, *, actor: Actor, offset: int = 0, limit: int = 50) -> Page[Any]:
    return _list(
        db, actor, m.Remittance, RemittanceSummary, Permission.REMIT_READ, "remittance", m.Remittance.id, offset, limit
    )


def list_acknowledgments(db: Database, *, actor: Actor, offset: int = 0, limit: int = 50) -> Page[Any]:
    return _list(
        db,
        actor,
        m.Acknowledgment,
        AckSummary,
        Permission.CLAIM_READ,
        "acknowledgment",
        m.Acknowledgment.id,
        offset,
        limit,
    )


def get_batch_file(db: Database, *, actor: Actor, batch_id: int) -> X12File:
    """The 837 text of a batch, for download (audited as an export)."""
    with operation(db, actor, Permission.CLAIM_SUBMIT, action="export", resource="submission_batch") as op:
        row = op.session.get(m.SubmissionBatch, batch_id)
        if row is None or row.practice_id != op.practice_id:
            raise NotFound(f"batch {batch_id} not found")
        op.ids.append(batch_id)
        return X12File(id=batch_id, kind=row.kind, content=row.content)


def get_remittance_file(db: Database, *, actor: Actor, remittance_id: int) -> X12File:
    """The 835 text as received (audited as an export)."""
    with operation(db, actor, Permission.REMIT_READ, action="export", resource="remittance") as op:
        row = op.session.get(m.Remittance, remittance_id)
        if row is None or row.practice_id != op.practice_id:
            raise NotFound(f"remittance {remittance_id} not found")
        op.ids.append(remittance_id)
        return X12File(id=remittance_id, kind="835", content=row.content)

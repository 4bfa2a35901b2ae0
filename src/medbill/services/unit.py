"""One operation = one permission check, one transaction, one audit record.

``with operation(db, actor, Permission.PATIENT_WRITE, action="create", resource="patient") as op:``
checks the permission (a refusal is audited as "denied" and raises ``PermissionDenied``), opens the
write transaction, hands over ``op.session`` and ``op.practice_id``; the body appends the ids it
touched to ``op.ids``; at the end the audit record is written in the same transaction, so the data
change and its audit record commit together. A failure (not found, invalid, conflict) rolls the
transaction back and is audited on its own with outcome "failed".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from medbill.core.errors import MedbillError, NotFound, PermissionDenied
from medbill.services import audit
from medbill.services.context import Actor
from medbill.services.permissions import Permission, allowed
from medbill.store.db import Database

__all__ = ["Operation", "operation", "require"]


@dataclass(slots=True)
class Operation:
    session: Session
    actor: Actor
    practice_id: int
    ids: list[int | str] = field(default_factory=list)
    detail: str | None = None


def require(db: Database, actor: Actor, permission: Permission, *, action: str, resource: str) -> None:
    """Refuse (and audit the refusal) unless the actor's role has ``permission``."""
    if not allowed(actor.role, permission, break_glass=actor.break_glass):
        audit.record_separately(
            db, actor, action=action, resource=resource, outcome="denied", detail=f"missing {permission.value}"
        )
        raise PermissionDenied(f"your role ({actor.role.value}) may not {permission.value}")


@contextmanager
def operation(
    db: Database,
    actor: Actor,
    permission: Permission,
    *,
    action: str,
    resource: str,
) -> Iterator[Operation]:
    require(db, actor, permission, action=action, resource=resource)
    if actor.practice_id is None:
        # a system administrator outside any practice reaches no practice records
        audit.record_separately(db, actor, action=action, resource=resource, outcome="failed", detail="no practice")
        raise NotFound(f"no {resource} here: sign in to a practice")
    try:
        with db.write() as session:
            op = Operation(session=session, actor=actor, practice_id=actor.practice_id)
            yield op
            audit.record(
                session,
                db,
                actor,
                action=action,
                resource=resource,
                record_ids=op.ids,
                outcome="success",
                detail=op.detail,
            )
    except MedbillError as exc:
        if not isinstance(exc, PermissionDenied):
            audit.record_separately(db, actor, action=action, resource=resource, outcome="failed", detail=exc.code)
        raise

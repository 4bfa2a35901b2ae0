"""Audit controls (45 CFR 164.312(b)): one record per request, written by the services, and its review.

- :func:`record` appends to the actor's practice chain (0 for install-wide events) INSIDE the caller's
  write transaction, so the audit record and the change it describes commit or roll back together, and
  hooks the session so the outside anchor advances after the commit.
- :func:`record_separately` writes a record in its own short transaction: for a denied or failed attempt
  whose main transaction rolled back (or never started).
- :func:`verify_audit` and :func:`audit_report` need :attr:`Permission.AUDIT_READ`. A practice's
  administrator or auditor sees only that practice's chain; a system administrator sees every chain.
  Both are themselves audited (``verify`` / ``read`` on ``audit_log``), and a refusal is audited as denied.

Records carry surrogate ids, roles, actions and control numbers only: never PHI (``detail`` is for a
reason, a route, counts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from medbill.core.errors import PermissionDenied
from medbill.services.context import Actor
from medbill.services.permissions import Permission, Role, allowed
from medbill.store import audit as store_audit
from medbill.store.audit import AuditRow, VerifyReport
from medbill.store.db import Database

__all__ = [
    "AuditAction",
    "AuditOutcome",
    "audit_report",
    "record",
    "record_separately",
    "verify_audit",
]


class AuditAction(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    IMPORT = "import"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    MFA = "mfa"
    MFA_FAILED = "mfa_failed"
    LOCKOUT = "lockout"
    DENIED = "denied"
    BREAK_GLASS = "break_glass"
    POST = "post"
    SUBMIT = "submit"
    VERIFY = "verify"
    SEARCH = "search"
    PRINT = "print"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"
    ERROR = "error"


def _chain(actor: Actor) -> int:
    return actor.practice_id if actor.practice_id is not None else 0


def record(
    session: Session,
    db: Database,
    actor: Actor,
    *,
    action: AuditAction | str,
    resource: str,
    record_ids: Iterable[Any] = (),
    outcome: AuditOutcome | str = AuditOutcome.SUCCESS,
    detail: str | None = None,
) -> None:
    """Append the audit record of this request to ``session``'s transaction (committed with it)."""
    if not db.audit_enabled:  # only the load benchmark's "safeguards off" comparison turns it off
        return
    if actor.break_glass and str(action) != AuditAction.BREAK_GLASS:
        detail = "break-glass" if detail is None else f"break-glass; {detail}"
    store_audit.append_event(
        session,
        key=db.keyring.audit_key,
        chain=_chain(actor),
        user_id=actor.user_id,
        role=str(actor.role),
        action=str(action),
        resource=resource,
        record_ids=record_ids,
        outcome=str(outcome),
        source=actor.source,
        request_id=actor.request_id,
        detail=detail,
    )
    store_audit.anchor_after_commit(session, db.audit_anchor)


def record_separately(
    db: Database,
    actor: Actor,
    *,
    action: AuditAction | str,
    resource: str,
    record_ids: Iterable[Any] = (),
    outcome: AuditOutcome | str = AuditOutcome.DENIED,
    detail: str | None = None,
) -> None:
    """Write one audit record in its own short transaction (denied or failed attempts).

    Call it after the main transaction has ended (outside its ``with db.write()``): on SQLite a second
    write transaction waits for the first, so calling it inside would wait on itself.
    """
    if not db.audit_enabled:
        return
    with db.write() as s:
        record(s, db, actor, action=action, resource=resource, record_ids=record_ids, outcome=outcome, detail=detail)


def _scope(db: Database, actor: Actor, action: AuditAction) -> list[int] | None:
    """The chains ``actor`` may review (None: all), or PermissionDenied (audited)."""
    if not allowed(actor.role, Permission.AUDIT_READ, break_glass=actor.break_glass):
        record_separately(
            db, actor, action=action, resource="audit_log", outcome=AuditOutcome.DENIED, detail="audit.read not granted"
        )
        raise PermissionDenied("reviewing the audit log needs the audit.read permission")
    if actor.role == Role.SYSTEM_ADMIN:
        return None
    if actor.practice_id is None:
        record_separately(
            db, actor, action=action, resource="audit_log", outcome=AuditOutcome.DENIED, detail="no practice"
        )
        raise PermissionDenied("reviewing the audit log needs a practice")
    return [actor.practice_id]


def verify_audit(db: Database, *, actor: Actor) -> VerifyReport:
    """Recompute the chains the actor may review against the key and the outside anchor."""
    chains = _scope(db, actor, AuditAction.VERIFY)
    result = store_audit.verify(db, key=db.keyring.audit_key, anchor_path=db.audit_anchor, chains=chains)
    record_separately(
        db,
        actor,
        action=AuditAction.VERIFY,
        resource="audit_log",
        record_ids=chains or [],
        outcome=AuditOutcome.SUCCESS if result.intact else AuditOutcome.FAILED,
        detail=f"{result.records} records, {len(result.problems)} problems",
    )
    return result


def audit_report(
    db: Database,
    *,
    actor: Actor,
    start: dt.date,
    end: dt.date,
    user_id: int | None = None,
    action: str | None = None,
) -> list[AuditRow]:
    """The audit records from ``start`` to ``end`` (UTC dates, inclusive) the actor may review."""
    chains = _scope(db, actor, AuditAction.READ)
    rows = store_audit.report(
        db, start=start, end=end, user_id=user_id, action=action, practice_id=None if chains is None else chains[0]
    )
    record_separately(
        db,
        actor,
        action=AuditAction.READ,
        resource="audit_log",
        outcome=AuditOutcome.SUCCESS,
        detail=f"report {start.isoformat()}..{end.isoformat()}"
        + (f" user {user_id}" if user_id is not None else "")
        + f": {len(rows)} records",
    )
    return rows

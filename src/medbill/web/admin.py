"""Admin pages: users and roles, payers, trading partners, fee schedules, reference data, audit report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from medbill.core.errors import ValidationFailed
from medbill.services import audit as audit_svc
from medbill.services import auth, records, reference
from medbill.services import schemas as sc
from medbill.services.permissions import Permission as P
from medbill.services.permissions import Role
from medbill.web.common import PREFIX, PostDep, Web, WebDep, redirect, render
from medbill.web.work import invalid

router = APIRouter(prefix=PREFIX + "/admin")


def _admin_context(web: Web) -> dict[str, Any]:
    ctx: dict[str, Any] = {"users": None, "payers": None, "partners": None, "fees": None}
    if web.can(P.USER_READ):
        ctx["users"] = auth.list_users(web.db, actor=web.actor)
    if web.can(P.PAYER_READ):
        ctx["payers"] = records.list_records(web.db, actor=web.actor, resource="payer", limit=200).items
        ctx["partners"] = records.list_records(web.db, actor=web.actor, resource="trading_partner", limit=200).items
        ctx["fees"] = records.list_records(web.db, actor=web.actor, resource="fee_schedule", limit=200).items
    ctx["roles"] = [r for r in Role if r is not Role.SYSTEM_ADMIN]
    return ctx


@router.get("", response_class=HTMLResponse)
def admin(request: Request, web: WebDep, created: str = "") -> Response:
    if not (web.can(P.USER_READ) or web.can(P.PAYER_READ)):
        web.require(P.USER_READ)
    note = {
        "user": "User created.",
        "payer": "Payer added.",
        "partner": "Trading partner added.",
        "role": "Role changed.",
    }
    return render(web, request, "admin.html", title="Administration", note=note.get(created), **_admin_context(web))


@router.post("/users", response_class=HTMLResponse)
def create_user(request: Request, post: PostDep) -> Response:
    web = post.web
    made = auth.create_user(
        web.db,
        actor=web.actor,
        username=post.get("username"),
        password=post.get("password"),
        role=post.get("role"),
        practice_id=web.actor.practice_id,
        display_name=post.get("display_name"),
    )
    # the enrolment URI is shown once, to the administrator who hands it over
    return render(web, request, "user_created.html", title="User created", made=made)


@router.post("/users/{user_id}/role")
def set_role(post: PostDep, user_id: int) -> Response:
    auth.set_role(post.web.db, actor=post.web.actor, user_id=user_id, role=post.get("role"))
    return redirect(PREFIX + "/admin?created=role")


def _fields(post: PostDep, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: post.get(n) for n in names if post.get(n)}


@router.post("/payers")
def create_payer(post: PostDep) -> Response:
    try:
        data = sc.PayerCreate(**_fields(post, ("name", "payer_id", "filing_indicator", "timely_filing_days")))
    except ValidationError as exc:
        raise invalid(exc, "payer") from None
    records.create(post.web.db, actor=post.web.actor, resource="payer", data=data)
    return redirect(PREFIX + "/admin?created=payer")


@router.post("/partners")
def create_partner(post: PostDep) -> Response:
    names = (
        "name", "sender_qualifier", "sender_id", "receiver_qualifier", "receiver_id", "gs_sender", "gs_receiver",
        "usage", "submission_folder", "contact_name", "contact_phone", "contact_email",
    )  # fmt: skip
    try:
        data = sc.TradingPartnerCreate(**_fields(post, names))
    except ValidationError as exc:
        raise invalid(exc, "trading partner") from None
    records.create(post.web.db, actor=post.web.actor, resource="trading_partner", data=data)
    return redirect(PREFIX + "/admin?created=partner")


@router.get("/reference", response_class=HTMLResponse)
def reference_status(request: Request, web: WebDep) -> Response:
    web.require(P.CODES_READ)
    status = reference.reference_status(settings=web.settings)
    return render(web, request, "reference.html", title="Reference data", status=status)


@router.get("/audit", response_class=HTMLResponse)
def audit_report(
    request: Request,
    web: WebDep,
    start: dt.date | None = None,
    end: dt.date | None = None,
    user_id: Annotated[int | None, Query(ge=1)] = None,
    action: Annotated[str, Query(max_length=30)] = "",
) -> Response:
    """Who did what, when, with which outcome (surrogate ids only; dates and ids are not PHI)."""
    web.require(P.AUDIT_READ)
    today = dt.date.today()
    start = start or today - dt.timedelta(days=7)
    end = end or today
    if end < start:
        raise ValidationFailed("end is before start", field="end")
    rows = audit_svc.audit_report(web.db, actor=web.actor, start=start, end=end, user_id=user_id, action=action or None)
    return render(
        web, request, "audit.html", title="Audit report", rows=rows[-500:], total=len(rows), start=start, end=end,
        user_id=user_id or "", action=action,
    )  # fmt: skip

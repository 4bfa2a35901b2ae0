"""Admin pages: users and roles, payers, trading partners, fee schedules, reference data, audit report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from medbill.core.errors import ValidationFailed
from medbill.services import audit as audit_svc
from medbill.services import auth, records, reference
from medbill.services import schemas as sc
from medbill.services.permissions import Permission as P
from medbill.services.permissions import Role
from medbill.web.common import PREFIX, PostDep, Web, WebDep, policy, redirect, render
from medbill.web.work import invalid

router = APIRouter(prefix=PREFIX + "/admin")


def _admin_context(web: Web) -> dict[str, Any]:
    ctx: dict[str, Any] = {"users": None, "payers": None, "partners": None, "fees": None, "rules": None}
    if web.can(P.USER_READ):
        ctx["users"] = auth.list_users(web.db, actor=web.actor)
    if web.can(P.PAYER_READ):
        ctx["payers"] = records.list_records(web.db, actor=web.actor, resource="payer", limit=200).items
        ctx["partners"] = records.list_records(web.db, actor=web.actor, resource="trading_partner", limit=200).items
        ctx["fees"] = records.list_records(web.db, actor=web.actor, resource="fee_schedule", limit=200).items
        ctx["rules"] = records.list_records(web.db, actor=web.actor, resource="payer_rule", limit=200).items
    ctx["roles"] = [r for r in Role if r is not Role.SYSTEM_ADMIN]
    return ctx


@router.get("", response_class=HTMLResponse, openapi_extra=policy(P.USER_READ, P.PAYER_READ))
def admin(request: Request, web: WebDep, created: str = "") -> Response:
    if not (web.can(P.USER_READ) or web.can(P.PAYER_READ)):
        web.require(P.USER_READ)
    note = {
        "user": "User created.",
        "payer": "Payer added.",
        "partner": "Trading partner added.",
        "role": "Role changed.",
        "rule": "Payer rule added.",
    }
    return render(web, request, "admin.html", title="Administration", note=note.get(created), **_admin_context(web))


@router.post("/users", response_class=HTMLResponse, openapi_extra=policy(P.USER_WRITE))
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


@router.post("/users/{user_id}/role", openapi_extra=policy(P.USER_WRITE))
def set_role(post: PostDep, user_id: int) -> Response:
    auth.set_role(post.web.db, actor=post.web.actor, user_id=user_id, role=post.get("role"))
    return redirect(PREFIX + "/admin?created=role")


def _fields(post: PostDep, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: post.get(n) for n in names if post.get(n)}


@router.post("/payers", openapi_extra=policy(P.PAYER_WRITE))
def create_payer(post: PostDep) -> Response:
    try:
        data = sc.PayerCreate(**_fields(post, ("name", "payer_id", "filing_indicator", "timely_filing_days")))
    except ValidationError as exc:
        raise invalid(exc, "payer") from None
    records.create(post.web.db, actor=post.web.actor, resource="payer", data=data)
    return redirect(PREFIX + "/admin?created=payer")


@router.post("/partners", openapi_extra=policy(P.PAYER_WRITE))
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


# ----------------------------------------------------------------------------------------------- fee schedules
def _fee_page(request: Request, web: Web, fee: Any, *, note: str | None = None, error: str | None = None,
              rows: list[dict[str, str]] | None = None, status: int = 200) -> Response:  # fmt: skip
    items = rows if rows is not None else [
        {"code": i.code, "modifier": i.modifier, "amount": str(i.amount)} for i in fee.items
    ]  # fmt: skip
    return render(
        web, request, "fee_schedule.html", http_status=status, title=f"Fee schedule {fee.id}", fee=fee, items=items,
        blank=3, note=note, error=error, payers=_payer_names(web),
    )  # fmt: skip


def _payer_names(web: Web) -> dict[int, str]:
    return {p.id: p.name for p in records.list_records(web.db, actor=web.actor, resource="payer", limit=200).items}


@router.get("/fee-schedules/{fee_id}", response_class=HTMLResponse, openapi_extra=policy(P.PAYER_READ))
def fee_schedule(
    request: Request, web: WebDep, fee_id: Annotated[int, Path(ge=1, le=2**62)], saved: int = 0
) -> Response:
    """One fee schedule: its items (code, modifier, amount), editable by those who keep fee schedules."""
    fee = records.get(web.db, actor=web.actor, resource="fee_schedule", record_id=fee_id)
    return _fee_page(request, web, fee, note="Fee schedule saved." if saved else None)


@router.post("/fee-schedules/{fee_id}", response_class=HTMLResponse, openapi_extra=policy(P.FEE_SCHEDULE_WRITE))
def save_fee_schedule(request: Request, post: PostDep, fee_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """Replace the schedule's items (a row with an empty code is dropped) and its name / end date."""
    web = post.web
    web.require(P.FEE_SCHEDULE_WRITE)
    rows = [
        {"code": c.upper(), "modifier": mo.upper(), "amount": a}
        for c, mo, a in zip(post.getlist("fi_code"), post.getlist("fi_mod"), post.getlist("fi_amount"), strict=False)
    ]
    kept = [r for r in rows if r["code"]]
    fields: dict[str, Any] = {"items": kept}
    if post.get("name"):
        fields["name"] = post.get("name")
    fields["effective_to"] = post.get("effective_to") or None
    try:
        data = sc.FeeScheduleUpdate(**fields)
    except ValidationError as exc:
        fee = records.get(web.db, actor=web.actor, resource="fee_schedule", record_id=fee_id)
        return _fee_page(request, web, fee, rows=kept, error=str(invalid(exc, "fee schedule").message), status=422)
    _replace_fee_items(web, fee_id, data)
    return redirect(f"{PREFIX}/admin/fee-schedules/{fee_id}?saved=1")


def _replace_fee_items(web: Web, fee_id: int, data: sc.FeeScheduleUpdate) -> None:
    """Save the schedule: one update, all or nothing (the service replaces the items in one transaction)."""
    records.update(web.db, actor=web.actor, resource="fee_schedule", record_id=fee_id, data=data)


# ----------------------------------------------------------------------------------------------- payer rules
def parse_rule_definition(text: str) -> dict[str, Any]:
    """A payer rule's definition from YAML (or JSON, which is YAML), validated like the scrubber loads it.

    The accepted shapes are those of ``services.claims._payer_rules``: a whole payer-rules document
    (``payers: [...]``), one payer's configuration (``rules:``, ``timely_filing_days:``, ``reenable:``),
    or one rule (``id:``, ``when:``, ``require:`` ...). Raises ValidationFailed naming the field.
    """
    import yaml  # type: ignore[import-untyped]

    from medbill.scrub.payer import PayerRules, PayerRulesError

    if len(text) > 200_000:
        raise ValidationFailed("definition: longer than 200,000 characters", field="definition")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValidationFailed(f"definition: not valid YAML or JSON{where}", field="definition") from None
    if not isinstance(data, dict) or not data:
        raise ValidationFailed(
            "definition: expected a mapping (a rule, a payer's rules, or a document)", field="definition"
        )
    d = {str(k): v for k, v in data.items()}
    if "payers" in d:
        payers = d["payers"] if isinstance(d["payers"], list) else [d["payers"]]
    elif {"rules", "timely_filing_days", "reenable"} & set(d):
        payers = [d if "payer_id" in d else {"payer_id": "*", **d}]
    else:
        payers = [{"payer_id": "*", "rules": [d]}]
    try:
        PayerRules.from_data({"version": 1, "payers": payers}, source="definition")
    except PayerRulesError as exc:
        raise ValidationFailed(f"definition: {exc.message}", field="definition") from None
    return d


def _rule_page(request: Request, web: Web, rule: Any, *, text: str | None = None, note: str | None = None,
               error: str | None = None, status: int = 200) -> Response:  # fmt: skip
    import json

    shown = text if text is not None else (json.dumps(rule.definition, indent=2, ensure_ascii=False) if rule else "")
    title = f"Payer rule {rule.id}" if rule else "New payer rule"
    return render(
        web, request, "payer_rule.html", http_status=status, title=title, rule=rule, text=shown, note=note,
        error=error, payers=_payer_names(web),
    )  # fmt: skip


@router.get("/payer-rules/{rule_id}", response_class=HTMLResponse, openapi_extra=policy(P.PAYER_READ))
def payer_rule(
    request: Request, web: WebDep, rule_id: Annotated[int, Path(ge=1, le=2**62)], saved: int = 0
) -> Response:
    """One payer rule: its definition (YAML or JSON), editable by those who keep payer settings."""
    rule = records.get(web.db, actor=web.actor, resource="payer_rule", record_id=rule_id)
    return _rule_page(request, web, rule, note="Payer rule saved." if saved else None)


@router.post("/payer-rules/{rule_id}", response_class=HTMLResponse, openapi_extra=policy(P.PAYER_WRITE))
def save_payer_rule(request: Request, post: PostDep, rule_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    web = post.web
    web.require(P.PAYER_WRITE)
    text = post.get("definition")
    try:
        definition = parse_rule_definition(text)
        data = sc.PayerRuleUpdate(
            name=post.get("name") or None, definition=definition, active=post.get("active") == "1"
        )
    except (ValidationFailed, ValidationError) as exc:
        rule = records.get(web.db, actor=web.actor, resource="payer_rule", record_id=rule_id)
        msg = exc.message if isinstance(exc, ValidationFailed) else invalid(exc, "payer rule").message
        return _rule_page(request, web, rule, text=text, error=msg, status=422)
    records.update(web.db, actor=web.actor, resource="payer_rule", record_id=rule_id, data=data)
    return redirect(f"{PREFIX}/admin/payer-rules/{rule_id}?saved=1")


@router.post("/payer-rules", response_class=HTMLResponse, openapi_extra=policy(P.PAYER_WRITE))
def create_payer_rule(request: Request, post: PostDep) -> Response:
    web = post.web
    web.require(P.PAYER_WRITE)
    text = post.get("definition")
    payer = post.get("payer_id")
    try:
        definition = parse_rule_definition(text)
        data = sc.PayerRuleCreate(
            name=post.get("name"), definition=definition, payer_id=int(payer) if payer.isdigit() else None
        )
    except (ValidationFailed, ValidationError) as exc:
        msg = exc.message if isinstance(exc, ValidationFailed) else invalid(exc, "payer rule").message
        return _rule_page(request, web, None, text=text, error=msg, status=422)
    made = records.create(web.db, actor=web.actor, resource="payer_rule", data=data)
    return redirect(f"{PREFIX}/admin/payer-rules/{made.id}?saved=1")  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------- reference data
@router.get("/reference", response_class=HTMLResponse, openapi_extra=policy(P.CODES_READ))
def reference_status(request: Request, web: WebDep) -> Response:
    """What is loaded; how to load (the system administrator runs the build: see the template's note)."""
    web.require(P.CODES_READ)
    status = reference.reference_status(settings=web.settings)
    return render(
        web, request, "reference.html", title="Reference data", status=status,
        can_load=web.can(P.REFERENCE_LOAD), source_dir=web.settings.source_dir,
    )  # fmt: skip


@router.get("/audit", response_class=HTMLResponse, openapi_extra=policy(P.AUDIT_READ))
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

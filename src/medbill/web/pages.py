"""Sign-in (password, then TOTP), sign-out, the session ping, the home page and the code browser."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from medbill.core.codes import CodeSystem
from medbill.core.errors import InvalidCode, MedbillError, NotFound, ValidationFailed
from medbill.services import auth, reference
from medbill.services.permissions import Permission
from medbill.web.common import (
    COOKIE,
    CSRF_FIELD,
    PRE_COOKIE,
    PREFIX,
    PUBLIC,
    SESSION,
    PostDep,
    WebDep,
    check_csrf,
    clear_session_cookie,
    client,
    csrf_for,
    get_db,
    policy,
    redirect,
    render,
    set_session_cookie,
    stash,
)

router = APIRouter(prefix=PREFIX)
SYSTEMS = {"ICD10CM": "ICD-10-CM", "ICD10PCS": "ICD-10-PCS", "HCPCS": "HCPCS Level II"}


# ----------------------------------------------------------------------------------------------- sign-in
@router.get("/login", response_class=HTMLResponse, openapi_extra=policy(PUBLIC))
def login_form(request: Request, signed_out: int = 0, expired: int = 0) -> Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    note = "You are signed out." if signed_out else ("Your session ended after inactivity." if expired else None)
    response = render(None, request, "login.html", pre=pre, note=note, error=None)
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/login", response_class=HTMLResponse, openapi_extra=policy(PUBLIC))
async def login(request: Request) -> Response:
    form = await request.form()
    pre = request.cookies.get(PRE_COOKIE)
    sent = form.get(CSRF_FIELD)
    if not pre or not isinstance(sent, str) or not hmac.compare_digest(pre, sent):
        from medbill.web.common import CsrfRefused

        raise CsrfRefused
    username = str(form.get("username") or "")[:120]
    password = str(form.get("password") or "")[:1024]
    from starlette.concurrency import run_in_threadpool

    try:
        result = await run_in_threadpool(
            auth.login, get_db(request), username=username, password=password, source=client(request)
        )
    except MedbillError:
        return render(None, request, "login.html", http_status=401, pre=pre, note=None, error=auth.LOGIN_FAILED)
    response = redirect(PREFIX + ("/mfa" if result.mfa_required else "/"))
    set_session_cookie(request, response, result.token)
    return response


@router.get("/mfa", response_class=HTMLResponse, openapi_extra=policy(PUBLIC))
def mfa_form(request: Request) -> Response:
    token = request.cookies.get(COOKIE)
    if not token:
        return redirect(PREFIX + "/login")
    return render(None, request, "mfa.html", token_csrf=csrf_for(token), error=None)


@router.post("/mfa", response_class=HTMLResponse, openapi_extra=policy(PUBLIC))
async def mfa(request: Request) -> Response:
    form = await request.form()
    token = request.cookies.get(COOKIE)
    sent = form.get(CSRF_FIELD)
    check_csrf(request, token, sent if isinstance(sent, str) else None)
    assert token is not None
    code = str(form.get("code") or "").strip()[:12]
    from starlette.concurrency import run_in_threadpool

    try:
        await run_in_threadpool(auth.verify_mfa, get_db(request), token=token, code=code, source=client(request))
    except MedbillError:
        return render(
            None, request, "mfa.html", http_status=401, token_csrf=csrf_for(token), error="The code was not accepted."
        )
    return redirect(PREFIX + "/")


@router.post("/logout", openapi_extra=policy(SESSION))
async def logout(request: Request) -> Response:
    form = await request.form()
    token = request.cookies.get(COOKIE)
    sent = form.get(CSRF_FIELD)
    check_csrf(request, token, sent if isinstance(sent, str) else None)
    assert token is not None
    from starlette.concurrency import run_in_threadpool

    try:
        await run_in_threadpool(auth.logout, get_db(request), token=token, source=client(request))
    except MedbillError:
        pass  # already closed: the cookie goes anyway
    stash.drop_session(csrf_for(token))
    expired = form.get("expired") == "1"
    response = redirect(PREFIX + ("/login?expired=1" if expired else "/login?signed_out=1"))
    clear_session_cookie(request, response)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@router.get("/ping", openapi_extra=policy(SESSION))
def ping(web: WebDep) -> JSONResponse:
    """Keeps the session alive (the idle-timeout warning's "stay signed in")."""
    return JSONResponse({"idle_seconds": int(auth.IDLE_TIMEOUT.total_seconds())})


# ----------------------------------------------------------------------------------------------- break-glass
@router.get("/break-glass", response_class=HTMLResponse, openapi_extra=policy(Permission.BREAK_GLASS))
def break_glass_form(request: Request, web: WebDep) -> Response:
    """Ask for emergency (break-glass) access: read-only PHI for this session, with a stated reason."""
    web.require(Permission.BREAK_GLASS)
    return render(
        web, request, "break_glass.html", title="Emergency access", min_reason=auth.BREAK_GLASS_MIN_REASON, error=None
    )


@router.post("/break-glass", response_class=HTMLResponse, openapi_extra=policy(Permission.BREAK_GLASS))
def break_glass(request: Request, post: PostDep) -> Response:
    """Grant break-glass access to this session (audited with the reason); the session is marked from then on."""
    web = post.web
    web.require(Permission.BREAK_GLASS)
    token = request.cookies.get(COOKIE) or ""
    practice_id: int | None = None
    raw = post.get("practice_id")
    if web.actor.practice_id is None and raw:
        if not raw.isdigit() or len(raw) > 9:
            raise ValidationFailed("practice: a practice number", field="practice_id")
        practice_id = int(raw)
    auth.break_glass(
        web.db, token=token, reason=post.get("reason")[:2000], practice_id=practice_id, source=client(request)
    )
    return redirect(PREFIX + "/?break_glass=1")


# ----------------------------------------------------------------------------------------------- home
@router.get("/", response_class=HTMLResponse, openapi_extra=policy(SESSION))
def home(request: Request, web: WebDep, break_glass: int = 0) -> Response:
    from medbill.web.work import queue_counts

    note = "Emergency access granted for this session: read-only, and every page you open is audited."
    return render(web, request, "home.html", title="Home", counts=queue_counts(web), note=note if break_glass else None)


# ----------------------------------------------------------------------------------------------- code browser
def _search(web: WebDep, q: str, system: str | None, billable_only: bool = False, limit: int = 30) -> list[object]:
    web.require(Permission.CODES_READ)
    if len(q.strip()) < 2:
        return []
    return list(
        reference.search_codes(
            q, settings=web.settings, systems=[system] if system else None, billable_only=billable_only, limit=limit
        )
    )


@router.get("/codes", response_class=HTMLResponse, openapi_extra=policy(Permission.CODES_READ))
def codes(
    request: Request,
    web: WebDep,
    q: Annotated[str, Query(max_length=200)] = "",
    system: Annotated[str, Query(max_length=10)] = "",
    part: int = 0,
) -> Response:
    """Search ICD-10-CM, ICD-10-PCS and HCPCS (no PHI: code-set words only)."""
    sys_ = system if system in SYSTEMS else None
    hits = _search(web, q, sys_)
    name = "_code_results.html" if part else "codes.html"
    return render(web, request, name, title="Code browser", q=q, system=sys_ or "", systems=SYSTEMS, hits=hits)


@router.get("/codes/{system}/{code}", response_class=HTMLResponse, openapi_extra=policy(Permission.CODES_READ))
def code_detail(request: Request, web: WebDep, system: str, code: str, part: int = 0) -> Response:
    """One code: description, hierarchy (path and children), notes (Excludes1, code first ...), 7th characters."""
    web.require(Permission.CODES_READ)
    if system not in SYSTEMS and system != "CPT":
        raise NotFound("no such code system")
    try:
        infos = reference.lookup_code(code[:10], settings=web.settings, system=CodeSystem(system))
    except InvalidCode:
        infos = []
    if not infos:
        raise NotFound("no such code")
    name = "_code_detail.html" if part else "code.html"
    return render(web, request, name, title="Code " + infos[0].display, info=infos[0], systems=SYSTEMS)

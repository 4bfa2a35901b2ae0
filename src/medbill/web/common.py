"""What every page shares: templates, the session cookie, CSRF tokens, the signed-in actor, error pages.

Session: the bearer token of :func:`medbill.services.auth.login` travels only in the ``medbill_session``
cookie (HttpOnly, SameSite=Strict, Secure when the request came over https, path ``/``).

CSRF (every POST form): a synchronizer token bound to the session — ``HMAC-SHA256(secret, SHA-256(session
token))`` — sent as the hidden field ``csrf_token`` (or the ``X-CSRF-Token`` header for the few fetch()
calls) and recomputed on the server. Before sign-in there is no session yet: the sign-in form uses a
double-submit token (a random ``medbill_precsrf`` cookie that must equal the form field). The secret comes
from ``MEDBILL_WEB_SECRET`` or is random per process (tokens then die with a restart: sign in again).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from medbill.core.errors import AuthenticationRequired, PermissionDenied
from medbill.services import auth
from medbill.services.context import Actor
from medbill.services.permissions import Permission, Role, allowed
from medbill.services.unit import require
from medbill.settings import Settings
from medbill.store.db import Database

COOKIE = "medbill_session"
PRE_COOKIE = "medbill_precsrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PREFIX = "/web"
POLICY_KEY = "x-medbill-permission"
PUBLIC = "public"  # no session needed (the sign-in steps)
SESSION = "session"  # any signed-in user, whatever the role
PER_QUEUE = "per-queue"  # the work queue named in the path decides (medbill.web.work.QUEUES)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape on for .html
templates.env.globals["allowed"] = allowed
templates.env.globals["P"] = Permission
templates.env.globals["IDLE_SECONDS"] = int(auth.IDLE_TIMEOUT.total_seconds())

_SECRET = (os.environ.get("MEDBILL_WEB_SECRET") or "").encode() or secrets.token_bytes(32)


def policy(*permissions: Permission | str) -> dict[str, Any]:
    """A page's declared policy, on the route like the API's (``openapi_extra={"x-medbill-permission": ...}``).

    Several permissions mean "any of them" (joined with ``|``). The services enforce; the web
    authorization test (tests/web/test_web_authorization.py) reads this from every ``/web`` route and
    fails on a route that has none.
    """
    if not permissions:
        raise ValueError("name at least one permission")
    value = "|".join(p.value if isinstance(p, Permission) else p for p in permissions)
    return {POLICY_KEY: value}


def csrf_for(token: str) -> str:
    """The session's CSRF token (never the session token itself)."""
    return hmac.new(_SECRET, hashlib.sha256(token.encode()).digest(), hashlib.sha256).hexdigest()


class SignInNeeded(Exception):
    """No usable session: the page redirects to the sign-in form."""


class CsrfRefused(Exception):
    """A POST without the right CSRF token."""


@dataclass(frozen=True, slots=True)
class Web:
    """A signed-in request: the database, the actor, the settings and the CSRF token for its forms."""

    request: Request
    db: Database
    actor: Actor
    csrf: str
    settings: Settings

    def can(self, permission: Permission) -> bool:
        return allowed(self.actor.role, permission, break_glass=self.actor.break_glass)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied("your role may not open this page")


@dataclass(frozen=True, slots=True)
class Posted:
    web: Web
    form: FormData

    def get(self, name: str, default: str = "") -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else default

    def getlist(self, name: str) -> list[str]:
        return [v.strip() if isinstance(v, str) else "" for v in self.form.getlist(name)]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or Settings.from_env()


def client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _signed_in(request: Request) -> Web:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded
    db = get_db(request)
    try:
        actor = auth.authenticate(db, token=token, source=client(request))
    except AuthenticationRequired:
        raise SignInNeeded from None
    request.state.actor = actor
    web = Web(request=request, db=db, actor=actor, csrf=csrf_for(token), settings=settings_of(request))
    _enforce_policy(request, web)
    return web


def _enforce_policy(request: Request, web: Web) -> None:
    """Refuse (audited, the 403 page) a signed-in request whose role lacks the route's declared permission.

    The services check again (and own practice isolation: another practice's object is not found);
    checking the declared policy first makes every page answer 403 before 404 and before any parsing,
    and makes a page without a declared policy refuse everyone (fail closed).
    """
    route = request.scope.get("route")
    value = (getattr(route, "openapi_extra", None) or {}).get(POLICY_KEY)
    if value in (SESSION, PER_QUEUE):
        return
    if not isinstance(value, str) or value == PUBLIC:
        raise PermissionDenied("this page declares no permission policy")
    permissions = [Permission(v) for v in value.split("|")]
    if any(web.can(p) for p in permissions):
        return
    action = "read" if request.method in ("GET", "HEAD") else "update"
    require(web.db, web.actor, permissions[0], action=action, resource="web_page")


async def signed_in(request: Request) -> Web:
    return await run_in_threadpool(_signed_in, request)


def check_csrf(request: Request, token: str | None, sent: str | None) -> None:
    if not token or not sent or not hmac.compare_digest(csrf_for(token), sent):
        raise CsrfRefused


async def posted(request: Request) -> Posted:
    """A signed-in POST whose CSRF token is right (checked before anything else is done)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    check_csrf(request, request.cookies.get(COOKIE), sent if isinstance(sent, str) else None)
    web = await signed_in(request)
    return Posted(web=web, form=form)


WebDep = Annotated[Web, Depends(signed_in)]
PostDep = Annotated[Posted, Depends(posted)]


def render(web: Web | None, request: Request, name: str, *, http_status: int = 200, **context: Any) -> HTMLResponse:
    ctx: dict[str, Any] = {"web": web, "actor": web.actor if web else None, "csrf": web.csrf if web else ""}
    ctx.update(context)
    return templates.TemplateResponse(request, name, ctx, status_code=http_status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=int(auth.ABSOLUTE_TIMEOUT.total_seconds()),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")


ROLE_LABELS = {
    Role.FRONT_DESK: "Front desk",
    Role.CODER: "Coder",
    Role.BILLER: "Biller",
    Role.AUDITOR: "Auditor",
    Role.PRACTICE_ADMIN: "Practice administrator",
    Role.SYSTEM_ADMIN: "System administrator",
}
templates.env.globals["ROLE_LABELS"] = ROLE_LABELS


class Stash:
    """Short-lived server-side blobs of one session: the uploaded 835 between its preview and its posting.

    Bounded (oldest dropped), in process memory only, keyed by the session's CSRF token so that another
    session cannot read them; never written to disk or logs. 837 batches are not kept here: they are
    downloaded from the database (``services.history.get_batch_file``, audited as an export). The 835
    stays here on purpose: posting stores it (encrypted, one row per file) only when the user decides to
    post; storing it at preview would keep PHI the user chose not to post. With several worker processes
    a post may reach another process: it then says "expired, upload again" and posts nothing.
    """

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[str, bytes]] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def put(self, web: Web, data: bytes, name: str) -> str:
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._items[(web.csrf, key)] = (name, data)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return key

    def get(self, web: Web, key: str) -> tuple[str, bytes] | None:
        with self._lock:
            return self._items.get((web.csrf, key))

    def drop_session(self, csrf: str) -> None:
        with self._lock:
            for k in [k for k in self._items if k[0] == csrf]:
                del self._items[k]


stash = Stash()

"""The web app for coders and billers: server-rendered pages (Jinja2) over the services, under ``/web``.

``install(app)`` mounts the static files, the page routers and HTML error pages for ``/web`` paths (the
API keeps its JSON error shape). Pages call only :mod:`medbill.services`; PHI never goes in a URL, a
page title or a log line; every POST form carries a CSRF token (see :mod:`medbill.web.common`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from medbill.core.errors import (
    AuthenticationRequired,
    Conflict,
    MedbillError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from medbill.web.common import (
    HERE,
    PREFIX,
    PUBLIC,
    CsrfRefused,
    SignInNeeded,
    clear_session_cookie,
    policy,
    render,
)

log = logging.getLogger(__name__)

__all__ = ["install"]


def _is_web(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def _error_page(request: Request, status: int, title: str, message: str, hint: str | None = None) -> Response:
    web = None
    return render(web, request, "error.html", http_status=status, title=title, message=message, hint=hint)


def install(app: FastAPI) -> None:
    """Add the web pages to ``app`` (one call in :func:`medbill.api.app.create_app`)."""
    from medbill.web import admin, money, pages, work

    app.mount(PREFIX + "/static", StaticFiles(directory=str(HERE / "static")), name="web-static")
    for module in (pages, work, money, admin):
        app.include_router(module.router, include_in_schema=False)

    @app.get("/", include_in_schema=False, openapi_extra=policy(PUBLIC))
    def _root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=303)

    previous: dict[Any, Any] = dict(app.exception_handlers)

    async def _signin(request: Request, exc: Exception) -> Response:
        response = RedirectResponse(PREFIX + "/login", status_code=303)
        clear_session_cookie(request, response)
        return response

    async def _csrf(request: Request, exc: Exception) -> Response:
        return _error_page(
            request,
            403,
            "Form refused",
            "This form was not accepted: its security token is missing or does not belong to your session.",
            "Reload the page and submit it again.",
        )

    def _wrap(kind: Any, html: Any) -> None:
        fallback = previous.get(kind)

        async def handler(request: Request, exc: Exception) -> Response:
            if _is_web(request):
                return await html(request, exc)  # type: ignore[no-any-return]
            if fallback is None:
                raise exc
            return await fallback(request, exc)  # type: ignore[no-any-return]

        app.add_exception_handler(kind, handler)

    async def _medbill(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MedbillError)
        if isinstance(exc, AuthenticationRequired):
            return await _signin(request, exc)
        if isinstance(exc, NotFound):
            return _error_page(request, 404, "Not found", exc.message, exc.hint)
        if isinstance(exc, PermissionDenied):
            return _error_page(request, 403, "Not allowed", exc.message, exc.hint)
        if isinstance(exc, Conflict):
            return _error_page(request, 409, "Cannot do that now", exc.message, exc.hint)
        status = 422 if isinstance(exc, ValidationFailed) else 400
        return _error_page(request, status, "Please check the input", exc.message, exc.hint)

    async def _http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return _error_page(request, 404, "Not found", "There is no such page.")
        return _error_page(request, exc.status_code, "Request refused", str(exc.detail))

    async def _invalid(request: Request, exc: Exception) -> Response:
        # an id that is not a number is "no such page"; never echo the input (it may be PHI)
        return _error_page(request, 404, "Not found", "There is no such page.")

    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error in web request %s", getattr(request.state, "request_id", "?"))
        return _error_page(request, 500, "Something went wrong", "The error has been logged.")

    _wrap(MedbillError, _medbill)
    _wrap(StarletteHTTPException, _http)
    _wrap(RequestValidationError, _invalid)
    _wrap(Exception, _unexpected)
    app.add_exception_handler(SignInNeeded, _signin)
    app.add_exception_handler(CsrfRefused, _csrf)

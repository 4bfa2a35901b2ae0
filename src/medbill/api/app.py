"""The FastAPI application: middleware (request id, security headers, access log), errors, routers."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from medbill import __version__
from medbill.api import errors
from medbill.settings import Settings
from medbill.store.db import Database

access_log = logging.getLogger("medbill.api.access")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
}
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)


def create_app(*, db: Database | None = None, settings: Settings | None = None) -> FastAPI:
    """The app over ``db`` (or the database the settings name, migrated on start)."""
    if db is None:
        db = Database.from_settings(settings or Settings.from_env())
        db.migrate()
    app = FastAPI(
        title="medbill",
        version=__version__,
        description=(
            "Medical billing and coding: records, code sets, claims, remittances. Every error has the shape "
            "`ErrorBody`. PHI never travels in URLs: searches by name, birth date or member id are POSTs."
        ),
    )
    app.state.db = db
    errors.install(app)

    @app.middleware("http")
    async def _envelope(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = str(uuid.uuid4())
        start = time.perf_counter()
        response = await call_next(request)
        headers = dict(SECURITY_HEADERS)
        if request.url.path in ("/docs", "/redoc"):
            headers["Content-Security-Policy"] = DOCS_CSP
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        response.headers["X-Request-ID"] = request.state.request_id
        # the path only: query strings are dropped, and no PHI is ever in a path
        access_log.info(
            "%s %s %s %.1fms %s",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - start) * 1000,
            request.state.request_id,
        )
        return response

    from medbill.api.routes import admin as admin_routes
    from medbill.api.routes import auth as auth_routes
    from medbill.api.routes import codes as code_routes
    from medbill.api.routes import operations as operation_routes
    from medbill.api.routes import records as record_routes

    app.include_router(auth_routes.router)
    app.include_router(code_routes.router)
    app.include_router(record_routes.router)
    app.include_router(operation_routes.router)
    app.include_router(admin_routes.router)
    from medbill.web import install as install_web

    install_web(app)  # the web pages for coders and billers, under /web
    return app

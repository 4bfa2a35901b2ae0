"""One error shape for every error the API returns, and the one mapper from exceptions to it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from medbill.core.errors import (
    AuthenticationRequired,
    Conflict,
    MedbillError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error: a stable machine code, a message for people, where it applies, how to fix it."""

    error: str
    message: str
    field: str | None = None
    hint: str | None = None
    request_id: str | None = None


def status_of(exc: MedbillError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, AuthenticationRequired):
        return 401
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, ValidationFailed):
        return 422
    if exc.code in ("invalid_code", "claim_format_error", "x12_parse_error", "source_file_error"):
        return 422
    return 400


def _respond(request: Request, status: int, body: dict[str, Any]) -> JSONResponse:
    body = {**body, "request_id": getattr(request.state, "request_id", None)}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(ErrorBody(**body).model_dump(), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(MedbillError)
    async def _medbill(request: Request, exc: MedbillError) -> JSONResponse:
        data = exc.to_dict()
        return _respond(
            request,
            status_of(exc),
            {
                "error": exc.code,
                "message": exc.message,
                "field": data.get("field") or data.get("path"),
                "hint": exc.hint,
            },
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body",))
        msg = first.get("msg", "invalid request")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        # never echo the input back: it may be PHI
        return _respond(request, 422, {"error": "validation_failed", "message": f"{loc}: {msg}{more}", "field": loc})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            401: "authentication_required",
            403: "permission_denied",
            404: "not_found",
            405: "method_not_allowed",
        }.get(exc.status_code, "http_error")
        return _respond(request, exc.status_code, {"error": code, "message": str(exc.detail)})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request %s", getattr(request.state, "request_id", "?"))
        return _respond(request, 500, {"error": "internal_error", "message": "internal error; it has been logged"})


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request"},
    401: {"model": ErrorBody, "description": "Not signed in, session expired, or MFA not passed"},
    403: {"model": ErrorBody, "description": "Your role may not do this"},
    404: {"model": ErrorBody, "description": "Not found (or not in your practice)"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state"},
    422: {"model": ErrorBody, "description": "Invalid input"},
    500: {"model": ErrorBody, "description": "Internal error"},
}
"""Declared on every route, so the OpenAPI document lists what each can answer."""

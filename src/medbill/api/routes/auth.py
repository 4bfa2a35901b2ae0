"""Sign-in routes: password, then TOTP; sign-out; emergency (break-glass) access; who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from medbill.api.deps import DB, PUBLIC, SESSION, CurrentActor, Token, client_address, policy
from medbill.api.errors import ERROR_RESPONSES
from medbill.services import auth
from medbill.services.schemas import RecordId, UtcDateTime

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(min_length=1, max_length=120)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class LoginOut(BaseModel):
    token: str
    mfa_required: bool
    expires_at: UtcDateTime


class MfaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(pattern=r"^\d{6}$")]


class BreakGlassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=10, max_length=500)]
    practice_id: RecordId | None = None


class Me(BaseModel):
    user_id: int | None
    role: str
    practice_id: int | None
    break_glass: bool


@router.post("/login", response_model=LoginOut, openapi_extra=policy(PUBLIC), operation_id="login")
def login(db: DB, request: Request, body: LoginIn) -> LoginOut:
    """Check the password; the session then waits for the TOTP code (POST /auth/mfa)."""
    result = auth.login(db, username=body.username, password=body.password, source=client_address(request))
    return LoginOut(token=result.token, mfa_required=result.mfa_required, expires_at=result.expires_at)


@router.post("/mfa", response_model=Me, openapi_extra=policy(PUBLIC), operation_id="verify_mfa")
def verify_mfa(db: DB, request: Request, token: Token, body: MfaIn) -> Me:
    """Give the 6-digit code of the authenticator app for the session of the Bearer token."""
    actor = auth.verify_mfa(db, token=token, code=body.code, source=client_address(request))
    return Me(
        user_id=actor.user_id, role=actor.role.value, practice_id=actor.practice_id, break_glass=actor.break_glass
    )


@router.post("/logout", status_code=204, response_class=Response, openapi_extra=policy(SESSION), operation_id="logout")
def logout(db: DB, request: Request, token: Token, actor: CurrentActor) -> Response:
    auth.logout(db, token=token, source=client_address(request))
    return Response(status_code=204)


@router.post("/break-glass", response_model=Me, openapi_extra=policy("break_glass"), operation_id="break_glass")
def break_glass(db: DB, request: Request, token: Token, body: BreakGlassIn) -> Me:
    """Emergency read access to PHI for this session, with a stated reason (always audited)."""
    actor = auth.break_glass(
        db, token=token, reason=body.reason, practice_id=body.practice_id, source=client_address(request)
    )
    return Me(
        user_id=actor.user_id, role=actor.role.value, practice_id=actor.practice_id, break_glass=actor.break_glass
    )


@router.get("/me", response_model=Me, openapi_extra=policy(SESSION), operation_id="me")
def me(actor: CurrentActor) -> Me:
    return Me(
        user_id=actor.user_id, role=actor.role.value, practice_id=actor.practice_id, break_glass=actor.break_glass
    )

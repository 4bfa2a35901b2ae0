"""Administration routes: users and roles, practices; the history of batches, remittances, acknowledgments."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from medbill.api.deps import DB, CurrentActor, policy
from medbill.api.errors import ERROR_RESPONSES
from medbill.services import auth, history, simulation
from medbill.services.permissions import Permission as P
from medbill.services.permissions import Role
from medbill.services.schemas import Page, RecordId, UtcDateTime

router = APIRouter(responses=ERROR_RESPONSES)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=200)]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    practice_id: int | None
    active: bool
    mfa_enabled: bool
    locked_until: UtcDateTime | None
    failed_logins: int
    created_at: UtcDateTime


def _user(info: Any) -> UserOut:
    return UserOut(**dataclasses.asdict(info))


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(min_length=3, max_length=120, pattern=r"^[A-Za-z0-9._@\-]+$")]
    password: Annotated[str, Field(min_length=12, max_length=256)]
    role: Role
    practice_id: RecordId | None = None
    display_name: Annotated[str, Field(max_length=200)] = ""


class UserCreatedOut(BaseModel):
    id: int
    username: str
    otpauth_uri: str  # shown once: the TOTP secret for the user's authenticator app


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["front_desk", "coder", "biller", "auditor", "practice_admin"] | None = None
    active: Literal[False] | None = None  # deactivate (a user is never reactivated by a change: create anew)


class MfaOut(BaseModel):
    id: int
    otpauth_uri: str


@router.get(
    "/users", response_model=list[UserOut], tags=["admin"], openapi_extra=policy(P.USER_READ), operation_id="list_users"
)
def list_users(db: DB, actor: CurrentActor, include_inactive: bool = True) -> list[UserOut]:
    """Users of your practice (the system administrator: all)."""
    return [_user(u) for u in auth.list_users(db, actor=actor, include_inactive=include_inactive)]


@router.post(
    "/users",
    response_model=UserCreatedOut,
    status_code=201,
    tags=["admin"],
    openapi_extra=policy(P.USER_WRITE),
    operation_id="create_user",
)
def create_user(db: DB, actor: CurrentActor, body: UserIn) -> UserCreatedOut:
    """A new user; the answer carries the otpauth URI for MFA enrolment, once."""
    practice = body.practice_id if body.practice_id is not None else actor.practice_id
    made = auth.create_user(
        db,
        actor=actor,
        username=body.username,
        password=body.password,
        role=body.role,
        practice_id=practice,
        display_name=body.display_name,
    )
    return UserCreatedOut(id=made.user_id, username=made.username, otpauth_uri=made.otpauth_uri)


@router.patch(
    "/users/{record_id}",
    response_model=UserOut,
    tags=["admin"],
    openapi_extra=policy(P.USER_WRITE),
    operation_id="update_user",
)
def update_user(db: DB, actor: CurrentActor, record_id: Id, body: UserChange) -> UserOut:
    """Change a user's role, or deactivate the user (their sessions end)."""
    info = None
    if body.role is not None:
        info = auth.set_role(db, actor=actor, role=body.role, user_id=record_id)
    if body.active is False:
        info = auth.deactivate_user(db, actor=actor, user_id=record_id)
    if info is None:
        info = auth.get_user(db, actor=actor, user_id=record_id)
    return _user(info)


@router.post(
    "/users/{record_id}/unlock",
    response_model=UserOut,
    tags=["admin"],
    openapi_extra=policy(P.USER_WRITE),
    operation_id="unlock_user",
)
def unlock_user(db: DB, actor: CurrentActor, record_id: Id) -> UserOut:
    return _user(auth.unlock_user(db, actor=actor, user_id=record_id))


@router.post(
    "/users/{record_id}/reset-mfa",
    response_model=MfaOut,
    tags=["admin"],
    openapi_extra=policy(P.USER_WRITE),
    operation_id="reset_mfa",
)
def reset_mfa(db: DB, actor: CurrentActor, record_id: Id) -> MfaOut:
    """A new TOTP secret (the user's sessions end); the otpauth URI is shown once."""
    made = auth.reset_mfa(db, actor=actor, user_id=record_id)
    return MfaOut(id=made.user_id, otpauth_uri=made.otpauth_uri)


class PracticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    npi: Annotated[str, Field(pattern=r"^\d{10}$")] | None = None
    tax_id: Annotated[str, Field(pattern=r"^\d{9}$")] | None = None


class PracticeOut(BaseModel):
    id: int
    name: str
    npi: str | None
    tax_id: str | None


@router.post(
    "/practices",
    response_model=PracticeOut,
    status_code=201,
    tags=["admin"],
    openapi_extra=policy(P.PRACTICE_ADMIN),
    operation_id="create_practice",
)
def create_practice(db: DB, actor: CurrentActor, body: PracticeIn) -> PracticeOut:
    info = auth.create_practice(db, actor=actor, name=body.name, npi=body.npi, tax_id=body.tax_id)
    return PracticeOut(**dataclasses.asdict(info))


# ------------------------------------------------------------------------------------------- history
@router.get(
    "/batches",
    response_model=Page[history.BatchSummary],
    tags=["submission"],
    openapi_extra=policy(P.CLAIM_READ),
    operation_id="list_batches",
)
def list_batches(db: DB, actor: CurrentActor, offset: Offset = 0, limit: Limit = 50) -> Any:
    return history.list_batches(db, actor=actor, offset=offset, limit=limit)


@router.get(
    "/batches/{record_id}/file",
    response_model=history.X12File,
    tags=["submission"],
    openapi_extra=policy(P.CLAIM_SUBMIT),
    operation_id="get_batch_file",
)
def get_batch_file(db: DB, actor: CurrentActor, record_id: Id) -> Any:
    """The 837 as written (download; audited as an export)."""
    return history.get_batch_file(db, actor=actor, batch_id=record_id)


@router.get(
    "/remittances",
    response_model=Page[history.RemittanceSummary],
    tags=["payments"],
    openapi_extra=policy(P.REMIT_READ),
    operation_id="list_remittances",
)
def list_remittances(db: DB, actor: CurrentActor, offset: Offset = 0, limit: Limit = 50) -> Any:
    return history.list_remittances(db, actor=actor, offset=offset, limit=limit)


@router.get(
    "/remittances/{record_id}/file",
    response_model=history.X12File,
    tags=["payments"],
    openapi_extra=policy(P.REMIT_READ),
    operation_id="get_remittance_file",
)
def get_remittance_file(db: DB, actor: CurrentActor, record_id: Id) -> Any:
    return history.get_remittance_file(db, actor=actor, remittance_id=record_id)


@router.get(
    "/acknowledgments",
    response_model=Page[history.AckSummary],
    tags=["submission"],
    openapi_extra=policy(P.CLAIM_READ),
    operation_id="list_acknowledgments",
)
def list_acknowledgments(db: DB, actor: CurrentActor, offset: Offset = 0, limit: Limit = 50) -> Any:
    return history.list_acknowledgments(db, actor=actor, offset=offset, limit=limit)


@router.post(
    "/batches/{record_id}/simulated-answer",
    response_model=simulation.SimulatedAnswer,
    tags=["submission"],
    openapi_extra=policy(P.CLAIM_SUBMIT),
    operation_id="simulate_batch_answer",
)
def simulate_batch_answer(
    db: DB, actor: CurrentActor, record_id: Id, seed: Annotated[int, Query(ge=0, le=10**9)] = 0
) -> Any:
    """The payer simulator's 999, 277CA and 835 for a test batch (trading partner in test mode only)."""
    return simulation.simulate_batch(db, actor=actor, batch_id=record_id, seed=seed)

"""Typed dependencies: the database, the signed-in actor, and the route's permission policy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medbill.core.errors import AuthenticationRequired
from medbill.services import auth
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.store.db import Database

_bearer = HTTPBearer(auto_error=False, description="The session token from POST /auth/login")


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def current_actor(
    request: Request,
    db: Annotated[Database, Depends(get_db)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    token = credentials.credentials if credentials else request.cookies.get("medbill_session")
    if not token:
        raise AuthenticationRequired("sign in first: send the session token as a Bearer token")
    actor = auth.authenticate(db, token=token, source=client_address(request))
    request.state.actor = actor
    return actor


def current_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    token = credentials.credentials if credentials else request.cookies.get("medbill_session")
    if not token:
        raise AuthenticationRequired("sign in first: send the session token as a Bearer token")
    return token


DB = Annotated[Database, Depends(get_db)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
Token = Annotated[str, Depends(current_token)]

PUBLIC = "public"  # no session needed (sign-in)
SESSION = "session"  # any signed-in user, whatever the role (sign-out, who am I)


def policy(permission: Permission | str) -> dict[str, Any]:
    """The route's declared policy, kept in the OpenAPI document (``x-medbill-permission``).

    The authorization test reads it from every route: a route without one fails that test.
    """
    value = permission.value if isinstance(permission, Permission) else permission
    return {"x-medbill-permission": value}

"""Code set routes: look a code up, search like the Index (no PHI; any signed-in user)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from medbill.api.deps import CurrentActor, policy
from medbill.api.errors import ERROR_RESPONSES
from medbill.core.codes import CodeSystem
from medbill.core.errors import InvalidCode, NotFound
from medbill.services import reference
from medbill.services.permissions import Permission, allowed
from medbill.settings import Settings

router = APIRouter(prefix="/codes", tags=["codes"], responses=ERROR_RESPONSES)


class CodeMatch(BaseModel):
    system: str
    code: str
    description: str | None
    billable: bool | None
    detail: dict[str, Any]


class SearchResult(BaseModel):
    system: str
    code: str
    description: str | None
    billable: bool
    score: float
    why: str | None = None


def _settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or Settings.from_env()


def _require(actor: Any) -> None:
    if not allowed(actor.role, Permission.CODES_READ):
        from medbill.core.errors import PermissionDenied

        raise PermissionDenied("your role may not read code sets")


@router.get(
    "/search",
    response_model=list[SearchResult],
    openapi_extra=policy(Permission.CODES_READ),
    operation_id="search_codes",
)
def search(
    request: Request,
    actor: CurrentActor,
    q: Annotated[str, Query(min_length=2, max_length=200, description="words as a coder would look them up")],
    system: Annotated[list[CodeSystem] | None, Query()] = None,
    billable_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SearchResult]:
    """Search ICD-10-CM, ICD-10-PCS, HCPCS by term (query text is code-set vocabulary, not PHI)."""
    _require(actor)
    hits = reference.search_codes(
        q,
        settings=_settings(request),
        systems=[s.value for s in system] if system else None,
        billable_only=billable_only,
        limit=limit,
    )
    return [
        SearchResult(
            system=str(h.system),
            code=h.display,
            description=h.description,
            billable=h.billable,
            score=round(h.score, 4),
            why=h.why,
        )
        for h in hits
    ]


@router.get(
    "/{code}", response_model=list[CodeMatch], openapi_extra=policy(Permission.CODES_READ), operation_id="lookup_code"
)
def lookup(
    request: Request,
    actor: CurrentActor,
    code: Annotated[str, Path(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9.]+$")],
    system: CodeSystem | None = None,
    date: dt.date | None = None,
) -> list[CodeMatch]:
    """Look a code up in every system it could belong to (or the one named), as of a date."""
    _require(actor)
    try:
        infos = reference.lookup_code(code, settings=_settings(request), system=system, on=date)
    except InvalidCode as exc:  # not the shape of any code: there is no such code to read
        raise NotFound(exc.message, hint=exc.hint) from None
    if not infos:
        raise NotFound(f"code {code} not found")
    out = []
    for info in infos:
        d = info.to_dict()
        out.append(
            CodeMatch(
                system=str(d.get("system")),
                code=str(d.get("code")),
                description=d.get("description"),
                billable=d.get("billable"),
                detail=d,
            )
        )
    return out

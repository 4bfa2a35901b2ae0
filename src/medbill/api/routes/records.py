"""CRUD routes for the practice's records, generated from ``services.records.RESOURCES``.

Each resource gets ``GET /<plural>`` (list: offset, limit and its non-PHI filters as query parameters),
``POST /<plural>``, ``GET/PATCH/DELETE /<plural>/{id}``. The patient search by PHI is a POST.
(No ``from __future__ import annotations`` here: the endpoints' annotations are built at run time.)
"""

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from medbill.api.deps import DB, CurrentActor, policy
from medbill.api.errors import ERROR_RESPONSES
from medbill.services import records as svc
from medbill.services import schemas as sc

router = APIRouter(responses=ERROR_RESPONSES)

PLURAL = {
    "patient": "patients",
    "coverage": "coverages",
    "provider": "providers",
    "payer": "payers",
    "encounter": "encounters",
    "fee_schedule": "fee-schedules",
    "payer_rule": "payer-rules",
    "trading_partner": "trading-partners",
}

_FILTER_TYPES: dict[str, Any] = {"active": bool, "rank": int}


def _filter_type(name: str) -> Any:
    if name.endswith("_id") and name != "payer_id":
        return int
    if name == "payer_id":
        return Any  # int for coverage/fee schedules/rules, the payer's id string for payers
    return _FILTER_TYPES.get(name, str)


def _add_routes(res: svc.Resource) -> None:
    path = "/" + PLURAL[res.name]
    tag = PLURAL[res.name]
    Id = Annotated[int, Path(ge=1, le=2**31 - 1)]  # noqa: N806

    # ---- list
    params = [
        inspect.Parameter("db", inspect.Parameter.KEYWORD_ONLY, annotation=DB),
        inspect.Parameter("actor", inspect.Parameter.KEYWORD_ONLY, annotation=CurrentActor),
        inspect.Parameter(
            "offset", inspect.Parameter.KEYWORD_ONLY, default=0, annotation=Annotated[int, Query(ge=0, le=10_000_000)]
        ),
        inspect.Parameter(
            "limit", inspect.Parameter.KEYWORD_ONLY, default=50, annotation=Annotated[int, Query(ge=1, le=200)]
        ),
    ]
    for f in res.filters:
        typ = _filter_type(f)
        if typ is Any:
            typ = str if res.name == "payer" else int
        # bounded like the columns they filter: a stray number is a 422, never a database overflow
        query = Query(ge=0, le=2**31 - 1) if typ is int else Query(max_length=80) if typ is str else Query()
        params.append(
            inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[typ | None, query])
        )

    def list_endpoint(**kw: Any) -> Any:
        db, actor = kw.pop("db"), kw.pop("actor")
        offset, limit = kw.pop("offset"), kw.pop("limit")
        return svc.list_records(db, actor=actor, resource=res.name, offset=offset, limit=limit, filters=kw)

    list_endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    router.add_api_route(
        path,
        list_endpoint,
        methods=["GET"],
        response_model=sc.Page[res.read],
        tags=[tag],
        summary=f"List {PLURAL[res.name].replace('-', ' ')}",
        openapi_extra=policy(res.read_permission),
        operation_id=f"list_{res.name}",
    )

    # ---- create
    def create_endpoint(db: DB, actor: CurrentActor, data: Annotated[res.create, Body()]) -> Any:  # type: ignore[name-defined]
        return svc.create(db, actor=actor, resource=res.name, data=data)

    router.add_api_route(
        path,
        create_endpoint,
        methods=["POST"],
        response_model=res.read,
        status_code=201,
        tags=[tag],
        summary=f"Create a {res.name.replace('_', ' ')}",
        openapi_extra=policy(res.write_permission),
        operation_id=f"create_{res.name}",
    )

    # ---- read one
    def get_endpoint(db: DB, actor: CurrentActor, record_id: Id) -> Any:
        return svc.get(db, actor=actor, resource=res.name, record_id=record_id)

    router.add_api_route(
        path + "/{record_id}",
        get_endpoint,
        methods=["GET"],
        response_model=res.read,
        tags=[tag],
        summary=f"Read a {res.name.replace('_', ' ')}",
        openapi_extra=policy(res.read_permission),
        operation_id=f"get_{res.name}",
    )

    # ---- update
    def update_endpoint(db: DB, actor: CurrentActor, record_id: Id, data: Annotated[res.update, Body()]) -> Any:  # type: ignore[name-defined]
        return svc.update(db, actor=actor, resource=res.name, record_id=record_id, data=data)

    router.add_api_route(
        path + "/{record_id}",
        update_endpoint,
        methods=["PATCH"],
        response_model=res.read,
        tags=[tag],
        summary=f"Change a {res.name.replace('_', ' ')}",
        openapi_extra=policy(res.write_permission),
        operation_id=f"update_{res.name}",
    )

    # ---- delete / retire
    def delete_endpoint(db: DB, actor: CurrentActor, record_id: Id) -> Response:
        svc.delete(db, actor=actor, resource=res.name, record_id=record_id)
        return Response(status_code=204)

    router.add_api_route(
        path + "/{record_id}",
        delete_endpoint,
        methods=["DELETE"],
        status_code=204,
        tags=[tag],
        response_class=Response,
        summary=f"Retire or delete a {res.name.replace('_', ' ')}",
        openapi_extra=policy(res.write_permission),
        operation_id=f"delete_{res.name}",
    )


for _res in svc.RESOURCES.values():
    _add_routes(_res)


@router.post(
    "/patients/search",
    response_model=sc.Page[sc.PatientRead],
    tags=["patients"],
    openapi_extra=policy(svc.RESOURCES["patient"].read_permission),
    operation_id="search_patients",
)
def search_patients(db: DB, actor: CurrentActor, query: sc.PatientSearch) -> Any:
    """Find patients by last name, birth date, MRN, account number or member id (all given must match)."""
    return svc.search_patients(db, actor=actor, query=query)

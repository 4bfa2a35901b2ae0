"""Operation routes: suggest codes, build/scrub/send claims, acknowledgments, 835 posting, denials, A/R, audit.

Uploaded X12 files are sent as the raw request body (``Content-Type: application/edi-x12`` or
``text/plain``), never as a URL; everything PHI-bearing stays in bodies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from medbill.api.deps import DB, CurrentActor, policy
from medbill.api.errors import ERROR_RESPONSES
from medbill.core.errors import ValidationFailed
from medbill.services import audit as audit_svc
from medbill.services import claims as claim_svc
from medbill.services import coding as coding_svc
from medbill.services import payments as pay_svc
from medbill.services.permissions import Permission as P
from medbill.services.schemas import Money, Page, RecordId
from medbill.settings import Settings

router = APIRouter(responses=ERROR_RESPONSES)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_UPLOAD = 50 * 1024 * 1024
X12_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/edi-x12": {"schema": {"type": "string", "maxLength": MAX_UPLOAD}},
            "text/plain": {"schema": {"type": "string", "maxLength": MAX_UPLOAD}},
        },
    }
}


def _settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or Settings.from_env()


async def _x12_body(request: Request) -> bytes:
    data = await request.body()
    if not data.strip():
        raise ValidationFailed("send the X12 file as the request body", field="body")
    if len(data) > MAX_UPLOAD:
        raise ValidationFailed(f"file larger than {MAX_UPLOAD // (1024 * 1024)} MB", field="body")
    return data


def _json(value: Any) -> Any:
    return pay_svc.to_jsonable(value)


# ------------------------------------------------------------------------------------------- coding
@router.post(
    "/encounters/{record_id}/suggestions",
    response_model=coding_svc.SuggestionsView,
    tags=["coding"],
    openapi_extra=policy(P.ENCOUNTER_READ),
    operation_id="suggest_codes",
)
def suggest_codes(
    request: Request,
    db: DB,
    actor: CurrentActor,
    record_id: Id,
    setting: Literal["outpatient", "inpatient"] | None = None,
) -> coding_svc.SuggestionsView:
    """Code suggestions for the encounter's note, with evidence spans, tasks and conflicts."""
    return coding_svc.suggest_for_encounter(
        db, actor=actor, encounter_id=record_id, setting=setting, settings=_settings(request)
    )


class DecisionOut(BaseModel):
    id: int


@router.post(
    "/encounters/{record_id}/decisions",
    response_model=DecisionOut,
    status_code=201,
    tags=["coding"],
    openapi_extra=policy(P.CODING_WRITE),
    operation_id="record_coding_decision",
)
def record_decision(db: DB, actor: CurrentActor, record_id: Id, body: coding_svc.DecisionIn) -> DecisionOut:
    """The coder accepts or rejects a suggestion (kept for learning: synonyms, suppressions)."""
    return DecisionOut(id=coding_svc.record_decision(db, actor=actor, encounter_id=record_id, decision=body))


# ------------------------------------------------------------------------------------------- claims
class BuildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payer_rank: Annotated[int, Field(ge=1, le=3)] = 1


@router.post(
    "/encounters/{record_id}/claims",
    response_model=claim_svc.ClaimView,
    status_code=201,
    tags=["claims"],
    openapi_extra=policy(P.CLAIM_WRITE),
    operation_id="build_claim",
)
def build_claim(db: DB, actor: CurrentActor, record_id: Id, body: BuildIn) -> claim_svc.ClaimView:
    """Build the claim of an encounter for the payer of the given rank."""
    return claim_svc.build_claim(db, actor=actor, encounter_id=record_id, payer_rank=body.payer_rank)


@router.get(
    "/claims",
    response_model=Page[claim_svc.ClaimSummary],
    tags=["claims"],
    openapi_extra=policy(P.CLAIM_READ),
    operation_id="list_claims",
)
def list_claims(
    db: DB,
    actor: CurrentActor,
    status: Annotated[str | None, Query(max_length=20)] = None,
    payer_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    patient_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    kind: Literal["professional", "institutional"] | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    return claim_svc.list_claims(
        db, actor=actor, status=status, payer_id=payer_id, patient_id=patient_id, kind=kind, offset=offset, limit=limit
    )


@router.get(
    "/claims/{record_id}",
    response_model=claim_svc.ClaimView,
    tags=["claims"],
    openapi_extra=policy(P.CLAIM_READ),
    operation_id="get_claim",
)
def get_claim(db: DB, actor: CurrentActor, record_id: Id) -> claim_svc.ClaimView:
    return claim_svc.get_claim(db, actor=actor, claim_id=record_id)


class ClaimEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any]
    expected_version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class ClaimEdited(BaseModel):
    claim: claim_svc.ClaimView
    scrub: claim_svc.ScrubView


@router.put(
    "/claims/{record_id}",
    response_model=ClaimEdited,
    tags=["claims"],
    openapi_extra=policy(P.CLAIM_WRITE),
    operation_id="update_claim",
)
def update_claim(request: Request, db: DB, actor: CurrentActor, record_id: Id, body: ClaimEdit) -> ClaimEdited:
    """Replace the claim's document (its JSON form); it is scrubbed again at once."""
    view, scrub = claim_svc.update_claim(
        db,
        actor=actor,
        claim_id=record_id,
        document=body.document,
        expected_version=body.expected_version,
        refdata_path=_settings(request).refdata_path,
    )
    return ClaimEdited(claim=view, scrub=scrub)


@router.post(
    "/claims/{record_id}/scrub",
    response_model=claim_svc.ScrubView,
    tags=["claims"],
    openapi_extra=policy(P.CLAIM_WRITE),
    operation_id="scrub_claim",
)
def scrub_claim(request: Request, db: DB, actor: CurrentActor, record_id: Id) -> claim_svc.ScrubView:
    """Every edit (codes, NCCI, MUE, structure, payer rules): each finding with its fix."""
    return claim_svc.scrub_claim(db, actor=actor, claim_id=record_id, refdata_path=_settings(request).refdata_path)


@router.get(
    "/claims/{record_id}/history",
    response_model=list[claim_svc.StatusChangeView],
    tags=["claims"],
    openapi_extra=policy(P.CLAIM_READ),
    operation_id="claim_history",
)
def claim_history(db: DB, actor: CurrentActor, record_id: Id) -> Any:
    return claim_svc.claim_history(db, actor=actor, claim_id=record_id)


@router.get(
    "/claims/{record_id}/ledger",
    response_model=dict[str, Any],
    tags=["payments"],
    openapi_extra=policy(P.LEDGER_READ),
    operation_id="claim_ledger",
)
def claim_ledger(db: DB, actor: CurrentActor, record_id: Id) -> Any:
    """The claim's ledger entries and balances (charges = payments + adjustments + open balance)."""
    return _json(pay_svc.claim_ledger(db, actor=actor, claim_id=record_id))


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner_id: RecordId
    claim_ids: Annotated[list[RecordId], Field(max_length=5000)] | None = None
    kind: Literal["837P", "837I"] = "837P"


@router.post(
    "/batches",
    response_model=claim_svc.BatchView,
    status_code=201,
    tags=["submission"],
    openapi_extra=policy(P.CLAIM_SUBMIT),
    operation_id="create_batch",
)
def create_batch(db: DB, actor: CurrentActor, body: BatchIn) -> claim_svc.BatchView:
    """An 837 of ready claims (the given ones, or all ready of the kind) for a trading partner."""
    return claim_svc.create_batch(db, actor=actor, partner_id=body.partner_id, claim_ids=body.claim_ids, kind=body.kind)


@router.post(
    "/acknowledgments",
    response_model=claim_svc.AckView,
    tags=["submission"],
    openapi_extra={**policy(P.CLAIM_SUBMIT), **X12_BODY},
    operation_id="apply_acknowledgment",
)
async def apply_acknowledgment(request: Request, db: DB, actor: CurrentActor) -> claim_svc.AckView:
    """A 999 or 277CA file (the raw X12 as the body): statuses move, rejections go to the work queue."""
    content = await _x12_body(request)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(claim_svc.apply_acknowledgment, db, actor=actor, content=content, filename="upload")


# ------------------------------------------------------------------------------------------- payments
@router.post(
    "/remittances",
    response_model=dict[str, Any],
    tags=["payments"],
    openapi_extra={**policy(P.REMIT_POST), **X12_BODY},
    operation_id="post_remittance",
)
async def post_remittance(request: Request, db: DB, actor: CurrentActor, preview: bool = False) -> Any:
    """Post an 835 (the raw X12 as the body) exactly once; ``preview=true`` shows the plan and keeps nothing."""
    content = await _x12_body(request)
    from starlette.concurrency import run_in_threadpool

    report = await run_in_threadpool(pay_svc.post_remittance, db, actor=actor, content=content, preview=preview)
    return _json(report)


@router.get(
    "/denials",
    response_model=list[dict[str, Any]],
    tags=["payments"],
    openapi_extra=policy(P.REMIT_READ),
    operation_id="denials",
)
def denials(request: Request, db: DB, actor: CurrentActor, include_closed: bool = False) -> Any:
    """Denied and underpaid lines with CARC/RARC text, category, next action and the scrub rule."""
    refdata = _settings(request).refdata_path
    return _json(
        pay_svc.denials(db, actor=actor, refdata=refdata if refdata.is_file() else None, include_closed=include_closed)
    )


@router.get(
    "/work-items",
    response_model=list[dict[str, Any]],
    tags=["payments"],
    openapi_extra=policy(P.REMIT_READ),
    operation_id="work_items",
)
def work_items(
    db: DB,
    actor: CurrentActor,
    queue: Annotated[str | None, Query(max_length=24)] = None,
    open_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    """Unmatched remittance items, suspected duplicates, payments on hold, rejections."""
    return _json(pay_svc.work_items(db, actor=actor, queue=queue, open_only=open_only, limit=limit))


@router.get(
    "/reports/ar-aging",
    response_model=dict[str, Any],
    tags=["reports"],
    openapi_extra=policy(P.REPORT_READ),
    operation_id="ar_aging",
)
def ar_aging(
    db: DB,
    actor: CurrentActor,
    as_of: dt.date | None = None,
    view: Literal["billing", "service"] = "billing",
) -> Any:
    """A/R aging buckets (0-30 … 120+) by payer and for patients."""
    return _json(pay_svc.ar_aging(db, actor=actor, as_of=as_of, view=view))


@router.get(
    "/patients/{record_id}/statement",
    response_model=dict[str, Any],
    tags=["payments"],
    openapi_extra=policy(P.LEDGER_READ),
    operation_id="patient_statement",
)
def patient_statement(db: DB, actor: CurrentActor, record_id: Id, as_of: dt.date | None = None) -> Any:
    return _json(pay_svc.patient_statement(db, actor=actor, patient_id=record_id, as_of=as_of))


class PatientPaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[Money, Field(gt=0)]
    action_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
    on: dt.date | None = None
    reference: Annotated[str, Field(max_length=50)] | None = None


@router.post(
    "/claims/{record_id}/patient-payments",
    response_model=dict[str, Any],
    status_code=201,
    tags=["payments"],
    openapi_extra=policy(P.PAYMENT_COLLECT),
    operation_id="record_patient_payment",
)
def record_patient_payment(db: DB, actor: CurrentActor, record_id: Id, body: PatientPaymentIn) -> Any:
    """A payment by the patient (at the desk or later), exactly once per ``action_id``."""
    return _json(
        pay_svc.record_patient_payment(
            db,
            actor=actor,
            claim_id=record_id,
            amount=Decimal(body.amount),
            action_id=body.action_id,
            on=body.on,
            reference=body.reference,
        )
    )


# ------------------------------------------------------------------------------------------- audit
@router.get(
    "/audit/report",
    response_model=list[dict[str, Any]],
    tags=["audit"],
    openapi_extra=policy(P.AUDIT_READ),
    operation_id="audit_report",
)
def audit_report(
    db: DB,
    actor: CurrentActor,
    start: dt.date,
    end: dt.date,
    user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    action: Annotated[str | None, Query(max_length=30)] = None,
) -> Any:
    """Who did what, when, from where, with which outcome (surrogate ids only)."""
    if end < start:
        raise ValidationFailed("end is before start", field="end")
    rows = audit_svc.audit_report(db, actor=actor, start=start, end=end, user_id=user_id, action=action)
    return [_json(dataclasses.asdict(r)) for r in rows]


@router.post(
    "/audit/verify",
    response_model=dict[str, Any],
    tags=["audit"],
    openapi_extra=policy(P.AUDIT_READ),
    operation_id="audit_verify",
)
def audit_verify(db: DB, actor: CurrentActor) -> Any:
    """Recompute the hash chains and compare with the outside anchor: every tampering found is listed."""
    report = audit_svc.verify_audit(db, actor=actor)
    return {
        "intact": report.intact,
        "records": report.records,
        "problems": [_json(dataclasses.asdict(p)) for p in report.problems],
    }

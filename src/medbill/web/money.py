"""Payments: upload an 835, preview, post; claim ledgers, patient statements, patient payments; dashboard."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from medbill.core.errors import NotFound, ValidationFailed
from medbill.ledger.reports import BUCKET_LABELS
from medbill.services import claims as claim_svc
from medbill.services import payments as pay_svc
from medbill.services import reports as report_svc
from medbill.services.permissions import Permission as P
from medbill.web.common import PREFIX, PostDep, WebDep, policy, render, stash
from medbill.web.work import payer_names, read_upload

router = APIRouter(prefix=PREFIX)


@router.get("/payments", response_class=HTMLResponse, openapi_extra=policy(P.REMIT_POST))
def payments(request: Request, web: WebDep) -> Response:
    web.require(P.REMIT_POST)
    return render(web, request, "payments.html", title="Payments")


@router.post("/remittances/preview", response_class=HTMLResponse, openapi_extra=policy(P.REMIT_POST))
async def preview(request: Request, post: PostDep) -> Response:
    """Read the 835 and show exactly what posting would do; nothing is kept."""
    web = post.web
    content = await read_upload(post.form.get("file"))
    report = await run_in_threadpool(pay_svc.post_remittance, web.db, actor=web.actor, content=content, preview=True)
    key = stash.put(web, content, "835")
    return render(web, request, "remit.html", title="835 preview", report=report, key=key)


@router.post("/remittances/post", response_class=HTMLResponse, openapi_extra=policy(P.REMIT_POST))
async def post_835(request: Request, post: PostDep) -> Response:
    """Post the previewed 835 (exactly once: posting it again changes nothing)."""
    web = post.web
    found = stash.get(web, post.get("key")[:64])
    if found is None:
        raise NotFound("the previewed file has expired: upload it again")
    report = await run_in_threadpool(pay_svc.post_remittance, web.db, actor=web.actor, content=found[1])
    return render(web, request, "remit.html", title="835 posted", report=report, key=None)


@router.get("/claims/{claim_id}/ledger", response_class=HTMLResponse, openapi_extra=policy(P.LEDGER_READ))
def ledger(request: Request, web: WebDep, claim_id: int) -> Response:
    led = pay_svc.claim_ledger(web.db, actor=web.actor, claim_id=claim_id)
    claim = claim_svc.get_claim(web.db, actor=web.actor, claim_id=claim_id) if web.can(P.CLAIM_READ) else None
    return render(
        web,
        request,
        "ledger.html",
        title=f"Claim {claim_id} ledger",
        led=led,
        claim=claim,
        action_id=secrets.token_urlsafe(12),
    )


@router.post(
    "/claims/{claim_id}/patient-payments", response_class=HTMLResponse, openapi_extra=policy(P.PAYMENT_COLLECT)
)
def patient_payment(request: Request, post: PostDep, claim_id: int) -> Response:
    web = post.web
    try:
        amount = Decimal(post.get("amount"))
    except InvalidOperation:
        raise ValidationFailed("amount: not an amount", field="amount") from None
    action_id = post.get("action_id")[:64] or secrets.token_urlsafe(12)
    result = pay_svc.record_patient_payment(
        web.db, actor=web.actor, claim_id=claim_id, amount=amount, action_id=action_id, reference=None
    )
    led = pay_svc.claim_ledger(web.db, actor=web.actor, claim_id=claim_id)
    claim = claim_svc.get_claim(web.db, actor=web.actor, claim_id=claim_id) if web.can(P.CLAIM_READ) else None
    msg = "Payment recorded." if result.posted else "This payment was recorded before (nothing changed)."
    return render(
        web, request, "ledger.html", title=f"Claim {claim_id} ledger", led=led, claim=claim,
        action_id=secrets.token_urlsafe(12), message=msg,
    )  # fmt: skip


@router.get("/patients/{patient_id}/statement", response_class=HTMLResponse, openapi_extra=policy(P.LEDGER_READ))
def statement(request: Request, web: WebDep, patient_id: int) -> Response:
    st = pay_svc.patient_statement(web.db, actor=web.actor, patient_id=patient_id)
    return render(web, request, "statement.html", title=f"Patient {patient_id} statement", st=st, patient_id=patient_id)


# ----------------------------------------------------------------------------------------------- dashboard
def _pct(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole * 100).quantize(Decimal("0.1")) if whole else None


def bars(rows: list[tuple[str, Decimal]], width: int = 360) -> list[dict[str, Any]]:
    """Bar geometry for the server-rendered SVG (width proportional to the largest amount)."""
    top = max((v for _, v in rows), default=Decimal(0))
    out = []
    for i, (label, value) in enumerate(rows):
        w = int(width * value / top) if top > 0 and value > 0 else 0
        out.append({"label": label, "value": value, "w": w, "y": i * 28})
    return out


def percent(rate: Any) -> Decimal | None:
    """A ledger ``Rate`` as a percentage to 0.1 (None when its denominator is 0)."""
    value = rate.value
    return None if value is None else (value * 100).quantize(Decimal("0.1"))


def pct_bars(rows: list[tuple[str, Any]], width: int = 360) -> list[dict[str, Any]]:
    """Bars on a 0-100 % scale; the value beside each bar is the percentage and its fraction."""
    out = []
    for i, (label, rate) in enumerate(rows):
        pct = percent(rate)
        w = int(width * min(max(pct or Decimal(0), Decimal(0)), Decimal(100)) / 100)
        shown = "no data" if pct is None else f"{pct} % ({rate.numerator:f} / {rate.denominator:f})"
        out.append({"label": label, "value": shown, "w": w, "y": i * 28})
    return out


DASHBOARD_PERIODS = (30, 90, 180, 365)


@router.get("/dashboard", response_class=HTMLResponse, openapi_extra=policy(P.REPORT_READ))
def dashboard(request: Request, web: WebDep, days: int = 90) -> Response:
    """A/R aging, days in A/R, collections, first-pass and clean-claim rates, denials (SVG with the numbers)."""
    web.require(P.REPORT_READ)
    days = days if days in DASHBOARD_PERIODS else 90
    today = dt.date.today()
    measures = report_svc.revenue_measures(web.db, actor=web.actor, as_of=today, period_days=days)
    aging = pay_svc.ar_aging(web.db, actor=web.actor, as_of=today)
    payer_rows = list(zip(BUCKET_LABELS, aging.payers.aged, strict=True))
    patient_rows = list(zip(BUCKET_LABELS, aging.patients.aged, strict=True))
    counts: dict[str, int] = {}
    if web.can(P.CLAIM_READ):
        for status in ("ready", "submitted", "accepted", "rejected", "paid", "partially_paid", "denied", "closed"):
            counts[status] = claim_svc.list_claims(web.db, actor=web.actor, status=status, limit=1).total
    sent = sum(v for k, v in counts.items() if k != "ready")
    clean = (Decimal(sent - counts.get("rejected", 0)) / sent * 100).quantize(Decimal("0.1")) if sent else None
    by_reason: dict[str, dict[str, Any]] = {}
    adjudicated = counts.get("paid", 0) + counts.get("partially_paid", 0) + counts.get("denied", 0)
    if web.can(P.REMIT_READ):
        refdata = web.settings.refdata_path
        for item in pay_svc.denials(web.db, actor=web.actor, refdata=refdata if refdata.is_file() else None):
            for r in item.reasons:
                key = f"{r.group}-{r.carc}"
                slot = by_reason.setdefault(key, {"text": r.carc_text or "", "claims": set(), "amount": Decimal(0)})
                slot["claims"].add(item.claim_id)
                slot["amount"] += r.amount
    reasons = sorted(
        (
            {
                "code": k,
                "text": v["text"],
                "claims": len(v["claims"]),
                "amount": v["amount"],
                "rate": _pct(len(v["claims"]), adjudicated),
            }
            for k, v in by_reason.items()
        ),
        key=lambda r: -r["claims"],
    )
    payers = payer_names(web)
    by_payer = [
        (payers.get(int(k.split(":")[-1]), k) if k.split(":")[-1].isdigit() else k, b.total)
        for k, b in sorted(aging.by_payer.items())
    ]
    dar = measures.days_in_ar
    dar_bar = [{"label": "days", "value": dar if dar is not None else "no charges", "y": 0,
                "w": int(360 * min(dar, Decimal(180)) / 180) if dar is not None and dar > 0 else 0}]  # fmt: skip
    rate_bars = pct_bars(
        [
            ("collections", measures.net_collection),
            ("first pass", measures.first_pass),
            ("clean claims", measures.clean_claims),
            ("denials", measures.denials.rate),
        ]
    )
    category_bars = pct_bars(
        [(str(c).replace("_", " "), measures.denials.category_rate(c)) for c in measures.denials.by_category]
    )
    return render(
        web,
        request,
        "dashboard.html",
        title="Dashboard",
        m=measures,
        days=days,
        periods=DASHBOARD_PERIODS,
        dar_bar=dar_bar,
        rate_bars=rate_bars,
        category_bars=category_bars,
        pct=percent,
        aging=aging,
        payer_bars=bars(payer_rows),
        patient_bars=bars(patient_rows),
        payer_total_bars=bars(by_payer),
        counts=counts,
        clean=clean,
        sent=sent,
        reasons=reasons,
        reason_bars=bars([(r["code"], Decimal(r["claims"])) for r in reasons]),
    )

"""Work queues, the coding workbench, the claim editor and submission (837 batches, 999/277CA uploads)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from medbill.core.errors import NotFound, ValidationFailed
from medbill.services import claims as claim_svc
from medbill.services import coding as coding_svc
from medbill.services import history, records, simulation
from medbill.services import payments as pay_svc
from medbill.services import schemas as sc
from medbill.services.permissions import Permission as P
from medbill.web.common import PER_QUEUE, PREFIX, PostDep, Web, WebDep, policy, redirect, render

router = APIRouter(prefix=PREFIX)
MAX_UPLOAD = 50 * 1024 * 1024


# =============================================================================================== helpers
def invalid(exc: ValidationError, what: str) -> ValidationFailed:
    """A pydantic error as a field message, without echoing the input (it may be PHI)."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return ValidationFailed(f"{what}: {loc}: {first.get('msg', 'invalid')}", field=loc or None)


def payer_names(web: Web) -> dict[int, str]:
    if not web.can(P.PAYER_READ):
        return {}
    page = records.list_records(web.db, actor=web.actor, resource="payer", limit=200)
    return {p.id: p.name for p in page.items}  # type: ignore[attr-defined]


async def read_upload(upload: Any) -> bytes:
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("choose a file to upload", field="file")
    data = await upload.read(MAX_UPLOAD + 1)
    if not data.strip():
        raise ValidationFailed("the file is empty", field="file")
    if len(data) > MAX_UPLOAD:
        raise ValidationFailed("the file is larger than 50 MB", field="file")
    return data


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# =============================================================================================== queues
@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    phi: bool = False  # PHI columns are sorted in Python, for the page shown only
    numeric: bool = False


@dataclass(slots=True)
class Queue:
    name: str
    title: str
    permission: P
    columns: tuple[Column, ...]
    filters: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    note: str | None = None


QUEUES: dict[str, tuple[str, P]] = {
    "to_code": ("Encounters to code", P.ENCOUNTER_READ),
    "scrub_errors": ("Claims with scrub errors", P.CLAIM_READ),
    "ready": ("Claims ready to send", P.CLAIM_READ),
    "rejections": ("Rejections (999/277CA)", P.CLAIM_READ),
    "denials": ("Denials", P.REMIT_READ),
    "unmatched": ("Unmatched remittance items", P.REMIT_READ),
}
_CLAIM_COLS = (
    Column("id", "Claim", numeric=True),
    Column("patient_id", "Patient id", numeric=True),
    Column("payer", "Payer"),
    Column("kind", "Kind"),
    Column("status", "Status"),
    Column("total_charge", "Charge", numeric=True),
    Column("scrub_errors", "Errors", numeric=True),
    Column("scrub_warnings", "Warnings", numeric=True),
    Column("updated", "Updated"),
)


def _claim_rows(web: Web, items: list[Any], payers: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "patient_id": c.patient_id,
            "payer": payers.get(c.payer_id, f"payer {c.payer_id}"),
            "payer_id": c.payer_id,
            "kind": c.kind,
            "status": c.status,
            "total_charge": c.total_charge,
            "scrub_errors": c.scrub_errors,
            "scrub_warnings": c.scrub_warnings,
            "updated": c.updated_at.strftime("%Y-%m-%d %H:%M"),
            "_link": f"{PREFIX}/claims/{c.id}",
        }
        for c in items
    ]


def build_queue(web: Web, name: str, args: dict[str, str], offset: int, limit: int) -> Queue:
    if name not in QUEUES:
        raise NotFound("no such work queue")
    title, perm = QUEUES[name]
    web.require(perm)
    if name == "to_code":
        q = Queue(
            name,
            title,
            perm,
            (
                Column("id", "Encounter", numeric=True),
                Column("service_date", "Date of service", phi=True),
                Column("patient_id", "Patient id", numeric=True),
                Column("kind", "Kind"),
                Column("setting", "Setting"),
                Column("provider", "Rendering provider id", numeric=True),
            ),
            filters={
                "setting": [("", "any setting"), ("outpatient", "outpatient"), ("inpatient", "inpatient")],
                "kind": [("", "any kind"), ("professional", "professional"), ("institutional", "institutional")],
            },
        )
        filt = {"status": "to_code"}
        for key in ("setting", "kind"):
            if args.get(key) in {v for v, _ in q.filters[key] if v}:
                filt[key] = args[key]
        page = records.list_records(
            web.db, actor=web.actor, resource="encounter", offset=offset, limit=limit, filters=filt
        )
        q.total = page.total
        q.rows = [
            {
                "id": e.id,  # type: ignore[attr-defined]
                "service_date": e.service_date.isoformat(),  # type: ignore[attr-defined]
                "patient_id": e.patient_id,  # type: ignore[attr-defined]
                "kind": e.kind,  # type: ignore[attr-defined]
                "setting": e.setting,  # type: ignore[attr-defined]
                "provider": e.rendering_provider_id,  # type: ignore[attr-defined]
                "_link": f"{PREFIX}/encounters/{e.id}",  # type: ignore[attr-defined]
            }
            for e in page.items
        ]
        return q
    if name == "rejections" and web.can(P.REMIT_READ):
        return _rejections(web, args, offset, limit)
    if name in ("scrub_errors", "ready", "rejections"):
        payers = payer_names(web)
        q = Queue(name, title, perm, _CLAIM_COLS)
        q.filters = {
            "payer_id": [("", "any payer")] + [(str(k), v) for k, v in sorted(payers.items(), key=lambda kv: kv[1])],
            "kind": [("", "any kind"), ("professional", "professional"), ("institutional", "institutional")],
        }
        payer_id = _int(args.get("payer_id"))
        kind = args.get("kind") if args.get("kind") in ("professional", "institutional") else None
        status = {"scrub_errors": "draft", "ready": "ready", "rejections": "rejected"}[name]
        if name == "scrub_errors":
            page = claim_svc.list_claims(
                web.db, actor=web.actor, status=status, payer_id=payer_id, kind=kind, offset=offset, limit=200
            )
            items = [c for c in page.items if c.scrub_errors > 0]
            q.total = len(items)
            q.note = f"from the {len(page.items)} newest draft claims (of {page.total})"
            items = items[:limit]
        else:
            page = claim_svc.list_claims(
                web.db, actor=web.actor, status=status, payer_id=payer_id, kind=kind, offset=offset, limit=limit
            )
            items, q.total = list(page.items), page.total
        q.rows = _claim_rows(web, items, payers)
        return q
    if name == "denials":
        q = Queue(
            name,
            title,
            perm,
            (
                Column("claim_id", "Claim", numeric=True),
                Column("line", "Line", numeric=True),
                Column("payer", "Payer"),
                Column("kind", "Kind"),
                Column("reasons", "Reasons (CARC/RARC)"),
                Column("next_action", "Next action"),
                Column("denied", "Denied", numeric=True),
                Column("procedure", "Procedure"),
                Column("service_date", "Date of service", phi=True),
            ),
        )
        refdata = web.settings.refdata_path
        items = pay_svc.denials(web.db, actor=web.actor, refdata=refdata if refdata.is_file() else None)
        cats = sorted({str(i.category) for i in items})
        q.filters = {"category": [("", "any category")] + [(c, c) for c in cats]}
        if args.get("category") in cats:
            items = [i for i in items if str(i.category) == args["category"]]
        q.total = len(items)
        q.rows = [
            {
                "claim_id": int(i.claim_id),
                "line": i.line_number,
                "payer": i.payer,
                "kind": str(i.kind),
                "reasons": [(f"{r.group}-{r.carc}", r.carc_text or "(no text)", r.amount) for r in i.reasons]
                + [(f"RARC {rm.code}", rm.text or "(no text)", None) for rm in i.remarks],
                "next_action": i.next_action,
                "denied": i.denied,
                "procedure": i.procedure or "",
                "service_date": i.service_date.isoformat() if i.service_date else "",
                "_link": f"{PREFIX}/claims/{int(i.claim_id)}/ledger",
            }
            for i in items[offset : offset + limit]
        ]
        return q
    # unmatched remittance items
    subqueues = ("unmatched_claim", "unmatched_line", "unmatched_plb", "duplicate", "on_hold")
    q = Queue(
        name,
        title,
        perm,
        (
            Column("id", "Item", numeric=True),
            Column("queue", "Queue"),
            Column("remittance_id", "Remittance", numeric=True),
            Column("claim_id", "Claim", numeric=True),
            Column("summary", "Summary"),
            Column("created", "Created"),
        ),
        filters={"queue": [("", "any unmatched queue")] + [(s, s.replace("_", " ")) for s in subqueues]},
    )
    sub = args.get("queue") if args.get("queue") in subqueues else None
    # the posting queues only (the acknowledgment queues are the rejections queue's)
    items2 = [w for w in pay_svc.work_items(web.db, actor=web.actor, queue=sub, limit=1000) if w.queue in subqueues]
    q.total = len(items2)
    q.rows = [
        {
            "id": w.id,
            "queue": w.queue,
            "remittance_id": w.remittance_id,
            "claim_id": w.claim_id,
            "summary": w.summary,
            "created": w.created_at.strftime("%Y-%m-%d %H:%M"),
            "_link": f"{PREFIX}/claims/{w.claim_id}/ledger" if w.claim_id else None,
        }
        for w in items2[offset : offset + limit]
    ]
    return q


REJECTION_QUEUES = {
    "rejections": "claim rejected (999/277CA)",
    "unmatched_ack": "277CA matching no claim",
}


def _rejections(web: Web, args: dict[str, str], offset: int, limit: int) -> Queue:
    """Rejections as the acknowledgment work items (999/277CA): the reason, and the claim to fix."""
    title, perm = QUEUES["rejections"]
    q = Queue(
        "rejections",
        title,
        perm,
        (
            Column("claim_id", "Claim", numeric=True),
            Column("queue", "Kind"),
            Column("summary", "Why (from the acknowledgment)"),
            Column("created", "Received"),
            Column("id", "Item", numeric=True),
        ),
        filters={"queue": [("", "any")] + list(REJECTION_QUEUES.items())},
    )
    sub = args.get("queue") if args.get("queue") in REJECTION_QUEUES else None
    items: list[Any] = []
    for queue_name in [sub] if sub else list(REJECTION_QUEUES):
        items.extend(pay_svc.work_items(web.db, actor=web.actor, queue=queue_name, limit=1000))
    items.sort(key=lambda w: w.id, reverse=True)  # newest first
    q.total = len(items)
    q.rows = [
        {
            "claim_id": w.claim_id,
            "queue": REJECTION_QUEUES.get(w.queue, w.queue),
            "summary": w.summary,
            "created": w.created_at.strftime("%Y-%m-%d %H:%M"),
            "id": w.id,
            "_link": f"{PREFIX}/claims/{w.claim_id}" if w.claim_id else None,
        }
        for w in items[offset : offset + limit]
    ]
    if not q.rows and not q.total:
        q.note = "No open rejections from 999 or 277CA files."
    return q


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, 0)
    if isinstance(value, list | tuple):
        return (0, str(value))
    return (0, value)


def queue_counts(web: Web) -> list[tuple[str, str, int | None]]:
    out: list[tuple[str, str, int | None]] = []
    for name, (title, perm) in QUEUES.items():
        if not web.can(perm):
            continue
        count: int | None
        if name == "to_code":
            count = records.list_records(
                web.db, actor=web.actor, resource="encounter", limit=1, filters={"status": "to_code"}
            ).total
        elif name == "rejections" and web.can(P.REMIT_READ):
            count = sum(
                len(pay_svc.work_items(web.db, actor=web.actor, queue=sub, limit=1000)) for sub in REJECTION_QUEUES
            )
        elif name in ("ready", "rejections"):
            status = "ready" if name == "ready" else "rejected"
            count = claim_svc.list_claims(web.db, actor=web.actor, status=status, limit=1).total
        else:
            count = None  # computed when the queue is opened
        out.append((name, title, count))
    return out


@router.get("/queues/{name}", response_class=HTMLResponse, openapi_extra=policy(PER_QUEUE))
def queue(
    request: Request,
    web: WebDep,
    name: str,
    sort: Annotated[str, Query(max_length=30)] = "",
    dir: Annotated[str, Query(max_length=4)] = "asc",  # noqa: A002
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """A work queue: a sortable, filterable table (filters and sort keys are non-PHI query parameters)."""
    args = {k: v[:40] for k, v in request.query_params.items()}
    q = build_queue(web, name, args, offset, limit)
    keys = {c.key for c in q.columns}
    if sort in keys:
        q.rows.sort(key=lambda r: _sort_key(r.get(sort)), reverse=dir == "desc")
    return render(
        web,
        request,
        "queue.html",
        title=q.title,
        q=q,
        queues=QUEUES,
        sort=sort,
        dir=dir,
        args=args,
        offset=offset,
        limit=limit,
    )


# =============================================================================================== workbench
_ASSERTION_CLASS = {
    "present": "ev-present",
    "negated": "ev-negated",
    "historical": "ev-historical",
    "family": "ev-family",
    "hypothetical": "ev-hypothetical",
    "possible": "ev-possible",
}


def highlight(note: str, suggestions: list[dict[str, Any]]) -> list[tuple[str, list[int], str]]:
    """The note cut at evidence boundaries: (text, indexes of the suggestions citing it, css class)."""
    cuts = {0, len(note)}
    spans: list[tuple[int, int, int]] = []
    for i, s in enumerate(suggestions):
        for ev in s.get("evidence") or []:
            a, b = int(ev.get("start", 0)), int(ev.get("end", 0))
            if 0 <= a < b <= len(note):
                spans.append((a, b, i))
                cuts.update((a, b))
    points = sorted(cuts)
    out: list[tuple[str, list[int], str]] = []
    for a, b in zip(points, points[1:], strict=False):
        idx = sorted({i for s0, e0, i in spans if s0 <= a and b <= e0})
        cls = ""
        if idx:
            kinds = {str(suggestions[i].get("assertion") or "present") for i in idx}
            cls = "ev-present" if "present" in kinds else _ASSERTION_CLASS.get(sorted(kinds)[0], "ev-other")
        out.append((note[a:b], idx, cls))
    return out


def _encounter(web: Web, encounter_id: int) -> Any:
    return records.get(web.db, actor=web.actor, resource="encounter", record_id=encounter_id)


@router.get("/encounters/{encounter_id}", response_class=HTMLResponse, openapi_extra=policy(P.ENCOUNTER_READ))
def workbench(request: Request, web: WebDep, encounter_id: int, saved: int = 0) -> Response:
    """The coding workbench (the suggestions panel loads from /suggestions)."""
    enc = _encounter(web, encounter_id)
    patient = None
    if web.can(P.PATIENT_READ):
        patient = records.get(web.db, actor=web.actor, resource="patient", record_id=enc.patient_id)
    return render(
        web,
        request,
        "workbench.html",
        title=f"Encounter {encounter_id} — coding workbench",
        enc=enc,
        patient=patient,
        saved=bool(saved),
        segments=[(enc.note or "", [], "")],
    )


@router.get(
    "/encounters/{encounter_id}/suggestions", response_class=HTMLResponse, openapi_extra=policy(P.ENCOUNTER_READ)
)
def suggestions(request: Request, web: WebDep, encounter_id: int) -> Response:
    """The highlighted note and the suggestions (a fragment the workbench loads)."""
    view = coding_svc.suggest_for_encounter(web.db, actor=web.actor, encounter_id=encounter_id, settings=web.settings)
    enc = _encounter(web, encounter_id)
    sugs = view.suggestions
    return render(
        web,
        request,
        "_suggestions.html",
        enc=enc,
        view=view,
        sugs=sugs,
        segments=highlight(enc.note or "", sugs),
        assertion_class=_ASSERTION_CLASS,
    )


@router.post("/encounters/{encounter_id}/decisions", openapi_extra=policy(P.CODING_WRITE))
def decide(request: Request, post: PostDep, encounter_id: int) -> Response:
    """Accept or reject a suggestion (kept for learning); the fetch() caller gets JSON."""
    try:
        decision = coding_svc.DecisionIn(
            system=post.get("system") or "ICD10CM",  # type: ignore[arg-type]
            code=post.get("code").replace(".", ""),
            accepted=post.get("accepted") == "1",
            mention=post.get("mention")[:500] or None,
        )
    except ValidationError as exc:
        raise invalid(exc, "decision") from None
    did = coding_svc.record_decision(post.web.db, actor=post.web.actor, encounter_id=encounter_id, decision=decision)
    if request.headers.get("X-Requested-With") == "fetch":
        return JSONResponse({"id": did, "accepted": decision.accepted})
    return redirect(f"{PREFIX}/encounters/{encounter_id}")


def _split(value: str) -> list[str]:
    return [p for p in re.split(r"[\s,;]+", value.strip().upper()) if p]


@router.post("/encounters/{encounter_id}/codes", openapi_extra=policy(P.ENCOUNTER_WRITE))
def save_codes(post: PostDep, encounter_id: int) -> Response:
    """Save the chosen diagnoses and procedures to the encounter."""
    web = post.web
    dx = [c for c in post.getlist("dx_code") if c]
    pxs = []
    for system, code, mods, units, charge, ptr in zip(
        post.getlist("px_system"),
        post.getlist("px_code"),
        post.getlist("px_mod"),
        post.getlist("px_units"),
        post.getlist("px_charge"),
        post.getlist("px_ptr"),
        strict=False,
    ):
        if not code:
            continue
        item: dict[str, Any] = {"system": system or "CPT", "code": code.upper(), "modifiers": _split(mods)}
        item["units"] = units or "1"
        if charge:
            item["charge"] = charge
        item["diagnosis_pointers"] = [int(p) for p in _split(ptr) if p.isdigit()]
        pxs.append(item)
    enc = _encounter(web, encounter_id)
    try:
        data = sc.EncounterUpdate(
            diagnoses=[sc.DiagnosisIn(code=c) for c in dx],
            procedures=[sc.ProcedureIn(**p) for p in pxs],
            **({"status": "coded"} if enc.status == "to_code" and (dx or pxs) else {}),
        )
    except ValidationError as exc:
        raise invalid(exc, "codes") from None
    records.update(web.db, actor=web.actor, resource="encounter", record_id=encounter_id, data=data)
    return redirect(f"{PREFIX}/encounters/{encounter_id}?saved=1")


@router.post("/encounters/{encounter_id}/claim", response_class=HTMLResponse, openapi_extra=policy(P.CLAIM_WRITE))
def create_claim(request: Request, post: PostDep, encounter_id: int) -> Response:
    """Build the claim (primary payer) and scrub it at once: the editor opens with the findings."""
    web = post.web
    rank = _int(post.get("payer_rank")) or 1
    view = claim_svc.build_claim(web.db, actor=web.actor, encounter_id=encounter_id, payer_rank=rank)
    scrub = claim_svc.scrub_claim(web.db, actor=web.actor, claim_id=view.id, refdata_path=web.settings.refdata_path)
    return _claim_page(request, web, view.id, scrub=scrub, message="Claim created and scrubbed.")


# =============================================================================================== claim editor
_LOC = re.compile(r"^(diagnoses|lines)\[(\d+)\]")


def place_findings(findings: list[Any]) -> dict[str, list[Any]]:
    """Findings keyed by the field they concern: ``dx:0``, ``line:1``, ``frequency`` or ``claim``."""
    out: dict[str, list[Any]] = {}
    for f in findings:
        hit = _LOC.match(f.location or "")
        if hit:
            key = ("dx:" if hit.group(1) == "diagnoses" else "line:") + hit.group(2)
        elif (f.location or "").startswith("frequency"):
            key = "frequency"
        else:
            key = "claim"
        out.setdefault(key, []).append(f)
    return out


def _claim_page(
    request: Request,
    web: Web,
    claim_id: int,
    *,
    scrub: claim_svc.ScrubView | None = None,
    message: str | None = None,
) -> Response:
    view = claim_svc.get_claim(web.db, actor=web.actor, claim_id=claim_id)
    history = claim_svc.claim_history(web.db, actor=web.actor, claim_id=claim_id)
    doc = view.document
    lines = list(doc.get("lines") or [])
    return render(
        web,
        request,
        "claim.html",
        title=f"Claim {claim_id}",
        claim=view,
        doc=doc,
        payer=(doc.get("coverage") or {}).get("payer") or {},
        diagnoses=list(doc.get("diagnoses") or []),
        lines=lines,
        history=history,
        scrub=scrub,
        placed=place_findings(scrub.findings) if scrub else {},
        message=message,
        editable=view.status in claim_svc.EDITABLE and web.can(P.CLAIM_WRITE),
    )


@router.get("/claims/{claim_id}", response_class=HTMLResponse, openapi_extra=policy(P.CLAIM_READ))
def claim_page(request: Request, web: WebDep, claim_id: int) -> Response:
    return _claim_page(request, web, claim_id)


@router.post("/claims/{claim_id}/scrub", response_class=HTMLResponse, openapi_extra=policy(P.CLAIM_WRITE))
def claim_scrub(request: Request, post: PostDep, claim_id: int) -> Response:
    web = post.web
    scrub = claim_svc.scrub_claim(web.db, actor=web.actor, claim_id=claim_id, refdata_path=web.settings.refdata_path)
    return _claim_page(request, web, claim_id, scrub=scrub, message="Scrubbed.")


def _money_text(value: str, what: str) -> str:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValidationFailed(f"{what}: not an amount", field=what) from None
    return str(amount.quantize(Decimal("0.01")))


@router.post("/claims/{claim_id}", response_class=HTMLResponse, openapi_extra=policy(P.CLAIM_WRITE))
def claim_save(request: Request, post: PostDep, claim_id: int) -> Response:
    """Save the edited fields into the claim's document; it is scrubbed again at once."""
    web = post.web
    view = claim_svc.get_claim(web.db, actor=web.actor, claim_id=claim_id)
    doc = copy.deepcopy(view.document)
    freq = post.get("frequency")
    if freq:
        doc["frequency"] = freq
    old_dx = list(doc.get("diagnoses") or [])
    new_dx = []
    for i, code in enumerate(c.replace(".", "").upper() for c in post.getlist("dx_code")):
        if not code:
            continue
        entry = dict(old_dx[i]) if i < len(old_dx) else {}
        entry["code"] = code
        entry.setdefault("role", "principal" if not new_dx else "other")
        new_dx.append(entry)
    if new_dx:
        new_dx[0]["role"] = "principal" if doc.get("kind") == "professional" else new_dx[0]["role"]
        for d in new_dx[1:]:
            if d.get("role") == "principal":
                d["role"] = "other"
    doc["diagnoses"] = new_dx
    old_lines = list(doc.get("lines") or [])
    new_lines = []
    rows = zip(
        post.getlist("ln_code"),
        post.getlist("ln_mod"),
        post.getlist("ln_units"),
        post.getlist("ln_charge"),
        post.getlist("ln_ptr"),
        strict=False,
    )
    for i, (code, mods, units, charge, ptr) in enumerate(rows):
        if not code:
            continue
        template = old_lines[i] if i < len(old_lines) else (old_lines[0] if old_lines else {})
        line = copy.deepcopy(template)
        if i >= len(old_lines):
            line.pop("ndc", None)
            line.pop("revenue_code", None)
        proc = dict(line.get("procedure") or {"system": "CPT"})
        proc["code"] = code.upper()
        line["procedure"] = proc
        modifiers = _split(mods)
        if modifiers:
            line["modifiers"] = modifiers
        else:
            line.pop("modifiers", None)
        line["units"] = units or "1"
        line["charge"] = _money_text(charge or "0", f"lines[{i}].charge")
        line["diagnosis_pointers"] = [int(p) for p in _split(ptr) if p.isdigit()]
        line["line_number"] = len(new_lines) + 1
        new_lines.append(line)
    doc["lines"] = new_lines
    version = _int(post.get("version"))
    _, scrub = claim_svc.update_claim(
        web.db,
        actor=web.actor,
        claim_id=claim_id,
        document=doc,
        expected_version=version,
        refdata_path=web.settings.refdata_path,
    )
    return _claim_page(request, web, claim_id, scrub=scrub, message="Saved and scrubbed.")


# =============================================================================================== submission
@router.get("/submission", response_class=HTMLResponse, openapi_extra=policy(P.CLAIM_SUBMIT))
def submission(request: Request, web: WebDep) -> Response:
    web.require(P.CLAIM_SUBMIT)
    ready = claim_svc.list_claims(web.db, actor=web.actor, status="ready", limit=200)
    partners = records.list_records(web.db, actor=web.actor, resource="trading_partner", limit=200).items
    payers = payer_names(web)
    batches = history.list_batches(web.db, actor=web.actor, limit=20)
    return render(
        web,
        request,
        "submission.html",
        title="Submission",
        ready=_claim_rows(web, list(ready.items), payers),
        ready_total=ready.total,
        partners=partners,
        partner_names={t.id: t.name for t in partners},
        batches=batches.items,
        batches_total=batches.total,
    )


@router.post("/batches", response_class=HTMLResponse, openapi_extra=policy(P.CLAIM_SUBMIT))
def create_batch(request: Request, post: PostDep) -> Response:
    web = post.web
    partner_id = _int(post.get("partner_id"))
    if partner_id is None:
        raise ValidationFailed("choose a trading partner", field="partner_id")
    ids = [i for i in (_int(v) for v in post.getlist("claim_id")) if i is not None]
    kind = post.get("kind") or "837P"
    batch = claim_svc.create_batch(web.db, actor=web.actor, partner_id=partner_id, claim_ids=ids or None, kind=kind)
    return render(web, request, "batch.html", title=f"Batch {batch.id}", batch=batch)


@router.get("/batches/{batch_id}/837", openapi_extra=policy(P.CLAIM_SUBMIT))
def download_837(web: WebDep, batch_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """The batch's 837 as stored in the database (audited as an export); never cached."""
    found = history.get_batch_file(web.db, actor=web.actor, batch_id=batch_id)
    name = f"{found.kind}-batch{found.id}.x12"
    return Response(
        found.content.encode("utf-8"),
        media_type="application/edi-x12",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


_SIMULATED = {"999": ("ack_999", "999"), "277ca": ("ack_277ca", "277"), "835": ("remit_835", "835")}


@router.get("/batches/{batch_id}/simulated/{kind}", openapi_extra=policy(P.CLAIM_SUBMIT))
def download_simulated(
    web: WebDep, batch_id: Annotated[int, Path(ge=1, le=2**62)], kind: Annotated[str, Path(pattern="^(999|277ca|835)$")]
) -> Response:
    """The payer simulator's answer to a test batch (trading partner in test mode): its 999, 277CA or 835.

    Deterministic, so the three downloads answer the same way; the user then uploads them on the
    acknowledgment and payment pages like a real payer's files.
    """
    answer = simulation.simulate_batch(web.db, actor=web.actor, batch_id=batch_id)
    attr, ext = _SIMULATED[kind]
    return Response(
        str(getattr(answer, attr)).encode("utf-8"),
        media_type="application/edi-x12",
        headers={"Content-Disposition": f'attachment; filename="batch{batch_id}-simulated.{ext}"'},
    )


@router.post("/acknowledgments", response_class=HTMLResponse, openapi_extra=policy(P.CLAIM_SUBMIT))
async def acknowledgment(request: Request, post: PostDep) -> Response:
    """Upload a 999 or 277CA: what was accepted, what was rejected and why."""
    from starlette.concurrency import run_in_threadpool

    web = post.web
    content = await read_upload(post.form.get("file"))
    ack = await run_in_threadpool(
        claim_svc.apply_acknowledgment, web.db, actor=web.actor, content=content, filename="upload"
    )
    return render(web, request, "ack.html", title=f"Acknowledgment {ack.kind}", ack=ack)

"""Payment use cases over the practice database: post an 835 exactly once, denials, A/R, claim ledgers,
patient statements, patient payments.

:func:`post_remittance` reads the 835 first (a file that cannot be read posts nothing: the error names the
segment and element, the attempt is audited as failed), then in ONE write transaction: takes the
practice's posting lock (:meth:`SqlLedger.lock`), stores the file as a :class:`Remittance` row (content
encrypted, one row per file: the same bytes again reuse it), finds the candidate claims by the keyed
blind indexes of CLP01 / CLP07 (and of PLB references), decrypts their documents in Python, plans each
transaction set (:func:`medbill.ledger.posting.plan_posting`, claims keyed by their patient control
number, ``Claim.id`` = the claim row id), appends the batches (:class:`SqlLedger`: exactly once by key,
suspected duplicates skipped), moves the claims the posted payments adjudicated (``claim.status`` and a
``claim_status_change`` row with cause ``835`` and ``TRN03/TRN02#position``, never CLP01), and files what a
person must look at as :class:`WorkItem` rows — queues ``unmatched_claim``, ``unmatched_line``,
``unmatched_plb`` (a take-back whose reference names none of our claims), ``duplicate`` and ``on_hold`` —
one item per remittance item however often the file is posted (``dedupe_key``), resolved when a later
posting of the same item succeeds. The audit record commits with the change. ``preview=True`` runs the
same steps inside a savepoint that is rolled back: the report is exact and nothing is kept (but the
audit record of the read).

The :class:`PostingReport` carries counts, totals and one line per CLP with the surrogate claim id; no
CLP01, no names, no member ids.

Permissions: REMIT_POST to post, REMIT_READ for denials and work items, LEDGER_READ for claim ledgers and
statements, PAYMENT_COLLECT for patient payments, REPORT_READ for A/R aging.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, load_only

from medbill.core.claim import Claim, claim_from_dict
from medbill.core.errors import MedbillError, NotFound, ValidationFailed, X12ParseError
from medbill.core.remit import ClaimStatusCode, Remittance
from medbill.ledger.actions import patient_payment
from medbill.ledger.balances import Totals, claim_balances, ledger_problems
from medbill.ledger.denials import FeeSource, denial_worklist
from medbill.ledger.denials import WorkItem as DenialItem
from medbill.ledger.entries import AppendResult, Entry, LedgerError, PostingKey, SkipReason
from medbill.ledger.posting import (
    Disposition,
    PlannedPayment,
    PostingPlan,
    UnmatchedKind,
    payment_fingerprint,
    plan_posting,
)
from medbill.ledger.reports import AgingReport, AgingView, Statement, service_dates
from medbill.ledger.reports import ar_aging as aging_report
from medbill.ledger.reports import patient_statement as statement_report
from medbill.ledger.status import Cause, CauseKind, ClaimStatus, StatusChange, changes_from_posting
from medbill.services import audit
from medbill.services.audit import AuditAction
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.unit import operation, require
from medbill.store import models as m
from medbill.store.db import Database
from medbill.store.ledger_sql import SqlLedger
from medbill.x12.read835 import read_835

__all__ = [
    "ClaimLedger",
    "LedgerLine",
    "PaymentResult",
    "PostingCounts",
    "PostingReport",
    "ReportLine",
    "TransactionSummary",
    "WorkItemView",
    "ar_aging",
    "claim_ledger",
    "denials",
    "patient_statement",
    "post_remittance",
    "record_patient_payment",
    "to_jsonable",
    "work_items",
]

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")
_CHUNK = 500
QUEUES = ("unmatched_claim", "unmatched_line", "unmatched_plb", "duplicate", "on_hold", "rejections", "unmatched_ack")
_RESOLVABLE = ("unmatched_claim", "duplicate", "on_hold")  # a later posting of the same CLP settles these


# ---------------------------------------------------------------------------------------------------
# Report records


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportLine:
    """One CLP of the file: what posting did with it (surrogate claim id only, no CLP01)."""

    transaction: str  # ST02
    trace: str  # TRN02
    position: int  # the CLP's position in its transaction
    status: str  # CLP02
    disposition: str  # post, already_posted, suspected_duplicate, unmatched, on_hold, informational
    claim_id: int | None
    matched_by: str | None
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    outcome: str | None  # paid / partially_paid / denied (a reversal: None)
    reason: str | None
    queue: str | None  # the work queue it went to


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionSummary:
    transaction: str  # ST02
    payer_trace_id: str  # TRN03
    trace: str  # TRN02
    payment: Decimal  # BPR02 (negative for a debit)
    payment_date: dt.date | None
    claims: int
    provider_adjustments: int
    problems: tuple[str, ...]  # balancing problems (locations and amounts, no PHI)


@dataclass(frozen=True, slots=True)
class PostingCounts:
    posted: int = 0
    already_posted: int = 0
    duplicates: int = 0
    unmatched: int = 0
    on_hold: int = 0
    informational: int = 0
    plb_posted: int = 0
    plb_already_posted: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PostingReport:
    remittance_id: int | None  # None for a preview
    preview: bool
    already_received: bool  # the same bytes were stored before (a renamed file or a second upload)
    filename: str | None
    transactions: tuple[TransactionSummary, ...]
    counts: PostingCounts
    paid_posted: Decimal  # Σ CLP04 of the claim payments posted now
    provider_posted: Decimal  # Σ PLB04 posted now
    payment_total: Decimal  # Σ BPR02
    lines: tuple[ReportLine, ...]
    work_items: int  # new work items
    status_changes: int
    problems: tuple[str, ...]  # status transitions refused, notes of the plan (codes and amounts)

    @property
    def changed(self) -> bool:
        return self.counts.posted > 0 or self.counts.plb_posted > 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable(self)
        return out


def to_jsonable(value: Any) -> Any:
    """Records as JSON values: Decimal as text, dates ISO, enums by value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


# ---------------------------------------------------------------------------------------------------
# Posting


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise X12ParseError(
            f"the file is not UTF-8 text (byte {exc.start} is 0x{content[exc.start]:02x}); X12 files are ASCII/UTF-8"
        ) from None


def _read(content: bytes) -> tuple[str, list[Remittance]]:
    text = _decode(content)
    remits = read_835(text)
    if not remits:
        raise X12ParseError("the file holds no 835 transaction set (ST*835)")
    return text, remits


def _reference_tokens(reference: str | None) -> list[str]:
    if not reference:
        return []
    return [reference.strip(), *reference.replace(":", " ").split()]


@dataclass(slots=True)
class _ClaimRow:
    id: int
    patient_id: int
    status: str
    pcn: str
    payer_claim_number: str | None
    claim: Claim


def _claim_rows(session: Session, practice_id: int, conds: Sequence[Any]) -> list[_ClaimRow]:
    C = m.ClaimRecord
    out: list[_ClaimRow] = []
    for r in session.execute(
        select(C.id, C.patient_id, C.status, C.patient_control_number, C.payer_claim_number, C.document).where(
            C.practice_id == practice_id, *conds
        )
    ):
        claim = dataclasses.replace(claim_from_dict(r.document), id=str(r.id))
        out.append(_ClaimRow(r.id, r.patient_id, r.status, r.patient_control_number, r.payer_claim_number, claim))
    return out


_UNSENT = frozenset({"draft", "ready"})


def _prefer(a: _ClaimRow, b: _ClaimRow) -> _ClaimRow:
    """Of two claims with one patient control number: the one sent to the payer, then the newest."""
    return max(a, b, key=lambda r: (r.status not in _UNSENT, r.id))


def _candidates(
    session: Session, ledger: SqlLedger, remits: Sequence[Remittance]
) -> tuple[dict[str, Claim], dict[str, str], dict[str, _ClaimRow]]:
    """Claims the file may name, by CLP01; CLP07 → CLP01; claim row by its id (str).

    Items the ledger already holds need no claim (a replay decrypts no claim document).
    """
    cipher, practice_id = ledger.cipher, ledger.practice_id
    pcns: set[str] = set()
    icns: set[str] = set()
    for r in remits:
        clp_keys, plb_keys = _prefetch(ledger, r)
        for c, key in zip(r.claims, clp_keys, strict=True):
            if ledger.posted_fingerprint(key) is not None:
                continue
            pcns.add(c.patient_control_number.strip())
            if c.payer_claim_number:
                icns.add(c.payer_claim_number.strip())
        for p, key in zip(r.provider_adjustments, plb_keys, strict=True):
            if ledger.posted_fingerprint(key) is not None:
                continue
            tokens = _reference_tokens(p.reference)
            pcns.update(tokens)
            icns.update(tokens)
    pcn_idx = sorted({cipher.blind_index(v, purpose="claim.patient_control_number") for v in pcns if v})
    icn_idx = sorted({cipher.blind_index(v, purpose="claim.payer_claim_number") for v in icns if v})
    rows: dict[int, _ClaimRow] = {}
    C = m.ClaimRecord
    for idx, col in ((pcn_idx, C.pcn_bidx), (icn_idx, C.payer_claim_bidx)):
        for start in range(0, len(idx), _CHUNK):
            for row in _claim_rows(session, practice_id, [col.in_(idx[start : start + _CHUNK])]):
                rows.setdefault(row.id, row)
    by_pcn: dict[str, _ClaimRow] = {}
    for row in rows.values():
        number = row.pcn.strip()
        if number not in pcns and (row.payer_claim_number or "").strip() not in icns:
            continue  # a blind-index collision of case or spacing: not the same number
        by_pcn[number] = _prefer(by_pcn[number], row) if number in by_pcn else row
    claims = {pcn: r.claim for pcn, r in by_pcn.items()}
    numbers = {
        r.payer_claim_number.strip(): pcn
        for pcn, r in by_pcn.items()
        if r.payer_claim_number and r.payer_claim_number.strip()
    }
    for r in remits:  # a PLB may name a claim by the CLP07 this very file gives it
        for c in r.claims:
            pcn = c.patient_control_number.strip()
            if pcn in claims and c.payer_claim_number and c.status is not ClaimStatusCode.REVERSAL:
                numbers.setdefault(c.payer_claim_number.strip(), pcn)
    return claims, numbers, {str(r.id): r for r in by_pcn.values()}


def _prefetch(ledger: SqlLedger, remit: Remittance) -> tuple[list[PostingKey], list[PostingKey]]:
    """Ask the ledger in a few queries what planning this transaction will ask claim by claim."""
    keys = []
    fps: list[str] = []
    for i, clp in enumerate(remit.claims):
        keys.append(
            PostingKey.remittance(
                payer_trace_id=remit.payer_trace_id,
                trace=remit.trace_number,
                patient_control_number=clp.patient_control_number,
                payer_claim_number=clp.payer_claim_number,
                status=clp.status.value,
                position=i,
            )
        )
        fps.append(payment_fingerprint(remit.payer_trace_id, clp))
        if clp.status is ClaimStatusCode.REVERSAL:
            fps += [
                payment_fingerprint(remit.payer_trace_id, clp, status=s, negate=True)
                for s in ("1", "2", "3", "4", "19", "20", "21")
            ]
    plb = [
        PostingKey.provider_adjustment(payer_trace_id=remit.payer_trace_id, trace=remit.trace_number, position=k)
        for k in range(len(remit.provider_adjustments))
    ]
    ledger.prefetch([*keys, *plb], fps)
    return keys, plb


def _with_claim_ids(plan: PostingPlan, claims: Mapping[str, Claim]) -> PostingPlan:
    """PLB references resolve to keys of ``claims`` (CLP01): name the claim row id instead."""
    provider = []
    for p in plan.provider:
        if p.related_claim_id is None:
            provider.append(p)
            continue
        found = claims.get(p.related_claim_id)
        cid = found.id if found is not None else None
        batch = p.batch
        if batch is not None:
            batch = dataclasses.replace(
                batch, entries=tuple(dataclasses.replace(e, related_claim_id=cid) for e in batch.entries)
            )
        provider.append(dataclasses.replace(p, related_claim_id=cid, batch=batch))
    return dataclasses.replace(plan, provider=tuple(provider))


def _as_appended(plan: PostingPlan, result: AppendResult) -> PostingPlan:
    """The plan as the store decided it: a POST the store skipped becomes what the store said."""
    skipped = {s.key: s.reason for s in result.skipped}
    to_disposition = {
        SkipReason.ALREADY_POSTED: Disposition.ALREADY_POSTED,
        SkipReason.SUSPECTED_DUPLICATE: Disposition.SUSPECTED_DUPLICATE,
    }
    payments = tuple(
        dataclasses.replace(p, disposition=to_disposition[skipped[p.key]])
        if p.disposition is Disposition.POST and p.key in skipped
        else p
        for p in plan.payments
    )
    provider = tuple(
        dataclasses.replace(p, disposition=to_disposition[skipped[p.key]])
        if p.disposition is Disposition.POST and p.key in skipped
        else p
        for p in plan.provider
    )
    return dataclasses.replace(plan, payments=payments, provider=provider)


def _dedupe(
    queue: str, remit: Remittance, claim: int | None = None, svc: int | None = None, plb: int | None = None
) -> str:
    text = f"{queue}|{remit.payer_trace_id}|{remit.trace_number}|{claim}|{svc}|{plb}"
    return hashlib.sha256(text.encode()).hexdigest()


def _current(rows: Mapping[str, _ClaimRow]) -> dict[str, tuple[StatusChange, ...]]:
    """A one-change history per claim holding its current status (all the state machine needs)."""
    today = dt.date.today()
    out: dict[str, tuple[StatusChange, ...]] = {}
    for cid, row in rows.items():
        try:
            status = ClaimStatus(row.status)
        except ValueError:
            continue
        cause = Cause(kind=CauseKind.USER, reference="current")
        out[cid] = (StatusChange(claim_id=cid, from_status=status, to_status=status, at=today, cause=cause),)
    return out


class _Posting:
    """The steps of one post_remittance inside its transaction."""

    def __init__(self, session: Session, db: Database, actor: Actor, practice_id: int) -> None:
        self.session = session
        self.cipher = db.cipher
        self.actor = actor
        self.practice_id = practice_id
        self.ledger = SqlLedger(session, practice_id=practice_id, cipher=db.cipher, posted_by=actor.user_id)
        self.lines: list[ReportLine] = []
        self.summaries: list[TransactionSummary] = []
        self.problems: list[str] = []
        self.counts: Counter[str] = Counter()
        self.paid_posted = ZERO
        self.provider_posted = ZERO
        self.items: list[dict[str, Any]] = []
        self.settled: list[str] = []
        self.changes: list[StatusChange] = []
        self.touched: set[int] = set()

    def remittance_row(self, content: str, sha: str, remits: Sequence[Remittance]) -> tuple[m.Remittance, bool]:
        R = m.Remittance
        row = self.session.scalars(select(R).where(R.practice_id == self.practice_id, R.sha256 == sha)).first()
        if row is not None:
            return row, True
        first = remits[0]
        total = sum((r.payment_amount * (-1 if r.credit_debit == "D" else 1) for r in remits), ZERO)
        row = R(
            practice_id=self.practice_id,
            sha256=sha,
            payer_trace_id=first.payer_trace_id[:80],
            trace=first.trace_number[:80],
            payment_amount=total,
            payment_method=first.payment_method,
            payment_date=first.payment_date,
            interchange_control=first.interchange_control_number,
            claim_count=sum(len(r.claims) for r in remits),
            content=content,
            status="received",
            received_by=self.actor.user_id,
        )
        self.session.add(row)
        self.session.flush()
        return row, False

    def post(
        self, remit: Remittance, claims: Mapping[str, Claim], numbers: Mapping[str, str], rows: Mapping[str, _ClaimRow]
    ) -> None:
        _prefetch(self.ledger, remit)
        plan = _with_claim_ids(plan_posting(remit, claims, self.ledger, payer_claim_numbers=numbers), claims)
        result = self.ledger.append(plan.batches)
        plan = _as_appended(plan, result)
        sign = Decimal(-1) if remit.credit_debit == "D" else Decimal(1)
        self.summaries.append(
            TransactionSummary(
                transaction=remit.control_number,
                payer_trace_id=remit.payer_trace_id,
                trace=remit.trace_number,
                payment=remit.payment_amount * sign,
                payment_date=remit.payment_date,
                claims=len(remit.claims),
                provider_adjustments=len(remit.provider_adjustments),
                problems=tuple(f"{p.location}: {p.message}" for p in plan.problems),
            )
        )
        self.problems += [f"ST02 {remit.control_number}: {n}" for n in plan.notes]
        posted_positions: set[int] = set()
        for p in plan.payments:
            clp = remit.claims[p.position]
            queue = self._payment_items(remit, p)
            if p.disposition is Disposition.POST:
                posted_positions.add(p.position)
                self.paid_posted += clp.paid
                self.settled += [_dedupe(q, remit, p.position) for q in _RESOLVABLE]
                if p.claim_id is not None:
                    self.touched.add(int(p.claim_id))
            self.counts[p.disposition.value] += 1
            self.lines.append(
                ReportLine(
                    transaction=remit.control_number,
                    trace=remit.trace_number,
                    position=p.position,
                    status=p.status.value,
                    disposition=p.disposition.value,
                    claim_id=int(p.claim_id) if p.claim_id is not None else None,
                    matched_by=p.matched_by.value if p.matched_by is not None else None,
                    charge=clp.charge,
                    paid=clp.paid,
                    patient_responsibility=clp.patient_responsibility,
                    outcome=p.outcome.value if p.outcome is not None else None,
                    reason=p.reason,
                    queue=queue,
                )
            )
        posted_plb: set[int] = set()
        for q in plan.provider:
            if q.disposition is Disposition.POST:
                posted_plb.add(q.position)
                self.provider_posted += q.amount
                self.counts["plb_posted"] += 1
            elif q.disposition is Disposition.ALREADY_POSTED:
                self.counts["plb_already_posted"] += 1
        for u in plan.unmatched:
            if u.kind is UnmatchedKind.SERVICE and u.claim_position in posted_positions:
                payment = plan.payments[u.claim_position]
                self._item("unmatched_line", remit, payment.claim_id, u.reason, u.amount,
                           claim=u.claim_position, svc=u.service_position)  # fmt: skip
            elif u.kind is UnmatchedKind.PLB_REFERENCE and u.plb_position in posted_plb:
                self._item("unmatched_plb", remit, None, u.reason, u.amount, plb=u.plb_position)
        update_ = changes_from_posting(plan, _current(rows), at=plan.effective)
        self.changes += update_.changes
        self.problems += [p.message for p in update_.problems]
        for change in update_.changes:  # the next transaction of the file sees the claim as it is now
            rows[change.claim_id].status = change.to_status.value

    def _payment_items(self, remit: Remittance, p: PlannedPayment) -> str | None:
        clp = remit.claims[p.position]
        queue = {
            Disposition.UNMATCHED: "unmatched_claim",
            Disposition.SUSPECTED_DUPLICATE: "duplicate",
            Disposition.ON_HOLD: "on_hold",
        }.get(p.disposition)
        if queue is None:
            return None
        earlier = [k.digest for k in p.earlier]
        self._item(queue, remit, p.claim_id, p.reason or queue, clp.paid, claim=p.position, earlier=earlier)
        return queue

    def _item(
        self,
        queue: str,
        remit: Remittance,
        claim_id: str | None,
        reason: str,
        amount: Decimal,
        *,
        claim: int | None = None,
        svc: int | None = None,
        plb: int | None = None,
        earlier: Sequence[str] = (),
    ) -> None:
        where = f"CLP {claim}" if plb is None else f"PLB {plb}"
        if svc is not None:
            where += f" SVC {svc}"
        clp = remit.claims[claim] if claim is not None else None
        detail: dict[str, Any] = {
            "transaction": remit.control_number,
            "payer_trace_id": remit.payer_trace_id,
            "trace": remit.trace_number,
            "claim_position": claim,
            "service_position": svc,
            "plb_position": plb,
            "amount": str(amount),
            "reason": reason,
        }
        if clp is not None:  # PHI: only in the encrypted detail
            detail["patient_control_number"] = clp.patient_control_number
            detail["payer_claim_number"] = clp.payer_claim_number
            detail["claim_status"] = clp.status.value
        if plb is not None:
            detail["reference"] = remit.provider_adjustments[plb].reference
            detail["plb_reason"] = remit.provider_adjustments[plb].reason
        if earlier:
            detail["earlier"] = list(earlier)
        self.items.append(
            {
                "practice_id": self.practice_id,
                "queue": queue,
                "claim_id": int(claim_id) if claim_id is not None else None,
                "summary": f"835 {remit.trace_number} {where} ({amount}): {reason}"[:200],
                "detail": detail,
                "dedupe_key": _dedupe(queue, remit, claim, svc, plb),
            }
        )

    def write_items(self, remittance_id: int | None) -> int:
        W = m.WorkItem
        keys = [i["dedupe_key"] for i in self.items]
        existing: set[str] = set()
        for start in range(0, len(keys), _CHUNK):
            existing.update(
                self.session.scalars(
                    select(W.dedupe_key).where(
                        W.practice_id == self.practice_id, W.dedupe_key.in_(keys[start : start + _CHUNK])
                    )
                )
            )
        fresh: dict[str, dict[str, Any]] = {}
        for item in self.items:
            if item["dedupe_key"] not in existing:
                fresh.setdefault(item["dedupe_key"], {**item, "remittance_id": remittance_id})
        for item in fresh.values():
            self.session.add(W(**item))
        if self.settled:
            open_keys = set(
                self.session.scalars(
                    select(W.dedupe_key).where(
                        W.practice_id == self.practice_id, W.resolved_at.is_(None), W.queue.in_(_RESOLVABLE)
                    )
                )
            )
            done = [k for k in self.settled if k in open_keys]
            for start in range(0, len(done), _CHUNK):
                self.session.execute(
                    update(W)
                    .where(W.practice_id == self.practice_id, W.dedupe_key.in_(done[start : start + _CHUNK]))
                    .values(resolved_at=m.utcnow(), resolved_by=self.actor.user_id)
                )
        return len(fresh)

    def write_status(self, rows: Mapping[str, _ClaimRow]) -> int:
        """Claim status and CLP07 (one executemany each), and one history row per change."""
        if not self.changes:
            return 0
        table = cast(Table, m.ClaimRecord.__table__)
        now = m.utcnow()
        final: dict[int, dict[str, Any]] = {}
        history: list[dict[str, Any]] = []
        for change in self.changes:
            cid = int(change.claim_id)
            item = final.setdefault(cid, {"b_id": cid, "b_now": now})
            item["b_status"] = change.to_status.value
            number = change.payer_claim_number
            if number and not rows[change.claim_id].payer_claim_number and "b_number" not in item:
                item["b_number"] = number
                item["b_bidx"] = self.cipher.blind_index(number, purpose="claim.payer_claim_number")
            history.append(
                {
                    "claim_id": cid,
                    "from_status": change.from_status.value,
                    "to_status": change.to_status.value,
                    "cause_kind": change.cause.kind.value,
                    "cause_ref": change.cause.reference[:80],
                    "detail": change.cause.detail,
                    "user_id": self.actor.user_id,
                    "at": now,
                }
            )
        where = (table.c.id == bindparam("b_id"), table.c.practice_id == self.practice_id)
        values: dict[str, Any] = {
            "status": bindparam("b_status"),
            "updated_at": bindparam("b_now", type_=table.c.updated_at.type),
            "version": table.c.version + 1,  # other writers holding an older version see a stale row
        }
        numbered = [v for v in final.values() if "b_number" in v]
        plain = [v for v in final.values() if "b_number" not in v]
        if plain:
            self.session.execute(update(table).where(*where).values(**values), plain)
        if numbered:
            values["payer_claim_number"] = bindparam("b_number", type_=table.c.payer_claim_number.type)
            values["payer_claim_bidx"] = bindparam("b_bidx")
            self.session.execute(update(table).where(*where).values(**values), numbered)
        for start in range(0, len(history), 1000):
            self.session.execute(insert(cast(Table, m.ClaimStatusChange.__table__)), history[start : start + 1000])
        return len(history)


def post_remittance(
    db: Database,
    *,
    actor: Actor,
    content: bytes,
    filename: str | None = None,
    preview: bool = False,
) -> PostingReport:
    """Post an 835 file exactly once (see the module docstring); ``preview`` keeps nothing."""
    action = AuditAction.READ if preview else AuditAction.POST
    require(db, actor, Permission.REMIT_POST, action=action, resource="remittance")
    try:
        text, remits = _read(content)
    except MedbillError as exc:
        audit.record_separately(db, actor, action=action, resource="remittance", outcome="failed", detail=exc.code)
        raise
    sha = hashlib.sha256(content).hexdigest()
    with operation(db, actor, Permission.REMIT_POST, action=action, resource="remittance") as op:
        session = op.session
        work = _Posting(session, db, actor, op.practice_id)
        work.ledger.lock()  # before anything the plan is made from
        savepoint = session.begin_nested() if preview else None
        row, already = work.remittance_row(text, sha, remits)
        remittance_id = row.id
        work.ledger.remittance_id = remittance_id
        claims, numbers, rows = _candidates(session, work.ledger, remits)
        try:
            for remit in remits:
                work.post(remit, claims, numbers, rows)
            created = work.write_items(remittance_id)
            changed = work.write_status(rows)
        except LedgerError as exc:
            raise ValidationFailed(exc.message) from exc
        if savepoint is not None:
            savepoint.rollback()
            work.ledger.forget()
        else:
            row.posted_at = m.utcnow()
            open_items = session.scalar(
                select(m.WorkItem.id).where(
                    m.WorkItem.practice_id == op.practice_id,
                    m.WorkItem.remittance_id == remittance_id,
                    m.WorkItem.resolved_at.is_(None),
                )
            )
            row.status = "review" if open_items is not None else "posted"
            op.ids.append(remittance_id)
            op.ids.extend(f"claim:{cid}" for cid in sorted(work.touched))
        c = work.counts
        counts = PostingCounts(
            posted=c[Disposition.POST.value],
            already_posted=c[Disposition.ALREADY_POSTED.value],
            duplicates=c[Disposition.SUSPECTED_DUPLICATE.value],
            unmatched=c[Disposition.UNMATCHED.value],
            on_hold=c[Disposition.ON_HOLD.value],
            informational=c[Disposition.INFORMATIONAL.value],
            plb_posted=c["plb_posted"],
            plb_already_posted=c["plb_already_posted"],
        )
        op.detail = (
            f"{'preview ' if preview else ''}{len(remits)} transaction(s): posted {counts.posted}, "
            f"already {counts.already_posted}, duplicates {counts.duplicates}, unmatched {counts.unmatched}, "
            f"on hold {counts.on_hold}, PLB {counts.plb_posted}"
        )
        log.info("remittance %s: %s", remittance_id, op.detail)
        return PostingReport(
            remittance_id=None if preview else remittance_id,
            preview=preview,
            already_received=already,
            filename=filename,
            transactions=tuple(work.summaries),
            counts=counts,
            paid_posted=work.paid_posted,
            provider_posted=work.provider_posted,
            payment_total=sum((s.payment for s in work.summaries), ZERO),
            lines=tuple(work.lines),
            work_items=created,
            status_changes=changed,
            problems=tuple(work.problems),
        )


# ---------------------------------------------------------------------------------------------------
# Reading the ledger


def _claims_by_id(session: Session, practice_id: int, ids: Collection[int]) -> dict[str, _ClaimRow]:
    out: dict[str, _ClaimRow] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), _CHUNK):
        for row in _claim_rows(session, practice_id, [m.ClaimRecord.id.in_(wanted[start : start + _CHUNK])]):
            out[str(row.id)] = row
    return out


def _describer(refdata: Path | None) -> tuple[Callable[[str, str], str | None], Callable[[], None]]:
    """``describe(system, code)`` from the reference store (None when there is no store)."""
    if refdata is None or not refdata.is_file():
        return (lambda _system, _code: None), (lambda: None)
    from medbill.codesets.refstore import RefStore
    from medbill.core.codes import CodeSystem

    store = RefStore.open(refdata)
    cache: dict[tuple[str, str], str | None] = {}

    def describe(system: str, code: str) -> str | None:
        if (system, code) not in cache:
            try:
                cache[(system, code)] = store.get(code, system=CodeSystem(system)).description
            except MedbillError:
                cache[(system, code)] = None
        return cache[(system, code)]

    return describe, store.close


def denials(
    db: Database,
    *,
    actor: Actor,
    refdata: Path | None = None,
    fee_source: FeeSource | None = None,
    include_closed: bool = False,
) -> list[DenialItem]:
    """The denial and underpayment worklist (``ledger.denials``) over the stored entries and claims.

    CARC/RARC texts come from the reference store at ``refdata`` (none without it); underpayments need a
    ``fee_source``. Claim ids in the items are the claim row ids (as text).
    """
    describe, close = _describer(refdata)
    try:
        with operation(db, actor, Permission.REMIT_READ, action=AuditAction.READ, resource="denials") as op:
            entries = SqlLedger(op.session, practice_id=op.practice_id, cipher=db.cipher).entries()
            ids = {int(e.claim_id) for e in entries if e.claim_id is not None}
            rows = _claims_by_id(op.session, op.practice_id, ids)
            closed = () if include_closed else [cid for cid, r in rows.items() if r.status == "closed"]
            items = denial_worklist(
                entries,
                describe=describe,
                claims={cid: r.claim for cid, r in rows.items()},
                fee_source=fee_source,
                closed=closed,
            )
            op.ids.extend(sorted({int(i.claim_id) for i in items}))
            op.detail = f"{len(items)} items"
            return items
    finally:
        close()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItemView:
    id: int
    queue: str
    remittance_id: int | None
    claim_id: int | None
    summary: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None


def work_items(
    db: Database, *, actor: Actor, queue: str | None = None, open_only: bool = True, limit: int = 200
) -> list[WorkItemView]:
    """The posting work queues (no detail: it holds CLP01; summaries carry codes, amounts and positions)."""
    if queue is not None and queue not in QUEUES:
        raise ValidationFailed(f"no work queue {queue!r} (queues: {', '.join(QUEUES)})", field="queue")
    with operation(db, actor, Permission.REMIT_READ, action=AuditAction.READ, resource="work_item") as op:
        W = m.WorkItem
        q = select(W).where(W.practice_id == op.practice_id, W.queue.in_([queue] if queue else QUEUES))
        if open_only:
            q = q.where(W.resolved_at.is_(None))
        out = [
            WorkItemView(
                id=w.id,
                queue=w.queue,
                remittance_id=w.remittance_id,
                claim_id=w.claim_id,
                summary=w.summary,
                created_at=w.created_at,
                resolved_at=w.resolved_at,
            )
            for w in op.session.scalars(q.options(load_only(W.id, W.queue, W.remittance_id, W.claim_id, W.summary,
                                                            W.created_at, W.resolved_at)).order_by(W.id).limit(limit))
        ]  # fmt: skip
        op.ids.extend(w.id for w in out)
        return out


def _histories(session: Session, practice_id: int) -> dict[str, list[StatusChange]]:
    C, H = m.ClaimRecord, m.ClaimStatusChange
    out: dict[str, list[StatusChange]] = {}
    for r in session.execute(
        select(H.claim_id, H.from_status, H.to_status, H.cause_kind, H.cause_ref, H.at)
        .join(C, C.id == H.claim_id)
        .where(C.practice_id == practice_id)
        .order_by(H.id)
    ):
        try:
            to = ClaimStatus(r.to_status)
        except ValueError:
            continue
        try:
            kind = CauseKind(r.cause_kind)
        except ValueError:
            kind = CauseKind.USER
        try:
            before = ClaimStatus(r.from_status) if r.from_status else ClaimStatus.DRAFT
        except ValueError:
            before = ClaimStatus.DRAFT
        cid = str(r.claim_id)
        out.setdefault(cid, []).append(
            StatusChange(
                claim_id=cid, from_status=before, to_status=to, at=r.at.date(),
                cause=Cause(kind=kind, reference=r.cause_ref or ""),
            )
        )  # fmt: skip
    # a claim sent without a recorded "submitted" change still ages from its submission time
    for row_id, submitted in session.execute(
        select(C.id, C.submitted_at).where(C.practice_id == practice_id, C.submitted_at.is_not(None))
    ):
        history = out.setdefault(str(row_id), [])
        if submitted is not None and not any(c.to_status is ClaimStatus.SUBMITTED for c in history):
            history.insert(
                0,
                StatusChange(
                    claim_id=str(row_id), from_status=ClaimStatus.READY, to_status=ClaimStatus.SUBMITTED,
                    at=submitted.date(), cause=Cause(kind=CauseKind.USER, reference="submitted_at"),
                ),
            )  # fmt: skip
    return out


def ar_aging(
    db: Database, *, actor: Actor, as_of: dt.date | None = None, view: AgingView | str = AgingView.BILLING
) -> AgingReport:
    """A/R aging (``ledger.reports.ar_aging``): payer A/R by payer, patient A/R by ``patient:<id>``.

    Billing view: payer balances age from the first submission (status history, else ``submitted_at``);
    patient balances are unbilled until statements are recorded. Service view: both from the date of
    service, decrypted from the claim documents in Python (PHI is never sorted or compared in SQL).
    """
    when = as_of or dt.date.today()
    try:
        basis = AgingView(view)
    except ValueError:
        raise ValidationFailed(f"no aging view {view!r} (billing or service)", field="view") from None
    with operation(db, actor, Permission.REPORT_READ, action=AuditAction.READ, resource="ar_aging") as op:
        entries = SqlLedger(op.session, practice_id=op.practice_id, cipher=db.cipher).entries()
        C = m.ClaimRecord
        patient_of = {
            str(cid): f"patient:{pid}"
            for cid, pid in op.session.execute(select(C.id, C.patient_id).where(C.practice_id == op.practice_id))
        }
        dos: dict[str, dt.date] | None = None
        if basis is AgingView.SERVICE:
            ids = {int(e.claim_id) for e in entries if e.claim_id is not None}
            dos = service_dates(r.claim for r in _claims_by_id(op.session, op.practice_id, ids).values())
        report = aging_report(
            entries,
            _histories(op.session, op.practice_id),
            as_of=when,
            view=basis,
            dates_of_service=dos,
            patient_of=patient_of,
        )
        op.detail = f"as of {when.isoformat()}, {basis.value} view"
        return report


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerLine:
    """One entry of a claim's ledger (no posting key text: it holds CLP01)."""

    entry_id: str
    line_number: int | None
    kind: str
    of_kind: str | None
    party: str
    amount: Decimal
    effective: dt.date
    group: str | None
    carc: str | None
    rarcs: tuple[str, ...]
    source: str  # claim, remittance, user
    trace: str | None  # TRN02 of a remittance entry
    batch: str  # the posting key's digest


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimLedger:
    claim_id: int
    status: str
    lines: tuple[LedgerLine, ...]
    totals: Totals
    problems: tuple[str, ...] = field(default_factory=tuple)  # broken invariants (should be none)

    @property
    def balanced(self) -> bool:
        """charges = payments + adjustments + open balance."""
        t = self.totals
        return t.charges == t.payments + t.adjustments + t.open


def _line(e: Entry) -> LedgerLine:
    return LedgerLine(
        entry_id=e.id,
        line_number=e.line_number,
        kind=e.kind.value,
        of_kind=e.of_kind.value if e.of_kind else None,
        party=e.party,
        amount=e.amount,
        effective=e.effective,
        group=e.group,
        carc=e.carc,
        rarcs=e.rarcs,
        source=e.source.kind.value,
        trace=e.source.trace,
        batch=e.key.digest,
    )


def _own_claim(session: Session, practice_id: int, claim_id: int) -> m.ClaimRecord:
    row = session.get(m.ClaimRecord, claim_id)
    if row is None or row.practice_id != practice_id:
        raise NotFound(f"claim {claim_id} not found")
    return row


def claim_ledger(db: Database, *, actor: Actor, claim_id: int) -> ClaimLedger:
    """Every entry of one claim, its totals and the invariant check."""
    with operation(db, actor, Permission.LEDGER_READ, action=AuditAction.READ, resource="claim_ledger") as op:
        row = _own_claim(op.session, op.practice_id, claim_id)
        entries = SqlLedger(op.session, practice_id=op.practice_id, cipher=db.cipher).entries(claim_ids=[str(claim_id)])
        totals = claim_balances(entries).get(str(claim_id), Totals())
        problems = tuple(f"{p.code} {p.location}: {p.message}" for p in ledger_problems(entries))
        op.ids.append(claim_id)
        return ClaimLedger(
            claim_id=claim_id, status=row.status, lines=tuple(_line(e) for e in entries), totals=totals,
            problems=problems,
        )  # fmt: skip


def patient_statement(db: Database, *, actor: Actor, patient_id: int, as_of: dt.date | None = None) -> Statement:
    """What a patient owes, by visit (claim ids are the claim row ids as text)."""
    when = as_of or dt.date.today()
    with operation(db, actor, Permission.LEDGER_READ, action=AuditAction.READ, resource="statement") as op:
        patient = op.session.get(m.Patient, patient_id)
        if patient is None or patient.practice_id != op.practice_id:
            raise NotFound(f"patient {patient_id} not found")
        C = m.ClaimRecord
        rows = _claim_rows(op.session, op.practice_id, [C.patient_id == patient_id])
        ids = [str(r.id) for r in rows]
        entries = SqlLedger(op.session, practice_id=op.practice_id, cipher=db.cipher).entries(claim_ids=ids)
        report = statement_report(entries, ids, as_of=when, dates_of_service=service_dates(r.claim for r in rows))
        op.ids.append(patient_id)
        return report


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentResult:
    claim_id: int
    posted: bool  # False: this action id was posted before (nothing changed)
    entry_ids: tuple[str, ...]
    patient_balance: Decimal  # after the payment


def record_patient_payment(
    db: Database,
    *,
    actor: Actor,
    claim_id: int,
    amount: Decimal,
    action_id: str,
    on: dt.date | None = None,
    reference: str | None = None,
) -> PaymentResult:
    """A payment by the patient on a claim, exactly once per ``action_id`` (a double click posts once)."""
    if not action_id or len(action_id) > 120:
        raise ValidationFailed("an action id (1-120 characters) is required", field="action_id")
    with operation(db, actor, Permission.PAYMENT_COLLECT, action=AuditAction.CREATE, resource="payment") as op:
        _own_claim(op.session, op.practice_id, claim_id)
        try:
            batch = patient_payment(
                action_id=action_id,
                user=str(actor.user_id) if actor.user_id is not None else (actor.source or "local"),
                claim_id=str(claim_id),
                amount=amount,
                on=on or dt.date.today(),
                reference=reference,
            )
        except LedgerError as exc:
            raise ValidationFailed(exc.message, field="amount") from exc
        ledger = SqlLedger(op.session, practice_id=op.practice_id, cipher=db.cipher, posted_by=actor.user_id)
        result = ledger.append([batch])
        entries = ledger.entries(claim_ids=[str(claim_id)])
        balance = claim_balances(entries).get(str(claim_id), Totals()).patient
        op.ids.append(claim_id)
        op.detail = "posted" if result.appended else "already posted"
        return PaymentResult(
            claim_id=claim_id,
            posted=bool(result.appended),
            entry_ids=tuple(e.id for e in batch.entries) if result.appended else (),
            patient_balance=balance,
        )

"""Revenue-cycle reports: A/R aging, clean-claim and first-pass acceptance rates, denial rates,
days in A/R, net collection rate, and the patient statement.

Pure functions over ledger entries and claim status histories; the report date ``as_of`` is always
passed in (nothing here reads the clock). Definitions (as practices compute them):

- **A/R aging** buckets 0–30, 31–60, 61–90, 91–120, >120 days. Billing view: a payer's balance ages
  from the claim's first submission, the patient's from the first statement sent for the claim
  (``statement_dates``); service view: both from the date of service. A balance with no start date
  yet is ``unbilled``; negative balances (credits) are totalled apart, not aged.
- **First-pass acceptance** = claims whose first submission was accepted (no 999/277CA rejection
  before they were resubmitted or adjudicated) ÷ claims whose first submission was answered.
- **Clean-claim rate** = first-pass accepted claims that were not edited (not returned from ready
  to draft before the first submission, not in ``edited``, e.g. claims with scrub findings fixed) ÷
  the same denominator.
- **Denial rate** = adjudicated claims with a denied amount (net of reversals) ÷ adjudicated claims,
  overall and per reason category (a claim can count in several categories).
- **Days in A/R** = total open A/R ÷ average daily gross charges over the last 90 days.
- **Net collection rate** = payments (net of refunds) ÷ (charges − contractual adjustments) in a period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from medbill.core.claim import Claim
from medbill.ledger.balances import party_balances, until
from medbill.ledger.entries import PATIENT, Category, Entry, EntryKind, SourceKind, is_patient
from medbill.ledger.reasons import ReasonCategory, is_denial, reason_category
from medbill.ledger.status import ADJUDICATED, ClaimStatus, StatusChange, first_submitted

__all__ = [
    "AgingReport",
    "AgingView",
    "Buckets",
    "DenialRates",
    "Rate",
    "Statement",
    "StatementVisit",
    "ar_aging",
    "clean_claim_rate",
    "days_in_ar",
    "denial_rates",
    "first_pass_acceptance",
    "net_collection_rate",
    "patient_statement",
    "service_dates",
]

ZERO = Decimal("0.00")
BUCKET_LABELS = ("0-30", "31-60", "61-90", "91-120", ">120")


class AgingView(StrEnum):
    BILLING = "billing"  # payer A/R from first submission, patient A/R from first statement
    SERVICE = "service"  # both from the date of service


@dataclass(frozen=True, slots=True)
class Buckets:
    """Open balances by age; ``aged`` has one amount per ``BUCKET_LABELS`` entry."""

    aged: tuple[Decimal, Decimal, Decimal, Decimal, Decimal] = (ZERO, ZERO, ZERO, ZERO, ZERO)
    unbilled: Decimal = ZERO
    credit: Decimal = ZERO  # Σ of negative balances (≤ 0)

    @property
    def total(self) -> Decimal:
        """Positive balances: aged + unbilled."""
        return sum(self.aged, ZERO) + self.unbilled

    @property
    def net(self) -> Decimal:
        return self.total + self.credit

    def by_label(self) -> dict[str, Decimal]:
        return dict(zip(BUCKET_LABELS, self.aged, strict=True))


def _bucket(age: int) -> int:
    for i, limit in enumerate((30, 60, 90, 120)):
        if age <= limit:
            return i
    return 4


class _BucketAcc:
    def __init__(self) -> None:
        self.aged = [ZERO] * 5
        self.unbilled = ZERO
        self.credit = ZERO

    def add(self, amount: Decimal, start: dt.date | None, as_of: dt.date) -> None:
        if amount < 0:
            self.credit += amount
        elif start is None:
            self.unbilled += amount
        else:
            self.aged[_bucket(max((as_of - start).days, 0))] += amount

    def freeze(self) -> Buckets:
        a = self.aged
        return Buckets((a[0], a[1], a[2], a[3], a[4]), self.unbilled, self.credit)


@dataclass(frozen=True, slots=True)
class AgingReport:
    as_of: dt.date
    view: AgingView
    by_payer: Mapping[str, Buckets]  # payer party → its A/R
    by_patient: Mapping[str, Buckets]  # patient key → patient A/R
    payers: Buckets  # all payer A/R
    patients: Buckets  # all patient A/R


def service_dates(claims: Iterable[Claim]) -> dict[str, dt.date]:
    """The date of service of each claim: its earliest line date, else the statement-from date."""
    out: dict[str, dt.date] = {}
    for claim in claims:
        dates = [ln.service_date for ln in claim.lines if ln.service_date is not None]
        if dates:
            out[claim.id] = min(dates)
        elif claim.institutional is not None and claim.institutional.statement_from is not None:
            out[claim.id] = claim.institutional.statement_from
    return out


def ar_aging(
    entries: Iterable[Entry],
    histories: Mapping[str, Sequence[StatusChange]],
    *,
    as_of: dt.date,
    view: AgingView = AgingView.BILLING,
    dates_of_service: Mapping[str, dt.date] | None = None,
    statement_dates: Mapping[str, dt.date] | None = None,
    patient_of: Mapping[str, str] | None = None,
) -> AgingReport:
    """A/R aging as of a date: payer A/R by payer, patient A/R by patient (see the module docstring).

    ``dates_of_service``: claim id → date of service (:func:`service_dates`), for the service view;
    ``statement_dates``: claim id → first patient statement date; ``patient_of``: claim id → patient
    key (claims it does not know are grouped as ``"claim:<id>"``).
    """
    dos = dates_of_service or {}
    statements = statement_dates or {}
    patients = patient_of or {}
    by_payer: dict[str, _BucketAcc] = defaultdict(_BucketAcc)
    by_patient: dict[str, _BucketAcc] = defaultdict(_BucketAcc)
    payers_total, patients_total = _BucketAcc(), _BucketAcc()
    for (claim_id, party), amount in sorted(party_balances(until(entries, as_of)).items()):
        if amount == 0:
            continue
        history = [c for c in histories.get(claim_id, ()) if c.at <= as_of]
        if is_patient(party):
            start = dos.get(claim_id) if view is AgingView.SERVICE else statements.get(claim_id)
            if start is not None and start > as_of:
                start = None
            by_patient[patients.get(claim_id, f"claim:{claim_id}")].add(amount, start, as_of)
            patients_total.add(amount, start, as_of)
        else:
            start = dos.get(claim_id) if view is AgingView.SERVICE else first_submitted(history)
            by_payer[party].add(amount, start, as_of)
            payers_total.add(amount, start, as_of)
    return AgingReport(
        as_of=as_of,
        view=view,
        by_payer=MappingProxyType({k: v.freeze() for k, v in sorted(by_payer.items())}),
        by_patient=MappingProxyType({k: v.freeze() for k, v in sorted(by_patient.items())}),
        payers=payers_total.freeze(),
        patients=patients_total.freeze(),
    )


@dataclass(frozen=True, slots=True)
class Rate:
    numerator: Decimal
    denominator: Decimal

    @property
    def value(self) -> Decimal | None:
        """numerator ÷ denominator to 4 places (``None`` when the denominator is 0)."""
        if self.denominator == 0:
            return None
        return (self.numerator / self.denominator).quantize(Decimal("0.0001"))


def _first_pass(history: Sequence[StatusChange]) -> bool | None:
    """True/False: first submission accepted or not; None: not submitted or not answered yet."""
    start = next((i for i, c in enumerate(history) if c.to_status is ClaimStatus.SUBMITTED), None)
    if start is None:
        return None
    for change in history[start + 1 :]:
        if change.to_status is ClaimStatus.REJECTED:
            return False
        if change.to_status is ClaimStatus.ACCEPTED or change.to_status in ADJUDICATED:
            return True
        if change.to_status is ClaimStatus.SUBMITTED:
            break
    return None


def _upto(history: Sequence[StatusChange], as_of: dt.date | None) -> list[StatusChange]:
    return [c for c in history if as_of is None or c.at <= as_of]


def first_pass_acceptance(histories: Mapping[str, Sequence[StatusChange]], *, as_of: dt.date | None = None) -> Rate:
    """Claims accepted on their first submission ÷ claims whose first submission was answered."""
    answers = [_first_pass(_upto(h, as_of)) for h in histories.values()]
    known = [a for a in answers if a is not None]
    return Rate(Decimal(sum(known)), Decimal(len(known)))


def clean_claim_rate(
    histories: Mapping[str, Sequence[StatusChange]], *, edited: Collection[str] = (), as_of: dt.date | None = None
) -> Rate:
    """Claims accepted on first submission without edits ÷ claims whose first submission was answered."""
    clean = 0
    known = 0
    for claim_id, full in histories.items():
        history = _upto(full, as_of)
        answer = _first_pass(history)
        if answer is None:
            continue
        known += 1
        before: list[StatusChange] = []
        for change in history:
            if change.to_status is ClaimStatus.SUBMITTED:
                break
            before.append(change)
        returned = any(c.from_status is ClaimStatus.READY and c.to_status is ClaimStatus.DRAFT for c in before)
        if answer and not returned and claim_id not in edited:
            clean += 1
    return Rate(Decimal(clean), Decimal(known))


@dataclass(frozen=True, slots=True)
class DenialRates:
    adjudicated: int  # claims with posted 835 entries
    denied: int  # of them, claims with a denied amount
    by_category: Mapping[ReasonCategory, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def rate(self) -> Rate:
        return Rate(Decimal(self.denied), Decimal(self.adjudicated))

    def category_rate(self, category: ReasonCategory) -> Rate:
        return Rate(Decimal(self.by_category.get(category, 0)), Decimal(self.adjudicated))


def denial_rates(entries: Iterable[Entry], *, as_of: dt.date | None = None) -> DenialRates:
    """Denied ÷ adjudicated claims, overall and by reason category (net of reversals)."""
    adjudicated: set[str] = set()
    denied: dict[tuple[str, ReasonCategory, str], Decimal] = defaultdict(lambda: ZERO)
    for e in until(entries, as_of):
        if e.claim_id is None or e.source.kind is not SourceKind.REMITTANCE:
            continue
        adjudicated.add(e.claim_id)
        carc = e.carc or ""
        if e.base_kind is EntryKind.DENIAL:
            denied[(e.claim_id, reason_category(carc), carc)] -= e.amount
        elif e.base_kind is EntryKind.PATIENT_RESPONSIBILITY and is_patient(e.party):
            category = reason_category(carc)
            if is_denial(category):
                denied[(e.claim_id, category, carc)] += e.amount
    claims_by_category: dict[ReasonCategory, set[str]] = defaultdict(set)
    for (claim_id, category, _carc), amount in denied.items():
        if amount > 0:
            claims_by_category[category].add(claim_id)
    denied_claims = set().union(*claims_by_category.values()) if claims_by_category else set()
    return DenialRates(
        adjudicated=len(adjudicated),
        denied=len(denied_claims),
        by_category=MappingProxyType({c: len(ids) for c, ids in sorted(claims_by_category.items())}),
    )


def _gross_charge(e: Entry) -> bool:
    return e.base_kind is EntryKind.CHARGE


def days_in_ar(entries: Iterable[Entry], *, as_of: dt.date, days: int = 90) -> Decimal | None:
    """Total open A/R ÷ average daily gross charges over the ``days`` before ``as_of`` (to 0.1 day)."""
    items = until(entries, as_of)
    total = sum(party_balances(items).values(), ZERO)
    start = as_of - dt.timedelta(days=days)
    charges = sum((e.amount for e in items if _gross_charge(e) and e.effective > start), ZERO)
    if charges <= 0:
        return None
    return (total / (charges / days)).quantize(Decimal("0.1"))


def net_collection_rate(entries: Iterable[Entry], *, start: dt.date, end: dt.date) -> Rate:
    """Payments (net of refunds) ÷ (charges − contractual adjustments), entries effective in [start, end]."""
    payments = charges = contractual = ZERO
    for e in entries:
        if not start <= e.effective <= end or e.claim_id is None:
            continue
        if e.category is Category.PAYMENT:
            payments -= e.amount
        elif _gross_charge(e):
            charges += e.amount
        elif e.base_kind is EntryKind.CONTRACTUAL_ADJUSTMENT:
            contractual -= e.amount
    return Rate(payments, charges - contractual)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementVisit:
    claim_id: str
    service_date: dt.date | None
    charges: Decimal
    insurance_paid: Decimal  # net payer payments
    adjustments: Decimal  # contractual, denials, other adjustments, write-offs (net)
    patient_responsibility: Decimal  # what payers moved to the patient (deductible, coinsurance, copay ...)
    patient_paid: Decimal  # patient payments less refunds to the patient
    balance: Decimal  # what the patient owes on this visit (negative: a credit)
    pending_insurance: Decimal  # still owed by payers


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    as_of: dt.date
    visits: tuple[StatementVisit, ...]

    @property
    def total_due(self) -> Decimal:
        return sum((v.balance for v in self.visits), ZERO)


_PATIENT_CASH = frozenset(
    {
        EntryKind.PATIENT_PAYMENT,
        EntryKind.COPAY_AT_TIME_OF_SERVICE,
        EntryKind.PAYMENT_PLAN_INSTALLMENT,
        EntryKind.CREDIT_BALANCE_REFUND,
    }
)


def patient_statement(
    entries: Iterable[Entry],
    claim_ids: Collection[str],
    *,
    as_of: dt.date,
    dates_of_service: Mapping[str, dt.date] | None = None,
) -> Statement:
    """What the patient owes, by visit (claim), for the patient's claims; visits with a zero balance left out."""
    dos = dates_of_service or {}
    wanted = set(claim_ids)
    acc: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for e in until(entries, as_of):
        if e.claim_id not in wanted or e.claim_id is None:
            continue
        a = acc[e.claim_id]
        base = e.base_kind
        category = e.category
        if is_patient(e.party):
            a["balance"] += e.amount
        else:
            a["pending"] += e.amount
        if category is Category.CHARGE:
            a["charges"] += e.amount
        elif base in _PATIENT_CASH:
            a["patient_paid"] -= e.amount
        elif category is Category.PAYMENT:
            a["insurance_paid"] -= e.amount
        elif category is Category.ADJUSTMENT:
            a["adjustments"] -= e.amount
        elif base is EntryKind.PATIENT_RESPONSIBILITY and e.party == PATIENT:
            a["pr"] += e.amount
    visits = [
        StatementVisit(
            claim_id=claim_id,
            service_date=dos.get(claim_id),
            charges=a["charges"],
            insurance_paid=a["insurance_paid"],
            adjustments=a["adjustments"],
            patient_responsibility=a["pr"],
            patient_paid=a["patient_paid"],
            balance=a["balance"],
            pending_insurance=a["pending"],
        )
        for claim_id, a in acc.items()
        if a["balance"] != 0
    ]
    visits.sort(key=lambda v: (v.service_date or dt.date.min, v.claim_id))
    return Statement(as_of=as_of, visits=tuple(visits))

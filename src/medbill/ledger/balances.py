"""Balances per line, claim, party, patient and payer, and the ledger's invariants as problems.

Pure functions over entries (any iterable; pass ``until=`` to see the ledger as of a date). The
claim invariant ``charges = payments + adjustments + open balance`` is checked by
:func:`ledger_problems`, which returns every problem it finds (never raises): ``open`` is summed
per party, the other three per category, so the two sides differ exactly when something is wrong
(a transfer that does not net to zero, an entry of the wrong kind on a claim ...).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from medbill.core.money import CENT
from medbill.ledger.entries import (
    PATIENT,
    Category,
    Entry,
    EntryKind,
    LedgerError,
    category_of,
    is_patient,
)

__all__ = [
    "LedgerProblem",
    "PayerBalance",
    "Totals",
    "claim_balances",
    "ledger_problems",
    "line_balances",
    "party_balances",
    "patient_balances",
    "payer_balances",
    "until",
]

ZERO = Decimal("0.00")


def until(entries: Iterable[Entry], as_of: dt.date | None) -> list[Entry]:
    """The entries effective on or before ``as_of`` (all of them when ``None``)."""
    return [e for e in entries if as_of is None or e.effective <= as_of]


@dataclass(frozen=True, slots=True)
class Totals:
    """Charges, net payments, net adjustments and the open balance (total and per party)."""

    charges: Decimal = ZERO
    payments: Decimal = ZERO  # cash received less refunds (positive when money came in)
    adjustments: Decimal = ZERO  # non-cash reductions (positive when the balance went down)
    open: Decimal = ZERO  # Σ of the party balances
    by_party: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def party(self, party: str) -> Decimal:
        return self.by_party.get(party, ZERO)

    @property
    def patient(self) -> Decimal:
        return self.party(PATIENT)

    @property
    def payers(self) -> Decimal:
        """The part of the open balance that payers owe."""
        return sum((v for p, v in self.by_party.items() if not is_patient(p)), ZERO)


class _Acc:
    __slots__ = ("charges", "payments", "adjustments", "transfers", "by_party")

    def __init__(self) -> None:
        self.charges = ZERO
        self.payments = ZERO
        self.adjustments = ZERO
        self.transfers = ZERO
        self.by_party: dict[str, Decimal] = defaultdict(lambda: ZERO)

    def add(self, entry: Entry, category: Category) -> None:
        if category is Category.CHARGE:
            self.charges += entry.amount
        elif category is Category.PAYMENT:
            self.payments -= entry.amount
        elif category is Category.ADJUSTMENT:
            self.adjustments -= entry.amount
        elif category is Category.TRANSFER:
            self.transfers += entry.amount
        self.by_party[entry.party] += entry.amount

    def totals(self) -> Totals:
        parties = {p: v for p, v in sorted(self.by_party.items())}
        return Totals(
            charges=self.charges,
            payments=self.payments,
            adjustments=self.adjustments,
            open=sum(parties.values(), ZERO),
            by_party=MappingProxyType(parties),
        )


def _claim_entries(entries: Iterable[Entry]) -> Iterable[tuple[Entry, Category]]:
    for e in entries:
        if e.claim_id is None:
            continue
        category = category_of(e.kind, e.of_kind)
        if category is Category.PROVIDER:
            continue
        yield e, category


def line_balances(entries: Iterable[Entry]) -> dict[tuple[str, int | None], Totals]:
    """Totals per (claim id, line number); line ``None`` holds claim-level entries."""
    acc: dict[tuple[str, int | None], _Acc] = defaultdict(_Acc)
    for e, category in _claim_entries(entries):
        assert e.claim_id is not None
        acc[(e.claim_id, e.line_number)].add(e, category)
    return {k: a.totals() for k, a in acc.items()}


def claim_balances(entries: Iterable[Entry]) -> dict[str, Totals]:
    """Totals per claim id (claim-level and line entries together)."""
    acc: dict[str, _Acc] = defaultdict(_Acc)
    for e, category in _claim_entries(entries):
        assert e.claim_id is not None
        acc[e.claim_id].add(e, category)
    return {k: a.totals() for k, a in acc.items()}


def party_balances(entries: Iterable[Entry]) -> dict[tuple[str, str], Decimal]:
    """Open balance per (claim id, party), zero balances included."""
    out: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for e, _category in _claim_entries(entries):
        assert e.claim_id is not None
        out[(e.claim_id, e.party)] += e.amount
    return dict(out)


def patient_balances(
    entries: Iterable[Entry], patient_of: Mapping[str, str] | Callable[[str], str | None]
) -> dict[str, Decimal]:
    """What each patient owes (the patient party's balance, summed over the patient's claims).

    ``patient_of`` maps a claim id to a patient key (the claim model has no patient id);
    claims it does not know are grouped under ``"claim:<id>"``.
    """
    lookup = patient_of.get if isinstance(patient_of, Mapping) else patient_of
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (claim_id, party), amount in party_balances(entries).items():
        if is_patient(party):
            out[lookup(claim_id) or f"claim:{claim_id}"] += amount
    return dict(out)


@dataclass(frozen=True, slots=True)
class PayerBalance:
    """What a payer owes on claims, and its provider-level (PLB) position, by kind."""

    claims_open: Decimal = ZERO  # Σ of the payer's share of claim balances
    claims_credit: Decimal = ZERO  # Σ of the negative shares (overpaid claims), ≤ 0
    takebacks: Decimal = ZERO  # Σ PLB WO/72 (positive: recovered by the payer)
    interest: Decimal = ZERO  # Σ PLB L6 (negative: paid to us)
    forward_balance: Decimal = ZERO  # Σ PLB FB (zero once an advance is recovered)
    other_provider: Decimal = ZERO  # Σ other PLB reasons


_PLB_FIELD = {
    EntryKind.PLB_TAKEBACK: "takebacks",
    EntryKind.PLB_INTEREST: "interest",
    EntryKind.PLB_FORWARD_BALANCE: "forward_balance",
    EntryKind.PLB_OTHER: "other_provider",
}


def payer_balances(entries: Iterable[Entry]) -> dict[str, PayerBalance]:
    """Per payer party: open claim balance (and credits), and PLB totals by kind."""
    items = list(entries)
    values: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for (_claim_id, party), amount in party_balances(items).items():
        if is_patient(party):
            continue
        values[party]["claims_open"] += amount
        if amount < 0:
            values[party]["claims_credit"] += amount
    for e in items:
        if category_of(e.kind, e.of_kind) is Category.PROVIDER:
            values[e.party][_PLB_FIELD[e.base_kind]] += e.amount
    return {party: PayerBalance(**v) for party, v in values.items()}


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """A broken ledger invariant (reported, never raised)."""

    code: str
    location: str  # "claim <id>", "entry <id>", "batch <digest>"
    message: str


_NEGATIVE_KINDS = frozenset(
    {
        EntryKind.PATIENT_PAYMENT,
        EntryKind.COPAY_AT_TIME_OF_SERVICE,
        EntryKind.PAYMENT_PLAN_INSTALLMENT,
        EntryKind.WRITE_OFF,
    }
)
_POSITIVE_KINDS = frozenset({EntryKind.CHARGE, EntryKind.REFUND, EntryKind.CREDIT_BALANCE_REFUND})


def ledger_problems(entries: Iterable[Entry]) -> list[LedgerProblem]:
    """Every broken invariant, in one pass.

    - ``claim_invariant``: for a claim, charges ≠ payments + adjustments + open balance;
    - ``transfer_unbalanced``: the transfer entries of one batch on one claim line do not net to zero;
    - ``duplicate_id``: two entries with one id; ``sub_cent``: an amount that is not whole cents;
    - ``kind``: a reversal/correction without ``of_kind`` (or a plain entry with one), a PLB entry on
      a claim, a claim entry without a claim, a PR entry without group PR;
    - ``sign``: a user kind with the wrong sign (a charge or refund ≤ 0, a patient payment or
      write-off ≥ 0).
    """
    out: list[LedgerProblem] = []
    seen: set[str] = set()
    per_claim: dict[str, _Acc] = defaultdict(_Acc)
    transfers: dict[tuple[str, str, int | None], Decimal] = defaultdict(lambda: ZERO)
    for e in entries:
        where = f"entry {e.id}"
        if e.id in seen:
            out.append(LedgerProblem("duplicate_id", where, "two entries share this id"))
        seen.add(e.id)
        if e.amount != e.amount.quantize(CENT):
            out.append(LedgerProblem("sub_cent", where, f"amount {e.amount} is not a whole number of cents"))
        try:
            category = category_of(e.kind, e.of_kind)
        except LedgerError as exc:
            out.append(LedgerProblem("kind", where, exc.message))
            continue
        if e.of_kind is not None and e.kind not in (EntryKind.REVERSAL, EntryKind.CORRECTION):
            out.append(LedgerProblem("kind", where, f"a {e.kind} entry has of_kind {e.of_kind}"))
        if category is Category.PROVIDER:
            if e.claim_id is not None:
                out.append(LedgerProblem("kind", where, "a provider-level (PLB) entry sits on a claim"))
            continue
        if e.claim_id is None:
            out.append(LedgerProblem("kind", where, f"a {e.kind} entry has no claim"))
            continue
        if e.base_kind is EntryKind.PATIENT_RESPONSIBILITY and e.group != "PR":
            out.append(LedgerProblem("kind", where, f"patient responsibility with group {e.group!r}, not PR"))
        if e.kind in _NEGATIVE_KINDS and e.amount >= 0:
            out.append(LedgerProblem("sign", where, f"a {e.kind} must be negative, got {e.amount}"))
        if e.kind in _POSITIVE_KINDS and e.amount <= 0:
            out.append(LedgerProblem("sign", where, f"a {e.kind} must be positive, got {e.amount}"))
        per_claim[e.claim_id].add(e, category)
        if category is Category.TRANSFER:
            transfers[(e.key.text, e.claim_id, e.line_number)] += e.amount
    for (_key_text, claim_id, line), total in transfers.items():
        if total != 0:
            out.append(
                LedgerProblem(
                    "transfer_unbalanced",
                    f"claim {claim_id} line {line}",
                    f"transfers of one batch net to {total}, not 0",
                )
            )
    for claim_id, acc in per_claim.items():
        opened = sum(acc.by_party.values(), ZERO)
        if acc.charges != acc.payments + acc.adjustments + opened:
            out.append(
                LedgerProblem(
                    "claim_invariant",
                    f"claim {claim_id}",
                    f"charges {acc.charges} ≠ payments {acc.payments} + adjustments {acc.adjustments} "
                    f"+ open balance {opened}",
                )
            )
    return out

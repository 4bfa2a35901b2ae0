"""Batches for charges and user actions: payments at the desk, refunds, write-offs, transfers, corrections.

Each function returns one :class:`PostingBatch` keyed by ``PostingKey.action(action_id)`` (or
``PostingKey.charge(claim.id)`` for charges), so an action submitted twice — a double click, a
retried request — posts once. Amounts are given positive; the entries carry the ledger's sign
convention (see :mod:`medbill.ledger.entries`). Bad arguments raise ``LedgerError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from medbill.core.claim import Claim
from medbill.core.money import CENT
from medbill.ledger.entries import (
    PATIENT,
    Entry,
    EntryKind,
    LedgerError,
    PostingBatch,
    PostingKey,
    Source,
    SourceKind,
    category_of,
    entry_id,
    is_patient,
)
from medbill.ledger.posting import claim_party

__all__ = [
    "charge_batch",
    "charge_correction_batch",
    "copay_at_time_of_service",
    "correction",
    "patient_payment",
    "payment_plan_installment",
    "refund",
    "transfer",
    "write_off",
]


def _positive(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount != amount.quantize(CENT):
        raise LedgerError(f"{amount!r} is not a whole number of cents (give a Decimal such as Decimal('25.00'))")
    if amount <= 0:
        raise LedgerError(f"the amount must be positive, got {amount}")
    return amount.quantize(CENT)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    claim_id: str
    line_number: int | None = None
    kind: EntryKind
    party: str
    amount: Decimal
    of_kind: EntryKind | None = None
    reference: str | None = None
    memo: str | None = None


def _batch(key: PostingKey, rows: Sequence[_Row], *, source: Source, effective: dt.date) -> PostingBatch:
    entries = tuple(
        Entry(
            id=entry_id(key, i),
            key=key,
            source=source,
            effective=effective,
            claim_id=r.claim_id,
            line_number=r.line_number,
            kind=r.kind,
            party=r.party,
            amount=r.amount,
            of_kind=r.of_kind,
            reference=r.reference,
            memo=r.memo,
        )
        for i, r in enumerate(rows)
    )
    return PostingBatch(key=key, entries=entries)


def _user(action_id: str, user: str) -> tuple[PostingKey, Source]:
    if not action_id:
        raise LedgerError("an action needs an action id (its idempotency key)")
    return PostingKey.action(action_id), Source(kind=SourceKind.USER, action=action_id, user=user)


def charge_batch(claim: Claim, *, on: dt.date, party: str | None = None) -> PostingBatch:
    """One ``charge`` entry per line, owed by the payer the claim is sent to (or ``party``)."""
    key = PostingKey.charge(claim.id)
    who = party or claim_party(claim)
    rows = [
        _Row(
            claim_id=claim.id,
            line_number=ln.line_number,
            kind=EntryKind.CHARGE,
            party=who,
            amount=ln.charge,
        )
        for ln in claim.lines
        if ln.charge != 0
    ]
    return _batch(key, rows, source=Source(kind=SourceKind.CLAIM), effective=on)


def charge_correction_batch(
    old: Claim, new: Claim, *, action_id: str, user: str, on: dt.date, party: str | None = None
) -> PostingBatch:
    """``correction`` entries (of ``charge``) for the per-line differences between two versions of a claim."""
    if old.id != new.id:
        raise LedgerError("a charge correction compares two versions of the same claim id")
    key, source = _user(action_id, user)
    who = party or claim_party(new)
    before = {ln.line_number: ln.charge for ln in old.lines}
    after = {ln.line_number: ln.charge for ln in new.lines}
    rows: list[_Row] = []
    for number in sorted(before.keys() | after.keys()):
        delta = after.get(number, Decimal(0)) - before.get(number, Decimal(0))
        if delta:
            rows.append(
                _Row(
                    claim_id=new.id,
                    line_number=number,
                    kind=EntryKind.CORRECTION,
                    of_kind=EntryKind.CHARGE,
                    party=who,
                    amount=delta,
                )
            )
    return _batch(key, rows, source=source, effective=on)


def _patient_money(
    kind: EntryKind,
    *,
    action_id: str,
    user: str,
    claim_id: str,
    amount: Decimal,
    on: dt.date,
    line_number: int | None,
    reference: str | None,
) -> PostingBatch:
    key, source = _user(action_id, user)
    row = _Row(
        claim_id=claim_id,
        line_number=line_number,
        kind=kind,
        party=PATIENT,
        amount=-_positive(amount),
        reference=reference,
    )
    return _batch(key, [row], source=source, effective=on)


def patient_payment(
    *,
    action_id: str,
    user: str,
    claim_id: str,
    amount: Decimal,
    on: dt.date,
    line_number: int | None = None,
    reference: str | None = None,
) -> PostingBatch:
    """A payment by the patient applied to a claim (``reference``: check or card transaction)."""
    return _patient_money(
        EntryKind.PATIENT_PAYMENT,
        action_id=action_id,
        user=user,
        claim_id=claim_id,
        amount=amount,
        on=on,
        line_number=line_number,
        reference=reference,
    )


def copay_at_time_of_service(
    *, action_id: str, user: str, claim_id: str, amount: Decimal, on: dt.date, reference: str | None = None
) -> PostingBatch:
    """A copay collected at the visit, before the payer adjudicates (a credit until PR 3 arrives)."""
    return _patient_money(
        EntryKind.COPAY_AT_TIME_OF_SERVICE,
        action_id=action_id,
        user=user,
        claim_id=claim_id,
        amount=amount,
        on=on,
        line_number=None,
        reference=reference,
    )


def payment_plan_installment(
    *, action_id: str, user: str, claim_id: str, amount: Decimal, on: dt.date, plan_id: str
) -> PostingBatch:
    """One installment of a payment plan (``plan_id`` kept as the entry's reference)."""
    return _patient_money(
        EntryKind.PAYMENT_PLAN_INSTALLMENT,
        action_id=action_id,
        user=user,
        claim_id=claim_id,
        amount=amount,
        on=on,
        line_number=None,
        reference=plan_id,
    )


def refund(
    *, action_id: str, user: str, claim_id: str, party: str, amount: Decimal, on: dt.date, reference: str | None = None
) -> PostingBatch:
    """Money we pay back: to a payer (``refund``) or a patient's credit balance (``credit_balance_refund``)."""
    key, source = _user(action_id, user)
    kind = EntryKind.CREDIT_BALANCE_REFUND if is_patient(party) else EntryKind.REFUND
    row = _Row(
        claim_id=claim_id,
        line_number=None,
        kind=kind,
        party=party,
        amount=_positive(amount),
        reference=reference,
    )
    return _batch(key, [row], source=source, effective=on)


def write_off(
    *,
    action_id: str,
    user: str,
    claim_id: str,
    party: str,
    amount: Decimal,
    on: dt.date,
    approved_by: str,
    reason: str,
    line_number: int | None = None,
) -> PostingBatch:
    """An approved write-off (small balance, hardship, ...): ``approved_by`` and ``reason`` are required."""
    if not approved_by or not reason:
        raise LedgerError("a write-off needs the approver and a reason")
    key, source = _user(action_id, user)
    row = _Row(
        claim_id=claim_id,
        line_number=line_number,
        kind=EntryKind.WRITE_OFF,
        party=party,
        amount=-_positive(amount),
        memo=f"{reason} (approved by {approved_by})",
    )
    return _batch(key, [row], source=source, effective=on)


def transfer(
    *,
    action_id: str,
    user: str,
    claim_id: str,
    from_party: str,
    to_party: str,
    amount: Decimal,
    on: dt.date,
    line_number: int | None = None,
) -> PostingBatch:
    """Move part of a claim's balance between parties: to the patient, or to a (secondary) payer."""
    if from_party == to_party:
        raise LedgerError("a transfer needs two different parties")
    key, source = _user(action_id, user)
    value = _positive(amount)
    kind = EntryKind.TRANSFER_TO_PATIENT if is_patient(to_party) else EntryKind.TRANSFER_TO_SECONDARY
    rows = [
        _Row(claim_id=claim_id, line_number=line_number, kind=kind, party=from_party, amount=-value),
        _Row(claim_id=claim_id, line_number=line_number, kind=kind, party=to_party, amount=value),
    ]
    return _batch(key, rows, source=source, effective=on)


def correction(
    *,
    action_id: str,
    user: str,
    claim_id: str,
    party: str,
    of_kind: EntryKind,
    amount: Decimal,
    on: dt.date,
    memo: str,
    line_number: int | None = None,
) -> PostingBatch:
    """A signed correction of a posting error (``amount`` in the ledger's convention, not zero).

    Corrections of a transfer kind are refused: use :func:`transfer`, which keeps the pair balanced.
    """
    if not memo:
        raise LedgerError("a correction needs a memo saying what it corrects")
    if amount == 0 or amount != amount.quantize(CENT):
        raise LedgerError(f"a correction amount must be whole cents and not zero, got {amount}")
    if of_kind in (EntryKind.REVERSAL, EntryKind.CORRECTION) or category_of(of_kind).value == "transfer":
        raise LedgerError(f"cannot correct a {of_kind} with a single entry")
    key, source = _user(action_id, user)
    row = _Row(
        claim_id=claim_id,
        line_number=line_number,
        kind=EntryKind.CORRECTION,
        of_kind=of_kind,
        party=party,
        amount=amount.quantize(CENT),
        memo=memo,
    )
    return _batch(key, [row], source=source, effective=on)

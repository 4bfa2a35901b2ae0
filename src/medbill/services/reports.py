"""Revenue-cycle measures over the practice database, for the dashboard and reports.

:func:`revenue_measures` runs the pure functions of :mod:`medbill.ledger.reports` — days in A/R, net
collection rate, first-pass acceptance, clean-claim rate, denial rates by reason category — over the
practice's stored ledger entries and claim status histories, as of one date. Aggregates only (counts,
amounts, rates): no claim, patient or remittance is named in the result or the audit detail.

Permission: REPORT_READ; one audit record (action "read", resource "revenue_measures").

Definitions are the ledger module's; here:

- the collection period is the ``period_days`` days up to ``as_of`` (default 90);
- days in A/R = open A/R (payer and patient) ÷ the average daily gross charge over the same days;
- the clean-claim rate counts as edited the claims returned from ready to draft before their first
  submission (the status history records that; edits of a draft are the normal coding work).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from medbill.core.errors import ValidationFailed
from medbill.ledger.balances import party_balances, until
from medbill.ledger.entries import EntryKind
from medbill.ledger.reports import (
    DenialRates,
    Rate,
    clean_claim_rate,
    days_in_ar,
    denial_rates,
    first_pass_acceptance,
    net_collection_rate,
)
from medbill.services.audit import AuditAction
from medbill.services.context import Actor
from medbill.services.payments import _histories
from medbill.services.permissions import Permission
from medbill.services.unit import operation
from medbill.store.db import Database
from medbill.store.ledger_sql import SqlLedger

__all__ = ["RevenueMeasures", "revenue_measures"]

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True, kw_only=True)
class RevenueMeasures:
    """The practice's revenue-cycle measures as of one date (rates are :class:`Rate`: numerator/denominator)."""

    as_of: dt.date
    period_start: dt.date  # first day of the collection period (inclusive)
    period_days: int
    open_ar: Decimal  # every open balance, payer and patient (credits net)
    period_charges: Decimal  # gross charges effective in the period
    days_in_ar: Decimal | None  # None: no charges in the period
    net_collection: Rate  # payments ÷ (charges − contractual adjustments), entries in the period
    first_pass: Rate  # claims accepted on their first submission ÷ first submissions answered
    clean_claims: Rate  # first-pass accepted without being returned to draft ÷ the same denominator
    denials: DenialRates  # denied ÷ adjudicated claims, by reason category


def revenue_measures(
    db: Database, *, actor: Actor, as_of: dt.date | None = None, period_days: int = 90
) -> RevenueMeasures:
    """Days in A/R, net collection rate, first-pass acceptance, clean-claim and denial rates (aggregates)."""
    if not 1 <= period_days <= 3660:
        raise ValidationFailed("period_days must be between 1 and 3660", field="period_days")
    when = as_of or dt.date.today()
    start = when - dt.timedelta(days=period_days - 1)
    with operation(db, actor, Permission.REPORT_READ, action=AuditAction.READ, resource="revenue_measures") as op:
        entries = SqlLedger(op.session, practice_id=op.practice_id, cipher=db.cipher).entries()
        histories = _histories(op.session, op.practice_id)
        upto = until(entries, when)
        open_ar = sum(party_balances(upto).values(), ZERO)
        charges = sum(
            (e.amount for e in upto if e.base_kind is EntryKind.CHARGE and start <= e.effective <= when), ZERO
        )
        measures = RevenueMeasures(
            as_of=when,
            period_start=start,
            period_days=period_days,
            open_ar=open_ar,
            period_charges=charges,
            days_in_ar=days_in_ar(entries, as_of=when, days=period_days),
            net_collection=net_collection_rate(entries, start=start, end=when),
            first_pass=first_pass_acceptance(histories, as_of=when),
            clean_claims=clean_claim_rate(histories, as_of=when),
            denials=denial_rates(entries, as_of=when),
        )
        op.detail = f"as of {when.isoformat()}, {period_days} days"
        return measures

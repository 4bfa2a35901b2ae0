"""The claim status state machine, fed by users, 999s, 277CAs and 835s; each change recorded with its cause.

    draft → ready → submitted → accepted / rejected → paid / partially_paid / denied
          → appealed / corrected → closed

A status history is the ordered sequence of :class:`StatusChange` records of one claim (the store
keeps it append-only, like the ledger). Changes from acknowledgments and remittances are computed
by pure functions that return the changes *and* the problems (a transition the machine does not
allow is reported, not applied):

- a 999 accepts or rejects whole transaction sets: every claim sent in a rejected ST (AK2/IK5 R,
  or the whole group when AK9 is R and lists no AK2) becomes ``rejected``;
- a 277CA accepts or rejects individual claims (STC category A1/A2 accepted, A3/A6/A7/A8 rejected);
- an 835 claim payment moves the claim to paid / partially_paid / denied (a reversal alone does not
  change the status: the correction that follows does).

Frequency (CLM05-3): a claim the payer never adjudicated (front-end rejected, or never answered) is
fixed and sent again as a new original (frequency 1); a replacement (7) or void (8) is only for a
claim the payer adjudicated (an 835 moved it to paid, partially paid or denied).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from medbill.core.claim import ClaimFrequency
from medbill.core.errors import MedbillError
from medbill.core.remit import AckStatus, ClaimAck, FunctionalAck

if TYPE_CHECKING:
    from medbill.ledger.posting import PostingPlan

__all__ = [
    "ADJUDICATED",
    "TRANSITIONS",
    "Cause",
    "CauseKind",
    "ClaimStatus",
    "StatusChange",
    "StatusError",
    "StatusProblem",
    "StatusUpdate",
    "Submission",
    "allowed_frequencies",
    "can_transition",
    "changes_from_277ca",
    "changes_from_999",
    "changes_from_posting",
    "current_status",
    "first_submitted",
    "next_frequency",
    "payer_claim_numbers",
    "submit",
    "transition",
    "was_adjudicated",
]


class ClaimStatus(StrEnum):
    DRAFT = "draft"
    READY = "ready"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    APPEALED = "appealed"
    CORRECTED = "corrected"
    CLOSED = "closed"


S = ClaimStatus
ADJUDICATED = frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED})

TRANSITIONS: Mapping[ClaimStatus, frozenset[ClaimStatus]] = {
    S.DRAFT: frozenset({S.READY, S.CLOSED}),
    S.READY: frozenset({S.DRAFT, S.SUBMITTED, S.CLOSED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, *ADJUDICATED}),
    S.ACCEPTED: frozenset({S.REJECTED, *ADJUDICATED}),  # a 277CA may reject after the 999 accepted
    S.REJECTED: frozenset({S.DRAFT, S.READY, S.CLOSED}),  # fixed, then resent as a new original
    S.PAID: frozenset({S.APPEALED, S.CORRECTED, S.CLOSED, *ADJUDICATED}),  # payer reprocessing
    S.PARTIALLY_PAID: frozenset({S.APPEALED, S.CORRECTED, S.CLOSED, *ADJUDICATED}),
    S.DENIED: frozenset({S.APPEALED, S.CORRECTED, S.CLOSED, *ADJUDICATED}),
    S.APPEALED: frozenset({S.CLOSED, *ADJUDICATED}),
    S.CORRECTED: frozenset({S.SUBMITTED, S.CLOSED}),  # the replacement/void (7/8) goes out
    S.CLOSED: frozenset({S.APPEALED, S.CORRECTED, *ADJUDICATED}),  # reopened by a user or the payer
}


class CauseKind(StrEnum):
    USER = "user"
    ACK_999 = "999"
    ACK_277CA = "277ca"
    REMITTANCE = "835"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cause:
    """Why a status changed: control numbers and codes, never PHI.

    ``reference``: 999 ``"GS06/ST02"`` (AK102/AK202); 277CA ``"A7:21"`` (STC category:status);
    835 ``"TRN03/TRN02#position"``; user: the action id.
    """

    kind: CauseKind
    reference: str
    user: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    claim_id: str
    from_status: ClaimStatus
    to_status: ClaimStatus
    at: dt.date
    cause: Cause
    frequency: ClaimFrequency | None = None  # set on submissions
    payer_claim_number: str | None = None  # 277CA REF*1K / 835 CLP07, when the change brings one


@dataclass(frozen=True, slots=True)
class StatusProblem:
    claim_id: str | None
    message: str


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    changes: tuple[StatusChange, ...] = ()
    problems: tuple[StatusProblem, ...] = ()


class StatusError(MedbillError):
    """A transition the state machine does not allow, or a submission with the wrong frequency."""

    code = "status_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Submission:
    """Which claims went out in which transaction set (to map a 999 back to claims)."""

    group_control_number: str  # GS06
    transaction_control_number: str  # ST02
    claim_ids: tuple[str, ...]


def current_status(history: Sequence[StatusChange]) -> ClaimStatus:
    """The status after the last change (``draft`` for an empty history)."""
    return history[-1].to_status if history else S.DRAFT


def can_transition(current: ClaimStatus, to: ClaimStatus) -> bool:
    return to in TRANSITIONS[current]


def transition(
    history: Sequence[StatusChange],
    to: ClaimStatus,
    *,
    claim_id: str,
    at: dt.date,
    cause: Cause,
    frequency: ClaimFrequency | None = None,
    payer_claim_number: str | None = None,
) -> StatusChange:
    """The change record for moving a claim to ``to``; raises ``StatusError`` when not allowed."""
    current = current_status(history)
    if not can_transition(current, to):
        allowed = ", ".join(sorted(TRANSITIONS[current]))
        raise StatusError(f"a {current} claim cannot become {to} (allowed: {allowed})")
    return StatusChange(
        claim_id=claim_id,
        from_status=current,
        to_status=to,
        at=at,
        cause=cause,
        frequency=frequency,
        payer_claim_number=payer_claim_number,
    )


def was_adjudicated(history: Sequence[StatusChange]) -> bool:
    """True once an 835 moved the claim to paid, partially paid or denied."""
    return any(c.cause.kind is CauseKind.REMITTANCE and c.to_status in ADJUDICATED for c in history)


def allowed_frequencies(history: Sequence[StatusChange]) -> frozenset[ClaimFrequency]:
    """1 (original) until the payer adjudicated the claim; then 7 (replacement) or 8 (void)."""
    if was_adjudicated(history):
        return frozenset({ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID})
    return frozenset({ClaimFrequency.ORIGINAL})


def next_frequency(history: Sequence[StatusChange]) -> ClaimFrequency:
    """The frequency of the next submission: 7 for an adjudicated claim, else 1 (a new original)."""
    return ClaimFrequency.REPLACEMENT if was_adjudicated(history) else ClaimFrequency.ORIGINAL


def submit(
    history: Sequence[StatusChange],
    *,
    claim_id: str,
    at: dt.date,
    cause: Cause,
    frequency: ClaimFrequency,
) -> StatusChange:
    """The ``submitted`` change; raises ``StatusError`` when the frequency is not allowed now."""
    allowed = allowed_frequencies(history)
    if frequency not in allowed:
        why = (
            "the payer adjudicated this claim: send a replacement (7) or void (8)"
            if was_adjudicated(history)
            else "the payer never adjudicated this claim: send it as a new original (1)"
        )
        raise StatusError(f"frequency {frequency.value} not allowed: {why}")
    return transition(history, S.SUBMITTED, claim_id=claim_id, at=at, cause=cause, frequency=frequency)


def first_submitted(history: Sequence[StatusChange]) -> dt.date | None:
    """The date of the first submission (for payer A/R aging)."""
    return next((c.at for c in history if c.to_status is S.SUBMITTED), None)


def payer_claim_numbers(histories: Mapping[str, Sequence[StatusChange]]) -> dict[str, str]:
    """Payer claim number (277CA REF*1K, 835 CLP07) → our claim id, for matching CLP07."""
    out: dict[str, str] = {}
    for claim_id, history in histories.items():
        for change in history:
            if change.payer_claim_number:
                out[change.payer_claim_number] = claim_id
    return out


class _Updater:
    def __init__(self, histories: Mapping[str, Sequence[StatusChange]], at: dt.date) -> None:
        self.histories = histories
        self.at = at
        self.current: dict[str, ClaimStatus] = {}
        self.changes: list[StatusChange] = []
        self.problems: list[StatusProblem] = []

    def status(self, claim_id: str) -> ClaimStatus:
        if claim_id not in self.current:
            self.current[claim_id] = current_status(self.histories.get(claim_id, ()))
        return self.current[claim_id]

    def move(self, claim_id: str, to: ClaimStatus, cause: Cause, payer_claim_number: str | None = None) -> None:
        now = self.status(claim_id)
        if now == to:
            return
        if not can_transition(now, to):
            self.problems.append(
                StatusProblem(claim_id, f"{cause.kind} {cause.reference}: a {now} claim cannot become {to}")
            )
            return
        self.changes.append(
            StatusChange(
                claim_id=claim_id,
                from_status=now,
                to_status=to,
                at=self.at,
                cause=cause,
                payer_claim_number=payer_claim_number,
            )
        )
        self.current[claim_id] = to

    def result(self) -> StatusUpdate:
        return StatusUpdate(tuple(self.changes), tuple(self.problems))


_REJECTED_ACK = frozenset(
    {AckStatus.REJECTED, AckStatus.MESSAGE_AUTH_FAILED, AckStatus.FAILED_CONTENT, AckStatus.FAILED_CRYPTO}
)


def changes_from_999(
    ack: FunctionalAck,
    submissions: Iterable[Submission],
    histories: Mapping[str, Sequence[StatusChange]],
    *,
    at: dt.date,
) -> StatusUpdate:
    """Accept or reject every claim of each acknowledged transaction set.

    A transaction set answered A or E is accepted; R (or M/W/X) rejects all its claims. When the
    group is rejected (AK9 R) without AK2 detail, every transaction set of the group is rejected.
    A transaction set we have no record of is reported as a problem.
    """
    update = _Updater(histories, at)
    by_st = {s.transaction_control_number: s for s in submissions if s.group_control_number == ack.group_control_number}
    answers: list[tuple[str, AckStatus, str | None]] = [
        (t.control_number, t.status, "; ".join(t.errors) or None) for t in ack.transactions
    ]
    if not answers and ack.status in _REJECTED_ACK:
        answers = [(st, ack.status, "functional group rejected (AK9)") for st in by_st]
    for st02, status, detail in answers:
        sub = by_st.get(st02)
        if sub is None:
            update.problems.append(
                StatusProblem(None, f"999 for GS06 {ack.group_control_number} ST02 {st02}: no such submission")
            )
            continue
        cause = Cause(kind=CauseKind.ACK_999, reference=f"{ack.group_control_number}/{st02}", detail=detail)
        to = S.REJECTED if status in _REJECTED_ACK else S.ACCEPTED
        for claim_id in sub.claim_ids:
            update.move(claim_id, to, cause)
    return update.result()


def changes_from_277ca(
    acks: Iterable[ClaimAck], histories: Mapping[str, Sequence[StatusChange]], *, at: dt.date
) -> StatusUpdate:
    """Accept or reject individual claims (277CA 2200D); keeps the payer claim number (REF*1K)."""
    update = _Updater(histories, at)
    for ack in acks:
        claim_id = ack.patient_control_number
        if claim_id not in histories:
            update.problems.append(StatusProblem(None, f"277CA {ack.category}:{ack.status} for an unknown claim"))
            continue
        cause = Cause(
            kind=CauseKind.ACK_277CA,
            reference=f"{ack.category}:{ack.status}",
            detail="; ".join(ack.messages) or None,
        )
        to = S.ACCEPTED if ack.accepted else S.REJECTED
        if to is S.ACCEPTED and update.status(claim_id) in (ADJUDICATED | {S.ACCEPTED}):
            continue  # a late acknowledgment of a claim already answered
        update.move(claim_id, to, cause, payer_claim_number=ack.payer_claim_number)
    return update.result()


def changes_from_posting(
    plan: PostingPlan, histories: Mapping[str, Sequence[StatusChange]], *, at: dt.date
) -> StatusUpdate:
    """Move each claim a posted 835 claim payment adjudicated to its outcome (in CLP order)."""
    from medbill.ledger.posting import Disposition

    update = _Updater(histories, at)
    for payment in plan.payments:
        if payment.disposition is not Disposition.POST or payment.claim_id is None or payment.outcome is None:
            continue
        cause = Cause(
            kind=CauseKind.REMITTANCE,
            reference=f"{plan.payer_trace_id}/{plan.trace}#{payment.position}",
            detail=f"CLP02 {payment.status.value}",
        )
        update.move(payment.claim_id, payment.outcome, cause, payer_claim_number=payment.payer_claim_number)
    return update.result()

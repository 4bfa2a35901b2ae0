"""The claim status state machine and the changes 999s, 277CAs and 835s cause."""

from __future__ import annotations

import datetime as dt

import pytest

from medbill.core.claim import ClaimFrequency
from medbill.core.remit import AckStatus, ClaimAck, FunctionalAck, TransactionAck
from medbill.ledger.actions import charge_batch
from medbill.ledger.memory import InMemoryLedger
from medbill.ledger.posting import plan_posting
from medbill.ledger.status import (
    TRANSITIONS,
    Cause,
    CauseKind,
    ClaimStatus,
    StatusChange,
    StatusError,
    Submission,
    allowed_frequencies,
    changes_from_277ca,
    changes_from_999,
    changes_from_posting,
    current_status,
    next_frequency,
    payer_claim_numbers,
    submit,
    transition,
    was_adjudicated,
)
from tests.ledger.builders import cas, clp, office, office_paid, remit

DAY = dt.date(2025, 3, 12)
USER = Cause(kind=CauseKind.USER, reference="act-1", user="biller")


def _submitted(claim_id: str) -> list[StatusChange]:
    history: list[StatusChange] = []
    history.append(transition(history, ClaimStatus.READY, claim_id=claim_id, at=DAY, cause=USER))
    history.append(submit(history, claim_id=claim_id, at=DAY, cause=USER, frequency=ClaimFrequency.ORIGINAL))
    return history


def test_every_status_has_transitions_and_closed_can_reopen() -> None:
    assert set(TRANSITIONS) == set(ClaimStatus)
    assert ClaimStatus.APPEALED in TRANSITIONS[ClaimStatus.CLOSED]
    assert ClaimStatus.PAID not in TRANSITIONS[ClaimStatus.DRAFT]


def test_transition_refuses_a_jump() -> None:
    with pytest.raises(StatusError, match="draft claim cannot become paid"):
        transition([], ClaimStatus.PAID, claim_id="C1", at=DAY, cause=USER)
    assert current_status([]) is ClaimStatus.DRAFT


def test_999_rejects_every_claim_of_the_rejected_transaction_set() -> None:
    histories = {c: _submitted(c) for c in ("A", "B", "C")}
    submissions = [
        Submission(group_control_number="77", transaction_control_number="0001", claim_ids=("A", "B")),
        Submission(group_control_number="77", transaction_control_number="0002", claim_ids=("C",)),
    ]
    ack = FunctionalAck(
        group_control_number="77",
        functional_id="HC",
        status=AckStatus.PARTIAL,
        transactions=(
            TransactionAck(transaction_id="837", control_number="0001", status=AckStatus.REJECTED, errors=("IK304=8",)),
            TransactionAck(transaction_id="837", control_number="0002", status=AckStatus.ACCEPTED),
        ),
    )
    update = changes_from_999(ack, submissions, histories, at=DAY)
    assert {(c.claim_id, c.to_status) for c in update.changes} == {
        ("A", ClaimStatus.REJECTED),
        ("B", ClaimStatus.REJECTED),
        ("C", ClaimStatus.ACCEPTED),
    }
    assert all(c.cause.kind is CauseKind.ACK_999 for c in update.changes)
    assert update.changes[0].cause.reference == "77/0001" and update.changes[0].cause.detail == "IK304=8"
    assert update.problems == ()


def test_999_group_rejection_without_transaction_detail_rejects_the_group() -> None:
    histories = {c: _submitted(c) for c in ("A", "B")}
    submissions = [
        Submission(group_control_number="9", transaction_control_number="0001", claim_ids=("A",)),
        Submission(group_control_number="9", transaction_control_number="0002", claim_ids=("B",)),
        Submission(group_control_number="10", transaction_control_number="0001", claim_ids=("X",)),
    ]
    ack = FunctionalAck(group_control_number="9", functional_id="HC", status=AckStatus.REJECTED)
    update = changes_from_999(ack, submissions, histories, at=DAY)
    assert sorted(c.claim_id for c in update.changes) == ["A", "B"]


def test_999_for_an_unknown_transaction_set_is_a_problem() -> None:
    ack = FunctionalAck(
        group_control_number="9",
        functional_id="HC",
        status=AckStatus.ACCEPTED,
        transactions=(TransactionAck(transaction_id="837", control_number="0099", status=AckStatus.ACCEPTED),),
    )
    update = changes_from_999(ack, [], {}, at=DAY)
    assert update.changes == () and len(update.problems) == 1


def test_277ca_answers_single_claims_and_records_the_payer_claim_number() -> None:
    histories = {c: _submitted(c) for c in ("A", "B")}
    acks = [
        ClaimAck(patient_control_number="A", accepted=True, category="A2", status="20", payer_claim_number="ICN-A"),
        ClaimAck(patient_control_number="B", accepted=False, category="A7", status="21", messages=("MISSING NPI",)),
    ]
    update = changes_from_277ca(acks, histories, at=DAY)
    assert [(c.claim_id, c.to_status, c.cause.reference) for c in update.changes] == [
        ("A", ClaimStatus.ACCEPTED, "A2:20"),
        ("B", ClaimStatus.REJECTED, "A7:21"),
    ]
    full = {k: [*histories[k], *(c for c in update.changes if c.claim_id == k)] for k in histories}
    assert payer_claim_numbers(full) == {"ICN-A": "A"}


def test_front_end_rejection_is_resent_as_a_new_original() -> None:
    history = _submitted("B")
    history.append(transition(history, ClaimStatus.REJECTED, claim_id="B", at=DAY, cause=USER))
    history.append(transition(history, ClaimStatus.READY, claim_id="B", at=DAY, cause=USER))
    assert next_frequency(history) is ClaimFrequency.ORIGINAL
    with pytest.raises(StatusError, match="new original"):
        submit(history, claim_id="B", at=DAY, cause=USER, frequency=ClaimFrequency.REPLACEMENT)
    history.append(submit(history, claim_id="B", at=DAY, cause=USER, frequency=ClaimFrequency.ORIGINAL))
    assert current_status(history) is ClaimStatus.SUBMITTED


def test_adjudicated_claim_is_corrected_with_frequency_7_or_voided_with_8() -> None:
    claim = office()
    history = _submitted(claim.id)
    store = InMemoryLedger()
    store.append([charge_batch(claim, on=DAY)])
    plan = plan_posting(remit(office_paid()), {claim.id: claim}, store)
    update = changes_from_posting(plan, {claim.id: history}, at=dt.date(2025, 4, 15))
    [change] = update.changes
    assert change.to_status is ClaimStatus.PAID and change.cause.kind is CauseKind.REMITTANCE
    assert change.cause.reference == "1999999999/TRACE0001#0" and change.payer_claim_number == "ICN0001"
    history.append(change)
    assert was_adjudicated(history)
    assert allowed_frequencies(history) == {ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID}
    assert next_frequency(history) is ClaimFrequency.REPLACEMENT
    history.append(transition(history, ClaimStatus.CORRECTED, claim_id=claim.id, at=DAY, cause=USER))
    with pytest.raises(StatusError, match="replacement"):
        submit(history, claim_id=claim.id, at=DAY, cause=USER, frequency=ClaimFrequency.ORIGINAL)
    history.append(submit(history, claim_id=claim.id, at=DAY, cause=USER, frequency=ClaimFrequency.REPLACEMENT))
    assert history[-1].frequency is ClaimFrequency.REPLACEMENT


def test_denial_partial_payment_and_reversal_outcomes() -> None:
    claim = office()
    store = InMemoryLedger()
    denied = clp("TESTPCN0001", "327.50", "0", status="4", adjustments=[cas("CO", "50", "327.50")])
    plan = plan_posting(remit(denied), {claim.id: claim}, store)
    history = _submitted(claim.id)
    [change] = changes_from_posting(plan, {claim.id: history}, at=DAY).changes
    assert change.to_status is ClaimStatus.DENIED
    reversal_only = plan_posting(remit(office_paid(status="22", sign=-1)), {claim.id: claim}, store)
    assert changes_from_posting(reversal_only, {claim.id: history}, at=DAY).changes == ()


def test_a_payment_on_a_draft_claim_is_reported_not_applied() -> None:
    claim = office()
    plan = plan_posting(remit(office_paid()), {claim.id: claim}, InMemoryLedger())
    update = changes_from_posting(plan, {claim.id: []}, at=DAY)
    assert update.changes == ()
    assert "draft claim cannot become paid" in update.problems[0].message

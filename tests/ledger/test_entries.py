"""Entries, keys, user actions, the in-memory store and the invariant checks."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from medbill.ledger.actions import (
    charge_batch,
    charge_correction_batch,
    correction,
    payment_plan_installment,
    refund,
    transfer,
    write_off,
)
from medbill.ledger.balances import claim_balances, ledger_problems, patient_balances, payer_balances
from medbill.ledger.entries import (
    PATIENT,
    Category,
    EntryKind,
    LedgerError,
    PostingKey,
    SkipReason,
    category_of,
    is_patient,
    payer_id_of,
    payer_party,
)
from medbill.ledger.memory import InMemoryLedger
from tests.ledger.builders import D, office

DAY = dt.date(2025, 3, 10)
PAYER = payer_party("TESTCI001")


def test_posting_key_text_escapes_and_trace() -> None:
    key = PostingKey.remittance(
        payer_trace_id="1999999999", trace="T|1", patient_control_number="A\\B", payer_claim_number=None,
        status="1", position=3,
    )  # fmt: skip
    assert key.text == "835|1999999999|T\\|1|A\\\\B||1|3"
    assert key.trace == ("1999999999", "T|1")
    assert len(key.digest) == 16 and set(key.digest) <= set("0123456789abcdef")
    assert PostingKey.charge("X").trace is None
    assert PostingKey.action("x") != PostingKey.charge("x")


def test_parties_and_categories() -> None:
    assert payer_party("P1") == "payer:P1" and payer_id_of("payer:P1") == "P1" and payer_id_of(PATIENT) is None
    assert is_patient(PATIENT) and not is_patient(PAYER)
    assert category_of(EntryKind.REVERSAL, EntryKind.PAYER_PAYMENT) is Category.PAYMENT
    assert category_of(EntryKind.PLB_INTEREST) is Category.PROVIDER
    assert category_of(EntryKind.PATIENT_RESPONSIBILITY) is Category.TRANSFER
    with pytest.raises(LedgerError):
        category_of(EntryKind.REVERSAL)
    assert {category_of(k) for k in EntryKind if k not in (EntryKind.REVERSAL, EntryKind.CORRECTION)} == set(Category)


def test_user_actions_are_exactly_once_by_action_id() -> None:
    claim = office()
    store = InMemoryLedger()
    store.append([charge_batch(claim, on=DAY)])
    pay = payment_plan_installment(
        action_id="inst-1", user="desk", claim_id=claim.id, amount=D("25.00"), on=DAY, plan_id="PLAN7"
    )
    assert store.append([pay]).appended == (pay.key,)
    again = store.append([pay])
    assert again.appended == () and again.skipped[0].reason is SkipReason.ALREADY_POSTED
    assert claim_balances(store.entries())[claim.id].patient == D("-25.00")
    assert store.entries()[-1].reference == "PLAN7"
    assert len(store) == 2


def test_transfers_refunds_write_offs_and_corrections_keep_the_invariant() -> None:
    claim = office()
    store = InMemoryLedger()
    store.append([charge_batch(claim, on=DAY)])
    store.append(
        [
            transfer(
                action_id="t1",
                user="u",
                claim_id=claim.id,
                from_party=PAYER,
                to_party=PATIENT,
                amount=D("50.00"),
                on=DAY,
            ),
            write_off(
                action_id="w1",
                user="u",
                claim_id=claim.id,
                party=PATIENT,
                amount=D("4.99"),
                on=DAY,
                approved_by="manager",
                reason="small balance",
            ),
            refund(action_id="r1", user="u", claim_id=claim.id, party=PAYER, amount=D("10.00"), on=DAY),
            correction(
                action_id="c1",
                user="u",
                claim_id=claim.id,
                party=PAYER,
                of_kind=EntryKind.CONTRACTUAL_ADJUSTMENT,
                amount=D("-3.00"),
                on=DAY,
                memo="missed CO 45",
            ),
        ]
    )
    totals = claim_balances(store.entries())[claim.id]
    assert totals.charges == D("327.50")
    assert totals.payments == D("-10.00")  # a refund is negative cash
    assert totals.adjustments == D("7.99")
    assert totals.patient == D("45.01")
    assert totals.party(PAYER) == D("327.50") - D("50.00") + D("10.00") - D("3.00")
    assert totals.charges == totals.payments + totals.adjustments + totals.open
    assert ledger_problems(store.entries()) == []
    assert patient_balances(store.entries(), {claim.id: "P1"}) == {"P1": D("45.01")}
    assert payer_balances(store.entries())[PAYER].claims_open == D("284.50")


def test_charge_correction_posts_the_differences() -> None:
    old = office()
    new = dataclasses.replace(old, lines=(dataclasses.replace(old.lines[0], charge=D("200.00")), old.lines[1]))
    batch = charge_correction_batch(old, new, action_id="cc1", user="u", on=DAY)
    [entry] = batch.entries
    assert (entry.kind, entry.of_kind, entry.line_number, entry.amount) == (
        EntryKind.CORRECTION,
        EntryKind.CHARGE,
        1,
        D("15.00"),
    )


def test_bad_actions_raise() -> None:
    with pytest.raises(LedgerError):
        write_off(
            action_id="w", user="u", claim_id="C", party=PATIENT, amount=D("1.00"), on=DAY, approved_by="", reason="x"
        )
    with pytest.raises(LedgerError):
        refund(action_id="r", user="u", claim_id="C", party=PATIENT, amount=D("1.005"), on=DAY)
    with pytest.raises(LedgerError):
        refund(action_id="r", user="u", claim_id="C", party=PATIENT, amount=D("-1.00"), on=DAY)
    with pytest.raises(LedgerError):
        transfer(action_id="t", user="u", claim_id="C", from_party=PATIENT, to_party=PATIENT, amount=D("1.00"), on=DAY)
    with pytest.raises(LedgerError):
        correction(action_id="c", user="u", claim_id="C", party=PATIENT, of_kind=EntryKind.PATIENT_RESPONSIBILITY,
                   amount=D("1.00"), on=DAY, memo="m")  # fmt: skip
    with pytest.raises(LedgerError):
        refund(action_id="", user="u", claim_id="C", party=PATIENT, amount=D("1.00"), on=DAY)


def test_ledger_problems_reports_every_broken_invariant() -> None:
    claim = office()
    charge = charge_batch(claim, on=DAY).entries[0]
    xfer = transfer(
        action_id="t", user="u", claim_id=claim.id, from_party=PAYER, to_party=PATIENT, amount=D("5.00"), on=DAY
    )
    broken = [
        charge,
        charge,  # duplicate id
        dataclasses.replace(charge, id="x1", amount=D("1.001")),  # sub-cent
        xfer.entries[0],  # half a transfer: invariant and transfer both broken
        dataclasses.replace(charge, id="x2", kind=EntryKind.PATIENT_PAYMENT, party=PATIENT, amount=D("5.00")),  # sign
        dataclasses.replace(charge, id="x3", kind=EntryKind.PLB_INTEREST),  # PLB on a claim
        dataclasses.replace(charge, id="x4", kind=EntryKind.REVERSAL),  # reversal without of_kind
        dataclasses.replace(charge, id="x5", kind=EntryKind.PATIENT_RESPONSIBILITY, group="CO"),
    ]
    codes = sorted(p.code for p in ledger_problems(broken))
    assert codes == sorted(
        [
            "duplicate_id",
            "sub_cent",
            "transfer_unbalanced",
            "claim_invariant",
            "sign",
            "kind",
            "kind",
            "kind",
            "transfer_unbalanced",
        ]
    )

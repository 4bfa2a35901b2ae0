"""Posting 835 claim payments: matching, exactly-once, duplicates, reversals, PLB, holds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal

import pytest

from medbill.core.claim import Claim
from medbill.ledger.actions import charge_batch
from medbill.ledger.balances import claim_balances, ledger_problems, line_balances, payer_balances
from medbill.ledger.entries import PATIENT, EntryKind, LedgerError, SkipReason, payer_party
from medbill.ledger.memory import InMemoryLedger
from medbill.ledger.posting import (
    ClaimMatchMethod,
    Disposition,
    MatchMethod,
    UnmatchedKind,
    apply,
    match_services,
    plan_posting,
    release_duplicates,
)
from medbill.ledger.status import ClaimStatus
from tests.ledger.builders import D, cas, clp, dependent, office, office_paid, plb, remit, svc

PAYER = payer_party("TESTCI001")


def _ledger(*claims: Claim) -> InMemoryLedger:
    store = InMemoryLedger()
    store.append([charge_batch(c, on=dt.date(2025, 3, 10)) for c in claims])
    return store


def test_posts_a_paid_claim_by_line_control_number() -> None:
    claim = office()
    store = _ledger(claim)
    plan = plan_posting(remit(office_paid()), {claim.id: claim}, store)
    [payment] = plan.payments
    assert payment.disposition is Disposition.POST
    assert payment.matched_by is ClaimMatchMethod.PATIENT_CONTROL_NUMBER
    assert [m.method for m in payment.lines] == [MatchMethod.CONTROL_NUMBER] * 2
    assert payment.outcome is ClaimStatus.PAID
    result = apply(plan, store)
    assert result.appended == (payment.key,)
    totals = claim_balances(store.entries())[claim.id]
    assert totals.charges == D("327.50")
    assert totals.payments == D("172.00")
    assert totals.adjustments == D("117.50")  # CO 45
    assert totals.party(PAYER) == 0
    assert totals.patient == D("38.00")  # PR 3 20 + PR 2 18
    assert totals.open == D("38.00")
    lines = line_balances(store.entries())
    assert lines[(claim.id, 1)].patient == D("20.00")
    assert lines[(claim.id, 2)].patient == D("18.00")
    assert ledger_problems(store.entries()) == []
    kinds = {e.kind for e in store.entries() if e.key == payment.key}
    assert kinds == {EntryKind.PAYER_PAYMENT, EntryKind.CONTRACTUAL_ADJUSTMENT, EntryKind.PATIENT_RESPONSIBILITY}


def test_the_same_835_renamed_or_resent_changes_nothing() -> None:
    claim = office()
    store = _ledger(claim)
    apply(plan_posting(remit(office_paid()), {claim.id: claim}, store), store)
    before = store.entries()
    resent = remit(office_paid(), st02="0417", isa13="000000999")  # another file, same payment
    plan = plan_posting(resent, {claim.id: claim}, store)
    assert plan.changes_nothing
    assert [p.disposition for p in plan.payments] == [Disposition.ALREADY_POSTED]
    assert apply(plan, store).appended == ()
    assert store.entries() == before


def test_a_stale_plan_applied_twice_appends_once_and_reports_the_skip() -> None:
    claim = office()
    store = _ledger(claim)
    plan = plan_posting(remit(office_paid()), {claim.id: claim}, store)
    assert len(apply(plan, store).appended) == 1
    again = apply(plan, store)
    assert again.appended == ()
    assert [s.reason for s in again.skipped] == [SkipReason.ALREADY_POSTED]


def test_two_concurrent_posters_post_once() -> None:
    claim = office()
    store = _ledger(claim)
    plans = [plan_posting(remit(office_paid()), {claim.id: claim}, store) for _ in range(8)]
    results = []
    barrier = threading.Barrier(len(plans))

    def post(p: object) -> None:
        barrier.wait()
        results.append(apply(p, store))  # type: ignore[arg-type]

    threads = [threading.Thread(target=post, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.appended) for r in results) == 1
    assert sum(len(r.skipped) for r in results) == 7
    assert claim_balances(store.entries())[claim.id].payments == D("172.00")


def test_reissue_under_a_new_trace_is_a_suspected_duplicate_until_released() -> None:
    claim = office()
    store = _ledger(claim)
    apply(plan_posting(remit(office_paid()), {claim.id: claim}, store), store)
    reissued = remit(office_paid(), trace="TRACE0002")
    plan = plan_posting(reissued, {claim.id: claim}, store)
    [dup] = plan.suspected_duplicates
    assert dup.earlier and dup.earlier[0].parts[1] == "TRACE0001"
    assert plan.batches == ()
    assert apply(plan, store).appended == ()
    released = release_duplicates(plan, [dup.key])
    assert len(apply(released, store).appended) == 1
    assert claim_balances(store.entries())[claim.id].payments == D("344.00")


def test_store_refuses_a_duplicate_content_batch_planned_before_the_first_was_posted() -> None:
    claim = office()
    store = _ledger(claim)
    first = plan_posting(remit(office_paid()), {claim.id: claim}, store)
    second = plan_posting(remit(office_paid(), trace="TRACE0002"), {claim.id: claim}, store)
    assert second.batches  # planned against the same snapshot: looked fine
    apply(first, store)
    result = apply(second, store)
    assert [s.reason for s in result.skipped] == [SkipReason.SUSPECTED_DUPLICATE]


def test_reversal_and_correction_in_one_835_both_post_and_net_to_the_correction() -> None:
    claim = office()
    store = _ledger(claim)
    apply(plan_posting(remit(office_paid()), {claim.id: claim}, store), store)
    correction = clp(
        "TESTPCN0001",
        "327.50",
        "190.00",
        [
            svc("99214", "185.00", "100.00", cas("CO", "45", "65.00"), cas("PR", "3", "20.00"), control="TESTLINE0001"),
            svc("20610", "142.50", "90.00", cas("CO", "45", "52.50"), control="TESTLINE0002"),
        ],
        icn="ICN0002",
    )
    r2 = remit(office_paid(status="22", sign=-1), correction, trace="TRACE0002")
    plan = plan_posting(r2, {claim.id: claim}, store)
    assert [p.disposition for p in plan.payments] == [Disposition.POST, Disposition.POST]
    reversal, corrected = plan.payments
    assert (
        reversal.reverses
        == plan_posting(remit(office_paid()), {claim.id: claim}, InMemoryLedger()).payments[0].fingerprint
    )
    assert reversal.outcome is None and corrected.outcome is ClaimStatus.PAID
    apply(plan, store)
    totals = claim_balances(store.entries())[claim.id]
    assert totals.payments == D("190.00")
    assert totals.adjustments == D("117.50")
    assert totals.patient == D("20.00")
    assert totals.party(PAYER) == 0
    reversal_entries = [e for e in store.entries() if e.kind is EntryKind.REVERSAL]
    assert {e.of_kind for e in reversal_entries} == {
        EntryKind.PAYER_PAYMENT,
        EntryKind.CONTRACTUAL_ADJUSTMENT,
        EntryKind.PATIENT_RESPONSIBILITY,
    }
    assert ledger_problems(store.entries()) == []


def test_a_reversed_payment_reissued_identically_is_not_a_duplicate() -> None:
    claim = office()
    store = _ledger(claim)
    apply(plan_posting(remit(office_paid()), {claim.id: claim}, store), store)
    apply(plan_posting(remit(office_paid(status="22", sign=-1), trace="VOID1"), {claim.id: claim}, store), store)
    assert claim_balances(store.entries())[claim.id].party(PAYER) == D("327.50")
    plan = plan_posting(remit(office_paid(), trace="REISSUE1"), {claim.id: claim}, store)
    assert [p.disposition for p in plan.payments] == [Disposition.POST]
    apply(plan, store)
    assert claim_balances(store.entries())[claim.id].party(PAYER) == 0
    # ... but a second reissue while that one is live is a duplicate again
    plan = plan_posting(remit(office_paid(), trace="REISSUE2"), {claim.id: claim}, store)
    assert [p.disposition for p in plan.payments] == [Disposition.SUSPECTED_DUPLICATE]


def test_match_by_payer_claim_number_when_clp01_is_unknown() -> None:
    claim = office()
    store = _ledger(claim)
    payment = office_paid(pcn="TRUNCATEDPCN", icn="ICN7777")
    plan = plan_posting(remit(payment), {claim.id: claim}, store, payer_claim_numbers={"ICN7777": claim.id})
    assert plan.payments[0].matched_by is ClaimMatchMethod.PAYER_CLAIM_NUMBER
    assert plan.payments[0].claim_id == claim.id


def test_unmatched_claim_payment_is_listed_never_dropped() -> None:
    claim = office()
    store = _ledger(claim)
    plan = plan_posting(remit(office_paid(pcn="NOSUCHCLAIM")), {claim.id: claim}, store)
    [payment] = plan.payments
    assert payment.disposition is Disposition.UNMATCHED
    [item] = plan.unmatched
    assert item.kind is UnmatchedKind.CLAIM and item.amount == D("172.00") and item.claim_position == 0
    assert "CLP07" in item.reason
    assert plan.batches == ()


def test_line_match_by_submitted_code_then_code_date_charge() -> None:
    claim = dependent()
    d = dt.date(2025, 4, 2)
    payment = clp(
        "TESTPCN0002",
        "420.25",
        "200.00",
        [
            # the payer re-coded 99213 to 99212 (SVC06 = what we sent)
            svc("99212", "120.00", "50.00", cas("CO", "45", "70.00"), submitted="99213", on=d),
            svc("12011", "210.00", "100.00", cas("CO", "45", "110.00"), on=d),
            svc("90715", "65.25", "30.00", cas("CO", "45", "35.25"), on=d),
            svc("90471", "25.00", "20.00", cas("CO", "45", "5.00"), on=d),
        ],
    )
    matches = match_services(payment, claim)
    assert [(m.line_numbers, m.method) for m in matches] == [
        ((1,), MatchMethod.SUBMITTED_CODE),
        ((2,), MatchMethod.CODE_DATE_CHARGE),
        ((3,), MatchMethod.CODE_DATE_CHARGE),
        ((4,), MatchMethod.CODE_DATE_CHARGE),
    ]
    store = _ledger(claim)
    apply(plan_posting(remit(payment), {claim.id: claim}, store), store)
    lines = line_balances(store.entries())
    assert all(lines[(claim.id, n)].open == 0 for n in (1, 2, 3, 4))


def test_split_line_and_bundled_lines() -> None:
    claim = dependent()
    d = dt.date(2025, 4, 2)
    payment = clp(
        "TESTPCN0002",
        "420.25",
        "180.00",
        [
            # line 2 (12011, 210.00) split in two SVCs
            svc("12011", "150.00", "80.00", cas("CO", "45", "70.00"), on=d),
            svc("12011", "60.00", "20.00", cas("CO", "45", "40.00"), on=d),
            # lines 3 + 4 (65.25 + 25.00) bundled into one SVC under another code
            svc("90460", "90.25", "60.00", cas("CO", "45", "30.25"), on=d),
            svc("99213", "120.00", "20.00", cas("CO", "45", "100.00"), on=d),
        ],
    )
    matches = match_services(payment, claim)
    assert [(m.line_numbers, m.method) for m in matches] == [
        ((2,), MatchMethod.CODE_DATE_CHARGE),
        ((2,), MatchMethod.CODE_DATE_CHARGE),
        ((3, 4), MatchMethod.BUNDLED),
        ((1,), MatchMethod.CODE_DATE_CHARGE),
    ]
    store = _ledger(claim)
    apply(plan_posting(remit(payment), {claim.id: claim}, store), store)
    lines = line_balances(store.entries())
    assert lines[(claim.id, 2)].payments == D("100.00")
    # the bundled SVC's 60.00 split by charge: 65.25 / 90.25 and 25 / 90.25
    assert lines[(claim.id, 3)].payments == D("43.37")
    assert lines[(claim.id, 4)].payments == D("16.63")
    assert all(lines[(claim.id, n)].open == 0 for n in (1, 2, 3, 4))
    assert ledger_problems(store.entries()) == []


def test_unmatched_service_posts_at_claim_level_and_is_listed() -> None:
    claim = office()
    store = _ledger(claim)
    payment = clp(
        "TESTPCN0001",
        "327.50",
        "150.00",
        [
            svc("99214", "185.00", "100.00", cas("CO", "45", "85.00"), control="TESTLINE0001"),
            svc("99999", "142.50", "50.00", cas("CO", "45", "92.50")),  # nothing like it on the claim
        ],
    )
    plan = plan_posting(remit(payment), {claim.id: claim}, store)
    [item] = plan.unmatched
    assert item.kind is UnmatchedKind.SERVICE and item.service_position == 1 and item.amount == D("50.00")
    apply(plan, store)
    lines = line_balances(store.entries())
    assert lines[(claim.id, None)].payments == D("50.00")
    assert lines[(claim.id, 2)].open == D("142.50")
    assert claim_balances(store.entries())[claim.id].open == 0


def test_denied_claim_without_services_is_spread_over_the_lines_as_denials() -> None:
    claim = office()
    store = _ledger(claim)
    denied = clp("TESTPCN0001", "327.50", "0", status="4", adjustments=[cas("CO", "27", "327.50")])
    plan = plan_posting(remit(denied), {claim.id: claim}, store)
    [payment] = plan.payments
    assert payment.outcome is ClaimStatus.DENIED
    assert payment.lines[-1].method is MatchMethod.ALLOCATED
    apply(plan, store)
    lines = line_balances(store.entries())
    assert lines[(claim.id, 1)].adjustments == D("185.00")
    assert lines[(claim.id, 2)].adjustments == D("142.50")
    assert {e.kind for e in store.entries() if e.key == payment.key} == {EntryKind.DENIAL}


def test_line_denial_with_payment_elsewhere_is_partially_paid() -> None:
    claim = office()
    store = _ledger(claim)
    payment = clp(
        "TESTPCN0001",
        "327.50",
        "120.00",
        [
            svc("99214", "185.00", "120.00", cas("CO", "45", "65.00"), control="TESTLINE0001"),
            svc("20610", "142.50", "0", cas("CO", "97", "142.50"), control="TESTLINE0002"),
        ],
    )
    plan = plan_posting(remit(payment), {claim.id: claim}, store)
    assert plan.payments[0].outcome is ClaimStatus.PARTIALLY_PAID
    apply(plan, store)
    kinds = {(e.line_number, e.kind) for e in store.entries() if e.key == plan.payments[0].key}
    assert (2, EntryKind.DENIAL) in kinds and (1, EntryKind.CONTRACTUAL_ADJUSTMENT) in kinds


def test_out_of_balance_claim_payment_is_held() -> None:
    claim = office()
    store = _ledger(claim)
    bad = dataclasses.replace(office_paid(), paid=D("170.00"))
    plan = plan_posting(remit(bad), {claim.id: claim}, store)
    [payment] = plan.payments
    assert payment.disposition is Disposition.ON_HOLD and "CLP03" in (payment.reason or "")
    assert plan.batches == ()


def test_key_reused_with_other_content_is_held() -> None:
    claim = office()
    store = _ledger(claim)
    apply(plan_posting(remit(office_paid()), {claim.id: claim}, store), store)
    changed = clp(
        "TESTPCN0001",
        "327.50",
        "0",
        status="1",
        adjustments=[cas("CO", "45", "327.50")],
    )
    plan = plan_posting(remit(changed), {claim.id: claim}, store)
    assert plan.payments[0].disposition is Disposition.ON_HOLD
    assert "different content" in (plan.payments[0].reason or "")


def test_provider_level_adjustments_post_without_a_claim() -> None:
    claim = office()
    store = _ledger(claim)
    r = remit(
        office_paid(),
        plbs=[
            plb("WO", "40.00", "ICN0001"),  # take-back of an earlier overpayment on our claim
            plb("L6", "-2.15"),  # interest paid to us
            plb("FB", "15.00", "FB0001"),
            plb("72", "10.00", "NOTOURS"),  # authorized return naming no claim of ours
        ],
    )
    plan = plan_posting(r, {claim.id: claim}, store, payer_claim_numbers={"ICN0001": claim.id})
    assert [p.reason_code for p in plan.provider] == ["WO", "L6", "FB", "72"]
    assert plan.provider[0].related_claim_id == claim.id
    assert [u.kind for u in plan.unmatched] == [UnmatchedKind.PLB_REFERENCE]
    assert plan.problems == ()
    apply(plan, store)
    plb_entries = [e for e in store.entries() if e.plb_reason]
    assert all(e.claim_id is None for e in plb_entries)
    assert {e.kind for e in plb_entries} == {
        EntryKind.PLB_TAKEBACK,
        EntryKind.PLB_INTEREST,
        EntryKind.PLB_FORWARD_BALANCE,
    }
    balance = payer_balances(store.entries())[PAYER]
    assert (balance.takebacks, balance.interest, balance.forward_balance) == (D("50.00"), D("-2.15"), D("15.00"))
    # cash: payer payments + PLB reconcile to BPR02
    cash = -sum(e.amount for e in store.entries() if e.base_kind is EntryKind.PAYER_PAYMENT) - sum(
        e.amount for e in plb_entries
    )
    assert cash == r.payment_amount == D("109.15")
    assert claim_balances(store.entries())[claim.id].party(PAYER) == 0
    assert ledger_problems(store.entries()) == []
    # and the PLBs are exactly-once too
    assert plan_posting(r, {claim.id: claim}, store).changes_nothing


def test_not_our_claim_is_informational() -> None:
    claim = office()
    store = _ledger(claim)
    forwarded = clp("TESTPCN0001", "327.50", "0", status="23")
    plan = plan_posting(remit(forwarded), {claim.id: claim}, store)
    assert plan.payments[0].disposition is Disposition.INFORMATIONAL
    assert plan.batches == ()


def test_secondary_payment_skips_prior_payer_impact() -> None:
    claim = office()
    store = _ledger(claim)
    apply(plan_posting(remit(office_paid()), {claim.id: claim}, store), store)
    secondary_party = payer_party("TESTSEC01")
    from medbill.ledger.actions import transfer

    store.append(
        [
            transfer(
                action_id="xfer-1",
                user="biller",
                claim_id=claim.id,
                from_party=PATIENT,
                to_party=secondary_party,
                amount=D("38.00"),
                on=dt.date(2025, 4, 20),
            )
        ]
    )
    second = clp(
        "TESTPCN0001",
        "327.50",
        "38.00",
        status="2",
        adjustments=[cas("OA", "23", "289.50")],
        icn="SEC0001",
    )
    plan = plan_posting(
        remit(second, trace="SEC-TRACE", payer_id="TESTSEC01", payer_trace_id="1888888888"),
        {claim.id: claim},
        store,
        payer="TESTSEC01",
    )
    assert any("prior payer" in n for n in plan.notes)
    apply(plan, store)
    totals = claim_balances(store.entries())[claim.id]
    assert totals.party(secondary_party) == 0
    assert totals.open == 0
    assert ledger_problems(store.entries()) == []


def test_medicare_sequestration_and_coinsurance() -> None:
    claim = office()
    store = _ledger(claim)
    # allowed 100.00: coinsurance 20.00; 80.00 less 2 % sequestration (1.60) = 78.40 paid
    line = svc(
        "99214",
        "185.00",
        "78.40",
        cas("CO", "45", "85.00"),
        cas("CO", "253", "1.60"),
        cas("PR", "2", "20.00"),
        control="TESTLINE0001",
        allowed="100.00",
    )
    line2 = svc("20610", "142.50", "0", cas("CO", "45", "142.50"), control="TESTLINE0002")
    plan = plan_posting(remit(clp("TESTPCN0001", "327.50", "78.40", [line, line2])), {claim.id: claim}, store)
    assert plan.payments[0].outcome is ClaimStatus.PAID  # pricing only: no denial
    apply(plan, store)
    totals = claim_balances(store.entries())[claim.id]
    assert (totals.payments, totals.patient, totals.party(PAYER)) == (D("78.40"), D("20.00"), D("0.00"))


def test_missing_payment_date_needs_an_effective_date() -> None:
    claim = office()
    r = dataclasses.replace(remit(office_paid()), payment_date=None, production_date=None)
    with pytest.raises(LedgerError):
        plan_posting(r, {claim.id: claim}, InMemoryLedger())
    plan = plan_posting(r, {claim.id: claim}, InMemoryLedger(), effective=dt.date(2025, 4, 1))
    assert plan.effective == dt.date(2025, 4, 1)
    assert all(e.effective == dt.date(2025, 4, 1) for b in plan.batches for e in b.entries)


def test_split_claim_repeats_clp01_and_both_post() -> None:
    claim = office()
    store = _ledger(claim)
    part1 = clp(
        "TESTPCN0001",
        "185.00",
        "120.00",
        [svc("99214", "185.00", "120.00", cas("CO", "45", "65.00"), control="TESTLINE0001")],
        icn="ICNA",
    )
    part2 = clp(
        "TESTPCN0001",
        "142.50",
        "90.00",
        [svc("20610", "142.50", "90.00", cas("CO", "45", "52.50"), control="TESTLINE0002")],
        icn="ICNB",
    )
    plan = plan_posting(remit(part1, part2), {claim.id: claim}, store)
    assert [p.disposition for p in plan.payments] == [Disposition.POST, Disposition.POST]
    assert plan.payments[0].key != plan.payments[1].key
    apply(plan, store)
    assert claim_balances(store.entries())[claim.id].open == 0


def test_entry_ids_and_keys_carry_no_phi() -> None:
    claim = office()
    plan = plan_posting(remit(office_paid()), {claim.id: claim}, InMemoryLedger())
    for batch in plan.batches:
        assert claim.id not in batch.key.digest
        for e in batch.entries:
            assert claim.id not in e.id
    assert Decimal("0") == sum(
        e.amount for b in plan.batches for e in b.entries if e.kind is EntryKind.PATIENT_RESPONSIBILITY
    )

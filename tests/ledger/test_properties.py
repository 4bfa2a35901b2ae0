"""Property tests: random sequences of post / replay / reissue / reverse / correct / pay / adjust / refund.

Each sequence runs against the ledger (plan_posting + apply on the in-memory store, user actions)
and, in parallel, against a plain per-claim arithmetic model written here (charges, the live
adjudications with their paid / CO / PR / denied amounts, patient money, transfers). After every
step the ledger must agree with the model — the model never reads ledger entries:

- the payer's balance is charges − the live adjudication (0 after final adjudication);
- a reversal plus its correction nets to the correction (payments, contractual, denials);
- patient responsibility equals the PR adjustments of the live adjudications;
- never a double post: the number of batches is the model's count, replays and reissues add none;
- the ledger invariants hold (``ledger_problems`` is empty) and PLB interest is provider level.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from medbill.core.claim import Claim, ServiceLine
from medbill.core.codes import Code, CodeSystem
from medbill.core.remit import ClaimPayment, Remittance, ServicePayment
from medbill.ledger.actions import charge_batch, patient_payment, refund, transfer, write_off
from medbill.ledger.balances import claim_balances, ledger_problems, payer_balances
from medbill.ledger.entries import PATIENT, EntryKind, PostingBatch, payer_party
from medbill.ledger.memory import InMemoryLedger
from medbill.ledger.posting import apply, plan_posting
from tests.ledger.builders import cas, clp, office, plb, remit, svc

D = Decimal
ZERO = D("0.00")
CENT = D("0.01")
PAYER = payer_party("TESTCI001")
CODES = ("99213", "99214", "20610", "71046", "93000")
DOS = dt.date(2025, 3, 10)
RUNS: list[int] = []


@dataclass
class Adjudication:
    """What one payer CLP said, per line: paid, CO 45, PR (deductible+coinsurance+copay), CO 50 denied."""

    icn: str
    lines: dict[int, tuple[Decimal, Decimal, Decimal, Decimal]]
    clp: ClaimPayment

    def total(self, k: int) -> Decimal:
        return sum((v[k] for v in self.lines.values()), ZERO)


@dataclass
class ModelClaim:
    charges: dict[int, Decimal]
    live: list[Adjudication] = field(default_factory=list)
    patient_paid: Decimal = ZERO
    patient_refunded: Decimal = ZERO
    patient_written_off: Decimal = ZERO
    to_patient: Decimal = ZERO  # user transfers payer → patient
    payer_refunded: Decimal = ZERO

    @property
    def payer_balance(self) -> Decimal:
        used = sum((a.total(0) + a.total(1) + a.total(2) + a.total(3) for a in self.live), ZERO)
        return sum(self.charges.values(), ZERO) - used - self.to_patient + self.payer_refunded

    @property
    def patient_balance(self) -> Decimal:
        pr = sum((a.total(2) for a in self.live), ZERO)
        return pr + self.to_patient - self.patient_paid + self.patient_refunded - self.patient_written_off


@dataclass
class World:
    claims: dict[str, Claim]
    model: dict[str, ModelClaim]
    store: InMemoryLedger = field(default_factory=InMemoryLedger)
    remits: list[Remittance] = field(default_factory=list)
    batches: int = 0
    traces: int = 0
    icns: int = 0
    actions: int = 0
    interest: Decimal = ZERO
    last_action: PostingBatch | None = None
    adjudications: list[Adjudication] = field(default_factory=list)  # every one ever made
    # content fingerprint → how many live postings (mirrors "posted and not reversed")
    live_content: dict[tuple[object, ...], int] = field(default_factory=lambda: defaultdict(int))

    def trace(self) -> str:
        self.traces += 1
        return f"TRN{self.traces:05d}"

    def post(self, r: Remittance) -> None:
        plan = plan_posting(r, self.claims, self.store)
        for p in plan.payments:
            event(f"CLP {p.status.value}: {p.disposition.value}")
        for p in plan.payments:
            for match in p.lines:
                event(f"line match: {match.method}")
        apply(plan, self.store)


def _content(c: ClaimPayment) -> tuple[object, ...]:
    return (c.patient_control_number, c.payer_claim_number, c.status, c.charge, c.paid, c.services)


def _claims(draw_lines: list[list[int]], controls: list[bool]) -> dict[str, Claim]:
    base = office()
    out = {}
    for c, charges in enumerate(draw_lines):
        lines = tuple(
            ServiceLine(
                line_number=n + 1,
                procedure=Code.parse(CODES[n], system=CodeSystem.CPT),
                charge=(D(cents) / 100).quantize(CENT),
                service_date=DOS,
                control_number=f"L{c}{n}" if controls[(c + n) % len(controls)] else None,
            )
            for n, cents in enumerate(charges)
        )
        claim = dataclasses.replace(base, id=f"PCN{c}", lines=lines)
        out[claim.id] = claim
    return out


def _cents(rng: random.Random, top: Decimal) -> Decimal:
    return (D(rng.randint(0, int(top * 100))) / 100).quantize(CENT)


def _adjudication(world: World, claim: Claim, rng: random.Random) -> Adjudication:
    world.icns += 1
    icn = f"ICN{world.icns:05d}"
    lines: dict[int, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    services: list[ServicePayment] = []
    for ln in claim.lines:
        if rng.random() < 0.2:
            paid, co, pr, denied = ZERO, ZERO, ZERO, ln.charge
            adjs = [cas("CO", "50", str(denied))]
        else:
            allowed = _cents(rng, ln.charge)
            pr = _cents(rng, allowed)
            paid, co, denied = allowed - pr, ln.charge - allowed, ZERO
            ded = _cents(rng, pr)
            copay = _cents(rng, pr - ded)
            coins = pr - ded - copay
            adjs = [cas("CO", "45", str(co))] if co else []
            adjs += [cas("PR", reason, str(v)) for reason, v in (("1", ded), ("2", coins), ("3", copay)) if v]
        lines[ln.line_number] = (paid, co, pr, denied)
        control = ln.control_number
        if co > CENT and rng.random() < 0.3:  # the payer splits the line in two SVCs
            part = _cents(rng, co - CENT) + CENT
            first = [a if a.reason.value != "45" else cas("CO", "45", str(co - part)) for a in adjs]
            first = [a for a in first if a.amount]
            services.append(
                svc(CODES[ln.line_number - 1], str(ln.charge - part), str(paid), *first, control=control, on=DOS)
            )
            services.append(
                svc(CODES[ln.line_number - 1], str(part), "0", cas("CO", "45", str(part)), control=control, on=DOS)
            )
        else:
            services.append(svc(CODES[ln.line_number - 1], str(ln.charge), str(paid), *adjs, control=control, on=DOS))
    all_denied = all(v[3] for v in lines.values())
    total_paid = sum((v[0] for v in lines.values()), ZERO)
    payment = clp(
        claim.id, str(claim.total_charge), str(total_paid), services, status="4" if all_denied else "1", icn=icn
    )
    made = Adjudication(icn, lines, payment)
    world.adjudications.append(made)
    return made


def _negated(c: ClaimPayment) -> ClaimPayment:
    def neg_svc(s: ServicePayment) -> ServicePayment:
        return dataclasses.replace(
            s,
            charge=-s.charge,
            paid=-s.paid,
            adjustments=tuple(dataclasses.replace(a, amount=-a.amount) for a in s.adjustments),
        )

    return dataclasses.replace(
        c,
        status=type(c.status)("22"),
        charge=-c.charge,
        paid=-c.paid,
        patient_responsibility=-c.patient_responsibility,
        services=tuple(neg_svc(s) for s in c.services),
    )


def _step(world: World, op: str, a: int, b: int) -> None:
    rng = random.Random(b)
    ids = sorted(world.claims)
    claim_id = ids[a % len(ids)]
    claim, m = world.claims[claim_id], world.model[claim_id]
    if op == "adjudicate":
        if m.live:
            return  # a payer does not pay a claim twice without reversing first
        adj = _adjudication(world, claim, rng)
        plbs = [plb("L6", str(-(_cents(rng, D("5.00")) + CENT)))] if rng.random() < 0.3 else []
        r = remit(adj.clp, trace=world.trace(), plbs=plbs)
        world.post(r)
        world.remits.append(r)
        m.live.append(adj)
        world.live_content[_content(adj.clp)] += 1
        world.batches += 1 + len(plbs)
        world.interest += sum((p.amount for p in plbs), ZERO)
    elif op == "replay" and world.remits:
        old = world.remits[a % len(world.remits)]
        world.post(dataclasses.replace(old, control_number=f"R{b}", interchange_control_number=f"{b:09d}"))
    elif op == "reissue" and world.remits:
        old = world.remits[a % len(world.remits)]
        originals = [c for c in old.claims if c.status.value != "22"]
        if len(old.claims) != 1 or not originals:
            return
        [payment] = originals
        world.post(dataclasses.replace(old, trace_number=world.trace(), provider_adjustments=()))
        content = _content(payment)
        if world.live_content[content] > 0:
            return  # suspected duplicate: nothing posts
        # the same content had been reversed: a reissue posts again
        target = world.model[payment.patient_control_number]
        lines = next(x for x in world.adjudications if x.clp is payment).lines
        target.live.append(Adjudication(payment.payer_claim_number or "", lines, payment))
        world.live_content[content] += 1
        world.batches += 1
    elif op in ("reverse", "reverse_and_correct") and m.live:
        undone = m.live[-1]
        claims = [_negated(undone.clp)]
        new: Adjudication | None = None
        if op == "reverse_and_correct":
            new = _adjudication(world, claim, rng)
            claims.append(new.clp)
        r = remit(*claims, trace=world.trace())
        world.post(r)
        world.remits.append(r)
        m.live.remove(undone)
        world.live_content[_content(undone.clp)] -= 1
        world.batches += len(claims)
        if new is not None:
            m.live.append(new)
            world.live_content[_content(new.clp)] += 1
    elif op == "patient_pay":
        amount = _cents(rng, D("60.00")) + CENT
        world.actions += 1
        batch = patient_payment(action_id=f"A{world.actions}", user="desk", claim_id=claim_id, amount=amount, on=DOS)
        world.store.append([batch])
        world.last_action = batch
        m.patient_paid += amount
        world.batches += 1
    elif op == "action_replay" and world.last_action is not None:
        result = world.store.append([world.last_action])
        assert result.appended == ()
    elif op == "refund":
        world.actions += 1
        if m.patient_balance < 0:
            amount = -m.patient_balance
            batch = refund(
                action_id=f"A{world.actions}", user="u", claim_id=claim_id, party=PATIENT, amount=amount, on=DOS
            )
            m.patient_refunded += amount
        elif m.payer_balance < 0:
            amount = -m.payer_balance
            batch = refund(
                action_id=f"A{world.actions}", user="u", claim_id=claim_id, party=PAYER, amount=amount, on=DOS
            )
            m.payer_refunded += amount
        else:
            return
        world.store.append([batch])
        world.last_action = batch
        world.batches += 1
    elif op == "adjust":
        world.actions += 1
        if 0 < m.patient_balance <= D("10.00"):
            amount = m.patient_balance
            batch = write_off(
                action_id=f"A{world.actions}", user="u", claim_id=claim_id, party=PATIENT, amount=amount, on=DOS,
                approved_by="manager", reason="small balance",
            )  # fmt: skip
            m.patient_written_off += amount
        elif m.payer_balance > 0 and not m.live:
            amount = _cents(rng, m.payer_balance - CENT) + CENT
            batch = transfer(
                action_id=f"A{world.actions}", user="u", claim_id=claim_id, from_party=PAYER, to_party=PATIENT,
                amount=amount, on=DOS,
            )  # fmt: skip
            m.to_patient += amount
        else:
            return
        world.store.append([batch])
        world.last_action = batch
        world.batches += 1


def _check(world: World) -> None:
    entries = world.store.entries()
    assert ledger_problems(entries) == []
    assert len(world.store) == world.batches, "a double post (or a lost one)"
    totals = claim_balances(entries)
    for claim_id, m in world.model.items():
        t = totals[claim_id]
        assert t.party(PAYER) == m.payer_balance, claim_id
        assert t.patient == m.patient_balance, claim_id
        mine = [e for e in entries if e.claim_id == claim_id]

        def net(kind: EntryKind, party: str = PAYER, mine: list = mine) -> Decimal:  # type: ignore[type-arg]
            return sum((e.amount for e in mine if e.base_kind is kind and e.party == party), ZERO)

        assert -net(EntryKind.PAYER_PAYMENT) == sum((a.total(0) for a in m.live), ZERO)
        assert -net(EntryKind.CONTRACTUAL_ADJUSTMENT) == sum((a.total(1) for a in m.live), ZERO)
        assert net(EntryKind.PATIENT_RESPONSIBILITY, PATIENT) == sum((a.total(2) for a in m.live), ZERO)
        assert -net(EntryKind.DENIAL) == sum((a.total(3) for a in m.live), ZERO)
        if len(m.live) == 1 and not m.to_patient and not m.payer_refunded:
            assert t.party(PAYER) == 0, "payer balance after final adjudication"
        for number, charge in m.charges.items():
            line_payer = sum((e.amount for e in mine if e.line_number == number and e.party == PAYER), ZERO)
            assert line_payer == charge - sum((sum(a.lines[number], ZERO) for a in m.live), ZERO), (claim_id, number)
    assert payer_balances(entries).get(PAYER) is None or payer_balances(entries)[PAYER].interest == world.interest


OPS = (
    "adjudicate",
    "replay",
    "reissue",
    "reverse",
    "reverse_and_correct",
    "patient_pay",
    "action_replay",
    "refund",
    "adjust",
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.lists(st.integers(100, 50_000), min_size=1, max_size=3), min_size=1, max_size=3),
    controls=st.lists(st.booleans(), min_size=1, max_size=4),
    ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 1000), st.integers(0, 10**9)), min_size=1, max_size=18),
)
def _run(lines: list[list[int]], controls: list[bool], ops: list[tuple[str, int, int]]) -> None:
    claims = _claims(lines, controls)
    world = World(
        claims=claims,
        model={cid: ModelClaim({ln.line_number: ln.charge for ln in c.lines}) for cid, c in claims.items()},
    )
    world.store.append([charge_batch(c, on=DOS) for c in claims.values()])
    world.batches += len(claims)
    for op, a, b in ops:
        _step(world, op, a, b)
        _check(world)
    RUNS.append(len(ops))


def test_ledger_agrees_with_the_reference_model() -> None:
    RUNS.clear()
    _run()
    assert len(RUNS) >= 500, f"only {len(RUNS)} random sequences ran"

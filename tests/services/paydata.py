"""Test data for the payment services: a practice with payers and a patient, claim rows, 835 texts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from medbill.core.claim import Claim, ClaimKind, claim_to_dict, example_claims
from medbill.core.codes import Code, CodeSystem
from medbill.ledger.actions import charge_batch
from medbill.ledger.balances import claim_balances, ledger_problems
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database
from medbill.store.ledger_sql import SqlLedger
from medbill.x12.envelope import CounterControlNumbers
from medbill.x12.simulate import SimulationRules, simulate
from medbill.x12.write837 import build_837p
from tests.x12.test_write837 import SETTINGS, WHEN

D = Decimal
PAYERS = (("TEST COMMERCIAL HEALTH PLAN", "TESTCI001"), ("TEST MEDICARE PART B", "TESTMB001"), ("TEST PAYER", "X"))


def practice(db: Database, name: str = "TESTCLINIC") -> tuple[int, int, dict[str, int]]:
    """A practice with the example payers and one patient: (practice id, patient id, payer id -> row id)."""
    with db.write() as s:
        p = m.Practice(name=name)
        s.add(p)
        s.flush()
        payers = {}
        for payer_name, payer_id in PAYERS:
            row = m.Payer(practice_id=p.id, name=payer_name, payer_id=payer_id)
            s.add(row)
            s.flush()
            payers[payer_id] = row.id
        patient = m.Patient(
            practice_id=p.id, last_name="TESTPATIENT", first_name="ALPHA", birth_date=dt.date(1980, 1, 2)
        )
        s.add(patient)
        s.flush()
        return p.id, patient.id, payers


def biller(practice_id: int, role: Role = Role.BILLER) -> Actor:
    return Actor(user_id=None, role=role, practice_id=practice_id, source="test")


def insert_claims(
    db: Database,
    practice_id: int,
    patient_id: int,
    payers: dict[str, int],
    claims: Iterable[Claim],
    *,
    status: str = "submitted",
    charges: bool = True,
) -> dict[str, int]:
    """Claim rows (document = the claim's JSON form) and their charge entries: CLP01 -> claim row id."""
    out: dict[str, int] = {}
    with db.write() as s:
        rows = []
        for claim in claims:
            payer = payers.get(claim.coverage.payer.payer_id or "", payers["X"])
            row = m.ClaimRecord(
                practice_id=practice_id,
                patient_id=patient_id,
                payer_id=payer,
                kind=claim.kind.value,
                status=status,
                frequency=claim.frequency.value,
                patient_control_number=claim.id,
                total_charge=claim.total_charge,
                document=claim_to_dict(claim),
                submitted_at=dt.datetime(2025, 8, 1, 9, 30) if status != "draft" else None,
            )
            s.add(row)
            rows.append((claim, row))
        s.flush()
        ledger = SqlLedger(s, practice_id=practice_id, cipher=db.cipher)
        batches = []
        for claim, row in rows:
            out[claim.id] = row.id
            dates = [ln.service_date for ln in claim.lines if ln.service_date]
            if charges:
                batches.append(charge_batch(dataclasses.replace(claim, id=str(row.id)), on=min(dates or [WHEN.date()])))
        ledger.append(batches)
    return out


def office_claims(n: int, *, start: int = 1, prefix: str = "TESTPCN") -> list[Claim]:
    """``n`` copies of example claim 0 (99214-25 185.00 + 20610-59-RT 142.50) with their own numbers."""
    base = example_claims()[0]
    out = []
    for k in range(start, start + n):
        pcn = f"{prefix}{k:05d}"
        lines = tuple(dataclasses.replace(ln, control_number=f"{pcn}-{ln.line_number}") for ln in base.lines)
        out.append(dataclasses.replace(base, id=pcn, lines=lines))
    return out


def professional_examples() -> list[Claim]:
    return [c for c in example_claims() if c.kind is ClaimKind.PROFESSIONAL and c.frequency.value == "1"]


def simulated_835(claims: Sequence[Claim], rules: SimulationRules | None = None, *, seed: int = 7) -> str:
    """The payer simulator's 835 answering an 837P of ``claims``."""
    text = build_837p(list(claims), SETTINGS, CounterControlNumbers(), when=WHEN).text
    return simulate(text, rules or SimulationRules(reject_member_prefixes=()), seed=seed).remit_835


def make_835(trace: str, body: Sequence[str], *, isa13: str = "000000201", paid: str | None = None) -> str:
    """A hand-written 835 (X221A1) around ``body`` (LX/CLP/SVC ... /PLB segments): BPR02 and SE01 computed."""
    total = D("0")
    for seg in body:
        parts = seg.split("*")
        if parts[0] == "CLP":
            total += D(parts[4])
        elif parts[0] == "PLB":
            total -= sum((D(parts[i]) for i in range(4, len(parts), 2)), D("0"))
    amount = paid if paid is not None else f"{abs(total).normalize():f}"
    head = [
        "ST*835*0001",
        f"BPR*I*{amount}*{'C' if total >= 0 else 'D'}*CHK************20260415",
        f"TRN*1*{trace}*1512345678",
        "DTM*405*20260414",
        "N1*PR*MEDBILL TEST PAYER",
        "N3*100 PAYER WAY",
        "N4*SPRINGFIELD*IL*62701",
        "PER*BL*EDI SUPPORT*TE*8005550100",
        "N1*PE*MEDBILL TEST CLINIC*XX*1234567893",
        "REF*TJ*123456789",
    ]
    segments = [*head, *body]
    return (
        f"ISA*00*          *00*          *ZZ*MEDBILLPAYER   *ZZ*MEDBILLPROV    *260415*1200*^*00501*{isa13}*0*T*:~\n"
        f"GS*HP*MEDBILLPAYER*MEDBILLPROV*20260415*1200*{int(isa13)}*X*005010X221A1~\n"
        + "".join(s + "~\n" for s in segments)
        + f"SE*{len(segments) + 1}*0001~\nGE*1*{int(isa13)}~\nIEA*1*{isa13}~\n"
    )


def resend(text: str, isa13: str = "000000777") -> str:
    """The same 835 in a new interchange (ISA13/IEA02 changed): other bytes, same payments."""
    segments = text.split("~")
    for i, seg in enumerate(segments):
        parts = seg.split("*")
        if parts[0].strip() == "ISA":
            parts[13] = isa13
        elif parts[0].strip() == "IEA":
            parts[2] = isa13
        segments[i] = "*".join(parts)
    return "~".join(segments)


def claim_with(pcn: str, lines: Sequence[tuple[str, str, dt.date, str | None]]) -> Claim:
    """Example claim 0 with another number and these lines (code, charge, date, control number)."""
    base = example_claims()[0]
    new = tuple(
        dataclasses.replace(
            base.lines[0],
            line_number=i + 1,
            procedure=Code.parse(code, system=CodeSystem.CPT),
            modifiers=(),
            charge=D(charge),
            service_date=on,
            control_number=control,
        )
        for i, (code, charge, on, control) in enumerate(lines)
    )
    return dataclasses.replace(base, id=pcn, lines=new)


def invariant_problems(db: Database, practice_id: int) -> list[str]:
    """charges = payments + adjustments + open for every claim, and no other ledger problem."""
    with db.read() as s:
        entries = SqlLedger(s, practice_id=practice_id, cipher=db.cipher).entries()
    out = [f"{p.code} {p.location}: {p.message}" for p in ledger_problems(entries)]
    for claim_id, t in claim_balances(entries).items():
        if t.charges != t.payments + t.adjustments + t.open:
            out.append(f"claim {claim_id}: {t}")
    return out


def ledger_state(db: Database, practice_id: int) -> tuple[int, int, Decimal]:
    """(postings, entries, Σ amounts) of the practice."""
    with db.read() as s:
        ledger = SqlLedger(s, practice_id=practice_id, cipher=db.cipher)
        entries = ledger.entries()
        return len(ledger), len(entries), sum((e.amount for e in entries), D("0"))

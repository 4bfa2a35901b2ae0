"""Speed of posting an 835 into the practice database: read + post claims/s, with the in-memory ledger as floor.

For each size (1,000 and 10,000 claims; 1,000 with ``--quick``) a fresh practice database is made
(SQLCipher file in a temporary folder; PostgreSQL too when ``MEDBILL_TEST_DATABASE_URL`` is set — its
``public`` schema is dropped and recreated, as the test suite does, so point it at a scratch
database) with ``n`` submitted claims (example claim 0 with its own patient control number and line
control numbers, charges posted) and one 835 paying them all (two SVCs per claim with REF*6R, CO 45
and PR 2/3 adjustments, balanced). Rows, all on that same file, in one process:

* ``in-memory floor`` — ``read_835`` + ``plan_posting`` against ``InMemoryLedger`` + ``apply``: the
  domain work alone (claims already decoded, no database, no encryption);
* ``<backend> post`` — ``services.payments.post_remittance``: read, store the encrypted file, find the
  claims by blind index, decrypt their documents, plan, append postings and entries (encrypted key
  documents and sources), move the claims' status with history rows, audit — one transaction;
* ``<backend> replay`` — the same file again: everything ``already posted``, nothing written but the
  audit record.

``ratio`` = row claims/s ÷ floor claims/s (how much of the domain speed survives the database).
Usage: ``python bench/post_speed.py [--quick] [--n N ...] [--json [PATH]]``; other shared flags are
accepted and ignored. ``run(sizes, database_url)`` returns the rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from medbill.core.claim import Claim, claim_to_dict, example_claims
from medbill.ledger.actions import charge_batch
from medbill.ledger.memory import InMemoryLedger
from medbill.ledger.posting import apply, plan_posting
from medbill.services import payments
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database
from medbill.store.keys import KeyRing
from medbill.store.ledger_sql import SqlLedger
from medbill.x12.read835 import read_835

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH_DIR / "results" / "post_speed.json"
FULL = (1_000, 10_000)
QUICK = (1_000,)


def make_claims(n: int) -> list[Claim]:
    base = example_claims()[0]
    out = []
    for k in range(1, n + 1):
        pcn = f"BENCH{k:07d}"
        lines = tuple(dataclasses.replace(ln, control_number=f"{pcn}-{ln.line_number}") for ln in base.lines)
        out.append(dataclasses.replace(base, id=pcn, lines=lines))
    return out


def make_835(claims: Sequence[Claim]) -> str:
    """One 835 transaction paying every claim: 327.50 charged, 172 paid, CO 45 117.50, PR 38."""
    body = ["LX*1"]
    for k, c in enumerate(claims, 1):
        body += [
            f"CLP*{c.id}*1*327.5*172*38*12*ICN{k:010d}*11*1",
            "SVC*HC:99214:25*185*100**1",
            "DTM*472*20250310",
            "CAS*CO*45*65",
            "CAS*PR*3*20",
            f"REF*6R*{c.id}-1",
            "SVC*HC:20610:59:RT*142.5*72**1",
            "DTM*472*20250310",
            "CAS*CO*45*52.5",
            "CAS*PR*2*18",
            f"REF*6R*{c.id}-2",
        ]
    paid = Decimal(172) * len(claims)
    head = [
        "ST*835*0001",
        f"BPR*I*{paid}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*888888888*DA*654321*20250415",
        "TRN*1*BENCH20250415*1512345678",
        "DTM*405*20250414",
        "N1*PR*TEST COMMERCIAL HEALTH PLAN*XV*TESTCI001",
        "N3*100 PAYER WAY",
        "N4*SPRINGFIELD*IL*62701",
        "PER*BL*EDI SUPPORT*TE*8005550100",
        "N1*PE*TESTCLINIC FAMILY PRACTICE*XX*1999900017",
    ]
    segments = [*head, *body]
    return (
        "ISA*00*          *00*          *ZZ*BENCHPAYER     *ZZ*BENCHPROV      *250415*1200*^*00501*000000001*0*T*:~\n"
        "GS*HP*BENCHPAYER*BENCHPROV*20250415*1200*1*X*005010X221A1~\n"
        + "".join(s + "~\n" for s in segments)
        + f"SE*{len(segments) + 1}*0001~\nGE*1*1~\nIEA*1*000000001~\n"
    )


def _fresh_postgres(url: str) -> None:
    engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def _setup(db: Database, claims: Sequence[Claim]) -> int:
    """A practice, a payer, a patient, the claims (submitted) and their charges: the practice id."""
    with db.write() as s:
        practice = m.Practice(name="BENCH CLINIC")
        s.add(practice)
        s.flush()
        payer = m.Payer(practice_id=practice.id, name="TEST COMMERCIAL HEALTH PLAN", payer_id="TESTCI001")
        patient = m.Patient(
            practice_id=practice.id, last_name="TESTPATIENT", first_name="ALPHA", birth_date=dt.date(1980, 1, 2)
        )
        s.add_all([payer, patient])
        s.flush()
        rows = [
            m.ClaimRecord(
                practice_id=practice.id,
                patient_id=patient.id,
                payer_id=payer.id,
                status="submitted",
                patient_control_number=c.id,
                total_charge=c.total_charge,
                document=claim_to_dict(c),
                submitted_at=dt.datetime(2025, 3, 20),
            )
            for c in claims
        ]
        s.add_all(rows)
        s.flush()
        ledger = SqlLedger(s, practice_id=practice.id, cipher=db.cipher)
        ledger.append(
            [
                charge_batch(dataclasses.replace(c, id=str(r.id)), on=dt.date(2025, 3, 10))
                for c, r in zip(claims, rows, strict=True)
            ]
        )
        return practice.id


def _floor(text: str, claims: Sequence[Claim], reps: int = 3) -> float:
    by_pcn = {c.id: c for c in claims}
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        store = InMemoryLedger()
        for remit in read_835(text):
            plan = plan_posting(remit, by_pcn, store)
            apply(plan, store)
        best = min(best, time.perf_counter() - start)
    return best


def _backend(kind: str, n: int, text: str, claims: Sequence[Claim], url: str | None, tmp: Path) -> list[dict[str, Any]]:
    ring = KeyRing.generate(tmp / f"keys-{kind}-{n}.json")
    if kind == "sqlite":
        db = Database(keyring=ring, path=tmp / f"bench-{n}.db", audit_anchor=tmp / f"anchor-{n}.json")
    else:
        assert url is not None
        _fresh_postgres(url)
        db = Database(keyring=ring, url=url, audit_anchor=tmp / f"anchor-pg-{n}.json")
    try:
        db.migrate()
        setup_start = time.perf_counter()
        practice_id = _setup(db, claims)
        setup = time.perf_counter() - setup_start
        actor = Actor(user_id=None, role=Role.BILLER, practice_id=practice_id, source="bench")
        content = text.encode()
        rows = []
        for what in ("post", "replay"):
            start = time.perf_counter()
            report = payments.post_remittance(db, actor=actor, content=content)
            seconds = time.perf_counter() - start
            expected = (n, 0) if what == "post" else (0, n)
            got = (report.counts.posted, report.counts.already_posted)
            note = "ok" if got == expected else f"MISMATCH posted/already {got}"
            if what == "post":
                note += f"; setup {setup:.1f} s"
            rows.append({"row": f"{kind} {what}", "claims": n, "seconds": seconds, "note": note})
        return rows
    finally:
        db.dispose()


def run(sizes: Sequence[int] = FULL, database_url: str | None = None) -> list[dict[str, Any]]:
    """Rows {row, claims, seconds, claims_per_s, ratio, note} for each size: floor, then each backend."""
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="medbill-post-bench-") as tmp:
        for n in sizes:
            claims = make_claims(n)
            text = make_835(claims)
            floor = _floor(text, claims)
            rows = [{"row": "in-memory floor", "claims": n, "seconds": floor, "note": "read + plan + apply, best of 3"}]
            rows += _backend("sqlite", n, text, claims, None, Path(tmp))
            if database_url:
                rows += _backend("postgresql", n, text, claims, database_url, Path(tmp))
            floor_rate = n / floor
            for row in rows:
                row["claims_per_s"] = row["claims"] / row["seconds"]
                row["ratio"] = row["claims_per_s"] / floor_rate
            out += rows
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/post_speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 claims only")
    parser.add_argument("--n", type=int, action="append", default=None, help="claims in the file (repeatable)")
    parser.add_argument("--json", nargs="?", const=str(DEFAULT_JSON), default=None, help="write results here")
    args, _unknown = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    sizes = tuple(args.n) if args.n else (QUICK if args.quick else FULL)
    url = os.environ.get("MEDBILL_TEST_DATABASE_URL") or None
    print(
        f"835 read + post: {', '.join(f'{n:,}' for n in sizes)} claims (2 SVCs each); backends: SQLCipher"
        + (" and PostgreSQL" if url else " (set MEDBILL_TEST_DATABASE_URL for PostgreSQL)")
    )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    logging.disable(logging.INFO)
    try:
        rows = run(sizes, url)
    finally:
        logging.disable(logging.NOTSET)
    print(f"{'row':<20} {'claims':>8} {'seconds':>9} {'claims/s':>10} {'vs floor':>9}  note")
    for row in rows:
        print(
            f"{row['row']:<20} {row['claims']:>8,} {row['seconds']:>9.3f} {row['claims_per_s']:>10,.0f} "
            f"{row['ratio']:>8.2f}x  {row['note']}"
        )
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rows": rows}, indent=2))
    return 1 if any("MISMATCH" in row["note"] for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

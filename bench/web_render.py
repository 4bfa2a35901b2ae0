"""Web page render time with 10,000 claims in the practice database: the coding workbench, the work queues,
submission and the dashboard.

A demo practice (SQLCipher file, PHI columns encrypted, one audit record per service call) gets 10,000 extra
claims bulk-inserted through the ORM in one transaction (documents encrypted by the cipher, blind indexes
computed). Each page is requested ``--repeat`` times in-process (FastAPI TestClient, cookie session) and
the JSON API route for the same data is measured in the same run as the peer: the difference is the page's
own cost (templates, escaping, extra look-ups such as payer names). The floor: p95 under 300 ms per page.

Usage: ``python bench/web_render.py [--claims N] [--repeat N] [--quick]`` (needs MEDBILL_REFDATA).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FLOOR_MS = 300.0


def _seed(base: Path, claims: int) -> tuple[Any, Any, dict[str, int]]:
    import pyotp
    from argon2 import PasswordHasher

    from medbill.services import auth, demo, records
    from medbill.services import claims as claim_svc
    from medbill.services.context import Actor
    from medbill.services.permissions import Role
    from medbill.store import models as m
    from medbill.store.db import Database
    from medbill.store.keys import KeyRing

    auth.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # sign-in is not measured
    ring = KeyRing.generate(base / "keys.json")
    ring.save()
    db = Database(keyring=ring, path=base / "medbill.db", audit_anchor=base / "audit-anchor.json")
    db.migrate()
    summary = demo.create_demo(db, patients=40)
    practice = summary.practice_id
    biller = Actor(user_id=None, role=Role.BILLER, practice_id=practice)
    coded = records.list_records(db, actor=biller, resource="encounter", filters={"status": "coded"}, limit=1)
    template = claim_svc.build_claim(db, actor=biller, encounter_id=coded.items[0].id)  # type: ignore[attr-defined]
    patients = [p.id for p in records.list_records(db, actor=biller, resource="patient", limit=200).items]  # type: ignore[attr-defined]
    payers = [p.id for p in records.list_records(db, actor=biller, resource="payer", limit=200).items]  # type: ignore[attr-defined]
    rng = random.Random(7)
    statuses = ["draft"] * 3 + ["ready"] * 3 + ["rejected"] + ["submitted"] * 3
    start = time.perf_counter()
    with db.write() as s:
        rows = []
        for i in range(claims):
            pcn = f"MBX{i:07d}"
            status = rng.choice(statuses)
            doc = dict(template.document, id=pcn)
            rows.append(
                m.ClaimRecord(
                    practice_id=practice,
                    encounter_id=None,
                    patient_id=rng.choice(patients),
                    payer_id=rng.choice(payers),
                    coverage_id=None,
                    kind="professional",
                    payer_rank=1,
                    frequency="1",
                    status=status,
                    patient_control_number=pcn,
                    pcn_bidx=db.cipher.blind_index(pcn, purpose=claim_svc.PCN_PURPOSE),
                    total_charge=template.total_charge,
                    document=doc,
                    scrub_errors=rng.choice([0, 1, 2]) if status == "draft" else 0,
                    scrub_warnings=rng.choice([0, 0, 1]),
                )
            )
        s.add_all(rows)
        s.flush()
        # the rejections queue lists the 999/277CA work items of the rejected claims
        s.add_all(
            m.WorkItem(practice_id=practice, queue="rejections", claim_id=r.id, detail={"kind": "277CA"},
                       summary=f"277CA rejected claim {r.id}: A7:21")
            for r in rows
            if r.status == "rejected"
        )  # fmt: skip
    seeded = time.perf_counter() - start
    print(f"seeded {claims} claims in {seeded:.1f} s (one transaction, encrypted documents)")
    user = next(u for u in summary.users if u.role == "biller")
    coder = next(u for u in summary.users if u.role == "coder")
    tokens = {}
    for u in (user, coder):
        result = auth.login(db, username=u.username, password=u.password, source="bench")
        auth.verify_mfa(db, token=result.token, code=pyotp.parse_uri(u.otpauth_uri).now(), source="bench")
        tokens[u.role] = result.token
    to_code = records.list_records(db, actor=biller, resource="encounter", filters={"status": "to_code"}, limit=1)
    ids = {"encounter": to_code.items[0].id, "claim": template.id}  # type: ignore[attr-defined]
    return db, tokens, ids


def _measure(client: Any, method: str, path: str, token: str, repeat: int, *, web: bool) -> list[float]:
    headers = {} if web else {"Authorization": f"Bearer {token}"}
    cookies = {"medbill_session": token} if web else {}
    client.cookies.clear()
    for k, v in cookies.items():
        client.cookies.set(k, v)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.request(method, path, headers=headers, json={} if method == "POST" else None)
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code >= 400:
            raise SystemExit(f"{method} {path}: HTTP {r.status_code} {r.text[:300]}")
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="1,000 claims, 10 requests per page")
    args, _unknown = parser.parse_known_args(argv)
    if args.quick:
        args.claims, args.repeat = 1_000, 10
    if not os.environ.get("MEDBILL_REFDATA") or not Path(os.environ["MEDBILL_REFDATA"]).is_file():
        print("set MEDBILL_REFDATA to a built reference store", file=sys.stderr)
        return 2
    logging.getLogger("medbill").setLevel(logging.WARNING)
    from fastapi.testclient import TestClient

    from medbill.api import create_app

    with tempfile.TemporaryDirectory() as tmp:
        db, tokens, ids = _seed(Path(tmp), args.claims)
        client = TestClient(create_app(db=db))
        enc, claim = ids["encounter"], ids["claim"]
        cases = [
            # (page, role, web path, peer: API method + path)
            ("workbench", "coder", f"/web/encounters/{enc}", ("GET", f"/encounters/{enc}")),
            ("workbench suggestions", "coder", f"/web/encounters/{enc}/suggestions",
             ("POST", f"/encounters/{enc}/suggestions")),
            ("queue: to code", "coder", "/web/queues/to_code", ("GET", "/encounters?status=to_code&limit=50")),
            ("queue: scrub errors", "biller", "/web/queues/scrub_errors", ("GET", "/claims?status=draft&limit=200")),
            ("queue: ready", "biller", "/web/queues/ready", ("GET", "/claims?status=ready&limit=50")),
            ("queue: ready sorted", "biller", "/web/queues/ready?sort=total_charge&dir=desc",
             ("GET", "/claims?status=ready&limit=50")),
            ("queue: rejections", "biller", "/web/queues/rejections", ("GET", "/work-items?queue=rejections")),
            ("queue: denials", "biller", "/web/queues/denials", ("GET", "/denials")),
            ("queue: unmatched", "biller", "/web/queues/unmatched", ("GET", "/work-items")),
            ("claim editor", "biller", f"/web/claims/{claim}", ("GET", f"/claims/{claim}")),
            ("submission", "biller", "/web/submission", ("GET", "/batches")),
            ("dashboard", "biller", "/web/dashboard", ("GET", "/reports/ar-aging")),
        ]  # fmt: skip
        reports_only = {"dashboard"}  # a report over the whole ledger: measured, outside the page floor
        rows = []
        for name, role, path, (method, api) in cases:
            token = tokens[role]
            _measure(client, "GET", path, token, 2, web=True)  # warm-up (templates, reference store, models)
            _measure(client, method, api, token, 2, web=False)
            page = _measure(client, "GET", path, token, args.repeat, web=True)
            peer = _measure(client, method, api, token, args.repeat, web=False)
            rows.append((name, page, peer))
        db.dispose()
    print(f"\nweb page render, {args.claims:,} claims in the database, {args.repeat} requests per page (ms)")
    print(f"{'page':26} {'p50':>8} {'p95':>8}   {'API peer p50':>12} {'p95':>8}   {'p95 ratio':>9}  {'<300ms':>6}")
    worst = 0.0
    for name, page, peer in rows:
        p95, peer95 = _p(page, 0.95), _p(peer, 0.95)
        if name not in reports_only:
            worst = max(worst, p95)
        print(
            f"{name:26} {statistics.median(page):8.1f} {p95:8.1f}   {statistics.median(peer):12.1f} {peer95:8.1f}"
            f"   {p95 / peer95:9.2f}  {'(info)' if name in reports_only else 'yes' if p95 < FLOOR_MS else 'NO':>6}"
        )
    print(f"\nworst p95 of the workbench, queues, claim editor and submission {worst:.1f} ms (floor {FLOOR_MS:.0f} ms)")
    return 0 if worst < FLOOR_MS else 1


if __name__ == "__main__":
    sys.exit(main())

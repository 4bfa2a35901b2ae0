"""API load: requests/s and p50/p99 for a mixed read/write workload, safeguards on vs off.

Bounded and local: the app is served by uvicorn on 127.0.0.1 (an ephemeral port) inside this process,
and ``--workers`` client threads (default 4) send ``--requests`` requests (default 2,000; 400 with
``--quick``) from a fixed, seeded mix over a practice seeded with 200 patients and encounters:

* 35 % ``GET /patients/{id}``            * 15 % ``POST /patients/search`` (last name; blind index)
* 20 % ``GET /encounters?patient_id=``   * 15 % ``POST /patients`` (create)
                                          * 15 % ``PATCH /encounters/{id}`` (a new note)

Two configurations, measured in the same run on the same machine:

* ``safeguards on`` — what medbill ships: SQLCipher file, AES-GCM PHI columns with blind indexes, one
  hash-chained audit record per request with the outside anchor;
* ``safeguards off`` — the peer: plain SQLite, PHI columns in clear, no audit (a switch that exists only
  for this comparison, in code, never in settings).

``ratio`` = on ÷ off requests/s. Usage: ``python bench/api_load.py [--quick] [--requests N]
[--workers N] [--json [PATH]]``; other shared flags are ignored.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PASSWORD = "load test password 2026!"


def _world(base: Path, *, secure: bool, patients: int) -> tuple[Any, str, list[int], list[int]]:
    import datetime as dt

    import pyotp
    from argon2 import PasswordHasher

    from medbill.api import create_app
    from medbill.services import auth, records
    from medbill.services import schemas as sc
    from medbill.services.context import Actor
    from medbill.services.permissions import Role
    from medbill.store.db import Database
    from medbill.store.keys import KeyRing

    auth.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # sign-in is not measured
    ring = KeyRing.generate(base / "keys.json")
    ring.save()
    db = Database(
        keyring=ring,
        path=base / "medbill.db",
        sqlcipher=secure,
        encrypt_columns=secure,
        audit=secure,
        audit_anchor=base / "anchor.json",
    )
    db.migrate()
    root = auth.bootstrap(db, username="load-root", password=PASSWORD)
    tok = auth.login(db, username="load-root", password=PASSWORD).token
    auth.verify_mfa(db, token=tok, code=pyotp.parse_uri(root.otpauth_uri).now())
    sysadmin = auth.authenticate(db, token=tok)
    practice = auth.create_practice(db, actor=sysadmin, name="Load practice")
    user = auth.create_user(
        db, actor=sysadmin, username="load-admin", password=PASSWORD, role=Role.PRACTICE_ADMIN, practice_id=practice.id
    )
    token = auth.login(db, username="load-admin", password=PASSWORD).token
    auth.verify_mfa(db, token=token, code=pyotp.parse_uri(user.otpauth_uri).now())
    admin = Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=practice.id, source="bench")
    rng = random.Random(11)
    pids, eids = [], []
    for i in range(patients):
        p = records.create(
            db,
            actor=admin,
            resource="patient",
            data=sc.PatientCreate(
                last_name=f"Name{i % 50}",
                first_name=f"First{i}",
                birth_date=dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
                mrn=f"MRN{i:05d}",
                phone=f"617555{i:04d}",
            ),
        )
        pids.append(p.id)  # type: ignore[attr-defined]
        e = records.create(
            db,
            actor=admin,
            resource="encounter",
            data=sc.EncounterCreate(
                patient_id=p.id,
                service_date=dt.date(2026, 1 + rng.randrange(9), 1 + rng.randrange(28)),  # type: ignore[attr-defined]
                note="Follow-up of type 2 diabetes. Denies chest pain.",
                diagnoses=[sc.DiagnosisIn(code="E11.9")],
            ),
        )
        eids.append(e.id)  # type: ignore[attr-defined]
    return create_app(db=db), token, pids, eids


def _serve(app: Any) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, port


def _plan(n: int, pids: list[int], eids: list[int], seed: int) -> list[tuple[str, str, Any]]:
    rng = random.Random(seed)
    plan: list[tuple[str, str, Any]] = []
    for i in range(n):
        r = rng.random()
        if r < 0.35:
            plan.append(("GET", f"/patients/{rng.choice(pids)}", None))
        elif r < 0.55:
            plan.append(("GET", f"/encounters?patient_id={rng.choice(pids)}&limit=20", None))
        elif r < 0.70:
            plan.append(("POST", "/patients/search", {"last_name": f"Name{rng.randrange(50)}", "limit": 20}))
        elif r < 0.85:
            plan.append(
                (
                    "POST",
                    "/patients",
                    {"last_name": f"New{i}", "first_name": "Load", "birth_date": "1977-05-06", "mrn": f"NEW{i:06d}"},
                )
            )
        else:
            plan.append(("PATCH", f"/encounters/{rng.choice(eids)}", {"note": f"Visit note {i}: stable, no fever."}))
    return plan


def _drive(port: int, token: str, plan: list[tuple[str, str, Any]], workers: int) -> dict[str, Any]:
    import httpx

    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    chunks = [plan[i::workers] for i in range(workers)]

    def work(items: list[tuple[str, str, Any]]) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            for method, path, body in items:
                t = time.perf_counter()
                resp = client.request(method, path, json=body)
                dt_ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(dt_ms)
                    if resp.status_code >= 400:
                        errors.append(f"{method} {path.split('?')[0]} {resp.status_code}")

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat.sort()
    return {
        "requests": len(lat),
        "seconds": round(wall, 2),
        "req_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(statistics.median(lat), 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
        "errors": len(errors),
        "error_sample": errors[:3],
    }


def run(*, requests: int = 2000, workers: int = 4, patients: int = 200) -> list[dict[str, Any]]:
    rows = []
    for secure in (True, False):
        with tempfile.TemporaryDirectory(prefix="medbill-load-") as tmp:
            app, token, pids, eids = _world(Path(tmp), secure=secure, patients=patients)
            server, thread, port = _serve(app)
            try:
                _drive(port, token, _plan(min(100, requests), pids, eids, seed=1), workers)  # warm up
                row = _drive(port, token, _plan(requests, pids, eids, seed=2), workers)
            finally:
                server.should_exit = True
                thread.join(timeout=10)
                app.state.db.dispose()
            row["config"] = "safeguards on" if secure else "safeguards off"
            rows.append(row)
    on, off = rows
    on["ratio"] = round(on["req_per_s"] / off["req_per_s"], 2)
    off["ratio"] = 1.0
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/api_load.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", nargs="?", const="-", default=None)
    args, _ = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    logging.getLogger("medbill").setLevel(logging.WARNING)
    n = args.requests or (400 if args.quick else 2000)
    rows = run(requests=n, workers=args.workers)
    print(f"\nAPI load: {n} mixed requests, {args.workers} client threads, uvicorn on 127.0.0.1 (one process)")
    print(f"{'config':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>6}")
    for r in rows:
        print(
            f"{r['config']:<16} {r['req_per_s']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>7} {r['ratio']:>6}"
        )
    if any(r["errors"] for r in rows):
        print("errors:", [r["error_sample"] for r in rows])
    if args.json:
        text = json.dumps(rows, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

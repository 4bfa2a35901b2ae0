"""Speed of the X12 837P writer, reader and tokenizer, with pyx12 and x12sdk reading the same files.

One run, one plain-text table (``--json`` also writes bench/results/x12_speed.json):

1. ``837P write``: ``build_837p`` of ``--n`` generated claims (default 10,000) into one interchange
   (two ST/SE of 5,000). Claims come from ``tests/x12/claimgen.py`` (imported by path; 6.3 lines per
   claim on average, dependents, COB with CAS, NDCs ...), narrowed to what x12sdk's models accept (no
   patient sex U, no OI03 W) so that the peer's typed parse of the same file succeeds.
2. ``837P read vs x12sdk``: medbill's ``read_837`` (tokenize, envelope and loop checks, control totals,
   every value into ``Claim`` records) against x12sdk 2.2.0 ``X12ModelReader(text).models()`` (its
   parse API: segments into its pydantic transaction models), on that file; the claims each finds are counted.
3. ``837P read vs pyx12``: ``read_837`` against pyx12 4.0.0 full validation through its Python API
   (``x12n_document`` with ``fd_997`` and ``fd_json``), on a ``--pyx12-n`` claim slice (default 1,000:
   pyx12 runs at tens of claims/s, so it is timed on the slice, written as its own interchange; the
   time includes pyx12's per-call map load, ~0.8 s). Its verdict and error count are printed (0 expected).
4. ``837P structure only``: ``parse_837`` (tokenize, envelopes, loop grammar, totals; no values).
5. ``tokenize``: ``medbill.x12.tokenizer.tokenize`` (delimiters from the ISA, segments with their
   components, byte-exact round trip) against x12sdk's ``X12SegmentReader.segments()`` (element lists,
   components left joined, streamed: each list is dropped once counted, whereas ``tokenize`` keeps the
   whole document, with the text after each segment for the byte-exact round trip), on the same file.

Rates are claims per second; the ratio is medbill / peer (above 1x: medbill is faster). medbill rows
keep the best of ``--reps`` runs (default 3, 1 with ``--quick``); x12sdk's model parse and pyx12 run
once (they take minutes). ``--quick``: 300 claims, a 50-claim pyx12 slice. Usage: ``python bench/x12_speed.py
[--quick] [--n N] [--pyx12-n N] [--reps N] [--json [PATH]]``; other arguments are ignored.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.util
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from medbill.core.claim import BenefitsAssignment, Claim, Contact, Sex
from medbill.x12.envelope import CounterControlNumbers, InterchangeSettings
from medbill.x12.read837 import parse_837, read_837
from medbill.x12.tokenizer import tokenize
from medbill.x12.write837 import build_837p

BENCH_DIR = Path(__file__).resolve().parent
CLAIMGEN = BENCH_DIR.parent / "tests" / "x12" / "claimgen.py"
DEFAULT_JSON = BENCH_DIR / "results" / "x12_speed.json"
FULL_N, QUICK_N = 10_000, 300
FULL_PYX12_N, QUICK_PYX12_N = 1_000, 50
WHEN = dt.datetime(2025, 8, 1, 9, 30)
SETTINGS = InterchangeSettings(
    sender_id="TESTSUBMIT01",
    receiver_id="TESTRECV01",
    submitter_name="TEST BILLING SERVICE",
    submitter_id="TESTETIN01",
    submitter_contact=Contact(name="TEST CONTACT", phone="5555550199"),
    receiver_name="TEST CLEARINGHOUSE",
)


@dataclasses.dataclass
class Row:
    operation: str
    value: float | None
    n: int
    peer_name: str = ""
    peer: float | None = None
    peer_n: int = 0
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.peer:
            return None
        return self.value / self.peer


def load_claimgen() -> ModuleType:
    """tests/x12/claimgen.py, imported by path (bench/ and tests/ are not installed packages)."""
    name = "medbill_bench_claimgen"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CLAIMGEN)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {CLAIMGEN}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def narrow(claim: Claim) -> Claim:
    """The claim inside x12sdk's narrower models: patient sex U -> F, OI03 W -> N (see test_write837)."""
    patient = claim.patient
    if patient is not None and patient.sex is Sex.UNKNOWN:
        patient = dataclasses.replace(patient, sex=Sex.FEMALE)
    benefits = claim.benefits_assigned
    if benefits is BenefitsAssignment.NOT_APPLICABLE:
        benefits = BenefitsAssignment.NO
    return dataclasses.replace(claim, patient=patient, benefits_assigned=benefits)


def best_rate(fn: Callable[[], int], claims: int, reps: int) -> tuple[float, int]:
    """(best claims/s over ``reps`` timed runs of ``fn``, what ``fn`` returned)."""
    found = 0
    best = 0.0
    for _ in range(max(1, reps)):
        start = time.perf_counter()
        found = fn()
        elapsed = time.perf_counter() - start
        best = max(best, claims / elapsed if elapsed > 0 else 0.0)
    return best, found


def once(fn: Callable[[], Any], claims: int) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    return (claims / elapsed if elapsed > 0 else 0.0), result


# ---------------------------------------------------------------------------------------------------
# peers (oracles: bench/ and tests only)


def x12sdk_read(text: str) -> int:
    """Claims found by x12sdk's typed parse (``X12ModelReader.models()``)."""
    from x12sdk.io import X12ModelReader

    count = 0
    with X12ModelReader(text) as reader:
        for model in reader.models():
            for billing in model.loop_2000a:
                for sub in billing.loop_2000b:
                    count += len(sub.loop_2300 or [])
                    count += sum(len(patient.loop_2300 or []) for patient in sub.loop_2000c or [])
    return count


def x12sdk_segments(text: str) -> int:
    from x12sdk.io import X12SegmentReader

    with X12SegmentReader(text) as reader:
        return sum(1 for _ in reader.segments())


def pyx12_validate(text: str) -> tuple[bool, int]:
    """pyx12's full validation: (its verdict, the number of errors in its JSON error tree)."""
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
    return bool(ok), errors


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a missing distribution only changes the label
        return "?"


# ---------------------------------------------------------------------------------------------------
# the run


def run(n: int, pyx12_n: int, reps: int) -> tuple[list[Row], dict[str, Any]]:
    claimgen = load_claimgen()
    start = time.perf_counter()
    claims = [narrow(c) for c in claimgen.professional_claims(n)]
    generated = time.perf_counter() - start
    rows: list[Row] = []
    info: dict[str, Any] = {
        "claims": n,
        "lines": sum(len(c.lines) for c in claims),
        "generate_s": round(generated, 2),
        "reps": reps,
    }

    # 1. write
    def write_all() -> int:
        return len(build_837p(claims, SETTINGS, CounterControlNumbers(), when=WHEN).text)

    write_rate, size = best_rate(write_all, n, reps)
    text = build_837p(claims, SETTINGS, CounterControlNumbers(), when=WHEN).text
    info["bytes"] = size
    info["segments"] = sum(1 for _ in tokenize(text).segments)
    rows.append(Row("837P write", write_rate, n, note=f"{size / 1e6:.1f} MB, {info['segments']:,} segments"))

    # 2. read vs x12sdk, same file
    read_rate, found = best_rate(lambda: len(read_837(text)), n, reps)
    assert found == n, f"read_837 found {found} of {n} claims"
    row = Row("837P read (read_837)", read_rate, n, note="full file; every value into Claim records")
    sdk_rate, sdk_found = once(lambda: x12sdk_read(text), n)
    row.peer_name, row.peer, row.peer_n = f"x12sdk {_version('x12sdk')} models()", sdk_rate, n
    row.note += f"; x12sdk found {sdk_found:,} claims (run once)"
    if sdk_found != n:
        row.note += " - MISMATCH"
    rows.append(row)

    # 3. read vs pyx12, on a slice written as its own interchange
    m = min(pyx12_n, n)
    slice_text = build_837p(claims[:m], SETTINGS, CounterControlNumbers(), when=WHEN).text
    slice_rate, found = best_rate(lambda: len(read_837(slice_text)), m, reps)
    assert found == m
    row = Row(f"837P read, {m:,}-claim slice", slice_rate, m)
    px_rate, (ok, errors) = once(lambda: pyx12_validate(slice_text), m)
    row.peer_name, row.peer, row.peer_n = f"pyx12 {_version('pyx12')} full validation", px_rate, m
    row.note = (
        f"pyx12 timed on this {m:,}-claim slice only (slow), once, map load included; valid={ok}, {errors} errors"
    )
    rows.append(row)

    # 4. structure only
    structure_rate, found = best_rate(lambda: sum(len(tx.root.loops("2300")) for tx in parse_837(text)), n, reps)
    assert found == n
    rows.append(Row("837P structure only (parse_837)", structure_rate, n, note="envelopes, loop grammar, totals"))

    # 5. tokenizer
    token_rate, found = best_rate(lambda: sum(1 for _ in tokenize(text).segments), n, reps)
    row = Row("tokenize", token_rate, n, note=f"{found:,} segments with components, byte-exact round trip")
    seg_rate, seg_found = best_rate(lambda: x12sdk_segments(text), n, reps)
    row.peer_name, row.peer, row.peer_n = f"x12sdk {_version('x12sdk')} segments()", seg_rate, n
    row.note += f"; x12sdk streams {seg_found:,} element lists (components joined), keeps none"
    rows.append(row)
    return rows, info


def render(rows: Sequence[Row], info: dict[str, Any]) -> str:
    head = f"{'operation [claims/s]':<34}{'medbill':>11}{'n':>8}  {'peer':<32}{'peer':>9}{'n':>7}{'ratio':>9}"
    out = [head, "-" * len(head)]
    for r in rows:
        value = f"{r.value:,.0f}" if r.value is not None else "-"
        peer = f"{r.peer:,.1f}" if r.peer is not None else ""
        peer_n = f"{r.peer_n:,}" if r.peer_n else ""
        ratio = f"{r.ratio:,.1f}x" if r.ratio is not None else ""
        out.append(f"{r.operation:<34}{value:>11}{r.n:>8,}  {r.peer_name:<32}{peer:>9}{peer_n:>7}{ratio:>9}")
        if r.note:
            out.append(f"{'':<6}{r.note}")
    out.append("")
    out.append(
        f"claims: {info['claims']:,} ({info['lines']:,} lines, generated in {info['generate_s']} s), "
        f"{info['bytes'] / 1e6:.1f} MB; ratio = medbill / peer; medbill best of {info['reps']}"
    )
    out.append(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/x12_speed.py", description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_N} claims, {QUICK_PYX12_N} for pyx12, one rep")
    parser.add_argument("--n", type=int, help=f"claims in the file (default {FULL_N:,})")
    parser.add_argument("--pyx12-n", type=int, help=f"claims in pyx12's slice (default {FULL_PYX12_N:,})")
    parser.add_argument("--reps", type=int, help="timed runs of each medbill measure, best kept (default 3)")
    parser.add_argument(
        "--json", nargs="?", const=str(DEFAULT_JSON), help="also write JSON (default bench/results/x12_speed.json)"
    )
    args, _unknown = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    n = args.n or (QUICK_N if args.quick else FULL_N)
    pyx12_n = args.pyx12_n or (QUICK_PYX12_N if args.quick else FULL_PYX12_N)
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    if n < 1 or pyx12_n < 1:
        print("--n and --pyx12-n must be at least 1", file=sys.stderr)
        return 2
    rows, info = run(n, pyx12_n, reps)
    print("x12 837P speed")
    print(render(rows, info))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"rows": [dataclasses.asdict(r) | {"ratio": r.ratio} for r in rows], "info": info}
        path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

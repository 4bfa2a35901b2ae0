"""Speed of the reference store, with peers measured in the same run.

Measures, in one run, and prints one plain-text table (``--json`` also writes bench/results/speed.json):

1. ``data build``: wall time of a full build of the reference store into a temporary folder, from
   MEDBILL_SOURCE_DIR (skipped when ``--store PATH`` or ``--quick`` is given). Target < 120 s.
2. ``load``: import + open + first answer, each in a fresh Python process (medbill against
   ``simple_icd_10_cm``, which parses its XML at import, and ``icd10-coder``, which opens SQLite).
3. ``lookup``: ``RefStore.get(code, system=..., on=2026-04-01)`` (the full CodeInfo: description,
   path, inherited notes, 7th characters, validity) on codes sampled with a fixed seed from the
   store's ICD-10-CM billable codes, plus ICD-10-PCS and HCPCS codes when loaded. Target p99 < 1 ms.
   Peer on the ICD-10-CM codes: ``simple_icd_10_cm`` (see ``peer_lookup`` for what is called).
4. ``search``: ``SearchEngine(store.conn).search(q, limit=20)`` on every query of
   bench/search_queries.tsv plus official titles / partial titles of random codes (fixed seed), 1,000
   in all. Peer: icd10-coder's ``cm_search(get_conn(CM_DB), q, limit=20)``, as its ``dx`` command
   calls it. Target p99 < 20 ms.

Each side is warmed with one untimed pass over 50 items; each call is timed with
``time.perf_counter_ns``. p50/p99 are nearest-rank percentiles. Ratio = peer / medbill (above 1:
medbill is faster). Usage: ``python bench/speed.py [--quick] [--store PATH] [--n N] [--json [PATH]]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from medbill.codesets.refstore import RefStore
from medbill.codesets.search import SearchEngine
from medbill.core.codes import CodeSystem, display
from medbill.core.errors import CodeSetError, InvalidCode
from medbill.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
QUERIES_TSV = BENCH_DIR / "search_queries.tsv"
DEFAULT_JSON = BENCH_DIR / "results" / "speed.json"

ON = date(2026, 4, 1)
SEED = 20260401
FULL_N = 1000
QUICK_N = 200
WARM_N = 50
LOAD_REPS_FULL = 3
LOAD_REPS_QUICK = 1

TARGET_BUILD_S = 120.0
TARGET_LOOKUP_P99_MS = 1.0
TARGET_SEARCH_P99_MS = 20.0

LOOKUP_SYSTEMS = (CodeSystem.ICD10CM, CodeSystem.ICD10PCS, CodeSystem.HCPCS)

T = TypeVar("T")


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class Stats:
    """Timings of one side of one operation, in the row's unit."""

    n: int
    p50: float
    p99: float
    mean: float
    errors: int = 0

    @classmethod
    def of(cls, samples: Sequence[float], errors: int = 0) -> Stats:
        ordered = sorted(samples)
        mean = sum(ordered) / len(ordered)
        return cls(len(ordered), _rank(ordered, 0.50), _rank(ordered, 0.99), mean, errors)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "p50": self.p50, "p99": self.p99, "mean": self.mean, "errors": self.errors}


def _rank(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Row:
    operation: str
    unit: str  # "s" or "ms"
    medbill: Stats | None
    peer: Stats | None
    peer_name: str = ""
    note: str = ""

    def ratio(self, attr: str) -> float | None:
        if self.medbill is None or self.peer is None:
            return None
        mine = float(getattr(self.medbill, attr))
        return float(getattr(self.peer, attr)) / mine if mine > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "unit": self.unit,
            "medbill": self.medbill.to_dict() if self.medbill else None,
            "peer": self.peer.to_dict() if self.peer else None,
            "peer_name": self.peer_name,
            "ratio_p99": self.ratio("p99"),
            "ratio_mean": self.ratio("mean"),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    limit: float
    unit: str
    measured: float | None  # None = not measured in this run

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "SKIPPED"
        return "PASS" if self.measured < self.limit else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "limit": self.limit,
            "unit": self.unit,
            "measured": self.measured,
            "verdict": self.verdict,
        }


@dataclass(slots=True)
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "rows": [r.to_dict() for r in self.rows],
            "targets": [t.to_dict() for t in self.targets],
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------- timing
def time_calls(
    fn: Callable[[T], object], items: Sequence[T], expected: tuple[type[BaseException], ...]
) -> tuple[list[float], int]:
    """Milliseconds per call (perf_counter_ns) and the number of calls that raised ``expected``."""
    samples: list[float] = []
    errors = 0
    clock = time.perf_counter_ns
    for item in items:
        start = clock()
        try:
            fn(item)
        except expected:
            errors += 1
        samples.append((clock() - start) / 1e6)
    return samples, errors


def measure(
    fn: Callable[[T], object], items: Sequence[T], expected: tuple[type[BaseException], ...]
) -> tuple[Stats, list[float]]:
    """One untimed warm pass over the first WARM_N items, then one timed pass over all of them."""
    for item in items[:WARM_N]:
        try:
            fn(item)
        except expected:
            pass
    samples, errors = time_calls(fn, items, expected)
    return Stats.of(samples, errors), samples


def slowest(items: Sequence[str], samples: Sequence[float], k: int = 3) -> list[tuple[str, float]]:
    ranked = sorted(zip(items, samples, strict=True), key=lambda pair: -pair[1])
    return [(item, round(ms, 2)) for item, ms in ranked[:k]]


# ---------------------------------------------------------------------------- machine facts
def machine_facts() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "loadavg_at_start": load,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------- build
def measure_build(source_dir: Path | None, target: Path) -> tuple[float, str]:
    """Wall seconds of a full build into ``target``; the note says what was loaded."""
    from medbill.codesets.build import build

    start = time.perf_counter()
    results = build(target, source_dir=source_dir)
    seconds = time.perf_counter() - start
    loaded = sum(1 for r in results if r.status == "loaded" and r.dataset != "search-index")
    missing = sum(1 for r in results if r.status == "missing")
    failed = [r.dataset for r in results if r.status == "failed"]
    rows = sum(r.rows for r in results if r.status == "loaded")
    note = f"{loaded} datasets, {rows:,} rows; {missing} missing"
    if failed:
        note += f"; FAILED: {', '.join(failed)}"
    return seconds, note


# ---------------------------------------------------------------------------- samples
def code_pool(store: RefStore, system: CodeSystem) -> list[str]:
    """Billable codes of a system in force on ON, sorted (the store's code table)."""
    rows = set(store.iter_codes(system, billable_only=True))
    active = store.active_codes(system, ON)
    if active:
        return sorted(active & rows)
    # no date-ranged validity loaded (no MCE/I-OCE): billable rows of a release covering ON
    day = ON.isoformat()
    covered = {
        r[0]
        for r in store.conn.execute(
            "SELECT DISTINCT c.code FROM code c JOIN release r ON r.id=c.release_id"
            " WHERE c.system=? AND c.billable=1 AND (r.effective_from IS NULL OR r.effective_from<=?)"
            " AND (r.effective_to IS NULL OR r.effective_to>=?)",
            (str(system), day, day),
        )
    }
    return sorted(covered or rows)


def code_pools(store: RefStore) -> dict[CodeSystem, list[str]]:
    return {system: code_pool(store, system) for system in LOOKUP_SYSTEMS}


def sample_codes(pools: dict[CodeSystem, list[str]], n: int) -> dict[CodeSystem, list[str]]:
    """n ICD-10-CM codes plus n/10 ICD-10-PCS and n/10 HCPCS codes (when loaded), display form."""
    rng = random.Random(SEED)
    out: dict[CodeSystem, list[str]] = {}
    for system in LOOKUP_SYSTEMS:
        k = n if system is CodeSystem.ICD10CM else max(1, n // 10)
        pool = pools.get(system, [])
        picked = rng.sample(pool, min(k, len(pool))) if pool else []
        out[system] = [display(c, system) for c in picked]
    return out


def read_tsv_queries(path: Path = QUERIES_TSV) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["query"].strip() for row in reader if row.get("query", "").strip()]


def title_queries(store: RefStore, pool: Sequence[str], k: int) -> list[str]:
    """k official titles or partial titles (2-4 consecutive words) of random codes from the pool."""
    rng = random.Random(SEED + 1)
    out: list[str] = []
    while pool and len(out) < k:
        title = store.describe(CodeSystem.ICD10CM, rng.choice(pool))
        if not title:
            continue
        words = title.split()
        if len(words) <= 3 or rng.random() < 0.5:
            out.append(title)
        else:
            width = rng.randint(2, min(4, len(words) - 1))
            start = rng.randint(0, len(words) - width)
            out.append(" ".join(words[start : start + width]))
    return out


def build_queries(store: RefStore, cm_pool: Sequence[str], n: int) -> tuple[list[str], int]:
    """Every TSV query plus ICD-10-CM titles up to max(n, 1000); fewer than n: a seeded sample of n.

    Returns the queries and how many of them come from the TSV.
    """
    tsv = read_tsv_queries()
    total = max(n, FULL_N)
    pool = tsv + title_queries(store, cm_pool, max(0, total - len(tsv)))
    if n >= len(pool):
        return pool, len(tsv)
    keep = sorted(random.Random(SEED + 2).sample(range(len(pool)), n))
    return [pool[i] for i in keep], sum(1 for i in keep if i < len(tsv))


# ---------------------------------------------------------------------------- peers
def peer_lookup(code: str) -> tuple[object, ...]:
    """One ICD-10-CM code with its description and notes, as simple_icd_10_cm gives them.

    Mirrors what ``RefStore.get`` returns: ``is_valid_item``, ``get_description``, ``is_leaf``;
    the path (``get_ancestors`` + ``get_description`` of each); for the code and every ancestor
    ``get_includes``, ``get_excludes1``, ``get_excludes2``, ``get_code_first``,
    ``get_use_additional_code``, ``get_code_also``, ``get_notes`` (medbill inherits these down the
    hierarchy); ``get_inclusion_term`` of the code; ``get_seven_chr_def`` and ``get_seven_chr_note``
    with ``search_in_ancestors=True``. Unknown codes raise ValueError (as the library does).
    """
    import simple_icd_10_cm as cm

    if not cm.is_valid_item(code):
        raise ValueError(code)
    ancestors = cm.get_ancestors(code)
    path = [(a, cm.get_description(a)) for a in reversed(ancestors)]
    notes: list[object] = []
    for node in (code, *ancestors):
        notes.append(cm.get_includes(node))
        notes.append(cm.get_excludes1(node))
        notes.append(cm.get_excludes2(node))
        notes.append(cm.get_code_first(node))
        notes.append(cm.get_use_additional_code(node))
        notes.append(cm.get_code_also(node))
        notes.append(cm.get_notes(node))
    return (
        cm.get_description(code),
        cm.is_leaf(code),
        path,
        notes,
        cm.get_inclusion_term(code),
        cm.get_seven_chr_def(code, search_in_ancestors=True),
        cm.get_seven_chr_note(code, search_in_ancestors=True),
    )


def peer_search_fn() -> Callable[[str], object] | None:
    """icd10-coder's ``dx`` search: ``cm_search(get_conn(CM_DB), query, limit=20)``."""
    try:
        from icd10_coder.coder import CM_DB, cm_search, get_conn
    except ImportError:
        return None
    conn = get_conn(CM_DB)

    def run(query: str) -> object:
        return cm_search(conn, query, 20)

    return run


# Fresh-process load scripts: each prints seconds from first import to first answer.
_LOAD_SCRIPTS = {
    "medbill-lookup": (
        "import sys, time\nt = time.perf_counter()\nfrom datetime import date\nfrom pathlib import Path\n"
        "from medbill.codesets.refstore import RefStore\nfrom medbill.core.codes import CodeSystem\n"
        "s = RefStore.open(Path(sys.argv[1]))\n"
        "s.get('E11.9', system=CodeSystem.ICD10CM, on=date(2026, 4, 1))\n"
        "print(time.perf_counter() - t)\n"
    ),
    "peer-lookup": (
        "import time\nt = time.perf_counter()\nimport simple_icd_10_cm as cm\n"
        "cm.get_description('E11.9')\nprint(time.perf_counter() - t)\n"
    ),
    "medbill-search": (
        "import sys, time\nt = time.perf_counter()\nfrom pathlib import Path\n"
        "from medbill.codesets.refstore import RefStore\nfrom medbill.codesets.search import SearchEngine\n"
        "s = RefStore.open(Path(sys.argv[1]))\n"
        "SearchEngine(s.conn).search('type 2 diabetes mellitus with neuropathy', limit=20)\n"
        "print(time.perf_counter() - t)\n"
    ),
    "peer-search": (
        "import time\nt = time.perf_counter()\nfrom icd10_coder.coder import CM_DB, cm_search, get_conn\n"
        "cm_search(get_conn(CM_DB), 'type 2 diabetes mellitus with neuropathy', 20)\n"
        "print(time.perf_counter() - t)\n"
    ),
}


def load_time(script: str, store: Path, reps: int) -> Stats | None:
    """Milliseconds from first import to first answer, each rep in a fresh interpreter."""
    samples: list[float] = []
    for _ in range(reps):
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD_SCRIPTS[script], str(store)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return None
        samples.append(float(proc.stdout.strip().splitlines()[-1]) * 1000.0)
    return Stats.of(samples)


# ---------------------------------------------------------------------------- the run
def run_benchmark(store_path: Path, n: int, reps: int, build: tuple[float, str] | None, report: Report) -> None:
    sic_name = f"simple_icd_10_cm {_version('simple-icd-10-cm')}"
    coder_name = f"icd10-coder {_version('icd10-coder')} cm_search"

    # 1. build
    if build is None:
        report.rows.append(Row("data build [s]", "s", None, None, "", "skipped: existing store reused"))
        report.targets.append(Target(f"data build < {TARGET_BUILD_S:g} s", TARGET_BUILD_S, "s", None))
    else:
        seconds, note = build
        report.rows.append(Row("data build [s]", "s", Stats.of([seconds]), None, "", note))
        report.targets.append(Target(f"data build < {TARGET_BUILD_S:g} s", TARGET_BUILD_S, "s", seconds))

    # 2. load, fresh processes
    for what, peer_name in (("lookup", sic_name), ("search", coder_name)):
        if reps < 1:
            row = Row(f"load for {what} [ms]", "ms", None, None, peer_name, "skipped (--load-reps 0)")
        else:
            row = Row(
                f"load for {what} [ms]",
                "ms",
                load_time(f"medbill-{what}", store_path, reps),
                load_time(f"peer-{what}", store_path, reps),
                peer_name,
                f"fresh process: import + open + first {what}; {reps} run(s)",
            )
        report.rows.append(row)

    store = RefStore.open(store_path)
    try:
        # 3. lookups
        pools = code_pools(store)
        codes = sample_codes(pools, n)
        all_samples: list[float] = []
        for system, label in (
            (CodeSystem.ICD10CM, "lookup ICD-10-CM [ms]"),
            (CodeSystem.ICD10PCS, "lookup ICD-10-PCS [ms]"),
            (CodeSystem.HCPCS, "lookup HCPCS [ms]"),
        ):
            items = codes[system]
            if not items:
                report.rows.append(Row(label, "ms", None, None, "", f"no {system.label} codes in the store"))
                continue

            def mine(code: str, system: CodeSystem = system) -> object:
                return store.get(code, system=system, on=ON)

            medbill_stats, samples = measure(mine, items, (InvalidCode,))
            all_samples.extend(samples)
            peer_stats: Stats | None = None
            peer = ""
            if system is CodeSystem.ICD10CM:
                try:
                    import simple_icd_10_cm  # noqa: F401  (import/parse time is the load row)

                    peer_stats, _ = measure(peer_lookup, items, (ValueError,))
                    peer = sic_name
                except ImportError:
                    peer = "simple_icd_10_cm not installed"
            report.rows.append(Row(label, "ms", medbill_stats, peer_stats, peer, "get(code, on=2026-04-01)"))
        lookup_p99 = Stats.of(all_samples).p99 if all_samples else None
        report.targets.append(
            Target(f"lookup p99 < {TARGET_LOOKUP_P99_MS:g} ms", TARGET_LOOKUP_P99_MS, "ms", lookup_p99)
        )

        # 4. search
        queries, from_tsv = build_queries(store, pools[CodeSystem.ICD10CM], n)
        engine = SearchEngine(store.conn)
        mine_search, mine_samples = measure(lambda q: engine.search(q, limit=20), queries, ())
        peer_fn = peer_search_fn()
        peer_search: Stats | None = None
        if peer_fn is not None:
            peer_search, peer_samples = measure(peer_fn, queries, ())
            report.settings["slowest_peer_searches_ms"] = slowest(queries, peer_samples)
        report.settings["slowest_medbill_searches_ms"] = slowest(queries, mine_samples)
        report.notes.append(
            "slowest medbill searches: "
            + ", ".join(f"{q!r} {ms:g} ms" for q, ms in report.settings["slowest_medbill_searches_ms"])
        )
        report.rows.append(
            Row(
                "search [ms]",
                "ms",
                mine_search,
                peer_search,
                coder_name if peer_fn else "icd10-coder not installed",
                "limit=20; medbill: all systems, peer: ICD-10-CM only",
            )
        )
        report.targets.append(
            Target(f"search p99 < {TARGET_SEARCH_P99_MS:g} ms", TARGET_SEARCH_P99_MS, "ms", mine_search.p99)
        )
        report.settings["queries"] = len(queries)
        report.settings["queries_from_tsv"] = from_tsv
        report.settings["codes"] = {str(k): len(v) for k, v in codes.items()}
    finally:
        store.close()


# ---------------------------------------------------------------------------- printing
def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.1f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_report(report: Report) -> str:
    m = report.machine
    s = report.settings
    lines = [
        "medbill speed benchmark",
        f"machine: {m['cpu_count']} CPUs ({m['cpus_usable']} usable) {m['cpu_model']}; "
        f"Python {m['python']} ({m['implementation']}); SQLite {m['sqlite']}; {m['platform']}",
        f"load average at start: {' '.join(str(x) for x in m['loadavg_at_start']) or 'n/a'} "
        "(the machine may be shared: figures move with other work)",
        f"store: {s['store']} ({s['store_mb']:.0f} MB, {s['store_origin']}); lookups on {ON.isoformat()}; "
        f"seed {SEED}; n={s['n']}",
        "",
    ]
    header = (
        f"{'operation':<24}{'n':>6}  {'medbill p50':>11}{'p99':>9}{'mean':>9}  "
        f"{'peer p50':>9}{'p99':>9}{'mean':>9}  {'ratio p99':>9}{'mean':>8}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for row in report.rows:
        mb, pr = row.medbill, row.peer
        n = mb.n if mb else (pr.n if pr else 0)
        lines.append(
            f"{row.operation:<24}{n:>6}  "
            f"{_num(mb.p50 if mb else None, row.unit):>11}{_num(mb.p99 if mb else None, row.unit):>9}"
            f"{_num(mb.mean if mb else None, row.unit):>9}  "
            f"{_num(pr.p50 if pr else None, row.unit):>9}{_num(pr.p99 if pr else None, row.unit):>9}"
            f"{_num(pr.mean if pr else None, row.unit):>9}  "
            f"{_ratio(row.ratio('p99')):>9}{_ratio(row.ratio('mean')):>8}"
        )
    lines.append("")
    lines.append("ratio = peer / medbill (above 1x: medbill faster). Rows:")
    for row in report.rows:
        errs = []
        if row.medbill and row.medbill.errors:
            errs.append(f"medbill errors {row.medbill.errors}")
        if row.peer and row.peer.errors:
            errs.append(f"peer errors {row.peer.errors}")
        peer = f"peer {row.peer_name}" if row.peer_name else "no peer"
        extra = "; ".join([row.note, peer, *errs])
        lines.append(f"  {row.operation:<24}{extra}")
    lines.append("")
    lines.append("targets:")
    for t in report.targets:
        shown = "not measured" if t.measured is None else f"{_num(t.measured, t.unit)} {t.unit}"
        lines.append(f"  {t.name:<24}{t.verdict:<8}({shown})")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- entry point
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/speed.py", description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_N} lookups/queries, no build")
    p.add_argument("--store", type=Path, help="reuse this built store (skips the build)")
    p.add_argument("--n", type=int, help=f"codes and queries to time (default {FULL_N}, --quick {QUICK_N})")
    p.add_argument(
        "--json",
        nargs="?",
        type=Path,
        const=DEFAULT_JSON,
        help=f"also write the results as JSON (default {DEFAULT_JSON.relative_to(BENCH_DIR.parent)})",
    )
    p.add_argument(
        "--load-reps",
        type=int,
        help=f"fresh processes per load row (default {LOAD_REPS_FULL}, --quick {LOAD_REPS_QUICK}; 0 skips)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    return p.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    n = args.n if args.n is not None else (QUICK_N if args.quick else FULL_N)
    if n < 1:
        print("bench/speed.py: --n must be at least 1", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    store_path: Path | None = args.store
    if store_path is None and args.quick:
        store_path = settings.refdata_path
    if store_path is not None and not store_path.is_file():
        print(
            f"bench/speed.py: no reference store at {store_path}: build one (`medbill data build`) "
            "or give --store PATH (or run without --quick to build one in a temporary folder)",
            file=sys.stderr,
        )
        return 2

    report = Report(
        machine=machine_facts(),
        settings={"n": n, "quick": bool(args.quick), "seed": SEED, "on": ON.isoformat()},
    )
    reps = args.load_reps if args.load_reps is not None else (LOAD_REPS_QUICK if args.quick else LOAD_REPS_FULL)
    try:
        with tempfile.TemporaryDirectory(prefix="medbill-bench-") as tmp:
            build: tuple[float, str] | None = None
            if store_path is None:
                if settings.source_dir is None:
                    report.notes.append("MEDBILL_SOURCE_DIR unset: the build loaded packaged code sets only")
                store_path = Path(tmp) / "refdata.sqlite"
                build = measure_build(settings.source_dir, store_path)
                report.settings["store_origin"] = "built in this run"
            else:
                report.settings["store_origin"] = "given, build skipped"
            report.settings["store"] = str(store_path)
            report.settings["store_mb"] = store_path.stat().st_size / 1e6
            report.settings["source_dir"] = str(settings.source_dir) if settings.source_dir else None
            run_benchmark(store_path, n, reps, build, report)
    except CodeSetError as exc:
        print(f"bench/speed.py: {exc}", file=sys.stderr)
        return 2

    print(format_report(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    if any("FAILED" in r.note for r in report.rows):
        return 1
    if args.strict and any(t.verdict == "FAIL" for t in report.targets):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

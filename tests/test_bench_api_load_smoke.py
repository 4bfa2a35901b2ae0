"""Smoke test of the API load benchmark (bench/api_load.py): both configurations serve every request."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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


def test_api_load_small() -> None:
    from medbill.services import auth

    original = auth.PASSWORD_HASHER
    try:
        rows = _load("api_load").run(requests=40, workers=2, patients=8)
    finally:
        auth.PASSWORD_HASHER = original
    assert [r["config"] for r in rows] == ["safeguards on", "safeguards off"]
    for r in rows:
        assert r["requests"] == 40 and r["errors"] == 0, r
        assert 0 < r["p50_ms"] <= r["p99_ms"]
    assert rows[0]["ratio"] > 0 and rows[1]["ratio"] == 1.0

"""Smoke test of the read + post benchmark (bench/post_speed.py) on a small file (SQLCipher only)."""

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


def test_post_speed_small(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDBILL_TEST_DATABASE_URL", raising=False)
    bench = _load("post_speed")
    out = tmp_path / "post.json"
    assert bench.main(["--n", "40", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["row"] for r in rows] == ["in-memory floor", "sqlite post", "sqlite replay"]
    assert all(r["claims"] == 40 and r["claims_per_s"] > 0 for r in rows)
    assert rows[1]["note"].startswith("ok") and rows[2]["note"] == "ok"
    assert "vs floor" in capsys.readouterr().out

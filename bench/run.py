"""Run every benchmark in bench/: ``python bench/run.py [--only NAME] [ARGS ...]`` (``make bench``).

Each benchmark is a script ``bench/<name>.py`` exposing ``main(argv) -> int``; it is imported by
path and called in this process with every argument run.py does not use itself (``--quick``,
``--store PATH``, ``--json`` ...), so each benchmark must accept (or ignore, with
``parse_known_args``) the arguments the others take. The exit status is the highest of theirs.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import cast

BENCH_DIR = Path(__file__).resolve().parent

# bench/<name>.py, run in this order
BENCHMARKS: tuple[str, ...] = (
    "speed",
    "search_quality",
    "x12_speed",
    "remit_speed",
    "post_speed",
    "scrub_speed",
    "codiesp_eval",
    "coding_speed",
    "api_load",
    "web_render",
)


def load(name: str) -> ModuleType:
    """Import bench/<name>.py by path (bench/ is not a package)."""
    path = BENCH_DIR / f"{name}.py"
    module_name = f"medbill_bench_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Run every benchmark in bench/; other arguments go to each benchmark.",
        allow_abbrev=False,
    )
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    chosen = [b for b in BENCHMARKS if not args.only or b in args.only]
    status = 0
    for name in chosen:
        print(f"=== bench/{name}.py {' '.join(rest)}".rstrip(), flush=True)
        started = time.perf_counter()
        try:
            entry = getattr(load(name), "main", None)
            if not callable(entry):
                print(f"bench/{name}.py has no main(argv): skipped", file=sys.stderr)
                status = max(status, 1)
                continue
            rc = int(cast(Callable[[list[str]], int], entry)(list(rest)) or 0)
        except SystemExit as exc:  # argparse errors and explicit exits
            rc = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc()
            rc = 1
        print(f"=== bench/{name}.py exit {rc} in {time.perf_counter() - started:.1f} s\n", flush=True)
        status = max(status, rc)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

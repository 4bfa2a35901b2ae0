"""Word n-gram -> code associations learned from labelled notes (a small shipped data file).

``data/learned.tsv`` is built by ``bench/coding_learn.py`` from the CodiEsp TRAIN split only
(English machine translations and their gold codes; the gold evidence offsets of the Spanish
originals place each code in a sentence). Each row: the n-gram's token keys (see
``coding.text.tokenize``), the system, the code, how many training sentences held the n-gram near
that code (``co``) and how many held the n-gram at all (``df``). The confidence of a match is the
smoothed precision ``co / (df + 1)``. No PHI: CodiEsp is published case reports.
"""

from __future__ import annotations

import threading
from importlib import resources

from medbill.core.codes import CodeSystem

Assoc = dict[tuple[str, ...], tuple[tuple[CodeSystem, str, float], ...]]
_LOCK = threading.Lock()
_CACHE: dict[str, Assoc] = {}


def install(name: str, assoc: Assoc) -> None:
    """Put associations in the cache under a name (cross-validation in bench/, tests)."""
    with _LOCK:
        _CACHE[name] = assoc


def associations(name: str = "learned.tsv") -> Assoc:
    """n-gram -> ((system, code, confidence), ...) best first; empty when the file is absent."""
    with _LOCK:
        hit = _CACHE.get(name)
        if hit is not None:
            return hit
        out: dict[tuple[str, ...], list[tuple[CodeSystem, str, float]]] = {}
        res = resources.files("medbill.coding").joinpath(f"data/{name}")
        if res.is_file():
            for line in res.read_text(encoding="utf-8").splitlines():
                if not line or line.startswith("#"):
                    continue
                gram, system, code, co, df = line.split("\t")
                conf = int(co) / (int(df) + 1)
                out.setdefault(tuple(gram.split()), []).append((CodeSystem(system), code, conf))
        frozen = {k: tuple(sorted(v, key=lambda t: -t[2])) for k, v in out.items()}
        _CACHE[name] = frozen
        return frozen

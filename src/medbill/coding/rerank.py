"""A light logistic-regression reranker: which candidates are "suggested", and in what order.

``data/rerank.json`` is built by ``bench/coding_rerank.py`` from the CodiEsp TRAIN split only:
weights learned on train[250:] against the gold codes (features of each note computed with the
learned associations of the other half, and code statistics leaving the note out), the
threshold picked on train[:250] to maximise diagnosis micro-F1, and per-code statistics over the
whole training split (how often a candidate code was right, how often the code is in the gold).
Plain JSON and arithmetic: no numpy at run time, no model weights from credentialed data.

The features (``FEATURES``) are computed by the pipeline for every candidate; each is explained
in ``why`` of the suggestion by its largest contributions.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

FEATURES: tuple[str, ...] = (
    "confidence",  # noisy-or of the mention confidences (match source, single common word ...)
    "lexicon",  # named by the code sets (title, inclusion, Index, abbreviation)
    "index_term",  # named by a curated Index main term
    "title_match",  # named by a tabular title / inclusion term in order
    "bag_only",  # only word-order-free matches
    "learned_only",  # only learned n-gram associations
    "learned_conf",  # best learned association precision
    "mentions",  # log(1 + number of mentions)
    "title_overlap",  # share of the code title's distinctive words in the mention's sentence
    "code_prior",  # log share of training notes whose gold holds the code
    "code_precision",  # smoothed share of training candidates of this code that were right
    "code_seen",  # log(1 + training candidates of this code)
    "uncertain",  # the mentions are uncertain (coded as established inpatient)
    "billable",
    "specific",  # every descent step was chosen by the note's words
    "single_word",  # every mention is one word
    "combination",  # made by the "with" convention
    "depth",  # code length / 7
    "unsupported",  # learned only, with no code-set mention in the same sentence
    "position",  # where the first mention stands (0 = start of the note, 1 = end)
)

_LOCK = threading.Lock()
_CACHE: dict[str, Reranker | None] = {}


@dataclass(frozen=True, slots=True)
class Model:
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float

    def probability(self, x: Sequence[float]) -> float:
        z = self.bias
        for w, v, m, s in zip(self.weights, x, self.mean, self.scale, strict=True):
            z += w * (v - m) / s
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def contributions(self, x: Sequence[float]) -> list[tuple[float, str]]:
        return sorted(
            (
                (w * (v - m) / s, name)
                for w, v, m, s, name in zip(self.weights, x, self.mean, self.scale, FEATURES, strict=True)
            ),
            key=lambda t: -abs(t[0]),
        )


@dataclass(frozen=True, slots=True)
class Reranker:
    models: dict[str, Model]  # system ("ICD10CM", "ICD10PCS") -> model
    code_stats: dict[str, tuple[int, int, int]]  # "SYSTEM code" -> (right, candidates, gold notes)
    docs: int  # training notes behind code_stats

    def stats(self, system: str, code: str) -> tuple[float, float, float]:
        """(code_prior, code_precision, code_seen) features of a code."""
        right, seen, gold = self.code_stats.get(f"{system} {code}", (0, 0, 0))
        prior = math.log((gold + 0.5) / (self.docs + 1.0))
        precision = (right + 0.5) / (seen + 2.0)
        return prior, precision, math.log1p(seen)


def from_dict(data: dict[str, Any]) -> Reranker:
    if list(data.get("features", ())) != list(FEATURES):
        raise ValueError("reranker features differ from this pipeline's")
    models = {
        system: Model(
            tuple(float(w) for w in m["weights"]),
            float(m["bias"]),
            tuple(float(v) for v in m["mean"]),
            tuple(float(v) or 1.0 for v in m["scale"]),
            float(m["threshold"]),
        )
        for system, m in data["models"].items()
    }
    stats = {k: (int(v[0]), int(v[1]), int(v[2])) for k, v in data.get("code_stats", {}).items()}
    return Reranker(models, stats, int(data.get("docs", 0)))


def install(name: str, reranker: Reranker | None) -> None:
    """Put a reranker in the cache under a name (training and cross-validation in bench/, tests)."""
    with _LOCK:
        _CACHE[name] = reranker


def reranker(name: str = "rerank.json") -> Reranker | None:
    """The shipped reranker (None when the file is absent or unreadable: the pipeline falls back to
    its confidence rule)."""
    with _LOCK:
        if name in _CACHE:
            return _CACHE[name]
        res = resources.files("medbill.coding").joinpath(f"data/{name}")
        out: Reranker | None = None
        if res.is_file():
            try:
                out = from_dict(json.loads(res.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError):
                out = None
        _CACHE[name] = out
        return out

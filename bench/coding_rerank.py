"""Build ``src/medbill/coding/data/rerank.json``: the logistic-regression reranker, TRAIN only.

Source: the CodiEsp TRAIN split (``$MEDBILL_FIXTURES_DIR/codiesp/train``); dev and test are never read.

1. Candidates and their features (``medbill.coding.rerank.FEATURES``) from ``suggest(...,
   options=CodingOptions(features=True))`` on every train note, inpatient, codes as of 2026-04-01.
   The learned associations a note sees never come from that note: train[250:375] uses those
   learned from train[375:], train[375:] those from train[250:375], train[:250] those from train[250:].
2. Per-code statistics (candidates of the code that were right, candidates, gold notes): for
   training rows they leave the note out (computed over train[250:]); for train[:250] they come
   from train[250:] only.
3. One L2-regularised logistic regression per system (ICD-10-CM strict match against the gold,
   ICD-10-PCS at 4 characters), fitted by Newton's method in numpy on train[250:].
4. The threshold of "suggested" is the one that maximises micro-F1 on train[:250] (held out).
5. Shipped: the weights, the thresholds and the per-code statistics over the whole train split.

Usage: ``python bench/coding_rerank.py [--no-write]``. Needs ``coding_learn.py``'s learner.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medbill.codesets.refstore import RefStore
from medbill.coding import suggest
from medbill.coding.learned import install as install_learned
from medbill.coding.model import CodingOptions
from medbill.coding.rerank import FEATURES, from_dict
from medbill.coding.rerank import install as install_rerank
from medbill.settings import Settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import coding_learn  # noqa: E402

OUT = HERE.parent / "src" / "medbill" / "coding" / "data" / "rerank.json"
L2 = 1.0
LEARNED_MIN = CodingOptions().learned_min
STATS = (FEATURES.index("code_prior"), FEATURES.index("code_precision"), FEATURES.index("code_seen"))
LEARNED_ONLY = FEATURES.index("learned_only")
OVERLAP = FEATURES.index("title_overlap")
BILLABLE = FEATURES.index("billable")
SYSTEMS = {"ICD10CM": "D", "ICD10PCS": "P"}

Row = tuple[str, str, str, list[float]]  # doc, system, code, features


def _blank() -> dict[str, Any]:
    """A reranker that only asks the pipeline for features (no statistics, zero weights)."""
    n = len(FEATURES)
    model = {"weights": [0.0] * n, "bias": 0.0, "mean": [0.0] * n, "scale": [1.0] * n, "threshold": 0.5}
    return {"features": list(FEATURES), "models": {s: model for s in SYSTEMS}, "code_stats": {}, "docs": 0}


def collect(docs: Sequence[str], texts: dict[str, str], store: RefStore, ON: Any, learned: str) -> list[Row]:
    install_rerank("features", from_dict(_blank()))
    opts = CodingOptions(learned=learned, rerank="features", features=True, learned_min=LEARNED_MIN)
    rows: list[Row] = []
    for doc in docs:
        result = suggest(texts[doc], store=store, setting="inpatient", on=ON, options=opts)
        for system, code, x in result.stats["features"]:
            if system in SYSTEMS:
                rows.append((doc, system, code, list(x)))
    return rows


def label(system: str, code: str, gold: set[str]) -> bool:
    return (code in gold) if system == "ICD10CM" else (code[:4] in {g[:4] for g in gold})


def code_stats(rows: Sequence[Row], golds: dict[str, dict[str, set[str]]], docs: Sequence[str]) -> dict[str, list[int]]:
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    seen: set[tuple[str, str, str]] = set()
    for doc, system, code, _x in rows:
        if (doc, system, code) in seen:
            continue
        seen.add((doc, system, code))
        s = stats[f"{system} {code}"]
        s[1] += 1
        s[0] += label(system, code, golds[system].get(doc, set()))
    for doc in docs:
        for system in SYSTEMS:
            for code in golds[system].get(doc, ()):
                stats[f"{system} {code}"][2] += 1
    return dict(stats)


def with_stats(
    rows: Sequence[Row], stats: dict[str, list[int]], n_docs: int, golds: dict[str, dict[str, set[str]]], loo: bool
) -> list[Row]:
    out: list[Row] = []
    for doc, system, code, x in rows:
        right, seen, gold = stats.get(f"{system} {code}", [0, 0, 0])
        docs = n_docs
        if loo:  # leave the note out
            g = golds[system].get(doc, set())
            right -= label(system, code, g)
            seen -= 1
            gold -= code in g
            docs -= 1
        y = list(x)
        y[STATS[0]] = math.log((gold + 0.5) / (docs + 1.0))
        y[STATS[1]] = (right + 0.5) / (seen + 2.0)
        y[STATS[2]] = math.log1p(seen)
        out.append((doc, system, code, y))
    return out


def fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    Z = np.hstack([np.ones((len(X), 1)), (X - mean) / scale])
    w = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], L2)
    reg[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ w, -30, 30)))
        grad = Z.T @ (p - y) + reg * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg + 1e-6)
        step = np.linalg.solve(H, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w[1:], float(w[0]), mean, scale


def probs(rows: Sequence[Row], model: dict[str, Any]) -> np.ndarray:
    X = np.array([r[3] for r in rows])
    z = model["bias"] + ((X - np.array(model["mean"])) / np.array(model["scale"])) @ np.array(model["weights"])
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def best_threshold(
    rows: Sequence[Row], p: np.ndarray, golds: dict[str, set[str]], n_gold: int, system: str, support: bool
) -> tuple[float, float]:
    best = (0.5, -1.0)
    for t in np.arange(0.02, 0.91, 0.01):
        chosen: dict[str, set[str]] = defaultdict(set)
        for r, pr in zip(rows, p, strict=True):
            x = r[3]
            if pr >= t and x[BILLABLE] and not (support and system == "ICD10CM" and x[LEARNED_ONLY] and not x[OVERLAP]):
                chosen[r[0]].add(r[2] if system == "ICD10CM" else r[2][:4])
        tp = sum(
            len(c & ({g if system == "ICD10CM" else g[:4] for g in golds.get(d, set())})) for d, c in chosen.items()
        )
        n_pred = sum(len(c) for c in chosen.values())
        f1 = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0
        if f1 > best[1]:
            best = (round(float(t), 2), f1)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--learned-min", type=float, default=None, help="try another learned floor (no write)")
    args = ap.parse_args(argv)
    if args.learned_min is not None:
        global LEARNED_MIN
        LEARNED_MIN = args.learned_min
        args.no_write = True
    ev = coding_learn._eval_module()
    root = ev.corpus_dir()
    store = RefStore.open(Settings.from_env().refdata_path)
    fy = ev.Fy2026(store)
    texts = ev.load_texts("train")
    docs = sorted(texts)
    held, fold_a, fold_b = docs[:250], docs[250:375], docs[375:]
    golds = {
        "ICD10CM": {d: set(c) for d, c in ev.load_gold("train", "D", fy)[0].items()},
        "ICD10PCS": {d: {c[:4] for c in cs} for d, cs in ev.load_gold("train", "P", fy)[0].items()},
    }
    rows: dict[str, list[Row]] = {}
    for name, part, source in (("a", fold_a, fold_b), ("b", fold_b, fold_a), ("h", held, docs[250:])):
        install_learned(f"rerank-{name}", coding_learn.learn(source, ev, fy, root))
        rows[name] = collect(part, texts, store, ev.ON, f"rerank-{name}")
        print(f"fold {name}: {len(part)} notes, {len(rows[name])} candidates")
    train_rows = rows["a"] + rows["b"]
    train_stats = code_stats(train_rows, golds, docs[250:])
    train_x = with_stats(train_rows, train_stats, 250, golds, loo=True)
    held_x = with_stats(rows["h"], train_stats, 250, golds, loo=False)
    models: dict[str, Any] = {}
    for system in SYSTEMS:
        part = [r for r in train_x if r[1] == system]
        X = np.array([r[3] for r in part])
        y = np.array([label(system, r[2], golds[system].get(r[0], set())) for r in part], dtype=float)
        w, b, mean, scale = fit(X, y)
        model = {
            "weights": w.round(5).tolist(),
            "bias": round(b, 5),
            "mean": mean.round(5).tolist(),
            "scale": scale.round(5).tolist(),
        }
        hpart = [r for r in held_x if r[1] == system]
        n_gold = sum(len(golds[system].get(d, ())) for d in held)
        p = probs(hpart, model)
        for support in (False, True):
            t, f1 = best_threshold(hpart, p, golds[system], n_gold, system, support)
            print(
                f"{system}: {len(part)} training candidates ({int(y.sum())} right); held-out best threshold"
                f" {t} F1 {f1:.3f} (learned-only needs support: {support})"
            )
        t, _f1 = best_threshold(hpart, p, golds[system], n_gold, system, True)
        model["threshold"] = t
        models[system] = model
        for name, wt in sorted(zip(FEATURES, w, strict=True), key=lambda t: -abs(t[1])):
            print(f"   {name:<16}{wt:+.3f}")
    all_rows = train_rows + rows["h"]
    full_stats = code_stats(all_rows, golds, docs)
    data = {
        "features": list(FEATURES),
        "models": models,
        "docs": len(docs),
        "code_stats": {k: v for k, v in sorted(full_stats.items()) if v[1] or v[2] >= 2},
        "built_by": "bench/coding_rerank.py from CodiEsp TRAIN only",
    }
    # score train[:250] through the pipeline with statistics from train[250:] only
    held_model = dict(data, docs=250, code_stats=train_stats)
    install_rerank("rerank-held", from_dict(held_model))
    rep = ev.evaluate(
        lambda text: suggest(
            text,
            store=store,
            setting="inpatient",
            on=ev.ON,
            options=CodingOptions(learned="rerank-h", rerank="rerank-held", learned_min=LEARNED_MIN),
        ),
        "train",
        store=store,
        limit=250,
        system="rerank held",
    )
    print(ev.render([rep]))
    if not args.no_write:
        OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

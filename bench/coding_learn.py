"""Build ``src/medbill/coding/data/learned.tsv``: English word n-gram -> code associations, TRAIN only.

Source: the CodiEsp TRAIN split (``$MEDBILL_FIXTURES_DIR/codiesp/train``): English machine
translations and gold codes (trainD/trainP), with trainX's evidence offsets into the Spanish
originals used only to place each code in a sentence: a Spanish offset is mapped to the English
sentence at the same relative position (the translation keeps the order of sentences), and a code
counts as "near" that sentence and its two neighbours. Dev and test are never read here.

For every n-gram (1-3 token keys of ``medbill.coding.text.tokenize``) and code: ``co`` = training
sentences holding the n-gram near the code, ``df`` = training sentences holding the n-gram. Kept
when ``co >= MIN_CO`` and ``co / (df + 1) >= MIN_PREC``; diagnosis codes are mapped to FY2026 as
the evaluation maps the gold (``codiesp_eval.Fy2026``).

Usage: ``python bench/coding_learn.py [--cv]``; ``--cv`` learns from the second half of train,
scores the first half (tuning without dev), and does not write the file.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from medbill.codesets.refstore import RefStore
from medbill.coding.learned import Assoc, install
from medbill.coding.model import CodingOptions
from medbill.coding.text import sentence_bounds, tokenize
from medbill.core.codes import CodeSystem
from medbill.settings import Settings

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "src" / "medbill" / "coding" / "data" / "learned.tsv"
MIN_CO = 2
MIN_PREC = 0.25
WINDOW = 1


def _eval_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("codiesp_eval", HERE / "codiesp_eval.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["codiesp_eval"] = mod
    spec.loader.exec_module(mod)
    return mod


def _evidence(root: Path) -> dict[str, list[tuple[str, str, int]]]:
    """doc -> [(kind D|P, code, Spanish offset)] from trainX."""
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for line in (root / "train" / "trainX.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 5:
            continue
        doc, label, code, _ref, pos = parts[:5]
        try:
            start = int(pos.split(";")[0].split()[0])
        except (ValueError, IndexError):
            continue
        out[doc].append(("D" if label.startswith("DIAG") else "P", code, start))
    return out


def learn(docs: Sequence[str], ev, fy, root: Path) -> Assoc:  # type: ignore[no-untyped-def]
    evidence = _evidence(root)
    co: Counter[tuple[tuple[str, ...], str, str]] = Counter()
    df: Counter[tuple[str, ...]] = Counter()
    for doc in docs:
        en = (root / "train" / "text_files_en" / f"{doc}.txt").read_text(encoding="utf-8")
        es = (root / "train" / "text_files" / f"{doc}.txt").read_text(encoding="utf-8")
        bounds = sentence_bounds(en)
        if not bounds:
            continue
        tokens = tokenize(en, bounds)
        near: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for kind, raw, offset in evidence.get(doc, ()):
            code = ev.norm_code(raw)
            if kind == "D":
                code, _status = fy.map_dx(code)
            pos = int(offset / max(1, len(es)) * len(en))
            k = max(i for i, (a, _b) in enumerate(bounds) if a <= pos) if pos >= bounds[0][0] else 0
            for s in range(k - WINDOW, k + WINDOW + 1):
                near[s].add((kind, code))
        by_sent: dict[int, list[str]] = defaultdict(list)
        for t in tokens:
            by_sent[t.sent].append(t.key)
        for s, keys in by_sent.items():
            grams = {tuple(keys[i : i + n]) for n in (1, 2, 3) for i in range(len(keys) - n + 1)}
            for g in grams:
                df[g] += 1
                for kind, code in near.get(s, ()):
                    co[(g, kind, code)] += 1
    out: dict[tuple[str, ...], list[tuple[CodeSystem, str, float]]] = {}
    rows: list[tuple[tuple[str, ...], str, str, int, int]] = []
    for (g, kind, code), c in co.items():
        if c >= MIN_CO and c / (df[g] + 1) >= MIN_PREC and any(len(w) >= 3 and w.isalpha() for w in g):
            system = CodeSystem.ICD10CM if kind == "D" else CodeSystem.ICD10PCS
            out.setdefault(g, []).append((system, code, c / (df[g] + 1)))
            rows.append((g, str(system), code, c, df[g]))
    learn.rows = rows  # type: ignore[attr-defined]
    return {k: tuple(sorted(v, key=lambda t: -t[2])) for k, v in out.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="learn on train[250:], score train[:250]; write nothing")
    parser.add_argument("--threshold", type=float, default=0.5, help="suggest_threshold to score with --cv")
    args = parser.parse_args(argv)
    ev = _eval_module()
    root = ev.corpus_dir()
    store = RefStore.open(Settings.from_env().refdata_path)
    fy = ev.Fy2026(store)
    docs = sorted(p.stem for p in (root / "train" / "text_files_en").glob("*.txt"))
    if args.cv:
        assoc = learn(docs[250:], ev, fy, root)
        install("cv", assoc)
        from medbill.coding import suggest

        for thr in sorted({args.threshold, 0.6, 0.7}):
            opts = CodingOptions(learned="cv", suggest_threshold=thr)
            rep = ev.evaluate(
                lambda text, o=opts: suggest(text, store=store, setting="inpatient", on=ev.ON, options=o),
                "train",
                store=store,
                limit=250,
                system=f"medbill cv thr={thr}",
            )
            print(ev.render([rep]))
        return 0
    learn(docs, ev, fy, root)
    rows = sorted(learn.rows, key=lambda r: (r[0], -r[3], r[2]))  # type: ignore[attr-defined]
    with OUT.open("w", encoding="utf-8") as fh:
        fh.write(
            "# n-gram<TAB>system<TAB>code<TAB>co<TAB>df: built by bench/coding_learn.py from CodiEsp TRAIN only"
            f" (min co {MIN_CO}, min co/(df+1) {MIN_PREC}, window +-{WINDOW} sentence)\n"
        )
        for g, system, code, c, d in rows:
            fh.write(f"{' '.join(g)}\t{system}\t{code}\t{c}\t{d}\n")
    print(f"wrote {OUT} ({len(rows)} rows, {OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

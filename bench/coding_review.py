"""Print a seeded sample of CodiEsp dev suggestions for the hand review of evidence spans (issue 6).

Each line: the code and its title, whether the dev gold has it (strict), and the note excerpt
around the first evidence span with the span in [[double brackets]]. The reviewer judges the span:
exact (names the coded condition, no more), too wide, too narrow, or wrong (the words do not
support the code). The summary of the last review is in ``bench/CODING_REVIEW.md``.

Usage: ``python bench/coding_review.py [--n 50] [--seed 6]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from medbill.codesets.refstore import RefStore
from medbill.coding import suggest
from medbill.settings import Settings

HERE = Path(__file__).resolve().parent


def _eval_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("codiesp_eval", HERE / "codiesp_eval.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["codiesp_eval"] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=6)
    args = ap.parse_args(argv)
    ev = _eval_module()
    store = RefStore.open(Settings.from_env().refdata_path)
    fy = ev.Fy2026(store)
    texts = ev.load_texts("dev")
    gold, _ = ev.load_gold("dev", "D", fy)
    gold_p, _ = ev.load_gold("dev", "P", fy)
    pool = []
    for doc, text in sorted(texts.items()):
        result = suggest(text, store=store, setting="inpatient", on=ev.ON)
        for s in result.suggestions:
            if s.status == "suggested" and s.evidence:
                pool.append((doc, text, s))
    rng = random.Random(args.seed)
    sample = rng.sample(pool, min(args.n, len(pool)))
    print(f"{len(pool)} suggested codes on {len(texts)} dev notes; sample of {len(sample)} (seed {args.seed})")
    for n, (doc, text, s) in enumerate(sample, 1):
        e = s.evidence[0]
        assert text[e.start : e.end] == e.text
        lo, hi = max(0, e.start - 70), min(len(text), e.end + 50)
        excerpt = (text[lo : e.start] + "[[" + e.text + "]]" + text[e.end : hi]).replace("\n", " ")
        g = gold.get(doc, []) if s.system.value == "ICD10CM" else [c[:4] for c in gold_p.get(doc, [])]
        hit = s.code in g or s.code[:4] in g
        print(f"{n:>2}. {s.display} {s.description[:60]!r} gold={'Y' if hit else 'N'} path={s.path[0][:50]!r}")
        print(f"    ...{excerpt}...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Search quality of `medbill search` over ICD-10-CM, three measures.

1. titles:   every billable code's official long description, searched as typed, must return
             that code at rank 1 (the rate; codes whose description is shared word-for-word with
             another code are reported apart, since no engine can tell them apart).
2. leave-out: every inclusion term of a billable code, searched with that code's own inclusion
             terms left out of the index: rank-1 rate and recall@10. The term is not found by
             construction; only the title, the Index, other codes' text and the lexicon can find it.
3. phrasings: recall@10 on the frozen clinical phrasings in bench/search_queries.tsv (abbreviations,
             lay terms, word order, misspellings ...). `dev` rows only, unless --heldout: the
             held-out half is scored at the end of a tuning round, never during it.

Usage: python bench/search_quality.py [--store PATH] [--sample N] [--heldout] [--json]
       [--only titles,leaveout,phrasings] [--misses K]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from medbill.codesets.refstore import RefStore  # noqa: E402
from medbill.codesets.search import SearchEngine  # noqa: E402
from medbill.codesets.text import normalized  # noqa: E402
from medbill.core.codes import CodeSystem  # noqa: E402
from medbill.settings import Settings  # noqa: E402

CM = CodeSystem.ICD10CM
ON = date(2026, 4, 1)


def _billable(store: RefStore) -> list[str]:
    active = store.active_codes(CM, ON)
    if not active:
        active = set(store.iter_codes(CM, billable_only=True))
    return sorted(active)


def titles(store: RefStore, engine: SearchEngine, sample: int | None, misses: int) -> dict[str, object]:
    codes = _billable(store)
    if sample:
        codes = sorted(random.Random(7).sample(codes, min(sample, len(codes))))
    desc = {c: store.describe(CM, c) for c in codes}
    shared = Counter(normalized(d) for d in desc.values() if d)
    hit = tie = 0
    missed: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    for code in codes:
        d = desc[code]
        if not d:
            continue
        hits = engine.search(d, systems=[CM], billable_only=True, limit=1)
        if hits and hits[0].code == code:
            hit += 1
        elif shared[normalized(d)] > 1:
            tie += 1
        elif len(missed) < misses:
            missed.append((code, d, hits[0].code if hits else "-"))
    n = len(codes)
    return {
        "queries": n,
        "rank1": hit,
        "rank1_rate": hit / n,
        "identical_description_ties": tie,
        "rank1_rate_excluding_ties": hit / max(1, n - tie),
        "seconds": round(time.perf_counter() - started, 1),
        "misses": missed,
    }


def leaveout(store: RefStore, engine: SearchEngine, sample: int | None, misses: int) -> dict[str, object]:
    billable = set(_billable(store))
    rows = store.conn.execute(
        "SELECT code, text FROM note WHERE system='ICD10CM' AND kind='inclusion'"
        " AND release_id=(SELECT max(release_id) FROM note WHERE system='ICD10CM')"
    ).fetchall()
    pairs = [(c, t) for c, t in rows if c in billable]
    # terms shared by many codes are 7th-character glosses ("initial encounter for open fracture
    # NOS" on every B code), not a code's own inclusion terms
    spread = Counter(normalized(t) for _c, t in pairs)
    pairs = [(c, t) for c, t in pairs if spread[normalized(t)] <= 3]
    # an inclusion term that is (word for word) the code's own title says nothing new
    pairs = [(c, t) for c, t in pairs if normalized(t) != normalized(store.describe(CM, c) or "")]
    if sample:
        pairs = random.Random(11).sample(pairs, min(sample, len(pairs)))
    r1 = r10 = 0
    missed: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    for code, term in pairs:
        hits = engine.search(term, systems=[CM], billable_only=True, limit=10, exclude=(str(CM), code, "inclusion"))
        ranked = [h.code for h in hits]
        if ranked[:1] == [code]:
            r1 += 1
        if code in ranked:
            r10 += 1
        elif len(missed) < misses:
            missed.append((code, term, ranked[0] if ranked else "-"))
    n = len(pairs)
    return {
        "queries": n,
        "rank1_rate": r1 / max(1, n),
        "recall_at_10": r10 / max(1, n),
        "seconds": round(time.perf_counter() - started, 1),
        "misses": missed,
    }


def phrasings(engine: SearchEngine, heldout: bool, misses: int) -> dict[str, object]:
    path = HERE / "search_queries.tsv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out: dict[str, object] = {}
    splits = ["dev", "heldout"] if heldout else ["dev"]
    for split in splits:
        chosen = [r for r in rows if r["split"] == split]
        by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        hits10 = hits1 = 0
        missed: list[tuple[str, str, str]] = []
        for r in chosen:
            expected = {e.strip().replace(".", "").upper() for e in r["expected_codes"].split("|") if e.strip()}
            got = [h.code for h in engine.search(r["query"], systems=[CM], limit=10)]
            ok = bool(expected & set(got))
            hits10 += ok
            hits1 += bool(got[:1]) and got[0] in expected
            by_kind[r["kind"]][0] += ok
            by_kind[r["kind"]][1] += 1
            if not ok and len(missed) < misses:
                missed.append((r["query"], r["expected_codes"], ",".join(got[:3])))
        n = len(chosen)
        out[split] = {
            "queries": n,
            "recall_at_10": hits10 / max(1, n),
            "rank1_rate": hits1 / max(1, n),
            "by_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_kind.items())},
            "misses": missed,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--store", type=Path, default=None, help="reference store (default: MEDBILL_REFDATA / MEDBILL_HOME)"
    )
    ap.add_argument("--sample", type=int, default=None, help="sample N codes/terms (titles, leave-out)")
    ap.add_argument("--heldout", action="store_true", help="also score the held-out phrasings (end of a round)")
    ap.add_argument("--only", default="titles,leaveout,phrasings")
    ap.add_argument("--misses", type=int, default=15, help="show up to K misses per measure")
    ap.add_argument("--json", nargs="?", const=True, default=False, help="write bench/results/search_quality.json")
    ap.add_argument("--quick", action="store_true", help="= --sample 2000")
    args, _others = ap.parse_known_args(argv)  # bench/run.py passes the other benchmarks' flags too
    if args.quick and not args.sample:
        args.sample = 2000
    store = RefStore.open(args.store or Settings.from_env().refdata_path)
    engine = SearchEngine(store.conn)
    only = set(args.only.split(","))
    results: dict[str, object] = {}
    if "titles" in only:
        results["titles"] = titles(store, engine, args.sample, args.misses)
    if "leaveout" in only:
        results["leaveout"] = leaveout(store, engine, args.sample, args.misses)
    if "phrasings" in only:
        results["phrasings"] = phrasings(engine, args.heldout, args.misses)

    print("search quality (ICD-10-CM, codes in effect 2026-04-01)")
    print(f"{'measure':<34}{'queries':>9}{'rank 1':>10}{'recall@10':>11}")
    if "titles" in results:
        t = results["titles"]
        print(f"{'official title -> code':<34}{t['queries']:>9}{t['rank1_rate']:>10.2%}{'':>11}")
        print(
            f"{'  (excluding identical titles)':<34}{t['queries'] - t['identical_description_ties']:>9}"
            f"{t['rank1_rate_excluding_ties']:>10.2%}"
        )
    if "leaveout" in results:
        lo = results["leaveout"]
        print(f"{'inclusion term, left out':<34}{lo['queries']:>9}{lo['rank1_rate']:>10.2%}{lo['recall_at_10']:>11.2%}")
    if "phrasings" in results:
        for split, p in results["phrasings"].items():  # type: ignore[union-attr]
            print(
                f"{'clinical phrasings (' + split + ')':<34}{p['queries']:>9}"
                f"{p['rank1_rate']:>10.2%}{p['recall_at_10']:>11.2%}"
            )
            print("    by kind: " + ", ".join(f"{k} {v}" for k, v in p["by_kind"].items()))
    for name, res in results.items():
        subs = res.items() if name == "phrasings" else [(name, res)]  # type: ignore[union-attr]
        for label, r in subs:
            if r["misses"]:
                print(f"\nmisses ({label}):")
                for m in r["misses"]:
                    print("   " + " | ".join(str(x) for x in m))
    if args.json:
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        (out / "search_quality.json").write_text(json.dumps(results, indent=2))
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Search against a real built store: word order, abbreviations, typos, prefixes, filters, the Index."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from medbill.codesets.refstore import RefStore
from medbill.codesets.search import SearchEngine, expand_query, word_alternatives
from medbill.core.codes import CodeSystem

CM = CodeSystem.ICD10CM
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def engine(store: RefStore) -> SearchEngine:
    return SearchEngine(store.conn)


def codes(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.code for h in hits]


def test_combination_phrase_ranks_the_combination_code(engine: SearchEngine) -> None:
    hits = engine.search("type 2 diabetes with diabetic neuropathy", systems=[CM], limit=5)
    assert hits[0].code == "E1140"
    assert "E1040" not in codes(hits)[:1]


def test_word_order_does_not_matter(engine: SearchEngine) -> None:
    a = codes(engine.search("diabetic neuropathy type 2 diabetes", systems=[CM], limit=3))
    assert "E1140" in a


def test_abbreviation_and_lay_terms(engine: SearchEngine) -> None:
    assert any(c.startswith("I50") for c in codes(engine.search("CHF", systems=[CM], limit=5)))
    assert any(c.startswith("I21") for c in codes(engine.search("heart attack", systems=[CM], limit=10)))
    assert "I10" in codes(engine.search("HTN", systems=[CM], limit=3))
    assert "E119" in codes(engine.search("sugar diabetes", systems=[CM], limit=5))


def test_typo_tolerance_and_explanation(engine: SearchEngine) -> None:
    hits = engine.search("pnuemonia", systems=[CM], limit=5)
    assert hits[0].code == "J189"
    assert "read as 'pneumonia'" in hits[0].why


def test_prefix_lists_children(engine: SearchEngine) -> None:
    hits = engine.search("E11.2", limit=10)
    assert codes(hits)[:4] == ["E112", "E1121", "E1122", "E1129"]
    assert hits[0].source == "prefix" and not hits[0].billable


def test_filters(engine: SearchEngine) -> None:
    hits = engine.search("fracture of femur", systems=[CM], billable_only=True, limit=20)
    assert hits and all(h.billable for h in hits)
    assert all(h.system is CM for h in hits)


def test_seventh_character_siblings_collapse(engine: SearchEngine) -> None:
    hits = engine.search("fracture of unspecified part of neck of right femur", systems=[CM], limit=20)
    got = codes(hits)
    assert "S72001A" in got
    assert not any(c.startswith("S72001") and c[-1] in "BCDEFGHJKMNPQRS" and len(c) == 7 for c in got)


def test_official_titles_rank_first_on_a_sample(store: RefStore, engine: SearchEngine) -> None:
    billable = sorted(store.iter_codes(CM, billable_only=True))
    sample = random.Random(3).sample(billable, 150)
    misses = []
    for code in sample:
        title = store.describe(CM, code)
        assert title
        top = engine.search(title, systems=[CM], billable_only=True, limit=1)
        if not top or top[0].code != code:
            misses.append(code)
    assert len(misses) <= 2, misses


def test_lexicon_shapes() -> None:
    alts = word_alternatives()
    assert "tibia" in alts["tibial"]
    variants = expand_query(["chf", "exacerbation"])
    assert variants[0][0] == ["chf", "exacerbation"]
    assert any("congestive" in v for v, _ in variants)


def test_search_uses_the_alphabetic_index_when_loaded(tmp_path: Path) -> None:
    """Build a store with the tabular plus a small Index in the official schema: Index paths are searched."""
    from medbill.codesets.build import build
    from medbill.codesets.datasets import all_datasets

    src = tmp_path / "src"
    (src / "icd10cm-2026").mkdir(parents=True)
    shutil.copy(DATA / "icd10cm_index_sample.xml", src / "icd10cm-2026" / "icd10cm_index_2026.xml")
    chosen = [d for d in all_datasets() if d.id in ("icd10cm-tabular", "icd10cm-index")]
    results = build(tmp_path / "ref.sqlite", source_dir=src, datasets=chosen)
    assert {r.dataset: r.status for r in results}["icd10cm-index"] == "loaded"
    store = RefStore.open(tmp_path / "ref.sqlite")
    try:
        n_index = store.conn.execute("SELECT count(*) FROM search_doc WHERE source='index'").fetchone()[0]
        assert n_index > 0
        path, codes_json = store.conn.execute(
            "SELECT path, codes FROM index_entry WHERE codes LIKE '%E11.22%' LIMIT 1"
        ).fetchone()
        hits = SearchEngine(store.conn).search(path, systems=[CM], limit=5)
        assert "E1122" in [h.code for h in hits]
        assert any(h.source == "index" for h in hits)
    finally:
        store.close()

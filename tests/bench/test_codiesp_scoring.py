"""Scoring functions of bench/codiesp_eval.py on small hand-computed examples (no corpus needed),
plus the FY2026 gold mapping against the reference store (skips without one)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def _load() -> ModuleType:
    name = "medbill_bench_codiesp_eval"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / "codiesp_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ce = _load()


def ranked(*codes: str, status: str = "suggested") -> list[tuple[str, str]]:
    return [(c, status) for c in codes]


def test_average_precision_by_hand() -> None:
    # hits at ranks 1 and 3 of 2 gold: (1/1 + 2/3) / 2
    assert ce.average_precision([True, False, True], 2) == pytest.approx(5 / 6)
    # one hit at rank 2 of 3 gold: (1/2) / 3
    assert ce.average_precision([False, True], 3) == pytest.approx(1 / 6)
    assert ce.average_precision([], 2) == 0.0
    assert ce.average_precision([True, True], 2) == 1.0


def test_map_is_a_mean_over_gold_documents_and_empty_runs_count_zero() -> None:
    gold = {"d1": ["A01", "B02"], "d2": ["C03"], "d3": ["D04"]}
    preds = {"d1": ranked("A01", "Z99", "B02"), "d2": ranked("X00", "C03")}  # d3: nothing predicted
    s = ce.score(preds, gold, "strict")
    assert s.map_docs == 3
    assert s.map == pytest.approx((5 / 6 + 1 / 2 + 0) / 3)
    assert (s.tp, s.n_pred, s.n_gold) == (3, 5, 4)
    assert s.precision == pytest.approx(3 / 5) and s.recall == pytest.approx(3 / 4)
    assert s.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)


def test_strict_versus_lenient() -> None:
    gold = {"d": ["T148", "W19XXX", "I10"]}  # a code lacking its 7th character, a placeholder stub
    preds = {"d": ranked("T148XXA", "W19", "I10", "E119")}
    strict = ce.score(preds, gold, "strict")
    lenient = ce.score(preds, gold, "lenient")
    assert (strict.tp, strict.n_pred, strict.n_gold) == (1, 4, 3)
    assert (lenient.tp, lenient.n_pred, lenient.n_gold) == (3, 4, 3)
    assert strict.map == pytest.approx((1 / 3) / 3)  # I10 at rank 3
    assert lenient.map == pytest.approx((1 + 1 + 1) / 3)  # ranks 1-3 all hit


def test_lenient_claims_each_gold_once_exact_first_then_longest_prefix() -> None:
    # J18 claims J189 first (rank order); J189 then finds nothing free
    assert ce.hits(["J18", "J189"], ["J189"], lenient=True) == [True, False]
    # an exact gold wins over a related one; the other stays free for the next prediction
    assert ce.hits(["J189", "J1"], ["J18", "J189"], lenient=True) == [True, True]
    # of two related gold codes, the one sharing the longer prefix is claimed
    assert ce.hits(["S7200", "S72"], ["S72", "S72001A"], lenient=True) == [True, True]
    assert ce.hits(["S7200"], ["S72", "S72001A"], lenient=True) == [True]
    # unrelated codes never match; strict needs equality
    assert ce.hits(["E11"], ["E1122"], lenient=False) == [False]
    assert ce.hits(["E119"], ["E1122"], lenient=True) == [False]


def test_three_character_level_deduplicates() -> None:
    gold = {"d": ["E1122", "N183"]}
    preds = {"d": ranked("E119", "E1165", "I10")}
    s = ce.score(preds, gold, "cat3")
    assert (s.tp, s.n_pred, s.n_gold) == (1, 2, 2)  # [E11, I10] vs [E11, N18]
    assert s.map == pytest.approx((1 / 1) / 2)


def test_procedures_are_scored_at_four_characters() -> None:
    gold = {"d": ["0DTJ", "BT41ZZZ", "3E0G"]}
    preds = {"d": ranked("0DTJ4ZZ", "0DTJ0ZZ", "BT41ZZZ", "B241ZZZ")}
    s = ce.score(preds, gold, "pcs4")
    assert (s.tp, s.n_pred, s.n_gold) == (2, 3, 3)  # [0DTJ, BT41, B241] vs [0DTJ, BT41, 3E0G]
    assert s.map == pytest.approx((1 + 1) / 3)


def test_possible_candidates_count_for_map_not_for_precision() -> None:
    gold = {"d": ["A01"]}
    preds = {"d": [("X00", "possible"), ("A01", "suggested"), ("B00", "possible")]}
    s = ce.score(preds, gold, "strict")
    assert (s.tp, s.n_pred) == (1, 1) and s.precision == 1.0
    assert s.map == pytest.approx(1 / 2)


def test_predictions_from_a_result_or_tuples() -> None:
    from medbill.core.codes import CodeSystem

    result = SimpleNamespace(
        suggestions=(
            SimpleNamespace(code="E1122", system=CodeSystem.ICD10CM, status="suggested"),
            SimpleNamespace(code="J1100", system=CodeSystem.HCPCS, status="suggested"),  # ignored
            SimpleNamespace(code="0DTJ4ZZ", system=CodeSystem.ICD10PCS, status="possible"),
        )
    )
    assert ce.predictions(result) == [("E1122", "D", "suggested"), ("0DTJ4ZZ", "P", "possible")]
    assert ce.predictions([("e11.9", "D", "suggested"), ("bt41zzz", "ICD10PCS", "possible")]) == [
        ("E119", "D", "suggested"),
        ("BT41ZZZ", "P", "possible"),
    ]


def test_the_test_split_is_refused() -> None:
    with pytest.raises(ValueError, match="held back"):
        ce.load_texts("test")
    with pytest.raises(ValueError, match="held back"):
        ce.evaluate(lambda text: [], "test")


def test_title_dictionary_takes_the_longest_match() -> None:
    d = ce.TitleDictionary({("chest", "pain"): ("R0789", "D"), ("pain",): ("R52", "D")}, (2, 1))
    assert d("Chest pain; later pain and more pain.") == [
        ("R52", "D", "suggested"),  # twice
        ("R0789", "D", "suggested"),
    ]
    assert "pain" in ce.title_variants("Pain, unspecified")
    assert "chronic ulcer of duodenum" in ce.title_variants("Ulcer of duodenum, chronic")


# ------------------------------------------------------------------ against the reference store
def test_gold_mapping_to_fy2026(store) -> None:  # type: ignore[no-untyped-def]
    fy = ce.Fy2026(store)
    assert fy.map_dx("E119") == ("E119", "billable")
    assert fy.map_dx("R51") == ("R519", "mapped")  # headache: R51 split in FY2021
    assert fy.map_dx("M545") == ("M5450", "mapped")
    assert fy.map_dx("T148") == ("T148", "partial")  # needs a 7th character now
    assert fy.map_dx("W19XXX") == ("W19XXX", "partial")
    assert fy.map_dx("N359")[1] == "partial"  # split by sex: not guessed


def test_evaluate_on_a_tiny_corpus(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dev = tmp_path / "codiesp" / "dev"
    (dev / "text_files_en").mkdir(parents=True)
    (dev / "text_files_en" / "doc1.txt").write_text("Headache and type 2 diabetes.", encoding="utf-8")
    (dev / "text_files_en" / "doc2.txt").write_text("Abdominal pain.", encoding="utf-8")
    (dev / "devD.tsv").write_text("doc1\tr51\ndoc1\te11.9\ndoc2\tr10.9\n", encoding="utf-8")
    (dev / "devP.tsv").write_text("doc1\tbw03zzz\n", encoding="utf-8")
    answers = {"Headache": [("R51.9", "D", "suggested"), ("E11.9", "D", "suggested"), ("BW03", "P", "suggested")]}

    def fake(text: str) -> list[tuple[str, str, str]]:
        return answers.get(text.split()[0], [("R10.9", "D", "possible")])

    rep = ce.evaluate(fake, "dev", store=store, root=tmp_path / "codiesp", system="fake")
    d = rep.scores["D"]["strict"]
    assert (d.tp, d.n_pred, d.n_gold) == (2, 2, 3)  # R51 was mapped to R51.9; R10.9 only "possible"
    assert d.map == pytest.approx(1.0)
    assert rep.scores["P"]["pcs4"].f1 == 1.0
    assert rep.mapping["D"].mapped == 1 and rep.mapping["D"].billable == 2
    assert rep.docs == 2 and rep.words == 7


def test_main_prints_both_systems(
    built_store_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (fixtures_dir / "codiesp" / "dev").is_dir():
        pytest.skip("no CodiEsp corpus in the fixtures")
    monkeypatch.setenv("MEDBILL_FIXTURES_DIR", str(fixtures_dir))

    def fake_pipeline(store, setting):  # type: ignore[no-untyped-def]
        assert setting == "inpatient"
        return lambda text: [("R52", "ICD10CM", "suggested")] if "pain" in text else []

    monkeypatch.setattr(ce, "medbill_suggest", fake_pipeline)
    rc = ce.main(["--quick", "--limit", "20", "--store", str(built_store_path), "--n", "5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    rows = [line.split() for line in out.splitlines() if line.startswith(("baseline ", "medbill "))]
    assert {(r[0], r[1], r[2]) for r in rows} >= {("baseline", "D", "strict"), ("medbill", "P", "pcs4")}
    assert "20 notes" in out and "gold D: 2677" in out
    assert "notes/s on 10 notes of >= 1,000 words" in out

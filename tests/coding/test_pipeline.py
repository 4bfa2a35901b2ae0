"""The coding pipeline on the reference store: evidence, assertion, specificity, combinations, bad input."""

from __future__ import annotations

import time
from datetime import date

import pytest

from medbill.coding import CodingOptions, suggest
from medbill.core.codes import CodeSystem

ON = date(2026, 4, 1)


def _run(store, note: str, setting: str = "outpatient", **kw):  # type: ignore[no-untyped-def]
    return suggest(note, store=store, setting=setting, on=ON, options=CodingOptions(**kw) if kw else None)


def _present(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {s.code for s in result.suggestions if s.assertion == "present" or s.status == "suggested"}


def _check_spans(note: str, result) -> None:  # type: ignore[no-untyped-def]
    for s in result.suggestions:
        assert s.evidence, s
        for e in s.evidence:
            assert note[e.start : e.end] == e.text


def test_combination_diabetes_ckd(store) -> None:  # type: ignore[no-untyped-def]
    note = "Assessment: Type 2 diabetes mellitus with chronic kidney disease stage 3. Doing well."
    r = _run(store, note)
    _check_spans(note, r)
    suggested = {s.code: s for s in r.suggestions if s.status == "suggested"}
    assert "E1122" in suggested and "N1830" in suggested
    assert "E119" not in suggested and "N189" not in suggested
    assert any("with" in p for p in suggested["E1122"].path)
    task = [t for t in r.tasks if t.code == "E1122" and t.kind == "use_additional" and "N18.1-N18.6" in t.message]
    assert task and task[0].candidates == ("N18.30",)
    assert suggested["E1122"].system is CodeSystem.ICD10CM and suggested["E1122"].billable


def test_note_local_abbreviation_and_offsets(store) -> None:  # type: ignore[no-untyped-def]
    note = "History of present illness: chronic kidney disease (CKD) stage unknown.\nPlan: CKD labs in 3 months."
    r = _run(store, note)
    _check_spans(note, r)
    ckd = [s for s in r.suggestions if s.code.startswith("N18")]
    texts = [e.text for e in ckd[0].evidence] if ckd else []
    assert ckd and ckd[0].code in ("N189", "N18") and "CKD" in texts
    assert any(t.startswith("chronic kidney disease") for t in texts)


@pytest.mark.parametrize(
    ("note", "code_prefix", "assertion"),
    [
        ("Patient denies chest pain.", "R07", "negated"),
        ("Chest X-ray: no evidence of pneumonia.", "J18", "negated"),
        ("Family history: mother had breast cancer.", "C50", "family"),
        ("Mother had breast cancer at 50.", "C50", "family"),
        ("History of pneumonia in 2019, resolved.", "J18", "historical"),
        ("Possible pneumonia on the left.", "J18", "possible"),
        ("Rule out pneumonia.", "J18", "possible"),
    ],
)
def test_non_present_never_suggested_outpatient(store, note: str, code_prefix: str, assertion: str) -> None:  # type: ignore[no-untyped-def]
    r = _run(store, note, include_non_present=True)
    _check_spans(note, r)
    hits = [s for s in r.suggestions if s.code.startswith(code_prefix)]
    assert hits, r.suggestions
    for s in hits:
        assert s.status == "possible" and s.assertion != "present"
    assert hits[0].assertion == assertion or (assertion == "possible" and hits[0].assertion in ("possible", "negated"))
    # without include_non_present only the uncertain ones stay listed, as "possible"
    plain = _run(store, note)
    assert all(s.status == "possible" for s in plain.suggestions if s.code.startswith(code_prefix))


def test_rule_out_mi_not_present(store) -> None:  # type: ignore[no-untyped-def]
    r = _run(store, "Rule out myocardial infarction.")
    assert not [s for s in r.suggestions if s.code.startswith("I21") and s.status == "suggested"]


def test_uncertain_coded_inpatient(store) -> None:  # type: ignore[no-untyped-def]
    note = "Assessment: probable pneumonia, started antibiotics."
    out = _run(store, note)
    inp = _run(store, note, "inpatient")
    assert [s.status for s in out.suggestions if s.code == "J189"] == ["possible"]
    j = [s for s in inp.suggestions if s.code == "J189"]
    assert j and j[0].assertion == "possible" and "II.H" in j[0].why


def test_fracture_seventh_character_and_laterality(store) -> None:  # type: ignore[no-untyped-def]
    note = "Closed fracture of shaft of right femur."
    r = _run(store, note)
    _check_spans(note, r)
    codes = [s.code for s in r.suggestions if s.status == "suggested"]
    assert "S72301A" in codes
    s = next(s for s in r.suggestions if s.code == "S72301A")
    assert any(p.startswith("7th character A") for p in s.path)
    follow = _run(store, "Follow-up visit, fracture of shaft of right femur, routine healing.")
    assert "S72301D" in [x.code for x in follow.suggestions]
    left = _run(store, "Fracture of shaft of left femur.")
    assert "S72302A" in [x.code for x in left.suggestions]


def test_empty_and_huge_notes(store) -> None:  # type: ignore[no-untyped-def]
    r = _run(store, "   \n ")
    assert r.suggestions == () and "empty" in r.warnings[0]
    huge = ("The patient has pneumonia and hypertension. " * 120_000)[:5_000_000]
    started = time.perf_counter()
    r = _run(store, huge)
    assert time.perf_counter() - started < 30
    assert any("only the first" in w for w in r.warnings)
    assert "J189" in _present(r)


def test_odd_characters_do_not_break_offsets(store) -> None:  # type: ignore[no-untyped-def]
    note = "Pneumonía\x00 y fièvre; ﬁbrosis. Essential hypertension\u2028noted."
    r = _run(store, note)
    _check_spans(note, r)
    assert "I10" in _present(r)


def test_excludes1_conflict(store) -> None:  # type: ignore[no-untyped-def]
    r = _run(store, "Assessment: type 1 diabetes mellitus. Also type 2 diabetes mellitus.")
    pairs = {(c.code[:3], c.other[:3]) for c in r.conflicts}
    assert ("E11", "E10") in pairs or ("E10", "E11") in pairs


def test_result_serialises(store) -> None:  # type: ignore[no-untyped-def]
    r = _run(store, "Essential hypertension.", "inpatient")
    d = r.to_dict()
    assert d["suggestions"][0]["code"] == "I10" and d["setting"] == "inpatient"
    assert d["suggestions"][0]["evidence"][0]["text"] == "Essential hypertension"


def test_curated_index_terms_and_default_descent(store) -> None:  # type: ignore[no-untyped-def]
    from medbill.coding.lexicon import index_terms

    active = store.active_codes(CodeSystem.ICD10CM, ON)
    rows = index_terms()
    assert len(rows) > 200
    # every curated code is in force, or a node whose 7th character assignment completes it
    assert all(code in active or any(c.startswith(code) for c in ("T1490XA", "T148XXA")) for _t, code in rows)
    note = "He has arterial hypertension and type 2 diabetes mellitus. Retroperitoneal adenopathies."
    r = _run(store, note, "inpatient")
    _check_spans(note, r)
    got = {s.code: s for s in r.suggestions}
    assert {"I10", "E119", "R590"} <= set(got)
    assert got["E119"].evidence[0].text == "type 2 diabetes mellitus"
    assert "E118" not in got  # "with unspecified complications" is never the default
    hist = _run(store, "Personal history of HTA.", include_non_present=True)
    assert [s.status for s in hist.suggestions if s.code == "I10"] == ["possible"]


def test_reranker_shipped_and_explained(store) -> None:  # type: ignore[no-untyped-def]
    from medbill.coding.rerank import FEATURES, reranker

    rr = reranker()
    assert rr is not None and set(rr.models) == {"ICD10CM", "ICD10PCS"}
    assert all(len(m.weights) == len(FEATURES) for m in rr.models.values())
    r = _run(store, "Essential hypertension.", "inpatient")
    s = next(x for x in r.suggestions if x.code == "I10")
    assert s.status == "suggested" and "reranker p=" in s.why
    rule = _run(store, "Essential hypertension.", "inpatient", rerank=None)
    assert "reranker" not in rule.suggestions[0].why

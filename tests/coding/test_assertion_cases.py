"""The assertion regression set (tests/coding/data/assertion_cases.tsv) run through medbill.coding.

Each row: a sentence, a mention in it (exact substring, n-th occurrence), the setting and the
expected assertion (present, negated, possible, historical, family, hypothetical). The pipeline is
asked about the mention in one of two ways, the first that exists:

1. an assertion function ``assert_mentions(text, spans, ...) -> Sequence[str | obj.assertion]`` in
   ``medbill.coding.context``, ``medbill.coding.assertion`` or ``medbill.coding``; the other
   parameters it declares are filled by name: ``bounds`` (the sentence is one sentence),
   ``section_of`` (no section: ""), ``setting``;
2. end to end: ``medbill.coding.suggest(text, store=store, setting=setting,
   options=CodingOptions(include_non_present=True))``; the ICD-10-CM suggestion whose evidence
   overlaps the mention most gives the assertion ("missing" when none does).

Required: >= 90% of rows right overall, and no negated, family or (outpatient) uncertain mention
ever comes back "present". Accuracy per class is printed (``pytest -s``) and in failure messages.
"""

from __future__ import annotations

import csv
import importlib
import inspect
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent / "data" / "assertion_cases.tsv"
ASSERTIONS = ("present", "negated", "possible", "historical", "family", "hypothetical")
SETTINGS = ("any", "outpatient", "inpatient")
CUES = ("neg_pre", "neg_post", "pseudo", "scope", "unc", "hist", "fam", "hyp", "multi", "long", "present", "list")
ASSERTION_MODULES = ("medbill.coding.context", "medbill.coding.assertion", "medbill.coding")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    setting: str
    cue: str
    expected: str
    mention: str
    occurrence: int
    sentence: str

    @property
    def span(self) -> tuple[int, int]:
        start = -1
        for _ in range(self.occurrence):
            start = self.sentence.index(self.mention, start + 1)
        return start, start + len(self.mention)

    @property
    def run_setting(self) -> str:
        return "outpatient" if self.setting == "any" else self.setting

    @property
    def must_not_be_present(self) -> bool:
        return self.expected in ("negated", "family") or (
            self.expected == "possible" and self.run_setting == "outpatient"
        )


def load_cases() -> list[Case]:
    lines = [ln for ln in DATA.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [
        Case(r["id"], r["setting"], r["cue"], r["expected"], r["mention"], int(r["occurrence"]), r["sentence"])
        for r in rows
    ]


CASES = load_cases()


# ------------------------------------------------------------------ the data itself (no pipeline needed)
def test_the_set_is_well_formed() -> None:
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES)
    for c in CASES:
        assert c.expected in ASSERTIONS, c.id
        assert c.setting in SETTINGS, c.id
        assert c.cue in CUES, c.id
        assert c.sentence.count(c.mention) >= c.occurrence, f"{c.id}: {c.mention!r} not in the sentence"
        start, end = c.span
        assert c.sentence[start:end] == c.mention
    by_class = Counter(c.expected for c in CASES)
    assert all(by_class[a] >= 8 for a in ASSERTIONS), by_class
    assert {c.cue for c in CASES} == set(CUES)
    # the cues the issue names all occur
    text = " ".join(c.sentence.lower() for c in CASES)
    for cue in (
        "denies", "no ", "without", "negative for", "ruled out", "free of", "not seen", "absent",
        "no increase in", "not only", "gram negative", " but ", "however", "which", "possible",
        "probable", "suspected", "rule out", "versus", "cannot be excluded", "likely", "history of",
        "status post", "prior", "mother", "family history of", "brother", " if ", "return if",
        "should she develop",
    ):  # fmt: skip
        assert cue in text, cue
    # sentences with several mentions of different assertions
    multi = Counter(c.sentence for c in CASES)
    mixed = [s for s, n in multi.items() if n > 1 and len({c.expected for c in CASES if c.sentence == s}) > 1]
    assert len(mixed) >= 15


# ------------------------------------------------------------------ the pipeline
Judge = Callable[[Case], str]


def _as_label(value: Any) -> str:
    return str(getattr(value, "assertion", value))


def _assertion_function() -> Callable[..., Sequence[Any]] | None:
    for name in ASSERTION_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        fn = getattr(module, "assert_mentions", None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


@pytest.fixture(scope="module")
def judge(request: pytest.FixtureRequest) -> Judge:
    coding = pytest.importorskip("medbill.coding", reason="medbill.coding (issue 6 pipeline) is not importable yet")
    fn = _assertion_function()
    if fn is not None:
        direct = fn
        params = list(inspect.signature(fn).parameters.values())
        known = {"bounds", "section_of", "sections", "setting"}
        unknown = [p.name for p in params[2:] if p.name not in known and p.default is inspect.Parameter.empty]
        if unknown:
            pytest.skip(f"assert_mentions needs parameters this test cannot fill: {unknown}")

        def by_function(case: Case) -> str:
            given = {
                "bounds": [(0, len(case.sentence))],
                "section_of": [""],
                "sections": [""],
                "setting": case.run_setting,
            }
            kwargs = {p.name: given[p.name] for p in params[2:] if p.name in given}
            return _as_label(direct(case.sentence, [case.span], **kwargs)[0])

        return by_function
    suggest = getattr(coding, "suggest", None)
    if not callable(suggest):
        pytest.skip("medbill.coding has neither assert_mentions nor suggest yet")
    from medbill.coding.model import CodingOptions
    from medbill.core.codes import CodeSystem

    store = request.getfixturevalue("store")
    options = CodingOptions(include_non_present=True, drg=False)

    def by_suggest(case: Case) -> str:
        start, end = case.span
        result = suggest(case.sentence, store=store, setting=case.run_setting, options=options)
        best, best_overlap = "missing", 0
        for s in result.suggestions:
            if s.system is not CodeSystem.ICD10CM:
                continue
            for e in s.evidence:
                overlap = min(end, e.end) - max(start, e.start)
                if overlap > best_overlap:
                    best, best_overlap = s.assertion, overlap
        return best

    return by_suggest


@pytest.fixture(scope="module")
def outcomes(judge: Judge) -> list[tuple[Case, str]]:
    out = [(c, judge(c)) for c in CASES]
    print("\n" + report(out))
    return out


def report(outcomes: list[tuple[Case, str]]) -> str:
    lines = [f"{'expected':<14}{'n':>5}{'right':>7}{'acc':>8}"]
    for label in ASSERTIONS:
        rows = [got == c.expected for c, got in outcomes if c.expected == label]
        if rows:
            lines.append(f"{label:<14}{len(rows):>5}{sum(rows):>7}{sum(rows) / len(rows):>8.1%}")
    right = sum(got == c.expected for c, got in outcomes)
    lines.append(f"{'overall':<14}{len(outcomes):>5}{right:>7}{right / len(outcomes):>8.1%}")
    wrong = [f"  {c.id}: {c.mention!r} expected {c.expected}, got {got}" for c, got in outcomes if got != c.expected]
    return "\n".join(lines + wrong[:40])


def test_overall_accuracy_at_least_90_percent(outcomes: list[tuple[Case, str]]) -> None:
    right = sum(got == c.expected for c, got in outcomes)
    assert right / len(outcomes) >= 0.90, report(outcomes)


def test_negated_family_and_outpatient_uncertain_never_present(outcomes: list[tuple[Case, str]]) -> None:
    leaks = [(c, got) for c, got in outcomes if c.must_not_be_present and got == "present"]
    assert not leaks, "\n".join(f"{c.id}: {c.sentence!r} -> {c.mention!r} present" for c, _ in leaks)

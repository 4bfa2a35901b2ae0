"""Assertion of each mention: present, negated, possible, historical, family, hypothetical.

medspaCy's ConText finds the in-sentence cues ("denies", "no evidence of", "possible", "rule
out", "history of", "mother had") over a blank spaCy English tokenizer. Sentences come from
``coding.text`` and each sentence holding a mention and a cue word is one small ConText document,
which keeps the work linear in the note (ConText over a whole note pairs every cue with every
mention). PyRuSH is not used (slower; its DEBUG logging is silenced). ConText's default scope is
the whole sentence, which over-negates long machine-translated sentences: every rule without its
own ``max_scope`` gets ``MAX_SCOPE`` tokens. medspaCy's English rules lack the ICD-10-CM uncertain
terms ("probable", "suspected", "compatible with", "cannot be excluded") and common post-negations
("was ruled out", "is absent"): ``data/context_rules.json`` adds them, with historical and
hypothetical cues. Sections come from ``coding.text.sections`` (medspaCy's
category names; its sectionizer took ~14 ms on a 1,000-word note, over the whole budget): a
mention under "Family history:" is the family's, under "Past medical history:" historical.

medspaCy is imported lazily: ``available()`` says whether it loaded; without it only the section
headings decide (everything else is "present"), and the pipeline warns.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from medbill.coding.model import Assertion

MAX_SCOPE = 6
_CUE_WORD = re.compile(r"[a-z']+")
_COMMON = frozenset(
    "a an the is was are were be been being has have had as to of for in on at by with can did does do "
    "it its this that there if or and not".split()
)
_LOCK = threading.Lock()
_NLP: Any = None
_ERROR: str | None = None

SECTION_ASSERTION: dict[str, Assertion] = {
    "family_history": "family",
    "past_medical_history": "historical",
    "past_surgical_history": "historical",
}


def _build() -> tuple[Any, Any, frozenset[str]]:
    for name in ("PyRuSH", "medspacy", "loguru"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:  # PyRuSH logs through loguru at DEBUG on import
        from loguru import logger as _loguru

        _loguru.disable("PyRuSH")
    except ImportError:  # pragma: no cover - loguru comes with PyRuSH
        pass
    import spacy
    from medspacy.context import ConTextRule  # type: ignore[import-untyped]

    nlp = spacy.blank("en")
    context: Any = nlp.add_pipe(
        "medspacy_context",
        config={"rules": None, "input_span_type": "group", "span_group_name": "mentions"},
    )
    from importlib import resources

    rules = ConTextRule.from_json(context.DEFAULT_RULES_FILEPATH)
    ours = resources.files("medbill.coding").joinpath("data/context_rules.json")
    with resources.as_file(ours) as path:
        rules = rules + ConTextRule.from_json(str(path))
    cues: set[str] = set()
    for rule in rules:
        if rule.max_scope is None:
            rule.max_scope = MAX_SCOPE
        if rule.category in ("TERMINATE", "PSEUDO"):
            continue
        # the rule's distinctive words: a sentence without any cannot match it
        words = [w for w in _CUE_WORD.findall(rule.literal.lower()) if w not in _COMMON]
        cues.update(words or _CUE_WORD.findall(rule.literal.lower()))
        for element in rule.pattern or ():
            value = element.get("LOWER") if isinstance(element, dict) else None
            if isinstance(value, dict) and element.get("OP") not in ("?", "*"):
                alts = [str(w) for w in value.get("IN", ())]
                if alts and not any(a in _COMMON for a in alts):
                    cues.update(alts)
    context.add(rules)
    return nlp, context, frozenset(cues)


def available() -> bool:
    return _pipeline() is not None


def unavailable_reason() -> str | None:
    _pipeline()
    return _ERROR


def _pipeline() -> Any:
    global _NLP, _ERROR
    with _LOCK:
        if _NLP is None and _ERROR is None:
            try:
                _NLP = _build()
            except Exception as exc:  # noqa: BLE001 - any import/config failure: degrade, say why
                _ERROR = f"assertion detection unavailable (medspaCy/spaCy: {type(exc).__name__}: {exc})"
        return _NLP


def assert_mentions(
    text: str,
    spans: Sequence[tuple[int, int]],
    bounds: Sequence[tuple[int, int]],
    section_of: Sequence[str],
) -> list[Assertion]:
    """The assertion of each (start, end) character span of ``text``.

    ``bounds`` are the note's sentences; ``section_of[i]`` the section category of span i. ConText
    runs on each sentence that holds a mention and a ConText cue word (a sentence without a cue
    cannot modify anything), which keeps it linear in the note's length.
    """
    built = _pipeline()
    out: list[Assertion] = [SECTION_ASSERTION.get(sec, "present") for sec in section_of]
    if built is None or not spans:
        return out
    nlp, context, cues = built
    by_sent: dict[int, list[int]] = {}
    starts = [a for a, _b in bounds]
    from bisect import bisect_right

    for i, (a, _b) in enumerate(spans):
        k = bisect_right(starts, a) - 1
        if k >= 0:
            by_sent.setdefault(k, []).append(i)
    for k, members in by_sent.items():
        sa, sb = bounds[k]
        sentence = text[sa:sb]
        low = sentence.lower()
        if not any(w in cues for w in _CUE_WORD.findall(low)):
            continue
        doc = nlp.make_doc(sentence)
        for j, tok in enumerate(doc):
            tok.is_sent_start = j == 0
        group: list[Any] = []
        index: list[int] = []
        for i in members:
            a, b = spans[i]
            span = doc.char_span(a - sa, min(b, sb) - sa, label="DX", alignment_mode="expand")
            if span is not None and len(span):
                group.append(span)
                index.append(i)
        if not group:
            continue
        doc.spans["mentions"] = group
        doc = context(doc)
        for i, span in zip(index, doc.spans["mentions"], strict=False):
            if span._.is_negated:
                out[i] = "negated"
            elif span._.is_family:
                out[i] = "family"
            elif span._.is_hypothetical:
                out[i] = "hypothetical"
            elif span._.is_uncertain:
                out[i] = "possible"
            elif span._.is_historical:
                out[i] = "historical"
    return out

"""Assertion of each mention: present, negated, possible, historical, family, hypothetical.

The algorithm and the rules are medspaCy's ConText (medspaCy 1.3.1, pinned): its English rule file
(``resources/en/context_rules.json`` of the medspacy wheel) plus ours in ``data/context_rules.json``
(ICD-10-CM uncertain terms "probable", "suspected", "compatible with", "cannot be excluded";
post-negations "was ruled out", "is absent"; historical and hypothetical cues; pseudo-cues).

medspaCy runs its rules through spaCy's token ``Matcher``; on a 1,000-word note that matcher and
spaCy's tokenizer took ~55% of the pipeline's time. Here the same rules run as a phrase trie over
a regex tokenization that splits like spaCy's (words, punctuation, ``n't``, ``'s``), with
ConText's own semantics reproduced step by step from ``medspacy.context``:

- token patterns (``LOWER`` / ``LOWER IN`` / ``IS_ALPHA``, ``OP: "?"``) are expanded into phrases;
- overlapping matches are pruned, the longest kept (``prune_overlapping_matches``);
- each modifier's scope runs from the cue to the end (FORWARD) / start (BACKWARD) of the sentence,
  or both (BIDIRECTIONAL), cut to ``max_scope`` tokens; every rule without one gets ``MAX_SCOPE``
  (ConText's whole-sentence scope over-negates long machine-translated sentences);
- scopes are limited pairwise (``ConTextGraph.update_scopes``): a TERMINATE cue ("but", "however")
  or a cue of the same category ends a scope (``ConTextModifier.limit_scope``);
- a PSEUDO cue ("no change in", "not only", "gram negative") wins the overlap with a shorter cue
  and modifies nothing;
- a modifier modifies a mention inside its scope that it does not overlap (``modifies``).

Two deliberate departures from medspaCy (``assert_mentions(..., medspacy_compat=True)`` turns both
off and reproduces medspaCy exactly; tests/coding/test_context_engine.py checks that mode against
medspaCy and lists every sentence of the regression set where the default mode differs):

- **coordinated lists**: a negation cue's scope runs over a whole list after it (FORWARD: "No
  history of nephrolithiasis, hematuria or urinary tract infections", "denies fever, chills, and
  night sweats", "neither A nor B") or before it (BACKWARD: "X, Y and Z were ruled out"), beyond
  ``max_scope``: items of up to ``LIST_ITEM`` tokens joined by ",", ";", "/", "or", "and", "nor"
  (a BACKWARD scope never crosses a ";": "pneumonia; abscess and empyema were ruled out").
  The list ends at a real terminator: another ConText cue ("but", "however", "except", "no", ...),
  a relative word ("which", "who", "whereas" ...), a new clause (a subject pronoun or a finite verb
  such as "was", "showed", "presents"), an item longer than ``LIST_ITEM`` tokens, or the sentence end;
- **terminators always terminate**: medspaCy tests whether two scopes overlap with
  ``tuple_overlaps(a, b)``, which is not symmetric (false when b strictly contains a); a "but" whose
  own window is wider than the negation's scope on both sides then fails to end it, and in "No fever,
  but there is pneumonia in the right lower lobe" the pneumonia comes out negated. A coder reads
  "but" as the end of the negation: here the overlap test is symmetric.

The document is the sentence (from ``coding.text``), as when each sentence was its own spaCy Doc:
a scope never crosses a sentence end. ``assert_mentions_medspacy`` runs medspaCy itself on the same
input (tests compare the two; it is not on the hot path). Sections come from
``coding.text.sections`` (medspaCy's category names): a mention under "Family history:" is the
family's, under "Past medical history:" historical.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

from medbill.coding.model import Assertion

MAX_SCOPE = 6
LIST_ITEM = 5  # tokens an item of a coordinated list may have (list-aware negation scope)
_LOCK = threading.Lock()
_ENGINE: _Engine | None = None
_ERROR: str | None = None
_MEDSPACY: Any = None

SECTION_ASSERTION: dict[str, Assertion] = {
    "family_history": "family",
    "past_medical_history": "historical",
    "past_surgical_history": "historical",
}
_ATTRIBUTE: dict[str, Assertion] = {
    "NEGATED_EXISTENCE": "negated",
    "FAMILY": "family",
    "HYPOTHETICAL": "hypothetical",
    "POSSIBLE_EXISTENCE": "possible",
    "HISTORICAL": "historical",
}
# when several modifiers apply, this order decides (as the pipeline always read ConText's flags)
_PRECEDENCE: tuple[Assertion, ...] = ("negated", "family", "hypothetical", "possible", "historical")
# spaCy-like tokens: "does" + "n't", "mother" + "'s", words, single punctuation marks
_TOK = re.compile(r"[^\W_]+(?=n't\b)|n't\b|'s\b|[^\W_]+|[^\w\s]|_", re.IGNORECASE)
_ALPHA = "\x00alpha"
# coordinated lists under a negation cue (not medspaCy: see the module docstring)
_COORD = frozenset({",", ";", "/", "&", "or", "and", "nor", "and/or"})
_LIST_STOP = frozenset(
    {
        # sentence-internal ends and relative / subordinating words
        ".", "!", "?", "which", "who", "whom", "whose", "whereas", "while", "because", "since",
        "so", "then", "thus", "therefore", "hence", "when", "where", "until", "unless", "despite",
        # subjects of a new clause
        "i", "he", "she", "we", "they", "it", "there", "patient", "child", "woman", "man",
        # finite verbs that open a new clause (or close a post-negated list's predicate)
        "is", "was", "were", "are", "has", "had", "have", "did", "does", "do", "be", "been",
        "showed", "shows", "show", "revealed", "reveals", "presented", "presents", "present",
        "reported", "reports", "developed", "develops", "underwent", "received", "receives",
        "required", "requires", "started", "remained", "remains", "complained", "complains",
        "consulted", "described", "describes", "appeared", "persisted", "persists", "improved",
        "confirmed", "demonstrated", "demonstrates", "evidenced", "noted", "found", "observed",
        "diagnosed", "admitted", "treated", "performed", "needed", "needs",
    }
)  # fmt: skip
_AUX = frozenset({"is", "was", "were", "are", "been", "be", "has", "have", "had"})


@dataclass(frozen=True, slots=True)
class Rule:
    literal: str
    category: str
    direction: str  # FORWARD | BACKWARD | BIDIRECTIONAL | TERMINATE | PSEUDO
    max_scope: int
    order: int  # position among the rules (medspaCy's match order for equal spans)


class _Node:
    __slots__ = ("kids", "rules")

    def __init__(self) -> None:
        self.kids: dict[str, _Node] = {}
        self.rules: list[Rule] = []


def medspacy_rules_path() -> Path:
    """medspaCy's English ConText rule file, found without importing medspaCy (and spaCy)."""
    spec = importlib.util.find_spec("medspacy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("medspacy is not installed (pip install medspacy==1.3.1)")
    root = Path(next(iter(spec.submodule_search_locations))).parent
    path = root / "resources" / "en" / "context_rules.json"
    if not path.is_file():
        raise FileNotFoundError(f"medspaCy's ConText rules are missing ({path.name})")
    return path


def _alternatives(element: dict[str, Any]) -> list[str | None]:
    """The token strings one pattern element accepts (None: may be absent)."""
    if "LOWER" in element:
        value = element["LOWER"]
        alts = [str(v).lower() for v in value["IN"]] if isinstance(value, dict) else [str(value).lower()]
    elif element.get("IS_ALPHA"):
        alts = [_ALPHA]
    else:
        raise ValueError(f"unsupported ConText pattern element {element!r}")
    out: list[str | None] = list(alts)
    if element.get("OP") == "?":
        out.append(None)
    elif element.get("OP") not in (None, "!"):
        raise ValueError(f"unsupported ConText pattern operator {element.get('OP')!r}")
    return out


class _Engine:
    def __init__(self, raw_rules: Sequence[dict[str, Any]]) -> None:
        self.root = _Node()
        self.rules: list[Rule] = []
        for n, raw in enumerate(raw_rules):
            direction = str(raw.get("direction", "BIDIRECTIONAL")).upper()
            rule = Rule(
                str(raw["literal"]),
                str(raw["category"]).upper(),
                direction,
                int(raw.get("max_scope") or MAX_SCOPE),
                n,
            )
            self.rules.append(rule)
            pattern = raw.get("pattern")
            if pattern is None:
                phrases = [tuple(t.lower() for t in _TOK.findall(rule.literal))]
            else:
                choices = [_alternatives(e) for e in pattern]
                phrases = [tuple(t for t in combo if t is not None) for combo in product(*choices)]
            for phrase in phrases:
                if not phrase or any(" " in t for t in phrase):
                    continue  # a multi-word token never matches a token (as in spaCy)
                node = self.root
                for tok in phrase:
                    node = node.kids.setdefault(tok, _Node())
                if rule not in node.rules:
                    node.rules.append(rule)

    def matches(self, words: Sequence[str]) -> list[tuple[int, int, Rule]]:
        found: list[tuple[int, int, Rule]] = []
        n = len(words)
        root = self.root.kids
        for i in range(n):
            if words[i] not in root:
                continue
            stack: list[tuple[_Node, int]] = [(root[words[i]], i + 1)]
            while stack:
                node, j = stack.pop()
                for rule in node.rules:
                    found.append((i, j, rule))
                if j < n:
                    nxt = node.kids.get(words[j])
                    if nxt is not None:
                        stack.append((nxt, j + 1))
                    alpha = node.kids.get(_ALPHA)
                    if alpha is not None and words[j].isalpha():
                        stack.append((alpha, j + 1))
        found.sort(key=lambda m: (m[0], m[1], m[2].order))
        return _prune(found)


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    """medspacy.util.tuple_overlaps, argument order kept (it is not symmetric)."""
    return a0 <= b0 < a1 or a0 < b1 <= a1


def _prune(matches: list[tuple[int, int, Rule]]) -> list[tuple[int, int, Rule]]:
    """medspacy.common.util.prune_overlapping_matches (strategy "longest")."""
    while True:
        if not matches:
            return matches
        unpruned = sorted(matches, key=lambda m: (m[0], m[1]))
        pruned: list[tuple[int, int, Rule]] = []
        cur = unpruned.pop(0)
        while True:
            if not unpruned:
                pruned.append(cur)
                break
            nxt = unpruned.pop(0)
            if _overlaps(cur[0], cur[1], nxt[0], nxt[1]):
                pruned.append(max(cur, nxt, key=lambda m: m[1] - m[0]))
                if not unpruned:
                    break
                cur = unpruned.pop(0)
            else:
                pruned.append(cur)
                cur = nxt
        if len(pruned) == len(matches):
            return pruned
        matches = pruned


class _Modifier:
    __slots__ = ("category", "direction", "end", "scope_end", "scope_start", "start")

    def __init__(self, rule: Rule, start: int, end: int, n: int) -> None:
        self.category = rule.category
        self.direction = rule.direction
        self.start = start
        self.end = end
        lo, hi = max(start - rule.max_scope, 0), min(end + rule.max_scope, n)  # Span._.window
        if self.direction == "FORWARD":
            self.scope_start, self.scope_end = end, hi
        elif self.direction == "BACKWARD":
            self.scope_start, self.scope_end = lo, start
        else:
            self.scope_start, self.scope_end = lo, hi

    def limit_scope(self, other: _Modifier, symmetric: bool = True) -> None:
        """ConTextModifier.limit_scope (no custom terminated_by, allowed or excluded types here).
        ``symmetric``: overlap tested both ways (medspaCy tests one way only; see the docstring)."""
        a0, a1, b0, b1 = self.scope_start, self.scope_end, other.scope_start, other.scope_end
        if not (_overlaps(a0, a1, b0, b1) or (symmetric and _overlaps(b0, b1, a0, a1))):
            return
        if self.direction == "TERMINATE":
            return
        if other.direction != "TERMINATE" and other.category != self.category:
            return
        if self.direction in ("FORWARD", "BIDIRECTIONAL") and other.start > self.start:
            self.scope_end = min(self.scope_end, other.start)
        if self.direction in ("BACKWARD", "BIDIRECTIONAL") and other.end < self.end:
            self.scope_start = max(self.scope_start, other.end)

    def extend_over_list(self, words: Sequence[str], cues: Sequence[_Modifier]) -> None:
        """Widen a negation's scope over the coordinated list after (FORWARD) or before (BACKWARD)
        the cue, up to the first terminator (``_LIST_STOP``, another cue, an over-long item). A cue
        right after the negation ("without history of A, B or C") is stepped over."""
        n = len(words)
        if self.direction == "FORWARD":
            after = {m.start: m.end for m in cues if m is not self and m.start >= self.end}
            t = self.end
            while t in after:
                t = after[t]
            last, gap = -1, 0
            while t < n:
                w = words[t]
                if t in after or w in _LIST_STOP:
                    break
                if w in _COORD:
                    last, gap = t, 0
                else:
                    gap += 1
                    if gap > LIST_ITEM:
                        break
                t += 1
            if last >= 0 and t > self.scope_end:
                self.scope_end = t
        elif self.direction == "BACKWARD":
            before = {m.end - 1 for m in cues if m is not self and m.end <= self.start}
            t = self.start - 1
            while t >= 0 and words[t] in _AUX:
                t -= 1
            last, gap = -1, 0
            while t >= 0:
                w = words[t]
                if t in before or w in _LIST_STOP or w == ";":
                    break
                if w in _COORD:
                    last, gap = t, 0
                else:
                    gap += 1
                    if gap > LIST_ITEM:
                        break
                t -= 1
            if last >= 0 and t + 1 < self.scope_start:
                self.scope_start = t + 1
            for u in range(self.start - 1, self.scope_start - 1, -1):
                if words[u] == ";":  # "pneumonia; abscess and empyema were ruled out"
                    self.scope_start = u + 1
                    break

    def modifies(self, start: int, end: int) -> bool:
        if _overlaps(self.start, self.end, start, end):
            return False
        if self.direction in ("TERMINATE", "PSEUDO"):
            return False
        return _overlaps(self.scope_start, self.scope_end, start, end)


def _load() -> _Engine:
    raw: list[dict[str, Any]] = list(json.loads(medspacy_rules_path().read_text(encoding="utf-8"))["context_rules"])
    ours = resources.files("medbill.coding").joinpath("data/context_rules.json")
    raw += json.loads(ours.read_text(encoding="utf-8"))["context_rules"]
    return _Engine(raw)


def _engine() -> _Engine | None:
    global _ENGINE, _ERROR
    with _LOCK:
        if _ENGINE is None and _ERROR is None:
            try:
                _ENGINE = _load()
            except Exception as exc:  # noqa: BLE001 - any missing file / bad rule: degrade, say why
                _ERROR = f"assertion detection unavailable (medspaCy ConText rules: {type(exc).__name__}: {exc})"
        return _ENGINE


def available() -> bool:
    return _engine() is not None


def unavailable_reason() -> str | None:
    _engine()
    return _ERROR


def assert_mentions(
    text: str,
    spans: Sequence[tuple[int, int]],
    bounds: Sequence[tuple[int, int]],
    section_of: Sequence[str],
    *,
    medspacy_compat: bool = False,
) -> list[Assertion]:
    """The assertion of each (start, end) character span of ``text``.

    ``bounds`` are the note's sentences; ``section_of[i]`` the section category of span i. ConText
    runs once per sentence that holds a mention, linear in the note's length. ``medspacy_compat``
    drops the list-aware negation scope and the symmetric terminator test (medspaCy's exact output).
    """
    engine = _engine()
    out: list[Assertion] = [SECTION_ASSERTION.get(sec, "present") for sec in section_of]
    if engine is None or not spans:
        return out
    starts = [a for a, _b in bounds]
    by_sent: dict[int, list[int]] = {}
    for i, (a, _b) in enumerate(spans):
        k = bisect_right(starts, a) - 1
        if k >= 0:
            by_sent.setdefault(k, []).append(i)
    root = engine.root.kids
    findall = _TOK.findall
    low = text.lower()
    same = len(low) == len(text)  # else a character whose lower case is longer: lower each token
    for k, members in by_sent.items():
        sa, sb = bounds[k]
        words: list[str] = findall(low, sa, sb) if same else [w.lower() for w in findall(text, sa, sb)]
        if root.keys().isdisjoint(words):
            continue  # no cue's first word in the sentence (most sentences)
        found_rules = engine.matches(words)
        if not found_rules:
            continue
        n = len(words)
        mods = [_Modifier(rule, i, j, n) for i, j, rule in found_rules]
        if not medspacy_compat:
            for m in mods:
                if m.category == "NEGATED_EXISTENCE" and m.direction in ("FORWARD", "BACKWARD"):
                    m.extend_over_list(words, mods)
        symmetric = not medspacy_compat
        for x in range(len(mods) - 1):  # ConTextGraph.update_scopes
            for y in range(x + 1, len(mods)):
                mods[x].limit_scope(mods[y], symmetric)
                mods[y].limit_scope(mods[x], symmetric)
        tok_starts: list[int] = []
        tok_ends: list[int] = []
        for tok in _TOK.finditer(text, sa, sb):
            tok_starts.append(tok.start())
            tok_ends.append(tok.end())
        for i in members:
            a, b = spans[i]
            # char span -> token span, alignment "expand"
            t0 = bisect_right(tok_ends, a)
            t1 = bisect_left(tok_starts, min(b, sb))
            if t1 <= t0:
                continue
            labels = {_ATTRIBUTE[m.category] for m in mods if m.category in _ATTRIBUTE and m.modifies(t0, t1)}
            for label in _PRECEDENCE:
                if label in labels:
                    out[i] = label
                    break
    return out


# ---------------------------------------------------------------------------------- medspaCy itself
def _medspacy() -> Any:
    global _MEDSPACY
    with _LOCK:
        if _MEDSPACY is None:
            for name in ("PyRuSH", "medspacy", "loguru"):
                logging.getLogger(name).setLevel(logging.WARNING)
            import spacy
            from medspacy.context import ConTextRule  # type: ignore[import-untyped]

            nlp = spacy.blank("en")
            context: Any = nlp.add_pipe(
                "medspacy_context",
                config={"rules": None, "input_span_type": "group", "span_group_name": "mentions"},
            )
            rules = ConTextRule.from_json(context.DEFAULT_RULES_FILEPATH)
            ours = resources.files("medbill.coding").joinpath("data/context_rules.json")
            with resources.as_file(ours) as path:
                rules = rules + ConTextRule.from_json(str(path))
            for rule in rules:
                if rule.max_scope is None:
                    rule.max_scope = MAX_SCOPE
            context.add(rules)
            _MEDSPACY = (nlp, context)
        return _MEDSPACY


def assert_mentions_medspacy(
    text: str,
    spans: Sequence[tuple[int, int]],
    bounds: Sequence[tuple[int, int]],
    section_of: Sequence[str],
) -> list[Assertion]:
    """The same as ``assert_mentions`` through medspaCy's ConText component (a spaCy Doc per
    sentence): the reference the phrase engine is tested against. Needs spaCy; slow."""
    nlp, context = _medspacy()
    out: list[Assertion] = [SECTION_ASSERTION.get(sec, "present") for sec in section_of]
    starts = [a for a, _b in bounds]
    by_sent: dict[int, list[int]] = {}
    for i, (a, _b) in enumerate(spans):
        k = bisect_right(starts, a) - 1
        if k >= 0:
            by_sent.setdefault(k, []).append(i)
    for k, members in by_sent.items():
        sa, sb = bounds[k]
        doc = nlp.make_doc(text[sa:sb])
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
            flags = {
                "negated": span._.is_negated,
                "family": span._.is_family,
                "hypothetical": span._.is_hypothetical,
                "possible": span._.is_uncertain,
                "historical": span._.is_historical,
            }
            for label in _PRECEDENCE:
                if flags[label]:
                    out[i] = label
                    break
    return out

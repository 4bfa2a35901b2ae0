"""From a clinical note to ranked, explainable code suggestions (the coder's workflow, Index -> Tabular).

1. Normalise and segment (``coding.text``): bounded length, sentences, section headings, the
   note's own abbreviations ("chronic kidney disease (CKD)" then "CKD").
2. Mentions (``coding.lexicon``): longest match of token keys against titles, inclusion terms,
   Index paths, HCPCS descriptions and curated abbreviations/synonyms; word-order-free matches of
   2-4 words; the learned n-gram associations (``coding.learned``) as a second source.
3. Assertion (``coding.context``): medspaCy ConText per sentence and section headings.
4. Assignment: descend to a billable code by the words around the mention (laterality, type,
   acuity), the 7th character (episode of care), the "with" convention (E11 + N18 -> E11.22),
   use-additional / code-first prompts as tasks, Excludes1 conflicts, billable-only "suggested".
5. Ranking: a confidence from the match source, the number of mentions and the assertion; what
   the note does not support as present stays "possible" (never auto-accepted).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from medbill.codesets.refstore import INHERITED_NOTE_KINDS, RefStore
from medbill.coding import context as ctx
from medbill.coding.learned import associations
from medbill.coding.lexicon import GENERIC, MAX_KEY, Entry, Lexicon, key_of, lexicon_for
from medbill.coding.model import (
    Assertion,
    CodingOptions,
    CodingResult,
    Conflict,
    Setting,
    Span,
    Status,
    Suggestion,
    Task,
)
from medbill.coding.rerank import Model, Reranker, reranker
from medbill.coding.text import Token, clean, local_abbreviations, sections, sentence_bounds, tokenize
from medbill.core.codes import CodeSystem, display

_SOURCE_CONF = {
    "title": 0.80,
    "title_short": 0.78,
    "index": 0.78,
    "inclusion": 0.72,
    "alias": 0.70,
    "derived": 0.68,
    "title_head": 0.62,
    "hcpcs": 0.45,
    "local_abbreviation": 0.70,
    "practice": 0.85,
}
_BAG_PENALTY = 0.15
_MAX_MENTIONS = 40
_CODE_REF = re.compile(
    r"\b([A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4})?)(?:\s*-\s*([A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4})?))?"
)
_LATERAL = {"right": "right", "left": "left", "bilateral": "bilateral"}
_EPISODE = (
    (frozenset({"sequela", "sequelae", "late"}), "S"),
    (frozenset({"subsequent", "follow", "followup", "healing", "routine"}), "D"),
)


@dataclass(slots=True)
class _Mention:
    start: int
    end: int
    entries: list[Entry]
    how: str  # exact | bag | local_abbreviation | learned
    conf: float
    sent: int
    label: str
    learned: list[tuple[CodeSystem, str, float]] = field(default_factory=list)


@dataclass(slots=True)
class _Cand:
    system: CodeSystem
    code: str
    spans: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, mention index)
    confs: list[float] = field(default_factory=list)
    assertions: list[Assertion] = field(default_factory=list)
    strong: list[bool] = field(default_factory=list)  # per assertion: from a code-set mention (not learned)
    path: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    specific: bool = True
    sources: set[str] = field(default_factory=set)  # match sources of its mentions (reranker features)
    learned_conf: float = 0.0
    sents: set[int] = field(default_factory=set)


def suggest(
    note: str,
    *,
    store: RefStore,
    setting: Setting = "outpatient",
    on: date | None = None,
    options: CodingOptions | None = None,
) -> CodingResult:
    """Ranked code suggestions for one note, each with its evidence, path, notes and reasons."""
    opts = options or CodingOptions()
    on = on or date.today()
    warnings: list[str] = []
    if setting not in ("outpatient", "inpatient"):
        raise ValueError(f"setting must be 'outpatient' or 'inpatient', not {setting!r}")
    if not isinstance(note, str):
        raise TypeError("note must be text (decode bytes with medbill.coding.text.decode_note)")
    if not note.strip():
        return CodingResult((), warnings=("the note is empty: nothing to code",), setting=setting)
    if len(note) > opts.max_chars:
        warnings.append(f"the note has {len(note):,} characters: only the first {opts.max_chars:,} were coded")
    work = clean(note[: opts.max_chars])
    lex = lexicon_for(store)
    bounds = sentence_bounds(work)
    tokens = tokenize(work, bounds)
    secs = sections(work)
    mentions = _find_mentions(work, tokens, lex, opts)
    if opts.use_context and not ctx.available():
        warnings.append(ctx.unavailable_reason() or "assertion detection unavailable")
    sec_starts = [s.start for s in secs]

    def section_at(pos: int) -> str:
        k = bisect_right(sec_starts, pos) - 1
        return secs[k].category if k >= 0 and pos < secs[k].end else ""

    span_secs = [section_at(m.start) for m in mentions]
    if opts.use_context:
        assertions = ctx.assert_mentions(work, [(m.start, m.end) for m in mentions], bounds, span_secs)
    else:
        assertions = ["present" for _ in mentions]
    uncertain_ok = opts.uncertain_as_present if opts.uncertain_as_present is not None else setting == "inpatient"

    sent_keys = _sentence_keys(tokens)
    active = lex.active(store, on)
    cands: dict[tuple[CodeSystem, str], _Cand] = {}
    resolved: dict[tuple[CodeSystem, str, int], tuple[str, list[str], bool]] = {}
    for mi, m in enumerate(mentions):
        targets: list[tuple[CodeSystem, str, float, Entry | None]] = [
            (e.system, e.code, m.conf, e) for e in m.entries[:1]
        ]
        targets += [(system, code, conf, None) for system, code, conf in m.learned[:2]]
        for system, code, conf, entry in targets:
            memo = (system, code, m.sent)
            hit = resolved.get(memo)
            if hit is None:
                words = sent_keys.get(m.sent, frozenset())
                hit = resolved[memo] = _resolve(system, code, words, lex, store, active)
            final, steps, specific = hit
            key = (system, final)
            cand = cands.get(key)
            if cand is None:
                if entry is not None:
                    path = [f"{_source_label(entry.source)}: {entry.label}"]
                else:
                    path = [f"learned: '{m.label}' -> {display(code, system)} ({conf:.2f})"]
                cand = cands[key] = _Cand(system, final, path=path + steps, specific=specific)
            if len(cand.spans) >= _MAX_MENTIONS:
                continue  # confidence has saturated; keep the work bounded on huge notes
            cand.spans.append((m.start, m.end, mi))
            cand.confs.append(conf)
            cand.assertions.append(assertions[mi])
            cand.strong.append(entry is not None)
            cand.specific = cand.specific and specific
            cand.sents.add(m.sent)
            if entry is None:
                cand.sources.add("learned")
                cand.learned_conf = max(cand.learned_conf, conf)
            else:
                cand.sources.add(entry.source + ("/bag" if m.how == "bag" else ""))

    _merge_unspecified(cands, lex)
    _apply_combinations(cands, lex, active)
    lexicon_sents = {m.sent for m in mentions if m.entries}
    feats = _Features(sent_keys, lexicon_sents, mentions, len(work), reranker(opts.rerank) if opts.rerank else None)
    suggestions, tasks = _rank(work, cands, lex, store, active, span_secs, uncertain_ok, opts, setting, feats)
    conflicts = _conflicts(suggestions, lex)
    drg = None
    if setting == "inpatient" and opts.drg:
        from medbill.coding.drg import group

        drg, drg_warning = group(suggestions)
        if drg_warning:
            warnings.append(drg_warning)
    stats: dict[str, object] = {"characters": len(work), "sentences": len(bounds), "mentions": len(mentions)}
    if opts.features:
        stats["features"] = feats.rows
    return CodingResult(tuple(suggestions), tuple(tasks), tuple(conflicts), drg, tuple(warnings), setting, stats)


# ---------------------------------------------------------------------------- mentions
def _source_label(source: str) -> str:
    return {
        "title": "tabular title",
        "title_short": "tabular title",
        "title_head": "tabular title",
        "inclusion": "inclusion term",
        "index": "index",
        "derived": "title (with)",
        "alias": "abbreviation/synonym",
        "hcpcs": "HCPCS description",
        "local_abbreviation": "abbreviation defined in the note",
        "practice": "practice synonym (accepted by a coder)",
    }.get(source, source)


def _find_mentions(text: str, tokens: list[Token], lex: Lexicon, opts: CodingOptions) -> list[_Mention]:
    keys = [t.key for t in tokens]
    n = len(tokens)
    local: dict[str, list[Entry]] = {}
    for abbr, (a, b) in local_abbreviations(text).items():
        long_key = key_of(text[a:b])
        for cut in range(len(long_key)):
            found = lex.lookup(long_key[cut:])
            if found:
                local[abbr] = [
                    Entry(e.system, e.code, "local_abbreviation", f"{abbr.upper()} = {text[a:b]}") for e in found
                ]
                break
    practice = _practice_terms(opts.practice_synonyms)
    practice_len = max((len(k) for k in practice), default=0)
    out: list[_Mention] = []
    terms, bags, first_len = lex.terms, lex.bags, lex.first_len
    prefixes = _prefixes(lex)
    bag_words = lex.bag_words
    bag_run = [0] * (n + 1)  # how many tokens from i on are words of some order-free bag
    sent_end = [n] * (n + 1)  # the first token of the next sentence
    for t in range(n - 1, -1, -1):
        bag_run[t] = bag_run[t + 1] + 1 if keys[t] in bag_words else 0
        sent_end[t] = sent_end[t + 1] if t + 1 < n and tokens[t + 1].sent == tokens[t].sent else t + 1
    i = 0
    while i < n:
        sent = tokens[i].sent
        limit = min(i + MAX_KEY, sent_end[i])
        best: tuple[int, list[Entry], str] | None = None
        for j in range(min(limit, i + practice_len), i, -1) if practice else ():
            hit = practice.get(tuple(keys[i:j]))
            if hit:
                best = (j, hit, "exact")
                break
        if best is None:
            # the longest exact key (walking the key prefixes), then a longer order-free bag
            exact_j = i
            exact: list[Entry] | None = None
            first = keys[i]
            if first in first_len:
                longest = min(limit, i + first_len[first])
                key: tuple[str, ...] = (first,)
                j = i + 1
                while True:
                    hit = terms.get(key)
                    if hit:
                        exact_j, exact = j, hit
                    if j >= longest:
                        break
                    key = (*key, keys[j])
                    if key not in prefixes:
                        break
                    j += 1
            bag_end = min(limit, i + min(bag_run[i], 4))
            for j in range(bag_end, max(exact_j, i + 1), -1):
                ordered = bags.get(tuple(sorted(keys[i:j])))
                if ordered:
                    best = (j, terms[ordered], "bag")
                    break
            if best is None and exact is not None:
                best = (exact_j, exact, "exact")
        if best is None and keys[i] in local:
            best = (i + 1, local[keys[i]], "exact")
        if best is not None:
            j, entries, how = best
            conf = _SOURCE_CONF.get(entries[0].source, 0.6) - (_BAG_PENALTY if how == "bag" else 0.0)
            if j - i == 1 and lex.key_freq.get(keys[i], 0) > 40:
                conf -= 0.15  # one common word
            out.append(
                _Mention(
                    tokens[i].start,
                    tokens[j - 1].end,
                    entries,
                    how,
                    conf,
                    sent,
                    text[tokens[i].start : tokens[j - 1].end],
                )
            )
            i = j
        else:
            i += 1
    if opts.use_learned:
        _learned_mentions(text, tokens, out, opts.learned, opts.learned_min)
    return out


def _prefixes(lex: Lexicon) -> frozenset[tuple[str, ...]]:
    """Every key of 2+ words and its prefixes of 2+ words (built once per lexicon): the mention
    search walks forward while the words so far begin (or are) some key."""
    got: frozenset[tuple[str, ...]] | None = lex.memo.get("key_prefixes")
    if got is None:
        got = frozenset(key[:k] for key in lex.terms for k in range(2, len(key) + 1))
        lex.memo["key_prefixes"] = got
    return got


_FIRSTS: list[tuple[object, frozenset[str]]] = []


def _first_words(assoc: Mapping[tuple[str, ...], object]) -> frozenset[str]:
    """The first words of the learned n-grams (a token starting none is skipped at once)."""
    for table, firsts in _FIRSTS:
        if table is assoc:
            return firsts
    firsts = frozenset(k[0] for k in assoc if k)
    _FIRSTS[:] = [*_FIRSTS[-3:], (assoc, firsts)]
    return firsts


@lru_cache(maxsize=64)
def _practice_terms(synonyms: tuple[tuple[str, str, str], ...]) -> dict[tuple[str, ...], list[Entry]]:
    """Token key -> entries of a practice's accepted mention -> code pairs (bad rows are skipped)."""
    out: dict[tuple[str, ...], list[Entry]] = {}
    for mention, system, code in synonyms:
        key = key_of(mention)
        if not key or len(key) > MAX_KEY:
            continue
        try:
            cs = CodeSystem(system)
        except ValueError:
            continue
        entry = Entry(cs, code.replace(".", "").upper(), "practice", mention)
        bucket = out.setdefault(key, [])
        if entry not in bucket:
            bucket.append(entry)
    return out


def _learned_mentions(text: str, tokens: list[Token], out: list[_Mention], name: str, floor: float) -> None:
    assoc = associations(name)
    if not assoc:
        return
    keys = [t.key for t in tokens]
    n = len(tokens)
    by_span = {(m.start, m.end): m for m in out}
    covered = [False] * n  # tokens inside a lexicon mention: the code sets already named them
    k = 0
    for m in out:
        while k < n and tokens[k].end <= m.start:
            k += 1
        j = k
        while j < n and tokens[j].start < m.end:
            covered[j] = True
            j += 1
    firsts = _first_words(assoc)
    for i in range(n):
        if covered[i] or keys[i] not in firsts:
            continue
        for size in (3, 2, 1):
            j = i + size
            if j > n or tokens[j - 1].sent != tokens[i].sent:
                continue
            if any(covered[i:j]):
                continue
            hits = assoc.get(tuple(keys[i:j]))
            if hits and floor > 0:
                hits = tuple(h for h in hits if h[2] >= floor or h[0] is not CodeSystem.ICD10CM)
            if not hits:
                continue
            a, b = tokens[i].start, tokens[j - 1].end
            found = by_span.get((a, b))
            if found is None:
                found = _Mention(a, b, [], "learned", 0.0, tokens[i].sent, text[a:b])
                by_span[(a, b)] = found
                out.append(found)
            found.learned.extend(hits)
    out.sort(key=lambda m: (m.start, m.end))


def _sentence_keys(tokens: list[Token]) -> dict[int, frozenset[str]]:
    acc: dict[int, set[str]] = {}
    for t in tokens:
        acc.setdefault(t.sent, set()).add(t.key)
    return {k: frozenset(v) for k, v in acc.items()}


# ---------------------------------------------------------------------------- assignment
def _resolve(
    system: CodeSystem,
    code: str,
    words: frozenset[str],
    lex: Lexicon,
    store: RefStore,
    active: frozenset[str],
) -> tuple[str, list[str], bool]:
    """The billable code the words around a mention support, the steps taken, and whether every
    step was chosen by the note (False when a default "unspecified" branch was taken)."""
    if system is not CodeSystem.ICD10CM:
        return code, [], True
    steps: list[str] = []
    specific = True
    current = code
    for _ in range(4):
        node = lex.nodes.get(current)
        if node is None:
            break
        if current in active:
            current, moved = _lateral_sibling(current, words, lex, active)
            if moved:
                steps.append(f"laterality: {display(current, system)}")
            break
        kids = [c for c in node.children if len(c) <= 6]
        if not kids or all(len(c) == 7 for c in node.children):
            seventh = _seventh(current, words, lex, active)
            if seventh is not None:
                current, why = seventh
                steps.append(why)
            break
        parent_key = set(key_of(node.title))
        scored: list[tuple[float, int, str]] = []
        for kid in kids:
            kn = lex.nodes[kid]
            distinct = set(key_of(kn.title)) - parent_key
            hits = len((distinct - GENERIC) & words)
            low = kn.title.lower()
            # the Index's default: "without complications" before "unspecified", and never
            # "with unspecified complications" (E11.9, not E11.8, for a bare "type 2 diabetes")
            if "without complication" in low:
                default = 1.0
            elif "unspecified" in low and "with unspecified" not in low:
                default = 0.5
            else:
                default = 0.0
            scored.append((hits * 2 + 0.5 * default - 0.01 * len(distinct), hits, kid))
        scored.sort(key=lambda t: (-t[0], t[2]))
        _score, best_hits, best = scored[0]
        chosen_by_note = best_hits >= 1
        if not chosen_by_note:
            specific = specific and "without complication" in lex.title(best).lower()
        steps.append(
            f"tabular: {display(best, system)} {lex.title(best)}"
            + ("" if chosen_by_note else " (default: the note says no more)")
        )
        current = best
    return current, steps, specific


def _lateral_sibling(code: str, words: frozenset[str], lex: Lexicon, active: frozenset[str]) -> tuple[str, bool]:
    node = lex.nodes[code]
    title = node.title.lower()
    side = next((s for w, s in _LATERAL.items() if w in words), None)
    if side is None or "unspecified" not in title or node.parent is None:
        return code, False
    want = set(key_of(title.replace("unspecified", side)))
    for sib in lex.nodes[node.parent].children:
        if sib != code and sib in active and set(key_of(lex.title(sib))) == want:
            return sib, True
    return code, False


def _seventh(code: str, words: frozenset[str], lex: Lexicon, active: frozenset[str]) -> tuple[str, str] | None:
    """The 7th character by the episode of care the note describes: A (initial, active
    treatment) unless it says subsequent/follow-up/healing (D) or sequela (S); B for an open
    fracture at the initial encounter."""
    node = lex.nodes.get(code)
    if node is None:
        return None
    options = {c[6]: c for c in node.children if len(c) == 7 and c in active}
    if not options:
        return None
    char = "A"
    for cue, value in _EPISODE:
        if cue & words and value in options:
            char = value
            break
    if char == "A" and "open" in words and "B" in options:
        char = "B"
    if char not in options:
        char = sorted(options)[0]
    full = options[char]
    meaning = lex.title(full)[len(node.title) :].lstrip(", ") or lex.title(full)
    return full, f"7th character {char}: {meaning}"


@lru_cache(maxsize=50_000)
def _ranges(text: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for m in _CODE_REF.finditer(text):
        out.append((m.group(1).replace(".", ""), (m.group(2) or "").replace(".", "")))
    return tuple(out)


@lru_cache(maxsize=50_000)
def _category_reach(text: str) -> tuple[tuple[str, str], ...]:
    """The 3-character category intervals a note's code references can reach (a quick pre-test)."""
    return tuple((lo[:3], (hi or lo)[:3]) for lo, hi in _ranges(text))


def _in_ranges(code: str, text: str) -> bool:
    """Does a note's text reference this code (E11.22, E11.-, N18.1-N18.6)?"""
    for lo, hi in _ranges(text):
        if hi:
            if lo <= code[: len(lo)] <= hi[: len(lo)] or lo <= code <= hi + "\x7f":
                return True
        elif code.startswith(lo):
            return True
    return False


def _notes_for(code: str, lex: Lexicon) -> list[tuple[str, str, str]]:
    """(kind, text, where) of the notes in force for a code: its own and those inherited."""
    memo_key = f"notes:{code}"
    hit: list[tuple[str, str, str]] | None = lex.memo.get(memo_key)
    if hit is not None:
        return hit
    out: list[tuple[str, str, str]] = []
    current: str | None = code
    depth = 0
    while current is not None and depth < 8:
        for kind, text in lex.notes.get(current, ()):
            if depth == 0 or kind in INHERITED_NOTE_KINDS:
                out.append((kind, text, current))
        node = lex.nodes.get(current)
        current = node.parent if node else None
        depth += 1
    if len(lex.memo) < 100_000:
        lex.memo[memo_key] = out
    return out


def _merge_unspecified(cands: dict[tuple[CodeSystem, str], _Cand], lex: Lexicon) -> None:
    """An unspecified code of a category folds into a more specific one the note also supports
    ("CKD" -> N18.9 folds into "chronic kidney disease stage 3" -> N18.30)."""
    cm = [c for (s, _k), c in cands.items() if s is CodeSystem.ICD10CM]
    words = {c.code: set(key_of(lex.title(c.code))) - {"unspecified", "nos"} for c in cm}
    for a in cm:
        if "unspecified" not in lex.title(a.code).lower():
            continue
        for b in cm:
            if b is a or b.code[:3] != a.code[:3] or not words[a.code] < words[b.code]:
                continue
            if (CodeSystem.ICD10CM, a.code) in cands and (CodeSystem.ICD10CM, b.code) in cands:
                b.spans = sorted(set(b.spans + a.spans))
                b.confs = b.confs + a.confs
                b.assertions = b.assertions + a.assertions
                b.strong = b.strong + a.strong
                b.sources |= a.sources
                b.sents |= a.sents
                b.learned_conf = max(b.learned_conf, a.learned_conf)
                b.why.append(f"{display(a.code, CodeSystem.ICD10CM)} folded in (less specific)")
                del cands[(CodeSystem.ICD10CM, a.code)]
                break


def _apply_combinations(
    cands: dict[tuple[CodeSystem, str], _Cand], lex: Lexicon, active: frozenset[str], done: set[str] | None = None
) -> None:
    done = set() if done is None else done
    _DONE_MARK = done
    cm = [c for (s, _k), c in cands.items() if s is CodeSystem.ICD10CM]
    heads = lex.memo.get("combo_heads")
    if heads is None:
        heads = lex.memo["combo_heads"] = frozenset(h for h, _t in lex.combos)
    for head in cm:
        if head.code[:3] not in heads:
            continue
        for tail in cm:
            if head is tail or head.code[:3] == tail.code[:3]:
                continue
            combo = lex.combos.get((head.code[:3], tail.code[:3]))
            if combo is None or (CodeSystem.ICD10CM, head.code) not in cands:
                continue
            code, title = combo
            if code not in active or code in _DONE_MARK:
                continue
            key = (CodeSystem.ICD10CM, code)
            new = cands.get(key) or _Cand(CodeSystem.ICD10CM, code)
            new.spans = sorted(set(new.spans + head.spans + tail.spans))
            new.confs = new.confs + [max(head.confs) * 0.98]
            new.assertions = new.assertions + head.assertions
            new.strong = new.strong + head.strong
            new.sources |= head.sources | tail.sources | {"combination"}
            new.sents |= head.sents | tail.sents
            new.learned_conf = max(new.learned_conf, head.learned_conf, tail.learned_conf)
            new.path = [
                f"index: {lex.title(head.code[:3])}, with, {lex.title(tail.code[:3])}",
                f"tabular: {display(code, CodeSystem.ICD10CM)} {title}",
                "'with' convention: the link is presumed unless the note says otherwise",
            ]
            if head.code != code:
                del cands[(CodeSystem.ICD10CM, head.code)]
            cands[key] = new
            done.add(code)
            keep_tail = any(
                kind == "use_additional" and _in_ranges(tail.code, text) for kind, text, _at in _notes_for(code, lex)
            )
            if not keep_tail and (CodeSystem.ICD10CM, tail.code) in cands:
                del cands[(CodeSystem.ICD10CM, tail.code)]
            return _apply_combinations(cands, lex, active, done)


def _assertion_of(values: Sequence[Assertion], strong: Sequence[bool] = ()) -> Assertion:
    """One assertion for a code from those of its mentions. When code-set mentions (titles, Index,
    inclusion terms) exist they decide: a learned n-gram association (a word that co-occurs with
    the code, e.g. "ectasia" -> R31.9) never turns "No history of ... hematuria" into a present one."""
    if any(strong) and len(strong) == len(values):
        values = [v for v, s in zip(values, strong, strict=True) if s]
    if "present" in values:
        return "present"
    order: tuple[Assertion, ...] = ("possible", "historical", "hypothetical", "family", "negated")
    counts = {a: values.count(a) for a in order}
    return max(order, key=lambda a: (counts[a], -order.index(a)))


@dataclass(slots=True)
class _Features:
    """What the reranker's features need from the note, and the rows it produced (for training)."""

    sent_keys: dict[int, frozenset[str]]
    lexicon_sents: set[int]
    mentions: list[_Mention]
    length: int
    model: Reranker | None
    rows: list[tuple[str, str, list[float]]] = field(default_factory=list)

    def vector(self, cand: _Cand, conf: float, assertion: Assertion, billable: bool, lex: Lexicon) -> list[float]:
        src = cand.sources
        lexical = {x for x in src if x not in ("learned", "combination")}
        title_like = {"title", "title_short", "title_head", "inclusion", "derived"}
        if cand.system is CodeSystem.ICD10CM:
            distinct = set(key_of(lex.title(cand.code))) - GENERIC
        else:
            distinct = set()
        overlap = 0.0
        if distinct:
            for sent in cand.sents:
                words = self.sent_keys.get(sent, frozenset())
                overlap = max(overlap, len(distinct & words) / len(distinct))
        mis = {mi for _a, _b, mi in cand.spans}
        single = all(len(self.mentions[mi].label.split()) == 1 for mi in mis) if mis else False
        first = min((a for a, _b, _mi in cand.spans), default=0)
        prior, precision, seen = self.model.stats(str(cand.system), cand.code) if self.model else (0.0, 0.0, 0.0)
        learned_only = not lexical and "learned" in src
        return [
            conf,
            1.0 if lexical else 0.0,
            1.0 if "index" in src or "index/bag" in src else 0.0,
            1.0 if src & title_like else 0.0,
            1.0 if lexical and all(x.endswith("/bag") for x in lexical) else 0.0,
            1.0 if learned_only else 0.0,
            cand.learned_conf,
            math.log1p(len(mis)),
            overlap,
            prior,
            precision,
            seen,
            1.0 if assertion == "possible" else 0.0,
            1.0 if billable else 0.0,
            1.0 if cand.specific else 0.0,
            1.0 if single else 0.0,
            1.0 if "combination" in src else 0.0,
            len(cand.code) / 7.0,
            1.0 if learned_only and not (cand.sents & self.lexicon_sents) else 0.0,
            first / max(1, self.length),
        ]


def _rank(
    text: str,
    cands: dict[tuple[CodeSystem, str], _Cand],
    lex: Lexicon,
    store: RefStore,
    active: frozenset[str],
    span_secs: list[str],
    uncertain_ok: bool,
    opts: CodingOptions,
    setting: str,
    feats: _Features,
) -> tuple[list[Suggestion], list[Task]]:
    out: list[Suggestion] = []
    tasks: list[Task] = []
    scored: list[
        tuple[bool, float, str, _Cand, Assertion, bool, bool, str, tuple[Model, list[float], float] | None]
    ] = []
    models = feats.model.models if feats.model else {}
    for cand in cands.values():
        assertion = _assertion_of(cand.assertions, cand.strong if opts.lexical_assertion_wins else ())
        if assertion not in ("present", "possible") and not opts.include_non_present:
            continue
        miss = 1.0
        for c in cand.confs:
            miss *= 1.0 - max(0.0, min(c, 0.99))
        conf = 1.0 - miss
        codable = assertion == "present" or (assertion == "possible" and uncertain_ok)
        if not codable:
            conf *= 0.5
        if conf < opts.min_confidence:
            continue
        if cand.system is CodeSystem.ICD10CM:
            billable = cand.code in active
        elif cand.system is CodeSystem.HCPCS:
            billable = cand.code in lex.hcpcs_titles
        else:
            billable = len(cand.code) == 7
        model = models.get(str(cand.system))
        reason: tuple[Model, list[float], float] | None = None
        if model is not None:
            x = feats.vector(cand, conf, assertion, billable, lex)
            if opts.features:
                feats.rows.append((str(cand.system), cand.code, x))
            prob = model.probability(x)
            if "combination" in cand.sources:
                # the "with" convention is a coding rule, not a guess: as sure as its parts
                prob = max(prob, model.threshold)
            # a learned-only diagnosis stays "possible" unless its sentence holds a word of the code's title
            sure = (
                codable
                and billable
                and prob >= model.threshold
                and not (opts.learned_needs_support and cand.system is CodeSystem.ICD10CM and x[5] and not x[8])
            )
            conf = prob * (1.0 if codable else 0.5)
            reason = (model, x, prob)
        else:
            sure = codable and billable and cand.specific and conf >= opts.suggest_threshold
        scored.append(
            (not sure, -round(conf, 4), cand.code, cand, assertion, codable, billable, str(cand.system), reason)
        )
    scored.sort(key=lambda t: (t[0], t[1], t[2], t[7]))
    for unsure, neg, _code, cand, assertion, codable, billable, _sys, reason in scored[: opts.limit]:
        conf = -neg
        if cand.system is CodeSystem.ICD10CM:
            description = lex.title(cand.code)
        elif cand.system is CodeSystem.HCPCS:
            description = lex.hcpcs_titles.get(cand.code, "")
        else:
            description = store.describe(cand.system, cand.code) or ""
        status: Status = "possible" if unsure else "suggested"
        spans = []
        reach = -1
        for a, b in sorted({(a, b) for a, b, _mi in cand.spans}, key=lambda t: (t[0], -t[1])):
            if b > reach:  # a span inside an earlier one adds nothing
                spans.append((a, b))
                reach = b
        mention_ix = {(a, b): mi for a, b, mi in cand.spans}
        evidence = tuple(Span(a, b, text[a:b], span_secs[mention_ix[(a, b)]]) for a, b in spans[:8])
        notes = _notes_for(cand.code, lex) if cand.system is CodeSystem.ICD10CM else []
        note_lines = tuple(
            f"{kind.replace('_', ' ')}{'' if at == cand.code else f' (from {display(at, cand.system)})'}: {t}"
            for kind, t, at in notes
            if kind in ("code_first", "use_additional", "code_also", "excludes1", "excludes2")
        )
        why = [f"{len(spans)} mention(s), confidence {conf:.2f}"]
        if reason is not None:  # the reranker's largest contributions (made for the listed ones only)
            model, x, prob = reason
            top = [f"{name} {'+' if c > 0 else '-'}" for c, name in model.contributions(x)[:3]]
            why.append(f"reranker p={prob:.2f} (threshold {model.threshold:.2f}; {', '.join(top)})")
        if assertion != "present":
            why.append(
                f"{assertion}: coded as established (inpatient, Section II.H)"
                if codable
                else f"{assertion} in the note: not coded as a present diagnosis"
            )
        if not billable:
            why.append("not billable: choose a more specific code")
        if not cand.specific:
            why.append("unspecified: the note does not say more")
        out.append(
            Suggestion(
                code=cand.code,
                system=cand.system,
                description=description,
                status=status,
                billable=billable,
                assertion=assertion,
                evidence=evidence,
                path=tuple(cand.path),
                notes=note_lines,
                confidence=round(conf, 4),
                why="; ".join(why),
            )
        )
    out.sort(key=lambda s: (s.status != "suggested", -s.confidence, s.code))
    out = out[: opts.limit]
    present = [s for s in out if s.system is CodeSystem.ICD10CM]
    for s in present:
        if s.status != "suggested" and not (s.assertion == "present" and not s.billable):
            continue
        header = ""
        for kind, text_, at in _notes_for(s.code, lex):
            if kind not in ("use_additional", "code_first"):
                continue
            node = lex.nodes.get(at)
            if node is None or node.kind in ("chapter", "block"):
                continue
            if text_.rstrip().endswith(":"):
                header = text_.rstrip()
                continue
            text_ = f"{header} {text_}" if header else text_
            spans3 = _category_reach(text_)
            supported = tuple(
                o.display
                for o in present
                if o is not s and any(lo <= o.code[:3] <= hi for lo, hi in spans3) and _in_ranges(o.code, text_)
            )
            where = "" if at == s.code else f" (from {display(at, s.system)})"
            tasks.append(
                Task(kind, s.code, s.system, f"{kind.replace('_', ' ')}{where}: {text_}", candidates=supported)  # type: ignore[arg-type]
            )
        if not s.billable:
            tasks.append(Task("specify", s.code, s.system, f"{s.display} is not billable: document the specific type"))
        elif "unspecified" in s.why:
            tasks.append(Task("specify", s.code, s.system, f"{s.display} is unspecified: query for more detail"))
    if setting == "inpatient":
        for s in present:
            if s.status == "suggested":
                tasks.append(Task("poa", s.code, s.system, f"present on admission indicator for {s.display} (Y/N/U/W)"))
    return out, tasks


def _conflicts(suggestions: Sequence[Suggestion], lex: Lexicon) -> list[Conflict]:
    out: list[Conflict] = []
    cm = [s for s in suggestions if s.system is CodeSystem.ICD10CM and s.assertion == "present"]
    by_cat = sorted((s.code[:3], n) for n, s in enumerate(cm))
    cats = [c for c, _n in by_cat]
    for s in cm:
        for kind, text, at in _notes_for(s.code, lex):
            if kind != "excludes1":
                continue
            seen: set[int] = set()
            for lo, hi in _category_reach(text):
                for k in range(bisect_left(cats, lo), bisect_right(cats, hi)):
                    n = by_cat[k][1]
                    o = cm[n]
                    if n in seen or o is s or o.code[:3] == s.code[:3] or not _in_ranges(o.code, text):
                        continue
                    seen.add(n)
                    out.append(Conflict(s.code, o.code, s.system, f"Excludes1 at {display(at, s.system)}: {text}"))
    return out

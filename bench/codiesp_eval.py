"""CodiEsp evaluation of computer-assisted coding (issue 6, item 4): diagnoses (D) and procedures (P).

Corpus: CodiEsp (CLEF eHealth 2020, CC BY 4.0) under ``$MEDBILL_FIXTURES_DIR/codiesp``: English
machine translations in ``<split>/text_files_en/<doc>.txt``, gold codes in ``<split>/<split>D.tsv``
and ``<split>/<split>P.tsv`` (``doc<TAB>code``). Only ``train`` and ``dev`` are read; the ``test``
split is held back for independent evaluation and this module refuses it. Tune on train, report on dev.

Usage: ``python bench/codiesp_eval.py [--split dev|train] [--system baseline|medbill|both]
[--setting inpatient|outpatient] [--store PATH] [--quick] [--json [PATH]]``.
Library: ``evaluate(suggest_fn, split="dev", *, kinds=("D", "P")) -> EvalReport``.

Scoring protocol (fixed before any tuning; changing it needs a note in the issue)
---------------------------------------------------------------------------------
Gold codes
  * Normalised: upper case, dot removed (CIE-10-ES 2018 ``s22.49xa`` -> ``S2249XA``), duplicates
    within a document dropped.
  * Diagnoses are mapped to ICD-10-CM FY2026 (codes in force on ``ON`` = 2026-04-01, from the
    reference store's validity table) in this order:
    - ``billable``: the code is billable on ON -> kept;
    - ``mapped``: the code was billable once (it has a validity range that ended) and is now a
      node with children of which exactly one says "unspecified" more often than the node's own
      title does, and that child is billable on ON -> replaced by it (R51 -> R51.9,
      M54.5 -> M54.50, G35 -> G35.D); sex- or site-split children (N35.9) are not guessed;
    - ``partial``: not billable on ON but a proper prefix of FY2026 billable codes (a category, or
      a code lacking its 7th character such as T14.8, W19.XXX) -> kept at its own length;
    - ``unmappable``: none of the above -> kept as it is (only the lenient/3-character measures
      can credit it).
  * Procedures: 7-character PCS codes or 4-character partial codes, all scored at 4 characters
    (``code[:4]``); the report counts gold whose 4-character prefix has no PCS code on ON.

Predictions
  * ``suggest_fn(text)`` returns a ``CodingResult`` (``.suggestions``: ``.code``, ``.system``,
    ``.status``) or a ranked sequence of ``(code, system_or_kind, status)``; the kind is D for
    ICD-10-CM (``CodeSystem.ICD10CM`` / "ICD10CM" / "D"), P for ICD-10-PCS; other systems are ignored.
    Codes are normalised like the gold; a repeated code keeps its first (best) rank.
  * Micro precision/recall/F1 count predictions with status ``"suggested"`` only; MAP ranks the
    whole list as returned (``"suggested"`` and ``"possible"``): the recall net counts for ranking,
    not for precision.

Matching levels (each document: a ranked list R of distinct predictions, a set G of gold codes)
  * ``strict``: prediction == gold, exact normalised strings.
  * ``lenient``: ``related(p, g)`` iff ``p.startswith(g) or g.startswith(p)`` (so the comparison
    is at the shorter code's length; every code has >= 3 characters). Walking R in rank order, a
    prediction is a hit when some not-yet-claimed gold is related to it; it claims the equal gold
    if there is one, else the related gold with the longest common prefix (ties: smallest code).
    A gold is claimed at most once, a prediction claims at most one gold; TP = claims.
  * ``cat3``: both sides cut to 3 characters (ICD-10-CM category), de-duplicated (first rank
    kept), then strict.
  * procedures: ``pcs4`` = both sides cut to 4 characters, de-duplicated, then strict
    (section, body system, root operation, body part); ``cat3`` as above (root operation level).
Measures (per level and kind)
  * micro P = TP / #predictions, R = TP / #gold, F1 = 2PR/(P+R), summed over all documents of the
    split (documents without gold of that kind add their predictions as false positives).
  * MAP (CodiEsp's official metric, trec_eval style): per document with >= 1 gold code,
    AP = (1/|G|) * sum over ranks k of R whose prediction is a hit of (hits in R[:k]) / k;
    MAP = mean AP over those documents; a document with no prediction has AP 0 (trec_eval -c).
  * notes/s = documents / wall seconds spent inside ``suggest_fn`` (loading excluded); mean words
    per note is printed beside it. ``main`` also times each system on 30 notes of >= 1,000 words
    (consecutive notes of the split joined) for the issue's throughput target (>= 40 notes/s/core).
Setting: the corpus is Spanish hospital coding (CMBD), so the medbill run uses
``setting="inpatient"`` unless ``--setting`` says otherwise.

Baseline ("floor"): ``TitleDictionary`` is a plain dictionary scan: ICD-10-CM titles of the codes
billable on ON (and ICD-10-PCS titles with the approach dropped) plus simple variants (no
", unspecified"/"unspecified"/NOS/NEC/parentheses, "X, Y" -> "Y X"), lower-cased, matched as
exact longest token sequences, ranked by frequency then first position. No assertion handling.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from medbill.codesets.refstore import RefStore
from medbill.core.codes import CodeSystem
from medbill.settings import Settings

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "codiesp_eval.json"
ON = date(2026, 4, 1)
SPLITS = ("train", "dev")  # "test" is held back: never read here
KINDS = ("D", "P")
LEVELS = {"D": ("strict", "lenient", "cat3"), "P": ("pcs4", "cat3")}
QUICK_DOCS = 60

Prediction = tuple[str, str, str]  # (normalised code, kind D|P, status)
SuggestFn = Callable[[str], Any]


# ---------------------------------------------------------------------------------------- corpus
def corpus_dir() -> Path:
    base = os.environ.get("MEDBILL_FIXTURES_DIR")
    if not base:
        raise FileNotFoundError(
            "MEDBILL_FIXTURES_DIR is not set (the CodiEsp corpus lives in $MEDBILL_FIXTURES_DIR/codiesp)"
        )
    path = Path(base) / "codiesp"
    if not path.is_dir():
        raise FileNotFoundError(f"no CodiEsp corpus at {path}")
    return path


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split {split!r} refused: only {', '.join(SPLITS)} (the test split is held back)")


def load_texts(split: str, root: Path | None = None) -> dict[str, str]:
    _check_split(split)
    folder = (root or corpus_dir()) / split / "text_files_en"
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}


def load_gold_raw(split: str, kind: str, root: Path | None = None) -> dict[str, list[str]]:
    """doc -> gold codes as written (CIE-10-ES, dotted lower case), in file order."""
    _check_split(split)
    path = (root or corpus_dir()) / split / f"{split}{kind}.tsv"
    out: dict[str, list[str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'doc<TAB>code', got {line!r}")
        out.setdefault(parts[0].strip(), []).append(parts[1].strip())
    return out


def norm_code(code: str) -> str:
    return code.strip().upper().replace(".", "").replace(" ", "")


# ---------------------------------------------------------------------------------------- gold mapping
@dataclass(slots=True)
class GoldMapping:
    """How gold codes were brought to FY2026 (counts are over distinct (doc, code) pairs)."""

    kind: str
    total: int = 0
    billable: int = 0
    mapped: int = 0
    partial: int = 0
    unmappable: int = 0
    mapped_pairs: Counter[str] = field(default_factory=Counter)  # "R51->R519": count
    partial_codes: Counter[str] = field(default_factory=Counter)
    unmappable_codes: Counter[str] = field(default_factory=Counter)


class Fy2026:
    """FY2026 view of the reference store used to map gold codes (built once, read-only)."""

    def __init__(self, store: RefStore) -> None:
        self.store = store
        self.cm = store.active_codes(CodeSystem.ICD10CM, ON)
        self.cm_prefixes = {c[:k] for c in self.cm for k in range(3, len(c))}
        pcs = store.active_codes(CodeSystem.ICD10PCS, ON) or set(
            store.iter_codes(CodeSystem.ICD10PCS, billable_only=True)
        )
        self.pcs = pcs
        self.pcs4 = {c[:4] for c in pcs}
        self._cache: dict[str, tuple[str, str]] = {}

    def map_dx(self, code: str) -> tuple[str, str]:
        """(FY2026 code, status) with status billable|mapped|partial|unmappable."""
        if code in self._cache:
            return self._cache[code]
        if code in self.cm:
            out = (code, "billable")
        else:
            successor = self._unspecified_child(code) if self.store.validity(CodeSystem.ICD10CM, code) else None
            if successor:
                out = (successor, "mapped")
            elif code in self.cm_prefixes:
                out = (code, "partial")
            else:
                out = (code, "unmappable")
        self._cache[code] = out
        return out

    def _unspecified_child(self, code: str) -> str | None:
        """The one direct child whose title says "unspecified" more often than its parent's does."""
        cm = CodeSystem.ICD10CM
        base = (self.store.describe(cm, code) or "").lower().count("unspecified")
        kids = [k for k in self.store.children(cm, code) if (k.description or "").lower().count("unspecified") > base]
        return kids[0].code if len(kids) == 1 and kids[0].code in self.cm else None


def load_gold(split: str, kind: str, fy: Fy2026, root: Path | None = None) -> tuple[dict[str, list[str]], GoldMapping]:
    """doc -> distinct normalised (and, for D, FY2026-mapped) gold codes, and the mapping counts."""
    raw = load_gold_raw(split, kind, root)
    report = GoldMapping(kind)
    gold: dict[str, list[str]] = {}
    for doc, codes in raw.items():
        seen: list[str] = []
        for c in dict.fromkeys(norm_code(c) for c in codes):
            report.total += 1
            if kind == "D":
                new, status = fy.map_dx(c)
                setattr(report, status, getattr(report, status) + 1)
                if status == "mapped":
                    report.mapped_pairs[f"{c}->{new}"] += 1
                elif status == "partial":
                    report.partial_codes[c] += 1
                elif status == "unmappable":
                    report.unmappable_codes[c] += 1
            else:
                new = c
                if len(c) == 7 and c in fy.pcs:
                    report.billable += 1
                elif c[:4] in fy.pcs4:
                    report.partial += 1
                    report.partial_codes[c] += 1
                else:
                    report.unmappable += 1
                    report.unmappable_codes[c] += 1
            if new not in seen:
                seen.append(new)
        gold[doc] = seen
    return gold, report


# ---------------------------------------------------------------------------------------- scoring
def dedup(codes: Iterable[str], cut: int | None = None) -> list[str]:
    """Codes cut to ``cut`` characters (None: as they are), first occurrence kept, order kept."""
    return list(dict.fromkeys(c[:cut] if cut else c for c in codes))


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def hits(ranked: Sequence[str], gold: Iterable[str], *, lenient: bool = False) -> list[bool]:
    """For each prediction in rank order: does it claim a gold code (see the module docstring)?"""
    free = sorted(set(gold))
    out: list[bool] = []
    for p in ranked:
        if p in free:
            free.remove(p)
            out.append(True)
            continue
        if lenient:
            related = [g for g in free if p.startswith(g) or g.startswith(p)]
            if related:
                best = max(related, key=lambda g: (_common(p, g), [-ord(ch) for ch in g]))
                free.remove(best)
                out.append(True)
                continue
        out.append(False)
    return out


def average_precision(hit_list: Sequence[bool], n_gold: int) -> float:
    if n_gold == 0:
        return 0.0
    found = 0
    total = 0.0
    for k, h in enumerate(hit_list, 1):
        if h:
            found += 1
            total += found / k
    return total / n_gold


@dataclass(frozen=True, slots=True)
class Scores:
    tp: int
    n_pred: int
    n_gold: int
    map: float
    map_docs: int

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _view(codes: Sequence[str], level: str) -> list[str]:
    if level == "cat3":
        return dedup(codes, 3)
    if level == "pcs4":
        return dedup(codes, 4)
    return dedup(codes)


def score(ranked: dict[str, list[tuple[str, str]]], gold: dict[str, list[str]], level: str) -> Scores:
    """Score one level. ``ranked``: doc -> [(code, status)] in rank order; ``gold``: doc -> codes."""
    lenient = level == "lenient"
    tp = n_pred = n_gold = 0
    ap_sum = 0.0
    docs = sorted(set(ranked) | set(gold))
    map_docs = 0
    for doc in docs:
        preds = ranked.get(doc, [])
        g = _view(gold.get(doc, []), level)
        suggested = _view([c for c, s in preds if s == "suggested"], level)
        full = _view([c for c, _s in preds], level)
        tp += sum(hits(suggested, g, lenient=lenient))
        n_pred += len(suggested)
        n_gold += len(g)
        if g:
            map_docs += 1
            ap_sum += average_precision(hits(full, g, lenient=lenient), len(g))
    return Scores(tp, n_pred, n_gold, ap_sum / map_docs if map_docs else 0.0, map_docs)


# ---------------------------------------------------------------------------------------- predictions
def _kind(system: object) -> str | None:
    text = str(system).upper().replace("-", "").replace("_", "")
    if text in ("D", "ICD10CM", "CM", "DX"):
        return "D"
    if text in ("P", "ICD10PCS", "PCS"):
        return "P"
    return None


def predictions(result: Any) -> list[Prediction]:
    """A CodingResult or a ranked sequence of (code, system_or_kind, status) -> [(code, kind, status)]."""
    items: Iterable[Any] = getattr(result, "suggestions", result)
    out: list[Prediction] = []
    for item in items:
        if isinstance(item, tuple):
            code, system, status = item[0], item[1], item[2] if len(item) > 2 else "suggested"
        else:
            code, system, status = item.code, item.system, getattr(item, "status", "suggested")
        kind = _kind(getattr(system, "value", system))
        if kind is not None:
            out.append((norm_code(str(code)), kind, str(status)))
    return out


# ---------------------------------------------------------------------------------------- report
@dataclass(slots=True)
class EvalReport:
    split: str
    system: str
    docs: int
    seconds: float
    words: int
    scores: dict[str, dict[str, Scores]]  # kind -> level -> scores
    mapping: dict[str, GoldMapping]
    errors: int = 0
    long_note_rate: float | None = None  # notes/s on >= 1,000-word notes (main() fills it)

    @property
    def notes_per_second(self) -> float:
        return self.docs / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "system": self.system,
            "docs": self.docs,
            "seconds": self.seconds,
            "notes_per_second": self.notes_per_second,
            "mean_words": self.words / self.docs if self.docs else 0,
            "errors": self.errors,
            "notes_per_second_1000_words": self.long_note_rate,
            "scores": {k: {lv: s.to_dict() for lv, s in v.items()} for k, v in self.scores.items()},
            "mapping": {
                k: {
                    "total": m.total,
                    "billable": m.billable,
                    "mapped": m.mapped,
                    "partial": m.partial,
                    "unmappable": m.unmappable,
                    "mapped_pairs": dict(m.mapped_pairs),
                    "unmappable_codes": dict(m.unmappable_codes),
                }
                for k, m in self.mapping.items()
            },
        }


_FY_CACHE: dict[str, Fy2026] = {}


def _open_store(store: RefStore | None) -> RefStore:
    return store if store is not None else RefStore.open(Settings.from_env().refdata_path)


def evaluate(
    suggest_fn: SuggestFn,
    split: str = "dev",
    *,
    kinds: Sequence[str] = KINDS,
    store: RefStore | None = None,
    limit: int | None = None,
    system: str = "",
    root: Path | None = None,
) -> EvalReport:
    """Run ``suggest_fn`` over every English note of ``split`` and score it (protocol above)."""
    _check_split(split)
    store = _open_store(store)
    key = str(store.path)
    if key not in _FY_CACHE:
        _FY_CACHE[key] = Fy2026(store)
    fy = _FY_CACHE[key]
    texts = load_texts(split, root)
    golds: dict[str, dict[str, list[str]]] = {}
    mapping: dict[str, GoldMapping] = {}
    for kind in kinds:
        golds[kind], mapping[kind] = load_gold(split, kind, fy, root)
    docs = sorted(texts)
    if limit:
        docs = docs[:limit]
        keep = set(docs)
        for kind in kinds:
            golds[kind] = {d: g for d, g in golds[kind].items() if d in keep}
    ranked: dict[str, dict[str, list[tuple[str, str]]]] = {k: {} for k in kinds}
    seconds = 0.0
    errors = 0
    for doc in docs:
        started = time.perf_counter()
        try:
            result = suggest_fn(texts[doc])
        except Exception:  # a crash on one note is counted, not fatal to the run
            errors += 1
            result = []
        seconds += time.perf_counter() - started
        for code, kind, status in predictions(result):
            if kind in ranked:
                ranked[kind].setdefault(doc, []).append((code, status))
    scores = {k: {lv: score(ranked[k], golds[k], lv) for lv in LEVELS[k]} for k in kinds}
    words = sum(len(texts[d].split()) for d in docs)
    return EvalReport(split, system, len(docs), seconds, words, scores, mapping, errors)


def long_notes(split: str, words: int = 1000, count: int = 30, root: Path | None = None) -> list[str]:
    """``count`` notes of at least ``words`` words, each made of consecutive notes of the split joined."""
    texts = [t for _d, t in sorted(load_texts(split, root).items())]
    out: list[str] = []
    buf: list[str] = []
    for t in texts:
        buf.append(t)
        if sum(len(b.split()) for b in buf) >= words:
            out.append("\n".join(buf))
            buf = []
            if len(out) == count:
                break
    return out


def throughput(suggest_fn: SuggestFn, notes: Sequence[str]) -> float:
    """Notes per second of ``suggest_fn`` over ``notes`` (one pass, wall clock)."""
    started = time.perf_counter()
    for note in notes:
        suggest_fn(note)
    elapsed = time.perf_counter() - started
    return len(notes) / elapsed if elapsed > 0 else float("inf")


# ---------------------------------------------------------------------------------------- baseline
_TOKEN = re.compile(r"[a-z0-9]+")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_APPROACH = re.compile(r",\s*[^,]*approach$")


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.lower()))


def title_variants(title: str) -> set[str]:
    """Simple variants of an official title (lower case): the plain-dictionary floor's lexicon."""
    t = title.lower().strip()
    out = {t}
    base = _PAREN.sub(" ", t)
    for cut in (
        ", unspecified",
        " unspecified",
        ", not elsewhere classified",
        " nos",
        " nec",
        ", not otherwise specified",
    ):
        base = base.replace(cut, "")
    base = re.sub(r"^unspecified ", "", base)
    base = re.sub(r"\s+", " ", base).strip(" ,")
    out.add(base)
    if base.count(",") == 1:  # "ulcer of duodenum, chronic" -> "chronic ulcer of duodenum"
        head, tail = (s.strip() for s in base.split(","))
        if head and tail:
            out.add(f"{tail} {head}")
    return {v for v in out if v}


@dataclass(slots=True)
class TitleDictionary:
    """Exact longest-match of title token sequences: the floor any pipeline must beat."""

    entries: dict[tuple[str, ...], tuple[str, str]]  # tokens -> (code, kind)
    lengths: tuple[int, ...]

    @classmethod
    def build(cls, store: RefStore, *, variants: bool = True) -> TitleDictionary:
        """``variants=False``: the official titles only, lower-cased (no simple variants)."""
        expand = title_variants if variants else (lambda t: {t.lower().strip()})
        entries: dict[tuple[str, ...], tuple[str, str, int]] = {}

        def add(key: tuple[str, ...], code: str, kind: str, rank: int) -> None:
            if not key or (len(key) == 1 and len(key[0]) < 4):
                return
            old = entries.get(key)
            if old is None or (rank, len(code), code) < (old[2], len(old[0]), old[0]):
                entries[key] = (code, kind, rank)

        cm = store.active_codes(CodeSystem.ICD10CM, ON)
        for code, desc in _descriptions(store, CodeSystem.ICD10CM):
            if code not in cm or not desc:
                continue
            for v in expand(desc):
                # a variant shared by several codes goes to the "unspecified" one, then the shortest
                add(_tokens(v), code, "D", 0 if "unspecified" in desc.lower() else 1)
        for code, desc in _descriptions(store, CodeSystem.ICD10PCS):
            if not desc:
                continue
            for v in expand(_APPROACH.sub("", desc.lower())):
                add(_tokens(v), code, "P", 1)
        return cls(
            {k: (c, kd) for k, (c, kd, _r) in entries.items()}, tuple(sorted({len(k) for k in entries}, reverse=True))
        )

    def __call__(self, text: str) -> list[Prediction]:
        toks = _tokens(text)
        found: list[tuple[str, str]] = []
        i = 0
        while i < len(toks):
            for n in self.lengths:
                if i + n <= len(toks) and (hit := self.entries.get(toks[i : i + n])):
                    found.append(hit)
                    i += n
                    break
            else:
                i += 1
        counts = Counter(found)
        first = {h: i for i, h in reversed(list(enumerate(found)))}
        ordered = sorted(counts, key=lambda h: (-counts[h], first[h]))
        return [(code, kind, "suggested") for code, kind in ordered]


def _descriptions(store: RefStore, system: CodeSystem) -> list[tuple[str, str | None]]:
    rows = store.conn.execute(
        "SELECT c.code, c.long_desc FROM code c JOIN release r ON r.id = c.release_id"
        " WHERE c.system = ? AND c.billable = 1 ORDER BY r.effective_from",
        (str(system),),
    ).fetchall()
    return list({code: desc for code, desc in rows if desc}.items())  # newest release wins


# ---------------------------------------------------------------------------------------- CLI
def medbill_suggest(store: RefStore, setting: str) -> SuggestFn:
    from medbill import coding  # noqa: PLC0415 - the pipeline may not exist yet

    suggest = getattr(coding, "suggest", None)
    if not callable(suggest):
        raise ImportError("medbill.coding has no suggest() yet")
    return lambda text: suggest(text, store=store, setting=setting, on=ON)


def render(reports: Sequence[EvalReport]) -> str:
    lines = [
        f"{'system':<10}{'kind':<5}{'level':<9}{'P':>7}{'R':>7}{'F1':>7}{'MAP':>7}{'pred':>7}{'gold':>7}{'notes/s':>10}"
    ]
    for rep in reports:
        for kind, levels in rep.scores.items():
            for level, s in levels.items():
                lines.append(
                    f"{rep.system:<10}{kind:<5}{level:<9}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}"
                    f"{s.map:>7.3f}{s.n_pred:>7}{s.n_gold:>7}{rep.notes_per_second:>10.1f}"
                )
    return "\n".join(lines)


def render_mapping(rep: EvalReport) -> str:
    out = []
    for kind, m in rep.mapping.items():
        what = "billable on" if kind == "D" else "7-character codes in force on"
        out.append(
            f"gold {kind}: {m.total} (doc, code) pairs: {m.billable} {what} {ON.isoformat()},"
            f" {m.mapped} mapped, {m.partial} partial ({'category / no 7th char' if kind == 'D' else '4-character'}),"
            f" {m.unmappable} unmappable"
        )
        if m.mapped_pairs:
            out.append("  mapped: " + ", ".join(f"{k} x{v}" for k, v in m.mapped_pairs.most_common(12)))
        if m.unmappable_codes:
            out.append("  unmappable: " + ", ".join(f"{k} x{v}" for k, v in m.unmappable_codes.most_common(12)))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/codiesp_eval.py", description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=SPLITS, default="dev")
    ap.add_argument("--system", choices=("baseline", "medbill", "both"), default="both")
    ap.add_argument("--setting", choices=("inpatient", "outpatient"), default="inpatient")
    ap.add_argument("--store", type=Path, default=None, help="reference store (default: MEDBILL_REFDATA)")
    ap.add_argument("--quick", action="store_true", help=f"first {QUICK_DOCS} notes of the split only")
    ap.add_argument("--limit", type=int, default=None, help="first N notes of the split only")
    ap.add_argument("--json", nargs="?", const=str(DEFAULT_JSON), default=None, help="also write JSON")
    args, _others = ap.parse_known_args(argv)  # bench/run.py passes the other benchmarks' flags too
    store_path: Path = args.store or Settings.from_env().refdata_path
    if not store_path.is_file():
        print(
            f"no reference store at {store_path}: build one with `medbill data build` or pass --store", file=sys.stderr
        )
        return 2
    try:
        root = corpus_dir()
    except FileNotFoundError as exc:
        print(f"codiesp: {exc}", file=sys.stderr)
        return 2
    limit = args.limit or (QUICK_DOCS if args.quick else None)
    store = RefStore.open(store_path)
    reports: list[EvalReport] = []
    started = time.perf_counter()
    baseline = TitleDictionary.build(store)
    print(
        f"CodiEsp {args.split} (English), codes as of {ON.isoformat()}; baseline lexicon "
        f"{len(baseline.entries)} entries built in {time.perf_counter() - started:.1f} s"
    )
    if args.system in ("baseline", "both"):
        reports.append(evaluate(baseline, args.split, store=store, limit=limit, system="baseline", root=root))
    if args.system in ("medbill", "both"):
        try:
            fn = medbill_suggest(store, args.setting)
        except (ImportError, AttributeError) as exc:
            print(f"medbill pipeline unavailable ({exc}): only the baseline is scored", file=sys.stderr)
            if args.system == "medbill":
                return 2
        else:
            fn("warm up: chest pain.")
            reports.append(evaluate(fn, args.split, store=store, limit=limit, system="medbill", root=root))
    print(render(reports))
    notes = long_notes(args.split, count=10 if args.quick else 30, root=root)
    fns: dict[str, SuggestFn] = {"baseline": baseline}
    if any(r.system == "medbill" for r in reports):
        fns["medbill"] = fn
    for rep in reports:
        rate = throughput(fns[rep.system], notes)
        rep.long_note_rate = rate
        print(f"{rep.system}: {rate:.1f} notes/s on {len(notes)} notes of >= 1,000 words (dev notes joined), 1 process")
    rep0 = reports[0]
    print(f"{rep0.docs} notes, mean {rep0.words / max(rep0.docs, 1):.0f} words; medbill setting={args.setting}")
    for rep in reports:
        if rep.errors:
            print(f"{rep.system}: {rep.errors} notes raised an exception (scored as empty)")
    print(render_mapping(rep0))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([r.to_dict() for r in reports], indent=2, default=str), encoding="utf-8")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

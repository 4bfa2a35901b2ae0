"""Term search the way a coder uses the Index: words in any order, abbreviations, typos.

Pipeline for one query:
1. A code or code prefix ("E11", "s72.0", "0DT") lists the codes under it.
2. Words the store has never seen are corrected to the nearest known words (edit distance 1, or 2
   for words of 7+ letters; a transposition counts once; ties keep up to three readings).
3. The curated lexicon (``data/lexicon.tsv``) rewrites abbreviations and lay phrases ("CHF",
   "heart attack") into title words, giving a few query variants (the literal one first), and
   adds one-word alternatives (tibial ~ tibia, renal ~ kidney) to each term.
4. Candidates come from the postings (term -> sorted document ids, stored in the store): every
   document holding any query term gets a coarse score in NumPy (idf-weighted coverage, and
   precision from the document's precomputed idf mass); the best 120 go on.
5. Those are re-ranked by how much of the query they cover (idf-weighted), how little else
   they say (the words of a 7th character and of "unspecified"/NOS count for little: they are the
   Index's default when the query says no more), exact and in-order matches, and where the text
   comes from (title, Index, inclusion term). A rewritten variant ranks just below a literal match.
6. Codes that differ only by their 7th character collapse to the best one.
Each hit says why it ranks where it does.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from medbill.codesets.text import DEFAULT_WORD_WEIGHT, DEFAULT_WORDS, STOPWORDS, fold, stem
from medbill.core.codes import CodeSystem, display

_SOURCE_WEIGHT = {"title": 0.12, "index": 0.10, "inclusion": 0.08, "derived": 0.05, "short": 0.02, "index_manif": 0.0}
_DEFAULT_WORDS = DEFAULT_WORDS
_COARSE_K = 120
_MIN_SHARE = 0.3  # candidates hold at least this share of the best coverage
_CODE_PREFIX = re.compile(r"^[A-Za-z0-9]{1,3}(\.[A-Za-z0-9]{0,4})?$|^[A-Za-z0-9]{3,7}$")
_WORD = re.compile(r"[a-z0-9]+")
_VARIANT_PENALTY = 0.15
_MAX_VARIANTS = 6

Row = tuple[int, str, str, str, str, int, str, str]


@dataclass(frozen=True, slots=True)
class SearchHit:
    system: CodeSystem
    code: str
    description: str | None
    billable: bool
    score: float
    matched: str  # the text that matched
    source: str  # title | inclusion | index | short | prefix
    why: str

    @property
    def display(self) -> str:
        return display(self.code, self.system)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": str(self.system),
            "code": self.display,
            "description": self.description,
            "billable": self.billable,
            "score": round(self.score, 4),
            "matched": self.matched,
            "source": self.source,
            "why": self.why,
        }


# ---------------------------------------------------------------------------- lexicon
@lru_cache(maxsize=1)
def _raw_lexicon() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Curated abbreviations, synonyms and lay terms: folded word tuple -> expansions."""
    out: dict[tuple[str, ...], list[str]] = {}
    raw = resources.files("medbill.codesets").joinpath("data/lexicon.tsv").read_text(encoding="utf-8")
    for line in raw.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"lexicon.tsv: bad line {line!r} (want term<TAB>expansion)")
        whole = parts[0].startswith("=")  # "=diabetes": only when the query is just that
        key = tuple(w for w in _WORD.findall(fold(parts[0])) if w not in STOPWORDS) or tuple(
            _WORD.findall(fold(parts[0]))
        )
        if whole:
            key = ("=", *key)
        for expansion in parts[1].split("|"):
            if expansion.strip():
                out.setdefault(key, []).append(" ".join(_WORD.findall(fold(expansion))))
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _lexicon_words() -> frozenset[str]:
    """Every word of every lexicon term: never "corrected" into something else."""
    return frozenset(w for key in _raw_lexicon() for w in key if w != "=")


def _is_word_alternative(key: tuple[str, ...], exps: tuple[str, ...]) -> bool:
    return len(key) == 1 and all(len(e.split()) == 1 for e in exps)


@lru_cache(maxsize=1)
def word_alternatives() -> dict[str, tuple[str, ...]]:
    """One-word entries with one-word expansions, stemmed: term -> alternative terms."""
    return {stem(k[0]): tuple(stem(e) for e in v) for k, v in _raw_lexicon().items() if _is_word_alternative(k, v)}


@lru_cache(maxsize=1)
def lexicon() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Entries that rewrite the query (a phrase, or a word into a phrase)."""
    return {k: v for k, v in _raw_lexicon().items() if not _is_word_alternative(k, v)}


def expand_query(words: Sequence[str], max_variants: int = 4) -> list[tuple[list[str], str]]:
    """[(words, why)]: the words themselves, then lexicon rewrites (longest phrase first)."""
    lex = lexicon()
    toks = list(words)
    variants: list[tuple[list[str], str]] = [(toks, "")]
    whole = lex.get(("=", *toks))
    if whole:  # a bare main term: the Index's default for it
        for exp in whole[: max_variants - 1]:
            variants.append((exp.split(), f"{' '.join(toks)} → {exp}"))
        return variants
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    used = [False] * len(toks)
    for n in range(min(5, len(toks)), 0, -1):
        for i in range(len(toks) - n + 1):
            key = tuple(toks[i : i + n])
            if key in lex and not any(used[i : i + n]):
                exps = tuple(e for e in lex[key] if toks[i : i + len(e.split())] != e.split())
                if not exps:
                    continue
                spans.append((i, n, exps))
                for j in range(i, i + n):
                    used[j] = True
    if not spans:
        return variants
    spans.sort()
    alternatives = max(len(s[2]) for s in spans)
    for alt in range(min(alternatives, max_variants - 1)):
        out: list[str] = []
        whys: list[str] = []
        i = 0
        for start, n, exps in spans:
            out.extend(toks[i:start])
            exp = exps[min(alt, len(exps) - 1)]
            out.extend(exp.split())
            whys.append(f"{' '.join(toks[start : start + n])} → {exp}")
            i = start + n
        out.extend(toks[i:])
        if all(out != v[0] for v in variants):
            variants.append((out, "; ".join(whys)))
    return variants


# ---------------------------------------------------------------------------- engine
class SearchEngine:
    """Search over a reference store's FTS5 index. Cheap to create; caches the vocabulary."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._vocab: dict[str, int] | None = None
        self._by_len: dict[int, list[str]] = {}
        self._surface: dict[str, tuple[str, int]] = {}
        (self._n_docs,) = conn.execute("SELECT count(*) FROM search_doc").fetchone()
        arrays = {name: data for name, data in conn.execute("SELECT name, data FROM search_arrays")}
        self._mass = np.frombuffer(arrays["mass"], dtype=np.float32)
        self._doc_system = np.frombuffer(arrays["system"], dtype=np.uint8)
        self._doc_source = np.frombuffer(arrays["source"], dtype=np.uint8)
        self._doc_billable = np.frombuffer(arrays["billable"], dtype=np.uint8)
        self._systems: list[str] = json.loads(arrays["systems"])
        sources: list[str] = json.loads(arrays["sources"])
        self._source_weight = np.array([_SOURCE_WEIGHT.get(x, 0.0) for x in sources], dtype=np.float32)
        self._postings: OrderedDict[str, npt.NDArray[np.int32]] = OrderedDict()
        self._desc_cache: dict[tuple[str, str], tuple[str | None, bool]] = {}
        self._parent_cache: dict[tuple[str, str], str | None] = {}

    # vocabulary ------------------------------------------------------------
    @property
    def vocab(self) -> dict[str, int]:
        if self._vocab is None:
            self._vocab = dict(self.conn.execute("SELECT word, df FROM search_postings").fetchall())
            for w, st, df in self.conn.execute("SELECT word, stem, df FROM search_words"):
                self._by_len.setdefault(len(w), []).append(w)
                self._surface[w] = (st, df)
        return self._vocab

    def idf(self, term: str) -> float:
        df = self.vocab.get(term, 0)
        return math.log((self._n_docs + 1) / (df + 0.5))

    def postings(self, term: str) -> npt.NDArray[np.int32]:
        """Sorted ids (0-based) of the documents holding a term; a small LRU keeps common ones."""
        hit = self._postings.get(term)
        if hit is not None:
            self._postings.move_to_end(term)
            return hit
        row = self.conn.execute("SELECT ids FROM search_postings WHERE word=?", (term,)).fetchone()
        ids = np.frombuffer(row[0], dtype=np.int32) if row else np.zeros(0, dtype=np.int32)
        self._postings[term] = ids
        if len(self._postings) > 512:
            self._postings.popitem(last=False)
        return ids

    def correct(self, word: str) -> tuple[str, ...]:
        """Known surface words nearest to an unknown one, most frequent first (empty if none close).

        Edit distance 1 (2 for words of 7+ letters), a transposition counting once; up to three
        readings are kept ("diabetis" -> diabetes, diabetic).
        """
        vocab = self.vocab
        if len(word) <= 3 or word.isdigit() or word in self._surface or stem(word) in vocab:
            return ()
        if word in _lexicon_words():
            return ()
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        maxd = 1 if len(word) <= 6 else 2
        pool: list[str] = []
        for length in range(len(word) - maxd, len(word) + maxd + 1):
            pool.extend(self._by_len.get(length, ()))
        found = process.extract(word, pool, scorer=OSA.distance, score_cutoff=maxd, limit=None)
        if not found:
            return ()
        best = min(d for _c, d, _i in found)
        cands = sorted((c for c, d, _i in found if d == best), key=lambda c: -self._surface[c][1])
        return tuple(cands[:3])

    # retrieval ---------------------------------------------------------------
    def _candidates(
        self,
        groups: list[tuple[str, ...]],
        g_idf: list[float],
        allowed: set[str] | None,
        billable_only: bool,
    ) -> list[Row]:
        """The documents worth a full score: coarse NumPy scoring over every document holding any
        query term, best ``_COARSE_K`` kept."""
        lists: list[list[npt.NDArray[np.int32]]] = []
        weights: list[float] = []
        for g, w in zip(groups, g_idf, strict=True):
            found = [self.postings(a) for a in g if a in self.vocab]
            if found:
                lists.append(found)
                weights.append(w)
        if not lists:
            return []
        # a dense accumulator: the idf weight of the query terms each document holds
        acc = np.zeros(self._n_docs, dtype=np.float32)
        for ls, w in zip(lists, weights, strict=True):
            if len(ls) == 1:
                acc[ls[0]] += w
            else:  # alternatives of one term count once
                mark = np.zeros(self._n_docs, dtype=bool)
                for post in ls:
                    mark[post] = True
                acc[mark] += w
        # a document holding far less of the query than the best one cannot outrank it
        cand = np.flatnonzero(acc >= _MIN_SHARE * float(acc.max()))
        acc = acc[cand]
        keep = np.ones(cand.size, dtype=bool)
        if allowed is not None:
            codes = [self._systems.index(x) for x in allowed if x in self._systems]
            keep &= np.isin(self._doc_system[cand], codes)
        if billable_only:
            keep &= self._doc_billable[cand] == 1
        cand, acc = cand[keep], acc[keep]
        if cand.size == 0:
            return []
        matched = acc
        total = float(sum(g_idf)) or 1.0
        extra = np.maximum(self._mass[cand] - matched, 0.0)
        coarse = (
            3.0 * matched / total + matched / (matched + extra + 1e-6) + self._source_weight[self._doc_source[cand]]
        )
        if cand.size > _COARSE_K:
            top = np.argpartition(-coarse, _COARSE_K)[:_COARSE_K]
            cand = cand[top]
        ids = [int(i) + 1 for i in cand]
        marks = ",".join("?" * len(ids))
        return self.conn.execute(
            f"SELECT id, system, code, source, text, billable, norm, neutral FROM search_doc WHERE id IN ({marks})",
            ids,
        ).fetchall()

    # public ------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        systems: Sequence[CodeSystem] | None = None,
        billable_only: bool = False,
        limit: int = 20,
        exclude: tuple[str, str, str] | None = None,
    ) -> list[SearchHit]:
        """Ranked hits. ``exclude`` = (system, code, source) drops those documents (leave-out tests)."""
        query = query.strip()
        if not query:
            return []
        allowed = {str(s) for s in systems} if systems else None
        prefix_hits = self._prefix(query, allowed, billable_only, limit)
        if prefix_hits is not None:
            return prefix_hits

        words = [w for w in _WORD.findall(fold(query)) if w not in STOPWORDS]
        # spelling: each unknown word gets its readings; variants take the product (bounded)
        readings: list[tuple[str, ...]] = []
        fixes: list[str] = []
        for w in words:
            alts = self.correct(w)
            if alts:
                fixes.append(f"'{w}' read as '{'/'.join(alts)}'")
            readings.append(alts or (w,))
        spelled = [list(p) for p in itertools.islice(itertools.product(*readings), 3)]
        variants: list[tuple[list[str], str]] = []
        for sp in spelled:
            for v, why in expand_query(sp):
                if all(v != x[0] for x in variants):
                    variants.append((v, why))
        variants = variants[:_MAX_VARIANTS]
        fix_note = ", ".join(fixes)

        best: dict[tuple[str, str], tuple[float, str, str, str]] = {}
        syn = word_alternatives()
        for vwords, why_variant in variants:
            terms = list(dict.fromkeys(stem(w) for w in vwords if w not in STOPWORDS))
            if not terms:
                continue
            groups = [(t, *[a for a in syn.get(t, ()) if a != t]) for t in terms]
            g_idf = [max(self.idf(a) for a in g) for g in groups]
            term_group = {a: i for i, g in enumerate(groups) for a in g}
            total = sum(g_idf) or 1.0
            qnorm = " ".join(stem(w) for w in vwords if w not in STOPWORDS)
            bigrams = set(itertools.pairwise(terms))
            penalty = _VARIANT_PENALTY if why_variant else 0.0
            for _id, system, code, source, text, bill, dnorm, neutral in self._candidates(
                groups, g_idf, allowed, billable_only
            ):
                if exclude is not None and (system, code, source) == exclude:
                    continue
                dterms = dnorm.split()
                dset = set(dterms)
                matched = {t for t in dset if t in term_group}
                if not matched:
                    continue
                hit = sorted({term_group[t] for t in matched})
                m_idf = sum(g_idf[i] for i in hit)
                cov = m_idf / total
                extra = dset - matched
                # a 7th character's words cost nothing when the query does not name one (its
                # siblings then tie and collapse to the first); "unspecified"/NOS cost little
                seventh = set(neutral.split()) if neutral else set()
                d_idf = m_idf + sum(
                    0.0 if t in seventh else DEFAULT_WORD_WEIGHT if t in _DEFAULT_WORDS else self.idf(t) for t in extra
                )
                prec = m_idf / d_idf if d_idf else 0.0
                exact = 1.0 if dnorm == qnorm else 0.0
                default = 0.25 if cov >= 0.999 and extra and extra <= _DEFAULT_WORDS else 0.0
                order = len(bigrams & set(itertools.pairwise(dterms))) / len(bigrams) if bigrams else 0.0
                score = (
                    3.0 * cov
                    + prec
                    + 1.5 * exact
                    + 0.2 * order
                    + default
                    + _SOURCE_WEIGHT.get(source, 0.0)
                    + (0.03 if bill else 0.0)
                    - penalty
                )
                key = (system, code)
                if key not in best or score > best[key][0]:
                    missing = [groups[i][0] for i in range(len(groups)) if i not in hit]
                    why = f"{len(hit)}/{len(groups)} query terms in {source}" + (" (exact)" if exact else "")
                    if missing:
                        why += f"; missing {', '.join(missing)}"
                    extra_why = "; ".join(x for x in (why_variant, fix_note) if x)
                    best[key] = (score, text, source, why + (f"; {extra_why}" if extra_why else ""))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], len(kv[0][1]), kv[0][1]))
        hits: list[SearchHit] = []
        seen_base: set[tuple[str, str]] = set()
        for (system, code), (score, text, source, why) in ranked:
            base = self._seventh_base(system, code)
            if base is not None:
                if (system, base) in seen_base:
                    continue  # another 7th character of a code already listed
                seen_base.add((system, base))
            desc, bill = self._describe(system, code)
            hits.append(SearchHit(CodeSystem(system), code, desc, bill, score, text, source, why))
            if len(hits) >= limit:
                break
        return hits

    def _seventh_base(self, system: str, code: str) -> str | None:
        """The 6-character code a 7th-character code extends (None for other codes)."""
        if system != str(CodeSystem.ICD10CM) or len(code) != 7:
            return None
        key = (system, code)
        if key not in self._parent_cache:
            row = self.conn.execute(
                "SELECT 1 FROM search_doc WHERE system=? AND code=? AND neutral<>'' LIMIT 1", key
            ).fetchone()
            self._parent_cache[key] = code[:6] if row else None
        return self._parent_cache[key]

    def _describe(self, system: str, code: str) -> tuple[str | None, bool]:
        key = (system, code)
        if key not in self._desc_cache:
            row = self.conn.execute(
                "SELECT long_desc, short_desc, billable FROM code WHERE system=? AND code=?"
                " ORDER BY (long_desc IS NULL), release_id DESC LIMIT 1",
                key,
            ).fetchone()
            self._desc_cache[key] = ((row[0] or row[1]), bool(row[2])) if row else (None, False)
        return self._desc_cache[key]

    def _prefix(self, query: str, allowed: set[str] | None, billable_only: bool, limit: int) -> list[SearchHit] | None:
        if not _CODE_PREFIX.match(query) or not any(ch.isdigit() for ch in query):
            return None
        value = query.upper().replace(".", "")
        sql = (
            "SELECT DISTINCT system, code FROM code WHERE code>=? AND code<?"
            + (" AND billable=1" if billable_only else "")
            + " AND kind NOT IN ('chapter','block') ORDER BY length(code), code LIMIT ?"
        )
        rows = [
            r
            for r in self.conn.execute(sql, (value, value + "\x7f", limit * 4)).fetchall()
            if allowed is None or r[0] in allowed
        ]
        if not rows:
            return None
        hits: list[SearchHit] = []
        for system, code in rows:
            desc, bill = self._describe(system, code)
            why = "the code itself" if code == value else f"under {display(value, CodeSystem(system))}"
            hits.append(SearchHit(CodeSystem(system), code, desc, bill, 1.0, code, "prefix", why))
            if len(hits) >= limit:
                break
        return hits


__all__ = ["SearchEngine", "SearchHit", "expand_query", "lexicon", "word_alternatives"]

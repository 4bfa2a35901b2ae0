"""Term search the way a coder uses the Index: words in any order, abbreviations, typos.

Pipeline for one query:
1. A code or code prefix ("E11", "s72.0", "0DT") lists the codes under it.
2. The query is expanded with the curated lexicon (abbreviations such as CHF, DM2, lay terms such
   as "heart attack"; ``data/lexicon.tsv``) into a few variants.
3. Words the store has never seen are corrected to the nearest known word (edit distance 1, or 2
   for long words; transpositions count once).
4. Candidates come from the FTS5 index (all terms, then rarer terms when that finds too few).
5. Candidates are re-ranked by how much of the query they cover (idf-weighted), how little else
   they say, exact phrase matches and where the text comes from (title, inclusion term, Index).
Each hit says why it ranks where it does.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from medbill.codesets.text import STOPWORDS, fold, normalized, stem, terms, words
from medbill.core.codes import CodeSystem, display

_SOURCE_WEIGHT = {"title": 0.12, "index": 0.10, "inclusion": 0.08, "short": 0.02, "index_manif": 0.0}
_DEFAULT_WORDS = frozenset({"unspecified", "nos", "organism", "site", "type", "cause", "part", "episode"})
_CODE_PREFIX = re.compile(r"^[A-Za-z0-9]{1,3}(\.[A-Za-z0-9]{0,4})?$|^[A-Za-z0-9]{3,7}$")


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
def lexicon() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Curated abbreviations, synonyms and lay terms: folded word tuple -> expansions."""
    out: dict[tuple[str, ...], list[str]] = {}
    try:
        raw = resources.files("medbill.codesets").joinpath("data/lexicon.tsv").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        key = tuple(re.findall(r"[a-z0-9]+", fold(parts[0])))
        for expansion in parts[1].split("|"):
            if expansion.strip():
                out.setdefault(key, []).append(expansion.strip())
    return {k: tuple(v) for k, v in out.items()}


def expand_query(query: str, max_variants: int = 4) -> list[tuple[str, str]]:
    """[(variant text, why)]: the query itself, then lexicon expansions (longest phrase first)."""
    lex = lexicon()
    toks = re.findall(r"[a-z0-9]+", fold(query))
    variants: list[tuple[str, str]] = [(" ".join(toks), "")]
    if not lex or not toks:
        return variants
    # find non-overlapping lexicon phrases, longest first
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    used = [False] * len(toks)
    for n in range(min(5, len(toks)), 0, -1):
        for i in range(len(toks) - n + 1):
            if any(used[i : i + n]):
                continue
            key = tuple(toks[i : i + n])
            if key in lex:
                spans.append((i, n, lex[key]))
                for j in range(i, i + n):
                    used[j] = True
    if not spans:
        return variants
    spans.sort()
    # one variant per alternative of the first ambiguous phrase, others take their first expansion
    alt_counts = max(len(s[2]) for s in spans)
    for alt in range(min(alt_counts, max_variants - 1)):
        out: list[str] = []
        whys: list[str] = []
        i = 0
        for start, n, exps in spans:
            out.extend(toks[i:start])
            exp = exps[min(alt, len(exps) - 1)]
            out.append(fold(exp))
            whys.append(f"{' '.join(toks[start : start + n])} → {exp}")
            i = start + n
        out.extend(toks[i:])
        text = " ".join(out)
        if all(text != v[0] for v in variants):
            variants.append((text, "; ".join(whys)))
    return variants


# ---------------------------------------------------------------------------- engine
class SearchEngine:
    """Search over a reference store's FTS5 index. Cheap to create; caches the vocabulary."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._vocab: dict[str, int] | None = None
        self._by_len: dict[int, list[str]] | None = None
        (self._n_docs,) = conn.execute("SELECT count(*) FROM search_doc").fetchone()
        self._desc_cache: dict[tuple[str, str], tuple[str | None, bool]] = {}

    # vocabulary ------------------------------------------------------------
    @property
    def vocab(self) -> dict[str, int]:
        if self._vocab is None:
            self._vocab = dict(self.conn.execute("SELECT word, df FROM search_vocab").fetchall())
            by_len: dict[int, list[str]] = {}
            self._surface: dict[str, tuple[str, int]] = {}
            for w, st, df in self.conn.execute("SELECT word, stem, df FROM search_words"):
                by_len.setdefault(len(w), []).append(w)
                self._surface[w] = (st, df)
            self._by_len = by_len
        return self._vocab

    def idf(self, term: str) -> float:
        df = self.vocab.get(term, 0)
        return math.log((self._n_docs + 1) / (df + 0.5))

    def correct(self, term: str, surface: str | None = None) -> tuple[str, ...]:
        """Known terms nearest to an unknown one, best first (empty when nothing is close enough).

        Edit distance 1 (2 for words of 7+ letters), a transposition counting once; ties keep up to
        three alternatives ("diabetis" -> diabetes, diabetic), more frequent first.
        """
        vocab = self.vocab
        if term in vocab or len(term) <= 3 or term.isdigit():
            return ()
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        word = surface or term
        maxd = 1 if len(word) <= 6 else 2
        assert self._by_len is not None
        pool: list[str] = []
        for length in range(len(word) - maxd, len(word) + maxd + 1):
            pool.extend(self._by_len.get(length, ()))
        found = process.extract(word, pool, scorer=OSA.distance, score_cutoff=maxd, limit=None)
        if not found:
            return ()
        best = min(d for _c, d, _i in found)
        stems: dict[str, int] = {}
        for cand, d, _i in found:
            if d == best:
                st, df = self._surface[cand]
                if st in vocab:
                    stems[st] = max(stems.get(st, 0), df)
        return tuple(sorted(stems, key=lambda st: -stems[st])[:3])

    # retrieval ---------------------------------------------------------------
    def _fts(self, match: str, limit: int) -> list[tuple[int, str, str, str, str, int, str]]:
        try:
            return self.conn.execute(
                "SELECT d.id, d.system, d.code, d.source, d.text, d.billable, d.norm FROM search_fts f"
                " JOIN search_doc d ON d.id=f.rowid WHERE search_fts MATCH ? ORDER BY f.rank LIMIT ?",
                (match, limit),
            ).fetchall()
        except sqlite3.OperationalError:
            return []

    def _candidates(
        self, qterms: list[str], primary: list[str]
    ) -> list[tuple[int, str, str, str, str, int, str]]:
        uniq = list(dict.fromkeys(t for t in qterms if t in self.vocab))
        if not uniq:
            return []
        must = [t for t in dict.fromkeys(primary) if t in self.vocab]
        rows = self._fts(" AND ".join(f'"{t}"' for t in must), 300) if must else []
        if len(rows) < 40 and len(uniq) > 1:
            # rarer terms first: they decide what the query is about
            rare = sorted(uniq, key=lambda t: self.vocab.get(t, 0))
            keep = [t for t in rare if self.vocab.get(t, 0) < 8000] or rare[:2]
            seen = {r[0] for r in rows}
            for r in self._fts(" OR ".join(f'"{t}"' for t in keep), 400):
                if r[0] not in seen:
                    rows.append(r)
        return rows

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
        """Ranked hits for a query. ``exclude`` = (system, code, source) drops those documents
        (used by the leave-out evaluation)."""
        query = query.strip()
        if not query:
            return []
        allowed = {str(s) for s in systems} if systems else None
        prefix_hits = self._prefix(query, allowed, billable_only, limit)
        if prefix_hits is not None:
            return prefix_hits

        best: dict[tuple[str, str], tuple[float, str, str, str]] = {}
        for variant, why_variant in expand_query(query):
            raw_terms = terms(variant)
            surfaces = dict(zip(raw_terms, [w for w in words(variant) if w not in STOPWORDS], strict=False))
            # each query term is a group of alternatives: itself, or its spelling corrections
            groups: list[tuple[str, ...]] = []
            fixes: list[str] = []
            for t in dict.fromkeys(raw_terms):
                alts = self.correct(t, surfaces.get(t))
                if alts:
                    fixes.append(f"'{t}' read as '{'/'.join(alts)}'")
                    groups.append(alts)
                else:
                    groups.append((t,))
            if not groups:
                continue
            flat = [a for g in groups for a in g]
            qnorm_alts = {" ".join(g[0] for g in groups)}
            g_idf = [max(self.idf(a) for a in g) for g in groups]
            total = sum(g_idf) or 1.0
            firsts = [g[0] for g in groups]
            bigrams = set(zip(firsts, firsts[1:], strict=False))
            penalty = 0.15 if why_variant else 0.0  # an expansion ranks just below a literal match
            for _id, system, code, source, text, bill, dnorm in self._candidates(
                flat, [g[0] for g in groups]
            ):
                if allowed is not None and system not in allowed:
                    continue
                if billable_only and not bill:
                    continue
                if exclude is not None and (system, code, source) == exclude:
                    continue
                dterms = dnorm.split()
                dset = set(dterms)
                hit_groups = [i for i, g in enumerate(groups) if any(a in dset for a in g)]
                if not hit_groups:
                    continue
                m_idf = sum(g_idf[i] for i in hit_groups)
                cov = m_idf / total
                matched_terms = {a for g in groups for a in g if a in dset}
                extra = dset - matched_terms
                d_idf = m_idf + sum(0.3 if t in _DEFAULT_WORDS else self.idf(t) for t in extra)
                prec = m_idf / d_idf if d_idf else 0.0
                exact = 1.0 if dnorm in qnorm_alts else 0.0
                # the "unspecified"/NOS code is the Index's default when the query says no more
                default = 0.25 if cov >= 0.999 and extra and extra <= _DEFAULT_WORDS else 0.0
                order = (
                    len(bigrams & set(zip(dterms, dterms[1:], strict=False))) / len(bigrams)
                    if bigrams
                    else 0.0
                )
                score = (
                    3.0 * cov
                    + 1.0 * prec
                    + 1.5 * exact
                    + 0.2 * order
                    + _SOURCE_WEIGHT.get(source, 0.0)
                    + (0.03 if bill else 0.0)
                    - penalty
                )
                key = (system, code)
                if key not in best or score > best[key][0]:
                    missing = [groups[i][0] for i in range(len(groups)) if i not in hit_groups]
                    why = (
                        f"{len(hit_groups)}/{len(groups)} query terms in {source}"
                        + (" (exact)" if exact else "")
                        + (f"; missing {', '.join(sorted(missing))}" if missing else "")
                    )
                    extra = "; ".join(x for x in (why_variant, ", ".join(fixes)) if x)
                    best[key] = (score, text, source, why + (f"; {extra}" if extra else ""))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], len(kv[0][1]), kv[0][1]))[:limit]
        hits = []
        for (system, code), (score, text, source, why) in ranked:
            desc, bill = self._describe(system, code)
            hits.append(SearchHit(CodeSystem(system), code, desc, bill, score, text, source, why))
        return hits

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

    def _prefix(
        self, query: str, allowed: set[str] | None, billable_only: bool, limit: int
    ) -> list[SearchHit] | None:
        if not _CODE_PREFIX.match(query) or not any(ch.isdigit() for ch in query):
            return None
        value = query.upper().replace(".", "")
        sql = (
            "SELECT DISTINCT system, code, billable FROM code WHERE code>=? AND code<?"
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
        # children of the exact code first, then the rest by depth
        hits = []
        seen: set[tuple[str, str]] = set()
        for system, code, _bill in rows:
            if (system, code) in seen:
                continue
            seen.add((system, code))
            desc, bill = self._describe(system, code)
            why = "the code itself" if code == value else f"under {display(value, CodeSystem(system))}"
            hits.append(SearchHit(CodeSystem(system), code, desc, bill, 1.0, code, "prefix", why))
            if len(hits) >= limit:
                break
        return hits


def normalized_query(query: str) -> str:
    return normalized(query)


__all__ = ["SearchEngine", "SearchHit", "expand_query", "lexicon", "normalized_query", "stem"]

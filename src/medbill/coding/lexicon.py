"""The mention lexicon: every way the loaded code sets name a condition, as token-key tuples.

Built once per reference store (``lexicon_for(store)`` caches it per store file) from:
- ICD-10-CM tabular titles of the newest release, with the forms a note uses: without the
  parenthesised nonessential modifiers, without "unspecified"/"NOS", the head before ", unspecified
  ...", and without "mellitus";
- inclusion terms and the store's derived terms (rephrased "with" titles);
- the Alphabetic Index when one is loaded (entry paths, "Diabetes, type 2, with, ...");
- HCPCS Level II long descriptions of up to five words (supplies, drugs);
- the curated abbreviation/synonym lexicon of the search (``codesets/data/lexicon.tsv``): an
  abbreviation whose expansion is itself a key gets that key's codes ("ckd", "t2dm", "htn").
It also holds the ICD-10-CM hierarchy (title, kind, parent, children) that code assignment walks,
and the combination table of the "with" convention: (category of A, category of B) -> the code
whose title reads "A with B" (E11 + N18 -> E11.22).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import marshal
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from medbill.codesets.refstore import RefStore
from medbill.codesets.search import lexicon as search_lexicon
from medbill.codesets.text import fold, stem
from medbill.coding.text import MATCH_STOPWORDS
from medbill.core.codes import CodeSystem

_log = logging.getLogger(__name__)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PARENS = re.compile(r"\s*[\(\[][^)\]]*[\)\]]")
MAX_KEY = 8

# keys made only of these say nothing on their own ("other disorders", "unspecified")
GENERIC = frozenset(
    stem(w)
    for w in (
        "other unspecified disease disorder disorders condition conditions status history specified "
        "type part site left right bilateral acute chronic primary secondary nos nec elsewhere classified "
        "without complication complications single multiple stage level test tests encounter sequela "
        "injury abnormal abnormality finding findings body region organ examination of the in and"
    ).split()
)
# source ranks: a lower rank wins a key shared by several codes
RANK = {"title": 0, "title_short": 1, "inclusion": 2, "index": 2, "derived": 3, "title_head": 4, "alias": 5, "hcpcs": 6}


@lru_cache(maxsize=200_000)
def key_of(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _WORD.findall(fold(text).lower()) if w not in MATCH_STOPWORDS)


class Entry(NamedTuple):
    """One way a code set names a code (immutable; a tuple so that a cached lexicon loads fast)."""

    system: CodeSystem
    code: str
    source: str  # title | title_short | title_head | inclusion | index | derived | alias | hcpcs
    label: str  # the text it came from


class Node(NamedTuple):
    """An ICD-10-CM tabular node; ``children`` is filled once when the hierarchy is linked."""

    kind: str
    billable: bool
    title: str
    parent: str | None
    children: list[str]


@dataclass(slots=True)
class Lexicon:
    terms: dict[tuple[str, ...], list[Entry]]
    bags: dict[tuple[str, ...], tuple[str, ...]]  # sorted key -> the ordered key (word-order-free match)
    nodes: dict[str, Node]  # ICD-10-CM hierarchy, newest release
    combos: dict[tuple[str, str], tuple[str, str]]  # (cat A, cat B) -> (code, title)
    key_freq: dict[str, int]  # how many keys each token appears in (for idf-like weights)
    notes: dict[str, list[tuple[str, str]]]  # code -> [(kind, text)] where it stands
    hcpcs_titles: dict[str, str]
    first_len: dict[str, int]  # first word of a key -> the longest key it starts
    bag_words: frozenset[str]  # the words of the order-free bags
    memo: dict[str, Any] = field(default_factory=dict)  # per-code results of the pipeline (notes in force)
    _active: dict[date, frozenset[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(self, key: tuple[str, ...]) -> list[Entry]:
        return self.terms.get(key, [])

    def active(self, store: RefStore, on: date) -> frozenset[str]:
        """ICD-10-CM codes valid (billable) on a date."""
        with self._lock:
            hit = self._active.get(on)
            if hit is None:
                hit = frozenset(store.active_codes(CodeSystem.ICD10CM, on))
                if not hit:  # no validity table: the tabular's own billable flags
                    hit = frozenset(c for c, n in self.nodes.items() if n.billable)
                self._active[on] = hit
            return hit

    def category(self, code: str) -> str:
        return code[:3]

    def title(self, code: str) -> str:
        node = self.nodes.get(code)
        return node.title if node else ""


_CACHE: dict[str, Lexicon] = {}
_CACHE_LOCK = threading.Lock()


def lexicon_for(store: RefStore, *, cache_dir: Path | None | bool = None) -> Lexicon:
    """The lexicon of a store, kept for the process (keyed by the file).

    A worker process loads it from a compact cache file (``<MEDBILL_HOME>/cache/
    coding-lexicon-<digest>.bin``, ~0.3 s) keyed by the digest of the store's releases (dataset and
    SHA-256 of every loaded file), the curated lexicon and ``FORMAT``; the first process builds it
    from the store (~6 s) and writes the file. ``cache_dir=False`` never reads or writes a file.
    """
    key = str(store.path) if store.path is not None else f"conn:{id(store.conn)}"
    with _CACHE_LOCK:
        lex = _CACHE.get(key)
        if lex is None:
            folder = None if cache_dir is False else (cache_dir if isinstance(cache_dir, Path) else _cache_dir())
            path = folder / f"coding-lexicon-{release_digest(store)[:24]}.bin" if folder is not None else None
            if path is not None and path.is_file():
                try:
                    lex = load_lexicon(path)
                except (OSError, ValueError, EOFError, TypeError, KeyError, IndexError) as exc:
                    _log.warning("coding lexicon cache %s unreadable (%s): rebuilding", path.name, type(exc).__name__)
            if lex is None:
                lex = build_lexicon(store)
                if path is not None:
                    try:
                        save_lexicon(lex, path)
                    except OSError as exc:
                        _log.warning("coding lexicon cache not written (%s)", type(exc).__name__)
            _CACHE[key] = lex
            # ~1M long-lived objects: keep them out of the cyclic GC's full collections, which
            # would otherwise walk them again and again while notes are coded
            gc.collect()
            gc.freeze()
        return lex


FORMAT = "medbill-coding-lexicon/2"


def _cache_dir() -> Path | None:
    raw = os.environ.get("MEDBILL_CODING_CACHE")
    if raw is not None and raw.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    if raw:
        return Path(raw).expanduser()
    from medbill.settings import Settings

    return Settings.from_env().home / "cache"


def release_digest(store: RefStore) -> str:
    """SHA-256 over what the lexicon is built from: the store's releases, the curated lexicon, FORMAT."""
    h = hashlib.sha256(FORMAT.encode())
    for dataset, sha in store.conn.execute("SELECT dataset, sha256 FROM release ORDER BY dataset, sha256"):
        h.update(f"{dataset}\t{sha}\n".encode())
    curated = resources.files("medbill.codesets").joinpath("data/lexicon.tsv")
    if curated.is_file():
        h.update(curated.read_bytes())
    index_terms = resources.files("medbill.coding").joinpath(f"data/{INDEX_TERMS}")
    if index_terms.is_file():
        h.update(index_terms.read_bytes())
    return h.hexdigest()


def save_lexicon(lex: Lexicon, path: Path) -> None:
    """Write the lexicon as flat columns with marshal: strings pooled, entries and nodes as tuples of
    pool indexes, the derived indexes (bags, word frequencies) as they are. No code objects, no
    pickle: a reader needs only the standard library and this module."""
    pool: dict[str, int] = {}

    def ix(text: str) -> int:
        n = pool.get(text)
        if n is None:
            n = pool[text] = len(pool)
        return n

    terms = {
        key: tuple((ix(str(e.system)), ix(e.code), ix(e.source), ix(e.label)) for e in entries)
        for key, entries in lex.terms.items()
    }
    nodes = {
        code: (ix(n.kind), n.billable, ix(n.title), n.parent or "", tuple(n.children)) for code, n in lex.nodes.items()
    }
    data = {
        "format": FORMAT,
        "terms": terms,
        "nodes": nodes,
        "combos": lex.combos,
        "notes": {code: tuple((ix(k), ix(t)) for k, t in items) for code, items in lex.notes.items()},
        "hcpcs": lex.hcpcs_titles,
        "bags": lex.bags,
        "key_freq": lex.key_freq,
        "first_len": lex.first_len,
        "bag_words": lex.bag_words,
        "pool": tuple(pool),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(marshal.dumps(data))
    os.replace(tmp, path)


def load_lexicon(path: Path) -> Lexicon:
    """Read a file of ``save_lexicon`` (the cyclic GC is paused: ~400k acyclic objects are made)."""
    was = gc.isenabled()
    gc.disable()
    try:
        return _load(path)
    finally:
        if was:
            gc.enable()


def _load(path: Path) -> Lexicon:
    data = marshal.loads(path.read_bytes())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a coding lexicon of this format")
    pool: tuple[str, ...] = data["pool"]
    strings: list[Any] = list(pool)
    for n, v in enumerate(pool):
        if v in _SYSTEM_NAMES:
            strings[n] = CodeSystem(v)
    make_entry = Entry._make
    terms = {key: [make_entry([strings[i] for i in row]) for row in rows] for key, rows in data["terms"].items()}
    nodes = {
        code: Node(pool[k], b, pool[t], parent or None, list(kids))
        for code, (k, b, t, parent, kids) in data["nodes"].items()
    }
    notes = {code: [(pool[k], pool[t]) for k, t in items] for code, items in data["notes"].items()}
    return Lexicon(
        terms,
        data["bags"],
        nodes,
        data["combos"],
        data["key_freq"],
        notes,
        data["hcpcs"],
        data["first_len"],
        data["bag_words"],
    )


_SYSTEM_NAMES = frozenset(str(s) for s in CodeSystem)


def _variants(title: str) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = [(key_of(title), "title")]
    bare = _PARENS.sub("", title)
    out.append((key_of(bare), "title_short"))
    dropped = tuple(w for w in key_of(bare) if w not in ("unspecified", "nos", "mellitus"))
    out.append((dropped, "title_short"))
    if "," in bare:
        head, _, last = bare.rpartition(",")
        if "unspecified" in last.lower() or "not elsewhere" in last.lower() or "nos" in last.lower().split():
            out.append((key_of(head), "title_head"))
    return [(k, s) for k, s in out if k]


def _usable(key: tuple[str, ...]) -> bool:
    if not key or len(key) > MAX_KEY:
        return False
    if all(w in GENERIC or w.isdigit() for w in key):
        return False
    return not (len(key) == 1 and len(key[0]) <= 2)


def build_lexicon(store: RefStore) -> Lexicon:
    conn = store.conn
    terms: dict[tuple[str, ...], list[Entry]] = {}
    seen: set[tuple[tuple[str, ...], str]] = set()

    def add(key: tuple[str, ...], entry: Entry) -> None:
        if not _usable(key) or (key, entry.code) in seen:
            return
        seen.add((key, entry.code))
        terms.setdefault(key, []).append(entry)

    # ICD-10-CM hierarchy and titles (newest release of each code)
    nodes: dict[str, Node] = {}
    for code, kind, billable, desc, parent in conn.execute(
        "SELECT c.code, c.kind, c.billable, coalesce(c.long_desc, c.short_desc, ''), c.parent FROM code c"
        " JOIN release r ON r.id = c.release_id WHERE c.system='ICD10CM' AND r.dataset LIKE 'icd10cm%'"
        " ORDER BY r.effective_from, r.id"
    ):
        nodes[code] = Node(kind, bool(billable), desc, parent, [])
    _link(nodes)
    cm = CodeSystem.ICD10CM
    for code, node in nodes.items():
        if node.kind in ("chapter", "block") or not node.title:
            continue
        if len(code) == 7:
            continue  # 7th characters are chosen by assignment, not matched from the note
        for key, source in _variants(node.title):
            add(key, Entry(cm, code, source, node.title))

    notes: dict[str, list[tuple[str, str]]] = {}
    newest = {
        code: rid
        for code, rid in conn.execute("SELECT code, max(release_id) FROM note WHERE system='ICD10CM' GROUP BY code")
    }
    for code, rid, kind, text in conn.execute(
        "SELECT code, release_id, kind, text FROM note WHERE system='ICD10CM' ORDER BY code, release_id, seq"
    ):
        if rid != newest.get(code):
            continue
        notes.setdefault(code, []).append((kind, text))
        if kind == "inclusion" and code in nodes and len(code) < 7:
            for key, _s in _variants(text)[:2]:
                add(key, Entry(cm, code, "inclusion", text))
    for code, term in conn.execute("SELECT code, term FROM derived_term WHERE system='ICD10CM'"):
        if code in nodes and len(code) < 7:
            add(key_of(_PARENS.sub("", term)), Entry(cm, code, "derived", term))
    # the Alphabetic Index, when loaded: each entry path with a code
    for path, codes in conn.execute("SELECT path, codes FROM index_entry WHERE idx='index' AND codes<>'{}'"):
        try:
            printed = json.loads(codes)
        except ValueError:
            continue
        for value in printed.values() if isinstance(printed, dict) else ():
            code = str(value).replace(".", "").replace("-", "").upper()
            if code in nodes:
                add(key_of(_PARENS.sub("", path)), Entry(cm, code, "index", path))
                break
    # HCPCS Level II: short enough descriptions to appear in a note (supplies, drugs)
    hcpcs_titles: dict[str, str] = {}
    for code, desc in conn.execute(
        "SELECT code, coalesce(long_desc, short_desc) FROM code WHERE system='HCPCS' AND billable=1"
    ):
        if not desc:
            continue
        hcpcs_titles[code] = desc
        key = key_of(_PARENS.sub("", desc))
        if 2 <= len(key) <= 5:
            add(key, Entry(CodeSystem.HCPCS, code, "hcpcs", desc))

    for entries in terms.values():
        entries.sort(
            key=lambda e: (
                RANK.get(e.source, 9),
                0 if nodes.get(e.code, Node("", True, "", None, [])).billable else 1,
                len(e.code),
                e.code,
            )
        )
    _add_aliases(terms)
    _add_index_terms(terms, nodes)
    combos = _combinations(nodes, terms)
    return _finish(terms, nodes, combos, notes, hcpcs_titles)


def _link(nodes: dict[str, Node]) -> None:
    for code, node in nodes.items():
        if node.parent and node.parent in nodes:
            nodes[node.parent].children.append(code)
    for node in nodes.values():
        node.children.sort()


def _finish(
    terms: dict[tuple[str, ...], list[Entry]],
    nodes: dict[str, Node],
    combos: dict[tuple[str, str], tuple[str, str]],
    notes: dict[str, list[tuple[str, str]]],
    hcpcs_titles: dict[str, str],
) -> Lexicon:
    """The derived indexes: order-free bags, word frequencies, the longest key by first word."""
    bags: dict[tuple[str, ...], tuple[str, ...]] = {}
    key_freq: dict[str, int] = {}
    first_len: dict[str, int] = {}
    for key in terms:
        for w in set(key):
            key_freq[w] = key_freq.get(w, 0) + 1
        if first_len.get(key[0], 0) < len(key):
            first_len[key[0]] = len(key)
        if 2 <= len(key) <= 4:
            bags.setdefault(tuple(sorted(key)), key)
    bag_words = frozenset(w for k in bags for w in k)
    return Lexicon(terms, bags, nodes, combos, key_freq, notes, hcpcs_titles, first_len, bag_words)


def _add_aliases(terms: dict[tuple[str, ...], list[Entry]]) -> None:
    """Abbreviations and synonyms of the curated lexicon whose expansion is a key."""
    for raw_key, expansions in search_lexicon().items():
        if raw_key and raw_key[0] == "=":
            continue
        alias = tuple(stem(w) for w in raw_key if w not in MATCH_STOPWORDS)
        if not alias or alias in terms:
            continue
        for exp in expansions:
            target = key_of(exp)
            found = terms.get(target)
            if found:
                terms[alias] = [Entry(e.system, e.code, "alias", f"{' '.join(raw_key)} → {exp}") for e in found[:3]]
                break


INDEX_TERMS = "index_terms.tsv"


def index_terms() -> list[tuple[str, str]]:
    """(term, code) rows of the curated Index main terms (``data/index_terms.tsv``), codes normalised."""
    res = resources.files("medbill.coding").joinpath(f"data/{INDEX_TERMS}")
    if not res.is_file():
        return []
    out: list[tuple[str, str]] = []
    for line in res.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        term, _, code = line.partition("\t")
        out.append((term.strip(), code.strip().replace(".", "").upper()))
    return out


def _add_index_terms(terms: dict[tuple[str, ...], list[Entry]], nodes: dict[str, Node]) -> None:
    """The curated Index main terms go first on their key: the Index's default for a bare term
    ("hypertension" -> I10) is what a coder looks up before any title that shares the words."""
    for term, code in index_terms():
        key = key_of(term)
        if not key or len(key) > MAX_KEY or code[:3] not in nodes:
            continue
        node_code = code if code in nodes else code[:-1] if code[:-1] in nodes else code[:3]
        entry = Entry(CodeSystem.ICD10CM, node_code, "index", f"{term} (Index main term)")
        bucket = [e for e in terms.get(key, []) if e.code != node_code]
        terms[key] = [entry, *bucket]


_WITH = re.compile(r"^(?P<head>.+?) with (?P<tail>.+)$", re.IGNORECASE)
_ADJ = frozenset({"diabetic", "hypertensive", "other", "unspecified"})


def _combinations(
    nodes: dict[str, Node], terms: dict[tuple[str, ...], list[Entry]]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(category of the head, category of the "with" part) -> the combination code."""
    out: dict[tuple[str, str], tuple[str, str]] = {}

    def cats(text: str) -> set[str]:
        found: set[str] = set()
        bare = _PARENS.sub("", text)
        for cand in (bare, bare.split(",")[0]):
            key = key_of(cand)
            stripped = tuple(w for w in key if w not in _ADJ and w != "mellitus")
            for k in (key, stripped, tuple(w for w in key if w != "mellitus")):
                for e in terms.get(k, ())[:2]:
                    if e.system is CodeSystem.ICD10CM:
                        found.add(e.code[:3])
        return found

    for code, node in sorted(nodes.items(), key=lambda kv: (len(kv[1].title), kv[0])):
        if not node.billable or len(code) > 6 or " without " in node.title.lower():
            continue
        m = _WITH.match(node.title)
        if not m:
            continue
        head_cats = {code[:3]} | cats(m.group("head"))
        tail = m.group("tail")
        for tc in cats(tail):
            for hc in head_cats:
                if hc != tc and hc == code[:3]:
                    out.setdefault((hc, tc), (code, node.title))
    return out


def iter_keys(lex: Lexicon) -> Iterable[tuple[str, ...]]:
    return lex.terms.keys()

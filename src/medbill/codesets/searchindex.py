"""Builds the search documents and the FTS5 index from what the store holds.

A document is one (code, text) pair with the text's source: the official title (``title``), the
short descriptor (``short``), an inclusion term (``inclusion``), an Alphabetic Index / table path
(``index``), a manifestation code named by the Index (``index_manif``). Curated synonyms and
abbreviations are applied on the query side (``search.py``), not stored per code.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator

from medbill.codesets.text import DEFAULT_WORD_WEIGHT, DEFAULT_WORDS, idf, normalized, stem, words
from medbill.core.codes import CodeSystem

_CODE_IN_INDEX = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z-]{0,4})?$")


def _latest_code_rows(conn: sqlite3.Connection) -> Iterator[tuple[str, str, str | None, str | None, int]]:
    """(system, code, long_desc, short_desc, billable) from each code's newest release that has a text."""
    yield from conn.execute(
        "SELECT c.system, c.code, c.long_desc, c.short_desc, c.billable FROM code c"
        " JOIN (SELECT system AS s, code AS k, max(release_id) AS rid FROM code GROUP BY system, code) m"
        " ON c.system=m.s AND c.code=m.k AND c.release_id=m.rid"
        " WHERE c.kind NOT IN ('chapter', 'block')"
    )


def _index_code(printed: str) -> str | None:
    value = printed.strip().upper().rstrip("-").rstrip(".")
    if not value or not _CODE_IN_INDEX.match(value):
        return None
    return value.replace(".", "")


def _seventh_texts(conn: sqlite3.Connection) -> dict[str, str]:
    """ICD-10-CM code -> the words its 7th character adds to its parent's title."""
    out: dict[str, str] = {}
    rows = conn.execute(
        "SELECT c.code, c.long_desc, p.long_desc FROM code c JOIN code p"
        " ON p.system=c.system AND p.code=c.parent AND p.release_id=c.release_id"
        " WHERE c.system='ICD10CM' AND c.attrs LIKE '%\"seventh\"%'"
    )
    for code, title, parent_title in rows:
        if title and parent_title and title.startswith(parent_title):
            out[code] = normalized(title[len(parent_title) :])
    return out


Doc = tuple[str, str, str, str, int, str]


def iter_docs(conn: sqlite3.Connection) -> Iterator[Doc]:
    """(system, code, source, text, billable, neutral terms) for every search document."""
    billable: dict[tuple[str, str], int] = {}
    seventh = _seventh_texts(conn)
    for system, code, long_desc, short_desc, bill in _latest_code_rows(conn):
        billable[(system, code)] = bill
        neutral = seventh.get(code, "") if system == "ICD10CM" else ""
        if long_desc:
            yield system, code, "title", long_desc, bill, neutral
        if short_desc and (not long_desc or normalized(short_desc) != normalized(long_desc)):
            yield system, code, "short", short_desc, bill, ""
    for system, code, text in conn.execute(
        "SELECT system, code, text FROM note WHERE kind='inclusion' AND release_id IN"
        " (SELECT max(release_id) FROM note GROUP BY system)"
    ):
        yield system, code, "inclusion", text, billable.get((system, code), 0), ""
    for system, code, term, source in conn.execute(
        "SELECT system, code, term, source FROM derived_term WHERE release_id IN"
        " (SELECT max(release_id) FROM derived_term GROUP BY system)"
    ):
        kind = "inclusion" if source == "inclusion" else "derived"
        yield system, code, kind, term, billable.get((system, code), 0), ""
    cm = str(CodeSystem.ICD10CM)
    for path, codes_json, manif in conn.execute(
        "SELECT path, codes, manif FROM index_entry WHERE release_id IN"
        " (SELECT max(release_id) FROM index_entry GROUP BY idx)"
    ):
        codes: dict[str, str] = json.loads(codes_json)
        for column, printed in codes.items():
            index_code = _index_code(printed)
            if index_code is None:
                continue
            text = path if column == "code" else f"{path}, {column.replace('_', ' ')}"
            yield cm, index_code, "index", text, billable.get((cm, index_code), 0), ""
        mcode = _index_code(manif) if manif else None
        if mcode:
            yield cm, mcode, "index_manif", path, billable.get((cm, mcode), 0), ""


SOURCES = ("title", "short", "inclusion", "index", "index_manif", "derived")


def rebuild_search_index(conn: sqlite3.Connection) -> int:
    """Recreate the search documents, their postings and per-document arrays. Returns the count.

    Tables: ``search_doc`` (one row per document; ``id`` - 1 is its index in the arrays),
    ``search_postings`` (stemmed term -> document frequency and the sorted int32 ids holding it),
    ``search_arrays`` (per-document float32 "mass" = the idf weight of everything it says, and
    uint8 system / source / billable codes), ``search_words`` (surface words for spelling).
    """
    import numpy as np

    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in (
            "search_fts",
            "search_vocab",
            "search_words",
            "search_doc",
            "search_postings",
            "search_arrays",
        ):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            "CREATE TABLE search_doc ("
            " id INTEGER PRIMARY KEY, system TEXT NOT NULL, code TEXT NOT NULL, source TEXT NOT NULL,"
            " text TEXT NOT NULL, billable INTEGER NOT NULL,"
            " norm TEXT NOT NULL,"  # stemmed content terms
            " neutral TEXT NOT NULL DEFAULT '')"  # a 7th character's words: cost nothing when unmatched
        )
        raw_words: Counter[str] = Counter()
        seen: set[tuple[str, str, str]] = set()
        docs: list[tuple[int, str, str, str, str, int, str, str]] = []
        postings: dict[str, list[int]] = {}
        for system, code, source, text, bill, neutral in iter_docs(conn):
            norm = normalized(text)
            key = (system, code, norm)
            if key in seen or not norm:
                continue
            seen.add(key)
            idx = len(docs)
            for term in set(norm.split()):
                postings.setdefault(term, []).append(idx)
            raw_words.update(set(words(text)))
            docs.append((idx + 1, system, code, source, text, bill, norm, neutral))
        conn.executemany(
            "INSERT INTO search_doc(id, system, code, source, text, billable, norm, neutral) VALUES (?,?,?,?,?,?,?,?)",
            docs,
        )
        n = len(docs)
        weight = {t: idf(len(ids), n) for t, ids in postings.items()}
        systems = sorted({d[1] for d in docs})
        mass = np.zeros(n, dtype=np.float32)
        sys_idx = np.zeros(n, dtype=np.uint8)
        src_idx = np.zeros(n, dtype=np.uint8)
        billable = np.zeros(n, dtype=np.uint8)
        for i, (_id, system, _code, source, _text, bill, norm, neutral) in enumerate(docs):
            soft = set(neutral.split())
            mass[i] = sum(
                0.0 if t in soft else DEFAULT_WORD_WEIGHT if t in DEFAULT_WORDS else weight[t]
                for t in set(norm.split())
            )
            sys_idx[i] = systems.index(system)
            src_idx[i] = SOURCES.index(source)
            billable[i] = bill
        conn.execute("CREATE INDEX search_doc_code ON search_doc(system, code)")
        conn.execute(
            "CREATE TABLE search_postings (word TEXT PRIMARY KEY, df INTEGER NOT NULL, ids BLOB NOT NULL) WITHOUT ROWID"
        )
        conn.executemany(
            "INSERT INTO search_postings(word, df, ids) VALUES (?, ?, ?)",
            ((t, len(ids), np.asarray(ids, dtype=np.int32).tobytes()) for t, ids in postings.items()),
        )
        conn.execute("CREATE TABLE search_arrays (name TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID")
        conn.executemany(
            "INSERT INTO search_arrays(name, data) VALUES (?, ?)",
            [
                ("mass", mass.tobytes()),
                ("system", sys_idx.tobytes()),
                ("source", src_idx.tobytes()),
                ("billable", billable.tobytes()),
                ("systems", json.dumps(systems).encode()),
                ("sources", json.dumps(SOURCES).encode()),
            ],
        )
        # surface words (unstemmed) for spelling correction: "diabetis" is one edit from both
        # "diabetes" and "diabetic", which stem differently
        conn.execute(
            "CREATE TABLE search_words (word TEXT PRIMARY KEY, stem TEXT NOT NULL, df INTEGER NOT NULL) WITHOUT ROWID"
        )
        conn.executemany(
            "INSERT INTO search_words(word, stem, df) VALUES (?, ?, ?)",
            ((w, stem(w), df) for w, df in raw_words.items() if len(w) > 3 and not w.isdigit()),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n

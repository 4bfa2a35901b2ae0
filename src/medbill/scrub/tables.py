"""Edit tables for the scrubber: compact arrays read from a medbill reference store, cached beside it.

``EditTables`` holds everything the rules look up, as of a date:

- **code validity and edit flags** by date range, per code system: ICD-10-CM and ICD-10-PCS with the
  MCE flags (``manifestation``, ``unacceptable``, ``ecodepdx``, ``female``/``male``,
  ``newborn``/``pediatric``/``maternity``/``adult`` ...; the sex flags end 2024-09-30 in MCE v43.1),
  CPT and HCPCS with the I/OCE flags (``addon_type1``, ``unclassified_drug`` ...), modifiers and
  revenue codes (I/OCE). From the store's ``validity`` table; where a system has none there, from the
  billable rows of its ``code`` table and their release dates.
- **ICD-10-CM structure**: non-billable nodes (categories, subcategories), 7th-character definitions,
  Excludes1 notes parsed into code ranges (see ``parse_excludes1``), block/chapter ranges.
- **NCCI PTP pairs** per table (``practitioner``, ``outpatient``, ``ioce``): a sorted ``int64`` key per
  row, ``column1 << 26 | column2`` with each 5-character code read as a base-36 number
  (36**5 < 2**26), and parallel arrays of the modifier indicator, the effective date and the deletion
  date (first day the edit no longer applies) as proleptic ordinals.
- **MUE limits** per table (``practitioner``, ``outpatient``, ``dme``), the same way.
- I/OCE procedure age ranges and status indicators, PFS global days, POS codes, MCE age groups.

``EditTables.load(store)`` reads the store once (1.6M PTP rows in about a second, fetched as fixed-width
``group_concat`` strings and decoded with NumPy) and writes the arrays as ``.npy`` files with a
``meta.json`` into ``<store>.edit-tables/<digest>/``, the digest being a SHA-256 over the store's
release SHA-256s; later loads memory-map those files (milliseconds, shared between worker processes).
``EditTables.from_cache(dir)`` opens such a folder without the store (for workers);
``EditTables.build(...)`` makes small tables from records (tests); ``EditTables.empty()`` has nothing
loaded, and the rules then say which table is missing instead of guessing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from medbill.codesets.mce import AgeRange
from medbill.codesets.records import MueRow, NoteRow, PtpRow, SeventhCharRow, ValidityRow
from medbill.codesets.refstore import RefStore
from medbill.core.codes import CodeSystem
from medbill.core.errors import CodeSetError

log = logging.getLogger(__name__)

FORMAT = "medbill-edit-tables/2"
OPEN = date.max.toordinal()  # an open end (inclusive) / "never deleted" (exclusive)
_EPOCH = date(1970, 1, 1).toordinal()

VALIDITY_SYSTEMS = (
    CodeSystem.ICD10CM,
    CodeSystem.ICD10PCS,
    CodeSystem.CPT,
    CodeSystem.HCPCS,
    CodeSystem.MODIFIER,
    CodeSystem.REVENUE,
)
PTP_TABLE_NAMES = {
    "practitioner": "practitioner PTP table",
    "outpatient": "hospital outpatient PTP table",
    "ioce": "hospital outpatient PTP table (I/OCE)",
}
MUE_TABLE_NAMES = {
    "practitioner": "practitioner MUE table",
    "outpatient": "outpatient hospital MUE table",
    "dme": "DME supplier MUE table",
}

# MCE v43.1 age groups (DERIVED_mce_v431_age_ranges.csv): the store does not carry them.
DEFAULT_AGE_RANGES = (
    AgeRange("Adult", 15, 124, date(1984, 3, 1), None),
    AgeRange("Maternity", 12, 55, date(1984, 3, 1), date(2019, 9, 30)),
    AgeRange("Maternity", 9, 64, date(2019, 10, 1), None),
    AgeRange("Newborn", 0, 0, date(1984, 3, 1), None),
    AgeRange("Pediatric", 0, 17, date(1984, 3, 1), None),
)

_CODE7 = re.compile(r"[0-9A-Z]{1,7}")
_CODE5 = re.compile(r"[0-9A-Z]{5}")


def code_key(code: str) -> int:
    """Order-preserving integer of a code of 1..7 characters [0-9A-Z] (-1 when it is not one)."""
    if not _CODE7.fullmatch(code):
        return -1
    return int(code.ljust(7, "0"), 36) * 8 + len(code)


def code5(code: str) -> int:
    """A 5-character CPT/HCPCS code as a base-36 number (-1 when it is not one)."""
    return int(code, 36) if _CODE5.fullmatch(code) else -1


def _ordinal(d: date | None, default: int = OPEN) -> int:
    return d.toordinal() if d is not None else default


def _iso_ord(text: str | None) -> int:
    return date.fromisoformat(text).toordinal() if text else OPEN


# ---------------------------------------------------------------------------------------------------
# records handed to the rules


@dataclass(frozen=True, slots=True)
class Span:
    """A date range (proleptic ordinals, both ends inclusive) in which a code is valid, with its flags."""

    start: int
    end: int
    flags: frozenset[str]

    def covers(self, on: int) -> bool:
        return self.start <= on <= self.end

    @property
    def text(self) -> str:
        end = "open" if self.end >= OPEN else date.fromordinal(self.end).isoformat()
        return f"{date.fromordinal(self.start).isoformat()}..{end}"


@dataclass(frozen=True, slots=True)
class PtpEdit:
    """One PTP row: column 1/column 2, modifier indicator, in effect while ``effective <= d < deleted``."""

    table: str
    column1: str
    column2: str
    modifier_indicator: str
    effective: int
    deleted: int

    def applies_on(self, on: int) -> bool:
        return self.effective <= on < self.deleted and self.modifier_indicator != "9"

    @property
    def table_name(self) -> str:
        return PTP_TABLE_NAMES.get(self.table, f"{self.table} PTP table")


@dataclass(frozen=True, slots=True)
class MueLimit:
    table: str
    code: str
    max_units: int
    mai: int  # 1 line, 2 date of service (policy), 3 date of service (clinical)

    @property
    def table_name(self) -> str:
        return MUE_TABLE_NAMES.get(self.table, f"{self.table} MUE table")


@dataclass(frozen=True, slots=True)
class Excludes1:
    """An Excludes1 note at ``node`` naming the codes ``lo``..``hi`` (compared on their first len(lo) chars)."""

    node: str
    lo: str
    hi: str
    text: str

    def matches(self, code: str) -> bool:
        head = code[: len(self.lo)]
        return len(head) == len(self.lo) and self.lo <= head <= self.hi


@dataclass(frozen=True, slots=True)
class DxStatus:
    """Why an ICD-10-CM (or PCS) code is or is not billable on a date."""

    state: str  # valid | not_on_date | header | needs_seventh | bad_seventh | unknown | no_table | outside_table
    spans: tuple[Span, ...] = ()
    kind: str = ""  # for header: category / subcategory / block / chapter
    node: str = ""  # for the 7th character: the code that defines them
    chars: str = ""  # allowed 7th characters


# ---------------------------------------------------------------------------------------------------
# Excludes1 note text -> code ranges

_PAREN = re.compile(r"\(([^()]*)\)")
_CM = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4})?"
_TOKEN = re.compile(rf"\s*({_CM})(?:\s*-\s*({_CM}))?\s*(-)?\s*")


def parse_excludes1(node: str, text: str) -> list[Excludes1]:
    """The code ranges an Excludes1 note names: ``(E10.-)`` -> E10, ``(O24.4-)`` -> O244,
    ``(P70.2)`` -> P702, ``(B38.0-B38.2)`` -> B380..B382, ``(X00-X08)`` -> X00..X08; several
    comma-separated per parenthesis. Text without codes in parentheses gives nothing."""
    out: list[Excludes1] = []
    for group in _PAREN.findall(text):
        for part in group.split(","):
            m = _TOKEN.fullmatch(part)
            if m is None:
                continue
            lo = m.group(1).replace(".", "")
            hi = (m.group(2) or m.group(1)).replace(".", "")
            if len(hi) != len(lo):  # "A15.0-A15" : compare on the shorter prefix
                n = min(len(lo), len(hi))
                lo, hi = lo[:n], hi[:n]
            if lo > hi:
                continue
            out.append(Excludes1(node, lo, hi, text))
    return out


# ---------------------------------------------------------------------------------------------------
# vectorised decoding of fixed-width text columns


def _digits36(block: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """(N, w) ASCII [0-9A-Z] -> base-36 value per row."""
    out = np.zeros(block.shape[0], dtype=np.int64)
    for i in range(block.shape[1]):  # one column at a time: small temporaries
        d = block[:, i].astype(np.int16)
        d -= 48
        d[d > 9] -= 7  # 'A' (65) -> 10
        out *= 36
        out += d
    return out


def _iso_ordinals(block: npt.NDArray[np.uint8]) -> npt.NDArray[np.int32]:
    """(N, 10) ASCII 'YYYY-MM-DD' -> proleptic ordinals (days-from-civil, vectorised)."""

    def digit(i: int) -> npt.NDArray[np.int32]:
        col: npt.NDArray[np.int32] = block[:, i].astype(np.int32) - 48
        return col

    y = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3)
    m = digit(5) * 10 + digit(6)
    day = digit(8) * 10 + digit(9)
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = np.where(m > 2, m - 3, m + 9)
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    out: npt.NDArray[np.int32] = (days + _EPOCH).astype(np.int32)
    return out


def _fixed(text: str, width: int, n: int) -> npt.NDArray[np.uint8] | None:
    raw = text.encode("ascii", "replace")
    if len(raw) != width * n:
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(n, width)


# ---------------------------------------------------------------------------------------------------
# builders of the arrays (shared by load-from-store and build-from-records)

Arrays = dict[str, npt.NDArray[Any]]


def _validity_arrays(
    system: CodeSystem, rows: Iterable[tuple[str, int, int, tuple[str, ...]]], arrays: Arrays, meta: dict[str, Any]
) -> None:
    flagsets: dict[tuple[str, ...], int] = {}
    keys: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    fids: list[int] = []
    for code, start, end, flags in rows:
        k = code_key(code)
        if k < 0:
            continue
        fs = tuple(sorted(set(flags)))
        fid = flagsets.setdefault(fs, len(flagsets))
        keys.append(k)
        starts.append(start)
        ends.append(end)
        fids.append(fid)
    _validity_columns(
        system,
        np.array(keys, dtype=np.int64),
        np.array(starts, dtype=np.int32),
        np.array(ends, dtype=np.int32),
        np.array(fids, dtype=np.int32),
        list(flagsets),
        arrays,
        meta,
    )


def _validity_columns(
    system: CodeSystem,
    key: npt.NDArray[np.int64],
    start: npt.NDArray[np.int32],
    end: npt.NDArray[np.int32],
    fid: npt.NDArray[np.int32],
    flagsets: list[tuple[str, ...]],
    arrays: Arrays,
    meta: dict[str, Any],
) -> None:
    """Sort by code and start and store; ``flagsets[fid]`` are the flags of a row."""
    if key.size == 0:
        return
    order = np.lexsort((start, key))
    s = str(system)
    arrays[f"val_{s}_key"] = key[order]
    arrays[f"val_{s}_start"] = start[order]
    arrays[f"val_{s}_end"] = end[order]
    arrays[f"val_{s}_flags"] = fid[order]
    meta["flagsets"][s] = [list(f) for f in flagsets]
    meta["coverage"][s] = [int(start.min()), int(end.max())]


def _ptp_arrays(
    table: str,
    key: npt.NDArray[np.int64],
    mi: npt.NDArray[np.int8],
    eff: npt.NDArray[np.int32],
    dele: npt.NDArray[np.int32],
    rel: npt.NDArray[np.int32] | None,
    arrays: Arrays,
    meta: dict[str, Any],
) -> None:
    if key.size == 0:
        return
    if rel is not None:
        order = np.lexsort((rel, eff, key))
        key, mi, eff, dele = key[order], mi[order], eff[order], dele[order]
    elif not _sorted(key, eff):  # the store's rows usually come sorted already
        order = np.lexsort((eff, key))
        key, mi, eff, dele = key[order], mi[order], eff[order], dele[order]
    if rel is not None:  # the same edit in several releases of one table: the newest release's row
        keep = np.ones(key.size, dtype=bool)
        keep[:-1] = (key[1:] != key[:-1]) | (eff[1:] != eff[:-1])
        key, mi, eff, dele = key[keep], mi[keep], eff[keep], dele[keep]
    arrays[f"ptp_{table}_key"] = np.ascontiguousarray(key)
    _pair_matrix(table, key, arrays)
    arrays[f"ptp_{table}_mi"] = np.ascontiguousarray(mi)
    arrays[f"ptp_{table}_eff"] = np.ascontiguousarray(eff)
    arrays[f"ptp_{table}_del"] = np.ascontiguousarray(dele)
    meta["ptp_tables"].append(table)
    meta["ptp_rows"][table] = int(key.size)


def _pair_matrix(table: str, key: npt.NDArray[np.int64], arrays: Arrays) -> None:
    """A bit per (column-1 code, column-2 code) with a row: rows = column-1 codes, columns = column-2
    codes (their sorted base-36 values in ``ptp_<t>_c1`` / ``ptp_<t>_c2``), bits little-endian per byte."""
    c1 = key >> 26  # sorted, since the keys are
    c2 = key & ((1 << 26) - 1)
    u1, inv1 = _unique_sorted(c1)
    order = np.argsort(c2, kind="stable")
    u2, ranks = _unique_sorted(c2[order])
    inv2 = np.empty_like(ranks)
    inv2[order] = ranks
    del order, ranks
    row_bytes = (u2.size + 7) // 8
    flat = np.zeros(u1.size * row_bytes, dtype=np.uint8)
    np.bitwise_or.at(flat, inv1.astype(np.int64) * row_bytes + (inv2 >> 3), (1 << (inv2 & 7)).astype(np.uint8))
    arrays[f"ptp_{table}_c1"] = u1.astype(np.int64)
    arrays[f"ptp_{table}_c2"] = u2.astype(np.int64)
    arrays[f"ptp_{table}_bits"] = flat.reshape(u1.size, row_bytes)


def _unique_sorted(values: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """np.unique(values, return_inverse=True) for sorted values, in linear time."""
    start = np.empty(values.size, dtype=bool)
    start[:1] = True
    np.not_equal(values[1:], values[:-1], out=start[1:])
    inverse = np.cumsum(start) - 1
    return values[start], inverse


class _PairBits:
    """The pair bit matrix of one PTP table. A row (the column-2 partners of one column-1 code) is read
    once into a Python int used as a bit set (at most ~1.2 KB each, memoised), so testing the codes of a
    claim is a few big-integer ANDs, without a NumPy call."""

    __slots__ = ("rows", "cols", "view", "row_bytes", "_ints")

    def __init__(self, c1: npt.NDArray[np.int64], c2: npt.NDArray[np.int64], bits: npt.NDArray[np.uint8]) -> None:
        self.rows = {_decode5(int(v)): i for i, v in enumerate(c1.tolist())}
        self.cols = {_decode5(int(v)): i for i, v in enumerate(c2.tolist())}
        self.row_bytes = int(bits.shape[1]) if bits.ndim == 2 else 0
        self.view = np.ascontiguousarray(bits).reshape(-1).data
        self._ints: dict[int, int] = {}

    def _row(self, r: int) -> int:
        found = self._ints.get(r)
        if found is None:
            start = r * self.row_bytes
            found = self._ints[r] = int.from_bytes(self.view[start : start + self.row_bytes], "little")
        return found

    def pairs(self, codes: Iterable[str]) -> list[tuple[str, str]]:
        """(column 1, column 2) pairs among ``codes`` that have at least one row."""
        cols = self.cols
        mask = 0
        at: dict[int, str] = {}
        for c in codes:
            j = cols.get(c)
            if j is not None:
                mask |= 1 << j
                at[j] = c
        if not mask:
            return []
        rows = self.rows
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for a in codes:
            r = rows.get(a)
            if r is None or a in seen:
                continue
            seen.add(a)
            hit = self._row(r) & mask
            while hit:
                low = hit & -hit
                b = at[low.bit_length() - 1]
                hit ^= low
                if b != a:
                    out.append((a, b))
        return out


def _sorted(key: npt.NDArray[np.int64], eff: npt.NDArray[np.int32]) -> bool:
    if key.size < 2:
        return True
    step = key[1:] - key[:-1]
    return bool(np.all((step > 0) | ((step == 0) & (eff[1:] >= eff[:-1]))))


def _ptp_from_rows(rows: Iterable[PtpRow], arrays: Arrays, meta: dict[str, Any]) -> None:
    per: dict[str, list[tuple[int, int, int, int]]] = {}
    for r in rows:
        a, b = code5(r.column1), code5(r.column2)
        if a < 0 or b < 0 or r.modifier_indicator not in ("0", "1", "9"):
            continue
        per.setdefault(r.table, []).append(
            ((a << 26) | b, int(r.modifier_indicator), r.effective.toordinal(), _ordinal(r.deleted))
        )
    for table, items in sorted(per.items()):
        arr = np.array(items, dtype=np.int64).reshape(-1, 4)
        _ptp_arrays(
            table,
            arr[:, 0].copy(),
            arr[:, 1].astype(np.int8),
            arr[:, 2].astype(np.int32),
            arr[:, 3].astype(np.int32),
            None,
            arrays,
            meta,
        )


def _mue_from_rows(rows: Iterable[MueRow], arrays: Arrays, meta: dict[str, Any]) -> None:
    per: dict[str, list[tuple[int, int, int, int, int]]] = {}
    for r in rows:
        k = code5(r.code)
        if k < 0:
            continue
        start = r.effective.toordinal() if r.effective else 1
        per.setdefault(r.table, []).append((k, r.max_units, r.mai, start, _ordinal(r.deleted)))
    for table, items in sorted(per.items()):
        items.sort()
        arr = np.array(items, dtype=np.int64).reshape(-1, 5)
        arrays[f"mue_{table}_key"] = arr[:, 0].copy()
        arrays[f"mue_{table}_units"] = arr[:, 1].astype(np.int32)
        arrays[f"mue_{table}_mai"] = arr[:, 2].astype(np.int8)
        arrays[f"mue_{table}_eff"] = arr[:, 3].astype(np.int32)
        arrays[f"mue_{table}_del"] = arr[:, 4].astype(np.int32)
        meta["mue_tables"].append(table)


def _excludes1_meta(notes: Iterable[tuple[str, str]]) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for node, text in notes:
        for ex in parse_excludes1(node, text):
            out.setdefault(node, []).append([ex.lo, ex.hi, ex.text])
    return out


def _new_meta() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "digest": "",
        "releases": [],
        "flagsets": {},
        "coverage": {},
        "validity_source": {},
        "ptp_tables": [],
        "ptp_rows": {},
        "mue_tables": [],
        "headers": {},
        "sevenths": {},
        "excludes1": {},
        "ranges": {},
        "proc_age": {},
        "proc_sex": {},
        "significant_procedures": [],
        "global_days": {},
        "pos": [],
        "age_ranges": [
            [a.group, a.min_age, a.max_age, a.valid_from.toordinal(), _ordinal(a.valid_to)] for a in DEFAULT_AGE_RANGES
        ],
    }


def _merge_spans(rows: Iterable[tuple[str, int, int]]) -> Iterator[tuple[str, int, int, tuple[str, ...]]]:
    """Billable code rows with release dates -> merged validity spans without flags."""
    per: dict[str, list[tuple[int, int]]] = {}
    for code, start, end in rows:
        per.setdefault(code, []).append((start, end))
    for code, spans in per.items():
        spans.sort()
        cur_s, cur_e = spans[0]
        for s, e in spans[1:]:
            if s <= cur_e + 1:
                cur_e = max(cur_e, e)
            else:
                yield code, cur_s, cur_e, ()
                cur_s, cur_e = s, e
        yield code, cur_s, cur_e, ()


# ---------------------------------------------------------------------------------------------------
# loading from the reference store


def _release_digest(store: RefStore) -> tuple[str, list[str]]:
    items = sorted(f"{r.dataset}:{r.sha256}" for r in store.releases)
    h = hashlib.sha256(FORMAT.encode())
    for item in items:
        h.update(b"\n" + item.encode())
    return h.hexdigest(), items


class _Memo:
    """A function of one hashable argument, memoised."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.seen: dict[Any, Any] = {}

    def __call__(self, arg: Any) -> Any:
        found = self.seen.get(arg, _MISSING)
        if found is _MISSING:
            found = self.seen[arg] = self.func(arg)
        return found


def _split_flags(text: str) -> tuple[str, ...]:
    return tuple(f for f in text.split("|") if f)


def _load_validity_fast(conn: sqlite3.Connection, system: CodeSystem, arrays: Arrays, meta: dict[str, Any]) -> bool:
    """One ``group_concat`` query per system, decoded with NumPy; False when the rows do not fit it."""
    n, codes, lengths, starts, ends, flags = conn.execute(
        "SELECT count(*), group_concat(substr(code || '0000000', 1, 7), ''),"
        " group_concat(min(max(length(code), 0), 8), ''), group_concat(valid_from, ''),"
        " group_concat(coalesce(valid_to, '9999-12-31'), ''), group_concat(flags, ',') FROM validity WHERE system=?",
        (str(system),),
    ).fetchone()
    if not n:
        return False
    flag_list = flags.split(",")
    code_block, len_block = _fixed(codes, 7, n), _fixed(lengths, 1, n)
    start_block, end_block = _fixed(starts, 10, n), _fixed(ends, 10, n)
    if len(flag_list) != n or code_block is None or len_block is None or start_block is None or end_block is None:
        return False
    size = len_block[:, 0].astype(np.int64) - 48
    key = _digits36(code_block) * 8 + size  # = code_key(code), vectorised
    key[~_is36(code_block) | (size < 1) | (size > 7)] = -1
    ids: dict[str, int] = {}
    fid = np.array([ids.setdefault(f, len(ids)) for f in flag_list], dtype=np.int32)
    start = _iso_ordinals(start_block)
    end = _iso_ordinals(end_block)
    end[np.all(end_block == np.frombuffer(b"9999-12-31", dtype=np.uint8), axis=1)] = OPEN
    keep = key >= 0
    flagsets = [tuple(sorted({x for x in f.split("|") if x})) for f in ids]
    _validity_columns(system, key[keep], start[keep], end[keep], fid[keep], flagsets, arrays, meta)
    return True


def _load_validity(conn: sqlite3.Connection, arrays: Arrays, meta: dict[str, Any]) -> None:
    for system in VALIDITY_SYSTEMS:
        s = str(system)
        if _load_validity_fast(conn, system, arrays, meta):
            meta["validity_source"][s] = "validity"
            continue
        rows = conn.execute("SELECT code, valid_from, valid_to, flags FROM validity WHERE system=?", (s,)).fetchall()
        if rows:
            when, flags = _Memo(_iso_ord), _Memo(_split_flags)  # few distinct dates and flag sets
            _validity_arrays(system, ((c, when(a), when(b), flags(fl)) for c, a, b, fl in rows), arrays, meta)
            meta["validity_source"][s] = "validity"
            continue
        code_rows = conn.execute(
            "SELECT c.code, coalesce(c.valid_from, r.effective_from), coalesce(c.valid_to, r.effective_to)"
            " FROM code c JOIN release r ON r.id = c.release_id WHERE c.system=? AND c.billable=1",
            (s,),
        ).fetchall()
        if code_rows:
            _validity_arrays(
                system,
                _merge_spans((c, _iso_ord(a) if a else 1, _iso_ord(b)) for c, a, b in code_rows),
                arrays,
                meta,
            )
            meta["validity_source"][s] = "code"


def _load_structure(conn: sqlite3.Connection, meta: dict[str, Any]) -> None:
    cm = str(CodeSystem.ICD10CM)
    headers: dict[str, str] = {}
    blocks: list[tuple[str, str | None]] = []
    for code, kind, parent in conn.execute("SELECT code, kind, parent FROM code WHERE system=? AND billable=0", (cm,)):
        prev = headers.get(code)  # min(kind) per code, as the store may hold several releases
        headers[code] = kind if prev is None else min(prev, kind)
        if kind == "block":
            blocks.append((code, parent))
    meta["headers"] = headers
    meta["sevenths"] = {
        code: "".join(sorted(set(chars)))
        for code, chars in conn.execute(
            "SELECT code, group_concat(char, '') FROM seventh WHERE system=? GROUP BY code", (cm,)
        ).fetchall()
    }
    newest = conn.execute("SELECT max(release_id) FROM note WHERE system=?", (cm,)).fetchone()[0]
    if newest is not None:
        notes = conn.execute(
            "SELECT code, text FROM note WHERE system=? AND kind='excludes1' AND release_id=? ORDER BY code, seq",
            (cm, newest),
        ).fetchall()
        meta["excludes1"] = _excludes1_meta(notes)
    meta["ranges"] = _block_ranges(sorted(set(blocks)))
    for code, lo, hi, sex, si in conn.execute(
        "SELECT code, json_extract(attrs, '$.age_range[0]'), json_extract(attrs, '$.age_range[1]'),"
        " json_extract(attrs, '$.sex'), json_extract(attrs, '$.status_indicator')"
        " FROM code WHERE system IN ('CPT', 'HCPCS') AND attrs LIKE '%age_range%' AND json_valid(attrs)"
    ).fetchall():
        _proc_attrs(code, [lo, hi], sex, si, meta)
    meta["significant_procedures"] = sorted(set(meta["significant_procedures"]))
    meta["global_days"] = {
        code: days
        for code, days in conn.execute(
            "SELECT code, global_days FROM rvu WHERE modifier='' AND global_days IN ('000', '010', '090')"
        ).fetchall()
    }
    meta["pos"] = sorted({c for (c,) in conn.execute("SELECT DISTINCT code FROM code WHERE system='POS'")})


def _proc_attrs(code: str, age: Any, sex: Any, si: Any, meta: dict[str, Any]) -> None:
    if isinstance(age, list) and len(age) == 2 and all(isinstance(x, int) for x in age) and list(age) != [0, 124]:
        meta["proc_age"][code] = [int(age[0]), int(age[1])]
    if isinstance(sex, str) and sex in ("F", "M"):
        meta["proc_sex"][code] = sex
    if si in ("T", "S", "J1"):
        meta["significant_procedures"].append(code)


def _block_ranges(blocks: Iterable[tuple[str, str | None]]) -> dict[str, list[str]]:
    """Block id "A15-A19" -> [A15, A19]; chapter id -> [lowest, highest] category of its blocks."""
    out: dict[str, list[str]] = {}
    for code, parent in blocks:
        if "-" not in code:
            continue
        lo, hi = code.split("-", 1)
        out[code] = [lo, hi]
        if parent:
            cur = out.get(parent)
            out[parent] = [min(cur[0], lo), max(cur[1], hi)] if cur else [lo, hi]
    return out


def _ptp_releases(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """(release id, table) of every release with PTP rows, found without scanning the table."""
    total = conn.execute("SELECT count(*) FROM ptp").fetchone()[0]
    if not total:
        return []
    found: list[tuple[int, str]] = []
    counted = 0
    for rid, rows in conn.execute(
        "SELECT id, rows FROM release WHERE dataset LIKE '%ncci%' OR dataset LIKE '%ptp%' ORDER BY id"
    ).fetchall():
        row = conn.execute("SELECT tbl FROM ptp WHERE release_id=? LIMIT 1", (rid,)).fetchone()
        if row is not None:
            found.append((int(rid), str(row[0])))
            counted += int(rows)
    if counted != total:  # releases named otherwise: look them up the slow way
        found = [
            (int(rid), str(tbl))
            for rid, tbl in conn.execute("SELECT DISTINCT release_id, tbl FROM ptp ORDER BY release_id").fetchall()
        ]
    return found


_PtpFetch = tuple[list[tuple[int, str]], tuple[Any, ...] | None]


def _fetch_ptp(conn: sqlite3.Connection) -> _PtpFetch:
    """The PTP rows as fixed-width ``group_concat`` strings (one table scan), with their releases."""
    releases = _ptp_releases(conn)
    if not releases:
        return releases, None
    extra = ", group_concat(release_id, ','), group_concat(tbl, ',')" if len(releases) > 1 else ""
    row = conn.execute(
        "SELECT count(*), group_concat(column1, ''), group_concat(column2, ''),"
        " group_concat(modifier_indicator, ''), group_concat(effective, ''),"
        f" group_concat(coalesce(deleted, '9999-12-31'), ''){extra} FROM ptp NOT INDEXED"
    ).fetchone()
    return releases, tuple(row)


def _fetch_ptp_apart(path: Path, out: list[_PtpFetch | BaseException]) -> None:
    """``_fetch_ptp`` on a connection of its own (a thread: SQLite runs the scan without the GIL)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            out.append(_fetch_ptp(conn))
        finally:
            conn.close()
    except BaseException as exc:  # handed to the caller, which falls back to its own connection
        out.append(exc)


def _load_ptp(conn: sqlite3.Connection, arrays: Arrays, meta: dict[str, Any], fetched: _PtpFetch | None = None) -> None:
    releases, row = fetched if fetched is not None else _fetch_ptp(conn)
    if row is None:
        return
    tables = sorted({t for _r, t in releases})
    many = len(releases) > 1
    n = int(row[0])
    c1, c2 = _fixed(row[1] or "", 5, n), _fixed(row[2] or "", 5, n)
    mi, eff = _fixed(row[3] or "", 1, n), _fixed(row[4] or "", 10, n)
    dl = _fixed(row[5] or "", 10, n)
    if c1 is None or c2 is None or mi is None or eff is None or dl is None:
        _load_ptp_rows(conn, arrays, meta)  # a code or date of another width: row by row
        return
    ok = _is36(c1) & _is36(c2)
    key = (_digits36(c1) << 26) | _digits36(c2)
    mind = (mi[:, 0].astype(np.int16) - 48).astype(np.int8)
    effo = _iso_ordinals(eff)
    delo = _iso_ordinals(dl)
    delo[np.all(dl == np.frombuffer(b"9999-12-31", dtype=np.uint8), axis=1)] = OPEN
    if many:
        rel = np.array(row[6].split(","), dtype=np.int32)
        tbl = np.array(row[7].split(","))
    for table in tables:
        if many:
            sel = ok & (tbl == table)
            _ptp_arrays(table, key[sel], mind[sel], effo[sel], delo[sel], rel[sel], arrays, meta)
        else:
            _ptp_arrays(table, key[ok], mind[ok], effo[ok], delo[ok], None, arrays, meta)


def _is36(block: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    good = ((block >= 48) & (block <= 57)) | ((block >= 65) & (block <= 90))
    return np.asarray(np.all(good, axis=1))


def _load_ptp_rows(conn: sqlite3.Connection, arrays: Arrays, meta: dict[str, Any]) -> None:
    def rows() -> Iterator[PtpRow]:
        for tbl, a, b, mi, eff, dele in conn.execute(
            "SELECT tbl, column1, column2, modifier_indicator, effective, deleted FROM ptp"
        ):
            yield PtpRow(tbl, a, b, mi, date.fromisoformat(eff), date.fromisoformat(dele) if dele else None)

    _ptp_from_rows(rows(), arrays, meta)


def _load_mue(conn: sqlite3.Connection, arrays: Arrays, meta: dict[str, Any]) -> None:
    rows = conn.execute("SELECT tbl, code, max_units, mai, effective, deleted FROM mue ORDER BY release_id").fetchall()
    # several releases of one table: the newest release wins for a code and effective date
    newest: dict[tuple[str, str, str | None], MueRow] = {}
    for tbl, code, units, mai, eff, dele in rows:
        newest[(tbl, code, eff)] = MueRow(
            tbl,
            code,
            int(units),
            int(mai),
            effective=date.fromisoformat(eff) if eff else None,
            deleted=date.fromisoformat(dele) if dele else None,
        )
    _mue_from_rows(newest.values(), arrays, meta)


# ---------------------------------------------------------------------------------------------------
# the cache folder


def cache_root(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".edit-tables")


def _write_cache(directory: Path, arrays: Arrays, meta: dict[str, Any]) -> bool:
    """Write atomically (a temp folder renamed into place); False when the folder is not writable."""
    root = directory.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    except OSError as exc:
        log.info("edit-table cache not written (%s)", exc.strerror or exc)
        return False
    try:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(meta, separators=(",", ":")), encoding="utf-8")
        try:
            os.rename(tmp, directory)
        except OSError:  # another process wrote it first
            shutil.rmtree(tmp, ignore_errors=True)
            return directory.is_dir()
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        log.info("edit-table cache not written (%s)", exc.strerror or exc)
        return False
    for old in root.iterdir():  # caches of older releases of the store (only folders this module wrote)
        if old != directory and len(old.name) == 16 and _is_cache(old):
            shutil.rmtree(old, ignore_errors=True)
    return True


def _is_cache(folder: Path) -> bool:
    try:
        with (folder / "meta.json").open(encoding="utf-8") as fh:
            return fh.read(64).startswith('{"format":"medbill-edit-tables/')
    except OSError:
        return False


def _read_cache(directory: Path) -> tuple[Arrays, dict[str, Any]]:
    meta_path = directory / "meta.json"
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodeSetError(f"{meta_path}: not an edit-table cache ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise CodeSetError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    arrays: Arrays = {}
    for path in directory.glob("*.npy"):
        # a plain ndarray view of the memory map: np.memmap indexing goes through Python code
        arrays[path.stem] = np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    return arrays, meta


# ---------------------------------------------------------------------------------------------------
# EditTables


class EditTables:
    """The reference tables the rules consult. Read-only; lookups are memoised per process."""

    def __init__(self, arrays: Mapping[str, npt.NDArray[Any]], meta: Mapping[str, Any], *, origin: str = "") -> None:
        self.arrays = dict(arrays)
        self.meta = dict(meta)
        self.origin = origin  # "store", "cache", "records", "empty"
        self.digest: str = str(meta.get("digest", ""))
        self._flagsets: dict[str, list[frozenset[str]]] = {
            s: [frozenset(f) for f in sets] for s, sets in meta.get("flagsets", {}).items()
        }
        self._coverage: dict[str, tuple[int, int]] = {
            s: (int(a), int(b)) for s, (a, b) in meta.get("coverage", {}).items()
        }
        self.ptp_tables: tuple[str, ...] = tuple(meta.get("ptp_tables", ()))
        self.mue_tables: tuple[str, ...] = tuple(meta.get("mue_tables", ()))
        self._headers: dict[str, str] = dict(meta.get("headers", {}))
        self._sevenths: dict[str, str] = dict(meta.get("sevenths", {}))
        self._excl_raw: dict[str, list[list[str]]] = dict(meta.get("excludes1", {}))
        self._ranges: list[tuple[str, str, str]] = sorted(
            (lo, hi, node) for node, (lo, hi) in meta.get("ranges", {}).items()
        )
        self._proc_age: dict[str, tuple[int, int]] = {
            c: (int(a), int(b)) for c, (a, b) in meta.get("proc_age", {}).items()
        }
        self._proc_sex: dict[str, str] = dict(meta.get("proc_sex", {}))
        self._significant: frozenset[str] = frozenset(meta.get("significant_procedures", ()))
        self._global: dict[str, str] = dict(meta.get("global_days", {}))
        self._pos: frozenset[str] = frozenset(meta.get("pos", ()))
        self._ages: tuple[tuple[str, int, int, int, int], ...] = tuple(
            (str(g), int(a), int(b), int(s), int(e)) for g, a, b, s, e in meta.get("age_ranges", ())
        )
        self._spans: dict[tuple[CodeSystem, str], tuple[Span, ...]] = {}
        self._status: dict[tuple[CodeSystem, str, date], DxStatus] = {}
        self._flags_memo: dict[tuple[CodeSystem, str, int], frozenset[str] | None] = {}
        self._excl_index: dict[str, _ExclIndex] = {}
        self._pair_bits: dict[str, _PairBits] = {}
        self._excl: dict[str, tuple[Excludes1, ...]] = {}
        self._mue: dict[tuple[str, str], tuple[tuple[int, int, int, int], ...]] = {}
        self._enc5: dict[str, int] = {}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def empty(cls) -> EditTables:
        meta = _new_meta()
        meta["age_ranges"] = []
        return cls({}, meta, origin="empty")

    @classmethod
    def open(cls, path: Path, *, cache: bool = True) -> EditTables:
        store = RefStore.open(path)
        try:
            return cls.load(store, cache=cache)
        finally:
            store.close()

    @classmethod
    def load(cls, store: RefStore, *, cache: bool | Path = True) -> EditTables:
        """Tables from ``store``; with ``cache`` (True = beside the store, or a folder), memory-mapped
        from a cache keyed by the store's release SHA-256s, written on first load."""
        digest, releases = _release_digest(store)
        directory: Path | None = None
        if cache is not False:
            if isinstance(cache, Path):
                root = cache
            elif store.path is not None:
                root = cache_root(store.path)
            else:
                root = None
            directory = root / digest[:16] if root is not None else None
        if directory is not None and (directory / "meta.json").is_file():
            try:
                arrays, meta = _read_cache(directory)
                if meta.get("digest") == digest:
                    return cls(arrays, meta, origin="cache")
            except CodeSetError as exc:
                log.warning("ignoring edit-table cache: %s", exc)
        arrays, meta = cls._from_store(store)
        meta["digest"] = digest
        meta["releases"] = releases
        if directory is not None and _write_cache(directory, arrays, meta):
            try:
                arrays, meta = _read_cache(directory)  # memory-mapped from now on
                return cls(arrays, meta, origin="cache")
            except CodeSetError:
                pass
        return cls(arrays, meta, origin="store")

    @staticmethod
    def _from_store(store: RefStore) -> tuple[Arrays, dict[str, Any]]:
        arrays: Arrays = {}
        meta = _new_meta()
        conn = store.conn
        fetched: list[_PtpFetch | BaseException] = []
        worker = None
        if store.path is not None:  # the PTP scan (the longest query) runs beside the others
            worker = threading.Thread(target=_fetch_ptp_apart, args=(store.path, fetched), daemon=True)
            worker.start()
        _load_validity(conn, arrays, meta)
        _load_structure(conn, meta)
        _load_mue(conn, arrays, meta)
        if worker is not None:
            worker.join()
        got = fetched[0] if fetched else None
        _load_ptp(conn, arrays, meta, got if isinstance(got, tuple) else None)
        return arrays, meta

    @classmethod
    def from_cache(cls, directory: Path) -> EditTables:
        """Open a cache folder written by ``load`` (no store needed: for worker processes)."""
        arrays, meta = _read_cache(directory)
        return cls(arrays, meta, origin="cache")

    @classmethod
    def build(
        cls,
        *,
        validity: Iterable[ValidityRow] = (),
        headers: Mapping[str, str] | None = None,
        sevenths: Iterable[SeventhCharRow] = (),
        notes: Iterable[NoteRow] = (),
        blocks: Iterable[tuple[str, str | None]] = (),
        ptp: Iterable[PtpRow] = (),
        mue: Iterable[MueRow] = (),
        procedure_attrs: Mapping[str, Mapping[str, Any]] | None = None,
        global_days: Mapping[str, str] | None = None,
        pos: Iterable[str] = (),
        age_ranges: Sequence[AgeRange] = DEFAULT_AGE_RANGES,
    ) -> EditTables:
        """Small tables from records (tests, fixtures); the same arrays ``load`` makes."""
        arrays: Arrays = {}
        meta = _new_meta()
        per: dict[CodeSystem, list[tuple[str, int, int, tuple[str, ...]]]] = {}
        for v in validity:
            per.setdefault(v.system, []).append((v.code, v.valid_from.toordinal(), _ordinal(v.valid_to), v.flags))
        for system, rows in per.items():
            _validity_arrays(system, rows, arrays, meta)
            meta["validity_source"][str(system)] = "validity"
        meta["headers"] = dict(headers or {})
        sev: dict[str, set[str]] = {}
        for s in sevenths:
            sev.setdefault(s.code, set()).add(s.char)
        meta["sevenths"] = {c: "".join(sorted(chars)) for c, chars in sev.items()}
        meta["excludes1"] = _excludes1_meta((n.code, n.text) for n in notes if n.kind == "excludes1")
        meta["ranges"] = _block_ranges(blocks)
        _ptp_from_rows(ptp, arrays, meta)
        _mue_from_rows(mue, arrays, meta)
        for code, a in (procedure_attrs or {}).items():
            _proc_attrs(code, a.get("age_range"), a.get("sex"), a.get("status_indicator"), meta)
        meta["significant_procedures"] = sorted(set(meta["significant_procedures"]))
        meta["global_days"] = dict(global_days or {})
        meta["pos"] = sorted(set(pos))
        meta["age_ranges"] = [
            [a.group, a.min_age, a.max_age, a.valid_from.toordinal(), _ordinal(a.valid_to)] for a in age_ranges
        ]
        h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
        meta["digest"] = h.hexdigest()
        return cls(arrays, meta, origin="records")

    # ------------------------------------------------------------------ what is loaded
    def has(self, system: CodeSystem) -> bool:
        """Whether validity for ``system`` is loaded (POS: whether the POS list is)."""
        if system is CodeSystem.POS:
            return bool(self._pos)
        return f"val_{system}_key" in self.arrays

    def covers(self, system: CodeSystem, on: date) -> bool:
        """Whether the loaded ranges of ``system`` reach ``on`` (False when not loaded)."""
        cov = self._coverage.get(str(system))
        return cov is not None and cov[0] <= on.toordinal() <= cov[1]

    def coverage(self, system: CodeSystem) -> tuple[date, date | None] | None:
        cov = self._coverage.get(str(system))
        if cov is None:
            return None
        return date.fromordinal(cov[0]), None if cov[1] >= OPEN else date.fromordinal(cov[1])

    def validity_source(self, system: CodeSystem) -> str | None:
        src = self.meta.get("validity_source", {}).get(str(system))
        return str(src) if src else None

    def summary(self) -> dict[str, Any]:
        """What is loaded, for reports and the benchmark."""
        return {
            "origin": self.origin,
            "digest": self.digest[:16],
            "validity": {
                s: int(self.arrays[f"val_{s}_key"].size)
                for s in map(str, VALIDITY_SYSTEMS)
                if f"val_{s}_key" in self.arrays
            },
            "ptp": {t: int(self.arrays[f"ptp_{t}_key"].size) for t in self.ptp_tables},
            "mue": {t: int(self.arrays[f"mue_{t}_key"].size) for t in self.mue_tables},
            "excludes1_nodes": len(self._excl_raw),
            "pos": len(self._pos),
        }

    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()))

    # ------------------------------------------------------------------ validity
    def spans(self, system: CodeSystem, code: str) -> tuple[Span, ...]:
        """Every validity range of ``code`` (empty when the code is not in the table)."""
        memo_key = (system, code)
        found = self._spans.get(memo_key)
        if found is not None:
            return found
        out: tuple[Span, ...] = ()
        s = str(system)
        keys = self.arrays.get(f"val_{s}_key")
        k = code_key(code)
        if keys is not None and k >= 0:
            lo = int(np.searchsorted(keys, k, "left"))
            hi = int(np.searchsorted(keys, k, "right"))
            if hi > lo:
                st = self.arrays[f"val_{s}_start"]
                en = self.arrays[f"val_{s}_end"]
                fl = self.arrays[f"val_{s}_flags"]
                sets = self._flagsets[s]
                out = tuple(Span(int(st[i]), int(en[i]), sets[int(fl[i])]) for i in range(lo, hi))
        self._spans[memo_key] = out
        return out

    def flags_on(self, system: CodeSystem, code: str, on: int) -> frozenset[str] | None:
        """The flags in force on ordinal ``on``; None when the code is not valid then."""
        memo_key = (system, code, on)
        found = self._flags_memo.get(memo_key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        result: frozenset[str] | None = None
        for sp in self.spans(system, code):
            if sp.start <= on <= sp.end:
                result = sp.flags
                break
        if len(self._flags_memo) > 500_000:
            self._flags_memo.clear()
        self._flags_memo[memo_key] = result
        return result

    def is_valid(self, system: CodeSystem, code: str, on: date) -> bool:
        return self.flags_on(system, code, on.toordinal()) is not None

    def last_flags(self, system: CodeSystem, code: str, group: frozenset[str], on: int) -> frozenset[str]:
        """Flags of ``group`` in force on ``on``, else those of the latest earlier range carrying any:
        how a withdrawn edit (MCE sex flags ended 2024-09-30) is applied when a payer re-enables it."""
        spans = self.spans(system, code)
        for sp in spans:
            if sp.start <= on <= sp.end and sp.flags & group:
                return sp.flags & group
        best: frozenset[str] = frozenset()
        for sp in spans:
            if sp.start <= on and sp.flags & group:
                best = sp.flags & group
        return best

    def dx_status(self, code: str, on: date, system: CodeSystem = CodeSystem.ICD10CM) -> DxStatus:
        """Whether an ICD-10-CM/PCS code is billable on ``on``, and if not, why."""
        memo_key = (system, code, on)
        found = self._status.get(memo_key)
        if found is None:
            if len(self._status) > 500_000:
                self._status.clear()
            found = self._status[memo_key] = self._dx_status(code, on, system)
        return found

    def _dx_status(self, code: str, on: date, system: CodeSystem) -> DxStatus:
        if not self.has(system):
            return DxStatus("no_table")
        o = on.toordinal()
        spans = self.spans(system, code)
        if any(sp.start <= o <= sp.end for sp in spans):
            return DxStatus("valid", spans)
        if not self.covers(system, on):
            return DxStatus("outside_table", spans)
        if spans:
            return DxStatus("not_on_date", spans)
        if system is CodeSystem.ICD10CM:
            sev = self.seventh_for(code)
            if sev is not None:
                node, chars = sev
                if len(code) < 7:
                    return DxStatus("needs_seventh", node=node, chars=chars)
                if code[6] not in chars:
                    return DxStatus("bad_seventh", node=node, chars=chars)
            kind = self._headers.get(code)
            if kind is not None:
                return DxStatus("header", kind=kind)
        return DxStatus("unknown")

    def seventh_for(self, code: str) -> tuple[str, str] | None:
        """(node, allowed characters) of the nearest ancestor defining 7th characters."""
        for n in range(min(len(code), 6), 2, -1):
            chars = self._sevenths.get(code[:n])
            if chars is not None:
                return code[:n], chars
        return None

    def header_kind(self, code: str) -> str | None:
        return self._headers.get(code)

    # ------------------------------------------------------------------ Excludes1
    def excludes1_of(self, code: str) -> tuple[Excludes1, ...]:
        """Excludes1 notes that apply to ``code``: at the code, its ancestors, its block and chapter."""
        found = self._excl.get(code)
        if found is not None:
            return found
        out: list[Excludes1] = []
        raw = self._excl_raw
        for n in range(len(code), 2, -1):
            for lo, hi, text in raw.get(code[:n], ()):
                out.append(Excludes1(code[:n], lo, hi, text))
        cat = code[:3]
        for lo, hi, node in self._ranges:
            if lo <= cat <= hi:
                for elo, ehi, text in raw.get(node, ()):
                    out.append(Excludes1(node, elo, ehi, text))
        result = tuple(out)
        self._excl[code] = result
        return result

    def excludes1(self, code: str, other: str) -> Excludes1 | None:
        """The Excludes1 note under ``code`` that names ``other``, if any."""
        idx = self._excl_index.get(code)
        if idx is None:
            idx = self._excl_index[code] = _ExclIndex(code, self.excludes1_of(code))
        return idx.find(other)

    # ------------------------------------------------------------------ NCCI PTP
    def _code5(self, code: str) -> int:
        k = self._enc5.get(code)
        if k is None:
            k = code5(code)
            self._enc5[code] = k
        return k

    def _ptp_index(self, table: str) -> _PairBits | None:
        found = self._pair_bits.get(table)
        if found is None and f"ptp_{table}_bits" in self.arrays:
            found = self._pair_bits[table] = _PairBits(
                self.arrays[f"ptp_{table}_c1"], self.arrays[f"ptp_{table}_c2"], self.arrays[f"ptp_{table}_bits"]
            )
        return found

    def ptp_any(self, table: str, codes: Sequence[str]) -> bool:
        """Whether any two of ``codes`` form a pair in ``table`` (any dates): a cheap first test."""
        bits = self._ptp_index(table)
        return bits is not None and bool(bits.pairs(codes))

    def ptp_pairs(self, table: str, codes: Sequence[str], focus: Sequence[str] | None = None) -> list[PtpEdit]:
        """Every PTP row of ``table`` whose column 1 and column 2 are both among ``codes`` (any dates);
        with ``focus``, only pairs in which at least one code is a ``focus`` code.

        Candidate pairs are tested in the pair bit matrix first (one bit per column-1/column-2 code pair
        with any row), so a claim without pairs touches no NumPy call; the rows of a pair that exists
        are then found by binary search in the sorted keys."""
        keys = self.arrays.get(f"ptp_{table}_key")
        bits = self._ptp_index(table)
        if keys is None or keys.size == 0 or bits is None:
            return []
        pairs = bits.pairs(codes)
        if focus is not None and pairs:
            near = set(focus)
            pairs = [(a, b) for a, b in pairs if a in near or b in near]
        if not pairs:
            return []
        mi = self.arrays[f"ptp_{table}_mi"]
        eff = self.arrays[f"ptp_{table}_eff"]
        dele = self.arrays[f"ptp_{table}_del"]
        size = int(keys.size)
        out: list[PtpEdit] = []
        for c1, c2 in pairs:
            k = (self._code5(c1) << 26) | self._code5(c2)
            p = int(keys.searchsorted(k))
            while p < size and int(keys[p]) == k:
                out.append(PtpEdit(table, c1, c2, str(int(mi[p])), int(eff[p]), int(dele[p])))
                p += 1
        return out

    def ptp_sample(self, table: str, rows: Sequence[int]) -> list[PtpEdit]:
        """PTP rows by position (for tests and benchmarks)."""
        keys = self.arrays[f"ptp_{table}_key"]
        out = []
        for i in rows:
            k = int(keys[i])
            out.append(
                PtpEdit(
                    table,
                    _decode5(k >> 26),
                    _decode5(k & ((1 << 26) - 1)),
                    str(int(self.arrays[f"ptp_{table}_mi"][i])),
                    int(self.arrays[f"ptp_{table}_eff"][i]),
                    int(self.arrays[f"ptp_{table}_del"][i]),
                )
            )
        return out

    # ------------------------------------------------------------------ MUE
    def mue(self, table: str, code: str, on: date) -> MueLimit | None:
        memo_key = (table, code)
        rows = self._mue.get(memo_key)
        if rows is None:
            keys = self.arrays.get(f"mue_{table}_key")
            k = self._code5(code)
            found: list[tuple[int, int, int, int]] = []
            if keys is not None and k >= 0:
                lo = int(np.searchsorted(keys, k, "left"))
                hi = int(np.searchsorted(keys, k, "right"))
                u, m = self.arrays[f"mue_{table}_units"], self.arrays[f"mue_{table}_mai"]
                e, d = self.arrays[f"mue_{table}_eff"], self.arrays[f"mue_{table}_del"]
                found = [(int(u[i]), int(m[i]), int(e[i]), int(d[i])) for i in range(lo, hi)]
            rows = tuple(found)
            self._mue[memo_key] = rows
        o = on.toordinal()
        for units, mai, eff, dele in rows:
            if eff <= o < dele:
                return MueLimit(table, code, units, mai)
        return None

    # ------------------------------------------------------------------ procedures, POS, ages
    def procedure_age(self, code: str) -> tuple[int, int] | None:
        """The I/OCE age range of a CPT/HCPCS code when it is not 0-124."""
        return self._proc_age.get(code)

    def procedure_sex(self, code: str) -> str | None:
        return self._proc_sex.get(code)

    def is_significant_procedure(self, code: str) -> bool:
        """I/OCE status indicator T, S or J1 (a procedure that makes a same-day visit need modifier 25)."""
        return code in self._significant

    def global_days(self, code: str) -> str | None:
        """PFS global surgery days ('000', '010', '090') when the code has a global period."""
        return self._global.get(code)

    @property
    def has_global_days(self) -> bool:
        return bool(self._global)

    @property
    def has_significant_procedures(self) -> bool:
        return bool(self._significant)

    def pos_valid(self, code: str) -> bool:
        return code in self._pos

    def age_range(self, group: str, on: date) -> tuple[int, int] | None:
        o = on.toordinal()
        for g, lo, hi, start, end in self._ages:
            if g.lower() == group.lower() and start <= o <= end:
                return lo, hi
        return None


_MISSING = object()


class _ExclIndex:
    """The Excludes1 notes of one code, indexed by prefix for a fast test of another code."""

    __slots__ = ("prefixes", "lengths", "ranges")

    def __init__(self, code: str, notes: Sequence[Excludes1]) -> None:
        self.prefixes: dict[str, Excludes1] = {}
        self.ranges: list[Excludes1] = []
        for ex in notes:
            if ex.matches(code):  # a note naming the code itself (or its own range) says nothing here
                continue
            if ex.lo == ex.hi:
                self.prefixes.setdefault(ex.lo, ex)
            else:
                self.ranges.append(ex)
        self.lengths = tuple(sorted({len(p) for p in self.prefixes}))

    def find(self, other: str) -> Excludes1 | None:
        for n in self.lengths:
            ex = self.prefixes.get(other[:n])
            if ex is not None:
                return ex
        for ex in self.ranges:
            if ex.matches(other):
                return ex
        return None


def _decode5(value: int) -> str:
    chars = []
    for _ in range(5):
        value, d = divmod(value, 36)
        chars.append("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[d])
    return "".join(reversed(chars))

"""The read-only reference store: code lookup, validity by date, notes, hierarchy.

Open it with ``RefStore.open(path)``; it is a SQLite file built by ``medbill data build``. Every
answer is as of a date (default: today): a claim is judged by the codes in effect on its date of
service. Exceptions raised here are ``InvalidCode`` (one-line message, nearest valid codes) and
``CodeSetError`` (the store is missing or empty).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from medbill.core.codes import CodeSystem, candidate_systems, display, is_well_formed, normalize, parse_system
from medbill.core.errors import CodeSetError, InvalidCode

# Note kinds that apply to every code below the node where they stand (ICD-10-CM conventions,
# Section I.A.12-17): includes, excludes, code first / use additional / code also.
# Inclusion terms and plain notes belong to their own code; 7th characters are handled apart.
INHERITED_NOTE_KINDS = frozenset(
    {"includes", "excludes1", "excludes2", "code_first", "use_additional", "code_also", "note"}
)

_NOTE_ORDER = {
    k: i
    for i, k in enumerate(
        (
            "inclusion",
            "includes",
            "excludes1",
            "excludes2",
            "code_first",
            "use_additional",
            "code_also",
            "note",
            "seven_chr_note",
        )
    )
}

CPT_LICENSE_NOTE = "descriptor requires a CPT license (load yours with `medbill data import-cpt FILE`)"


@dataclass(frozen=True, slots=True)
class NoteInfo:
    kind: str
    text: str
    at: str  # display code of the node where the note stands
    inherited: bool

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "at": self.at, "inherited": self.inherited}


@dataclass(frozen=True, slots=True)
class PathNode:
    code: str
    display: str
    kind: str
    description: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.display, "kind": self.kind, "description": self.description}


@dataclass(frozen=True, slots=True)
class Validity:
    valid_from: date
    valid_to: date | None
    flags: tuple[str, ...]

    def covers(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.valid_from.isoformat(),
            "to": self.valid_to.isoformat() if self.valid_to else None,
            "flags": list(self.flags),
        }


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """Everything a coder needs to know about one code, as of a date."""

    system: CodeSystem
    code: str
    kind: str
    billable: bool  # billable on ``as_of``
    valid: bool  # exists and is in effect on ``as_of``
    as_of: date
    description: str | None
    short_description: str | None
    description_note: str | None  # why a description is missing or partial
    path: tuple[PathNode, ...]  # from the chapter down to the parent
    notes: tuple[NoteInfo, ...]
    seventh_characters: tuple[tuple[str, str], ...]  # options when this code needs a 7th character
    needs_seventh: bool
    children: tuple[PathNode, ...]
    validity: tuple[Validity, ...]
    flags: tuple[str, ...]  # edit flags in force on as_of (MCE / I/OCE)
    attrs: dict[str, Any] = field(default_factory=dict)
    release: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        return display(self.code, self.system)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": str(self.system),
            "code": self.display,
            "kind": self.kind,
            "billable": self.billable,
            "valid": self.valid,
            "as_of": self.as_of.isoformat(),
            "description": self.description,
            "short_description": self.short_description,
            "description_note": self.description_note,
            "path": [p.to_dict() for p in self.path],
            "notes": [n.to_dict() for n in self.notes],
            "needs_seventh_character": self.needs_seventh,
            "seventh_characters": [{"char": c, "meaning": t} for c, t in self.seventh_characters],
            "children": [c.to_dict() for c in self.children],
            "validity": [v.to_dict() for v in self.validity],
            "flags": list(self.flags),
            "attributes": self.attrs,
            "release": self.release,
            "warnings": list(self.warnings),
        }


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    id: int
    dataset: str
    system: str | None
    release: str
    source: str
    sha256: str
    effective_from: date | None
    effective_to: date | None
    rows: int
    loaded_at: str


class RefStore:
    """Read-only access to the reference store."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.conn = conn
        self.path = path
        self._releases = self._load_releases()
        self._has_validity = {str(r[0]) for r in conn.execute("SELECT DISTINCT system FROM validity").fetchall()}
        self._desc_cache: dict[tuple[str, str], str | None] = {}
        # hierarchy nodes, notes and 7th characters are shared by every code below them: cache them
        self._node_cache: dict[tuple[str, str], tuple[str, str | None] | None] = {}
        self._notes_cache: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._seventh_cache: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._preloaded = False

    def _preload(self) -> None:
        """Load, once, what lookups share: every instructional note and every 7th-character
        definition (~27k rows). Hierarchy nodes are cached as lookups meet them."""
        if self._preloaded:
            return
        self._preloaded = True
        newest: dict[tuple[str, str], int] = {}
        notes: dict[tuple[str, str, int], list[tuple[str, str]]] = {}
        for system, code, rid, kind, text in self.conn.execute(
            "SELECT system, code, release_id, kind, text FROM note ORDER BY system, code, release_id, seq"
        ):
            newest[(system, code)] = max(newest.get((system, code), 0), rid)
            notes.setdefault((system, code, rid), []).append((kind, text))
        for (system, code), rid in newest.items():
            self._notes_cache[(system, code)] = notes[(system, code, rid)]
        newest.clear()
        sevenths: dict[tuple[str, str, int], list[tuple[str, str]]] = {}
        for system, code, rid, char, text in self.conn.execute(
            "SELECT system, code, release_id, char, text FROM seventh ORDER BY system, code, release_id, rowid"
        ):
            newest[(system, code)] = max(newest.get((system, code), 0), rid)
            sevenths.setdefault((system, code, rid), []).append((char, text))
        for (system, code), rid in newest.items():
            self._seventh_cache[(system, code)] = sevenths[(system, code, rid)]

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: Path) -> RefStore:
        if not path.is_file():
            raise CodeSetError(
                f"reference store {path} does not exist",
                hint="build it with `medbill data build`",
            )
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        try:
            (count,) = conn.execute("SELECT count(*) FROM release").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CodeSetError(f"{path} is not a medbill reference store: {exc}") from exc
        if count == 0:
            raise CodeSetError(f"reference store {path} is empty", hint="run `medbill data build`")
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def _load_releases(self) -> list[ReleaseInfo]:
        rows = self.conn.execute(
            "SELECT id, dataset, system, release, source, sha256, effective_from, effective_to, rows,"
            " loaded_at FROM release ORDER BY id"
        ).fetchall()
        return [ReleaseInfo(r[0], r[1], r[2], r[3], r[4], r[5], _d(r[6]), _d(r[7]), r[8], r[9]) for r in rows]

    @property
    def releases(self) -> list[ReleaseInfo]:
        return list(self._releases)

    def newest_end(self, system: CodeSystem) -> date | None:
        """The last date covered by the loaded releases of a code system (None = open-ended)."""
        ends = [r.effective_to for r in self._releases if r.system == str(system)]
        if not ends:
            return None
        if any(e is None for e in ends):
            return None
        return max(e for e in ends if e is not None)

    def staleness_warning(self, system: CodeSystem, on: date) -> str | None:
        end = self.newest_end(system)
        if end is not None and on > end:
            return (
                f"the newest loaded {system.label} release ends {end.isoformat()}; "
                f"codes for {on.isoformat()} may have changed (code sets change every October 1): "
                "load the current release with `medbill data fetch` and `medbill data build`"
            )
        return None

    # ------------------------------------------------------------------ raw rows
    def _rows(self, system: CodeSystem, code: str) -> list[sqlite3.Row | tuple[Any, ...]]:
        return self.conn.execute(
            "SELECT c.kind, c.billable, c.long_desc, c.short_desc, c.parent, c.valid_from, c.valid_to,"
            " c.attrs, r.release, r.effective_from, r.effective_to, r.id, r.dataset"
            " FROM code c JOIN release r ON r.id = c.release_id WHERE c.system=? AND c.code=?"
            " ORDER BY r.effective_from DESC, r.id DESC",
            (str(system), code),
        ).fetchall()

    def validity(self, system: CodeSystem, code: str) -> tuple[Validity, ...]:
        rows = self.conn.execute(
            "SELECT valid_from, valid_to, flags FROM validity WHERE system=? AND code=? ORDER BY valid_from",
            (str(system), code),
        ).fetchall()
        return tuple(Validity(date.fromisoformat(a), _d(b), tuple(f for f in c.split("|") if f)) for a, b, c in rows)

    def exists(self, system: CodeSystem, code: str) -> bool:
        if self.conn.execute("SELECT 1 FROM code WHERE system=? AND code=? LIMIT 1", (str(system), code)).fetchone():
            return True
        return (
            self.conn.execute(
                "SELECT 1 FROM validity WHERE system=? AND code=? LIMIT 1", (str(system), code)
            ).fetchone()
            is not None
        )

    def describe(self, system: CodeSystem, code: str) -> str | None:
        key = (str(system), code)
        if key not in self._desc_cache:
            row = self.conn.execute(
                "SELECT c.long_desc, c.short_desc FROM code c JOIN release r ON r.id=c.release_id"
                " WHERE c.system=? AND c.code=? ORDER BY (c.long_desc IS NULL), r.effective_from DESC LIMIT 1",
                key,
            ).fetchone()
            self._desc_cache[key] = (row[0] or row[1]) if row else None
        return self._desc_cache[key]

    def children(self, system: CodeSystem, code: str) -> tuple[PathNode, ...]:
        rows = self.conn.execute(
            "SELECT DISTINCT code, kind FROM code WHERE system=? AND parent=? ORDER BY code",
            (str(system), code),
        ).fetchall()
        return tuple(PathNode(c, display(c, system), k, self.describe(system, c)) for c, k in rows)

    def _parent_chain(self, system: CodeSystem, code: str) -> list[tuple[str, str]]:
        """[(code, kind)] from the node itself up to the root."""
        chain: list[tuple[str, str]] = []
        current: str | None = code
        seen: set[str] = set()
        while current and current not in seen:
            seen.add(current)
            key = (str(system), current)
            if key not in self._node_cache:
                found = self.conn.execute(
                    "SELECT kind, parent FROM code WHERE system=? AND code=? ORDER BY release_id DESC LIMIT 1", key
                ).fetchone()
                self._node_cache[key] = (found[0], found[1]) if found else None
            row = self._node_cache[key]
            if row is None:
                break
            chain.append((current, row[0]))
            current = row[1]
        return chain

    # ------------------------------------------------------------------ lookup
    def lookup(self, text: str, *, system: CodeSystem | str | None = None, on: date | None = None) -> list[CodeInfo]:
        """Look a code up. Without a system, every system whose shape fits is tried (J1100 is two codes).

        Raises ``InvalidCode`` when nothing is found, with the nearest valid codes.
        """
        on = on or date.today()
        if system is not None:
            sys_ = system if isinstance(system, CodeSystem) else parse_system(system)
            return [self.get(text, system=sys_, on=on)]
        systems = candidate_systems(text)
        if not systems:
            raise InvalidCode(
                f"{text.strip()!r} does not look like an ICD-10-CM, ICD-10-PCS, CPT or HCPCS code",
                hint="give the system with --system (modifier, pos, carc, rarc, revenue ...)",
                reason="malformed",
            )
        found: list[CodeInfo] = []
        errors: list[InvalidCode] = []
        for sys_ in systems:
            try:
                found.append(self.get(text, system=sys_, on=on))
            except InvalidCode as exc:
                errors.append(exc)
        if found:
            return found
        raise errors[0]

    def get(self, text: str, *, system: CodeSystem, on: date | None = None) -> CodeInfo:
        on = on or date.today()
        self._preload()
        value = normalize(text, system)
        if not is_well_formed(value, system):
            raise InvalidCode(
                f"{text.strip()!r} is not a well-formed {system.label} code",
                suggestions=self.nearest(system, value),
                reason="malformed",
            )
        rows = self._rows(system, value)
        validity = self.validity(system, value)
        if not rows and not validity:
            near = self.nearest(system, value)
            hint = f"did you mean {', '.join(near[:5])}?" if near else None
            raise InvalidCode(
                f"{display(value, system)} does not exist in {system.label}",
                hint=hint,
                suggestions=near,
                reason="unknown",
            )
        return self._info(system, value, rows, validity, on)

    def _choose_row(self, rows: list[Any], on: date) -> Any | None:
        for row in rows:
            eff_from, eff_to = _d(row[9]), _d(row[10])
            if (eff_from is None or eff_from <= on) and (eff_to is None or on <= eff_to):
                return row
        return rows[0] if rows else None

    def _info(
        self, system: CodeSystem, value: str, rows: list[Any], validity: tuple[Validity, ...], on: date
    ) -> CodeInfo:
        row = self._choose_row(rows, on)
        warnings: list[str] = []
        stale = self.staleness_warning(system, on)
        if stale:
            warnings.append(stale)
        hierarchical = system in (CodeSystem.ICD10CM, CodeSystem.ICD10PCS)
        kind = row[0] if row else ("code" if hierarchical else "item")
        attrs: dict[str, Any] = json.loads(row[7]) if row and row[7] else {}
        release = row[8] if row else None
        in_force = [v for v in validity if v.covers(on)]
        if rows:  # the leaf's own place in the hierarchy: already in hand
            self._node_cache.setdefault((str(system), value), (rows[0][0], rows[0][4]))
        chain = self._parent_chain(system, value)
        sevenths, needs = self._sevenths(system, value, chain, kind)
        leaf = kind in ("code", "item") and not needs
        has_validity = str(system) in self._has_validity
        if has_validity and in_force:
            # the validity tables list billable codes only: in force on that date = billable then,
            # even if a later release split it into children (C83.39 until FY2025)
            valid = billable = True
            needs = False
            leaf = True
        elif not leaf:
            # a category, subcategory or code that still needs its 7th character: a place in the
            # hierarchy (valid to look at and to search under) that never goes on a claim
            valid = row is not None
            billable = False
        elif has_validity and (validity or row is None or kind == "code"):
            valid = billable = False
        else:
            # no date-ranged validity for this system: the code row's own dates and its release's
            valid = row is not None and self._row_covers(row, on)
            billable = valid and row is not None and bool(row[1])
        if leaf and not valid and validity:
            spans = ", ".join(
                f"{v.valid_from.isoformat()}..{v.valid_to.isoformat() if v.valid_to else 'open'}" for v in validity
            )
            warnings.append(f"{display(value, system)} is not valid on {on.isoformat()} (valid {spans})")
        flags = tuple(sorted({f for v in in_force for f in v.flags}))

        # descriptions: the chosen release's, else any release's (say where it came from)
        long_desc = row[2] if row else None
        short_desc = row[3] if row else None
        desc_note: str | None = None
        if long_desc is None:
            for other in rows:
                if other[2]:
                    long_desc = other[2]
                    desc_note = f"description from the {other[8]} release"
                    break
        if not long_desc and (system is CodeSystem.CPT or (system is CodeSystem.MODIFIER and value.isdigit())):
            desc_note = CPT_LICENSE_NOTE  # CPT codes and Level I (numeric) modifiers are the AMA's
        elif long_desc is None and short_desc:
            desc_note = "long description not in the loaded files: short descriptor shown"
        elif long_desc is None and short_desc is None:
            desc_note = f"no description in the loaded {system.label} releases"

        path = tuple(PathNode(c, display(c, system), k, self.describe(system, c)) for c, k in reversed(chain[1:]))
        notes = self._notes(system, chain)
        children = self.children(system, value) if kind not in ("code", "item") or needs else ()
        return CodeInfo(
            system=system,
            code=value,
            kind=kind,
            billable=billable,
            valid=valid,
            as_of=on,
            description=long_desc,
            short_description=short_desc,
            description_note=desc_note,
            path=path,
            notes=notes,
            seventh_characters=sevenths,
            needs_seventh=needs,
            children=children,
            validity=validity,
            flags=flags,
            attrs=attrs,
            release=release,
            warnings=tuple(warnings),
        )

    @staticmethod
    def _row_covers(row: Any, on: date) -> bool:
        lo = _d(row[5]) or _d(row[9])
        hi = _d(row[6]) or _d(row[10])
        return (lo is None or lo <= on) and (hi is None or on <= hi)

    def _notes(self, system: CodeSystem, chain: list[tuple[str, str]]) -> tuple[NoteInfo, ...]:
        out: list[NoteInfo] = []
        for depth, (code, _kind) in enumerate(chain):
            rows = self._notes_cache.get((str(system), code), [])
            for kind, text in sorted(rows, key=lambda r: _NOTE_ORDER.get(r[0], 99)):
                if depth == 0 or kind in INHERITED_NOTE_KINDS:
                    out.append(NoteInfo(kind, text, display(code, system), depth > 0))
        return tuple(out)

    def _sevenths(
        self, system: CodeSystem, value: str, chain: list[tuple[str, str]], kind: str
    ) -> tuple[tuple[tuple[str, str], ...], bool]:
        for code, _k in chain:
            rows = self._seventh_cache.get((str(system), code), [])
            if rows:
                options = tuple((c, t) for c, t in rows)
                # a code under a 7th-character definition needs one unless it already has 7 characters
                needs = len(value) < 7 and kind not in ("chapter", "block", "category", "subcategory")
                return options, needs
        return (), False

    # ------------------------------------------------------------------ validation
    def require_billable(self, text: str, *, system: CodeSystem, on: date) -> CodeInfo:
        """The code, if it may go on a claim on ``on``; otherwise ``InvalidCode`` with a one-line reason."""
        info = self.get(text, system=system, on=on)
        shown = info.display
        if info.needs_seventh:
            opts = ", ".join(f"{shown}{'X' * max(0, 6 - len(info.code))}{c}" for c, _ in info.seventh_characters[:4])
            raise InvalidCode(
                f"{shown} needs a 7th character ({opts} ...)",
                suggestions=tuple(
                    display(info.code + "X" * max(0, 6 - len(info.code)) + c, system)
                    for c, _ in info.seventh_characters
                ),
                reason="needs_seventh",
            )
        if not info.valid and info.kind in ("code", "item"):
            raise InvalidCode(
                f"{shown} is not valid on {on.isoformat()}"
                + (f" ({info.warnings[-1].split('(valid ')[-1].rstrip(')')})" if info.validity else ""),
                reason="not_valid_on_date",
            )
        if not info.billable:
            leaves = [c.display for c in info.children]
            span = f"{leaves[0]}–{leaves[-1]}" if len(leaves) > 1 else (leaves[0] if leaves else "")
            what = {
                "category": "a category",
                "subcategory": "a subcategory",
                "chapter": "a chapter",
                "block": "a block of categories",
            }.get(info.kind, "not billable")
            msg = f"{shown} is {what}; choose one of {span}" if span else f"{shown} is {what}"
            raise InvalidCode(msg, suggestions=tuple(leaves), reason="not_billable")
        return info

    # ------------------------------------------------------------------ suggestions
    def nearest(self, system: CodeSystem, value: str, limit: int = 8) -> tuple[str, ...]:
        """Nearest existing codes: children of the longest existing prefix, else similar codes."""
        for cut in range(len(value), 2, -1):
            prefix = value[:cut]
            rows = self.conn.execute(
                "SELECT DISTINCT code FROM code WHERE system=? AND code>=? AND code<? AND billable=1"
                " ORDER BY code LIMIT ?",
                (str(system), prefix, prefix + "\x7f", limit),
            ).fetchall()
            if rows:
                return tuple(display(r[0], system) for r in rows)
        return tuple(display(c, system) for c in _similar(self, system, value, limit))

    def iter_codes(self, system: CodeSystem, *, billable_only: bool = False) -> Iterator[str]:
        sql = "SELECT DISTINCT code FROM code WHERE system=?" + (" AND billable=1" if billable_only else "")
        for (c,) in self.conn.execute(sql, (str(system),)):
            yield c

    def active_codes(self, system: CodeSystem, on: date) -> set[str]:
        """Codes with a validity range covering ``on`` (the billable set for ICD-10-CM/PCS)."""
        d = on.isoformat()
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT code FROM validity WHERE system=? AND valid_from<=?"
                " AND (valid_to IS NULL OR valid_to>=?)",
                (str(system), d, d),
            )
        }


def _similar(store: RefStore, system: CodeSystem, value: str, limit: int) -> list[str]:
    from difflib import get_close_matches

    pool = _code_pool(store, str(system), value[:1])
    return get_close_matches(value, pool, n=limit, cutoff=0.6)


@lru_cache(maxsize=64)
def _code_pool(store: RefStore, system: str, first: str) -> list[str]:
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT DISTINCT code FROM code WHERE system=? AND substr(code,1,1)=? AND billable=1",
            (system, first),
        )
    ]

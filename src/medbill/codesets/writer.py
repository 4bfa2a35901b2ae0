"""Writes parsed records into the reference store, one release per transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from medbill.codesets.records import (
    CodeRow,
    GpciRow,
    IndexRow,
    MueRow,
    NoteRow,
    PtpRow,
    RvuRow,
    SeventhCharRow,
    ValidityRow,
)

_BATCH = 20_000


def iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _json_default(obj: object) -> object:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return sorted(obj) if isinstance(obj, (set, frozenset)) else list(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def to_json(value: Mapping[str, Any]) -> str | None:
    if not value:
        return None
    return json.dumps(value, default=_json_default, sort_keys=True, separators=(",", ":"))


class ReleaseWriter:
    """Inserts records tagged with one release id. Counts what it wrote."""

    def __init__(self, conn: sqlite3.Connection, release_id: int) -> None:
        self.conn = conn
        self.release_id = release_id
        self.count = 0

    def _many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
        n = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= _BATCH:
                self.conn.executemany(sql, batch)
                n += len(batch)
                batch.clear()
        if batch:
            self.conn.executemany(sql, batch)
            n += len(batch)
        self.count += n
        return n

    def codes(self, rows: Iterable[CodeRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO code(system, code, release_id, kind, billable, long_desc, short_desc, parent,"
            " valid_from, valid_to, attrs) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    str(r.system),
                    r.code,
                    rid,
                    r.kind,
                    int(r.billable),
                    r.long_desc,
                    r.short_desc,
                    r.parent,
                    iso(r.valid_from),
                    iso(r.valid_to),
                    to_json(r.attrs),
                )
                for r in rows
            ),
        )

    def notes(self, rows: Iterable[NoteRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO note(system, code, release_id, kind, seq, text) VALUES (?,?,?,?,?,?)",
            ((str(r.system), r.code, rid, r.kind, r.seq, r.text) for r in rows),
        )

    def sevenths(self, rows: Iterable[SeventhCharRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO seventh(system, code, release_id, char, text) VALUES (?,?,?,?,?)",
            ((str(r.system), r.code, rid, r.char, r.text) for r in rows),
        )

    def derived_terms(self, system: str, rows: Iterable[tuple[str, str, str]]) -> int:
        """(code, term, source) search terms derived from a release."""
        rid = self.release_id
        return self._many(
            "INSERT INTO derived_term(system, code, term, source, release_id) VALUES (?,?,?,?,?)",
            ((system, code, term, source, rid) for code, term, source in rows),
        )

    def validity(self, rows: Iterable[ValidityRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO validity(system, code, valid_from, valid_to, flags, release_id) VALUES (?,?,?,?,?,?)",
            ((str(r.system), r.code, iso(r.valid_from), iso(r.valid_to), "|".join(r.flags), rid) for r in rows),
        )

    def index_entries(self, rows: Iterable[tuple[str, IndexRow]]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO index_entry(release_id, idx, id, parent_id, level, title, path, nemod, codes, manif,"
            " see, see_also) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    rid,
                    r.index,
                    r.id,
                    r.parent_id,
                    r.level,
                    r.title,
                    path,
                    r.nemod,
                    json.dumps(dict(r.codes), sort_keys=True),
                    r.manif,
                    r.see,
                    r.see_also,
                )
                for path, r in rows
            ),
        )

    def ptp(self, rows: Iterable[PtpRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO ptp(tbl, column1, column2, modifier_indicator, effective, deleted, rationale, release_id)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                (
                    r.table,
                    r.column1,
                    r.column2,
                    r.modifier_indicator,
                    iso(r.effective),
                    iso(r.deleted),
                    r.rationale,
                    rid,
                )
                for r in rows
            ),
        )

    def mue(self, rows: Iterable[MueRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO mue(tbl, code, max_units, mai, rationale, effective, deleted, release_id)"
            " VALUES (?,?,?,?,?,?,?,?)",
            ((r.table, r.code, r.max_units, r.mai, r.rationale, iso(r.effective), iso(r.deleted), rid) for r in rows),
        )

    def rvu(self, rows: Iterable[RvuRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO rvu(code, modifier, status, work_rvu, nonfacility_pe_rvu, facility_pe_rvu, mp_rvu,"
            " conversion_factor, global_days, attrs, release_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    r.code,
                    r.modifier,
                    r.status,
                    str(r.work_rvu),
                    str(r.nonfacility_pe_rvu),
                    str(r.facility_pe_rvu),
                    str(r.mp_rvu),
                    str(r.conversion_factor),
                    r.global_days,
                    to_json(r.attrs),
                    rid,
                )
                for r in rows
            ),
        )

    def gpci(self, rows: Iterable[GpciRow]) -> int:
        rid = self.release_id
        return self._many(
            "INSERT INTO gpci(mac, state, locality, name, work, pe, mp, release_id) VALUES (?,?,?,?,?,?,?,?)",
            ((r.mac, r.state, r.locality, r.name, str(r.work), str(r.pe), str(r.mp), rid) for r in rows),
        )

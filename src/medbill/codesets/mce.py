"""Medicare Code Editor (MCE) edit tables: code validity dates and edit flags.

Reads the tables of the CMS Medicare Code Editor, MCE 2.0 version 43.1 (FY2026, data through
2026-09-30). CMS ships them inside the MCE Java artifact (``MCE-2.0-43.1.0.0.jar``, member
``mce.bin``, a protobuf ``Root`` message); the CSV exports read here keep its content unchanged
(see ``mce-v43.1/SOURCE.txt`` in ``MEDBILL_SOURCE_DIR``). CMS publishes the MCE software and its
tables on cms.gov under "ICD-10 MS-DRG Definitions Manual and Software".

Files and layouts (one header line, comma-separated, dates ``yyyymmdd``, an empty end = open):

* ``DERIVED_mce_v431_i10dx_master.csv`` / ``DERIVED_mce_v431_i10sg_master.csv`` --
  ``code,start_date,end_date,flags``: ICD-10-CM diagnosis / ICD-10-PCS procedure codes valid since
  2015-10-01, the edit flags '|'-separated (``manifestation``, ``unacceptable``, ``female``,
  ``male``, ``newborn``, ``pediatric``, ``maternity``, ``adult``, ``ecodepdx``, ``noncovered``,
  ``lcov`` ...). A code has several rows when its flags changed; a code is valid on a date when
  one of its rows covers it.
* ``DERIVED_mce_v431_age_ranges.csv`` -- ``age_group,start_age,end_age,start_date,end_date``.
* ``DERIVED_mce_v431_discharge_status.csv`` -- ``code,startDate,endDate``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from medbill.codesets.records import ValidityRow
from medbill.core.codes import CodeSystem, is_well_formed
from medbill.core.errors import SourceFileError

MCE_VERSION = "43.1"
DX_MASTER_FILE = "DERIVED_mce_v431_i10dx_master.csv"
SG_MASTER_FILE = "DERIVED_mce_v431_i10sg_master.csv"
AGE_RANGES_FILE = "DERIVED_mce_v431_age_ranges.csv"
DISCHARGE_STATUS_FILE = "DERIVED_mce_v431_discharge_status.csv"

_MASTER_HEADER = ("code", "start_date", "end_date", "flags")
_AGE_HEADER = ("age_group", "start_age", "end_age", "start_date", "end_date")
_DISCHARGE_HEADER = ("code", "startDate", "endDate")

_ONE_DAY = timedelta(days=1)

# FY2026 added chapter 23 (genetic disorders, QA0-): its codes have a letter in the 2nd position
# (QA00101), which ``medbill.core.codes`` does not accept yet, so ICD-10-CM codes are checked here.
_CM_SHAPE = re.compile(r"[A-Z][0-9A-Z][0-9A-Z]([0-9A-Z]{1,4})?")


def _well_formed(value: str, system: CodeSystem) -> bool:
    if system is CodeSystem.ICD10CM:
        return _CM_SHAPE.fullmatch(value) is not None
    return is_well_formed(value, system)


@dataclass(frozen=True, slots=True)
class AgeRange:
    """An MCE age group (``Newborn`` 0-0, ``Pediatric`` 0-17, ``Maternity``, ``Adult`` 15-124).

    Ages are in years, both ends inclusive; the range applies to discharges from ``valid_from``
    to ``valid_to`` (``None`` = open).
    """

    group: str
    min_age: int
    max_age: int
    valid_from: date
    valid_to: date | None

    def applies_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True, slots=True)
class DischargeStatus:
    """A patient discharge status code (UB-04 FL17, 837I CL103) the MCE accepts, as 2 digits."""

    code: str
    valid_from: date
    valid_to: date | None

    def applies_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


# ----------------------------------------------------------------------------------------------
# reading helpers


def _rows(path: Path, header: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) after checking the header line."""
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(path)) from exc
    with fh:
        reader = csv.reader(fh)
        try:
            first = next(reader, None)
            if first is None:
                raise SourceFileError("empty file (no header line)", path=str(path), line=1)
            got = tuple(h.strip() for h in first)
            if got != header:
                raise SourceFileError(
                    f"unexpected header {','.join(got)!r}, expected {','.join(header)!r}",
                    path=str(path),
                    line=1,
                )
            for fields in reader:
                line = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != len(header):
                    raise SourceFileError(f"{len(fields)} fields, expected {len(header)}", path=str(path), line=line)
                yield line, [f.strip() for f in fields]
        except UnicodeDecodeError as exc:
            raise SourceFileError(f"not UTF-8 text: {exc.reason}", path=str(path), line=reader.line_num + 1) from exc
        except csv.Error as exc:
            raise SourceFileError(f"bad CSV: {exc}", path=str(path), line=reader.line_num) from exc


def _date(text: str, path: Path, line: int, field: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise SourceFileError(f"date {text!r} is not yyyymmdd", path=str(path), line=line, field=field)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise SourceFileError(f"date {text!r} is not a calendar date", path=str(path), line=line, field=field) from exc


def _range(start: str, end: str, path: Path, line: int, fields: tuple[str, str]) -> tuple[date, date | None]:
    if not start:
        raise SourceFileError("missing start date", path=str(path), line=line, field=fields[0])
    valid_from = _date(start, path, line, fields[0])
    valid_to = _date(end, path, line, fields[1]) if end else None
    if valid_to is not None and valid_to < valid_from:
        raise SourceFileError(
            f"end date {end} is before start date {start}", path=str(path), line=line, field=fields[1]
        )
    return valid_from, valid_to


def _int(text: str, path: Path, line: int, field: str) -> int:
    if not text.isdigit():
        raise SourceFileError(f"{text!r} is not a whole number", path=str(path), line=line, field=field)
    return int(text)


# ----------------------------------------------------------------------------------------------
# parsers


def parse_mce_master(path: str | Path, system: CodeSystem) -> Iterator[ValidityRow]:
    """Yield one ``ValidityRow`` per row of an MCE master (dx: ICD10CM, sg: ICD10PCS).

    Flags come back as a sorted tuple (empty when the row has none).
    """
    if system not in (CodeSystem.ICD10CM, CodeSystem.ICD10PCS):
        raise ValueError(f"the MCE masters hold ICD-10-CM or ICD-10-PCS codes, not {system.label}")
    p = Path(path)
    for line, (code, start, end, flags) in _rows(p, _MASTER_HEADER):
        value = code.upper()
        if not _well_formed(value, system):
            raise SourceFileError(
                f"{code!r} is not a well-formed {system.label} code", path=str(p), line=line, field="code"
            )
        valid_from, valid_to = _range(start, end, p, line, ("start_date", "end_date"))
        flag_set = {f.strip() for f in flags.split("|")} if flags else set()
        if "" in flag_set:
            raise SourceFileError(f"empty flag in {flags!r}", path=str(p), line=line, field="flags")
        yield ValidityRow(
            system=system,
            code=value,
            valid_from=valid_from,
            valid_to=valid_to,
            flags=tuple(sorted(flag_set)),
        )


def parse_age_ranges(path: str | Path) -> list[AgeRange]:
    """The MCE age groups with their (dated) age ranges."""
    p = Path(path)
    out: list[AgeRange] = []
    for line, (group, lo, hi, start, end) in _rows(p, _AGE_HEADER):
        if not group:
            raise SourceFileError("missing age group", path=str(p), line=line, field="age_group")
        min_age = _int(lo, p, line, "start_age")
        max_age = _int(hi, p, line, "end_age")
        if max_age < min_age:
            raise SourceFileError(
                f"end age {max_age} is below start age {min_age}", path=str(p), line=line, field="end_age"
            )
        valid_from, valid_to = _range(start, end, p, line, ("start_date", "end_date"))
        out.append(AgeRange(group, min_age, max_age, valid_from, valid_to))
    return out


def parse_discharge_status(path: str | Path) -> list[DischargeStatus]:
    """The discharge status codes the MCE accepts, zero-padded to 2 digits ("1" -> "01")."""
    p = Path(path)
    out: list[DischargeStatus] = []
    for line, (code, start, end) in _rows(p, _DISCHARGE_HEADER):
        if not code.isdigit() or len(code) > 2:
            raise SourceFileError(f"{code!r} is not a 1-2 digit discharge status", path=str(p), line=line, field="code")
        valid_from, valid_to = _range(start, end, p, line, ("startDate", "endDate"))
        out.append(DischargeStatus(code.zfill(2), valid_from, valid_to))
    return out


# ----------------------------------------------------------------------------------------------
# pure helpers over the rows


def merge_validity(rows: Iterable[ValidityRow]) -> dict[str, list[tuple[date, date | None]]]:
    """Collapse each code's rows into its validity periods, ignoring flags.

    Ranges that overlap or touch (one ends the day before the next starts) are merged: a code
    valid 2015-10-01..2024-09-30 with flags A and 2024-10-01..open with flags B is valid
    2015-10-01..open. A real gap (deleted, later re-added) keeps two periods. Periods are sorted.
    """
    by_code: dict[str, list[tuple[date, date | None]]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append((row.valid_from, row.valid_to))
    out: dict[str, list[tuple[date, date | None]]] = {}
    for code, ranges in by_code.items():
        ranges.sort(key=lambda r: r[0])
        merged: list[tuple[date, date | None]] = []
        for start, end in ranges:
            if merged:
                last_start, last_end = merged[-1]
                if last_end is None:
                    continue  # already open-ended: covers everything after it
                if start <= last_end + _ONE_DAY:
                    new_end = None if end is None else max(end, last_end)
                    merged[-1] = (last_start, new_end)
                    continue
            merged.append((start, end))
        out[code] = merged
    return out


def is_valid_on(periods: Iterable[tuple[date, date | None]], on: date) -> bool:
    """True when one of ``periods`` (from ``merge_validity``) covers ``on`` (both ends inclusive)."""
    return any(start <= on and (end is None or on <= end) for start, end in periods)


def active_codes(rows: Iterable[ValidityRow], on: date) -> set[str]:
    """The codes that one of ``rows`` makes valid on ``on``."""
    return {r.code for r in rows if r.valid_from <= on and (r.valid_to is None or on <= r.valid_to)}


def flags_on(rows: Iterable[ValidityRow], code: str, on: date) -> tuple[str, ...] | None:
    """The edit flags of ``code`` on ``on``; ``None`` when the code is not valid that day."""
    for r in rows:
        if r.code == code and r.valid_from <= on and (r.valid_to is None or on <= r.valid_to):
            return r.flags
    return None

"""I/OCE data tables: HCPCS/CPT code validity and attributes, modifiers and revenue codes.

Reads the data tables of the CMS Integrated Outpatient Code Editor (I/OCE), the edit software
CMS publishes quarterly on cms.gov ("Integrated Outpatient Code Editor (I/OCE) Specifications",
``https://www.cms.gov/medicare/coding-billing/outpatient-code-editor-oce``). The CSV exports read
here keep the content of the I/OCE tables unchanged, except that the short descriptors of CPT
codes (AMA content) are blanked (see ``ioce-2026q2/SOURCE.txt`` in ``MEDBILL_SOURCE_DIR``).

Every table row is in force for a range of I/OCE versions ``lo_version..hi_version`` (internal
ids, e.g. 76 = I/OCE 20.2.27 from 2019-07-01); a code has several rows when its attributes
changed. Files (one header line, comma-separated, booleans ``True``/``False``):

* ``DERIVED_ioce_version_ranges.csv`` -- ``version,ioce_version_id,date_started,date_ended``
  (``yyyymmdd``). The newest version is open-ended (its ``date_ended`` is a far-future
  placeholder), so it maps to ``valid_to=None``.
* ``DERIVED_ioce_hcpcs_table.csv.xz`` -- ``hcpcs,description,apc,lo_age,hi_age,sex,
  status_indicator,payment_indicator,<~125 flag columns>,date_approved,date_terminated,...,
  lo_version,hi_version``. In the number columns (ages, durations, the approval edit) the export
  wrote 0 as ``False`` and 1 as ``True``; in the date columns ``False`` means none.
* ``DERIVED_ioce_modifiers.csv`` -- ``modifier,date_activated,ncci,therapy,...,lo_version,
  hi_version``. The 36 rows ``#0``..``#Z`` are I/OCE internal placeholders, not modifiers; they
  are skipped.
* ``DERIVED_ioce_data_revenue.csv`` -- ``key,status_indicator,<flags>,lo_version,hi_version``,
  ``key`` = ``code|lo|hi``; codes are written without leading zeros (``450`` = revenue code 0450).

The system of a code comes from its shape: a first digit is CPT (Category I, the ``A`` vaccine
administration codes, Category II ``F``, III ``T``, PLA ``U``, MAAA ``M``), a first letter is
HCPCS Level II. Only Level II rows keep the I/OCE short descriptor; for CPT it stays ``None``.
Note: for D codes (CDT, dental) the I/OCE short descriptors are the ADA's.

``date_approved``/``date_terminated`` bound the period in which CMS approves a code (FDA or NCD
approval, EUA periods); ``date_terminated`` is taken as the last valid day (M0239's EUA was
revoked on 2021-04-16, its I/OCE termination date). ``IoceHcpcsRow`` keeps the table row's
version range and these dates apart; ``ioce_validity`` intersects them into ``ValidityRow``s.
"""

from __future__ import annotations

import csv
import io
import lzma
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

from medbill.codesets.records import ValidityRow
from medbill.core.codes import CodeSystem, is_well_formed
from medbill.core.errors import SourceFileError

VERSION_RANGES_FILE = "DERIVED_ioce_version_ranges.csv"
HCPCS_TABLE_FILE = "DERIVED_ioce_hcpcs_table.csv.xz"
MODIFIERS_FILE = "DERIVED_ioce_modifiers.csv"
REVENUE_FILE = "DERIVED_ioce_data_revenue.csv"

_VERSION_HEADER = ("version", "ioce_version_id", "date_started", "date_ended")

# CPT: 4 digits + a digit or a letter (A vaccine admin, F Cat II, T Cat III, U PLA, M MAAA).
# medbill.core.codes accepts F/T/U/M but not A yet, so CPT is checked here.
_CPT_SHAPE = re.compile(r"[0-9]{4}[0-9AFMTU]")

# hcpcs table columns that are not boolean flags
_HCPCS_FIXED = (
    "hcpcs",
    "description",
    "apc",
    "lo_age",
    "hi_age",
    "sex",
    "status_indicator",
    "payment_indicator",
    "date_approved",
    "date_terminated",
    "lo_version",
    "hi_version",
)
# number columns in which the export wrote 0/1 as False/True
_HCPCS_NUMBERS = ("mid_quarter_date_edit", "ph_duration", "iop_duration")
_NO_APC = "00000"


@dataclass(frozen=True, slots=True)
class IoceVersion:
    """One I/OCE release: internal id, I/OCE version number, and the dates it applies to."""

    id: int
    ioce_version: str
    valid_from: date
    valid_to: date | None  # None for the newest (open-ended) release


@dataclass(frozen=True, slots=True)
class IoceHcpcsRow:
    """One row of the I/OCE HCPCS table: a code's attributes in force for a range of versions.

    ``valid_from``/``valid_to`` are the dates of the row's version range (``None`` = open).
    ``flags`` are the boolean columns that are True (``non_covered``, ``addon_type1``,
    ``unclassified_drug``, ``ncci_code1`` ...). ``apc`` is ``None`` where the table has
    ``00000`` (no APC). Ages are in years, both ends inclusive (0..124 = no restriction).
    ``approval_edit`` is the I/OCE edit raised outside the approval period (67, 68, 69, 110,
    134, 136, 83). ``numbers`` holds the other non-zero number columns (``ph_duration``,
    ``iop_duration``). ``short_desc`` is the I/OCE short descriptor for HCPCS Level II codes and
    always ``None`` for CPT.
    """

    code: str
    system: CodeSystem
    valid_from: date
    valid_to: date | None
    status_indicator: str
    apc: str | None
    lo_age: int
    hi_age: int
    sex: str | None
    flags: frozenset[str]
    short_desc: str | None
    payment_indicator: str | None = None
    date_approved: date | None = None
    date_terminated: date | None = None
    approval_edit: int | None = None
    numbers: Mapping[str, int] = field(default_factory=dict)
    lo_version: int = 0
    hi_version: int = 0


@dataclass(frozen=True, slots=True)
class IoceRevenueRow:
    """A UB-04 revenue code (4 digits) in the I/OCE with its status indicator and flags."""

    code: str
    valid_from: date
    valid_to: date | None
    status_indicator: str
    flags: frozenset[str]
    lo_version: int = 0
    hi_version: int = 0


# ----------------------------------------------------------------------------------------------
# public API


def read_ioce_versions(path: str | Path) -> dict[int, IoceVersion]:
    """The I/OCE versions by internal id; the newest one is open-ended (``valid_to=None``)."""
    p = Path(path)
    out: dict[int, IoceVersion] = {}
    for line, row in _dict_rows(p, required=_VERSION_HEADER):
        vid = _int(row["version"], p, line, "version")
        start = _req_date(row["date_started"], p, line, "date_started")
        end = _req_date(row["date_ended"], p, line, "date_ended")
        if end < start:
            raise SourceFileError(
                f"date_ended {row['date_ended']} is before date_started {row['date_started']}",
                path=str(p),
                line=line,
                field="date_ended",
            )
        if vid in out:
            raise SourceFileError(f"version {vid} appears twice", path=str(p), line=line, field="version")
        out[vid] = IoceVersion(vid, row["ioce_version_id"], start, end)
    if not out:
        raise SourceFileError("no versions", path=str(p))
    newest = max(out)
    v = out[newest]
    out[newest] = IoceVersion(v.id, v.ioce_version, v.valid_from, None)
    return out


def parse_ioce_hcpcs(path: str | Path, versions: Mapping[int, IoceVersion] | None = None) -> Iterator[IoceHcpcsRow]:
    """Yield every row of the I/OCE HCPCS table (``.csv`` or ``.csv.xz``).

    ``versions`` defaults to ``DERIVED_ioce_version_ranges.csv`` beside the file.
    """
    p = Path(path)
    vers = versions if versions is not None else read_ioce_versions(p.parent / VERSION_RANGES_FILE)
    header_checked = False
    flag_cols: list[str] = []
    for line, row in _dict_rows(p, required=_HCPCS_FIXED):
        if not header_checked:
            flag_cols = [c for c in row if c not in _HCPCS_FIXED and c not in _HCPCS_NUMBERS]
            header_checked = True
        code = row["hcpcs"].upper()
        system = _code_system(code, p, line, "hcpcs")
        valid_from, valid_to, lo, hi = _versions(row, vers, p, line)
        flags: set[str] = set()
        for c in flag_cols:
            v = row[c]
            if v == "True" or (v != "False" and _bool(v, p, line, c)):
                flags.add(c)
        numbers: dict[str, int] = {}
        for c in _HCPCS_NUMBERS:
            if c in row:
                n = _number(row[c], p, line, c)
                if n:
                    numbers[c] = n
        approval_edit = numbers.pop("mid_quarter_date_edit", None)
        si = row["status_indicator"]
        if not si:
            raise SourceFileError("missing status indicator", path=str(p), line=line, field="status_indicator")
        apc = row["apc"]
        if apc and not apc.isdigit():
            raise SourceFileError(f"APC {apc!r} is not a number", path=str(p), line=line, field="apc")
        desc = row["description"]
        if system is CodeSystem.CPT:
            desc = ""  # never show an I/OCE CPT descriptor, even if a file carries one
        sex = row["sex"]
        yield IoceHcpcsRow(
            code=code,
            system=system,
            valid_from=valid_from,
            valid_to=valid_to,
            status_indicator=si,
            apc=apc if apc and apc != _NO_APC else None,
            lo_age=_number(row["lo_age"], p, line, "lo_age"),
            hi_age=_number(row["hi_age"], p, line, "hi_age"),
            sex=None if sex in ("", "False", "0") else sex,
            flags=frozenset(flags),
            short_desc=desc or None,
            payment_indicator=row["payment_indicator"] or None,
            date_approved=_opt_date(row["date_approved"], p, line, "date_approved"),
            date_terminated=_opt_date(row["date_terminated"], p, line, "date_terminated"),
            approval_edit=approval_edit,
            numbers=numbers,
            lo_version=lo,
            hi_version=hi,
        )


def ioce_validity(rows: Iterable[IoceHcpcsRow]) -> Iterator[ValidityRow]:
    """One ``ValidityRow`` per I/OCE row: its version range cut to the approval period.

    A row wholly outside its code's approval period (e.g. a COVID-19 vaccine code still listed
    after its EUA ended) yields nothing. ``flags`` are the row's flags, sorted.
    """
    for r in rows:
        start = r.valid_from
        end = r.valid_to
        if r.date_approved is not None and r.date_approved > start:
            start = r.date_approved
        if r.date_terminated is not None and (end is None or r.date_terminated < end):
            end = r.date_terminated
        if end is not None and end < start:
            continue
        yield ValidityRow(system=r.system, code=r.code, valid_from=start, valid_to=end, flags=tuple(sorted(r.flags)))


def parse_ioce_hcpcs_validity(path: str | Path) -> Iterator[ValidityRow]:
    """``ioce_validity(parse_ioce_hcpcs(path))``."""
    return ioce_validity(parse_ioce_hcpcs(path))


def parse_ioce_modifiers(path: str | Path, versions: Mapping[int, IoceVersion] | None = None) -> Iterator[ValidityRow]:
    """Yield ``ValidityRow(system=MODIFIER)`` per modifier row, flags = its True columns (``ncci`` ...).

    The ``#0``..``#Z`` placeholder rows are skipped.
    """
    p = Path(path)
    vers = versions if versions is not None else read_ioce_versions(p.parent / VERSION_RANGES_FILE)
    fixed = ("modifier", "lo_version", "hi_version")
    for line, row in _dict_rows(p, required=fixed):
        code = row["modifier"].upper()
        if code.startswith("#"):
            continue
        if not is_well_formed(code, CodeSystem.MODIFIER):
            raise SourceFileError(
                f"{row['modifier']!r} is not a two-character modifier",
                path=str(p),
                line=line,
                field="modifier",
            )
        valid_from, valid_to, _, _ = _versions(row, vers, p, line)
        flags = sorted(c for c in row if c not in fixed and _bool(row[c], p, line, c))
        yield ValidityRow(CodeSystem.MODIFIER, code, valid_from, valid_to, tuple(flags))


def parse_ioce_revenue(path: str | Path, versions: Mapping[int, IoceVersion] | None = None) -> Iterator[IoceRevenueRow]:
    """Yield the revenue codes (4 digits, zero-padded) with status indicator and flags."""
    p = Path(path)
    vers = versions if versions is not None else read_ioce_versions(p.parent / VERSION_RANGES_FILE)
    fixed = ("key", "status_indicator", "lo_version", "hi_version")
    for line, row in _dict_rows(p, required=fixed):
        parts = row["key"].split("|")
        if len(parts) != 3 or parts[1] != row["lo_version"] or parts[2] != row["hi_version"]:
            raise SourceFileError(
                f"key {row['key']!r} is not code|lo_version|hi_version", path=str(p), line=line, field="key"
            )
        raw = parts[0]
        if not raw.isdigit() or len(raw) > 4:
            raise SourceFileError(f"revenue code {raw!r} is not 1-4 digits", path=str(p), line=line, field="key")
        valid_from, valid_to, lo, hi = _versions(row, vers, p, line)
        si = row["status_indicator"]
        if not si:
            raise SourceFileError("missing status indicator", path=str(p), line=line, field="status_indicator")
        flags = frozenset(c for c in row if c not in fixed and _bool(row[c], p, line, c))
        yield IoceRevenueRow(raw.zfill(4), valid_from, valid_to, si, flags, lo, hi)


def revenue_validity(rows: Iterable[IoceRevenueRow]) -> Iterator[ValidityRow]:
    """``ValidityRow(system=REVENUE)`` per revenue row; flags = its flags plus ``si:<SI>``."""
    for r in rows:
        flags = tuple(sorted(r.flags)) + (f"si:{r.status_indicator}",)
        yield ValidityRow(CodeSystem.REVENUE, r.code, r.valid_from, r.valid_to, flags)


# ----------------------------------------------------------------------------------------------
# helpers


def _code_system(code: str, p: Path, line: int, name: str) -> CodeSystem:
    if code[:1].isdigit():
        if _CPT_SHAPE.fullmatch(code):
            return CodeSystem.CPT
    elif is_well_formed(code, CodeSystem.HCPCS):
        return CodeSystem.HCPCS
    raise SourceFileError(f"{code!r} is neither a CPT nor a HCPCS Level II code", path=str(p), line=line, field=name)


def _versions(
    row: Mapping[str, str], vers: Mapping[int, IoceVersion], p: Path, line: int
) -> tuple[date, date | None, int, int]:
    lo = _int(row["lo_version"], p, line, "lo_version")
    hi = _int(row["hi_version"], p, line, "hi_version")
    if lo not in vers:
        raise SourceFileError(f"unknown I/OCE version {lo}", path=str(p), line=line, field="lo_version")
    if hi not in vers:
        raise SourceFileError(f"unknown I/OCE version {hi}", path=str(p), line=line, field="hi_version")
    if hi < lo:
        raise SourceFileError(f"hi_version {hi} is below lo_version {lo}", path=str(p), line=line, field="hi_version")
    return vers[lo].valid_from, vers[hi].valid_to, lo, hi


def _open_text(p: Path) -> IO[str]:
    try:
        if p.name.endswith(".xz"):
            return io.TextIOWrapper(lzma.open(p, "rb"), encoding="utf-8-sig", newline="")
        return p.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc


def _dict_rows(p: Path, *, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, {column: stripped value}) after checking the header has ``required``."""
    fh = _open_text(p)
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise SourceFileError("empty file (no header line)", path=str(p), line=1)
            names = [h.strip() for h in header]
            missing = [c for c in required if c not in names]
            if missing:
                raise SourceFileError(
                    f"header lacks column(s) {', '.join(missing)}", path=str(p), line=1, field=missing[0]
                )
            if len(set(names)) != len(names):
                raise SourceFileError("header repeats a column name", path=str(p), line=1)
            for fields in reader:
                line = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != len(names):
                    raise SourceFileError(f"{len(fields)} fields, the header has {len(names)}", path=str(p), line=line)
                yield line, {n: f.strip() for n, f in zip(names, fields, strict=True)}
        except UnicodeDecodeError as exc:
            raise SourceFileError(f"not UTF-8 text: {exc.reason}", path=str(p), line=reader.line_num + 1) from exc
        except (lzma.LZMAError, EOFError) as exc:
            raise SourceFileError(f"bad .xz data: {exc}", path=str(p), line=reader.line_num) from exc
        except csv.Error as exc:
            raise SourceFileError(f"bad CSV: {exc}", path=str(p), line=reader.line_num) from exc


def _bool(text: str, p: Path, line: int, name: str) -> bool:
    if text == "True":
        return True
    if text in ("False", ""):
        return False
    if text.isdigit():  # a count in a flag-like column (e.g. a duration): true when non-zero
        return int(text) != 0
    raise SourceFileError(f"{text!r} is not True or False", path=str(p), line=line, field=name)


def _number(text: str, p: Path, line: int, name: str) -> int:
    if text in ("False", ""):
        return 0
    if text == "True":
        return 1
    if text.isdigit():
        return int(text)
    raise SourceFileError(f"{text!r} is not a whole number", path=str(p), line=line, field=name)


def _int(text: str, p: Path, line: int, name: str) -> int:
    if not text.isdigit():
        raise SourceFileError(f"{text!r} is not a whole number", path=str(p), line=line, field=name)
    return int(text)


def _req_date(text: str, p: Path, line: int, name: str) -> date:
    d = _opt_date(text, p, line, name)
    if d is None:
        raise SourceFileError("missing date", path=str(p), line=line, field=name)
    return d


def _opt_date(text: str, p: Path, line: int, name: str) -> date | None:
    if text in ("", "False"):
        return None
    if len(text) != 8 or not text.isdigit():
        raise SourceFileError(f"date {text!r} is not yyyymmdd", path=str(p), line=line, field=name)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise SourceFileError(f"date {text!r} is not a calendar date", path=str(p), line=line, field=name) from exc

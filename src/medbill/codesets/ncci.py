"""NCCI procedure-to-procedure (PTP) edits: CMS's quarterly PTP files and the I/OCE pair table.

Two sources, one record (:class:`~medbill.codesets.records.PtpRow`):

**CMS Medicare NCCI PTP files** (``parse_ptp_file``). CMS publishes them quarterly on cms.gov,
"Medicare NCCI Procedure to Procedure (PTP) Edits": practitioner (``ccipra-v322r0-f1.txt`` ..
``-f4``) and hospital outpatient (``ccioph-v322r0-f1.txt`` ..), each a zip holding the ``.txt``
read here and an ``.xlsx`` with the same rows. The ``.txt`` is tab-delimited Latin-1 text::

    CPT only copyright 2025 American Medical Association.  All rights reserved.<TAB>...
    Column1/Column2 Edits<TAB>...
    Column 1<TAB>Column 2<TAB>*=in existence<TAB>Effective<TAB>Deletion<TAB>Modifier<TAB>PTP Edit Rationale
    <TAB><TAB>prior to 1996<TAB>Date<TAB>Date<TAB>0=not allowed<TAB>
    <TAB><TAB><TAB><TAB>*=no data<TAB>1=allowed<TAB>
    <TAB><TAB><TAB><TAB><TAB>9=not applicable<TAB>
    0001U<TAB>0053U<TAB><TAB>20190101<TAB>20230630<TAB>1<TAB>Misuse of Column Two code with Column One code

The header is found by its ``Column 1``/``Column 2`` line; the legend lines under it (empty first
two cells) are merged into the column names, which are checked. Data lines: column 1, column 2,
``*`` when the edit existed before 1996 (not kept: the effective date says it), the effective
date ``YYYYMMDD``, the deletion date ``YYYYMMDD`` or ``*`` (no data: still in effect), the
modifier indicator (0 not allowed, 1 allowed, 9 not applicable) and the rationale.

**I/OCE NCCI pairs** (``parse_ioce_ptp``): the hospital-outpatient PTP pairs of the Integrated
Outpatient Code Editor, ``DERIVED_ioce_ncci_ptp_pairs.csv.xz`` in ``ioce-2026q2`` (CMS I/OCE data
tables, versions 20.2.27 (2019-07-01) .. 27.1.0 (2026-04-01); see its ``SOURCE.txt``). One header
line ``column1,column2,modifier_allowed,lo_version,hi_version,effective_from,effective_to``; the
versions are I/OCE version numbers (``DERIVED_ioce_version_ranges.csv``: 76 = 20.2.27 from
2019-07-01 ... 103 = 27.1.0 from 2026-04-01, whose end 2036-03-31 is a placeholder for "open").
``modifier_allowed`` holds only ``0`` and ``1`` (1,538,913 ones and 55,543 zeros in the 2026Q2
file), which are the NCCI modifier indicators 0 and 1; the I/OCE carries no indicator-9 pairs.
An ``effective_from`` of 2019-07-01 means "in effect since at least the first version here".

**Dates.** ``PtpRow.deleted`` is the first date on which the edit no longer applies (it applies
while ``effective <= date < deleted``). CMS's "Deletion Date" is the last date of service the
edit applies to: it falls on the last day of a quarter (20231231, 20230630 ...), and for the same
pair it equals the I/OCE's ``effective_to``, the last day of the last I/OCE version carrying the
pair (0001U/0053U: 20230630 in ccipra-v322r0 and in the I/OCE; 0001U/0128U: 20200630 in both).
So both sources give ``deleted = that date + 1 day``; ``*`` and the I/OCE's open placeholder give
``None``. An indicator-9 edit was deleted retroactively (CMS prints its deletion date equal to
its effective date) and never applies, so its ``deleted`` is its ``effective`` date (an empty
range) whatever the file prints.
"""

from __future__ import annotations

import csv
import lzma
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from medbill.codesets.records import PtpRow
from medbill.core.errors import SourceFileError

PTP_TABLES = ("practitioner", "outpatient")
IOCE_TABLE = "ioce"
IOCE_HEADER = (
    "column1",
    "column2",
    "modifier_allowed",
    "lo_version",
    "hi_version",
    "effective_from",
    "effective_to",
)
IOCE_VERSION_RANGES_FILE = "DERIVED_ioce_version_ranges.csv"
_VERSION_HEADER = ("version", "ioce_version_id", "date_started", "date_ended")

# The I/OCE modifier_allowed flag -> NCCI modifier indicator.
IOCE_MODIFIER_INDICATOR = {"0": "0", "1": "1"}
MODIFIER_INDICATORS = frozenset({"0", "1", "9"})

_CODE = re.compile(r"[0-9A-Z]{5}")
_YMD = re.compile(r"[0-9]{8}")
_ONE_DAY = timedelta(days=1)
# How many lines may come before the "Column 1 / Column 2" header of a CMS PTP file.
_MAX_PREAMBLE = 40
# Words each merged header column must contain (CMS txt header, legend lines merged in).
_PTP_COLUMNS = (
    ("Column 1", ("column 1",)),
    ("Column 2", ("column 2",)),
    ("*=in existence prior to 1996", ("existence",)),
    ("Effective Date", ("effective",)),
    ("Deletion Date", ("deletion",)),
    ("Modifier", ("modifier",)),
    ("PTP Edit Rationale", ("rationale",)),
)


def _ymd(text: str, cache: dict[str, date], *, path: str, line: int, field: str) -> date:
    found = cache.get(text)
    if found is not None:
        return found
    if _YMD.fullmatch(text) is None:
        raise SourceFileError(f"{text!r} is not a date YYYYMMDD", path=path, line=line, field=field)
    try:
        value = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise SourceFileError(f"{text!r} is not a date: {exc}", path=path, line=line, field=field) from exc
    cache[text] = value
    return value


def _code(text: str, *, path: str, line: int, field: str) -> str:
    value = text.strip().upper()
    if _CODE.fullmatch(value) is None:
        raise SourceFileError(f"{text!r} is not a 5-character HCPCS/CPT code", path=path, line=line, field=field)
    return value


# --------------------------------------------------------------------------------------------
# CMS quarterly PTP files (.txt)
# --------------------------------------------------------------------------------------------


def parse_ptp_file(path: str | Path, table: str) -> Iterator[PtpRow]:
    """Yield the edits of one CMS NCCI PTP ``.txt`` file (``ccipra-*``/``ccioph-*``), in file order.

    ``table`` is ``"practitioner"`` (ccipra) or ``"outpatient"`` (ccioph). Deleted edits are
    yielded too, with their ``deleted`` date (see the module docstring for the date convention).
    Raises :class:`SourceFileError` naming the file, line and field on anything unexpected.
    """
    if table not in PTP_TABLES:
        raise ValueError(f"table must be one of {PTP_TABLES}, not {table!r}")
    return _ptp_rows(path, table)


def _ptp_rows(path: str | Path, table: str) -> Iterator[PtpRow]:
    spath = str(path)
    try:
        handle = open(path, encoding="latin-1", newline="")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=spath) from exc
    with handle:
        yield from _read_ptp(handle, table, spath)


def _read_ptp(handle: IO[str], table: str, path: str) -> Iterator[PtpRow]:
    dates: dict[str, date] = {}
    lines = enumerate(handle, start=1)
    header_at, header_line = _find_ptp_header(lines, path)
    in_header = True
    for number, raw in lines:
        text = raw.rstrip("\r\n")
        cells = text.split("\t")
        if in_header:
            if cells[0].strip() == "" and len(cells) > 1 and cells[1].strip() == "":
                if any(c.strip() for c in cells):
                    header_line.append(cells)  # a legend line of the header
                    continue
            in_header = False
            _check_ptp_header(header_line, path, header_at)
        if not text.strip("\t "):
            continue  # blank line (end of file)
        if len(cells) < 6:
            raise SourceFileError(
                f"{len(cells)} tab-separated fields, expected 7", path=path, line=number, field="columns"
            )
        column1 = _code(cells[0], path=path, line=number, field="Column 1")
        column2 = _code(cells[1], path=path, line=number, field="Column 2")
        existed = cells[2].strip()
        if existed not in ("", "*"):
            raise SourceFileError(
                f"{existed!r} is neither '*' nor empty",
                path=path,
                line=number,
                field="*=in existence prior to 1996",
            )
        effective = _ymd(cells[3].strip(), dates, path=path, line=number, field="Effective Date")
        indicator = cells[5].strip()
        if indicator not in MODIFIER_INDICATORS:
            raise SourceFileError(
                f"modifier indicator {indicator!r} is not 0, 1 or 9", path=path, line=number, field="Modifier"
            )
        deletion = cells[4].strip()
        deleted: date | None
        if indicator == "9":
            if deletion not in ("", "*"):
                _ymd(deletion, dates, path=path, line=number, field="Deletion Date")
            deleted = effective  # deleted retroactively: never applies
        elif deletion in ("", "*"):
            deleted = None
        else:
            deleted = _ymd(deletion, dates, path=path, line=number, field="Deletion Date") + _ONE_DAY
        rationale = cells[6].strip() if len(cells) > 6 else ""
        yield PtpRow(table, column1, column2, indicator, effective, deleted, rationale)
    if in_header:
        _check_ptp_header(header_line, path, header_at)  # a header and no rows is fine


def _find_ptp_header(lines: Iterator[tuple[int, str]], path: str) -> tuple[int, list[list[str]]]:
    for number, raw in lines:
        cells = raw.rstrip("\r\n").split("\t")
        if len(cells) >= 2 and cells[0].strip().lower() == "column 1" and cells[1].strip().lower() == "column 2":
            return number, [cells]
        if number >= _MAX_PREAMBLE:
            break
    raise SourceFileError(
        f"no 'Column 1<TAB>Column 2' header line in the first {_MAX_PREAMBLE} lines: not a CMS NCCI PTP .txt file",
        path=path,
        field="header",
    )


def _check_ptp_header(rows: list[list[str]], path: str, line: int) -> None:
    merged = [
        " ".join(row[i].strip() for row in rows if i < len(row) and row[i].strip()).lower()
        for i in range(len(_PTP_COLUMNS))
    ]
    for (name, words), text in zip(_PTP_COLUMNS, merged, strict=True):
        if not all(w in text for w in words):
            raise SourceFileError(
                f"header column {name!r} expected, found {text!r}", path=path, line=line, field="header"
            )


# --------------------------------------------------------------------------------------------
# I/OCE NCCI pairs (DERIVED_ioce_ncci_ptp_pairs.csv[.xz])
# --------------------------------------------------------------------------------------------


def read_ioce_versions(path: str | Path) -> dict[int, tuple[date, date]]:
    """I/OCE version number -> (date started, date ended) from ``DERIVED_ioce_version_ranges.csv``."""
    spath = str(path)
    dates: dict[str, date] = {}
    out: dict[int, tuple[date, date]] = {}
    try:
        with open(path, encoding="ascii", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != _VERSION_HEADER:
                raise SourceFileError(
                    f"header {header!r}, expected {','.join(_VERSION_HEADER)}",
                    path=spath,
                    line=1,
                    field="header",
                )
            for row in reader:
                line = reader.line_num
                if len(row) != 4:
                    raise SourceFileError(f"{len(row)} fields, expected 4", path=spath, line=line, field="columns")
                if not row[0].isdigit():
                    raise SourceFileError(f"{row[0]!r} is not a version number", path=spath, line=line, field="version")
                started = _ymd(row[2], dates, path=spath, line=line, field="date_started")
                ended = _ymd(row[3], dates, path=spath, line=line, field="date_ended")
                out[int(row[0])] = (started, ended)
    except OSError as exc:
        raise SourceFileError(f"cannot read: {exc.strerror or exc}", path=spath) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SourceFileError(f"not an ASCII CSV file: {exc}", path=spath) from exc
    if not out:
        raise SourceFileError("no versions", path=spath, field="version")
    return out


def parse_ioce_ptp(path: str | Path, *, versions: dict[int, tuple[date, date]] | None = None) -> Iterator[PtpRow]:
    """Yield the I/OCE hospital-outpatient NCCI pairs as ``PtpRow(table="ioce")``, streaming.

    ``path`` is ``DERIVED_ioce_ncci_ptp_pairs.csv.xz`` (or the plain ``.csv``). ``versions`` maps
    I/OCE version numbers to their date ranges; by default it is read from
    ``DERIVED_ioce_version_ranges.csv`` beside the file. A pair carried by the latest version is
    open (``deleted=None``); otherwise ``deleted`` is the day after ``effective_to``. Each row's
    dates are checked against its versions' dates.
    """
    spath = str(path)
    if versions is None:
        versions = read_ioce_versions(Path(path).with_name(IOCE_VERSION_RANGES_FILE))
    latest = max(versions)
    starts = {str(v): r[0].strftime("%Y%m%d") for v, r in versions.items()}
    ends = {str(v): r[1].strftime("%Y%m%d") for v, r in versions.items()}
    latest_key = str(latest)
    try:
        if spath.endswith(".xz"):
            handle: IO[str] = lzma.open(path, "rt", encoding="ascii", newline="")
        else:
            handle = open(path, encoding="ascii", newline="")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=spath) from exc
    with handle:
        try:
            yield from _read_ioce(handle, spath, starts, ends, latest_key)
        except (UnicodeDecodeError, lzma.LZMAError, EOFError) as exc:
            raise SourceFileError(f"cannot decode: {exc}", path=spath) from exc
        except csv.Error as exc:
            raise SourceFileError(f"bad CSV: {exc}", path=spath) from exc


def _read_ioce(
    handle: IO[str], path: str, starts: dict[str, str], ends: dict[str, str], latest: str
) -> Iterator[PtpRow]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != IOCE_HEADER:
        raise SourceFileError(f"header {header!r}, expected {','.join(IOCE_HEADER)}", path=path, line=1, field="header")
    dates: dict[str, date] = {}
    spans: dict[tuple[str, str, str, str], tuple[date, date | None]] = {}
    codes: dict[str, str] = {}  # interned codes: 1.6M rows share ~15k codes
    table = IOCE_TABLE
    code_of, span_of, indicator_of, row_type = codes.get, spans.get, IOCE_MODIFIER_INDICATOR.get, PtpRow
    for row in reader:
        try:
            c1, c2, allowed, lo, hi, eff, end = row
        except ValueError:
            raise SourceFileError(
                f"{len(row)} fields, expected 7", path=path, line=reader.line_num, field="columns"
            ) from None
        column1 = code_of(c1)
        if column1 is None:
            column1 = codes[c1] = _code(c1, path=path, line=reader.line_num, field="column1")
        column2 = code_of(c2)
        if column2 is None:
            column2 = codes[c2] = _code(c2, path=path, line=reader.line_num, field="column2")
        indicator = indicator_of(allowed)
        if indicator is None:
            raise SourceFileError(
                f"modifier_allowed {allowed!r} is not 0 or 1",
                path=path,
                line=reader.line_num,
                field="modifier_allowed",
            )
        key = (lo, hi, eff, end)
        span = span_of(key)
        if span is None:
            span = spans[key] = _ioce_span(
                lo, hi, eff, end, starts, ends, latest, dates, path=path, line=reader.line_num
            )
        yield row_type(table, column1, column2, indicator, span[0], span[1])


def _ioce_span(
    lo: str,
    hi: str,
    eff: str,
    end: str,
    starts: dict[str, str],
    ends: dict[str, str],
    latest: str,
    dates: dict[str, date],
    *,
    path: str,
    line: int,
) -> tuple[date, date | None]:
    """(effective, deleted) of an I/OCE row, after checking its dates against its versions."""
    effective = _ymd(eff, dates, path=path, line=line, field="effective_from")
    ended = _ymd(end, dates, path=path, line=line, field="effective_to")
    if starts.get(lo) != eff:
        raise SourceFileError(
            f"effective_from {eff!r} is not the start of I/OCE version {lo!r} ({starts.get(lo)})",
            path=path,
            line=line,
            field="lo_version",
        )
    if ends.get(hi) != end:
        raise SourceFileError(
            f"effective_to {end!r} is not the end of I/OCE version {hi!r} ({ends.get(hi)})",
            path=path,
            line=line,
            field="hi_version",
        )
    if int(hi) < int(lo):
        raise SourceFileError(f"hi_version {hi} precedes lo_version {lo}", path=path, line=line, field="hi_version")
    return effective, (None if hi == latest else ended + _ONE_DAY)

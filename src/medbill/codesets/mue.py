"""NCCI medically unlikely edits (MUEs): CMS's quarterly MUE tables.

CMS publishes three tables each quarter on cms.gov, "Medicare NCCI Medically Unlikely Edits
(MUEs)": practitioner services, outpatient hospital services and DME supplier services, each a zip
holding a ``.csv`` and an ``.xlsx`` with the same rows, named like
``MCR_MUE_PractitionerServices_Eff_07-01-2026.csv`` (also ``..._OutpatientHospitalServices_...``
and ``..._DMESupplierServices_...``). The CSV is Latin-1 text: a first record whose first cell is a
quoted, multi-line AMA copyright notice (``"Current Procedural Terminology (CPT) codes ...",,,``),
then the header record, then one record per code::

    "HCPCS/
    CPT Code",Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale
    0001U,1,2 Date of Service Edit: Policy,Code Descriptor / CPT Instruction
    0002M,1,3 Date of Service Edit: Clinical,Nature of Analyte

The values column names the table ("Practitioner Services MUE Values", "Outpatient Hospital
Services MUE Values", "DME Supplier Services MUE Values"). The MUE adjudication indicator (MAI)
cell is the digit and its meaning: ``1 Line Edit``, ``2 Date of Service Edit: Policy``,
``3 Date of Service Edit: Clinical``; ``MueRow.mai`` is the digit. Columns are found by their
header names, in the CSV and in the first sheet of the ``.xlsx``.

The tables carry no dates: ``MueRow.effective`` is the table's effective date, taken from the
``_Eff_MM-DD-YYYY`` part of CMS's file name unless given; ``deleted`` is ``None``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from medbill.codesets.records import MueRow
from medbill.core.errors import SourceFileError

MUE_TABLES = ("practitioner", "outpatient", "dme")
# Words in the "... MUE Values" header that name the table.
_TABLE_OF_VALUES_HEADER = (
    ("PRACTITIONER", "practitioner"),
    ("OUTPATIENT HOSPITAL", "outpatient"),
    ("DME", "dme"),
)
MAI_TEXT = {1: "Line Edit", 2: "Date of Service Edit: Policy", 3: "Date of Service Edit: Clinical"}

_CODE = re.compile(r"[0-9A-Z]{5}")
_MAI = re.compile(r"([0-9]+)(?:\s+(.*))?", re.DOTALL)
_EFFECTIVE_IN_NAME = re.compile(r"_Eff_([0-9]{2})-([0-9]{2})-([0-9]{4})", re.IGNORECASE)
_MAX_PREAMBLE = 20  # records before the header


def effective_from_name(path: str | Path) -> date | None:
    """The effective date in a CMS MUE file name (``..._Eff_07-01-2026.csv`` -> 2026-07-01)."""
    found = _EFFECTIVE_IN_NAME.search(Path(path).name)
    if found is None:
        return None
    month, day, year = (int(g) for g in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_mue_file(path: str | Path, table: str | None = None, *, effective: date | None = None) -> Iterator[MueRow]:
    """Yield the rows of one CMS MUE table (``.csv`` or ``.xlsx``), in file order.

    ``table`` (``"practitioner"``, ``"outpatient"`` or ``"dme"``) is read from the values column
    header when ``None``; when given, the header must agree. ``effective`` defaults to the date in
    CMS's file name (``None`` when the name has none). Raises :class:`SourceFileError` naming the
    file, the line (CSV) or row (xlsx) and the field on anything unexpected.
    """
    if table is not None and table not in MUE_TABLES:
        raise ValueError(f"table must be one of {MUE_TABLES} or None, not {table!r}")
    return _mue_rows(path, table, effective)


def _mue_rows(path: str | Path, table: str | None, effective: date | None) -> Iterator[MueRow]:
    spath = str(path)
    if effective is None:
        effective = effective_from_name(path)
    xlsx = spath.lower().endswith((".xlsx", ".xlsm"))
    records = _xlsx_records(spath) if xlsx else _csv_records(spath)
    yield from _read(records, spath, table, effective, pad_codes=xlsx)


def _csv_records(path: str) -> Iterator[tuple[int, list[str]]]:
    try:
        handle = open(path, encoding="latin-1", newline="")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=path) from exc
    with handle:
        reader = csv.reader(handle)
        try:
            for record in reader:
                yield reader.line_num, record
        except csv.Error as exc:
            raise SourceFileError(f"bad CSV: {exc}", path=path, line=reader.line_num) from exc


def _xlsx_records(path: str) -> Iterator[tuple[int, list[str]]]:
    import openpyxl  # type: ignore[import-untyped]

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=path) from exc
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise SourceFileError(f"not a readable .xlsx workbook: {exc}", path=path) from exc
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in values]
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _squash(text: str) -> str:
    return " ".join(text.split()).upper()


def _read(
    records: Iterable[tuple[int, list[str]]],
    path: str,
    table: str | None,
    effective: date | None,
    *,
    pad_codes: bool,
) -> Iterator[MueRow]:
    it = iter(records)
    columns: dict[str, int] | None = None
    found_table = ""
    for number, cells in it:
        names = [_squash(c) for c in cells]
        if names and names[0].startswith("HCPCS"):
            columns, found_table = _header(names, path, number)
            break
        if number >= _MAX_PREAMBLE:
            break
    if columns is None:
        raise SourceFileError(
            f"no 'HCPCS/CPT Code' header in the first {_MAX_PREAMBLE} records: not a CMS MUE table",
            path=path,
            field="header",
        )
    if table is not None and table != found_table:
        raise SourceFileError(f"the header names the {found_table!r} table, not {table!r}", path=path, field="header")
    code_at, units_at, mai_at, why_at = (columns[k] for k in ("code", "units", "mai", "rationale"))
    width = max(columns.values()) + 1
    for number, cells in it:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < width:
            raise SourceFileError(f"{len(cells)} fields, expected {width}", path=path, line=number, field="columns")
        code = cells[code_at].strip().upper()
        if pad_codes and code.isdigit() and len(code) < 5:
            code = code.zfill(5)  # a code the .xlsx stores as a number (01996 -> 1996)
        if _CODE.fullmatch(code) is None:
            raise SourceFileError(
                f"{cells[code_at]!r} is not a 5-character HCPCS/CPT code",
                path=path,
                line=number,
                field="HCPCS/CPT Code",
            )
        units = cells[units_at].strip()
        if not units.isdigit():
            raise SourceFileError(
                f"{units!r} is not a whole number of units", path=path, line=number, field="MUE Values"
            )
        mai = _mai(cells[mai_at], path, number)
        yield MueRow(
            table=found_table,
            code=code,
            max_units=int(units),
            mai=mai,
            rationale=" ".join(cells[why_at].split()),
            effective=effective,
            deleted=None,
        )


def _header(names: list[str], path: str, line: int) -> tuple[dict[str, int], str]:
    columns: dict[str, int] = {"code": 0}
    found_table = ""
    for i, name in enumerate(names):
        if "MUE VALUES" in name and "units" not in columns:
            columns["units"] = i
            for words, key in _TABLE_OF_VALUES_HEADER:
                if words in name:
                    found_table = key
                    break
        elif "ADJUDICATION INDICATOR" in name and "mai" not in columns:
            columns["mai"] = i
        elif "RATIONALE" in name and "rationale" not in columns:
            columns["rationale"] = i
    for key, label in (
        ("units", "... Services MUE Values"),
        ("mai", "MUE Adjudication Indicator"),
        ("rationale", "MUE Rationale"),
    ):
        if key not in columns:
            raise SourceFileError(f"no {label!r} column in the header", path=path, line=line, field="header")
    if not found_table:
        raise SourceFileError(
            f"the values column {names[columns['units']]!r} names no known table "
            "(Practitioner / Outpatient Hospital / DME Supplier)",
            path=path,
            line=line,
            field="header",
        )
    return columns, found_table


def _mai(text: str, path: str, line: int) -> int:
    found = _MAI.fullmatch(text.strip())
    if found is None:
        raise SourceFileError(
            f"{text!r} does not start with the MAI digit",
            path=path,
            line=line,
            field="MUE Adjudication Indicator",
        )
    mai = int(found.group(1))
    if mai not in MAI_TEXT:
        raise SourceFileError(f"MAI {mai} is not 1, 2 or 3", path=path, line=line, field="MUE Adjudication Indicator")
    return mai

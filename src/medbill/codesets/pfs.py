"""Medicare Physician Fee Schedule (MPFS): the national RVU file, the GPCIs, and the payment formula.

CMS publishes the PFS Relative Value Files on cms.gov ("PFS Relative Value Files", e.g. RVU26C,
``rvu26c-updated-06-30-2026.zip``). Two of its CSVs are read here:

* ``PPRRVU2026_Jul_nonQPP.csv`` (here ``PPRRVU2026_Jul_nonQPP_no_cpt_descriptors.csv``, CPT and
  dental descriptors blanked): title lines, then a header of several lines whose cells stack into
  the column names (``STATUS`` over ``CODE`` = "STATUS CODE"; ``NON-FAC``/``NA``/``INDICATOR``
  = "NON-FAC NA INDICATOR"), the last one starting with ``HCPCS``. 32 columns: HCPCS, MOD,
  DESCRIPTION, STATUS CODE, NOT USED FOR MEDICARE PAYMENT, WORK RVU, NON-FAC PE RVU, NON-FAC NA
  INDICATOR, FACILITY PE RVU, FACILITY NA INDICATOR, MP RVU, NON-FACILITY TOTAL, FACILITY TOTAL,
  PCTC IND, GLOB DAYS, PRE OP, INTRA OP, POST OP, MULT PROC, BILAT SURG, ASST SURG, CO- SURG,
  TEAM SURG, PRIC IND, ENDO BASE, CONV FACTOR, PHYSICIAN SUPERVISION OF DIAGNOSTIC PROCEDURES,
  CALCULATION FLAG, DIAGNOSTIC IMAGING FAMILY INDICATOR, and the NON-FACILITY PE / FACILITY PE /
  MP USED FOR OPPS PAYMENT AMOUNT columns. One row per HCPCS code and modifier (blank, 26, TC, 53).
* ``GPCI2026.csv`` (Addendum E): a title line, a header line ``Medicare Administrative Contractor
  (MAC),State,Locality Number,Locality Name,2026 PW GPCI (with 1.0 Floor)***,2026 PE GPCI,2026 MP
  GPCI``, one row per MAC locality, then footnotes.

``RvuRow`` keeps the RVUs, the conversion factor (read from each row's CONV FACTOR), the status
code and the global days; every other column goes into ``attrs`` under its CMS name in snake case
(``pctc_ind``, ``mult_proc``, ``bilat_surg``, ``asst_surg``, ``co_surg``, ``team_surg``,
``endo_base``, ``non_facility_total`` ...). In ``attrs`` indicators stay strings as printed,
numbers are decimal strings as printed (JSON-able; ``Decimal(attrs[k])`` restores them),
"NOT USED FOR MEDICARE PAYMENT" (``+``) and the NA indicators (``NA``) are booleans, and a blank
cell is ``None``. DESCRIPTION is never kept for CPT (numeric, or 4 digits + F/T/U/M) or dental
(D) codes; for HCPCS Level II codes it is kept as ``attrs["description"]``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from medbill.codesets.records import GpciRow, RvuRow
from medbill.core.errors import SourceFileError

CENT = Decimal("0.01")

# Columns RvuRow keeps as fields (CMS stacked header names).
_FIELD_COLUMNS = (
    "HCPCS",
    "MOD",
    "STATUS CODE",
    "WORK RVU",
    "NON-FAC PE RVU",
    "FACILITY PE RVU",
    "MP RVU",
    "CONV FACTOR",
    "GLOB DAYS",
)
# attrs columns that must be there, with their cell shape.
_DIGIT_COLUMNS = ("PCTC IND", "MULT PROC", "BILAT SURG", "ASST SURG", "CO- SURG", "TEAM SURG")
_DECIMAL_COLUMNS = ("NON-FACILITY TOTAL", "FACILITY TOTAL", "PRE OP", "INTRA OP", "POST OP")
_FLAG_COLUMNS = {
    "NOT USED FOR MEDICARE PAYMENT": "+",
    "NON-FAC NA INDICATOR": "NA",
    "FACILITY NA INDICATOR": "NA",
}
GLOBAL_DAYS = frozenset({"000", "010", "090", "MMM", "XXX", "YYY", "ZZZ"})

_CODE = re.compile(r"[0-9A-Z]{5}")
_LEVEL2 = re.compile(r"[A-CE-V][0-9]{4}")  # HCPCS Level II, not CPT and not dental (D)
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_NUMBER = re.compile(r"-?[0-9]*\.?[0-9]+")
_MAX_PREAMBLE = 30


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower().replace("co- ", "co_")).strip("_")


def _decimal(text: str, *, path: str, line: int, field: str) -> Decimal:
    value = text.strip()
    if _NUMBER.fullmatch(value) is None:
        raise SourceFileError(f"{text!r} is not a decimal number", path=path, line=line, field=field)
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid numbers
        raise SourceFileError(f"{text!r} is not a decimal number", path=path, line=line, field=field) from exc


# --------------------------------------------------------------------------------------------
# PPRRVU (national RVU file)
# --------------------------------------------------------------------------------------------


def parse_rvu_file(path: str | Path) -> Iterator[RvuRow]:
    """Yield one :class:`RvuRow` per data row of a PFS ``PPRRVU*.csv`` file, in file order.

    Raises :class:`SourceFileError` naming the file, line and column on anything unexpected.
    """
    spath = str(path)
    try:
        handle = open(path, encoding="latin-1", newline="")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=spath) from exc
    with handle:
        reader = csv.reader(handle)
        try:
            yield from _read_rvu(reader, spath)
        except csv.Error as exc:
            raise SourceFileError(f"bad CSV: {exc}", path=spath, line=reader.line_num) from exc


def _rvu_header(reader: Any, path: str) -> list[str]:
    above: list[list[str]] = []
    for record in reader:
        if record and record[0].strip().upper() == "HCPCS":
            stack: list[list[str]] = []
            # header lines above: stop at a blank line or a title line (text in DESCRIPTION only)
            for row in reversed(above):
                filled = [i for i, c in enumerate(row) if c.strip()]
                if not filled or filled == [2]:
                    break
                stack.insert(0, row)
            stack.append(record)
            return [
                " ".join(row[i].strip() for row in stack if i < len(row) and row[i].strip()).upper()
                for i in range(len(record))
            ]
        above.append(record)
        if reader.line_num >= _MAX_PREAMBLE:
            break
    raise SourceFileError(
        f"no header line starting with HCPCS in the first {_MAX_PREAMBLE} lines: not a PFS PPRRVU file",
        path=path,
        field="header",
    )


def _read_rvu(reader: Any, path: str) -> Iterator[RvuRow]:
    names = _rvu_header(reader, path)
    header_line = reader.line_num
    where = {name: i for i, name in reversed(list(enumerate(names)))}
    for name in (*_FIELD_COLUMNS, *_DIGIT_COLUMNS, *_DECIMAL_COLUMNS, *_FLAG_COLUMNS):
        if name not in where:
            raise SourceFileError(f"no {name!r} column (found {names})", path=path, line=header_line, field="header")
    code_at, mod_at, status_at, work_at, nf_pe_at, f_pe_at, mp_at, cf_at, glob_at = (where[n] for n in _FIELD_COLUMNS)
    desc_at = where.get("DESCRIPTION")
    kept = {where[n] for n in _FIELD_COLUMNS} | ({desc_at} if desc_at is not None else set())
    extra = [(i, names[i], _snake(names[i])) for i in range(len(names)) if i not in kept and names[i]]
    digit_cols = set(_DIGIT_COLUMNS)
    decimal_cols = set(_DECIMAL_COLUMNS) | {n for n in names if n.endswith("PAYMENT AMOUNT")}
    width = len(names)
    for record in reader:
        line = reader.line_num
        if not any(c.strip() for c in record):
            continue
        if len(record) != width:
            raise SourceFileError(f"{len(record)} fields, expected {width}", path=path, line=line, field="columns")
        code = record[code_at].strip().upper()
        if _CODE.fullmatch(code) is None:
            raise SourceFileError(
                f"{record[code_at]!r} is not a 5-character HCPCS code", path=path, line=line, field="HCPCS"
            )
        modifier = record[mod_at].strip().upper()
        if modifier and _MODIFIER.fullmatch(modifier) is None:
            raise SourceFileError(f"{modifier!r} is not a modifier", path=path, line=line, field="MOD")
        status = record[status_at].strip().upper()
        if len(status) != 1 or not status.isalpha():
            raise SourceFileError(f"{status!r} is not a status code letter", path=path, line=line, field="STATUS CODE")
        glob = record[glob_at].strip().upper()
        if glob not in GLOBAL_DAYS:
            raise SourceFileError(f"{glob!r} is not a global period", path=path, line=line, field="GLOB DAYS")
        attrs: dict[str, Any] = {}
        for i, name, key in extra:
            cell = record[i].strip()
            flag = _FLAG_COLUMNS.get(name)
            if flag is not None:
                if cell not in ("", flag):
                    raise SourceFileError(f"{cell!r} is neither {flag!r} nor blank", path=path, line=line, field=name)
                attrs[key] = cell == flag
            elif not cell:
                attrs[key] = None
            elif name in digit_cols:
                if not cell.isdigit():
                    raise SourceFileError(f"{cell!r} is not an indicator digit", path=path, line=line, field=name)
                attrs[key] = cell
            elif name in decimal_cols:
                attrs[key] = str(_decimal(cell, path=path, line=line, field=name))
            else:
                attrs[key] = cell
        if desc_at is not None and _LEVEL2.fullmatch(code) and record[desc_at].strip():
            attrs["description"] = record[desc_at].strip()
        yield RvuRow(
            code=code,
            modifier=modifier,
            status=status,
            work_rvu=_decimal(record[work_at], path=path, line=line, field="WORK RVU"),
            nonfacility_pe_rvu=_decimal(record[nf_pe_at], path=path, line=line, field="NON-FAC PE RVU"),
            facility_pe_rvu=_decimal(record[f_pe_at], path=path, line=line, field="FACILITY PE RVU"),
            mp_rvu=_decimal(record[mp_at], path=path, line=line, field="MP RVU"),
            conversion_factor=_decimal(record[cf_at], path=path, line=line, field="CONV FACTOR"),
            global_days=glob,
            attrs=attrs,
        )


# --------------------------------------------------------------------------------------------
# GPCI (Addendum E)
# --------------------------------------------------------------------------------------------

_MAC = re.compile(r"[0-9]{5}")
_STATE = re.compile(r"[A-Z]{2}")
_LOCALITY = re.compile(r"[0-9]{1,2}")


def parse_gpci_file(path: str | Path) -> Iterator[GpciRow]:
    """Yield one :class:`GpciRow` per MAC locality of a PFS ``GPCI*.csv`` (Addendum E) file.

    The locality rows end at the first blank line; the footnotes after it are skipped. Footnote
    marks after a locality name (``ALASKA*``, ``WYOMING**``) are dropped from ``name``.
    Raises :class:`SourceFileError` naming the file, line and column on anything unexpected.
    """
    spath = str(path)
    try:
        handle = open(path, encoding="latin-1", newline="")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=spath) from exc
    with handle:
        reader = csv.reader(handle)
        try:
            yield from _read_gpci(reader, spath)
        except csv.Error as exc:
            raise SourceFileError(f"bad CSV: {exc}", path=spath, line=reader.line_num) from exc


def _read_gpci(reader: Any, path: str) -> Iterator[GpciRow]:
    names: list[str] | None = None
    for record in reader:
        if record and record[0].strip().upper().startswith("MEDICARE ADMINISTRATIVE CONTRACTOR"):
            names = [" ".join(c.split()).upper() for c in record]
            break
        if reader.line_num >= _MAX_PREAMBLE:
            break
    if names is None:
        raise SourceFileError(
            "no header line starting with 'Medicare Administrative Contractor': not a PFS GPCI file",
            path=path,
            field="header",
        )
    header_line = reader.line_num

    def column(label: str, *words: str) -> int:
        for i, name in enumerate(names):
            if all(w in name for w in words):
                return i
        raise SourceFileError(f"no {label!r} column (found {names})", path=path, line=header_line, field="header")

    mac_at = 0
    state_at = column("State", "STATE")
    loc_at = column("Locality Number", "LOCALITY NUMBER")
    name_at = column("Locality Name", "LOCALITY NAME")
    work_at = column("PW GPCI", "PW GPCI")
    pe_at = column("PE GPCI", "PE GPCI")
    mp_at = column("MP GPCI", "MP GPCI")
    width = max(mac_at, state_at, loc_at, name_at, work_at, pe_at, mp_at) + 1
    count = 0
    for record in reader:
        line = reader.line_num
        if not record or not record[mac_at].strip():
            break  # end of the locality rows; footnotes follow
        if len(record) < width:
            raise SourceFileError(f"{len(record)} fields, expected {width}", path=path, line=line, field="columns")
        mac = record[mac_at].strip()
        if _MAC.fullmatch(mac) is None:
            raise SourceFileError(f"{mac!r} is not a 5-digit MAC number", path=path, line=line, field=names[mac_at])
        state = record[state_at].strip().upper()
        if _STATE.fullmatch(state) is None:
            raise SourceFileError(f"{state!r} is not a state", path=path, line=line, field=names[state_at])
        locality = record[loc_at].strip()
        if _LOCALITY.fullmatch(locality) is None:
            raise SourceFileError(f"{locality!r} is not a locality number", path=path, line=line, field=names[loc_at])
        name = record[name_at].strip().rstrip("*").strip()
        if not name:
            raise SourceFileError("empty locality name", path=path, line=line, field=names[name_at])
        count += 1
        yield GpciRow(
            mac=mac,
            state=state,
            locality=locality.zfill(2),
            name=name,
            work=_decimal(record[work_at], path=path, line=line, field=names[work_at]),
            pe=_decimal(record[pe_at], path=path, line=line, field=names[pe_at]),
            mp=_decimal(record[mp_at], path=path, line=line, field=names[mp_at]),
        )
    if count == 0:
        raise SourceFileError("no locality rows under the header", path=path, line=header_line + 1)


# --------------------------------------------------------------------------------------------
# Payment
# --------------------------------------------------------------------------------------------


def price(rvu: RvuRow, gpci: GpciRow, facility: bool) -> Decimal:
    """The fee schedule amount of one service in one locality, in dollars rounded to cents.

    ``((work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)) x conversion factor``,
    with the facility or non-facility PE RVU, rounded half up to the cent. It applies the formula
    only: status codes, NA indicators, multiple-procedure or bilateral reductions, the
    non-participating or limiting-charge adjustments and sequestration are the caller's to apply.
    """
    pe_rvu = rvu.facility_pe_rvu if facility else rvu.nonfacility_pe_rvu
    total = rvu.work_rvu * gpci.work + pe_rvu * gpci.pe + rvu.mp_rvu * gpci.mp
    return (total * rvu.conversion_factor).quantize(CENT, rounding=ROUND_HALF_UP)

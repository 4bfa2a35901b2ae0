"""HCPCS Level II codes and modifiers from the CMS quarterly "Alpha-Numeric HCPCS File" (ANWEB).

CMS publishes the file every quarter on cms.gov, "HCPCS Quarterly Update"
(``https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system/quarterly-update``),
as a zip holding the same records in two forms, both read here:

* ``HCPC<yyyy>_<QTR>_ANWEB*.xlsx`` -- one worksheet; a few lines of notes, then a header row
  (row 11 in the October 2020 file, found here by its first cell ``HCPC``) with the columns
  ``HCPC, SEQNUM, RECID, LONG DESCRIPTION, SHORT DESCRIPTION, PRICE1-4, MULT_PI, CIM1-3, MCM1-3,
  STATUTE, LABCERT1-8, XREF1-5, COV, ASC_GRP, ASC_DT, OPPS, OPPS_PI, OPPS_DT, PROCNOTE, BETOS,
  TOS1-5, ANEST_BU, ADD DT, ACT EFF DT, TERM DT, ACTION CD``.
* ``HCPC<yyyy>_<QTR>_ANWEB*.txt`` -- fixed width, 320 characters a record, laid out by CMS's
  "HCPCS Contractor Record" (``HCPC<yyyy>_recordlayout.txt`` in the same zip); see ``TXT_LAYOUT``.

Each record has a code (a modifier is right-justified: ``"   LT"``), a sequence number and a
record id: 3 = first line of a procedure/item, 4 = a continuation line of its long description,
7 = first line of a modifier, 8 = a continuation line. Continuation lines carry only the long
description; this module joins them (with one space: CMS wraps at word boundaries) onto the
first line, and squeezes runs of white space in descriptions to one space so that both forms of
a release give identical rows. The xlsx keeps most long descriptions in one cell but still splits the longest
(G0503 in October 2020) into a 4 record.

Yields ``CodeRow(system=HCPCS)`` for codes and ``CodeRow(system=MODIFIER)`` for Level II
modifiers. ``valid_from`` is the code's ADD DT (the date it entered HCPCS; the ACT EFF DT is the
date of the latest action, e.g. a description change or the discontinuation itself), falling
back to ACT EFF DT when ADD DT is blank, and using ACT EFF DT for a re-activated code (action R);
``valid_to`` is TERM DT, the last date the code may be used. All dates, indicators and
cross-references are kept in ``attrs`` (JSON-able: dates as ISO strings). Level I (CPT) rows --
numeric codes or modifiers, AMA content -- are never in the CMS ANWEB file; should one appear it
is skipped (and counted in the log) so CPT descriptors never enter the store this way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from medbill.codesets.records import ITEM, CodeRow
from medbill.core.codes import CodeSystem, is_well_formed
from medbill.core.errors import SourceFileError

log = logging.getLogger(__name__)

# Record ids (RECID)
PROC_FIRST = "3"
PROC_CONT = "4"
MOD_FIRST = "7"
MOD_CONT = "8"
_RECIDS = (PROC_FIRST, PROC_CONT, MOD_FIRST, MOD_CONT)

# The fixed-width record ("HCPCS Contractor Record", 320 characters): column name as in the
# xlsx header, 1-based first and last position. Unchanged from the 2016 to the 2026 layout
# (the OPPS fields were called MOG before).
TXT_LAYOUT: tuple[tuple[str, int, int], ...] = (
    ("HCPC", 1, 5),
    ("SEQNUM", 6, 10),
    ("RECID", 11, 11),
    ("LONG DESCRIPTION", 12, 91),
    ("SHORT DESCRIPTION", 92, 119),
    *((f"PRICE{i + 1}", 120 + 2 * i, 121 + 2 * i) for i in range(4)),
    ("MULT_PI", 128, 128),
    *((f"CIM{i + 1}", 129 + 6 * i, 134 + 6 * i) for i in range(3)),
    *((f"MCM{i + 1}", 147 + 8 * i, 154 + 8 * i) for i in range(3)),
    ("STATUTE", 171, 180),
    *((f"LABCERT{i + 1}", 181 + 3 * i, 183 + 3 * i) for i in range(8)),
    *((f"XREF{i + 1}", 205 + 5 * i, 209 + 5 * i) for i in range(5)),
    ("COV", 230, 230),
    ("ASC_GRP", 231, 232),
    ("ASC_DT", 233, 240),
    ("OPPS", 241, 243),
    ("OPPS_PI", 244, 244),
    ("OPPS_DT", 245, 252),
    ("PROCNOTE", 253, 256),
    ("BETOS", 257, 259),
    # 260 is filler
    *((f"TOS{i + 1}", 261 + i, 261 + i) for i in range(5)),
    ("ANEST_BU", 266, 268),
    ("ADD DT", 269, 276),
    ("ACT EFF DT", 277, 284),
    ("TERM DT", 285, 292),
    ("ACTION CD", 293, 293),
    # 294-320 filler
)
TXT_RECORD_LENGTH = 320
COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in TXT_LAYOUT)

_DATE_FIELDS = ("ASC_DT", "OPPS_DT", "ADD DT", "ACT EFF DT", "TERM DT")


@dataclass(slots=True)
class _Pending:
    """A code being assembled from its first record and its continuation records."""

    system: CodeSystem
    code: str
    line: int
    fields: dict[str, str]
    long_parts: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# public API


def parse_hcpcs_file(path: str | Path) -> Iterator[CodeRow]:
    """Yield the codes and modifiers of an ANWEB file, .xlsx or fixed-width .txt (by suffix)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return parse_anweb_xlsx(p)
    if suffix in (".txt", ".dat", ""):
        return parse_anweb_txt(p)
    raise SourceFileError(
        f"unknown ANWEB file type {p.suffix!r}: expected the CMS .xlsx or fixed-width .txt",
        path=str(p),
    )


def parse_anweb_xlsx(path: str | Path) -> Iterator[CodeRow]:
    """Yield the codes and modifiers of the ANWEB .xlsx (the header row is located by ``HCPC``)."""
    p = Path(path)
    return _assemble(p, _xlsx_records(p))


def parse_anweb_txt(path: str | Path) -> Iterator[CodeRow]:
    """Yield the codes and modifiers of the fixed-width ANWEB .txt (``TXT_LAYOUT``)."""
    p = Path(path)
    return _assemble(p, _txt_records(p))


def format_txt_record(fields: dict[str, str]) -> str:
    """One 320-character fixed-width record from column values (used to build test files).

    ``HCPC`` is right-justified (modifiers take positions 4-5); every other field is
    left-justified. A value longer than its field raises ``ValueError``.
    """
    out = [" "] * TXT_RECORD_LENGTH
    for name, start, end in TXT_LAYOUT:
        value = fields.get(name, "") or ""
        width = end - start + 1
        if len(value) > width:
            raise ValueError(f"{name} value {value!r} is longer than {width} characters")
        text = value.rjust(width) if name == "HCPC" else value.ljust(width)
        out[start - 1 : end] = text
    return "".join(out)


# ----------------------------------------------------------------------------------------------
# readers: (line number, {column: stripped text})


def _xlsx_records(p: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        import openpyxl  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise SourceFileError("openpyxl is needed to read .xlsx files", path=str(p)) from exc
    import warnings

    try:
        with warnings.catch_warnings():
            # the CMS workbook has a page header openpyxl cannot parse; harmless
            warnings.simplefilter("ignore", UserWarning)
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise SourceFileError(f"not a readable .xlsx workbook: {exc}", path=str(p)) from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            rows = list(wb.worksheets[0].iter_rows(values_only=True))
    except Exception as exc:
        raise SourceFileError(f"cannot read the first worksheet: {exc}", path=str(p)) from exc
    finally:
        wb.close()
    header: list[str] | None = None
    index: dict[str, int] = {}
    for rownum, row in enumerate(rows, start=1):
        if header is None:
            first = _cell(row[0]) if row else ""
            if first.upper() == "HCPC":
                header = [_cell(v).upper() for v in row]
                index = {name: i for i, name in enumerate(header) if name}
                missing = [c for c in COLUMNS if c not in index]
                if missing:
                    raise SourceFileError(
                        f"header lacks column(s) {', '.join(missing)}",
                        path=str(p),
                        line=rownum,
                        field=missing[0],
                    )
            elif rownum > 50:
                break
            continue
        if not any(v is not None and _cell(v) for v in row):
            continue
        yield rownum, {c: (_cell(row[i]) if i < len(row) else "") for c, i in index.items()}
    if header is None:
        raise SourceFileError(
            "no header row starting with 'HCPC' in the first 50 rows: not an ANWEB workbook",
            path=str(p),
        )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _txt_records(p: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    seen = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        seen = True
        if len(line) > TXT_RECORD_LENGTH:
            raise SourceFileError(
                f"record is {len(line)} characters long, the layout has {TXT_RECORD_LENGTH}",
                path=str(p),
                line=lineno,
            )
        if len(line) < 11:
            raise SourceFileError(
                "record too short to hold HCPC, SEQNUM and RECID (positions 1-11)",
                path=str(p),
                line=lineno,
                field="RECID",
            )
        padded = line.ljust(TXT_RECORD_LENGTH)
        yield lineno, {name: padded[start - 1 : end].strip() for name, start, end in TXT_LAYOUT}
    if not seen:
        raise SourceFileError("empty file: no ANWEB records", path=str(p))


# ----------------------------------------------------------------------------------------------
# assembly


def _assemble(p: Path, records: Iterator[tuple[int, dict[str, str]]]) -> Iterator[CodeRow]:
    pending: _Pending | None = None
    seen: set[tuple[CodeSystem, str]] = set()
    counts = {CodeSystem.HCPCS: 0, CodeSystem.MODIFIER: 0}
    skipped_level1 = 0
    skipping: tuple[str, str] | None = None  # (recid family, code) of a skipped Level I record
    for line, rec in records:
        recid = rec["RECID"]
        if recid not in _RECIDS:
            raise SourceFileError(f"record id {recid!r} is not 3, 4, 7 or 8", path=str(p), line=line, field="RECID")
        code = rec["HCPC"].upper()
        modifier = recid in (MOD_FIRST, MOD_CONT)
        system = CodeSystem.MODIFIER if modifier else CodeSystem.HCPCS
        if recid in (PROC_CONT, MOD_CONT):
            if skipping is not None and skipping == (recid, code):
                continue
            if pending is None or pending.code != code or pending.system is not system:
                raise SourceFileError(
                    f"continuation record for {code!r} does not follow a first record of that "
                    f"{'modifier' if modifier else 'code'}",
                    path=str(p),
                    line=line,
                    field="HCPC",
                )
            text = rec["LONG DESCRIPTION"]
            if text:
                pending.long_parts.append(text)
            continue
        # a first record: finish the previous one
        if pending is not None:
            yield _finish(p, pending)
            counts[pending.system] += 1
            pending = None
        skipping = None
        if code[:1].isdigit():
            # Level I (CPT) content: AMA-copyrighted, never taken from this file
            skipped_level1 += 1
            skipping = (PROC_CONT if not modifier else MOD_CONT, code)
            continue
        if modifier:
            if not is_well_formed(code, CodeSystem.MODIFIER):
                raise SourceFileError(
                    f"{rec['HCPC']!r} is not a two-character modifier", path=str(p), line=line, field="HCPC"
                )
        elif not is_well_formed(code, CodeSystem.HCPCS):
            raise SourceFileError(
                f"{rec['HCPC']!r} is not a HCPCS Level II code (a letter A-V + 4 digits)",
                path=str(p),
                line=line,
                field="HCPC",
            )
        if (system, code) in seen:
            raise SourceFileError(
                f"{code} appears twice as a first record ({'7' if modifier else '3'})",
                path=str(p),
                line=line,
                field="HCPC",
            )
        seen.add((system, code))
        pending = _Pending(system, code, line, rec, [rec["LONG DESCRIPTION"]] if rec["LONG DESCRIPTION"] else [])
    if pending is not None:
        yield _finish(p, pending)
        counts[pending.system] += 1
    if not any(counts.values()) and not skipped_level1:
        raise SourceFileError("no HCPCS codes or modifiers in the file", path=str(p))
    if skipped_level1:
        log.warning("skipped %d Level I (CPT) records in %s", skipped_level1, p.name)
    log.info(
        "parsed %s: %d HCPCS codes, %d modifiers",
        p.name,
        counts[CodeSystem.HCPCS],
        counts[CodeSystem.MODIFIER],
    )


def _finish(p: Path, pend: _Pending) -> CodeRow:
    rec = pend.fields
    line = pend.line
    dates = {name: _date(rec[name], p, line, name) for name in _DATE_FIELDS}
    long_desc = _squeeze(" ".join(pend.long_parts)) or None
    if long_desc is None:
        raise SourceFileError(f"{pend.code} has no long description", path=str(p), line=line, field="LONG DESCRIPTION")
    action = rec["ACTION CD"]
    added, effective, term = dates["ADD DT"], dates["ACT EFF DT"], dates["TERM DT"]
    valid_from: date | None
    if action == "R" and effective is not None:
        valid_from = effective
    else:
        valid_from = added or effective
    attrs: dict[str, Any] = {}
    _put_list(attrs, "pricing_indicators", rec, ("PRICE1", "PRICE2", "PRICE3", "PRICE4"))
    _put(attrs, "multiple_pricing_indicator", rec["MULT_PI"])
    _put_list(attrs, "cim", rec, ("CIM1", "CIM2", "CIM3"))
    _put_list(attrs, "mcm", rec, ("MCM1", "MCM2", "MCM3"))
    _put(attrs, "statute", rec["STATUTE"])
    _put_list(attrs, "labcert", rec, tuple(f"LABCERT{i}" for i in range(1, 9)))
    _put_list(attrs, "xrefs", rec, tuple(f"XREF{i}" for i in range(1, 6)), upper=True)
    _put(attrs, "coverage", rec["COV"])
    _put(attrs, "asc_group", rec["ASC_GRP"])
    _put(attrs, "asc_date", _iso(dates["ASC_DT"]))
    _put(attrs, "opps", rec["OPPS"])
    _put(attrs, "opps_pi", rec["OPPS_PI"])
    _put(attrs, "opps_date", _iso(dates["OPPS_DT"]))
    _put(attrs, "processing_note", rec["PROCNOTE"])
    _put(attrs, "betos", rec["BETOS"])
    _put_list(attrs, "tos", rec, tuple(f"TOS{i}" for i in range(1, 6)))
    if rec["ANEST_BU"]:
        if not rec["ANEST_BU"].isdigit():
            raise SourceFileError(
                f"anesthesia base units {rec['ANEST_BU']!r} is not a whole number",
                path=str(p),
                line=line,
                field="ANEST_BU",
            )
        attrs["anesthesia_base_units"] = int(rec["ANEST_BU"])
    _put(attrs, "add_date", _iso(added))
    _put(attrs, "action_effective_date", _iso(effective))
    _put(attrs, "termination_date", _iso(term))
    _put(attrs, "action_code", action)
    return CodeRow(
        system=pend.system,
        code=pend.code,
        kind=ITEM,
        billable=True,
        long_desc=long_desc,
        short_desc=_squeeze(rec["SHORT DESCRIPTION"]) or None,
        valid_from=valid_from,
        valid_to=term,
        attrs=attrs,
    )


def _squeeze(text: str) -> str:
    """Runs of white space to one space (a wrapped .txt line loses a double space at its end)."""
    return " ".join(text.split())


def _put(attrs: dict[str, Any], key: str, value: str | None) -> None:
    if value:
        attrs[key] = value


def _put_list(
    attrs: dict[str, Any], key: str, rec: dict[str, str], names: Sequence[str], *, upper: bool = False
) -> None:
    values = [rec[n].upper() if upper else rec[n] for n in names if rec[n]]
    if values:
        attrs[key] = values


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _date(text: str, p: Path, line: int, name: str) -> date | None:
    if not text:
        return None
    if len(text) != 8 or not text.isdigit():
        raise SourceFileError(f"date {text!r} is not yyyymmdd", path=str(p), line=line, field=name)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise SourceFileError(f"date {text!r} is not a calendar date", path=str(p), line=line, field=name) from exc

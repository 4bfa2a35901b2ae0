"""A user's licensed AMA CPT data file: code numbers with their descriptors.

CPT descriptors are copyrighted by the American Medical Association and licensed through the AMA
(``https://www.ama-assn.org/practice-management/cpt``, "CPT data files" / CPT Link). medbill never
ships them: ``medbill data import-cpt FILE`` reads the user's own file with ``parse_cpt_file``.

The AMA "CPT Standard" data files come in these text forms, all read here (the AMA puts its
copyright notice at the top of each .txt file; the lines before the first record are skipped):

* tab-delimited ``code<TAB>descriptor`` -- ``LONGULT.txt`` / ``LONGUT.txt`` (long descriptors,
  upper/lower or upper case), and the tab forms of ``MEDU.txt``, ``SHORTU.txt`` and the consumer
  descriptor files;
* fixed field ``code<SPACE>descriptor`` -- ``SHORTU.txt`` (descriptor in positions 7-34) and
  ``MEDU.txt`` (7-106);
* fixed field with a sequence number -- ``LONGULF.txt`` / ``LONGUF.txt``: code in 1-5, a 2-digit
  sequence number in 6-7, a blank, the descriptor in 9-80; a longer descriptor continues on the
  next record with the same code and the next sequence number (joined with a space);
* a delimited file (comma, tab or pipe) whose header names a code column (``code``, ``CPT Code``,
  ``HCPCS`` ...) and one or more descriptor columns (``Description``, ``Long Descriptor``,
  ``Consumer Friendly Descriptor`` ...) -- CSV exports and CPT Link's descriptor files.

The form is detected from the first record (or header); every later line must have that form.
A code is 4 digits + a digit or A/F/M/T/U (Category I incl. vaccine administration codes,
Category II, III, PLA, MAAA). Anything else raises ``SourceFileError`` naming the file, line and
field. Descriptors go to ``long_desc``, or to ``short_desc`` for a short-descriptor file
(``SHORT`` in the file name or the column name); ``attrs["descriptor"]`` says which kind
(``long``, ``medium``, ``short``, ``consumer``, ``clinician`` or ``unknown``).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medbill.codesets.records import ITEM, CodeRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

log = logging.getLogger(__name__)

TAB = "tab"
FIXED = "fixed"
FIXED_SEQ = "fixed_seq"
DELIMITED = "delimited"

_CODE = r"[0-9]{4}[0-9AFMTU]"
_CODE_RE = re.compile(_CODE)
_TAB_RE = re.compile(rf"({_CODE})\t(.*)")
_FIXED_SEQ_RE = re.compile(rf"({_CODE})([0-9]{{2}}) (.*)")
_FIXED_RE = re.compile(rf"({_CODE}) (.*)")
# a line that starts like a record but is malformed (for error messages in the body)
_CODE_PREFIX_RE = re.compile(r"\S{1,8}")

_MAX_PREAMBLE = 200  # lines of copyright notice tolerated before the first record / header

_CODE_COLUMNS = ("code", "cptcode", "cpt", "cptcodes", "hcpcs", "hcpcscode", "procedurecode", "cpthcpcs")
_DESC_WORDS = ("descriptor", "description", "desc")
_KINDS = ("consumer", "clinician", "short", "medium", "long")


@dataclass(frozen=True, slots=True)
class _Header:
    delimiter: str
    code_col: int
    desc_cols: dict[str, int]  # kind -> column index


# ----------------------------------------------------------------------------------------------
# public API


def parse_cpt_file(path: str | Path, *, descriptor: str | None = None) -> Iterator[CodeRow]:
    """Yield ``CodeRow(system=CPT)`` per code of a licensed AMA CPT data file (form detected).

    ``descriptor`` (``long``/``medium``/``short``/``consumer``/``clinician``) overrides the kind
    guessed from the file name.
    """
    p = Path(path)
    if descriptor is not None and descriptor not in _KINDS:
        raise ValueError(f"descriptor must be one of {', '.join(_KINDS)}, not {descriptor!r}")
    lines = _read_lines(p)
    kind = descriptor or _kind_from_name(p.name)
    start, form, header = _detect(p, lines)
    if form == DELIMITED:
        assert header is not None
        return _parse_delimited(p, lines, start, header, descriptor)
    return _parse_plain(p, lines, start, form, kind)


def detect_cpt_form(path: str | Path) -> str:
    """The form of a CPT data file: ``tab``, ``fixed``, ``fixed_seq`` or ``delimited``."""
    p = Path(path)
    return _detect(p, _read_lines(p))[1]


# ----------------------------------------------------------------------------------------------
# detection


def _read_lines(p: Path) -> list[str]:
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    if b"\x00" in data[:4096]:
        raise SourceFileError(
            "binary file: expected an AMA CPT text file (tab-delimited, fixed field or CSV)", path=str(p)
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # AMA .txt files are often Windows-1252
    return text.splitlines()


def _kind_from_name(name: str) -> str:
    upper = name.upper()
    if "CONSUMER" in upper:
        return "consumer"
    if "CLINICIAN" in upper:
        return "clinician"
    if "SHORT" in upper:
        return "short"
    if upper.startswith("MED"):
        return "medium"
    if "LONG" in upper:
        return "long"
    return "unknown"


def _detect(p: Path, lines: list[str]) -> tuple[int, str, _Header | None]:
    """(index of the first record or header line, form, header)."""
    seen = 0
    for i, raw in enumerate(lines):
        line = raw.rstrip()
        if not line.strip():
            continue
        if _TAB_RE.fullmatch(line):
            return i, TAB, None
        if _FIXED_SEQ_RE.fullmatch(line):
            return i, FIXED_SEQ, None
        if _FIXED_RE.fullmatch(line):
            return i, FIXED, None
        header = _header(line)
        if header is not None:
            return i, DELIMITED, header
        seen += 1
        if seen >= _MAX_PREAMBLE:
            break
    raise SourceFileError(
        "no CPT records found: expected 'code<TAB>descriptor' (LONGULT.txt), 'code descriptor' "
        "(SHORTU.txt/MEDU.txt), fixed field with sequence numbers (LONGULF.txt), or a CSV whose "
        "header names a code and a description column",
        path=str(p),
        line=1,
    )


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _header(line: str) -> _Header | None:
    for delimiter in ("\t", "|", ","):
        if delimiter not in line:
            continue
        cells = next(csv.reader([line], delimiter=delimiter))
        names = [_norm(c) for c in cells]
        code_col = next((i for i, n in enumerate(names) if n in _CODE_COLUMNS), None)
        if code_col is None:
            continue
        desc_cols: dict[str, int] = {}
        for i, n in enumerate(names):
            if i == code_col or not any(w in n for w in _DESC_WORDS) or n.endswith("id"):
                continue
            kind = next((k for k in _KINDS if k in n), "unknown")
            if kind == "unknown" and "full" in n:
                kind = "long"
            desc_cols.setdefault(kind, i)
        if desc_cols:
            return _Header(delimiter, code_col, desc_cols)
    return None


# ----------------------------------------------------------------------------------------------
# readers


def _row(code: str, text: str, kind: str, short: str | None = None) -> CodeRow:
    if kind == "short":
        return CodeRow(
            system=CodeSystem.CPT,
            code=code,
            kind=ITEM,
            billable=True,
            long_desc=None,
            short_desc=text,
            attrs={"descriptor": kind},
        )
    return CodeRow(
        system=CodeSystem.CPT,
        code=code,
        kind=ITEM,
        billable=True,
        long_desc=text,
        short_desc=short,
        attrs={"descriptor": kind},
    )


def _bad_line(p: Path, lineno: int, line: str, form: str) -> SourceFileError:
    expected = {
        TAB: "code<TAB>descriptor",
        FIXED: "code, one space, descriptor",
        FIXED_SEQ: "code, 2-digit sequence number, a space, descriptor",
    }[form]
    m = _CODE_PREFIX_RE.match(line)
    head = m.group(0) if m else ""
    if not head[:5] or _CODE_RE.fullmatch(head[:5]) is None:
        return SourceFileError(
            f"{head[:10]!r} is not a CPT code (4 digits + a digit or A/F/M/T/U); the file is {form} ({expected})",
            path=str(p),
            line=lineno,
            field="code",
        )
    return SourceFileError(
        f"record does not match the file's form {form} ({expected})",
        path=str(p),
        line=lineno,
        field="descriptor",
    )


def _parse_plain(p: Path, lines: list[str], start: int, form: str, kind: str) -> Iterator[CodeRow]:
    pattern = {TAB: _TAB_RE, FIXED: _FIXED_RE, FIXED_SEQ: _FIXED_SEQ_RE}[form]
    seen: set[str] = set()
    pend_code: str | None = None
    pend_parts: list[str] = []
    pend_seq = 0
    pend_line = 0
    count = 0

    def flush() -> CodeRow:
        assert pend_code is not None
        return _row(pend_code, " ".join(pend_parts), kind)

    for idx in range(start, len(lines)):
        lineno = idx + 1
        line = lines[idx].rstrip()
        if not line.strip():
            continue
        m = pattern.fullmatch(line)
        if m is None:
            raise _bad_line(p, lineno, line, form)
        code = m.group(1)
        text = m.group(m.lastindex or 2).strip()
        if form == FIXED_SEQ:
            seq = int(m.group(2))
            if code == pend_code:
                if seq != pend_seq + 1:
                    raise SourceFileError(
                        f"sequence number {seq:02d} of {code} does not follow {pend_seq:02d}",
                        path=str(p),
                        line=lineno,
                        field="sequence",
                    )
                pend_seq = seq
                if text:
                    pend_parts.append(text)
                continue
            if pend_code is not None:
                if not pend_parts:
                    raise SourceFileError(
                        f"{pend_code} has no descriptor", path=str(p), line=pend_line, field="descriptor"
                    )
                yield flush()
                count += 1
            if seq != 1:
                raise SourceFileError(
                    f"first record of {code} has sequence number {seq:02d}, expected 01",
                    path=str(p),
                    line=lineno,
                    field="sequence",
                )
        if not text and form != FIXED_SEQ:
            raise SourceFileError(f"{code} has no descriptor", path=str(p), line=lineno, field="descriptor")
        if code in seen:
            raise SourceFileError(f"{code} appears twice", path=str(p), line=lineno, field="code")
        seen.add(code)
        if form == FIXED_SEQ:
            pend_code, pend_parts, pend_seq, pend_line = code, ([text] if text else []), 1, lineno
            continue
        yield _row(code, text, kind)
        count += 1
    if pend_code is not None:
        if not pend_parts:
            raise SourceFileError(f"{pend_code} has no descriptor", path=str(p), line=pend_line, field="descriptor")
        yield flush()
        count += 1
    log.info("parsed CPT file %s: form=%s descriptor=%s codes=%d", p.name, form, kind, count)


def _parse_delimited(
    p: Path, lines: list[str], start: int, header: _Header, descriptor: str | None
) -> Iterator[CodeRow]:
    # the kind of the main descriptor: a forced one, else the longest the header has
    order = ("long", "clinician", "consumer", "medium", "unknown", "short")
    kinds = sorted(header.desc_cols, key=order.index)
    main_kind = kinds[0]
    main_col = header.desc_cols[main_kind]
    short_col = header.desc_cols.get("short") if main_kind != "short" else None
    out_kind = descriptor or main_kind
    if out_kind == "unknown":
        out_kind = _kind_from_name(p.name)
    width = len(next(csv.reader([lines[start]], delimiter=header.delimiter)))
    names = next(csv.reader([lines[start]], delimiter=header.delimiter))
    body = io.StringIO("\n".join(lines[start + 1 :]))
    reader = csv.reader(body, delimiter=header.delimiter)
    seen: set[str] = set()
    count = 0
    try:
        for cells in reader:
            lineno = start + 1 + reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != width:
                raise SourceFileError(f"{len(cells)} fields, the header has {width}", path=str(p), line=lineno)
            raw = cells[header.code_col].strip().upper()
            if _CODE_RE.fullmatch(raw) is None:
                raise SourceFileError(
                    f"{raw!r} is not a CPT code (4 digits + a digit or A/F/M/T/U)",
                    path=str(p),
                    line=lineno,
                    field=names[header.code_col].strip(),
                )
            text = cells[main_col].strip()
            if not text:
                raise SourceFileError(
                    f"{raw} has no descriptor", path=str(p), line=lineno, field=names[main_col].strip()
                )
            if raw in seen:
                raise SourceFileError(
                    f"{raw} appears twice (one descriptor per code expected)",
                    path=str(p),
                    line=lineno,
                    field=names[header.code_col].strip(),
                )
            seen.add(raw)
            short = cells[short_col].strip() or None if short_col is not None else None
            yield _row(raw, text, out_kind, short)
            count += 1
    except csv.Error as exc:
        raise SourceFileError(f"bad CSV: {exc}", path=str(p), line=start + 1 + reader.line_num) from exc
    if count == 0:
        raise SourceFileError("header but no CPT records", path=str(p), line=start + 1)
    log.info("parsed CPT file %s: form=delimited descriptor=%s codes=%d", p.name, out_kind, count)

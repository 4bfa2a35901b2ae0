"""Flat code lists: place of service, CARC, RARC and claim adjustment group codes.

* Place of Service (POS) -- CMS "Place of Service Code Set" (cms.gov, "Place of Service Codes for
  Professional Claims"), 2-digit codes used in 837P SV105 / CMS-1500 item 24B. Read from a gzip
  JSON object ``{code: name}`` (``place-of-service/pos_codes.json.gz``, the CMS list as shipped by
  the PyPI package claim-validator 0.3.0, version 2026). That copy lacks POS 66 (PACE Center,
  added by CMS in 2023/2024): nothing is invented here, but ``KNOWN_POS_GAPS`` names the gap and
  ``missing_known_pos`` reports it for a parsed list.
* Claim Adjustment Reason Codes (CARC) and Remittance Advice Remark Codes (RARC) -- the X12
  external code lists (x12.org "Claim Adjustment Reason Codes" / "Remittance Advice Remark
  Codes"; RARCs are maintained by CMS), used in 835 CAS and LQ/MOA/MIA segments. Read from CSV
  ``code,description,start,last_modified,stop,notes`` with dates ``MM/DD/YYYY``
  (``carc-rarc/DERIVED_carc_clean.csv``, ``DERIVED_rarc_clean.csv``). ``valid_from`` is the
  Start date and ``valid_to`` the Stop date as X12 prints them (X12 deactivates a code "effective"
  its stop date; the lists do not say whether that day is still usable).
* Claim adjustment group codes (CO, CR, OA, PI, PR; 835 CAS01) -- CSV ``code,description,note``
  (``carc-rarc/DERIVED_claim_adjustment_group_codes.csv``).

Every list yields ``CodeRow(kind=ITEM, billable=True)``; ``attrs`` carry what the file adds
(last-modified date, notes, the RARC "Alert:" marker) as JSON-able values.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from medbill.codesets.records import ITEM, CodeRow
from medbill.core.codes import CodeSystem, is_well_formed
from medbill.core.errors import SourceFileError

log = logging.getLogger(__name__)

POS_FILE = "pos_codes.json.gz"
CARC_FILE = "DERIVED_carc_clean.csv"
RARC_FILE = "DERIVED_rarc_clean.csv"
GROUP_FILE = "DERIVED_claim_adjustment_group_codes.csv"

# Codes CMS publishes that the bundled POS copy is known to lack (from its SOURCE.txt). Names are
# not given on purpose: nothing is added to the code set from here.
KNOWN_POS_GAPS: Mapping[str, str] = {
    "66": "PACE Center (effective 2023/2024 per CMS) is missing from pos_codes.json.gz (2026); "
    "verify against the CMS Place of Service code set",
}

_REMARK_HEADER = ("code", "description", "start", "last_modified", "stop", "notes")
_GROUP_HEADER = ("code", "description", "note")
_MDY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


# ----------------------------------------------------------------------------------------------
# place of service


def parse_pos(path: str | Path) -> Iterator[CodeRow]:
    """Yield ``CodeRow(system=POS)`` per code of a gzip JSON ``{code: name}`` (or plain .json)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw.decode("utf-8-sig"))
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceFileError(f"bad gzip data: {exc}", path=str(p)) from exc
    except UnicodeDecodeError as exc:
        raise SourceFileError(f"not UTF-8 text: {exc.reason}", path=str(p)) from exc
    except json.JSONDecodeError as exc:
        raise SourceFileError(f"bad JSON: {exc.msg}", path=str(p), line=exc.lineno) from exc
    if not isinstance(data, dict) or not data:
        raise SourceFileError("expected a JSON object {code: name}", path=str(p))
    seen: set[str] = set()
    for n, (key, name) in enumerate(data.items(), start=1):
        code = str(key).strip()
        if code.isdigit() and len(code) == 1:
            code = code.zfill(2)
        if not is_well_formed(code, CodeSystem.POS):
            raise SourceFileError(
                f"entry {n}: {key!r} is not a 2-digit place of service", path=str(p), field=f"[{key!r}]"
            )
        if not isinstance(name, str) or not name.strip():
            raise SourceFileError(f"entry {n}: {code} has no name", path=str(p), field=f"[{key!r}]")
        if code in seen:
            raise SourceFileError(f"entry {n}: {code} appears twice", path=str(p), field=f"[{key!r}]")
        seen.add(code)
        yield CodeRow(system=CodeSystem.POS, code=code, kind=ITEM, billable=True, long_desc=name.strip())
    gaps = missing_known_pos(seen)
    if gaps:
        log.warning("place-of-service list %s lacks known code(s) %s", p.name, ", ".join(gaps))


def missing_known_pos(codes: Iterable[str]) -> tuple[str, ...]:
    """The codes of ``KNOWN_POS_GAPS`` absent from ``codes`` (sorted)."""
    have = set(codes)
    return tuple(sorted(c for c in KNOWN_POS_GAPS if c not in have))


# ----------------------------------------------------------------------------------------------
# CARC / RARC / group codes


def parse_carc(path: str | Path) -> Iterator[CodeRow]:
    """Yield ``CodeRow(system=CARC)`` per claim adjustment reason code."""
    return _parse_remarks(Path(path), CodeSystem.CARC)


def parse_rarc(path: str | Path) -> Iterator[CodeRow]:
    """Yield ``CodeRow(system=RARC)`` per remittance advice remark code (``attrs['alert']`` for
    the informational "Alert:" remarks)."""
    return _parse_remarks(Path(path), CodeSystem.RARC)


def parse_group_codes(path: str | Path) -> Iterator[CodeRow]:
    """Yield ``CodeRow(system=GROUP)`` per claim adjustment group code (CO, CR, OA, PI, PR)."""
    p = Path(path)
    seen: set[str] = set()
    for line, row in _csv_rows(p, _GROUP_HEADER):
        code = _code(row["code"], CodeSystem.GROUP, p, line, seen)
        desc = _text(row["description"], p, line, "description")
        attrs: dict[str, Any] = {}
        if row["note"]:
            attrs["note"] = row["note"]
        yield CodeRow(system=CodeSystem.GROUP, code=code, kind=ITEM, billable=True, long_desc=desc, attrs=attrs)


def _parse_remarks(p: Path, system: CodeSystem) -> Iterator[CodeRow]:
    seen: set[str] = set()
    for line, row in _csv_rows(p, _REMARK_HEADER):
        code = _code(row["code"], system, p, line, seen)
        desc = _text(row["description"], p, line, "description")
        start = _mdy(row["start"], p, line, "start")
        if start is None:
            raise SourceFileError("missing start date", path=str(p), line=line, field="start")
        modified = _mdy(row["last_modified"], p, line, "last_modified")
        stop = _mdy(row["stop"], p, line, "stop")
        if stop is not None and stop < start:
            raise SourceFileError(
                f"stop date {row['stop']} is before start date {row['start']}",
                path=str(p),
                line=line,
                field="stop",
            )
        attrs: dict[str, Any] = {}
        if modified is not None:
            attrs["last_modified"] = modified.isoformat()
        if row["notes"]:
            attrs["notes"] = row["notes"]
        if system is CodeSystem.RARC and desc.lower().startswith("alert"):
            attrs["alert"] = True
        yield CodeRow(
            system=system,
            code=code,
            kind=ITEM,
            billable=True,
            long_desc=desc,
            valid_from=start,
            valid_to=stop,
            attrs=attrs,
        )


# ----------------------------------------------------------------------------------------------
# helpers


def _csv_rows(p: Path, header: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        fh = p.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    with fh:
        reader = csv.reader(fh)
        try:
            first = next(reader, None)
            if first is None:
                raise SourceFileError("empty file (no header line)", path=str(p), line=1)
            got = tuple(h.strip().lower() for h in first)
            missing = [c for c in header if c not in got]
            if missing:
                raise SourceFileError(
                    f"header {','.join(got)!r} lacks column(s) {', '.join(missing)}",
                    path=str(p),
                    line=1,
                    field=missing[0],
                )
            for fields in reader:
                line = reader.line_num
                if not fields or all(not f.strip() for f in fields):
                    continue
                if len(fields) != len(got):
                    raise SourceFileError(f"{len(fields)} fields, the header has {len(got)}", path=str(p), line=line)
                yield line, {n: f.strip() for n, f in zip(got, fields, strict=True)}
        except UnicodeDecodeError as exc:
            raise SourceFileError(f"not UTF-8 text: {exc.reason}", path=str(p), line=reader.line_num + 1) from exc
        except csv.Error as exc:
            raise SourceFileError(f"bad CSV: {exc}", path=str(p), line=reader.line_num) from exc


def _code(raw: str, system: CodeSystem, p: Path, line: int, seen: set[str]) -> str:
    code = raw.strip().upper()
    if not code:
        raise SourceFileError("missing code", path=str(p), line=line, field="code")
    if not is_well_formed(code, system):
        raise SourceFileError(f"{raw!r} is not a well-formed {system.label} code", path=str(p), line=line, field="code")
    if code in seen:
        raise SourceFileError(f"{code} appears twice", path=str(p), line=line, field="code")
    seen.add(code)
    return code


def _text(raw: str, p: Path, line: int, name: str) -> str:
    text = raw.strip()
    if not text:
        raise SourceFileError(f"missing {name}", path=str(p), line=line, field=name)
    return text


def _mdy(text: str, p: Path, line: int, name: str) -> date | None:
    if not text:
        return None
    m = _MDY.fullmatch(text)
    if m is None:
        raise SourceFileError(f"date {text!r} is not MM/DD/YYYY", path=str(p), line=line, field=name)
    try:
        return date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    except ValueError as exc:
        raise SourceFileError(f"date {text!r} is not a calendar date", path=str(p), line=line, field=name) from exc

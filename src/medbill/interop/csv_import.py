"""Patients, coverage and encounters from CSV files (UTF-8, comma-separated, a header row).

Three layouts, one file each; a file's layout is told from its header (the columns may come in any order,
unknown columns are an error so that a misspelt column is not silently ignored). Give one file, several,
or a folder holding any of ``patients.csv``, ``coverage.csv`` and ``encounters.csv``. Records link to their
patient by ``mrn``: a coverage or encounter row names a patient of the same import or one the practice
already has.

``patients`` (required: ``mrn, last_name, first_name, birth_date``)
    ``middle_name, sex`` (F, M, U), ``ssn, account_number, address1, address2, city, state, zip, phone,
    email``.
``coverage`` (required: ``mrn, payer_id, member_id``)
    ``rank`` (1 primary, 2 secondary, 3 tertiary; default 1), ``payer_name`` and ``filing_indicator``
    (SBR09, default CI; used only to create a payer the practice lacks), ``group_number, relationship``
    (SBR02: 18 self (default), 01 spouse, 19 child, G8 other, or those words), ``subscriber_last_name,
    subscriber_first_name, subscriber_birth_date, subscriber_sex, effective_from, effective_to,
    insurance_type`` (SBR05).
``encounters`` (required: ``mrn, service_date``)
    ``external_id`` (the sending system's encounter id; importing it again is a no-op), ``discharge_date,
    kind`` (professional | institutional), ``setting`` (outpatient | inpatient), ``place_of_service``
    (default 11), ``type_of_bill, rendering_npi`` (a provider of the practice), ``note`` (free text), and
    ``diagnoses`` — ICD-10-CM codes separated by ``;`` in sequence order, each optionally ``:POA``
    (``E11.22;N18.30;I10``) — and ``procedures`` — items separated by ``;``, each a code (CPT when it
    starts with a digit, HCPCS Level II when with a letter, ``PCS:`` before an ICD-10-PCS code) followed
    by optional ``key=value`` words: ``mod=25,59 units=2 charge=150.00 dx=1,2 date=2025-03-04``
    (``99214 mod=25 charge=150.00 dx=1,2; 93000 charge=45``). An encounter with diagnoses is imported
    ``coded``, without them ``to_code``.

Dates are ISO ``YYYY-MM-DD``. Rows are numbered as a spreadsheet shows them (the header is row 1). Every
problem is reported at once as an :class:`~medbill.interop.records.ImportIssue` naming the file, the
row and the field (``encounters.csv, row 7, field procedures[2].charge``); messages never repeat PHI.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from medbill.core.codes import CodeSystem
from medbill.interop import _fields as f
from medbill.interop.records import (
    CoverageIn,
    DiagnosisIn,
    EncounterIn,
    ImportIssue,
    ParsedImport,
    PatientIn,
    ProcedureIn,
)

__all__ = ["FOLDER_FILES", "LAYOUTS", "parse_csv", "parse_csv_file", "parse_diagnoses", "parse_procedures"]

T = TypeVar("T")

LAYOUTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "patients": (
        frozenset({"mrn", "last_name", "first_name", "birth_date"}),
        frozenset(
            {"middle_name", "sex", "ssn", "account_number", "address1", "address2", "city", "state", "zip"}
            | {"phone", "email"}
        ),
    ),
    "coverage": (
        frozenset({"mrn", "payer_id", "member_id"}),
        frozenset(
            {"rank", "payer_name", "filing_indicator", "group_number", "relationship", "subscriber_last_name"}
            | {"subscriber_first_name", "subscriber_birth_date", "subscriber_sex", "effective_from", "effective_to"}
            | {"insurance_type"}
        ),
    ),
    "encounters": (
        frozenset({"mrn", "service_date"}),
        frozenset(
            {"external_id", "discharge_date", "kind", "setting", "place_of_service", "type_of_bill"}
            | {"rendering_npi", "note", "diagnoses", "procedures"}
        ),
    ),
}
"""layout → (required columns, optional columns)."""

FOLDER_FILES = ("patients.csv", "coverage.csv", "encounters.csv")


class _Row:
    """One CSV row being read: collects every field problem instead of stopping at the first."""

    def __init__(self, file: str, number: int, values: dict[str, str], issues: list[ImportIssue]) -> None:
        self.file = file
        self.number = number
        self.values = values
        self.issues = issues
        self.ok = True

    @property
    def source(self) -> str:
        return f"{self.file}, row {self.number}"

    def problem(self, column: str, message: str) -> None:
        self.ok = False
        self.issues.append(ImportIssue(self.file, f"row {self.number}", column, message))

    def get(self, column: str, check: Callable[[str], T], default: T) -> T:
        try:
            return check(self.values.get(column) or "")
        except f.FieldProblem as exc:
            self.problem(exc.field or column, exc.message)
            return default


def _layout_of(header: Sequence[str]) -> tuple[str | None, str]:
    cols = set(header)
    for name in ("coverage", "encounters", "patients"):
        required, optional = LAYOUTS[name]
        if name == "coverage" and "payer_id" not in cols:
            continue
        if name == "encounters" and "service_date" not in cols:
            continue
        if name == "patients" and "birth_date" not in cols:
            continue
        missing = sorted(required - cols)
        if missing:
            return None, f"the {name} layout needs the column(s) {', '.join(missing)}"
        unknown = sorted(cols - required - optional)
        if unknown:
            return None, f"unknown column(s) for the {name} layout: {', '.join(unknown)}"
        return name, ""
    return (
        None,
        "the header is none of the layouts (patients: birth_date; coverage: payer_id; encounters: service_date)",
    )


def parse_diagnoses(text: str) -> tuple[DiagnosisIn, ...]:
    """``E11.22;N18.30:Y`` → diagnoses in order; raises FieldProblem naming ``diagnoses[i]``."""
    out: list[DiagnosisIn] = []
    for i, item in enumerate((p.strip() for p in text.split(";")), start=1):
        if not item:
            continue
        code, _, poa = item.partition(":")
        try:
            out.append(DiagnosisIn(code=f.check_code(code, CodeSystem.ICD10CM), poa=f.check_poa(poa)))
        except f.FieldProblem as exc:
            raise f.FieldProblem(exc.message, field=f"diagnoses[{i}]") from None
    if len(out) > 25:
        raise f.FieldProblem("more than 25 diagnoses", field="diagnoses")
    seen = set()
    for i, d in enumerate(out, start=1):
        if d.code in seen:
            raise f.FieldProblem(f"{d.code.display} is listed twice", field=f"diagnoses[{i}]")
        seen.add(d.code)
    return tuple(out)


def parse_procedures(text: str, *, diagnoses: int) -> tuple[ProcedureIn, ...]:
    """``99214 mod=25 charge=150.00 dx=1; 93000`` → procedures; raises FieldProblem naming ``procedures[i]``."""
    out: list[ProcedureIn] = []
    for i, item in enumerate((p.strip() for p in text.split(";")), start=1):
        if not item:
            continue
        where = f"procedures[{i}]"
        words = item.split()
        prefix, sep, code = words[0].rpartition(":")
        try:
            system = f.procedure_system(code, prefix if sep else None)
            parsed = f.check_code(code, system)
        except f.FieldProblem as exc:
            raise f.FieldProblem(exc.message, field=f"{where}.code") from None
        mods: tuple[str, ...] = ()
        units = f.check_units("1")
        charge = None
        pointers: tuple[int, ...] = ()
        when: dt.date | None = None
        for word in words[1:]:
            key, eq, value = word.partition("=")
            key = key.lower()
            try:
                if not eq:
                    raise f.FieldProblem(f"{word!r} is not key=value (mod, units, charge, dx, date)")
                if key == "mod":
                    mods = tuple(f.check_code(m, CodeSystem.MODIFIER).value for m in value.split(",") if m)
                    if len(mods) > 4:
                        raise f.FieldProblem("more than 4 modifiers")
                elif key == "units":
                    units = f.check_units(value)
                elif key == "charge":
                    charge = f.check_money(value)
                elif key == "dx":
                    try:
                        pointers = tuple(int(p) for p in value.split(",") if p)
                    except ValueError:
                        raise f.FieldProblem(f"{value!r} is not a list of diagnosis numbers") from None
                    if len(pointers) > 4:
                        raise f.FieldProblem("more than 4 diagnosis pointers")
                    bad = [p for p in pointers if not 1 <= p <= diagnoses]
                    if bad:
                        raise f.FieldProblem(f"points to diagnosis {bad[0]}, but the encounter lists {diagnoses}")
                elif key == "date":
                    when = f.check_date(value)
                else:
                    raise f.FieldProblem(f"unknown key {key!r} (mod, units, charge, dx, date)")
            except f.FieldProblem as exc:
                raise f.FieldProblem(exc.message, field=f"{where}.{key if eq else 'item'}") from None
        if not pointers and diagnoses:
            pointers = tuple(range(1, min(diagnoses, 4) + 1))
        out.append(ProcedureIn(parsed, mods, units, charge, pointers, when))
    return tuple(out)


def _optional_text(max_len: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return f.check_text(value, max_len=max_len, required=False)

    return check


def _patient(row: _Row, today: dt.date) -> PatientIn | None:
    mrn = row.get("mrn", lambda v: f.check_text(v, max_len=64), None)
    last = row.get("last_name", lambda v: f.check_text(v, max_len=120), None)
    first = row.get("first_name", lambda v: f.check_text(v, max_len=80), None)
    birth = row.get("birth_date", lambda v: f.check_date(v, not_future=today), None)
    opt: dict[str, str | None] = {
        c: row.get(c, _optional_text(n), None)
        for c, n in (("middle_name", 80), ("account_number", 64), ("address1", 120), ("address2", 120), ("city", 60))
    }
    sex = row.get("sex", f.check_sex, "U")
    ssn = row.get("ssn", f.check_ssn, None)
    state = row.get("state", f.check_state, None)
    zip_code = row.get("zip", f.check_zip, None)
    phone = row.get("phone", f.check_phone, None)
    email = row.get("email", f.check_email, None)
    if not row.ok or mrn is None or last is None or first is None or birth is None:
        return None
    return PatientIn(
        mrn=mrn,
        last_name=last,
        first_name=first,
        birth_date=birth,
        sex=sex,
        middle_name=opt["middle_name"],
        ssn=ssn,
        account_number=opt["account_number"],
        address1=opt["address1"],
        address2=opt["address2"],
        city=opt["city"],
        state=state,
        zip=zip_code,
        phone=phone,
        email=email,
        source=row.source,
    )


def _rank(value: str) -> int:
    v = value.strip() or "1"
    if v not in ("1", "2", "3"):
        raise f.FieldProblem(f"{v!r} is not a rank (1 primary, 2 secondary, 3 tertiary)")
    return int(v)


def _coverage(row: _Row, today: dt.date) -> CoverageIn | None:
    mrn = row.get("mrn", lambda v: f.check_text(v, max_len=64), None)
    payer_id = row.get("payer_id", lambda v: f.check_text(v, max_len=80), None)
    member = row.get("member_id", lambda v: f.check_text(v, max_len=80), None)
    start = row.get("effective_from", lambda v: f.check_date(v, required=False), None)
    end = row.get("effective_to", lambda v: f.check_date(v, required=False), None)
    if start and end and end < start:
        row.problem("effective_to", "before effective_from")
    values = dict(
        rank=row.get("rank", _rank, 1),
        payer_name=row.get("payer_name", lambda v: f.check_text(v, max_len=120, required=False), None),
        filing_indicator=row.get("filing_indicator", f.check_filing_indicator, None),
        group_number=row.get("group_number", lambda v: f.check_text(v, max_len=50, required=False), None),
        relationship_code=row.get("relationship", f.check_relationship, "18"),
        subscriber_last_name=row.get(
            "subscriber_last_name", lambda v: f.check_text(v, max_len=120, required=False), None
        ),
        subscriber_first_name=row.get(
            "subscriber_first_name", lambda v: f.check_text(v, max_len=80, required=False), None
        ),
        subscriber_birth_date=row.get(
            "subscriber_birth_date", lambda v: f.check_date(v, required=False, not_future=today), None
        ),
        subscriber_sex=row.get("subscriber_sex", lambda v: f.check_sex(v) if v.strip() else None, None),
        insurance_type=row.get("insurance_type", f.check_insurance_type, None),
    )
    if values["relationship_code"] != "18" and not values["subscriber_last_name"]:
        row.problem("subscriber_last_name", "required when the patient is not the subscriber (relationship 18)")
    if not row.ok or mrn is None or payer_id is None or member is None:
        return None
    return CoverageIn(
        mrn=mrn,
        payer_id=payer_id,
        member_id=member,
        effective_from=start,
        effective_to=end,
        source=row.source,
        **values,  # type: ignore[arg-type]
    )


def _choice(*options: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        v = value.strip().lower()
        if not v:
            return None
        if v not in options:
            raise f.FieldProblem(f"{value.strip()!r} is not one of {', '.join(options)}")
        return v

    return check


def _pattern(regex: str, what: str) -> Callable[[str], str | None]:
    compiled = re.compile(regex)

    def check(value: str) -> str | None:
        v = value.strip()
        if not v:
            return None
        if not compiled.fullmatch(v):
            raise f.FieldProblem(f"{v!r} is not {what}")
        return v

    return check


def _encounter(row: _Row, today: dt.date) -> EncounterIn | None:
    mrn = row.get("mrn", lambda v: f.check_text(v, max_len=64), None)
    service = row.get("service_date", lambda v: f.check_date(v, not_future=today), None)
    discharge = row.get("discharge_date", lambda v: f.check_date(v, required=False), None)
    if service and discharge and discharge < service:
        row.problem("discharge_date", "before service_date")
    no_dx: tuple[DiagnosisIn, ...] = ()
    no_px: tuple[ProcedureIn, ...] = ()
    diagnoses = row.get("diagnoses", parse_diagnoses, no_dx)
    procedures = row.get("procedures", lambda v: parse_procedures(v, diagnoses=len(diagnoses)), no_px)
    kind = row.get("kind", _choice("professional", "institutional"), None) or "professional"
    setting = row.get("setting", _choice("outpatient", "inpatient"), None) or "outpatient"
    pos = row.get("place_of_service", _pattern(r"[0-9]{1,2}", "a place of service code (2 digits)"), None)
    tob = row.get("type_of_bill", _pattern(r"0?[0-9]{3}", "a type of bill (3 digits)"), None)
    npi = row.get("rendering_npi", f.check_npi, None)
    external = row.get("external_id", lambda v: f.check_text(v, max_len=64, required=False), None)
    note = row.get("note", lambda v: f.check_text(v, max_len=100_000, required=False), None)
    if kind == "institutional" and not tob:
        row.problem("type_of_bill", "required for an institutional encounter")
    if not row.ok or mrn is None or service is None:
        return None
    return EncounterIn(
        mrn=mrn,
        service_date=service,
        external_id=external,
        discharge_date=discharge,
        kind=kind,
        setting=setting,
        place_of_service=(pos or "11").zfill(2),
        type_of_bill=tob.zfill(4) if tob else None,
        rendering_npi=npi,
        note=note,
        diagnoses=diagnoses,
        procedures=procedures,
        source=row.source,
    )


def parse_csv_file(path: Path, *, today: dt.date | None = None) -> ParsedImport:
    """Read one CSV file of any of the three layouts; every problem is in ``issues``."""
    name = path.name
    issues: list[ImportIssue] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or "unreadable")
        return ParsedImport(issues=(ImportIssue(name, "file", "-", f"cannot read the file ({reason})"),))
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return ParsedImport(issues=(ImportIssue(name, "row 1", "header", "the file is empty"),))
    except csv.Error as exc:
        return ParsedImport(issues=(ImportIssue(name, "row 1", "header", f"not CSV ({exc})"),))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        return ParsedImport(issues=(ImportIssue(name, "row 1", dupes[0], "column given twice"),))
    layout, why = _layout_of(header)
    if layout is None:
        return ParsedImport(issues=(ImportIssue(name, "row 1", "header", why),))
    today = today or dt.date.today()
    build = {"patients": _patient, "coverage": _coverage, "encounters": _encounter}[layout]
    records: list[object] = []
    number = 1
    while True:
        number = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(ImportIssue(name, f"row {number}", "-", f"not CSV ({exc})"))
            break
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(header):
            issues.append(
                ImportIssue(name, f"row {number}", "-", f"{len(cells)} cells where the header has {len(header)}")
            )
            continue
        row = _Row(name, number, dict(zip(header, cells, strict=True)), issues)
        record = build(row, today)
        if record is not None:
            records.append(record)
    if layout == "patients":
        pats = [r for r in records if isinstance(r, PatientIn)]
        return ParsedImport(patients=tuple(pats), issues=tuple(issues))
    if layout == "coverage":
        return ParsedImport(coverages=tuple(r for r in records if isinstance(r, CoverageIn)), issues=tuple(issues))
    return ParsedImport(encounters=tuple(r for r in records if isinstance(r, EncounterIn)), issues=tuple(issues))


def parse_csv(paths: Path | Iterable[Path], *, today: dt.date | None = None) -> ParsedImport:
    """Read a CSV file, several, or a folder of ``patients.csv`` / ``coverage.csv`` / ``encounters.csv``.

    Cross-record checks that need no database are made here too: an MRN given twice in the patients of
    one import, a coverage rank given twice for one patient.
    """
    if isinstance(paths, Path):
        if paths.is_dir():
            files = [paths / n for n in FOLDER_FILES if (paths / n).is_file()]
            if not files:
                return ParsedImport(
                    issues=(ImportIssue(paths.name, "folder", "-", f"holds none of {', '.join(FOLDER_FILES)}"),)
                )
        else:
            files = [paths]
    else:
        files = list(paths)
    result = ParsedImport()
    for file in files:
        result = result.merged(parse_csv_file(file, today=today))
    return ParsedImport(
        result.patients,
        result.coverages,
        result.encounters,
        result.issues + tuple(cross_checks(result)),
        result.notices,
    )


def _where(source: str) -> tuple[str, str]:
    """``"patients.csv, row 4"`` → (file, location); FHIR: ``"b.json, entry 2 (Patient/p1)"``."""
    for marker in (", entry ", ", row "):
        file, sep, rest = source.partition(marker)
        if sep:
            return file, marker[2:] + rest
    return source, "-"


def cross_checks(parsed: ParsedImport) -> list[ImportIssue]:
    """Problems between records of one import: duplicate MRNs, duplicate coverage ranks, repeated ids."""
    issues: list[ImportIssue] = []
    seen: dict[str, str] = {}
    for p in parsed.patients:
        if p.mrn in seen:
            file, loc = _where(p.source)
            issues.append(ImportIssue(file, loc, "mrn", f"the same MRN as {seen[p.mrn]}"))
        else:
            seen[p.mrn] = p.source
    ranks: dict[tuple[str, int], str] = {}
    for c in parsed.coverages:
        key = (c.mrn, c.rank)
        if key in ranks:
            file, loc = _where(c.source)
            issues.append(ImportIssue(file, loc, "rank", f"the patient already has rank {c.rank} at {ranks[key]}"))
        else:
            ranks[key] = c.source
    ext: dict[str, str] = {}
    for e in parsed.encounters:
        if e.external_id is None:
            continue
        if e.external_id in ext:
            file, loc = _where(e.source)
            issues.append(ImportIssue(file, loc, "external_id", f"the same external id as {ext[e.external_id]}"))
        else:
            ext[e.external_id] = e.source
    return issues

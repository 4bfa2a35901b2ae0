"""De-identification of encounter and claim rows by HIPAA Safe Harbor (45 CFR 164.514(b)(2)).

Safe Harbor removes 18 identifiers of the individual (and of relatives, employers and household
members). This module builds every output column from an **allow-list** of non-identifying facts, so an
identifier the source carries (and any field added to it later) is left out unless a column is written
for it on purpose:

======================  ==================================================================================
identifier (B)(2)(i)    what the export does
======================  ==================================================================================
(A) names               dropped (patient, subscriber, provider names)
(B) geography < state   street, city dropped; ZIP kept as its first 3 digits, "000" when that ZIP3 is in
                        the restricted list (population ≤ 20,000, ``data/restricted_zip3.txt``, dated)
(C) dates               birth, service, admission, discharge, death, claim submission: year only; ages
                        over 89 written "90+" and the birth year left out (see below)
(D)-(R)                 phone, fax, email, SSN, MRN, member/group ids, account and claim numbers,
                        certificate/licence, vehicle, device ids, URLs, IP addresses, biometrics, photos,
                        any other unique number: dropped; records are linked by **pseudonyms** drawn at
                        random for each export (``P-…`` patient, ``E-…`` encounter, ``C-…`` claim, ``R-…``
                        provider), never database ids, never derived from them; the mapping is not kept
======================  ==================================================================================

Ages: ``age`` is the age in whole years at the date of service. A patient older than 89 at the date of
service **or at the date of the export** (whose birth year would otherwise reveal an age over 89 once
the years pass) gets ``age`` "90+" on every row and no ``birth_year``.

Free-text clinical notes cannot be shown to meet Safe Harbor (they name people, places and dates); they
are left out. ``include_notes=True`` adds a ``note`` column and marks the export NOT de-identified: the
manifest says ``"deidentified": false`` and every row's ``deidentified`` column is ``no``.

Output columns (CSV with a header row, or JSON lines whose first line is the manifest): see
:data:`COLUMNS`. ``diagnoses`` is the ICD-10-CM codes in sequence, display form, separated by spaces
(``E11.22 N18.30``); ``procedures`` is ``SYSTEM:CODE[-MOD…]*UNITS=CHARGE`` items separated by ``|``
(``CPT:99214-25*1=150.00|CPT:93000*1=45.00``); money has two decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "COLUMNS",
    "DEFAULT_ZIP3_FILE",
    "IDENTIFIERS",
    "DeidentifiedExport",
    "Pseudonyms",
    "SourceClaim",
    "SourceEncounter",
    "SourcePatient",
    "SourceProcedure",
    "Zip3List",
    "age_on",
    "deidentify",
    "load_restricted_zip3",
    "write_csv",
    "write_jsonl",
    "zip3_of",
]

DEFAULT_ZIP3_FILE = Path(__file__).parent / "data" / "restricted_zip3.txt"
FORMAT = "medbill-deidentified-export/1"
METHOD = "HIPAA Safe Harbor, 45 CFR 164.514(b)(2)"

COLUMNS: tuple[str, ...] = (
    "record_type",  # encounter | claim
    "record",  # pseudonym of this encounter / claim
    "patient",  # pseudonym of the patient
    "encounter",  # pseudonym of the encounter (claim rows: the encounter billed)
    "deidentified",  # yes | no (no when notes are included)
    "sex",
    "age",  # whole years at the date of service, or "90+"
    "birth_year",  # empty for 90+
    "state",
    "zip3",
    "year",  # year of service
    "discharge_year",
    "kind",
    "setting",
    "place_of_service",
    "type_of_bill",
    "status",
    "provider",  # pseudonym of the rendering provider
    "provider_taxonomy",
    "payer_name",
    "filing_indicator",
    "payer_rank",
    "frequency",
    "diagnoses",
    "procedures",
    "total_charge",
)
NOTE_COLUMN = "note"

IDENTIFIERS: tuple[tuple[str, str], ...] = (
    ("names", "removed"),
    ("geographic subdivisions smaller than a state", "street and city removed; ZIP to ZIP3, restricted ZIP3 to 000"),
    ("dates (except year) related to the individual", "birth, service, admission, discharge, death: year only"),
    ("ages over 89", "age written 90+, birth year removed"),
    ("telephone numbers", "removed"),
    ("fax numbers", "removed"),
    ("email addresses", "removed"),
    ("social security numbers", "removed"),
    ("medical record numbers", "removed"),
    ("health plan beneficiary numbers", "member and group ids removed"),
    ("account numbers", "patient account, claim control and payer claim numbers removed"),
    ("certificate/license numbers", "not exported"),
    ("vehicle identifiers", "not exported"),
    ("device identifiers and serial numbers", "not exported"),
    ("web URLs", "not exported"),
    ("IP addresses", "not exported"),
    ("biometric identifiers", "not exported"),
    ("full-face photographs and comparable images", "not exported"),
    ("any other unique identifying number or code", "database ids replaced by per-export random pseudonyms"),
)
"""Safe Harbor's identifiers and what the export does with each (written into the manifest)."""


# ------------------------------------------------------------------------------------------ ZIP3 list
@dataclass(frozen=True, slots=True)
class Zip3List:
    """Three-digit ZIPs with 20,000 people or fewer (from a dated Census list)."""

    codes: frozenset[str]
    source: str
    date: str
    sha256: str
    path: str


def load_restricted_zip3(path: Path | None = None) -> Zip3List:
    """Read a restricted-ZIP3 list: one 3-digit ZIP a line, ``#`` comments, ``# source:`` and ``# date:``."""
    from medbill.core.errors import SourceFileError

    file = path or DEFAULT_ZIP3_FILE
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise SourceFileError(f"cannot read the restricted ZIP3 list ({exc.strerror})", path=str(file)) from None
    text = raw.decode("utf-8")
    codes: set[str] = set()
    meta: dict[str, list[str]] = {}
    key = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            body = stripped[1:].strip()
            m = re.match(r"(source|date):\s*(.*)", body, re.IGNORECASE)
            if m:
                key = m.group(1).lower()
                meta[key] = [m.group(2)]
            elif key and line.startswith("#   ") or key and line.startswith("#\t"):
                meta[key].append(body)
            else:
                key = ""
            continue
        key = ""
        if not re.fullmatch(r"[0-9]{3}", stripped):
            raise SourceFileError("not a three-digit ZIP", path=str(file), line=number, field="zip3")
        codes.add(stripped)
    if "source" not in meta or "date" not in meta:
        raise SourceFileError(
            "the list must say where it comes from and when ('# source:' and '# date:' comment lines)",
            path=str(file),
        )
    return Zip3List(
        codes=frozenset(codes),
        source=" ".join(meta["source"]),
        date=" ".join(meta["date"]),
        sha256=hashlib.sha256(raw).hexdigest(),
        path=file.name,
    )


def zip3_of(zip_code: str | None, restricted: frozenset[str]) -> str:
    """The ZIP3 Safe Harbor allows: first three digits, "000" when restricted, "" when unknown."""
    if not zip_code:
        return ""
    digits = re.sub(r"[^0-9]", "", zip_code)
    if len(digits) < 5:
        return ""  # not a US ZIP we can generalise safely
    z3 = digits[:3]
    return "000" if z3 in restricted else z3


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# ------------------------------------------------------------------------------------------ source rows
@dataclass(frozen=True, slots=True)
class SourcePatient:
    """A patient as stored (identifiers included): the export reads only the allowed facts from it."""

    key: str  # database id (never written out)
    birth_date: dt.date | None
    sex: str | None = None
    state: str | None = None
    zip: str | None = None
    death_date: dt.date | None = None
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    phone: str | None = None
    fax: str | None = None
    email: str | None = None
    ssn: str | None = None
    mrn: str | None = None
    account_number: str | None = None
    member_ids: tuple[str, ...] = ()
    group_numbers: tuple[str, ...] = ()
    subscriber_names: tuple[str, ...] = ()
    subscriber_birth_dates: tuple[dt.date, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceProcedure:
    system: str
    code: str
    modifiers: tuple[str, ...] = ()
    units: Decimal = Decimal("1")
    charge: Decimal | None = None
    procedure_date: dt.date | None = None
    ndc: str | None = None


@dataclass(frozen=True, slots=True)
class SourceEncounter:
    key: str
    patient: SourcePatient
    service_date: dt.date
    discharge_date: dt.date | None = None
    admission_date: dt.date | None = None
    kind: str = "professional"
    setting: str = "outpatient"
    place_of_service: str | None = None
    type_of_bill: str | None = None
    status: str = ""
    provider_key: str | None = None
    provider_taxonomy: str | None = None
    provider_npi: str | None = None
    provider_name: str | None = None
    external_id: str | None = None
    note: str | None = None
    diagnoses: tuple[str, ...] = ()  # ICD-10-CM, normalised (no dot)
    procedures: tuple[SourceProcedure, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceClaim:
    key: str
    patient: SourcePatient
    document: Mapping[str, Any]  # medbill.core.claim JSON form (claim_to_dict): read by allow-list only
    encounter_key: str | None = None
    payer_name: str | None = None
    filing_indicator: str | None = None
    payer_rank: int = 1
    kind: str = "professional"
    frequency: str = "1"
    status: str = ""
    total_charge: Decimal | None = None
    patient_control_number: str | None = None
    payer_claim_number: str | None = None
    submitted_at: dt.datetime | None = None


# ------------------------------------------------------------------------------------------ pseudonyms
class Pseudonyms:
    """Random surrogate ids for one export: the same source key gets the same pseudonym within it.

    Drawn from :mod:`secrets`, not derived from the key; the mapping lives only in memory.
    """

    __slots__ = ("_map", "_used")

    def __init__(self) -> None:
        self._map: dict[tuple[str, str], str] = {}
        self._used: set[str] = set()

    def of(self, prefix: str, key: str | None) -> str:
        if key is None or key == "":
            return ""
        found = self._map.get((prefix, key))
        if found is None:
            while True:
                found = f"{prefix}-{secrets.token_hex(6)}"
                if found not in self._used:
                    break
            self._used.add(found)
            self._map[(prefix, key)] = found
        return found


# ------------------------------------------------------------------------------------------ the export
@dataclass(frozen=True, slots=True)
class DeidentifiedExport:
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def deidentified(self) -> bool:
        return bool(self.manifest.get("deidentified"))


def _money(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return ""
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except InvalidOperation:
        return ""


def _units(value: Decimal | str) -> str:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return ""
    return format(d.normalize(), "f") if d == d.to_integral_value() else str(d)


def _display_dx(code: str) -> str:
    value = code.replace(".", "").upper()
    return value if len(value) <= 3 else f"{value[:3]}.{value[3:]}"


_CODE = re.compile(r"[0-9A-Z]{1,8}")
_MOD = re.compile(r"[0-9A-Z]{2}")
_POS = re.compile(r"[0-9]{2}")
_TOB = re.compile(r"[0-9]{3,4}")
_TAXONOMY = re.compile(r"[0-9A-Z]{10}")
_STATE = re.compile(r"[A-Z]{2}")
_FILING = re.compile(r"[0-9A-Z]{2}")


def _safe(value: str | None, pattern: re.Pattern[str]) -> str:
    """A coded value is written only when it has the code's shape (nothing free-text slips through)."""
    if not value:
        return ""
    v = value.strip().upper()
    return v if pattern.fullmatch(v) else ""


def _procedure_text(system: str, code: str, modifiers: Sequence[str], units: Decimal | str, charge: Any) -> str:
    sys_ = _safe(system, re.compile(r"CPT|HCPCS|ICD10PCS"))
    c = _safe(code, _CODE)
    if not sys_ or not c:
        return ""
    mods = "".join(f"-{m}" for m in (_safe(x, _MOD) for x in modifiers) if m)
    text = f"{sys_}:{c}{mods}*{_units(units)}"
    money = _money(charge)
    return f"{text}={money}" if money else text


class _Ages:
    """The age columns of a patient, with the 90+ rule applied across all of the patient's rows."""

    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of

    def columns(self, patient: SourcePatient, on: dt.date | None) -> tuple[str, str]:
        birth = patient.birth_date
        if birth is None:
            return "", ""
        end = patient.death_date or self.as_of
        over_89 = age_on(birth, end) > 89 or (on is not None and age_on(birth, on) > 89)
        if over_89:
            return "90+", ""
        return (str(age_on(birth, on)) if on is not None else ""), str(birth.year)


def _dx_from_document(doc: Mapping[str, Any]) -> list[str]:
    out = []
    for d in doc.get("diagnoses") or ():
        code = d.get("code") if isinstance(d, Mapping) else None
        if isinstance(code, str):
            c = _safe(code.replace(".", ""), _CODE)
            if c:
                out.append(_display_dx(c))
    return out


def _lines_from_document(doc: Mapping[str, Any]) -> tuple[list[str], list[dt.date]]:
    items: list[str] = []
    dates: list[dt.date] = []
    for line in doc.get("lines") or ():
        if not isinstance(line, Mapping):
            continue
        proc = line.get("procedure")
        if isinstance(proc, Mapping):
            mods = [m for m in line.get("modifiers") or () if isinstance(m, str)]
            text = _procedure_text(
                str(proc.get("system", "")), str(proc.get("code", "")), mods, line.get("units", "1"), line.get("charge")
            )
            if text:
                items.append(text)
        raw = line.get("service_date")
        if isinstance(raw, str):
            try:
                dates.append(dt.date.fromisoformat(raw))
            except ValueError:
                pass
    return items, dates


def _doc_date(doc: Mapping[str, Any], *keys: str) -> dt.date | None:
    node: Any = doc
    for k in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(k)
    if isinstance(node, str):
        try:
            return dt.date.fromisoformat(node)
        except ValueError:
            return None
    return None


def deidentify(
    encounters: Iterable[SourceEncounter],
    claims: Iterable[SourceClaim],
    *,
    zip3: Zip3List,
    as_of: dt.date,
    include_notes: bool = False,
    pseudonyms: Pseudonyms | None = None,
) -> DeidentifiedExport:
    """Rows of the allowed facts of each encounter and claim, and the manifest saying what was removed."""
    names = pseudonyms or Pseudonyms()
    ages = _Ages(as_of)
    flag = "no" if include_notes else "yes"
    columns = COLUMNS + ((NOTE_COLUMN,) if include_notes else ())
    rows: list[dict[str, str]] = []

    def person(p: SourcePatient, on: dt.date | None) -> dict[str, str]:
        age, birth_year = ages.columns(p, on)
        return {
            "patient": names.of("P", p.key),
            "sex": _safe(p.sex, re.compile(r"[FMU]")),
            "age": age,
            "birth_year": birth_year,
            "state": _safe(p.state, _STATE),
            "zip3": zip3_of(p.zip, zip3.codes),
        }

    n_enc = 0
    for enc in encounters:
        n_enc += 1
        row = dict.fromkeys(columns, "")
        row.update(person(enc.patient, enc.service_date))
        row.update(
            {
                "record_type": "encounter",
                "record": names.of("E", enc.key),
                "encounter": names.of("E", enc.key),
                "deidentified": flag,
                "year": str(enc.service_date.year),
                "discharge_year": str(enc.discharge_date.year) if enc.discharge_date else "",
                "kind": _safe(enc.kind, re.compile(r"PROFESSIONAL|INSTITUTIONAL")).lower(),
                "setting": _safe(enc.setting, re.compile(r"OUTPATIENT|INPATIENT")).lower(),
                "place_of_service": _safe(enc.place_of_service, _POS),
                "type_of_bill": _safe(enc.type_of_bill, _TOB),
                "status": _safe(enc.status, re.compile(r"[A-Z_]{1,16}")).lower(),
                "provider": names.of("R", enc.provider_key),
                "provider_taxonomy": _safe(enc.provider_taxonomy, _TAXONOMY),
                "diagnoses": " ".join(
                    _display_dx(c) for c in (_safe(d.replace(".", ""), _CODE) for d in enc.diagnoses) if c
                ),
                "procedures": "|".join(
                    t
                    for t in (_procedure_text(p.system, p.code, p.modifiers, p.units, p.charge) for p in enc.procedures)
                    if t
                ),
                "total_charge": _money(sum((p.charge for p in enc.procedures if p.charge is not None), Decimal("0")))
                if any(p.charge is not None for p in enc.procedures)
                else "",
            }
        )
        if include_notes:
            row[NOTE_COLUMN] = enc.note or ""
        rows.append(row)

    n_claims = 0
    for claim in claims:
        n_claims += 1
        doc = claim.document
        procedures, line_dates = _lines_from_document(doc)
        first = (
            min(line_dates)
            if line_dates
            else (
                _doc_date(doc, "institutional", "statement_from") or _doc_date(doc, "institutional", "admission_date")
            )
        )
        row = dict.fromkeys(columns, "")
        row.update(person(claim.patient, first))
        inst = doc.get("institutional")
        tob = ""
        if isinstance(inst, Mapping):
            fac = inst.get("facility_type_code")
            freq = doc.get("frequency", "")
            if isinstance(fac, str) and isinstance(freq, str):
                tob = _safe(fac + freq, _TOB)
        row.update(
            {
                "record_type": "claim",
                "record": names.of("C", claim.key),
                "encounter": names.of("E", claim.encounter_key),
                "deidentified": flag,
                "year": str(first.year) if first else "",
                "kind": _safe(claim.kind, re.compile(r"PROFESSIONAL|INSTITUTIONAL")).lower(),
                "place_of_service": _safe(str(doc.get("place_of_service") or ""), _POS),
                "type_of_bill": tob,
                "status": _safe(claim.status, re.compile(r"[A-Z_]{1,20}")).lower(),
                "payer_name": (claim.payer_name or "").strip(),
                "filing_indicator": _safe(claim.filing_indicator, _FILING),
                "payer_rank": str(int(claim.payer_rank)),
                "frequency": _safe(claim.frequency, re.compile(r"[0-9]")),
                "diagnoses": " ".join(_dx_from_document(doc)),
                "procedures": "|".join(procedures),
                "total_charge": _money(claim.total_charge),
            }
        )
        rows.append(row)

    rows.sort(key=lambda r: (r["record_type"] != "encounter", r["record"]))  # random order, not id order
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "method": METHOD,
        "deidentified": not include_notes,
        "created": as_of.isoformat(),
        "records": {"encounter": n_enc, "claim": n_claims},
        "columns": list(columns),
        "identifiers": [{"identifier": k, "treatment": v} for k, v in IDENTIFIERS],
        "ages": "age in years at the date of service; patients over 89 (at service or now): 90+, no birth year",
        "pseudonyms": "random per export (P patient, E encounter, C claim, R provider); mapping not kept",
        "zip3_list": {
            "source": zip3.source,
            "date": zip3.date,
            "file": zip3.path,
            "sha256": zip3.sha256,
            "restricted": sorted(zip3.codes),
        },
        "notes": (
            "INCLUDED: free-text notes may identify individuals; this export is NOT de-identified"
            if include_notes
            else "excluded (free text cannot be shown to meet Safe Harbor)"
        ),
    }
    return DeidentifiedExport(columns=columns, rows=tuple(rows), manifest=manifest)


# ------------------------------------------------------------------------------------------ writers
def write_csv(export: DeidentifiedExport, stream: TextIO) -> int:
    """The rows as CSV with a header row; returns the number of data rows."""
    writer = csv.DictWriter(stream, fieldnames=list(export.columns), lineterminator="\n")
    writer.writeheader()
    for row in export.rows:
        writer.writerow(row)
    return len(export.rows)


def write_jsonl(export: DeidentifiedExport, stream: TextIO) -> int:
    """JSON lines: the first line is ``{"manifest": …}``, then one object per row."""
    stream.write(json.dumps({"manifest": export.manifest}, sort_keys=True) + "\n")
    for row in export.rows:
        stream.write(json.dumps(row, sort_keys=False, ensure_ascii=False) + "\n")
    return len(export.rows)


def to_csv_text(export: DeidentifiedExport) -> str:
    buf = io.StringIO()
    write_csv(export, buf)
    return buf.getvalue()

"""Patients, coverage and encounters from FHIR R4 bundles (JSON), read with ``fhir.resources``' R4B models.

FHIR R4 (4.0.1, https://hl7.org/fhir/R4/) ``Bundle`` of any type (collection, transaction, batch,
searchset); R4B's Patient, Coverage, Encounter, Condition and Procedure are the same as R4's for the
elements read here, so ``fhir.resources.R4B`` validates them (``fhir.resources`` 8 defaults to R5). The
envelope is validated as an R4B ``Bundle``; each entry's resource on its own, so a bad resource is
reported with its entry index, id and element and the others are still checked.

What is read (everything else is ignored; other resource types are skipped, Organization and
Practitioner are used to resolve references):

- **Patient** → :class:`PatientIn`: the MRN is the ``identifier`` whose ``type`` is v2-0203 ``MR`` (else
  the only identifier that is not an SSN); SSN from system ``http://hl7.org/fhir/sid/us-ssn``; account
  number from type ``AN``; ``name`` (``official`` first): family, given[0], given[1] as middle name;
  ``birthDate`` (a full date); ``gender``; the ``home`` (else first) ``address``; ``telecom`` phone and email.
- **Coverage** → :class:`CoverageIn`: ``beneficiary`` → the patient; ``payor[0]`` → the payer: an
  Organization of the bundle (its identifier value is the payer id, its name the payer name) or a
  Reference carrying ``identifier.value`` and ``display``; ``subscriberId`` (else identifier type ``MB``)
  → member id; ``order`` → rank; ``relationship`` (self 18, spouse 01, child 19, common 53, other G8);
  ``subscriber`` → subscriber name/birth date when it is another Patient of the bundle; ``period``;
  ``class`` of type ``group`` → group number.
- **Encounter** → :class:`EncounterIn`: ``subject``; ``identifier[0].value`` (else the resource id) →
  external id; ``period.start`` → service date, ``period.end`` → discharge date for inpatient classes;
  ``class`` AMB → POS 11, EMER → 23, IMP/ACUTE/NONAC → 21 (inpatient), HH → 12, VR → 02; the first
  participant's Practitioner NPI (system ``http://hl7.org/fhir/sid/us-npi``) → rendering NPI.
- **Condition** → a diagnosis of its ``encounter`` from the ``code.coding`` with system
  ``http://hl7.org/fhir/sid/icd-10-cm`` (ordered by the Encounter's ``diagnosis.rank``, then bundle order).
  A Condition with no ICD-10-CM coding (SNOMED CT only) is skipped with a notice.
- **Procedure** → a procedure of its ``encounter``: CPT (``http://www.ama-assn.org/go/cpt``), HCPCS
  (``urn:oid:2.16.840.1.113883.6.285``, ``http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets``) or
  ICD-10-PCS (``http://www.cms.gov/Medicare/Coding/ICD10``, ``http://hl7.org/fhir/sid/icd-10-pcs``) coding;
  ``performedDateTime``/``performedPeriod.start`` → procedure date. Other systems: skipped with a notice.

Every problem is an :class:`~medbill.interop.records.ImportIssue` naming the file, the entry index and
resource (``bundle.json, entry 3 (Coverage/cov1), field payor[0]``); all are reported at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from medbill.core.codes import CodeSystem
from medbill.interop import _fields as f
from medbill.interop.csv_import import cross_checks
from medbill.interop.records import (
    CoverageIn,
    DiagnosisIn,
    EncounterIn,
    ImportIssue,
    ParsedImport,
    PatientIn,
    ProcedureIn,
)

__all__ = ["SYSTEMS", "parse_bundle", "parse_fhir"]

SYSTEMS = {
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "ssn": "http://hl7.org/fhir/sid/us-ssn",
    "npi": "http://hl7.org/fhir/sid/us-npi",
    "cpt": "http://www.ama-assn.org/go/cpt",
    "v2-0203": "http://terminology.hl7.org/CodeSystem/v2-0203",
}
_PROCEDURE_SYSTEMS = {
    "http://www.ama-assn.org/go/cpt": CodeSystem.CPT,
    "urn:oid:2.16.840.1.113883.6.12": CodeSystem.CPT,
    "urn:oid:2.16.840.1.113883.6.285": CodeSystem.HCPCS,
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": CodeSystem.HCPCS,
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": CodeSystem.HCPCS,
    "http://www.cms.gov/Medicare/Coding/ICD10": CodeSystem.ICD10PCS,
    "http://hl7.org/fhir/sid/icd-10-pcs": CodeSystem.ICD10PCS,
}
_READ = ("Patient", "Coverage", "Encounter", "Condition", "Procedure", "Organization", "Practitioner")
_GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
_RELATIONSHIP = {"self": "18", "spouse": "01", "child": "19", "common": "53", "other": "G8", "parent": "G8"}
_CLASS_POS = {"AMB": "11", "EMER": "23", "IMP": "21", "ACUTE": "21", "NONAC": "21", "HH": "12", "VR": "02"}
_INPATIENT = {"IMP", "ACUTE", "NONAC"}


@dataclass(slots=True)
class _Entry:
    index: int
    kind: str
    id: str
    resource: Any  # the validated R4B model


@dataclass(slots=True)
class _Ctx:
    file: str
    issues: list[ImportIssue] = field(default_factory=list)
    notices: list[ImportIssue] = field(default_factory=list)
    by_ref: dict[str, _Entry] = field(default_factory=dict)

    def where(self, e: _Entry) -> str:
        return f"entry {e.index} ({e.kind}/{e.id})" if e.id else f"entry {e.index} ({e.kind})"

    def problem(self, e: _Entry, fld: str, message: str) -> None:
        self.issues.append(ImportIssue(self.file, self.where(e), fld, message))

    def notice(self, e: _Entry, fld: str, message: str) -> None:
        self.notices.append(ImportIssue(self.file, self.where(e), fld, message))

    def source(self, e: _Entry) -> str:
        return f"{self.file}, {self.where(e)}"

    def resolve(self, ref: Any, kind: str) -> _Entry | None:
        raw = getattr(ref, "reference", None) if ref is not None else None
        if not raw:
            return None
        found = self.by_ref.get(raw)
        return found if found is not None and found.kind == kind else None


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "-"


def _date(value: Any, *, what: str = "a full date") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise f.FieldProblem(f"not {what} (a year or year-month is too vague here)")


def _codings(concept: Any) -> list[Any]:
    return list(getattr(concept, "coding", None) or [])


def _has_type(identifier: Any, code: str) -> bool:
    return any(getattr(c, "code", None) == code for c in _codings(getattr(identifier, "type", None)))


def _patient(ctx: _Ctx, e: _Entry, today: dt.date) -> PatientIn | None:
    r = e.resource
    ok = True

    def bad(fld: str, message: str) -> None:
        nonlocal ok
        ok = False
        ctx.problem(e, fld, message)

    idents = list(r.identifier or [])
    ssn = next((i for i in idents if i.system == SYSTEMS["ssn"] or _has_type(i, "SS")), None)
    mr = [i for i in idents if _has_type(i, "MR")]
    others = [i for i in idents if i is not ssn and not _has_type(i, "AN")]
    chosen = mr[0] if mr else (others[0] if len(others) == 1 else None)
    mrn = (chosen.value or "").strip() if chosen is not None else ""
    if not mrn:
        bad("identifier", "no medical record number (an identifier with type MR)")
    names = list(r.name or [])
    name = next((n for n in names if n.use == "official"), names[0] if names else None)
    family = (name.family or "").strip() if name else ""
    given = [g.strip() for g in (name.given or [])] if name else []
    if not family:
        bad("name[0].family", "required")
    if not given or not given[0]:
        bad("name[0].given", "required")
    birth: dt.date | None = None
    if r.birthDate is None:
        bad("birthDate", "required")
    else:
        try:
            birth = _date(r.birthDate)
            if birth > today:
                bad("birthDate", "a date in the future")
        except f.FieldProblem as exc:
            bad("birthDate", exc.message)
    addresses = list(r.address or [])
    addr = next((a for a in addresses if a.use == "home"), addresses[0] if addresses else None)
    lines = list(addr.line or []) if addr else []
    state = zip_code = phone = email = ssn_value = None
    for fld, check, raw in (
        ("address[0].state", f.check_state, addr.state if addr else None),
        ("address[0].postalCode", f.check_zip, addr.postalCode if addr else None),
    ):
        try:
            value = check(raw or "")
        except f.FieldProblem as exc:
            bad(fld, exc.message)
            continue
        if fld.endswith("state"):
            state = value
        else:
            zip_code = value
    for i, t in enumerate(r.telecom or []):
        try:
            if t.system == "phone" and phone is None:
                phone = f.check_phone(t.value or "")
            elif t.system == "email" and email is None:
                email = f.check_email(t.value or "")
        except f.FieldProblem as exc:
            bad(f"telecom[{i}].value", exc.message)
    if ssn is not None:
        try:
            ssn_value = f.check_ssn(ssn.value or "")
        except f.FieldProblem as exc:
            bad(f"identifier[{idents.index(ssn)}].value", exc.message)
    account = next((i.value for i in idents if _has_type(i, "AN")), None)
    if not ok or birth is None:
        return None
    return PatientIn(
        mrn=mrn,
        last_name=family,
        first_name=given[0],
        middle_name=given[1] if len(given) > 1 else None,
        birth_date=birth,
        sex=_GENDER.get(r.gender or "unknown", "U"),
        ssn=ssn_value,
        account_number=account,
        address1=lines[0] if lines else None,
        address2=lines[1] if len(lines) > 1 else None,
        city=addr.city if addr else None,
        state=state,
        zip=zip_code,
        phone=phone,
        email=email,
        source=ctx.source(e),
    )


def _patient_mrn(ctx: _Ctx, e: _Entry, ref: Any, fld: str, mrns: dict[int, str]) -> str | None:
    target = ctx.resolve(ref, "Patient")
    if target is None:
        ctx.problem(e, fld, "does not refer to a Patient of this bundle")
        return None
    mrn = mrns.get(target.index)
    if mrn is None:
        ctx.problem(e, fld, f"refers to {ctx.where(target)}, which has errors")
    return mrn


def _coverage(ctx: _Ctx, e: _Entry, mrns: dict[int, str], patients: dict[int, PatientIn]) -> CoverageIn | None:
    r = e.resource
    before = len(ctx.issues)
    mrn = _patient_mrn(ctx, e, r.beneficiary, "beneficiary", mrns)
    payer_id = payer_name = None
    payors = list(r.payor or [])
    if not payors:
        ctx.problem(e, "payor", "required (the payer)")
    else:
        org = ctx.resolve(payors[0], "Organization")
        if org is not None:
            oid = next((i.value for i in (org.resource.identifier or []) if i.value), None)
            payer_id, payer_name = oid, org.resource.name
        else:
            ident = getattr(payors[0], "identifier", None)
            payer_id = getattr(ident, "value", None)
            payer_name = payors[0].display
        if not payer_id:
            ctx.problem(e, "payor[0]", "no payer id (an Organization identifier or Reference.identifier.value)")
    member = r.subscriberId or next((i.value for i in (r.identifier or []) if _has_type(i, "MB")), None)
    if not member:
        ctx.problem(e, "subscriberId", "required (the member id)")
    rank = r.order or 1
    if rank not in (1, 2, 3):
        ctx.problem(e, "order", "not 1, 2 or 3")
    rel_codes = [c.code for c in _codings(r.relationship) if c.code]
    relationship = _RELATIONSHIP.get(rel_codes[0], "G8") if rel_codes else "18"
    sub_last = sub_first = None
    sub_birth = None
    sub_sex = None
    if relationship != "18":
        sub = ctx.resolve(r.subscriber, "Patient")
        sub_rec = patients.get(sub.index) if sub is not None else None
        if sub_rec is None:
            ctx.problem(
                e, "subscriber", "required: a Patient of this bundle when the beneficiary is not the subscriber"
            )
        else:
            sub_last, sub_first, sub_birth, sub_sex = (
                sub_rec.last_name,
                sub_rec.first_name,
                sub_rec.birth_date,
                sub_rec.sex,
            )
    start = end = None
    if r.period is not None:
        try:
            start = _date(r.period.start) if r.period.start else None
            end = _date(r.period.end) if r.period.end else None
        except f.FieldProblem as exc:
            ctx.problem(e, "period", exc.message)
    group = next(
        (c.value for c in (r.class_fhir or []) if any(x.code == "group" for x in _codings(c.type))),
        None,
    )
    if len(ctx.issues) > before or mrn is None or payer_id is None or member is None:
        return None
    return CoverageIn(
        mrn=mrn,
        payer_id=payer_id.strip(),
        payer_name=payer_name,
        member_id=member.strip(),
        rank=rank,
        group_number=group,
        relationship_code=relationship,
        subscriber_last_name=sub_last,
        subscriber_first_name=sub_first,
        subscriber_birth_date=sub_birth,
        subscriber_sex=sub_sex,
        effective_from=start,
        effective_to=end,
        source=ctx.source(e),
    )


def _encounter_base(ctx: _Ctx, e: _Entry, mrns: dict[int, str], today: dt.date) -> EncounterIn | None:
    r = e.resource
    before = len(ctx.issues)
    mrn = _patient_mrn(ctx, e, r.subject, "subject", mrns)
    cls = getattr(r.class_fhir, "code", None) or "AMB"
    pos = _CLASS_POS.get(cls)
    if pos is None:
        ctx.problem(e, "class", f"{cls!r} is not an encounter class medbill bills (AMB, EMER, IMP, ACUTE, HH, VR)")
    service = discharge = None
    if r.period is None or r.period.start is None:
        ctx.problem(e, "period.start", "required (the date of service)")
    else:
        try:
            service = _date(r.period.start)
            if service > today:
                ctx.problem(e, "period.start", "a date in the future")
            if cls in _INPATIENT and r.period.end is not None:
                discharge = _date(r.period.end)
                if discharge < service:
                    ctx.problem(e, "period.end", "before period.start")
        except f.FieldProblem as exc:
            ctx.problem(e, "period", exc.message)
    npi = None
    for i, part in enumerate(r.participant or []):
        doc = ctx.resolve(part.individual, "Practitioner")
        idents = list(doc.resource.identifier or []) if doc is not None else []
        ref_ident = getattr(part.individual, "identifier", None)
        if ref_ident is not None:
            idents.append(ref_ident)
        value = next((x.value for x in idents if x.system == SYSTEMS["npi"] and x.value), None)
        if value:
            try:
                npi = f.check_npi(value)
            except f.FieldProblem as exc:
                ctx.problem(e, f"participant[{i}].individual", exc.message)
            break
    ident = next((i.value for i in (r.identifier or []) if i.value), None)
    external = (ident or e.id or "").strip() or None
    if external is not None and len(external) > 64:
        ctx.problem(e, "identifier[0].value", "longer than 64 characters")
    if len(ctx.issues) > before or mrn is None or service is None or pos is None:
        return None
    return EncounterIn(
        mrn=mrn,
        service_date=service,
        external_id=external,
        discharge_date=discharge,
        setting="inpatient" if cls in _INPATIENT else "outpatient",
        place_of_service=pos,
        rendering_npi=npi,
        source=ctx.source(e),
    )


def _encounter_of(ctx: _Ctx, e: _Entry, encounters: dict[int, EncounterIn | None]) -> int | None:
    target = ctx.resolve(getattr(e.resource, "encounter", None), "Encounter")
    if target is None:
        ctx.problem(e, "encounter", "does not refer to an Encounter of this bundle (diagnoses belong to an encounter)")
        return None
    if encounters.get(target.index) is None:
        ctx.problem(e, "encounter", f"refers to {ctx.where(target)}, which has errors")
        return None
    return target.index


def _condition(ctx: _Ctx, e: _Entry) -> DiagnosisIn | None:
    codings = _codings(e.resource.code)
    for i, c in enumerate(codings):
        if c.system == SYSTEMS["icd10cm"]:
            try:
                return DiagnosisIn(code=f.check_code(c.code or "", CodeSystem.ICD10CM))
            except f.FieldProblem as exc:
                ctx.problem(e, f"code.coding[{i}].code", exc.message)
                return None
    ctx.notice(e, "code", "skipped: no ICD-10-CM coding")
    return None


def _procedure(ctx: _Ctx, e: _Entry) -> ProcedureIn | None:
    r = e.resource
    for i, c in enumerate(_codings(r.code)):
        system = _PROCEDURE_SYSTEMS.get(c.system or "")
        if system is None:
            continue
        try:
            code = f.check_code(c.code or "", system)
        except f.FieldProblem as exc:
            ctx.problem(e, f"code.coding[{i}].code", exc.message)
            return None
        when = None
        raw = r.performedDateTime or (r.performedPeriod.start if r.performedPeriod is not None else None)
        if raw is not None:
            try:
                when = _date(raw)
            except f.FieldProblem as exc:
                ctx.problem(e, "performedDateTime", exc.message)
                return None
        return ProcedureIn(code=code, procedure_date=when)
    ctx.notice(e, "code", "skipped: no CPT, HCPCS or ICD-10-PCS coding")
    return None


def parse_bundle(data: object, *, file: str, today: dt.date | None = None) -> ParsedImport:
    """Read one FHIR R4 Bundle (already parsed JSON)."""
    today = today or dt.date.today()
    ctx = _Ctx(file)
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        ctx.issues.append(ImportIssue(file, "bundle", "resourceType", "not a FHIR Bundle"))
        return ParsedImport(issues=tuple(ctx.issues))
    raw_entries = data.get("entry") or []
    if not isinstance(raw_entries, list):
        ctx.issues.append(ImportIssue(file, "bundle", "entry", "not a list"))
        return ParsedImport(issues=tuple(ctx.issues))
    envelope = {k: v for k, v in data.items() if k != "entry"}
    envelope["entry"] = [
        {k: v for k, v in x.items() if k != "resource"} if isinstance(x, dict) else x for x in raw_entries
    ]
    try:
        Bundle.model_validate(envelope)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            loc = _loc(err["loc"])
            where = f"entry {err['loc'][1]}" if len(err["loc"]) > 1 and err["loc"][0] == "entry" else "bundle"
            ctx.issues.append(ImportIssue(file, where, loc, err["msg"]))
        return ParsedImport(issues=tuple(ctx.issues))

    entries: list[_Entry] = []
    for index, raw in enumerate(raw_entries):
        res = raw.get("resource") if isinstance(raw, dict) else None
        if not isinstance(res, dict):
            continue
        kind = str(res.get("resourceType") or "")
        rid = str(res.get("id") or "")
        if kind not in _READ:
            continue
        stub = _Entry(index, kind, rid, None)
        try:
            model = get_fhir_model_class(kind).model_validate(res)
        except pydantic.ValidationError as exc:
            for err in exc.errors():
                ctx.problem(stub, _loc(err["loc"]), err["msg"])
            continue
        entry = _Entry(index, kind, rid, model)
        entries.append(entry)
        full = raw.get("fullUrl")
        if isinstance(full, str) and full:
            ctx.by_ref[full] = entry
        if rid:
            ctx.by_ref[f"{kind}/{rid}"] = entry

    patients: dict[int, PatientIn] = {}
    for e in entries:
        if e.kind == "Patient":
            p = _patient(ctx, e, today)
            if p is not None:
                patients[e.index] = p
    mrns = {i: p.mrn for i, p in patients.items()}
    coverages = [c for e in entries if e.kind == "Coverage" and (c := _coverage(ctx, e, mrns, patients)) is not None]
    encounters: dict[int, EncounterIn | None] = {
        e.index: _encounter_base(ctx, e, mrns, today) for e in entries if e.kind == "Encounter"
    }
    diagnoses: dict[int, list[tuple[float, int, DiagnosisIn]]] = {}
    procedures: dict[int, list[ProcedureIn]] = {}
    rank_of: dict[str, float] = {}
    for e in entries:
        if e.kind == "Encounter":
            for d in e.resource.diagnosis or []:
                ref = getattr(d.condition, "reference", None)
                if ref and d.rank is not None:
                    rank_of[ref] = float(d.rank)
    for e in entries:
        if e.kind == "Condition":
            dx = _condition(ctx, e)
            if dx is None:
                continue
            target = _encounter_of(ctx, e, encounters)
            if target is not None:
                refs = [ref for ref, x in ctx.by_ref.items() if x is e]
                rank = min((rank_of[r] for r in refs if r in rank_of), default=float("inf"))
                diagnoses.setdefault(target, []).append((rank, e.index, dx))
        elif e.kind == "Procedure":
            px = _procedure(ctx, e)
            if px is None:
                continue
            target = _encounter_of(ctx, e, encounters)
            if target is not None:
                procedures.setdefault(target, []).append(px)
    out_encounters: list[EncounterIn] = []
    for index, base in encounters.items():
        if base is None:
            continue
        dxs = tuple(d for _, _, d in sorted(diagnoses.get(index, []), key=lambda t: (t[0], t[1])))
        seen: set[str] = set()
        unique = []
        for d in dxs:
            if d.code.value not in seen:
                seen.add(d.code.value)
                unique.append(d)
        pointers = tuple(range(1, min(len(unique), 4) + 1))
        pxs = tuple(
            ProcedureIn(p.code, p.modifiers, p.units, p.charge, pointers, p.procedure_date)
            for p in procedures.get(index, [])
        )
        out_encounters.append(replace(base, diagnoses=tuple(unique), procedures=pxs))
    parsed = ParsedImport(
        patients=tuple(patients.values()),
        coverages=tuple(coverages),
        encounters=tuple(out_encounters),
        issues=tuple(ctx.issues),
        notices=tuple(ctx.notices),
    )
    return ParsedImport(
        parsed.patients,
        parsed.coverages,
        parsed.encounters,
        parsed.issues + tuple(cross_checks(parsed)),
        parsed.notices,
    )


def parse_fhir(path: Path, *, today: dt.date | None = None) -> ParsedImport:
    """Read a FHIR R4 Bundle from a JSON file (or every ``*.json`` of a folder)."""
    if path.is_dir():
        result = ParsedImport()
        for file in sorted(path.glob("*.json")):
            result = result.merged(parse_fhir(file, today=today))
        if not result.patients and not result.issues and not result.encounters:
            return ParsedImport(issues=(ImportIssue(path.name, "folder", "-", "holds no *.json bundle"),))
        return result
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or "unreadable")
        return ParsedImport(issues=(ImportIssue(path.name, "file", "-", f"cannot read the file ({reason})"),))
    except json.JSONDecodeError as exc:
        return ParsedImport(
            issues=(ImportIssue(path.name, f"line {exc.lineno}", "-", f"not JSON ({exc.msg}, column {exc.colno})"),)
        )
    return parse_bundle(data, file=path.name, today=today)

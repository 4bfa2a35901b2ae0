"""Import patients, coverage and encounters from CSV files or FHIR R4 bundles — all or nothing.

``import_records(db, actor=, path=, kind="csv"|"fhir", dry_run=False)`` (``Permission.IMPORT_RECORDS``,
the actor's own practice):

1. the files are parsed by the pure readers (:mod:`medbill.interop.csv_import`,
   :mod:`medbill.interop.fhir_import`), which report every bad row / resource at once;
2. in ONE write transaction the records are matched against the practice:
   - **patients** are de-duplicated by MRN through its keyed blind index (``Patient.mrn_bidx``): a patient
     the practice already has is *matched* and left unchanged (an import never overwrites demographics);
   - **payers** are matched by payer id (``Payer.payer_id``) within the practice; an unknown payer id is
     **created** when the coverage row gives ``payer_name`` (filing indicator from the row, else CI), and
     is an error otherwise — so a mistyped payer id does not silently create a payer;
   - **coverage** identical to one the patient has (same payer, member id and rank) is skipped; a
     different active coverage at the same rank is an error (two primaries would break claims);
   - **encounters** whose ``external_id`` the patient already has are skipped (re-import is a no-op);
     a rendering NPI must be a provider of the practice;
3. if any row has an error, nothing is written: the transaction is rolled back and the report lists
   every error (file, row or entry, field). ``dry_run=True`` checks everything the same way and writes
   nothing.

One audit record per call, action ``import`` (resource ``import``): the ids created on success, the
counts and error count otherwise (never PHI; messages name files, rows and fields only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medbill.core.errors import NotFound, ValidationFailed
from medbill.interop.csv_import import parse_csv
from medbill.interop.fhir_import import parse_fhir
from medbill.interop.records import CoverageIn, EncounterIn, ImportIssue, ParsedImport, PatientIn
from medbill.services import audit
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.unit import operation, require
from medbill.store import models as m
from medbill.store.db import Database

__all__ = ["ImportReport", "import_records"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportReport:
    kind: str
    dry_run: bool
    ok: bool  # no errors (on a real run: everything was written)
    errors: tuple[ImportIssue, ...] = ()
    notices: tuple[ImportIssue, ...] = ()
    patients_created: int = 0
    patients_matched: int = 0
    coverages_created: int = 0
    coverages_existing: int = 0
    encounters_created: int = 0
    encounters_existing: int = 0
    payers_created: tuple[str, ...] = ()  # payer ids (organisations, not PHI)
    written: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "written": self.written,
            "patients": {"created": self.patients_created, "matched": self.patients_matched},
            "coverages": {"created": self.coverages_created, "existing": self.coverages_existing},
            "encounters": {"created": self.encounters_created, "existing": self.encounters_existing},
            "payers_created": list(self.payers_created),
            "errors": [_issue(i) for i in self.errors],
            "notices": [_issue(i) for i in self.notices],
        }


def _issue(i: ImportIssue) -> dict[str, str]:
    return {"file": i.file, "location": i.location, "field": i.field, "message": i.message}


class _Abort(Exception):
    """Roll the import's transaction back (errors found, or a dry run) and hand the report out."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("import rolled back")
        self.report = report


@dataclass(slots=True)
class _Tally:
    errors: list[ImportIssue] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    patients_created: int = 0
    patients_matched: int = 0
    coverages_created: int = 0
    coverages_existing: int = 0
    encounters_created: int = 0
    encounters_existing: int = 0
    payers_created: list[str] = field(default_factory=list)

    def error(self, source: str, fld: str, message: str) -> None:
        file, location = _split(source)
        self.errors.append(ImportIssue(file, location, fld, message))


def _split(source: str) -> tuple[str, str]:
    for marker in (", entry ", ", row "):
        file, sep, rest = source.partition(marker)
        if sep:
            return file, marker[2:] + rest
    return source, "-"


def parse(path: Path, kind: str) -> ParsedImport:
    if kind == "csv":
        return parse_csv(path)
    if kind == "fhir":
        return parse_fhir(path)
    raise ValidationFailed(f"unknown import kind {kind!r} (csv or fhir)", field="kind")


def import_records(
    db: Database, *, actor: Actor, path: Path | str, kind: str = "csv", dry_run: bool = False
) -> ImportReport:
    """Import a CSV file/folder or a FHIR R4 bundle into the actor's practice, all or nothing."""
    require(db, actor, Permission.IMPORT_RECORDS, action="import", resource="import")
    if actor.practice_id is None:
        audit.record_separately(db, actor, action="import", resource="import", outcome="failed", detail="no practice")
        raise NotFound("no practice here: sign in to a practice to import records")
    source = Path(path)
    if not source.exists():
        audit.record_separately(db, actor, action="import", resource="import", outcome="failed", detail="no file")
        raise NotFound(f"{source.name}: no such file or folder")
    parsed = parse(source, kind)
    if parsed.issues:
        report = ImportReport(kind=kind, dry_run=dry_run, ok=False, errors=parsed.issues, notices=parsed.notices)
        _audit_outcome(db, actor, report)
        return report
    try:
        with operation(db, actor, Permission.IMPORT_RECORDS, action="import", resource="import") as op:
            tally = _write(op.session, db, op.practice_id, parsed)
            report = _report(kind, dry_run, parsed, tally, written=not dry_run and not tally.errors)
            if tally.errors or dry_run:
                raise _Abort(report)
            op.ids.extend(tally.ids)
            op.detail = _detail(report)
    except _Abort as stop:
        _audit_outcome(db, actor, stop.report)
        return stop.report
    log.info(
        "import practice=%s patients=%d coverages=%d encounters=%d",
        actor.practice_id,
        report.patients_created,
        report.coverages_created,
        report.encounters_created,
    )
    return report


def _detail(r: ImportReport) -> str:
    return (
        f"{r.kind}{' dry-run' if r.dry_run else ''}: patients +{r.patients_created} ={r.patients_matched}, "
        f"coverages +{r.coverages_created} ={r.coverages_existing}, encounters +{r.encounters_created} "
        f"={r.encounters_existing}, payers +{len(r.payers_created)}, errors {len(r.errors)}"
    )


def _audit_outcome(db: Database, actor: Actor, report: ImportReport) -> None:
    outcome = "failed" if report.errors else "success"
    audit.record_separately(db, actor, action="import", resource="import", outcome=outcome, detail=_detail(report))


def _report(kind: str, dry_run: bool, parsed: ParsedImport, t: _Tally, *, written: bool) -> ImportReport:
    return ImportReport(
        kind=kind,
        dry_run=dry_run,
        ok=not t.errors,
        errors=tuple(t.errors),
        notices=parsed.notices,
        patients_created=t.patients_created,
        patients_matched=t.patients_matched,
        coverages_created=t.coverages_created,
        coverages_existing=t.coverages_existing,
        encounters_created=t.encounters_created,
        encounters_existing=t.encounters_existing,
        payers_created=tuple(t.payers_created),
        written=written,
    )


def _find_patient(s: Session, db: Database, practice_id: int, mrn: str) -> m.Patient | None:
    bidx = db.cipher.blind_index(mrn, purpose="patient.mrn")
    return s.scalars(
        select(m.Patient).where(m.Patient.practice_id == practice_id, m.Patient.mrn_bidx == bidx).order_by(m.Patient.id)
    ).first()


def _write(s: Session, db: Database, practice_id: int, parsed: ParsedImport) -> _Tally:
    t = _Tally()
    patients: dict[str, m.Patient] = {}
    for p in parsed.patients:
        found = _find_patient(s, db, practice_id, p.mrn)
        if found is not None:
            t.patients_matched += 1
            patients[p.mrn] = found
        else:
            row = _new_patient(practice_id, p)
            s.add(row)
            patients[p.mrn] = row
            t.patients_created += 1
    s.flush()
    t.ids.extend(f"patient:{row.id}" for mrn, row in patients.items())

    def patient_of(mrn: str, src: str) -> m.Patient | None:
        found = patients.get(mrn)
        if found is None:
            found = _find_patient(s, db, practice_id, mrn)
            if found is not None:
                patients[mrn] = found
        if found is None:
            t.error(src, "mrn", "no patient with this MRN in the import or in the practice")
        return found

    _coverages(s, db, practice_id, parsed.coverages, patient_of, t)
    _encounters(s, practice_id, parsed.encounters, patient_of, t)
    s.flush()
    return t


def _new_patient(practice_id: int, p: PatientIn) -> m.Patient:
    return m.Patient(
        practice_id=practice_id,
        mrn=p.mrn,
        account_number=p.account_number,
        last_name=p.last_name,
        first_name=p.first_name,
        middle_name=p.middle_name,
        birth_date=p.birth_date,
        sex=p.sex,
        ssn=p.ssn,
        address1=p.address1,
        address2=p.address2,
        city=p.city,
        state=p.state,
        zip=p.zip,
        phone=p.phone,
        email=p.email,
    )


def _coverages(
    s: Session,
    db: Database,
    practice_id: int,
    coverages: Iterable[CoverageIn],
    patient_of: Any,
    t: _Tally,
) -> None:
    payers = {p.payer_id: p for p in s.scalars(select(m.Payer).where(m.Payer.practice_id == practice_id))}
    for c in coverages:
        patient = patient_of(c.mrn, c.source)
        payer = payers.get(c.payer_id)
        if payer is None:
            if not c.payer_name:
                t.error(c.source, "payer_id", f"unknown payer id {c.payer_id!r}: give payer_name to create the payer")
                continue
            payer = m.Payer(
                practice_id=practice_id,
                name=c.payer_name[:120],
                payer_id=c.payer_id,
                filing_indicator=c.filing_indicator or "CI",
            )
            s.add(payer)
            s.flush()
            payers[c.payer_id] = payer
            t.payers_created.append(c.payer_id)
            t.ids.append(f"payer:{payer.id}")
        if patient is None:
            continue
        member_bidx = db.cipher.blind_index(c.member_id, purpose="coverage.member_id")
        existing = []
        if patient.id is not None:
            existing = list(
                s.scalars(
                    select(m.Coverage).where(
                        m.Coverage.practice_id == practice_id,
                        m.Coverage.patient_id == patient.id,
                        m.Coverage.active.is_(True),
                    )
                )
            )
        same = [x for x in existing if x.payer_id == payer.id and x.member_bidx == member_bidx and x.rank == c.rank]
        if same:
            t.coverages_existing += 1
            continue
        if any(x.rank == c.rank for x in existing):
            t.error(c.source, "rank", f"the patient already has another active rank-{c.rank} coverage")
            continue
        row = m.Coverage(
            practice_id=practice_id,
            patient_id=patient.id,
            payer_id=payer.id,
            rank=c.rank,
            member_id=c.member_id,
            group_number=c.group_number,
            relationship_code=c.relationship_code,
            subscriber_last_name=c.subscriber_last_name,
            subscriber_first_name=c.subscriber_first_name,
            subscriber_birth_date=c.subscriber_birth_date,
            subscriber_sex=c.subscriber_sex,
            effective_from=c.effective_from,
            effective_to=c.effective_to,
            insurance_type=c.insurance_type,
        )
        s.add(row)
        s.flush()
        t.coverages_created += 1
        t.ids.append(f"coverage:{row.id}")


def _encounters(s: Session, practice_id: int, encounters: Iterable[EncounterIn], patient_of: Any, t: _Tally) -> None:
    providers = {p.npi: p for p in s.scalars(select(m.Provider).where(m.Provider.practice_id == practice_id))}
    for e in encounters:
        patient = patient_of(e.mrn, e.source)
        provider_id = None
        if e.rendering_npi:
            provider = providers.get(e.rendering_npi)
            if provider is None:
                t.error(e.source, "rendering_npi", f"NPI {e.rendering_npi} is not a provider of the practice")
                continue
            provider_id = provider.id
        if patient is None:
            continue
        if e.external_id:
            dup = s.scalars(
                select(m.Encounter.id).where(
                    m.Encounter.practice_id == practice_id,
                    m.Encounter.patient_id == patient.id,
                    m.Encounter.external_id == e.external_id,
                )
            ).first()
            if dup is not None:
                t.encounters_existing += 1
                continue
        row = m.Encounter(
            practice_id=practice_id,
            patient_id=patient.id,
            rendering_provider_id=provider_id,
            kind=e.kind,
            setting=e.setting,
            service_date=e.service_date,
            discharge_date=e.discharge_date,
            place_of_service=e.place_of_service,
            type_of_bill=e.type_of_bill,
            note=e.note,
            status=e.status,
            external_id=e.external_id,
        )
        row.diagnoses = [
            m.EncounterDiagnosis(seq=i, system="ICD10CM", code=d.code.value, poa=d.poa)
            for i, d in enumerate(e.diagnoses, start=1)
        ]
        row.procedures = [
            m.EncounterProcedure(
                seq=i,
                system=p.code.system.value,
                code=p.code.value,
                modifiers=list(p.modifiers),
                units=p.units,
                charge=p.charge,
                diagnosis_pointers=list(p.diagnosis_pointers),
                procedure_date=p.procedure_date,
            )
            for i, p in enumerate(e.procedures, start=1)
        ]
        s.add(row)
        s.flush()
        t.encounters_created += 1
        t.ids.append(f"encounter:{row.id}")

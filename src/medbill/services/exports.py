"""De-identified export of the practice's encounters and claims (HIPAA Safe Harbor).

``export_deidentified(db, actor=, path_or_stream=, include_notes=False)`` (``Permission.EXPORT_DEIDENTIFIED``,
the actor's own practice only) reads the practice's encounters (with their patient, coded diagnoses and
procedures, rendering provider's taxonomy) and claims (their JSON document, payer), and writes the rows
:func:`medbill.interop.deid.deidentify` builds by allow-list — see that module for what is removed and
how. Format: CSV with a header row (default), or JSON lines (``fmt="jsonl"`` or a path ending ``.jsonl``
/ ``.ndjson``; its first line is the manifest). Given a path, the file is written atomically and the
manifest beside it (``<path>.manifest.json``); given a stream, the manifest is in the returned summary.

With ``include_notes=True`` the notes are added and the export is marked NOT de-identified (manifest
``"deidentified": false``, every row ``deidentified=no``). One audit record, action ``export``, with the
ids of the encounters and claims exported and whether notes were included.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from medbill.core.errors import ValidationFailed
from medbill.interop import deid
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.unit import operation
from medbill.store import models as m
from medbill.store.db import Database

__all__ = ["ExportSummary", "export_deidentified"]


@dataclass(frozen=True, slots=True)
class ExportSummary:
    format: str  # csv | jsonl
    encounters: int
    claims: int
    rows: int
    deidentified: bool
    path: str | None
    manifest_path: str | None
    zip3_list_date: str
    manifest: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "encounters": self.encounters,
            "claims": self.claims,
            "rows": self.rows,
            "deidentified": self.deidentified,
            "path": self.path,
            "manifest_path": self.manifest_path,
            "zip3_list_date": self.zip3_list_date,
        }


def _format_of(target: Path | TextIO, fmt: str | None) -> str:
    if fmt is None:
        suffix = target.suffix.lower() if isinstance(target, Path) else ""
        fmt = "jsonl" if suffix in (".jsonl", ".ndjson") else "csv"
    if fmt not in ("csv", "jsonl"):
        raise ValidationFailed(f"unknown export format {fmt!r} (csv or jsonl)", field="fmt")
    return fmt


def export_deidentified(
    db: Database,
    *,
    actor: Actor,
    path_or_stream: Path | str | TextIO,
    include_notes: bool = False,
    fmt: str | None = None,
    restricted_zip3: Path | None = None,
    as_of: dt.date | None = None,
) -> ExportSummary:
    """Write the practice's encounters and claims de-identified by Safe Harbor; see the module docstring."""
    target: Path | TextIO = Path(path_or_stream) if isinstance(path_or_stream, str | Path) else path_or_stream
    kind = _format_of(target, fmt)
    zip3 = deid.load_restricted_zip3(restricted_zip3)
    today = as_of or dt.date.today()
    with operation(db, actor, Permission.EXPORT_DEIDENTIFIED, action="export", resource="deidentified_export") as op:
        encounters, claims, ids = _sources(op.session, op.practice_id)
        export = deid.deidentify(encounters, claims, zip3=zip3, as_of=today, include_notes=include_notes)
        manifest_path = None
        if isinstance(target, Path):
            _write_atomic(target, export, kind)
            manifest_path = target.with_name(target.name + ".manifest.json")
            manifest_path.write_text(json.dumps(export.manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        else:
            (deid.write_jsonl if kind == "jsonl" else deid.write_csv)(export, target)
        op.ids.extend(ids)
        op.detail = (
            f"{kind}: encounters {len(encounters)}, claims {len(claims)}, "
            f"{'NOT de-identified (notes included)' if include_notes else 'de-identified (Safe Harbor)'}"
        )
    return ExportSummary(
        format=kind,
        encounters=len(encounters),
        claims=len(claims),
        rows=len(export.rows),
        deidentified=export.deidentified,
        path=str(target) if isinstance(target, Path) else None,
        manifest_path=str(manifest_path) if manifest_path else None,
        zip3_list_date=zip3.date,
        manifest=export.manifest,
    )


def _write_atomic(path: Path, export: deid.DeidentifiedExport, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            (deid.write_jsonl if kind == "jsonl" else deid.write_csv)(export, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sources(s: Any, practice_id: int) -> tuple[list[deid.SourceEncounter], list[deid.SourceClaim], list[str]]:
    patients = {p.id: p for p in s.scalars(select(m.Patient).where(m.Patient.practice_id == practice_id))}
    source_patients = {pid: _patient(p) for pid, p in patients.items()}
    providers = {p.id: p for p in s.scalars(select(m.Provider).where(m.Provider.practice_id == practice_id))}
    payers = {p.id: p for p in s.scalars(select(m.Payer).where(m.Payer.practice_id == practice_id))}
    encounters = []
    ids: list[str] = []
    for e in s.scalars(select(m.Encounter).where(m.Encounter.practice_id == practice_id).order_by(m.Encounter.id)):
        if e.status == "void":
            continue
        prov = providers.get(e.rendering_provider_id) if e.rendering_provider_id else None
        encounters.append(
            deid.SourceEncounter(
                key=str(e.id),
                patient=source_patients[e.patient_id],
                service_date=e.service_date,
                discharge_date=e.discharge_date,
                kind=e.kind,
                setting=e.setting,
                place_of_service=e.place_of_service,
                type_of_bill=e.type_of_bill,
                status=e.status,
                provider_key=str(prov.id) if prov else None,
                provider_taxonomy=prov.taxonomy if prov else None,
                provider_npi=prov.npi if prov else None,
                external_id=e.external_id,
                note=e.note,
                diagnoses=tuple(d.code for d in e.diagnoses),
                procedures=tuple(
                    deid.SourceProcedure(
                        system=p.system,
                        code=p.code,
                        modifiers=tuple(p.modifiers or ()),
                        units=p.units,
                        charge=p.charge,
                        procedure_date=p.procedure_date,
                        ndc=p.ndc,
                    )
                    for p in e.procedures
                ),
            )
        )
        ids.append(f"encounter:{e.id}")
    claims = []
    for c in s.scalars(
        select(m.ClaimRecord).where(m.ClaimRecord.practice_id == practice_id).order_by(m.ClaimRecord.id)
    ):
        payer = payers.get(c.payer_id)
        claims.append(
            deid.SourceClaim(
                key=str(c.id),
                patient=source_patients[c.patient_id],
                document=c.document or {},
                encounter_key=str(c.encounter_id) if c.encounter_id else None,
                payer_name=payer.name if payer else None,
                filing_indicator=payer.filing_indicator if payer else None,
                payer_rank=c.payer_rank,
                kind=c.kind,
                frequency=c.frequency,
                status=c.status,
                total_charge=c.total_charge,
                patient_control_number=c.patient_control_number,
                payer_claim_number=c.payer_claim_number,
                submitted_at=c.submitted_at,
            )
        )
        ids.append(f"claim:{c.id}")
    return encounters, claims, ids


def _patient(p: m.Patient) -> deid.SourcePatient:
    return deid.SourcePatient(
        key=str(p.id),
        birth_date=p.birth_date,
        sex=p.sex,
        state=p.state,
        zip=p.zip,
        last_name=p.last_name,
        first_name=p.first_name,
        middle_name=p.middle_name,
        address1=p.address1,
        address2=p.address2,
        city=p.city,
        phone=p.phone,
        email=p.email,
        ssn=p.ssn,
        mrn=p.mrn,
        account_number=p.account_number,
    )

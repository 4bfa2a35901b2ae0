"""Records an import yields (from CSV or FHIR R4) before anything is written, and the errors it finds.

They carry what the practice database stores for a patient, a coverage and an encounter, as plain
values: codes normalised (:class:`medbill.core.codes.Code`), money as ``Decimal``, dates as
``datetime.date``. ``source`` says where each record came from (``"patients.csv, row 4"``,
``"bundle.json, entry 2 (Patient/p1)"``) for the report; it holds positions and resource ids, never PHI.
Links between records are by MRN (the patient's medical record number in the practice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from medbill.core.codes import Code

__all__ = [
    "CoverageIn",
    "DiagnosisIn",
    "EncounterIn",
    "ImportIssue",
    "ParsedImport",
    "PatientIn",
    "ProcedureIn",
]


@dataclass(frozen=True, slots=True)
class PatientIn:
    mrn: str
    last_name: str
    first_name: str
    birth_date: dt.date
    sex: str = "U"  # F, M, U
    middle_name: str | None = None
    ssn: str | None = None
    account_number: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    phone: str | None = None
    email: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class CoverageIn:
    mrn: str  # the patient it belongs to
    payer_id: str  # the payer's identifier (NM109 of 2010BB), matched within the practice
    member_id: str
    rank: int = 1  # 1 primary, 2 secondary, 3 tertiary
    payer_name: str | None = None  # needed only to create a payer the practice does not have yet
    filing_indicator: str | None = None  # SBR09 for a new payer (CI when absent)
    group_number: str | None = None
    relationship_code: str = "18"  # SBR02 / PAT01: 18 self
    subscriber_last_name: str | None = None
    subscriber_first_name: str | None = None
    subscriber_birth_date: dt.date | None = None
    subscriber_sex: str | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    insurance_type: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class DiagnosisIn:
    code: Code  # ICD-10-CM
    poa: str | None = None


@dataclass(frozen=True, slots=True)
class ProcedureIn:
    code: Code  # CPT, HCPCS or ICD-10-PCS
    modifiers: tuple[str, ...] = ()
    units: Decimal = Decimal("1")
    charge: Decimal | None = None
    diagnosis_pointers: tuple[int, ...] = ()
    procedure_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class EncounterIn:
    mrn: str
    service_date: dt.date
    external_id: str | None = None  # the sending system's id: re-importing the same id is a no-op
    discharge_date: dt.date | None = None
    kind: str = "professional"  # professional | institutional
    setting: str = "outpatient"  # outpatient | inpatient
    place_of_service: str = "11"
    type_of_bill: str | None = None
    rendering_npi: str | None = None
    note: str | None = None
    diagnoses: tuple[DiagnosisIn, ...] = ()
    procedures: tuple[ProcedureIn, ...] = ()
    source: str = ""

    @property
    def status(self) -> str:
        """``coded`` when the encounter arrives with diagnoses, else ``to_code``."""
        return "coded" if self.diagnoses else "to_code"


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """One problem in the input: the file, where in it (row / entry), the field, and what is wrong.

    The message never repeats the bad value when the field holds PHI (names, dates, ids).
    """

    file: str
    location: str  # "row 4" or "entry 2 (Patient/p1)"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, {self.location}, field {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedImport:
    patients: tuple[PatientIn, ...] = ()
    coverages: tuple[CoverageIn, ...] = ()
    encounters: tuple[EncounterIn, ...] = ()
    issues: tuple[ImportIssue, ...] = ()  # errors: any one of them and nothing is imported
    notices: tuple[ImportIssue, ...] = ()  # what was skipped on purpose (a SNOMED-only Condition ...)

    def merged(self, other: ParsedImport) -> ParsedImport:
        return ParsedImport(
            self.patients + other.patients,
            self.coverages + other.coverages,
            self.encounters + other.encounters,
            self.issues + other.issues,
            self.notices + other.notices,
        )

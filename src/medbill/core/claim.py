"""The claim: frozen records for professional (837P) and institutional (837I) claims, and their JSON form.

The records follow the X12 005010X222A1 (837P) and 005010X223A2 (837I) implementation guides; field
docs name the loop and element each maps to (``2300 CLM01``). They hold what a claim *says*, bad data
included: nothing here validates in ``__post_init__``. ``claim_problems()`` returns the structural
problems (limits of the 837, pointers, totals, COB balance) as values, for the scrubber to report.

JSON form (``claim_to_dict`` / ``claim_from_dict``, schema from ``claim_json_schema``):
- keys are the field names; unknown keys are rejected; optional fields that are null/empty are omitted;
- money is a JSON *string* with at most two decimal places (``"123.45"``, written back as ``"123.00"``),
  never a number: a JSON number becomes a binary float in most readers; other decimals (units,
  quantities) are strings too (``"1"``, ``"0.5"``);
- dates are ISO ``"2024-03-15"``, times ``"14:30"``;
- enums are their X12 values (``"18"``, ``"CI"``, ``"Y"``) or lower-case names (roles, kinds);
- a code whose system the field implies is a display string (diagnosis ``"E11.9"``, modifier ``"25"``,
  POS ``"11"``, revenue ``"0450"``, CARC ``"45"``, PCS ``"027034Z"``); a service-line procedure, which
  may be CPT or HCPCS, is ``{"system": "CPT", "code": "99213"}`` — the system is never guessed.
The JSON form rejects only what no claim form can carry or what is not data at all (wrong types, unknown
keys, impossible dates, sub-cent money, malformed codes, more than 4 modifiers or 4 pointers, a pointer
outside 1..12). Claim-kind limits (12 diagnoses on 837P, 25 on 837I) and consistency (totals, pointers
to missing diagnoses, identifiers such as NPI and ZIP) are ``claim_problems`` / scrubber findings, so a
claim that breaks them still loads and gets reported. Errors raise ``ClaimFormatError`` with a ``path``
such as ``claims[3].lines[2].modifiers[4]`` (0-based indexes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any

from medbill.core.codes import Code, CodeSystem, is_well_formed
from medbill.core.errors import InvalidCode, MedbillError
from medbill.core.money import CENT, format_money, is_cents, money, sum_money

# ---------------------------------------------------------------------------------------------------
# Errors


class ClaimFormatError(MedbillError):
    """A claim document (JSON/dict) that cannot be read or written; ``path`` locates the bad value."""

    code = "claim_format_error"

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(f"{path or '$'}: {message}", hint=hint)
        self.path = path
        self.detail = message

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["path"] = self.path
        return out


# ---------------------------------------------------------------------------------------------------
# Field annotations used by the JSON form (read with typing.get_type_hints(include_extras=True))


@dataclass(frozen=True, slots=True)
class Doc:
    """Description of a field (goes into the JSON Schema)."""

    text: str


@dataclass(frozen=True, slots=True)
class Systems:
    """The code systems a ``Code`` field accepts."""

    systems: tuple[CodeSystem, ...]


@dataclass(frozen=True, slots=True)
class MaxItems:
    count: int


@dataclass(frozen=True, slots=True)
class Range:
    minimum: int
    maximum: int


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression (full match) for a string field, with a readable description."""

    regex: str
    description: str


class _MoneyMarker:
    """Marks a ``Decimal`` field as money (two places); other Decimals are quantities."""


MONEY_MARKER = _MoneyMarker()

Money = Annotated[Decimal, MONEY_MARKER]
"""An amount in dollars, a ``Decimal`` with whole cents (see ``medbill.core.money``)."""
Quantity = Decimal
DiagnosisCode = Annotated[Code, Systems((CodeSystem.ICD10CM,))]
ServiceCode = Annotated[Code, Systems((CodeSystem.CPT, CodeSystem.HCPCS))]
PcsCode = Annotated[Code, Systems((CodeSystem.ICD10PCS,))]
ModifierCode = Annotated[Code, Systems((CodeSystem.MODIFIER,))]
PosCode = Annotated[Code, Systems((CodeSystem.POS,))]
RevenueCode = Annotated[Code, Systems((CodeSystem.REVENUE,))]
CarcCode = Annotated[Code, Systems((CodeSystem.CARC,))]
Pointer = Annotated[int, Range(1, 12)]
UbCode = Annotated[str, Pattern(r"[0-9A-Z]{2}", "a two-character NUBC code such as '01' or 'A3'")]

MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_DIAGNOSES_PROFESSIONAL = 12
MAX_DIAGNOSES_INSTITUTIONAL = 25  # principal + 24 other (837I HI ABK/ABF)
MAX_LINES_PROFESSIONAL = 50
MAX_LINES_INSTITUTIONAL = 999
MAX_CAS_REASONS_PER_GROUP = 6

# ---------------------------------------------------------------------------------------------------
# Code lists


class ClaimKind(StrEnum):
    PROFESSIONAL = "professional"  # 837P / CMS-1500
    INSTITUTIONAL = "institutional"  # 837I / UB-04


class ClaimFrequency(StrEnum):
    """2300 CLM05-3 (NUBC type-of-bill frequency). 837P uses 1, 7 and 8."""

    NONPAYMENT = "0"
    ORIGINAL = "1"
    INTERIM_FIRST = "2"
    INTERIM_CONTINUING = "3"
    INTERIM_LAST = "4"
    LATE_CHARGE = "5"
    REPLACEMENT = "7"
    VOID = "8"


class ProviderRole(StrEnum):
    BILLING = "billing"  # 2010AA NM1*85
    PAY_TO = "pay_to"  # 2010AB NM1*87
    RENDERING = "rendering"  # 2310B / 2420A NM1*82
    REFERRING = "referring"  # 2310A / 2420F NM1*DN
    ORDERING = "ordering"  # 2420E NM1*DK
    SUPERVISING = "supervising"  # 2310D / 2420D NM1*DQ
    ATTENDING = "attending"  # 837I 2310A NM1*71
    OPERATING = "operating"  # 837I 2310B NM1*72
    OTHER_OPERATING = "other_operating"  # 837I 2310C NM1*ZZ
    SERVICE_FACILITY = "service_facility"  # 2310C (837P) / 2310E (837I) NM1*77


class EntityType(StrEnum):
    PERSON = "person"  # NM102 = 1
    ORGANIZATION = "organization"  # NM102 = 2


class TaxIdType(StrEnum):
    EIN = "EIN"  # REF*EI
    SSN = "SSN"  # REF*SY


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


class Relationship(StrEnum):
    """The patient's relationship to the subscriber (SBR02 / PAT01)."""

    SELF = "18"
    SPOUSE = "01"
    CHILD = "19"
    EMPLOYEE = "20"
    UNKNOWN = "21"
    ORGAN_DONOR = "39"
    CADAVER_DONOR = "40"
    LIFE_PARTNER = "53"
    OTHER = "G8"


class ClaimFilingIndicator(StrEnum):
    """SBR09 claim filing indicator code (005010)."""

    OTHER_NON_FEDERAL = "11"
    PPO = "12"
    POS = "13"
    EPO = "14"
    INDEMNITY = "15"
    HMO_MEDICARE_RISK = "16"
    DENTAL_MAINTENANCE = "17"
    AUTOMOBILE_MEDICAL = "AM"
    BLUE_CROSS_BLUE_SHIELD = "BL"
    CHAMPUS = "CH"
    COMMERCIAL = "CI"
    DISABILITY = "DS"
    FEDERAL_EMPLOYEES = "FI"
    HMO = "HM"
    LIABILITY_MEDICAL = "LM"
    MEDICARE_PART_A = "MA"
    MEDICARE_PART_B = "MB"
    MEDICAID = "MC"
    OTHER_FEDERAL = "OF"
    TITLE_V = "TV"
    VETERANS_AFFAIRS = "VA"
    WORKERS_COMPENSATION = "WC"
    MUTUALLY_DEFINED = "ZZ"


MEDICARE_FILING_INDICATORS = frozenset({ClaimFilingIndicator.MEDICARE_PART_A, ClaimFilingIndicator.MEDICARE_PART_B})


class Responsibility(StrEnum):
    """SBR01 payer responsibility sequence."""

    PRIMARY = "P"
    SECONDARY = "S"
    TERTIARY = "T"


class InsuranceType(StrEnum):
    """SBR05 insurance type code, required when Medicare is a secondary payer."""

    WORKING_AGED = "12"  # Medicare secondary working aged beneficiary or spouse with employer group plan
    ESRD = "13"  # Medicare secondary end-stage renal disease beneficiary, 30-month coordination
    NO_FAULT = "14"  # Medicare secondary, no-fault insurance including auto primary
    WORKERS_COMPENSATION = "15"
    PUBLIC_HEALTH_SERVICE = "16"  # or other federal agency
    BLACK_LUNG = "41"
    VETERANS_AFFAIRS = "42"
    DISABLED_LARGE_GROUP = "43"  # disabled beneficiary under 65 with large group health plan
    OTHER_LIABILITY = "47"


class PresentOnAdmission(StrEnum):
    """837I HI POA indicator (HIxx-9)."""

    YES = "Y"
    NO = "N"
    UNKNOWN = "U"  # documentation insufficient
    UNDETERMINED = "W"  # clinically undetermined
    EXEMPT = "1"  # exempt from POA reporting (UB-04 paper form); the 837I sends an empty HIxx-9 (X223: Y/N/U/W)


class DiagnosisRole(StrEnum):
    """Which HI qualifier carries the diagnosis (ICD-10: ABK, ABF, ABJ, APR, ABN)."""

    PRINCIPAL = "principal"  # ABK
    OTHER = "other"  # ABF
    ADMITTING = "admitting"  # ABJ (837I)
    REASON_FOR_VISIT = "reason_for_visit"  # APR (837I, up to 3)
    EXTERNAL_CAUSE = "external_cause"  # ABN (837I, up to 12)


class UnitType(StrEnum):
    """SV103 / SV204 unit basis."""

    UNIT = "UN"
    MINUTES = "MJ"  # anesthesia minutes


class NdcUnit(StrEnum):
    """2410 CTP05-1 unit for the NDC quantity."""

    INTERNATIONAL_UNIT = "F2"
    GRAM = "GR"
    MILLIGRAM = "ME"
    MILLILITER = "ML"
    UNIT = "UN"


class AdjustmentGroup(StrEnum):
    """CAS01 claim adjustment group (CR is not used in 5010)."""

    CONTRACTUAL = "CO"
    PATIENT_RESPONSIBILITY = "PR"
    OTHER = "OA"
    PAYER_INITIATED = "PI"


class AssignmentCode(StrEnum):
    """2300 CLM07 assignment or plan participation."""

    ASSIGNED = "A"
    LAB_ONLY = "B"  # assignment accepted on clinical lab services only
    NOT_ASSIGNED = "C"


class BenefitsAssignment(StrEnum):
    """2300 CLM08 benefits assignment certification (also 2320 OI03)."""

    YES = "Y"
    NO = "N"
    NOT_APPLICABLE = "W"  # patient refuses to assign benefits


class ReleaseOfInformation(StrEnum):
    """2300 CLM09 release of information (also 2320 OI06)."""

    INFORMED_CONSENT = "I"  # HIPAA-permitted release without a signed statement
    YES = "Y"  # signed statement on file


class PatientSignatureSource(StrEnum):
    """2300 CLM10 (837P only)."""

    PROVIDER = "P"  # signature generated by provider because the patient was not physically present


class RelatedCause(StrEnum):
    """2300 CLM11-1/-2 related causes."""

    AUTO_ACCIDENT = "AA"
    EMPLOYMENT = "EM"
    OTHER_ACCIDENT = "OA"


# ---------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """A postal address (N3/N4). ``zip`` is 5 or 9 digits, no dash (billing providers need 9)."""

    line1: str
    line2: str | None = None
    city: str
    state: Annotated[str, Doc("two-letter state or province code (N402)")]
    zip: Annotated[str, Doc("5 or 9 digits without dash (N403)")]


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """A contact person and numbers (PER). Phone numbers are digits only."""

    name: str | None = None
    phone: str | None = None
    phone_extension: str | None = None
    fax: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """A provider or facility in one role on the claim (a person or an organization)."""

    role: ProviderRole
    entity_type: EntityType = EntityType.ORGANIZATION
    organization_name: Annotated[str | None, Doc("NM103 when entity_type is organization")] = None
    last_name: Annotated[str | None, Doc("NM103 when entity_type is person")] = None
    first_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    npi: Annotated[str | None, Doc("10-digit NPI, NM109 with NM108=XX")] = None
    taxonomy: Annotated[str | None, Doc("provider taxonomy code, PRV03")] = None
    tax_id: Annotated[str | None, Doc("9 digits, REF*EI or REF*SY")] = None
    tax_id_type: TaxIdType | None = None
    address: Address | None = None
    contact: Contact | None = None

    @property
    def name(self) -> str:
        """Display name: the organization name, or "LAST, FIRST M"."""
        if self.entity_type is EntityType.ORGANIZATION or not self.last_name:
            return self.organization_name or self.last_name or ""
        return _person_name(self.last_name, self.first_name, self.middle_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscriber:
    """The insured (2010BA): member id, group, name, birth date, sex, address."""

    member_id: Annotated[str | None, Doc("2010BA NM109 (NM108=MI)")] = None
    group_number: Annotated[str | None, Doc("2000B SBR03")] = None
    group_name: Annotated[str | None, Doc("2000B SBR04")] = None
    last_name: str
    first_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    date_of_birth: dt.date | None = None
    sex: Sex | None = None
    address: Address | None = None

    @property
    def name(self) -> str:
        return _person_name(self.last_name, self.first_name, self.middle_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    """The patient when not the subscriber (2000C/2010CA); the relationship is on ``Coverage``."""

    last_name: str
    first_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    date_of_birth: dt.date | None = None
    sex: Sex | None = None
    address: Address | None = None

    @property
    def name(self) -> str:
        return _person_name(self.last_name, self.first_name, self.middle_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Payer:
    """A payer (2010BB / 2330B)."""

    name: str
    payer_id: Annotated[str | None, Doc("payer identifier, NM109 with NM108=PI")] = None
    filing_indicator: Annotated[ClaimFilingIndicator | None, Doc("SBR09")] = None
    address: Address | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """One coverage of the patient: payer, subscriber, responsibility (SBR01), relationship (SBR02)."""

    payer: Payer
    subscriber: Subscriber
    responsibility: Responsibility = Responsibility.PRIMARY
    relationship: Annotated[
        Relationship, Doc("the patient's relationship to this subscriber (SBR02 / PAT01); 18 = self")
    ] = Relationship.SELF
    insurance_type: Annotated[InsuranceType | None, Doc("SBR05, required when Medicare is secondary")] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """An ICD-10-CM diagnosis. Line pointers refer to the 1-based position in ``Claim.diagnoses``."""

    code: DiagnosisCode
    role: DiagnosisRole = DiagnosisRole.OTHER
    poa: Annotated[PresentOnAdmission | None, Doc("present on admission (837I only)")] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimAdjustment:
    """One CAS adjustment: group, CARC reason, amount, quantity (claim level 2320 or line level 2430)."""

    group: AdjustmentGroup
    reason: CarcCode
    amount: Money
    quantity: Quantity | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineAdjudication:
    """A prior payer's adjudication of one line (2430 SVD/CAS/DTP*573), for COB."""

    payer_id: Annotated[str, Doc("SVD01: the other payer's id, as in its 2330B NM109")]
    paid_amount: Annotated[Money, Doc("SVD02")]
    procedure: Annotated[ServiceCode | None, Doc("SVD03 procedure as adjudicated")] = None
    modifiers: Annotated[tuple[ModifierCode, ...], MaxItems(MAX_MODIFIERS)] = ()
    revenue_code: Annotated[RevenueCode | None, Doc("SVD04 (837I)")] = None
    paid_units: Annotated[Quantity, Doc("SVD05")] = Decimal("1")
    adjustments: tuple[ClaimAdjustment, ...] = ()
    adjudication_date: Annotated[dt.date, Doc("DTP*573")]


@dataclass(frozen=True, slots=True, kw_only=True)
class Drug:
    """National Drug Code on a line (2410 LIN/CTP): 11 digits, quantity and unit."""

    ndc: Annotated[str, Doc("11-digit NDC in 5-4-2 form without dashes (LIN03)")]
    quantity: Annotated[Quantity, Doc("CTP04")]
    unit: Annotated[NdcUnit, Doc("CTP05-1")]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLine:
    """A service line (2400): 837P SV1 or 837I SV2."""

    line_number: Annotated[int, Range(1, 999), Doc("LX01")]
    procedure: Annotated[ServiceCode | None, Doc("SV101-2 / SV202-2; optional on 837I room-and-board")] = None
    modifiers: Annotated[tuple[ModifierCode, ...], MaxItems(MAX_MODIFIERS), Doc("SV101-3..6")] = ()
    units: Annotated[Quantity, Doc("SV104 / SV205")] = Decimal("1")
    unit_type: UnitType = UnitType.UNIT
    charge: Annotated[Money, Doc("SV102 / SV203")]
    non_covered_charge: Annotated[Money | None, Doc("SV207 (837I)")] = None
    place_of_service: Annotated[PosCode | None, Doc("SV105, when it differs from the claim's")] = None
    diagnosis_pointers: Annotated[
        tuple[Pointer, ...], MaxItems(MAX_POINTERS), Doc("SV107-1..4 (837P), 1-based into diagnoses")
    ] = ()
    drug: Drug | None = None
    description: Annotated[str | None, Doc("SV101-7, required for not-otherwise-classified codes")] = None
    service_date: Annotated[dt.date | None, Doc("DTP*472 from")] = None
    service_date_to: Annotated[dt.date | None, Doc("DTP*472 to, when a range")] = None
    revenue_code: Annotated[RevenueCode | None, Doc("SV201 (837I)")] = None
    rendering_provider: Annotated[Provider | None, Doc("2420A, when it differs from the claim's")] = None
    ordering_provider: Annotated[Provider | None, Doc("2420E")] = None
    control_number: Annotated[str | None, Doc("line item control number, REF*6R")] = None
    prior_authorization: Annotated[str | None, Doc("REF*G1 at the line")] = None
    adjudications: Annotated[tuple[LineAdjudication, ...], Doc("2430 loops, one per prior payer")] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherPayer:
    """Another coverage for COB (2320/2330): its adjudication when it has paid (secondary claims)."""

    coverage: Coverage
    paid_amount: Annotated[Money | None, Doc("2320 AMT*D; None when not yet adjudicated")] = None
    adjustments: Annotated[tuple[ClaimAdjustment, ...], Doc("2320 CAS (claim level)")] = ()
    adjudication_date: Annotated[dt.date | None, Doc("2330B DTP*573")] = None
    payer_claim_control_number: Annotated[str | None, Doc("2330B REF*F8")] = None
    remaining_patient_liability: Annotated[Money | None, Doc("2320 AMT*EAF")] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Occurrence:
    """837I HI*BH occurrence code and date."""

    code: UbCode
    date: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class OccurrenceSpan:
    """837I HI*BI occurrence span code and dates."""

    code: UbCode
    date_from: dt.date
    date_to: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueCode:
    """837I HI*BE value code and amount."""

    code: UbCode
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class PcsProcedure:
    """An ICD-10-PCS procedure and its date (837I HI*BBR principal, HI*BBQ other)."""

    code: PcsCode
    date: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class InstitutionalInfo:
    """837I/UB-04 claim information."""

    facility_type_code: Annotated[
        str,
        Pattern(r"[0-9]{2}", "two digits such as '11' or '13'"),
        Doc("type of bill without its frequency digit (CLM05-1): 11 inpatient hospital, 13 outpatient"),
    ]
    admission_date: Annotated[dt.date | None, Doc("DTP*435")] = None
    admission_time: Annotated[dt.time | None, Doc("DTP*435 hour and minute")] = None
    admission_type: Annotated[str | None, Pattern(r"[1-59]", "one digit 1-5 or 9"), Doc("CL101")] = None
    admission_source: Annotated[str | None, Pattern(r"[0-9A-Z]", "one character"), Doc("CL102")] = None
    discharge_time: Annotated[dt.time | None, Doc("DTP*096")] = None
    patient_status: Annotated[str | None, Pattern(r"[0-9]{2}", "two digits such as '01'"), Doc("CL103")] = None
    statement_from: Annotated[dt.date | None, Doc("DTP*434 from")] = None
    statement_to: Annotated[dt.date | None, Doc("DTP*434 to")] = None
    condition_codes: Annotated[tuple[UbCode, ...], Doc("HI*BG")] = ()
    occurrence_codes: tuple[Occurrence, ...] = ()
    occurrence_spans: tuple[OccurrenceSpan, ...] = ()
    value_codes: tuple[ValueCode, ...] = ()
    principal_procedure: PcsProcedure | None = None
    other_procedures: tuple[PcsProcedure, ...] = ()
    attending_provider: Provider | None = None
    operating_provider: Provider | None = None
    other_operating_provider: Provider | None = None
    drg: Annotated[str | None, Pattern(r"[0-9]{3}", "three digits"), Doc("HI*DR")] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """One claim (2300 and what hangs from it). ``id`` is our patient control number, CLM01 (PHI)."""

    id: Annotated[str, Doc("patient control number, CLM01")]
    kind: ClaimKind
    frequency: Annotated[ClaimFrequency, Doc("CLM05-3")] = ClaimFrequency.ORIGINAL
    original_claim_number: Annotated[
        str | None, Doc("payer claim control number of the claim replaced or voided, REF*F8")
    ] = None
    billing_provider: Provider
    pay_to_provider: Provider | None = None
    rendering_provider: Provider | None = None
    referring_provider: Provider | None = None
    supervising_provider: Provider | None = None
    service_facility: Provider | None = None
    coverage: Annotated[Coverage, Doc("the payer this claim is sent to, with its subscriber")]
    patient: Annotated[Patient | None, Doc("None when the subscriber is the patient")] = None
    other_payers: Annotated[tuple[OtherPayer, ...], Doc("other coverages and their adjudications (2320)")] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    lines: tuple[ServiceLine, ...] = ()
    place_of_service: Annotated[PosCode | None, Doc("CLM05-1 (837P)")] = None
    provider_signature_on_file: Annotated[bool, Doc("CLM06 (837P)")] = True
    assignment: Annotated[AssignmentCode, Doc("CLM07")] = AssignmentCode.ASSIGNED
    benefits_assigned: Annotated[BenefitsAssignment, Doc("CLM08")] = BenefitsAssignment.YES
    release_of_information: Annotated[ReleaseOfInformation, Doc("CLM09")] = ReleaseOfInformation.YES
    patient_signature_source: Annotated[PatientSignatureSource | None, Doc("CLM10 (837P)")] = None
    prior_authorization: Annotated[str | None, Doc("REF*G1")] = None
    referral_number: Annotated[str | None, Doc("REF*9F")] = None
    medical_record_number: Annotated[str | None, Doc("REF*EA")] = None
    delay_reason: Annotated[str | None, Pattern(r"[1-9]|1[01]|15", "a delay reason code 1-11 or 15"), Doc("CLM20")] = (
        None
    )
    related_causes: Annotated[tuple[RelatedCause, ...], Doc("CLM11-1/-2")] = ()
    accident_state: Annotated[str | None, Doc("CLM11-4")] = None
    accident_country: Annotated[str | None, Doc("CLM11-5")] = None
    accident_date: Annotated[dt.date | None, Doc("DTP*439")] = None
    onset_date: Annotated[dt.date | None, Doc("DTP*431 onset of current illness")] = None
    stated_total: Annotated[
        Money | None, Doc("the total as stated by the source (CLM02 read from an 837); None = computed")
    ] = None
    institutional: InstitutionalInfo | None = None
    note: Annotated[str | None, Doc("NTE02 claim note")] = None

    @property
    def total_charge(self) -> Decimal:
        """Sum of the line charges, exact (``Decimal("0.00")`` with no lines). CLM02 when written."""
        return sum_money(line.charge for line in self.lines)

    @property
    def payer(self) -> Payer:
        return self.coverage.payer

    @property
    def subscriber(self) -> Subscriber:
        return self.coverage.subscriber

    @property
    def patient_is_subscriber(self) -> bool:
        return self.patient is None

    @property
    def type_of_bill(self) -> str | None:
        """Three-digit type of bill (facility type + frequency, e.g. "131"), institutional claims only."""
        if self.institutional is None:
            return None
        return self.institutional.facility_type_code + self.frequency.value

    def providers(self) -> tuple[tuple[str, Provider], ...]:
        """Every provider on the claim with its JSON path (claim, institutional and line level)."""
        out: list[tuple[str, Provider]] = []
        for name in (
            "billing_provider",
            "pay_to_provider",
            "rendering_provider",
            "referring_provider",
            "supervising_provider",
            "service_facility",
        ):
            provider = getattr(self, name)
            if provider is not None:
                out.append((name, provider))
        if self.institutional is not None:
            for name in ("attending_provider", "operating_provider", "other_operating_provider"):
                provider = getattr(self.institutional, name)
                if provider is not None:
                    out.append((f"institutional.{name}", provider))
        for i, line in enumerate(self.lines):
            if line.rendering_provider is not None:
                out.append((f"lines[{i}].rendering_provider", line.rendering_provider))
            if line.ordering_provider is not None:
                out.append((f"lines[{i}].ordering_provider", line.ordering_provider))
        return tuple(out)


def _person_name(last: str, first: str | None, middle: str | None) -> str:
    name = last
    if first:
        name += f", {first}"
        if middle:
            name += f" {middle}"
    return name


# ---------------------------------------------------------------------------------------------------
# NPI


def npi_check_digit(first_nine: str) -> str:
    """The NPI check digit: Luhn over "80840" + the first nine digits (CMS NPI standard)."""
    if len(first_nine) != 9 or not first_nine.isdigit() or not first_nine.isascii():
        raise ValueError(f"an NPI base is 9 digits, got {first_nine!r}")
    total = 0
    for i, ch in enumerate(reversed("80840" + first_nine)):
        digit = int(ch)
        if i % 2 == 0:  # rightmost payload digit is doubled (the check digit will follow it)
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_npi(npi: str) -> bool:
    """True for 10 ASCII digits whose last digit is the Luhn check digit (80840 prefix)."""
    return len(npi) == 10 and npi.isascii() and npi.isdigit() and npi_check_digit(npi[:9]) == npi[9]


# ---------------------------------------------------------------------------------------------------
# Structural problems (returned, never raised)


@dataclass(frozen=True, slots=True)
class ClaimProblem:
    """A structural problem in a claim: JSON-style path, a stable short code, and a message."""

    path: str
    code: str
    message: str


_SLOT_ROLES: dict[str, ProviderRole] = {
    "billing_provider": ProviderRole.BILLING,
    "pay_to_provider": ProviderRole.PAY_TO,
    "rendering_provider": ProviderRole.RENDERING,
    "referring_provider": ProviderRole.REFERRING,
    "supervising_provider": ProviderRole.SUPERVISING,
    "service_facility": ProviderRole.SERVICE_FACILITY,
    "attending_provider": ProviderRole.ATTENDING,
    "operating_provider": ProviderRole.OPERATING,
    "other_operating_provider": ProviderRole.OTHER_OPERATING,
    "ordering_provider": ProviderRole.ORDERING,
}

_PROFESSIONAL_FREQUENCIES = frozenset({ClaimFrequency.ORIGINAL, ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID})


def claim_problems(claim: Claim) -> list[ClaimProblem]:
    """Every structural problem of ``claim``, in one pass; an empty list when there is none.

    Checks what the 837 can carry and what must agree inside one claim: claim kind vs institutional
    info, frequency and original claim number, patient vs relationship, provider roles, diagnosis counts
    and roles per kind, POA on professional claims, line counts and numbering, modifiers and pointers
    (count, 1..12, pointing at an existing diagnosis), code systems and normal form, whole cents, stated
    total vs the sum of lines, line and statement dates in order, COB balance (CLM02 = paid + all CAS
    for each adjudicated other payer; each line charge = SVD02 + its CAS), at most six CAS reasons per
    group, SBR05 on a Medicare-secondary claim. It does not look up code sets, NPIs or payer rules:
    that is the scrubber's job.
    """
    out: list[ClaimProblem] = []

    def add(path: str, code: str, message: str) -> None:
        out.append(ClaimProblem(path, code, message))

    professional = claim.kind is ClaimKind.PROFESSIONAL

    # kind, frequency
    if professional and claim.institutional is not None:
        add(
            "institutional",
            "kind.institutional_on_professional",
            "a professional claim carries no institutional info",
        )
    if not professional and claim.institutional is None:
        add("institutional", "kind.institutional_missing", "an institutional claim needs institutional info")
    if professional and claim.frequency not in _PROFESSIONAL_FREQUENCIES:
        add(
            "frequency",
            "frequency.invalid",
            f"837P claims use frequency 1, 7 or 8, not {claim.frequency.value}",
        )
    if claim.frequency in (ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID) and not claim.original_claim_number:
        add(
            "original_claim_number",
            "frequency.original_missing",
            f"a {claim.frequency.name.lower()} claim (frequency {claim.frequency.value}) needs the payer's "
            "original claim number",
        )
    if claim.frequency is ClaimFrequency.ORIGINAL and claim.original_claim_number:
        add(
            "original_claim_number",
            "frequency.original_unexpected",
            "an original claim has no original claim number",
        )

    # patient / relationship
    relationship = claim.coverage.relationship
    if claim.patient is None and relationship is not Relationship.SELF:
        add("patient", "patient.missing", f"relationship {relationship.value} (not self) needs the patient")
    if claim.patient is not None and relationship is Relationship.SELF:
        add(
            "coverage.relationship",
            "patient.relationship_self",
            "a separate patient is given but relationship is 18",
        )

    # providers in the right slots
    for path, provider in claim.providers():
        slot = path.rsplit(".", 1)[-1]
        expected = _SLOT_ROLES.get(slot)
        if expected is not None and provider.role is not expected:
            add(f"{path}.role", "provider.role_mismatch", f"the {slot} has role {provider.role.value}")

    # coverage
    coverage = claim.coverage
    if coverage.responsibility is not Responsibility.PRIMARY:
        if not any(other.paid_amount is not None for other in claim.other_payers):
            add(
                "other_payers",
                "cob.prior_payer_missing",
                "a secondary/tertiary claim needs the prior payer's adjudication",
            )
        if coverage.payer.filing_indicator in MEDICARE_FILING_INDICATORS and coverage.insurance_type is None:
            add(
                "coverage.insurance_type",
                "cob.sbr05_missing",
                "Medicare as secondary payer needs SBR05 (insurance type)",
            )

    # diagnoses
    _diagnosis_problems(claim, add)

    # lines
    max_lines = MAX_LINES_PROFESSIONAL if professional else MAX_LINES_INSTITUTIONAL
    if not claim.lines:
        add("lines", "lines.none", "a claim needs at least one service line")
    if len(claim.lines) > max_lines:
        add(
            "lines",
            "lines.too_many",
            f"{len(claim.lines)} lines; an {'837P' if professional else '837I'} claim carries {max_lines}",
        )
    for i, line in enumerate(claim.lines):
        _line_problems(claim, i, line, add)

    # money and totals
    if claim.stated_total is not None:
        _cents(claim.stated_total, "stated_total", add)
        if claim.stated_total != claim.total_charge:
            add(
                "stated_total",
                "total.mismatch",
                f"stated total {claim.stated_total} differs from the sum of the lines {claim.total_charge}",
            )

    # COB
    for k, other in enumerate(claim.other_payers):
        _other_payer_problems(claim, k, other, add)
    known_payers = {other.coverage.payer.payer_id for other in claim.other_payers}
    for i, line in enumerate(claim.lines):
        for j, adj in enumerate(line.adjudications):
            if adj.payer_id not in known_payers:
                add(
                    f"lines[{i}].adjudications[{j}].payer_id",
                    "cob.unknown_payer",
                    f"line adjudicated by payer {adj.payer_id!r}, which is not among other_payers",
                )

    # institutional
    if claim.institutional is not None:
        _institutional_problems(claim.institutional, add)
    return out


_Add = typing.Callable[[str, str, str], None]


def _cents(value: Decimal, path: str, add: _Add) -> None:
    if not is_cents(value):
        add(path, "money.not_cents", f"{value} is not a whole number of cents")


def _code(code: Code, systems: tuple[CodeSystem, ...], path: str, add: _Add) -> None:
    if code.system not in systems:
        names = "/".join(s.value for s in systems)
        add(path, "code.system", f"{code.system.value} code {code.value} where {names} is expected")
    elif not is_well_formed(code.value, code.system):
        add(path, "code.malformed", f"{code.value!r} is not a normalised {code.system.label} code")


def _diagnosis_problems(claim: Claim, add: _Add) -> None:
    diagnoses = claim.diagnoses
    professional = claim.kind is ClaimKind.PROFESSIONAL
    if not diagnoses:
        add("diagnoses", "dx.none", "a claim needs at least one diagnosis")
    for i, dx in enumerate(diagnoses):
        _code(dx.code, (CodeSystem.ICD10CM,), f"diagnoses[{i}].code", add)
    counts = {role: sum(1 for dx in diagnoses if dx.role is role) for role in DiagnosisRole}
    if professional:
        if len(diagnoses) > MAX_DIAGNOSES_PROFESSIONAL:
            add("diagnoses", "dx.too_many", f"{len(diagnoses)} diagnoses; an 837P claim carries 12")
        for i, dx in enumerate(diagnoses):
            expected = DiagnosisRole.PRINCIPAL if i == 0 else DiagnosisRole.OTHER
            if dx.role is not expected:
                add(
                    f"diagnoses[{i}].role",
                    "dx.role",
                    f"on an 837P diagnosis {i + 1} is {expected.value}, not {dx.role.value}",
                )
            if dx.poa is not None:
                add(f"diagnoses[{i}].poa", "dx.poa_professional", "POA indicators are carried on 837I only")
        return
    main = counts[DiagnosisRole.PRINCIPAL] + counts[DiagnosisRole.OTHER]
    if main > MAX_DIAGNOSES_INSTITUTIONAL:
        add("diagnoses", "dx.too_many", f"{main} principal/other diagnoses; an 837I claim carries 25")
    if diagnoses and counts[DiagnosisRole.PRINCIPAL] != 1:
        add(
            "diagnoses",
            "dx.principal",
            f"{counts[DiagnosisRole.PRINCIPAL]} principal diagnoses; exactly one is needed",
        )
    for role, limit in (
        (DiagnosisRole.ADMITTING, 1),
        (DiagnosisRole.REASON_FOR_VISIT, 3),
        (DiagnosisRole.EXTERNAL_CAUSE, 12),
    ):
        if counts[role] > limit:
            add(
                "diagnoses",
                "dx.too_many",
                f"{counts[role]} {role.value} diagnoses; an 837I claim carries {limit}",
            )


def _line_problems(claim: Claim, i: int, line: ServiceLine, add: _Add) -> None:
    p = f"lines[{i}]"
    professional = claim.kind is ClaimKind.PROFESSIONAL
    if line.line_number != i + 1:
        add(
            f"{p}.line_number",
            "line.number",
            f"line {i + 1} is numbered {line.line_number}; number lines 1..n in order",
        )
    _cents(line.charge, f"{p}.charge", add)
    if line.non_covered_charge is not None:
        _cents(line.non_covered_charge, f"{p}.non_covered_charge", add)
    if line.procedure is not None:
        _code(line.procedure, (CodeSystem.CPT, CodeSystem.HCPCS), f"{p}.procedure", add)
    elif professional:
        add(f"{p}.procedure", "line.procedure_missing", "an 837P line needs a CPT/HCPCS code")
    if len(line.modifiers) > MAX_MODIFIERS:
        add(f"{p}.modifiers", "line.too_many_modifiers", f"{len(line.modifiers)} modifiers; at most 4")
    for k, modifier in enumerate(line.modifiers):
        _code(modifier, (CodeSystem.MODIFIER,), f"{p}.modifiers[{k}]", add)
    if professional:
        if len(line.diagnosis_pointers) > MAX_POINTERS:
            add(
                f"{p}.diagnosis_pointers",
                "line.too_many_pointers",
                f"{len(line.diagnosis_pointers)} pointers; at most 4",
            )
        if not line.diagnosis_pointers:
            add(f"{p}.diagnosis_pointers", "line.pointer_missing", "an 837P line points at 1 to 4 diagnoses")
        if len(set(line.diagnosis_pointers)) != len(line.diagnosis_pointers):
            add(f"{p}.diagnosis_pointers", "line.pointer_duplicate", "a diagnosis pointer is repeated")
        for k, pointer in enumerate(line.diagnosis_pointers):
            if not 1 <= pointer <= MAX_DIAGNOSES_PROFESSIONAL:
                add(
                    f"{p}.diagnosis_pointers[{k}]",
                    "line.pointer_range",
                    f"pointer {pointer} is outside 1..12",
                )
            elif pointer > len(claim.diagnoses):
                add(
                    f"{p}.diagnosis_pointers[{k}]",
                    "line.pointer_dangling",
                    f"pointer {pointer} but the claim has {len(claim.diagnoses)} diagnoses",
                )
        if line.service_date is None:
            add(f"{p}.service_date", "line.date_missing", "an 837P line needs its date of service")
    else:
        if line.diagnosis_pointers:
            add(
                f"{p}.diagnosis_pointers",
                "line.pointer_institutional",
                "837I lines carry no diagnosis pointers",
            )
        if line.revenue_code is None:
            add(f"{p}.revenue_code", "line.revenue_missing", "an 837I line needs a revenue code")
    if line.revenue_code is not None:
        _code(line.revenue_code, (CodeSystem.REVENUE,), f"{p}.revenue_code", add)
    if line.place_of_service is not None:
        _code(line.place_of_service, (CodeSystem.POS,), f"{p}.place_of_service", add)
    if line.service_date and line.service_date_to and line.service_date_to < line.service_date:
        add(f"{p}.service_date_to", "line.dates_order", "the service end date is before its start")
    for j, adj in enumerate(line.adjudications):
        q = f"{p}.adjudications[{j}]"
        _cents(adj.paid_amount, f"{q}.paid_amount", add)
        _cas_problems(adj.adjustments, f"{q}.adjustments", add)
        balance = adj.paid_amount + sum_money(a.amount for a in adj.adjustments)
        if is_cents(balance) and balance != line.charge:
            add(
                q,
                "cob.line_unbalanced",
                f"line charge {line.charge} != paid {adj.paid_amount} + adjustments "
                f"{sum_money(a.amount for a in adj.adjustments)}",
            )


def _cas_problems(adjustments: tuple[ClaimAdjustment, ...], path: str, add: _Add) -> None:
    per_group: dict[AdjustmentGroup, int] = {}
    for k, adj in enumerate(adjustments):
        _cents(adj.amount, f"{path}[{k}].amount", add)
        _code(adj.reason, (CodeSystem.CARC,), f"{path}[{k}].reason", add)
        per_group[adj.group] = per_group.get(adj.group, 0) + 1
    for group, count in per_group.items():
        if count > MAX_CAS_REASONS_PER_GROUP:
            add(path, "cob.cas_too_many", f"{count} {group.value} adjustments; one CAS segment carries 6")


def _other_payer_problems(claim: Claim, k: int, other: OtherPayer, add: _Add) -> None:
    p = f"other_payers[{k}]"
    _cas_problems(other.adjustments, f"{p}.adjustments", add)
    for name in ("paid_amount", "remaining_patient_liability"):
        value = getattr(other, name)
        if value is not None:
            _cents(value, f"{p}.{name}", add)
    if other.paid_amount is None:
        if other.adjustments:
            add(f"{p}.paid_amount", "cob.paid_missing", "adjustments without the other payer's paid amount")
        return
    payer_id = other.coverage.payer.payer_id
    line_cas = sum_money(
        a.amount
        for line in claim.lines
        for adj in line.adjudications
        if adj.payer_id == payer_id
        for a in adj.adjustments
    )
    claim_cas = sum_money(a.amount for a in other.adjustments)
    balance = other.paid_amount + claim_cas + line_cas
    if balance != claim.total_charge:
        add(
            p,
            "cob.claim_unbalanced",
            f"claim total {claim.total_charge} != paid {other.paid_amount} + claim adjustments {claim_cas} "
            f"+ line adjustments {line_cas}",
        )
    if other.adjudication_date is None:
        add(
            f"{p}.adjudication_date",
            "cob.date_missing",
            "an adjudicated other payer needs its adjudication date",
        )


def _institutional_problems(info: InstitutionalInfo, add: _Add) -> None:
    p = "institutional"
    if info.statement_from is None or info.statement_to is None:
        add(f"{p}.statement_from", "inst.statement_missing", "an 837I claim needs its statement period")
    elif info.statement_to < info.statement_from:
        add(f"{p}.statement_to", "inst.statement_order", "the statement period ends before it starts")
    for name, limit in (
        ("condition_codes", 24),
        ("occurrence_codes", 24),
        ("occurrence_spans", 24),
        ("value_codes", 24),
        ("other_procedures", 24),
    ):
        count = len(getattr(info, name))
        if count > limit:
            add(
                f"{p}.{name}",
                "inst.too_many",
                f"{count} {name.replace('_', ' ')}; an 837I claim carries {limit}",
            )
    for k, value in enumerate(info.value_codes):
        _cents(value.amount, f"{p}.value_codes[{k}].amount", add)
    if info.principal_procedure is not None:
        _code(info.principal_procedure.code, (CodeSystem.ICD10PCS,), f"{p}.principal_procedure.code", add)
    for k, proc in enumerate(info.other_procedures):
        _code(proc.code, (CodeSystem.ICD10PCS,), f"{p}.other_procedures[{k}].code", add)
    if info.other_procedures and info.principal_procedure is None:
        add(
            f"{p}.principal_procedure",
            "inst.principal_procedure",
            "other procedures without a principal procedure",
        )
    for k, span in enumerate(info.occurrence_spans):
        if span.date_to < span.date_from:
            add(f"{p}.occurrence_spans[{k}]", "inst.span_order", "the occurrence span ends before it starts")


# ---------------------------------------------------------------------------------------------------
# JSON form: codecs compiled once per record class from the field annotations


def _json_type(data: object) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "boolean"
    if isinstance(data, int):
        return "integer"
    if isinstance(data, float | Decimal):
        return "number"
    if isinstance(data, str):
        return "string"
    if isinstance(data, list | tuple):
        return "array"
    if isinstance(data, Mapping):
        return "object"
    return type(data).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fail(path: str, message: str, hint: str | None = None) -> typing.NoReturn:
    raise ClaimFormatError(message, path=path, hint=hint)


class _Codec:
    optional = False

    def dump(self, value: object, path: str) -> object:
        raise NotImplementedError

    def load(self, data: object, path: str) -> object:
        raise NotImplementedError

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class _Str(_Codec):
    def __init__(self, pattern: Pattern | None) -> None:
        self.pattern = pattern
        self.regex = re.compile(pattern.regex) if pattern else None

    def _check(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            _fail(path, f"expected a string, got {_json_type(value)}")
        if self.regex is not None and self.pattern is not None and not self.regex.fullmatch(value):
            _fail(path, f"{value!r} is not {self.pattern.description}")
        return value

    def dump(self, value: object, path: str) -> object:
        return self._check(value, path)

    def load(self, data: object, path: str) -> object:
        return self._check(data, path)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.pattern is not None:
            out["pattern"] = f"^(?:{self.pattern.regex})$"
        return out


class _Bool(_Codec):
    def _check(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            _fail(path, f"expected true or false, got {_json_type(value)}")
        return value

    def dump(self, value: object, path: str) -> object:
        return self._check(value, path)

    def load(self, data: object, path: str) -> object:
        return self._check(data, path)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "boolean"}


class _Int(_Codec):
    def __init__(self, bounds: Range | None) -> None:
        self.bounds = bounds

    def _check(self, value: object, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, f"expected an integer, got {_json_type(value)}")
        if self.bounds is not None and not self.bounds.minimum <= value <= self.bounds.maximum:
            _fail(path, f"{value} is outside {self.bounds.minimum}..{self.bounds.maximum}")
        return value

    def dump(self, value: object, path: str) -> object:
        return self._check(value, path)

    def load(self, data: object, path: str) -> object:
        return self._check(data, path)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.bounds is not None:
            out["minimum"] = self.bounds.minimum
            out["maximum"] = self.bounds.maximum
        return out


_MONEY_RE = r"-?[0-9]{1,12}(?:\.[0-9]{1,2})?"
_QUANTITY_RE = r"-?[0-9]{1,12}(?:\.[0-9]{1,6})?"


class _Decimal(_Codec):
    def __init__(self, is_money: bool) -> None:
        self.is_money = is_money
        self.regex = re.compile(_MONEY_RE if is_money else _QUANTITY_RE)
        self.what = "an amount" if is_money else "a decimal quantity"
        self.example = '"123.45"' if is_money else '"1" or "0.5"'

    def dump(self, value: object, path: str) -> object:
        if not isinstance(value, Decimal):
            _fail(path, f"expected a Decimal, got {type(value).__name__}")
        if self.is_money:
            if not is_cents(value):
                _fail(path, f"{value} is not a whole number of cents")
            text = format_money(value)
        else:
            text = format(value, "f") if value.is_finite() else str(value)
        if not self.regex.fullmatch(text):
            _fail(path, f"{text} is not {self.what} the JSON form can carry")
        return text

    def load(self, data: object, path: str) -> object:
        if not isinstance(data, str):
            _fail(
                path,
                f"{self.what} must be a JSON string such as {self.example}, not {_json_type(data)}",
                hint="decimal values are strings so that no reader turns them into binary floats",
            )
        if not self.regex.fullmatch(data):
            cents = " with at most two decimal places" if self.is_money else ""
            _fail(path, f"{data!r} is not {self.what}{cents} (e.g. {self.example})")
        value = Decimal(data)
        return value.quantize(CENT) if self.is_money else value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^(?:{self.regex.pattern})$"}


_DATE_RE = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])")
_TIME_RE = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


class _Date(_Codec):
    def dump(self, value: object, path: str) -> object:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            _fail(path, f"expected a date, got {type(value).__name__}")
        return value.isoformat()

    def load(self, data: object, path: str) -> object:
        if not isinstance(data, str):
            _fail(path, f'expected an ISO date string such as "2024-03-15", got {_json_type(data)}')
        if not _DATE_RE.fullmatch(data):
            _fail(path, f"{data!r} is not an ISO date (YYYY-MM-DD)")
        try:
            return dt.date.fromisoformat(data)
        except ValueError:
            _fail(path, f"{data!r} is not a valid date")

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "format": "date", "pattern": f"^{_DATE_RE.pattern}$"}


class _Time(_Codec):
    def dump(self, value: object, path: str) -> object:
        if not isinstance(value, dt.time):
            _fail(path, f"expected a time, got {type(value).__name__}")
        if value.second or value.microsecond or value.tzinfo is not None:
            _fail(path, f"{value} has seconds or a time zone; the claim carries hour and minute only")
        return f"{value.hour:02d}:{value.minute:02d}"

    def load(self, data: object, path: str) -> object:
        if not isinstance(data, str) or not _TIME_RE.fullmatch(data):
            _fail(path, f'expected a time "HH:MM" (24-hour), got {data!r}')
        return dt.time(int(data[:2]), int(data[3:]))

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{_TIME_RE.pattern}$"}


class _Enum(_Codec):
    def __init__(self, enum: type[Enum]) -> None:
        self.enum = enum
        self.values = {str(member.value): member for member in enum}

    def dump(self, value: object, path: str) -> object:
        if not isinstance(value, self.enum):
            _fail(path, f"expected a {self.enum.__name__}, got {value!r}")
        return str(value.value)

    def load(self, data: object, path: str) -> object:
        if not isinstance(data, str) or data not in self.values:
            _fail(path, f"{data!r} is not one of {', '.join(self.values)}")
        return self.values[data]

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


# Input/display form of each code system in the JSON (case-insensitive where Code.parse upper-cases).
_CODE_PATTERNS: dict[CodeSystem, str] = {
    CodeSystem.ICD10CM: r"(?:[A-Za-z][0-9]|[Qq][Aa])[0-9A-Za-z](?:\.?[0-9A-Za-z]{1,4})?",
    CodeSystem.ICD10PCS: r"[0-9A-HJ-NP-Za-hj-np-z]{7}",
    CodeSystem.CPT: r"[0-9]{4}[0-9AFMTUafmtu]",
    CodeSystem.HCPCS: r"[A-Va-v][0-9]{4}",
    CodeSystem.MODIFIER: r"[0-9A-Za-z]{2}",
    CodeSystem.POS: r"[0-9]{1,2}",
    CodeSystem.REVENUE: r"[0-9]{3,4}",
    CodeSystem.CARC: r"[A-Za-z]?[0-9]{1,3}",
}


class _Code(_Codec):
    """A Code: a display string when the field implies one system, else {"system", "code"}."""

    def __init__(self, systems: tuple[CodeSystem, ...]) -> None:
        self.systems = systems
        self.regexes = {s: re.compile(_CODE_PATTERNS[s]) for s in systems}

    def _parse(self, text: object, system: CodeSystem, path: str) -> Code:
        if not isinstance(text, str):
            _fail(path, f"expected a {system.label} code string, got {_json_type(text)}")
        if not self.regexes[system].fullmatch(text):
            _fail(path, f"{text!r} is not a well-formed {system.label} code")
        try:
            return Code.parse(text, system=system)
        except InvalidCode as exc:
            _fail(path, exc.message, exc.hint)

    def dump(self, value: object, path: str) -> object:
        if not isinstance(value, Code):
            _fail(path, f"expected a Code, got {type(value).__name__}")
        if value.system not in self.systems:
            _fail(
                path,
                f"a {value.system.label} code where {'/'.join(s.value for s in self.systems)} is expected",
            )
        text = value.display
        if self._parse(text, value.system, path) != value:
            _fail(path, f"{value.value!r} is not a normalised {value.system.label} code")
        if len(self.systems) == 1:
            return text
        return {"system": value.system.value, "code": text}

    def load(self, data: object, path: str) -> object:
        if len(self.systems) == 1:
            return self._parse(data, self.systems[0], path)
        if not isinstance(data, Mapping):
            _fail(
                path,
                f'expected an object {{"system": ..., "code": ...}}, got {_json_type(data)}',
                hint=f"system is one of {', '.join(s.value for s in self.systems)}",
            )
        for key in data:
            if key not in ("system", "code"):
                _fail(_join(path, str(key)), "unknown field; a code has system and code")
        for key in ("system", "code"):
            if key not in data:
                _fail(_join(path, key), "required field missing")
        system = data["system"]
        allowed = {s.value: s for s in self.systems}
        if not isinstance(system, str) or system not in allowed:
            _fail(_join(path, "system"), f"{system!r} is not one of {', '.join(allowed)}")
        return self._parse(data["code"], allowed[system], _join(path, "code"))

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        if len(self.systems) == 1:
            system = self.systems[0]
            return {
                "type": "string",
                "pattern": f"^(?:{_CODE_PATTERNS[system]})$",
                "description": system.label,
            }
        return {
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["system", "code"],
                    "properties": {
                        "system": {"const": s.value},
                        "code": {"type": "string", "pattern": f"^(?:{_CODE_PATTERNS[s]})$"},
                    },
                }
                for s in self.systems
            ]
        }


class _Optional(_Codec):
    optional = True

    def __init__(self, inner: _Codec) -> None:
        self.inner = inner

    def dump(self, value: object, path: str) -> object:
        return None if value is None else self.inner.dump(value, path)

    def load(self, data: object, path: str) -> object:
        return None if data is None else self.inner.load(data, path)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [self.inner.schema(defs), {"type": "null"}]}


class _Tuple(_Codec):
    def __init__(self, inner: _Codec, max_items: int | None, noun: str) -> None:
        self.inner = inner
        self.max_items = max_items
        self.noun = noun

    def _limit(self, items: typing.Sized, path: str) -> None:
        if self.max_items is not None and len(items) > self.max_items:
            _fail(f"{path}[{self.max_items}]", f"at most {self.max_items} {self.noun}")

    def dump(self, value: object, path: str) -> object:
        if not isinstance(value, tuple):
            _fail(path, f"expected a tuple, got {type(value).__name__}")
        self._limit(value, path)
        return [self.inner.dump(item, f"{path}[{i}]") for i, item in enumerate(value)]

    def load(self, data: object, path: str) -> object:
        if not isinstance(data, list):
            _fail(path, f"expected an array, got {_json_type(data)}")
        self._limit(data, path)
        return tuple(self.inner.load(item, f"{path}[{i}]") for i, item in enumerate(data))

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.inner.schema(defs)}
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        return out


@dataclass(frozen=True, slots=True)
class _FieldCodec:
    name: str
    codec: _Codec
    required: bool
    omit_empty: bool  # default () : omitted from the JSON when empty
    doc: str | None


class _Record(_Codec):
    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        self.fields: list[_FieldCodec] = []
        self.names: frozenset[str] = frozenset()

    def build(self) -> None:
        hints = typing.get_type_hints(self.cls, include_extras=True)
        for field in dataclasses.fields(self.cls):
            hint = hints[field.name]
            markers: tuple[object, ...] = ()
            if typing.get_origin(hint) is Annotated:
                hint, *extra = typing.get_args(hint)
                markers = tuple(extra)
            doc = next((m.text for m in markers if isinstance(m, Doc)), None)
            codec = _compile(hint, markers, field.name)
            required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            self.fields.append(_FieldCodec(field.name, codec, required, field.default == (), doc))
        self.names = frozenset(f.name for f in self.fields)

    def dump(self, value: object, path: str) -> object:
        if not isinstance(value, self.cls):
            _fail(path, f"expected a {self.cls.__name__}, got {type(value).__name__}")
        out: dict[str, object] = {}
        for f in self.fields:
            item = getattr(value, f.name)
            if item is None and f.codec.optional:
                continue
            if f.omit_empty and item == ():
                continue
            out[f.name] = f.codec.dump(item, _join(path, f.name))
        return out

    def load(self, data: object, path: str) -> object:
        if not isinstance(data, Mapping):
            _fail(path, f"expected an object ({self.cls.__name__}), got {_json_type(data)}")
        for key in data:
            if key not in self.names:
                close = difflib.get_close_matches(str(key), sorted(self.names), n=1)
                _fail(
                    _join(path, str(key)),
                    f"unknown field in {self.cls.__name__}",
                    hint=f"did you mean {close[0]!r}?" if close else None,
                )
        kwargs: dict[str, object] = {}
        for f in self.fields:
            if f.name not in data:
                if f.required:
                    _fail(_join(path, f.name), f"required field missing in {self.cls.__name__}")
                continue
            kwargs[f.name] = f.codec.load(data[f.name], _join(path, f.name))
        return self.cls(**kwargs)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        name = self.cls.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            properties: dict[str, Any] = {}
            for f in self.fields:
                prop = f.codec.schema(defs)
                if f.doc:
                    prop = {**prop, "description": f.doc}
                properties[f.name] = prop
            doc = (self.cls.__doc__ or "").strip().splitlines()
            definition: dict[str, Any] = {
                "type": "object",
                "additionalProperties": False,
                "properties": properties,
                "required": [f.name for f in self.fields if f.required],
            }
            if doc:
                definition = {"description": doc[0], **definition}
            defs[name] = definition
        return {"$ref": f"#/$defs/{name}"}


_RECORDS: dict[type[Any], _Record] = {}


def _record(cls: type[Any]) -> _Record:
    codec = _RECORDS.get(cls)
    if codec is None:
        codec = _RECORDS[cls] = _Record(cls)
        codec.build()
    return codec


def _compile(hint: Any, markers: tuple[object, ...], name: str) -> _Codec:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *extra = typing.get_args(hint)
        return _compile(base, markers + tuple(extra), name)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"{name}: only X | None unions are supported")
        return _Optional(_compile(args[0], markers, name))
    if origin is tuple:
        item, ellipsis = typing.get_args(hint)
        if ellipsis is not Ellipsis:
            raise TypeError(f"{name}: only tuple[X, ...] is supported")
        max_items = next((m.count for m in markers if isinstance(m, MaxItems)), None)
        return _Tuple(_compile(item, (), name), max_items, name.replace("_", " "))
    if hint is Code:
        systems = next((m.systems for m in markers if isinstance(m, Systems)), None)
        if systems is None:
            raise TypeError(f"{name}: a Code field needs Systems(...)")
        return _Code(systems)
    if hint is bool:
        return _Bool()
    if hint is int:
        return _Int(next((m for m in markers if isinstance(m, Range)), None))
    if hint is str:
        return _Str(next((m for m in markers if isinstance(m, Pattern)), None))
    if hint is Decimal:
        return _Decimal(any(m is MONEY_MARKER for m in markers))
    if hint is dt.date:
        return _Date()
    if hint is dt.time:
        return _Time()
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _Enum(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record(hint)
    raise TypeError(f"{name}: unsupported field type {hint!r}")


# ---------------------------------------------------------------------------------------------------
# Public JSON API


def claim_to_dict(claim: Claim) -> dict[str, Any]:
    """The JSON form of ``claim`` (only JSON types). Raises ``ClaimFormatError`` for what it cannot carry."""
    out = _record(Claim).dump(claim, "")
    assert isinstance(out, dict)
    return out


def claim_from_dict(data: object, *, path: str = "") -> Claim:
    """The claim in a JSON form; ``path`` prefixes error paths (``claims[3]``)."""
    claim = _record(Claim).load(data, path)
    assert isinstance(claim, Claim)
    return claim


def claims_to_dict(claims: Iterable[Claim]) -> dict[str, Any]:
    """A claims document: ``{"claims": [...]}``."""
    return {"claims": [_record(Claim).dump(c, f"claims[{i}]") for i, c in enumerate(claims)]}


def claims_from_dict(data: object) -> tuple[Claim, ...]:
    """The claims in a ``{"claims": [...]}`` document; error paths read ``claims[3].lines[2]...``."""
    if not isinstance(data, Mapping):
        _fail("", f'expected an object {{"claims": [...]}}, got {_json_type(data)}')
    for key in data:
        if key != "claims":
            _fail(str(key), "unknown field; a claims document has only 'claims'")
    if "claims" not in data:
        _fail("claims", "required field missing")
    items = data["claims"]
    if not isinstance(items, list):
        _fail("claims", f"expected an array, got {_json_type(items)}")
    return tuple(claim_from_dict(item, path=f"claims[{i}]") for i, item in enumerate(items))


def _loads(text: str | bytes) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail("", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except UnicodeDecodeError as exc:
        _fail("", f"not UTF-8 text: {exc.reason}")


def claim_to_json(claim: Claim, *, indent: int | None = 2) -> str:
    return json.dumps(claim_to_dict(claim), indent=indent, ensure_ascii=False)


def claim_from_json(text: str | bytes) -> Claim:
    return claim_from_dict(_loads(text))


def claims_to_json(claims: Iterable[Claim], *, indent: int | None = 2) -> str:
    return json.dumps(claims_to_dict(claims), indent=indent, ensure_ascii=False)


def claims_from_json(text: str | bytes) -> tuple[Claim, ...]:
    return claims_from_dict(_loads(text))


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def claim_json_schema(*, many: bool = False) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one claim, or with ``many`` of a ``{"claims": [...]}`` document.

    Built from the same field annotations as the reader, so they accept the same documents — except that
    a validator checks ``"format": "date"`` only when asked to (the pattern alone lets 2024-02-30 by).
    """
    defs: dict[str, Any] = {}
    ref = _record(Claim).schema(defs)
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT}
    if many:
        schema.update(
            {
                "title": "medbill claims document",
                "type": "object",
                "additionalProperties": False,
                "required": ["claims"],
                "properties": {"claims": {"type": "array", "items": ref}},
            }
        )
    else:
        schema.update({"title": "medbill claim", **ref})
    schema["$defs"] = {name: defs[name] for name in sorted(defs)}
    return schema


# ---------------------------------------------------------------------------------------------------
# Example claims (fake people, fake but check-digit-valid NPIs)


def _npi(first_nine: str) -> str:
    return first_nine + npi_check_digit(first_nine)


def _cm(text: str) -> Code:
    return Code.parse(text, system=CodeSystem.ICD10CM)


def _cpt(text: str) -> Code:
    return Code.parse(text, system=CodeSystem.CPT)


def _hcpcs(text: str) -> Code:
    return Code.parse(text, system=CodeSystem.HCPCS)


def _mods(*texts: str) -> tuple[Code, ...]:
    return tuple(Code.parse(t, system=CodeSystem.MODIFIER) for t in texts)


def _pos(text: str) -> Code:
    return Code.parse(text, system=CodeSystem.POS)


def _rev(text: str) -> Code:
    return Code.parse(text, system=CodeSystem.REVENUE)


def _cas(group: AdjustmentGroup, reason: str, amount: str) -> ClaimAdjustment:
    return ClaimAdjustment(group=group, reason=Code.parse(reason, system=CodeSystem.CARC), amount=money(amount))


def example_claims() -> tuple[Claim, ...]:
    """A few realistic claims with made-up people, for tests and demos.

    0 professional, subscriber is the patient, 2 lines with modifiers 25 and 59/RT;
    1 professional, dependent child, accident, NDC on a vaccine line;
    2 professional secondary to Medicare-working-aged (SBR05 12) with COB line adjudications and an
      unclassified drug (J3490) with its description;
    3 institutional outpatient (type of bill 131) with revenue codes and HCPCS;
    4 institutional inpatient (111) with POA indicators, ICD-10-PCS procedures, value/occurrence codes;
    5 a replacement (frequency 7) of claim 0 with the payer's original claim number.
    None of them has a claim_problems() problem.
    """
    billing_address = Address(line1="100 TEST AVENUE", city="ANYTOWN", state="MD", zip="212440001")
    clinic = Provider(
        role=ProviderRole.BILLING,
        entity_type=EntityType.ORGANIZATION,
        organization_name="TESTCLINIC FAMILY PRACTICE",
        npi=_npi("199990001"),
        taxonomy="207Q00000X",
        tax_id="990000001",
        tax_id_type=TaxIdType.EIN,
        address=billing_address,
        contact=Contact(name="TESTBILLER, DELTA", phone="5555550100"),
    )
    doctor = Provider(
        role=ProviderRole.RENDERING,
        entity_type=EntityType.PERSON,
        last_name="TESTDOCTOR",
        first_name="CHARLIE",
        npi=_npi("199990002"),
        taxonomy="207Q00000X",
    )
    referring = Provider(
        role=ProviderRole.REFERRING,
        entity_type=EntityType.PERSON,
        last_name="TESTREFERRER",
        first_name="ECHO",
        npi=_npi("199990003"),
    )
    commercial = Payer(
        name="TEST COMMERCIAL HEALTH PLAN",
        payer_id="TESTCI001",
        filing_indicator=ClaimFilingIndicator.COMMERCIAL,
        address=Address(line1="PO BOX 1000", city="ANYTOWN", state="MD", zip="21244"),
    )
    medicare = Payer(
        name="TEST MEDICARE CARRIER",
        payer_id="TESTMB001",
        filing_indicator=ClaimFilingIndicator.MEDICARE_PART_B,
    )
    home = Address(line1="1 TESTPATIENT LANE", line2="APT 2", city="ANYTOWN", state="MD", zip="21244")
    alpha = Subscriber(
        member_id="TESTMEMBER01",
        group_number="TESTGRP01",
        group_name="TEST EMPLOYER GROUP",
        last_name="TESTPATIENT",
        first_name="ALPHA",
        date_of_birth=dt.date(1971, 4, 12),
        sex=Sex.FEMALE,
        address=home,
    )
    d0 = dt.date(2025, 3, 10)
    office = Claim(
        id="TESTPCN0001",
        kind=ClaimKind.PROFESSIONAL,
        billing_provider=clinic,
        rendering_provider=doctor,
        coverage=Coverage(payer=commercial, subscriber=alpha),
        diagnoses=(
            Diagnosis(code=_cm("M17.11"), role=DiagnosisRole.PRINCIPAL),
            Diagnosis(code=_cm("E11.9")),
            Diagnosis(code=_cm("I10")),
        ),
        lines=(
            ServiceLine(
                line_number=1,
                procedure=_cpt("99214"),
                modifiers=_mods("25"),
                charge=money("185.00"),
                diagnosis_pointers=(1, 2, 3),
                service_date=d0,
                control_number="TESTLINE0001",
            ),
            ServiceLine(
                line_number=2,
                procedure=_cpt("20610"),
                modifiers=_mods("59", "RT"),
                charge=money("142.50"),
                diagnosis_pointers=(1,),
                service_date=d0,
                control_number="TESTLINE0002",
            ),
        ),
        place_of_service=_pos("11"),
        onset_date=dt.date(2025, 2, 1),
        note="TEST CLAIM FOR DEMONSTRATION ONLY",
    )

    bravo = Subscriber(
        member_id="TESTMEMBER02",
        group_number="TESTGRP02",
        last_name="TESTPARENT",
        first_name="BRAVO",
        date_of_birth=dt.date(1985, 9, 30),
        sex=Sex.MALE,
        address=home,
    )
    d1 = dt.date(2025, 4, 2)
    dependent = Claim(
        id="TESTPCN0002",
        kind=ClaimKind.PROFESSIONAL,
        billing_provider=clinic,
        rendering_provider=doctor,
        referring_provider=referring,
        coverage=Coverage(payer=commercial, subscriber=bravo, relationship=Relationship.CHILD),
        patient=Patient(
            last_name="TESTPATIENT",
            first_name="FOXTROT",
            date_of_birth=dt.date(2018, 6, 15),
            sex=Sex.MALE,
            address=home,
        ),
        diagnoses=(
            Diagnosis(code=_cm("S01.81XA"), role=DiagnosisRole.PRINCIPAL),
            Diagnosis(code=_cm("W01.0XXA")),
            Diagnosis(code=_cm("Z23")),
        ),
        lines=(
            ServiceLine(
                line_number=1,
                procedure=_cpt("99213"),
                modifiers=_mods("25"),
                charge=money("120.00"),
                diagnosis_pointers=(1, 2),
                service_date=d1,
            ),
            ServiceLine(
                line_number=2,
                procedure=_cpt("12011"),
                charge=money("210.00"),
                diagnosis_pointers=(1, 2),
                service_date=d1,
            ),
            ServiceLine(
                line_number=3,
                procedure=_cpt("90715"),
                charge=money("65.25"),
                diagnosis_pointers=(3,),
                service_date=d1,
                drug=Drug(ndc="00000000001", quantity=Decimal("0.5"), unit=NdcUnit.MILLILITER),
            ),
            ServiceLine(
                line_number=4,
                procedure=_cpt("90471"),
                charge=money("25.00"),
                diagnosis_pointers=(3,),
                service_date=d1,
            ),
        ),
        place_of_service=_pos("11"),
        prior_authorization="TESTAUTH01",
        related_causes=(RelatedCause.OTHER_ACCIDENT,),
        accident_date=dt.date(2025, 4, 2),
    )

    golf = Subscriber(
        member_id="TESTMBI0001",
        last_name="TESTPATIENT",
        first_name="GOLF",
        middle_name="H",
        date_of_birth=dt.date(1955, 1, 20),
        sex=Sex.MALE,
        address=home,
    )
    golf_employer = Subscriber(
        member_id="TESTMEMBER03",
        group_number="TESTGRP03",
        last_name="TESTPATIENT",
        first_name="GOLF",
        middle_name="H",
        date_of_birth=dt.date(1955, 1, 20),
        sex=Sex.MALE,
        address=home,
    )
    d2 = dt.date(2025, 5, 6)
    adjudicated = dt.date(2025, 5, 27)

    def primary_paid(procedure: Code, paid: str, co45: str, pr: str, reason: str) -> LineAdjudication:
        return LineAdjudication(
            payer_id="TESTCI001",
            paid_amount=money(paid),
            procedure=procedure,
            adjustments=(
                _cas(AdjustmentGroup.CONTRACTUAL, "45", co45),
                _cas(AdjustmentGroup.PATIENT_RESPONSIBILITY, reason, pr),
            ),
            adjudication_date=adjudicated,
        )

    secondary = Claim(
        id="TESTPCN0003",
        kind=ClaimKind.PROFESSIONAL,
        billing_provider=clinic,
        rendering_provider=doctor,
        coverage=Coverage(
            payer=medicare,
            subscriber=golf,
            responsibility=Responsibility.SECONDARY,
            insurance_type=InsuranceType.WORKING_AGED,
        ),
        other_payers=(
            OtherPayer(
                coverage=Coverage(payer=commercial, subscriber=golf_employer, responsibility=Responsibility.PRIMARY),
                paid_amount=money("142.00"),
                adjudication_date=adjudicated,
                payer_claim_control_number="TESTICN000003",
                remaining_patient_liability=money("38.00"),
            ),
        ),
        diagnoses=(
            Diagnosis(code=_cm("I25.10"), role=DiagnosisRole.PRINCIPAL),
            Diagnosis(code=_cm("E78.5")),
        ),
        lines=(
            ServiceLine(
                line_number=1,
                procedure=_cpt("99214"),
                charge=money("200.00"),
                diagnosis_pointers=(1, 2),
                service_date=d2,
                adjudications=(primary_paid(_cpt("99214"), "96.00", "80.00", "24.00", "2"),),
            ),
            ServiceLine(
                line_number=2,
                procedure=_cpt("93000"),
                charge=money("60.00"),
                diagnosis_pointers=(1,),
                service_date=d2,
                adjudications=(primary_paid(_cpt("93000"), "28.00", "25.00", "7.00", "2"),),
            ),
            ServiceLine(
                line_number=3,
                procedure=_hcpcs("J3490"),
                charge=money("40.00"),
                diagnosis_pointers=(1,),
                service_date=d2,
                description="TESTDRUG 10 MG INJECTION",
                drug=Drug(ndc="00000000002", quantity=Decimal("1"), unit=NdcUnit.MILLILITER),
                adjudications=(primary_paid(_hcpcs("J3490"), "18.00", "15.00", "7.00", "3"),),
            ),
        ),
        place_of_service=_pos("11"),
    )

    hospital_address = Address(line1="500 TEST HOSPITAL DRIVE", city="ANYTOWN", state="MD", zip="212440005")
    hospital = Provider(
        role=ProviderRole.BILLING,
        organization_name="TESTHOSPITAL GENERAL",
        npi=_npi("199990010"),
        taxonomy="282N00000X",
        tax_id="990000010",
        tax_id_type=TaxIdType.EIN,
        address=hospital_address,
    )
    attending = Provider(
        role=ProviderRole.ATTENDING,
        entity_type=EntityType.PERSON,
        last_name="TESTATTENDING",
        first_name="INDIA",
        npi=_npi("199990011"),
        taxonomy="207RC0000X",
    )
    d3 = dt.date(2025, 6, 14)
    outpatient = Claim(
        id="TESTPCN0004",
        kind=ClaimKind.INSTITUTIONAL,
        billing_provider=hospital,
        coverage=Coverage(payer=commercial, subscriber=alpha),
        diagnoses=(
            Diagnosis(code=_cm("R07.89"), role=DiagnosisRole.PRINCIPAL),
            Diagnosis(code=_cm("I10")),
            Diagnosis(code=_cm("R07.89"), role=DiagnosisRole.REASON_FOR_VISIT),
        ),
        lines=(
            ServiceLine(
                line_number=1,
                revenue_code=_rev("0450"),
                procedure=_cpt("99284"),
                modifiers=_mods("25"),
                charge=money("1250.00"),
                service_date=d3,
            ),
            ServiceLine(
                line_number=2,
                revenue_code=_rev("0300"),
                procedure=_cpt("85025"),
                charge=money("88.40"),
                service_date=d3,
            ),
            ServiceLine(
                line_number=3,
                revenue_code=_rev("0320"),
                procedure=_cpt("71046"),
                charge=money("310.00"),
                service_date=d3,
            ),
            ServiceLine(
                line_number=4,
                revenue_code=_rev("0730"),
                procedure=_cpt("93005"),
                charge=money("175.35"),
                service_date=d3,
            ),
        ),
        medical_record_number="TESTMRN0004",
        institutional=InstitutionalInfo(
            facility_type_code="13",
            admission_type="1",
            admission_source="7",
            patient_status="01",
            statement_from=d3,
            statement_to=d3,
            occurrence_codes=(Occurrence(code="11", date=d3),),
            attending_provider=attending,
        ),
    )

    operating = Provider(
        role=ProviderRole.OPERATING,
        entity_type=EntityType.PERSON,
        last_name="TESTSURGEON",
        first_name="JULIET",
        npi=_npi("199990012"),
        taxonomy="207RI0011X",
    )
    admit, discharge = dt.date(2025, 7, 1), dt.date(2025, 7, 4)
    inpatient = Claim(
        id="TESTPCN0005",
        kind=ClaimKind.INSTITUTIONAL,
        billing_provider=hospital,
        coverage=Coverage(
            payer=Payer(
                name="TEST MEDICARE PART A",
                payer_id="TESTMA001",
                filing_indicator=ClaimFilingIndicator.MEDICARE_PART_A,
            ),
            subscriber=golf,
        ),
        diagnoses=(
            Diagnosis(code=_cm("I21.4"), role=DiagnosisRole.PRINCIPAL, poa=PresentOnAdmission.YES),
            Diagnosis(code=_cm("I25.10"), poa=PresentOnAdmission.YES),
            Diagnosis(code=_cm("E11.9"), poa=PresentOnAdmission.YES),
            Diagnosis(code=_cm("N39.0"), poa=PresentOnAdmission.NO),
            Diagnosis(code=_cm("Z79.4"), poa=PresentOnAdmission.EXEMPT),
            Diagnosis(code=_cm("R07.9"), role=DiagnosisRole.ADMITTING),
        ),
        lines=(
            ServiceLine(line_number=1, revenue_code=_rev("0120"), units=Decimal("3"), charge=money("5400.00")),
            ServiceLine(line_number=2, revenue_code=_rev("0250"), units=Decimal("12"), charge=money("912.15")),
            ServiceLine(line_number=3, revenue_code=_rev("0300"), units=Decimal("6"), charge=money("640.00")),
            ServiceLine(line_number=4, revenue_code=_rev("0481"), charge=money("18250.00")),
        ),
        medical_record_number="TESTMRN0005",
        institutional=InstitutionalInfo(
            facility_type_code="11",
            admission_date=admit,
            admission_time=dt.time(22, 15),
            admission_type="1",
            admission_source="7",
            discharge_time=dt.time(11, 0),
            patient_status="01",
            statement_from=admit,
            statement_to=discharge,
            occurrence_codes=(Occurrence(code="11", date=admit),),
            value_codes=(ValueCode(code="80", amount=money("3")),),
            principal_procedure=PcsProcedure(
                code=Code.parse("027034Z", system=CodeSystem.ICD10PCS), date=dt.date(2025, 7, 2)
            ),
            other_procedures=(
                PcsProcedure(code=Code.parse("02C03ZZ", system=CodeSystem.ICD10PCS), date=dt.date(2025, 7, 2)),
            ),
            attending_provider=attending,
            operating_provider=operating,
        ),
    )

    replacement = dataclasses.replace(
        office,
        id="TESTPCN0006",
        frequency=ClaimFrequency.REPLACEMENT,
        original_claim_number="TESTICN000001",
        note="CORRECTED MODIFIER",
    )
    return (office, dependent, secondary, outpatient, inpatient, replacement)

"""Create / Update / Read schemas of the practice's records (pydantic), shared by the API, web and CLI.

Create schemas reject unknown fields; Update schemas have every field optional (a PATCH changes only
what it names); Read schemas are what leaves a service. Money is ``Decimal`` (a JSON string in the
API, never a float); codes are validated and normalised here (``E11.9`` → ``E119``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from medbill.core.claim import is_valid_npi
from medbill.core.codes import CodeSystem, normalize
from medbill.core.errors import MedbillError

T = TypeVar("T")


def _money(value: Decimal) -> Decimal:
    if not value.is_finite() or abs(value) >= Decimal("100000000"):
        raise ValueError("money amount out of range (below 100,000,000.00)")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("money has at most two decimal places")
    return value.quantize(Decimal("0.01"))


Money = Annotated[
    Decimal, AfterValidator(_money), PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")
]
Units = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("99999")),
    AfterValidator(_money),
    PlainSerializer(lambda v: format(v.normalize(), "f"), return_type=str, when_used="json"),
]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


UtcDateTime = Annotated[dt.datetime, AfterValidator(_utc)]
"""Timestamps are stored as naive UTC and leave as RFC 3339 with the offset."""
RecordId = Annotated[int, Field(ge=1, le=2**31 - 1)]
"""A record's surrogate id as input (bounded: no database integer overflows on a stray number)."""
State = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Zip = Annotated[str, Field(pattern=r"^\d{5}(\d{4})?$")]
Phone = Annotated[str, Field(pattern=r"^\d{10}$")]
Sex = Literal["F", "M", "U"]
Name = Annotated[str, Field(min_length=1, max_length=60)]


def _npi(value: str) -> str:
    if not is_valid_npi(value):
        raise ValueError("not a valid NPI (10 digits with the Luhn check digit)")
    return value


NPI = Annotated[str, AfterValidator(_npi)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


# --------------------------------------------------------------------------------------------- patients
class PatientCreate(_In):
    last_name: Name
    first_name: Name
    middle_name: Name | None = None
    birth_date: dt.date
    sex: Sex = "U"
    mrn: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    account_number: Annotated[str, Field(min_length=1, max_length=38)] | None = None
    ssn: Annotated[str, Field(pattern=r"^\d{3}-?\d{2}-?\d{4}$")] | None = None
    address1: Annotated[str, Field(max_length=55)] | None = None
    address2: Annotated[str, Field(max_length=55)] | None = None
    city: Annotated[str, Field(max_length=30)] | None = None
    state: State | None = None
    zip: Zip | None = None
    phone: Phone | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=120)] | None = None

    @field_validator("birth_date")
    @classmethod
    def _not_future(cls, v: dt.date) -> dt.date:
        if v > dt.date.today() or v.year < 1880:
            raise ValueError("birth date must be in the past (after 1880)")
        return v


class PatientUpdate(_In):
    last_name: Name | None = None
    first_name: Name | None = None
    middle_name: Name | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    mrn: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    account_number: Annotated[str, Field(min_length=1, max_length=38)] | None = None
    address1: Annotated[str, Field(max_length=55)] | None = None
    address2: Annotated[str, Field(max_length=55)] | None = None
    city: Annotated[str, Field(max_length=30)] | None = None
    state: State | None = None
    zip: Zip | None = None
    phone: Phone | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=120)] | None = None
    active: bool | None = None


class PatientRead(_Out):
    id: int
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: dt.date
    sex: str
    mrn: str | None
    account_number: str | None
    address1: str | None
    address2: str | None
    city: str | None
    state: str | None
    zip: str | None
    phone: str | None
    email: str | None
    active: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime


class PatientSearch(_In):
    """A PHI search (POST body, never a URL): any combination, all must match."""

    last_name: Name | None = None
    birth_date: dt.date | None = None
    mrn: str | None = None
    member_id: str | None = None
    account_number: str | None = None
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    limit: Annotated[int, Field(ge=1, le=200)] = 50


# --------------------------------------------------------------------------------------------- coverage
Relationship = Literal["18", "01", "19", "20", "21", "39", "40", "53", "G8"]


class CoverageCreate(_In):
    patient_id: RecordId
    payer_id: RecordId
    rank: Annotated[int, Field(ge=1, le=3)] = 1
    member_id: Annotated[str, Field(min_length=1, max_length=80)]
    group_number: Annotated[str, Field(max_length=50)] | None = None
    relationship_code: Relationship = "18"
    subscriber_last_name: Name | None = None
    subscriber_first_name: Name | None = None
    subscriber_birth_date: dt.date | None = None
    subscriber_sex: Sex | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    insurance_type: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")] | None = None


class CoverageUpdate(_In):
    payer_id: RecordId | None = None
    rank: Annotated[int, Field(ge=1, le=3)] | None = None
    member_id: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    group_number: Annotated[str, Field(max_length=50)] | None = None
    relationship_code: Relationship | None = None
    subscriber_last_name: Name | None = None
    subscriber_first_name: Name | None = None
    subscriber_birth_date: dt.date | None = None
    subscriber_sex: Sex | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    insurance_type: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")] | None = None
    active: bool | None = None


class CoverageRead(_Out):
    id: int
    patient_id: int
    payer_id: int
    rank: int
    member_id: str
    group_number: str | None
    relationship_code: str
    subscriber_last_name: str | None
    subscriber_first_name: str | None
    subscriber_birth_date: dt.date | None
    subscriber_sex: str | None
    effective_from: dt.date | None
    effective_to: dt.date | None
    insurance_type: str | None
    active: bool


# --------------------------------------------------------------------------------------------- providers, payers
class ProviderCreate(_In):
    npi: NPI
    entity: Literal["1", "2"] = "1"
    last_name: Annotated[str, Field(min_length=1, max_length=60)]
    first_name: Name | None = None
    taxonomy: Annotated[str, Field(pattern=r"^[0-9A-Z]{9}X$")] | None = None
    tax_id: Annotated[str, Field(pattern=r"^\d{9}$")] | None = None
    address1: Annotated[str, Field(max_length=55)] | None = None
    city: Annotated[str, Field(max_length=30)] | None = None
    state: State | None = None
    zip: Zip | None = None


class ProviderUpdate(_In):
    last_name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    first_name: Name | None = None
    taxonomy: Annotated[str, Field(pattern=r"^[0-9A-Z]{9}X$")] | None = None
    tax_id: Annotated[str, Field(pattern=r"^\d{9}$")] | None = None
    address1: Annotated[str, Field(max_length=55)] | None = None
    city: Annotated[str, Field(max_length=30)] | None = None
    state: State | None = None
    zip: Zip | None = None
    active: bool | None = None


class ProviderRead(_Out):
    id: int
    npi: str
    entity: str
    last_name: str
    first_name: str | None
    taxonomy: str | None
    tax_id: str | None
    address1: str | None
    city: str | None
    state: str | None
    zip: str | None
    active: bool


FilingIndicator = Literal[
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "AM",
    "BL",
    "CH",
    "CI",
    "DS",
    "FI",
    "HM",
    "LM",
    "MA",
    "MB",
    "MC",
    "OF",
    "TV",
    "VA",
    "WC",
    "ZZ",
]


class PayerCreate(_In):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    payer_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{2,80}$")]
    filing_indicator: FilingIndicator = "CI"
    timely_filing_days: Annotated[int, Field(ge=1, le=3650)] = 365
    address1: Annotated[str, Field(max_length=55)] | None = None
    city: Annotated[str, Field(max_length=30)] | None = None
    state: State | None = None
    zip: Zip | None = None


class PayerUpdate(_In):
    name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    filing_indicator: FilingIndicator | None = None
    timely_filing_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    address1: Annotated[str, Field(max_length=55)] | None = None
    city: Annotated[str, Field(max_length=30)] | None = None
    state: State | None = None
    zip: Zip | None = None
    active: bool | None = None


class PayerRead(_Out):
    id: int
    name: str
    payer_id: str
    filing_indicator: str
    timely_filing_days: int
    address1: str | None
    city: str | None
    state: str | None
    zip: str | None
    active: bool


# --------------------------------------------------------------------------------------------- encounters
def _normalised(value: str, system: CodeSystem) -> str:
    try:
        return normalize(value, system)
    except MedbillError as exc:  # InvalidCode: report it as a field error
        raise ValueError(exc.message) from None


def _code_of(system: CodeSystem) -> Any:
    def check(value: str) -> str:
        return _normalised(value, system)

    return AfterValidator(check)


class DiagnosisIn(_In):
    code: Annotated[str, Field(min_length=3, max_length=8), _code_of(CodeSystem.ICD10CM)]
    poa: Literal["Y", "N", "U", "W", "1"] | None = None


class DiagnosisRead(_Out):
    seq: int
    code: str
    poa: str | None


class ProcedureIn(_In):
    system: Literal["CPT", "HCPCS", "ICD10PCS"] = "CPT"
    code: Annotated[str, Field(min_length=5, max_length=7)]
    modifiers: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]], Field(max_length=4)] = []
    units: Units = Decimal("1")
    charge: Annotated[Money, Field(ge=0)] | None = None
    diagnosis_pointers: Annotated[list[Annotated[int, Field(ge=1, le=12)]], Field(max_length=4)] = []
    revenue_code: Annotated[str, Field(pattern=r"^\d{4}$")] | None = None
    ndc: Annotated[str, Field(pattern=r"^\d{11}$")] | None = None
    procedure_date: dt.date | None = None

    @model_validator(mode="after")
    def _code_for_system(self) -> ProcedureIn:
        self.code = _normalised(self.code, CodeSystem(self.system))
        return self


class ProcedureRead(_Out):
    seq: int
    system: str
    code: str
    modifiers: list[str]
    units: Units
    charge: Money | None
    diagnosis_pointers: list[int]
    revenue_code: str | None
    ndc: str | None
    procedure_date: dt.date | None


EncounterStatus = Literal["to_code", "coded", "billed", "void"]


class EncounterCreate(_In):
    patient_id: RecordId
    rendering_provider_id: RecordId | None = None
    billing_provider_id: RecordId | None = None
    kind: Literal["professional", "institutional"] = "professional"
    setting: Literal["outpatient", "inpatient"] = "outpatient"
    service_date: dt.date
    discharge_date: dt.date | None = None
    place_of_service: Annotated[str, Field(pattern=r"^\d{2}$")] = "11"
    type_of_bill: Annotated[str, Field(pattern=r"^0?\d{3}$")] | None = None
    note: Annotated[str, Field(max_length=200_000)] | None = None
    diagnoses: Annotated[list[DiagnosisIn], Field(max_length=25)] = []
    procedures: Annotated[list[ProcedureIn], Field(max_length=50)] = []


class EncounterUpdate(_In):
    rendering_provider_id: RecordId | None = None
    billing_provider_id: RecordId | None = None
    setting: Literal["outpatient", "inpatient"] | None = None
    service_date: dt.date | None = None
    discharge_date: dt.date | None = None
    place_of_service: Annotated[str, Field(pattern=r"^\d{2}$")] | None = None
    type_of_bill: Annotated[str, Field(pattern=r"^0?\d{3}$")] | None = None
    note: Annotated[str, Field(max_length=200_000)] | None = None
    status: EncounterStatus | None = None
    diagnoses: Annotated[list[DiagnosisIn], Field(max_length=25)] | None = None
    procedures: Annotated[list[ProcedureIn], Field(max_length=50)] | None = None


class EncounterRead(_Out):
    id: int
    patient_id: int
    rendering_provider_id: int | None
    billing_provider_id: int | None
    kind: str
    setting: str
    service_date: dt.date
    discharge_date: dt.date | None
    place_of_service: str
    type_of_bill: str | None
    note: str | None
    status: str
    diagnoses: list[DiagnosisRead]
    procedures: list[ProcedureRead]
    created_at: UtcDateTime
    updated_at: UtcDateTime


# ----------------------------------------------------------------------------- fee schedules, rules, partners
class FeeItemIn(_In):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{5}$")]
    modifier: Annotated[str, Field(pattern=r"^([A-Z0-9]{2})?$")] = ""
    amount: Annotated[Money, Field(ge=0)]


class FeeItemRead(_Out):
    code: str
    modifier: str
    amount: Annotated[Money, Field(ge=0)]


class FeeScheduleCreate(_In):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    payer_id: RecordId | None = None
    effective_from: dt.date
    effective_to: dt.date | None = None
    items: Annotated[list[FeeItemIn], Field(max_length=20_000)] = []


class FeeScheduleUpdate(_In):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    effective_to: dt.date | None = None
    items: Annotated[list[FeeItemIn], Field(max_length=20_000)] | None = None


class FeeScheduleRead(_Out):
    id: int
    name: str
    payer_id: int | None
    effective_from: dt.date
    effective_to: dt.date | None
    items: list[FeeItemRead]


class PayerRuleCreate(_In):
    payer_id: RecordId | None = None
    name: Annotated[str, Field(min_length=1, max_length=120)]
    definition: dict[str, Any]
    active: bool = True


class PayerRuleUpdate(_In):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    definition: dict[str, Any] | None = None
    active: bool | None = None


class PayerRuleRead(_Out):
    id: int
    payer_id: int | None
    name: str
    definition: dict[str, Any]
    active: bool


X12Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9 ]{1,15}$")]


class TradingPartnerCreate(_In):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    sender_qualifier: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")] = "ZZ"
    sender_id: X12Id
    receiver_qualifier: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")] = "ZZ"
    receiver_id: X12Id
    gs_sender: X12Id
    gs_receiver: X12Id
    usage: Literal["T", "P"] = "T"
    submission_folder: Annotated[str, Field(max_length=255)] | None = None
    submitter_name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    submitter_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9 \-]{2,80}$")] | None = None
    contact_name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    contact_phone: Phone | None = None
    contact_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=80)] | None = None
    receiver_name: Annotated[str, Field(min_length=1, max_length=60)] | None = None

    @field_validator("submission_folder")
    @classmethod
    def _safe_folder(cls, v: str | None) -> str | None:
        if v is not None and (v.startswith("/") or ".." in re.split(r"[\\/]", v)):
            raise ValueError("submission folder must be a relative path without '..'")
        return v


class TradingPartnerUpdate(_In):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    receiver_id: X12Id | None = None
    gs_receiver: X12Id | None = None
    usage: Literal["T", "P"] | None = None
    submission_folder: Annotated[str, Field(max_length=255)] | None = None
    submitter_name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    submitter_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9 \-]{2,80}$")] | None = None
    contact_name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    contact_phone: Phone | None = None
    contact_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=80)] | None = None
    receiver_name: Annotated[str, Field(min_length=1, max_length=60)] | None = None


class TradingPartnerRead(_Out):
    id: int
    name: str
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    gs_sender: str
    gs_receiver: str
    usage: str
    submission_folder: str | None
    submitter_name: str | None
    submitter_id: str | None
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    receiver_name: str | None

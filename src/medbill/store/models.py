"""The practice's records (SQLAlchemy 2.0, ``Mapped[]``).

Every practice-owned row carries ``practice_id``; repositories and services always filter on it, so a
user of one practice never reaches another's rows. PHI columns use :class:`EncryptedText` /
:class:`EncryptedDate` / :class:`EncryptedJSON` (AES-GCM by the application, on every backend; the
SQLite file is encrypted as a whole by SQLCipher besides). Where equality search or 835 matching needs
a PHI value, a ``*_bidx`` column holds its keyed HMAC (computed on flush from the plaintext by
:data:`BLIND_INDEXES`). Sorting and ranges use non-PHI columns (ids, created_at, status) only.
Money is :class:`Cents` (integer cents, ``Decimal`` in Python).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

from medbill.store.types import Cents, EncryptedDate, EncryptedJSON, EncryptedText, JSONText, cipher_of

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------------------------- tenancy
class Practice(Timestamped, Base):
    __tablename__ = "practice"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    npi: Mapped[str | None] = mapped_column(String(10))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")


class User(Timestamped, Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practice.id"), index=True)  # None: system admin
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("app_user.totp_secret"))
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_totp_step: Mapped[int | None] = mapped_column(BigInteger)  # a TOTP code is accepted once
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class UserSession(Base):
    __tablename__ = "user_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the bearer token
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practice.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)  # absolute timeout
    mfa_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    break_glass_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    source: Mapped[str | None] = mapped_column(String(64))


# --------------------------------------------------------------------------------------------- parties
class Provider(Timestamped, Base):
    __tablename__ = "provider"
    __table_args__ = (UniqueConstraint("practice_id", "npi"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    npi: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(1), default="1")  # 1 person, 2 organisation (NM102)
    last_name: Mapped[str] = mapped_column(String(120))  # or the organisation's name
    first_name: Mapped[str | None] = mapped_column(String(80))
    taxonomy: Mapped[str | None] = mapped_column(String(10))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    address1: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(60))
    state: Mapped[str | None] = mapped_column(String(2))
    zip: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Payer(Timestamped, Base):
    __tablename__ = "payer"
    __table_args__ = (UniqueConstraint("practice_id", "payer_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    payer_id: Mapped[str] = mapped_column(String(80))  # NM109 of 2010BB, TRN03 / N1*PR REF*2U in the 835
    filing_indicator: Mapped[str] = mapped_column(String(2), default="CI")  # SBR09
    timely_filing_days: Mapped[int] = mapped_column(Integer, default=365)
    address1: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(60))
    state: Mapped[str | None] = mapped_column(String(2))
    zip: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Patient(Timestamped, Base):
    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    mrn: Mapped[str | None] = mapped_column(EncryptedText("patient.mrn"))
    mrn_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    account_number: Mapped[str | None] = mapped_column(EncryptedText("patient.account_number"))
    account_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    last_name: Mapped[str] = mapped_column(EncryptedText("patient.last_name"))
    first_name: Mapped[str] = mapped_column(EncryptedText("patient.first_name"))
    middle_name: Mapped[str | None] = mapped_column(EncryptedText("patient.middle_name"))
    name_bidx: Mapped[str | None] = mapped_column(String(32), index=True)  # last name
    birth_date: Mapped[dt.date] = mapped_column(EncryptedDate("patient.birth_date"))
    birth_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    sex: Mapped[str] = mapped_column(String(1), default="U")  # F, M, U
    ssn: Mapped[str | None] = mapped_column(EncryptedText("patient.ssn"))
    address1: Mapped[str | None] = mapped_column(EncryptedText("patient.address1"))
    address2: Mapped[str | None] = mapped_column(EncryptedText("patient.address2"))
    city: Mapped[str | None] = mapped_column(EncryptedText("patient.city"))
    state: Mapped[str | None] = mapped_column(String(2))
    zip: Mapped[str | None] = mapped_column(EncryptedText("patient.zip"))
    phone: Mapped[str | None] = mapped_column(EncryptedText("patient.phone"))
    email: Mapped[str | None] = mapped_column(EncryptedText("patient.email"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    coverages: Mapped[list[Coverage]] = relationship(back_populates="patient", order_by="Coverage.rank")


class Coverage(Timestamped, Base):
    __tablename__ = "coverage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payer.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer, default=1)  # 1 primary, 2 secondary, 3 tertiary
    member_id: Mapped[str] = mapped_column(EncryptedText("coverage.member_id"))
    member_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    group_number: Mapped[str | None] = mapped_column(EncryptedText("coverage.group_number"))
    relationship_code: Mapped[str] = mapped_column(String(2), default="18")  # SBR02 / PAT01: 18 self
    subscriber_last_name: Mapped[str | None] = mapped_column(EncryptedText("coverage.subscriber_last_name"))
    subscriber_first_name: Mapped[str | None] = mapped_column(EncryptedText("coverage.subscriber_first_name"))
    subscriber_birth_date: Mapped[dt.date | None] = mapped_column(EncryptedDate("coverage.subscriber_birth_date"))
    subscriber_sex: Mapped[str | None] = mapped_column(String(1))
    effective_from: Mapped[dt.date | None] = mapped_column(EncryptedDate("coverage.effective_from"))
    effective_to: Mapped[dt.date | None] = mapped_column(EncryptedDate("coverage.effective_to"))
    insurance_type: Mapped[str | None] = mapped_column(String(3))  # SBR05 (Medicare secondary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    patient: Mapped[Patient] = relationship(back_populates="coverages")
    payer: Mapped[Payer] = relationship()


# --------------------------------------------------------------------------------------------- encounters
class Encounter(Timestamped, Base):
    __tablename__ = "encounter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    rendering_provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"))
    billing_provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"))
    kind: Mapped[str] = mapped_column(String(14), default="professional")  # professional | institutional
    setting: Mapped[str] = mapped_column(String(12), default="outpatient")  # outpatient | inpatient
    service_date: Mapped[dt.date] = mapped_column(EncryptedDate("encounter.service_date"))
    discharge_date: Mapped[dt.date | None] = mapped_column(EncryptedDate("encounter.discharge_date"))
    place_of_service: Mapped[str] = mapped_column(String(2), default="11")
    type_of_bill: Mapped[str | None] = mapped_column(String(4))
    note: Mapped[str | None] = mapped_column(EncryptedText("encounter.note"))
    status: Mapped[str] = mapped_column(String(16), default="to_code", index=True)  # to_code, coded, billed, void
    external_id: Mapped[str | None] = mapped_column(String(64))  # import source id (no PHI)

    diagnoses: Mapped[list[EncounterDiagnosis]] = relationship(
        back_populates="encounter", order_by="EncounterDiagnosis.seq", cascade="all, delete-orphan"
    )
    procedures: Mapped[list[EncounterProcedure]] = relationship(
        back_populates="encounter", order_by="EncounterProcedure.seq", cascade="all, delete-orphan"
    )


class EncounterDiagnosis(Base):
    __tablename__ = "encounter_diagnosis"
    __table_args__ = (UniqueConstraint("encounter_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1 = principal / first listed
    system: Mapped[str] = mapped_column(String(10), default="ICD10CM")
    code: Mapped[str] = mapped_column(String(8))
    poa: Mapped[str | None] = mapped_column(String(1))

    encounter: Mapped[Encounter] = relationship(back_populates="diagnoses")


class EncounterProcedure(Base):
    __tablename__ = "encounter_procedure"
    __table_args__ = (UniqueConstraint("encounter_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    system: Mapped[str] = mapped_column(String(10), default="CPT")  # CPT, HCPCS, ICD10PCS
    code: Mapped[str] = mapped_column(String(8))
    modifiers: Mapped[list[str]] = mapped_column(JSONText, default=list)
    units: Mapped[Decimal] = mapped_column(Cents, default=Decimal("1"))
    charge: Mapped[Decimal | None] = mapped_column(Cents)
    diagnosis_pointers: Mapped[list[int]] = mapped_column(JSONText, default=list)
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    ndc: Mapped[str | None] = mapped_column(String(11))
    procedure_date: Mapped[dt.date | None] = mapped_column(EncryptedDate("encounter_procedure.procedure_date"))

    encounter: Mapped[Encounter] = relationship(back_populates="procedures")


class CodingDecision(Base):
    """A coder's accept/reject of a suggestion, with its evidence (for learning; the evidence is PHI)."""

    __tablename__ = "coding_decision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    system: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(8))
    accepted: Mapped[bool] = mapped_column(Boolean)
    mention: Mapped[str | None] = mapped_column(EncryptedText("coding_decision.mention"))
    mention_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------------------------- money and rules
class FeeSchedule(Timestamped, Base):
    __tablename__ = "fee_schedule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payer.id"))  # None: the practice's own charges
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)

    items: Mapped[list[FeeScheduleItem]] = relationship(back_populates="schedule", cascade="all, delete-orphan")


class FeeScheduleItem(Base):
    __tablename__ = "fee_schedule_item"
    __table_args__ = (UniqueConstraint("schedule_id", "code", "modifier"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("fee_schedule.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    modifier: Mapped[str] = mapped_column(String(2), default="")
    amount: Mapped[Decimal] = mapped_column(Cents)

    schedule: Mapped[FeeSchedule] = relationship(back_populates="items")


class PayerRule(Timestamped, Base):
    __tablename__ = "payer_rule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payer.id"))
    name: Mapped[str] = mapped_column(String(120))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONText)  # the scrub/payer.py rule document
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TradingPartner(Timestamped, Base):
    __tablename__ = "trading_partner"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    sender_qualifier: Mapped[str] = mapped_column(String(2), default="ZZ")
    sender_id: Mapped[str] = mapped_column(String(15))
    receiver_qualifier: Mapped[str] = mapped_column(String(2), default="ZZ")
    receiver_id: Mapped[str] = mapped_column(String(15))
    gs_sender: Mapped[str] = mapped_column(String(15))
    gs_receiver: Mapped[str] = mapped_column(String(15))
    usage: Mapped[str] = mapped_column(String(1), default="T")  # ISA15: T test, P production
    submission_folder: Mapped[str | None] = mapped_column(String(255))
    # 837 1000A/1000B (services.claims): the billing office, not a patient - no PHI
    submitter_name: Mapped[str | None] = mapped_column(String(60))  # 1000A NM103 (default: practice name)
    submitter_id: Mapped[str | None] = mapped_column(String(80))  # 1000A NM109 ETIN (default: sender_id)
    contact_name: Mapped[str | None] = mapped_column(String(60))  # 1000A PER02
    contact_phone: Mapped[str | None] = mapped_column(String(20))  # 1000A PER TE
    contact_email: Mapped[str | None] = mapped_column(String(80))  # 1000A PER EM
    receiver_name: Mapped[str | None] = mapped_column(String(60))  # 1000B NM103 (default: name)


class SubmissionBatch(Base):
    __tablename__ = "submission_batch"
    __table_args__ = (UniqueConstraint("practice_id", "interchange_control"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("trading_partner.id"))
    kind: Mapped[str] = mapped_column(String(5))  # 837P, 837I
    interchange_control: Mapped[str] = mapped_column(String(9))  # ISA13
    group_control: Mapped[str] = mapped_column(String(9))  # GS06
    claim_count: Mapped[int] = mapped_column(Integer)
    total_charge: Mapped[Decimal] = mapped_column(Cents)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(EncryptedText("submission_batch.content"))
    status: Mapped[str] = mapped_column(String(12), default="created")  # created, sent, accepted, rejected
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


# --------------------------------------------------------------------------------------------- claims
class ClaimRecord(Timestamped, Base):
    __tablename__ = "claim"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payer.id"), index=True)
    coverage_id: Mapped[int | None] = mapped_column(ForeignKey("coverage.id"))
    kind: Mapped[str] = mapped_column(String(14), default="professional")
    payer_rank: Mapped[int] = mapped_column(Integer, default=1)
    frequency: Mapped[str] = mapped_column(String(1), default="1")  # CLM05-3
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    patient_control_number: Mapped[str] = mapped_column(EncryptedText("claim.patient_control_number"))
    pcn_bidx: Mapped[str | None] = mapped_column(String(32), index=True)  # CLP01 matching
    payer_claim_number: Mapped[str | None] = mapped_column(EncryptedText("claim.payer_claim_number"))
    payer_claim_bidx: Mapped[str | None] = mapped_column(String(32), index=True)  # CLP07 matching
    total_charge: Mapped[Decimal] = mapped_column(Cents)
    document: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("claim.document"))  # core.claim JSON form
    scrub_errors: Mapped[int] = mapped_column(Integer, default=0)
    scrub_warnings: Mapped[int] = mapped_column(Integer, default=0)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("submission_batch.id"), index=True)
    transaction_control: Mapped[str | None] = mapped_column(String(9))  # ST02 it was sent in
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    original_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"))  # 7/8 or resend
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic locking
    history: Mapped[list[ClaimStatusChange]] = relationship(
        back_populates="claim", order_by="ClaimStatusChange.id", cascade="all, delete-orphan"
    )


class ClaimStatusChange(Base):
    __tablename__ = "claim_status_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    cause_kind: Mapped[str] = mapped_column(String(16))  # user, scrub, submission, 999, 277CA, 835
    cause_ref: Mapped[str | None] = mapped_column(String(80))  # control numbers, never PHI
    detail: Mapped[str | None] = mapped_column(Text)  # status/category codes, no PHI
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    claim: Mapped[ClaimRecord] = relationship(back_populates="history")


# --------------------------------------------------------------------------------------------- money in
class Remittance(Base):
    __tablename__ = "remittance"
    __table_args__ = (UniqueConstraint("practice_id", "sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the file as received
    payer_trace_id: Mapped[str] = mapped_column(String(80))  # TRN03
    trace: Mapped[str] = mapped_column(String(80))  # TRN02 (check / EFT trace number)
    payment_amount: Mapped[Decimal] = mapped_column(Cents)  # BPR02
    payment_method: Mapped[str | None] = mapped_column(String(3))  # BPR04
    payment_date: Mapped[dt.date | None] = mapped_column(Date)  # BPR16 (not a date of the patient)
    interchange_control: Mapped[str | None] = mapped_column(String(9))
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[str] = mapped_column(EncryptedText("remittance.content"))
    status: Mapped[str] = mapped_column(String(12), default="received")  # received, posted
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    received_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Acknowledgment(Base):
    __tablename__ = "acknowledgment"
    __table_args__ = (UniqueConstraint("practice_id", "sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    kind: Mapped[str] = mapped_column(String(5))  # 999, 277CA
    sha256: Mapped[str] = mapped_column(String(64))
    interchange_control: Mapped[str | None] = mapped_column(String(9))
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[str] = mapped_column(EncryptedText("acknowledgment.content"))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PostingRecord(Base):
    """One posted batch (the exactly-once key): a unique keyed hash of the ledger's posting key."""

    __tablename__ = "posting"
    __table_args__ = (UniqueConstraint("practice_id", "key_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))  # HMAC of PostingKey.text (which holds CLP01)
    key_digest: Mapped[str] = mapped_column(String(16))  # PostingKey.digest, for logs
    source: Mapped[str] = mapped_column(String(10))
    trace_hash: Mapped[str | None] = mapped_column(String(32))  # HMAC of (TRN03, TRN02)
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)  # HMAC of the content fingerprint
    reverses: Mapped[str | None] = mapped_column(String(64), index=True)  # HMAC of the reversed fingerprint
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittance.id"))
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # store.ledger_sql: TRN03/TRN02 are payment identifiers (not PHI), kept plain for the duplicate rule;
    # key_doc = {"source", "parts", "fingerprint"}: the posting key (CLP01 inside) and raw fingerprint, encrypted
    payer_trace_id: Mapped[str | None] = mapped_column(String(80))
    trace_number: Mapped[str | None] = mapped_column(String(80))
    key_doc: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("posting.key_doc"))
    duplicate_approved: Mapped[bool] = mapped_column(Boolean, default=False)


class LedgerEntryRecord(Base):
    __tablename__ = "ledger_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("posting.id"), index=True)
    entry_id: Mapped[str] = mapped_column(String(40))  # ledger.Entry.id (digest based, no PHI)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    line_number: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    of_kind: Mapped[str | None] = mapped_column(String(32))
    party: Mapped[str] = mapped_column(String(90))  # "patient" or "payer:<payer id>"
    amount: Mapped[Decimal] = mapped_column(Cents)
    effective: Mapped[dt.date] = mapped_column(Date)  # posting effective date (payment date, not a patient date)
    group_code: Mapped[str | None] = mapped_column(String(2))
    carc: Mapped[str | None] = mapped_column(String(5))
    rarcs: Mapped[list[str]] = mapped_column(JSONText, default=list)
    quantity: Mapped[Decimal | None] = mapped_column(Cents)
    plb_reason: Mapped[str | None] = mapped_column(String(4))
    reference: Mapped[str | None] = mapped_column(EncryptedText("ledger_entry.reference"))
    source: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("ledger_entry.source"))  # ledger.Source
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    related_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"))  # PLB take-back: the claim named
    memo: Mapped[str | None] = mapped_column(EncryptedText("ledger_entry.memo"))


class WorkItem(Base):
    """Something a person must look at: an unmatched remittance item, a suspected duplicate, a rejection."""

    __tablename__ = "work_item"
    __table_args__ = (UniqueConstraint("practice_id", "dedupe_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    queue: Mapped[str] = mapped_column(String(24), index=True)  # unmatched_claim, unmatched_line, duplicate ...
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittance.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"))
    summary: Mapped[str] = mapped_column(String(200))  # no PHI: codes, amounts, positions
    detail: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("work_item.detail"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # one item per remittance item however often the 835 is posted: sha256 of queue + TRN03/TRN02 + position
    dedupe_key: Mapped[str | None] = mapped_column(String(64))


class Document(Base):
    __tablename__ = "document"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    kind: Mapped[str] = mapped_column(String(30))  # note, 835, 837, statement, import, other
    filename: Mapped[str | None] = mapped_column(EncryptedText("document.filename"))
    media_type: Mapped[str] = mapped_column(String(80), default="application/octet-stream")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(EncryptedText("document.content"))  # base64 of the bytes
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class ControlNumber(Base):
    """X12 control number sequences (ISA13, GS06, ST02) per practice and sender."""

    __tablename__ = "control_number"
    __table_args__ = (UniqueConstraint("practice_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"))
    name: Mapped[str] = mapped_column(String(60))
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class BinaryBlob(Base):
    """Reserved for large attachments kept out of row-level JSON (encrypted by the service before storing)."""

    __tablename__ = "binary_blob"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEvent(Base):
    """One audit record (one per request): who, when, what (record ids), from where, outcome.

    Append-only and hash-chained per practice (``chain``; 0 is the install-wide chain for events without
    a practice): ``hash = HMAC(audit_key, prev_hash ‖ canonical(record))``; see ``medbill.store.audit``.
    Holds surrogate ids and control numbers only, never PHI.
    """

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[int] = mapped_column(Integer)  # practice id, 0 for install-wide events
    seq: Mapped[int] = mapped_column(BigInteger)  # 1, 2, 3 ... within the chain
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives users
    role: Mapped[str | None] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(30))  # read, create, update, delete, export, login, ...
    resource: Mapped[str] = mapped_column(String(60))  # patient, claim, remittance, session, ...
    record_ids: Mapped[list[Any]] = mapped_column(JSONText, default=list)
    outcome: Mapped[str] = mapped_column(String(12))  # success, denied, failed, error
    source: Mapped[str | None] = mapped_column(String(64))  # client address
    request_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str | None] = mapped_column(Text)  # reason (break-glass), route, counts: never PHI
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The head of each audit chain (locked ``FOR UPDATE`` while appending, so a chain never forks)."""

    __tablename__ = "audit_head"
    chain: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


Index("ix_claim_practice_status", ClaimRecord.practice_id, ClaimRecord.status, ClaimRecord.id)
Index("ix_encounter_practice_status", Encounter.practice_id, Encounter.status, Encounter.id)
Index("ix_ledger_practice_claim", LedgerEntryRecord.practice_id, LedgerEntryRecord.claim_id)
Index("ix_audit_event_at", AuditEvent.at)  # audit report by date range


# --------------------------------------------------------------------------------------------- blind indexes
def _name_key(p: Patient) -> str | None:
    return p.last_name or None


BLIND_INDEXES: dict[type[Base], tuple[tuple[str, str, Callable[[Any], str | None]], ...]] = {
    Patient: (
        ("mrn_bidx", "patient.mrn", lambda p: p.mrn),
        ("account_bidx", "patient.account_number", lambda p: p.account_number),
        ("name_bidx", "patient.last_name", _name_key),
        ("birth_bidx", "patient.birth_date", lambda p: p.birth_date.isoformat() if p.birth_date else None),
    ),
    Coverage: (("member_bidx", "coverage.member_id", lambda c: c.member_id),),
    ClaimRecord: (
        ("pcn_bidx", "claim.patient_control_number", lambda c: c.patient_control_number),
        ("payer_claim_bidx", "claim.payer_claim_number", lambda c: c.payer_claim_number),
    ),
    CodingDecision: (("mention_bidx", "coding_decision.mention", lambda d: d.mention),),
}
"""model → (index column, purpose, plaintext getter): the keyed hashes kept in step on every flush."""


def _fill_blind_indexes(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    specs = BLIND_INDEXES.get(type(target))
    if not specs:
        return
    cipher = cipher_of(connection.dialect)
    for column, purpose, getter in specs:
        value = getter(target)
        setattr(target, column, cipher.blind_index(str(value), purpose=purpose) if value else None)


for _model in BLIND_INDEXES:
    event.listen(_model, "before_insert", _fill_blind_indexes)
    event.listen(_model, "before_update", _fill_blind_indexes)

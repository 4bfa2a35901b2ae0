"""Remittance (835), acknowledgment (999) and claim acknowledgment (277CA) records.

These are what the X12 readers produce and what posting consumes: frozen, ``Decimal`` money, dates
as ``datetime.date``. Field docs name the 835 (005010X221A1), 999 (005010X231A1) and 277CA
(005010X214) segments and elements they come from. Nothing here validates in ``__post_init__``: a
remittance that does not balance is still read, and ``remit_problems()`` reports it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from medbill.core.claim import ClaimAdjustment

__all__ = [
    "AckStatus",
    "BankAccount",
    "ClaimAck",
    "ClaimPayment",
    "ClaimStatusCode",
    "FunctionalAck",
    "PayerIdentity",
    "PostalAddress",
    "ProviderAdjustment",
    "ProviderSummary",
    "Remittance",
    "RemitContact",
    "RemitParty",
    "RemitProblem",
    "ServicePayment",
    "TransactionAck",
    "remit_problems",
]


class ClaimStatusCode(StrEnum):
    """835 CLP02: how the payer processed the claim."""

    PRIMARY = "1"
    SECONDARY = "2"
    TERTIARY = "3"
    DENIED = "4"
    PRIMARY_FORWARDED = "19"
    SECONDARY_FORWARDED = "20"
    TERTIARY_FORWARDED = "21"
    REVERSAL = "22"  # reversal of a previous payment: amounts negated under the original group codes
    NOT_OUR_CLAIM = "23"
    PREDETERMINATION = "25"


@dataclass(frozen=True, slots=True, kw_only=True)
class PostalAddress:
    """N3/N4 of the 835 payer or payee (state and ZIP are absent for an address outside the US)."""

    line1: str  # N301
    line2: str | None = None  # N302
    city: str  # N401
    state: str | None = None  # N402
    zip: str | None = None  # N403
    country: str | None = None  # N404
    subdivision: str | None = None  # N407 (country subdivision)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemitContact:
    """PER: a payer contact (1000A CX business, BL technical, IC web site; 2100 CX claim contact)."""

    function: str  # PER01
    name: str | None = None  # PER02
    numbers: tuple[tuple[str, str], ...] = ()  # (PER03/05/07 qualifier TE/EX/FX/EM/UR, number)


@dataclass(frozen=True, slots=True, kw_only=True)
class PayerIdentity:
    """1000A payer (N1*PR) or 1000B payee (N1*PE)."""

    name: str
    identifier: str | None = None  # N104 (payee: NPI with XX, or tax id with FI); payer: REF*2U or N104
    identifier_qualifier: str | None = None
    address: PostalAddress | None = None  # N3/N4
    references: tuple[tuple[str, str], ...] = ()  # REF (qualifier, value): payer 2U/EO/HI/NF, payee 0B/D3/PQ/TJ
    contacts: tuple[RemitContact, ...] = ()  # payer PER (CX, BL, IC)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemitParty:
    """A 2100 NM1: patient (QC), insured (IL), corrected patient/insured (74), rendering provider (82),
    crossover carrier (TT), corrected priority payer (PR), other subscriber (GB)."""

    role: str  # NM101
    entity: str  # NM102: 1 person, 2 organization
    last_name: str | None = None  # NM103 (organization name when NM102 = 2)
    first_name: str | None = None  # NM104
    middle_name: str | None = None  # NM105
    suffix: str | None = None  # NM107
    id_qualifier: str | None = None  # NM108 (MI member id, HN, XX NPI, PI payer id ...)
    identifier: str | None = None  # NM109

    @property
    def display_name(self) -> str:
        """``LAST, FIRST MIDDLE SUFFIX`` (a person) or the organization name."""
        if self.entity == "2" or not self.first_name:
            return " ".join(p for p in (self.last_name, self.suffix if self.entity != "2" else None) if p)
        rest = " ".join(p for p in (self.first_name, self.middle_name, self.suffix) if p)
        return f"{self.last_name or ''}, {rest}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePayment:
    """2110 SVC: one paid service line."""

    procedure: str  # SVC01-2 as adjudicated (HC/NU/... qualifier in ``procedure_qualifier``)
    procedure_qualifier: str = "HC"  # SVC01-1: HC (HCPCS/CPT), NU (revenue code), ER, AD, N4 ...
    modifiers: tuple[str, ...] = ()  # SVC01-3..6
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    revenue_code: str | None = None  # SVC04 (institutional)
    units_paid: Decimal = Decimal("1")  # SVC05
    submitted_procedure: str | None = None  # SVC06-2: the code as submitted when the payer re-coded it
    submitted_modifiers: tuple[str, ...] = ()
    units_submitted: Decimal | None = None  # SVC07
    service_date: dt.date | None = None  # DTM*472 (or 150)
    service_date_to: dt.date | None = None  # DTM*151
    adjustments: tuple[ClaimAdjustment, ...] = ()  # CAS
    control_number: str | None = None  # REF*6R: our line control number
    allowed: Decimal | None = None  # AMT*B6
    remarks: tuple[str, ...] = ()  # LQ*HE RARCs
    submitted_qualifier: str | None = None  # SVC06-1 (when the payer re-coded the line)
    submitted_description: str | None = None  # SVC06-7
    references: tuple[tuple[str, str], ...] = ()  # other 2110 REF (qualifier, value): LU, G1, 1S, APC, 0K, HPI ...
    amounts: tuple[tuple[str, Decimal], ...] = ()  # other 2110 AMT (qualifier, amount): KH, T, T2, ZK..ZO
    quantities: tuple[tuple[str, Decimal], ...] = ()  # 2110 QTY (qualifier, quantity)
    reject_codes: tuple[str, ...] = ()  # LQ*RX: NCPDP reject/payment codes


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimPayment:
    """2100 CLP: one adjudicated claim (a reversal and its correction are two of these)."""

    patient_control_number: str  # CLP01 (our claim id; PHI: never logged)
    status: ClaimStatusCode  # CLP02
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal = Decimal("0")  # CLP05
    filing_indicator: str | None = None  # CLP06
    payer_claim_number: str | None = None  # CLP07: payer claim control number
    facility_type: str | None = None  # CLP08
    frequency: str | None = None  # CLP09
    drg: str | None = None  # CLP11
    adjustments: tuple[ClaimAdjustment, ...] = ()  # claim-level CAS
    patient_name: str | None = None  # NM1*QC (PHI)
    member_id: str | None = None  # NM1*QC / NM1*IL NM109 (PHI)
    corrected_payer: str | None = None  # NM1*PR: crossover / corrected priority payer name
    statement_from: dt.date | None = None  # DTM*232
    statement_to: dt.date | None = None  # DTM*233
    received: dt.date | None = None  # DTM*050
    remarks: tuple[str, ...] = ()  # MIA / MOA remark codes (RARCs)
    services: tuple[ServicePayment, ...] = ()
    position: int = 0  # 0-based order of this CLP in its transaction: part of the posting key
    header_number: str | None = None  # 2000 LX01: the group (often the provider/bill type) the claim is in
    drg_weight: Decimal | None = None  # CLP12
    discharge_fraction: Decimal | None = None  # CLP13
    parties: tuple[RemitParty, ...] = ()  # every 2100 NM1, in file order
    coverage_expiration: dt.date | None = None  # DTM*036
    references: tuple[tuple[str, str], ...] = ()  # 2100 REF (qualifier, value): F8, EA, 1L, G1, 1B, 0B ...
    contacts: tuple[RemitContact, ...] = ()  # 2100 PER*CX
    amounts: tuple[tuple[str, Decimal], ...] = ()  # 2100 AMT (qualifier, amount): AU coverage, I interest, D8 ...
    quantities: tuple[tuple[str, Decimal], ...] = ()  # 2100 QTY (qualifier, quantity): CA covered days ...
    adjudication: tuple[tuple[str, Decimal], ...] = ()  # MIA/MOA amounts and counts by element ("MIA04", "MOA02")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAdjustment:
    """PLB: a provider-level adjustment (WO overpayment recovery, FB forward balance, L6 interest ...).

    ``amount`` as the payer writes it: positive reduces the payment (a take-back), negative adds to it.
    """

    provider_id: str  # PLB01
    fiscal_period_end: dt.date | None  # PLB02
    reason: str  # PLB03-1 (WO, FB, L6, 72, J1 ...)
    reference: str | None  # PLB03-2 (e.g. the CLP01/CLP07 a take-back refers to)
    amount: Decimal  # PLB04


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSummary:
    """2000 TS3 (and TS2): the payer's totals for one LX group (institutional, Medicare Part A)."""

    header_number: str  # LX01
    provider_id: str  # TS301
    facility_type: str  # TS302 (place of service or bill type first two digits)
    fiscal_period_end: dt.date  # TS303
    claim_count: int  # TS304
    total_charge: Decimal  # TS305
    amounts: tuple[tuple[str, Decimal], ...] = ()  # TS313..TS324, TS201..TS219 by element ("TS313", "TS202")


@dataclass(frozen=True, slots=True, kw_only=True)
class BankAccount:
    """BPR06-09 (the payer's) or BPR12-15 (the payee's) bank and account of an ACH payment."""

    dfi_qualifier: str  # 01 ABA routing number, 04 Canadian bank branch and institution number
    dfi_id: str
    account_qualifier: str | None = None  # DA demand deposit, SG savings
    account_number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Remittance:
    """One 835 transaction set (ST..SE): one payment (BPR/TRN) from one payer to one payee."""

    control_number: str  # ST02
    interchange_control_number: str | None = None  # ISA13
    group_control_number: str | None = None  # GS06
    payment_amount: Decimal  # BPR02
    credit_debit: str = "C"  # BPR03
    payment_method: str | None = None  # BPR04: ACH, CHK, NON, BOP, FWT
    payment_date: dt.date | None = None  # BPR16
    trace_number: str  # TRN02 (check or EFT number)
    payer_trace_id: str  # TRN03 (payer's id, usually "1" + EIN)
    production_date: dt.date | None = None  # DTM*405
    payer: PayerIdentity
    payee: PayerIdentity
    claims: tuple[ClaimPayment, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()
    handling: str = "I"  # BPR01: I remittance with payment, H notification only, C/D/P/U/X ...
    payment_format: str | None = None  # BPR05: CCP, CTX
    payer_account: BankAccount | None = None  # BPR06-09
    originator_id: str | None = None  # BPR10 (the payer's originating company id)
    originator_code: str | None = None  # BPR11 (originating company supplemental code)
    payee_account: BankAccount | None = None  # BPR12-15
    trace_supplemental: str | None = None  # TRN04
    currency: str | None = None  # CUR02 (None: US dollars)
    references: tuple[tuple[str, str], ...] = ()  # header REF (qualifier, value): EV receiver, F2 version
    provider_summaries: tuple[ProviderSummary, ...] = ()  # 2000 TS3/TS2


@dataclass(frozen=True, slots=True)
class RemitProblem:
    """A remittance that does not balance (reported, never raised)."""

    location: str  # "BPR02", "claims[3]", "claims[3].services[1]"
    message: str


def remit_problems(remit: Remittance) -> list[RemitProblem]:
    """The three balancing rules of the 835, each broken one reported.

    BPR02 = Σ CLP04 − Σ PLB04; each claim CLP03 − CLP04 = Σ its CAS (claim and line level);
    each line SVC02 − SVC03 = Σ its CAS.
    """
    out: list[RemitProblem] = []
    total_paid = sum((c.paid for c in remit.claims), Decimal("0"))
    plb = sum((p.amount for p in remit.provider_adjustments), Decimal("0"))
    expected = total_paid - plb
    sign = Decimal("-1") if remit.credit_debit == "D" else Decimal("1")
    if remit.payment_amount * sign != expected:
        out.append(
            RemitProblem(
                "BPR02",
                f"payment {remit.payment_amount} ≠ claims paid {total_paid} − provider adjustments {plb} = {expected}",
            )
        )
    for i, c in enumerate(remit.claims):
        line_cas = sum((a.amount for s in c.services for a in s.adjustments), Decimal("0"))
        claim_cas = sum((a.amount for a in c.adjustments), Decimal("0"))
        if c.charge - c.paid != claim_cas + line_cas:
            out.append(
                RemitProblem(
                    f"claims[{i}]",
                    f"CLP03 {c.charge} − CLP04 {c.paid} ≠ adjustments {claim_cas + line_cas}",
                )
            )
        for j, s in enumerate(c.services):
            cas = sum((a.amount for a in s.adjustments), Decimal("0"))
            if s.charge - s.paid != cas:
                out.append(
                    RemitProblem(
                        f"claims[{i}].services[{j}]",
                        f"SVC02 {s.charge} − SVC03 {s.paid} ≠ adjustments {cas}",
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------------
# 999 and 277CA


class AckStatus(StrEnum):
    """999 IK501 / AK901: A accepted, E accepted with errors, R rejected, P partially accepted."""

    ACCEPTED = "A"
    ACCEPTED_WITH_ERRORS = "E"
    REJECTED = "R"
    PARTIAL = "P"
    MESSAGE_AUTH_FAILED = "M"
    FAILED_CONTENT = "W"
    FAILED_CRYPTO = "X"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionAck:
    """999 AK2..IK5: the answer for one transaction set we sent."""

    transaction_id: str  # AK201 (e.g. 837)
    control_number: str  # AK202: our ST02
    implementation: str | None = None  # AK203
    status: AckStatus  # IK501
    errors: tuple[str, ...] = ()  # IK3/IK4/CTX rendered "segment 12 CLM (loop 2300): IK304=8 ..."


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionalAck:
    """999: the answer for one functional group (GS) we sent."""

    group_control_number: str  # AK102: our GS06
    functional_id: str  # AK101 (HC for 837)
    status: AckStatus  # AK901
    transactions: tuple[TransactionAck, ...] = ()
    included: int = 0  # AK902
    received: int = 0  # AK903
    accepted: int = 0  # AK904
    implementation: str | None = None  # AK103: the guide of the group we sent (005010X222A1 ...)
    errors: tuple[str, ...] = ()  # AK905..AK909 functional group syntax errors, rendered
    control_number: str | None = None  # the 999's own ST02


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimAck:
    """277CA 2200D: the payer front end's answer for one claim."""

    patient_control_number: str  # 2200D TRN02: our CLM01
    accepted: bool  # STC03 / category A1-A2 accepted, A3/A6/A7/A8 rejected
    category: str  # STC01-1 (A1 acknowledgment/receipt, A2 accepted, A3 returned, A7 rejected ...)
    status: str  # STC01-2 (claim status code)
    entity: str | None = None  # STC01-3
    payer_claim_number: str | None = None  # REF*1K
    charge: Decimal | None = None  # STC04
    status_date: dt.date | None = None  # STC02
    messages: tuple[str, ...] = ()  # STC12 free text and further STC composites
    line_statuses: tuple[tuple[str, str, str], ...] = ()  # 2220D: (line control number, category, status)
    action: str | None = None  # STC03: WQ accept, U reject (as sent; the category decides ``accepted``)
    payer_name: str | None = None  # 2100A NM103 (information source)
    payer_id: str | None = None  # 2100A NM109
    batch_reference: str | None = None  # 2200B TRN02: our submission's reference (837 BHT03)
    billing_provider_id: str | None = None  # 2100C NM109 (NPI with XX)
    patient_name: str | None = None  # 2100D NM1*QC (PHI)
    member_id: str | None = None  # 2100D NM109 (PHI)
    clearinghouse_claim_number: str | None = None  # REF*D9
    bill_type: str | None = None  # REF*BLT (institutional)
    service_date: dt.date | None = None  # 2200D DTP*472
    service_date_to: dt.date | None = None
    control_number: str | None = None  # the 277CA's own ST02

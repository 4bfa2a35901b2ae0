"""X12 837 writers: 837P professional (005010X222A1) and 837I institutional (005010X223A2) claims.

Format: the ASC X12N/005010X222A1 and 005010X223A2 implementation guides (TR3s, published by X12 at
x12.org; adopted under HIPAA, 45 CFR 162.1102). Loops and elements are named as in the guides
(``2300 CLM05-1``, ``2400 SV101-2``).

What is written, per transaction set (ST/SE, at most ``settings.max_claims_per_transaction`` claims):
- BHT, 1000A submitter (NM1*41, PER) and 1000B receiver (NM1*40) from ``InterchangeSettings``;
- claims grouped by billing provider and pay-to address (2000A/2010AA/2010AB), then by subscriber and
  payer (2000B/2010BA/2010BB), then by patient when the patient is not the subscriber (2000C/2010CA);
  HL01 numbered in order, HL02 pointing at the parent, HL04 computed (1 when child HLs follow); a new
  HL starts after 100 claims (2300 repeats at most 100 times per HL);
- 2300 CLM (CLM05 = place of service:B:frequency on 837P, facility type:A:frequency on 837I), dates,
  REF (9F referral, G1 prior authorization, F8 payer claim control number of the claim replaced or
  voided, LU auto-accident state on 837I, EA medical record), NTE*ADD, HI with ICD-10 qualifiers (ABK/ABF;
  on 837I also ABJ, APR, ABN with POA in HIxx-9, DR, BBR/BBQ, BI/BH/BE/BG), CL1 and DTP*434/435/096 on 837I;
- 2310x providers only when they differ from the billing provider (the service facility is never
  repeated when it is the billing provider's own address; the 837I rendering provider is written only
  when it differs from the attending provider);
- 2320/2330A/2330B for each other payer (SBR, one CAS per adjustment group with up to 6 triplets,
  AMT*D paid, AMT*EAF remaining patient liability, OI, DTP*573 when no 2430 carries the date, REF*F8);
- 2400 LX with SV1 (837P) or SV2 (837I), DTP*472, REF*G1/REF*6R, 2410 LIN/CTP for NDCs (N4), 2420
  rendering provider when it differs, 2420E ordering provider (837P, with its N3/N4 and PER when known),
  2430 SVD/CAS/DTP*573 for each prior payer's adjudication.

Money and quantities are written in the R form (``100``, ``100.5``, ``100.25``). A claim that cannot be
written into a valid 837 — any ``claim_problems()`` problem, an element the guide requires that the claim
lacks (member id, payer id, a 9-digit billing ZIP ...), an identifier with a delimiter in it, or data
the chosen 837 has no place for — raises ``X12WriteError`` naming the claim (``claims[3]``) and the
element, before any control number is used. The POA indicator "exempt" is written as an empty HIxx-9:
005010 allows only Y, N, U and W there (X12 RFI 2797).

Claim data the other 837 has a place for is refused rather than dropped (a place of service, supervising
provider, onset/accident dates, related causes, line ordering provider or line prior authorization on an
837I; revenue codes or non-covered charges on an 837P). Attributes that neither guide carries for a party
are not written: the other subscriber's birth date and sex (2330A has no DMG), taxonomies of the 837I
operating/other operating/rendering providers (no PRV in those loops), addresses of providers other than
billing, pay-to, service facility and the 837P line ordering provider (2420E N3/N4), contacts of providers
other than billing, the 837P service facility (2310C PER) and ordering provider (2420E PER), a contact
without a phone, fax or email (PER03/PER04 are required), the pay-to name (2010AB NM103 is not used),
SBR05 on an 837I (Medicare-secondary types go in value codes there). Parties equal to the one the guide
compares them with are omitted, as the guides require: a rendering provider with the billing (837P) or
attending (837I) provider's NPI, a line rendering provider equal to the claim's, a service facility at
the billing provider's address, a pay-to address equal to the billing address, a line place of service
equal to the claim's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from medbill.core.claim import (
    Address,
    Claim,
    ClaimAdjustment,
    ClaimKind,
    Contact,
    Coverage,
    Diagnosis,
    DiagnosisRole,
    EntityType,
    LineAdjudication,
    Patient,
    PresentOnAdmission,
    Provider,
    Relationship,
    ServiceLine,
    Sex,
    Subscriber,
    TaxIdType,
    UnitType,
    claim_problems,
)
from medbill.core.codes import Code
from medbill.x12.envelope import (
    ControlNumbers,
    Elements,
    EnvelopeNumbers,
    InterchangeSettings,
    X12WriteError,
    _BadValue,
    format_d8,
    format_r,
    format_rd8,
    wrap_interchange,
)

__all__ = [
    "INSTITUTIONAL_VERSION",
    "PROFESSIONAL_VERSION",
    "TransactionRecord",
    "Written837",
    "build_837i",
    "build_837p",
    "write_837i",
    "write_837p",
]

logger = logging.getLogger(__name__)

PROFESSIONAL_VERSION = "005010X222A1"
INSTITUTIONAL_VERSION = "005010X223A2"
MAX_CLAIMS_PER_HL = 100  # 2300 repeat count in both guides

_Render = Callable[[Claim], list[str]]


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """One written ST/SE: its control number (ST02), segment count (SE01) and claim ids in order."""

    control_number: str
    segment_count: int
    claim_ids: tuple[str, ...]
    claim_indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Written837:
    """An interchange as written, with its control numbers and the batch-to-claim map."""

    text: str
    version: str
    interchange_control_number: str  # ISA13 / IEA02
    group_control_number: str  # GS06 / GE02
    transactions: tuple[TransactionRecord, ...]

    @property
    def claim_count(self) -> int:
        return sum(len(t.claim_ids) for t in self.transactions)

    def claim_map(self) -> tuple[tuple[int, str, str], ...]:
        """(index in the input, CLM01, ST02) for every claim, so acknowledgments can be matched back."""
        return tuple(
            (index, claim_id, t.control_number)
            for t in self.transactions
            for index, claim_id in zip(t.claim_indexes, t.claim_ids, strict=True)
        )


def build_837p(
    claims: Iterable[Claim], settings: InterchangeSettings, control_numbers: ControlNumbers, *, when: dt.datetime
) -> Written837:
    """Professional claims as one 837P interchange (005010X222A1)."""
    return _build(claims, settings, control_numbers, when=when, professional=True)


def build_837i(
    claims: Iterable[Claim], settings: InterchangeSettings, control_numbers: ControlNumbers, *, when: dt.datetime
) -> Written837:
    """Institutional claims as one 837I interchange (005010X223A2)."""
    return _build(claims, settings, control_numbers, when=when, professional=False)


def write_837p(
    claims: Iterable[Claim], settings: InterchangeSettings, control_numbers: ControlNumbers, *, when: dt.datetime
) -> str:
    """The text of ``build_837p``."""
    return build_837p(claims, settings, control_numbers, when=when).text


def write_837i(
    claims: Iterable[Claim], settings: InterchangeSettings, control_numbers: ControlNumbers, *, when: dt.datetime
) -> str:
    """The text of ``build_837i``."""
    return build_837i(claims, settings, control_numbers, when=when).text


# ---------------------------------------------------------------------------------------------------
# Grouping


@dataclass(slots=True)
class _PatientNode:
    key: object
    claims: list[int]


@dataclass(slots=True)
class _SubscriberNode:
    key: object
    dependent: bool
    claims: list[int]  # when the subscriber is the patient
    patients: list[_PatientNode]


@dataclass(slots=True)
class _BillingNode:
    key: object
    subscribers: list[_SubscriberNode]


def _billing_key(claim: Claim) -> object:
    pay_to = claim.pay_to_provider
    if pay_to is not None and pay_to.address == claim.billing_provider.address:
        pay_to = None
    return (claim.billing_provider, pay_to)


def _subscriber_key(claim: Claim) -> tuple[object, bool]:
    if claim.patient is None:
        return (claim.coverage, False)
    coverage = claim.coverage
    if coverage.relationship is not Relationship.SELF:
        coverage = replace(coverage, relationship=Relationship.SELF)
    return (coverage, True)


def _plan(claims: Sequence[Claim], limit: int) -> list[list[_BillingNode]]:
    """Claims in grouped order, cut into transactions of at most ``limit`` claims, as HL trees."""
    tree: dict[object, dict[tuple[object, bool], dict[object, list[int]]]] = {}
    for index, claim in enumerate(claims):
        skey = _subscriber_key(claim)
        pkey: object = (claim.patient, claim.coverage.relationship) if skey[1] else None
        tree.setdefault(_billing_key(claim), {}).setdefault(skey, {}).setdefault(pkey, []).append(index)
    transactions: list[list[_BillingNode]] = []
    current: list[_BillingNode] = []
    count = 0
    for bkey, subscribers in tree.items():
        for skey, patients in subscribers.items():
            dependent = skey[1]
            for pkey, indexes in patients.items():
                for index in indexes:
                    if count == limit:
                        transactions.append(current)
                        current, count = [], 0
                    if not current or current[-1].key != bkey:
                        current.append(_BillingNode(bkey, []))
                    billing = current[-1]
                    subs = billing.subscribers
                    if (
                        not subs
                        or subs[-1].key != skey
                        or (not dependent and len(subs[-1].claims) >= MAX_CLAIMS_PER_HL)
                    ):
                        subs.append(_SubscriberNode(skey, dependent, [], []))
                    sub = subs[-1]
                    if dependent:
                        pats = sub.patients
                        if not pats or pats[-1].key != pkey or len(pats[-1].claims) >= MAX_CLAIMS_PER_HL:
                            pats.append(_PatientNode(pkey, []))
                        pats[-1].claims.append(index)
                    else:
                        sub.claims.append(index)
                    count += 1
    if current:
        transactions.append(current)
    return transactions


# ---------------------------------------------------------------------------------------------------
# Building


def _build(
    claims: Iterable[Claim],
    settings: InterchangeSettings,
    control_numbers: ControlNumbers,
    *,
    when: dt.datetime,
    professional: bool,
) -> Written837:
    claim_list = tuple(claims)
    if not claim_list:
        raise X12WriteError("no claims to write", path="claims")
    writer = _Writer(Elements(settings.delimiters), professional=professional)
    version = PROFESSIONAL_VERSION if professional else INSTITUTIONAL_VERSION

    # 1. every claim rendered (and so checked) before any control number is taken
    rendered: list[list[str]] = []
    for index, claim in enumerate(claim_list):
        rendered.append(writer.guarded(index, claim, writer.claim))

    # 2. the HL trees, with the loops above 2300 rendered once per group
    bodies: list[list[str]] = []
    members: list[list[int]] = []
    for tree in _plan(claim_list, settings.max_claims_per_transaction):
        body: list[str] = []
        order: list[int] = []
        hl = 0
        for billing in tree:
            hl += 1
            billing_hl = hl
            first = _first_index(billing)
            body.append(writer.el.segment("HL", str(billing_hl), "", "20", "1"))
            body.extend(writer.guarded(first, claim_list[first], writer.billing))
            for sub in billing.subscribers:
                hl += 1
                sub_hl = hl
                first = sub.claims[0] if sub.claims else sub.patients[0].claims[0]
                body.append(writer.el.segment("HL", str(sub_hl), str(billing_hl), "22", "1" if sub.dependent else "0"))
                body.extend(writer.guarded(first, claim_list[first], writer.subscriber))
                for index in sub.claims:
                    body.extend(rendered[index])
                    order.append(index)
                for patient in sub.patients:
                    hl += 1
                    first = patient.claims[0]
                    body.append(writer.el.segment("HL", str(hl), str(sub_hl), "23", "0"))
                    body.extend(writer.guarded(first, claim_list[first], writer.patient))
                    for index in patient.claims:
                        body.extend(rendered[index])
                        order.append(index)
        bodies.append(body)
        members.append(order)

    # 3. envelopes and control numbers
    el = writer.el

    def header(st02: str) -> list[str]:
        contact = settings.submitter_contact
        submitter_type = "1" if settings.submitter_is_person else "2"
        return [
            el.segment("BHT", "0019", "00", st02, f"{when:%Y%m%d}", f"{when:%H%M}", settings.transaction_type),
            el.segment(
                "NM1",
                "41",
                submitter_type,
                el.text(settings.submitter_name, 60),
                el.text(settings.submitter_first_name, 35) if settings.submitter_is_person else "",
                "",
                "",
                "",
                "46",
                settings.submitter_id.strip(),
            ),
            _per(el, contact),
            el.segment(
                "NM1", "40", "2", el.text(settings.receiver_name, 60), "", "", "", "", "46", settings.receiver_nm109
            ),
        ]

    text, numbers, counts = wrap_interchange(
        bodies, settings=settings, control_numbers=control_numbers, when=when, version=version, header=header
    )
    transactions = tuple(
        TransactionRecord(
            control_number=st02,
            segment_count=se01,
            claim_ids=tuple(claim_list[i].id for i in order),
            claim_indexes=tuple(order),
        )
        for st02, se01, order in zip(numbers.transactions, counts, members, strict=True)
    )
    _log(numbers, len(claim_list), version)
    return Written837(
        text=text,
        version=version,
        interchange_control_number=numbers.interchange,
        group_control_number=numbers.group,
        transactions=transactions,
    )


def _log(numbers: EnvelopeNumbers, count: int, version: str) -> None:
    logger.info(
        "wrote %s interchange ISA13=%s GS06=%s ST02=%s claims=%d",
        version,
        numbers.interchange,
        numbers.group,
        ",".join(numbers.transactions),
        count,
    )


def _first_index(billing: _BillingNode) -> int:
    sub = billing.subscribers[0]
    return sub.claims[0] if sub.claims else sub.patients[0].claims[0]


def _has_number(contact: Contact) -> bool:
    """Whether a contact can be written: PER03/PER04 (a phone, fax or email) are required in every PER."""
    return bool(contact.phone or contact.fax or contact.email)


def _per(el: Elements, contact: Contact) -> str:
    """PER*IC with up to three communication numbers (TE, EX after TE, FX, EM)."""
    numbers: list[tuple[str, str]] = []
    if contact.phone:
        numbers.append(("TE", el.text(contact.phone, 256)))
        if contact.phone_extension:
            numbers.append(("EX", el.text(contact.phone_extension, 256)))
    if contact.fax:
        numbers.append(("FX", el.text(contact.fax, 256)))
    if contact.email:
        numbers.append(("EM", el.text(contact.email, 256)))
    elements = ["PER", "IC", el.text(contact.name, 60)]
    for qualifier, value in numbers[:3]:
        elements.extend((qualifier, value))
    return el.segment(*elements)


_SEX = {Sex.FEMALE: "F", Sex.MALE: "M", Sex.UNKNOWN: "U"}
_POA = {
    PresentOnAdmission.YES: "Y",
    PresentOnAdmission.NO: "N",
    PresentOnAdmission.UNKNOWN: "U",
    PresentOnAdmission.UNDETERMINED: "W",
    PresentOnAdmission.EXEMPT: "",  # 005010 has no "1": exempt is an empty HIxx-9 (X12 RFI 2797)
}


class _Writer:
    """Renders the loops of one 837 kind; raises ``_BadValue`` for what cannot be written."""

    def __init__(self, el: Elements, *, professional: bool) -> None:
        self.el = el
        self.professional = professional
        self.kind = ClaimKind.PROFESSIONAL if professional else ClaimKind.INSTITUTIONAL

    # -- error context ------------------------------------------------------------------------------

    def guarded(self, index: int, claim: Claim, render: _Render) -> list[str]:
        try:
            return render(claim)
        except _BadValue as exc:
            raise X12WriteError(exc.message, path=f"claims[{index}]", element=exc.element, claim_id=claim.id) from None
        except _ClaimProblem as exc:
            raise X12WriteError(
                exc.message, path=f"claims[{index}].{exc.path}", claim_id=claim.id, hint=exc.hint
            ) from None
        except ValueError as exc:  # a quantity that is not a finite number (format_r)
            raise X12WriteError(str(exc), path=f"claims[{index}]", claim_id=claim.id) from None

    # -- shared pieces ------------------------------------------------------------------------------

    def name(
        self, entity: str, provider: Provider, loop: str, *, person_only: bool = False, org_only: bool = False
    ) -> str:
        """NM1 for a provider in ``loop``; NM108/NM109 = XX/NPI when the NPI is known."""
        el = self.el
        person = provider.entity_type is EntityType.PERSON
        if person_only and not person:
            raise _BadValue(f"{loop} NM102", f"the {provider.role.value} provider must be a person (NM102 = 1)")
        if org_only and person:
            raise _BadValue(f"{loop} NM102", f"the {provider.role.value} provider must be an organization (NM102 = 2)")
        npi = ""
        if provider.npi:
            npi = el.ident(provider.npi, f"{loop} NM109", 10, min_len=10)
            if not npi.isdigit():
                raise _BadValue(f"{loop} NM109", f"NPI {npi!r} is not 10 digits")
        if person:
            last = el.text(provider.last_name, 60)
            if not last:
                raise _BadValue(f"{loop} NM103", f"the {provider.role.value} provider's last name is missing")
            return el.segment(
                "NM1",
                entity,
                "1",
                last,
                el.text(provider.first_name, 35),
                el.text(provider.middle_name, 25),
                "",
                el.text(provider.suffix, 10),
                "XX" if npi else "",
                npi,
            )
        org = el.text(provider.organization_name or provider.last_name, 60)
        if not org:
            raise _BadValue(f"{loop} NM103", f"the {provider.role.value} organization name is missing")
        return el.segment("NM1", entity, "2", org, "", "", "", "", "XX" if npi else "", npi)

    def address(self, address: Address | None, loop: str, *, zip9: bool = False) -> list[str]:
        el = self.el
        if address is None:
            raise _BadValue(f"{loop} N3", "the address is missing")
        line1 = el.text(address.line1, 55)
        if not line1:
            raise _BadValue(f"{loop} N301", "the address line is empty")
        city = el.text(address.city, 30)
        if len(city) < 2:
            raise _BadValue(f"{loop} N401", f"city {address.city!r} needs at least 2 characters")
        state = address.state.strip().upper()
        if len(state) != 2 or not state.isascii() or not state.isalpha():
            raise _BadValue(f"{loop} N402", f"state {address.state!r} is not a two-letter code")
        zip_code = address.zip.strip()
        if not zip_code.isascii() or not zip_code.isdigit() or len(zip_code) not in (5, 9):
            raise _BadValue(f"{loop} N403", f"ZIP {address.zip!r} is not 5 or 9 digits")
        if zip9 and len(zip_code) != 9:
            raise _BadValue(f"{loop} N403", f"ZIP {address.zip!r}: the guide requires the 9-digit ZIP+4 here")
        return [el.segment("N3", line1, el.text(address.line2, 55)), el.segment("N4", city, state, zip_code)]

    def dmg(self, dob: dt.date | None, sex: Sex | None, loop: str, *, required: bool) -> list[str]:
        if dob is None:
            if required:
                raise _BadValue(f"{loop} DMG02", "the date of birth is missing")
            return []
        return [self.el.segment("DMG", "D8", format_d8(dob), _SEX[sex] if sex is not None else "U")]

    def person_name(self, entity: str, person: Subscriber | Patient, loop: str, id_qualifier: str, ident: str) -> str:
        el = self.el
        last = el.text(person.last_name, 60)
        if not last:
            raise _BadValue(f"{loop} NM103", "the last name is missing")
        return el.segment(
            "NM1",
            entity,
            "1",
            last,
            el.text(person.first_name, 35),
            el.text(person.middle_name, 25),
            "",
            el.text(person.suffix, 10),
            id_qualifier,
            ident,
        )

    def payer_name(self, coverage: Coverage, loop: str) -> list[str]:
        el = self.el
        payer = coverage.payer
        if not payer.payer_id:
            raise _BadValue(f"{loop} NM109", f"payer {payer.name!r} has no payer id")
        name = el.text(payer.name, 60)
        if not name:
            raise _BadValue(f"{loop} NM103", "the payer name is missing")
        out = [
            el.segment(
                "NM1", "PR", "2", name, "", "", "", "", "PI", el.ident(payer.payer_id, f"{loop} NM109", 80, min_len=2)
            )
        ]
        if payer.address is not None:
            out.extend(self.address(payer.address, loop))
        return out

    def sbr(self, coverage: Coverage, relationship: str, loop: str) -> str:
        el = self.el
        filing = coverage.payer.filing_indicator
        if filing is None:
            raise _BadValue(f"{loop} SBR09", f"payer {coverage.payer.name!r} has no claim filing indicator")
        sub = coverage.subscriber
        insurance_type = coverage.insurance_type.value if coverage.insurance_type and self.professional else ""
        return el.segment(
            "SBR",
            coverage.responsibility.value,
            relationship,
            el.ident(sub.group_number, f"{loop} SBR03", 50) if sub.group_number else "",
            el.text(sub.group_name, 60),
            insurance_type,
            "",
            "",
            "",
            filing.value,
        )

    def member_id(self, subscriber: Subscriber, loop: str) -> str:
        if not subscriber.member_id:
            raise _BadValue(f"{loop} NM109", "the subscriber's member id is missing")
        return self.el.ident(subscriber.member_id, f"{loop} NM109", 80, min_len=2)

    def cas(self, adjustments: tuple[ClaimAdjustment, ...]) -> list[str]:
        """One CAS per adjustment group (first-seen order), each with its reason/amount/quantity triplets."""
        groups: dict[str, list[str]] = {}
        for adj in adjustments:
            triplet = groups.setdefault(adj.group.value, [])
            triplet.extend(
                (adj.reason.value, format_r(adj.amount), format_r(adj.quantity) if adj.quantity is not None else "")
            )
        return [self.el.segment("CAS", group, *items) for group, items in groups.items()]

    def procedure(self, code: Code, modifiers: tuple[Code, ...], description: str | None) -> str:
        """HC:code:mod1:mod2:mod3:mod4:description (SV101 / SV202 / SVD03)."""
        el = self.el
        if description:
            mods = [m.value for m in modifiers] + [""] * (4 - len(modifiers))
            return el.composite("HC", code.value, *mods, el.text(description, 80))
        if not modifiers:
            return "HC" + el.c + code.value
        return el.c.join(("HC", code.value, *(m.value for m in modifiers)))

    # -- 2000A / 2010AA / 2010AB --------------------------------------------------------------------

    def billing(self, claim: Claim) -> list[str]:
        el = self.el
        billing = claim.billing_provider
        out: list[str] = []
        if billing.taxonomy:
            out.append(el.segment("PRV", "BI", "PXC", el.ident(billing.taxonomy, "2000A PRV03", 50)))
        if not billing.npi:
            raise _BadValue("2010AA NM109", "the billing provider's NPI is missing")
        out.append(self.name("85", billing, "2010AA", org_only=not self.professional))
        out.extend(self.address(billing.address, "2010AA", zip9=True))
        if not billing.tax_id:
            raise _BadValue("2010AA REF02", "the billing provider's tax id (EIN or SSN) is missing")
        tax_id = el.ident(billing.tax_id.replace("-", ""), "2010AA REF02", 9, min_len=9)
        if not tax_id.isdigit():
            raise _BadValue("2010AA REF02", f"tax id {billing.tax_id!r} is not 9 digits")
        qualifier = "SY" if billing.tax_id_type is TaxIdType.SSN else "EI"
        if qualifier == "SY" and not self.professional:
            raise _BadValue("2010AA REF01", "an 837I billing provider is identified by its EIN (REF*EI)")
        out.append(el.segment("REF", qualifier, tax_id))
        if billing.contact is not None and _has_number(billing.contact):
            out.append(_per(el, billing.contact))
        pay_to = claim.pay_to_provider
        if pay_to is not None and pay_to.address != billing.address:
            pay_to_type = "1" if (self.professional and pay_to.entity_type is EntityType.PERSON) else "2"
            out.append(el.segment("NM1", "87", pay_to_type))
            out.extend(self.address(pay_to.address, "2010AB"))
        return out

    # -- 2000B / 2010BA / 2010BB --------------------------------------------------------------------

    def subscriber(self, claim: Claim) -> list[str]:
        coverage = claim.coverage
        sub = coverage.subscriber
        is_patient = claim.patient is None
        out = [self.sbr(coverage, "18" if is_patient else "", "2000B")]
        out.append(self.person_name("IL", sub, "2010BA", "MI", self.member_id(sub, "2010BA")))
        if sub.address is not None:
            out.extend(self.address(sub.address, "2010BA"))
        elif is_patient:
            raise _BadValue("2010BA N3", "the subscriber is the patient: the subscriber's address is required")
        out.extend(self.dmg(sub.date_of_birth, sub.sex, "2010BA", required=is_patient))
        out.extend(self.payer_name(coverage, "2010BB"))
        return out

    # -- 2000C / 2010CA -----------------------------------------------------------------------------

    def patient(self, claim: Claim) -> list[str]:
        patient = claim.patient
        assert patient is not None
        out = [self.el.segment("PAT", claim.coverage.relationship.value)]
        out.append(self.person_name("QC", patient, "2010CA", "", ""))
        if patient.address is None:
            raise _BadValue("2010CA N3", "the patient's address is missing")
        out.extend(self.address(patient.address, "2010CA"))
        out.extend(self.dmg(patient.date_of_birth, patient.sex, "2010CA", required=True))
        return out

    # -- 2300 and below -----------------------------------------------------------------------------

    def claim(self, claim: Claim) -> list[str]:
        if claim.kind is not self.kind:
            raise _ClaimProblem(
                "kind",
                f"a {claim.kind.value} claim cannot go on an {'837P' if self.professional else '837I'}",
                hint=f"write it with {'write_837i' if self.professional else 'write_837p'}",
            )
        problems = claim_problems(claim)
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise _ClaimProblem(first.path, f"{first.message}{more}", hint=f"claim problem {first.code}")
        self.not_carried(claim)
        return self.professional_claim(claim) if self.professional else self.institutional_claim(claim)

    def not_carried(self, claim: Claim) -> None:
        """Fail loudly on data this 837 has no place for, rather than dropping it."""
        fields: list[str] = []
        if self.professional:
            for i, line in enumerate(claim.lines):
                if line.revenue_code is not None:
                    fields.append(f"lines[{i}].revenue_code")
                if line.non_covered_charge is not None:
                    fields.append(f"lines[{i}].non_covered_charge")
                for j, adj in enumerate(line.adjudications):
                    if adj.revenue_code is not None:
                        fields.append(f"lines[{i}].adjudications[{j}].revenue_code")
        else:
            for name in (
                "place_of_service",
                "supervising_provider",
                "onset_date",
                "accident_date",
                "patient_signature_source",
            ):
                if getattr(claim, name) is not None:
                    fields.append(name)
            if claim.related_causes:
                fields.append("related_causes")
            for i, line in enumerate(claim.lines):
                for name in ("place_of_service", "ordering_provider", "prior_authorization"):
                    if getattr(line, name) is not None:
                        fields.append(f"lines[{i}].{name}")
                if line.unit_type is not UnitType.UNIT:
                    fields.append(f"lines[{i}].unit_type")
        if fields:
            which = "837P" if self.professional else "837I"
            raise _ClaimProblem(
                fields[0],
                f"an {which} has no place for {', '.join(fields)}",
                hint="remove it, or write the claim on the other 837",
            )

    def claim_common_refs(self, claim: Claim) -> list[str]:
        el = self.el
        out: list[str] = []
        if claim.referral_number:
            out.append(el.segment("REF", "9F", el.ident(claim.referral_number, "2300 REF02 (9F)", 50)))
        if claim.prior_authorization:
            out.append(el.segment("REF", "G1", el.ident(claim.prior_authorization, "2300 REF02 (G1)", 50)))
        if claim.original_claim_number:
            out.append(el.segment("REF", "F8", el.ident(claim.original_claim_number, "2300 REF02 (F8)", 50)))
        return out

    def clm01(self, claim: Claim) -> str:
        # The TR3s limit what receivers must keep of CLM01 to 20 characters; a longer one could not be
        # matched back from a 277CA or 835.
        return self.el.ident(claim.id, "2300 CLM01", 20)

    def professional_claim(self, claim: Claim) -> list[str]:
        el = self.el
        pos = claim.place_of_service
        if pos is None:
            raise _BadValue("2300 CLM05-1", "an 837P claim needs its place of service")
        related = [rc.value for rc in claim.related_causes[:2]]
        clm11 = ""
        if related:
            clm11 = el.composite(
                related[0],
                related[1] if len(related) > 1 else "",
                "",
                el.ident(claim.accident_state, "2300 CLM11-4", 2) if claim.accident_state else "",
                el.ident(claim.accident_country, "2300 CLM11-5", 3) if claim.accident_country else "",
            )
        out = [
            el.segment(
                "CLM",
                self.clm01(claim),
                format_r(claim.total_charge),
                "",
                "",
                el.composite(pos.value, "B", claim.frequency.value),
                "Y" if claim.provider_signature_on_file else "N",
                claim.assignment.value,
                claim.benefits_assigned.value,
                claim.release_of_information.value,
                claim.patient_signature_source.value if claim.patient_signature_source else "",
                clm11,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                claim.delay_reason or "",
            )
        ]
        if claim.onset_date:
            out.append(el.segment("DTP", "431", "D8", format_d8(claim.onset_date)))
        if claim.accident_date:
            out.append(el.segment("DTP", "439", "D8", format_d8(claim.accident_date)))
        out.extend(self.claim_common_refs(claim))
        if claim.medical_record_number:
            out.append(el.segment("REF", "EA", el.ident(claim.medical_record_number, "2300 REF02 (EA)", 50)))
        if claim.note:
            out.append(el.segment("NTE", "ADD", el.text(claim.note, 80)))
        qualifiers = ("ABK",) + ("ABF",) * 11
        out.append(
            el.segment(
                "HI", *(el.composite(q, dx.code.value) for q, dx in zip(qualifiers, claim.diagnoses, strict=False))
            )
        )
        billing = claim.billing_provider
        if claim.referring_provider is not None:
            out.append(self.name("DN", claim.referring_provider, "2310A", person_only=True))
        rendering = claim.rendering_provider
        if rendering is not None and not _same_provider(rendering, billing):
            out.append(self.name("82", rendering, "2310B"))
            if rendering.taxonomy:
                out.append(el.segment("PRV", "PE", "PXC", el.ident(rendering.taxonomy, "2310B PRV03", 50)))
        out.extend(self.service_facility(claim, "2310C"))
        if claim.supervising_provider is not None:
            out.append(self.name("DQ", claim.supervising_provider, "2310D", person_only=True))
        out.extend(self.other_payers(claim))
        effective = rendering if rendering is not None else billing
        for line in claim.lines:
            out.extend(self.professional_line(claim, line, effective))
        return out

    def service_facility(self, claim: Claim, loop: str) -> list[str]:
        facility = claim.service_facility
        billing = claim.billing_provider
        if facility is None or (
            facility.address == billing.address and (facility.npi is None or facility.npi == billing.npi)
        ):
            return []
        out = [self.name("77", facility, loop, org_only=True)]
        out.extend(self.address(facility.address, loop, zip9=True))
        contact = facility.contact
        if self.professional and contact is not None and _has_number(contact):  # 837P 2310C PER (837I: none)
            out.append(_per(self.el, contact))
        return out

    def other_payers(self, claim: Claim) -> list[str]:
        el = self.el
        out: list[str] = []
        seen = {claim.coverage.responsibility}
        lines_by_payer: set[str] = {adj.payer_id for line in claim.lines for adj in line.adjudications}
        for k, other in enumerate(claim.other_payers):
            loop = f"2320[{k + 1}]"
            coverage = other.coverage
            if coverage.responsibility in seen:
                raise _BadValue(
                    f"{loop} SBR01",
                    f"payer responsibility {coverage.responsibility.value} is already used on this claim",
                )
            seen.add(coverage.responsibility)
            out.append(self.sbr(coverage, coverage.relationship.value, loop))
            out.extend(self.cas(other.adjustments))
            if other.paid_amount is not None:
                out.append(el.segment("AMT", "D", format_r(other.paid_amount)))
            if other.remaining_patient_liability is not None:
                out.append(el.segment("AMT", "EAF", format_r(other.remaining_patient_liability)))
            if self.professional:
                out.append(
                    el.segment(
                        "OI",
                        "",
                        "",
                        claim.benefits_assigned.value,
                        claim.patient_signature_source.value if claim.patient_signature_source else "",
                        "",
                        claim.release_of_information.value,
                    )
                )
            else:
                out.append(
                    el.segment("OI", "", "", claim.benefits_assigned.value, "", "", claim.release_of_information.value)
                )
            sub = coverage.subscriber
            out.append(self.person_name("IL", sub, f"{loop} 2330A", "MI", self.member_id(sub, f"{loop} 2330A")))
            if sub.address is not None:
                out.extend(self.address(sub.address, f"{loop} 2330A"))
            out.extend(self.payer_name(coverage, f"{loop} 2330B"))
            payer_id = coverage.payer.payer_id
            if other.paid_amount is not None and other.adjudication_date and payer_id not in lines_by_payer:
                # 2330B DTP*573: when this payer adjudicated the claim and no 2430 carries the date
                out.append(el.segment("DTP", "573", "D8", format_d8(other.adjudication_date)))
            if other.payer_claim_control_number:
                out.append(
                    el.segment("REF", "F8", el.ident(other.payer_claim_control_number, f"{loop} 2330B REF02 (F8)", 50))
                )
        return out

    def drug(self, line: ServiceLine, loop: str) -> list[str]:
        drug = line.drug
        if drug is None:
            return []
        el = self.el
        ndc = el.ident(drug.ndc, f"{loop} LIN03", 11, min_len=11)
        if not ndc.isdigit():
            raise _BadValue(f"{loop} LIN03", f"NDC {drug.ndc!r} is not 11 digits (5-4-2 without dashes)")
        return [
            el.segment("LIN", "", "N4", ndc),
            el.segment("CTP", "", "", "", format_r(drug.quantity), drug.unit.value),
        ]

    def service_date(self, start: dt.date, end: dt.date | None) -> str:
        """2400 DTP*472: D8, or RD8 for a range."""
        if end is not None and end != start:
            return self.el.segment("DTP", "472", "RD8", format_rd8(start, end))
        return self.el.segment("DTP", "472", "D8", format_d8(start))

    def line_adjudications(self, line: ServiceLine, loop: str) -> list[str]:
        el = self.el
        out: list[str] = []
        for adj in line.adjudications:
            out.append(self.svd(line, adj, loop))
            out.extend(self.cas(adj.adjustments))
            out.append(el.segment("DTP", "573", "D8", format_d8(adj.adjudication_date)))
        return out

    def svd(self, line: ServiceLine, adj: LineAdjudication, loop: str) -> str:
        el = self.el
        if adj.procedure is not None:
            procedure: str = self.procedure(adj.procedure, adj.modifiers, None)
        elif line.procedure is not None:
            procedure = self.procedure(line.procedure, line.modifiers, None)
        else:
            procedure = ""
        payer = el.ident(adj.payer_id, f"{loop} SVD01", 80, min_len=2)
        if self.professional:
            if not procedure:
                raise _BadValue(f"{loop} SVD03", "the adjudicated procedure is missing")
            return el.segment("SVD", payer, format_r(adj.paid_amount), procedure, "", format_r(adj.paid_units))
        revenue = adj.revenue_code or line.revenue_code
        return el.segment(
            "SVD",
            payer,
            format_r(adj.paid_amount),
            procedure,
            revenue.value if revenue is not None else "",
            format_r(adj.paid_units),
        )

    def professional_line(self, claim: Claim, line: ServiceLine, rendering: Provider) -> list[str]:
        el = self.el
        segment = el.segment
        assert line.procedure is not None  # claim_problems: an 837P line needs a procedure
        pos = ""
        if line.place_of_service is not None and line.place_of_service != claim.place_of_service:
            pos = line.place_of_service.value
        out = [
            segment("LX", str(line.line_number)),
            segment(
                "SV1",
                self.procedure(line.procedure, line.modifiers, line.description),
                format_r(line.charge),
                line.unit_type,  # a StrEnum is its X12 value
                format_r(line.units),
                pos,
                "",
                el.composite(*map(str, line.diagnosis_pointers)),
            ),
        ]
        if line.service_date is not None:
            out.append(self.service_date(line.service_date, line.service_date_to))
        if line.prior_authorization or line.control_number or line.drug:
            loop = f"2400[{line.line_number}]"
            if line.prior_authorization:
                out.append(segment("REF", "G1", el.ident(line.prior_authorization, f"{loop} REF02 (G1)", 50)))
            if line.control_number:
                out.append(segment("REF", "6R", el.ident(line.control_number, f"{loop} REF02 (6R)", 50)))
            out.extend(self.drug(line, f"{loop} 2410"))
        if line.rendering_provider is not None and not _same_provider(line.rendering_provider, rendering):
            loop = f"2400[{line.line_number}] 2420A"
            out.append(self.name("82", line.rendering_provider, loop))
            if line.rendering_provider.taxonomy:
                out.append(segment("PRV", "PE", "PXC", el.ident(line.rendering_provider.taxonomy, f"{loop} PRV03", 50)))
        ordering = line.ordering_provider
        if ordering is not None:
            loop = f"2400[{line.line_number}] 2420E"
            out.append(self.name("DK", ordering, loop, person_only=True))
            if ordering.address is not None:  # 2420E N3/N4: situational (DME lines), carried when known
                out.extend(self.address(ordering.address, loop))
            if ordering.contact is not None and _has_number(ordering.contact):
                out.append(_per(el, ordering.contact))
        if line.adjudications:
            out.extend(self.line_adjudications(line, f"2400[{line.line_number}] 2430"))
        return out

    # -- 837I ---------------------------------------------------------------------------------------

    def institutional_claim(self, claim: Claim) -> list[str]:
        el = self.el
        info = claim.institutional
        assert info is not None  # claim_problems: an institutional claim needs institutional info
        assert info.statement_from is not None and info.statement_to is not None
        if not info.patient_status:
            raise _BadValue("2300 CL103", "the patient status (discharge status) is missing")
        if not info.admission_type:
            # CL101 is Required in the 837I TR3 (priority/type of admission or visit, UB-04 FL 14)
            raise _BadValue("2300 CL101", "the admission type (priority of the visit) is missing")
        out = [
            el.segment(
                "CLM",
                self.clm01(claim),
                format_r(claim.total_charge),
                "",
                "",
                el.composite(info.facility_type_code, "A", claim.frequency.value),
                "",
                claim.assignment.value,
                claim.benefits_assigned.value,
                claim.release_of_information.value,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                claim.delay_reason or "",
            )
        ]
        if info.discharge_time is not None:
            out.append(el.segment("DTP", "096", "TM", f"{info.discharge_time:%H%M}"))
        out.append(el.segment("DTP", "434", "RD8", format_rd8(info.statement_from, info.statement_to)))
        if info.admission_date is not None:
            if info.admission_time is not None:
                out.append(
                    el.segment("DTP", "435", "DT", f"{format_d8(info.admission_date)}{info.admission_time:%H%M}")
                )
            else:
                out.append(el.segment("DTP", "435", "D8", format_d8(info.admission_date)))
        elif info.admission_time is not None:
            raise _BadValue("2300 DTP03 (435)", "an admission hour without the admission date")
        out.append(el.segment("CL1", info.admission_type, info.admission_source or "", info.patient_status))
        out.extend(self.claim_common_refs(claim))
        if claim.accident_state:
            out.append(el.segment("REF", "LU", el.ident(claim.accident_state, "2300 REF02 (LU)", 2, min_len=2)))
        if claim.medical_record_number:
            out.append(el.segment("REF", "EA", el.ident(claim.medical_record_number, "2300 REF02 (EA)", 50)))
        if claim.note:
            out.append(el.segment("NTE", "ADD", el.text(claim.note, 80)))
        out.extend(self.institutional_hi(claim))
        billing = claim.billing_provider
        attending = info.attending_provider
        if attending is not None:
            out.append(self.name("71", attending, "2310A", person_only=True))
            if attending.taxonomy:
                out.append(el.segment("PRV", "AT", "PXC", el.ident(attending.taxonomy, "2310A PRV03", 50)))
        if info.operating_provider is not None:
            out.append(self.name("72", info.operating_provider, "2310B", person_only=True))
        if info.other_operating_provider is not None:
            out.append(self.name("ZZ", info.other_operating_provider, "2310C", person_only=True))
        rendering = claim.rendering_provider
        if rendering is not None and not _same_provider(rendering, attending or billing):
            out.append(self.name("82", rendering, "2310D", person_only=True))
        out.extend(self.service_facility(claim, "2310E"))
        if claim.referring_provider is not None:
            out.append(self.name("DN", claim.referring_provider, "2310F", person_only=True))
        out.extend(self.other_payers(claim))
        effective = rendering or attending or billing
        for line in claim.lines:
            out.extend(self.institutional_line(line, effective))
        return out

    def institutional_hi(self, claim: Claim) -> list[str]:
        el = self.el
        info = claim.institutional
        assert info is not None
        by_role: dict[DiagnosisRole, list[Diagnosis]] = {role: [] for role in DiagnosisRole}
        for dx in claim.diagnoses:
            by_role[dx.role].append(dx)

        def dx_composite(qualifier: str, dx: Diagnosis, poa: bool) -> str:
            indicator = _POA[dx.poa] if (poa and dx.poa is not None) else ""
            return el.composite(qualifier, dx.code.value, "", "", "", "", "", "", indicator)

        def segments(items: list[str]) -> list[str]:
            return [el.segment("HI", *items[i : i + 12]) for i in range(0, len(items), 12)]

        out: list[str] = []
        out.extend(segments([dx_composite("ABK", dx, True) for dx in by_role[DiagnosisRole.PRINCIPAL]]))
        out.extend(segments([dx_composite("ABJ", dx, False) for dx in by_role[DiagnosisRole.ADMITTING]]))
        out.extend(segments([dx_composite("APR", dx, False) for dx in by_role[DiagnosisRole.REASON_FOR_VISIT]]))
        out.extend(segments([dx_composite("ABN", dx, True) for dx in by_role[DiagnosisRole.EXTERNAL_CAUSE]]))
        if info.drg:
            out.append(el.segment("HI", el.composite("DR", info.drg)))
        out.extend(segments([dx_composite("ABF", dx, True) for dx in by_role[DiagnosisRole.OTHER]]))
        if info.principal_procedure is not None:
            p = info.principal_procedure
            out.append(el.segment("HI", el.composite("BBR", p.code.value, "D8", format_d8(p.date))))
        out.extend(
            segments([el.composite("BBQ", p.code.value, "D8", format_d8(p.date)) for p in info.other_procedures])
        )
        out.extend(
            segments(
                [el.composite("BI", s.code, "RD8", format_rd8(s.date_from, s.date_to)) for s in info.occurrence_spans]
            )
        )
        out.extend(segments([el.composite("BH", o.code, "D8", format_d8(o.date)) for o in info.occurrence_codes]))
        out.extend(segments([el.composite("BE", v.code, "", "", format_r(v.amount)) for v in info.value_codes]))
        out.extend(segments([el.composite("BG", code) for code in info.condition_codes]))
        return out

    def institutional_line(self, line: ServiceLine, rendering: Provider) -> list[str]:
        el = self.el
        loop = f"2400[{line.line_number}]"
        assert line.revenue_code is not None  # claim_problems: an 837I line needs a revenue code
        procedure = ""
        if line.procedure is not None:
            procedure = self.procedure(line.procedure, line.modifiers, line.description)
        elif line.modifiers or line.description:
            raise _BadValue(f"{loop} SV202", "modifiers or a description without a procedure code")
        out = [
            el.segment("LX", str(line.line_number)),
            el.segment(
                "SV2",
                line.revenue_code.value,
                procedure,
                format_r(line.charge),
                line.unit_type.value,
                format_r(line.units),
                "",
                format_r(line.non_covered_charge) if line.non_covered_charge is not None else "",
            ),
        ]
        if line.service_date is not None:
            out.append(self.service_date(line.service_date, line.service_date_to))
        if line.control_number:
            out.append(el.segment("REF", "6R", el.ident(line.control_number, f"{loop} REF02 (6R)", 50)))
        out.extend(self.drug(line, f"{loop} 2410"))
        if line.rendering_provider is not None and not _same_provider(line.rendering_provider, rendering):
            out.append(self.name("82", line.rendering_provider, f"{loop} 2420C", person_only=True))
        out.extend(self.line_adjudications(line, f"{loop} 2430"))
        return out


def _same_provider(a: Provider, b: Provider) -> bool:
    """Whether two providers are the same NM1 entity: the same NPI, or (no NPIs) the same record."""
    if a.npi and b.npi:
        return a.npi == b.npi
    return a.npi is None and b.npi is None and replace(a, role=b.role) == b


class _ClaimProblem(Exception):
    def __init__(self, path: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint

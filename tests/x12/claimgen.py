"""A deterministic generator of varied, internally consistent claims for the 837 writer tests.

``professional_claims(n)`` and ``institutional_claims(n)`` return claims with no ``claim_problems()``
problem, covering what the writers must carry: subscriber-is-patient and dependents (child, spouse),
several billing providers (organization and solo practitioner, pay-to addresses, a service facility equal
to and different from the billing provider), replacement (7) and void (8) claims with the payer's claim
number, 1 to 12 diagnoses (837P) / 25 (837I) with POA indicators of every kind, 1 to 50 lines, 1 to 4
modifiers and pointers, NDCs, not-otherwise-classified codes with descriptions, line places of service
and date ranges, COB secondary and tertiary claims with claim-level and line-level adjudications (CAS
groups with up to 6 reasons), Medicare secondary with SBR05, institutional 11x/13x with admission and
discharge hours, value/occurrence/span/condition codes, DRG and ICD-10-PCS procedures. Names and
addresses are made up (TEST...); a few carry delimiter characters and accents on purpose.

The same seed gives the same claims, so a failure can be reproduced by its claim id.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from decimal import Decimal

from medbill.core.claim import (
    Address,
    AdjustmentGroup,
    AssignmentCode,
    BenefitsAssignment,
    Claim,
    ClaimAdjustment,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimKind,
    Contact,
    Coverage,
    Diagnosis,
    DiagnosisRole,
    Drug,
    EntityType,
    InstitutionalInfo,
    InsuranceType,
    LineAdjudication,
    NdcUnit,
    Occurrence,
    OccurrenceSpan,
    OtherPayer,
    Patient,
    Payer,
    PcsProcedure,
    PresentOnAdmission,
    Provider,
    ProviderRole,
    RelatedCause,
    Relationship,
    ReleaseOfInformation,
    Responsibility,
    ServiceLine,
    Sex,
    Subscriber,
    TaxIdType,
    UnitType,
    ValueCode,
    npi_check_digit,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.money import money

SEED = 20250801

DX = (
    "E11.9 E11.22 E78.5 I10 I25.10 I48.91 J45.909 J06.9 J18.9 K21.9 M17.11 M54.50 M79.604 N18.3 N39.0 "
    "R07.89 R05.9 R10.9 R51.9 Z00.00 Z23 Z79.4 F41.1 F32.A G43.909 H52.4 L03.115 S01.81XA S52.501A "
    "S93.401A T36.0X1A O09.513 Z34.01 E66.9 E55.9 D64.9 B34.9 K59.00 R73.03 I50.9 J44.1 N40.0 M25.561"
).split()
EXTERNAL = "W01.0XXA W19.XXXA V43.52XA X58.XXXA Y92.009 Y93.89".split()
CPT = "99213 99214 99215 99203 99204 20610 12011 93000 93005 85025 80053 71046 36415 90471 90715 97110 97140".split()
HCPCS = "G0439 G0008 J1100 J0696 A4550 E0114 L3908 Q4051".split()
NOC = "J3490 J3590 J9999 J7699 E1399 L8699".split()
MODS = "25 59 RT LT XU 76 91 GT 95 TC 26 QW KX GA".split()
POS = "11 22 19 21 23 02 10 12".split()
REV_OUT = "0250 0300 0320 0360 0450 0636 0730 0762".split()
REV_IN = "0120 0250 0270 0300 0360 0370 0710".split()
PCS = "027034Z 02C03ZZ 0DTJ4ZZ 0SR9019 5A1955Z 0W9G3ZZ 3E0234Z B2111ZZ 4A023N6 0FT44ZZ 0BH17EZ 30233N1".split()
CONDITION = "01 02 09 39 40 44 A1 B3 C1 D9".split()
OCCURRENCE = "01 02 11 24 31 42 A1 A2".split()
SPAN = "70 71 74 M2".split()
VALUE = "01 02 12 14 31 50 80 81 A1 D3".split()
CARC_CO = "45 253 97 59 94 B7".split()
CARC_PR = "1 2 3".split()
CARC_OA = "23 18 209".split()


def _npi(n: int) -> str:
    base = f"1{n:08d}"
    return base + npi_check_digit(base)


def _code(text: str, system: CodeSystem) -> Code:
    return Code.parse(text, system=system)


def _addr(rng: random.Random, *, zip9: bool, n: int) -> Address:
    zip5 = f"{21000 + n % 900:05d}"
    return Address(
        line1=f"{100 + n} TEST {rng.choice(['AVENUE', 'STREET', 'ROAD', 'LANE'])}",
        line2=rng.choice([None, None, f"SUITE {n % 40 + 1}"]),
        city=rng.choice(["ANYTOWN", "TESTVILLE", "SAMPLE CITY"]),
        state=rng.choice(["MD", "VA", "PA", "DE"]),
        zip=zip5 + (f"{n % 10000:04d}" if zip9 else rng.choice(["", f"{n % 10000:04d}"])),
    )


class _World:
    """Providers, payers and families shared by many claims, so the HL grouping has work to do."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.orgs = [
            Provider(
                role=ProviderRole.BILLING,
                organization_name=f"TESTCLINIC {name}",
                npi=_npi(100 + i),
                taxonomy="207Q00000X",
                tax_id=f"99000{i:04d}",
                tax_id_type=TaxIdType.EIN,
                address=_addr(rng, zip9=True, n=i),
                contact=Contact(name="TESTBILLER, DELTA", phone=f"555555{i:04d}", email="billing@example.test"),
            )
            for i, name in enumerate(["FAMILY PRACTICE", "ORTHOPEDICS", "PEDIATRICS"])
        ]
        self.solo = Provider(
            role=ProviderRole.BILLING,
            entity_type=EntityType.PERSON,
            last_name="TESTSOLO",
            first_name="OSCAR",
            middle_name="P",
            suffix="JR",
            npi=_npi(150),
            taxonomy="208D00000X",
            tax_id="990001500",
            tax_id_type=TaxIdType.SSN,
            address=_addr(rng, zip9=True, n=150),
        )
        self.hospitals = [
            Provider(
                role=ProviderRole.BILLING,
                organization_name=f"TESTHOSPITAL {name}",
                npi=_npi(200 + i),
                taxonomy="282N00000X",
                tax_id=f"99100{i:04d}",
                tax_id_type=TaxIdType.EIN,
                address=_addr(rng, zip9=True, n=200 + i),
                contact=Contact(name="TESTPATIENT ACCOUNTS", phone=f"555556{i:04d}", phone_extension="12"),
            )
            for i, name in enumerate(["GENERAL", "COMMUNITY"])
        ]
        self.doctors = [
            Provider(
                role=ProviderRole.RENDERING,
                entity_type=EntityType.PERSON,
                last_name=f"TESTDOCTOR{chr(65 + i)}",
                first_name=rng.choice(["ALEX", "JORDAN", "CASEY", "RENÉ", "TAYLOR"]),
                npi=_npi(300 + i),
                taxonomy=rng.choice(["207Q00000X", "207X00000X", "208000000X", "207RC0000X"]),
            )
            for i in range(6)
        ]
        self.payers = [
            Payer(
                name="TEST COMMERCIAL HEALTH PLAN",
                payer_id="TESTCI001",
                filing_indicator=ClaimFilingIndicator.COMMERCIAL,
                address=Address(line1="PO BOX 1000", city="ANYTOWN", state="MD", zip="21244"),
            ),
            Payer(
                name="TEST BLUE PLAN",
                payer_id="TESTBL002",
                filing_indicator=ClaimFilingIndicator.BLUE_CROSS_BLUE_SHIELD,
            ),
            Payer(name="TEST HMO", payer_id="TESTHM003", filing_indicator=ClaimFilingIndicator.HMO),
            Payer(name="TEST MEDICAID", payer_id="TESTMC004", filing_indicator=ClaimFilingIndicator.MEDICAID),
        ]
        self.medicare_b = Payer(
            name="TEST MEDICARE CARRIER", payer_id="TESTMB001", filing_indicator=ClaimFilingIndicator.MEDICARE_PART_B
        )
        self.medicare_a = Payer(
            name="TEST MEDICARE PART A", payer_id="TESTMA001", filing_indicator=ClaimFilingIndicator.MEDICARE_PART_A
        )
        self.families = [self._family(i) for i in range(40)]

    def _family(self, i: int) -> tuple[Subscriber, Subscriber, list[tuple[Patient, Relationship]]]:
        rng = self.rng
        home = _addr(rng, zip9=False, n=1000 + i)
        last = f"TESTFAMILY{i:02d}" if i % 13 else "O'NEIL*SMITH~JR"  # delimiters in a name on purpose
        sub = Subscriber(
            member_id=f"TESTMEM{i:04d}",
            group_number=rng.choice([None, f"TESTGRP{i % 7:02d}"]),
            group_name=rng.choice([None, "TEST EMPLOYER GROUP"]),
            last_name=last,
            first_name=rng.choice(["ALPHA", "BRAVO", "CHARLIE", "ZOË", "DELTA"]),
            middle_name=rng.choice([None, "Q"]),
            date_of_birth=dt.date(1950 + i % 40, 1 + i % 12, 1 + i % 28),
            sex=rng.choice([Sex.FEMALE, Sex.MALE]),
            address=home,
        )
        second = Subscriber(
            member_id=f"TESTOTH{i:04d}",
            group_number=f"TESTSEC{i % 5:02d}",
            last_name=last,
            first_name=sub.first_name,
            date_of_birth=sub.date_of_birth,
            sex=sub.sex,
            address=home,
        )
        dependents = [
            (
                Patient(
                    last_name=last,
                    first_name=f"KID{k}",
                    date_of_birth=dt.date(2010 + k, 2 + k, 10),
                    sex=rng.choice([Sex.FEMALE, Sex.MALE, Sex.UNKNOWN]),
                    address=home,
                ),
                Relationship.CHILD,
            )
            for k in range(1 + i % 3)
        ]
        dependents.append(
            (
                Patient(
                    last_name=last,
                    first_name="SPOUSE",
                    date_of_birth=dt.date(1960 + i % 30, 6, 1),
                    sex=Sex.FEMALE,
                    address=home,
                ),
                Relationship.SPOUSE,
            )
        )
        return sub, second, dependents


def _cas_split(rng: random.Random, amount: Decimal, *, groups: int, max_reasons: int) -> tuple[ClaimAdjustment, ...]:
    """``amount`` split into adjustments over ``groups`` groups with up to ``max_reasons`` reasons each."""
    out: list[ClaimAdjustment] = []
    choices = [
        (AdjustmentGroup.CONTRACTUAL, CARC_CO),
        (AdjustmentGroup.PATIENT_RESPONSIBILITY, CARC_PR),
        (AdjustmentGroup.OTHER, CARC_OA),
    ][:groups]
    pieces: list[tuple[AdjustmentGroup, str]] = []
    for group, reasons in choices:
        count = rng.randint(1, min(max_reasons, len(reasons)))
        pieces.extend((group, reason) for reason in rng.sample(reasons, count))
    cents = int(amount * 100)
    if cents < len(pieces):  # no zero-amount adjustment: drop reasons rather than send CAS amounts of 0
        pieces = pieces[: max(cents, 0)]
    remaining = cents
    for k, (group, reason) in enumerate(pieces):
        left = len(pieces) - k - 1
        share = remaining if left == 0 else rng.randint(1, remaining - left)
        remaining -= share
        quantity = Decimal(rng.choice([1, 2])) if rng.random() < 0.2 else None
        out.append(
            ClaimAdjustment(
                group=group,
                reason=_code(reason, CodeSystem.CARC),
                amount=money(Decimal(share) / 100),
                quantity=quantity,
            )
        )
    return tuple(out)


def _split_paid(rng: random.Random, charge: Decimal) -> tuple[Decimal, Decimal]:
    """(paid, adjusted) with paid + adjusted == charge."""
    cents = int(charge * 100)
    paid = rng.randint(0, cents)
    return money(Decimal(paid) / 100), money(Decimal(cents - paid) / 100)


def _charge(rng: random.Random, low: int, high: int) -> Decimal:
    return money(Decimal(rng.randint(low * 100, high * 100)) / 100)


def _cob(
    rng: random.Random,
    world: _World,
    lines: list[ServiceLine],
    subscriber: Subscriber,
    relationship: Relationship,
    *,
    tertiary: bool,
    institutional: bool,
) -> tuple[list[ServiceLine], tuple[OtherPayer, ...]]:
    """Prior payers' adjudications that balance: line level (2430) for the first, claim level for a second."""
    total = sum((line.charge for line in lines), Decimal("0.00"))
    adjudicated = dt.date(2025, 5, 27)
    first_payer = world.payers[rng.randrange(len(world.payers))]
    other_sub = Subscriber(
        member_id=subscriber.member_id.replace("MEM", "OTH") if subscriber.member_id else "TESTOTH",
        group_number="TESTSECGRP",
        last_name=subscriber.last_name,
        first_name=subscriber.first_name,
        date_of_birth=subscriber.date_of_birth,
        sex=subscriber.sex,
        address=subscriber.address if rng.random() < 0.5 else None,
    )
    line_level = rng.random() < 0.6
    new_lines = lines
    if line_level:
        new_lines = []
        paid_sum = Decimal("0.00")
        for line in lines:
            paid, adjusted = _split_paid(rng, line.charge)
            paid_sum += paid
            adj = LineAdjudication(
                payer_id=first_payer.payer_id or "",
                paid_amount=paid,
                procedure=line.procedure if rng.random() < 0.7 else None,
                modifiers=line.modifiers if rng.random() < 0.5 else (),
                revenue_code=line.revenue_code if institutional and rng.random() < 0.5 else None,
                paid_units=line.units,
                adjustments=_cas_split(rng, adjusted, groups=rng.randint(1, 3), max_reasons=6),
                adjudication_date=adjudicated,
            )
            new_lines.append(replace(line, adjudications=(adj,)))
        # a claim-level adjustment (sequestration) taken out of the line payments
        claim_adj = min(paid_sum, money("1.50")) if rng.random() < 0.5 else Decimal("0.00")
        claim_cas: tuple[ClaimAdjustment, ...] = ()
        if claim_adj:
            claim_cas = (
                ClaimAdjustment(
                    group=AdjustmentGroup.CONTRACTUAL, reason=_code("253", CodeSystem.CARC), amount=claim_adj
                ),
            )
        first = OtherPayer(
            coverage=Coverage(
                payer=first_payer,
                subscriber=other_sub,
                responsibility=Responsibility.PRIMARY,
                relationship=relationship,
            ),
            paid_amount=paid_sum - claim_adj,
            adjustments=claim_cas,
            adjudication_date=adjudicated,
            payer_claim_control_number=f"TESTICN{rng.randint(0, 10**8):08d}",
            remaining_patient_liability=money(Decimal(rng.randint(0, 5000)) / 100) if rng.random() < 0.6 else None,
        )
    else:
        paid, adjusted = _split_paid(rng, total)
        first = OtherPayer(
            coverage=Coverage(
                payer=first_payer,
                subscriber=other_sub,
                responsibility=Responsibility.PRIMARY,
                relationship=relationship,
            ),
            paid_amount=paid,
            adjustments=_cas_split(rng, adjusted, groups=rng.randint(1, 3), max_reasons=6),
            adjudication_date=adjudicated,
            payer_claim_control_number=f"TESTICN{rng.randint(0, 10**8):08d}",
        )
    others = [first]
    if tertiary:
        paid, adjusted = _split_paid(rng, total)
        second_payer = world.payers[(world.payers.index(first_payer) + 1) % len(world.payers)]
        others.append(
            OtherPayer(
                coverage=Coverage(
                    payer=second_payer,
                    subscriber=replace(other_sub, member_id="TESTTER0001"),
                    responsibility=Responsibility.SECONDARY,
                    relationship=relationship,
                ),
                paid_amount=paid,
                adjustments=_cas_split(rng, adjusted, groups=2, max_reasons=3),
                adjudication_date=adjudicated + dt.timedelta(days=14),
                payer_claim_control_number=f"TESTICN{rng.randint(0, 10**8):08d}",
            )
        )
    return new_lines, tuple(others)


def _coverage_for(
    rng: random.Random, world: _World, i: int, *, institutional: bool
) -> tuple[Coverage, Patient | None, Subscriber, Relationship, str]:
    """The destination coverage, the patient (None = subscriber), and the COB mode."""
    sub, _second, dependents = world.families[i % len(world.families)]
    patient: Patient | None = None
    relationship = Relationship.SELF
    if rng.random() < 0.35:
        patient, relationship = dependents[rng.randrange(len(dependents))]
    mode = rng.choices(["primary", "secondary", "tertiary", "medicare_secondary", "listed"], [50, 20, 8, 12, 10])[0]
    if mode == "medicare_secondary" and patient is not None:
        mode = "secondary"
    responsibility = {
        "primary": Responsibility.PRIMARY,
        "listed": Responsibility.PRIMARY,
        "secondary": Responsibility.SECONDARY,
        "tertiary": Responsibility.TERTIARY,
        "medicare_secondary": Responsibility.SECONDARY,
    }[mode]
    if mode == "medicare_secondary":
        payer = world.medicare_a if institutional else world.medicare_b
        coverage = Coverage(
            payer=payer,
            subscriber=replace(sub, member_id=f"TESTMBI{i % 40:04d}", group_number=None, group_name=None),
            responsibility=responsibility,
            insurance_type=rng.choice(list(InsuranceType)),
        )
    else:
        payer = world.payers[(i // 3) % len(world.payers)]
        if mode in ("secondary", "tertiary"):
            payer = world.payers[(world.payers.index(payer) + 2) % len(world.payers)]
        coverage = Coverage(payer=payer, subscriber=sub, responsibility=responsibility, relationship=relationship)
    return coverage, patient, sub, relationship, mode


def _frequency(rng: random.Random, i: int, *, institutional: bool) -> tuple[ClaimFrequency, str | None]:
    roll = rng.random()
    if roll < 0.08:
        return ClaimFrequency.REPLACEMENT, f"TESTORIG{i:06d}"
    if roll < 0.13:
        return ClaimFrequency.VOID, f"TESTORIG{i:06d}"
    if institutional and roll < 0.2:
        return rng.choice([ClaimFrequency.INTERIM_FIRST, ClaimFrequency.INTERIM_CONTINUING]), None
    return ClaimFrequency.ORIGINAL, None


def professional_claims(n: int = 240, *, seed: int = SEED) -> list[Claim]:
    rng = random.Random(seed)
    world = _World(rng)
    out: list[Claim] = []
    for i in range(n):
        out.append(_professional(rng, world, i))
    return out


def _professional(rng: random.Random, world: _World, i: int) -> Claim:
    billing = world.solo if i % 9 == 4 else world.orgs[i % len(world.orgs)]
    coverage, patient, subscriber, relationship, mode = _coverage_for(rng, world, i, institutional=False)
    dx_count = 12 if i % 10 == 0 else rng.randint(1, 12)
    diagnoses = tuple(
        Diagnosis(code=_code(code, CodeSystem.ICD10CM), role=DiagnosisRole.PRINCIPAL if k == 0 else DiagnosisRole.OTHER)
        for k, code in enumerate(rng.sample(DX, dx_count))
    )
    dos = dt.date(2025, 1, 2) + dt.timedelta(days=rng.randint(0, 150))
    claim_pos = _code(rng.choice(POS), CodeSystem.POS)
    line_count = 50 if i % 25 == 7 else rng.randint(1, 8)
    if billing.entity_type is EntityType.PERSON:
        rendering: Provider | None = Provider(
            role=ProviderRole.RENDERING,
            entity_type=EntityType.PERSON,
            last_name=billing.last_name,
            first_name=billing.first_name,
            npi=billing.npi,
        )  # the same person as the billing provider: 2310B must not be written
    else:
        rendering = world.doctors[i % len(world.doctors)]
    lines: list[ServiceLine] = []
    for k in range(line_count):
        kind = rng.random()
        description = None
        drug = None
        if kind < 0.08:
            procedure = _code(rng.choice(NOC), CodeSystem.HCPCS)
            description = rng.choice(["TESTDRUG 10 MG INJECTION", "UNLISTED TEST ITEM: SIZE 4", "TEST*DEVICE~KIT"])
            if procedure.value.startswith("J"):
                drug = Drug(ndc=f"{rng.randint(0, 10**11 - 1):011d}", quantity=Decimal("1.5"), unit=NdcUnit.MILLILITER)
        elif kind < 0.2:
            procedure = _code(rng.choice(HCPCS), CodeSystem.HCPCS)
            if procedure.value.startswith("J"):
                drug = Drug(
                    ndc=f"{rng.randint(0, 10**11 - 1):011d}",
                    quantity=Decimal(rng.choice(["1", "2", "0.25", "100"])),
                    unit=rng.choice(list(NdcUnit)),
                )
        else:
            procedure = _code(rng.choice(CPT), CodeSystem.CPT)
        mods = tuple(_code(m, CodeSystem.MODIFIER) for m in rng.sample(MODS, rng.choice([0, 0, 1, 1, 2, 3, 4])))
        pointers = tuple(rng.sample(range(1, dx_count + 1), min(dx_count, rng.randint(1, 4))))
        start = dos
        end = dos + dt.timedelta(days=rng.randint(1, 5)) if rng.random() < 0.1 else None
        unit_type = UnitType.MINUTES if rng.random() < 0.03 else UnitType.UNIT
        units = Decimal(rng.choice(["1", "1", "1", "2", "3", "0.5", "15"]))
        if unit_type is UnitType.MINUTES:
            units = Decimal(rng.choice(["45", "62", "120"]))
        line_rendering = None
        if rng.random() < 0.05:
            line_rendering = world.doctors[(i + 1) % len(world.doctors)]
        elif rng.random() < 0.05 and rendering is not None:
            line_rendering = rendering  # the same as the claim's: 2420A must not be written
        ordering = None
        if rng.random() < 0.04:
            ordering = Provider(
                role=ProviderRole.ORDERING,
                entity_type=EntityType.PERSON,
                last_name="TESTORDERER",
                first_name="PAT",
                npi=_npi(400 + k % 3),
            )
        lines.append(
            ServiceLine(
                line_number=k + 1,
                procedure=procedure,
                modifiers=mods,
                units=units,
                unit_type=unit_type,
                charge=_charge(rng, 10, 900),
                place_of_service=_code(rng.choice(POS), CodeSystem.POS) if rng.random() < 0.1 else None,
                diagnosis_pointers=pointers,
                drug=drug,
                description=description,
                service_date=start,
                service_date_to=end,
                rendering_provider=line_rendering,
                ordering_provider=ordering,
                control_number=f"TESTLN{i:05d}{k:02d}" if rng.random() < 0.5 else None,
                prior_authorization=f"TESTLPA{k:03d}" if rng.random() < 0.03 else None,
            )
        )
    other_payers: tuple[OtherPayer, ...] = ()
    if mode in ("secondary", "tertiary", "medicare_secondary"):
        lines, other_payers = _cob(
            rng, world, lines, subscriber, relationship, tertiary=mode == "tertiary", institutional=False
        )
    elif mode == "listed":
        # a primary claim that lists the patient's other coverage, not yet adjudicated
        _sub, second, _deps = world.families[i % len(world.families)]
        other_payers = (
            OtherPayer(
                coverage=Coverage(
                    payer=world.payers[(i + 1) % len(world.payers)],
                    subscriber=second,
                    responsibility=Responsibility.SECONDARY,
                    relationship=relationship,
                )
            ),
        )
    frequency, original = _frequency(rng, i, institutional=False)
    related: tuple[RelatedCause, ...] = ()
    accident_state = None
    accident_date = None
    if rng.random() < 0.08:
        related = tuple(
            rng.sample([RelatedCause.AUTO_ACCIDENT, RelatedCause.EMPLOYMENT, RelatedCause.OTHER_ACCIDENT], 2)
        )
        if RelatedCause.AUTO_ACCIDENT in related:
            accident_state = "MD"
        accident_date = dos - dt.timedelta(days=3)
    service_facility = None
    roll = rng.random()
    if roll < 0.15:
        service_facility = Provider(
            role=ProviderRole.SERVICE_FACILITY,
            organization_name="TEST AMBULATORY SURGERY CENTER",
            npi=_npi(500),
            address=_addr(rng, zip9=True, n=500),
        )
    elif roll < 0.25:
        service_facility = Provider(
            role=ProviderRole.SERVICE_FACILITY,
            organization_name=billing.name,
            npi=billing.npi,
            address=billing.address,
        )  # equal to the billing provider: 2310C must not be written
    pay_to = None
    if billing is world.orgs[1]:
        pay_to = Provider(
            role=ProviderRole.PAY_TO,
            organization_name="TEST LOCKBOX",
            address=Address(line1="PO BOX 9999", city="ANYTOWN", state="MD", zip="212449999"),
        )
    return Claim(
        id=f"TESTP{i:06d}",
        kind=ClaimKind.PROFESSIONAL,
        frequency=frequency,
        original_claim_number=original,
        billing_provider=billing,
        pay_to_provider=pay_to,
        rendering_provider=rendering if rng.random() < 0.9 else None,
        referring_provider=Provider(
            role=ProviderRole.REFERRING,
            entity_type=EntityType.PERSON,
            last_name="TESTREFERRER",
            first_name="ECHO",
            npi=_npi(600),
        )
        if rng.random() < 0.2
        else None,
        supervising_provider=Provider(
            role=ProviderRole.SUPERVISING,
            entity_type=EntityType.PERSON,
            last_name="TESTSUPERVISOR",
            first_name="MIKE",
            npi=_npi(601),
        )
        if rng.random() < 0.1
        else None,
        service_facility=service_facility,
        coverage=coverage,
        patient=patient,
        other_payers=other_payers,
        diagnoses=diagnoses,
        lines=tuple(lines),
        place_of_service=claim_pos,
        provider_signature_on_file=rng.random() < 0.9,
        assignment=rng.choice(list(AssignmentCode)),
        benefits_assigned=rng.choice(list(BenefitsAssignment)),
        release_of_information=rng.choice(list(ReleaseOfInformation)),
        prior_authorization=f"TESTPA{i:05d}" if rng.random() < 0.15 else None,
        referral_number=f"TESTREF{i:04d}" if rng.random() < 0.1 else None,
        medical_record_number=f"TESTMRN{i:05d}" if rng.random() < 0.3 else None,
        delay_reason=rng.choice(["1", "7", "11"]) if rng.random() < 0.05 else None,
        related_causes=related,
        accident_state=accident_state,
        accident_date=accident_date,
        onset_date=dos - dt.timedelta(days=rng.randint(1, 60)) if rng.random() < 0.2 else None,
        note=rng.choice([None, None, None, "TEST NOTE: SEE ATTACHED", "TÉST NOTE WITH ~*: DELIMITERS"]),
    )


def institutional_claims(n: int = 160, *, seed: int = SEED + 1) -> list[Claim]:
    rng = random.Random(seed)
    world = _World(rng)
    return [_institutional(rng, world, i) for i in range(n)]


def _institutional(rng: random.Random, world: _World, i: int) -> Claim:
    billing = world.hospitals[i % len(world.hospitals)]
    inpatient = i % 2 == 0
    coverage, patient, subscriber, relationship, mode = _coverage_for(rng, world, i, institutional=True)
    start = dt.date(2025, 1, 5) + dt.timedelta(days=rng.randint(0, 150))
    end = start + dt.timedelta(days=rng.randint(1, 9)) if inpatient else start
    poa_values = list(PresentOnAdmission)
    other_count = 24 if i % 10 == 0 else rng.randint(0, 10)
    codes = rng.sample(DX, 1 + other_count)
    diagnoses: list[Diagnosis] = [
        Diagnosis(
            code=_code(codes[0], CodeSystem.ICD10CM),
            role=DiagnosisRole.PRINCIPAL,
            poa=rng.choice(poa_values) if inpatient else None,
        )
    ]
    diagnoses.extend(
        Diagnosis(code=_code(code, CodeSystem.ICD10CM), poa=rng.choice(poa_values) if inpatient else None)
        for code in codes[1:]
    )
    if inpatient:
        diagnoses.append(Diagnosis(code=_code(rng.choice(DX), CodeSystem.ICD10CM), role=DiagnosisRole.ADMITTING))
    else:
        for code in rng.sample(DX, rng.randint(0, 3)):
            diagnoses.append(Diagnosis(code=_code(code, CodeSystem.ICD10CM), role=DiagnosisRole.REASON_FOR_VISIT))
    if rng.random() < 0.3:
        for code in rng.sample(EXTERNAL, rng.randint(1, 4)):
            diagnoses.append(
                Diagnosis(
                    code=_code(code, CodeSystem.ICD10CM),
                    role=DiagnosisRole.EXTERNAL_CAUSE,
                    poa=rng.choice(poa_values) if inpatient else None,
                )
            )
    rng.shuffle(diagnoses)  # roles, not positions, decide the qualifiers
    line_count = 60 if i % 40 == 3 else rng.randint(1, 12)
    lines: list[ServiceLine] = []
    for k in range(line_count):
        if inpatient:
            rev = _code(rng.choice(REV_IN), CodeSystem.REVENUE)
            procedure = None
            if rev.value == "0250" and rng.random() < 0.3:
                procedure = _code(rng.choice(NOC[:4]), CodeSystem.HCPCS)
            line_date = None
        else:
            rev = _code(rng.choice(REV_OUT), CodeSystem.REVENUE)
            if rng.random() < 0.7:
                procedure = _code(rng.choice(CPT), CodeSystem.CPT)
            else:
                procedure = _code(rng.choice(HCPCS + NOC[:2]), CodeSystem.HCPCS)
            line_date = start
        description = None
        drug = None
        if procedure is not None and procedure.value in NOC:
            description = "TESTDRUG UNCLASSIFIED 5 MG"
            drug = Drug(ndc=f"{rng.randint(0, 10**11 - 1):011d}", quantity=Decimal("2"), unit=NdcUnit.UNIT)
        mods = ()
        if procedure is not None and rng.random() < 0.3:
            mods = tuple(_code(m, CodeSystem.MODIFIER) for m in rng.sample(MODS, rng.randint(1, 4)))
        charge = _charge(rng, 20, 9000)
        lines.append(
            ServiceLine(
                line_number=k + 1,
                revenue_code=rev,
                procedure=procedure,
                modifiers=mods,
                units=Decimal(rng.randint(1, 12)),
                charge=charge,
                non_covered_charge=(charge / 4).quantize(Decimal("0.01")) if rng.random() < 0.05 else None,
                service_date=line_date,
                drug=drug,
                description=description,
                control_number=f"TESTIL{i:05d}{k:02d}" if rng.random() < 0.4 else None,
                rendering_provider=world.doctors[k % len(world.doctors)] if rng.random() < 0.04 else None,
            )
        )
    other_payers: tuple[OtherPayer, ...] = ()
    if mode in ("secondary", "tertiary", "medicare_secondary"):
        lines, other_payers = _cob(
            rng, world, lines, subscriber, relationship, tertiary=mode == "tertiary", institutional=True
        )
    attending = replace(world.doctors[i % len(world.doctors)], role=ProviderRole.ATTENDING)
    frequency, original = _frequency(rng, i, institutional=True)
    pcs_count = rng.randint(0, 25 if i % 10 == 2 else 4) if inpatient else 0
    procedures = [
        PcsProcedure(code=_code(code, CodeSystem.ICD10PCS), date=start + dt.timedelta(days=rng.randint(0, 1)))
        for code in (rng.sample(PCS, min(pcs_count, len(PCS))) + rng.choices(PCS, k=max(0, pcs_count - len(PCS))))
    ]
    value_codes = tuple(
        ValueCode(code=code, amount=_charge(rng, 1, 500)) for code in rng.sample(VALUE, rng.randint(0, 4))
    )
    if i % 10 == 4:
        value_codes = tuple(ValueCode(code=f"{k:02d}", amount=money(k * 3)) for k in range(1, 25))  # 24: two HI
    info = InstitutionalInfo(
        facility_type_code="11" if inpatient else rng.choice(["13", "13", "14", "85"]),
        admission_date=start if inpatient or rng.random() < 0.2 else None,
        admission_time=dt.time(rng.randint(0, 23), rng.choice([0, 15, 30, 45]))
        if inpatient and rng.random() < 0.7
        else None,
        admission_type=rng.choice(["1", "2", "3", "9"]) if inpatient else rng.choice(["1", "2", "3"]),
        admission_source=rng.choice(["1", "2", "7", "9"]) if inpatient else None,
        discharge_time=dt.time(rng.randint(8, 18), 0) if inpatient and frequency is ClaimFrequency.ORIGINAL else None,
        patient_status=rng.choice(["01", "02", "06", "20", "30"]) if inpatient else "01",
        statement_from=start,
        statement_to=end,
        condition_codes=tuple(rng.sample(CONDITION, rng.randint(0, 4))),
        occurrence_codes=tuple(
            Occurrence(code=code, date=start - dt.timedelta(days=rng.randint(0, 10)))
            for code in rng.sample(OCCURRENCE, rng.randint(0, 3))
        ),
        occurrence_spans=tuple(
            OccurrenceSpan(code=code, date_from=start, date_to=end) for code in rng.sample(SPAN, rng.randint(0, 2))
        ),
        value_codes=value_codes,
        principal_procedure=procedures[0] if procedures else None,
        other_procedures=tuple(procedures[1:]),
        attending_provider=attending,
        operating_provider=replace(world.doctors[(i + 2) % len(world.doctors)], role=ProviderRole.OPERATING)
        if procedures
        else None,
        other_operating_provider=replace(world.doctors[(i + 3) % len(world.doctors)], role=ProviderRole.OTHER_OPERATING)
        if len(procedures) > 2
        else None,
        drg=f"{rng.randint(1, 999):03d}" if inpatient and rng.random() < 0.3 else None,
    )
    rendering = None
    roll = rng.random()
    if roll < 0.1:
        rendering = world.doctors[(i + 4) % len(world.doctors)]
    elif roll < 0.2:
        rendering = Provider(
            role=ProviderRole.RENDERING,
            entity_type=EntityType.PERSON,
            last_name=attending.last_name,
            first_name=attending.first_name,
            npi=attending.npi,
        )  # the attending provider again: 2310D must not be written
    return Claim(
        id=f"TESTI{i:06d}",
        kind=ClaimKind.INSTITUTIONAL,
        frequency=frequency,
        original_claim_number=original,
        billing_provider=billing,
        rendering_provider=rendering,
        referring_provider=Provider(
            role=ProviderRole.REFERRING,
            entity_type=EntityType.PERSON,
            last_name="TESTREFERRER",
            first_name="ECHO",
            npi=_npi(600),
        )
        if rng.random() < 0.1
        else None,
        service_facility=Provider(
            role=ProviderRole.SERVICE_FACILITY,
            organization_name="TEST OUTPATIENT PAVILION",
            npi=_npi(700),
            address=_addr(rng, zip9=True, n=700),
        )
        if rng.random() < 0.1
        else None,
        coverage=coverage,
        patient=patient,
        other_payers=other_payers,
        diagnoses=tuple(diagnoses),
        lines=tuple(lines),
        assignment=rng.choice(list(AssignmentCode)),
        benefits_assigned=rng.choice(list(BenefitsAssignment)),
        release_of_information=rng.choice(list(ReleaseOfInformation)),
        prior_authorization=f"TESTPA{i:05d}" if rng.random() < 0.2 else None,
        medical_record_number=f"TESTMRN{i:05d}",
        accident_state="VA" if rng.random() < 0.05 else None,
        institutional=info,
        note="TEST BILLING NOTE" if rng.random() < 0.1 else None,
    )

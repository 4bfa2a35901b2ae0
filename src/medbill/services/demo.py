"""``medbill demo``: a practice with synthetic patients, payers, fee schedules, encounters and notes.

``create_demo(db, seed=7, patients=40)`` creates the practice "Demo Family Medicine" with:

- 3 rendering providers and the clinic as billing provider, every NPI valid (Luhn check digit, 80840
  prefix; made up, so they may or may not belong to a real NPPES record — they are demo data);
- 4 payers: a Medicare-like (filing MB), two commercial (CI, BL) and a Medicaid-like (MC) plan, each with
  a payer id;
- the practice's fee schedule and a contracted-rate schedule per payer for common E/M, preventive, lab,
  imaging and procedure codes (CPT/HCPCS code numbers only: no CPT descriptors anywhere);
- ``patients`` synthetic patients (Faker, seeded) with primary coverage — Medicare from 65, Medicaid or
  commercial below — and for some a secondary coverage; children are covered as dependants;
- about 3 encounters each, with a short note written from a clinical template whose diagnoses agree
  with it: type 2 diabetes with stage 3a CKD, hypertension, COPD exacerbation, lateral malleolus
  fracture with its side, upper respiratory infection, preventive visit; the notes deny symptoms
  ("denies chest pain") so that negation matters to a coder. Older encounters are coded, the newest
  ones left ``to_code``;
- one user per role (front desk, coder, biller, auditor, practice admin, and a system administrator)
  with a random password and a TOTP enrolment (otpauth URI), through :mod:`medbill.services.auth`.

Same seed and ``today`` → the same records (names, dates, codes); passwords and TOTP secrets are random
each time. All of it is synthetic: the printed credentials are demo credentials.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import string
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medbill.core.claim import npi_check_digit
from medbill.services import audit
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database

__all__ = ["DEMO_PRACTICE", "DemoSummary", "DemoUser", "create_demo", "create_demo_users"]

DEMO_PRACTICE = "Demo Family Medicine"


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: str
    password: str  # synthetic demo credential, shown once
    otpauth_uri: str  # holds the TOTP secret: for an authenticator app


@dataclass(frozen=True, slots=True)
class DemoSummary:
    practice_id: int
    practice_name: str
    providers: int
    payers: tuple[tuple[str, str], ...]  # (payer id, name)
    patients: int
    coverages: int
    encounters: int
    coded: int
    to_code: int
    fee_schedules: int
    users: tuple[DemoUser, ...] = field(default=())
    users_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "practice": {"id": self.practice_id, "name": self.practice_name},
            "providers": self.providers,
            "payers": [{"payer_id": p, "name": n} for p, n in self.payers],
            "patients": self.patients,
            "coverages": self.coverages,
            "encounters": {"total": self.encounters, "coded": self.coded, "to_code": self.to_code},
            "fee_schedules": self.fee_schedules,
            "users": [
                {"username": u.username, "role": u.role, "password": u.password, "otpauth_uri": u.otpauth_uri}
                for u in self.users
            ],
            **({"users_note": self.users_note} if self.users_note else {}),
        }


# --------------------------------------------------------------------------------------------- reference data
PAYERS = (
    # payer id, name, filing indicator (SBR09), timely filing days, contracted rate (share of the charge)
    ("DMCR1", "Demo Medicare Part B", "MB", 365, Decimal("0.45")),
    ("DACME", "Acme Health Plan (demo)", "CI", 180, Decimal("0.62")),
    ("DBLUE", "Blue Valley BCBS (demo)", "BL", 90, Decimal("0.66")),
    ("DMCD1", "Demo State Medicaid", "MC", 365, Decimal("0.38")),
)
FEES: dict[str, Decimal] = {
    # office visits, new and established
    "99202": Decimal("110.00"),
    "99203": Decimal("165.00"),
    "99204": Decimal("250.00"),
    "99212": Decimal("90.00"),
    "99213": Decimal("135.00"),
    "99214": Decimal("195.00"),
    "99215": Decimal("265.00"),
    # preventive
    "99385": Decimal("240.00"),
    "99386": Decimal("260.00"),
    "99395": Decimal("220.00"),
    "99396": Decimal("235.00"),
    "G0439": Decimal("180.00"),
    # lab, tests, imaging, procedures
    "36415": Decimal("12.00"),
    "83036": Decimal("38.00"),
    "80053": Decimal("45.00"),
    "82043": Decimal("30.00"),
    "93000": Decimal("60.00"),
    "94640": Decimal("55.00"),
    "94010": Decimal("75.00"),
    "73610": Decimal("95.00"),
    "29515": Decimal("140.00"),
    "87880": Decimal("32.00"),
    "90471": Decimal("28.00"),
    "90686": Decimal("42.00"),
}
PROVIDERS = (
    # taxonomy, credential used in the note signature
    ("207Q00000X", "MD"),  # family medicine
    ("207R00000X", "DO"),  # internal medicine
    ("363LF0000X", "NP"),  # family nurse practitioner
)


@dataclass(frozen=True, slots=True)
class _Scenario:
    name: str
    diagnoses: tuple[str, ...]
    procedures: tuple[tuple[str, tuple[str, ...]], ...]  # (code, modifiers)
    note: str
    min_age: int = 18


def _scenarios(rng: random.Random, age: int, sex: str) -> list[_Scenario]:
    who = f"{age}-year-old {'woman' if sex == 'F' else 'man' if sex == 'M' else 'patient'}"
    a1c = f"{rng.uniform(7.2, 9.4):.1f}"
    egfr = rng.randint(46, 58)
    bp = f"{rng.randint(142, 168)}/{rng.randint(86, 98)}"
    side = rng.choice(("right", "left"))
    displaced = rng.random() < 0.5
    fx = {
        ("right", True): "S82.61XA",
        ("left", True): "S82.62XA",
        ("right", False): "S82.64XA",
        ("left", False): "S82.65XA",
    }[(side, displaced)]
    lr = "RT" if side == "right" else "LT"
    insulin = rng.random() < 0.4
    return [
        _Scenario(
            "diabetes_ckd",
            ("E11.22", "N18.31", "Z79.4" if insulin else "Z79.84"),
            (("99214", ()), ("83036", ()), ("82043", ()), ("36415", ())),
            f"S: {who} with type 2 diabetes mellitus here for follow-up. Reports good adherence to "
            f"{'insulin glargine' if insulin else 'metformin'}. Denies polyuria, denies chest pain, no foot ulcers.\n"
            f"O: BP 132/78. Monofilament intact. Labs: HbA1c {a1c}%, eGFR {egfr} mL/min, urine albumin/creatinine "
            "ratio elevated.\n"
            "A: 1. Type 2 diabetes mellitus with diabetic chronic kidney disease. 2. Chronic kidney disease stage 3a.\n"
            "P: Continue current therapy, add SGLT2 inhibitor, recheck BMP and A1c in 3 months.",
        ),
        _Scenario(
            "hypertension",
            ("I10",),
            (("99213", ()), ("93000", ())),
            f"S: {who} with elevated home blood pressure readings for 2 weeks. Denies chest pain, denies shortness "
            "of breath, no headache or vision change.\n"
            f"O: BP {bp}, HR 76, regular. ECG: normal sinus rhythm, no acute changes.\n"
            "A: Essential hypertension, not at goal. No evidence of target organ damage.\n"
            "P: Start lisinopril 10 mg daily, low-sodium diet, recheck in 4 weeks.",
        ),
        _Scenario(
            "copd_exacerbation",
            ("J44.1", "Z87.891"),
            (("99214", ()), ("94640", ())),
            f"S: {who} with COPD presents with 4 days of increased cough, sputum and dyspnea. Denies fever, denies "
            "chest pain. Former smoker, quit 8 years ago.\n"
            "O: Diffuse expiratory wheezes, SpO2 91% on room air, improved to 95% after nebulized albuterol. "
            "Chest x-ray: no infiltrate, no evidence of pneumonia.\n"
            "A: COPD with acute exacerbation. Pneumonia ruled out.\n"
            "P: Prednisone 40 mg for 5 days, doxycycline, nebulizer treatment given in office.",
        ),
        _Scenario(
            "ankle_fracture",
            (fx, "W18.30XA"),
            (("99203", ("25",)), ("73610", (lr,)), ("29515", (lr,))),
            f"S: {who} twisted the {side} ankle after a fall on level ground yesterday. Unable to bear weight. "
            "Denies numbness or tingling, denies other injury, did not hit head.\n"
            f"O: Swelling and tenderness over the {side} lateral malleolus; neurovascularly intact. X-ray of the "
            f"{side} ankle, 3 views: {'displaced' if displaced else 'nondisplaced'} fracture of the lateral "
            "malleolus of the fibula, closed.\n"
            f"A: Closed {'displaced' if displaced else 'nondisplaced'} fracture of the {side} lateral malleolus, "
            "initial encounter.\n"
            "P: Short leg splint applied, crutches, non-weight-bearing, orthopedics referral.",
            min_age=5,
        ),
        _Scenario(
            "uri",
            ("J06.9",),
            (("99212", ()), ("87880", ())),
            f"S: {who} with 3 days of sore throat, nasal congestion and cough. Denies fever, denies shortness of "
            "breath, no ear pain.\n"
            "O: T 37.2 C, pharynx mildly erythematous without exudate, lungs clear. Rapid strep negative.\n"
            "A: Acute upper respiratory infection. Negative for streptococcal pharyngitis.\n"
            "P: Supportive care, fluids, return if fever or worsening.",
            min_age=2,
        ),
        _Scenario(
            "preventive",
            ("Z00.00", "Z23"),
            (("99396" if age >= 40 else "99395", ()), ("90471", ()), ("90686", ())),
            f"S: {who} here for annual physical examination. No complaints. Denies chest pain, denies weight loss, "
            "no change in bowel habits.\n"
            "O: Normal examination.\n"
            "A: Routine adult health examination without abnormal findings. Influenza vaccine given.\n"
            "P: Age-appropriate screening reviewed, return in one year.",
        ),
    ]


def _npi(rng: random.Random) -> str:
    first = str(rng.choice((1, 2))) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return first + npi_check_digit(first)


def _password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --------------------------------------------------------------------------------------------- the demo
def create_demo(
    db: Database,
    *,
    seed: int = 7,
    patients: int = 40,
    today: dt.date | None = None,
    with_users: bool = True,
    actor: Actor | None = None,
) -> DemoSummary:
    """Create the demo practice, its records and (``with_users``) one user per role; see the module docstring."""
    from medbill.services import auth

    if patients < 1 or patients > 10_000:
        from medbill.core.errors import ValidationFailed

        raise ValidationFailed("patients must be between 1 and 10,000", field="patients")
    admin = actor or system_actor(source="cli")
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    today = today or dt.date.today()
    info = auth.create_practice(
        db,
        actor=admin,
        name=DEMO_PRACTICE,
        npi=_npi(rng),
        tax_id=f"{rng.randint(10, 99)}{rng.randint(1000000, 9999999)}",
    )
    with db.write() as s:
        counts = _populate(s, info.id, rng, fake, today, patients)
        audit.record(
            s,
            db,
            system_actor(info.id, source=admin.source or "cli"),
            action="create",
            resource="demo",
            record_ids=[info.id],
            detail=f"demo seed {seed}: patients {counts['patients']}, encounters {counts['encounters']}",
        )
    users: tuple[DemoUser, ...] = ()
    note = None
    if with_users:
        users = create_demo_users(db, practice_id=info.id, actor=admin)
    return DemoSummary(
        practice_id=info.id,
        practice_name=info.name,
        providers=counts["providers"],
        payers=tuple((p[0], p[1]) for p in PAYERS),
        patients=counts["patients"],
        coverages=counts["coverages"],
        encounters=counts["encounters"],
        coded=counts["coded"],
        to_code=counts["to_code"],
        fee_schedules=counts["fee_schedules"],
        users=users,
        users_note=note,
    )


def create_demo_users(db: Database, *, practice_id: int, actor: Actor | None = None) -> tuple[DemoUser, ...]:
    """One user per role (the system administrator belongs to no practice), each with a TOTP enrolment."""
    from medbill.services import auth

    admin = actor or system_actor(source="cli")
    with db.read() as s:
        taken = set(s.scalars(select(m.User.username)))
    out = []
    for role in Role:
        base = f"demo-{role.value.replace('_', '-')}"
        name = base if base not in taken else f"demo{practice_id}-{role.value.replace('_', '-')}"
        password = _password()
        created = auth.create_user(
            db,
            actor=admin,
            username=name,
            password=password,
            role=role,
            practice_id=None if role is Role.SYSTEM_ADMIN else practice_id,
            display_name=f"Demo {role.value.replace('_', ' ')}",
        )
        out.append(DemoUser(created.username, role.value, password, created.otpauth_uri))
    return tuple(out)


def _populate(s: Session, practice_id: int, rng: random.Random, fake: Faker, today: dt.date, n: int) -> dict[str, int]:
    state = "OH"
    clinic_zip = "43215"
    clinic = m.Provider(
        practice_id=practice_id,
        npi=_npi(rng),
        entity="2",
        last_name=DEMO_PRACTICE,
        taxonomy="261QP2300X",
        tax_id=f"{rng.randint(10, 99)}{rng.randint(1000000, 9999999)}",
        address1="100 Demo Way",
        city="Columbus",
        state=state,
        zip=clinic_zip + "1234",
    )
    s.add(clinic)
    doctors = []
    for taxonomy, _cred in PROVIDERS:
        doc = m.Provider(
            practice_id=practice_id,
            npi=_npi(rng),
            entity="1",
            last_name=fake.last_name(),
            first_name=fake.first_name(),
            taxonomy=taxonomy,
            address1="100 Demo Way",
            city="Columbus",
            state=state,
            zip=clinic_zip + "1234",
        )
        s.add(doc)
        doctors.append(doc)
    payers = []
    for pid, name, filing, days, _rate in PAYERS:
        payer = m.Payer(
            practice_id=practice_id,
            name=name,
            payer_id=pid,
            filing_indicator=filing,
            timely_filing_days=days,
            address1=f"PO Box {rng.randint(1000, 99999)}",
            city="Columbus",
            state=state,
            zip=f"432{rng.randint(10, 99)}",
        )
        s.add(payer)
        payers.append(payer)
    s.flush()
    start = dt.date(today.year, 1, 1)
    own = m.FeeSchedule(practice_id=practice_id, name="Practice charges", payer_id=None, effective_from=start)
    own.items = [m.FeeScheduleItem(code=c, modifier="", amount=a) for c, a in FEES.items()]
    s.add(own)
    for payer, (_pid, name, _f, _d, rate) in zip(payers, PAYERS, strict=True):
        sched = m.FeeSchedule(practice_id=practice_id, name=f"{name} contract", payer_id=payer.id, effective_from=start)
        sched.items = [
            m.FeeScheduleItem(code=c, modifier="", amount=(a * rate).quantize(Decimal("0.01"))) for c, a in FEES.items()
        ]
        s.add(sched)
    medicare, acme, blue, medicaid = payers
    # the clearinghouse the demo practice sends its 837s to (answered by `medbill simulate` in the demo)
    s.add(
        m.TradingPartner(
            practice_id=practice_id,
            name="Demo clearinghouse",
            sender_qualifier="ZZ",
            sender_id="DEMOFAMMED",
            receiver_qualifier="ZZ",
            receiver_id="DEMOCLEARING",
            gs_sender="DEMOFAMMED",
            gs_receiver="DEMOCLEARING",
            usage="T",
            submitter_name="DEMO FAMILY MEDICINE",
            contact_name="BILLING OFFICE",
            contact_phone="6175550100",
            receiver_name="DEMO CLEARINGHOUSE",
        )
    )

    counts = {
        "providers": len(doctors) + 1,
        "patients": 0,
        "coverages": 0,
        "encounters": 0,
        "coded": 0,
        "to_code": 0,
        "fee_schedules": 1 + len(payers),
    }
    first_mrn = 100000 + (s.scalar(select(func.count()).select_from(m.Patient)) or 0)
    for i in range(n):
        sex = rng.choice("FM")
        roll = rng.random()
        age = rng.randint(2, 17) if roll < 0.12 else rng.randint(66, 95) if roll < 0.42 else rng.randint(18, 64)
        birth = today - dt.timedelta(days=age * 365 + rng.randint(0, 364))
        first = fake.first_name_female() if sex == "F" else fake.first_name_male()
        last = fake.last_name()
        patient = m.Patient(
            practice_id=practice_id,
            mrn=f"DM{first_mrn + i}",
            account_number=f"A{rng.randint(10**7, 10**8 - 1)}",
            last_name=last,
            first_name=first,
            middle_name=fake.first_name() if rng.random() < 0.3 else None,
            birth_date=birth,
            sex=sex,
            ssn=None if rng.random() < 0.5 else f"9{rng.randint(10, 99)}{rng.randint(10, 99)}{rng.randint(1000, 9999)}",
            address1=fake.street_address(),
            city=fake.city(),
            state=state,
            zip=f"43{rng.randint(0, 9)}{rng.randint(10, 99)}",
            phone=f"614555{rng.randint(1000, 9999)}",
            email=f"{first}.{last}{i}@example.com".lower(),
        )
        s.add(patient)
        s.flush()
        counts["patients"] += 1
        age_now = _age(birth, today)
        if age_now >= 65:
            plans = [(medicare, "MBI")] + ([(rng.choice((acme, blue)), "SUP")] if rng.random() < 0.4 else [])
        elif age_now < 18:
            plans = [(medicaid if rng.random() < 0.5 else rng.choice((acme, blue)), "DEP")]
        else:
            plans = [(rng.choice((acme, blue, blue, medicaid)), "SUB")]
            if plans[0][0] is not medicaid and rng.random() < 0.15:
                plans.append((acme if plans[0][0] is blue else blue, "SUB"))
        for rank, (payer, kind) in enumerate(plans, start=1):
            dependant = kind == "DEP" and payer is not medicaid
            s.add(
                m.Coverage(
                    practice_id=practice_id,
                    patient_id=patient.id,
                    payer_id=payer.id,
                    rank=rank,
                    member_id=_member_id(rng, payer.filing_indicator),
                    group_number=None if payer.filing_indicator in ("MB", "MC") else f"G{rng.randint(10000, 99999)}",
                    relationship_code="19" if dependant else "18",
                    subscriber_last_name=last if dependant else None,
                    subscriber_first_name=(fake.first_name() if dependant else None),
                    subscriber_birth_date=(birth - dt.timedelta(days=365 * rng.randint(24, 40))) if dependant else None,
                    subscriber_sex=rng.choice("FM") if dependant else None,
                    effective_from=dt.date(today.year - rng.randint(0, 5), 1, 1),
                )
            )
            counts["coverages"] += 1
        visits = rng.choice((2, 3, 3, 3, 4))
        for v in range(visits):
            days_ago = rng.randint(1, 330) if v else rng.randint(1, 20)
            when = today - dt.timedelta(days=days_ago)
            age_then = _age(birth, when)
            options = [sc for sc in _scenarios(rng, age_then, sex) if age_then >= sc.min_age]
            if age_then < 40:
                options = [sc for sc in options if sc.name not in ("diabetes_ckd", "copd_exacerbation")]
            scenario = rng.choice(options)
            doc = rng.choice(doctors)
            coded = days_ago > 14 and rng.random() < 0.75
            enc = m.Encounter(
                practice_id=practice_id,
                patient_id=patient.id,
                rendering_provider_id=doc.id,
                billing_provider_id=clinic.id,
                service_date=when,
                place_of_service="11",
                note=scenario.note,
                status="coded" if coded else "to_code",
            )
            if coded:
                enc.diagnoses = [
                    m.EncounterDiagnosis(seq=k, system="ICD10CM", code=c.replace(".", ""))
                    for k, c in enumerate(scenario.diagnoses, start=1)
                ]
                pointers = list(range(1, min(len(scenario.diagnoses), 4) + 1))
                if scenario.name == "ankle_fracture":
                    pointers = [1, 2]
                enc.procedures = [
                    m.EncounterProcedure(
                        seq=k,
                        system="HCPCS" if code[0].isalpha() else "CPT",
                        code=code,
                        modifiers=list(mods),
                        units=Decimal("1"),
                        charge=FEES[code],
                        diagnosis_pointers=pointers,
                    )
                    for k, (code, mods) in enumerate(scenario.procedures, start=1)
                ]
            s.add(enc)
            counts["encounters"] += 1
            counts["coded" if coded else "to_code"] += 1
    s.flush()
    return counts


def _member_id(rng: random.Random, filing: str) -> str:
    if filing == "MB":  # the shape of a Medicare Beneficiary Identifier (no S, L, O, I, B, Z)
        letters = "ACDEFGHJKMNPQRTUVWXY"
        digits = "0123456789"
        pattern = "CAADADAADDD"  # C: 1-9, A: letter, D: digit (a simplified MBI shape)
        out = []
        for ch in pattern:
            if ch == "C":
                out.append(str(rng.randint(1, 9)))
            elif ch == "A":
                out.append(rng.choice(letters))
            else:
                out.append(rng.choice(digits))
        return "".join(out)
    if filing == "MC":
        return f"MCD{rng.randint(10**8, 10**9 - 1)}"
    return f"{rng.choice(('XQA', 'ZKB', 'JHP'))}{rng.randint(10**8, 10**9 - 1)}"

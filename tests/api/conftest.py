"""A running API over a fresh database: two practices, one signed-in user per role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from medbill.services import auth, records
from medbill.services import schemas as sc
from medbill.services.context import Actor
from medbill.services.permissions import Role

PASSWORD = "correct horse battery staple 9"


@dataclass
class Practice:
    id: int
    ids: dict[str, int]  # resource -> an id of that practice


@dataclass
class World:
    client: TestClient
    tokens: dict[Role, str]
    own: Practice
    other: Practice
    db: Any

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _sign_in(db: Any, username: str, otpauth: str) -> str:
    result = auth.login(db, username=username, password=PASSWORD, source="test")
    code = pyotp.parse_uri(otpauth).now()
    auth.verify_mfa(db, token=result.token, code=code, source="test")
    return result.token


def seed_practice(db: Any, practice_id: int, tag: str) -> Practice:
    admin = Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=practice_id, source="test")
    ids: dict[str, int] = {}
    payer = records.create(
        db, actor=admin, resource="payer", data=sc.PayerCreate(name=f"Payer {tag}", payer_id=f"PAY{tag}")
    )
    ids["payer"] = payer.id  # type: ignore[attr-defined]
    prov = records.create(
        db,
        actor=admin,
        resource="provider",
        data=sc.ProviderCreate(npi="1234567893", last_name=f"Doc{tag}", first_name="Ann"),
    )
    ids["provider"] = prov.id  # type: ignore[attr-defined]
    pat = records.create(
        db,
        actor=admin,
        resource="patient",
        data=sc.PatientCreate(
            last_name=f"Patient{tag}", first_name="Pat", birth_date=dt.date(1970, 1, 2), mrn=f"MRN{tag}"
        ),
    )
    ids["patient"] = pat.id  # type: ignore[attr-defined]
    cov = records.create(
        db,
        actor=admin,
        resource="coverage",
        data=sc.CoverageCreate(
            patient_id=pat.id,
            payer_id=payer.id,  # type: ignore[attr-defined]
            member_id=f"MEM{tag}",
        ),
    )
    ids["coverage"] = cov.id  # type: ignore[attr-defined]
    enc = records.create(
        db,
        actor=admin,
        resource="encounter",
        data=sc.EncounterCreate(
            patient_id=pat.id,
            rendering_provider_id=prov.id,
            billing_provider_id=prov.id,  # type: ignore[attr-defined]
            service_date=dt.date(2026, 3, 2),
            diagnoses=[sc.DiagnosisIn(code="E11.9")],
            procedures=[sc.ProcedureIn(code="99213", charge=Decimal("120"), diagnosis_pointers=[1])],
        ),
    )
    ids["encounter"] = enc.id  # type: ignore[attr-defined]
    fs = records.create(
        db,
        actor=admin,
        resource="fee_schedule",
        data=sc.FeeScheduleCreate(
            name="Charges",
            effective_from=dt.date(2026, 1, 1),
            items=[sc.FeeItemIn(code="99213", amount=Decimal("120"))],
        ),
    )
    ids["fee_schedule"] = fs.id  # type: ignore[attr-defined]
    rule = records.create(
        db,
        actor=admin,
        resource="payer_rule",
        data=sc.PayerRuleCreate(
            payer_id=payer.id,
            name="Rule",  # type: ignore[attr-defined]
            definition={"rules": []},
        ),
    )
    ids["payer_rule"] = rule.id  # type: ignore[attr-defined]
    tp = records.create(
        db,
        actor=admin,
        resource="trading_partner",
        data=sc.TradingPartnerCreate(
            name="Clearinghouse", sender_id="SENDER", receiver_id="RECV", gs_sender="SENDER", gs_receiver="RECV"
        ),
    )
    ids["trading_partner"] = tp.id  # type: ignore[attr-defined]
    from medbill.services import claims as claim_svc

    biller = Actor(user_id=None, role=Role.BILLER, practice_id=practice_id, source="test")
    ids["claim"] = claim_svc.build_claim(db, actor=biller, encounter_id=enc.id).id  # type: ignore[attr-defined]
    # a second encounter, left for the build-claim route
    enc2 = records.create(
        db,
        actor=admin,
        resource="encounter",
        data=sc.EncounterCreate(
            patient_id=pat.id,
            rendering_provider_id=prov.id,
            billing_provider_id=prov.id,  # type: ignore[attr-defined]
            service_date=dt.date(2026, 3, 9),
            note="Type 2 diabetes. Denies chest pain.",
            diagnoses=[sc.DiagnosisIn(code="E11.9")],
            procedures=[sc.ProcedureIn(code="99213", charge=Decimal("120"), diagnosis_pointers=[1])],
        ),
    )
    ids["encounter2"] = enc2.id  # type: ignore[attr-defined]
    # a batch and a remittance as stored rows (their own flows are tested in tests/services)
    from medbill.store import models as m

    with db.write() as s:
        batch = m.SubmissionBatch(
            practice_id=practice_id,
            kind="837P",
            interchange_control=f"00000000{tag[-1]}",
            group_control="1",
            claim_count=1,
            total_charge=Decimal("120.00"),
            sha256="0" * 64,
            content="ISA*...~",
        )
        remit = m.Remittance(
            practice_id=practice_id,
            sha256=tag.ljust(64, "0"),
            payer_trace_id="1999999999",
            trace=f"TRACE{tag}",
            payment_amount=Decimal("0.00"),
            content="ISA*...~",
        )
        s.add_all([batch, remit])
        s.flush()
        ids["batch"], ids["remittance"] = batch.id, remit.id
    return Practice(practice_id, ids)


@pytest.fixture
def world(db: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    from argon2 import PasswordHasher

    from medbill.api import create_app

    # the production argon2id cost (about a second here) is tested in tests/services/test_auth.py;
    # these tests sign in a dozen users, so they use the same algorithm at a test cost
    monkeypatch.setattr(auth, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))

    root = auth.bootstrap(db, username="root-admin", password=PASSWORD)
    root_token = _sign_in(db, "root-admin", root.otpauth_uri)
    sysadmin = auth.authenticate(db, token=root_token, source="test")
    pa = auth.create_practice(db, actor=sysadmin, name="Own practice")
    pb = auth.create_practice(db, actor=sysadmin, name="Other practice")
    tokens = {Role.SYSTEM_ADMIN: root_token}
    for role in Role:
        if role is Role.SYSTEM_ADMIN:
            continue
        made = auth.create_user(
            db, actor=sysadmin, username=f"user-{role.value}", password=PASSWORD, role=role, practice_id=pa.id
        )
        tokens[role] = _sign_in(db, f"user-{role.value}", made.otpauth_uri)
    own = seed_practice(db, pa.id, "A")
    other = seed_practice(db, pb.id, "B")
    # users the admin routes act on (never used to sign in, so role changes and MFA resets harm no test)
    for practice, tag in ((own, "a"), (other, "b")):
        target = auth.create_user(
            db,
            actor=sysadmin,
            username=f"target-{tag}",
            password=PASSWORD,
            role=Role.FRONT_DESK,
            practice_id=practice.id,
        )
        practice.ids["user"] = target.user_id
    client = TestClient(create_app(db=db), raise_server_exceptions=False)
    return World(client=client, tokens=tokens, own=own, other=other, db=db)

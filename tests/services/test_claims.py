"""Claim services on the practice database: encounter → claim → scrub → 837 batch → 999 / 277CA.

Runs on SQLCipher and on PostgreSQL (the ``db`` fixture). The practice is built through
``services.records.create``; the payer's answers come from the payer simulator (``x12.simulate``)
reading the 837 we wrote; pyx12 checks that 837.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from medbill.core.claim import npi_check_digit
from medbill.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medbill.services import auth, claims, records
from medbill.services import schemas as sc
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database
from medbill.x12.read837 import read_837
from medbill.x12.simulate import rules_from_mapping, simulate
from tests.x12.test_write837 import pyx12_errors

T = TypeVar("T")
DOS = dt.date(2026, 6, 15)  # inside the FY2026 code sets of the reference store


def npi(base: str) -> str:
    return base + npi_check_digit(base)


@pytest.fixture(scope="module", autouse=True)
def _home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One MEDBILL_HOME for the module: the edit-table cache is written once under it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDBILL_HOME", str(tmp_path_factory.mktemp("home")))
        yield


@pytest.fixture
def refdata(built_store_path: Path) -> Path:
    return built_store_path


def biller(practice_id: int) -> Actor:
    return Actor(user_id=None, role=Role.BILLER, practice_id=practice_id, source="test")


def create(db: Database, actor: Actor, resource: str, model: type[Any], **data: Any) -> int:
    return int(records.create(db, actor=actor, resource=resource, data=model(**data)).id)  # type: ignore[attr-defined]


class Practice:
    """A small practice: billing group, a doctor, a payer, patients with coverage, encounters, a partner."""

    def __init__(self, db: Database, name: str = "TEST FAMILY PRACTICE") -> None:
        self.db = db
        self.id = auth.create_practice(db, actor=system_actor(), name=name, npi=npi("199990100"), tax_id="990000100").id
        self.actor = biller(self.id)
        a = Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=self.id, source="test")
        self.admin = a
        self.group = create(
            db, a, "provider", sc.ProviderCreate, npi=npi("199990100"), entity="2", last_name="TEST FAMILY PRACTICE",
            taxonomy="207Q00000X", tax_id="990000100", address1="100 TEST AVENUE", city="ANYTOWN", state="MD",
            zip="212440001",
        )  # fmt: skip
        self.doctor = create(
            db, a, "provider", sc.ProviderCreate, npi=npi("199990101"), entity="1", last_name="TESTDOCTOR",
            first_name="CHARLIE", taxonomy="207Q00000X",
        )  # fmt: skip
        self.payer = create(
            db, a, "payer", sc.PayerCreate, name="TEST COMMERCIAL PLAN", payer_id="TESTCI001", filing_indicator="CI",
            address1="PO BOX 1000", city="ANYTOWN", state="MD", zip="21244",
        )  # fmt: skip
        create(
            db, a, "fee_schedule", sc.FeeScheduleCreate, name="practice charges 2026",
            effective_from=dt.date(2026, 1, 1),
            items=[sc.FeeItemIn(code="99213", amount=Decimal("120.00")),
                   sc.FeeItemIn(code="99214", amount=Decimal("185.00"))],
        )  # fmt: skip
        self.partner = create(
            db, a, "trading_partner", sc.TradingPartnerCreate, name="TEST CLEARINGHOUSE", sender_id="TESTSUBMIT01",
            receiver_id="TESTRECV01", gs_sender="TESTSUBMIT01", gs_receiver="TESTRECV01",
        )  # fmt: skip
        with db.write() as s:  # 1000A contact: not in the trading-partner schemas yet (see the report)
            tp = s.get(m.TradingPartner, self.partner)
            assert tp is not None
            tp.contact_name, tp.contact_phone, tp.submitter_id = "TEST BILLER", "5555550199", "TESTETIN01"

    def patient(self, last: str, member_id: str, *, coverage: bool = True) -> int:
        pid = create(
            self.db, self.admin, "patient", sc.PatientCreate, last_name=last, first_name="ALPHA",
            birth_date=dt.date(1971, 4, 12), sex="F", address1="1 TESTPATIENT LANE", city="ANYTOWN", state="MD",
            zip="21244",
        )  # fmt: skip
        if coverage:
            create(
                self.db, self.admin, "coverage", sc.CoverageCreate, patient_id=pid, payer_id=self.payer, rank=1,
                member_id=member_id, group_number="TESTGRP01", effective_from=dt.date(2026, 1, 1),
            )  # fmt: skip
        return pid

    def encounter(self, patient_id: int, *, procedures: list[dict[str, Any]] | None = None) -> int:
        procs = procedures or [{"code": "99213", "diagnosis_pointers": [1, 2]}]
        return create(
            self.db, self.admin, "encounter", sc.EncounterCreate, patient_id=patient_id,
            rendering_provider_id=self.doctor, billing_provider_id=self.group, service_date=DOS,
            place_of_service="11",
            diagnoses=[sc.DiagnosisIn(code="E11.9"), sc.DiagnosisIn(code="I10")],
            procedures=[sc.ProcedureIn(**p) for p in procs],
        )  # fmt: skip

    def ready_claim(self, patient_id: int, refdata: Path) -> int:
        view = claims.build_claim(self.db, actor=self.actor, encounter_id=self.encounter(patient_id))
        scrubbed = claims.scrub_claim(self.db, actor=self.actor, claim_id=view.id, refdata_path=refdata)
        assert scrubbed.errors == 0, [f.model_dump() for f in scrubbed.findings if f.severity == "error"]
        assert scrubbed.status == "ready"
        return view.id


def history(db: Database, actor: Actor, claim_id: int) -> list[tuple[str | None, str, str, str | None]]:
    return [
        (h.from_status, h.to_status, h.cause_kind, h.cause_ref)
        for h in claims.claim_history(db, actor=actor, claim_id=claim_id)
    ]


# --------------------------------------------------------------------------------------------- the whole flow
def test_encounter_to_submitted_claim_and_acknowledgments(db: Database, refdata: Path) -> None:
    p = Practice(db)
    alpha = p.patient("TESTPATIENT", "M100200300")
    bravo = p.patient("TESTOTHER", "XREJECT01")  # the simulator's 277CA rejects member ids starting with X
    enc = p.encounter(alpha, procedures=[{"code": "99214", "diagnosis_pointers": [1, 2]}])

    built = claims.build_claim(db, actor=p.actor, encounter_id=enc)
    assert built.status == "draft" and built.kind == "professional" and built.frequency == "1"
    assert built.total_charge == Decimal("185.00")  # from the practice fee schedule
    assert built.patient_control_number.startswith("MB") and str(built.id) in built.patient_control_number
    doc = built.document
    assert doc["id"] == built.patient_control_number
    assert doc["lines"][0]["procedure"] == {"system": "CPT", "code": "99214"} and doc["lines"][0]["charge"] == "185.00"
    assert doc["coverage"]["subscriber"]["member_id"] == "M100200300"
    assert doc["billing_provider"]["npi"] == npi("199990100") and doc["rendering_provider"]["npi"] == npi("199990101")
    with db.read() as s:
        e = s.get(m.Encounter, enc)
        assert e is not None and e.status == "billed"
        row = s.get(m.ClaimRecord, built.id)
        assert row is not None
        assert row.pcn_bidx == db.cipher.blind_index(built.patient_control_number, purpose=claims.PCN_PURPOSE)
    with pytest.raises(Conflict, match="already has claim"):
        claims.build_claim(db, actor=p.actor, encounter_id=enc)

    scrubbed = claims.scrub_claim(db, actor=p.actor, claim_id=built.id, refdata_path=refdata)
    assert scrubbed.errors == 0, [f for f in scrubbed.findings if f.severity == "error"]
    assert scrubbed.status == "ready"
    second = p.ready_claim(bravo, refdata)

    batch = claims.create_batch(db, actor=p.actor, partner_id=p.partner, kind="837P")
    assert batch.claim_count == 2 and batch.kind == "837P" and batch.total_charge == Decimal("305.00")
    assert batch.interchange_control == "000000001" and batch.group_control == "1"
    assert pyx12_errors(batch.content) == []
    read_back = read_837(batch.content)
    assert sorted(c.id for c in read_back) == sorted(
        claims.get_claim(db, actor=p.actor, claim_id=i).patient_control_number for i in (built.id, second)
    )
    st02 = batch.transactions[0].control_number
    assert history(db, p.actor, built.id)[-1] == ("ready", "submitted", "submission", f"000000001/{st02}")
    with db.read() as s:
        stored = s.get(m.SubmissionBatch, batch.id)
        assert stored is not None and stored.content == batch.content and stored.partner_id == p.partner
        assert stored.sha256 == __import__("hashlib").sha256(batch.content.encode()).hexdigest()
    with pytest.raises(ValidationFailed, match="no ready professional claim"):
        claims.create_batch(db, actor=p.actor, partner_id=p.partner)

    answer = simulate(batch.content, rules_from_mapping({}), seed=3)
    ack = claims.apply_acknowledgment(db, actor=p.actor, content=answer.ack_999.encode(), filename="batch.999")
    assert ack.kind == "999" and not ack.duplicate and ack.accepted == 1 and ack.rejected == 0
    assert {(c.claim_id, c.to_status) for c in ack.changes} == {(built.id, "accepted"), (second, "accepted")}
    assert history(db, p.actor, built.id)[-1] == ("submitted", "accepted", "999", f"1/{st02}")

    ca = claims.apply_acknowledgment(db, actor=p.actor, content=answer.ack_277ca.encode(), filename="batch.277")
    assert ca.kind == "277CA" and ca.accepted == 1 and ca.rejected == 1 and ca.work_items == 1
    assert {(c.claim_id, c.to_status, c.cause_ref) for c in ca.changes} == {(second, "rejected", "A7:164")}
    accepted_claim = claims.get_claim(db, actor=p.actor, claim_id=built.id)
    assert accepted_claim.status == "accepted" and (accepted_claim.payer_claim_number or "").startswith("SIM")
    rejected_hist = history(db, p.actor, second)
    assert rejected_hist[-1] == ("accepted", "rejected", "277CA", "A7:164")
    with db.read() as s:
        items = s.scalars(select(m.WorkItem).where(m.WorkItem.practice_id == p.id)).all()
        assert [(w.queue, w.claim_id) for w in items] == [("rejections", second)]
        assert "XREJECT01" not in items[0].summary
        change = s.scalars(select(m.ClaimStatusChange).where(m.ClaimStatusChange.claim_id == second)).all()[-1]
        assert change.detail == "277CA STC A7:164:IL"
        assert s.scalar(select(m.SubmissionBatch.status).where(m.SubmissionBatch.id == batch.id)) == "accepted"

    # the same files again: nothing changes
    again = claims.apply_acknowledgment(db, actor=p.actor, content=answer.ack_277ca.encode(), filename="copy.277")
    assert again.duplicate and again.id == ca.id and again.changes == []
    again999 = claims.apply_acknowledgment(db, actor=p.actor, content=answer.ack_999.encode(), filename="copy.999")
    assert again999.duplicate and again999.changes == []
    assert history(db, p.actor, second) == rejected_hist
    with db.read() as s:
        assert s.scalar(select(func_count()).select_from(m.WorkItem)) == 1
        assert s.scalar(select(func_count()).select_from(m.Acknowledgment)) == 2

    # the front-end rejection is fixed and resent as a new original (frequency 1)
    fixed = claims.get_claim(db, actor=p.actor, claim_id=second).document
    fixed["coverage"]["subscriber"]["member_id"] = "M999888777"
    view, rescrub = claims.update_claim(db, actor=p.actor, claim_id=second, document=fixed, refdata_path=refdata)
    assert rescrub.errors == 0 and view.status == "ready" and view.frequency == "1"
    resent = claims.create_batch(db, actor=p.actor, partner_id=p.partner, claim_ids=[second])
    assert resent.interchange_control == "000000002" and resent.group_control == "2"
    assert pyx12_errors(resent.content) == []
    assert [h[1] for h in history(db, p.actor, second)] == [
        "draft", "ready", "submitted", "accepted", "rejected", "ready", "submitted"
    ]  # fmt: skip
    with db.read() as s:  # the rejection is settled by the resend: nothing left in the queue for it
        item = s.scalars(select(m.WorkItem).where(m.WorkItem.claim_id == second)).one()
        assert item.queue == "rejections" and item.resolved_at is not None
    # a late copy of the first 999 (other bytes, same answer) no longer moves the resent claim
    late = answer.ack_999.replace("~", "~\n").encode()
    late_ack = claims.apply_acknowledgment(db, actor=p.actor, content=late, filename="late.999")
    assert not late_ack.duplicate and late_ack.changes == []
    assert claims.get_claim(db, actor=p.actor, claim_id=second).status == "submitted"


def func_count() -> Any:
    from sqlalchemy import func

    return func.count()


def test_999_rejection_rejects_the_transaction_set(db: Database, refdata: Path) -> None:
    p = Practice(db)
    cid = p.ready_claim(p.patient("TESTPATIENT", "M100"), refdata)
    batch = claims.create_batch(db, actor=p.actor, partner_id=p.partner, claim_ids=[cid])
    answer = simulate(batch.content, rules_from_mapping({"reject_transaction_sets": ["*"]}), seed=1)
    ack = claims.apply_acknowledgment(db, actor=p.actor, content=answer.ack_999.encode(), filename="r.999")
    assert ack.rejected == 1 and [(c.claim_id, c.to_status) for c in ack.changes] == [(cid, "rejected")]
    assert ack.changes[0].detail == "IK501 R; IK304=8 IK403=7"
    with db.read() as s:
        item = s.scalars(select(m.WorkItem)).one()
        assert item.queue == "rejections" and item.claim_id == cid and item.detail is not None
        assert item.detail["errors"]  # the IK3/IK4 text, encrypted in the work item
        assert s.scalar(select(m.SubmissionBatch.status)) == "rejected"


# --------------------------------------------------------------------------------------------- rules and errors
def test_missing_coverage_names_the_field(db: Database) -> None:
    p = Practice(db)
    enc = p.encounter(p.patient("TESTNOCOVER", "", coverage=False))
    with pytest.raises(ValidationFailed) as info:
        claims.build_claim(db, actor=p.actor, encounter_id=enc)
    assert info.value.field == "coverage"
    assert info.value.message == "coverage: the patient has no primary coverage active on the date of service"
    with db.read() as s:  # nothing half-written
        assert s.scalars(select(m.ClaimRecord)).all() == []
        assert s.scalar(select(m.Encounter.status).where(m.Encounter.id == enc)) == "to_code"


def test_missing_charge_names_the_procedure(db: Database) -> None:
    p = Practice(db)
    enc = p.encounter(p.patient("TESTPATIENT", "M1"), procedures=[{"code": "93000", "diagnosis_pointers": [1]}])
    with pytest.raises(ValidationFailed) as info:
        claims.build_claim(db, actor=p.actor, encounter_id=enc)
    assert info.value.field == "procedures[0].charge"


def test_other_practice_claim_is_not_found(db: Database, refdata: Path) -> None:
    p = Practice(db)
    cid = claims.build_claim(db, actor=p.actor, encounter_id=p.encounter(p.patient("TESTPATIENT", "M1"))).id
    other = Practice(db, name="OTHER PRACTICE")
    for call in (
        lambda: claims.get_claim(db, actor=other.actor, claim_id=cid),
        lambda: claims.claim_history(db, actor=other.actor, claim_id=cid),
        lambda: claims.scrub_claim(db, actor=other.actor, claim_id=cid, refdata_path=refdata),
        lambda: claims.create_batch(db, actor=other.actor, partner_id=other.partner, claim_ids=[cid]),
        lambda: claims.create_batch(db, actor=other.actor, partner_id=p.partner),
    ):
        with pytest.raises(NotFound):
            call()
    assert claims.list_claims(db, actor=other.actor).total == 0
    assert [c.id for c in claims.list_claims(db, actor=p.actor, status="draft").items] == [cid]
    assert claims.list_claims(db, actor=p.actor, status="ready").total == 0


def test_permissions(db: Database) -> None:
    p = Practice(db)
    enc = p.encounter(p.patient("TESTPATIENT", "M1"))
    front = Actor(user_id=None, role=Role.FRONT_DESK, practice_id=p.id)
    with pytest.raises(PermissionDenied):
        claims.build_claim(db, actor=front, encounter_id=enc)
    coder = Actor(user_id=None, role=Role.CODER, practice_id=p.id)
    cid = claims.build_claim(db, actor=coder, encounter_id=enc).id
    assert claims.get_claim(db, actor=front, claim_id=cid).id == cid  # front desk reads claims
    with pytest.raises(PermissionDenied):
        claims.create_batch(db, actor=coder, partner_id=p.partner)
    with pytest.raises(PermissionDenied):
        claims.apply_acknowledgment(db, actor=coder, content=b"ISA*", filename="x.999")


def test_scrub_errors_send_a_ready_claim_back_to_draft(db: Database, refdata: Path) -> None:
    p = Practice(db)
    cid = p.ready_claim(p.patient("TESTPATIENT", "M1"), refdata)
    doc = claims.get_claim(db, actor=p.actor, claim_id=cid).document
    doc["lines"][0]["diagnosis_pointers"] = [7]  # points at no diagnosis
    view, scrubbed = claims.update_claim(db, actor=p.actor, claim_id=cid, document=doc, refdata_path=refdata)
    assert scrubbed.errors >= 1 and view.status == "draft" and view.scrub_errors == scrubbed.errors
    assert any(f.severity == "error" and "lines[0]" in f.location for f in scrubbed.findings)
    assert history(db, p.actor, cid)[-1][:3] == ("ready", "draft", "scrub")
    with pytest.raises(ValidationFailed) as bad:
        claims.update_claim(db, actor=p.actor, claim_id=cid, document={**doc, "lines": "x"})
    assert bad.value.field == "lines"
    with pytest.raises(ValidationFailed, match="cannot be changed"):
        claims.update_claim(db, actor=p.actor, claim_id=cid, document={**doc, "id": "OTHER1"})


def test_replacement_only_for_adjudicated_claims(db: Database, refdata: Path) -> None:
    p = Practice(db)
    cid = p.ready_claim(p.patient("TESTPATIENT", "M1"), refdata)
    with db.write() as s:  # a document saying "replacement" for a claim the payer never adjudicated
        row = s.get(m.ClaimRecord, cid)
        assert row is not None
        row.document = {**row.document, "frequency": "7", "original_claim_number": "ICN0001"}
    with pytest.raises(ValidationFailed, match="new original") as info:
        claims.create_batch(db, actor=p.actor, partner_id=p.partner, claim_ids=[cid])
    assert info.value.hint == "set frequency 1"
    assert claims.get_claim(db, actor=p.actor, claim_id=cid).status == "ready"


# --------------------------------------------------------------------------------------------- control numbers
def reopen(db: Database) -> Database:
    """Another Database object on the same storage and keys (another process of the application)."""
    if db.kind == "sqlite":
        return Database(keyring=db.keyring, path=db.path, audit_anchor=db.audit_anchor)
    return Database(keyring=db.keyring, url=os.environ["MEDBILL_TEST_DATABASE_URL"], audit_anchor=db.audit_anchor)


def race(n: int, work: Callable[[int, Database], T], db: Database) -> list[T]:
    """``work(i, db_i)`` in ``n`` threads, each with its own Database, released at the same moment."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    dbs = [reopen(db) for _ in range(n)]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i, dbs[i])
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for d in dbs:
        d.dispose()
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def test_concurrent_batches_never_reuse_control_numbers(db: Database, refdata: Path) -> None:
    p = Practice(db)
    ids = [p.ready_claim(p.patient(f"TESTPATIENT{chr(65 + i)}", f"M{i}"), refdata) for i in range(4)]
    results = race(4, lambda i, d: claims.create_batch(d, actor=p.actor, partner_id=p.partner, claim_ids=[ids[i]]), db)
    assert sorted(b.interchange_control for b in results) == [f"{n:09d}" for n in range(1, 5)]
    assert sorted(int(b.group_control) for b in results) == [1, 2, 3, 4]
    assert len({t.control_number for b in results for t in b.transactions}) == 4
    assert sorted(c for b in results for t in b.transactions for c in t.claim_ids) == sorted(ids)

    # "every ready claim" from several places at once: each claim goes out once
    more = [p.ready_claim(p.patient(f"TESTMORE{chr(65 + i)}", f"N{i}"), refdata) for i in range(3)]

    def send_all(_i: int, d: Database) -> list[int]:
        try:
            return [
                c for t in claims.create_batch(d, actor=p.actor, partner_id=p.partner).transactions for c in t.claim_ids
            ]
        except ValidationFailed:  # another one took them all
            return []

    sent = race(3, send_all, db)
    assert sorted(c for batch in sent for c in batch) == sorted(more)

    # the sequence itself, many short transactions at once
    def take(_i: int, d: Database) -> list[int]:
        out = []
        for _ in range(10):
            with d.write() as s:
                out.append(claims.StoreControlNumbers(s, practice_id=p.id, partner="ZZ:TEST>ZZ:RACE").next_group())
        return out

    taken = [v for vs in race(4, take, db) for v in vs]
    assert sorted(taken) == list(range(1, 41))


# --------------------------------------------------------------------------------------------- command line
def test_cli_build_scrub_batch_ack(tmp_path: Path, refdata: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import click
    from click.testing import CliRunner

    from medbill.cli import claims_db, remit
    from medbill.settings import Settings

    home = tmp_path / "home"
    monkeypatch.setenv("MEDBILL_HOME", str(home))
    monkeypatch.setenv("MEDBILL_REFDATA", str(refdata))
    monkeypatch.delenv("MEDBILL_DATABASE_URL", raising=False)
    monkeypatch.delenv("MEDBILL_KEY_FILE", raising=False)
    monkeypatch.delenv("MEDBILL_AUDIT_ANCHOR", raising=False)
    db = Database.from_settings(Settings.from_env())
    db.migrate()
    p = Practice(db)
    enc = p.encounter(p.patient("TESTPATIENT", "M100"))
    db.dispose()

    @click.group()
    def top() -> None: ...

    remit.register(top)
    claims_db.register(top)
    assert set(top.commands["ack"].commands) == {"read", "apply"}  # type: ignore[attr-defined]
    run = CliRunner().invoke
    out = run(top, ["claims", "build", str(enc), "--practice", str(p.id), "--json"])
    assert out.exit_code == 0, out.output
    cid = int(__import__("json").loads(out.output)["id"])
    out = run(top, ["claims", "scrub", str(cid), "--practice", str(p.id)])
    assert out.exit_code == 0 and "0 errors" in out.output and "status ready" in out.output, out.output
    target = tmp_path / "batch.837"
    out = run(top, ["claims", "batch", "--partner", str(p.partner), "--practice", str(p.id), "--out", str(target)])
    assert out.exit_code == 0 and "ISA13 000000001" in out.output, out.output
    answer = simulate(target.read_text(), seed=5)
    (tmp_path / "a.277").write_text(answer.ack_277ca)
    out = run(top, ["ack", "apply", str(tmp_path / "a.277"), "--practice", str(p.id)])
    assert out.exit_code == 0 and f"claim {cid}: submitted -> accepted (A2:20)" in out.output, out.output
    out = run(top, ["ack", "apply", str(tmp_path / "a.277"), "--practice", str(p.id)])
    assert "already applied" in out.output
    out = run(top, ["claims", "scrub", "999999", "--practice", str(p.id)])
    assert out.exit_code == 2 and "claim 999999 not found" in out.output

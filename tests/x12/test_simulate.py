"""The payer simulator: its 999, 277CA and 835 read back with our readers, balance, and pass pyx12."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medbill.cli.simulate import register
from medbill.core.claim import ClaimKind, example_claims
from medbill.core.remit import AckStatus, ClaimStatusCode, remit_problems
from medbill.x12.envelope import CounterControlNumbers
from medbill.x12.read277 import read_277ca
from medbill.x12.read835 import read_835
from medbill.x12.read999 import read_999
from medbill.x12.simulate import SimulationError, SimulationResult, rules_from_mapping, simulate
from medbill.x12.write837 import build_837i, build_837p
from tests.x12.test_write837 import SETTINGS, WHEN, pyx12_errors

D = Decimal
RULES = {
    "allowed_ratio": "0.75",
    "deductible": "50",
    "copay": "20",
    "coinsurance_ratio": "0.2",
    "denials": [{"procedure": "90715", "carc": "96", "group": "CO"}],
    "reverse_claims": ["TESTPCN0001"],
    "take_backs": {"TESTPCN0002": "10.5"},
}


def professional_batch() -> str:
    claims = [c for c in example_claims() if c.kind is ClaimKind.PROFESSIONAL]
    # claim 1's subscriber id starts with X: the default rule rejects it in the 277CA
    c = claims[1]
    claims[1] = dataclasses.replace(
        c,
        coverage=dataclasses.replace(
            c.coverage, subscriber=dataclasses.replace(c.coverage.subscriber, member_id="XTEST02")
        ),
    )
    return build_837p(claims, SETTINGS, CounterControlNumbers(), when=WHEN).text


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    return simulate(professional_batch(), rules_from_mapping(RULES), seed=7)


def test_999_accepts_the_set(result: SimulationResult) -> None:
    (ack,) = read_999(result.ack_999)
    assert ack.status is AckStatus.ACCEPTED and ack.group_control_number == "1"
    assert [(t.control_number, t.status) for t in ack.transactions] == [("0001", AckStatus.ACCEPTED)]
    assert "GS*FA*" in result.ack_999 and "*005010X231A1~" in result.ack_999


def test_277ca_rejects_x_member(result: SimulationResult) -> None:
    acks = read_277ca(result.ack_277ca)
    assert [(a.patient_control_number, a.accepted, a.category) for a in acks] == [
        ("TESTPCN0001", True, "A2"),
        ("TESTPCN0006", True, "A2"),
        ("TESTPCN0002", False, "A7"),
        ("TESTPCN0003", True, "A2"),
    ]
    assert acks[2].status == "164" and acks[2].payer_claim_number is None
    assert acks[0].payer_claim_number is not None and acks[0].charge == D("327.5")
    assert result.rejected == ("TESTPCN0002",)


def test_835_balances_and_pays(result: SimulationResult) -> None:
    remits = read_835(result.remit_835)
    assert len(remits) == 2  # one payment per payer: the commercial plan (claims 0 and 5), Medicare (claim 2)
    assert [remit_problems(r) for r in remits] == [[], []]
    remit = remits[0]
    assert [c.patient_control_number for c in remits[1].claims] == ["TESTPCN0003"]
    statuses = [(c.patient_control_number, c.status) for c in remit.claims]
    assert statuses == [
        ("TESTPCN0001", ClaimStatusCode.REVERSAL),
        ("TESTPCN0001", ClaimStatusCode.PRIMARY),
        ("TESTPCN0006", ClaimStatusCode.PRIMARY),
    ]
    reversal, first = remit.claims[0], remit.claims[1]
    assert reversal.paid == -first.paid and reversal.charge == D("-327.5")
    # 99214 185: allowed 138.75, CO-45 46.25; PR-1 50, PR-3 20 copay, PR-2 0.2 × 68.75 = 13.75; paid 55
    line = first.services[0]
    assert line.allowed == D("138.75") and line.paid == D("55") and line.control_number == "TESTLINE0001"
    assert [(a.group.value, a.reason.value, a.amount) for a in line.adjustments] == [
        ("CO", "45", D("46.25")),
        ("PR", "1", D("50")),
        ("PR", "2", D("13.75")),
        ("PR", "3", D("20")),
    ]
    assert first.patient_responsibility == D("83.75") + D("21.38")  # second line: 0.2 × 106.88 (ROUND_HALF_UP)
    assert remit.payment_amount == sum((c.paid for c in remit.claims), D("0"))
    assert result.paid == sum((r.payment_amount for r in remits), D("0"))
    assert "GS*HP*" in result.remit_835 and "*005010X221A1~" in result.remit_835


def test_835_other_payer_denial_and_take_back() -> None:
    """Claim 2 (dependent, 90715 denied CARC 96) accepted when no X rule; PLB WO 10.5 taken back."""
    out = simulate(professional_batch(), rules_from_mapping({**RULES, "reject_member_prefixes": []}), seed=7)
    remits = read_835(out.remit_835)
    assert all(remit_problems(r) == [] for r in remits)
    by_id = {c.patient_control_number: c for r in remits for c in r.claims if c.status is not ClaimStatusCode.REVERSAL}
    denied = [s for s in by_id["TESTPCN0002"].services if s.procedure == "90715"]
    assert denied[0].paid == 0 and [(a.group.value, a.reason.value, a.amount) for a in denied[0].adjustments] == [
        ("CO", "96", D("65.25"))
    ]
    plb = [p for r in remits for p in r.provider_adjustments]
    assert [(p.reason, p.amount, p.reference) for p in plb] == [
        ("WO", D("10.5"), by_id["TESTPCN0002"].payer_claim_number)
    ]
    assert out.paid == sum((r.payment_amount for r in remits), D("0"))


def test_pyx12_accepts_all_three(result: SimulationResult) -> None:
    assert pyx12_errors(result.ack_999) == []
    assert pyx12_errors(result.ack_277ca) == []
    assert pyx12_errors(result.remit_835) == []


def test_rejected_transaction_set() -> None:
    out = simulate(professional_batch(), rules_from_mapping({"reject_transaction_sets": ["*"]}), seed=1)
    (ack,) = read_999(out.ack_999)
    assert ack.status is AckStatus.REJECTED and ack.transactions[0].status is AckStatus.REJECTED
    assert ack.transactions[0].errors  # IK3/IK4 rendered
    assert read_277ca(out.ack_277ca) == [] and read_835(out.remit_835) == []
    assert len(out.rejected) == 4 and out.paid == 0
    assert pyx12_errors(out.ack_999) == []


def test_institutional_batch() -> None:
    claims = [c for c in example_claims() if c.kind is ClaimKind.INSTITUTIONAL]
    text = build_837i(claims, SETTINGS, CounterControlNumbers(), when=WHEN).text
    out = simulate(text, seed=2)
    remits = read_835(out.remit_835)
    assert [r for r in remits if remit_problems(r)] == []
    claims_paid = [c for r in remits for c in r.claims]
    assert [c.patient_control_number for c in claims_paid] == ["TESTPCN0004", "TESTPCN0005"]
    assert claims_paid[1].services[0].procedure_qualifier == "NU" and claims_paid[1].services[0].procedure == "0120"
    assert pyx12_errors(out.remit_835) == [] and pyx12_errors(out.ack_277ca) == []


def test_same_seed_same_bytes() -> None:
    batch = professional_batch()
    a = simulate(batch, rules_from_mapping(RULES), seed=7)
    b = simulate(batch, rules_from_mapping(RULES), seed=7)
    c = simulate(batch, rules_from_mapping(RULES), seed=8)
    assert (a.ack_999, a.ack_277ca, a.remit_835) == (b.ack_999, b.ack_277ca, b.remit_835)
    assert a.remit_835 != c.remit_835


def test_bad_rules() -> None:
    with pytest.raises(SimulationError, match="unknown rules"):
        rules_from_mapping({"allowed": 1})
    with pytest.raises(SimulationError, match="allowed_ratio"):
        rules_from_mapping({"allowed_ratio": "1.5"})
    with pytest.raises(SimulationError, match="exceed"):
        simulate(professional_batch(), rules_from_mapping({"take_backs": {"TESTPCN0001": "100000"}}))


def test_cli(tmp_path: Path) -> None:
    group = click.Group("medbill")
    register(group)
    batch = tmp_path / "batch.837"
    batch.write_text(professional_batch())
    rules = tmp_path / "rules.yaml"
    rules.write_text("allowed_ratio: 0.5\ncoinsurance_ratio: 0\n")
    run = CliRunner().invoke(
        group, ["simulate", str(batch), "--out", str(tmp_path / "out"), "--rules", str(rules), "--json"]
    )
    assert run.exit_code == 0, run.output
    data = json.loads(run.output)
    assert data["rejected"] == ["TESTPCN0002"]
    remit = read_835((tmp_path / "out" / "batch.835").read_text())
    # allowed 0.5, no patient share: paid = half of the accepted charges 327.5 + 327.5 + 300
    assert data["paid"] == "477.50" or D(data["paid"]) == D("477.5")
    assert sum((r.payment_amount for r in remit), D("0")) == D("477.5")

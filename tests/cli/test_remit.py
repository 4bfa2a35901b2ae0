# ruff: noqa: E501  -- expected output lines are kept whole
"""``medbill remit read FILE [--json]`` and ``medbill ack read FILE [--json]``: output, errors, wiring.

The commands are registered on a fresh group here (``register(group)``), as the lead wires them into
``medbill``; a bad file is one line naming the segment and exit status 2.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medbill.cli import remit

DATA = Path(__file__).resolve().parents[1] / "x12" / "data"
TR3 = "x12/stupidedi-tr3-examples"


@pytest.fixture(scope="module")
def cli() -> click.Group:
    group = click.Group("medbill")
    remit.register(group)
    return group


def _run(cli: click.Group, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_remit_read_summary(cli: click.Group) -> None:
    code, out, err = _run(cli, "remit", "read", str(DATA / "835_reversal_and_correction.835"))
    assert code == 0, err
    assert out.splitlines() == [
        "835 0001 from MEDBILL TEST PAYER to MEDBILL TEST CLINIC (XX 1234567893)",
        "  payment 20.00 C CHK on 2026-04-15, trace REV20260415 (payer 1512345678), 2 claims",
        "  claim PCN1001  status 22 (reversal of previous payment)  charge -200.00  paid -120.00  patient -30.00  payer claim ICN20260001",
        "    line HC 99213  charge -200.00  paid -120.00  2026-03-01  line control PCN1001-1",
        "      CAS CO-45 -50.00  PR-2 -30.00",
        "  claim PCN1001  status 1 (processed as primary)  charge 200.00  paid 140.00  patient 20.00  payer claim ICN20260002",
        "    line HC 99213  charge 200.00  paid 140.00  allowed 160.00  2026-03-01  line control PCN1001-1",
        "      CAS CO-45 40.00  PR-2 20.00",
        "  balances: BPR02, every claim and every line",
    ]


def test_remit_read_plb_and_unbalanced(cli: click.Group, tmp_path: Path) -> None:
    code, out, _err = _run(cli, "remit", "read", str(DATA / "835_wo_takeback.835"))
    assert code == 0 and "  PLB 1234567893 WO:ICN20259999 75.00" in out.splitlines()
    bad = tmp_path / "bad.835"
    bad.write_text((DATA / "835_wo_takeback.835").read_text().replace("BPR*I*25*", "BPR*I*26*"))
    code, out, _err = _run(cli, "remit", "read", str(bad))
    assert code == 0  # not balancing is reported, not refused
    assert out.splitlines()[-2:] == [
        "  does not balance (1 problem):",
        "    BPR02: payment 26.00 ≠ claims paid 100.00 − provider adjustments 75.00 = 25.00",
    ]


def test_remit_read_json(cli: click.Group, fixtures_dir: Path) -> None:
    code, out, err = _run(
        cli, "remit", "read", "--json", str(fixtures_dir / TR3 / "X221A1_HP835__secondary-payments.edi")
    )
    assert code == 0, err
    (doc,) = json.loads(out)["remittances"]
    assert (doc["payment_amount"], doc["trace_number"], doc["payer"]["name"]) == (
        "1222.00",
        "0012524965",
        "YOUR TAX DOLLARS AT WORK",
    )
    assert doc["problems"] == []
    claim = doc["claims"][1]
    assert (claim["status"], claim["position"], claim["patient_responsibility"]) == ("2", 1, "220.00")
    line = claim["services"][1]
    assert line["adjustments"] == [
        {"group": "PR", "reason": "1", "amount": "150.00", "quantity": None},
        {"group": "PR", "reason": "2", "amount": "70.00", "quantity": None},
        {"group": "CO", "reason": "42", "amount": "85.00", "quantity": None},
    ]
    assert sum(Decimal(c["paid"]) for c in doc["claims"]) == Decimal(doc["payment_amount"])


def test_remit_read_error_is_one_line(cli: click.Group, fixtures_dir: Path) -> None:
    path = fixtures_dir / "x12/linuxforhealth-x12/835_005010X221A1__managed-care.835"
    code, out, err = _run(cli, "remit", "read", str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == ["error: segment 4 BPR BPR16: '20002316' is not a valid date"]
    code, out, _err = _run(cli, "remit", "read", "--json", str(path))
    assert code == 2
    assert json.loads(out) == {
        "error": "x12_parse_error",
        "message": "segment 4 BPR BPR16: '20002316' is not a valid date",
    }


def test_remit_read_drop(cli: click.Group, fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "x12/linuxforhealth-x12/835_005010X221A1__medicare-part-a.835")
    assert _run(cli, "remit", "read", path)[0] == 2
    code, out, _err = _run(cli, "remit", "read", path, "--drop", "TS309", "--drop", "TS311")
    assert code == 0 and "  PLB 6543210903 CV:CP -1.27" in out.splitlines()


def test_ack_read_999(cli: click.Group, fixtures_dir: Path) -> None:
    path = fixtures_dir / TR3 / "X231A1_FA999__response-to-functional-group-containing-3-837s.edi"
    code, out, err = _run(cli, "ack", "read", str(path))
    assert code == 0, err
    lines = out.splitlines()
    assert (
        lines[0] == "999 for group 17456 (HC, 005010X222A2): P partially accepted - 3 included, 3 received, 1 accepted"
    )
    assert lines[1:4] == [
        "  837 0001: A accepted",
        "  837 0002: R rejected",
        "    segment 22 CLM (CLM01 123456789): segment has data element errors (IK304=8); CLM02 (data element 782): "
        "required data element missing (IK403=1)",
    ]
    code, out, _err = _run(cli, "ack", "read", "--json", str(path))
    doc = json.loads(out)
    assert doc["kind"] == "999"
    assert [t["status"] for t in doc["acks"][0]["transactions"]] == ["A", "R", "R"]


def test_ack_read_277ca(cli: click.Group) -> None:
    code, out, err = _run(cli, "ack", "read", str(DATA / "277ca_claims_lines_rejections.277"))
    assert code == 0, err
    assert out.splitlines() == [
        "277CA: 3 claims, 2 accepted, 1 rejected",
        "  PCN6001  accepted  A2:20  payer claim ICN20260601  charge 320.00",
        "  PCN6002  accepted  A2:20  payer claim ICN20260602  charge 150.00",
        "  PCN6003  REJECTED  A7:21:82  charge 150.00",
        "    A7:562:85",
        "    NPI NOT ACTIVE",
        "    line PCN6003-1: A7:453",
        "    line PCN6003-2: A2:20",
    ]
    code, out, _err = _run(cli, "ack", "read", "--json", str(DATA / "277ca_claims_lines_rejections.277"))
    doc = json.loads(out)
    assert doc["kind"] == "277CA"
    assert [(c["patient_control_number"], c["accepted"]) for c in doc["claims"]] == [
        ("PCN6001", True),
        ("PCN6002", True),
        ("PCN6003", False),
    ]


def test_ack_read_refuses_what_is_not_an_ack(cli: click.Group, fixtures_dir: Path) -> None:
    code, _out, err = _run(cli, "ack", "read", str(fixtures_dir / "x12/imsweb-x12-parser/277_5010__x12_277_x212.txt"))
    assert code == 2
    assert err.startswith("error: segment 2 GS GS08: 005010X212 is the 277 health care claim status response")
    code, _out, err = _run(cli, "ack", "read", str(DATA / "835_split_claim.835"))
    assert code == 2
    assert err.splitlines() == [
        "error: segment 2 GS GS01: is HP (GS08 005010X221A1): not an acknowledgment; ack read reads 999 (GS01 FA) "
        "and 277CA (GS01 HN, GS08 005010X214) files"
    ]


def test_register_adds_to_existing_groups() -> None:
    top = click.Group("medbill")
    existing = click.Group("remit")
    existing.add_command(click.Command("post", callback=lambda: None))
    top.add_command(existing)
    remit.register(top)
    assert top.commands["remit"] is existing
    assert sorted(existing.commands) == ["post", "read"]
    assert sorted(top.commands) == ["ack", "remit"]

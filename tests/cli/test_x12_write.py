"""``medbill x12 837p`` / ``837i``: settings from a partner file or the environment, persisted control
numbers, one-line errors naming the claim, and an output file that is never half-written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medbill.cli.main import main
from medbill.core.claim import ClaimKind, claim_to_dict, claims_to_json, example_claims

PARTNER_TOML = """
sender_id = "TESTSUBMIT01"
receiver_id = "TESTRECV01"
submitter_name = "TEST BILLING SERVICE"
submitter_id = "TESTETIN01"
receiver_name = "TEST CLEARINGHOUSE"
usage_indicator = "T"
partner = "test-clearinghouse"

[submitter_contact]
name = "TEST CONTACT"
phone = "5555550199"

[delimiters]
suffix = "\\n"
"""

ENV = {
    "MEDBILL_X12_SENDER_ID": "ENVSENDER",
    "MEDBILL_X12_RECEIVER_ID": "ENVRECEIVER",
    "MEDBILL_X12_SUBMITTER_NAME": "ENV BILLING SERVICE",
    "MEDBILL_X12_SUBMITTER_ID": "ENVETIN",
    "MEDBILL_X12_SUBMITTER_PHONE": "5555550123",
    "MEDBILL_X12_RECEIVER_NAME": "ENV PAYER",
}


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    examples = example_claims()
    (tmp_path / "prof.json").write_text(claims_to_json(c for c in examples if c.kind is ClaimKind.PROFESSIONAL))
    (tmp_path / "inst.json").write_text(claims_to_json(c for c in examples if c.kind is ClaimKind.INSTITUTIONAL))
    (tmp_path / "partner.toml").write_text(PARTNER_TOML)
    return tmp_path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MEDBILL_HOME": str(tmp_path / "home"), **extra}


def _pyx12_ok(text: str) -> bool:
    import pyx12.params
    import pyx12.x12n_document

    js = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=io.StringIO(), fd_html=None, fd_json=js
    )
    return bool(ok) and '"err_cde"' not in js.getvalue()


def test_837p_with_partner_file_and_persisted_control_numbers(work: Path) -> None:
    runner = CliRunner()
    args = [
        "x12",
        "837p",
        str(work / "prof.json"),
        "-o",
        str(work / "out.837"),
        "--partner",
        str(work / "partner.toml"),
    ]
    first = runner.invoke(main, [*args, "--json", "--timestamp", "2025-08-01T09:30"], env=_env(work))
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["claims"] == 4 and summary["version"] == "005010X222A1"
    assert summary["partner"] == "test-clearinghouse"
    assert summary["control_numbers"] == {"interchange": "000000001", "group": "1", "transactions": ["0001"]}
    assert summary["transactions"][0]["claims"] == ["TESTPCN0001", "TESTPCN0006", "TESTPCN0002", "TESTPCN0003"]
    text = (work / "out.837").read_text()
    assert text.startswith("ISA*00*          *00*          *ZZ*TESTSUBMIT01   *ZZ*TESTRECV01     *250801*0930*^")
    assert text.count("\n") == text.count("~")  # one segment per line, from the partner file
    assert f"SE*{summary['transactions'][0]['segments']}*0001~" in text
    assert _pyx12_ok(text)

    second = runner.invoke(main, args, env=_env(work))
    assert second.exit_code == 0
    assert "ISA13 000000002, GS06 2, ST02 0002" in second.stdout  # never reused
    assert (work / "home" / "x12-control-numbers.sqlite").is_file()
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_837i_from_the_environment(work: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["x12", "837i", str(work / "inst.json"), "-o", str(work / "out.837i"), "--sequence", str(work / "seq.sqlite")],
        env=_env(work, **ENV),
    )
    assert res.exit_code == 0, res.output
    text = (work / "out.837i").read_text()
    assert "*ZZ*ENVSENDER      *ZZ*ENVRECEIVER    *" in text
    assert "GS*HC*ENVSENDER*ENVRECEIVER*" in text and "*005010X223A2~" in text
    assert "NM1*41*2*ENV BILLING SERVICE*****46*ENVETIN~PER*IC**TE*5555550123~" in text
    assert _pyx12_ok(text)


def test_bad_claim_file_gives_one_line_and_no_output(work: Path) -> None:
    doc = json.loads((work / "prof.json").read_text())
    doc["claims"][1]["lines"][0]["charge"] = 12.5  # a float, not a money string
    (work / "bad.json").write_text(json.dumps(doc))
    out = work / "out.837"
    out.write_text("PREVIOUS")
    res = CliRunner().invoke(
        main,
        ["x12", "837p", str(work / "bad.json"), "-o", str(out), "--partner", str(work / "partner.toml")],
        env=_env(work),
    )
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {work / 'bad.json'}: claims[1].lines[0].charge: ")
    assert out.read_text() == "PREVIOUS"  # untouched


def test_unwritable_claim_names_claim_and_element(work: Path) -> None:
    examples = [c for c in example_claims() if c.kind is ClaimKind.PROFESSIONAL]
    doc = {"claims": [claim_to_dict(c) for c in examples]}
    del doc["claims"][2]["coverage"]["subscriber"]["member_id"]
    (work / "nomember.json").write_text(json.dumps(doc))
    out = work / "never.837"
    runner = CliRunner()
    args = ["x12", "837p", str(work / "nomember.json"), "-o", str(out), "--partner", str(work / "partner.toml")]
    res = runner.invoke(main, args, env=_env(work))
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: claims[2] (claim TESTPCN0003): 2010BA NM109: the subscriber's member id is missing"
    )
    assert not out.exists()
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []
    res = runner.invoke(main, [*args, "--json"], env=_env(work))
    assert res.exit_code == 2
    error = json.loads(res.stdout)
    assert error["error"] == "x12_write_error" and error["path"] == "claims[2]" and error["element"] == "2010BA NM109"
    # the failed runs took no control numbers: the next file is still number 1
    good = runner.invoke(
        main,
        ["x12", "837p", str(work / "prof.json"), "-o", str(out), "--partner", str(work / "partner.toml")],
        env=_env(work),
    )
    assert "ISA13 000000001" in good.stdout


def test_wrong_kind_and_missing_settings(work: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        main,
        ["x12", "837i", str(work / "prof.json"), "-o", str(work / "x.837"), "--partner", str(work / "partner.toml")],
        env=_env(work),
    )
    assert res.exit_code == 2
    assert res.stderr.startswith("error: claims[0].kind (claim TESTPCN0001): a professional claim cannot go on an 837I")
    res = runner.invoke(main, ["x12", "837p", str(work / "prof.json"), "-o", str(work / "x.837")], env=_env(work))
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("error: interchange settings MEDBILL_X12_* (or --partner): missing sender_id")
    env = _env(work, **{**ENV, "MEDBILL_X12_SENDER_QUALIFIER": "Z"})
    res = runner.invoke(main, ["x12", "837p", str(work / "prof.json"), "-o", str(work / "x.837")], env=env)
    assert res.stderr.startswith("error: interchange settings MEDBILL_X12_SENDER_QUALIFIER: 'Z'")
    (work / "bad.toml").write_text('colour = "red"\n' + PARTNER_TOML)
    res = runner.invoke(
        main, ["x12", "837p", str(work / "prof.json"), "-o", str(work / "x.837"), "--partner", str(work / "bad.toml")]
    )
    assert res.stderr.startswith(f"error: interchange settings {work / 'bad.toml'}: colour: unknown setting")
    (work / "bad.toml").write_text(PARTNER_TOML + 'colour = "red"\n')  # inside [delimiters]
    res = runner.invoke(
        main, ["x12", "837p", str(work / "prof.json"), "-o", str(work / "x.837"), "--partner", str(work / "bad.toml")]
    )
    assert res.stderr.startswith(f"error: interchange settings {work / 'bad.toml'}: delimiters.colour: unknown key")
    assert not (work / "x.837").exists()


def test_help_documents_the_environment() -> None:
    res = CliRunner().invoke(main, ["x12", "837i", "--help"])
    assert res.exit_code == 0
    for name in ("MEDBILL_X12_SENDER_ID", "MEDBILL_X12_SUBMITTER_ID", "MEDBILL_X12_SEQUENCE", "--partner", "--json"):
        assert name in res.output

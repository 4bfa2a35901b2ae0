"""``medbill scrub`` and ``medbill rules``: exit codes, output shapes, one-line errors, docs in sync."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medbill.cli.main import main
from medbill.core.claim import claim_to_dict, claims_to_json, example_claims
from medbill.scrub import all_rules


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBILL_REFDATA", str(tmp_path / "absent.sqlite"))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_lists_every_rule_with_its_docstring_summary(runner: CliRunner) -> None:
    result = runner.invoke(main, ["rules"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rules = all_rules()
    assert len(lines) == len(rules)
    for line, r in zip(lines, rules, strict=True):
        assert line.split()[:3] == [r.code, r.name, str(r.severity)]
        assert r.summary in line
    assert any("DX003" in ln and "(overridable)" in ln for ln in lines)


def test_rules_by_family_and_as_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["rules", "--family", "ncci", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["code"] for r in data] == ["NCCI000", "NCCI001"]
    assert data[1]["name"] == "ncci.ptp_pair" and data[1]["severity"] == "error"
    assert data[1]["doc"].startswith("A column-1/column-2 NCCI PTP pair")
    assert runner.invoke(main, ["rules", "--family", "nope"]).exit_code == 2


def test_scrub_without_a_store_says_what_was_skipped(runner: CliRunner, tmp_path: Path, no_store: None) -> None:
    path = _write(tmp_path, "claims.json", claims_to_json(example_claims()[:1]))
    result = runner.invoke(main, ["scrub", str(path), "--date", "2025-12-01"])
    assert result.exit_code == 0, result.output
    assert "note: no reference store" in result.stderr
    assert "claim 1 (TESTPCN0001): 0 errors, 0 warnings, 3 infos" in result.stdout
    assert "REF001" in result.stdout and "NCCI000" in result.stdout and "MUE000" in result.stdout
    assert result.stdout.rstrip().endswith("1 claim scrubbed as of 2025-12-01: 0 with errors")


def test_scrub_exits_1_on_an_error_finding_and_reports_json(runner: CliRunner, tmp_path: Path, no_store: None) -> None:
    office = example_claims()[0]
    bad = dataclasses.replace(
        office,
        id="TESTPCN0077",
        coverage=dataclasses.replace(
            office.coverage, subscriber=dataclasses.replace(office.coverage.subscriber, member_id=None)
        ),
    )
    doc = {"claims": [claim_to_dict(office), claim_to_dict(bad)]}
    path = _write(tmp_path, "claims.json", json.dumps(doc))
    result = runner.invoke(main, ["scrub", str(path), "--date", "2025-12-01", "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["summary"] == {"claims": 2, "claims_with_errors": 1}
    assert [c["id"] for c in data["claims"]] == ["TESTPCN0001", "TESTPCN0077"]
    assert data["claims"][1]["errors"] == 1
    (err,) = [f for f in data["claims"][1]["findings"] if f["severity"] == "error"]
    assert err == {
        "rule": "STR013",
        "name": "structure.subscriber_id",
        "severity": "error",
        "location": "coverage.subscriber.member_id",
        "message": "the subscriber's member id is missing",
        "fix": "copy it from the insurance card",
    }


def test_scrub_accepts_one_claim_or_a_list(runner: CliRunner, tmp_path: Path, no_store: None) -> None:
    one = _write(tmp_path, "one.json", json.dumps(claim_to_dict(example_claims()[0])))
    many = _write(tmp_path, "many.json", json.dumps([claim_to_dict(c) for c in example_claims()[:2]]))
    assert "1 claim scrubbed" in runner.invoke(main, ["scrub", str(one), "--date", "2025-12-01"]).stdout
    assert "2 claims scrubbed" in runner.invoke(main, ["scrub", str(many), "--date", "2025-12-01"]).stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        ('{"claims": [{"id": 1}]}', "claims[0].id: expected a string, got integer"),
        ("42", 'expected {"claims": [...]}, a list of claims or one claim'),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, no_store: None, content: str, message: str
) -> None:
    path = _write(tmp_path, "claims.json", content)
    result = runner.invoke(main, ["scrub", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: {message}"
    assert "Traceback" not in result.output


def test_missing_file_and_bad_date(runner: CliRunner, tmp_path: Path, no_store: None) -> None:
    result = runner.invoke(main, ["scrub", str(tmp_path / "absent.json")])
    assert result.exit_code == 2 and "absent.json: cannot read: No such file or directory" in result.stderr
    path = _write(tmp_path, "claims.json", claims_to_json(example_claims()[:1]))
    assert runner.invoke(main, ["scrub", str(path), "--date", "2025-13-01"]).exit_code == 2


def test_payer_rules_option(runner: CliRunner, tmp_path: Path, no_store: None) -> None:
    claims = _write(tmp_path, "claims.json", claims_to_json(example_claims()[:1]))
    bad = _write(tmp_path, "payers.yaml", "payers:\n  - payer_id: 12345\n")
    result = runner.invoke(main, ["scrub", str(claims), "--payer-rules", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: payers.yaml: payers[0].payer_id: expected a quoted payer id, got the number 12345 (quote it: '12345')"
    )
    good = _write(
        tmp_path,
        "good.yaml",
        'payers:\n  - payer_id: "TESTCI001"\n    rules:\n      - {id: no-25, forbid: {modifier: ["25"]}}\n',
    )
    result = runner.invoke(main, ["scrub", str(claims), "--date", "2025-12-01", "--payer-rules", str(good), "--json"])
    assert result.exit_code == 1
    (finding,) = [f for f in json.loads(result.stdout)["claims"][0]["findings"] if f["rule"] == "PAY001"]
    assert finding["name"] == "payer.no_25" and finding["location"] == "lines[0].modifiers[0]"
    assert finding["message"] == "payer TESTCI001 does not accept modifier 25"


def test_scrub_with_the_reference_store(
    runner: CliRunner, tmp_path: Path, source_dir: Path, built_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDBILL_REFDATA", str(built_store_path))
    path = _write(tmp_path, "claims.json", claims_to_json(example_claims()))
    result = runner.invoke(main, ["scrub", str(path), "--date", "2025-12-01", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tables"]["ptp"].get("ioce") == 1_594_456
    rules = {f["rule"] for c in data["claims"] for f in c["findings"]}
    assert rules == {"MUE000"}  # the examples are clean; only the MUE tables are not in the shared data

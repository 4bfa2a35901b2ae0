"""``medbill x12 read FILE [--json] [--drop KEY]``: claims as JSON or a summary; a bad file is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from medbill.cli.main import main
from medbill.core.claim import claims_from_dict
from tests.x12.test_read837 import I_TEXT, P_TEXT


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, newline="")
    else:
        path.write_bytes(text)
    return path


def test_read_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "claims.837", P_TEXT)
    res = CliRunner().invoke(main, ["x12", "read", str(path), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    claims = claims_from_dict(doc)  # the JSON form loads back into the same claims
    assert [c.id for c in claims] == ["PCN001", "PCN002"]
    assert doc["claims"][0]["stated_total"] == "327.50"
    assert doc["claims"][0]["diagnoses"][0] == {"code": "M17.11", "role": "principal"}
    assert doc["claims"][1]["other_payers"][0]["paid_amount"] == "80.00"


def test_read_summary_with_bom_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, "inst.837", ("\ufeff" + I_TEXT.replace("~\n", "~\r\n")).encode("utf-8"))
    res = CliRunner().invoke(main, ["x12", "read", str(path)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "1 claim (837I: 1)"
    assert lines[1].split() == ["PCN005", "837I", "3", "lines", "25202.15", "TEST", "MEDICARE", "A", "(PAYERA)"]


def test_bad_file_is_one_line_naming_the_segment(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.837", P_TEXT.replace("HI*ABK:M1711", "HI*BK:M1711"))
    res = CliRunner().invoke(main, ["x12", "read", str(path)])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.splitlines() == [
        "error: segment 35 HI 2300 HI01-1: BK is an ICD-9-CM qualifier; medbill claims carry ICD-10-CM/PCS only (ABK)"
    ]


def test_bad_file_json_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.837", P_TEXT.replace("HL*4*3*23*0", "HL*4*9*23*0"))
    res = CliRunner().invoke(main, ["x12", "read", str(path), "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stdout) == {
        "error": "x12_parse_error",
        "message": "segment 62 HL HL02: parent 9 is not an earlier HL",
    }


def test_drop_option(tmp_path: Path) -> None:
    path = _write(tmp_path, "sv109.837", P_TEXT.replace("SV1*HC:99213*120*UN*1***1", "SV1*HC:99213*120*UN*1***1**Y"))
    refused = CliRunner().invoke(main, ["x12", "read", str(path)])
    assert refused.exit_code == 2 and "pass drop={'SV109'}" in refused.stderr
    res = CliRunner().invoke(main, ["x12", "read", str(path), "--drop", "SV109", "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["claims"]) == 2


def test_not_utf8_and_not_x12(tmp_path: Path) -> None:
    latin = _write(tmp_path, "latin.837", P_TEXT.replace("TEST CLINIC", "TEST CLÏNIC").encode("latin-1"))
    res = CliRunner().invoke(main, ["x12", "read", str(latin)])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: latin.837 is not UTF-8 text (byte ")
    assert len(res.stderr.splitlines()) == 1
    empty = _write(tmp_path, "empty.837", "")
    res = CliRunner().invoke(main, ["x12", "read", str(empty)])
    assert res.exit_code == 2 and res.stderr == "error: segment 1: no X12 data: the text is empty\n"
    res = CliRunner().invoke(main, ["x12", "read", str(tmp_path / "missing.837")])
    assert res.exit_code == 2 and "does not exist" in res.stderr


def test_real_fixture_error(fixtures_dir: Path) -> None:
    path = fixtures_dir / "x12" / "imsweb-x12-parser" / "837_5010__x12_valid.txt"
    res = CliRunner().invoke(main, ["x12", "read", str(path)])
    assert res.exit_code == 2
    assert res.stderr == (
        "error: segment 27 HL HL01: is 2 but should be 3: HL segments are numbered 1, 2, 3 ... in order\n"
    )

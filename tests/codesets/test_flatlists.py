"""Place of service, CARC, RARC and claim adjustment group codes."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from medbill.codesets.flatlists import (
    CARC_FILE,
    GROUP_FILE,
    KNOWN_POS_GAPS,
    POS_FILE,
    RARC_FILE,
    missing_known_pos,
    parse_carc,
    parse_group_codes,
    parse_pos,
    parse_rarc,
)
from medbill.codesets.records import ITEM, CodeRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError


def _by_code(rows: list[CodeRow]) -> dict[str, CodeRow]:
    out = {r.code: r for r in rows}
    assert len(out) == len(rows)
    return out


def test_pos(source_dir: Path) -> None:
    rows = _by_code(list(parse_pos(source_dir / "place-of-service" / POS_FILE)))
    assert len(rows) == 51
    assert rows["11"].long_desc == "Office"
    assert rows["11"].system is CodeSystem.POS and rows["11"].kind == ITEM and rows["11"].billable
    assert rows["21"].long_desc == "Inpatient Hospital"
    assert rows["02"].long_desc == "Telehealth Provided Other than in Patients Home"
    assert "66" not in rows  # the known gap: nothing invented
    assert missing_known_pos(rows) == ("66",)
    assert "66" in KNOWN_POS_GAPS


def test_carc(source_dir: Path) -> None:
    rows = _by_code(list(parse_carc(source_dir / "carc-rarc" / CARC_FILE)))
    assert len(rows) == 407
    assert sum(1 for r in rows.values() if r.valid_to is None) == 297
    c45 = rows["45"]
    assert c45.long_desc is not None and c45.long_desc.startswith("Charge exceeds fee schedule")
    assert c45.valid_from == date(1995, 1, 1) and c45.valid_to is None
    assert c45.attrs["last_modified"] == "2017-07-01"
    assert rows["253"].long_desc == "Sequestration - reduction in federal payment"
    d1 = rows["D1"]
    assert d1.valid_to == date(2003, 10, 16)
    assert d1.attrs["notes"] == "Use code 16 and remark codes if necessary."
    assert {"1", "2", "3", "16", "18", "29", "50", "96", "97", "197", "A1", "B7", "P1"} <= set(rows)


def test_rarc(source_dir: Path) -> None:
    rows = _by_code(list(parse_rarc(source_dir / "carc-rarc" / RARC_FILE)))
    assert len(rows) == 1197
    assert sum(1 for r in rows.values() if r.valid_to is None) == 1118
    n130 = rows["N130"]
    assert n130.system is CodeSystem.RARC
    assert n130.valid_from == date(2002, 10, 31)
    assert n130.long_desc is not None and "plan benefit documents" in n130.long_desc
    assert rows["N922"].valid_from == date(2026, 3, 1)
    assert rows["M4"].attrs["alert"] is True and "alert" not in n130.attrs
    assert "MA04" in rows


def test_group_codes(source_dir: Path) -> None:
    rows = _by_code(list(parse_group_codes(source_dir / "carc-rarc" / GROUP_FILE)))
    assert sorted(rows) == ["CO", "CR", "OA", "PI", "PR"]
    assert rows["CO"].long_desc == "Contractual Obligation"
    assert rows["PR"].long_desc == "Patient Responsibility"
    assert rows["CR"].attrs["note"] == "Not to be used with 005010 and up"
    assert rows["CO"].system is CodeSystem.GROUP and rows["CO"].attrs == {}


# ---------------------------------------------------------------------------------------------
# bad input (small broken copies)

_CARC_HEADER = "code,description,start,last_modified,stop,notes\n"


@pytest.mark.parametrize(
    ("rows", "line", "field"),
    [
        ('45,"Charge exceeds fee schedule",01/01/1995,,,\n46,Some text,13/01/1995,,,\n', 3, "start"),
        ("45,Charge exceeds fee schedule,1995-01-01,,,\n", 2, "start"),
        ("45,Charge exceeds fee schedule,01/01/1995,,01/01/1990,\n", 2, "stop"),
        ("4X5,Charge exceeds fee schedule,01/01/1995,,,\n", 2, "code"),
        ("45,Charge exceeds fee schedule,01/01/1995,,,\n45,Again,01/01/1995,,,\n", 3, "code"),
        ("45,,01/01/1995,,,\n", 2, "description"),
        ("45,Charge exceeds fee schedule,,,,\n", 2, "start"),
    ],
)
def test_carc_errors(tmp_path: Path, rows: str, line: int, field: str) -> None:
    p = tmp_path / CARC_FILE
    p.write_text(_CARC_HEADER + rows)
    with pytest.raises(SourceFileError) as ei:
        list(parse_carc(p))
    assert (ei.value.path, ei.value.line, ei.value.field) == (str(p), line, field)


def test_structure_errors(tmp_path: Path) -> None:
    p = tmp_path / RARC_FILE
    p.write_text("code,description,start\nN130,Consult plan benefit documents,10/31/2002\n")
    with pytest.raises(SourceFileError) as ei:
        list(parse_rarc(p))
    assert ei.value.line == 1 and ei.value.field == "last_modified"
    p.write_text(_CARC_HEADER + "N130,Consult plan,10/31/2002,,\n")
    with pytest.raises(SourceFileError) as ei:
        list(parse_rarc(p))
    assert ei.value.line == 2
    g = tmp_path / GROUP_FILE
    g.write_text("code,description,note\nCO,Contractual Obligation,\nXX,Unknown group,\n")
    with pytest.raises(SourceFileError) as ei:
        list(parse_group_codes(g))
    assert (ei.value.line, ei.value.field) == (3, "code")


def test_pos_errors(tmp_path: Path) -> None:
    p = tmp_path / POS_FILE
    p.write_bytes(gzip.compress(json.dumps({"11": "Office", "1X": "Bad"}).encode()))
    with pytest.raises(SourceFileError) as ei:
        list(parse_pos(p))
    assert ei.value.field == "['1X']"
    p.write_bytes(gzip.compress(b'{"11": "Office",'))
    with pytest.raises(SourceFileError) as ei:
        list(parse_pos(p))
    assert ei.value.line == 1
    p.write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(SourceFileError):
        list(parse_pos(p))
    p.write_bytes(gzip.compress(json.dumps({"1": "Pharmacy", "11": "Office"}).encode()))
    assert [r.code for r in parse_pos(p)] == ["01", "11"]

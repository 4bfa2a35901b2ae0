"""MUE tables in CMS's CSV/xlsx layout.

``data/mue_practitioner_cms_layout.csv`` and ``data/mue_dme_cms_layout.csv`` follow CMS's
``MCR_MUE_*Services_Eff_MM-DD-YYYY.csv``: a first record holding the quoted, multi-line AMA notice
(Latin-1, with the registered sign), the header record whose first cell is ``"HCPCS/\\nCPT Code"``,
then one record per code. The 00xxU/M rows are as CMS printed them in the July 2026 practitioner
table; the others are illustrative.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from medbill.codesets.mue import effective_from_name, parse_mue_file
from medbill.codesets.records import MueRow
from medbill.core.errors import SourceFileError

DATA = Path(__file__).parent / "data"
PRACTITIONER = DATA / "mue_practitioner_cms_layout.csv"
DME = DATA / "mue_dme_cms_layout.csv"


def test_practitioner_table_detected_from_header() -> None:
    rows = list(parse_mue_file(PRACTITIONER))
    assert len(rows) == 7
    assert {r.table for r in rows} == {"practitioner"}
    assert rows[0] == MueRow(
        table="practitioner",
        code="0001U",
        max_units=1,
        mai=2,
        rationale="Code Descriptor / CPT Instruction",
        effective=None,  # the fixture's name carries no _Eff_ date
        deleted=None,
    )
    by_code = {r.code: r for r in rows}
    assert (by_code["0009U"].max_units, by_code["0009U"].mai) == (2, 3)
    assert by_code["0022U"].rationale == "Clinical: CMS Workgroup"
    assert (by_code["J1100"].max_units, by_code["J1100"].mai) == (120, 1)


def test_table_given_must_match_header() -> None:
    assert len(list(parse_mue_file(PRACTITIONER, "practitioner"))) == 7
    with pytest.raises(SourceFileError, match="'practitioner' table, not 'dme'") as info:
        list(parse_mue_file(PRACTITIONER, "dme"))
    assert info.value.field == "header"
    with pytest.raises(ValueError, match="table"):
        parse_mue_file(PRACTITIONER, "hospital")


def test_dme_table_and_effective_date_from_cms_file_name(tmp_path: Path) -> None:
    named = tmp_path / "MCR_MUE_DMESupplierServices_Eff_07-01-2026.csv"
    shutil.copy(DME, named)
    rows = list(parse_mue_file(named))
    assert [(r.table, r.code, r.max_units, r.mai) for r in rows] == [
        ("dme", "A4253", 2, 3),
        ("dme", "E0100", 1, 2),
        ("dme", "L3000", 2, 1),
    ]
    assert {r.effective for r in rows} == {date(2026, 7, 1)}
    override = list(parse_mue_file(named, effective=date(2026, 10, 1)))
    assert override[0].effective == date(2026, 10, 1)
    assert effective_from_name("MCR_MUE_OutpatientHospitalServices_Eff_01-01-2026.csv") == date(2026, 1, 1)
    assert effective_from_name("mue.csv") is None


def test_outpatient_xlsx(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["CPT codes, descriptions and other data only are copyright AMA.", None, None, None])
    sheet.append(
        [
            "HCPCS/\nCPT Code",
            "Outpatient Hospital Services MUE Values",
            "MUE Adjudication Indicator",
            "MUE Rationale",
        ]
    )
    sheet.append([36415, 2, "3 Date of Service Edit: Clinical", "Clinical: Data"])  # numbers as numbers
    sheet.append(["G0008", 1.0, "2 Date of Service Edit: Policy", "CMS Policy"])
    sheet.append([1996, 1, "1 Line Edit", "Nature of Service/Procedure"])  # 01996 stored as a number
    sheet.append([None, None, None, None])
    path = tmp_path / "MCR_MUE_OutpatientHospitalServices_Eff_04-01-2026.xlsx"
    book.save(path)
    rows = list(parse_mue_file(path))
    assert rows == [
        MueRow("outpatient", "36415", 2, 3, "Clinical: Data", date(2026, 4, 1)),
        MueRow("outpatient", "G0008", 1, 2, "CMS Policy", date(2026, 4, 1)),
        MueRow("outpatient", "01996", 1, 1, "Nature of Service/Procedure", date(2026, 4, 1)),
    ]


def test_unreadable_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "MCR_MUE_PractitionerServices_Eff_07-01-2026.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(SourceFileError, match="xlsx") as info:
        list(parse_mue_file(path))
    assert info.value.path == str(path)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = PRACTITIONER.read_text(encoding="latin-1")
    assert old in text
    path = tmp_path / "broken.csv"
    path.write_text(text.replace(old, new, 1), encoding="latin-1", newline="")
    return path


# The notice record takes lines 1-7 and the header lines 8-9, so data starts on line 10.
@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ("0002M,1,3 Date", "0002M,1,7 Date", 11, "MUE Adjudication Indicator"),
        ("0009U,2,3 Date", "0009U,2,Date", 12, "MUE Adjudication Indicator"),
        ("0010U,2,", "0010U,two,", 13, "MUE Values"),
        ("99213,1,", "9921,1,", 15, "HCPCS/CPT Code"),
        ("J1100,120,1 Line Edit,Prescribing Information", "J1100,120", 16, "columns"),
    ],
)
def test_bad_rows_name_file_line_field(tmp_path: Path, old: str, new: str, line: int, field: str) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(SourceFileError) as info:
        list(parse_mue_file(path))
    assert (info.value.path, info.value.line, info.value.field) == (str(path), line, field)
    assert f"line {line}" in str(info.value)


def test_header_problems(tmp_path: Path) -> None:
    path = _broken(tmp_path, "Practitioner Services MUE Values", "Ambulance Services MUE Values")
    with pytest.raises(SourceFileError, match="names no known table") as info:
        list(parse_mue_file(path))
    assert (info.value.line, info.value.field) == (9, "header")
    path = _broken(tmp_path, ",MUE Rationale", ",Notes")
    with pytest.raises(SourceFileError, match="MUE Rationale"):
        list(parse_mue_file(path))
    path = tmp_path / "nothing.csv"
    path.write_text("a,b\n1,2\n", encoding="latin-1")
    with pytest.raises(SourceFileError, match="HCPCS/CPT Code") as info:
        list(parse_mue_file(path))
    assert info.value.field == "header"

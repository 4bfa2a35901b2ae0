"""NCCI PTP edits: the CMS quarterly ``.txt`` layout and the I/OCE pair table.

``data/ncci_ptp_practitioner_cms_layout.txt`` is a small file in the layout of CMS's
``ccipra-v322r0-f1.txt`` (notice line, title line, the four-line wrapped header, tab-delimited
rows, CRLF). The 0001A/0001U rows are as CMS printed them in ccipra-v322r0-f1; the 45378/45330 and
93000/93005 rows are illustrative (they exercise the ``*`` prior-1996 mark and an open edit).
"""

from __future__ import annotations

import lzma
from datetime import date
from pathlib import Path

import pytest

from medbill.codesets.ncci import (
    IOCE_VERSION_RANGES_FILE,
    parse_ioce_ptp,
    parse_ptp_file,
    read_ioce_versions,
)
from medbill.codesets.records import PtpRow
from medbill.core.errors import SourceFileError

DATA = Path(__file__).parent / "data"
PTP_SAMPLE = DATA / "ncci_ptp_practitioner_cms_layout.txt"
IOCE_HEADER = "column1,column2,modifier_allowed,lo_version,hi_version,effective_from,effective_to"
VERSIONS = (
    "version,ioce_version_id,date_started,date_ended\n102,27.0.1,20260101,20260331\n103,27.1.0,20260401,20360331\n"
)


# --- CMS quarterly PTP file (.txt) ----------------------------------------------------------


def test_cms_ptp_file_rows_and_date_convention() -> None:
    rows = list(parse_ptp_file(PTP_SAMPLE, "practitioner"))
    assert len(rows) == 7
    by_pair = {(r.column1, r.column2): r for r in rows}
    # Deletion Date 20231231 is the last day the edit applies: deleted = the day after.
    assert by_pair["0001A", "99213"] == PtpRow(
        table="practitioner",
        column1="0001A",
        column2="99213",
        modifier_indicator="1",
        effective=date(2022, 1, 1),
        deleted=date(2024, 1, 1),
        rationale="CPT Manual or CMS manual coding instruction",
    )
    assert by_pair["0001U", "0053U"].deleted == date(2023, 7, 1)
    assert by_pair["0001U", "0029U"].deleted == date(2026, 7, 1)
    # "*" = no deletion date: in effect
    assert by_pair["0001U", "0030U"].deleted is None
    assert by_pair["0001U", "0030U"].effective == date(2018, 7, 1)
    # the prior-1996 mark is accepted; indicator 0 kept as printed
    assert by_pair["45378", "45330"].modifier_indicator == "0"
    assert by_pair["45378", "45330"].effective == date(1996, 1, 1)
    assert by_pair["45378", "45330"].rationale == "Standards of medical/surgical practice"


def test_indicator_9_edit_never_applies() -> None:
    row = next(r for r in parse_ptp_file(PTP_SAMPLE, "practitioner") if r.column2 == "G0008")
    assert row.modifier_indicator == "9"
    assert row.effective == date(2022, 1, 1)
    assert row.deleted == row.effective  # empty range, although CMS prints 20220101 as deletion date


def test_outpatient_table_and_lf_line_ends(tmp_path: Path) -> None:
    lf = tmp_path / "ccioph-v322r0-f1.txt"
    lf.write_bytes(PTP_SAMPLE.read_bytes().replace(b"\r\n", b"\n"))
    rows = list(parse_ptp_file(lf, "outpatient"))
    assert [r.table for r in rows] == ["outpatient"] * 7
    assert rows[-1].column1 == "93000" and rows[-1].column2 == "93005"


def test_single_line_header_variant(tmp_path: Path) -> None:
    path = tmp_path / "ptp.txt"
    path.write_text(
        "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
        "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\n"
        "11042\t97597\t\t20190701\t*\t1\tStandards of medical/surgical practice\n",
        encoding="latin-1",
    )
    (row,) = parse_ptp_file(path, "practitioner")
    assert (row.column1, row.column2, row.deleted) == ("11042", "97597", None)


def test_unknown_table_is_refused() -> None:
    with pytest.raises(ValueError, match="table"):
        parse_ptp_file(PTP_SAMPLE, "ioce")


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = PTP_SAMPLE.read_text(encoding="latin-1")
    assert old in text
    path = tmp_path / "broken.txt"
    path.write_text(text.replace(old, new, 1), encoding="latin-1", newline="")
    return path


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ("20190101\t20230630", "20190101\t2023063", 11, "Deletion Date"),
        ("0001A\t99213\t\t20220101", "0001A\t99213\t\t20221301", 7, "Effective Date"),
        ("20180701\t*\t1", "20180701\t*\t2", 10, "Modifier"),
        ("45378\t45330", "45378\t4533", 12, "Column 2"),
        ("45378\t45330\t*", "45378\t45330\tX", 12, "*=in existence prior to 1996"),
        ("93000\t93005\t\t20000101\t*\t1\t", "93000\t93005\t\t20000101", 13, "columns"),
    ],
)
def test_bad_rows_name_file_line_field(tmp_path: Path, old: str, new: str, line: int, field: str) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(SourceFileError) as info:
        list(parse_ptp_file(path, "practitioner"))
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert f"line {line}" in str(err) and str(path) in str(err)


def test_file_without_ptp_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not_ptp.txt"
    path.write_text("HCPCS\tMOD\n99213\t\n", encoding="latin-1")
    with pytest.raises(SourceFileError, match="Column 1") as info:
        list(parse_ptp_file(path, "practitioner"))
    assert info.value.field == "header"


def test_wrong_header_column_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "\tDeletion\t", "\tDelivery\t")
    with pytest.raises(SourceFileError, match="Deletion Date") as info:
        list(parse_ptp_file(path, "practitioner"))
    assert (info.value.line, info.value.field) == (3, "header")


# --- I/OCE pairs: small files ---------------------------------------------------------------


def _ioce(tmp_path: Path, *rows: str, xz: bool = True) -> Path:
    (tmp_path / IOCE_VERSION_RANGES_FILE).write_text(VERSIONS, encoding="ascii")
    text = "\n".join([IOCE_HEADER, *rows]) + "\n"
    if xz:
        path = tmp_path / "DERIVED_ioce_ncci_ptp_pairs.csv.xz"
        path.write_bytes(lzma.compress(text.encode("ascii")))
    else:
        path = tmp_path / "DERIVED_ioce_ncci_ptp_pairs.csv"
        path.write_text(text, encoding="ascii")
    return path


@pytest.mark.parametrize("xz", [True, False])
def test_ioce_small_file(tmp_path: Path, xz: bool) -> None:
    path = _ioce(
        tmp_path,
        "45378,45330,0,102,103,20260101,20360331",
        "11042,97597,1,102,102,20260101,20260331",
        xz=xz,
    )
    assert list(parse_ioce_ptp(path)) == [
        PtpRow("ioce", "45378", "45330", "0", date(2026, 1, 1), None),
        PtpRow("ioce", "11042", "97597", "1", date(2026, 1, 1), date(2026, 4, 1)),
    ]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("45378,45330,2,102,103,20260101,20360331", "modifier_allowed"),
        ("45378,4533,0,102,103,20260101,20360331", "column2"),
        ("45378,45330,0,102,103,20260102,20360331", "lo_version"),
        ("45378,45330,0,102,103,20260101,20261231", "hi_version"),
        ("45378,45330,0,103,102,20260401,20260331", "hi_version"),
        ("45378,45330,0,102,103,2026011,20360331", "effective_from"),
        ("45378,45330,0,102,103,20260101", "columns"),
    ],
)
def test_ioce_bad_rows(tmp_path: Path, row: str, field: str) -> None:
    path = _ioce(tmp_path, "11042,97597,1,102,102,20260101,20260331", row)
    with pytest.raises(SourceFileError) as info:
        list(parse_ioce_ptp(path))
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 3, field)


def test_ioce_bad_header_and_missing_versions(tmp_path: Path) -> None:
    path = _ioce(tmp_path, "11042,97597,1,102,102,20260101,20260331")
    path.write_bytes(lzma.compress(b"col1,col2\n11042,97597\n"))
    with pytest.raises(SourceFileError) as info:
        list(parse_ioce_ptp(path))
    assert (info.value.line, info.value.field) == (1, "header")
    (tmp_path / IOCE_VERSION_RANGES_FILE).unlink()
    with pytest.raises(SourceFileError, match="cannot read"):
        list(parse_ioce_ptp(path))


# --- I/OCE pairs: the real 2026Q2 file -------------------------------------------------------


def test_ioce_real_file(source_dir: Path) -> None:
    folder = source_dir / "ioce-2026q2"
    versions = read_ioce_versions(folder / IOCE_VERSION_RANGES_FILE)
    assert versions[76] == (date(2019, 7, 1), date(2019, 9, 30))
    assert max(versions) == 103
    wanted = {
        ("0001U", "0053U"),
        ("0001U", "0029U"),
        ("0001A", "99241"),
        ("45378", "45330"),
        ("11042", "0925T"),
    }
    count = open_count = 0
    indicators = {"0": 0, "1": 0}
    found: dict[tuple[str, str], PtpRow] = {}
    for row in parse_ioce_ptp(folder / "DERIVED_ioce_ncci_ptp_pairs.csv.xz"):  # streamed, not listed
        count += 1
        indicators[row.modifier_indicator] += 1
        open_count += row.deleted is None
        if (row.column1, row.column2) in wanted:
            found[row.column1, row.column2] = row
    assert count == 1_594_456
    assert open_count == 1_401_094  # the pairs active in I/OCE v27.1 (SOURCE.txt)
    assert indicators == {"0": 55_543, "1": 1_538_913}
    assert found["0001U", "0053U"] == PtpRow("ioce", "0001U", "0053U", "1", date(2019, 7, 1), date(2023, 7, 1))
    assert found["0001U", "0029U"].deleted is None
    assert found["0001A", "99241"] == PtpRow("ioce", "0001A", "99241", "1", date(2022, 1, 1), date(2023, 1, 1))
    assert found["45378", "45330"] == PtpRow("ioce", "45378", "45330", "0", date(2019, 7, 1), None)
    assert found["11042", "0925T"].effective == date(2025, 7, 1)
    # same pair, same end in CMS's practitioner file (Deletion Date 20230630) and in the I/OCE
    cms = {(r.column1, r.column2): r for r in parse_ptp_file(PTP_SAMPLE, "practitioner")}
    assert cms["0001U", "0053U"].deleted == found["0001U", "0053U"].deleted

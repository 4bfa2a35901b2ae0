"""I/OCE data tables: versions, HCPCS/CPT rows and validity, modifiers, revenue codes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from medbill.codesets.ioce import (
    HCPCS_TABLE_FILE,
    MODIFIERS_FILE,
    REVENUE_FILE,
    VERSION_RANGES_FILE,
    IoceHcpcsRow,
    IoceVersion,
    ioce_validity,
    parse_ioce_hcpcs,
    parse_ioce_modifiers,
    parse_ioce_revenue,
    read_ioce_versions,
    revenue_validity,
)
from medbill.codesets.records import ValidityRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError


@pytest.fixture(scope="module")
def ioce_dir(source_dir: Path) -> Path:
    return source_dir / "ioce-2026q2"


@pytest.fixture(scope="module")
def versions(ioce_dir: Path) -> dict[int, IoceVersion]:
    return read_ioce_versions(ioce_dir / VERSION_RANGES_FILE)


@pytest.fixture(scope="module")
def hcpcs_rows(ioce_dir: Path, versions: dict[int, IoceVersion]) -> list[IoceHcpcsRow]:
    return list(parse_ioce_hcpcs(ioce_dir / HCPCS_TABLE_FILE, versions))


@pytest.fixture(scope="module")
def validity(hcpcs_rows: list[IoceHcpcsRow]) -> list[ValidityRow]:
    return list(ioce_validity(hcpcs_rows))


def _rows(rows: list[IoceHcpcsRow], code: str) -> list[IoceHcpcsRow]:
    return sorted((r for r in rows if r.code == code), key=lambda r: r.valid_from)


def _valid(rows: list[ValidityRow], code: str) -> list[tuple[date, date | None]]:
    return sorted((r.valid_from, r.valid_to) for r in rows if r.code == code)


def test_versions(versions: dict[int, IoceVersion]) -> None:
    assert len(versions) == 28
    assert versions[76] == IoceVersion(76, "20.2.27", date(2019, 7, 1), date(2019, 9, 30))
    assert versions[103].ioce_version == "27.1.0"
    assert versions[103].valid_from == date(2026, 4, 1)
    assert versions[103].valid_to is None  # newest: open-ended (the file says 2036-03-31)


def test_hcpcs_table_counts(hcpcs_rows: list[IoceHcpcsRow]) -> None:
    assert len(hcpcs_rows) == 31213
    cpt = [r for r in hcpcs_rows if r.system is CodeSystem.CPT]
    lvl2 = [r for r in hcpcs_rows if r.system is CodeSystem.HCPCS]
    assert (len(cpt), len(lvl2)) == (18786, 12427)
    assert len({r.code for r in hcpcs_rows}) == 21149
    # CPT rows never carry a descriptor; every Level II row has the I/OCE short descriptor
    assert all(r.short_desc is None for r in cpt)
    assert all(r.short_desc for r in lvl2)


def test_cpt_row_has_no_description(hcpcs_rows: list[IoceHcpcsRow]) -> None:
    rows = _rows(hcpcs_rows, "99213")
    assert len(rows) == 6
    assert all(r.system is CodeSystem.CPT and r.short_desc is None for r in rows)
    assert rows[0].valid_from == date(2019, 7, 1) and rows[-1].valid_to is None
    assert rows[-1].status_indicator == "B"
    assert "telehealth" in rows[-1].flags and "not_recognized_opps" in rows[-1].flags
    # Category III and the vaccine administration "A" codes are CPT too
    assert _rows(hcpcs_rows, "0591T")[0].system is CodeSystem.CPT
    assert _rows(hcpcs_rows, "0001A")[0].system is CodeSystem.CPT


def test_level2_rows(hcpcs_rows: list[IoceHcpcsRow]) -> None:
    (j1100,) = _rows(hcpcs_rows, "J1100")
    assert j1100.system is CodeSystem.HCPCS
    assert j1100.short_desc == "Dexamethasone sodium phos"
    assert (j1100.valid_from, j1100.valid_to) == (date(2019, 7, 1), None)
    assert j1100.status_indicator == "N" and j1100.apc is None
    g0439 = _rows(hcpcs_rows, "G0439")
    assert {"annual_wellness_visit", "fqhc_preventive"} <= g0439[-1].flags
    unclassified = {r.code for r in hcpcs_rows if "unclassified_drug" in r.flags}
    assert unclassified == {"C9399"}


def test_ages_and_numbers(hcpcs_rows: list[IoceHcpcsRow]) -> None:
    # 00326 (anesthesia, patients younger than 1 year): age 0-0; the export wrote 0 as False
    assert {(r.lo_age, r.hi_age) for r in _rows(hcpcs_rows, "00326")} == {(0, 0)}
    assert all(r.sex is None for r in hcpcs_rows)
    durations = [r for r in hcpcs_rows if "ph_duration" in r.numbers]
    assert len(durations) == 54 and {r.numbers["ph_duration"] for r in durations} == {1, 2, 3}


def test_approval_period(hcpcs_rows: list[IoceHcpcsRow], validity: list[ValidityRow]) -> None:
    (m0239,) = _rows(hcpcs_rows, "M0239")
    assert m0239.date_approved == date(2020, 11, 9)
    assert m0239.date_terminated == date(2021, 4, 16)  # bamlanivimab EUA revoked
    assert m0239.approval_edit == 69
    assert _valid(validity, "M0239") == [(date(2020, 11, 9), date(2021, 4, 16))]
    # 0001A: approved 2020-12-11, terminated 2023-04-17; its rows for 2023-07..12 yield nothing
    spans = _valid(validity, "0001A")
    assert spans[0][0] == date(2020, 12, 11)
    assert spans[-1] == (date(2023, 4, 1), date(2023, 4, 17))
    assert len(validity) == 31176


def test_j_code_validity(validity: list[ValidityRow]) -> None:
    # J9247 (melphalan flufenamide): terminated 2024-02-23
    assert _valid(validity, "J9247") == [
        (date(2021, 10, 1), date(2023, 12, 31)),
        (date(2024, 1, 1), date(2024, 2, 23)),
    ]
    assert _valid(validity, "J0172") == [(date(2022, 1, 1), date(2025, 12, 31))]
    assert _valid(validity, "J0013") == [(date(2026, 1, 1), None)]
    j1100 = [v for v in validity if v.code == "J1100"]
    assert j1100 == [ValidityRow(CodeSystem.HCPCS, "J1100", date(2019, 7, 1), None, ())]


def test_modifiers(ioce_dir: Path) -> None:
    rows = list(parse_ioce_modifiers(ioce_dir / MODIFIERS_FILE))
    assert len(rows) == 421  # 457 rows less the 36 placeholders #0..#Z
    assert not any(r.code.startswith("#") for r in rows)
    by = {}
    for r in rows:
        by.setdefault(r.code, []).append(r)
    for m in ("25", "59", "LT", "RT", "XS", "XE", "XP", "XU"):
        assert "ncci" in by[m][-1].flags, m
    assert by["LT"][0].system is CodeSystem.MODIFIER
    assert "ncci" not in by["JW"][0].flags
    assert sorted((r.valid_from, r.valid_to) for r in by["TB"]) == [
        (date(2019, 7, 1), date(2022, 12, 31)),
        (date(2023, 1, 1), date(2024, 12, 31)),
        (date(2025, 1, 1), None),
    ]


def test_revenue(ioce_dir: Path) -> None:
    rows = list(parse_ioce_revenue(ioce_dir / REVENUE_FILE))
    assert len(rows) == 541
    codes = {r.code for r in rows}
    assert {"0001", "0022", "0450", "0905", "1000"} <= codes
    assert all(len(c) == 4 and c.isdigit() for c in codes)
    r905 = sorted((r for r in rows if r.code == "0905"), key=lambda r: r.valid_from)
    assert [(r.valid_from, r.valid_to) for r in r905] == [
        (date(2019, 7, 1), date(2023, 12, 31)),
        (date(2024, 1, 1), None),
    ]
    assert "not_recognized" in r905[0].flags and "not_recognized" not in r905[1].flags
    v = next(x for x in revenue_validity(rows) if x.code == "0450")
    assert v.system is CodeSystem.REVENUE and "si:E1" in v.flags


# ---------------------------------------------------------------------------------------------
# small files written here (no source directory needed)

_VERSIONS = "version,ioce_version_id,date_started,date_ended\n1,1.0,20200101,20200331\n2,1.1,20200401,20300101\n"
_HCPCS_HEADER = (
    "hcpcs,description,apc,lo_age,hi_age,sex,status_indicator,payment_indicator,non_covered,"
    "addon_type1,mid_quarter_date_edit,date_approved,date_terminated,ph_duration,lo_version,hi_version"
)


def _ioce_dir(tmp_path: Path, hcpcs_lines: list[str]) -> Path:
    (tmp_path / VERSION_RANGES_FILE).write_text(_VERSIONS)
    p = tmp_path / "DERIVED_ioce_hcpcs_table.csv"
    p.write_text("\n".join([_HCPCS_HEADER, *hcpcs_lines]) + "\n")
    return p


def test_small_table_cpt_description_dropped(tmp_path: Path) -> None:
    p = _ioce_dir(
        tmp_path,
        [
            "99999,SHOULD NOT SHOW,00000,False,124,False,B,3,False,True,False,False,False,False,1,2",
            "J1100,Dexamethasone sodium phos,00000,False,124,False,N,9,True,False,False,False,False,2,2,2",
        ],
    )
    rows = list(parse_ioce_hcpcs(p))
    assert rows[0].system is CodeSystem.CPT and rows[0].short_desc is None
    assert rows[0].flags == frozenset({"addon_type1"})
    assert (rows[0].valid_from, rows[0].valid_to) == (date(2020, 1, 1), None)
    assert rows[1].flags == frozenset({"non_covered"}) and rows[1].numbers == {"ph_duration": 2}
    assert rows[1].valid_from == date(2020, 4, 1)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("J1100,x,00000,False,124,False,N,9,False,False,False,False,False,False,1,9", "hi_version"),
        ("J1100,x,00000,False,124,False,N,9,Maybe,False,False,False,False,False,1,2", "non_covered"),
        ("J11X0,x,00000,False,124,False,N,9,False,False,False,False,False,False,1,2", "hcpcs"),
        ("J1100,x,00000,False,124,False,N,9,False,False,False,2020-01-01,False,False,1,2", "date_approved"),
        ("J1100,x,00000,False,old,False,N,9,False,False,False,False,False,False,1,2", "hi_age"),
        ("J1100,x,00000,False,124,False,,9,False,False,False,False,False,False,1,2", "status_indicator"),
    ],
)
def test_small_table_errors(tmp_path: Path, line: str, field: str) -> None:
    ok = "G0439,Ppps subseq visit,00000,False,124,False,A,9,False,False,False,False,False,False,1,2"
    p = _ioce_dir(tmp_path, [ok, line])
    with pytest.raises(SourceFileError) as ei:
        list(parse_ioce_hcpcs(p))
    assert ei.value.path == str(p) and ei.value.line == 3 and ei.value.field == field


def test_small_files_structure_errors(tmp_path: Path) -> None:
    p = _ioce_dir(tmp_path, ["J1100,x,00000"])
    with pytest.raises(SourceFileError) as ei:
        list(parse_ioce_hcpcs(p))
    assert ei.value.line == 2
    (tmp_path / "rev.csv").write_text(
        "key,status_indicator,not_recognized,lo_version,hi_version\n450|1|2,E1,False,1,2\n450|1|1,E1,False,1,2\n"
    )
    with pytest.raises(SourceFileError) as ei:
        list(parse_ioce_revenue(tmp_path / "rev.csv"))
    assert ei.value.line == 3 and ei.value.field == "key"
    (tmp_path / "mods.csv").write_text("modifier,ncci,lo_version,hi_version\nLT,True,1,2\nLTX,False,1,2\n")
    with pytest.raises(SourceFileError) as ei:
        list(parse_ioce_modifiers(tmp_path / "mods.csv"))
    assert ei.value.line == 3 and ei.value.field == "modifier"
    (tmp_path / "v.csv").write_text("version,ioce_version_id,date_started\n1,1.0,20200101\n")
    with pytest.raises(SourceFileError) as ei:
        read_ioce_versions(tmp_path / "v.csv")
    assert ei.value.line == 1 and ei.value.field == "date_ended"

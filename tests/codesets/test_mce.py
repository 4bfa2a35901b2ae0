"""MCE v43.1 masters: validity dates and edit flags of ICD-10-CM/PCS codes."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from medbill.codesets import mce
from medbill.codesets.mce import (
    AgeRange,
    DischargeStatus,
    active_codes,
    flags_on,
    is_valid_on,
    merge_validity,
    parse_age_ranges,
    parse_discharge_status,
    parse_mce_master,
)
from medbill.codesets.records import ValidityRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

CM = CodeSystem.ICD10CM
PCS = CodeSystem.ICD10PCS
APRIL_2026 = date(2026, 4, 1)


# ---------------------------------------------------------------------------------------------
# real files


@pytest.fixture(scope="module")
def mce_dir(source_dir: Path) -> Path:
    return source_dir / "mce-v43.1"


@pytest.fixture(scope="module")
def dx(mce_dir: Path) -> list[ValidityRow]:
    return list(parse_mce_master(mce_dir / mce.DX_MASTER_FILE, CM))


@pytest.fixture(scope="module")
def sg(mce_dir: Path) -> list[ValidityRow]:
    return list(parse_mce_master(mce_dir / mce.SG_MASTER_FILE, PCS))


@pytest.fixture(scope="module")
def dx_periods(dx: list[ValidityRow]) -> dict[str, list[tuple[date, date | None]]]:
    return merge_validity(dx)


def test_dx_master_rows_and_active_count(dx: list[ValidityRow]) -> None:
    assert len(dx) == 84_932
    assert all(r.system is CM for r in dx)
    assert len(active_codes(dx, APRIL_2026)) == 74_719
    # the FY2025 code set (the day before FY2026) had 74,260 billable codes
    assert len(active_codes(dx, date(2025, 9, 30))) == 74_260


def test_dx_flag_counts_match_source_description(dx: list[ValidityRow]) -> None:
    counts = Counter(f for r in dx for f in r.flags)
    assert counts["manifestation"] == 463
    assert counts["unacceptable"] == 3_074
    assert all(r.flags == tuple(sorted(r.flags)) for r in dx)


def test_e119_valid_since_icd10_start_and_open(
    dx: list[ValidityRow], dx_periods: dict[str, list[tuple[date, date | None]]]
) -> None:
    assert dx_periods["E119"] == [(date(2015, 10, 1), None)]
    assert flags_on(dx, "E119", APRIL_2026) == ("qadm",)
    assert flags_on(dx, "E119", date(2015, 9, 30)) is None


def test_code_deleted_in_fy2025(dx_periods: dict[str, list[tuple[date, date | None]]]) -> None:
    # C83.39 (diffuse large B-cell lymphoma, extranodal and solid organ sites) was expanded on 2024-10-01
    periods = dx_periods["C8339"]
    assert periods == [(date(2015, 10, 1), date(2024, 9, 30))]
    assert is_valid_on(periods, date(2024, 9, 30))
    assert not is_valid_on(periods, date(2024, 10, 1))


def test_sex_edit_withdrawn_2024_10_01(
    dx: list[ValidityRow], dx_periods: dict[str, list[tuple[date, date | None]]]
) -> None:
    assert flags_on(dx, "A1815", date(2024, 9, 30)) == ("male",)
    assert flags_on(dx, "A1815", date(2024, 10, 1)) == ()
    # two rows (flags changed), one validity period
    assert [r.valid_to for r in dx if r.code == "A1815"] == [date(2024, 9, 30), None]
    assert dx_periods["A1815"] == [(date(2015, 10, 1), None)]
    assert not any("male" in r.flags or "female" in r.flags for r in dx if r.valid_from >= date(2024, 10, 1))


def test_fy2026_genetic_disorder_codes_parse(dx: list[ValidityRow]) -> None:
    # chapter 23 (QA0-) is new in FY2026: a letter in the 2nd position
    qa = sorted(r.code for r in dx if r.code.startswith("QA"))
    assert len(qa) == 13
    assert "QA00101" in qa and "QA08" in qa
    assert all(r.valid_from == date(2025, 10, 1) for r in dx if r.code.startswith("QA"))


def test_dx_codes_ended_before_fy2026(dx_periods: dict[str, list[tuple[date, date | None]]]) -> None:
    ended = {c for c, p in dx_periods.items() if p[-1][1] is not None and p[-1][1] < date(2025, 10, 1)}
    assert len(ended) == 1_000
    assert len(dx_periods) == 75_719
    assert all(len(p) == 1 for p in dx_periods.values())  # no code was deleted and re-added


def test_pcs_master(sg: list[ValidityRow]) -> None:
    assert len(sg) == 86_809
    active = active_codes(sg, APRIL_2026)
    assert len(active) == 79_193
    sections = Counter(c[0] for c in active)
    assert sections["0"] == 68_456
    assert sections["B"] == 2_978
    assert set(sections) == set("0123456789BCDFGHX")
    periods = merge_validity(sg)
    assert periods["0DTJ4ZZ"] == [(date(2015, 10, 1), None)]
    assert periods["0DTJ4ZG"] == [(date(2024, 4, 1), None)]
    assert periods["0370046"] == [(date(2016, 10, 1), date(2019, 9, 30))]
    assert flags_on(sg, "02HA0QZ", date(2022, 3, 31)) == ("lcov",)
    assert flags_on(sg, "02HA0QZ", date(2022, 4, 1)) == ()


def test_age_ranges(mce_dir: Path) -> None:
    ranges = parse_age_ranges(mce_dir / mce.AGE_RANGES_FILE)
    assert len(ranges) == 5
    maternity_now = [r for r in ranges if r.group == "Maternity" and r.applies_on(APRIL_2026)]
    assert maternity_now == [AgeRange("Maternity", 9, 64, date(2019, 10, 1), None)]
    old = [r for r in ranges if r.group == "Maternity" and r.applies_on(date(2019, 9, 30))]
    assert [(r.min_age, r.max_age) for r in old] == [(12, 55)]
    assert AgeRange("Newborn", 0, 0, date(1984, 3, 1), None) in ranges


def test_discharge_status(mce_dir: Path) -> None:
    statuses = parse_discharge_status(mce_dir / mce.DISCHARGE_STATUS_FILE)
    assert len(statuses) == 45
    assert DischargeStatus("01", date(1980, 10, 1), None) in statuses
    current = {s.code for s in statuses if s.applies_on(APRIL_2026)}
    assert {"01", "02", "03", "06", "20", "30", "50", "51", "65", "70"} <= current
    assert "08" not in current  # valid 1994-10-01..2005-09-30
    assert {"08", "10", "13", "22"}.isdisjoint(current)


# ---------------------------------------------------------------------------------------------
# merge_validity, pure


def _row(code: str, start: date, end: date | None, *flags: str) -> ValidityRow:
    return ValidityRow(CM, code, start, end, tuple(flags))


def test_merge_touching_ranges_with_different_flags() -> None:
    rows = [
        _row("X1", date(2015, 10, 1), date(2024, 9, 30), "male"),
        _row("X1", date(2024, 10, 1), None),
    ]
    assert merge_validity(rows) == {"X1": [(date(2015, 10, 1), None)]}


def test_merge_overlapping_unsorted_and_gaps() -> None:
    rows = [
        _row("A", date(2020, 1, 1), date(2020, 12, 31)),
        _row("A", date(2018, 1, 1), date(2020, 6, 30)),  # overlaps, listed out of order
        _row("A", date(2022, 1, 1), date(2022, 3, 31)),  # after a gap
        _row("A", date(2022, 2, 1), date(2022, 2, 28)),  # inside the previous one
        _row("B", date(2016, 10, 1), None),
        _row("B", date(2017, 10, 1), date(2018, 9, 30)),  # inside an open range
    ]
    merged = merge_validity(rows)
    assert merged["A"] == [(date(2018, 1, 1), date(2020, 12, 31)), (date(2022, 1, 1), date(2022, 3, 31))]
    assert merged["B"] == [(date(2016, 10, 1), None)]
    assert not is_valid_on(merged["A"], date(2021, 6, 1))
    assert is_valid_on(merged["A"], date(2022, 3, 31))
    assert not is_valid_on(merged["A"], date(2022, 4, 1))
    assert merge_validity([]) == {}


# ---------------------------------------------------------------------------------------------
# bad input names file, line and field


def _write(tmp_path: Path, text: str, name: str = "master.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ("E119,20151001,,\nE11.9,20151001,,\n", 3, "code"),
        ("E119,2015-10-01,,\n", 2, "start_date"),
        ("E119,20151001,20150931,\n", 2, "end_date"),
        ("E119,20151001,20140101,\n", 2, "end_date"),
        ("E119,,,\n", 2, "start_date"),
        ("E119,20151001,,male||adult\n", 2, "flags"),
    ],
)
def test_master_errors(tmp_path: Path, body: str, line: int, field: str) -> None:
    path = _write(tmp_path, "code,start_date,end_date,flags\n" + body)
    with pytest.raises(SourceFileError) as info:
        list(parse_mce_master(path, CM))
    assert info.value.line == line
    assert info.value.field == field
    assert str(path) in str(info.value)


def test_master_bad_header_and_field_count(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="unexpected header") as info:
        list(parse_mce_master(_write(tmp_path, "code,start,end\nE119,20151001,\n"), CM))
    assert info.value.line == 1
    with pytest.raises(SourceFileError, match="3 fields, expected 4") as info:
        list(parse_mce_master(_write(tmp_path, "code,start_date,end_date,flags\nE119,20151001,\n"), CM))
    assert info.value.line == 2
    with pytest.raises(SourceFileError, match="cannot open"):
        list(parse_mce_master(tmp_path / "missing.csv", CM))


def test_master_pcs_code_shape_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, "code,start_date,end_date,flags\n0DTJ4ZZ,20151001,,\n0DTJ4ZO,20151001,,\n")
    with pytest.raises(SourceFileError, match="ICD-10-PCS") as info:
        list(parse_mce_master(path, PCS))
    assert info.value.line == 3


def test_master_flags_sorted_and_codes_upper_cased(tmp_path: Path) -> None:
    path = _write(tmp_path, "code,start_date,end_date,flags\ne119,20151001,20240930,unspecified|adult\n")
    (row,) = parse_mce_master(path, CM)
    assert row == ValidityRow(CM, "E119", date(2015, 10, 1), date(2024, 9, 30), ("adult", "unspecified"))


def test_age_and_discharge_errors(tmp_path: Path) -> None:
    ages = _write(tmp_path, "age_group,start_age,end_age,start_date,end_date\nAdult,15,x,19840301,\n", "a.csv")
    with pytest.raises(SourceFileError) as info:
        parse_age_ranges(ages)
    assert (info.value.line, info.value.field) == (2, "end_age")
    status = _write(tmp_path, "code,startDate,endDate\n01,19801001,\n123,19801001,\n", "d.csv")
    with pytest.raises(SourceFileError) as info:
        parse_discharge_status(status)
    assert (info.value.line, info.value.field) == (3, "code")

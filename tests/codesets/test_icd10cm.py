"""ICD-10-CM Tabular List parser: the April 2026 tabular shipped in simple-icd-10-cm, and a small excerpt."""

from __future__ import annotations

import csv
import random
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from medbill.codesets import icd10cm
from medbill.codesets.icd10cm import (
    INHERITED_NOTE_KINDS,
    TabularRelease,
    default_code_list_path,
    default_tabular_path,
    derive_index_terms,
    parse_code_list,
    parse_tabular,
)
from medbill.codesets.records import BLOCK, CATEGORY, CHAPTER, CODE, NOTE_KINDS, SUBCATEGORY, CodeRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

EXCERPT = Path(__file__).parent / "data" / "tabular_excerpt_fy2026.xml"


@pytest.fixture(scope="module")
def release() -> TabularRelease:
    return parse_tabular(default_tabular_path())


@pytest.fixture(scope="module")
def rows(release: TabularRelease) -> dict[str, CodeRow]:
    return {row.code: row for row in release.codes}


@pytest.fixture(scope="module")
def notes(release: TabularRelease) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for note in release.notes:
        out[(note.code, note.kind)].append(note.text)
    return out


def _tabular_id(row: CodeRow) -> str:
    return str(row.attrs.get("tabular_id", row.code))


# -- the full April 2026 release ------------------------------------------------------------------


def test_version_and_counts_per_kind(release: TabularRelease) -> None:
    assert release.version == "2026"
    kinds = Counter(row.kind for row in release.codes)
    assert kinds == {CHAPTER: 22, BLOCK: 297, CATEGORY: 1918, SUBCATEGORY: 8898, CODE: 87370}
    assert len(release.codes) == 98_505
    assert len(release.sevenths) == 1790
    assert Counter(n.kind for n in release.notes) == {
        "inclusion": 13101,
        "excludes1": 5407,
        "excludes2": 2520,
        "use_additional": 1485,
        "includes": 1024,
        "code_first": 809,
        "code_also": 655,
        "seven_chr_note": 508,
        "note": 180,
    }


def test_codes_equal_cdc_code_list(release: TabularRelease) -> None:
    codes = [row.code for row in release.codes]
    assert len(codes) == len(set(codes)), "codes must be unique keys"
    produced = [_tabular_id(row) for row in release.codes]
    code_list = parse_code_list(default_code_list_path())
    assert len(code_list) == 98_466
    assert set(produced) ^ code_list == set()
    # the list repeats the 39 one-category sections under the category's code: same multiset
    lines = [line.strip() for line in default_code_list_path().read_text().splitlines() if line.strip()]
    assert Counter(produced) == Counter(lines)


def test_billable_equals_mce_valid_codes_on_2026_04_01(release: TabularRelease, source_dir: Path) -> None:
    on = date(2026, 4, 1).strftime("%Y%m%d")
    active: set[str] = set()
    with (source_dir / "mce-v43.1" / "DERIVED_mce_v431_i10dx_master.csv").open(newline="") as fh:
        for rec in csv.DictReader(fh):
            if rec["start_date"] <= on and (not rec["end_date"] or rec["end_date"] >= on):
                active.add(rec["code"])
    billable = {row.code for row in release.codes if row.billable}
    assert len(active) == 74_719
    assert len(billable) == 74_719
    assert billable ^ active == set()


def test_seventh_character_expansion(rows: dict[str, CodeRow]) -> None:
    assert rows["S72001A"].billable and rows["T360X1A"].billable
    assert rows["S72001A"].long_desc == (
        "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    )
    assert rows["S72001A"].parent == "S72001"
    assert rows["S72001A"].attrs == {"seventh": "A"}
    leaf = rows["S72001"]
    assert leaf.kind == CODE and not leaf.billable
    assert leaf.attrs["needs_seventh"] is True and leaf.attrs["seventh_defined_at"] == "S72"
    # placeholder padding: no row for the padded intermediate
    assert rows["T360X1S"].parent == "T360X1"
    assert rows["M4840XA"].parent == "M4840" and "M4840X" not in rows
    assert rows["W08XXXA"].parent == "W08" and "W08XXX" not in rows
    assert rows["W08"].kind == CATEGORY and not rows["W08"].billable
    assert rows["O3110X1"].long_desc == (
        "Continuing pregnancy after spontaneous abortion of one fetus or more, unspecified trimester, fetus 1"
    )
    # a placeholder intermediate that IS a tabular node
    assert rows["T360X"].kind == SUBCATEGORY and rows["T360X"].attrs == {"placeholder": True}


def test_nearest_seventh_definition_wins(rows: dict[str, CodeRow]) -> None:
    # S12 defines fracture characters (A, B, D, G, K, S); S12.8 redefines A, D, S
    assert {"S12000A", "S12000B", "S12000G", "S12000K"} <= rows.keys()
    assert {"S128XXA", "S128XXD", "S128XXS"} <= rows.keys()
    assert "S128XXB" not in rows and "S128XXG" not in rows
    assert rows["S128XXA"].long_desc == "Fracture of other parts of neck, initial encounter"


def test_s06_prose_exception(rows: dict[str, CodeRow]) -> None:
    """S06: 7th characters D and S do not apply to codes with 6th character 7 or 8 (a <notes> says so)."""
    assert {"S061X7A", "S061X8A", "S06307A", "S069X8A"} <= rows.keys()
    for code in ("S061X7D", "S061X7S", "S061X8D", "S06308S", "S069X8D"):
        assert code not in rows
    assert {"S061X9D", "S061X9S", "S061X6D"} <= rows.keys()


def test_e11(rows: dict[str, CodeRow], notes: dict[tuple[str, str], list[str]]) -> None:
    e11 = rows["E11"]
    assert e11.kind == CATEGORY and not e11.billable and e11.parent == "E08-E13"
    assert sum(1 for row in rows.values() if row.parent == "E11") == 10
    e119 = rows["E119"]
    assert e119.billable and e119.kind == CODE and e119.parent == "E11"
    assert e119.long_desc == "Type 2 diabetes mellitus without complications"
    assert "type 1 diabetes mellitus (E10.-)" in notes[("E11", "excludes1")]
    assert "insulin (Z79.4)" in notes[("E11", "use_additional")]
    assert notes[("E11", "use_additional")][0] == "code to identify control using:"
    assert rows["E08-E13"].parent == "CH04"
    assert rows["CH04"].long_desc == "Endocrine, nutritional and metabolic diseases (E00-E89)"


def test_seventh_character_rows(release: TabularRelease) -> None:
    by_code: dict[str, dict[str, str]] = defaultdict(dict)
    for row in release.sevenths:
        by_code[row.code][row.char] = row.text
    assert list(by_code["S72"]) == list("ABCDEFGHJKMNPQRS")
    assert by_code["S72"]["B"] == "initial encounter for open fracture type I or II"
    assert by_code["T36"] == {"A": "initial encounter", "D": "subsequent encounter", "S": "sequela"}
    assert list(by_code["O31"]) == list("0123459")  # fetus 1-5, 0 unspecified, 9 other
    assert "S72001" not in by_code  # rows stand where the definition stands


def test_stray_seventh_note_becomes_inclusion_of_expanded_codes(
    notes: dict[tuple[str, str], list[str]],
) -> None:
    assert notes[("S72001B", "inclusion")] == ["initial encounter for open fracture NOS"]
    assert ("S72001A", "inclusion") not in notes
    assert notes[("H353113", "inclusion")] == ["advanced dry stage"]  # follows extension 3
    assert notes[("W08XXXS", "inclusion")] == ["Fall from stool"]


def test_notes_are_clean_and_sequenced(release: TabularRelease) -> None:
    seqs: dict[tuple[str, str], list[int]] = defaultdict(list)
    codes = {row.code for row in release.codes}
    for note in release.notes:
        assert note.system is CodeSystem.ICD10CM
        assert note.kind in NOTE_KINDS
        assert note.code in codes
        assert note.text and note.text == " ".join(note.text.split())
        seqs[(note.code, note.kind)].append(note.seq)
    for key, values in seqs.items():
        assert values == list(range(1, len(values) + 1)), key
    # chapter 19 has two <notes> elements: one sequence
    assert seqs[("CH19", "note")] == [1, 2]


def test_descriptions_match_xml(rows: dict[str, CodeRow]) -> None:
    root = ET.parse(default_tabular_path()).getroot()
    descs = {(d.findtext("name") or "").replace(".", ""): (d.findtext("desc") or "") for d in root.iter("diag")}
    assert len(descs) == 46_881
    sample = random.Random(2026).sample(sorted(descs), 2000)
    for code in sample:
        assert rows[code].long_desc == descs[code].strip(), code
    for section in root.iter("section"):
        ident = section.get("id") or ""
        code = ident if "-" in ident else f"{ident}-{ident}"
        assert rows[code].long_desc == (section.findtext("desc") or "").strip()


def test_tree_is_consistent(release: TabularRelease, rows: dict[str, CodeRow]) -> None:
    for row in release.codes:
        if row.kind == CHAPTER:
            assert row.parent is None and row.code.startswith("CH")
            continue
        assert row.parent in rows, row.code
        parent = rows[row.parent]
        if row.kind == BLOCK:
            assert parent.kind == CHAPTER
        elif row.kind == CATEGORY:
            assert parent.kind == BLOCK
            first, last = parent.code.split("-")
            assert row.code[0] in (first[0], last[0])  # not lexicographic: C4A stands in C43-C44
        else:
            assert parent.kind in (CATEGORY, SUBCATEGORY, CODE)
            assert row.code.startswith(parent.code.rstrip("X")) or row.code.startswith(parent.code)
            assert not parent.billable
    assert rows["B10-B10"].attrs == {"tabular_id": "B10"} and rows["B10-B10"].kind == BLOCK
    assert rows["B10"].parent == "B10-B10" and rows["B10"].kind == CATEGORY
    assert rows["CH01"].attrs == {"tabular_id": "1"}
    # every leaf not needing a 7th character is billable; nothing with children is
    has_children = {row.parent for row in release.codes}
    for row in release.codes:
        if row.code in has_children:
            assert not row.billable, row.code
        elif row.kind in (CATEGORY, CODE):
            assert row.billable != bool(row.attrs.get("needs_seventh")), row.code


def test_inherited_note_kinds() -> None:
    assert "inclusion" not in INHERITED_NOTE_KINDS
    assert INHERITED_NOTE_KINDS == frozenset(NOTE_KINDS) - {"inclusion"}
    assert set(icd10cm._NOTE_TAGS.values()) == set(NOTE_KINDS)


def test_derive_index_terms(release: TabularRelease, rows: dict[str, CodeRow]) -> None:
    terms = list(derive_index_terms(release))
    by_code: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for code, term, source in terms:
        assert rows[code].billable, code
        assert source in ("inclusion", "title_combination")
        by_code[code].add((term, source))
    assert ("diabetic chronic kidney disease with type 2 diabetes mellitus", "title_combination") in by_code["E1122"]
    assert (
        "diabetes mellitus, type 2, with diabetic chronic kidney disease",
        "title_combination",
    ) in by_code["E1122"]
    assert ("Poisoning by penicillins NOS, initial encounter", "inclusion") in by_code["T360X1A"]
    assert (
        "Fracture of unspecified part of neck of right femur, initial encounter for open fracture NOS",
        "inclusion",
    ) in by_code["S72001B"]
    assert not any(source == "title_combination" for code, _, source in terms if code[0] in "VWXY"), (
        "external causes get no title combinations"
    )
    assert not any("without" in term for code, term, source in terms if source == "title_combination" and len(code) < 7)
    assert by_code["E119"] == set()  # "without complications" is not a combination


def test_parse_code_list_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    path.write_text("1\r\nA00-A09\r\nA00\r\n\r\nA00.0\r\n")
    with pytest.raises(SourceFileError) as err:
        parse_code_list(path)
    assert err.value.line == 5 and err.value.field == "code"
    path.write_text("1\r\nA00-A09\r\nA00\r\nA000\r\n")
    assert parse_code_list(path) == {"1", "A00-A09", "A00", "A000"}


# -- the small excerpt (tests/codesets/data) ------------------------------------------------------


def test_excerpt() -> None:
    rel = parse_tabular(EXCERPT)
    rows = {row.code: row for row in rel.codes}
    assert Counter(row.kind for row in rel.codes) == {
        CHAPTER: 4,
        BLOCK: 7,
        CATEGORY: 7,
        SUBCATEGORY: 10,
        CODE: 9 + 24,  # 3 billable leaves, 6 leaves needing a 7th character, 24 expanded
    }
    assert sorted(c for c in rows if rows[c].attrs.get("seventh")) == sorted(
        [f"S061X7{c}" for c in "A"]
        + [f"S061X9{c}" for c in "ADS"]
        + [f"S12000{c}" for c in "ABDGKS"]
        + [f"S128XX{c}" for c in "ADS"]
        + [f"S72001{c}" for c in "ABCDS"]
        + [f"T360X1{c}" for c in "ADS"]
        + [f"W08XXX{c}" for c in "ADS"]
    )
    assert [c for c, r in rows.items() if r.billable and not r.attrs.get("seventh")] == [
        "B1001",
        "E1122",
        "E119",
    ]
    assert rows["B10"].parent == "B10-B10"
    assert rows["S72001B"].long_desc == (
        "Fracture of unspecified part of neck of right femur, initial encounter for open fracture type I or II"
    )
    incl = [(n.code, n.text) for n in rel.notes if n.kind == "inclusion" and n.code.startswith("S72")]
    assert ("S72001B", "initial encounter for open fracture NOS") in incl


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "<ICD10CM.tabular><version>2026</version>\n<chapter>\n</ICD10CM.tabular>",
            3,
            None,
            "not well-formed",
        ),
        ("<ICDtabular/>", None, "root", "expected <ICD10CM.tabular>"),
        ("<ICD10CM.tabular><chapter/></ICD10CM.tabular>", None, "version", "no <version>"),
        (
            "<ICD10CM.tabular><version>1</version>\n<chapter><name>1</name><desc>C</desc>\n"
            '<section id="A00-A09"><desc>S</desc>\n<diag><name>A0!</name><desc>D</desc></diag>'
            "</section></chapter></ICD10CM.tabular>",
            4,
            "diag/name",
            "bad ICD-10-CM code",
        ),
        (
            "<ICD10CM.tabular><version>1</version>\n<chapter><name>1</name><desc>C</desc>\n"
            '<section id="A00-A09"><desc>S</desc>\n<diag><name>A00</name>\n<desc> </desc></diag>'
            "</section></chapter></ICD10CM.tabular>",
            4,
            "desc",
            "has no <desc>",
        ),
        (
            "<ICD10CM.tabular><version>1</version>\n<chapter><name>1</name><desc>C</desc>\n"
            '<section id="A00-A09"><desc>S</desc>\n<diag><name>A00</name><desc>D</desc>\n'
            "<diag><name>A01.1</name><desc>E</desc></diag></diag>"
            "</section></chapter></ICD10CM.tabular>",
            5,
            "diag/name",
            "does not extend it",
        ),
        (
            "<ICD10CM.tabular><version>1</version>\n<chapter><name>1</name><desc>C</desc>\n"
            '<section id="S00-S09"><desc>S</desc>\n<diag><name>S06</name><desc>D</desc>\n'
            '<sevenChrDef><extension char="A">a</extension></sevenChrDef>\n'
            "<notes><note>7th character D does not apply to some codes</note></notes>"
            "</diag></section></chapter></ICD10CM.tabular>",
            4,
            "notes/note",
            "unrecognised 7th-character exception",
        ),
    ],
)
def test_bad_files_raise_source_file_error(
    tmp_path: Path, text: str, line: int | None, field: str | None, message: str
) -> None:
    path = tmp_path / "tabular.xml"
    path.write_text(text)
    with pytest.raises(SourceFileError) as err:
        parse_tabular(path)
    assert err.value.path == str(path)
    assert err.value.line == line
    assert err.value.field == field
    assert message in err.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError):
        parse_tabular(tmp_path / "nope.xml")
    with pytest.raises(SourceFileError):
        parse_code_list(tmp_path / "nope.txt")

"""Tests of the ICD-10-CM Alphabetic Index importers on small files in the CDC ``ICD10CM.index`` schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medbill.codesets.icd10cm_index import (
    detect_index_kind,
    entry_label,
    full_term,
    index_paths,
    parse_index,
)
from medbill.codesets.records import IndexRow
from medbill.core.errors import SourceFileError

DATA = Path(__file__).parent / "data"
DISEASE = DATA / "icd10cm_index_sample.xml"
EXTERNAL = DATA / "icd10cm_eindex_sample.xml"
NEOPLASM = DATA / "icd10cm_neoplasm_sample.xml"
DRUG = DATA / "icd10cm_drug_sample.xml"


def _row(index: str, id: int, parent_id: int | None, level: int, title: str, **kw: Any) -> IndexRow:
    return IndexRow(index=index, id=id, parent_id=parent_id, level=level, title=title, **kw)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- Index to Diseases and Injuries ---------------------------------------------------------------


def test_disease_index_rows_exact() -> None:
    rows = list(parse_index(DISEASE, "disease"))
    d = "disease"
    assert rows == [
        _row(d, 1, None, 0, "Abasia", nemod="(-astasia) (hysterical)", codes={"code": "F44.4"}),
        _row(d, 2, None, 0, "Abdomen, abdominal", see_also="condition"),
        _row(d, 3, 2, 1, "acute", codes={"code": "R10.0"}),
        _row(d, 4, 2, 1, "angina", codes={"code": "K55.1"}),
        _row(d, 5, None, 0, "Abdominalgia", see="Pain, abdominal"),
        _row(d, 6, None, 0, "Amyloidosis", nemod="(generalized) (primary)", codes={"code": "E85.9"}),
        _row(d, 7, 6, 1, "heart", codes={"code": "E85.4"}, manif="I43"),
        _row(d, 8, None, 0, "Arthritis, arthritic"),
        _row(d, 9, 8, 1, "rheumatoid", codes={"code": "M06.9"}),
        _row(d, 10, 9, 2, "with"),
        _row(d, 11, 10, 3, "organ involvement NEC", see="category M05"),
        _row(d, 12, None, 0, "Diabetes, diabetic", nemod="(mellitus) (sugar)", codes={"code": "E11.9"}),
        _row(d, 13, 12, 1, "type 2", codes={"code": "E11.9"}),
        _row(d, 14, 13, 2, "with"),
        _row(d, 15, 14, 3, "chronic kidney disease", codes={"code": "E11.22"}),
        _row(d, 16, 14, 3, "diabetic nephropathy", codes={"code": "E11.21"}),
        _row(d, 17, 14, 3, "hypoglycemia", codes={"code": "E11.649"}),
        _row(d, 18, 17, 4, "with coma", codes={"code": "E11.641"}),
        _row(d, 19, None, 0, "Otitis", nemod="(acute)", codes={"code": "H66.90"}),
        _row(d, 20, 19, 1, "with effusion", see_also="Otitis, media, nonsuppurative"),
        _row(d, 21, 20, 2, "purulent", see="Otitis, media, suppurative"),
        _row(d, 22, 19, 1, "adhesive", see="subcategory H74.1"),
        _row(d, 23, 19, 1, "externa", codes={"code": "H60.9-"}),
    ]


def test_disease_index_paths_read_like_a_coder() -> None:
    paths = {row.id: path for path, row in index_paths(parse_index(DISEASE, "disease"))}
    assert len(paths) == 23
    assert paths[1] == "Abasia (-astasia) (hysterical)"
    assert paths[15] == "Diabetes, diabetic (mellitus) (sugar), type 2, with, chronic kidney disease"
    assert paths[16] == "Diabetes, diabetic (mellitus) (sugar), type 2, with, diabetic nephropathy"
    assert paths[18] == "Diabetes, diabetic (mellitus) (sugar), type 2, with, hypoglycemia, with coma"
    assert paths[21] == "Otitis (acute), with effusion, purulent"


def test_full_term_matches_index_paths() -> None:
    rows = list(parse_index(DISEASE, "disease"))
    by_id = {row.id: row for row in rows}
    expected = dict((row.id, path) for path, row in index_paths(rows))
    for row in rows:
        assert full_term(by_id, row) == expected[row.id]
        assert full_term(rows, row) == expected[row.id]
    assert full_term(rows, by_id[7]) == "Amyloidosis (generalized) (primary), heart"
    assert entry_label(by_id[7]) == "heart"


def test_full_term_missing_parent() -> None:
    orphan = _row("disease", 5, 4, 1, "acute")
    with pytest.raises(ValueError, match="parent 4"):
        full_term([orphan], orphan)


def test_index_paths_rejects_rows_out_of_order() -> None:
    rows = list(parse_index(DISEASE, "disease"))
    with pytest.raises(ValueError, match="before its parent"):
        list(index_paths([rows[0], rows[2]]))  # "acute" without "Abdomen, abdominal"


def test_codes_with_manifestation_and_several_codes(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "two_codes.xml",
        "<ICD10CM.index><version>2026</version><title>ICD-10-CM INDEX TO DISEASES and INJURIES</title>"
        "<letter><title>T</title><mainTerm><title>Test <nemod>(a)</nemod> entry <nemod>(b)</nemod></title>"
        "<code>A18.01</code><code>M49.0-</code><manif>M49.0</manif><manif>M63.8</manif>"
        "<see>Other</see><seecat>category X</seecat><seeAlso>One</seeAlso><seeAlso>Two</seeAlso>"
        "<unknownElement>ignored</unknownElement></mainTerm></letter></ICD10CM.index>",
    )
    [row] = list(parse_index(path, "disease"))
    assert row == _row(
        "disease",
        1,
        None,
        0,
        "Test entry",
        nemod="(a) (b)",
        codes={"code": "A18.01", "code2": "M49.0-"},
        manif="M49.0, M63.8",
        see="Other; category X",
        see_also="One; Two",
    )


# --- External Cause Index --------------------------------------------------------------------------


def test_external_cause_index_rows_exact() -> None:
    rows = list(parse_index(EXTERNAL, "external"))
    e = "external"
    assert rows == [
        _row(e, 1, None, 0, "Accident", nemod="(to)", codes={"code": "X58"}),
        _row(e, 2, 1, 1, "transport", nemod="(type of vehicle)", codes={"code": "V99"}),
        _row(e, 3, None, 0, "Fall, falling", nemod="(accidental)", codes={"code": "W19"}),
        _row(e, 4, 3, 1, "from, off, out of"),
        _row(e, 5, 4, 2, "bed", codes={"code": "W06"}),
        _row(e, 6, 4, 2, "stairs, steps", codes={"code": "W10.9"}),
        # text after a nemod stays in the title; the nemod is rendered at the end of the label
        _row(e, 7, None, 0, "Hit, hitting by", nemod="(accidental)", see="Struck by"),
    ]
    paths = [path for path, _ in index_paths(rows)]
    assert paths[4] == "Fall, falling (accidental), from, off, out of, bed"
    assert paths[6] == "Hit, hitting by (accidental)"


# --- Table of Neoplasms ----------------------------------------------------------------------------

_NEO = ("malignant_primary", "malignant_secondary", "ca_in_situ", "benign", "uncertain", "unspecified")


def _neo(*codes: str) -> dict[str, str]:
    return {name: code for name, code in zip(_NEO, codes, strict=True) if code != "--"}


def test_neoplasm_table_rows_exact() -> None:
    rows = list(parse_index(NEOPLASM, "neoplasm"))
    n = "neoplasm"
    assert rows == [
        _row(
            n,
            1,
            None,
            0,
            "Neoplasm, neoplastic",
            codes=_neo("C80.1", "C79.9", "D09.9", "D36.9", "D48.9", "D49.9"),
        ),
        _row(
            n,
            2,
            1,
            1,
            "abdomen, abdominal",
            codes=_neo("C76.2", "C79.8-", "D09.8", "D36.7", "D48.7", "D49.89"),
        ),
        _row(
            n,
            3,
            2,
            2,
            "wall",
            codes=_neo("C44.509", "C79.2", "D04.5", "D23.5", "D48.5", "D49.2"),
            see_also="Neoplasm, abdomen, wall, skin",
        ),
        _row(
            n,
            4,
            1,
            1,
            "bone",
            nemod="(periosteum)",
            codes=_neo("C41.9", "C79.51", "--", "D16.9-", "D48.0", "D49.2"),
        ),
        _row(n, 5, 1, 1, "lung", codes=_neo("C34.9-", "C78.0-", "D02.2-", "D14.3-", "D38.1", "D49.1")),
        _row(n, 6, 5, 2, "lower lobe", codes=_neo("C34.3-", "C78.0-", "D02.2-", "D14.3-", "D38.1", "D49.1")),
    ]
    assert "ca_in_situ" not in rows[3].codes  # the "--" cell means no code
    assert full_term(rows, rows[4]) == "Neoplasm, neoplastic, lung"
    assert rows[4].codes["malignant_primary"] == "C34.9-"


# --- Table of Drugs and Chemicals ------------------------------------------------------------------

_DRUG = (
    "poisoning_accidental",
    "poisoning_intentional",
    "poisoning_assault",
    "poisoning_undetermined",
    "adverse_effect",
    "underdosing",
)


def _drug(*codes: str) -> dict[str, str]:
    return {name: code for name, code in zip(_DRUG, codes, strict=True) if code != "--"}


def test_drug_table_rows_exact() -> None:
    rows = list(parse_index(DRUG, "drug"))
    g = "drug"
    asa = _drug("T39.011", "T39.012", "T39.013", "T39.014", "T39.015", "T39.016")
    assert rows == [
        _row(
            g,
            1,
            None,
            0,
            "Acetaminophen",
            codes=_drug("T39.1X1", "T39.1X2", "T39.1X3", "T39.1X4", "T39.1X5", "T39.1X6"),
        ),
        _row(g, 2, None, 0, "Acetylsalicylic acid", nemod="(salts)", codes=asa),
        _row(g, 3, 2, 1, "enteric coated", codes=asa),
        _row(g, 4, None, 0, "Carbon"),
        _row(
            g,
            5,
            4,
            1,
            "monoxide",
            nemod="(from incomplete combustion)",
            codes=_drug("T58.91", "T58.92", "T58.93", "T58.94", "--", "--"),
        ),
        _row(g, 6, None, 0, "Tylenol", see="Acetaminophen"),
    ]
    assert [p for p, _ in index_paths(rows)][4] == "Carbon, monoxide (from incomplete combustion)"


_DRUG_TABLE = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.index>
  <version>2026</version>
  <title>ICD-10-CM TABLE of DRUGS and CHEMICALS</title>
  <indexHeading>
    <head col="1">Substance</head>
    <head col="2">{c2}</head>
    <head col="3">Poisoning, Intentional Self-harm</head>
    <head col="4">Poisoning, Assault</head>
    <head col="5">Poisoning, Undetermined</head>
    <head col="6">Adverse effect</head>
    <head col="7">Underdosing</head>
  </indexHeading>
  <letter>
    <title>A</title>
    <mainTerm>
      <title>Acetaminophen</title>
      <cell col="2">T39.1X1</cell>
      <cell col="{col}">T39.1X2</cell>
    </mainTerm>
  </letter>
</ICD10CM.index>
"""


def test_drug_headings_with_commas_and_case_are_recognised(tmp_path: Path) -> None:
    path = _write(tmp_path, "drug.xml", _DRUG_TABLE.format(c2="POISONING, ACCIDENTAL (UNINTENTIONAL)", col=7))
    [row] = list(parse_index(path, "drug"))
    assert row.codes == {"poisoning_accidental": "T39.1X1", "underdosing": "T39.1X2"}


def test_cell_col_beyond_headings(tmp_path: Path) -> None:
    path = _write(tmp_path, "drug.xml", _DRUG_TABLE.format(c2="Poisoning Accidental (unintentional)", col=8))
    with pytest.raises(SourceFileError) as err:
        list(parse_index(path, "drug"))
    assert err.value.line == 19
    assert err.value.field == "cell col=8"
    assert "'Acetaminophen'" in err.value.message and "beyond the headings" in err.value.message
    assert str(path) in err.value.message


def test_duplicate_drug_heading_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "drug.xml", _DRUG_TABLE.format(c2="Poisoning Assault", col=3))
    with pytest.raises(SourceFileError) as err:
        list(parse_index(path, "drug"))
    assert err.value.field == "indexHeading"
    assert err.value.line == 9  # the <head col="4"> repeating the assault column
    assert "poisoning_assault heads two columns" in err.value.message


# --- Bad files ------------------------------------------------------------------------------------


def test_malformed_file_names_file_and_line() -> None:
    path = DATA / "icd10cm_index_malformed.xml"
    with pytest.raises(SourceFileError) as err:
        list(parse_index(path, "disease"))
    assert err.value.path == str(path)
    assert err.value.line == 13
    assert "mismatched tag" in err.value.message
    assert err.value.message.startswith(f"{path}, line 13: malformed XML")


def test_unrecognised_neoplasm_heading() -> None:
    path = DATA / "icd10cm_neoplasm_bad_headings.xml"
    with pytest.raises(SourceFileError) as err:
        list(parse_index(path, "neoplasm"))
    assert err.value.field == "indexHeading"
    assert err.value.line == 12
    assert "'Metastatic Behavior'" in err.value.message


def test_drug_headings_are_not_neoplasm_headings(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="names the drug index, not the neoplasm index"):
        list(parse_index(DRUG, "neoplasm"))
    untitled = DRUG.read_text().replace("<title>ICD-10-CM TABLE of DRUGS and CHEMICALS</title>", "")
    with pytest.raises(SourceFileError) as err:
        list(parse_index(_write(tmp_path, "drug.xml", untitled), "neoplasm"))
    assert err.value.line == 7 and err.value.field == "indexHeading"
    assert "heading col=2 'Poisoning Accidental (unintentional)' is not a neoplasm table column" in err.value.message


def test_missing_heading_column(tmp_path: Path) -> None:
    text = (DATA / "icd10cm_neoplasm_sample.xml").read_text().replace('<head col="7">Unspecified Behavior</head>', "")
    path = _write(tmp_path, "neo.xml", text)
    with pytest.raises(SourceFileError, match="lack unspecified"):
        list(parse_index(path, "neoplasm"))


def test_term_level_must_follow_parent(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "levels.xml",
        """<ICD10CM.index>
  <title>ICD-10-CM INDEX TO DISEASES and INJURIES</title>
  <letter><title>D</title>
    <mainTerm>
      <title>Diabetes, diabetic</title>
      <term level="1">
        <title>type 2</title>
        <term level="3">
          <title>with</title>
        </term>
      </term>
    </mainTerm>
  </letter>
</ICD10CM.index>
""",
    )
    with pytest.raises(SourceFileError) as err:
        list(parse_index(path, "disease"))
    assert err.value.line == 8
    assert err.value.field == "term level"
    assert "'with'" in err.value.message and "expected 2" in err.value.message


def test_rows_before_an_error_are_yielded(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "late_error.xml",
        "<ICD10CM.index><letter><mainTerm><title>Good</title><code>A00</code></mainTerm>\n"
        "<mainTerm><title>Bad</title><term level='2'><title>deep</title></term></mainTerm></letter>"
        "</ICD10CM.index>",
    )
    rows = parse_index(path, "disease")
    assert next(rows) == _row("disease", 1, None, 0, "Good", codes={"code": "A00"})
    with pytest.raises(SourceFileError) as err:
        next(rows)
    assert err.value.line == 2


@pytest.mark.parametrize(
    ("xml", "field", "fragment"),
    [
        ("<ICD10CM.tabular><chapter/></ICD10CM.tabular>", "root", "root element is <ICD10CM.tabular>"),
        ("<ICD10CM.index><letter><term><title>x</title></term></letter></ICD10CM.index>", "term", "outside"),
        ("<ICD10CM.index><letter><code>A00</code></letter></ICD10CM.index>", "code", "outside"),
        (
            "<ICD10CM.index><letter><mainTerm><code>A00</code></mainTerm></letter></ICD10CM.index>",
            "title",
            "without",
        ),
        (
            "<ICD10CM.index><letter><mainTerm><title>x</title><cell col='2'>A00</cell></mainTerm></letter>"
            "</ICD10CM.index>",
            "cell",
            "table <cell>",
        ),
    ],
)
def test_structural_errors(tmp_path: Path, xml: str, field: str, fragment: str) -> None:
    path = _write(tmp_path, "bad.xml", xml)
    with pytest.raises(SourceFileError) as err:
        list(parse_index(path, "disease"))
    assert err.value.field == field
    assert fragment in err.value.message
    assert err.value.line == 1


def test_table_file_parsed_as_index_is_rejected() -> None:
    with pytest.raises(SourceFileError) as err:
        list(parse_index(DRUG, "disease"))
    assert err.value.field == "title" and err.value.line == 4


def test_index_file_parsed_as_table_is_rejected(tmp_path: Path) -> None:
    text = DISEASE.read_text().replace("<title>ICD-10-CM INDEX TO DISEASES and INJURIES</title>", "")
    path = _write(tmp_path, "untitled.xml", text)
    with pytest.raises(SourceFileError, match="no <indexHeading>"):
        list(parse_index(path, "neoplasm"))
    assert len(list(parse_index(path, "external"))) == 23  # without a title nothing tells them apart


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="index must be one of"):
        parse_index(DISEASE, "tabular")
    with pytest.raises(SourceFileError, match="file not found"):
        parse_index(tmp_path / "missing.xml", "disease")
    empty = _write(tmp_path, "empty.xml", "")
    with pytest.raises(SourceFileError, match="malformed XML: no element found"):
        list(parse_index(empty, "disease"))


# --- detect_index_kind ----------------------------------------------------------------------------


def test_detect_index_kind_from_title() -> None:
    assert detect_index_kind(DISEASE) == "disease"
    assert detect_index_kind(EXTERNAL) == "external"
    assert detect_index_kind(NEOPLASM) == "neoplasm"
    assert detect_index_kind(DRUG) == "drug"


def test_detect_index_kind_from_headings_and_name(tmp_path: Path) -> None:
    untitled = NEOPLASM.read_text().replace("<title>ICD-10-CM TABLE of NEOPLASMS</title>", "")
    assert detect_index_kind(_write(tmp_path, "table.xml", untitled)) == "neoplasm"
    bare = "<ICD10CM.index><letter><mainTerm><title>x</title></mainTerm></letter></ICD10CM.index>"
    assert detect_index_kind(_write(tmp_path, "icd10cm_eindex_2026.xml", bare)) == "external"
    with pytest.raises(SourceFileError, match="cannot tell"):
        detect_index_kind(_write(tmp_path, "whatever.xml", bare))
    with pytest.raises(SourceFileError) as err:
        detect_index_kind(_write(tmp_path, "other.xml", "<?xml version='1.0'?>\n<ICD10PCS.index/>"))
    assert err.value.field == "root" and err.value.line == 2

"""A user's licensed CPT data file, on SYNTHETIC files: real-looking code numbers, fake descriptors.

No AMA descriptor text is in this repository: every descriptor here is "TEST DESCRIPTOR ...".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medbill.codesets.cpt import DELIMITED, FIXED, FIXED_SEQ, TAB, detect_cpt_form, parse_cpt_file
from medbill.codesets.records import ITEM
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

DATA = Path(__file__).parent / "data"
LONGULT = DATA / "cpt_synthetic_LONGULT.txt"  # tab-delimited, after a (synthetic) notice
SHORTU = DATA / "cpt_synthetic_SHORTU.txt"  # fixed field "code descriptor"
LONGULF = DATA / "cpt_synthetic_LONGULF.txt"  # fixed field with sequence numbers
CSV = DATA / "cpt_synthetic_descriptors.csv"  # header: Code,Short Description,Long Description

CODES = ["00100", "99213", "0591T", "0001F", "0001U", "0001A", "0002M"]


def test_tab_delimited_long() -> None:
    assert detect_cpt_form(LONGULT) == TAB
    rows = list(parse_cpt_file(LONGULT))
    assert [r.code for r in rows] == CODES
    first = rows[0]
    assert first.system is CodeSystem.CPT and first.kind == ITEM and first.billable
    assert first.long_desc == "TEST DESCRIPTOR ONE" and first.short_desc is None
    assert first.attrs == {"descriptor": "long"}
    assert rows[1].long_desc == "TEST DESCRIPTOR TWO"


def test_fixed_field_short() -> None:
    assert detect_cpt_form(SHORTU) == FIXED
    rows = list(parse_cpt_file(SHORTU))
    assert [r.code for r in rows] == CODES
    assert rows[2].short_desc == "TEST DESC THREE" and rows[2].long_desc is None
    assert rows[2].attrs == {"descriptor": "short"}


def test_fixed_field_with_sequence_numbers() -> None:
    assert detect_cpt_form(LONGULF) == FIXED_SEQ
    rows = list(parse_cpt_file(LONGULF))
    assert [r.code for r in rows] == ["00100", "99213", "0591T"]
    assert rows[1].long_desc == (
        "TEST DESCRIPTOR TWO WHICH IS LONG ENOUGH THAT THE FIXED FIELD FORM WRAPS IT ONTO A SECOND "
        "RECORD AND THEN A THIRD ONE FOR GOOD MEASURE"
    )


def test_csv_with_header() -> None:
    assert detect_cpt_form(CSV) == DELIMITED
    rows = list(parse_cpt_file(CSV))
    assert [(r.code, r.long_desc, r.short_desc) for r in rows] == [
        ("00100", "TEST DESCRIPTOR ONE", "TEST SHORT ONE"),
        ("99213", "TEST DESCRIPTOR TWO, WITH A COMMA", "TEST SHORT TWO"),
        ("0591T", "TEST DESCRIPTOR THREE", None),
    ]
    assert rows[0].attrs == {"descriptor": "long"}


def test_consumer_file_with_header_and_override(tmp_path: Path) -> None:
    p = tmp_path / "ConsumerDescriptor.txt"
    p.write_text(
        "Concept Id\tCPT Code\tConsumer Friendly Descriptor\n"
        "1001\t99213\tTEST DESCRIPTOR ONE\n1002\t0591T\tTEST DESCRIPTOR TWO\n"
    )
    rows = list(parse_cpt_file(p))
    assert [(r.code, r.long_desc, r.attrs["descriptor"]) for r in rows] == [
        ("99213", "TEST DESCRIPTOR ONE", "consumer"),
        ("0591T", "TEST DESCRIPTOR TWO", "consumer"),
    ]
    q = tmp_path / "export.txt"
    q.write_text("99213\tTEST DESCRIPTOR ONE\n")
    (row,) = parse_cpt_file(q, descriptor="short")
    assert row.short_desc == "TEST DESCRIPTOR ONE" and row.long_desc is None


def _err(p: Path) -> SourceFileError:
    with pytest.raises(SourceFileError) as ei:
        list(parse_cpt_file(p))
    assert ei.value.path == str(p)
    return ei.value


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        # a code that is not a CPT code
        ("99213\tTEST DESCRIPTOR ONE\nJ1100\tTEST DESCRIPTOR TWO\n", 2, "code"),
        # a line of another form inside a tab file
        ("99213\tTEST DESCRIPTOR ONE\n0591T TEST DESCRIPTOR TWO\n", 2, "descriptor"),
        # descriptor missing
        ("99213\tTEST DESCRIPTOR ONE\n0591T\t \n", 2, "descriptor"),
        # the same code twice
        ("99213\tTEST DESCRIPTOR ONE\n99213\tTEST DESCRIPTOR TWO\n", 2, "code"),
        # fixed field with a broken sequence
        ("9921301 TEST DESCRIPTOR ONE\n9921303 TEST DESCRIPTOR TWO\n", 2, "sequence"),
        ("9921302 TEST DESCRIPTOR ONE\n", 1, "sequence"),
        # CSV: bad code, empty descriptor
        ("Code,Description\n99213,TEST DESCRIPTOR ONE\n9921,TEST DESCRIPTOR TWO\n", 3, "Code"),
        ("Code,Description\n99213,\n", 2, "Description"),
    ],
)
def test_bad_lines(tmp_path: Path, body: str, line: int, field: str) -> None:
    p = tmp_path / "LONGULT.txt"
    p.write_text(body)
    e = _err(p)
    assert (e.line, e.field) == (line, field)


def test_not_a_cpt_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("just some text\nwith no codes in it\n")
    e = _err(p)
    assert e.line == 1 and "no CPT records" in e.message
    q = tmp_path / "codes.csv"
    q.write_text("Code,Units\n99213,1\n")  # a header without a descriptor column
    assert _err(q).line == 1
    b = tmp_path / "LONGULT.xlsx"
    b.write_bytes(b"PK\x03\x04\x00\x00binary")
    _err(b)
    m = tmp_path / "MODUL.txt"  # two-character modifiers are not codes
    m.write_text("25\tTEST DESCRIPTOR ONE\n")
    _err(m)


def test_windows_1252_file(tmp_path: Path) -> None:
    p = tmp_path / "LONGULT.txt"
    p.write_bytes("CPT\xae SYNTHETIC NOTICE\r\n99213\tTEST DESCRIPTOR ONE\r\n".encode("cp1252"))
    (row,) = parse_cpt_file(p)
    assert row.long_desc == "TEST DESCRIPTOR ONE"

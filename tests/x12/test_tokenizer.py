"""The X12 tokenizer: delimiters from the ISA, exact round-trips, envelopes, errors naming the segment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbill.core.errors import X12ParseError
from medbill.x12.tokenizer import (
    Delimiters,
    Segment,
    X12Document,
    check_control_totals,
    format_segment,
    read_transactions,
    tokenize,
    write,
)


def _fixture_root() -> Path | None:
    """Same rule as the ``fixtures_dir`` fixture, at collection time (to parametrize over files)."""
    raw = os.environ.get("MEDBILL_FIXTURES_DIR")
    if raw:
        return Path(raw).resolve()
    src = os.environ.get("MEDBILL_SOURCE_DIR")
    return Path(src).resolve().parent / "fixtures" if src else None


def _all_x12_files() -> list[str]:
    root = _fixture_root()
    if root is None or not (root / "x12").is_dir():
        return []
    return sorted(
        str(p.relative_to(root))
        for p in (root / "x12").rglob("*")
        if p.is_file() and p.name not in ("SOURCE.txt", "README.md")
    )


ALL_FILES = _all_x12_files()

# The one fixture that cannot be tokenized: without an ISA there are no delimiters to read.
NO_ISA = "x12/imsweb-x12-parser/837_5010__x12_no_isa_line.txt"

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*T*:~"
SMALL = (
    ISA + "GS*HC*S*R*20240101*1200*1*X*005010X222A1~"
    "ST*837*0001*005010X222A1~"
    "BHT*0019*00*REF1*20240101*1200*CH~"
    "NM1*85*2*CLINIC*****XX*1234567893~"
    "SV1*HC:99213:25*100*UN*1***1:2~"
    "SE*5*0001~GE*1*1~IEA*1*000000001~"
)


def _read(root: Path, rel: str) -> bytes:
    return (root / rel).read_bytes()


# ---------------------------------------------------------------------------------------------------
# Round trip of every fixture file


def test_fixture_inventory(fixtures_dir: Path) -> None:
    """Every X12 fixture folder is covered (837, 835, 999, 277CA, 270/271 ...)."""
    assert len(ALL_FILES) == 128
    names = " ".join(ALL_FILES)
    for kind in ("837", "835", "999", "277", "270", "271", "276"):
        assert kind in names


@pytest.mark.parametrize("rel", ALL_FILES)
def test_every_fixture_round_trips_bytes(fixtures_dir: Path, rel: str) -> None:
    raw = _read(fixtures_dir, rel)
    text = raw.decode("utf-8")
    if rel == NO_ISA:
        with pytest.raises(X12ParseError) as info:
            tokenize(text)
        assert info.value.segment_index == 1
        assert info.value.segment_id == "GS"
        assert "starts with ISA" in str(info.value)
        return
    document = tokenize(text)
    assert write(document).encode("utf-8") == raw
    segments = list(document.segments)
    assert segments[0].id == "ISA"
    assert [s.index for s in segments] == list(range(1, len(segments) + 1))
    assert sum(1 for s in segments if s.id == "ISA") == len(document.interchanges)


@pytest.mark.parametrize(
    ("rel", "element", "component", "terminator", "repetition", "segments"),
    [
        # ISA11 "U" (4010 style): no repetition separator; CRLF-free, LF after each terminator
        ("x12/imsweb-x12-parser/837_5010__x12_valid.txt", "*", ":", "~", None, 38),
        ("x12/imsweb-x12-parser/837_5010__x12_valid_different_separators.txt", "~", "^", "_", None, 38),
        # the TR3 transcriptions: ISA11 ">" is the repetition separator, no line breaks at all
        ("x12/stupidedi-tr3-examples/X222A1_HC837__commercial-health-insurance.edi", "*", ":", "~", ">", 46),
        ("x12/x12sdk/cob-two-other-payer-referring-providers.837", "*", ":", "~", "^", None),
        ("x12/imsweb-x12-parser/277_5010__x12_277CA_rejected.txt", "*", "|", "~", "^", None),
    ],
)
def test_delimiters_come_from_the_isa(
    fixtures_dir: Path,
    rel: str,
    element: str,
    component: str,
    terminator: str,
    repetition: str | None,
    segments: int | None,
) -> None:
    document = tokenize(_read(fixtures_dir, rel).decode("utf-8"))
    assert document.delimiters == Delimiters(element, component, terminator, repetition)
    if segments is not None:
        assert len(list(document.segments)) == segments


def test_different_separators_give_the_same_segments(fixtures_dir: Path) -> None:
    base = "x12/imsweb-x12-parser/837_5010__x12_valid"
    star = tokenize(_read(fixtures_dir, base + ".txt").decode())
    tilde = tokenize(_read(fixtures_dir, base + "_different_separators.txt").decode())
    assert [(s.id, s.elements) for s in star.segments][1:] == [(s.id, s.elements) for s in tilde.segments][1:]
    sv1 = next(s for s in tilde.segments if s.id == "SV1")
    assert sv1.elements[0] == ("HC", "99211", "25")
    assert sv1.component(1, 2) == "99211"


def test_multiple_interchanges_each_read_their_own_delimiters(fixtures_dir: Path) -> None:
    """Two interchanges in one file with different delimiters (and a CRLF file after a LF one)."""
    a = _read(fixtures_dir, "x12/imsweb-x12-parser/837_5010__x12_valid.txt").decode().rstrip("\n") + "\n"
    b = _read(fixtures_dir, "x12/imsweb-x12-parser/837_5010__x12_valid_different_separators.txt").decode()
    b = b.replace("\n", "\r\n")
    text = a + b
    document = tokenize(text)
    assert write(document) == text
    assert [i.delimiters.element for i in document.interchanges] == ["*", "~"]
    assert [len(i.segments) for i in document.interchanges] == [38, 38]
    second_isa = document.interchanges[1].segments[0]
    assert second_isa.index == 39 and second_isa.end == "_\r\n"


def test_multiple_isa_fixture_has_two_interchanges(fixtures_dir: Path) -> None:
    document = tokenize(_read(fixtures_dir, "x12/imsweb-x12-parser/837_5010__x12_multiple_isa.txt").decode())
    assert len(document.interchanges) == 2
    assert len(read_transactions(document)) == 2


# ---------------------------------------------------------------------------------------------------
# Layout: BOM, line breaks, trailing text


def test_bom_is_stripped_and_remembered() -> None:
    plain = tokenize(SMALL)
    with_bom = tokenize("\ufeff" + SMALL)
    assert with_bom.bom and not plain.bom
    assert list(with_bom.segments) == list(plain.segments)
    assert write(with_bom) == "\ufeff" + SMALL


@pytest.mark.parametrize("brk", ["", "\n", "\r\n", "\r", "\n\n", " \n"])
def test_line_breaks_between_segments(brk: str) -> None:
    text = SMALL.replace("~", "~" + brk)
    document = tokenize(text)
    assert write(document) == text
    assert [(s.id, s.elements) for s in document.segments] == [(s.id, s.elements) for s in tokenize(SMALL).segments]
    assert all(s.end == "~" + brk for s in document.segments)


def test_newline_as_segment_terminator() -> None:
    text = SMALL.replace("~", "\n")
    document = tokenize(text)
    assert document.delimiters.segment == "\n"
    assert len(list(document.segments)) == 9
    assert write(document) == text


def test_leading_whitespace_trailing_junk_and_missing_final_terminator() -> None:
    for text in ("\r\n  " + SMALL, SMALL + "\r\n\x1a", SMALL[:-1]):
        document = tokenize(text)
        assert write(document) == text
        assert list(document.segments)[-1].id == "IEA"
    assert list(tokenize(SMALL[:-1]).segments)[-1].end == ""


# ---------------------------------------------------------------------------------------------------
# Segments and elements


def test_segment_access() -> None:
    document = tokenize(SMALL)
    segs = list(document.segments)
    isa, nm1, sv1 = segs[0], segs[4], segs[5]
    assert isa.elements[15] == ":" and len(isa.elements) == 16  # the ISA is never split into components
    assert nm1.index == 5 and nm1.text(9) == "1234567893" and nm1.text(12) == ""
    assert sv1.elements[0] == ("HC", "99213", "25")
    assert sv1.components(7) == ("1", "2")
    assert sv1.component(1, 3) == "25" and sv1.component(1, 4) == ""
    assert sv1.components(2) == ("100",)
    with pytest.raises(X12ParseError) as info:
        sv1.text(1)
    assert info.value.segment_index == 6 and info.value.element == "SV101"
    assert sv1.ref(1, 2) == "SV101-2"
    assert format_segment(sv1, document.delimiters) == "SV1*HC:99213:25*100*UN*1***1:2"


def test_repetition_separator() -> None:
    d = tokenize(SMALL).delimiters
    assert d.repetition == "^"
    assert d.repetitions("1^33^35") == ("1", "33", "35")
    assert Delimiters(repetition=None).repetitions("1^2") == ("1^2",)


# ---------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("text", "index", "seg_id", "fragment"),
    [
        ("", 1, None, "empty"),
        ("   \n", 1, None, "empty"),
        ("GS*HC*S*R~", 1, "GS", "starts with ISA"),
        ("ISA*00*   *00~", 1, "ISA", "found 3 of the 16"),
        ("ISA", 1, "ISA", "ends inside the ISA"),
        (ISA.replace("*:~", "**~"), 1, "ISA", "must differ"),
        (ISA.replace(":~", "A~"), 1, "ISA", "component separator"),
        (ISA.replace(":~", ":Z"), 1, "ISA", "segment terminator"),
        (ISA.replace("ISA*", "ISAA", 1), 1, "ISA", "element separator"),
        (ISA.replace("*^*", "*:*"), 1, "ISA", "repetition separator"),
        (ISA[:-1], 1, "ISA", "ends before the segment terminator"),
        (SMALL + "GS*HC~", 10, "GS", "only a new ISA may follow an IEA"),
    ],
)
def test_tokenize_errors_name_the_segment(text: str, index: int, seg_id: str | None, fragment: str) -> None:
    with pytest.raises(X12ParseError) as info:
        tokenize(text)
    assert info.value.segment_index == index
    assert info.value.segment_id == seg_id
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "index", "seg_id", "element", "fragment"),
    [
        (SMALL.replace("*00*          *00", "*00*         *00", 1), 1, "ISA", "ISA02", "10 characters"),
        (SMALL.replace("GS*HC*S*R*20240101*1200*1*X*005010X222A1~", ""), 2, "ST", None, "GS must come first"),
        (SMALL.replace("SE*5*0001~", ""), 7, "GE", None, "no SE"),
        (SMALL.replace("GE*1*1~", ""), 8, "IEA", None, "no GE"),
        (SMALL.replace("IEA*1*000000001~", ""), 8, "GE", None, "no IEA"),
        (SMALL.replace("BHT", "bht"), 4, "bht", None, "segment identifier"),
        (SMALL.replace("GE*1*1~", "GE*1*1~NM1*X~"), 9, "NM1", None, "outside any transaction set"),
        (SMALL.replace("ST*837", "GS*HC*S*R*20240101*1200*1*X*005010X222A1~ST*837"), 3, "GS", None, "no GE"),
    ],
)
def test_envelope_errors(text: str, index: int, seg_id: str, element: str | None, fragment: str) -> None:
    with pytest.raises(X12ParseError) as info:
        read_transactions(tokenize(text))
    assert (info.value.segment_index, info.value.segment_id, info.value.element) == (index, seg_id, element)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "index", "element", "fragment"),
    [
        ("SE*5*0001", "SE*4*0001", 7, "SE01", "says 4 but there are 5 segments"),
        ("SE*5*0001", "SE*5*0002", 7, "SE02", "does not match ST02 '0001'"),
        ("GE*1*1", "GE*2*1", 8, "GE01", "says 2 but there are 1 transaction sets"),
        ("GE*1*1", "GE*1*9", 8, "GE02", "does not match GS06 '1'"),
        ("IEA*1*000000001", "IEA*0*000000001", 9, "IEA01", "says 0 but there are 1 functional groups"),
        ("IEA*1*000000001", "IEA*1*000000002", 9, "IEA02", "does not match ISA13"),
    ],
)
def test_control_totals(old: str, new: str, index: int, element: str, fragment: str) -> None:
    document = tokenize(SMALL)
    read_transactions(document)
    check_control_totals(document)  # the original is right
    bad = tokenize(SMALL.replace(old, new))
    assert len(read_transactions(bad)) == 1  # the nesting is fine
    with pytest.raises(X12ParseError) as info:
        check_control_totals(bad)
    assert (info.value.segment_index, info.value.element) == (index, element)
    assert fragment in str(info.value)


def test_transaction_sets(fixtures_dir: Path) -> None:
    text = _read(fixtures_dir, "x12/imsweb-x12-parser/837_5010__x12_multiple_gs.txt").decode()
    txs = read_transactions(tokenize(text))
    assert [(t.code, t.version) for t in txs] == [("837", "005010X222A1")] * 3
    assert [t.st.index for t in txs] == [3, 39, 75]
    assert txs[0].body[0].id == "BHT" and txs[0].se.id == "SE"


@pytest.mark.parametrize(
    ("rel", "index", "element"),
    [
        ("x12/linuxforhealth-x12/271_005010X279A1__subscriber-health-benefit-check-error.271", 10, "SE02"),
        ("x12/stupidedi-tr3-examples/X212_HR277__1.era", 20, "IEA02"),
        ("x12/imsweb-x12-parser/837_5010__x12_999_accepted.txt", 10, "IEA02"),
        ("x12/imsweb-x12-parser/x270_271__x270.txt", 16, "SE01"),
    ],
)
def test_fixtures_with_wrong_control_totals(fixtures_dir: Path, rel: str, index: int, element: str) -> None:
    document = tokenize(_read(fixtures_dir, rel).decode())
    read_transactions(document)
    with pytest.raises(X12ParseError) as info:
        check_control_totals(document)
    assert (info.value.segment_index, info.value.element) == (index, element)


def test_all_tr3_examples_have_right_envelopes(fixtures_dir: Path) -> None:
    """The TR3 transcriptions (except one 277 ERA) pass every envelope check."""
    checked = 0
    for path in sorted((fixtures_dir / "x12" / "stupidedi-tr3-examples").glob("*.edi")):
        document = tokenize(path.read_text())
        assert read_transactions(document)
        check_control_totals(document)
        checked += 1
    assert checked == 42


# ---------------------------------------------------------------------------------------------------
# Property: random delimiters round-trip

_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_DATA = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", max_size=8)  # never a delimiter


@st.composite
def _documents(draw: st.DrawFn) -> tuple[Delimiters, list[tuple[str, tuple[str | tuple[str, ...], ...]]], str]:
    chars = draw(st.lists(st.sampled_from(_PUNCT), min_size=4, max_size=4, unique=True))
    element, component, repetition = chars[0], chars[1], chars[3]
    segment = draw(st.sampled_from([chars[2], "\n"]))
    if segment == "\n":
        brk = ""
    else:
        brk = draw(st.sampled_from(["", "\n", "\r\n"]))
    use_repetition = draw(st.booleans())
    delimiters = Delimiters(element, component, segment, repetition if use_repetition else None)
    body: list[tuple[str, tuple[str | tuple[str, ...], ...]]] = []
    for _ in range(draw(st.integers(0, 6))):
        sid = draw(st.sampled_from(["NM1", "REF", "HI", "SV1", "DTP", "N3", "LX"]))
        elements: list[str | tuple[str, ...]] = []
        for _ in range(draw(st.integers(1, 6))):
            if draw(st.booleans()):
                elements.append(tuple(draw(st.lists(_DATA, min_size=2, max_size=4))))
            else:
                elements.append(draw(_DATA))
        body.append((sid, tuple(elements)))
    return delimiters, body, brk


def _build(delimiters: Delimiters, body: list[tuple[str, tuple[str | tuple[str, ...], ...]]], brk: str) -> str:
    e, term = delimiters.element, delimiters.segment
    isa11 = delimiters.repetition or "U"
    isa = e.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            "SENDER".ljust(15),
            "ZZ",
            "RECEIVER".ljust(15),
            "240101",
            "1200",
            isa11,
            "00501",
            "000000001",
            "0",
            "T",
            delimiters.component,
        ]
    )
    segs = [isa, e.join(["GS", "HC", "S", "R", "20240101", "1200", "1", "X", "005010X222A1"]), f"ST{e}837{e}0001"]
    for sid, elements in body:
        segs.append(format_segment(Segment(0, sid, elements), delimiters))
    segs += [e.join(["SE", str(len(body) + 2), "0001"]), f"GE{e}1{e}1", f"IEA{e}1{e}000000001"]
    return "".join(s + term + brk for s in segs)


@settings(max_examples=300, deadline=None)
@given(_documents())
def test_random_delimiters_round_trip(case: tuple[Delimiters, list, str]) -> None:  # type: ignore[type-arg]
    delimiters, body, brk = case
    text = _build(delimiters, body, brk)
    document = tokenize(text)
    assert write(document) == text
    assert document.delimiters == delimiters
    got = [(s.id, s.elements) for s in document.segments][3:-3]
    assert got == body
    txs = read_transactions(document)
    assert len(txs) == 1 and len(txs[0].body) == len(body)
    check_control_totals(document)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises_anything_but_x12parseerror(text: str) -> None:
    for candidate in (text, ISA + text):
        try:
            document = tokenize(candidate)
        except X12ParseError:
            continue
        assert isinstance(document, X12Document)
        assert write(document) == candidate
        try:
            read_transactions(document)
            check_control_totals(document)
        except X12ParseError:
            pass

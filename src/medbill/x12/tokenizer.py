"""X12 tokenizer: ASC X12 005010 interchanges (ISA ... IEA) as text in, segments out, and back.

Reads any X12 interchange (837, 835, 999, 277CA, 270/271 ...): the format is ASC X12 (X12.5/X12.6
syntax; the HIPAA 005010 implementation guides, "TR3s", are sold by X12 at x12.org). Pure text in,
records out: no I/O.

Delimiters always come from the ISA segment, never assumed:

* element separator: the 4th character of the interchange (right after ``ISA``);
* component (sub-element) separator: ISA16, the character after the 16th element separator;
* segment terminator: the character right after ISA16;
* repetition separator: ISA11 when ISA12 is 00501 or later and ISA11 is not a letter or digit
  (in 004010 ISA11 is the standards identifier, usually ``U``: then there is none).

The ISA is located by counting element separators, not by fixed offsets, so an ISA whose fixed-width
fields are mis-sized still tokenizes (``read_transactions`` reports the width). Each interchange in a
file reads its own delimiters. A leading UTF-8 byte-order mark is stripped (and remembered); any run of
spaces, tabs, CR and LF after a segment terminator is kept with that segment, so files with CR/LF, LF,
no line breaks or stray spaces between segments all round-trip: ``write(tokenize(raw)) == raw``.

Elements are strings; an element holding the component separator is a tuple of its components (the
ISA is never split into components: ISA16 *is* the component separator). Repetitions are left joined
(``Delimiters.repetitions`` splits one). ``Segment.index`` is the 1-based position of the segment in
the file (ISA = 1), the number error messages use: ``segment 14 NM1: NM109 ...``.

``read_transactions`` then checks the envelopes (ISA fixed widths, ISA/IEA, GS/GE, ST/SE nesting and
segment identifiers) and returns the transaction sets; ``check_control_totals`` checks the counts and
control numbers in the trailers (SE01/SE02, GE01/GE02, IEA01/IEA02). Problems raise
``medbill.core.errors.X12ParseError`` naming the segment.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from medbill.core.errors import X12ParseError

Element = str | tuple[str, ...]
"""One element: its text, or the tuple of its components when it holds the component separator."""

ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
"""Fixed widths of ISA01..ISA16 (X12.5); the ISA is 106 characters with its terminator."""

_ISA_MAX_SCAN = 400  # an ISA is 106 characters; allow sloppy padding but never scan the whole file
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_FILLER = " \t\r\n"  # between segments, after the terminator
_TRAILING_JUNK = "\x1a\x00"  # DOS end-of-file mark and NULs after the last IEA


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four X12 delimiters of one interchange (from its ISA)."""

    element: str = "*"
    component: str = ":"
    segment: str = "~"
    repetition: str | None = "^"

    def repetitions(self, value: str) -> tuple[str, ...]:
        """``value`` split at the repetition separator (a 1-tuple when there is none)."""
        if self.repetition is None or self.repetition not in value:
            return (value,)
        return tuple(value.split(self.repetition))

    def chars(self) -> str:
        return self.element + self.component + self.segment + (self.repetition or "")


class Segment(NamedTuple):
    """One segment: its identifier and elements (``elements[0]`` is element 01).

    ``index`` is the 1-based position in the file (0 for a segment built in code); ``end`` is the text
    that followed the segment in the source (terminator plus line break / spaces), kept for round-trips.
    An immutable named tuple (cheap to build: a file has hundreds of thousands); change with ``_replace``.
    """

    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: the brief names it so
    id: str
    elements: tuple[Element, ...]
    end: str = ""

    def ref(self, pos: int, sub: int | None = None) -> str:
        """The element's reference designator, ``NM109`` or ``SV101-2``."""
        return f"{self.id}{pos:02d}" if sub is None else f"{self.id}{pos:02d}-{sub}"

    def element(self, pos: int) -> Element:
        """Element ``pos`` (1-based) as stored; ``""`` when the segment is shorter."""
        return self.elements[pos - 1] if 0 < pos <= len(self.elements) else ""

    def text(self, pos: int) -> str:
        """Element ``pos`` (1-based) as a simple element; ``""`` when absent.

        Raises ``X12ParseError`` when it holds the component separator (delimiters may not occur in data).
        """
        elements = self[2]
        if pos > len(elements) or pos < 1:
            return ""
        value = elements[pos - 1]
        if value.__class__ is str:
            return value
        raise self.error("holds the component separator, but is a simple element", pos)

    def components(self, pos: int) -> tuple[str, ...]:
        """Element ``pos`` as a composite: the tuple of its components (a 1-tuple for a plain value)."""
        value = self.elements[pos - 1] if 0 < pos <= len(self.elements) else ""
        return value if isinstance(value, tuple) else (value,)

    def component(self, pos: int, sub: int) -> str:
        """Component ``sub`` (1-based) of element ``pos``; ``""`` when absent."""
        comps = self.components(pos)
        return comps[sub - 1] if 0 < sub <= len(comps) else ""

    def error(self, message: str, pos: int | None = None, sub: int | None = None) -> X12ParseError:
        """An ``X12ParseError`` located at this segment (and element ``pos``, component ``sub``)."""
        return X12ParseError(
            message,
            segment_index=self.index or None,
            segment_id=self.id or None,
            element=None if pos is None else self.ref(pos, sub),
        )


@dataclass(frozen=True, slots=True)
class Interchange:
    """One interchange: its delimiters and its segments, ISA through IEA (as found)."""

    delimiters: Delimiters
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class X12Document:
    """A tokenized file: its interchanges, plus what surrounds them (for exact round-trips)."""

    interchanges: tuple[Interchange, ...]
    bom: bool = False
    leading: str = ""  # whitespace before the first ISA

    @property
    def segments(self) -> Iterator[Segment]:
        for interchange in self.interchanges:
            yield from interchange.segments

    @property
    def delimiters(self) -> Delimiters:
        """The first interchange's delimiters."""
        return self.interchanges[0].delimiters


# ---------------------------------------------------------------------------------------------------
# Tokenizing


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic records (restored after).

    Tokenizing creates hundreds of thousands of small tuples; with the collector running, its passes
    over them cost about a third of the time. Nothing built here forms cycles, so pausing it frees
    nothing late. It is left alone when it was already disabled.
    """
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _snippet(text: str, pos: int) -> str:
    return text[pos : pos + 20].replace("\r", "\\r").replace("\n", "\\n")


def _bad_delimiter(char: str) -> bool:
    return char.isalnum() or char in " \t" or not char.isprintable() and char not in "\r\n"


def _read_isa(text: str, pos: int, index: int) -> tuple[Delimiters, tuple[str, ...], int]:
    """Delimiters, ISA01..ISA16 and the offset just past the ISA terminator, for the ISA at ``pos``."""
    n = len(text)

    def fail(message: str, element: str | None = None) -> X12ParseError:
        return X12ParseError(message, segment_index=index, segment_id="ISA", element=element)

    if pos + 4 > n:
        raise fail("the file ends inside the ISA segment")
    sep = text[pos + 3]
    if _bad_delimiter(sep) or sep in "\r\n":
        raise fail(f"the element separator (4th character) is {sep!r}; it must be a punctuation character")
    limit = min(n, pos + _ISA_MAX_SCAN)
    marks = [pos + 3]
    while len(marks) < 16:
        nxt = text.find(sep, marks[-1] + 1, limit)
        if nxt < 0:
            raise fail(
                f"found {len(marks)} of the 16 ISA element separators {sep!r}; the ISA is malformed or truncated"
            )
        marks.append(nxt)
    last = marks[-1]
    if last + 2 >= n:
        raise fail("the file ends before the segment terminator that follows ISA16", "ISA16")
    elements = tuple(text[marks[k] + 1 : marks[k + 1]] for k in range(15)) + (text[last + 1],)
    component = text[last + 1]
    terminator = text[last + 2]
    if _bad_delimiter(component) or component in "\r\n":
        raise fail(f"the component separator (ISA16) is {component!r}; it must be a punctuation character", "ISA16")
    if _bad_delimiter(terminator):
        raise fail(f"the segment terminator after ISA16 is {terminator!r}; it must be a punctuation character")
    if len({sep, component, terminator}) != 3:
        raise fail(
            f"the element separator {sep!r}, component separator {component!r} and segment terminator "
            f"{terminator!r} must differ",
            "ISA16",
        )
    repetition: str | None = None
    isa11, isa12 = elements[10], elements[11]
    if isa12.isdigit() and isa12 >= "00501" and len(isa11) == 1 and not isa11.isalnum() and isa11 != " ":
        if isa11 in (sep, component, terminator):
            raise fail(f"the repetition separator {isa11!r} is already another delimiter", "ISA11")
        repetition = isa11
    return Delimiters(sep, component, terminator, repetition), elements, last + 3


def _filler(delimiters: Delimiters) -> str:
    used = delimiters.chars()
    return "".join(c for c in _FILLER if c not in used)


def tokenize(text: str) -> X12Document:
    """Split ``text`` (one or more interchanges) into segments; see the module docstring.

    Raises ``X12ParseError`` when the text does not start with an ISA (after an optional BOM and
    whitespace), when an ISA is malformed, or when anything but another ISA follows an IEA.
    """
    with gc_paused():
        return _tokenize(text)


def _tokenize(text: str) -> X12Document:
    n = len(text)
    bom = text.startswith("\ufeff")
    pos = 1 if bom else 0
    start = pos
    while pos < n and text[pos] in _FILLER:
        pos += 1
    leading = text[start:pos]
    if pos >= n:
        raise X12ParseError("no X12 data: the text is empty", segment_index=1)
    interchanges: list[Interchange] = []
    index = 0
    ends: dict[str, str] = {}
    while pos < n:
        if not text.startswith("ISA", pos):
            found = re.match(r"[A-Za-z0-9]{0,3}", text[pos : pos + 3])
            raise X12ParseError(
                f"an X12 interchange starts with ISA, found {_snippet(text, pos)!r}",
                segment_index=index + 1,
                segment_id=found.group(0) if found and found.group(0) else None,
            )
        delimiters, isa_elements, after_isa = _read_isa(text, pos, index + 1)
        read, pos, index = _tokenize_interchange(text, after_isa, delimiters, isa_elements, index, ends)
        interchanges.extend(read)
    return X12Document(tuple(interchanges), bom, leading)


def _tokenize_interchange(
    text: str,
    after_isa: int,
    delimiters: Delimiters,
    isa_elements: tuple[str, ...],
    index: int,
    ends: dict[str, str],
) -> tuple[list[Interchange], int, int]:
    """Tokenize from the ISA ending at ``after_isa`` for as long as the delimiters stay the same.

    Returns the interchanges read, the offset where tokenizing must restart (an ISA with other
    delimiters, or the end of the text) and the last segment index used.
    """
    n = len(text)
    esep, csep, term = delimiters.element, delimiters.component, delimiters.segment
    filler = _filler(delimiters)
    pieces = text[after_isa:].split(term)  # pieces[k]: the text after the k-th terminator (k = 0: the ISA's)
    last = len(pieces) - 1
    out: list[Interchange] = []
    current: list[Segment] = []
    index += 1
    pending_index, pending_id, pending_elements = index, "ISA", tuple[Element, ...](isa_elements)
    offset = after_isa  # offset of pieces[k] in text
    for k, piece in enumerate(pieces):
        content = piece.lstrip(filler) if filler else piece
        if len(content) == len(piece):
            end = term
            lead = ""
        else:
            if k == last and not content.strip(_TRAILING_JUNK + _FILLER):
                end = term + piece  # trailing whitespace (and DOS end-of-file marks) stays with the last segment
                current.append(Segment(pending_index, pending_id, pending_elements, ends.setdefault(end, end)))
                out.append(Interchange(delimiters, tuple(current)))
                return out, n, index
            lead = piece[: len(piece) - len(content)]
            end = ends.setdefault(term + lead, term + lead)
        if k == last and not content.strip(_TRAILING_JUNK):
            current.append(Segment(pending_index, pending_id, pending_elements, term + piece))
            out.append(Interchange(delimiters, tuple(current)))
            return out, n, index
        current.append(Segment(pending_index, pending_id, pending_elements, end))
        if pending_id == "IEA":
            content_pos = offset + len(lead)
            if not content.startswith("ISA"):
                raise X12ParseError(
                    f"only a new ISA may follow an IEA, found {_snippet(text, content_pos)!r}",
                    segment_index=index + 1,
                    segment_id=content.split(esep, 1)[0][:3] or None,
                )
            out.append(Interchange(delimiters, tuple(current)))
            current = []
            new_delimiters, new_isa, new_after = _read_isa(text, content_pos, index + 1)
            if new_delimiters != delimiters or new_after != content_pos + len(content) + 1:
                return out, content_pos, index  # other delimiters: tokenize again from this ISA
            index += 1
            pending_index, pending_id, pending_elements = index, "ISA", tuple[Element, ...](new_isa)
        else:
            index += 1
            pending_index = index
            parts = content.split(esep)
            pending_id = parts[0]
            if csep in content:
                pending_elements = tuple([tuple(p.split(csep)) if csep in p else p for p in parts[1:]])
            else:
                pending_elements = tuple(parts[1:])
        offset += len(piece) + 1
    # the last segment had no terminator: it ends with the text
    current.append(Segment(pending_index, pending_id, pending_elements, ""))
    out.append(Interchange(delimiters, tuple(current)))
    return out, n, index


# ---------------------------------------------------------------------------------------------------
# Writing


def format_segment(segment: Segment, delimiters: Delimiters) -> str:
    """The segment's text without its terminator (``NM1*85*2*...``)."""
    if not segment.elements:
        return segment.id
    csep = delimiters.component
    body = delimiters.element.join(e if isinstance(e, str) else csep.join(e) for e in segment.elements)
    return f"{segment.id}{delimiters.element}{body}"


def write(document: X12Document) -> str:
    """The text of ``document``: ``write(tokenize(raw)) == raw`` for any text ``tokenize`` accepts."""
    out: list[str] = ["\ufeff" if document.bom else "", document.leading]
    for interchange in document.interchanges:
        d = interchange.delimiters
        esep, csep = d.element, d.component
        for seg in interchange.segments:
            if seg.elements:
                out.append(seg.id)
                out.append(esep)
                out.append(esep.join(e if isinstance(e, str) else csep.join(e) for e in seg.elements))
            else:
                out.append(seg.id)
            out.append(seg.end)
    return "".join(out)


# ---------------------------------------------------------------------------------------------------
# Envelopes


@dataclass(frozen=True, slots=True)
class TransactionSet:
    """One transaction set (ST ... SE) with the headers of its functional group and interchange."""

    isa: Segment
    gs: Segment
    st: Segment
    body: tuple[Segment, ...]  # the segments between ST and SE
    se: Segment
    delimiters: Delimiters

    @property
    def code(self) -> str:
        """ST01, the transaction set identifier (``837``, ``835``, ``999`` ...)."""
        return self.st.text(1)

    @property
    def version(self) -> str:
        """The implementation guide: ST03 when present, else GS08 (``005010X222A1``)."""
        return self.st.text(3) or self.gs.text(8)


def _check_isa(isa: Segment) -> None:
    if len(isa.elements) != 16:
        raise isa.error(f"has {len(isa.elements)} elements; an ISA has 16")
    for pos, width in enumerate(ISA_WIDTHS, start=1):
        value = isa.elements[pos - 1]
        assert isinstance(value, str)
        if len(value) != width:
            raise isa.error(f"must be {width} characters (fixed width), got {len(value)}: {value!r}", pos)


def read_transactions(document: X12Document) -> list[TransactionSet]:
    """The transaction sets of ``document``, after checking the envelope structure.

    Checks, in file order: every segment identifier is 2-3 upper-case letters/digits starting with a
    letter; each ISA has 16 fixed-width elements; ISA > GS > ST ... SE < GE < IEA nest properly (no
    segment outside a transaction set, no missing trailer). Counts and control numbers are checked by
    ``check_control_totals``, so a reader can report structural problems inside a transaction first.
    """
    out: list[TransactionSet] = []
    for interchange in document.interchanges:
        segs = interchange.segments
        isa = segs[0]
        _check_isa(isa)
        gs: Segment | None = None
        st: Segment | None = None
        body: list[Segment] = []
        closed = False
        for seg in segs[1:]:
            sid = seg.id
            if closed:
                raise seg.error("follows the IEA of its interchange")
            if not _SEGMENT_ID.fullmatch(sid):
                shown = sid if sid else "(empty)"
                raise X12ParseError(
                    f"segment identifier {shown!r} is not valid: 2-3 upper-case letters or digits, starting "
                    "with a letter",
                    segment_index=seg.index,
                    segment_id=sid or None,
                )
            if st is not None:
                if sid == "SE":
                    assert gs is not None
                    out.append(TransactionSet(isa, gs, st, tuple(body), seg, interchange.delimiters))
                    st, body = None, []
                elif sid in ("ST", "GS", "GE", "IEA", "ISA"):
                    raise seg.error(f"the transaction set begun by ST at segment {st.index} has no SE before it")
                else:
                    body.append(seg)
            elif sid == "ST":
                if gs is None:
                    raise seg.error("ST outside a functional group: a GS must come first")
                st = seg
            elif sid == "GS":
                if gs is not None:
                    raise seg.error(f"the functional group begun by GS at segment {gs.index} has no GE before it")
                gs = seg
            elif sid == "GE":
                if gs is None:
                    raise seg.error("GE without a GS")
                gs = None
            elif sid == "IEA":
                if gs is not None:
                    raise seg.error(f"the functional group begun by GS at segment {gs.index} has no GE before it")
                closed = True
            elif sid == "ISA":
                raise seg.error("an ISA inside an interchange: the previous one has no IEA")
            else:
                where = "a functional group" if gs is not None else "the interchange"
                raise seg.error(f"is outside any transaction set (directly in {where}); ST must come first")
        last = segs[-1]
        if st is not None:
            raise last.error(f"the file ends inside the transaction set begun by ST at segment {st.index} (no SE)")
        if gs is not None:
            raise last.error(f"the file ends inside the functional group begun by GS at segment {gs.index} (no GE)")
        if not closed:
            raise last.error(f"the interchange begun by ISA at segment {isa.index} has no IEA")
    return out


def check_control_totals(document: X12Document) -> None:
    """Check the trailers' counts and control numbers (after ``read_transactions`` accepted the nesting).

    SE01 = number of segments ST..SE, SE02 = ST02; GE01 = number of transaction sets, GE02 = GS06;
    IEA01 = number of functional groups, IEA02 = ISA13.
    """
    for interchange in document.interchanges:
        isa = interchange.segments[0]
        groups = 0
        sets = 0
        count = 0
        st: Segment | None = None
        gs: Segment | None = None
        for seg in interchange.segments[1:]:
            sid = seg.id
            if st is not None:
                count += 1
                if sid != "SE":
                    continue
                _expect_count(seg, 1, count, "segments in the transaction set (ST through SE)")
                _expect_same(seg, 2, st, 2, "ST02")
                st = None
            elif sid == "ST":
                st, count = seg, 1
                sets += 1
            elif sid == "GS":
                gs, sets = seg, 0
                groups += 1
            elif sid == "GE" and gs is not None:
                _expect_count(seg, 1, sets, "transaction sets in the functional group")
                _expect_same(seg, 2, gs, 6, "GS06")
                gs = None
            elif sid == "IEA":
                _expect_count(seg, 1, groups, "functional groups in the interchange")
                _expect_same(seg, 2, isa, 13, "ISA13")


def _expect_count(seg: Segment, pos: int, actual: int, what: str) -> None:
    stated = seg.text(pos)
    if not stated.isdigit() or int(stated) != actual:
        raise seg.error(f"says {stated or '(empty)'} but there are {actual} {what}", pos)


def _expect_same(seg: Segment, pos: int, header: Segment, header_pos: int, name: str) -> None:
    value, expected = seg.text(pos), header.text(header_pos)
    if value != expected:
        raise seg.error(f"control number {value!r} does not match {name} {expected!r} (segment {header.index})", pos)

"""Parser of the ICD-10-CM Tabular List of Diseases and Injuries (XML, CDC schema ``ICD10CM.tabular``).

The CDC's NCHS publishes the Tabular List each fiscal year (and for April updates) as
``icd10cm-tabular-<date>.xml`` in the "ICD-10-CM Files" zip at
https://www.cdc.gov/nchs/icd/icd-10-cm/files.html (mirrored by CMS at
https://www.cms.gov/medicare/coding-billing/icd-10-codes). medbill reads the copy of the April 1, 2026
release shipped inside the PyPI package ``simple-icd-10-cm`` (``simple_icd_10_cm/data/``, see
:func:`default_tabular_path`); only the file is used, never that package's Python API. The same folder
holds ``code-list-April-2026.txt`` (every tabular node and every 7th-character code, undotted, one a
line; :func:`parse_code_list`).

What :func:`parse_tabular` produces (a :class:`TabularRelease`):

* one :class:`~medbill.codesets.records.CodeRow` per tabular node and per 7th-character code:

  - ``chapter``: code ``"CH01"`` .. ``"CH22"`` (the XML ``<name>`` is a bare number), parent ``None``,
    ``attrs = {"tabular_id": "1"}``;
  - ``block`` (the XML ``<section>``): code = its ``id`` (``"A00-A09"``). 39 sections cover a single
    category and have the category's own code as id (``<section id="B10">``); their code is written
    as a range, ``"B10-B10"``, so that block and category stay distinct keys. ``attrs = {"tabular_id":
    <the XML id>}``; parent = the chapter;
  - ``category``: every 3-character ``<diag>`` (with or without children; ``I10`` is a category and
    billable), parent = the block;
  - ``subcategory``: a 4-6 character ``<diag>`` with children; ``code``: a leaf ``<diag>``; parent = the
    enclosing ``<diag>``. A ``<diag placeholder="true">`` (a node whose name holds the placeholder X,
    like ``S06.1X``, 246 of them) carries ``attrs = {"placeholder": True}``;
  - 7th-character codes (kind ``code``): a ``<sevenChrDef>`` applies to every ``<diag>`` below the one
    where it stands (the nearest definition wins: 24 subcategories of chapter 19 redefine their
    category's list). Every LEAF under a definition is expanded into one code per extension, the leaf
    being padded with the placeholder ``X`` to 6 characters first (``S72.001`` -> ``S72001A``;
    ``T36.0X1`` -> ``T360X1A``; ``M48.40`` -> ``M4840XA``; ``W08`` -> ``W08XXXA``). The expanded code's
    parent is the leaf itself: no row is made for the padded intermediate (``M4840X``, ``W08XXX``),
    which is neither a tabular node nor in CDC's code list. Its ``long_desc`` follows CMS's convention
    ``"<leaf desc>, <extension text>"`` and ``attrs = {"seventh": "A"}``. One exception is stated only
    in prose, in a ``<notes>`` at S06: "7th characters D and S do not apply to codes in category S06
    with 6th character 7 ... or 8 ..."; such notes are parsed and those codes are not made (an
    unrecognised wording of this kind raises), which is what CDC's code list and the MCE show.

  ``billable`` is True for a leaf with no 7th-character requirement and for every expanded code; the
  leaf that needs a 7th character is not billable and carries ``attrs = {"needs_seventh": True,
  "seventh_defined_at": <code where the definition stands>}``. Descriptions are the XML ``<desc>``
  with whitespace stripped and runs collapsed (only the block ``QA0`` differs: a leading space).
  The XML carries no short descriptions (``short_desc`` is ``None``).

* one :class:`~medbill.codesets.records.NoteRow` per ``<note>`` where it stands (chapter, block or
  ``<diag>``), kinds mapped from the element names (``inclusionTerm`` -> ``inclusion``, ``codeFirst``
  -> ``code_first``, ``useAdditionalCode`` -> ``use_additional``, ``codeAlso`` -> ``code_also``,
  ``notes`` -> ``note``, ``sevenChrNote`` -> ``seven_chr_note``; ``includes``/``excludes1``/
  ``excludes2`` as they are). ``seq`` counts from 1 within one code and kind, in document order.
  Text is whitespace-normalised as above (some notes carry tabs).

* one :class:`~medbill.codesets.records.SeventhCharRow` per ``<extension>`` at the node where the
  ``<sevenChrDef>`` stands, ``text`` = the extension text exactly (so ``leaf desc + ", " + text`` is the
  expanded code's title).

  A ``<sevenChrDef>`` may hold a stray ``<note>`` after an extension (8 in this release: under S52,
  S72 and S82 "initial encounter for open fracture NOS" follows extension B; H34.81, H34.83, H35.31,
  H35.32 and W08 have one each). It is read as an inclusion term of the extension it follows, and
  written as an ``inclusion`` NoteRow on every expanded code carrying that 7th character (e.g.
  ``S72001B`` includes "initial encounter for open fracture NOS"). Doubtful case: under W08 the note
  "Fall from stool" follows extension S (sequela) and so lands on ``W08XXXS``; it reads like an
  inclusion term of W08 itself misplaced in the XML.

Not read: the ``<introduction>``, the chapters' ``<sectionIndex>`` (restates the blocks) and the
visual-impairment table under H54 (``<visualImpairment>``).
"""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from medbill.codesets.records import (
    BLOCK,
    CATEGORY,
    CHAPTER,
    CODE,
    NOTE_KINDS,
    SUBCATEGORY,
    CodeRow,
    NoteRow,
    SeventhCharRow,
)
from medbill.core.codes import CodeSystem
from medbill.core.errors import CodeSetError, SourceFileError

__all__ = [
    "INHERITED_NOTE_KINDS",
    "TABULAR_FILE_NAME",
    "CODE_LIST_FILE_NAME",
    "TabularRelease",
    "default_tabular_path",
    "default_code_list_path",
    "parse_tabular",
    "parse_code_list",
    "derive_index_terms",
]

SYSTEM = CodeSystem.ICD10CM
TABULAR_FILE_NAME = "icd10c-tabular-April-1-2026.xml"
CODE_LIST_FILE_NAME = "code-list-April-2026.txt"
_PACKAGE = "simple_icd_10_cm"

#: Note kinds that apply to every code below the node where they stand (the lead's lookup computes
#: the inheritance). Per the Official Guidelines (Section I.A) and the Tabular's own conventions:
#: Includes, Excludes1, Excludes2, Code first, Use additional code and Code also notes at a
#: category (or subcategory) apply to all of its codes; notes at the head of a chapter or block apply
#: to the whole range; ``<notes>`` (general instructions) and the 7th-character note ("The appropriate
#: 7th character is to be added to each code from category S72") likewise cover all codes below.
#: Inclusion terms are NOT inherited: each belongs to the code under which it is printed.
INHERITED_NOTE_KINDS: frozenset[str] = frozenset(NOTE_KINDS) - {"inclusion"}

_NOTE_TAGS: dict[str, str] = {
    "inclusionTerm": "inclusion",
    "includes": "includes",
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional",
    "codeAlso": "code_also",
    "notes": "note",
    "sevenChrNote": "seven_chr_note",
}

_CODE_RE = re.compile(r"[A-Z][0-9A-Z]{2,6}")  # 3-7 characters, undotted (7th added on expansion)
_SECTION_RE = re.compile(r"([A-Z][0-9A-Z]{2})(?:-([A-Z][0-9A-Z]{2}))?")
_CHAR_RE = re.compile(r"[0-9A-Z]")
_EXCEPTION_RE = re.compile(
    r"7th characters? (?P<chars>[0-9A-Z](?:(?:,| and| or|, and|, or) [0-9A-Z])*) do(?:es)? not apply to"
    r" codes in (?:sub)?category (?P<prefix>[A-Z][0-9A-Z.]{2,5}) with 6th characters? (?P<rest>.+)"
)
_EXCEPTION_SIXTH_RE = re.compile(r"(?:^|\bor |, )([0-9A-Z]) -")
_LIST_RE = re.compile(r"[0-9]{1,2}|[A-Z][0-9A-Z]{2}-[A-Z][0-9A-Z]{2}|[A-Z][0-9A-Z]{2,6}")


@dataclass(frozen=True, slots=True)
class TabularRelease:
    """Everything read from one Tabular List XML (see the module docstring for the conventions)."""

    version: str
    codes: tuple[CodeRow, ...]
    notes: tuple[NoteRow, ...]
    sevenths: tuple[SeventhCharRow, ...]


@dataclass(frozen=True, slots=True)
class _SeventhException:
    """A prose exception: 7th characters D and S do not apply to S06 codes with 6th character 7 or 8."""

    prefix: str  # the category/subcategory named by the note, undotted
    sixth: frozenset[str]  # 6th characters concerned
    chars: frozenset[str]  # 7th characters that do not apply


@dataclass(frozen=True, slots=True)
class _SeventhDef:
    defined_at: str
    chars: tuple[tuple[str, str], ...]  # (char, extension text)
    extra: dict[str, tuple[str, ...]]  # char -> stray <note> texts following that extension


def _package_data_dir() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise CodeSetError(
            "the ICD-10-CM tabular is not available: package simple-icd-10-cm is not installed",
            hint="pip install simple-icd-10-cm==1.5.0",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _data_file(name: str) -> Path:
    path = _package_data_dir() / name
    if not path.is_file():
        raise CodeSetError(
            f"{name} not found in {path.parent}",
            hint="install the pinned version: pip install simple-icd-10-cm==1.5.0",
        )
    return path


def default_tabular_path() -> Path:
    """The Tabular List XML (April 1, 2026) shipped inside the installed ``simple-icd-10-cm``."""
    return _data_file(TABULAR_FILE_NAME)


def default_code_list_path() -> Path:
    """CDC's code list (April 2026) shipped inside the installed ``simple-icd-10-cm``."""
    return _data_file(CODE_LIST_FILE_NAME)


def _clean(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _line_of(path: Path, needle: str) -> int | None:
    """Line number of the first occurrence of ``needle`` (only computed when reporting an error)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if needle in line:
                    return number
    except OSError:
        return None
    return None


class _Builder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: list[CodeRow] = []
        self.notes: list[NoteRow] = []
        self.sevenths: list[SeventhCharRow] = []
        self.seen: set[str] = set()

    # -- errors ---------------------------------------------------------------------------------
    def error(self, message: str, *, near: str, field: str) -> SourceFileError:
        return SourceFileError(message, path=str(self.path), line=_line_of(self.path, near), field=field)

    # -- rows -----------------------------------------------------------------------------------
    def add_code(self, row: CodeRow, *, near: str) -> None:
        if row.code in self.seen:
            raise self.error(f"duplicate code {row.code}", near=near, field="name")
        self.seen.add(row.code)
        self.codes.append(row)

    def add_notes(self, code: str, element: ET.Element, *, near: str) -> None:
        seq: dict[str, int] = {}
        for child in element:
            kind = _NOTE_TAGS.get(child.tag)
            if kind is None:
                continue
            for note in child.iterfind("note"):
                text = _clean(note.text)
                if not text:
                    raise self.error(f"empty <note> in <{child.tag}> of {code}", near=near, field=child.tag)
                seq[kind] = seq.get(kind, 0) + 1
                self.notes.append(NoteRow(SYSTEM, code, kind, seq[kind], text))

    def desc(self, element: ET.Element, what: str, *, near: str) -> str:
        text = _clean(element.findtext("desc"))
        if not text:
            raise self.error(f"{what} has no <desc>", near=near, field="desc")
        return text

    # -- tree -----------------------------------------------------------------------------------
    def chapter(self, element: ET.Element, index: int) -> None:
        name = _clean(element.findtext("name"))
        if not name.isdigit():
            raise self.error(
                f"chapter #{index} has name {name!r}, expected a number",
                near=f"<name>{name}</name>" if name else "<chapter>",
                field="chapter/name",
            )
        near = f"<name>{name}</name>"
        code = f"CH{int(name):02d}"
        desc = self.desc(element, f"chapter {name}", near=near)
        self.add_code(CodeRow(SYSTEM, code, CHAPTER, False, desc, parent=None, attrs={"tabular_id": name}), near=near)
        self.add_notes(code, element, near=near)
        for section in element.iterfind("section"):
            self.section(section, code)

    def section(self, element: ET.Element, chapter: str) -> None:
        ident = (element.get("id") or "").strip()
        near = f'<section id="{ident}"'
        match = _SECTION_RE.fullmatch(ident)
        if match is None:
            raise self.error(f"section id {ident!r} is not a category range", near=near, field="section/@id")
        code = ident if match.group(2) else f"{ident}-{ident}"
        desc = self.desc(element, f"section {ident}", near=near)
        self.add_code(CodeRow(SYSTEM, code, BLOCK, False, desc, parent=chapter, attrs={"tabular_id": ident}), near=near)
        self.add_notes(code, element, near=near)
        for diag in element.iterfind("diag"):
            self.diag(diag, code, None, None, ())

    def diag(
        self,
        element: ET.Element,
        parent: str,
        parent_code: str | None,
        seventh: _SeventhDef | None,
        exceptions: tuple[_SeventhException, ...],
    ) -> None:
        raw = _clean(element.findtext("name"))
        near = f"<name>{raw}</name>" if raw else f"<name>{parent_code or parent}"
        code = raw.replace(".", "").upper()
        if not _CODE_RE.fullmatch(code):
            raise self.error(f"bad ICD-10-CM code {raw!r} (under {parent})", near=near, field="diag/name")
        if parent_code is None:
            if len(code) != 3:
                raise self.error(
                    f"{raw} stands directly in a section but is not a category", near=near, field="diag/name"
                )
        elif len(code) <= len(parent_code) or not code.startswith(parent_code):
            raise self.error(f"{raw} stands under {parent_code} but does not extend it", near=near, field="diag/name")
        desc = self.desc(element, raw, near=near)
        children = element.findall("diag")
        definition = element.find("sevenChrDef")
        if definition is not None:
            seventh = self.seventh_def(definition, code, near=near)
        exceptions += self.seventh_exceptions(element, code, near=near)

        if len(code) == 3:
            kind = CATEGORY
        elif children:
            kind = SUBCATEGORY
        else:
            kind = CODE
        leaf = not children
        needs_seventh = leaf and seventh is not None
        attrs: dict[str, object] = {}
        if element.get("placeholder") == "true":
            attrs["placeholder"] = True
        if needs_seventh and seventh is not None:
            attrs["needs_seventh"] = True
            attrs["seventh_defined_at"] = seventh.defined_at
        self.add_code(
            CodeRow(SYSTEM, code, kind, leaf and not needs_seventh, desc, parent=parent, attrs=attrs),
            near=near,
        )
        self.add_notes(code, element, near=near)

        if needs_seventh and seventh is not None:
            self.expand(code, desc, seventh, exceptions, near=near)
        for child in children:
            self.diag(child, code, code, seventh, exceptions)

    def seventh_exceptions(self, element: ET.Element, code: str, *, near: str) -> tuple[_SeventhException, ...]:
        """Read "7th characters X and Y do not apply to codes in category C with 6th character N" notes.

        The tabular states such exceptions only in prose (a ``<notes>`` at S06 in this release). A
        note that speaks of 7th characters not applying but does not match the known wording is an
        error, so that a new wording in a later release is noticed rather than silently ignored.
        """
        found: list[_SeventhException] = []
        for note in element.iterfind("notes/note"):
            text = _clean(note.text)
            lowered = text.lower()
            if "7th character" not in lowered or "not apply" not in lowered:
                continue
            match = _EXCEPTION_RE.match(text)
            sixth = _EXCEPTION_SIXTH_RE.findall(match.group("rest")) if match else []
            if match is None or not sixth:
                raise self.error(
                    f"unrecognised 7th-character exception at {code}: {text!r}", near=near, field="notes/note"
                )
            chars = frozenset(re.findall(r"\b[0-9A-Z]\b", match.group("chars")))
            found.append(_SeventhException(match.group("prefix").replace(".", ""), frozenset(sixth), chars))
        return tuple(found)

    def seventh_def(self, element: ET.Element, code: str, *, near: str) -> _SeventhDef:
        chars: list[tuple[str, str]] = []
        extra: dict[str, list[str]] = {}
        for child in element:
            if child.tag == "extension":
                char = (child.get("char") or "").strip().upper()
                text = _clean(child.text)
                if not _CHAR_RE.fullmatch(char) or not text:
                    raise self.error(
                        f"bad 7th character {char!r} / {text!r} at {code}", near=near, field="extension/@char"
                    )
                if any(char == c for c, _ in chars):
                    raise self.error(
                        f"7th character {char} defined twice at {code}", near=near, field="extension/@char"
                    )
                chars.append((char, text))
                self.sevenths.append(SeventhCharRow(SYSTEM, code, char, text))
            elif child.tag == "note":
                text = _clean(child.text)
                if not text:
                    continue
                if not chars:
                    raise self.error(
                        f"<note> before any <extension> in <sevenChrDef> of {code}",
                        near=near,
                        field="sevenChrDef/note",
                    )
                extra.setdefault(chars[-1][0], []).append(text)
        if not chars:
            raise self.error(f"<sevenChrDef> of {code} has no <extension>", near=near, field="sevenChrDef")
        return _SeventhDef(code, tuple(chars), {k: tuple(v) for k, v in extra.items()})

    def expand(
        self,
        leaf: str,
        desc: str,
        seventh: _SeventhDef,
        exceptions: tuple[_SeventhException, ...],
        *,
        near: str,
    ) -> None:
        if len(leaf) > 6:
            raise self.error(f"{leaf} needs a 7th character but already has 7", near=near, field="diag/name")
        base = leaf.ljust(6, "X")
        excluded: set[str] = set()
        for exc in exceptions:
            if base.startswith(exc.prefix) and base[5] in exc.sixth:
                excluded |= exc.chars
        for char, text in seventh.chars:
            if char in excluded:
                continue
            code = base + char
            self.add_code(
                CodeRow(SYSTEM, code, CODE, True, f"{desc}, {text}", parent=leaf, attrs={"seventh": char}),
                near=near,
            )
            for seq, note in enumerate(seventh.extra.get(char, ()), 1):
                self.notes.append(NoteRow(SYSTEM, code, "inclusion", seq, note))


def parse_tabular(path: Path) -> TabularRelease:
    """Read a Tabular List XML into code, note and 7th-character rows (see the module docstring).

    Raises :class:`~medbill.core.errors.SourceFileError` naming the file, the line and the element
    when the file cannot be read or breaks the schema's structure.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SourceFileError(f"not well-formed XML: {exc}", path=str(path), line=exc.position[0]) from exc
    except OSError as exc:
        raise SourceFileError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc
    if root.tag != "ICD10CM.tabular":
        raise SourceFileError(f"root element is <{root.tag}>, expected <ICD10CM.tabular>", path=str(path), field="root")
    version = _clean(root.findtext("version"))
    if not version:
        raise SourceFileError("no <version>", path=str(path), field="version")
    builder = _Builder(path)
    for index, chapter in enumerate(root.iterfind("chapter"), 1):
        builder.chapter(chapter, index)
    if not builder.codes:
        raise SourceFileError("no <chapter> elements", path=str(path), field="chapter")
    return TabularRelease(version, tuple(builder.codes), tuple(builder.notes), tuple(builder.sevenths))


def parse_code_list(path: Path) -> frozenset[str]:
    """Read CDC's code list (one undotted node or code a line: chapter numbers, ranges, codes).

    Blank lines are skipped and duplicates (the 39 one-category sections, listed under the
    category's own code) collapse.
    """
    path = Path(path)
    out: set[str] = set()
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                value = line.strip().upper()
                if not value:
                    continue
                if not _LIST_RE.fullmatch(value):
                    raise SourceFileError(
                        f"not an ICD-10-CM code or range: {value!r}",
                        path=str(path),
                        line=number,
                        field="code",
                    )
                out.add(value)
    except OSError as exc:
        raise SourceFileError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise SourceFileError(f"not UTF-8 text: {exc.reason}", path=str(path)) from exc
    return frozenset(out)


# -- search terms ---------------------------------------------------------------------------------

_TYPE_RE = re.compile(r"(Type [12]) (.+)")
_EXTERNAL_CAUSE_LETTERS = frozenset("VWXY")


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word looks like an acronym ("HIV", "ST")."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and (first[1].isupper() or first[1].isdigit()):
        return text
    return text[:1].lower() + text[1:]


def _split_once(title: str, word: str) -> tuple[str, str] | None:
    head, sep, tail = title.partition(f" {word} ")
    head = head.rstrip(" ,")
    if not sep or not head or not tail or f" {word} " in tail:
        return None
    return head, tail


def _title_combinations(title: str, manifestation: bool) -> list[str]:
    """Rephrased forms of a combination title (see :func:`derive_index_terms`)."""
    out: list[str] = []
    if " without " in title:
        return out
    pair = _split_once(title, "with")
    if pair is not None:
        head, tail = pair
        out.append(f"{tail} with {_lower_first(head)}")
        typed = _TYPE_RE.fullmatch(head)
        if typed is not None:  # "Type 2 diabetes mellitus with X" -> "diabetes mellitus, type 2, with X"
            out.append(f"{typed.group(2)}, {typed.group(1).lower()}, with {tail}")
    elif (pair := _split_once(title, "due to")) is not None:
        head, tail = pair
        out.append(f"{tail} causing {_lower_first(head)}")
    elif manifestation and (pair := _split_once(title, "in")) is not None:
        head, tail = pair
        if "classified elsewhere" not in tail:
            out.append(f"{tail} with {_lower_first(head)}")
    return [term for term in out if term != title]


def derive_index_terms(release: TabularRelease) -> Iterator[tuple[str, str, str]]:
    """Yield ``(code, term, source)`` search terms for every billable code.

    * ``source="inclusion"``: the code's own inclusion terms. An expanded 7th-character code gets
      its leaf's inclusion terms written like its title, ``"<term>, <7th-character text>"``, and its
      own (from a stray ``<sevenChrDef>`` note) as ``"<leaf desc>, <note>"`` (``S72001B``: "Fracture
      of unspecified part of neck of right femur, initial encounter for open fracture NOS").
    * ``source="title_combination"``: cheap rephrasings of combination titles, so that a search by
      the second condition finds the code:

      - ``"A with B"`` -> ``"B with a"``; and when A is ``"Type 1/2 X"``, the Index form
        ``"X, type 2, with B"`` (``"diabetes mellitus, type 2, with diabetic chronic kidney disease"``);
      - otherwise ``"A due to B"`` -> ``"B causing a"``;
      - otherwise ``"A in B"`` -> ``"B with a"``, only for manifestation codes (a ``code_first`` note
        at the code or above it) and not for "... in diseases classified elsewhere".

      A title with "without", or with the splitting word twice, is left alone, and so are external
      causes (V00-Y99: "collision with", "contact with" are not combinations). For a 7th-character
      code the leaf's title is rephrased and ``", <7th-character text>"`` appended.
    """
    by_code = {row.code: row for row in release.codes}
    inclusions: dict[str, list[str]] = {}
    code_first: set[str] = set()
    for note in release.notes:
        if note.kind == "inclusion":
            inclusions.setdefault(note.code, []).append(note.text)
        elif note.kind == "code_first":
            code_first.add(note.code)

    def is_manifestation(code: str | None) -> bool:
        while code is not None:
            if code in code_first:
                return True
            row = by_code.get(code)
            code = row.parent if row is not None else None
        return False

    for row in release.codes:
        if not row.billable or row.long_desc is None:
            continue
        combine = row.code[0] not in _EXTERNAL_CAUSE_LETTERS
        seventh = row.attrs.get("seventh")
        leaf = by_code.get(row.parent) if seventh is not None and row.parent is not None else None
        if leaf is not None and leaf.long_desc is not None:
            # a stray <sevenChrDef> note describes the 7th character: "<leaf desc>, <note>"
            own = (f"{leaf.long_desc}, {term}" for term in inclusions.get(row.code, ()))
            yield from ((row.code, term, "inclusion") for term in own)
        else:
            yield from ((row.code, term, "inclusion") for term in inclusions.get(row.code, ()))
        if leaf is not None and leaf.long_desc is not None:
            suffix = row.long_desc[len(leaf.long_desc) :]  # ", <7th-character text>"
            yield from ((row.code, term + suffix, "inclusion") for term in inclusions.get(leaf.code, ()))
            terms: Iterable[str] = (
                term + suffix for term in _title_combinations(leaf.long_desc, is_manifestation(leaf.code))
            )
        else:
            terms = _title_combinations(row.long_desc, is_manifestation(row.code))
        if not combine:
            continue
        yield from ((row.code, term, "title_combination") for term in terms)

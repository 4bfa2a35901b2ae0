"""Importers for the ICD-10-CM Alphabetic Index files (XML, CDC schema ``ICD10CM.index``).

CDC's NCHS publishes, with each fiscal-year (and April) release of ICD-10-CM, four index files in the
"Code Tables, Tabular and Index" zip (https://www.cdc.gov/nchs/icd/icd-10-cm/files.html, mirrored by
CMS at https://www.cms.gov/medicare/coding-billing/icd-10-codes), with their schemas
(``icd10cm_index.xsd``, ``icd10cm_drug_neoplasm.xsd``):

* ``icd10cm_index_<year>.xml``: Index to Diseases and Injuries (``index="disease"``);
* ``icd10cm_eindex_<year>.xml``: External Cause of Injuries Index (``"external"``);
* ``icd10cm_neoplasm_<year>.xml``: Table of Neoplasms (``"neoplasm"``);
* ``icd10cm_drug_<year>.xml``: Table of Drugs and Chemicals (``"drug"``).

All four share one layout (element names as in the CDC files; no XML namespace)::

    <ICD10CM.index>
      <version>2026</version>
      <title>ICD-10-CM INDEX TO DISEASES and INJURIES</title>
      <indexHeading>                        (tables only: column headings)
        <head col="1">Neoplasm, neoplastic</head> <head col="2">Malignant Primary</head> ...
      </indexHeading>
      <letter><title>D</title>
        <mainTerm>
          <title>Diabetes, diabetic<nemod>(mellitus) (sugar)</nemod></title>
          <code>E11.9</code>
          <term level="1"><title>type 2</title> ... <term level="2"> ... </term></term>
        </mainTerm>
      </letter>
    </ICD10CM.index>

An entry (``mainTerm``, or ``term`` with ``level`` = depth) holds a ``<title>`` (nonessential
modifiers in ``<nemod>``), then any of ``<code>``, ``<manif>`` (the manifestation code printed in
brackets after the code), ``<see>``, ``<seeAlso>``, ``<seecat>`` ("see category"), ``<subcat>`` ("see
subcategory"), and in the tables ``<cell col="N">`` (``--`` = no code), then its sub-terms.

:func:`parse_index` streams a file (``xml.etree.ElementTree.XMLPullParser`` fed 1 MB at a time;
finished entries are dropped from the tree; the line of a semantic error is found by reading the file
again) and yields one :class:`~medbill.codesets.records.IndexRow` per entry, in file order (a parent
before its sub-terms), one ``mainTerm`` at a time:

* ``id`` counts entries from 1 in file order; ``parent_id`` is the enclosing entry (``None`` for a
  mainTerm); ``level`` 0 for a mainTerm, n for ``<term level="n">``;
* ``title``: the title text without the nemod, whitespace collapsed; ``nemod``: the nonessential
  modifiers as printed (``"(mellitus) (sugar)"``; several ``<nemod>`` are joined by a space);
* ``codes``: ``{"code": "E11.21"}`` as printed (dots and trailing ``-`` kept; a second or third
  ``<code>`` in one entry goes to ``"code2"``, ``"code3"``). In the tables the ``<cell>`` columns are
  named from the file's own ``<head>`` texts (:data:`NEOPLASM_COLUMNS`, :data:`DRUG_COLUMNS`); cells
  reading ``--`` (or ``-``, or empty) are left out;
* ``manif``: the ``<manif>`` code(s) (several joined by ``", "``); ``see``: ``<see>`` text,
  ``<seecat>`` as ``"category <text>"`` and ``<subcat>`` as ``"subcategory <text>"`` (several joined by
  ``"; "``); ``see_also``: ``<seeAlso>`` text.

Errors raise :class:`~medbill.core.errors.SourceFileError` naming the file and line: malformed XML
(the parser's line), a root other than ``<ICD10CM.index>``, a ``<term>`` whose ``level`` is not its
parent's + 1, a term outside a mainTerm, a ``<cell>`` in a column the headings do not have, table
headings that are not the six known columns, a table file parsed as an index (or the reverse), and a
file whose ``<title>`` names another index than the one asked for. Unknown child elements are ignored.

:func:`detect_index_kind` tells the four apart from the file's title (then its headings, then its
name); :func:`index_paths` and :func:`full_term` render an entry's path the way a coder reads it:
``"Diabetes, diabetic (mellitus) (sugar), type 2, with, chronic kidney disease"``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from medbill.codesets.records import IndexRow
from medbill.core.errors import SourceFileError

__all__ = [
    "DRUG_COLUMNS",
    "INDEX_KINDS",
    "NEOPLASM_COLUMNS",
    "detect_index_kind",
    "entry_label",
    "full_term",
    "index_paths",
    "parse_index",
]

logger = logging.getLogger(__name__)

INDEX_KINDS: tuple[str, ...] = ("disease", "external", "neoplasm", "drug")
TABLE_KINDS = frozenset({"neoplasm", "drug"})

ROOT_TAG = "ICD10CM.index"
_ENTRY_TAGS = frozenset({"mainTerm", "term"})
_FIELD_TAGS = frozenset({"code", "manif", "see", "seeAlso", "seecat", "subcat", "cell"})
_NO_CODE = frozenset({"", "-", "--", "\u2014", "\u2013"})  # "--", and em/en dash as printed
_BLOCK = 1 << 20  # bytes fed to the parser at a time
_CHUNK = 1 << 16  # at most this much of a line per feed when locating a line

# Table columns, each recognised from its heading's words (all the listed words must occur).
NEOPLASM_COLUMNS: tuple[tuple[str, frozenset[str]], ...] = (
    ("malignant_primary", frozenset({"malignant", "primary"})),
    ("malignant_secondary", frozenset({"malignant", "secondary"})),
    ("ca_in_situ", frozenset({"situ"})),
    ("benign", frozenset({"benign"})),
    ("uncertain", frozenset({"uncertain"})),
    ("unspecified", frozenset({"unspecified"})),
)
DRUG_COLUMNS: tuple[tuple[str, frozenset[str]], ...] = (
    ("poisoning_accidental", frozenset({"poisoning", "accidental"})),
    ("poisoning_intentional", frozenset({"poisoning", "intentional", "self"})),
    ("poisoning_assault", frozenset({"poisoning", "assault"})),
    ("poisoning_undetermined", frozenset({"poisoning", "undetermined"})),
    ("adverse_effect", frozenset({"adverse"})),
    ("underdosing", frozenset({"underdosing"})),
)
_TABLE_COLUMNS = {"neoplasm": NEOPLASM_COLUMNS, "drug": DRUG_COLUMNS}
_TERM_COLUMN = 1  # col 1 heads the entry titles ("Neoplasm, neoplastic", "Substance")

_FILE_NAME_KIND = re.compile(r"icd10cm_(index|eindex|neoplasm|drug)")
_FILE_NAME_KINDS = {"index": "disease", "eindex": "external", "neoplasm": "neoplasm", "drug": "drug"}


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def parse_index(path: Path | str, index: str) -> Iterator[IndexRow]:
    """Stream the entries of one ICD-10-CM index file as :class:`IndexRow`, in file order.

    ``index`` is the kind of file: ``"disease"``, ``"external"``, ``"neoplasm"`` or ``"drug"``
    (:func:`detect_index_kind` can tell). Rows of one mainTerm are yielded when its end tag is read;
    problems in the file raise :class:`SourceFileError` while iterating.
    """
    if index not in INDEX_KINDS:
        raise ValueError(f"index must be one of {', '.join(INDEX_KINDS)}, not {index!r}")
    p = Path(path)
    if not p.is_file():
        raise SourceFileError("file not found", path=str(p))
    return _IndexReader(p, index).rows()


def detect_index_kind(path: Path | str) -> str:
    """Which index a file is (``"disease"``, ``"external"``, ``"neoplasm"`` or ``"drug"``).

    Reads only the head of the file: the root ``<title>`` decides; failing that the table headings
    (Malignant/Poisoning columns); failing that the CDC file name (``icd10cm_eindex_2026.xml``).
    """
    p = Path(path)
    if not p.is_file():
        raise SourceFileError("file not found", path=str(p))
    title = ""
    heads: list[str] = []
    depth = 0
    with contextlib.closing(_events(p)) as events:
        for event, elem, number in events:
            tag = _local(elem.tag)
            if event == "start":
                if depth == 0 and tag != ROOT_TAG:
                    line = _event_line(p, number)
                    raise SourceFileError(
                        f"root element is <{tag}>, not <{ROOT_TAG}>", path=str(p), line=line, field="root"
                    )
                if tag in ("letter", "mainTerm"):
                    break
                depth += 1
                continue
            depth -= 1
            if tag == "title" and depth == 1:
                title = _norm(_all_text(elem))
            elif tag == "head":
                heads.append(_norm(_all_text(elem)))
    kind = _kind_from_title(title)
    if kind is None and heads:
        words = _words(" ".join(heads))
        if "malignant" in words:
            kind = "neoplasm"
        elif "poisoning" in words or "underdosing" in words:
            kind = "drug"
    if kind is None:
        match = _FILE_NAME_KIND.search(p.name.lower())
        if match:
            kind = _FILE_NAME_KINDS[match.group(1)]
    if kind is None:
        raise SourceFileError(
            f"cannot tell which ICD-10-CM index this is (title {title!r})", path=str(p), field="title"
        )
    return kind


def entry_label(row: IndexRow) -> str:
    """An entry as printed: its title followed by its nonessential modifiers."""
    return f"{row.title} {row.nemod}" if row.nemod else row.title


def index_paths(rows: Iterable[IndexRow]) -> Iterator[tuple[str, IndexRow]]:
    """Each entry with its full path as a coder reads it, in one pass over rows in file order.

    ``"Diabetes, diabetic (mellitus) (sugar), type 2, with, chronic kidney disease"``: the labels
    (:func:`entry_label`) of the mainTerm and every term down to the entry, joined by ``", "``. The
    rows must come in file order (as :func:`parse_index` yields them; a parent before its terms).
    """
    stack: list[tuple[int, str]] = []  # (id, path) of the open ancestors
    for row in rows:
        if row.parent_id is None:
            stack.clear()
        else:
            while stack and stack[-1][0] != row.parent_id:
                stack.pop()
            if not stack:
                raise ValueError(f"index row {row.id} comes before its parent {row.parent_id}")
        label = entry_label(row)
        path = f"{stack[-1][1]}, {label}" if stack else label
        stack.append((row.id, path))
        yield path, row


def full_term(rows: Mapping[int, IndexRow] | Iterable[IndexRow], row: IndexRow) -> str:
    """The full path of one entry (see :func:`index_paths`); ``rows`` by id, or any iterable of rows."""
    by_id = rows if isinstance(rows, Mapping) else {r.id: r for r in rows}
    labels = [entry_label(row)]
    current = row
    while current.parent_id is not None:
        parent = by_id.get(current.parent_id)
        if parent is None:
            raise ValueError(f"parent {current.parent_id} of index row {current.id} is not among the rows")
        labels.append(entry_label(parent))
        current = parent
        if len(labels) > 64:
            raise ValueError(f"index row {row.id}: parent chain too long (a cycle?)")
    return ", ".join(reversed(labels))


# ---------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    """An entry being read (a mainTerm or term whose end tag has not come yet)."""

    id: int
    parent_id: int | None
    level: int
    at: int  # number of its start event (see _events)
    declared_level: str | None  # a wrong level="" attribute, reported once the title is known
    title: str = ""
    nemod: str = ""
    has_title: bool = False
    codes: dict[str, str] = field(default_factory=dict)
    manif: list[str] = field(default_factory=list)
    see: list[str] = field(default_factory=list)
    see_also: list[str] = field(default_factory=list)

    def to_row(self, index: str) -> IndexRow:
        return IndexRow(
            index=index,
            id=self.id,
            parent_id=self.parent_id,
            level=self.level,
            title=self.title,
            nemod=self.nemod,
            codes=self.codes,
            manif=", ".join(self.manif),
            see="; ".join(self.see),
            see_also="; ".join(self.see_also),
        )


class _IndexReader:
    def __init__(self, path: Path, index: str) -> None:
        self.path = path
        self.index = index
        self.table = index in TABLE_KINDS
        self.columns: dict[int, str] | None = None  # cell col -> column name (tables)
        self.open: list[_Entry] = []  # entries being read, outermost first
        self.done: list[_Entry] = []  # entries of the current mainTerm, in file order
        self.next_id = 1
        self.head_at: dict[int, int] = {}  # <head> col -> its event number

    def error(self, message: str, at: int | None, field: str | None = None) -> SourceFileError:
        """A SourceFileError at the line of event number ``at`` (found by reading the file again)."""
        line = _event_line(self.path, at)
        return SourceFileError(message, path=str(self.path), line=line, field=field)

    def rows(self) -> Iterator[IndexRow]:
        started = time.perf_counter()
        stack: list[ET.Element] = []  # open elements
        with contextlib.closing(_events(self.path)) as events:
            yield from self._read(events, stack)
        if self.table and self.columns is None:
            raise self.error("no <indexHeading> column headings in a table file", None, "indexHeading")
        logger.info("read %d %s index entries in %.1f s", self.next_id - 1, self.index, time.perf_counter() - started)

    def _read(self, events: Iterator[tuple[str, ET.Element, int]], stack: list[ET.Element]) -> Iterator[IndexRow]:
        for event, elem, at in events:
            tag = elem.tag
            if tag[0] == "{":
                tag = _local(tag)
            if event == "start":
                if tag in _ENTRY_TAGS and stack:
                    self.start_entry(tag, elem, at)
                elif not stack and tag != ROOT_TAG:
                    raise self.error(f"root element is <{tag}>, not <{ROOT_TAG}>", at, "root")
                stack.append(elem)
                continue
            stack.pop()
            parent = stack[-1] if stack else None
            if tag in _ENTRY_TAGS:
                entry = self.open.pop()
                if not entry.has_title:
                    raise self.error(f"<{tag}> without a <title>", entry.at, "title")
                elem.clear()
                if tag == "mainTerm":
                    for done in self.done:
                        yield done.to_row(self.index)
                    self.done.clear()
                    if parent is not None:
                        parent.remove(elem)
            elif tag == "title":
                self.end_title(elem, _local(parent.tag) if parent is not None else "", at)
            elif tag in _FIELD_TAGS:
                self.end_field(tag, elem, at)
            elif tag == "head":
                col = elem.get("col", "")
                if col.strip().isdigit():
                    self.head_at[int(col)] = at
            elif tag == "indexHeading":
                self.end_heading(elem, at)
                if parent is not None:
                    parent.remove(elem)
            elif tag in ("letter", "version") and parent is not None:
                parent.remove(elem)

    def start_entry(self, tag: str, elem: ET.Element, at: int) -> None:
        if tag == "mainTerm":
            if self.open:
                raise self.error("<mainTerm> inside another entry", at, "mainTerm")
            parent_id, level = None, 0
        else:
            if not self.open:
                raise self.error("<term> outside a <mainTerm>", at, "term")
            parent = self.open[-1]
            parent_id, level = parent.id, parent.level + 1
        declared = elem.get("level")
        wrong = None
        if declared is not None and (not declared.strip().isdigit() or int(declared) != level):
            wrong = declared
        entry = _Entry(id=self.next_id, parent_id=parent_id, level=level, at=at, declared_level=wrong)
        self.next_id += 1
        self.open.append(entry)
        self.done.append(entry)

    def end_title(self, elem: ET.Element, parent_tag: str, at: int) -> None:
        if parent_tag in _ENTRY_TAGS:
            entry = self.open[-1]
            entry.title, entry.nemod = _title_and_nemod(elem)
            entry.has_title = True
            if entry.declared_level is not None:
                expected = entry.level
                raise self.error(
                    f"entry {entry.title!r}: term level {entry.declared_level!r} is not its parent's "
                    f"level + 1 (expected {expected})",
                    entry.at,
                    "term level",
                )
        elif parent_tag == ROOT_TAG:
            title = _norm(_all_text(elem))
            kind = _kind_from_title(title)
            if kind is not None and kind != self.index:
                raise self.error(
                    f"the file's title {title!r} names the {kind} index, not the {self.index} index",
                    at,
                    "title",
                )

    def end_field(self, tag: str, elem: ET.Element, at: int) -> None:
        if not self.open:
            raise self.error(f"<{tag}> outside a <mainTerm> or <term>", at, tag)
        entry = self.open[-1]
        text = _norm(_all_text(elem))
        if tag == "cell":
            self.add_cell(entry, elem.get("col"), text, at)
        elif not text:
            return
        elif tag == "code":
            key = "code" if "code" not in entry.codes else f"code{len(entry.codes) + 1}"
            entry.codes[key] = text
        elif tag == "manif":
            entry.manif.append(text)
        elif tag == "see":
            entry.see.append(text)
        elif tag == "seeAlso":
            entry.see_also.append(text)
        elif tag == "seecat":
            entry.see.append(text if text.lower().startswith("categor") else f"category {text}")
        elif tag == "subcat":
            entry.see.append(text if text.lower().startswith("subcategor") else f"subcategory {text}")

    def add_cell(self, entry: _Entry, col: str | None, text: str, at: int) -> None:
        name = entry.title or "(untitled)"
        if not self.table:
            raise self.error(
                f"entry {name!r}: a table <cell> in a {self.index} index (is this the Neoplasm or Drug table?)",
                at,
                "cell",
            )
        if self.columns is None:
            raise self.error(f"entry {name!r}: <cell> before the <indexHeading> headings", at, "cell")
        if col is None or not col.strip().isdigit():
            raise self.error(f"entry {name!r}: <cell> with col={col!r}", at, "cell col")
        number = int(col)
        column = self.columns.get(number)
        if column is None:
            raise self.error(
                f"entry {name!r}: cell col={number} is beyond the headings (code columns "
                f"{min(self.columns)}-{max(self.columns)})",
                at,
                f"cell col={number}",
            )
        if column in entry.codes:
            raise self.error(f"entry {name!r}: two cells in col={number}", at, f"cell col={number}")
        if text not in _NO_CODE:
            entry.codes[column] = text

    def end_heading(self, elem: ET.Element, at: int) -> None:
        if not self.table:
            raise self.error(
                f"table column headings in a {self.index} index (is this the Neoplasm or Drug table?)",
                at,
                "indexHeading",
            )
        heads: dict[int, str] = {}
        for head in elem.iter("head"):
            col = head.get("col")
            if col is None or not col.strip().isdigit():
                raise self.error(f"<head> with col={col!r}", at, "indexHeading")
            heads[int(col)] = _norm(_all_text(head))
        head_at, self.head_at = self.head_at, {}

        def fail(message: str, col: int | None) -> SourceFileError:
            return self.error(message, head_at.get(col, at) if col else at, "indexHeading")

        self.columns = _map_headings(heads, self.index, fail)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _events(path: Path, *, by_line: bool = False) -> Generator[tuple[str, ET.Element, int], None, None]:
    """(event, element, position) for the start and end of every element, streaming the file.

    ``position`` is the event's number (1, 2, ...), or with ``by_line`` the line where its tag ends
    (the parser is then fed one line at a time, about twice as slow). Malformed XML raises
    :class:`SourceFileError` with the parser's line.
    """
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    number = 0
    line = 1
    try:
        with path.open("rb") as fh:
            while chunk := (fh.readline(_CHUNK) if by_line else fh.read(_BLOCK)):
                parser.feed(chunk)
                for event, elem in cast(Iterator[tuple[str, ET.Element]], parser.read_events()):
                    number += 1
                    yield event, elem, line if by_line else number
                if by_line and chunk.endswith(b"\n"):
                    line += 1
            parser.close()
            for event, elem in cast(Iterator[tuple[str, ET.Element]], parser.read_events()):
                number += 1
                yield event, elem, line if by_line else number
    except ET.ParseError as exc:
        err_line, column = getattr(exc, "position", (None, 0))
        message = str(exc).split(": line", 1)[0]
        raise SourceFileError(
            f"malformed XML: {message} (column {column + 1})", path=str(path), line=err_line
        ) from None
    except OSError as exc:
        raise SourceFileError(f"cannot read: {exc.strerror or exc}", path=str(path)) from exc


def _event_line(path: Path, number: int | None) -> int | None:
    """The line where event ``number`` of :func:`_events` happens (read again, line by line)."""
    if number is None:
        return None
    with contextlib.closing(_events(path, by_line=True)) as events:
        for count, (_, _, line) in enumerate(events, start=1):
            if count == number:
                return line
    return None


def _map_headings(
    heads: dict[int, str], index: str, error: Callable[[str, int | None], SourceFileError]
) -> dict[int, str]:
    """Map cell columns to the table's column names from the ``<head>`` texts, or fail."""
    rules = _TABLE_COLUMNS[index]
    columns: dict[int, str] = {}
    for col, text in sorted(heads.items()):
        words = _words(text)
        names = [name for name, needed in rules if needed <= words]
        if col == _TERM_COLUMN and not names:
            continue
        if len(names) != 1:
            raise error(f"heading col={col} {text!r} is not a {index} table column", col)
        if names[0] in columns.values():
            raise error(f"heading col={col} {text!r}: column {names[0]} heads two columns", col)
        columns[col] = names[0]
    missing = [name for name, _ in rules if name not in columns.values()]
    if missing:
        found = ", ".join(repr(t) for t in heads.values())
        raise error(f"{index} table headings lack {', '.join(missing)} (headings: {found})", None)
    return columns


def _kind_from_title(title: str) -> str | None:
    t = title.lower()
    if "external" in t:
        return "external"
    if "neoplasm" in t:
        return "neoplasm"
    if "drug" in t or "chemical" in t:
        return "drug"
    if "disease" in t or "injur" in t:
        return "disease"
    return None


def _title_and_nemod(elem: ET.Element) -> tuple[str, str]:
    """Title text without its ``<nemod>`` children, and the nemod text."""
    text = [elem.text or ""]
    nemods: list[str] = []
    for child in elem:
        if _local(child.tag) == "nemod":
            nemods.append(_all_text(child))
            text.append(" ")
        else:
            text.append(_all_text(child))
        text.append(child.tail or "")
    return _norm("".join(text)), _norm(" ".join(nemods))


def _all_text(elem: ET.Element) -> str:
    return "".join(elem.itertext())


def _norm(text: str) -> str:
    return " ".join(text.split())


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag

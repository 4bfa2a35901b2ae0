"""Rules tested from data: one YAML file per family in fixtures/, run by one parametrized test.

A fixture file::

    family: ncci
    defaults: {today: 2025-12-01}
    cases:
      - name: what the case shows
        base: office                      # an example claim (see fixturelib.BASES)
        set: {"lines[1].modifiers": []}   # JSON patches of its JSON form (fixturelib.make_claim)
        delete: ["lines[0].modifiers"]
        today: 2026-01-01                 # context: the scrub date
        tables: empty | {without: [mue, ptp, pos, validity]}
        other_claims: [{base: office, set: {id: OTHER1, ...}}]   # the patient's other claims
        payer_rules: {version: 1, payers: [...]}                # the YAML payer-rules schema
        overrides: [{rule: DX003, reason: ..., codes: [E11.9, E10.9]}]
        reenabled: {"TESTMA001": [mce.sex]}
        timely_filing_days: 90
        expect:                           # exactly the findings of this family (and of the engine)
          - [NCCI001, error, "lines[1].modifiers", "the exact message"]
        passes: [NCCI001]                 # rules this case shows passing (must not be in expect)

Each expected finding is [rule, severity, location] or [rule, severity, location, message]; the list
must equal the family's findings in order. Every rule has at least one failing and one passing case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from medbill.core.finding import Finding
from medbill.scrub import EditTables, OtherLine, Override, PayerRules, ScrubContext, all_rules, scrub
from medbill.scrub.rule import FAMILIES

from .fixturelib import FIXTURES, fixture_tables, make_claim

RULE_FAMILIES = [f for f in FAMILIES if f != "engine"]
ENGINE = {r.code for r in all_rules("engine")}


def _files() -> list[Path]:
    return sorted(FIXTURES.glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _cases() -> Iterator[Any]:
    for path in _files():
        data = _load(path)
        for case in data["cases"]:
            yield pytest.param(data["family"], data.get("defaults", {}), case, id=f"{path.stem}: {case['name']}")


def _context(case: Mapping[str, Any], defaults: Mapping[str, Any]) -> ScrubContext:
    opts = {**defaults, **case}
    today = opts.get("today", dt.date(2025, 12, 1))
    tables_opt = opts.get("tables")
    if tables_opt == "empty":
        tables = EditTables.empty()
    elif isinstance(tables_opt, Mapping):
        tables = fixture_tables(tuple(tables_opt.get("without", ())))
    else:
        tables = fixture_tables()
    others: list[OtherLine] = []
    for spec in opts.get("other_claims", []) or []:
        others.extend(OtherLine.from_claim(make_claim(spec)))
    payer_rules = PayerRules.from_data(opts["payer_rules"], source="fixture") if "payer_rules" in opts else None
    overrides = tuple(
        Override(
            rule=o["rule"],
            reason=o["reason"],
            claim_id=o.get("claim_id"),
            location=o.get("location"),
            codes=tuple(o.get("codes", ())),
            by=o.get("by"),
        )
        for o in opts.get("overrides", [])
    )
    reenabled = {k: frozenset(v) for k, v in (opts.get("reenabled") or {}).items()}
    kwargs: dict[str, Any] = {
        "today": today,
        "tables": tables,
        "other_lines": tuple(others),
        "overrides": overrides,
        "reenabled": reenabled,
    }
    if payer_rules is not None:
        kwargs["payer_rules"] = payer_rules
    if "timely_filing_days" in opts:
        kwargs["timely_filing_days"] = opts["timely_filing_days"]
    return ScrubContext(**kwargs)


def _row(f: Finding, width: int) -> list[str]:
    return [f.rule, str(f.severity), f.location, f.message][:width]


@pytest.mark.parametrize(("family", "defaults", "case"), list(_cases()))
def test_fixture(family: str, defaults: Mapping[str, Any], case: Mapping[str, Any]) -> None:
    ctx = _context(case, defaults)
    claim = make_claim({"base": defaults.get("base", "office"), **case})
    codes = {r.code for r in all_rules(family)} | ENGINE
    findings = [f for f in scrub(claim, ctx) if f.rule in codes]
    expected = [list(e) for e in case.get("expect", []) or []]
    got = [_row(f, len(expected[i]) if i < len(expected) else 4) for i, f in enumerate(findings)]
    assert got == expected, "\n".join(f"{f.rule} {f.severity} {f.location}: {f.message}" for f in findings)
    passing = set(case.get("passes", []) or [])
    assert not passing & {f.rule for f in findings}


def test_every_family_has_a_fixture_file() -> None:
    stems = {p.stem for p in _files()}
    assert stems == set(RULE_FAMILIES)
    for path in _files():
        assert _load(path)["family"] == path.stem


@pytest.mark.parametrize("family", RULE_FAMILIES)
def test_every_rule_fails_and_passes_in_fixtures(family: str) -> None:
    data = _load(FIXTURES / f"{family}.yaml")
    failing = {e[0] for case in data["cases"] for e in case.get("expect", []) or []}
    passing = {code for case in data["cases"] for code in case.get("passes", []) or []}
    for r in all_rules(family):
        assert r.code in failing, f"{r.code} has no failing fixture"
        assert r.code in passing, f"{r.code} has no passing fixture"

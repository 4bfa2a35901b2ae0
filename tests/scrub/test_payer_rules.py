"""Payer-rules files: loaded and validated with errors naming the file, the rule and the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from medbill.core.claim import example_claims
from medbill.scrub import PayerRules, PayerRulesError, ScrubContext, scrub

GOOD = """\
version: 1
payers:
  - payer_id: "12345"
    name: Acme Health
    timely_filing_days: 90
    reenable: [mce.sex]
    rules:
      - id: telehealth-95
        when: {place_of_service: ["10"]}
        require: {modifier: ["95"]}
  - payer_id: "*"
    timely_filing_days: 180
"""


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "payers.yaml"
    path.write_text(GOOD, encoding="utf-8")
    rules = PayerRules.load(path)
    assert len(rules) == 1
    assert rules.timely_filing_days("12345") == 90
    assert rules.timely_filing_days("99999") == 180  # the "*" entry
    assert rules.reenabled("12345") == frozenset({"mce.sex"})
    assert rules.reenabled("99999") == frozenset()
    (config,) = [c for c in rules.configs if c.payer_ids == ("12345",)]
    (rule,) = config.rules
    assert rule.message == "payer Acme Health (12345) requires modifier 95 on POS 10 lines"
    assert rule.fix == "add modifier 95"
    assert rule.per_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("payers: {}", "payers.yaml: payers: expected a list of payers, got a mapping"),
        ("version: 2\npayers: []", "payers.yaml: version: version 2 is not supported; use 1"),
        ("payers:\n  - name: X", "payers.yaml: payers[0].payer_id: required field missing"),
        (
            "payers:\n  - payer_id: 12345",
            "payers.yaml: payers[0].payer_id: expected a quoted payer id, got the number 12345 (quote it: '12345')",
        ),
        (
            "payers:\n  - {payer_id: 'A', timely: 90}",
            "payers.yaml: payers[0].timely: unknown field; expected one of payer_id, name, timely_filing_days, "
            "reenable, rules",
        ),
        (
            "payers:\n  - {payer_id: 'A', timely_filing_days: 0}",
            "payers.yaml: payers[0].timely_filing_days: expected a whole number of at least 1, got the number 0",
        ),
        (
            "payers:\n  - {payer_id: 'A', reenable: [mce.colour]}",
            "payers.yaml: payers[0].reenable[0]: 'mce.colour' is not a withdrawn edit; one of mce.sex, "
            "mce.procedure_sex, mce.age",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n      - {require: {modifier: ['95']}}",
            "payers.yaml: payers[0].rules[0].id: required field missing",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n      - {id: x, require: {modifier: [95]}}",
            "payers.yaml: payers[0].rules[0].require.modifier[0]: expected a quoted code, got the number 95 "
            "(quote codes: '00100', '10')",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n"
            "      - {id: x, when: {procedure: ['9921']}, forbid: {modifier: ['GTX']}}",
            "payers.yaml: payers[0].rules[0].forbid.modifier[0]: 'GTX' is not a modifier code (a trailing * matches "
            "a prefix)",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n      - {id: x, when: {claim_type: dental}, require: {ndc: true}}",
            "payers.yaml: payers[0].rules[0].when.claim_type: expected one of professional, institutional, "
            "inpatient, outpatient, got the text 'dental'",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n      - {id: x, when: {place_of_service: ['10']}}",
            "payers.yaml: payers[0].rules[0]: a rule needs require or forbid",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n      - {id: x, require: {ndc: false}}",
            "payers.yaml: payers[0].rules[0]: require/forbid give nothing to check",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n"
            "      - {id: x, require: {ndc: true}}\n      - {id: x, require: {ndc: true}}",
            "payers.yaml: payers[0].rules[1].id: rule id 'x' is used twice for this payer",
        ),
        (
            "payers:\n  - payer_id: 'A'\n    rules:\n      - {id: x, severity: fatal, require: {ndc: true}}",
            "payers.yaml: payers[0].rules[0].severity: expected error or warning, got the text 'fatal'",
        ),
        ("payers: [\n", "payers.yaml, line 2: not valid YAML:"),
    ],
)
def test_errors_name_the_file_rule_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "payers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PayerRulesError) as caught:
        PayerRules.load(path)
    assert caught.value.message.startswith(expected), caught.value.message
    assert "\n" not in caught.value.message


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PayerRulesError, match=r"absent\.yaml: cannot read: No such file"):
        PayerRules.load(tmp_path / "absent.yaml")


def test_findings_are_named_after_the_rule_id() -> None:
    rules = PayerRules.loads(GOOD.replace('"12345"', '"TESTCI001"'), source="payers.yaml")
    office = example_claims()[0]
    import dataclasses

    from medbill.core.codes import Code, CodeSystem

    telehealth = dataclasses.replace(office, place_of_service=Code(CodeSystem.POS, "10"))
    findings = [
        f for f in scrub(telehealth, ScrubContext(today=dt.date(2025, 4, 1), payer_rules=rules)) if f.rule == "PAY001"
    ]
    assert [(f.name, f.location) for f in findings] == [
        ("payer.telehealth_95", "lines[0].modifiers"),
        ("payer.telehealth_95", "lines[1].modifiers"),
    ]
    assert findings[0].fix == "add modifier 95"

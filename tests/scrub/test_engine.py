"""The engine and the registry: never raise, report crashes as findings, batches, rule documentation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from medbill.core.claim import (
    Address,
    Claim,
    ClaimKind,
    Diagnosis,
    DiagnosisRole,
    InstitutionalInfo,
    ServiceLine,
    Sex,
    example_claims,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.finding import Finding, Severity
from medbill.scrub import EditTables, OtherLine, ScrubContext, all_rules, get_rule, scrub, scrub_many
from medbill.scrub.rule import FAMILIES, Rule

TODAY = dt.date(2025, 12, 1)


def test_registry_codes_names_and_docs() -> None:
    rules = all_rules()
    assert len(rules) >= 40
    assert len({r.code for r in rules}) == len(rules)
    assert len({r.name for r in rules}) == len(rules)
    assert {r.family for r in rules} == set(FAMILIES)
    for r in rules:
        assert re.fullmatch(r"[A-Z]{2,5}[0-9]{3}", r.code)
        assert r.name.startswith(r.family + ".")
        doc = r.doc.lower()
        # the docstring is the documentation: what it checks, what fails or passes, how to fix
        assert r.summary and r.summary.endswith((".", ")")), r.code
        assert "fail" in doc or "pass" in doc, r.code
        assert "fix" in doc, r.code
    assert [r.code for r in all_rules() if r.overridable] == ["DX003"]
    assert get_rule("NCCI001") is not None and get_rule("NCCI001").name == "ncci.ptp_pair"  # type: ignore[union-attr]
    assert get_rule("XX999") is None


def test_a_crashing_rule_becomes_a_finding_and_keeps_what_it_found() -> None:
    def crashes(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
        """Test rule. Fails always; fix nothing."""
        yield Finding("TST001", "engine.test_crash", Severity.WARNING, "found before the crash", "claim")
        raise KeyError("boom")

    crash = Rule("TST001", "engine.test_crash", "engine", Severity.WARNING, crashes)
    ok = get_rule("STR013")
    assert ok is not None
    claim = dataclasses.replace(
        example_claims()[0],
        coverage=dataclasses.replace(
            example_claims()[0].coverage,
            subscriber=dataclasses.replace(example_claims()[0].coverage.subscriber, member_id=None),
        ),
    )
    found = scrub(claim, ScrubContext(today=TODAY), rules=[crash, ok])
    assert [(f.rule, f.severity) for f in found] == [
        ("TST001", Severity.WARNING),
        ("ENG001", Severity.ERROR),
        ("STR013", Severity.ERROR),
    ]
    assert found[1].message == "rule TST001 (engine.test_crash) crashed: KeyError: 'boom'"
    assert found[1].name == "engine.internal_error"


def test_a_claim_the_rules_cannot_read_is_one_finding_not_a_traceback() -> None:
    junk = dataclasses.replace(example_claims()[0], lines=(None,))  # type: ignore[arg-type]
    found = scrub(junk, ScrubContext(today=TODAY))
    crashes = [f.message for f in found if f.rule == "ENG001"]
    assert crashes[0] == (
        "the claim could not be prepared for the rules: AttributeError: 'NoneType' object has no attribute "
        "'service_date'"
    )
    # the rules that needed the same facts do not repeat it; the few that read lines themselves say so
    assert len(crashes) == len(set(crashes)) < 6
    assert all(m.startswith("rule ") for m in crashes[1:])


def _bad_values() -> dict[str, list[Any]]:
    office = example_claims()[0]
    return {
        "diagnoses": [
            (),
            (Diagnosis(code=Code(CodeSystem.ICD10CM, "e11.9!")),),
            (Diagnosis(code=Code(CodeSystem.HCPCS, "J1100"), role=DiagnosisRole.ADMITTING),),
            (Diagnosis(code=Code(CodeSystem.ICD10CM, "")),) * 30,
        ],
        "lines": [
            (),
            (ServiceLine(line_number=7, charge=Decimal("-1.005")),),
            (
                ServiceLine(
                    line_number=1,
                    procedure=Code(CodeSystem.CPT, "ABCDEFG"),
                    modifiers=(Code(CodeSystem.MODIFIER, ""), Code(CodeSystem.POS, "11")),
                    units=Decimal("-3"),
                    charge=Decimal("10"),
                    diagnosis_pointers=(0, 13, 99),
                    service_date=dt.date(1900, 1, 1),
                    service_date_to=dt.date(1899, 1, 1),
                    revenue_code=Code(CodeSystem.REVENUE, "x"),
                    place_of_service=Code(CodeSystem.POS, "999"),
                ),
            ),
            office.lines * 60,
        ],
        "kind": [ClaimKind.INSTITUTIONAL],
        "institutional": [
            InstitutionalInfo(facility_type_code="11"),
            InstitutionalInfo(
                facility_type_code="13", statement_from=dt.date(2030, 1, 1), statement_to=dt.date(2020, 1, 1)
            ),
            InstitutionalInfo(facility_type_code="1x"),
        ],
        "place_of_service": [None, Code(CodeSystem.POS, "")],
        "billing_provider": [
            dataclasses.replace(office.billing_provider, npi="abc", address=None),
            dataclasses.replace(
                office.billing_provider, npi=None, address=Address(line1="", city="", state="", zip="")
            ),
        ],
        "coverage": [
            dataclasses.replace(
                office.coverage,
                subscriber=dataclasses.replace(office.coverage.subscriber, date_of_birth=dt.date(2100, 1, 1), sex=None),
                payer=dataclasses.replace(office.coverage.payer, payer_id=""),
            ),
            dataclasses.replace(
                office.coverage,
                subscriber=dataclasses.replace(office.coverage.subscriber, sex=Sex.UNKNOWN, member_id=""),
            ),
        ],
        "stated_total": [Decimal("NaN"), Decimal("-5")],
        "delay_reason": ["99"],
    }


@pytest.mark.parametrize("tables_kind", ["fixture", "empty"])
def test_bad_claim_data_never_raises_nor_crashes_a_rule(edit_tables: EditTables, tables_kind: str) -> None:
    rng = random.Random(20251201)
    values = _bad_values()
    tables = edit_tables if tables_kind == "fixture" else EditTables.empty()
    bases = example_claims()
    junk_other = OtherLine("X", 0, Code(CodeSystem.HCPCS, "J1100"), (), Decimal("1e9"), None, "", Decimal("0"))
    for _ in range(300):
        claim = rng.choice(bases)
        for field in rng.sample(sorted(values), rng.randint(1, 4)):
            claim = dataclasses.replace(claim, **{field: rng.choice(values[field])})
        ctx = ScrubContext(today=TODAY, tables=tables, other_lines=(junk_other,))
        found = scrub(claim, ctx)
        crashed = [f.message for f in found if f.rule == "ENG001"]
        assert not crashed, (claim, crashed)


def test_scrub_many_pairs_the_patients_claims_but_not_replacements(edit_tables: EditTables) -> None:
    office, dependent, _secondary, _outpatient, _inpatient, replacement = example_claims()
    again = dataclasses.replace(office, id="TESTPCN0099")
    ctx = ScrubContext(today=TODAY, tables=edit_tables)
    results = scrub_many([office, again, dependent, replacement], ctx)
    dup = [[(f.rule, f.severity, f.location) for f in fs if f.rule == "STR011"] for fs in results]
    assert dup[0] == [
        ("STR011", Severity.ERROR, "lines[0].procedure"),
        ("STR011", Severity.ERROR, "lines[1].procedure"),
    ]
    assert "claim TESTPCN0099 line 1" in [f for f in results[0] if f.rule == "STR011"][0].message
    assert dup[1] == dup[0]
    assert dup[2] == []  # another patient
    assert dup[3] == []  # the replacement of claim 0 is not a duplicate of it, nor it of the replacement
    assert scrub_many([], ctx) == []


def test_context_facts_are_computed_once_per_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    import medbill.scrub.context as context

    calls = []
    real = context._facts

    def counting(claim: Claim, ctx: ScrubContext) -> Any:
        calls.append(claim.id)
        return real(claim, ctx)

    monkeypatch.setattr(context, "_facts", counting)
    ctx = ScrubContext(today=TODAY)
    for claim in example_claims():
        scrub(claim, ctx)
    assert calls == [c.id for c in example_claims()]


def test_claim_settings() -> None:
    from medbill.scrub import ClaimSetting, claim_setting

    office, _dep, _sec, outpatient, inpatient, _rep = example_claims()
    assert claim_setting(office) is ClaimSetting.PROFESSIONAL
    assert claim_setting(outpatient) is ClaimSetting.OUTPATIENT
    assert claim_setting(inpatient) is ClaimSetting.INPATIENT
    assert inpatient.institutional is not None
    snf = dataclasses.replace(
        inpatient, institutional=dataclasses.replace(inpatient.institutional, facility_type_code="21")
    )
    assert claim_setting(snf) is ClaimSetting.INSTITUTIONAL_OTHER

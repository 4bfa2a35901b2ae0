"""The claim model, its JSON form and JSON Schema, and claim_problems()."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from medbill.core import (
    AdjustmentGroup,
    Claim,
    ClaimAdjustment,
    ClaimFormatError,
    ClaimFrequency,
    ClaimKind,
    Code,
    CodeSystem,
    Diagnosis,
    DiagnosisRole,
    InvalidMoney,
    Relationship,
    ServiceLine,
    claim_from_dict,
    claim_from_json,
    claim_json_schema,
    claim_problems,
    claim_to_dict,
    claim_to_json,
    claims_from_dict,
    claims_from_json,
    claims_to_dict,
    claims_to_json,
    example_claims,
    format_money,
    is_valid_npi,
    money,
    npi_check_digit,
)

EXAMPLES = example_claims()
IDS = [c.id for c in EXAMPLES]


def _validator(*, many: bool = False) -> jsonschema.Draft202012Validator:
    schema = claim_json_schema(many=many)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


VALIDATOR = _validator()


def _schema_ok(data: object) -> bool:
    return bool(VALIDATOR.is_valid(data))


def _reader_error(data: object) -> ClaimFormatError:
    with pytest.raises(ClaimFormatError) as info:
        claim_from_dict(data)
    return info.value


def _mods(*texts: str) -> tuple[Code, ...]:
    return tuple(Code.parse(t, system=CodeSystem.MODIFIER) for t in texts)


# --- the examples -------------------------------------------------------------------------------------


def test_examples_cover_the_cases_the_writers_need() -> None:
    kinds = [c.kind for c in EXAMPLES]
    assert kinds.count(ClaimKind.PROFESSIONAL) == 4 and kinds.count(ClaimKind.INSTITUTIONAL) == 2
    office, dependent, secondary, outpatient, inpatient, replacement = EXAMPLES
    assert [m.value for line in office.lines for m in line.modifiers] == ["25", "59", "RT"]
    assert dependent.patient is not None and dependent.coverage.relationship is Relationship.CHILD
    assert secondary.coverage.insurance_type is not None and secondary.coverage.insurance_type.value == "12"
    assert all(line.adjudications for line in secondary.lines)
    assert secondary.lines[2].procedure == Code.parse("J3490", system=CodeSystem.HCPCS)
    assert secondary.lines[2].description
    assert outpatient.type_of_bill == "131" and inpatient.type_of_bill == "111"
    assert [str(line.revenue_code) for line in outpatient.lines] == ["0450", "0300", "0320", "0730"]
    assert inpatient.institutional is not None and inpatient.institutional.principal_procedure is not None
    assert str(inpatient.institutional.principal_procedure.code) == "027034Z"
    assert [d.poa.value if d.poa else None for d in inpatient.diagnoses] == ["Y", "Y", "Y", "N", "1", None]
    assert replacement.frequency is ClaimFrequency.REPLACEMENT and replacement.original_claim_number


def test_examples_use_fake_people_and_check_digit_valid_npis() -> None:
    for claim in EXAMPLES:
        assert claim.subscriber.last_name.startswith("TEST")
        if claim.patient is not None:
            assert claim.patient.last_name.startswith("TEST")
        for path, provider in claim.providers():
            assert provider.npi is not None and is_valid_npi(provider.npi), path
            assert provider.name.startswith("TEST"), path


@pytest.mark.parametrize("claim", EXAMPLES, ids=IDS)
def test_examples_have_no_structural_problems(claim: Claim) -> None:
    assert claim_problems(claim) == []


# --- round trip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", EXAMPLES, ids=IDS)
def test_round_trip_through_dict_and_json_text(claim: Claim) -> None:
    data = claim_to_dict(claim)
    assert claim_from_dict(data) == claim
    text = json.dumps(data)
    assert claim_from_json(text) == claim
    assert claim_from_json(claim_to_json(claim)) == claim
    # the JSON text is stable: writing the read claim gives the same text
    assert claim_to_json(claim_from_json(text), indent=None) == json.dumps(data, ensure_ascii=False)


def test_round_trip_keeps_decimal_exponents_and_types() -> None:
    back = claim_from_json(claim_to_json(EXAMPLES[4]))
    line = back.lines[0]
    assert isinstance(line.charge, Decimal) and str(line.charge) == "5400.00"
    assert back.institutional is not None and back.institutional.admission_time == dt.time(22, 15)
    assert isinstance(back.lines, tuple) and isinstance(back.diagnoses, tuple)
    dependent = claim_from_json(claim_to_json(EXAMPLES[1]))
    assert dependent.lines[2].drug is not None and str(dependent.lines[2].drug.quantity) == "0.5"


def test_claims_document_round_trip_and_schema() -> None:
    doc = claims_to_dict(EXAMPLES)
    assert claims_from_dict(doc) == EXAMPLES
    assert claims_from_json(claims_to_json(EXAMPLES)) == EXAMPLES
    assert _validator(many=True).is_valid(doc)


def test_json_form_of_codes_money_and_enums() -> None:
    data = claim_to_dict(EXAMPLES[0])
    assert data["diagnoses"][0] == {"code": "M17.11", "role": "principal"}
    assert data["lines"][0]["procedure"] == {"system": "CPT", "code": "99214"}
    assert data["lines"][1]["modifiers"] == ["59", "RT"]
    assert data["lines"][1]["charge"] == "142.50"
    assert data["place_of_service"] == "11"
    assert data["coverage"]["relationship"] == "18"
    assert "patient" not in data and "other_payers" not in data  # None / empty omitted
    assert "total_charge" not in data  # computed, not stored


def test_reader_normalises_codes_and_money() -> None:
    data = claim_to_dict(EXAMPLES[0])
    data["diagnoses"][1]["code"] = "e119"
    data["lines"][0]["charge"] = "185"
    claim = claim_from_dict(data)
    assert claim.diagnoses[1].code == Code(CodeSystem.ICD10CM, "E119")
    assert str(claim.lines[0].charge) == "185.00"
    assert claim == EXAMPLES[0]


# --- schema accepts what the writer writes, and rejects what the reader rejects -------------------------


@pytest.mark.parametrize("claim", EXAMPLES, ids=IDS)
def test_schema_accepts_every_example(claim: Claim) -> None:
    errors = list(VALIDATOR.iter_errors(claim_to_dict(claim)))
    assert errors == []


def _set(data: dict[str, Any], path: list[str | int], value: object) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _mutation(path: list[str | int], value: object) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda data: _set(data, path, value)


def _add_modifier(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["lines"][1]["modifiers"] = ["59", "RT", "XS", "76", "77"]
    return out


def _drop(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def mutate(data: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(data)
        del out[key]
        return out

    return mutate


BAD = [
    ("five_modifiers", _add_modifier, "lines[1].modifiers[4]", "at most 4 modifiers"),
    ("bad_month", _mutation(["lines", 0, "service_date"], "2025-13-01"), "lines[0].service_date", "ISO date"),
    (
        "feb_30",
        _mutation(["lines", 0, "service_date"], "2025-02-30"),
        "lines[0].service_date",
        "not a valid date",
    ),
    ("us_date", _mutation(["onset_date"], "03/10/2025"), "onset_date", "ISO date"),
    ("float_charge", _mutation(["lines", 0, "charge"], 185.0), "lines[0].charge", "JSON string"),
    ("int_charge", _mutation(["lines", 0, "charge"], 185), "lines[0].charge", "JSON string"),
    ("sub_cent", _mutation(["lines", 0, "charge"], "185.005"), "lines[0].charge", "at most two decimal"),
    ("unknown_key", _mutation(["lines", 1, "colour"], "red"), "lines[1].colour", "unknown field"),
    ("unknown_top_key", _mutation(["total"], "327.50"), "total", "unknown field"),
    (
        "pointer_13",
        _mutation(["lines", 0, "diagnosis_pointers"], [1, 13]),
        "lines[0].diagnosis_pointers[1]",
        "1..12",
    ),
    (
        "five_pointers",
        _mutation(["lines", 0, "diagnosis_pointers"], [1, 2, 3, 1, 2]),
        "lines[0].diagnosis_pointers[4]",
        "at most 4",
    ),
    ("bad_enum", _mutation(["coverage", "relationship"], "99"), "coverage.relationship", "not one of"),
    ("bad_dx", _mutation(["diagnoses", 0, "code"], "E11.9.9"), "diagnoses[0].code", "ICD-10-CM"),
    (
        "cpt_as_hcpcs",
        _mutation(["lines", 0, "procedure", "system"], "HCPCS"),
        "lines[0].procedure.code",
        "HCPCS",
    ),
    ("procedure_string", _mutation(["lines", 0, "procedure"], "99214"), "lines[0].procedure", "system"),
    ("missing_required", _drop("billing_provider"), "billing_provider", "required field missing"),
    ("null_tuple", _mutation(["lines"], None), "lines", "expected an array"),
    ("bool_line_number", _mutation(["lines", 0, "line_number"], True), "lines[0].line_number", "integer"),
    ("npi_number", _mutation(["rendering_provider", "npi"], 1234567893), "rendering_provider.npi", "string"),
]


@pytest.mark.parametrize(("name", "mutate", "path", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_reader_and_schema_reject_malformed_claims(
    name: str, mutate: Callable[[dict[str, Any]], dict[str, Any]], path: str, fragment: str
) -> None:
    data = mutate(claim_to_dict(EXAMPLES[0]))
    error = _reader_error(data)
    assert error.path == path
    assert fragment in str(error), str(error)
    assert str(error).startswith(f"{path}: ")
    assert not _schema_ok(data), f"schema accepted {name}"


def test_errors_name_the_path_inside_a_claims_document() -> None:
    doc = claims_to_dict(EXAMPLES)
    doc["claims"][3]["lines"][2]["modifiers"] = ["25", "59", "XS", "XU", "76"]
    with pytest.raises(ClaimFormatError) as info:
        claims_from_dict(doc)
    assert info.value.path == "claims[3].lines[2].modifiers[4]"
    assert str(info.value) == "claims[3].lines[2].modifiers[4]: at most 4 modifiers"
    assert info.value.to_dict()["path"] == "claims[3].lines[2].modifiers[4]"
    assert not _validator(many=True).is_valid(doc)


def test_unknown_key_error_suggests_the_field() -> None:
    data = _set(claim_to_dict(EXAMPLES[0]), ["lines", 0, "modifier"], ["25"])
    error = _reader_error(data)
    assert error.path == "lines[0].modifier"
    assert error.hint == "did you mean 'modifiers'?"


def test_not_json_is_a_format_error() -> None:
    with pytest.raises(ClaimFormatError) as info:
        claim_from_json('{"id": ')
    assert info.value.path == "" and "not JSON" in str(info.value)
    with pytest.raises(ClaimFormatError):
        claims_from_dict([claim_to_dict(EXAMPLES[0])])


def _leaves(node: object, path: list[str | int]) -> Iterator[list[str | int]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, [*path, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, [*path, i])
    else:
        yield path


def _path_text(path: list[str | int]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


@pytest.mark.parametrize("claim", EXAMPLES, ids=IDS)
def test_reader_and_schema_agree_on_every_leaf(claim: Claim) -> None:
    """Replace each leaf with a value of the wrong type (both reject, at that path) and with null
    (both accept or both reject)."""
    data = claim_to_dict(claim)
    count = 0
    for path in _leaves(data, []):
        count += 1
        wrong = _set(data, path, {"bogus": 1})
        assert not _schema_ok(wrong), path
        assert _reader_error(wrong).path == _path_text(path)
        nulled = _set(data, path, None)
        try:
            claim_from_dict(nulled)
            reader_ok = True
        except ClaimFormatError:
            reader_ok = False
        assert reader_ok == _schema_ok(nulled), path
    assert count > 30


# --- the model holds bad data; claim_problems reports it ----------------------------------------------


def test_model_holds_bad_data_and_writer_refuses_what_json_cannot_carry() -> None:
    office = EXAMPLES[0]
    line = dataclasses.replace(office.lines[0], modifiers=_mods("25", "59", "XS", "XU", "76"))
    bad = dataclasses.replace(office, lines=(line, office.lines[1]))  # no exception: records don't validate
    problems = claim_problems(bad)
    assert [(p.path, p.code) for p in problems] == [("lines[0].modifiers", "line.too_many_modifiers")]
    with pytest.raises(ClaimFormatError) as info:
        claim_to_dict(bad)
    assert str(info.value) == "lines[0].modifiers[4]: at most 4 modifiers"
    sub_cent = dataclasses.replace(office, stated_total=Decimal("327.505"))
    with pytest.raises(ClaimFormatError) as info:
        claim_to_dict(sub_cent)
    assert info.value.path == "stated_total"


def _codes(claim: Claim) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in claim_problems(claim)]


def test_problem_stated_total_differs_from_lines() -> None:
    claim = dataclasses.replace(EXAMPLES[0], stated_total=money("327.49"))
    assert _codes(claim) == [("stated_total", "total.mismatch")]
    assert _codes(dataclasses.replace(EXAMPLES[0], stated_total=money("327.50"))) == []


def test_problem_diagnosis_limits_per_kind() -> None:
    office = EXAMPLES[0]
    codes = [
        "E11.9",
        "I10",
        "E78.5",
        "I25.10",
        "N39.0",
        "Z79.4",
        "R07.9",
        "R07.89",
        "J06.9",
        "Z23",
        "M17.11",
        "S01.81XA",
        "W01.0XXA",
    ]
    thirteen = tuple(
        Diagnosis(
            code=Code.parse(c, system=CodeSystem.ICD10CM),
            role=DiagnosisRole.PRINCIPAL if i == 0 else DiagnosisRole.OTHER,
        )
        for i, c in enumerate(codes)
    )
    assert _codes(dataclasses.replace(office, diagnoses=thirteen)) == [("diagnoses", "dx.too_many")]
    assert _codes(dataclasses.replace(office, diagnoses=thirteen[:12])) == []
    inpatient = EXAMPLES[4]
    many = inpatient.diagnoses[:1] + tuple(
        Diagnosis(code=Code.parse(c, system=CodeSystem.ICD10CM)) for c in (codes * 2)[:25]
    )
    assert _codes(dataclasses.replace(inpatient, diagnoses=many)) == [("diagnoses", "dx.too_many")]
    assert _codes(dataclasses.replace(inpatient, diagnoses=many[:25])) == []


def test_problem_dangling_pointer_and_missing_original_number() -> None:
    office = EXAMPLES[0]
    line = dataclasses.replace(office.lines[1], diagnosis_pointers=(1, 4))
    claim = dataclasses.replace(office, lines=(office.lines[0], line), frequency=ClaimFrequency.VOID)
    assert _codes(claim) == [
        ("original_claim_number", "frequency.original_missing"),
        ("lines[1].diagnosis_pointers[1]", "line.pointer_dangling"),
    ]


def test_problem_patient_and_relationship_disagree() -> None:
    dependent = EXAMPLES[1]
    assert _codes(dataclasses.replace(dependent, patient=None)) == [("patient", "patient.missing")]
    self_cov = dataclasses.replace(dependent.coverage, relationship=Relationship.SELF)
    assert _codes(dataclasses.replace(dependent, coverage=self_cov)) == [
        ("coverage.relationship", "patient.relationship_self")
    ]


def test_problem_cob_unbalanced_and_sbr05_missing() -> None:
    secondary = EXAMPLES[2]
    line = secondary.lines[0]
    adj = dataclasses.replace(line.adjudications[0], paid_amount=money("95.00"))
    claim = dataclasses.replace(
        secondary, lines=(dataclasses.replace(line, adjudications=(adj,)),) + secondary.lines[1:]
    )
    assert _codes(claim) == [("lines[0].adjudications[0]", "cob.line_unbalanced")]
    extra = ClaimAdjustment(
        group=AdjustmentGroup.OTHER, reason=Code.parse("23", system=CodeSystem.CARC), amount=money("1.00")
    )
    other = dataclasses.replace(secondary.other_payers[0], adjustments=(extra,))
    assert _codes(dataclasses.replace(secondary, other_payers=(other,))) == [
        ("other_payers[0]", "cob.claim_unbalanced")
    ]
    cov = dataclasses.replace(secondary.coverage, insurance_type=None)
    assert _codes(dataclasses.replace(secondary, coverage=cov)) == [("coverage.insurance_type", "cob.sbr05_missing")]


def test_problem_institutional_shape() -> None:
    outpatient = EXAMPLES[3]
    line = dataclasses.replace(outpatient.lines[0], revenue_code=None, diagnosis_pointers=(1,))
    claim = dataclasses.replace(outpatient, lines=(line,) + outpatient.lines[1:], institutional=None)
    assert _codes(claim) == [
        ("institutional", "kind.institutional_missing"),
        ("lines[0].diagnosis_pointers", "line.pointer_institutional"),
        ("lines[0].revenue_code", "line.revenue_missing"),
    ]


# --- money and totals ---------------------------------------------------------------------------------


def test_total_charge_sums_lines_exactly_in_decimal() -> None:
    office = EXAMPLES[0]
    dime = [dataclasses.replace(office.lines[0], line_number=i + 1, charge=money("0.10")) for i in range(3)]
    claim = dataclasses.replace(office, lines=tuple(dime))
    assert claim.total_charge == Decimal("0.30") and str(claim.total_charge) == "0.30"
    assert 0.1 + 0.1 + 0.1 != 0.3  # what float would have given
    assert [str(c.total_charge) for c in EXAMPLES] == [
        "327.50",
        "420.25",
        "300.00",
        "1823.75",
        "25202.15",
        "327.50",
    ]
    assert str(dataclasses.replace(office, lines=()).total_charge) == "0.00"


def test_money_refuses_floats_and_sub_cents() -> None:
    assert money("12.5") == Decimal("12.50") and str(money("12.5")) == "12.50"
    assert str(money(7)) == "7.00"
    with pytest.raises(InvalidMoney):
        money(0.1)  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney):
        money("1.005")
    with pytest.raises(InvalidMoney):
        money("NaN")
    assert format_money(Decimal("5")) == "5.00"


# --- NPI and records ------------------------------------------------------------------------------------


def test_npi_check_digit_uses_the_80840_prefix() -> None:
    assert npi_check_digit("123456789") == "3"  # the CMS worked example: 1234567893
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")
    assert not is_valid_npi("123456789")
    with pytest.raises(ValueError):
        npi_check_digit("12345678")


def test_records_are_frozen_slotted_and_keyword_only() -> None:
    line = EXAMPLES[0].lines[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.charge = Decimal("1")  # type: ignore[misc]
    assert not hasattr(line, "__dict__")
    with pytest.raises(TypeError):
        ServiceLine(1, None)  # type: ignore[call-arg]


def test_schema_shape() -> None:
    schema = claim_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$ref"] == "#/$defs/Claim"
    line = schema["$defs"]["ServiceLine"]
    assert line["additionalProperties"] is False
    assert line["properties"]["modifiers"]["maxItems"] == 4
    assert line["properties"]["charge"]["type"] == "string"
    assert set(schema["$defs"]["Claim"]["required"]) == {"id", "kind", "billing_provider", "coverage"}

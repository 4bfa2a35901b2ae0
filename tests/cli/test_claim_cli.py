"""`medbill claim schema` and `medbill claim example`: the schema accepts the examples it prints."""

from __future__ import annotations

import json

import jsonschema
from click.testing import CliRunner

from medbill.cli.main import main
from medbill.core.claim import claims_from_json


def test_schema_accepts_the_example_claims_file() -> None:
    runner = CliRunner()
    example = runner.invoke(main, ["claim", "example"])
    assert example.exit_code == 0
    claims = claims_from_json(example.output)
    assert len(claims) >= 5
    schema = json.loads(runner.invoke(main, ["claim", "schema", "--many"]).output)
    jsonschema.validate(json.loads(example.output), schema, format_checker=jsonschema.FormatChecker())
    one = json.loads(runner.invoke(main, ["claim", "schema"]).output)
    bad = json.loads(example.output)["claims"][0] | {"unknown_field": 1}
    errors = list(jsonschema.Draft202012Validator(one).iter_errors(bad))
    assert errors

"""``medbill claim``: the claim's JSON form (schema and examples)."""

from __future__ import annotations

import json

import click

from medbill.cli.common import handles_errors, json_option


@click.group("claim")
def claim_group() -> None:
    """The claim record: its JSON Schema and example claims."""


@claim_group.command("schema")
@click.option("--many", is_flag=True, help='Schema of a claims file ({"claims": [...]}) instead of one claim.')
@json_option
@handles_errors
def schema_cmd(many: bool, as_json: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of a claim (always JSON; --json is accepted for symmetry)."""
    from medbill.core.claim import claim_json_schema

    del as_json
    click.echo(json.dumps(claim_json_schema(many=many), indent=2, ensure_ascii=False))


@claim_group.command("example")
@json_option
@handles_errors
def example_cmd(as_json: bool) -> None:
    """Print a claims file with the built-in example claims (fictitious people, Luhn-valid test NPIs)."""
    from medbill.core.claim import claims_to_json, example_claims

    del as_json
    click.echo(claims_to_json(example_claims()))


def register(group: click.Group) -> None:
    group.add_command(claim_group)

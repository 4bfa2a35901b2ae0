"""The CLI: every command has --help and --json; bad input gives one line, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medbill.cli.main import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, path))
        else:
            out.append((path, cmd))
    return out


@pytest.fixture()
def env(built_store_path: Path, tmp_path: Path) -> dict[str, str]:
    return {"MEDBILL_REFDATA": str(built_store_path), "MEDBILL_HOME": str(tmp_path)}


def test_every_command_has_help_and_json() -> None:
    runner = CliRunner()
    commands = _commands(main)
    assert len(commands) >= 5
    for path, cmd in commands:
        res = runner.invoke(main, [*path, "--help"])
        assert res.exit_code == 0, path
        assert "--json" in res.output, f"{' '.join(path)} lacks --json"
        assert cmd.help, f"{' '.join(path)} has no help text"


def test_code_lookup_text_and_json(env: dict[str, str]) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["code", "e11.9", "--date", "2026-04-01"], env=env)
    assert res.exit_code == 0
    assert "E11.9" in res.output and "Type 2 diabetes mellitus without complications" in res.output
    assert "Excludes1 (from E11)" in res.output
    res = runner.invoke(main, ["code", "S72.001", "--json", "--date", "2026-04-01"], env=env)
    data = json.loads(res.output)
    assert data[0]["needs_seventh_character"] is True
    assert {"char": "A", "meaning": "initial encounter for closed fracture"} in data[0]["seventh_characters"]


def test_bare_code_shows_both_systems(env: dict[str, str]) -> None:
    res = CliRunner().invoke(main, ["code", "J1100", "--json", "--date", "2026-04-01"], env=env)
    systems = {d["system"] for d in json.loads(res.output)}
    assert {"ICD10CM"} <= systems


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["code", "E11.99"], "E11.99 does not exist in ICD-10-CM"),
        (["code", "E1.19", "--system", "icd10cm"], "the dot goes after the third character"),
        (["code", "!!", "--system", "icd10cm"], "is not a well-formed ICD-10-CM code"),
        (["code", "E11", "--system", "nonsense"], "unknown code system"),
    ],
)
def test_errors_are_one_line(env: dict[str, str], args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, args, env=env)
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_error_json_shape(env: dict[str, str]) -> None:
    res = CliRunner().invoke(main, ["code", "E11.99", "--json"], env=env)
    assert res.exit_code == 2
    data = json.loads(res.output)
    assert data["error"] == "invalid_code" and data["reason"] == "unknown" and "E11.9" in data["suggestions"]


def test_missing_store_is_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["code", "E11.9"], env={"MEDBILL_REFDATA": str(tmp_path / "none.sqlite")})
    assert res.exit_code == 2 and "medbill data build" in res.output and "Traceback" not in res.output


def test_search_text_and_json(env: dict[str, str]) -> None:
    res = CliRunner().invoke(main, ["search", "CHF", "--json", "-n", "5"], env=env)
    assert res.exit_code == 0
    hits = json.loads(res.output)
    assert hits and all({"code", "description", "why", "score"} <= set(h) for h in hits)
    res = CliRunner().invoke(main, ["search", "broken", "hip", "--billable", "--explain"], env=env)
    assert res.exit_code == 0 and "S72" in res.output


def test_data_status_json_lists_loaded_and_missing(env: dict[str, str]) -> None:
    res = CliRunner().invoke(main, ["data", "status", "--json"], env=env)
    data = json.loads(res.output)
    states = {d["dataset"]: d["state"] for d in data["datasets"]}
    assert states["icd10cm-tabular"] == "loaded"
    assert "missing" in states.values() or "available" in states.values() or all(s == "loaded" for s in states.values())


def test_readme_commands_exist() -> None:
    """Docs drift: every `medbill ...` command shown in the README is a real command."""
    text = README.read_text()
    known = {" ".join(p) for p, _ in _commands(main)}
    used = set()
    for m in re.finditer(r"(?m)^\$? ?medbill ((?:[a-z0-9][a-z0-9-]* ?){1,2})", text):
        words = m.group(1).split()
        for n in (2, 1):
            if " ".join(words[:n]) in known:
                used.add(" ".join(words[:n]))
                break
        else:
            pytest.fail(f"README shows an unknown command: medbill {m.group(1)}")
    assert {"code", "search", "data build", "data status"} <= used

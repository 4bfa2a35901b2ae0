"""``medbill users ...`` / ``medbill practices ...`` on an SQLCipher file in a temporary MEDBILL_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from medbill.cli import users
from medbill.services import auth
from medbill.settings import Settings
from medbill.store.db import Database
from medbill.store.models import AuditEvent

PASSWORD = "correct-Horse-battery-42"


@pytest.fixture
def cli() -> click.Group:
    @click.group()
    def root() -> None:
        """test root"""

    users.register(root)
    return root


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("MEDBILL_DATABASE_URL", "MEDBILL_KEY_FILE", "MEDBILL_DB_KEY", "MEDBILL_AUDIT_ANCHOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDBILL_HOME", str(tmp_path))  # for Settings.from_env() in the test itself
    return {"MEDBILL_HOME": str(tmp_path)}


def _run(cli: click.Group, env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str]:  # noqa: A002
    res = CliRunner().invoke(cli, list(args), env=env, input=input)
    return res.exit_code, res.output


def test_practice_and_user_lifecycle(cli: click.Group, env: dict[str, str]) -> None:
    code, out = _run(cli, env, "practices", "create", "Main Street Clinic", "--npi", "1234567893", "--json")
    assert code == 0, out
    practice = json.loads(out)
    assert practice["name"] == "Main Street Clinic" and practice["npi"] == "1234567893"

    code, out = _run(
        cli,
        env,
        "users",
        "create",
        "--practice",
        str(practice["id"]),
        "--role",
        "coder",
        "Alice",
        "--password-stdin",
        "--json",
        input=PASSWORD + "\n",
    )
    assert code == 0, out
    made = json.loads(out)
    assert made["username"] == "alice" and made["otpauth_uri"].startswith("otpauth://totp/medbill:alice?secret=")

    code, out = _run(cli, env, "users", "create", "--role", "system_admin", "root", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, out
    assert "otpauth://totp/medbill:root?" in out

    code, out = _run(cli, env, "users", "list", "--json")
    listed = json.loads(out)["users"]
    assert [(u["username"], u["role"], u["practice_id"]) for u in listed] == [
        ("alice", "coder", practice["id"]),
        ("root", "system_admin", None),
    ]
    code, out = _run(cli, env, "users", "list", "--practice", str(practice["id"]))
    assert code == 0 and "alice" in out and "root" not in out and "mfa pending" in out

    # lock alice out through the service, then unlock and reset MFA from the command line
    db = Database.from_settings(Settings.from_env())
    try:
        for i in range(auth.LOCKOUT_THRESHOLD):
            with pytest.raises(auth.AuthenticationRequired):
                auth.login(db, username="alice", password=f"wrong-password-{i}")
    finally:
        db.dispose()
    code, out = _run(cli, env, "users", "list", "--json")
    assert json.loads(out)["users"][0]["locked_until"] is not None
    code, out = _run(cli, env, "users", "unlock", "alice", "--json")
    assert code == 0 and json.loads(out)["locked_until"] is None
    code, out = _run(cli, env, "users", "reset-mfa", "alice", "--json")
    assert code == 0 and json.loads(out)["otpauth_uri"] != made["otpauth_uri"]

    db = Database.from_settings(Settings.from_env())
    try:
        with db.read() as s:
            actions = [(e.action, e.resource, e.outcome) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    finally:
        db.dispose()
    assert ("create", "practice", "success") in actions
    assert actions.count(("create", "user", "success")) == 2
    assert ("lockout", "user", "success") in actions
    assert actions.count(("update", "user", "success")) == 2  # unlock, reset-mfa


def test_errors_are_one_line(cli: click.Group, env: dict[str, str]) -> None:
    code, out = _run(
        cli,
        env,
        "users",
        "create",
        "--practice",
        "7",
        "--role",
        "coder",
        "bob",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert code == 2 and "practice 7 not found" in out and "Traceback" not in out
    code, out = _run(
        cli, env, "users", "create", "--role", "system_admin", "bob", "--password-stdin", "--json", input="short\n"
    )
    assert code == 2 and json.loads(out)["error"] == "validation_failed"
    code, out = _run(cli, env, "users", "unlock", "nobody")
    assert code == 2 and "user not found" in out
    code, out = _run(cli, env, "users", "create", "--role", "wizard", "bob")
    assert code == 2 and "wizard" in out


def test_every_command_has_help_and_json(cli: click.Group) -> None:
    for group in (users.users_group, users.practices_group):
        for name, cmd in group.commands.items():
            res = CliRunner().invoke(cli, [group.name or "", name, "--help"])
            assert res.exit_code == 0 and "--json" in res.output and cmd.help, name

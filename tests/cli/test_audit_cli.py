"""``medbill audit verify`` / ``medbill audit report`` over an SQLCipher database in MEDBILL_HOME."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from medbill.cli import audit as audit_cli
from medbill.services import audit as svc
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.settings import Settings
from medbill.store.db import Database


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("MEDBILL_DATABASE_URL", "MEDBILL_KEY_FILE", "MEDBILL_DB_KEY", "MEDBILL_AUDIT_ANCHOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MEDBILL_HOME", str(tmp_path))
    db = Database.from_settings(Settings.from_env())
    db.migrate()
    for i in range(4):
        svc.record_separately(
            db,
            Actor(user_id=5 + i % 2, role=Role.BILLER, practice_id=1),
            action="read",
            resource="claim",
            record_ids=[i],
            outcome="success",
        )
    db.dispose()
    return tmp_path


def _cli() -> click.Group:
    group = click.Group("medbill")
    audit_cli.register(group)
    return group


def test_verify_intact_exits_0(home: Path) -> None:
    result = CliRunner().invoke(_cli(), ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "4 records verified" in result.output and "intact" in result.output
    data = json.loads(CliRunner().invoke(_cli(), ["audit", "verify", "--json"]).output)
    assert data["intact"] is True and data["problems"] == []


def test_verify_lists_problems_and_exits_1(home: Path) -> None:
    db = Database.from_settings(Settings.from_env())
    with db.engine.begin() as conn:
        conn.execute(sa.text("update audit_event set outcome = 'denied' where chain = 1 and seq = 2"))
    db.dispose()
    result = CliRunner().invoke(_cli(), ["audit", "verify"])
    assert result.exit_code == 1
    assert "PROBLEM chain 1 seq 2: edited" in result.output
    data = json.loads(CliRunner().invoke(_cli(), ["audit", "verify", "--json"]).output)
    assert data["intact"] is False and data["problems"][0]["kind"] == "edited"


def test_report_by_dates_and_user(home: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    args = ["audit", "report", "--from", (today - dt.timedelta(days=1)).isoformat(), "--to", today.isoformat()]
    result = CliRunner().invoke(_cli(), [*args, "--user", "6", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)["records"]
    assert [(r["user_id"], r["record_ids"]) for r in records] == [(6, [1]), (6, [3])]
    text = CliRunner().invoke(_cli(), args)
    # the 4 records and the first report's own audit record
    assert text.exit_code == 0 and text.output.splitlines()[-1] == "5 records"
    assert "read audit_log []  success  from cli" in text.output
    bad = CliRunner().invoke(_cli(), ["audit", "report", "--from", "2026-13-01", "--to", "2026-01-02"])
    assert bad.exit_code == 2 and "not a date" in bad.output

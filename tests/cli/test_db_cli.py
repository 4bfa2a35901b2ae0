"""``medbill db``, ``medbill backup``/``restore`` and ``medbill keys`` on the default SQLCipher backend."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from medbill.cli import db as db_cli
from medbill.settings import Settings
from medbill.store.db import Database
from medbill.store.keys import KeyRing
from medbill.store.models import Patient, Practice

CANARY = "ZQXCLICANARY"


@click.group()
def cli() -> None:
    """Test group."""


db_cli.register(cli)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("MEDBILL_DATABASE_URL", "MEDBILL_DB_KEY", "MEDBILL_KEY_FILE", "MEDBILL_AUDIT_ANCHOR"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "home"
    monkeypatch.setenv("MEDBILL_HOME", str(path))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _add_patient() -> None:
    db = Database.from_settings(Settings.from_env(), create_keys=False)
    with db.write() as s:
        practice = Practice(name="CLI practice")
        s.add(practice)
        s.flush()
        s.add(Patient(practice_id=practice.id, last_name=CANARY, first_name="A", birth_date=dt.date(1960, 1, 2)))
    db.dispose()


def _names() -> list[str]:
    db = Database.from_settings(Settings.from_env(), create_keys=False)
    with db.read() as s:
        names = [p.last_name for p in s.query(Patient).all()]
    db.dispose()
    return names


def test_upgrade_status_backup_restore_rotate_retire_rekey(home: Path, tmp_path: Path) -> None:
    res = run("db", "upgrade")
    assert res.exit_code == 0, res.output
    assert "schema at revision 0001" in res.output
    st = json.loads(run("db", "status", "--json").output)
    assert st["backend"] == "sqlite" and st["file_encrypted"] and st["phi_columns_encrypted"]
    assert st["schema_revision"] == st["head_revision"] == "0001" and st["up_to_date"]
    assert st["key_versions"] == [1] and st["versions_in_use"] == {}
    ring = KeyRing.from_json((home / "keys.json").read_text())
    text = run("db", "status").output
    assert "SQLCipher" in text and ring.db_key not in text and ring.db_key not in json.dumps(st)

    _add_patient()
    out = tmp_path / "backups" / "one.mbk"
    res = run("backup", str(out))
    assert res.exit_code == 0, res.output
    assert out.is_file() and "sqlcipher" in res.output and CANARY.encode() not in out.read_bytes()
    res = run("backup", str(out))
    assert res.exit_code == 2 and "already exists" in res.output

    res = run("restore", str(out))
    assert res.exit_code == 2 and "holds data" in res.output
    res = run("restore", str(out), "--force", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["kind"] == "sqlcipher"
    assert _names() == [CANARY]

    res = run("keys", "rotate", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["active_version"] == 2 and report["reencrypted"] >= 3 and report["remaining"] == {}
    res = run("keys", "retire", "2")
    assert res.exit_code == 2 and "active" in res.output
    res = run("keys", "retire", "1")
    assert res.exit_code == 0, res.output
    st = json.loads(run("db", "status", "--json").output)
    assert st["key_versions"] == [2] and set(st["versions_in_use"]) == {"2"}

    res = run("keys", "rekey-db")
    assert res.exit_code == 0, res.output
    assert KeyRing.from_json((home / "keys.json").read_text()).db_key != ring.db_key
    assert _names() == [CANARY]
    # the backup made before the rotation needs key version 1, which is retired now
    res = run("restore", str(out), "--force")
    assert res.exit_code == 2 and "lacks PHI key version" in res.output


def test_restore_into_a_new_installation_with_the_same_key_file(home: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert run("db", "upgrade").exit_code == 0
    _add_patient()
    out = tmp_path / "b.mbk"
    secret = tmp_path / "pass.txt"
    secret.write_text("a long enough passphrase\n")
    assert run("backup", str(out), "--passphrase-file", str(secret)).exit_code == 0

    monkeypatch.setenv("MEDBILL_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("MEDBILL_KEY_FILE", str(home / "keys.json"))
    res = run("restore", str(out))
    assert res.exit_code == 2 and "passphrase" in res.output
    res = run("restore", str(out), "--passphrase-file", str(secret))
    assert res.exit_code == 0, res.output
    assert _names() == [CANARY]


def test_status_without_a_key_file_is_a_clear_error(home: Path) -> None:
    res = run("db", "status")
    assert res.exit_code == 2 and "key file not found" in res.output

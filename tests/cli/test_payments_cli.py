"""``medbill remit post``, ``medbill denials`` and ``medbill ar aging`` on an SQLCipher file in MEDBILL_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medbill.cli import payments as payments_cli
from medbill.cli import remit as remit_cli
from medbill.settings import Settings
from medbill.store.db import Database
from tests.services.paydata import insert_claims, practice, professional_examples, simulated_835
from tests.services.test_payments import RULES


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEDBILL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDBILL_DATABASE_URL", raising=False)
    monkeypatch.delenv("MEDBILL_KEY_FILE", raising=False)
    monkeypatch.delenv("MEDBILL_DB_KEY", raising=False)
    monkeypatch.delenv("MEDBILL_AUDIT_ANCHOR", raising=False)
    monkeypatch.setenv("MEDBILL_REFDATA", str(tmp_path / "no-refdata.sqlite"))
    db = Database.from_settings(Settings.from_env())
    db.migrate()
    pid, patient, payers = practice(db)
    claims = professional_examples()
    insert_claims(db, pid, patient, payers, claims)
    db.dispose()
    (tmp_path / "era.835").write_text(simulated_835(claims, RULES))
    return tmp_path


def cli() -> click.Group:
    @click.group()
    def main() -> None:
        """test"""

    remit_cli.register(main)
    payments_cli.register(main)  # after `remit read`: adds `post` to the same group
    return main


def test_remit_post_denials_and_aging(home: Path) -> None:
    main = cli()
    assert {"read", "post"} <= set(main.commands["remit"].commands)  # type: ignore[attr-defined]
    runner = CliRunner()
    era = str(home / "era.835")
    preview = runner.invoke(main, ["remit", "post", era, "--preview"])
    assert preview.exit_code == 0, preview.output
    assert preview.output.startswith("preview (nothing kept)") and "posted 3," in preview.output
    first = runner.invoke(main, ["remit", "post", era, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["counts"]["posted"] == 3 and report["counts"]["plb_posted"] == 1
    assert "TESTPCN" not in first.output
    again = runner.invoke(main, ["remit", "post", era, "--practice", "1"])
    assert again.exit_code == 0 and "(this file was received before)" in again.output
    assert "posted 0, already posted 3" in again.output

    denials = runner.invoke(main, ["denials", "--json"])
    assert denials.exit_code == 0, denials.output
    [item] = json.loads(denials.output)["items"]
    assert item["procedure"] == "90715" and item["reasons"][0]["carc"] == "96"
    text = runner.invoke(main, ["denials"])
    assert "CO-96 65.25" in text.output and "next:" in text.output

    aging = runner.invoke(main, ["ar", "aging", "--as-of", "2025-09-15", "--view", "patient", "--json"])
    assert aging.exit_code == 0, aging.output
    out = json.loads(aging.output)
    assert out["view"] == "patient" and list(out["rows"]) == ["patient:1"]
    table = runner.invoke(main, ["ar", "aging", "--as-of", "2025-09-15"])
    assert table.exit_code == 0 and "TOTAL" in table.output and "31-60" in table.output


def test_errors_are_one_line(home: Path) -> None:
    main = cli()
    runner = CliRunner()
    bad = home / "bad.835"
    bad.write_text("ISA*00*not an interchange~")
    result = runner.invoke(main, ["remit", "post", str(bad)])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "Traceback" not in result.output
    result = runner.invoke(main, ["denials", "--practice", "99"])
    assert result.exit_code == 2 and "practice 99 not found" in result.output

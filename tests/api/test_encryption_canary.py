"""Canary PHI written through the API is absent from the database files, PostgreSQL's PHI columns and logs."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from medbill.services.permissions import Role

CANARY = {
    "last_name": "Qzxcanarylast",
    "first_name": "Qzxcanaryfirst",
    "birth_date": "1933-07-19",
    "mrn": "QZXMRN4471",
    "ssn": "987-65-4329",
    "address1": "77 Qzxcanary Road",
    "city": "Qzxcanaryville",
    "zip": "02139",
    "phone": "6175550199",
    "email": "qzx.canary@example.org",
}
NEEDLES = [b"Qzxcanary", b"QZXMRN4471", b"987-65-4329", b"6175550199", b"qzx.canary", b"1933-07-19"]


def _write_canary(world: Any) -> int:
    h = world.headers(Role.FRONT_DESK)
    r = world.client.post("/patients", json=CANARY, headers=h)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    cov = world.client.post(
        "/coverages",
        json={"patient_id": pid, "payer_id": world.own.ids["payer"], "member_id": "QZXMEMBER99"},
        headers=h,
    )
    assert cov.status_code == 201, cov.text
    enc = world.client.post(
        "/encounters",
        json={"patient_id": pid, "service_date": "2026-02-03", "note": "Qzxcanary note: denies chest pain."},
        headers=h,
    )
    assert enc.status_code == 201, enc.text
    got = world.client.get(f"/patients/{pid}", headers=h).json()
    assert got["last_name"] == CANARY["last_name"] and got["birth_date"] == CANARY["birth_date"]
    return int(pid)


def _backup_bytes(world: Any, tmp_path: Path) -> bytes:
    from medbill.services import maintenance
    from medbill.services.context import system_actor

    out = tmp_path / "canary-backup.mbk"
    maintenance.backup_database(world.db, actor=system_actor(), out=out)
    return out.read_bytes()


def test_canary_absent_from_sqlite_files_and_logs(world: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    if world.db.kind != "sqlite":
        pytest.skip("the SQLite file check runs on the SQLCipher backend")
    caplog.set_level(logging.DEBUG)
    _write_canary(world)
    path: Path = world.db.path
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert any(p.name.endswith("-wal") for p in files), [p.name for p in files]
    for f in files:
        data = f.read_bytes()
        for needle in NEEDLES + [b"QZXMEMBER99"]:
            assert needle not in data, f"{needle!r} found in {f.name}"
    logs = "\n".join(r.getMessage() for r in caplog.records).encode()
    for needle in NEEDLES:
        assert needle not in logs
    backup = _backup_bytes(world, tmp_path)
    assert len(backup) > 10_000
    for needle in NEEDLES + [b"QZXMEMBER99"]:
        assert needle not in backup, f"{needle!r} found in the backup"


def test_canary_absent_from_postgres_phi_columns(world: Any, tmp_path: Path) -> None:
    if world.db.kind != "postgresql":
        pytest.skip("the PostgreSQL dump check runs on the PostgreSQL backend")
    _write_canary(world)
    url = world.db.engine.url
    dump = shutil.which("pg_dump") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None)
    if dump:
        host = url.query.get("host") or url.host or ""
        out = subprocess.run(
            [str(dump), "--data-only", "-h", str(host), "-U", url.username or "postgres", url.database or ""],
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
    else:  # no client binaries: every row of every table through SQL
        chunks = []
        with world.db.engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                chunks.extend(repr(tuple(r)) for r in conn.execute(sa.text(f'select * from "{table}"')))
        out = "\n".join(chunks).encode()
    for needle in NEEDLES + [b"QZXMEMBER99"]:
        assert needle not in out, f"{needle!r} in the PostgreSQL dump"
    assert b"v1:" in out  # the PHI columns are there, as ciphertext
    backup = _backup_bytes(world, tmp_path)
    for needle in NEEDLES + [b"QZXMEMBER99"]:
        assert needle not in backup, f"{needle!r} found in the backup"

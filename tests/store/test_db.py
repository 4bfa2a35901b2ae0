"""The practice database: SQLCipher at rest, PHI columns encrypted, blind indexes, money, migrations."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from medbill.store.crypto import DecryptionError, FieldCipher
from medbill.store.db import Database
from medbill.store.keys import KeyError_, KeyRing, load_or_create_keyring
from medbill.store.models import Base, FeeSchedule, FeeScheduleItem, Patient, Practice

CANARY = "ZQXCANARYLASTNAME"


def _add_patient(db: Database) -> int:
    with db.write() as s:
        practice = Practice(name="Test practice")
        s.add(practice)
        s.flush()
        patient = Patient(
            practice_id=practice.id,
            last_name=CANARY,
            first_name="Ann",
            birth_date=dt.date(1951, 3, 4),
            mrn="MRN-77",
            ssn="123-45-6789",
        )
        s.add(patient)
        s.flush()
        return patient.id


def test_phi_round_trips_and_is_encrypted_in_the_row(db: Database) -> None:
    pid = _add_patient(db)
    with db.read() as s:
        p = s.get(Patient, pid)
        assert p is not None and p.last_name == CANARY and p.birth_date == dt.date(1951, 3, 4)
        raw = s.execute(sa.text("select last_name, birth_date, ssn from patient where id = :i"), {"i": pid}).one()
    assert all(v.startswith("v1:") for v in raw)
    assert CANARY not in raw[0] and "1951" not in raw[1] and "6789" not in raw[2]


def test_blind_index_finds_by_name_case_insensitively(db: Database) -> None:
    pid = _add_patient(db)
    probe = db.cipher.blind_index(CANARY.lower(), purpose="patient.last_name")
    with db.read() as s:
        found = s.scalars(sa.select(Patient.id).where(Patient.name_bidx == probe)).all()
        other = db.cipher.blind_index("Smith", purpose="patient.last_name")
        none = s.scalars(sa.select(Patient.id).where(Patient.name_bidx == other)).all()
    assert found == [pid] and none == []


def test_sqlite_file_wal_and_shm_hold_no_plaintext(sqlite_db: Database, tmp_path: Path) -> None:
    _add_patient(sqlite_db)
    # read while the WAL still holds the pages
    with sqlite_db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1
        files = [p for p in tmp_path.iterdir() if p.name.startswith("medbill.db")]
        assert any(p.name.endswith("-wal") for p in files)
        for f in files:
            data = f.read_bytes()
            assert CANARY.encode() not in data, f.name
            assert b"SQLite format 3" not in data[:16], f"{f.name} is a plain SQLite file"


def test_opening_without_the_key_fails(sqlite_db: Database, tmp_path: Path) -> None:
    _add_patient(sqlite_db)
    sqlite_db.dispose()
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(tmp_path / "medbill.db").execute("select count(*) from patient").fetchall()
    wrong = Database(keyring=KeyRing.generate(), path=tmp_path / "medbill.db")
    with pytest.raises(sa.exc.DatabaseError), wrong.read() as s:
        s.execute(sa.text("select count(*) from patient")).all()
    wrong.dispose()


def test_ciphertext_moved_to_another_column_fails_authentication(db: Database) -> None:
    pid = _add_patient(db)
    with db.write() as s:
        s.execute(sa.text("update patient set first_name = last_name where id = :i"), {"i": pid})
    with db.read() as s, pytest.raises(DecryptionError, match="patient.first_name"):
        s.get(Patient, pid)


def test_money_is_decimal_in_integer_cents(db: Database) -> None:
    with db.write() as s:
        practice = Practice(name="P")
        s.add(practice)
        s.flush()
        fs = FeeSchedule(practice_id=practice.id, name="Charges", effective_from=dt.date(2026, 1, 1))
        fs.items.append(FeeScheduleItem(code="99213", amount=Decimal("120.50")))
        s.add(fs)
    with db.read() as s:
        assert s.scalar(sa.select(FeeScheduleItem.amount)) == Decimal("120.50")
        assert s.execute(sa.text("select amount from fee_schedule_item")).scalar() == 12050
    with pytest.raises(sa.exc.StatementError, match="more than two decimal places"), db.write() as s:
        s.add(FeeScheduleItem(schedule_id=1, code="99214", amount=Decimal("1.005")))


def test_a_failed_write_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write() as s:
        s.add(Practice(name="half"))
        s.flush()
        raise RuntimeError("killed half way")
    with db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Practice)) == 0


def test_migrations_build_exactly_the_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_key_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "k" / "keys.json"
    ring = load_or_create_keyring(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_keyring(path)
    assert again.db_key == ring.db_key and again.phi_keys == ring.phi_keys
    assert ring.db_key not in repr(ring)
    with pytest.raises(KeyError_, match="64 hex"):
        load_or_create_keyring(path, db_key_override="short")
    path.write_text("{}")
    with pytest.raises(KeyError_, match="not a medbill key file"):
        load_or_create_keyring(path)


def test_rotated_keys_still_read_old_values() -> None:
    ring = KeyRing.generate()
    old = FieldCipher(ring).encrypt("Ann", column="patient.first_name")
    new_ring = ring.with_new_phi_key()
    cipher = FieldCipher(new_ring)
    assert cipher.decrypt(old, column="patient.first_name") == "Ann"
    assert cipher.encrypt("Ann", column="patient.first_name").startswith("v2:")
    retired = FieldCipher(new_ring.without_phi_keys({1}))
    with pytest.raises(DecryptionError, match="key version 1"):
        retired.decrypt(old, column="patient.first_name")


_CHILD = r"""
import sys, time
from pathlib import Path
from medbill.store.db import Database
from medbill.store.keys import load_or_create_keyring
from medbill.store.models import Patient
import datetime as dt
kind, where, keyfile = sys.argv[1], sys.argv[2], Path(sys.argv[3])
ring = load_or_create_keyring(keyfile, create=False)
db = Database(keyring=ring, path=Path(where)) if kind == "sqlite" else Database(keyring=ring, url=where)
with db.write() as s:
    for i in range(2000):
        s.add(Patient(practice_id=1, last_name=f"Half{i}", first_name="Way", birth_date=dt.date(1960, 1, 1)))
    s.flush()
    print("flushed", flush=True)
    time.sleep(60)  # killed here, before the commit
"""


def test_a_process_killed_mid_transaction_leaves_nothing(db: Database, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    with db.write() as s:
        s.add(Practice(name="P"))
    where = str(db.path) if db.kind == "sqlite" else db.engine.url.render_as_string(hide_password=False)
    keyfile = db.keyring.path
    assert keyfile is not None
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, db.kind, where, str(keyfile)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "flushed"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    db.engine.dispose()
    with db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0
        if db.kind == "sqlite":
            assert s.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    with db.write() as s:  # and the database takes writes again at once
        s.add(Patient(practice_id=1, last_name="After", first_name="Kill", birth_date=dt.date(1970, 1, 1)))


def test_a_running_process_reads_values_encrypted_under_a_key_rotated_elsewhere(sqlite_db: Database) -> None:
    from medbill.services import maintenance
    from medbill.services.context import system_actor
    from medbill.store.keys import load_or_create_keyring

    pid = _add_patient(sqlite_db)
    assert sqlite_db.keyring.path is not None
    other = Database(keyring=load_or_create_keyring(sqlite_db.keyring.path, create=False), path=sqlite_db.path)
    with other.read() as s:  # the "other process" is running, with key version 1 only
        assert s.get(Patient, pid).last_name == CANARY  # type: ignore[union-attr]
    maintenance.rotate_keys(sqlite_db, actor=system_actor())
    with sqlite_db.read() as s:
        raw = s.execute(sa.text("select last_name from patient where id = :i"), {"i": pid}).scalar()
    assert raw.startswith("v2:")
    other.engine.dispose()
    with other.read() as s:  # it meets v2, re-reads the key file, and carries on
        assert s.get(Patient, pid).last_name == CANARY  # type: ignore[union-attr]
    assert other.cipher.active_version == 2
    other.dispose()

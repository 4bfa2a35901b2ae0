"""Encrypted backup and restore, PHI key rotation and retirement, SQLCipher rekey (SQLCipher and PostgreSQL)."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from medbill.core.errors import Conflict, PermissionDenied
from medbill.services.context import Actor, system_actor
from medbill.services.maintenance import (
    backup_database,
    database_status,
    rekey_database,
    restore_database,
    retire_keys,
    rotate_keys,
)
from medbill.services.permissions import Role
from medbill.store.backup import BackupError, backup, raw_tables, read_header, restore, verify
from medbill.store.db import Database
from medbill.store.keys import KeyRing
from medbill.store.models import (
    BinaryBlob,
    ClaimRecord,
    Coverage,
    Encounter,
    EncounterDiagnosis,
    Patient,
    Payer,
    Practice,
    User,
)
from medbill.store.rotation import phi_columns

CANARY = "ZQXBACKUPCANARY"
BLOB = b"\x00\x01BLOBCANARY\xff"
ADMIN = system_actor()


def _seed(db: Database, n: int = 5) -> dict[str, int]:
    with db.write() as s:
        practice = Practice(name="Backup practice", npi="1234567893")
        s.add(practice)
        s.flush()
        payer = Payer(practice_id=practice.id, name="Payer", payer_id="PAYER1")
        s.add(payer)
        s.add(User(username="admin", role="practice_admin", password_hash="x", totp_secret="JBSWY3DPEHPK3PXP"))
        s.flush()
        for i in range(n):
            p = Patient(
                practice_id=practice.id,
                last_name=f"{CANARY}{i}",
                first_name="Ann",
                birth_date=dt.date(1950 + i, 3, 4),
                mrn=f"MRN-{i}",
                ssn="123-45-6789" if i == 0 else None,
            )
            s.add(p)
            s.flush()
            s.add(Coverage(practice_id=practice.id, patient_id=p.id, payer_id=payer.id, member_id=f"M{i:05d}"))
            enc = Encounter(
                practice_id=practice.id,
                patient_id=p.id,
                service_date=dt.date(2026, 1, 1 + i),
                note=f"note about {CANARY}{i}",
            )
            enc.diagnoses.append(EncounterDiagnosis(seq=1, code="E119"))
            s.add(enc)
            s.flush()
            s.add(
                ClaimRecord(
                    practice_id=practice.id,
                    encounter_id=enc.id,
                    patient_id=p.id,
                    payer_id=payer.id,
                    patient_control_number=f"PCN{i}",
                    total_charge=Decimal("100.25"),
                    document={"patient": f"{CANARY}{i}", "lines": [1, 2]},
                )
            )
        s.add(BinaryBlob(practice_id=practice.id, sha256="0" * 64, data=BLOB))
        return {"practice": practice.id, "payer": payer.id}


def _dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table as stored (ciphertext included), ordered by primary key."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as conn:
        for t in raw_tables():
            order = list(t.primary_key.columns) or list(t.columns)
            out[t.name] = [tuple(r) for r in conn.execute(sa.select(t).order_by(*order))]
    return out


def _empty_target(db: Database, tmp_path: Path, name: str = "restored.db") -> Database:
    """A new, empty database of the same backend with the same key file."""
    if db.kind == "sqlite":
        return Database(keyring=db.keyring, path=tmp_path / name, audit_anchor=tmp_path / "anchor2.json")
    url = db.engine.url
    db.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return Database(
        keyring=db.keyring, url=url.render_as_string(hide_password=False), audit_anchor=tmp_path / "anchor2.json"
    )


# ------------------------------------------------------------------------------------------ backup / restore
def test_round_trip_restores_every_table_exactly(db: Database, tmp_path: Path) -> None:
    _seed(db)
    before = _dump(db)
    assert sum(len(v) for v in before.values()) > 20
    info = backup(db, out=tmp_path / "b.mbk")
    assert info.header.kind == ("sqlcipher" if db.kind == "sqlite" else "logical")
    assert info.header.schema_revision == "0001"
    assert len(info.header.content_sha256) == 64
    assert (tmp_path / "b.mbk").stat().st_mode & 0o777 == 0o600
    if db.kind == "postgresql":
        assert info.tables["patient"] == 5 and info.tables["binary_blob"] == 1
    target = _empty_target(db, tmp_path)
    result = restore(target, backup_file=tmp_path / "b.mbk")
    assert _dump(target) == before
    if db.kind == "postgresql":
        assert result.rows == sum(len(v) for v in before.values())
    with target.read() as s:  # decrypts with the same keys, ORM types intact
        p = s.scalars(sa.select(Patient).order_by(Patient.id)).first()
        assert p is not None and p.last_name == f"{CANARY}0" and p.birth_date == dt.date(1950, 3, 4)
        assert s.scalar(sa.select(ClaimRecord.document).limit(1)) == {"patient": f"{CANARY}0", "lines": [1, 2]}
    with target.write() as s:  # sequences/ids continue after the restored rows
        s.add(Practice(name="after restore"))
    target.dispose()


def test_backup_holds_no_plaintext_phi_and_leaves_no_temp_files(db: Database, tmp_path: Path) -> None:
    _seed(db)
    out_dir = tmp_path / "out"
    backup(db, out=out_dir / "b.mbk")
    assert [p.name for p in out_dir.iterdir()] == ["b.mbk"]
    data = (out_dir / "b.mbk").read_bytes()
    for needle in (CANARY, "MRN-0", "123-45-6789", "M00000", "PCN0", "BLOBCANARY", "version_num", "CREATE TABLE"):
        assert needle.encode() not in data, needle
    assert base64.b64encode(BLOB) not in data and b"patient" not in data
    with pytest.raises(Conflict, match="already exists"):
        backup(db, out=out_dir / "b.mbk")


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["header", "mac", "chunk", "truncated"])
def test_tampered_backup_is_refused_before_anything_is_written(db: Database, tmp_path: Path, where: str) -> None:
    _seed(db)
    good = tmp_path / "b.mbk"
    backup(db, out=good)
    size = good.stat().st_size
    if where == "header":
        _flip(good, 30)
    elif where == "mac":
        _flip(good, 16 + 4096 + 3)
    elif where == "chunk":
        _flip(good, size // 2 + 4200 // 2)
    else:
        good.write_bytes(good.read_bytes()[:-10])
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    target = _empty_target(db, target_dir)
    with pytest.raises(BackupError):
        restore(target, backup_file=good)
    if target.kind == "sqlite":
        assert list(target_dir.iterdir()) == []  # no file, no temp file
    else:
        with target.engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []  # not even the schema
    target.dispose()


def test_restore_into_a_non_empty_database_is_refused_unless_forced(db: Database, tmp_path: Path) -> None:
    _seed(db, n=2)
    before = _dump(db)
    backup(db, out=tmp_path / "b.mbk")
    with db.write() as s:
        s.add(Practice(name="added after the backup"))
    with pytest.raises(Conflict, match="holds data"):
        restore(db, backup_file=tmp_path / "b.mbk")
    assert len(_dump(db)["practice"]) == 2
    restore(db, backup_file=tmp_path / "b.mbk", force=True)
    assert _dump(db) == before


def test_backup_under_write_load_is_a_consistent_snapshot(db: Database, tmp_path: Path) -> None:
    ids = _seed(db, n=1)
    stop = threading.Event()
    commits = [0]
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                with db.write() as s:  # one transaction = a patient and its coverage, together or not at all
                    p = Patient(
                        practice_id=ids["practice"], last_name=f"W{i}", first_name="X", birth_date=dt.date(2000, 1, 1)
                    )
                    s.add(p)
                    s.flush()
                    s.add(
                        Coverage(practice_id=ids["practice"], patient_id=p.id, payer_id=ids["payer"], member_id=f"W{i}")
                    )
                commits[0] += 1
                i += 1
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    # enough rows that the copy takes a while
    with db.write() as s:
        for i in range(3000):
            s.add(
                Patient(
                    practice_id=ids["practice"],
                    last_name=f"Bulk{i}",
                    first_name="B",
                    birth_date=dt.date(1990, 1, 1),
                    address1="x" * 200,
                )
            )
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while commits[0] < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    at_start = commits[0]
    backup(db, out=tmp_path / "load.mbk")
    at_end = commits[0]
    while commits[0] < at_end + 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(10)
    assert not errors, errors
    assert commits[0] >= at_end + 5, "the writer must keep committing after the backup"

    target = _empty_target(db, tmp_path)
    restore(target, backup_file=tmp_path / "load.mbk")
    with target.engine.connect() as conn:
        pats = dict(conn.execute(sa.text("SELECT id, practice_id FROM patient")).all())
        covs = conn.execute(sa.text("SELECT patient_id FROM coverage")).scalars().all()
        if target.kind == "sqlite":
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
    assert all(pid in pats for pid in covs)  # foreign keys intact
    with target.read() as s:
        written = s.scalars(sa.select(Patient.id).where(Patient.first_name.is_not(None))).all()
        load_patients = {p.id for p in s.scalars(sa.select(Patient)) if p.last_name.startswith("W")}
    assert len(written) == len(pats)
    load_covered = {pid for pid in covs if pid in load_patients}
    assert load_covered == load_patients  # every pair present or absent together
    assert at_start <= len(load_patients) <= at_end + 1
    target.dispose()


def test_passphrase_backup(sqlite_db: Database, tmp_path: Path) -> None:
    _seed(sqlite_db, n=1)
    backup(sqlite_db, out=tmp_path / "p.mbk", passphrase="correct horse battery staple")
    assert read_header(tmp_path / "p.mbk").kdf["name"] == "scrypt"
    with pytest.raises(BackupError, match="passphrase"):
        verify(tmp_path / "p.mbk", keyring=sqlite_db.keyring)
    with pytest.raises(BackupError, match="fails authentication"):
        verify(tmp_path / "p.mbk", keyring=None, passphrase="wrong horse battery staple")
    target = _empty_target(sqlite_db, tmp_path)
    restore(target, backup_file=tmp_path / "p.mbk", passphrase="correct horse battery staple")
    assert _dump(target) == _dump(sqlite_db)


def test_backup_needs_its_key_file(sqlite_db: Database, tmp_path: Path) -> None:
    _seed(sqlite_db, n=1)
    backup(sqlite_db, out=tmp_path / "b.mbk")
    other = Database(keyring=KeyRing.generate(tmp_path / "other.json"), path=tmp_path / "other.db")
    with pytest.raises(BackupError, match="another key file"):
        restore(other, backup_file=tmp_path / "b.mbk")
    assert not (tmp_path / "other.db").exists()


def test_backup_and_restore_services_need_a_system_admin(db: Database, tmp_path: Path) -> None:
    _seed(db, n=1)
    admin = Actor(user_id=1, role=Role.PRACTICE_ADMIN, practice_id=1)
    with pytest.raises(PermissionDenied):
        backup_database(db, actor=admin, out=tmp_path / "b.mbk")
    assert not (tmp_path / "b.mbk").exists()
    info = backup_database(db, actor=ADMIN, out=tmp_path / "b.mbk")
    with pytest.raises(PermissionDenied):
        restore_database(db, actor=admin, backup_file=info.path, force=True)
    with pytest.raises(PermissionDenied):
        rotate_keys(db, actor=admin)
    assert sorted(db.keyring.phi_keys) == [1]


# ------------------------------------------------------------------------------------------ rotation
def _raw_phi(db: Database) -> list[str]:
    values: list[str] = []
    with db.engine.connect() as conn:
        for pc in phi_columns():
            values += [
                v
                for v in conn.execute(sa.text(f'SELECT "{pc.column}" FROM "{pc.table}"')).scalars()  # noqa: S608
                if v is not None
            ]
    return values


def _plain(db: Database) -> list[tuple[Any, ...]]:
    with db.read() as s:
        pats = [
            (p.id, p.last_name, p.birth_date, p.mrn, p.ssn) for p in s.scalars(sa.select(Patient).order_by(Patient.id))
        ]
        claims = [(c.id, c.document, c.patient_control_number) for c in s.scalars(sa.select(ClaimRecord))]
        users = [u.totp_secret for u in s.scalars(sa.select(User))]
    return [*pats, *claims, tuple(users)]


def test_rotation_reencrypts_every_phi_value(db: Database) -> None:
    _seed(db)
    before = _plain(db)
    raw_before = _raw_phi(db)
    assert raw_before and all(v.startswith("v1:") for v in raw_before)
    report = rotate_keys(db, actor=ADMIN, batch_size=3)
    assert report.active_version == 2 and report.new_key
    assert report.reencrypted == len(raw_before)
    assert report.columns["patient.last_name"]["reencrypted"] == 5
    assert report.columns["patient.ssn"] == {"reencrypted": 1, "current": 0, "null": 4, "changed_concurrently": 0}
    assert report.remaining == {}
    raw_after = _raw_phi(db)
    assert len(raw_after) == len(raw_before) and all(v.startswith("v2:") for v in raw_after)
    assert _plain(db) == before
    saved = KeyRing.from_json(db.keyring.path.read_text())  # type: ignore[union-attr]
    assert saved.active_phi_key == 2 and sorted(saved.phi_keys) == [1, 2]
    assert database_status(db, actor=ADMIN).versions_in_use == {"2": len(raw_after)}


def test_interrupted_rotation_resumes_and_retire_waits_for_it(db: Database) -> None:
    _seed(db)
    before = _plain(db)

    class Killed(Exception):
        pass

    def kill_after_first_batch(table: str, seen: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        rotate_keys(db, actor=ADMIN, batch_size=2, progress=kill_after_first_batch)
    raw = _raw_phi(db)
    assert any(v.startswith("v2:") for v in raw) and any(v.startswith("v1:") for v in raw)
    # a fresh process reading the key file sees v2 active and reads both versions
    reopened = Database(keyring=KeyRing.from_json(db.keyring.path.read_text(), db.keyring.path), **_where(db))  # type: ignore[union-attr]
    assert _plain(reopened) == before
    with pytest.raises(Conflict, match="still use version"):
        retire_keys(reopened, actor=ADMIN, versions=[1])
    done_before = sum(v.startswith("v2:") for v in raw)
    report = rotate_keys(reopened, actor=ADMIN, resume=True, batch_size=2)
    assert not report.new_key and report.active_version == 2
    assert report.reencrypted == len(raw) - done_before  # rows already under v2 were skipped
    assert sum(c["current"] for c in report.columns.values()) == done_before
    assert all(v.startswith("v2:") for v in _raw_phi(reopened))
    with pytest.raises(Conflict, match="active"):
        retire_keys(reopened, actor=ADMIN, versions=[2])
    retired = retire_keys(reopened, actor=ADMIN, versions=[1])
    assert retired.key_versions == [2]
    assert sorted(KeyRing.from_json(reopened.keyring.path.read_text()).phi_keys) == [2]  # type: ignore[union-attr]
    assert _plain(reopened) == before
    reopened.dispose()


def _where(db: Database) -> dict[str, Any]:
    if db.path is not None:
        return {"path": db.path}
    return {"url": db.engine.url.render_as_string(hide_password=False)}


def test_rekey_changes_the_sqlcipher_key(sqlite_db: Database, tmp_path: Path) -> None:
    _seed(sqlite_db, n=2)
    before = _dump(sqlite_db)
    old_ring = sqlite_db.keyring
    report = rekey_database(sqlite_db, actor=ADMIN)
    assert report.recovered is None
    new_ring = KeyRing.from_json((tmp_path / "keys.json").read_text(), tmp_path / "keys.json")
    assert new_ring.db_key != old_ring.db_key and new_ring.phi_keys == old_ring.phi_keys
    assert not (tmp_path / "keys.json.rekey-pending").exists()
    fresh = Database(keyring=new_ring, path=tmp_path / "medbill.db")
    after = _dump(fresh)
    assert [row[6] for row in after.pop("audit_event")] == ["rekey"]  # audited under the new key
    after.pop("audit_head"), before.pop("audit_event"), before.pop("audit_head")
    assert after == before
    fresh.dispose()
    stale = Database(keyring=old_ring, path=tmp_path / "medbill.db")
    with pytest.raises(sa.exc.DatabaseError):
        _dump(stale)
    stale.dispose()


def test_a_crash_between_rekey_and_key_file_save_is_recovered(sqlite_db: Database, tmp_path: Path) -> None:
    from medbill.store import rotation

    _seed(sqlite_db, n=1)
    before = _dump(sqlite_db)
    real_save = KeyRing.save
    calls = [0]

    def crash_on_save(self: KeyRing, path: Path | None = None) -> Path:
        calls[0] += 1
        raise OSError("power cut")

    KeyRing.save = crash_on_save  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError, match="power cut"):
            rotation.rekey_sqlcipher(sqlite_db)
    finally:
        KeyRing.save = real_save  # type: ignore[method-assign]
    assert calls[0] == 1 and (tmp_path / "keys.json.rekey-pending").exists()
    # the key file still holds the old key, which no longer opens the file: recovery completes the change
    assert rotation.recover_rekey(sqlite_db) == "completed"
    ring = KeyRing.from_json((tmp_path / "keys.json").read_text(), tmp_path / "keys.json")
    fresh = Database(keyring=ring, path=tmp_path / "medbill.db")
    assert _dump(fresh) == before
    fresh.dispose()


def test_a_logical_backup_restores_into_an_sqlcipher_file(db: Database, tmp_path: Path) -> None:
    if db.kind != "postgresql":
        pytest.skip("logical backups come from PostgreSQL")
    _seed(db, n=3)
    before = _dump(db)
    backup(db, out=tmp_path / "pg.mbk")
    target = Database(keyring=db.keyring, path=tmp_path / "from-pg.db")
    info = restore(target, backup_file=tmp_path / "pg.mbk")
    assert info.rows == sum(len(v) for v in before.values())
    assert _dump(target) == before
    target.dispose()

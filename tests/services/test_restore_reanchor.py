"""After a restore the audit chains verify intact again: the anchor is reset, the old one kept as evidence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from medbill.services import audit, maintenance, records
from medbill.services import schemas as sc
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import Role
from medbill.store import audit as store_audit
from medbill.store import models as m
from medbill.store.db import Database


def test_restore_reanchors_the_audit_chains(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    with db.write() as s:
        s.add(m.Practice(name="P"))
    admin = Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=1, source="test")
    records.create(db, actor=admin, resource="payer", data=sc.PayerCreate(name="A", payer_id="PAYA"))
    root = system_actor()
    backup = tmp_path / "b.mbk"
    maintenance.backup_database(db, actor=root, out=backup)
    # the chains grow after the backup: those records are lost by the restore
    for i in range(3):
        records.create(db, actor=admin, resource="payer", data=sc.PayerCreate(name=f"B{i}", payer_id=f"PAYB{i}"))
    store_audit.flush_anchor()
    before = store_audit.read_anchor(db.audit_anchor)  # type: ignore[arg-type]
    maintenance.restore_database(db, actor=root, backup_file=backup, force=True)
    report = audit.verify_audit(db, actor=root)
    assert report.intact, report.problems
    kept = sorted(db.audit_anchor.parent.glob("audit-anchor.json.superseded-*"))  # type: ignore[union-attr]
    assert len(kept) == 1
    assert store_audit.read_anchor(kept[0])[1].seq == before[1].seq
    assert store_audit.read_anchor(db.audit_anchor)[1].seq < before[1].seq  # type: ignore[arg-type]
    # the restore itself is on record, naming the reset
    rows = store_audit.report(db, start=dt.date(2000, 1, 1), end=dt.date(2100, 1, 1))
    assert any(r.action == "restore" and "anchor reset" in (r.detail or "") for r in rows)

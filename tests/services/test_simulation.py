"""The whole cycle through services on the demo practice, the payer simulator answering the test batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from medbill.core.errors import Conflict
from medbill.services import claims, payments, simulation
from medbill.services.context import Actor
from medbill.services.demo import create_demo
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database


def test_demo_cycle_from_encounter_to_posted_payment(db: Database, built_store_path: Path) -> None:
    summary = create_demo(db, patients=4, with_users=False)
    practice_id = summary.practice_id
    biller = Actor(user_id=None, role=Role.BILLER, practice_id=practice_id, source="test")
    with db.read() as s:
        coded = s.scalars(
            sa.select(m.Encounter.id).where(m.Encounter.status == "coded").order_by(m.Encounter.id)
        ).all()[:3]
        partner = s.scalar(sa.select(m.TradingPartner.id).where(m.TradingPartner.practice_id == practice_id))
    assert coded and partner
    ready = []
    for eid in coded:
        claim = claims.build_claim(db, actor=biller, encounter_id=eid)
        if claims.scrub_claim(db, actor=biller, claim_id=claim.id, refdata_path=built_store_path).status == "ready":
            ready.append(claim.id)
    assert ready
    batch = claims.create_batch(db, actor=biller, partner_id=partner, claim_ids=ready)
    answer = simulation.simulate_batch(db, actor=biller, batch_id=batch.id)
    assert answer.accepted + answer.rejected == len(ready)
    claims.apply_acknowledgment(db, actor=biller, content=answer.ack_999.encode(), filename="a.999")
    claims.apply_acknowledgment(db, actor=biller, content=answer.ack_277ca.encode(), filename="a.277")
    report = payments.post_remittance(db, actor=biller, content=answer.remit_835.encode())
    again = payments.post_remittance(db, actor=biller, content=answer.remit_835.encode())
    assert report.counts.posted == answer.accepted
    assert again.already_received and again.counts.posted == 0  # the same 835 again changes nothing
    with db.read() as s:
        statuses = dict(s.execute(sa.select(m.ClaimRecord.id, m.ClaimRecord.status)).all())
    paid = [c for c in ready if statuses[c] in ("paid", "partially_paid")]
    assert len(paid) == answer.accepted, (statuses, report)
    # a production partner is never answered by the simulator
    with db.write() as s:
        s.get(m.TradingPartner, partner).usage = "P"  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="test batches only"):
        simulation.simulate_batch(db, actor=biller, batch_id=batch.id)

"""The payer simulator for test batches: the 999, 277CA and 835 a payer would send for one of our 837s.

For training, demos and a practice's first steps: only a batch sent to a trading partner in test
mode (ISA15 = T) may be answered; a production batch is refused. The answer is returned as three
X12 texts for the user to take through the normal acknowledgment and payment uploads, so the walk
from note to posted payment uses the same pages and services as real files.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from medbill.core.errors import Conflict, NotFound
from medbill.services.context import Actor
from medbill.services.permissions import Permission
from medbill.services.schemas import Money
from medbill.services.unit import operation
from medbill.store import models as m
from medbill.store.db import Database
from medbill.x12.simulate import SimulationRules, simulate

__all__ = ["SimulatedAnswer", "simulate_batch"]


class SimulatedAnswer(BaseModel):
    batch_id: int
    ack_999: str
    ack_277ca: str
    remit_835: str
    accepted: int
    rejected: int
    paid: Money


def simulate_batch(
    db: Database, *, actor: Actor, batch_id: int, seed: int = 0, rules: SimulationRules | None = None
) -> SimulatedAnswer:
    """Answer a test batch as the deterministic payer simulator would (``seed`` varies the payer numbers)."""
    with operation(db, actor, Permission.CLAIM_SUBMIT, action="read", resource="submission_batch") as op:
        batch = op.session.get(m.SubmissionBatch, batch_id)
        if batch is None or batch.practice_id != op.practice_id:
            raise NotFound(f"batch {batch_id} not found")
        partner = op.session.get(m.TradingPartner, batch.partner_id) if batch.partner_id else None
        if partner is None or partner.usage != "T":
            raise Conflict(
                "the payer simulator answers test batches only (a trading partner with usage T)",
                hint="real payers answer production batches; upload their 999, 277CA and 835",
            )
        op.ids.append(batch_id)
        op.detail = "payer simulator"
        content = batch.content
    result = simulate(content, rules, seed=seed)
    return SimulatedAnswer(
        batch_id=batch_id,
        ack_999=result.ack_999,
        ack_277ca=result.ack_277ca,
        remit_835=result.remit_835,
        accepted=len(result.accepted),
        rejected=len(result.rejected),
        paid=Decimal(result.paid),
    )

"""The generic records service: what the API and web pages rely on beyond the authorization matrix."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from medbill.services import records
from medbill.services import schemas as sc
from medbill.services.claims import StoreControlNumbers
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.store import models as m
from medbill.store.db import Database


def _practice(db: Database) -> Actor:
    with db.write() as s:
        s.add(m.Practice(name="P"))
    return Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=1, source="test")


def test_fee_schedule_items_replaced_keeping_a_code(db: Database) -> None:
    admin = _practice(db)
    fs = records.create(
        db,
        actor=admin,
        resource="fee_schedule",
        data=sc.FeeScheduleCreate(
            name="Charges",
            effective_from=dt.date(2026, 1, 1),
            items=[
                sc.FeeItemIn(code="99213", amount=Decimal("120")),
                sc.FeeItemIn(code="99214", amount=Decimal("180")),
            ],
        ),
    )
    new = sc.FeeScheduleUpdate(
        items=[
            sc.FeeItemIn(code="99213", amount=Decimal("125")),
            sc.FeeItemIn(code="99215", modifier="25", amount=Decimal("250")),
        ]
    )
    got = records.update(db, actor=admin, resource="fee_schedule", record_id=fs.id, data=new)  # type: ignore[attr-defined]
    items = {(i.code, i.modifier): i.amount for i in got.items}  # type: ignore[attr-defined]
    assert items == {("99213", ""): Decimal("125.00"), ("99215", "25"): Decimal("250.00")}


def test_interchange_numbers_are_unique_per_practice_across_partners(db: Database) -> None:
    _practice(db)
    with db.write() as s:
        a = StoreControlNumbers(s, practice_id=1, partner="SENDER/CLEARING-A")
        b = StoreControlNumbers(s, practice_id=1, partner="SENDER/CLEARING-B")
        isa = [a.next_interchange(), b.next_interchange(), a.next_interchange()]
        gs = [a.next_group(), b.next_group()]
    assert isa == [1, 2, 3]  # one ISA13 sequence for the practice: batches are unique by (practice, ISA13)
    assert gs == [1, 1]  # GS06 counts per trading partner

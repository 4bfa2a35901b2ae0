# ruff: noqa: E501  -- the expectation tables keep one fixture per line
"""The 277CA reader: every shared 277 fixture read (005010X214) or refused (the 005010X212 claim status
response, told apart by GS08), claim-level accept/reject with STC categories, line statuses, HL checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from medbill.core.errors import X12ParseError
from medbill.x12.read277 import read_277ca
from tests.x12.test_read835 import pyx12_errors, recount, transaction_sets

DATA = Path(__file__).parent / "data"
HAND = "277ca_claims_lines_rejections.277"
IMS = "x12/imsweb-x12-parser"
X212 = (
    "segment 2 GS GS08: 005010X212 is the 277 health care claim status response (the answer to a 276 inquiry), "
    "not the 277CA claim acknowledgment (005010X214): read_277ca does not read claim status responses"
)


def _text(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode("utf-8")


def outcome(text: str) -> tuple[object, ...]:
    """("read", [(TRN02, accepted, category, status)]) or ("error", index, id, element, message)."""
    try:
        acks = read_277ca(text)
    except X12ParseError as exc:
        return ("error", exc.segment_index, exc.segment_id, exc.element, exc.message)
    return ("read", [(a.patient_control_number, a.accepted, a.category, a.status) for a in acks])


REFUSED_X212 = ("error", 2, "GS", "GS08", X212)
EXPECTED: dict[str, tuple[object, ...]] = {
    # 277CA (X214). pyx12 reports both for a missing 2200C STC (not needed to post: not demanded here);
    # the accepted one also has DTP*472 10010101, a real calendar date (1001-01-01) pyx12 calls invalid
    f"{IMS}/277_5010__x12_277CA_accepted.txt": ("read", [("5781", True, "A2", "20")]),
    f"{IMS}/277_5010__x12_277CA_rejected.txt": ("read", [("3920394930203", False, "A7", "562")]),
    # the 277 claim status response (X212), refused by GS08
    f"{IMS}/277_5010__x12_277_x212.txt": REFUSED_X212,
    "x12/linuxforhealth-x12/277_005010X212__claim-level-status-ncpdp.277": REFUSED_X212,
    "x12/linuxforhealth-x12/277_005010X212__claim-level-status.277": REFUSED_X212,
    "x12/linuxforhealth-x12/277_005010X212__information-receiver-level-status.277": REFUSED_X212,
    "x12/linuxforhealth-x12/277_005010X212__provider-level-status.277": REFUSED_X212,
    "x12/linuxforhealth-x12/demo-file__demo.277": REFUSED_X212,
    "x12/stupidedi-tr3-examples/X212_HN277__claim-ncpdp-response.edi": REFUSED_X212,
    "x12/stupidedi-tr3-examples/X212_HN277__claim-response.edi": REFUSED_X212,
    "x12/stupidedi-tr3-examples/X212_HN277__info-receiver-response.edi": REFUSED_X212,
    "x12/stupidedi-tr3-examples/X212_HN277__provider-response.edi": REFUSED_X212,
    "x12/stupidedi-tr3-examples/X212_HR277__1.era": REFUSED_X212,
}  # fmt: skip


def test_the_table_covers_every_277_fixture(fixtures_dir: Path) -> None:
    assert transaction_sets(fixtures_dir, "277") == sorted(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED), ids=lambda r: r.split("/", 1)[1][:60])
def test_fixture_outcome(fixtures_dir: Path, rel: str) -> None:
    assert outcome(_text(fixtures_dir, rel)) == EXPECTED[rel]


def test_rejected_fixture_fields(fixtures_dir: Path) -> None:
    (ack,) = read_277ca(_text(fixtures_dir, f"{IMS}/277_5010__x12_277CA_rejected.txt"))  # component separator "|"
    assert (ack.category, ack.status, ack.entity, ack.action) == ("A7", "562", "85", "WQ")  # WQ sent with a rejection
    assert (ack.payer_claim_number, ack.bill_type, ack.charge) == ("1107000000001120", "731", Decimal("199.14"))
    assert (ack.payer_name, ack.payer_id, ack.batch_reference, ack.billing_provider_id) == (
        "NYSDOH",
        "141797357",
        "11200001",
        "123456789",
    )
    assert (ack.patient_name, ack.member_id, ack.service_date, ack.status_date) == (
        "CLILNAME, CLIFNAME CLIMI",
        "XX99999X",
        dt.date(2009, 3, 11),
        dt.date(2011, 3, 11),
    )
    assert ack.control_number == "000001120"


def test_pyx12_accepts_the_hand_written_277ca() -> None:
    text = (DATA / HAND).read_text(encoding="utf-8")
    assert "*005010X214~" in text.split("\n")[1]
    assert pyx12_errors(text) == []


def test_claims_lines_and_rejections() -> None:
    acks = read_277ca((DATA / HAND).read_text(encoding="utf-8"))
    assert [(a.patient_control_number, a.accepted, a.category, a.status, a.entity) for a in acks] == [
        ("PCN6001", True, "A2", "20", None),
        ("PCN6002", True, "A2", "20", None),  # a second 2200D under the same patient
        ("PCN6003", False, "A7", "21", "82"),
    ]
    first, _second, third = acks
    assert (first.service_date, first.service_date_to, first.payer_claim_number) == (
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 2),
        "ICN20260601",
    )
    assert third.messages == ("A7:562:85", "NPI NOT ACTIVE")  # STC10 and STC12
    assert (third.action, third.clearinghouse_claim_number, third.bill_type) == ("U", "CLH0003", "131")
    assert third.line_statuses == (("PCN6003-1", "A7", "453"), ("PCN6003-2", "A2", "20"))
    assert {a.batch_reference for a in acks} == {"BATCH0001"}


def _mutate(text: str, old: str, new: str) -> str:
    assert old in text, old
    return recount(text.replace(old, new, 1))


def test_a_later_rejecting_status_decides() -> None:
    text = _mutate(
        (DATA / HAND).read_text(encoding="utf-8"),
        "STC*A2:20*20260416*WQ*320~",
        "STC*A2:20*20260416*WQ*320~\nSTC*A6:35*20260416*U*320~",
    )
    first = read_277ca(text)[0]
    assert (first.accepted, first.category, first.status, first.messages) == (False, "A6", "35", ("A2:20",))


def test_provider_level_rejection_reaches_every_claim() -> None:
    text = _mutate((DATA / HAND).read_text(encoding="utf-8"), "STC*A1:19**WQ*620~", "STC*A3:24:85**U*620~")
    acks = read_277ca(text)
    assert all("billing provider: A3:24:85" in a.messages for a in acks)


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("HL*5*3*PT~", "HL*6*3*PT~", ("error", 36, "HL", "HL01", "segment 36 HL HL01: is 6 but should be 5: HL segments are numbered 1, 2, 3 ...")),
        ("HL*5*3*PT~", "HL*5*2*PT~", ("error", 36, "HL", "HL02", "segment 36 HL HL02: parent 2 is not an earlier HL of level 19")),
        ("TRN*2*PCN6002~", "TRN*2*~", ("error", 32, "TRN", "2200D TRN02", "segment 32 TRN 2200D TRN02: TRN02 (trace identifier) is required")),
        ("STC*A2:20*20260416*WQ*150~", "STC*A2*20260416*WQ*150~", ("error", 33, "STC", "2200D STC01-2", "segment 33 STC 2200D STC01-2: category A2 without its claim status code")),
        ("STC*A2:20*20260416*WQ*150~", "STC*A2:20*20260416*XX*150~", ("error", 33, "STC", "2200D STC03", "segment 33 STC 2200D STC03: 'XX' is not an action code of the 277CA (U, WQ)")),
        ("DTP*472*D8*20260403~", "DTP*472*D8*20260431~", ("error", 35, "DTP", "2200D DTP03", "segment 35 DTP 2200D DTP03: '20260431' is not a valid date")),
        ("REF*FJ*PCN6003-2~", "REF*FJ*PCN6003-2~\nREF*FJ*AGAIN~", ("error", 50, "REF", None, "segment 50 REF: REF*FJ (service line item identification) may occur once in loop 2220D; this is one more")),
        ("BHT*0085*08*", "BHT*0085*18*", ("error", 4, "BHT", "BHT02", "segment 4 BHT BHT02: is 18; a 277CA is 08 (status)")),
        ("*X*005010X214", "*X*005010X213", ("error", 2, "GS", "GS08", "segment 2 GS GS08: version 005010X213 is not the 277CA guide 005010X214")),
    ],
)  # fmt: skip
def test_errors_name_the_segment(old: str, new: str, expected: tuple[object, ...]) -> None:
    assert outcome(_mutate((DATA / HAND).read_text(encoding="utf-8"), old, new)) == expected


def test_st03_x212_under_an_x214_group_is_refused_too() -> None:
    text = _mutate((DATA / HAND).read_text(encoding="utf-8"), "ST*277*0001*005010X214", "ST*277*0001*005010X212")
    assert outcome(text) == (
        "error",
        3,
        "ST",
        "ST03",
        "segment 3 ST ST03: ST03 005010X212 differs from GS08 005010X214 (segment 2)",
    )

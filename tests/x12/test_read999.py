# ruff: noqa: E501  -- the expectation tables keep one fixture per line
"""The 999 reader: every shared 999 fixture read or refused as written down, errors rendered readably,
refusals naming the segment."""

from __future__ import annotations

from pathlib import Path

import pytest

from medbill.core.errors import X12ParseError
from medbill.core.remit import AckStatus, FunctionalAck, TransactionAck
from medbill.x12.read999 import IK304, IK403, grammar, read_999, render_ik3
from tests.x12.test_read835 import recount, transaction_sets

TR3_999 = "x12/stupidedi-tr3-examples/X231A1_FA999__response-to-functional-group-containing-3-837s.edi"


def _text(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode("utf-8")


def outcome(text: str) -> tuple[object, ...]:
    """("read", acks, [(AK901, [(AK202, IK501, number of errors)])]) or ("error", index, id, element, message)."""
    try:
        acks = read_999(text)
    except X12ParseError as exc:
        return ("error", exc.segment_index, exc.segment_id, exc.element, exc.message)
    return (
        "read",
        len(acks),
        [(a.status.value, [(t.control_number, t.status.value, len(t.errors)) for t in a.transactions]) for a in acks],
    )


EXPECTED: dict[str, tuple[object, ...]] = {
    # IEA02 000000001 while ISA13 is 000000286 (pyx12 reports the same)
    "x12/imsweb-x12-parser/837_5010__x12_999_accepted.txt": ("error", 10, "IEA", "IEA02", "segment 10 IEA IEA02: control number '000000001' does not match ISA13 '000000286' (segment 1)"),
    # an 837I rejected for an unrecognized segment id (IK304 1); the component separator is "|"
    "x12/imsweb-x12-parser/837_5010__x12_999_rejected.txt": ("read", 1, [("R", [("0028", "R", 2)])]),
    # pyx12's 999s for 834s, GS08/ST03 005010X231 (the guide before its A1 errata, same segments); one
    # file has two groups of two transaction sets
    "x12/pyx12/834_ls_le_ls_5010.999.txt": ("read", 1, [("A", [("146001", "A", 0)])]),
    "x12/pyx12/834_lui_id_5010.999.txt": ("read", 4, [("A", [("0001", "A", 0)])] * 4),
    # the X12 TR3 example (with a UTF-8 byte-order mark): 3 837s, one accepted, two rejected. pyx12 rejects
    # its second CTX after IK3 (max 1); the X231A1 guide has a segment-context CTX (up to 9) and a
    # business-unit CTX (CLM01) there
    TR3_999: ("read", 1, [("P", [("0001", "A", 0), ("0002", "R", 2), ("0003", "R", 2)])]),
}  # fmt: skip


def test_the_table_covers_every_999_fixture(fixtures_dir: Path) -> None:
    assert transaction_sets(fixtures_dir, "999") == sorted(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED), ids=lambda r: r.split("/", 1)[1][:60])
def test_fixture_outcome(fixtures_dir: Path, rel: str) -> None:
    assert outcome(_text(fixtures_dir, rel)) == EXPECTED[rel]


def test_tr3_example_rendered(fixtures_dir: Path) -> None:
    text = _text(fixtures_dir, TR3_999)
    assert text.startswith("\ufeffISA")
    (ack,) = read_999(text)
    assert (ack.group_control_number, ack.functional_id, ack.implementation, ack.control_number) == (
        "17456",
        "HC",
        "005010X222A2",
        "2870001",
    )
    assert (ack.status, ack.included, ack.received, ack.accepted, ack.errors) == (AckStatus.PARTIAL, 3, 3, 1, ())
    assert ack.transactions[0] == TransactionAck(transaction_id="837", control_number="0001", status=AckStatus.ACCEPTED)
    assert ack.transactions[1].errors == (
        "segment 22 CLM (CLM01 123456789): segment has data element errors (IK304=8); CLM02 (data element 782): required data element missing (IK403=1)",
        "transaction set: one or more segments in error (IK502=5)",
    )
    assert ack.transactions[2].errors == (
        "segment 57 REF (CLM01 987654321): required segment missing (IK304=3); context SITUATIONAL TRIGGER: segment 43 CLM05-3",
        "transaction set: one or more segments in error (IK502=5)",
    )


def test_rejected_with_other_delimiters(fixtures_dir: Path) -> None:
    (ack,) = read_999(_text(fixtures_dir, "x12/imsweb-x12-parser/837_5010__x12_999_rejected.txt"))
    assert ack == FunctionalAck(
        group_control_number="28",
        functional_id="HC",
        status=AckStatus.REJECTED,
        transactions=(
            TransactionAck(
                transaction_id="837",
                control_number="0028",
                status=AckStatus.REJECTED,
                errors=(
                    "segment 17 NM: unrecognized segment id (IK304=1)",
                    "transaction set: one or more segments in error (IK502=5)",
                ),
            ),
        ),
        included=1,
        received=1,
        accepted=0,
        implementation="005010X223A2",
        control_number="95832987",
    )


def test_render_element_positions_loops_values_and_group_errors(fixtures_dir: Path) -> None:
    assert render_ik3(
        ("SV1", "31", "2400", "8"), [], [(("1", "2"), "234", "7", "9921X", []), (("7", "", "2"), "1328", "I12", "", [])]
    ) == (
        "segment 31 SV1 in loop 2400: segment has data element errors (IK304=8); SV101-2 (data element 234): invalid code value (IK403=7), "
        "value '9921X'; SV107 (repetition 2) (data element 1328): implementation pattern match failure (IK403=I12)"
    )
    assert render_ik3(("ZZZ", "", "", "Q"), [], []) == "segment ZZZ: code not in the 999 guide (IK304=Q)"
    assert {"1", "8", "I4"} <= set(IK304) and {"1", "7", "I10", "I12"} <= set(IK403)
    # in memory: AK9 with group-level error codes
    text = _text(fixtures_dir, TR3_999).replace("AK9*P*3*3*1~", "AK9*R*3*3*0*4*5~")
    (ack,) = read_999(text)
    assert ack.status is AckStatus.REJECTED
    assert ack.errors == (
        "group control number in the functional group header and trailer do not agree (AK905=4)",
        "number of included transaction sets does not match actual count (AK906=5)",
    )


def _mutate(text: str, old: str, new: str) -> str:
    assert old in text, old
    return recount(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("IK5*A~", "", ("error", 6, "AK2", None, "segment 6 AK2: loop 2000 (transaction set response header) begun at segment 5 lacks its required loop IK5 (transaction set response trailer)")),
        ("AK9*P*3*3*1~", "AK9*Q*3*3*1~", ("error", 17, "AK9", "AK901", "segment 17 AK9 AK901: 'Q' is not a functional group acknowledge code medbill acknowledgments carry (A, E, R, P, M, W, X)")),
        ("AK9*P*3*3*1~", "AK9*P*3*three*1~", ("error", 17, "AK9", "AK903", "segment 17 AK9 AK903: 'three' is not a count")),
        ("IK4*2*782*1~", "IK4*B*782*1~", ("error", 10, "IK4", "2110 IK401-1", "segment 10 IK4 2110 IK401-1: 'B' is not an element position")),
        ("IK4*2*782*1~", "IK4*2*782~", ("error", 10, "IK4", "2110 IK403", "segment 10 IK4 2110 IK403: IK403 (implementation data element syntax error code) is required")),
        ("IK3*CLM*22**8~", "IK3*CLM*22**8*X~", ("error", 8, "IK3", "2100 IK305", "segment 8 IK3 2100 IK305: IK305 'X' (an element not used in the 999 guide) is not carried by medbill acknowledgments; refusing to drop it (pass drop={'IK305'} to accept losing it)")),
        ("AK1*HC*17456*005010X222A2~", "AK1*HC*17456*005010X222A2~\nAK9*A*1*1*1~", ("error", 6, "AK2", None, "segment 6 AK2: loop 2000 (transaction set response header) is out of order in loop ST (transaction set)")),
        ("ST*999*2870001*005010X231A1", "ST*999*2870001*005010X231A2", ("error", 3, "ST", "ST03", "segment 3 ST ST03: ST03 005010X231A2 differs from GS08 005010X231A1 (segment 2)")),
        ("ST*999*", "ST*997*", ("error", 3, "ST", "ST01", "segment 3 ST ST01: is 997: read_999 reads 999 implementation acknowledgments")),
    ],
)  # fmt: skip
def test_errors_name_the_segment(fixtures_dir: Path, old: str, new: str, expected: tuple[object, ...]) -> None:
    text = _text(fixtures_dir, TR3_999)
    assert outcome(_mutate(text, old, new)) == expected


def test_drop_accepts_a_not_used_element(fixtures_dir: Path) -> None:
    text = _mutate(_text(fixtures_dir, TR3_999), "IK3*CLM*22**8~", "IK3*CLM*22**8*X~")
    assert read_999(text, drop={"IK305"}) == read_999(_text(fixtures_dir, TR3_999))


def test_grammar_shape() -> None:
    root = grammar()
    assert [c.id for c in root.children] == ["2000", "AK9"]
    assert [c.id for c in root.children[0].children] == ["2100", "IK5"]

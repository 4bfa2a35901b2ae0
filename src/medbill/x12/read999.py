"""X12 999 reader: implementation acknowledgments (005010X231A1) into medbill functional acks.

Format: the ASC X12C 005010X231A1 implementation guide (Implementation Acknowledgment For Health Care
Insurance, "999"; published by X12 at x12.org). The original 005010X231 (before its errata) has the same
segments and reads the same way. Pure text in, records out: no I/O.

``read_999(text)`` returns one ``medbill.core.remit.FunctionalAck`` per 999 transaction set (one per
functional group we sent: AK1), in file order, for every interchange and group in the file. Each holds
one ``TransactionAck`` per AK2 (a transaction set we sent: accepted, accepted with errors, rejected ...)
with the errors the receiver found rendered as readable strings naming the segment position, id, loop
and element, e.g. ``segment 22 CLM (CLM01 123456789): segment has data element errors (IK304=8);
CLM02 (data element 782): required data element missing (IK403=1)``. The group's own syntax errors
(AK905-AK909) go to ``FunctionalAck.errors``.

Grammar (X231A1): ST, AK1; loop 2000 per AK2: AK2, loop 2100 per IK3 (IK3, up to 9 segment-context CTX
and one business-unit CTX such as ``CTX*CLM01:123456789``; loop 2110 per IK4: IK4 and up to 10 CTX),
then IK5; AK9; SE. Problems raise one ``X12ParseError`` naming the segment; elements the guide does not
use are refused unless their reference is in ``drop``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from medbill.core.remit import AckStatus, FunctionalAck, TransactionAck
from medbill.x12._common import ANY, Loop, LoopDef, S, ValueReader, structure, transaction_version
from medbill.x12.tokenizer import (
    Segment,
    TransactionSet,
    check_control_totals,
    gc_paused,
    read_transactions,
    tokenize,
)

__all__ = ["VERSIONS", "Transaction999", "grammar", "parse_999", "read_999", "render_ik3"]

VERSIONS = frozenset({"005010X231A1", "005010X231"})

IK304 = {
    "1": "unrecognized segment id",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
}
"""IK304 implementation segment syntax error codes (X231A1)."""

IK403 = {
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I10": "implementation 'not used' data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent 'not used' data element present",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
}
"""IK403 implementation data element syntax error codes (X231A1)."""

IK5 = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "8": "authentication key name unknown",
    "9": "encryption key name unknown",
    "10": "requested service (authentication or encryption) not available",
    "11": "unknown security recipient",
    "12": "incorrect message length (encryption only)",
    "13": "message authentication code failed",
    "15": "unknown security originator",
    "16": "syntax error in decrypted text",
    "17": "security not supported",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "24": "S3E security end segment missing for S3S security start segment",
    "25": "S3S security start segment missing for S3E security end segment",
    "26": "S4E security end segment missing for S4S security start segment",
    "27": "S4S security start segment missing for S4E security end segment",
    "I5": "implementation one or more segments in error",
    "I6": "implementation convention not supported",
}
"""IK502-IK506 implementation transaction set syntax error codes."""

AK9 = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the functional group header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "10": "authentication key name unknown",
    "11": "encryption key name unknown",
    "12": "requested service (authentication or encryption) not available",
    "13": "unknown security recipient",
    "14": "unknown security originator",
    "15": "syntax error in decrypted text",
    "16": "security not supported",
    "17": "incorrect message length (encryption only)",
    "18": "message authentication code failed",
    "19": "functional group control number not unique within interchange",
    "23": "S3E security end segment missing for S3S security start segment",
    "24": "S3S security start segment missing for S3E security end segment",
    "25": "S4E security end segment missing for S4S security start segment",
    "26": "S4S security start segment missing for S4E security end segment",
}
"""AK905-AK909 functional group syntax error codes."""

# ---------------------------------------------------------------------------------------------------
# Grammar


def _grammar() -> LoopDef:
    element = LoopDef(
        "2110",
        "implementation data element note",
        [S("IK4", 1, True, "ik4", "implementation data element note"), S("CTX", 10, False, "ctx", "element context")],
        max=ANY,
    )
    error = LoopDef(
        "2100",
        "error identification",
        [
            S("IK3", 1, True, "ik3", "error identification"),
            S("CTX", 10, False, "ctx", "segment context / business unit identifier"),
        ],
        [element],
        max=ANY,
    )
    trailer = LoopDef("IK5", "transaction set response trailer", [S("IK5", 1, True, "ik5")], req=True)
    response = LoopDef(
        "2000",
        "transaction set response header",
        [S("AK2", 1, True, "ak2", "transaction set response header")],
        [error, trailer],
        max=ANY,
    )
    return LoopDef(
        "ST",
        "transaction set",
        [S("ST", 1, True, "st"), S("AK1", 1, True, "ak1", "functional group response header")],
        [response, LoopDef("AK9", "functional group response trailer", [S("AK9", 1, True, "ak9")], req=True)],
    ).finish()


_GRAMMAR: list[LoopDef] = []


def grammar() -> LoopDef:
    """The loop grammar of the 999 (the root loop is the transaction set, ``ST``)."""
    if not _GRAMMAR:
        _GRAMMAR.append(_grammar())
    return _GRAMMAR[0]


@dataclass(frozen=True, slots=True)
class Transaction999:
    """One parsed 999 transaction set: its envelope and loop tree (root ``ST``)."""

    version: str
    envelope: TransactionSet
    root: Loop
    loop_of: dict[int, str] = field(default_factory=dict, repr=False)


def _version(tx: TransactionSet) -> str:
    return transaction_version(
        tx,
        set_id="999",
        reader="read_999",
        what="999 implementation acknowledgments",
        versions=VERSIONS,
        guide="005010X231A1",
    )


def parse_999(text: str, *, check_totals: bool = True) -> list[Transaction999]:
    """Passes 1 and 2 of ``read_999``: the loop tree of every 999 transaction set, values unread."""
    with gc_paused():
        document = tokenize(text)
        out: list[Transaction999] = []
        for tx in read_transactions(document):
            version = _version(tx)
            loop_of: dict[int, str] = {}
            out.append(Transaction999(version, tx, structure(tx, grammar(), loop_of, guide="999 guide"), loop_of))
        if check_totals:
            check_control_totals(document)
        return out


# ---------------------------------------------------------------------------------------------------
# Values


def _code(table: dict[str, str], element: str, code: str) -> str:
    return f"{table.get(code, 'code not in the 999 guide')} ({element}={code})"


def _position(comps: tuple[str, ...]) -> tuple[int | None, int | None, int | None]:
    """An IK401 / CTX05 position composite: element, component, repetition (numbers or None)."""
    out: list[int | None] = []
    for k in range(3):
        value = comps[k] if k < len(comps) else ""
        out.append(int(value) if value.isdigit() else None)
    return out[0], out[1], out[2]


def _element_ref(segment_id: str, element: int | None, component: int | None, repetition: int | None) -> str:
    if element is None:
        return segment_id or "element"
    ref = f"{segment_id}{element:02d}"
    if component:
        ref += f"-{component}"
    if repetition:
        ref += f" (repetition {repetition})"
    return ref


def render_ik3(
    ik3: tuple[str, str, str, str],
    contexts: list[tuple[str, ...]],
    elements: list[tuple[tuple[str, ...], str, str, str, list[tuple[str, ...]]]],
) -> str:
    """One IK3 error as a sentence: ``segment 22 CLM in loop 2300 (CLM01 123456789): ...; CLM02 ...``.

    ``ik3`` is (IK301 id, IK302 position, IK303 loop, IK304 code); ``contexts`` the CTX segments after it
    as their element texts (CTX01 components joined by ``:``), ``elements`` each IK4 as (IK401 components,
    IK402, IK403, IK404, its CTX).
    """
    seg_id, position, loop, code = ik3
    head = f"segment {position} {seg_id}" if position else f"segment {seg_id}"
    if loop:
        head += f" in loop {loop}"
    business = [c for c in contexts if c and ":" in c[0] and len(c) == 1]
    situational = [c for c in contexts if c not in business]
    if business:
        head += " (" + ", ".join(c[0].replace(":", " ", 1) for c in business) + ")"
    parts = [f"{head}: {_code(IK304, 'IK304', code) if code else 'error'}"]
    for ctx in situational:
        parts.append(_context(ctx))
    for comps, reference, error, bad, element_contexts in elements:
        ref = _element_ref(seg_id, *_position(comps))
        text = f"{ref}"
        if reference:
            text += f" (data element {reference})"
        text += f": {_code(IK403, 'IK403', error)}"
        if bad:
            text += f", value {bad!r}"
        parts.append(text)
        parts.extend(_context(c) for c in element_contexts)
    return "; ".join(parts)


def _context(ctx: tuple[str, ...]) -> str:
    """A segment/element context CTX: ``context SITUATIONAL TRIGGER: segment 43 CLM05-3``."""
    name = ctx[0].split(":")[0] if ctx else ""
    seg_id = ctx[1] if len(ctx) > 1 else ""
    position = ctx[2] if len(ctx) > 2 else ""
    loop = ctx[3] if len(ctx) > 3 else ""
    where = _element_ref(seg_id, *_position(tuple(ctx[4].split(":")))) if len(ctx) > 4 and ctx[4] else seg_id
    text = f"context {name}:" if name else "context:"
    if position:
        text += f" segment {position}"
    if where:
        text += f" {where}"
    if loop:
        text += f" in loop {loop}"
    return text


class _Reader(ValueReader):
    """Turns the loop tree of one 999 transaction into a ``FunctionalAck`` (pass 3)."""

    carrier = "medbill acknowledgments"
    guide_label = "999 guide"
    plain_loops = frozenset({"ST", "AK9", "IK5"})

    def texts(self, seg: Segment) -> tuple[str, ...]:
        """The elements as texts (a composite joined with ``:`` whatever the file's separator)."""
        return tuple(e if isinstance(e, str) else ":".join(e) for e in seg.elements)

    def count(self, seg: Segment, pos: int, what: str) -> int:
        value = self.required(seg, pos, what)
        if not value.isdigit():
            raise self.err(seg, f"{value!r} is not a count", pos)
        return int(value)

    def error_codes(self, seg: Segment, first: int, last: int, table: dict[str, str]) -> list[str]:
        out = []
        for pos in range(first, last + 1):
            value = seg.text(pos)
            if value:
                out.append(_code(table, seg.ref(pos), value))
        return out

    def ack(self, tx: Transaction999) -> FunctionalAck:
        env = tx.envelope
        self.loop_of = tx.loop_of
        self.component = env.delimiters.component
        fields: dict[str, object] = {"control_number": env.st.text(2)}
        for seg, d in self.walk(tx.root):
            if d.tag == "ak1":
                self.used(seg, 3)
                fields["functional_id"] = self.required(seg, 1, "AK101 (functional identifier code)")
                fields["group_control_number"] = self.required(seg, 2, "AK102 (group control number)")
                fields["implementation"] = seg.text(3) or None
        transactions: list[TransactionAck] = []
        for child in self.carried_children(tx.root):
            if child.id == "2000":
                transactions.append(self.transaction(child))
            elif child.id == "AK9":
                seg = child.start
                self.used(seg, 9)
                fields["status"] = self.enum(AckStatus, seg, 1, "functional group acknowledge code")
                fields["included"] = self.count(seg, 2, "AK902 (number of transaction sets included)")
                fields["received"] = self.count(seg, 3, "AK903 (number of received transaction sets)")
                fields["accepted"] = self.count(seg, 4, "AK904 (number of accepted transaction sets)")
                fields["errors"] = tuple(self.error_codes(seg, 5, 9, AK9))
        return FunctionalAck(transactions=tuple(transactions), **fields)  # type: ignore[arg-type]

    def transaction(self, loop: Loop) -> TransactionAck:
        ak2 = loop.start
        self.used(ak2, 3)
        fields: dict[str, object] = {
            "transaction_id": self.required(ak2, 1, "AK201 (transaction set identifier code)"),
            "control_number": self.required(ak2, 2, "AK202 (transaction set control number)"),
            "implementation": ak2.text(3) or None,
        }
        errors: list[str] = []
        for child in loop.children:
            if child.id == "2100":
                errors.append(self.error(child))
            else:  # IK5
                seg = child.start
                self.used(seg, 6)
                fields["status"] = self.enum(AckStatus, seg, 1, "transaction set acknowledgment code")
                errors.extend(f"transaction set: {text}" for text in self.error_codes(seg, 2, 6, IK5))
        return TransactionAck(errors=tuple(errors), **fields)  # type: ignore[arg-type]

    def error(self, loop: Loop) -> str:
        ik3 = loop.start
        self.used(ik3, 4)
        seg_id = self.required(ik3, 1, "IK301 (segment id code)")
        position = ik3.text(2)
        if position and not position.isdigit():
            raise self.err(ik3, f"{position!r} is not a segment position", 2)
        contexts = [self.context(seg) for seg in loop.segments[1:]]
        elements = []
        for child in loop.children:
            ik4 = child.start
            self.used(ik4, 4)
            comps = ik4.components(1)
            if not comps[0].isdigit():
                raise self.err(ik4, f"{comps[0]!r} is not an element position", 1, 1)
            error = self.required(ik4, 3, "IK403 (implementation data element syntax error code)")
            element_contexts = [self.context(seg) for seg in child.segments[1:]]
            elements.append((comps, ik4.text(2), error, ik4.text(4), element_contexts))
        return render_ik3((seg_id, position, ik3.text(3), ik3.text(4)), contexts, elements)

    def context(self, seg: Segment) -> tuple[str, ...]:
        self.used(seg, 6)
        if not seg.element(1):
            raise self.err(seg, "CTX01 (context identification) is required", 1)
        return self.texts(seg)


def read_999(text: str, *, drop: Collection[str] = ()) -> list[FunctionalAck]:
    """The functional acknowledgments of every 999 transaction set in ``text``, in file order.

    Raises ``X12ParseError`` naming the segment at the first problem; ``drop`` lists element references
    the guide does not use that the caller accepts to lose.
    """
    with gc_paused():
        transactions = parse_999(text)
        reader = _Reader(frozenset(drop))
        return [reader.ack(tx) for tx in transactions]

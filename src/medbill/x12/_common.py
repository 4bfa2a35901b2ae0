"""Shared machinery of the X12 readers (837, 835, 999, 277CA): loop grammars and element values.

Not a file format of its own: the readers (``read837``, ``read835``, ``read999``, ``read277``) describe
their implementation guide as a tree of ``LoopDef``/``SegDef`` and call ``structure()`` to place each
segment of a transaction set in its loop (order within a loop, repeat limits, required segments and
loops), raising ``X12ParseError`` naming the segment. ``ValueReader`` turns elements into values
(dates, amounts, codes, CAS adjustments) with errors named as the guide names them (``2300 CLM05-1``),
and refuses data a reader does not carry unless the caller passes its key in ``drop``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import ClassVar, TypeVar

from medbill.core.claim import AdjustmentGroup, ClaimAdjustment
from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import MedbillError, X12ParseError
from medbill.core.money import money
from medbill.x12.tokenizer import Segment, TransactionSet

__all__ = [
    "ANY",
    "Loop",
    "LoopDef",
    "S",
    "SegDef",
    "ValueReader",
    "element_qualifier",
    "structure",
]

# ---------------------------------------------------------------------------------------------------
# Grammar


@dataclass(frozen=True, slots=True)
class SegDef:
    """A segment in a loop of the guide: id, qualifier values (element ``qpos``), repeat, carried tag.

    ``tag`` names the mapping that carries it into the claim; ``None`` means the guide allows it but
    the claim model does not carry it. ``slot`` is its position: segments with the same id in one
    position (all the 2300 DTPs, all the REFs ...) may come in any order among themselves.
    """

    id: str
    quals: frozenset[str] | None
    max: int
    req: bool
    tag: str | None
    name: str
    qpos: int = 1
    slot: int = 0

    @property
    def label(self) -> str:
        if self.quals is None:
            return self.id
        return f"{self.id}*{'/'.join(sorted(self.quals))}"

    def matches(self, seg: Segment) -> bool:
        if self.quals is None:
            return True
        return element_qualifier(seg, self.qpos) in self.quals


class LoopDef:
    """A loop of the guide: its segments (the first one starts the loop) and its child loops."""

    __slots__ = (
        "id",
        "name",
        "segs",
        "children",
        "max",
        "req",
        "carried",
        "free",
        "seg_index",
        "child_index",
        "req_segs",
        "req_children",
        "last_slot",
    )

    def __init__(
        self,
        id: str,
        name: str,
        segs: Iterable[SegDef],
        children: Iterable[LoopDef] = (),
        *,
        max: int = 1,
        req: bool = False,
        carried: bool = True,
        free: bool = False,
    ) -> None:
        self.id = id
        self.name = name
        slotted: list[SegDef] = []
        slot = 0
        for i, d in enumerate(segs):
            if i and d.id != slotted[-1].id:
                slot += 1
            slotted.append(dataclasses.replace(d, slot=slot))
        self.segs = tuple(slotted)
        self.children = tuple(children)
        self.max = max
        self.req = req
        self.carried = carried
        self.free = free  # may occur anywhere among its siblings (the HL loops)
        self.seg_index: dict[str, tuple[int, ...]] = {}
        for i, d in enumerate(self.segs):
            if i:
                self.seg_index[d.id] = self.seg_index.get(d.id, ()) + (i,)
        self.child_index: dict[str, tuple[int, ...]] = {}
        for j, c in enumerate(self.children):
            trigger = c.segs[0].id
            self.child_index[trigger] = self.child_index.get(trigger, ()) + (j,)
        self.req_segs = tuple(i for i, d in enumerate(self.segs) if i and d.req)
        self.last_slot = self.segs[-1].slot
        self.req_children: tuple[int, ...] = ()  # set by finish() once the children's flags are final

    def finish(self) -> LoopDef:
        """Freeze the derived tables (after ``req`` was adjusted on children); returns self."""
        self.req_children = tuple(j for j, c in enumerate(self.children) if c.req and not c.free)
        for child in self.children:
            child.finish()
        return self

    @property
    def trigger(self) -> SegDef:
        return self.segs[0]

    def __repr__(self) -> str:
        return f"LoopDef({self.id!r})"


def element_qualifier(seg: Segment, pos: int) -> str:
    value = seg.elements[pos - 1] if 0 < pos <= len(seg.elements) else ""
    return value[0] if isinstance(value, tuple) else value


def S(
    spec: str,
    max: int = 1,
    req: bool = False,
    tag: str | None = None,
    name: str = "",
) -> SegDef:
    """``"NM1*85"``, ``"REF*EI,SY"``, ``"HL@3*20"`` (qualifier in element 3), ``"N3"``."""
    sid, _, quals = spec.partition("*")
    qpos = 1
    if "@" in sid:
        sid, _, p = sid.partition("@")
        qpos = int(p)
    return SegDef(sid, frozenset(quals.split(",")) if quals else None, max, req, tag, name or spec, qpos)


ANY = 10**6  # "unbounded" (>1 repeats)


# ---------------------------------------------------------------------------------------------------
# Structure: segments into loops


@dataclass(slots=True, eq=False)
class Loop:
    """One loop instance of a parsed transaction set: its definition, its segments (first = trigger), its children."""

    definition: LoopDef
    segments: list[Segment] = field(default_factory=list)
    defs: list[SegDef] = field(default_factory=list)
    children: list[Loop] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def start(self) -> Segment:
        return self.segments[0]

    def loops(self, loop_id: str) -> list[Loop]:
        """Descendant loops with ``loop_id``, in file order (not descending into matches)."""
        out: list[Loop] = []
        for child in self.children:
            if child.id == loop_id:
                out.append(child)
            else:
                out.extend(child.loops(loop_id))
        return out

    def first(self, seg_id: str, qualifier: str | None = None) -> Segment | None:
        """The loop's own first segment ``seg_id`` (with element-1 ``qualifier``), or None."""
        for seg in self.segments:
            if seg.id == seg_id and (qualifier is None or element_qualifier(seg, 1) == qualifier):
                return seg
        return None


class Frame:
    __slots__ = ("loop", "node", "slot", "counts", "child", "child_counts")

    def __init__(self, loop: LoopDef, node: Loop) -> None:
        self.loop = loop
        self.node = node
        self.slot = 0
        self.counts = [0] * len(loop.segs)
        self.counts[0] = 1
        self.child = -1
        self.child_counts = [0] * len(loop.children)


QUALIFIED = frozenset(
    {"NM1", "REF", "DTP", "AMT", "PER", "PRV", "HI", "CRC", "NTE", "QTY", "BHT", "LQ", "DTM", "N1", "TRN", "CUR"}
)


def describe(seg: Segment) -> str:
    if seg.id == "HL":
        return f"HL (HL03 {element_qualifier(seg, 3) or 'empty'})"
    if seg.id not in QUALIFIED:
        return seg.id
    q = element_qualifier(seg, 1)
    return f"{seg.id}*{q}" if q else seg.id


def home(seg: Segment, stack: list[Frame]) -> LoopDef | None:
    """A child loop (of a loop on the stack, or below) whose body carries ``seg``, for a hint."""
    seen: set[int] = set()
    todo = [f.loop for f in stack]
    while todo:
        loop = todo.pop()
        for child in loop.children:
            if id(child) in seen:
                continue
            seen.add(id(child))
            if any(d.id == seg.id and d.matches(seg) for d in child.segs[1:]):
                return child
            todo.append(child)
    return None


def place_error(seg: Segment, stack: list[Frame], guide: str) -> X12ParseError:
    """Why ``seg`` fits nowhere on ``stack`` (``guide`` names the guide in the message: ``837P guide``)."""
    top = stack[-1]
    loop = top.loop
    for frame in reversed(stack):
        for i in frame.loop.seg_index.get(seg.id, ()):
            d = frame.loop.segs[i]
            if d.matches(seg):
                where = f"loop {frame.loop.id} ({frame.loop.name})"
                if frame.counts[i] >= d.max:
                    return seg.error(f"{d.label} ({d.name}) may occur {times(d.max)} in {where}; this is one more")
                if frame.child >= 0 and d.slot >= frame.slot:
                    child = frame.loop.children[frame.child]
                    return seg.error(f"{d.label} is out of order: in {where} it must come before loop {child.id}")
                return seg.error(f"{d.label} is out of order in {where}: it must come before {slot_label(frame)}")
        for j in frame.loop.child_index.get(seg.id, ()):
            c = frame.loop.children[j]
            if c.trigger.matches(seg):
                if frame.child_counts[j] >= c.max:
                    return seg.error(
                        f"loop {c.id} ({c.name}) may occur {times(c.max)} in loop {frame.loop.id}; this is one more"
                    )
                return seg.error(f"loop {c.id} ({c.name}) is out of order in loop {frame.loop.id} ({frame.loop.name})")
    last = top.node.segments[-1]
    if seg.id in loop.seg_index and top.child < 0:
        allowed = sorted(
            {q for i in loop.seg_index[seg.id] if loop.segs[i].slot >= top.slot for q in loop.segs[i].quals or ()}
        )
        if allowed:
            d = loop.segs[loop.seg_index[seg.id][0]]
            return seg.error(
                f"{describe(seg)} is not expected here: in loop {loop.id} ({loop.name}) "
                f"{seg.ref(d.qpos)} {element_qualifier(seg, d.qpos)!r} is not one of {', '.join(allowed)}"
            )
    found = home(seg, stack)
    hint = ""
    if found is not None:
        hint = f"; it belongs in loop {found.id} ({found.name}), which begins with {found.trigger.label}"
    return seg.error(
        f"{describe(seg)} is not expected here: it is not part of loop {loop.id} ({loop.name}) after "
        f"{describe(last)} (segment {last.index}) in the {guide}{hint}"
    )


def slot_label(frame: Frame) -> str:
    d = next(d for i, d in enumerate(frame.loop.segs) if d.slot == frame.slot and frame.counts[i])
    return d.label


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def close_loop(frame: Frame, at: Segment) -> None:
    """Check what a loop still requires when ``at`` ends it."""
    loop = frame.loop
    if frame.child < 0:
        for i in loop.req_segs:
            d = loop.segs[i]
            if d.slot >= frame.slot and not frame.counts[i]:
                raise at.error(
                    f"loop {loop.id} ({loop.name}) begun at segment {frame.node.start.index} lacks its required "
                    f"{d.label} ({d.name})"
                )
    for j in loop.req_children:
        c = loop.children[j]
        if j > frame.child and not frame.child_counts[j]:
            raise at.error(
                f"loop {loop.id} ({loop.name}) begun at segment {frame.node.start.index} lacks its required loop "
                f"{c.id} ({c.name})"
            )


def advance(frame: Frame, slot: int, seg: Segment, what: str) -> None:
    """Moving from the frame's slot to ``slot``: the required segments skipped over are missing."""
    loop = frame.loop
    for i in loop.req_segs:
        d = loop.segs[i]
        if frame.slot <= d.slot < slot and not frame.counts[i]:
            raise seg.error(f"loop {loop.id} ({loop.name}) needs {d.label} ({d.name}) before {what}")


def structure(
    tx: TransactionSet,
    root_def: LoopDef,
    loop_of: dict[int, str],
    *,
    guide: str,
    on_loop: Callable[[Segment], None] | None = None,
) -> Loop:
    """Place each segment of the body in its loop (innermost loop first, then its ancestors).

    ``loop_of`` receives segment index -> loop id; ``on_loop`` is called with the trigger segment of
    each loop begun (the 837 and 277CA check their HL numbering there); ``guide`` names the guide in
    the error messages (``"837P guide"``).
    """
    root = Loop(root_def, [tx.st], [root_def.segs[0]])
    stack = [Frame(root_def, root)]
    for seg in tx.body:
        sid = seg.id
        elements = seg.elements
        q1 = elements[0] if elements else ""
        if q1.__class__ is tuple:
            q1 = q1[0]
        placed = False
        depth = len(stack) - 1
        while depth >= 0 and not placed:
            frame = stack[depth]
            loop = frame.loop
            if frame.child < 0:
                for i in loop.seg_index.get(sid, ()):
                    d = loop.segs[i]
                    if d.slot < frame.slot:
                        continue
                    quals = d.quals
                    if quals is not None and (q1 if d.qpos == 1 else element_qualifier(seg, d.qpos)) not in quals:
                        continue
                    if frame.counts[i] >= d.max:
                        raise seg.error(
                            f"{d.label} ({d.name}) may occur {times(d.max)} in loop {loop.id}; this is one more"
                        )
                    if depth + 1 < len(stack):
                        for f in stack[depth + 1 :][::-1]:
                            close_loop(f, seg)
                        del stack[depth + 1 :]
                    if d.slot > frame.slot:
                        advance(frame, d.slot, seg, d.label)
                        frame.slot = d.slot
                    frame.counts[i] += 1
                    node = frame.node
                    node.segments.append(seg)
                    node.defs.append(d)
                    loop_of[seg.index] = loop.id
                    placed = True
                    break
                if placed:
                    break
            for j in loop.child_index.get(sid, ()):
                c = loop.children[j]
                if j < frame.child and not c.free:
                    continue
                trigger = c.segs[0]
                quals = trigger.quals
                if (
                    quals is not None
                    and (q1 if trigger.qpos == 1 else element_qualifier(seg, trigger.qpos)) not in quals
                ):
                    continue
                if frame.child_counts[j] >= c.max:
                    raise seg.error(
                        f"loop {c.id} ({c.name}) may occur {times(c.max)} in loop {loop.id}; this is one more"
                    )
                if depth + 1 < len(stack):
                    for f in stack[depth + 1 :][::-1]:
                        close_loop(f, seg)
                    del stack[depth + 1 :]
                if frame.child < 0:
                    advance(frame, loop.last_slot + 1, seg, f"loop {c.id}")
                if j > frame.child:
                    for k in loop.req_children:
                        other = loop.children[k]
                        if frame.child < k < j and not frame.child_counts[k]:
                            raise seg.error(
                                f"loop {loop.id} ({loop.name}) needs loop {other.id} ({other.name}) before "
                                f"loop {c.id} ({c.name})"
                            )
                    frame.child = j
                frame.child_counts[j] += 1
                node = Loop(c, [seg], [trigger])
                loop_of[seg.index] = c.id
                frame.node.children.append(node)
                stack.append(Frame(c, node))
                if on_loop is not None:
                    on_loop(seg)
                placed = True
                break
            depth -= 1
        if not placed:
            raise place_error(seg, stack, guide)
    for f in stack[::-1]:
        close_loop(f, tx.se)
    return root


# ---------------------------------------------------------------------------------------------------
# Values


REAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
D8 = re.compile(r"[0-9]{8}")

E = TypeVar("E", bound=Enum)


class ValueReader:
    """Element values of the segments of one guide, with errors located as the guide names them.

    ``carrier`` names what the records are in refusals (``"medbill claims"``); ``element_names`` gives
    a readable name to element references in them (``{"SV109": "emergency indicator"}``). ``loop_of``
    (segment index -> loop id, from ``structure``) puts the loop in front of element references.
    """

    carrier: ClassVar[str] = "medbill records"
    element_names: ClassVar[dict[str, str]] = {}
    plain_loops: ClassVar[frozenset[str]] = frozenset({"ST"})  # loops whose elements are named without loop id
    guide_label: ClassVar[str] = "guide"  # "835 guide": in refusals of elements the guide does not use

    def __init__(self, drop: frozenset[str]) -> None:
        self.drop = drop
        self.loop_of: dict[int, str] = {}
        self.codes: dict[tuple[CodeSystem, str], Code] = {}
        self.amounts: dict[str, Decimal] = {}
        self.numbers: dict[str, Decimal] = {}
        self.days: dict[str, dt.date] = {}
        self.component = ":"  # the interchange's component separator, for messages (set per transaction)

    def err(self, seg: Segment, message: str, pos: int | None = None, sub: int | None = None) -> X12ParseError:
        """An error at ``seg`` naming the element by its loop, as the guide does (``2300 CLM05-1``)."""
        element = None
        if pos is not None:
            loop = self.loop_of.get(seg.index)
            element = seg.ref(pos, sub) if loop is None or loop in self.plain_loops else f"{loop} {seg.ref(pos, sub)}"
        return X12ParseError(message, segment_index=seg.index or None, segment_id=seg.id or None, element=element)

    def refuse(
        self, seg: Segment, key: str, what: str, pos: int | None = None, value: str = "", sub: int | None = None
    ) -> None:
        """Raise for data the records do not carry, unless ``key`` is in ``drop``."""
        if key in self.drop:
            return
        shown = f" {value!r}" if value else ""
        raise self.err(
            seg,
            f"{key}{shown} ({what}) is not carried by {self.carrier}; refusing to drop it "
            f"(pass drop={{{key!r}}} to accept losing it)",
            pos,
            sub,
        )

    def only(self, seg: Segment, allowed: Collection[int]) -> None:
        """Refuse any non-empty element of ``seg`` outside ``allowed`` positions."""
        pos = 0
        for value in seg.elements:
            pos += 1
            if not value or pos in allowed or (isinstance(value, tuple) and not any(value)):
                continue
            ref = seg.ref(pos)
            text = value if isinstance(value, str) else ":".join(value)
            self.refuse(seg, ref, self.element_names.get(ref, "an element"), pos, text)

    def used(self, seg: Segment, last: int, gaps: tuple[int, ...] = ()) -> None:
        """Refuse non-empty elements the guide does not use: after ``last`` and at ``gaps`` (key: the
        element reference, ``CLP10``)."""
        elements = seg.elements
        n = len(elements)
        if n > last:
            for pos in range(last + 1, n + 1):
                self.unused(seg, pos)
        for pos in gaps:
            if pos <= n and elements[pos - 1]:
                self.unused(seg, pos)

    def unused(self, seg: Segment, pos: int) -> None:
        value = seg.elements[pos - 1]
        if not value or (isinstance(value, tuple) and not any(value)):
            return
        ref = seg.ref(pos)
        text = value if isinstance(value, str) else self.component.join(value)
        self.refuse(seg, ref, self.not_used(ref), pos, text)

    def not_used(self, ref: str) -> str:
        return self.element_names.get(ref, f"an element not used in the {self.guide_label}")

    def only_components(self, seg: Segment, pos: int, allowed: Iterable[int]) -> None:
        ok = set(allowed)
        for sub, value in enumerate(seg.components(pos), start=1):
            if value and sub not in ok:
                ref = seg.ref(pos, sub)
                self.refuse(seg, ref, self.element_names.get(ref, "a component"), pos, value, sub)

    def refuse_segment(self, seg: Segment, d: SegDef, loop: Loop) -> None:
        key = d.id if d.quals is None else f"{d.id}*{element_qualifier(seg, d.qpos)}"
        self.refuse(seg, key, f"{d.name}, loop {loop.id}")

    def required(self, seg: Segment, pos: int, what: str) -> str:
        value = seg.text(pos)
        if not value:
            raise self.err(seg, f"{what} is required", pos)
        return value

    def date(self, seg: Segment, pos: int, value: str | None = None) -> dt.date:
        text = seg.text(pos) if value is None else value
        known = self.days.get(text)
        if known is not None:
            return known
        if not D8.fullmatch(text):
            raise self.err(seg, f"{text!r} is not a date (CCYYMMDD)", pos)
        try:
            day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise self.err(seg, f"{text!r} is not a valid date", pos) from None
        self.days[text] = day
        return day

    def dates(self, seg: Segment, formats: tuple[str, ...]) -> tuple[dt.date, dt.date | None, dt.time | None]:
        """DTP02/DTP03: D8 -> (date, None, None), RD8 -> (from, to, None), DT -> (date, None, time)."""
        fmt = seg.text(2)
        if fmt not in formats:
            raise self.err(seg, f"is {fmt or '(empty)'}; here it must be {' or '.join(formats)}", 2)
        self.only(seg, (1, 2, 3))
        value = seg.text(3)
        if fmt == "D8":
            return self.date(seg, 3, value), None, None
        if fmt == "RD8":
            start, sep, end = value.partition("-")
            if not sep:
                raise self.err(seg, f"{value!r} is not a date range (CCYYMMDD-CCYYMMDD)", 3)
            return self.date(seg, 3, start), self.date(seg, 3, end), None
        if fmt == "DT":
            if len(value) != 12 or not value.isdigit():
                raise self.err(seg, f"{value!r} is not a date and time (CCYYMMDDHHMM)", 3)
            return self.date(seg, 3, value[:8]), None, self.hhmm(seg, 3, value[8:])
        raise AssertionError(fmt)  # pragma: no cover

    def hhmm(self, seg: Segment, pos: int, value: str) -> dt.time:
        if len(value) != 4 or not value.isdigit() or int(value[:2]) > 23 or int(value[2:]) > 59:
            raise self.err(seg, f"{value!r} is not a time (HHMM)", pos)
        return dt.time(int(value[:2]), int(value[2:]))

    def money(self, seg: Segment, pos: int, sub: int | None = None, *, required: bool = True) -> Decimal | None:
        if sub is None:
            elements = seg.elements
            known = self.amounts.get(elements[pos - 1] if pos <= len(elements) else "")  # type: ignore[arg-type]
            if known is not None:  # an amount seen before (a composite is never a key: it falls through)
                return known
            text = seg.text(pos)
        else:
            text = seg.component(pos, sub)
        known = self.amounts.get(text)
        if known is not None:
            return known
        if not text:
            if required:
                raise self.err(seg, "the amount is required", pos, sub)
            return None
        if not REAL.fullmatch(text):
            raise self.err(seg, f"{text!r} is not an amount", pos, sub)
        try:
            amount = money(text)
        except MedbillError as exc:
            raise self.err(seg, exc.message, pos, sub) from None
        self.amounts[text] = amount
        return amount

    def decimal(self, seg: Segment, pos: int, *, default: Decimal | None = None) -> Decimal:
        text = seg.text(pos)
        known = self.numbers.get(text)
        if known is not None:
            return known
        if not text:
            if default is not None:
                return default
            raise self.err(seg, "the quantity is required", pos)
        if not REAL.fullmatch(text):
            raise self.err(seg, f"{text!r} is not a number", pos)
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise self.err(seg, f"{text!r} is not a number", pos) from None
        self.numbers[text] = number
        return number

    def enum(self, cls: type[E], seg: Segment, pos: int, what: str, sub: int | None = None) -> E:
        value = seg.text(pos) if sub is None else seg.component(pos, sub)
        member = cls._value2member_map_.get(value)
        if member is not None:
            return member  # type: ignore[return-value]
        try:
            return cls(value)
        except ValueError:
            members = ", ".join(str(m.value) for m in cls)
            if not value:
                raise self.err(seg, f"{what} is required ({members})", pos, sub) from None
            raise self.err(seg, f"{value!r} is not a {what} {self.carrier} carry ({members})", pos, sub) from None

    def code(self, seg: Segment, system: CodeSystem, text: str, pos: int, sub: int | None = None) -> Code:
        key = (system, text)
        known = self.codes.get(key)
        if known is not None:
            return known
        try:
            code = Code.parse(text, system=system)
        except MedbillError as exc:
            raise self.err(seg, exc.message, pos, sub) from None
        self.codes[key] = code
        return code

    def ref(self, seg: Segment) -> str:
        self.only(seg, (1, 2))
        return self.required(seg, 2, "REF02 (the reference)")

    def cas(self, seg: Segment) -> list[ClaimAdjustment]:
        group = self.enum(AdjustmentGroup, seg, 1, "claim adjustment group code")
        out: list[ClaimAdjustment] = []
        elements = seg.elements
        n = len(elements)
        codes = self.codes
        for pos in range(2, min(n, 19) + 1, 3):  # the triplets present (up to six)
            reason = elements[pos - 1]
            quantity_text = elements[pos + 1] if pos + 1 < n else ""
            if reason.__class__ is not str or quantity_text.__class__ is not str:
                reason, quantity_text = seg.text(pos), seg.text(pos + 2)  # raises for a composite
            if not reason:
                if seg.text(pos + 1) or quantity_text:
                    raise self.err(seg, "an adjustment amount or quantity without its reason code", pos)
                continue
            amount = self.money(seg, pos + 1)
            assert amount is not None
            quantity = self.decimal(seg, pos + 2) if quantity_text else None
            code = codes.get((CodeSystem.CARC, reason))
            if code is None:
                code = self.code(seg, CodeSystem.CARC, reason, pos)
            out.append(ClaimAdjustment(group=group, reason=code, amount=amount, quantity=quantity))
        if not out:
            raise self.err(seg, "a CAS needs at least one reason code and amount", 2)
        if len(seg.elements) > 19:
            self.only(seg, range(1, 20))
        return out

    def walk(self, loop: Loop) -> Iterable[tuple[Segment, SegDef]]:
        """The loop's own segments with their definitions, refusing the ones not carried."""
        for seg, d in zip(loop.segments, loop.defs, strict=True):
            if d.tag is None:
                self.refuse_segment(seg, d, loop)
                continue
            yield seg, d

    def carried_children(self, loop: Loop) -> Iterable[Loop]:
        for child in loop.children:
            if not child.definition.carried:
                self.refuse(child.start, child.id, f"{child.definition.name}: the whole loop")
                continue
            yield child


def transaction_version(
    tx: TransactionSet, *, set_id: str, reader: str, what: str, versions: frozenset[str], guide: str
) -> str:
    """The implementation guide of one transaction set: ST01 must be ``set_id``; ST03 (or GS08) must be
    one of ``versions`` and, when both are present, agree. Errors name the segment and element."""
    st = tx.st
    if st.text(1) != set_id:
        raise st.error(f"is {st.text(1) or '(empty)'}: {reader} reads {what}", 1)
    gs08, st03 = tx.gs.text(8), st.text(3)
    if st03 and gs08 and st03 != gs08:
        raise st.error(f"ST03 {st03} differs from GS08 {gs08} (segment {tx.gs.index})", 3)
    version = st03 or gs08
    if version not in versions:
        raise (st if st03 else tx.gs).error(
            f"version {version or '(empty)'} is not the {set_id} guide {guide}", 3 if st03 else 8
        )
    return version

"""X12 277CA reader: health care claim acknowledgments (005010X214) into medbill claim acks.

Format: the ASC X12N 005010X214 implementation guide (Health Care Claim Acknowledgment, "277CA";
published by X12 at x12.org): the payer's or clearinghouse's front-end answer, claim by claim, to an
837 batch. Pure text in, records out: no I/O.

The 277 transaction set also carries the claim *status response* (005010X212, the answer to a 276
inquiry), which has another structure and meaning. The two are told apart by the guide in GS08 (or
ST03): ``read_277ca`` reads 005010X214 only and refuses a 005010X212 file with a message saying what it
is. Any other 277 version is refused too.

``read_277ca(text)`` returns one ``medbill.core.remit.ClaimAck`` per 2200D claim (TRN*2 with our CLM01
in TRN02), in file order, for every interchange, group and transaction set in the file. A claim is
accepted when none of its STC status composites (STC01, STC10, STC11 of each STC) has a rejection
category: A3 returned as unprocessable, A4 not found, A6 missing information, A7 invalid information,
A8 relational field error, or an E (response not possible) category; its category/status/entity are
those of the first rejecting composite, else of the first one. STC03 (action code) is kept as sent:
payers send WQ with rejections. Further composites and STC12 free text go to ``messages``; a
rejection at the billing provider (2200C) or information receiver (2200B) level is added to the
messages of every claim under it. 2220D service lines give ``line_statuses``.

Grammar (X214, nested HL levels): ST, BHT; 2000A (HL 20) information source with 2100A NM1*PR/AY and
2200A TRN*1, DTP*050, DTP*009; 2000B (HL 21) information receiver with 2100B NM1*41 and 2200B TRN*2,
STC, QTY*90/AA, AMT*YU/YY; 2000C (HL 19) billing provider with 2100C NM1*85 and 2200C TRN*1, STC,
REF, QTY*QA/QC, AMT*YU/YY; 2000D (HL PT) patient with 2100D NM1*QC and 2200D per claim: TRN*2, STC,
REF*1K/D9/BLT, DTP*472, 2220D SVC, STC, REF*FJ/XZ, DTP*472. HL numbering and parents are checked.
The batch-level counts and amounts (QTY, AMT) and the information source dates are read and checked
but belong to no claim. Problems raise one ``X12ParseError`` naming the segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from medbill.core.remit import ClaimAck
from medbill.x12._common import ANY, Loop, LoopDef, S, ValueReader, structure
from medbill.x12.tokenizer import (
    Segment,
    TransactionSet,
    check_control_totals,
    gc_paused,
    read_transactions,
    tokenize,
)

__all__ = ["CLAIM_STATUS_VERSION", "VERSIONS", "Transaction277", "grammar", "parse_277ca", "read_277ca"]

VERSIONS = frozenset({"005010X214"})
CLAIM_STATUS_VERSION = "005010X212"
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8", "E0", "E1", "E2", "E3", "E4"})
"""STC01-1 claim status categories that mean the claim was not accepted into adjudication."""

# ---------------------------------------------------------------------------------------------------
# Grammar


def _grammar() -> LoopDef:
    line = LoopDef(
        "2220D",
        "service line information",
        [
            S("SVC", 1, True, "svc", "service line information"),
            S("STC", 1, True, "stc", "service line level status information"),
            S("REF*FJ", 1, False, "ref", "service line item identification"),
            S("REF*XZ", 1, False, "ref", "pharmacy prescription number"),
            S("DTP*472", 1, False, "dtp", "service line date"),
        ],
        max=ANY,
    )
    claim = LoopDef(
        "2200D",
        "claim status tracking number",
        [
            S("TRN*2", 1, True, "trn", "claim status tracking number"),
            S("STC", ANY, True, "stc", "claim level status information"),
            S("REF*1K", 1, False, "ref", "payer claim control number"),
            S("REF*D9", 1, False, "ref", "clearinghouse trace number"),
            S("REF*BLT", 1, False, "ref", "institutional bill type identification"),
            S("DTP*472", 1, False, "dtp", "claim level service date"),
        ],
        [line],
        max=ANY,
    )
    patient = LoopDef(
        "2000D",
        "patient level",
        [S("HL@3*PT", 1, True, "hl", "patient level")],
        [LoopDef("2100D", "patient name", [S("NM1*QC", 1, True, "nm1", "patient name")], req=True), claim],
        max=ANY,
    )
    provider = LoopDef(
        "2000C",
        "billing provider of service level",
        [S("HL@3*19", 1, True, "hl", "billing provider of service level")],
        [
            LoopDef("2100C", "billing provider name", [S("NM1*85", 1, True, "nm1", "billing provider name")], req=True),
            LoopDef(
                "2200C",
                "provider of service information trace identifier",
                [
                    S("TRN*1", 1, True, "trn", "provider of service information trace identifier"),
                    S("STC", ANY, False, "stc", "billing provider status information"),
                    S("REF*0B,1G,G2,LU,SY,TJ", 1, False, "ref", "provider secondary identifier"),
                    S("QTY*QA,QC", 2, False, "qty", "total accepted/rejected quantity"),
                    S("AMT*YU,YY", 2, False, "amt", "total accepted/rejected amount"),
                ],
                req=True,
            ),
            patient,
        ],
        max=ANY,
    )
    receiver = LoopDef(
        "2000B",
        "information receiver level",
        [S("HL@3*21", 1, True, "hl", "information receiver level")],
        [
            LoopDef(
                "2100B",
                "information receiver name",
                [S("NM1*41", 1, True, "nm1", "information receiver name")],
                req=True,
            ),
            LoopDef(
                "2200B",
                "information receiver trace identifier",
                [
                    S("TRN*2", 1, True, "trn", "information receiver trace identifier"),
                    S("STC", ANY, False, "stc", "information receiver status information"),
                    S("QTY*90,AA", 2, False, "qty", "total accepted/rejected quantity"),
                    S("AMT*YU,YY", 2, False, "amt", "total accepted/rejected amount"),
                ],
                req=True,
            ),
            provider,
        ],
        req=True,
    )
    source = LoopDef(
        "2000A",
        "information source level",
        [S("HL@3*20", 1, True, "hl", "information source level")],
        [
            LoopDef(
                "2100A",
                "information source name",
                [S("NM1*PR,AY", 1, True, "nm1", "information source name")],
                req=True,
            ),
            LoopDef(
                "2200A",
                "transmission receipt control identifier",
                [
                    S("TRN*1", 1, True, "trn", "transmission receipt control identifier"),
                    S("DTP*050", 1, False, "dtp", "information source receipt date"),
                    S("DTP*009", 1, False, "dtp", "information source process date"),
                ],
                req=True,
            ),
            receiver,
        ],
        max=ANY,
        req=True,
    )
    return LoopDef(
        "ST",
        "transaction set",
        [S("ST", 1, True, "st"), S("BHT*0085", 1, True, "bht", "beginning of hierarchical transaction")],
        [source],
    ).finish()


_GRAMMAR: list[LoopDef] = []


def grammar() -> LoopDef:
    """The loop grammar of the 277CA (the root loop is the transaction set, ``ST``)."""
    if not _GRAMMAR:
        _GRAMMAR.append(_grammar())
    return _GRAMMAR[0]


@dataclass(frozen=True, slots=True)
class Transaction277:
    """One parsed 277CA transaction set: its envelope and loop tree (root ``ST``)."""

    version: str
    envelope: TransactionSet
    root: Loop
    loop_of: dict[int, str] = field(default_factory=dict, repr=False)


def _version(tx: TransactionSet) -> str:
    st = tx.st
    if st.text(1) != "277":
        raise st.error(f"is {st.text(1) or '(empty)'}: read_277ca reads 277CA claim acknowledgments", 1)
    gs08, st03 = tx.gs.text(8), st.text(3)
    version = gs08 or st03
    where = tx.gs if gs08 else st
    pos = 8 if gs08 else 3
    if version == CLAIM_STATUS_VERSION or (st03 == CLAIM_STATUS_VERSION and version not in VERSIONS):
        raise where.error(
            f"{version} is the 277 health care claim status response (the answer to a 276 inquiry), not "
            "the 277CA claim acknowledgment (005010X214): read_277ca does not read claim status responses",
            pos,
        )
    if version not in VERSIONS:
        raise where.error(f"version {version or '(empty)'} is not the 277CA guide 005010X214", pos)
    if st03 and gs08 and st03 != gs08:
        raise st.error(f"ST03 {st03} differs from GS08 {gs08} (segment {tx.gs.index})", 3)
    return version


_LEVEL_PARENT = {"20": None, "21": "20", "19": "21", "PT": "19"}


def _hl_checker(seg: Segment, levels: dict[str, str]) -> None:
    """HL01 numbered 1, 2, 3 ... in order; HL02 an earlier HL of the level above."""
    if seg.id != "HL":
        return
    hl01, hl02, hl03 = seg.text(1), seg.text(2), seg.text(3)
    expected = str(len(levels) + 1)
    if hl01 != expected:
        raise seg.error(f"is {hl01 or '(empty)'} but should be {expected}: HL segments are numbered 1, 2, 3 ...", 1)
    parent = _LEVEL_PARENT[hl03]
    if parent is None:
        if hl02:
            raise seg.error(f"an information source HL has no parent, but HL02 is {hl02}", 2)
    elif levels.get(hl02) != parent:
        raise seg.error(f"parent {hl02 or '(empty)'} is not an earlier HL of level {parent}", 2)
    levels[hl01] = hl03


def parse_277ca(text: str, *, check_totals: bool = True) -> list[Transaction277]:
    """Passes 1 and 2 of ``read_277ca``: the loop tree of every 277CA transaction set, values unread."""
    with gc_paused():
        document = tokenize(text)
        out: list[Transaction277] = []
        for tx in read_transactions(document):
            version = _version(tx)
            loop_of: dict[int, str] = {}
            levels: dict[str, str] = {}

            def on_loop(seg: Segment, levels: dict[str, str] = levels) -> None:
                _hl_checker(seg, levels)

            root = structure(tx, grammar(), loop_of, guide="277CA guide", on_loop=on_loop)
            out.append(Transaction277(version, tx, root, loop_of))
        if check_totals:
            check_control_totals(document)
        return out


# ---------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, slots=True)
class _Status:
    category: str
    status: str
    entity: str | None

    @property
    def rejected(self) -> bool:
        return self.category in REJECTED_CATEGORIES

    def text(self) -> str:
        return ":".join(p for p in (self.category, self.status, self.entity) if p)


class _Reader(ValueReader):
    """Turns the loop tree of one 277CA transaction into ``ClaimAck`` records (pass 3)."""

    carrier = "medbill acknowledgments"
    guide_label = "277CA guide"

    def statuses(self, seg: Segment, *, unused: tuple[int, ...] = ()) -> tuple[list[_Status], str | None]:
        """The status composites of an STC (STC01, STC10, STC11) and its STC12 free text."""
        self.used(seg, 12, (5, 6, 7, 8, 9, *unused))
        out: list[_Status] = []
        for pos in (1, 10, 11):
            if not seg.element(pos):
                if pos == 1:
                    raise self.err(seg, "STC01 (health care claim status) is required", 1)
                continue
            comps = seg.components(pos)
            category = comps[0]
            status = comps[1] if len(comps) > 1 else ""
            entity = comps[2] if len(comps) > 2 and comps[2] else None
            if not category:
                raise self.err(seg, "the claim status category code is required", pos, 1)
            if not status:
                raise self.err(seg, f"category {category} without its claim status code", pos, 2)
            out.append(_Status(category, status, entity))
        return out, seg.text(12) or None

    def trace(self, loop: Loop) -> str:
        seg = loop.start
        self.used(seg, 2)
        return self.required(seg, 2, "TRN02 (trace identifier)")

    def level_rejections(self, loop: Loop, label: str) -> list[str]:
        """Checks a 2200B/2200C loop; its rejecting STC composites as messages."""
        out: list[str] = []
        for seg in loop.segments[1:]:
            if seg.id == "STC":
                statuses, note = self.statuses(seg, unused=(12,) if loop.id == "2200B" else (2, 12))
                if seg.text(2):
                    self.date(seg, 2)
                out.extend(f"{label}: {s.text()}" for s in statuses if s.rejected)
                if note and any(s.rejected for s in statuses):
                    out.append(f"{label}: {note}")
            elif seg.id in ("QTY", "AMT"):
                self.used(seg, 2)
                if seg.id == "QTY":
                    self.decimal(seg, 2)
                else:
                    self.money(seg, 2)
            elif seg.id == "REF":
                self.used(seg, 2)
                self.required(seg, 2, "REF02 (the reference)")
        return out

    def name(self, loop: Loop) -> tuple[str | None, str | None]:
        """NM1: (name, NM109)."""
        seg = loop.start
        self.used(seg, 9)
        last, first, middle, suffix = seg.text(3), seg.text(4), seg.text(5), seg.text(7)
        if seg.text(2) == "1" and first:
            rest = " ".join(p for p in (first, middle, suffix) if p)
            name = f"{last}, {rest}"
        else:
            name = last
        return name or None, seg.text(9) or None

    def acks(self, tx: Transaction277) -> list[ClaimAck]:
        env = tx.envelope
        self.loop_of = tx.loop_of
        self.component = env.delimiters.component
        for seg in tx.root.segments[1:]:  # BHT
            self.used(seg, 6)
            if seg.text(2) != "08":
                raise self.err(seg, f"is {seg.text(2) or '(empty)'}; a 277CA is 08 (status)", 2)
            self.date(seg, 4)
        base: dict[str, object] = {"control_number": env.st.text(2)}
        out: list[ClaimAck] = []
        for source in tx.root.children:
            for child in source.children:
                if child.id == "2100A":
                    base["payer_name"], base["payer_id"] = self.name(child)
                elif child.id == "2200A":
                    self.trace(child)
                    for seg in child.segments[1:]:
                        self.dtp(seg)
                elif child.id == "2000B":
                    self.receiver(child, dict(base), out)
        return out

    def dtp(self, seg: Segment) -> tuple[dt.date, dt.date | None]:
        self.used(seg, 3)
        fmt = seg.text(2)
        if fmt == "D8":
            return self.date(seg, 3), None
        if fmt == "RD8":
            start, sep, end = seg.text(3).partition("-")
            if not sep:
                raise self.err(seg, f"{seg.text(3)!r} is not a date range (CCYYMMDD-CCYYMMDD)", 3)
            return self.date(seg, 3, start), self.date(seg, 3, end)
        raise self.err(seg, f"is {fmt or '(empty)'}; here it must be D8 or RD8", 2)

    def receiver(self, loop: Loop, base: dict[str, object], out: list[ClaimAck]) -> None:
        notes: list[str] = []
        for child in loop.children:
            if child.id == "2100B":
                self.name(child)
            elif child.id == "2200B":
                base["batch_reference"] = self.trace(child)
                notes = self.level_rejections(child, "information receiver")
            else:
                self.provider(child, dict(base), notes, out)

    def provider(self, loop: Loop, base: dict[str, object], notes: list[str], out: list[ClaimAck]) -> None:
        notes = list(notes)
        for child in loop.children:
            if child.id == "2100C":
                base["billing_provider_id"] = self.name(child)[1]
            elif child.id == "2200C":
                self.trace(child)
                notes.extend(self.level_rejections(child, "billing provider"))
            else:
                patient: dict[str, object] = dict(base)
                for sub in child.children:
                    if sub.id == "2100D":
                        patient["patient_name"], patient["member_id"] = self.name(sub)
                    else:
                        out.append(self.claim(sub, patient, notes))

    def claim(self, loop: Loop, base: dict[str, object], notes: list[str]) -> ClaimAck:
        fields: dict[str, object] = dict(base)
        fields["patient_control_number"] = self.trace(loop)
        statuses: list[_Status] = []
        messages: list[str] = []
        for seg in loop.segments[1:]:
            sid = seg.id
            if sid == "STC":
                found, note = self.statuses(seg)
                if not statuses:
                    fields["status_date"] = self.date(seg, 2) if seg.text(2) else None
                    action = seg.text(3)
                    if action and action not in ("U", "WQ"):
                        raise self.err(seg, f"{action!r} is not an action code of the 277CA (U, WQ)", 3)
                    fields["action"] = action or None
                    fields["charge"] = self.money(seg, 4, required=False)
                statuses.extend(found)
                if note:
                    messages.append(note)
            elif sid == "REF":
                self.used(seg, 2)
                value = self.required(seg, 2, "REF02 (the reference)")
                name = {"1K": "payer_claim_number", "D9": "clearinghouse_claim_number", "BLT": "bill_type"}
                fields[name[seg.text(1)]] = value
            elif sid == "DTP":
                fields["service_date"], fields["service_date_to"] = self.dtp(seg)
        deciding = next((s for s in statuses if s.rejected), statuses[0])
        messages = [s.text() for s in statuses if s is not deciding] + messages + notes
        lines = tuple(self.line(child) for child in loop.children)
        return ClaimAck(
            accepted=not deciding.rejected,
            category=deciding.category,
            status=deciding.status,
            entity=deciding.entity,
            messages=tuple(messages),
            line_statuses=lines,
            **fields,  # type: ignore[arg-type]
        )

    def line(self, loop: Loop) -> tuple[str, str, str]:
        svc = loop.start
        self.used(svc, 7, (3, 5, 6))
        if not svc.component(1, 2):
            raise self.err(svc, "the procedure code is required", 1, 2)
        self.money(svc, 2)
        control = ""
        status: _Status | None = None
        for seg in loop.segments[1:]:
            if seg.id == "STC":
                found, _note = self.statuses(seg, unused=(4, 12))
                if seg.text(2):
                    self.date(seg, 2)
                status = next((s for s in found if s.rejected), found[0])
            elif seg.id == "REF":
                self.used(seg, 2)
                value = self.required(seg, 2, "REF02 (the reference)")
                if seg.text(1) == "FJ":
                    control = value
            elif seg.id == "DTP":
                self.dtp(seg)
        assert status is not None  # the grammar requires the STC
        return control, status.category, status.status


def read_277ca(text: str, *, drop: Collection[str] = ()) -> list[ClaimAck]:
    """The claim acknowledgments of every 277CA (005010X214) transaction set in ``text``, in file order.

    Raises ``X12ParseError`` naming the segment at the first problem, and for a 277 claim status
    response (005010X212). ``drop`` lists element references the guide does not use that the caller
    accepts to lose.
    """
    with gc_paused():
        transactions = parse_277ca(text)
        reader = _Reader(frozenset(drop))
        out: list[ClaimAck] = []
        for tx in transactions:
            out.extend(reader.acks(tx))
        return out

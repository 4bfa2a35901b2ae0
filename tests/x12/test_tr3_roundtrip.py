# ruff: noqa: E501  -- the per-example table keeps one example per line
"""Read -> write round trip of the implementation-guide examples, diffed segment by segment.

Each 837P (005010X222A1) and 837I (005010X223A2) TR3 example in ``../shared/fixtures/x12/
stupidedi-tr3-examples`` is

1. corrected in memory by the named ``CORRECTIONS`` its row lists (the ICD-9 -> ICD-10 change every
   example needs, and the few places where an example breaks its own guide's rules);
2. read into claims with ``read_837(..., drop=...)``: the row's drop keys name the segments, loops and
   elements the claim model does not carry (each key is checked to be needed);
3. written back with ``build_837p``/``build_837i`` using the example's own delimiters and envelope:
   ISA/GS ids, usage and acknowledgment flags, the 1000A submitter and its contact, the 1000B receiver,
   BHT06, the GS date and the ISA13/GS06/ST02 control numbers as starting values;
4. compared with the *original* file, segment by segment: both are tokenized, the segments the drop
   keys name are taken out of the original, and the rest is aligned by position (difflib over segment
   identifiers and qualifiers, so a segment the writer leaves out or adds does not shift the others).

Envelope control numbers, dates and counts are not compared (``ENVELOPE``: ISA09/10/13, GS04-06,
ST02, SE01/02, GE02, IEA02 and the batch reference, date and time in BHT03-05); the written file is read
back instead, which checks its counts and control numbers. Every other difference must be explained by
the row: a correction it lists (the written value is then exactly the corrected one), an element drop
key (``OI06``: the model repeats CLM09 there), or a writer ``RULES`` entry. A difference outside the row
fails the test and prints the diff; an allowance a row lists but does not use fails it too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from medbill.core.claim import (
    Address,
    Claim,
    ClaimKind,
    Contact,
    EntityType,
    Provider,
    ProviderRole,
    example_claims,
    npi_check_digit,
)
from medbill.core.errors import X12ParseError
from medbill.x12.envelope import CounterControlNumbers, Delimiters, InterchangeSettings, format_r
from medbill.x12.read837 import Loop, parse_837, read_837
from medbill.x12.tokenizer import Interchange, Segment, X12Document, read_transactions, tokenize, write
from medbill.x12.write837 import build_837i, build_837p
from tests.x12.tr3 import TR3, icd10ize

# ---------------------------------------------------------------------------------------------------
# In-memory corrections of the examples (segment count unchanged; the files are used as they are)


def _per_segment(text: str, change: Callable[[Segment, str, bool], Segment]) -> str:
    """``text`` with ``change(segment, loop id, professional)`` applied to every segment."""
    (tx,) = parse_837(text, check_totals=False)
    professional = tx.kind is ClaimKind.PROFESSIONAL
    document = tokenize(text)
    interchanges = [
        Interchange(
            ic.delimiters, tuple(change(seg, tx.loop_of.get(seg.index, ""), professional) for seg in ic.segments)
        )
        for ic in document.interchanges
    ]
    return write(X12Document(tuple(interchanges), document.bom, document.leading))


def _set(seg: Segment, pos: int, value: str) -> Segment:
    elements = list(seg.elements) + [""] * (pos - len(seg.elements))
    elements[pos - 1] = value
    return seg._replace(elements=tuple(elements))


def _zip4(seg: Segment, loop: str, professional: bool) -> Segment:
    facility = "2310C" if professional else "2310E"
    if seg.id == "N4" and loop in ("2010AA", facility) and len(seg.text(3)) == 5:
        return _set(seg, 3, seg.text(3) + "0000")
    return seg


def _npi_check_digit(seg: Segment, loop: str, professional: bool) -> Segment:
    if seg.id == "NM1" and seg.text(8) == "XX" and len(seg.text(9)) == 9 and seg.text(9).isdigit():
        return _set(seg, 9, seg.text(9) + npi_check_digit(seg.text(9)))
    return seg


def _pay_to_zip(seg: Segment, loop: str, professional: bool) -> Segment:
    if seg.id == "N4" and loop == "2010AB" and seg.text(3) == "3111":
        return _set(seg, 3, "33111")
    return seg


def _plan_id_as_payer_id(seg: Segment, loop: str, professional: bool) -> Segment:
    if seg.id == "NM1" and loop == "2010BB" and seg.text(8) == "XV":
        return _set(seg, 8, "PI")
    return seg


def _statement_range(seg: Segment, loop: str, professional: bool) -> Segment:
    if seg.id == "DTP" and seg.text(1) == "434" and seg.text(2) == "RD8" and "-" not in seg.text(3):
        return _set(seg, 3, f"{seg.text(3)}-{seg.text(3)}")
    return seg


def _cl103(seg: Segment, loop: str, professional: bool) -> Segment:
    if seg.id == "CL1" and len(seg.text(3)) == 1:
        return _set(seg, 3, seg.text(3).rjust(2, "0"))
    return seg


@dataclass(frozen=True, slots=True)
class Correction:
    why: str
    apply: Callable[[str], str]


CORRECTIONS: dict[str, Correction] = {
    "icd10": Correction(
        "ICD-9-CM qualifiers and codes (BK/BF/PR/BN) as ICD-10-CM (ABK/ABF/APR/ABN, tests/x12/tr3.py table): "
        "medbill claims carry ICD-10 only",
        icd10ize,
    ),
    "zip+4": Correction(
        "5-digit ZIP of the billing provider (2010AA) or service facility (837P 2310C, 837I 2310E) completed "
        "to ZIP+4 with 0000: both 5010 guides require the 9-digit ZIP there, the examples predate the rule",
        lambda text: _per_segment(text, _zip4),
    ),
    "npi-check-digit": Correction(
        "a 9-digit NPI (2310C NM109 432198765) completed with its Luhn check digit: an NPI has 10 digits",
        lambda text: _per_segment(text, _npi_check_digit),
    ),
    "pay-to-zip": Correction(
        "2010AB N403 '3111' (a transcription slip: the same address is 33111 in the sibling example) as 33111",
        lambda text: _per_segment(text, _pay_to_zip),
    ),
    "plan-id": Correction(
        "2010BB NM108 XV (CMS national plan id) as PI: the claim model has one payer id, sent as PI",
        lambda text: _per_segment(text, _plan_id_as_payer_id),
    ),
    "statement-range": Correction(
        "837I DTP*434 RD8 with a single date as the one-day range D-D (RD8 is CCYYMMDD-CCYYMMDD)",
        lambda text: _per_segment(text, _statement_range),
    ),
    "cl103": Correction(
        "CL103 patient status '1' as '01' (a two-digit NUBC code)", lambda text: _per_segment(text, _cl103)
    ),
}

# ---------------------------------------------------------------------------------------------------
# Differences and the writer rules that explain some of them


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference: ``changed`` element, ``missing`` (in the example, not written) or ``extra``."""

    kind: str
    index: int  # segment position in the example (changed, missing) or in the written file (extra)
    loop: str  # loop of that segment
    example: str  # the example's segment text ("" for extra)
    written: str  # the written segment text ("" for missing)
    ref: str = ""  # changed: the element, as the guide names it ("N403", "HI01-2")
    old: str = ""
    new: str = ""

    def __str__(self) -> str:
        if self.kind == "changed":
            return f"segment {self.index} ({self.loop}) {self.ref}: {self.old!r} -> {self.new!r}   [{self.example}  =>  {self.written}]"
        text = self.example or self.written
        where = "example" if self.kind == "missing" else "written file"
        return f"{self.kind}: {where} segment {self.index} ({self.loop}) {text}"


@dataclass(frozen=True, slots=True)
class Context:
    """What the rules may look at: the example's segments and loop tree."""

    segments: dict[int, Segment]
    root: Loop


_REAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _r_format(d: Difference, ctx: Context) -> bool:
    return (
        d.kind == "changed"
        and bool(_REAL.fullmatch(d.old))
        and bool(_REAL.fullmatch(d.new))
        and Decimal(d.old) == Decimal(d.new)
        and d.new == format_r(Decimal(d.old))
    )


def _single_spaces(d: Difference, ctx: Context) -> bool:
    return d.kind == "changed" and d.old != d.new and d.new == " ".join(d.old.split())


def _one_day_rd8(d: Difference, ctx: Context) -> bool:
    if d.kind != "changed" or not d.example.startswith("DTP*472*RD8*"):
        return False
    start, _, end = ctx.segments[d.index].text(3).partition("-")
    return start == end and (d.ref, d.old, d.new) in (("DTP02", "RD8", "D8"), ("DTP03", f"{start}-{end}", start))


def _enclosing(root: Loop, loop_id: str, index: int) -> Loop:
    """The ``loop_id`` loop that holds the example's segment ``index``."""

    def holds(loop: Loop) -> bool:
        return any(s.index == index for s in loop.segments) or any(holds(c) for c in loop.children)

    return next(loop for loop in root.loops(loop_id) if holds(loop))


def _line_pos_is_claims(d: Difference, ctx: Context) -> bool:
    if d.kind != "changed" or (d.ref, d.new) != ("SV105", ""):
        return False
    return _enclosing(ctx.root, "2300", d.index).start.component(5, 1) == d.old


def _rendering_is_billing(d: Difference, ctx: Context) -> bool:
    if d.kind != "missing" or d.loop != "2310B":
        return False
    (billing,) = ctx.root.loops("2010AA")
    rendering = _enclosing(ctx.root, "2310B", d.index)
    return rendering.start.text(9) == billing.start.text(9) != ""


@dataclass(frozen=True, slots=True)
class Rule:
    why: str
    explains: Callable[[Difference, Context], bool]


RULES: dict[str, Rule] = {
    "r-format": Rule("amounts and quantities in the R form: no trailing zeros ('766.50' -> '766.5')", _r_format),
    "single-spaces": Rule("free text is written with single spaces (envelope.Elements.text)", _single_spaces),
    "one-day-rd8": Rule("a one-day service range (RD8 D-D) is written as D8 D: the same date", _one_day_rd8),
    "ein-digits": Rule(
        "the billing provider's EIN is written as its 9 digits, without the dash ('10-1234567' -> '101234567')",
        lambda d, ctx: (
            d.kind == "changed"
            and d.ref == "REF02"
            and d.example.startswith("REF*EI*")
            and d.new == d.old.replace("-", "")
            and len(d.new) == 9
        ),
    ),
    "sv105-is-clm05": Rule(
        "a line place of service equal to the claim's (CLM05-1) is not written: X222A1 SV105 is required only "
        "when it differs ('if not required ... do not send')",
        _line_pos_is_claims,
    ),
    "2310B-is-billing": Rule(
        "2310B rendering provider with the billing provider's NPI is not written: X222A1 2310B is required "
        "only when the rendering NPI differs from 2010AA ('if not required ... do not send')",
        _rendering_is_billing,
    ),
}

ENVELOPE = frozenset(
    {
        "ISA09",
        "ISA10",
        "ISA13",
        "GS04",
        "GS05",
        "GS06",
        "ST02",
        "SE01",
        "SE02",
        "GE02",
        "IEA02",
        "BHT03",
        "BHT04",
        "BHT05",
    }
)
"""Control numbers, dates and counts of the envelope and the batch header: not compared."""

# ---------------------------------------------------------------------------------------------------
# The examples: drop keys (what the model does not carry), corrections, writer rules


@dataclass(frozen=True, slots=True)
class Expected:
    drop: frozenset[str]
    corrections: tuple[str, ...]
    rules: tuple[str, ...] = ()


def _e(drop: str, corrections: str, rules: str = "") -> Expected:
    return Expected(frozenset(drop.split()), tuple(corrections.split()), tuple(rules.split()))


EXAMPLES: dict[str, Expected] = {
    # 837P
    "X222A1_HC837__COB-claim-from-billing-provider-to-payer-a.edi": _e("OI06 REF*G2", "icd10 zip+4", "2310B-is-billing"),
    "X222A1_HC837__COB-claim-from-billing-provider-to-payer-b.edi": _e("OI04 OI06 REF*G2", "icd10 zip+4 pay-to-zip", "2310B-is-billing"),
    "X222A1_HC837__COB-claim-from-payer-a-to-payer-b-in-payer-to-payer.edi": _e("2330D OI06 REF*G2", "icd10 zip+4", "2310B-is-billing"),
    "X222A1_HC837__ambulance.edi": _e("2310E 2310F CR1 CRC*07 NTE*ADD QTY*PT SV109", "icd10", "r-format"),
    "X222A1_HC837__anesthesia.edi": _e("REF*1G", "icd10 zip+4 npi-check-digit"),
    "X222A1_HC837__chiropractic.edi": _e("CR2 DTP*453 DTP*454 DTP*455", "icd10 zip+4"),
    "X222A1_HC837__commercial-health-insurance.edi": _e("REF*D9 REF*G2", "icd10 zip+4", "single-spaces"),
    "X222A1_HC837__drug-administered-in-the-physician-office.edi": _e("AMT*T", "icd10 zip+4 plan-id", "sv105-is-clm05"),
    "X222A1_HC837__encounter.edi": _e("BHT06*RP REF*D9", "icd10 zip+4"),
    "X222A1_HC837__home-infusion-therapy-pharmacy-_adjudicated-with-HCPCS-in-loop-2400-or-NDC-in-loop-2410_.edi": _e("DTP*471 REF*XZ", "icd10 zip+4 plan-id", "ein-digits r-format sv105-is-clm05"),
    "X222A1_HC837__home-infusion-therapy-pharmacy-_adjudicated-with-NDC-in-loop-2410_.edi": _e("DTP*471 REF*XZ", "icd10 zip+4 plan-id", "ein-digits r-format sv105-is-clm05"),
    "X222A1_HC837__medicare-secondary-payer-COB.edi": _e("AMT*A8 REF*1G REF*G2", "icd10 zip+4"),
    "X222A1_HC837__out-of-network-repriced-claim.edi": _e("HCP OI04 REF*9A REF*D9", "icd10"),
    "X222A1_HC837__oxygen.edi": _e("2440 CR3 DTP*461 DTP*463 DTP*607 PWK REF*1G", "icd10 zip+4", "one-day-rd8"),
    "X222A1_HC837__ppo-repriced-claim.edi": _e("HCP REF*9A REF*D9", "icd10"),
    "X222A1_HC837__wheelchair.edi": _e("2440 CR3 DTP*461 DTP*463 MEA PAT PWK REF*1G", "icd10 zip+4", "one-day-rd8"),
    # 837I
    "X223A2_HC837__837-institutional-claim.edi": _e("REF*1G REF*G2", "icd10 zip+4 statement-range"),
    "X223A2_HC837__automobile-accident.edi": _e("REF*Y4", "icd10 zip+4 cl103"),
    "X223A2_HC837__out-of-network-repriced-claim.edi": _e("AMT*F3 HCP REF*9A REF*D9", "icd10"),
    "X223A2_HC837__ppo-repriced-claim.edi": _e("AMT*F3 HCP REF*9A REF*D9", "icd10"),
    "X223A2_HC837__two-claims-for-the-same-provider.edi": _e("REF*1G", "icd10 zip+4"),
}  # fmt: skip

DROP_WHY: dict[str, str] = {
    # secondary identifiers: the model identifies providers by NPI and payers by one payer id
    "REF*G2": "provider commercial number", "REF*1G": "provider UPIN", "REF*Y4": "property and casualty claim number",
    # claim and line data outside the model
    "REF*D9": "clearinghouse trace number", "REF*9A": "repriced claim number", "REF*XZ": "prescription number",
    "HCP": "repricing information", "AMT*T": "sales tax", "AMT*A8": "other payer non-covered amount",
    "AMT*F3": "patient estimated amount due", "PWK": "attachment", "NTE*ADD": "line note (the model has a claim note only)",
    "CR1": "ambulance transport", "CRC*07": "ambulance certification", "QTY*PT": "ambulance patient count",
    "CR2": "spinal manipulation", "CR3": "DME certification", "MEA": "test result", "PAT": "patient weight (2000B)",
    "DTP*453": "acute manifestation date", "DTP*454": "initial treatment date", "DTP*455": "last x-ray date",
    "DTP*461": "last certification date", "DTP*463": "begin therapy date", "DTP*471": "prescription date",
    "DTP*607": "certification revision date", "SV109": "emergency indicator",
    "2310E": "ambulance pick-up location loop", "2310F": "ambulance drop-off location loop",
    "2330D": "other payer rendering provider loop", "2440": "DME form (LQ/FRM) loop",
    "OI04": "other-payer OI04 unlike CLM10: the model repeats the claim's value there",
    "OI06": "other-payer OI06 unlike CLM09: the model repeats the claim's value there",
    "BHT06*RP": "an encounter (RP): the reader keeps chargeable batches; the writer sends BHT06 from settings",
}  # fmt: skip
"""What each drop key loses (the reader names the key when it refuses; the model does not carry it)."""


# ---------------------------------------------------------------------------------------------------
# Settings from the example's envelope


def envelope_of(text: str) -> tuple[InterchangeSettings, dt.datetime, CounterControlNumbers]:
    """The writer settings, time and control numbers that reproduce the example's envelope."""
    document = tokenize(text)
    (tx,) = read_transactions(document)
    isa, gs, body = tx.isa, tx.gs, tx.body
    submitter = next(s for s in body if s.id == "NM1" and s.text(1) == "41")
    per = next(s for s in body if s.id == "PER")
    receiver = next(s for s in body if s.id == "NM1" and s.text(1) == "40")
    names = {"TE": "phone", "EX": "phone_extension", "FX": "fax", "EM": "email"}
    numbers = {names[per.text(pos)]: per.text(pos + 1) for pos in (3, 5, 7) if per.text(pos)}
    d = tx.delimiters
    assert d.repetition is not None
    settings = InterchangeSettings(
        sender_qualifier=isa.text(5),
        sender_id=isa.text(6),
        receiver_qualifier=isa.text(7),
        receiver_id=isa.text(8),
        application_sender_code=gs.text(2),
        application_receiver_code=gs.text(3),
        submitter_name=submitter.text(3),
        submitter_is_person=submitter.text(2) == "1",
        submitter_first_name=submitter.text(4) or None,
        submitter_id=submitter.text(9),
        submitter_contact=Contact(name=per.text(2) or None, **numbers),
        receiver_name=receiver.text(3),
        receiver_primary_id=receiver.text(9),
        usage_indicator=isa.text(15),
        acknowledgment_requested=isa.text(14) == "1",
        transaction_type=body[0].text(6),
        delimiters=Delimiters(element=d.element, component=d.component, repetition=d.repetition, segment=d.segment),
    )
    when = dt.datetime.strptime(gs.text(4) + gs.text(5)[:4], "%Y%m%d%H%M")
    numbers_from = CounterControlNumbers(
        interchange=int(isa.text(13)), group=int(gs.text(6)), transaction=int(tx.st.text(2))
    )
    return settings, when, numbers_from


# ---------------------------------------------------------------------------------------------------
# The diff


_QUALIFIED = frozenset({"NM1", "REF", "DTP", "AMT", "PER", "PRV", "CRC", "NTE", "QTY", "CAS"})


def _key(seg: Segment) -> str:
    """What aligns two segments: the identifier, with its qualifier for qualified segments."""
    if seg.id in _QUALIFIED:
        return f"{seg.id}*{seg.component(1, 1)}"
    if seg.id == "HL":
        return f"HL*{seg.text(3)}"
    return seg.id


def _text(seg: Segment) -> str:
    """The segment as text for the report (``*`` and ``:``, whatever the file's delimiters)."""
    return "*".join((seg.id, *(e if isinstance(e, str) else ":".join(e) for e in seg.elements)))


def element_differences(a: Segment, b: Segment) -> list[tuple[str, str, str]]:
    """(reference, value in a, value in b) for each element or component that differs."""
    out: list[tuple[str, str, str]] = []
    for pos in range(1, max(len(a.elements), len(b.elements)) + 1):
        ca, cb = a.components(pos), b.components(pos)
        if a.id == "ISA":  # ISA elements are never composites
            ca, cb = (a.text(pos),), (b.text(pos),)
        if ca == cb:
            continue
        if len(ca) == 1 and len(cb) == 1:
            out.append((a.ref(pos), ca[0], cb[0]))
            continue
        for sub in range(1, max(len(ca), len(cb)) + 1):
            x = ca[sub - 1] if sub <= len(ca) else ""
            y = cb[sub - 1] if sub <= len(cb) else ""
            if x != y:
                out.append((a.ref(pos, sub), x, y))
    return out


def _dropped(root: Loop, drop: frozenset[str]) -> dict[int, str]:
    """Segment index -> drop key, for the example's segments the drop keys name (uncarried ones only)."""
    out: dict[int, str] = {}

    def everything(loop: Loop, key: str) -> None:
        for seg in loop.segments:
            out[seg.index] = key
        for child in loop.children:
            everything(child, key)

    def walk(loop: Loop) -> None:
        for seg, d in zip(loop.segments, loop.defs, strict=True):
            key = d.id if d.quals is None else f"{d.id}*{seg.component(d.qpos, 1)}"
            if d.tag is None and key in drop:
                out[seg.index] = key
        for child in loop.children:
            if child.id in drop and not child.definition.carried:
                everything(child, child.id)
            else:
                walk(child)

    walk(root)
    return out


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """The outcome for one example: its differences, each with what explains it (None: unexplained)."""

    name: str
    written: str
    dropped: dict[int, str]  # example segment index -> drop key
    differences: list[tuple[Difference, str | None]]

    @property
    def unexplained(self) -> list[Difference]:
        return [d for d, why in self.differences if why is None]

    def used(self) -> set[str]:
        return {why for _, why in self.differences if why is not None} | set(self.dropped.values())

    def report(self) -> str:
        lines = [f"{self.name}: {len(self.dropped)} example segments dropped, {len(self.differences)} differences"]
        for d, why in self.differences:
            lines.append(f"  {'UNEXPLAINED' if why is None else why:>18}  {d}")
        return "\n".join(lines)


def corrected(raw: str, names: tuple[str, ...]) -> tuple[str, dict[int, dict[tuple[str, str, str], str]]]:
    """The example after its corrections, and per segment index the element changes each made."""
    text = raw
    changes: dict[int, dict[tuple[str, str, str], str]] = {}
    for name in names:
        before = list(tokenize(text).segments)
        text = CORRECTIONS[name].apply(text)
        after = list(tokenize(text).segments)
        assert len(before) == len(after), f"correction {name} changed the segment count"
        for a, b in zip(before, after, strict=True):
            for change in element_differences(a, b):
                changes.setdefault(a.index, {})[change] = name
    return text, changes


def roundtrip(raw: str, name: str, expected: Expected, *, written: str | None = None) -> RoundTrip:
    """Read the corrected example, write it back, diff against ``raw`` (``written`` replaces the writer's output)."""
    source, changes = corrected(raw, expected.corrections)
    claims = read_837(source, drop=expected.drop)
    if written is None:
        settings, when, numbers = envelope_of(raw)
        build = build_837p if name.startswith("X222") else build_837i
        written = build(claims, settings, numbers, when=when).text

    (tx,) = parse_837(raw)
    dropped = _dropped(tx.root, expected.drop)
    example = [s for s in tokenize(raw).segments if s.index not in dropped]
    (wtx,) = parse_837(written)
    output = list(tokenize(written).segments)
    ctx = Context({s.index: s for s in example}, tx.root)

    out: list[tuple[Difference, str | None]] = []

    def explain(d: Difference) -> str | None:
        if d.kind == "changed":
            made = changes.get(d.index, {}).get((d.ref, d.old, d.new))
            if made is not None:
                return made
            if d.ref in expected.drop:  # an element the model does not carry (OI04, SV109 ...)
                return d.ref
        for rule in expected.rules:
            if RULES[rule].explains(d, ctx):
                return rule
        return None

    matcher = difflib.SequenceMatcher(None, [_key(s) for s in example], [_key(s) for s in output], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for a, b in zip(example[i1:i2], output[j1:j2], strict=True):
                for ref, old, new in element_differences(a, b):
                    if ref in ENVELOPE:
                        continue
                    d = Difference("changed", a.index, tx.loop_of.get(a.index, ""), _text(a), _text(b), ref, old, new)
                    out.append((d, explain(d)))
            continue
        for a in example[i1:i2]:
            d = Difference("missing", a.index, tx.loop_of.get(a.index, ""), _text(a), "")
            out.append((d, explain(d)))
        for b in output[j1:j2]:
            d = Difference("extra", b.index, wtx.loop_of.get(b.index, ""), "", _text(b))
            out.append((d, explain(d)))
    return RoundTrip(name, written, dropped, out)


# ---------------------------------------------------------------------------------------------------
# Tests


def _raw(fixtures_dir: Path, name: str) -> str:
    return (fixtures_dir / TR3 / name).read_bytes().decode("utf-8")


def test_every_837_example_is_listed(fixtures_dir: Path) -> None:
    files = sorted(p.name for p in (fixtures_dir / TR3).glob("*HC837*"))
    assert sorted(EXAMPLES) == files
    assert len([f for f in files if f.startswith("X222A1")]) == 16
    assert len([f for f in files if f.startswith("X223A2")]) == 5
    used = {key for expected in EXAMPLES.values() for key in expected.drop}
    assert used == set(DROP_WHY), "every drop key is explained in DROP_WHY, and only those used"


@pytest.fixture(scope="module")
def roundtrips(fixtures_dir: Path) -> dict[str, RoundTrip]:
    """Every example's round trip, computed once."""
    return {name: roundtrip(_raw(fixtures_dir, name), name, expected) for name, expected in EXAMPLES.items()}


@pytest.mark.parametrize(
    "name", sorted(EXAMPLES), ids=[n.split("__")[0][:6] + ":" + n.split("__")[1][:40] for n in sorted(EXAMPLES)]
)
def test_read_write_diff(fixtures_dir: Path, roundtrips: dict[str, RoundTrip], name: str) -> None:
    expected = EXAMPLES[name]
    raw = _raw(fixtures_dir, name)
    result = roundtrips[name]
    assert not result.unexplained, "differences outside the allow-list:\n" + result.report()
    # every allowance is needed: each correction and rule explains a difference, each drop key is one
    # the reader refuses without
    unused = (set(expected.corrections) | set(expected.rules)) - result.used()
    assert not unused, f"allowances not used: {sorted(unused)}\n{result.report()}"
    source, _ = corrected(raw, expected.corrections)
    for key in expected.drop:
        with pytest.raises(X12ParseError, match=re.escape(f"pass drop={{{key!r}}}")):
            read_837(source, drop=expected.drop - {key})
    # the written file reads back (structure, counts, control numbers) to the same claims, and has the
    # example's segments less the dropped and missing ones, plus the extra ones
    kind = ClaimKind.PROFESSIONAL if name.startswith("X222") else ClaimKind.INSTITUTIONAL
    claims = read_837(source, drop=expected.drop)
    again = read_837(result.written, drop=expected.drop)
    assert [(c.kind, c.id, c.total_charge, len(c.lines)) for c in again] == [
        (kind, c.id, c.total_charge, len(c.lines)) for c in claims
    ]
    missing = sum(1 for d, _ in result.differences if d.kind == "missing")
    extra = sum(1 for d, _ in result.differences if d.kind == "extra")
    assert (
        len(list(tokenize(result.written).segments))
        == len(list(tokenize(raw).segments)) - len(result.dropped) - missing + extra
    )


@pytest.mark.parametrize("prefix", ["X222A1", "X223A2"])
def test_pyx12_accepts_what_was_written(roundtrips: dict[str, RoundTrip], prefix: str) -> None:
    """The independent validator on the written files (one run per guide: ISA13 made unique per file).

    pyx12 rejects 3 of the 5 original 837I examples (its map's gaps, see fixtures/x12/README.md) and 2 of
    the 16 837P (PWK on DME lines); what medbill writes back from them, it accepts with no error.
    """
    from tests.x12.test_write837 import pyx12_errors

    texts: list[str] = []
    for k, name in enumerate(n for n in sorted(roundtrips) if n.startswith(prefix)):
        document = tokenize(roundtrips[name].written)
        (ic,) = document.interchanges
        segs = list(ic.segments)
        segs[0] = _set(segs[0], 13, f"{k + 1:09d}")
        segs[-1] = _set(segs[-1], 2, f"{k + 1:09d}")
        texts.append(write(X12Document((Interchange(ic.delimiters, tuple(segs)),))))
    assert len(texts) == (16 if prefix == "X222A1" else 5)
    assert pyx12_errors("".join(texts)) == []


COMMERCIAL = "X222A1_HC837__commercial-health-insurance.edi"


def test_diff_reports_a_changed_amount(fixtures_dir: Path) -> None:
    """The diff can fail: a line charge the writer got wrong is an unexplained difference."""
    raw = _raw(fixtures_dir, COMMERCIAL)
    good = roundtrip(raw, COMMERCIAL, EXAMPLES[COMMERCIAL])
    assert not good.unexplained
    bad = roundtrip(
        raw, COMMERCIAL, EXAMPLES[COMMERCIAL], written=good.written.replace("SV1*HC:87070*15*", "SV1*HC:87070*16*")
    )
    (d,) = bad.unexplained
    assert (d.kind, d.loop, d.ref, d.old, d.new) == ("changed", "2400", "SV102", "15", "16")
    assert "SV102: '15' -> '16'" in bad.report()


def test_diff_reports_a_lost_segment_and_a_wrong_qualifier(fixtures_dir: Path) -> None:
    raw = _raw(fixtures_dir, COMMERCIAL)
    good = roundtrip(raw, COMMERCIAL, EXAMPLES[COMMERCIAL])
    written = good.written.replace("PRV*BI*PXC*203BF0100Y~", "").replace("SE*40*", "SE*39*")
    written = written.replace("HI*ABK:J020*ABF:Z1159", "HI*ABK:J020*ABJ:Z1159")
    bad = roundtrip(raw, COMMERCIAL, EXAMPLES[COMMERCIAL], written=written)
    assert sorted((d.kind, d.loop, d.ref, d.old, d.new) for d in bad.unexplained) == [
        ("changed", "2300", "HI02-1", "BF", "ABJ"),
        ("missing", "2000A", "", "", ""),
    ]


def test_rules_explain_only_their_own_differences(fixtures_dir: Path) -> None:
    """A rule is narrow: the R form accepts '8.20' -> '8.2' but not '8.20' -> '8.21' or '8' -> '8.0'."""
    ctx = Context({}, parse_837(_raw(fixtures_dir, COMMERCIAL))[0].root)

    def changed(old: str, new: str, example: str = "SV1*HC:A0425:RH*8.20") -> Difference:
        return Difference("changed", 1, "2400", example, "", "SV102", old, new)

    assert RULES["r-format"].explains(changed("8.20", "8.2"), ctx)
    assert RULES["r-format"].explains(changed(".75", "0.75"), ctx)
    assert not RULES["r-format"].explains(changed("8.20", "8.21"), ctx)
    assert not RULES["r-format"].explains(changed("8", "8.0"), ctx)
    assert RULES["single-spaces"].explains(changed("236 N MAIN  ST", "236 N MAIN ST"), ctx)
    assert not RULES["single-spaces"].explains(changed("236 N MAIN ST", "236 MAIN ST"), ctx)
    # a 2310B left out is explained only when its NPI is the billing provider's
    for name, same in (
        ("X222A1_HC837__COB-claim-from-billing-provider-to-payer-a.edi", True),
        ("X222A1_HC837__anesthesia.edi", False),
    ):
        root = parse_837(_raw(fixtures_dir, name))[0].root
        (rendering,) = root.loops("2310B")
        missing = Difference("missing", rendering.start.index, "2310B", "", "")
        assert RULES["2310B-is-billing"].explains(missing, Context({}, root)) is same


# ---------------------------------------------------------------------------------------------------
# Writer fixes found by the round trip: 2420E ordering provider address/contact, 2310C contact


def test_ordering_provider_address_and_contacts_are_written_and_read_back() -> None:
    from tests.x12.test_write837 import SETTINGS, WHEN, pyx12_errors

    base = example_claims()[0]
    facility = Provider(
        role=ProviderRole.SERVICE_FACILITY,
        organization_name="TESTSURGERY CENTER",
        npi="123456789" + npi_check_digit("123456789"),
        address=Address(line1="5 TEST PLAZA", city="ANYTOWN", state="MD", zip="212440005"),
        contact=Contact(name="TESTFRONT DESK", phone="5555550142", phone_extension="7"),
    )
    ordering = Provider(
        role=ProviderRole.ORDERING,
        entity_type=EntityType.PERSON,
        last_name="TESTORDERER",
        first_name="PAT",
        npi="199990007" + npi_check_digit("199990007"),
        address=Address(line1="9 TEST ROAD", city="ANYTOWN", state="MD", zip="21244"),
        contact=Contact(name="TESTORDER LINE", phone="5555550177"),
    )
    line = dataclasses.replace(base.lines[0], ordering_provider=ordering)
    claim: Claim = dataclasses.replace(base, service_facility=facility, lines=(line, *base.lines[1:]))
    text = build_837p([claim], SETTINGS, CounterControlNumbers(), when=WHEN).text
    segments = text.split("~")
    dk = next(i for i, s in enumerate(segments) if s.startswith("NM1*DK*"))
    assert segments[dk + 1 : dk + 4] == ["N3*9 TEST ROAD", "N4*ANYTOWN*MD*21244", "PER*IC*TESTORDER LINE*TE*5555550177"]
    fac = next(i for i, s in enumerate(segments) if s.startswith("NM1*77*"))
    assert segments[fac + 3] == "PER*IC*TESTFRONT DESK*TE*5555550142*EX*7"
    (back,) = read_837(text)
    assert back.lines[0].ordering_provider == ordering
    assert back.service_facility == facility
    assert pyx12_errors(text) == []

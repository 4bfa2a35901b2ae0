"""A deterministic payer simulator: answers an 837 batch with a 999, a 277CA and an 835.

Reads an 837P/837I interchange (005010X222A1 / 005010X223A2) and writes what a payer's front end and
adjudication would send back:

- 999 (005010X231A1): each 837 transaction set accepted (IK5*A), or rejected (IK5*R) per the rules;
- 277CA (005010X214): each claim of an accepted set accepted (STC A2:20) or rejected (STC A7) per the
  rules (e.g. subscriber ids starting with "X");
- 835 (005010X221A1): one payment per payer and billing provider for the accepted claims: allowed =
  charge × ratio, CO-45 for the rest, PR-1/2/3 deductible, coinsurance and copay, line denials by CARC,
  optionally a reversal (CLP02 22) + corrected claim and a PLB WO take-back. Balanced at all three levels.

Same 837, same rules, same seed → the same bytes (dates come from the 837's GS04/GS05, never the clock).
Rules are a small mapping (YAML or JSON file) with defaults — see ``SimulationRules``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from medbill.core.claim import Claim, ClaimKind
from medbill.core.errors import MedbillError
from medbill.x12.envelope import format_d8, format_r
from medbill.x12.read837 import read_837
from medbill.x12.tokenizer import tokenize

__all__ = ["SimulationError", "SimulationResult", "SimulationRules", "load_rules", "rules_from_mapping", "simulate"]

CENT = Decimal("0.01")
_CLP06 = {"MA", "MB", "MC", "HM", "VA", "WC", "CH", "OF", "TV", "AM", "LM", "DS", "12", "13", "14", "15", "16"}


class SimulationError(MedbillError):
    """The batch or the rules cannot be simulated."""

    code = "simulation"


@dataclass(frozen=True, slots=True, kw_only=True)
class Denial:
    """Deny every line with ``procedure`` (or every line of claims whose id is listed) under group/CARC."""

    carc: str
    group: str = "CO"
    procedure: str | None = None
    claim: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationRules:
    allowed_ratio: Decimal = Decimal("0.8")  # allowed = charge × ratio (CO-45 for the rest)
    deductible: Decimal = Decimal("0")  # PR-1 per claim, from the first lines' allowed amounts
    coinsurance_ratio: Decimal = Decimal("0.2")  # PR-2 = ratio × (allowed − deductible − copay)
    copay: Decimal = Decimal("0")  # PR-3 on each claim's first line
    reject_member_prefixes: tuple[str, ...] = ("X",)  # 277CA: subscriber member id starts with → A7:164
    reject_transaction_sets: tuple[str, ...] = ()  # 999: ST02 values to reject ("*" = all)
    denials: tuple[Denial, ...] = ()
    reverse_claims: tuple[str, ...] = ()  # CLM01 values paid as reversal + corrected claim
    take_backs: tuple[tuple[str, Decimal], ...] = ()  # (CLM01, amount): PLB WO against that claim's ICN
    payer_name: str = "TEST SIMULATED PAYER"
    payer_tax_id: str = "999999999"  # TRN03 = "1" + this
    payer_phone: str = "5555550123"


@dataclass(frozen=True, slots=True)
class SimulationResult:
    ack_999: str
    ack_277ca: str
    remit_835: str
    accepted: tuple[str, ...]  # CLM01 accepted by the 277CA
    rejected: tuple[str, ...]  # CLM01 rejected (999 or 277CA)
    paid: Decimal  # Σ BPR02


def _decimal(value: object, name: str) -> Decimal:
    try:
        out = Decimal(str(value))
    except Exception as exc:
        raise SimulationError(f"rules {name}: {value!r} is not a number") from exc
    if not out.is_finite() or out < 0:
        raise SimulationError(f"rules {name}: {value!r} must be a non-negative number")
    return out


def rules_from_mapping(data: Mapping[str, Any]) -> SimulationRules:
    """Rules from a mapping (keys as ``SimulationRules`` fields; unknown keys refused)."""
    known = {f.name for f in dataclasses.fields(SimulationRules)}
    unknown = set(data) - known
    if unknown:
        raise SimulationError(f"unknown rules {sorted(unknown)}", hint=f"known: {sorted(known)}")
    kw: dict[str, Any] = {}
    for name in ("allowed_ratio", "deductible", "coinsurance_ratio", "copay"):
        if name in data:
            kw[name] = _decimal(data[name], name)
    for name in ("allowed_ratio", "coinsurance_ratio"):
        if name in kw and kw[name] > 1:
            raise SimulationError(f"rules {name}: must be between 0 and 1")
    for name in ("reject_member_prefixes", "reject_transaction_sets", "reverse_claims"):
        if name in data:
            value = data[name]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SimulationError(f"rules {name}: a list of strings")
            kw[name] = tuple(value)
    if "denials" in data:
        items = data["denials"]
        if not isinstance(items, list):
            raise SimulationError("rules denials: a list of {carc, group, procedure | claim}")
        out: list[Denial] = []
        for k, item in enumerate(items):
            if not isinstance(item, dict) or "carc" not in item or set(item) - {"carc", "group", "procedure", "claim"}:
                raise SimulationError(f"rules denials[{k}]: needs carc, and procedure or claim")
            group = str(item.get("group", "CO"))
            if group not in {"CO", "PR", "OA", "PI"}:
                raise SimulationError(f"rules denials[{k}].group: {group!r} is not CO, PR, OA or PI")
            out.append(
                Denial(
                    carc=str(item["carc"]),
                    group=group,
                    procedure=str(item["procedure"]) if "procedure" in item else None,
                    claim=str(item["claim"]) if "claim" in item else None,
                )
            )
        kw["denials"] = tuple(out)
    if "take_backs" in data:
        tb = data["take_backs"]
        if not isinstance(tb, dict):
            raise SimulationError("rules take_backs: a mapping CLM01 → amount")
        kw["take_backs"] = tuple((str(k), _decimal(v, f"take_backs.{k}")) for k, v in tb.items())
    for name in ("payer_name", "payer_tax_id", "payer_phone"):
        if name in data:
            kw[name] = str(data[name])
    return SimulationRules(**kw)


def load_rules(path: Path) -> SimulationRules:
    """Rules from a YAML or JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SimulationError(f"{path}: cannot read the rules: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SimulationError(f"{path}: the rules are a mapping")
    return rules_from_mapping(data)


# ---------------------------------------------------------------------------------------------------
# the batch


@dataclass
class _Set:
    control: str  # ST02
    version: str  # ST03
    claims: list[Claim] = field(default_factory=list)


@dataclass
class _Batch:
    sender: tuple[str, str]  # ISA05/06
    receiver: tuple[str, str]  # ISA07/08
    gs_sender: str
    gs_receiver: str
    group_control: str
    version: str
    when: dt.datetime
    reference: str  # BHT03 of the first set
    submitter_name: str
    submitter_id: str
    sets: list[_Set]


def _batch(text: str) -> _Batch:
    claims = read_837(text)
    doc = tokenize(text)
    isa: tuple[str, ...] = ()
    gs: tuple[str, ...] = ()
    sets: list[_Set] = []
    reference = submitter_name = submitter_id = ""
    for seg in doc.segments:
        if seg.id == "ISA" and not isa:
            isa = tuple(seg.text(i) for i in range(1, 17))
        elif seg.id == "GS" and not gs:
            gs = tuple(seg.text(i) for i in range(1, 9))
        elif seg.id == "ST":
            sets.append(_Set(seg.text(2), seg.text(3)))
        elif seg.id == "BHT" and not reference:
            reference = seg.text(3)
        elif seg.id == "NM1" and seg.text(1) == "41" and not submitter_name:
            submitter_name, submitter_id = seg.text(3), seg.text(9)
        elif seg.id == "CLM":
            if not sets or not claims:
                raise SimulationError("the 837 has a CLM outside a transaction set")
            sets[-1].claims.append(claims.pop(0))
    if not isa or not gs or not sets:
        raise SimulationError("the batch has no ISA/GS/ST: not an 837 interchange")
    try:
        when = dt.datetime.strptime(gs[3] + gs[4][:4], "%Y%m%d%H%M")
    except ValueError as exc:
        raise SimulationError(f"GS04/GS05 {gs[3]!r}/{gs[4]!r} is not a date and time") from exc
    return _Batch(
        sender=(isa[4], isa[5].strip()),
        receiver=(isa[6], isa[7].strip()),
        gs_sender=gs[1],
        gs_receiver=gs[2],
        group_control=gs[5],
        version=gs[7],
        when=when,
        reference=reference,
        submitter_name=submitter_name,
        submitter_id=submitter_id,
        sets=sets,
    )


class _Out:
    """Segments of one interchange, enveloped with the answering party as sender."""

    def __init__(self, batch: _Batch, rng: random.Random, functional_id: str, version: str) -> None:
        self.batch, self.functional_id, self.version = batch, functional_id, version
        self.isa13 = f"{rng.randrange(1, 10**9):09d}"
        self.gs06 = str(rng.randrange(1, 10**9))
        self.sets: list[list[str]] = []

    def transaction(self, ident: str, segments: list[list[str]]) -> None:
        st02 = f"{len(self.sets) + 1:04d}"
        # ST03 is not used in the 835 (X221A1)
        body = [["ST", ident, st02] if ident == "835" else ["ST", ident, st02, self.version], *segments]
        body.append(["SE", str(len(body) + 1), st02])
        self.sets.append([_seg(s) for s in body])

    def text(self) -> str:
        b, w = self.batch, self.batch.when
        isa = (
            f"ISA*00*{' ' * 10}*00*{' ' * 10}*{b.receiver[0]}*{b.receiver[1].ljust(15)}*{b.sender[0]}*"
            f"{b.sender[1].ljust(15)}*{w:%y%m%d}*{w:%H%M}*^*00501*{self.isa13}*0*T*:"
        )
        lines = [
            isa,
            _seg(
                [
                    "GS",
                    self.functional_id,
                    b.gs_receiver,
                    b.gs_sender,
                    f"{w:%Y%m%d}",
                    f"{w:%H%M}",
                    self.gs06,
                    "X",
                    self.version,
                ]
            ),
        ]
        for s in self.sets:
            lines.extend(s)
        lines += [f"GE*{len(self.sets)}*{self.gs06}", f"IEA*1*{self.isa13}"]
        return "".join(line + "~\n" for line in lines)


def _seg(elements: list[str]) -> str:
    return "*".join(elements).rstrip("*")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------------
# 999 and 277CA


def _ack_999(batch: _Batch, rules: SimulationRules, rng: random.Random) -> tuple[str, set[str]]:
    out = _Out(batch, rng, "FA", "005010X231A1")
    rejected: set[str] = set()
    segs: list[list[str]] = [["AK1", "HC", batch.group_control, batch.version]]
    for s in batch.sets:
        segs.append(["AK2", "837", s.control, s.version])
        if "*" in rules.reject_transaction_sets or s.control in rules.reject_transaction_sets:
            rejected.add(s.control)
            # the BHT (segment 2 of the set) reported as having an element error: a simulated rejection
            segs += [["IK3", "BHT", "2", "", "8"], ["IK4", "3", "127", "7"], ["IK5", "R", "5"]]
        else:
            segs.append(["IK5", "A"])
    n = len(batch.sets)
    accepted = n - len(rejected)
    status = "A" if not rejected else ("R" if accepted == 0 else "P")
    segs.append(["AK9", status, str(n), str(n), str(accepted)])
    out.transaction("999", segs)
    return out.text(), rejected


def _member(claim: Claim) -> str:
    return claim.coverage.subscriber.member_id or ""


def _dates(claim: Claim) -> tuple[dt.date | None, dt.date | None]:
    if claim.institutional is not None and claim.institutional.statement_from is not None:
        return claim.institutional.statement_from, claim.institutional.statement_to
    starts = [ln.service_date for ln in claim.lines if ln.service_date]
    ends = [ln.service_date_to or ln.service_date for ln in claim.lines if ln.service_date]
    return (min(starts), max(e for e in ends if e)) if starts else (None, None)


def _dtp(qualifier: str, start: dt.date, end: dt.date | None, tag: str = "DTP") -> list[str]:
    if end is not None and end != start:
        return [tag, qualifier, "RD8", f"{format_d8(start)}-{format_d8(end)}"]
    return [tag, qualifier, "D8", format_d8(start)]


def _ack_277(
    batch: _Batch, claims: list[Claim], rules: SimulationRules, icn: dict[str, str], rng: random.Random
) -> tuple[str, list[Claim], list[Claim]]:
    out = _Out(batch, rng, "HN", "005010X214")
    day = format_d8(batch.when.date())
    accepted = [
        c for c in claims if not _member(c).upper().startswith(tuple(p.upper() for p in rules.reject_member_prefixes))
    ]
    rejected = [c for c in claims if c not in accepted]
    acc_total = sum((c.total_charge for c in accepted), Decimal("0"))
    rej_total = sum((c.total_charge for c in rejected), Decimal("0"))
    segs: list[list[str]] = [
        ["BHT", "0085", "08", f"SIM{batch.reference}"[:50], day, f"{batch.when:%H%M}", "TH"],
        ["HL", "1", "", "20", "1"],
        ["NM1", "PR", "2", rules.payer_name, "", "", "", "", "PI", "SIMPAYER01"],
        ["TRN", "1", f"SIM{batch.group_control}"],
        ["DTP", "050", "D8", day],
        ["DTP", "009", "D8", day],
        ["HL", "2", "1", "21", "1"],
        [
            "NM1",
            "41",
            "2",
            batch.submitter_name or "SUBMITTER",
            "",
            "",
            "",
            "",
            "46",
            batch.submitter_id or "SUBMITTER",
        ],
        ["TRN", "2", batch.reference or batch.group_control],
        ["STC", "A1:19", day, "WQ", format_r(acc_total + rej_total)],
    ]
    if accepted:
        segs += [["QTY", "90", str(len(accepted))]]
    if rejected:
        segs += [["QTY", "AA", str(len(rejected))]]
    if accepted:
        segs += [["AMT", "YU", format_r(acc_total)]]
    if rejected:
        segs += [["AMT", "YY", format_r(rej_total)]]
    hl = 2
    by_provider: dict[str, list[Claim]] = {}
    for c in claims:
        by_provider.setdefault(c.billing_provider.npi or "", []).append(c)
    for npi, group in by_provider.items():
        hl += 1
        parent = hl
        bp = group[0].billing_provider
        name = bp.organization_name or bp.last_name or "PROVIDER"
        segs += [
            ["HL", str(hl), "2", "19", "1"],
            ["NM1", "85", "2" if bp.organization_name else "1", name, "", "", "", "", "XX", npi],
            ["TRN", "1", f"SIMPRV{parent}"],
            ["STC", "A1:19", "", "WQ", format_r(sum((c.total_charge for c in group), Decimal("0")))],
        ]
        for c in group:
            hl += 1
            sub = c.coverage.subscriber
            ok = c in accepted
            segs += [
                ["HL", str(hl), str(parent), "PT"],
                [
                    "NM1",
                    "QC",
                    "1",
                    sub.last_name,
                    sub.first_name or "",
                    sub.middle_name or "",
                    "",
                    "",
                    "MI",
                    _member(c),
                ],
                ["TRN", "2", c.id],
                ["STC", "A2:20" if ok else "A7:164:IL", day, "WQ" if ok else "U", format_r(c.total_charge)],
            ]
            if ok:
                segs.append(["REF", "1K", icn[c.id]])
            if c.kind is ClaimKind.INSTITUTIONAL and c.institutional is not None:
                segs.append(["REF", "BLT", f"{c.institutional.facility_type_code}{c.frequency.value}"])
            start, end = _dates(c)
            if start is not None:
                segs.append(_dtp("472", start, end))
    out.transaction("277", segs)
    return out.text(), accepted, rejected


# ---------------------------------------------------------------------------------------------------
# 835


@dataclass
class _Line:
    svc: list[str]
    charge: Decimal
    paid: Decimal
    cas: list[tuple[str, str, Decimal]]  # (group, CARC, amount)
    allowed: Decimal
    extra: list[list[str]]  # DTM / REF after the CAS


def _adjudicate(claim: Claim, rules: SimulationRules) -> list[_Line]:
    deductible = rules.deductible
    out: list[_Line] = []
    for k, line in enumerate(claim.lines):
        if line.procedure is not None:
            code = ":".join(["HC", line.procedure.value, *(m.value for m in line.modifiers)])
        elif line.revenue_code is not None:
            code = f"NU:{line.revenue_code.value}"
        else:
            raise SimulationError(f"claim {claim.id} line {line.line_number}: no procedure or revenue code")
        rev = line.revenue_code.value if line.revenue_code is not None and line.procedure is not None else ""
        charge = line.charge
        denial = next(
            (
                d
                for d in rules.denials
                if (d.claim == claim.id)
                or (d.procedure is not None and line.procedure is not None and d.procedure == line.procedure.value)
            ),
            None,
        )
        cas: list[tuple[str, str, Decimal]] = []
        if denial is not None:
            paid, allowed = Decimal("0"), Decimal("0")
            cas.append((denial.group, denial.carc, charge))
        else:
            allowed = _money(charge * rules.allowed_ratio)
            ded = min(deductible, allowed)
            deductible -= ded
            copay = min(rules.copay, allowed - ded) if k == 0 else Decimal("0")
            coins = _money((allowed - ded - copay) * rules.coinsurance_ratio)
            paid = allowed - ded - copay - coins
            for group, reason, amount in (
                ("CO", "45", charge - allowed),
                ("PR", "1", ded),
                ("PR", "2", coins),
                ("PR", "3", copay),
            ):
                if amount:
                    cas.append((group, reason, amount))
        extra: list[list[str]] = []
        if line.service_date is not None:
            if line.service_date_to is not None and line.service_date_to != line.service_date:
                extra.append(["DTM", "150", format_d8(line.service_date)])
                extra.append(["DTM", "151", format_d8(line.service_date_to)])
            else:
                extra.append(["DTM", "472", format_d8(line.service_date)])
        if line.control_number:
            extra.append(["REF", "6R", line.control_number])
        svc = [code, "", "", rev, format_r(line.units)]
        out.append(_Line(svc, charge, paid, cas, allowed, extra))
    return out


def _cas_segments(cas: list[tuple[str, str, Decimal]], sign: int) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for group, reason, amount in cas:
        groups.setdefault(group, []).extend([reason, format_r(amount * sign), ""])
    return [["CAS", g, *items] for g, items in groups.items()]


def _clp(claim: Claim, lines: list[_Line], status: str, icn: str, sign: int) -> tuple[list[list[str]], Decimal]:
    charge = sum((ln.charge for ln in lines), Decimal("0")) * sign
    paid = sum((ln.paid for ln in lines), Decimal("0")) * sign
    pr = sum((a for ln in lines for g, _, a in ln.cas if g == "PR"), Decimal("0")) * sign
    if status == "1" and paid == 0 and all(ln.allowed == 0 for ln in lines):
        status = "4"
    filing = claim.coverage.payer.filing_indicator
    clp06 = filing.value if filing is not None and filing.value in _CLP06 else "15"
    if claim.institutional is not None:
        facility = claim.institutional.facility_type_code
    else:
        facility = claim.place_of_service.value if claim.place_of_service is not None else "11"
    sub = claim.coverage.subscriber
    patient = claim.patient
    last = patient.last_name if patient is not None else sub.last_name
    first = (patient.first_name if patient is not None else sub.first_name) or ""
    segs: list[list[str]] = [
        [
            "CLP",
            claim.id,
            status,
            format_r(charge),
            format_r(paid),
            format_r(pr),
            clp06,
            icn,
            facility,
            claim.frequency.value,
        ],
        ["NM1", "QC", "1", last, first, "", "", "", "MI", _member(claim)],
    ]
    if patient is not None:
        segs.append(["NM1", "IL", "1", sub.last_name, sub.first_name or "", "", "", "", "MI", _member(claim)])
    start, end = _dates(claim)
    if claim.institutional is not None and start is not None:
        segs.append(["DTM", "232", format_d8(start)])
        segs.append(["DTM", "233", format_d8(end or start)])
    for ln in lines:
        svc = list(ln.svc)
        svc[1], svc[2] = format_r(ln.charge * sign), format_r(ln.paid * sign)
        segs.append(["SVC", *svc])
        segs.extend(e for e in ln.extra if e[0] == "DTM")
        segs.extend(_cas_segments(ln.cas, sign))
        segs.extend(e for e in ln.extra if e[0] == "REF")
        if ln.allowed and sign > 0:
            segs.append(["AMT", "B6", format_r(ln.allowed)])
    return segs, paid


def _remit_835(
    batch: _Batch, claims: list[Claim], rules: SimulationRules, icn: dict[str, str], rng: random.Random
) -> tuple[str, Decimal]:
    out = _Out(batch, rng, "HP", "005010X221A1")
    day = batch.when.date()
    total = Decimal("0")
    groups: dict[tuple[str, str], list[Claim]] = {}
    for c in claims:
        groups.setdefault((c.coverage.payer.payer_id or "", c.billing_provider.npi or ""), []).append(c)
    take_backs = dict(rules.take_backs)
    for (payer_id, npi), group in groups.items():
        body: list[list[str]] = []
        paid_sum = Decimal("0")
        for c in group:
            lines = _adjudicate(c, rules)
            if c.id in rules.reverse_claims:
                # the earlier payment (as the payer had it: the same adjudication under an older ICN) reversed
                old = f"{icn[c.id]}R"
                segs, paid = _clp(c, lines, "22", old, -1)
                body += segs
                paid_sum += paid
            segs, paid = _clp(c, lines, "1", icn[c.id], 1)
            body += segs
            paid_sum += paid
        plb: list[list[str]] = []
        plb_sum = Decimal("0")
        for c in group:
            amount = take_backs.get(c.id)
            if amount:
                plb.append(["PLB", npi, f"{day.year}1231", f"WO:{icn[c.id]}", format_r(amount)])
                plb_sum += amount
        payment = paid_sum - plb_sum
        if payment < 0:
            raise SimulationError(f"take-backs {plb_sum} exceed the payment {paid_sum} to provider {npi}")
        trace = f"SIM{rng.randrange(10**9):09d}"
        bp = group[0].billing_provider
        if payment > 0:
            bpr = ["BPR", "I", format_r(payment), "C", "CHK"] + [""] * 11 + [format_d8(day)]
        else:
            bpr = ["BPR", "H", "0", "C", "NON"] + [""] * 11 + [format_d8(day)]
        head: list[list[str]] = [
            bpr,
            ["TRN", "1", trace, f"1{rules.payer_tax_id}"],
            ["DTM", "405", format_d8(day)],
            ["N1", "PR", rules.payer_name],
            ["N3", "PO BOX 1"],
            ["N4", "ANYTOWN", "MD", "21244"],
            ["REF", "2U", payer_id or "SIMPAYER01"],
            ["PER", "BL", "EDI SUPPORT", "TE", rules.payer_phone],
            ["N1", "PE", bp.organization_name or bp.last_name or "PROVIDER", "XX", npi],
        ]
        if bp.address is not None:
            head.append(["N3", bp.address.line1])
            head.append(["N4", bp.address.city, bp.address.state, bp.address.zip])
        if bp.tax_id:
            head.append(["REF", "TJ", bp.tax_id])
        out.transaction("835", [*head, ["LX", "1"], *body, *plb])
        total += payment
    return out.text(), total


def simulate(text: str, rules: SimulationRules | None = None, *, seed: int = 0) -> SimulationResult:
    """The 999, 277CA and 835 a payer would send for the 837 interchange ``text``."""
    rules = rules or SimulationRules()
    batch = _batch(text)
    rng = random.Random(seed)
    all_claims = [c for s in batch.sets for c in s.claims]
    icn = {c.id: f"SIM{rng.randrange(10**12):012d}" for c in all_claims}
    ack, rejected_sets = _ack_999(batch, rules, rng)
    in_accepted = [c for s in batch.sets if s.control not in rejected_sets for c in s.claims]
    ca, accepted, rejected = _ack_277(batch, in_accepted, rules, icn, rng)
    remit, paid = _remit_835(batch, accepted, rules, icn, rng)
    accepted_ids = tuple(c.id for c in accepted)
    rejected_ids = tuple(c.id for c in all_claims if c.id not in accepted_ids)
    del rejected
    return SimulationResult(ack, ca, remit, accepted_ids, rejected_ids, paid)

"""The denial and underpayment worklist, and the expected allowed amount of a line.

``denial_worklist(entries, describe=...)`` reads the posted 835 entries (net of reversals) and
lists every line with a denied amount (CO/OA/PI with a denial reason, or PR with a non cost-sharing
reason such as PR 96 / PR 204) and every underpaid line, each with the CARC/RARC official text
(through ``describe(system, code)``, system ``"CARC"`` or ``"RARC"``; the reference store supplies
it, a test passes a dict), the group code explained, a category, the suggested next action and the
scrub rule that would have caught it (see :mod:`medbill.ledger.reasons`).

**Underpayment** compares the expected allowed amount with the payer's *allowed* amount — AMT*B6
when the 835 carries it, else paid + patient responsibility + payment-only reductions (CARC 253
sequestration, 104/245 withholds) — never with the paid amount (Medicare pays 80 % of the allowed
amount less 2 % sequestration). The expected amount comes from a :class:`FeeSource`:

- :class:`PfsFeeSource`: the Medicare Physician Fee Schedule (CMS PFS Relative Value File
  ``PPRRVU*.csv`` rows and the practice locality's ``GPCI*.csv`` row, read by
  :mod:`medbill.codesets.pfs`): ``price(rvu, gpci, facility)`` with the facility PE RVU for a
  facility place of service; the PC/TC row for modifier 26/TC (and 53); then bilateral (modifier 50:
  150 % for indicator 1, 200 % for 3), multiple procedures (indicator 2/3: 100 % for the highest
  priced procedure on the date, 50 % for the others), assistant at surgery (80/81/82: 16 %, AS:
  13.6 %, none for indicator 1), co-surgeons (62: 62.5 %), the non-participating rate (95 %). The
  conversion factor is the row's CONV FACTOR unless the settings override it
  (``QP_CONVERSION_FACTOR_2026`` = 33.5675 for qualifying APM participants).
- :class:`ContractFeeSchedule`: a contracted amount per code (or code-modifier) and unit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Protocol

from medbill.codesets.pfs import price
from medbill.codesets.records import GpciRow, RvuRow
from medbill.core.claim import Claim, ServiceLine
from medbill.core.money import CENT
from medbill.core.remit import Remittance, ServicePayment
from medbill.ledger.entries import Entry, EntryKind, SourceKind, is_patient
from medbill.ledger.reasons import (
    PAYMENT_REDUCTION_CARCS,
    ReasonCategory,
    ScrubHint,
    group_text,
    is_denial,
    next_action,
    reason_category,
    scrub_hint,
)

__all__ = [
    "FACILITY_POS",
    "QP_CONVERSION_FACTOR_2026",
    "ContractFeeSchedule",
    "Describer",
    "ExpectedAllowed",
    "FeeSource",
    "PfsFeeSource",
    "PfsSettings",
    "Reason",
    "Remark",
    "WorkItem",
    "WorkKind",
    "denial_worklist",
    "expected_allowed",
    "explain",
]

ZERO = Decimal("0.00")
Describer = Callable[[str, str], str | None]
"""``describe(system, code)`` → official text or ``None``; system is ``"CARC"`` or ``"RARC"``."""

QP_CONVERSION_FACTOR_2026 = Decimal("33.5675")
"""CY 2026 PFS conversion factor for qualifying APM participants (non-QPs: 33.4009, in the RVU file)."""

FACILITY_POS = frozenset(
    {"02", "19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53", "56", "61"}
)
"""Places of service paid at the PFS facility rate (Medicare Claims Processing Manual ch. 12 §20.4.2)."""

_PAYABLE_STATUS = frozenset({"A", "R", "T"})
_ASSISTANT = frozenset({"80", "81", "82"})


@dataclass(frozen=True, slots=True)
class ExpectedAllowed:
    amount: Decimal
    basis: str  # how it was computed, for the worklist


class FeeSource(Protocol):
    def expected(self, line: ServiceLine, *, claim: Claim | None = None) -> ExpectedAllowed | None: ...


def expected_allowed(line: ServiceLine, fee_source: FeeSource, *, claim: Claim | None = None) -> ExpectedAllowed | None:
    """The amount the payer should allow for ``line`` (``None`` when the source does not price it).

    Pass ``claim`` for the place of service and the multiple-procedure ranking among its lines.
    """
    return fee_source.expected(line, claim=claim)


@dataclass(frozen=True, slots=True, kw_only=True)
class PfsSettings:
    """Practice settings for PFS pricing."""

    locality: GpciRow  # the practice's MAC locality (GPCI row)
    conversion_factor: Decimal | None = None  # None: the row's CONV FACTOR; QP_CONVERSION_FACTOR_2026 for QPs
    participating: bool = True  # False: 95 % of the fee schedule amount


def _mods(line: ServiceLine) -> frozenset[str]:
    return frozenset(m.value for m in line.modifiers)


def _pos(line: ServiceLine, claim: Claim | None) -> str | None:
    code = line.place_of_service or (claim.place_of_service if claim is not None else None)
    return code.value if code is not None else None


class PfsFeeSource:
    """Expected allowed amounts from the Medicare Physician Fee Schedule."""

    def __init__(self, rows: Iterable[RvuRow], settings: PfsSettings) -> None:
        self.settings = settings
        self._rows = {(r.code, r.modifier): r for r in rows}

    def row(self, line: ServiceLine) -> RvuRow | None:
        """The RVU row for a line: the 26 / TC / 53 row when the modifier is there, else the global row."""
        if line.procedure is None:
            return None
        mods = _mods(line)
        for modifier in ("26", "TC", "53"):
            if modifier in mods and (line.procedure.value, modifier) in self._rows:
                return self._rows[(line.procedure.value, modifier)]
        return self._rows.get((line.procedure.value, ""))

    def _unreduced(self, line: ServiceLine, claim: Claim | None, basis: list[str] | None) -> Decimal | None:
        row = self.row(line)
        if row is None or row.status not in _PAYABLE_STATUS:
            return None
        if self.settings.conversion_factor is not None:
            row = dataclasses.replace(row, conversion_factor=self.settings.conversion_factor)
        pos = _pos(line, claim)
        facility = pos in FACILITY_POS
        amount = price(row, self.settings.locality, facility) * line.units
        bilateral = row.attrs.get("bilat_surg")
        factor = Decimal("1")
        if "50" in _mods(line):
            factor = {"1": Decimal("1.5"), "3": Decimal("2")}.get(str(bilateral), Decimal("1"))
        if basis is not None:
            loc = self.settings.locality
            basis.append(
                f"PFS {row.code}{'-' + row.modifier if row.modifier else ''} "
                f"{'facility' if facility else 'non-facility'} (POS {pos or 'none'}), "
                f"locality {loc.mac}-{loc.locality}, CF {row.conversion_factor}, units {line.units}"
            )
            if factor != 1:
                basis.append(f"bilateral {factor * 100:.0f}%")
        return amount * factor

    def expected(self, line: ServiceLine, *, claim: Claim | None = None) -> ExpectedAllowed | None:
        basis: list[str] = []
        amount = self._unreduced(line, claim, basis)
        row = self.row(line)
        if amount is None or row is None:
            return None
        indicator = str(row.attrs.get("mult_proc") or "")
        if claim is not None and indicator in ("2", "3"):
            ranked: list[tuple[Decimal, int]] = []
            for other in claim.lines:
                other_row = self.row(other)
                if other.service_date != line.service_date or other_row is None:
                    continue
                if str(other_row.attrs.get("mult_proc") or "") not in ("2", "3"):
                    continue
                value = self._unreduced(other, claim, None)
                if value is not None:
                    ranked.append((-value, other.line_number))
            ranked.sort()
            rank = 1 + next((k for k, (_v, n) in enumerate(ranked) if n == line.line_number), 0)
            if rank > 1:
                amount *= Decimal("0.5")
                basis.append(f"multiple procedure rank {rank}: 50%")
        elif claim is not None and indicator in ("4", "5", "6", "7"):
            basis.append(f"multiple-procedure indicator {indicator} reduction not applied")
        mods = _mods(line)
        if mods & _ASSISTANT:
            if str(row.attrs.get("asst_surg")) == "1":
                amount = ZERO
                basis.append("assistant at surgery not payable (indicator 1)")
            else:
                amount *= Decimal("0.16")
                basis.append("assistant at surgery 16%")
        elif "AS" in mods:
            amount *= Decimal("0.136")
            basis.append("non-physician assistant at surgery 13.6%")
        if "62" in mods and str(row.attrs.get("co_surg")) in ("1", "2"):
            amount *= Decimal("0.625")
            basis.append("co-surgeon 62.5%")
        if not self.settings.participating:
            amount *= Decimal("0.95")
            basis.append("non-participating 95%")
        return ExpectedAllowed(amount.quantize(CENT, rounding=ROUND_HALF_UP), "; ".join(basis))


@dataclass(frozen=True, slots=True)
class ContractFeeSchedule:
    """A contracted fee schedule: allowed amount per unit by ``"CODE"`` or ``"CODE-MOD"`` (e.g. ``"71046-26"``)."""

    name: str
    fees: Mapping[str, Decimal]

    def expected(self, line: ServiceLine, *, claim: Claim | None = None) -> ExpectedAllowed | None:
        if line.procedure is None:
            return None
        code = line.procedure.value
        keys = [f"{code}-{m}" for m in sorted(_mods(line))] + [code]
        key = next((k for k in keys if k in self.fees), None)
        if key is None:
            return None
        amount = (self.fees[key] * line.units).quantize(CENT, rounding=ROUND_HALF_UP)
        return ExpectedAllowed(amount, f"contract {self.name} {key} × {line.units}")


# ---------------------------------------------------------------------------------------------------
# The worklist


class WorkKind(StrEnum):
    DENIED = "denied"  # nothing paid, something denied
    PARTIALLY_DENIED = "partially_denied"  # paid in part, something denied
    UNDERPAID = "underpaid"  # allowed below the expected allowed amount


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    group: str
    group_text: str
    carc: str
    carc_text: str | None
    amount: Decimal
    category: ReasonCategory
    next_action: str
    scrub_rule: ScrubHint | None


@dataclass(frozen=True, slots=True)
class Remark:
    code: str
    text: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItem:
    claim_id: str
    line_number: int | None  # None: claim level
    payer: str  # party
    kind: WorkKind
    category: ReasonCategory  # of the largest reason (pricing for a pure underpayment)
    next_action: str
    scrub_rule: ScrubHint | None
    reasons: tuple[Reason, ...]
    remarks: tuple[Remark, ...]
    procedure: str | None
    service_date: dt.date | None
    charge: Decimal | None
    paid: Decimal
    denied: Decimal
    allowed: Decimal | None  # the payer's allowed amount
    expected_allowed: Decimal | None
    expected_basis: str | None
    variance: Decimal | None  # expected − allowed (positive: underpaid)
    trace: str | None  # TRN02 of the latest remittance for the line

    @property
    def at_stake(self) -> Decimal:
        return self.denied + max(self.variance or ZERO, ZERO)


def explain(group: str, carc: str, amount: Decimal, describe: Describer) -> Reason:
    """One adjustment explained: group meaning, official CARC text, category, next action, scrub rule."""
    return Reason(
        group=group,
        group_text=group_text(group),
        carc=carc,
        carc_text=describe("CARC", carc),
        amount=amount,
        category=reason_category(carc),
        next_action=next_action(carc),
        scrub_rule=scrub_hint(carc),
    )


class _Line:
    __slots__ = ("paid", "pr", "reductions", "denied", "rarcs", "payer", "svcs", "last")

    def __init__(self) -> None:
        self.paid = ZERO
        self.pr = ZERO
        self.reductions = ZERO
        self.denied: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.rarcs: dict[str, None] = {}
        self.payer: str | None = None
        self.svcs: set[tuple[str, str, int, int]] = set()
        self.last: Entry | None = None


def denial_worklist(
    entries: Iterable[Entry],
    *,
    describe: Describer,
    claims: Mapping[str, Claim] | None = None,
    remits: Iterable[Remittance] = (),
    fee_source: FeeSource | None = None,
    tolerance: Decimal = Decimal("1.00"),
    closed: Collection[str] = (),
) -> list[WorkItem]:
    """Denied, partially denied and underpaid lines, largest amount at stake first.

    Amounts are net of reversals (a denial reversed and paid leaves the list). ``closed``: claim ids
    to leave out (closed claims). Underpayments need ``claims`` and ``fee_source``; a line is
    underpaid when expected − allowed > ``tolerance``.
    """
    lines: dict[tuple[str, int | None], _Line] = defaultdict(_Line)
    for e in entries:
        if e.claim_id is None or e.source.kind is not SourceKind.REMITTANCE or e.claim_id in closed:
            continue
        acc = lines[(e.claim_id, e.line_number)]
        base = e.base_kind
        if not is_patient(e.party):
            acc.payer = acc.payer or e.party
        if base is EntryKind.PAYER_PAYMENT:
            acc.paid -= e.amount
        elif base is EntryKind.PATIENT_RESPONSIBILITY and is_patient(e.party):
            acc.pr += e.amount
            if e.carc and is_denial(reason_category(e.carc)):
                acc.denied[("PR", e.carc)] += e.amount
        elif base is EntryKind.DENIAL:
            acc.denied[(e.group or "CO", e.carc or "")] -= e.amount
        elif (
            base in (EntryKind.CONTRACTUAL_ADJUSTMENT, EntryKind.OTHER_ADJUSTMENT) and e.carc in PAYMENT_REDUCTION_CARCS
        ):
            acc.reductions -= e.amount
        for code in e.rarcs:
            acc.rarcs.setdefault(code, None)
        s = e.source
        if s.payer_trace_id and s.trace and s.claim_position is not None and s.service_position is not None:
            acc.svcs.add((s.payer_trace_id, s.trace, s.claim_position, s.service_position))
        if acc.last is None or e.effective >= acc.last.effective:
            acc.last = e
    svc_index: dict[tuple[str, str, int, int], ServicePayment] = {}
    for remit in remits:
        for i, clp in enumerate(remit.claims):
            for j, svc in enumerate(clp.services):
                svc_index[(remit.payer_trace_id, remit.trace_number, i, j)] = svc
    shared: dict[tuple[str, str, int, int], int] = defaultdict(int)
    for acc in lines.values():
        for ref in acc.svcs:
            shared[ref] += 1

    out: list[WorkItem] = []
    for (claim_id, number), acc in lines.items():
        reasons = tuple(
            sorted(
                (explain(g, c, amount, describe) for (g, c), amount in acc.denied.items() if amount > 0),
                key=lambda r: (-r.amount, r.group, r.carc),
            )
        )
        denied = sum((r.amount for r in reasons), ZERO)
        claim = claims.get(claim_id) if claims is not None else None
        line = next((ln for ln in claim.lines if ln.line_number == number), None) if claim is not None else None
        allowed: Decimal | None = None
        expected: ExpectedAllowed | None = None
        if number is not None:
            svcs = [svc_index.get(ref) for ref in acc.svcs]
            if (
                svcs
                and all(s is not None and s.allowed is not None for s in svcs)
                and all(shared[ref] == 1 for ref in acc.svcs)
            ):
                allowed = sum((s.allowed for s in svcs if s is not None and s.allowed is not None), ZERO)
            else:
                allowed = acc.paid + acc.pr + acc.reductions
            if fee_source is not None and line is not None:
                expected = fee_source.expected(line, claim=claim)
        variance = expected.amount - allowed if expected is not None and allowed is not None else None
        underpaid = variance is not None and variance > tolerance and acc.paid + acc.pr > 0
        if denied > 0:
            kind = WorkKind.PARTIALLY_DENIED if acc.paid > 0 else WorkKind.DENIED
        elif underpaid:
            kind = WorkKind.UNDERPAID
        else:
            continue
        if reasons:
            top = reasons[0]
            category, action, hint = top.category, top.next_action, top.scrub_rule
        else:
            category = ReasonCategory.PRICING
            action = "Allowed amount below the expected fee: check the contract and appeal the underpayment."
            hint = None
        out.append(
            WorkItem(
                claim_id=claim_id,
                line_number=number,
                payer=acc.payer or "",
                kind=kind,
                category=category,
                next_action=action,
                scrub_rule=hint,
                reasons=reasons,
                remarks=tuple(Remark(code, describe("RARC", code)) for code in acc.rarcs),
                procedure=line.procedure.value if line is not None and line.procedure is not None else None,
                service_date=line.service_date if line is not None else None,
                charge=line.charge if line is not None else None,
                paid=acc.paid,
                denied=denied,
                allowed=allowed,
                expected_allowed=expected.amount if expected is not None else None,
                expected_basis=expected.basis if expected is not None else None,
                variance=variance,
                trace=acc.last.source.trace if acc.last is not None else None,
            )
        )
    out.sort(key=lambda w: (-w.at_stake, w.claim_id, -1 if w.line_number is None else w.line_number))
    return out

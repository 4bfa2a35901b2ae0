"""Posting an 835 remittance: a pure plan (``plan_posting``), then ``apply(plan, store)``.

``plan_posting(remit, claims, already)`` decides, for every CLP and every PLB of one 835
(005010X221A1) transaction, what to do, and builds the entries; nothing is dropped:

1. **Claim match**: CLP01 (our patient control number = ``Claim.id``), then CLP07 (the payer claim
   number) through the ``payer_claim_numbers`` lookup. No match → ``plan.unmatched``.
2. **Line match** (:func:`match_services`): each SVC to our line by REF*6R (the line control
   number), then SVC06 (the code as submitted, when the payer re-coded it), then code / date /
   charge; several SVCs may match one line (a split line); one SVC whose charge is the sum of
   several lines' charges matches them all (bundled: amounts allocated by charge). An SVC that
   matches nothing posts at claim level and is listed in ``plan.unmatched``. A CLP without SVCs
   spreads its amounts over the claim's lines by charge.
3. **Exactly once**: the posting key is (TRN03, TRN02, CLP01, CLP07, CLP02, position); a key already
   in the ledger is ``already_posted`` (the same 835 read again changes nothing). The content
   fingerprint (payer, CLP01, CLP07, CLP02, amounts, service lines) catches the same payment
   reissued under another trace: ``suspected_duplicate``, not posted, for a human to release
   (:func:`release_duplicates`). A payment whose earlier posting was reversed is not a duplicate.
4. **Reversals**: CLP02=22 carries the original's amounts negated under the original group codes;
   it posts ``reversal`` entries (``of_kind`` = what it reverses) and the corrected claim that
   follows posts normally — both post.
5. **Entries**: SVC03 / remainder of CLP04 → ``payer_payment``; CAS PR → ``patient_responsibility``
   (a transfer from the payer to the patient); CO/OA/PI with a pricing reason (45, 253, 59 ...)
   → ``contractual_adjustment`` (CO) or ``other_adjustment`` (OA/PI); with a denial reason, or
   any on a denied claim (CLP02=4) → ``denial``; OA 23 (prior payer impact) is not posted.
6. **PLB** adjustments post at provider level: WO / 72 → ``plb_takeback`` (its PLB03-2 reference
   resolved to our claim where possible, else listed unmatched), L6 → ``plb_interest``, FB →
   ``plb_forward_balance``, others ``plb_other``.

A CLP that does not balance (CLP03 − CLP04 ≠ Σ CAS, or a line SVC02 − SVC03 ≠ Σ its CAS) is put
``on_hold``; BPR02 ≠ Σ CLP04 − Σ PLB is reported in ``plan.problems``. Logging names only
control numbers, counts and key digests (CLP01 is PHI).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from medbill.core.claim import Claim, ClaimAdjustment, ServiceLine
from medbill.core.money import CENT
from medbill.core.remit import (
    ClaimPayment,
    ClaimStatusCode,
    ProviderAdjustment,
    RemitProblem,
    Remittance,
    ServicePayment,
    remit_problems,
)
from medbill.ledger.entries import (
    PATIENT,
    AppendResult,
    Entry,
    EntryKind,
    FingerprintUses,
    LedgerError,
    LedgerStore,
    PostedKeys,
    PostingBatch,
    PostingKey,
    Source,
    SourceKind,
    entry_id,
    payer_party,
)
from medbill.ledger.reasons import ReasonCategory, code_text, is_denial, reason_category
from medbill.ledger.status import ClaimStatus

__all__ = [
    "ClaimMatchMethod",
    "Disposition",
    "LineMatch",
    "MatchMethod",
    "PlannedPayment",
    "PlannedProviderAdjustment",
    "PostingPlan",
    "Unmatched",
    "UnmatchedKind",
    "apply",
    "claim_party",
    "match_services",
    "payment_fingerprint",
    "plan_posting",
    "release_duplicates",
]

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")


class ClaimMatchMethod(StrEnum):
    PATIENT_CONTROL_NUMBER = "patient_control_number"  # CLP01
    PAYER_CLAIM_NUMBER = "payer_claim_number"  # CLP07 via the lookup


class MatchMethod(StrEnum):
    CONTROL_NUMBER = "control_number"  # REF*6R
    SUBMITTED_CODE = "submitted_code"  # SVC06
    CODE_DATE_CHARGE = "code_date_charge"
    BUNDLED = "bundled"  # one SVC for several lines
    ALLOCATED = "allocated"  # claim-level amounts of a CLP without SVCs, spread over the lines


class Disposition(StrEnum):
    POST = "post"
    ALREADY_POSTED = "already_posted"
    SUSPECTED_DUPLICATE = "suspected_duplicate"
    UNMATCHED = "unmatched"
    ON_HOLD = "on_hold"  # does not balance, or its key was posted with other content
    INFORMATIONAL = "informational"  # CLP02 23 (not our claim, forwarded) or 25 (predetermination)


class UnmatchedKind(StrEnum):
    CLAIM = "claim"
    SERVICE = "service"
    PLB_REFERENCE = "plb_reference"


@dataclass(frozen=True, slots=True)
class LineMatch:
    """Which of our lines an SVC was matched to (empty: posted at claim level)."""

    service_position: int | None  # None for the ALLOCATED claim-level spread
    line_numbers: tuple[int, ...]
    method: MatchMethod | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmatched:
    """An item of the remittance that found no claim, line or reference; never dropped."""

    kind: UnmatchedKind
    reason: str
    amount: Decimal  # CLP04, SVC03 or PLB04
    claim_position: int | None = None
    service_position: int | None = None
    plb_position: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedPayment:
    """The decision for one CLP."""

    position: int
    key: PostingKey
    fingerprint: str
    status: ClaimStatusCode
    disposition: Disposition
    claim_id: str | None = None
    matched_by: ClaimMatchMethod | None = None
    payer_claim_number: str | None = None  # CLP07
    party: str | None = None
    lines: tuple[LineMatch, ...] = ()
    outcome: ClaimStatus | None = None  # paid / partially_paid / denied (None for reversals)
    reverses: str | None = None  # fingerprint of the payment a reversal cancels
    reason: str | None = None  # why it is not posted
    earlier: tuple[PostingKey, ...] = ()  # suspected duplicate: where the same content was posted
    batch: PostingBatch | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedProviderAdjustment:
    position: int
    key: PostingKey
    disposition: Disposition
    reason_code: str
    amount: Decimal
    related_claim_id: str | None = None
    batch: PostingBatch | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PostingPlan:
    """What posting one 835 transaction will do (see the module docstring)."""

    payer_trace_id: str  # TRN03
    trace: str  # TRN02
    transaction: str  # ST02
    effective: dt.date
    payments: tuple[PlannedPayment, ...]
    provider: tuple[PlannedProviderAdjustment, ...]
    unmatched: tuple[Unmatched, ...]
    problems: tuple[RemitProblem, ...]
    notes: tuple[str, ...]

    @property
    def batches(self) -> tuple[PostingBatch, ...]:
        """The batches to append (claim payments in CLP order, then PLBs)."""
        out = [p.batch for p in self.payments if p.disposition is Disposition.POST and p.batch is not None]
        out += [p.batch for p in self.provider if p.disposition is Disposition.POST and p.batch is not None]
        return tuple(out)

    def with_disposition(self, disposition: Disposition) -> tuple[PlannedPayment, ...]:
        return tuple(p for p in self.payments if p.disposition is disposition)

    @property
    def suspected_duplicates(self) -> tuple[PlannedPayment, ...]:
        return self.with_disposition(Disposition.SUSPECTED_DUPLICATE)

    @property
    def already_posted(self) -> tuple[PostingKey, ...]:
        keys = [p.key for p in self.payments if p.disposition is Disposition.ALREADY_POSTED]
        keys += [p.key for p in self.provider if p.disposition is Disposition.ALREADY_POSTED]
        return tuple(keys)

    @property
    def changes_nothing(self) -> bool:
        return not self.batches


# ---------------------------------------------------------------------------------------------------
# Fingerprint


def _m(value: Decimal, negate: bool) -> str:
    return f"{(-value if negate else value).quantize(CENT):f}"


def _cas_text(adjustments: Sequence[ClaimAdjustment], negate: bool) -> str:
    return ",".join(sorted(f"{code_text(a.group)}:{code_text(a.reason)}:{_m(a.amount, negate)}" for a in adjustments))


def _svc_text(s: ServicePayment, negate: bool) -> str:
    return "/".join(
        (
            s.procedure_qualifier,
            s.procedure.strip().upper(),
            "+".join(s.modifiers),
            _m(s.charge, negate),
            _m(s.paid, negate),
            f"{abs(s.units_paid).normalize():f}",
            s.submitted_procedure or "",
            s.revenue_code or "",
            s.service_date.isoformat() if s.service_date else "",
            s.control_number or "",
            _cas_text(s.adjustments, negate),
        )
    )


def payment_fingerprint(
    payer_trace_id: str, clp: ClaimPayment, *, status: str | None = None, negate: bool = False
) -> str:
    """SHA-256 of a claim payment's content: payer (TRN03), CLP01, CLP07, CLP02, CLP03-05, CAS and lines.

    Not in it: the trace, ST02, the position, dates of the 835, remarks. ``status``/``negate``
    compute the fingerprint of the original a reversal cancels (its amounts negated).
    """
    parts = [
        payer_trace_id,
        clp.patient_control_number,
        clp.payer_claim_number or "",
        status if status is not None else clp.status.value,
        _m(clp.charge, negate),
        _m(clp.paid, negate),
        _m(clp.patient_responsibility, negate),
        _cas_text(clp.adjustments, negate),
        *sorted(_svc_text(s, negate) for s in clp.services),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


_ORIGINAL_STATUSES = ("1", "2", "3", "4", "19", "20", "21")


# ---------------------------------------------------------------------------------------------------
# Matching


def _match_claim(
    clp: ClaimPayment, claims: Mapping[str, Claim], payer_claim_numbers: Mapping[str, str]
) -> tuple[Claim | None, ClaimMatchMethod | None]:
    pcn = clp.patient_control_number.strip()
    claim = claims.get(pcn)
    if claim is not None:
        return claim, ClaimMatchMethod.PATIENT_CONTROL_NUMBER
    if clp.payer_claim_number:
        claim_id = payer_claim_numbers.get(clp.payer_claim_number.strip())
        if claim_id is not None and claim_id in claims:
            return claims[claim_id], ClaimMatchMethod.PAYER_CLAIM_NUMBER
    return None, None


def _date_fits(svc: ServicePayment, line: ServiceLine) -> bool:
    if svc.service_date is None or line.service_date is None:
        return True
    end = line.service_date_to or line.service_date
    return line.service_date <= svc.service_date <= end


def _mods(codes: Sequence[object]) -> frozenset[str]:
    return frozenset(code_text(c) for c in codes)


def _same_code(code: str | None, revenue: str | None, line: ServiceLine) -> bool:
    if code is not None and line.procedure is not None:
        return code == line.procedure.value
    if code is None and revenue is not None and line.revenue_code is not None:
        return revenue == line.revenue_code.value
    return False


def match_services(clp: ClaimPayment, claim: Claim) -> tuple[LineMatch, ...]:
    """Match each SVC of ``clp`` to lines of ``claim`` (one :class:`LineMatch` per SVC, in order)."""
    lines = list(claim.lines)
    by_control = {ln.control_number: ln for ln in lines if ln.control_number}
    used: Counter[int] = Counter()
    found: dict[int, LineMatch] = {}

    def take(j: int, targets: Sequence[ServiceLine], method: MatchMethod) -> None:
        found[j] = LineMatch(j, tuple(t.line_number for t in targets), method)
        used.update(t.line_number for t in targets)

    def best(svc: ServicePayment, candidates: list[ServiceLine], mods: frozenset[str] | None) -> ServiceLine | None:
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda ln: (
                used[ln.line_number] > 0,
                ln.charge != svc.charge,
                mods is not None and _mods(ln.modifiers) != mods,
                ln.line_number,
            ),
        )

    services = list(enumerate(clp.services))
    for j, svc in services:  # 1. REF*6R
        if svc.control_number and svc.control_number in by_control:
            take(j, [by_control[svc.control_number]], MatchMethod.CONTROL_NUMBER)
    for j, svc in services:  # 2. SVC06: the code as submitted
        if j in found or not svc.submitted_procedure:
            continue
        submitted = svc.submitted_procedure.strip().upper()
        candidates = [ln for ln in lines if _same_code(submitted, None, ln) and _date_fits(svc, ln)]
        mods = _mods(svc.submitted_modifiers) if svc.submitted_modifiers else None
        if mods is not None:
            candidates = [ln for ln in candidates if _mods(ln.modifiers) == mods] or candidates
        chosen = best(svc, candidates, mods)
        if chosen is not None:
            take(j, [chosen], MatchMethod.SUBMITTED_CODE)
    for j, svc in services:  # 3. code / date / charge
        if j in found:
            continue
        code: str | None = svc.procedure.strip().upper()
        revenue = svc.revenue_code
        if svc.procedure_qualifier == "NU":
            code, revenue = None, svc.procedure.strip().upper()
        candidates = [ln for ln in lines if _same_code(code, revenue, ln) and _date_fits(svc, ln)]
        chosen = best(svc, candidates, _mods(svc.modifiers))
        if chosen is not None:
            take(j, [chosen], MatchMethod.CODE_DATE_CHARGE)
    for j, svc in services:  # 4. bundled: several unused lines whose charges add up to the SVC's
        if j in found:
            continue
        free = [ln for ln in lines if not used[ln.line_number] and _date_fits(svc, ln)][:12]
        for size in range(2, min(4, len(free)) + 1):
            combo = next(
                (c for c in itertools.combinations(free, size) if sum((ln.charge for ln in c), ZERO) == svc.charge),
                None,
            )
            if combo is not None:
                take(j, combo, MatchMethod.BUNDLED)
                break
    return tuple(found.get(j, LineMatch(j, (), None)) for j, _svc in services)


def claim_party(claim: Claim) -> str:
    """The payer party a claim's charges are posted to: the payer the claim is sent to."""
    payer = claim.coverage.payer
    return payer_party(payer.payer_id or payer.name)


def _remit_party(remit: Remittance, claim: Claim, payer: str | None) -> str:
    if payer is not None:
        return payer_party(payer)
    ids = {i for i in (remit.payer.identifier, remit.payer_trace_id) if i}
    for coverage in (claim.coverage, *(o.coverage for o in claim.other_payers)):
        if coverage.payer.payer_id and coverage.payer.payer_id in ids:
            return payer_party(coverage.payer.payer_id)
    return claim_party(claim)


# ---------------------------------------------------------------------------------------------------
# Entries


def _allocate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``amount`` by ``weights`` in whole cents (toward zero; the remainder to the last share)."""
    total = sum(weights, ZERO)
    if len(weights) == 1 or total == 0:
        return [amount] + [ZERO] * (len(weights) - 1)
    shares = [(amount * w / total).quantize(CENT, rounding=ROUND_DOWN) for w in weights]
    shares[-1] += amount - sum(shares, ZERO)
    return shares


def _classify(group: str, carc: str, status: str, paid: Decimal) -> EntryKind | None:
    if group == "PR":
        return EntryKind.PATIENT_RESPONSIBILITY
    category = reason_category(carc)
    if category is ReasonCategory.PRIOR_PAYER:
        return None
    if status == ClaimStatusCode.DENIED.value:
        return EntryKind.DENIAL
    if is_denial(category) and (category is not ReasonCategory.OTHER or paid == 0):
        return EntryKind.DENIAL
    return EntryKind.CONTRACTUAL_ADJUSTMENT if group == "CO" else EntryKind.OTHER_ADJUSTMENT


class _Builder:
    def __init__(self, key: PostingKey, claim_id: str, party: str, effective: dt.date, reversal: bool) -> None:
        self.key = key
        self.claim_id = claim_id
        self.party = party
        self.effective = effective
        self.reversal = reversal
        self.entries: list[Entry] = []
        self.has_denial = False
        self._digest = key.digest  # entry ids: f"{digest}-{index}", as entry_id() makes them

    def add(
        self,
        kind: EntryKind,
        party: str,
        amount: Decimal,
        line: int | None,
        source: Source,
        *,
        group: str | None = None,
        carc: str | None = None,
        rarcs: tuple[str, ...] = (),
        quantity: Decimal | None = None,
    ) -> None:
        amount = amount.quantize(CENT)
        if amount == 0:
            return
        self.entries.append(
            Entry(
                id=f"{self._digest}-{len(self.entries)}",
                key=self.key,
                claim_id=self.claim_id,
                line_number=line,
                kind=EntryKind.REVERSAL if self.reversal else kind,
                of_kind=kind if self.reversal else None,
                party=party,
                amount=amount,
                effective=self.effective,
                source=source,
                group=group,
                carc=carc,
                rarcs=rarcs,
                quantity=quantity,
            )
        )

    def component(
        self,
        targets: Sequence[tuple[int | None, Decimal]],
        paid: Decimal,
        adjustments: Sequence[ClaimAdjustment],
        status: str,
        source: Source,
        rarcs: tuple[str, ...],
        notes: list[str],
    ) -> None:
        weights = [w for _line, w in targets]
        parts: list[tuple[EntryKind, Decimal, ClaimAdjustment | None]] = [(EntryKind.PAYER_PAYMENT, paid, None)]
        for adj in adjustments:
            group, carc = code_text(adj.group), code_text(adj.reason)
            kind = _classify(group, carc, status, paid)
            if kind is None:
                notes.append(f"CLP {source.claim_position}: {group} {carc} {adj.amount} (prior payer) not posted")
                continue
            if kind is EntryKind.DENIAL or (
                kind is EntryKind.PATIENT_RESPONSIBILITY and is_denial(reason_category(carc))
            ):
                self.has_denial = True
            parts.append((kind, adj.amount, adj))
        # Each target gets its share of the total; every part but the last is split by weight and the
        # last takes what is left of each target's share, so a line's parts add up to its share exactly.
        room = _allocate(sum((amount for _k, amount, _a in parts), ZERO), weights)
        for n, (kind, amount, part) in enumerate(parts):
            shares = _allocate(amount, weights) if n < len(parts) - 1 else list(room)
            room = [r - sh for r, sh in zip(room, shares, strict=True)]
            for (line, _w), share in zip(targets, shares, strict=True):
                if part is None:
                    self.add(kind, self.party, -share, line, source, rarcs=rarcs)
                    continue
                group, carc = code_text(part.group), code_text(part.reason)
                sides = [(self.party, -share)]
                if kind is EntryKind.PATIENT_RESPONSIBILITY:
                    sides.append((PATIENT, share))
                for party, value in sides:
                    self.add(
                        kind, party, value, line, source, group=group, carc=carc, rarcs=rarcs, quantity=part.quantity
                    )


def _balance_problem(clp: ClaimPayment) -> str | None:
    line_cas = sum((a.amount for s in clp.services for a in s.adjustments), ZERO)
    claim_cas = sum((a.amount for a in clp.adjustments), ZERO)
    if clp.charge - clp.paid != claim_cas + line_cas:
        return f"CLP03 {clp.charge} − CLP04 {clp.paid} ≠ Σ CAS {claim_cas + line_cas}"
    for j, s in enumerate(clp.services):
        cas = sum((a.amount for a in s.adjustments), ZERO)
        if s.charge - s.paid != cas:
            return f"SVC {j}: SVC02 {s.charge} − SVC03 {s.paid} ≠ Σ CAS {cas}"
    return None


def _plb_kind(reason: str) -> EntryKind:
    return {
        "WO": EntryKind.PLB_TAKEBACK,
        "72": EntryKind.PLB_TAKEBACK,
        "L6": EntryKind.PLB_INTEREST,
        "FB": EntryKind.PLB_FORWARD_BALANCE,
    }.get(reason.strip().upper(), EntryKind.PLB_OTHER)


def _resolve_reference(
    reference: str | None, claims: Mapping[str, Claim], payer_claim_numbers: Mapping[str, str]
) -> str | None:
    if not reference:
        return None
    for token in (reference.strip(), *reference.replace(":", " ").split()):
        if token in claims:
            return token
        claim_id = payer_claim_numbers.get(token)
        if claim_id is not None:
            return claim_id
    return None


# ---------------------------------------------------------------------------------------------------
# The plan


def _build(
    remit: Remittance,
    clp: ClaimPayment,
    i: int,
    claim: Claim,
    key: PostingKey,
    party: str,
    when: dt.date,
    reversal: bool,
    class_status: str,
    unmatched: list[Unmatched],
    notes: list[str],
) -> tuple[_Builder, tuple[LineMatch, ...]]:
    builder = _Builder(key, claim.id, party, when, reversal)
    source = Source(
        kind=SourceKind.REMITTANCE,
        payer_trace_id=remit.payer_trace_id,
        trace=remit.trace_number,
        transaction=remit.control_number,
        claim_position=i,
    )
    line_matches = list(match_services(clp, claim))
    by_number = {ln.line_number: ln for ln in claim.lines}
    claim_rarcs = tuple(clp.remarks)
    for match, svc in zip(line_matches, clp.services, strict=True):
        svc_source = dataclasses.replace(source, service_position=match.service_position)
        targets: list[tuple[int | None, Decimal]] = [(n, by_number[n].charge) for n in match.line_numbers]
        if not targets:
            targets = [(None, Decimal(1))]
            unmatched.append(
                Unmatched(
                    kind=UnmatchedKind.SERVICE,
                    reason="no line matches this SVC (control number, submitted code, code/date/charge): "
                    "posted at claim level",
                    amount=svc.paid,
                    claim_position=i,
                    service_position=match.service_position,
                )
            )
        rarcs = tuple(svc.remarks) + claim_rarcs
        builder.component(targets, svc.paid, svc.adjustments, class_status, svc_source, rarcs, notes)
    remainder = clp.paid - sum((s.paid for s in clp.services), ZERO)
    if remainder or clp.adjustments:
        charged = [ln for ln in claim.lines if ln.charge > 0]
        if not clp.services and charged:
            targets = [(ln.line_number, ln.charge) for ln in charged]
            line_matches.append(LineMatch(None, tuple(ln.line_number for ln in charged), MatchMethod.ALLOCATED))
        else:
            targets = [(None, Decimal(1))]
        builder.component(targets, remainder, clp.adjustments, class_status, source, claim_rarcs, notes)
    return builder, tuple(line_matches)


class _Uses:
    """Fingerprint uses as the ledger has them plus those this plan adds."""

    def __init__(self, already: PostedKeys) -> None:
        self.already = already
        self.added: dict[str, list[PostingKey]] = defaultdict(list)
        self.reversed: Counter[str] = Counter()

    def get(self, fingerprint: str) -> FingerprintUses:
        base = self.already.fingerprint_uses(fingerprint)
        return FingerprintUses(base.keys + tuple(self.added[fingerprint]), base.reversed + self.reversed[fingerprint])


def plan_posting(
    remit: Remittance,
    claims: Mapping[str, Claim],
    already: PostedKeys,
    *,
    payer_claim_numbers: Mapping[str, str] | None = None,
    payer: str | None = None,
    effective: dt.date | None = None,
) -> PostingPlan:
    """Plan the posting of one 835 transaction (pure: reads ``already``, writes nothing).

    ``claims``: our claims by id (CLP01). ``payer_claim_numbers``: payer claim number (CLP07) →
    claim id. ``payer``: our payer id for this remittance's payer (default: the claim's coverage
    whose payer id equals N104/TRN03, else the payer the claim was sent to). ``effective``: the
    entries' date (default BPR16, then DTM*405); raises ``LedgerError`` when there is none.
    """
    numbers = payer_claim_numbers or {}
    when = effective or remit.payment_date or remit.production_date
    if when is None:
        raise LedgerError("the remittance has no payment date (BPR16) or production date: pass effective=")
    payments: list[PlannedPayment] = []
    unmatched: list[Unmatched] = []
    notes: list[str] = []
    uses = _Uses(already)
    parties: set[str] = set()
    trace_pair = (remit.payer_trace_id, remit.trace_number)

    for i, clp in enumerate(remit.claims):
        key = PostingKey.remittance(
            payer_trace_id=remit.payer_trace_id,
            trace=remit.trace_number,
            patient_control_number=clp.patient_control_number,
            payer_claim_number=clp.payer_claim_number,
            status=clp.status.value,
            position=i,
        )
        fp = payment_fingerprint(remit.payer_trace_id, clp)
        planned = PlannedPayment(
            position=i,
            key=key,
            fingerprint=fp,
            status=clp.status,
            disposition=Disposition.POST,
            payer_claim_number=clp.payer_claim_number,
        )
        posted = already.posted_fingerprint(key)
        if posted is not None:
            if posted in ("", fp):
                payments.append(dataclasses.replace(planned, disposition=Disposition.ALREADY_POSTED))
            else:
                payments.append(
                    dataclasses.replace(
                        planned,
                        disposition=Disposition.ON_HOLD,
                        reason="this posting key was posted before with different content",
                    )
                )
            continue
        if clp.status in (ClaimStatusCode.NOT_OUR_CLAIM, ClaimStatusCode.PREDETERMINATION):
            what = "not our claim, forwarded" if clp.status is ClaimStatusCode.NOT_OUR_CLAIM else "predetermination"
            payments.append(
                dataclasses.replace(
                    planned, disposition=Disposition.INFORMATIONAL, reason=f"CLP02 {clp.status.value}: {what}"
                )
            )
            continue
        claim, matched_by = _match_claim(clp, claims, numbers)
        if claim is None:
            reason = "no claim with this patient control number (CLP01)" + (
                " or payer claim number (CLP07)" if clp.payer_claim_number else ""
            )
            unmatched.append(Unmatched(kind=UnmatchedKind.CLAIM, reason=reason, amount=clp.paid, claim_position=i))
            payments.append(dataclasses.replace(planned, disposition=Disposition.UNMATCHED, reason=reason))
            continue
        party = _remit_party(remit, claim, payer)
        parties.add(party)
        planned = dataclasses.replace(planned, claim_id=claim.id, matched_by=matched_by, party=party)
        problem = _balance_problem(clp)
        if problem is not None:
            payments.append(
                dataclasses.replace(planned, disposition=Disposition.ON_HOLD, reason=f"does not balance: {problem}")
            )
            continue
        reversal = clp.status is ClaimStatusCode.REVERSAL
        reverses: str | None = None
        class_status = clp.status.value
        if reversal:
            class_status = "1"
            for s in _ORIGINAL_STATUSES:
                candidate = payment_fingerprint(remit.payer_trace_id, clp, status=s, negate=True)
                if uses.get(candidate).live > 0:
                    reverses, class_status = candidate, s
                    break
        # A reversal of a live payment always posts (it cancels something real); any other payment whose
        # content is live under another trace is a suspected duplicate.
        found = uses.get(fp)
        duplicate = reverses is None and found.live > 0 and any(k.trace != trace_pair for k in found.keys)
        if reversal and reverses is None and not duplicate:
            notes.append(f"CLP {i}: reversal of a payment not found in the ledger; posted as read")
        builder, line_matches = _build(remit, clp, i, claim, key, party, when, reversal, class_status, unmatched, notes)
        outcome: ClaimStatus | None = None
        if not reversal:
            if clp.status is ClaimStatusCode.DENIED:
                outcome = ClaimStatus.DENIED
            elif builder.has_denial:
                outcome = ClaimStatus.PARTIALLY_PAID if clp.paid > 0 else ClaimStatus.DENIED
            else:
                outcome = ClaimStatus.PAID
        planned = dataclasses.replace(
            planned,
            lines=line_matches,
            outcome=outcome,
            reverses=reverses,
            batch=PostingBatch(key=key, entries=tuple(builder.entries), fingerprint=fp, reverses=reverses),
        )
        if duplicate:
            payments.append(
                dataclasses.replace(
                    planned,
                    disposition=Disposition.SUSPECTED_DUPLICATE,
                    reason="the same payment content is posted under another trace number",
                    earlier=found.keys,
                )
            )
            continue
        uses.added[fp].append(key)
        if reverses is not None:
            uses.reversed[reverses] += 1
        payments.append(planned)

    provider = _plan_plb(remit, claims, already, numbers, payer, parties, when, unmatched)
    plan = PostingPlan(
        payer_trace_id=remit.payer_trace_id,
        trace=remit.trace_number,
        transaction=remit.control_number,
        effective=when,
        payments=tuple(payments),
        provider=tuple(provider),
        unmatched=tuple(unmatched),
        problems=tuple(remit_problems(remit)),
        notes=tuple(notes),
    )
    counts = Counter(p.disposition.value for p in plan.payments)
    log.info("835 ST02 %s: claim payments %s, %d PLB", remit.control_number, dict(counts), len(provider))
    return plan


def _plan_plb(
    remit: Remittance,
    claims: Mapping[str, Claim],
    already: PostedKeys,
    numbers: Mapping[str, str],
    payer: str | None,
    parties: set[str],
    when: dt.date,
    unmatched: list[Unmatched],
) -> list[PlannedProviderAdjustment]:
    if payer is not None:
        party = payer_party(payer)
    elif len(parties) == 1:
        party = next(iter(parties))
    else:
        party = payer_party(remit.payer.identifier or remit.payer_trace_id)
    out: list[PlannedProviderAdjustment] = []
    for k, plb in enumerate(remit.provider_adjustments):
        key = PostingKey.provider_adjustment(payer_trace_id=remit.payer_trace_id, trace=remit.trace_number, position=k)
        reason = plb.reason.strip().upper()
        kind = _plb_kind(reason)
        related = _resolve_reference(plb.reference, claims, numbers) if kind is EntryKind.PLB_TAKEBACK else None
        planned = PlannedProviderAdjustment(
            position=k,
            key=key,
            disposition=Disposition.POST,
            reason_code=reason,
            amount=plb.amount,
            related_claim_id=related,
        )
        if already.posted_fingerprint(key) is not None:
            out.append(dataclasses.replace(planned, disposition=Disposition.ALREADY_POSTED))
            continue
        if kind is EntryKind.PLB_TAKEBACK and related is None:
            unmatched.append(
                Unmatched(
                    kind=UnmatchedKind.PLB_REFERENCE,
                    reason=f"PLB {reason} reference names none of our claims: posted at provider level",
                    amount=plb.amount,
                    plb_position=k,
                )
            )
        batch = PostingBatch(key=key, entries=_plb_entries(remit, plb, k, key, party, kind, related, when))
        out.append(dataclasses.replace(planned, batch=batch))
    return out


def _plb_entries(
    remit: Remittance,
    plb: ProviderAdjustment,
    k: int,
    key: PostingKey,
    party: str,
    kind: EntryKind,
    related: str | None,
    when: dt.date,
) -> tuple[Entry, ...]:
    amount = plb.amount.quantize(CENT)
    if amount == 0:
        return ()
    return (
        Entry(
            id=entry_id(key, 0),
            key=key,
            claim_id=None,
            line_number=None,
            kind=kind,
            party=party,
            amount=amount,
            effective=when,
            source=Source(
                kind=SourceKind.REMITTANCE,
                payer_trace_id=remit.payer_trace_id,
                trace=remit.trace_number,
                transaction=remit.control_number,
                plb_position=k,
            ),
            plb_reason=plb.reason.strip().upper(),
            reference=plb.reference,
            related_claim_id=related,
        ),
    )


def release_duplicates(plan: PostingPlan, keys: Sequence[PostingKey]) -> PostingPlan:
    """The plan with the suspected duplicates of these keys released for posting (a human checked them).

    Their batches are marked ``duplicate_approved`` so the store does not skip them again.
    """
    wanted = set(keys)
    payments: list[PlannedPayment] = []
    for p in plan.payments:
        if p.disposition is Disposition.SUSPECTED_DUPLICATE and p.key in wanted and p.batch is not None:
            batch = dataclasses.replace(p.batch, duplicate_approved=True)
            p = dataclasses.replace(p, disposition=Disposition.POST, reason="released by a user", batch=batch)
        payments.append(p)
    return dataclasses.replace(plan, payments=tuple(payments))


def apply(plan: PostingPlan, store: LedgerStore) -> AppendResult:
    """Append the plan's batches; the store skips (and returns) what is already there."""
    result = store.append(plan.batches)
    log.info(
        "835 ST02 %s: %d batches appended, %d skipped", plan.transaction, len(result.appended), len(result.skipped)
    )
    return result

"""Secondary claims: the next payer's 837P/837I claim with the primary's 835 adjudication in the COB loops.

Input is an 835 (ASC X12 005010X221A1) claim payment as read by ``medbill.x12.read835`` — a
``ClaimPayment`` (2100 CLP and its 2110 SVC lines) — and output is a ``Claim`` the 837 writers
(005010X222A1 / 005010X223A2) put in 2320/2330A/2330B (claim level) and 2430 (line level):

- 2320 SBR for the primary coverage, CAS from the 835 claim-level CAS (grouped by the writer as the 835
  had them), AMT*D = CLP04, AMT*EAF = CLP05 (remaining patient liability);
- 2330B REF*F8 = CLP07 (payer claim control number), DTP*573 the adjudication date;
- 2430 SVD per matched SVC: SVD02 = SVC03, SVD03 = SVC01 as adjudicated, SVD05 = SVC05, CAS = the line
  CAS, DTP*573. SVCs are matched to our lines by REF*6R, then by procedure (SVC06 when the payer
  re-coded, else SVC01) or revenue code, and charge.

COB balance (what a clearinghouse checks): CLM02 = AMT*D + Σ 2320 CAS + Σ 2430 CAS, and per line
SV102/SV203 = Σ SVD02 + Σ its 2430 CAS. Pure functions: no I/O, no database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from medbill.core.claim import (
    Claim,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimKind,
    Coverage,
    LineAdjudication,
    OtherPayer,
    Responsibility,
    ServiceLine,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import InvalidCode, MedbillError
from medbill.core.money import sum_money
from medbill.core.remit import ClaimPayment, ClaimStatusCode, Remittance, ServicePayment

__all__ = ["SecondaryClaimError", "build_secondary", "build_secondary_from_remittance"]

_MEDICARE = {ClaimFilingIndicator.MEDICARE_PART_A, ClaimFilingIndicator.MEDICARE_PART_B}
_NEXT = {Responsibility.PRIMARY: Responsibility.SECONDARY, Responsibility.SECONDARY: Responsibility.TERTIARY}
_ADJUDICATED = {
    ClaimStatusCode.PRIMARY,
    ClaimStatusCode.SECONDARY,
    ClaimStatusCode.TERTIARY,
    ClaimStatusCode.DENIED,
    ClaimStatusCode.PRIMARY_FORWARDED,
    ClaimStatusCode.SECONDARY_FORWARDED,
    ClaimStatusCode.TERTIARY_FORWARDED,
}


class SecondaryClaimError(MedbillError):
    """The remittance cannot be carried into a secondary claim (wrong claim, not balanced, unmatched line)."""

    code = "secondary_claim"


def build_secondary_from_remittance(
    claim: Claim, remittance: Remittance, *, secondary: Coverage, adjudicated: dt.date | None = None
) -> Claim:
    """``build_secondary`` for the CLP of ``remittance`` that pays ``claim`` (the last non-reversal one).

    The adjudication date defaults to the 835's BPR16 payment date, else its DTM*405 production date.
    """
    candidates = [
        c
        for c in remittance.claims
        if c.patient_control_number == claim.id and c.status is not ClaimStatusCode.REVERSAL
    ]
    if not candidates:
        raise SecondaryClaimError(
            f"835 {remittance.trace_number} has no claim payment for claim {claim.id}",
            hint="pass the remittance that paid this claim",
        )
    when = adjudicated or remittance.payment_date or remittance.production_date
    return build_secondary(claim, candidates[-1], secondary=secondary, adjudicated=when)


def build_secondary(
    claim: Claim, primary: ClaimPayment, *, secondary: Coverage, adjudicated: dt.date | None = None
) -> Claim:
    """The claim for the next payer (``secondary``), with ``primary``'s adjudication in the COB loops.

    ``adjudicated`` is the DTP*573 date; a ``ClaimPayment`` carries no adjudication date of its own, so
    it is required here (``build_secondary_from_remittance`` takes it from BPR16/DTM*405).
    Raises ``SecondaryClaimError`` when the remittance is for another claim, is a reversal, does not
    balance, or has a service line that matches none of ours.
    """
    _check_belongs(claim, primary)
    _check_balance(primary)
    if adjudicated is None:
        raise SecondaryClaimError(
            f"claim {claim.id}: the primary adjudication date (2330B/2430 DTP*573) is missing",
            hint="pass adjudicated= (the 835 BPR16 or DTM*405 date)",
        )
    prior = claim.coverage
    payer_id = prior.payer.payer_id
    if not payer_id:
        raise SecondaryClaimError(f"claim {claim.id}: the primary payer has no payer id (SVD01 / 2330B NM109)")
    next_resp = _NEXT.get(prior.responsibility)
    if next_resp is None:
        raise SecondaryClaimError(f"claim {claim.id}: no payer follows a {prior.responsibility.name.lower()} payer")
    if (
        claim.kind is ClaimKind.PROFESSIONAL
        and secondary.payer.filing_indicator in _MEDICARE
        and secondary.insurance_type is None
    ):
        raise SecondaryClaimError(
            f"claim {claim.id}: Medicare is the secondary payer, SBR05 insurance type is required",
            hint="set Coverage.insurance_type (e.g. 12 working aged, 43 disabled large group)",
        )
    if any(o.coverage.payer.payer_id == secondary.payer.payer_id for o in claim.other_payers):
        raise SecondaryClaimError(f"claim {claim.id}: payer {secondary.payer.payer_id} already adjudicated it")

    per_line = _match_lines(claim, primary)
    lines: list[ServiceLine] = []
    for i, line in enumerate(claim.lines):
        services = per_line[i]
        new = tuple(_line_adjudication(s, payer_id, adjudicated, line) for s in services)
        lines.append(dataclasses.replace(line, adjudications=line.adjudications + new))

    other = OtherPayer(
        coverage=prior,
        paid_amount=primary.paid,
        adjustments=primary.adjustments,
        adjudication_date=adjudicated,
        payer_claim_control_number=primary.payer_claim_number,
        remaining_patient_liability=primary.patient_responsibility,
    )
    return dataclasses.replace(
        claim,
        coverage=dataclasses.replace(secondary, responsibility=next_resp),
        other_payers=(*claim.other_payers, other),
        lines=tuple(lines),
        # a new original to the next payer: the primary's replacement number means nothing to it
        frequency=ClaimFrequency.ORIGINAL,
        original_claim_number=None,
    )


def _check_belongs(claim: Claim, primary: ClaimPayment) -> None:
    if primary.patient_control_number != claim.id:
        raise SecondaryClaimError(
            f"the remittance claim (CLP01) is not claim {claim.id}",
            hint="match the 835 CLP to the claim by patient control number first",
        )
    if primary.status not in _ADJUDICATED:
        raise SecondaryClaimError(
            f"claim {claim.id}: CLP02 {primary.status.value} is not an adjudication a secondary payer can use",
            hint="use the corrected claim payment, not a reversal or predetermination",
        )
    if primary.charge != claim.total_charge:
        raise SecondaryClaimError(
            f"claim {claim.id}: CLP03 {primary.charge} is not the claim's charge {claim.total_charge}",
            hint="the remittance belongs to another version of this claim",
        )


def _check_balance(primary: ClaimPayment) -> None:
    claim_cas = sum_money(a.amount for a in primary.adjustments)
    line_cas = sum_money(a.amount for s in primary.services for a in s.adjustments)
    if primary.charge - primary.paid != claim_cas + line_cas:
        raise SecondaryClaimError(
            f"claim {primary.patient_control_number}: CLP03 {primary.charge} − CLP04 {primary.paid} ≠ "
            f"claim and line CAS {claim_cas + line_cas}: the remittance does not balance"
        )
    for j, s in enumerate(primary.services):
        cas = sum_money(a.amount for a in s.adjustments)
        if s.charge - s.paid != cas:
            raise SecondaryClaimError(
                f"claim {primary.patient_control_number}: SVC[{j + 1}] SVC02 {s.charge} − SVC03 {s.paid} ≠ "
                f"CAS {cas}: the remittance does not balance"
            )


def _submitted_code(s: ServicePayment) -> tuple[str, str]:
    if s.submitted_procedure:
        return (s.submitted_qualifier or s.procedure_qualifier, s.submitted_procedure)
    return (s.procedure_qualifier, s.procedure)


def _same_service(line: ServiceLine, s: ServicePayment) -> bool:
    qualifier, code = _submitted_code(s)
    if qualifier == "NU":
        matched = line.revenue_code is not None and line.revenue_code.value == code
    else:
        matched = line.procedure is not None and line.procedure.value == code.upper()
    return matched and line.charge == s.charge


def _match_lines(claim: Claim, primary: ClaimPayment) -> list[list[ServicePayment]]:
    """SVCs per claim line: REF*6R first, then procedure/revenue code and charge; every line and SVC used."""
    out: list[list[ServicePayment]] = [[] for _ in claim.lines]
    if not primary.services:
        return out  # claim-level adjudication only (no 2430): allowed, DTP*573 goes in 2330B
    by_control = {line.control_number: i for i, line in enumerate(claim.lines) if line.control_number}
    rest: list[tuple[int, ServicePayment]] = []
    for j, s in enumerate(primary.services):
        if s.control_number and s.control_number in by_control:
            out[by_control[s.control_number]].append(s)
        else:
            rest.append((j, s))
    for j, s in rest:
        found = next((i for i, line in enumerate(claim.lines) if not out[i] and _same_service(line, s)), None)
        if found is None:
            qualifier, code = _submitted_code(s)
            raise SecondaryClaimError(
                f"claim {claim.id}: SVC[{j + 1}] {qualifier}:{code} charge {s.charge} matches none of its lines",
                hint="the line control number (REF*6R) or code and charge must match a submitted line",
            )
        out[found].append(s)
    for i, line in enumerate(claim.lines):
        if not out[i]:
            raise SecondaryClaimError(
                f"claim {claim.id}: line {line.line_number} has no SVC in the remittance",
                hint="every line needs the primary's adjudication (2430) for the COB to balance",
            )
        charged = sum_money(s.charge for s in out[i])
        if charged != line.charge:
            raise SecondaryClaimError(
                f"claim {claim.id}: line {line.line_number} charge {line.charge} ≠ its SVC02 total {charged}"
            )
    return out


def _procedure(s: ServicePayment, line: ServiceLine) -> tuple[Code | None, tuple[Code, ...]]:
    if s.procedure_qualifier not in {"HC", "HP"}:
        return line.procedure, line.modifiers  # NU/N4/...: SVD03 keeps the line's procedure
    try:
        system = CodeSystem.CPT if s.procedure[:1].isdigit() else CodeSystem.HCPCS
        code = Code.parse(s.procedure, system=system)
        modifiers = tuple(Code.parse(m, system=CodeSystem.MODIFIER) for m in s.modifiers)
    except InvalidCode as exc:
        raise SecondaryClaimError(f"SVC01 {s.procedure!r} as adjudicated: {exc.message}") from exc
    return code, modifiers


def _line_adjudication(s: ServicePayment, payer_id: str, adjudicated: dt.date, line: ServiceLine) -> LineAdjudication:
    procedure, modifiers = _procedure(s, line)
    revenue = line.revenue_code
    if s.revenue_code and line.revenue_code is not None:
        try:
            revenue = Code.parse(s.revenue_code, system=CodeSystem.REVENUE)
        except InvalidCode as exc:
            raise SecondaryClaimError(f"SVC04 {s.revenue_code!r}: {exc.message}") from exc
    return LineAdjudication(
        payer_id=payer_id,
        paid_amount=s.paid,
        procedure=procedure,
        modifiers=modifiers,
        revenue_code=revenue if line.revenue_code is not None and revenue != line.revenue_code else None,
        paid_units=s.units_paid if s.units_paid else Decimal("1"),
        adjustments=s.adjustments,
        adjudication_date=adjudicated,
    )

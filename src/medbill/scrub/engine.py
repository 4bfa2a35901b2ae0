"""Run the rules: ``scrub(claim, ctx) -> list[Finding]`` and ``scrub_many(claims, ctx)``.

Like Beancount's validations, a scrub never raises on bad claim data and reports everything in one
pass: every rule runs, and a rule that crashes becomes an ``ENG001`` finding naming the rule (the
findings it yielded before the crash are kept). Findings come back in rule order (family, then code),
each rule's in the order it found them.

Overrides (``ctx.overrides``) are applied last: a finding of an overridable rule matched by an override
with a reason becomes an INFO finding that keeps the message and records the reason; an override of a
rule that may not be overridden, or without a reason, is refused with an ``ENG002`` warning.

``scrub_many`` scrubs a batch, giving each claim the lines of the same patient's other claims in the
batch (and ``ctx.other_lines``) so that PTP pairs, MUE per-day units and duplicates across claims are
found. Lines of replacement (7) and void (8) claims are not shared, and such claims get no batch lines:
a corrected claim stands in for its original, whose lines would otherwise look like duplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence

from medbill.core.claim import Claim
from medbill.core.finding import Finding, Severity
from medbill.scrub.context import OtherLine, Override, ScrubContext, is_void_or_replacement, patient_key
from medbill.scrub.rule import Rule, all_rules, get_rule, rule

log = logging.getLogger(__name__)


@rule("ENG001", name="engine.internal_error", family="engine", severity=Severity.ERROR)
def internal_error(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A rule crashed on this claim: the claim was not fully checked.

    Reported by the engine (this function itself checks nothing). Fails when any rule raises; the
    message names the rule and the exception. Fix: report the problem with the claim's JSON (without
    PHI); the claim should not be submitted until the rule runs.
    """
    return iter(())


@rule("ENG002", name="engine.override_refused", family="engine", severity=Severity.WARNING)
def override_refused(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """An override was refused: the rule may not be overridden, or no reason was recorded.

    Reported by the engine. Passes when every override names an overridable rule (``medbill rules``
    marks them) and carries a reason. Fix: record why the finding does not apply, or correct the claim.
    """
    return iter(())


def _crash(r: Rule, exc: Exception) -> Finding:
    log.warning("rule %s crashed: %s", r.code, type(exc).__name__)
    return internal_error.finding(
        "claim",
        f"rule {r.code} ({r.name}) crashed: {type(exc).__name__}: {exc}",
        "the claim was not fully checked; report this with the claim (without PHI) and do not submit it yet",
    )


def scrub(claim: Claim, ctx: ScrubContext, *, rules: Sequence[Rule] | None = None) -> list[Finding]:
    """Every finding of every rule on ``claim``; never raises on bad claim data."""
    out: list[Finding] = []
    broken: str | None = None
    try:
        ctx.facts(claim)  # what most rules share: if it cannot be computed, say so once
    except Exception as exc:
        broken = f"{type(exc).__name__}: {exc}"
        log.warning("claim facts failed: %s", type(exc).__name__)
        out.append(
            internal_error.finding(
                "claim",
                f"the claim could not be prepared for the rules: {broken}",
                "the claim was not fully checked; correct the claim record (is it a valid claim?) and scrub it again",
            )
        )
    for r in rules if rules is not None else _default_rules():
        try:
            out.extend(r.func(claim, ctx))  # what a rule yields before it crashes stays in ``out``
        except Exception as exc:  # a rule must never stop the scrub
            if broken is None or f"{type(exc).__name__}: {exc}" != broken:
                out.append(_crash(r, exc))
    if ctx.overrides:
        out = _apply_overrides(claim, ctx.overrides, out)
    return out


_RULES: list[Rule] = []


def _default_rules() -> list[Rule]:
    if not _RULES:
        _RULES.extend(r for r in all_rules() if r.family != "engine")
    return _RULES


def scrub_many(claims: Iterable[Claim], ctx: ScrubContext) -> list[list[Finding]]:
    """``scrub`` each claim, with the same patient's lines on the batch's other claims as other lines."""
    batch = list(claims)
    keys: list[str] = []
    lines: list[tuple[OtherLine, ...]] = []
    by_patient: dict[str, list[int]] = {}
    for i, claim in enumerate(batch):
        try:
            key = patient_key(claim)
            shared = () if is_void_or_replacement(claim) else OtherLine.from_claim(claim)
        except Exception as exc:  # a malformed record: scrub() will report what it can
            log.warning("claim %d: cannot index its lines for cross-claim checks: %s", i, type(exc).__name__)
            key, shared = f"#{i}", ()
        keys.append(key)
        lines.append(shared)
        by_patient.setdefault(key, []).append(i)
    results: list[list[Finding]] = []
    for i, claim in enumerate(batch):
        peers = by_patient[keys[i]]
        others: list[OtherLine] = []
        if len(peers) > 1 and not is_void_or_replacement(claim):
            others = [o for j in peers if j != i for o in lines[j]]
        results.append(scrub(claim, ctx.with_other_lines((*ctx.other_lines, *others))))
    return results


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


# ---------------------------------------------------------------------------------------------------
# overrides

_DX_LOCATION = re.compile(r"diagnoses\[(\d+)\]")


def _matches(override: Override, claim: Claim, found: Finding) -> bool:
    if override.rule != found.rule:
        return False
    if override.claim_id is not None and override.claim_id != claim.id:
        return False
    if override.location is not None and override.location != found.location:
        return False
    if override.codes:
        wanted = {c.replace(".", "").upper() for c in override.codes}
        on_claim = {d.code.value for d in claim.diagnoses}
        if not wanted <= on_claim:
            return False
        m = _DX_LOCATION.match(found.location)
        if m is None or int(m.group(1)) >= len(claim.diagnoses):
            return False
        if claim.diagnoses[int(m.group(1))].code.value not in wanted:
            return False
    return True


def _apply_overrides(claim: Claim, overrides: Sequence[Override], findings: list[Finding]) -> list[Finding]:
    out: list[Finding] = []
    refused: list[Finding] = []
    usable: list[Override] = []
    for ov in overrides:
        if ov.claim_id is not None and ov.claim_id != claim.id:
            continue
        r = get_rule(ov.rule)
        if r is None or not r.overridable:
            why = "is not a rule" if r is None else "may not be overridden"
            refused.append(override_refused.finding("claim", f"override of {ov.rule} refused: {ov.rule} {why}"))
        elif not ov.reason.strip():
            refused.append(
                override_refused.finding(
                    "claim", f"override of {ov.rule} refused: no reason recorded", "record a reason"
                )
            )
        else:
            usable.append(ov)
    for found in findings:
        match = next((ov for ov in usable if _matches(ov, claim, found)), None)
        if match is None:
            out.append(found)
            continue
        by = f" by {match.by}" if match.by else ""
        out.append(
            Finding(
                rule=found.rule,
                name=found.name,
                severity=Severity.INFO,
                message=f"{found.message} [overridden{by}: {match.reason.strip()}]",
                location=found.location,
                fix="",
            )
        )
    return out + refused

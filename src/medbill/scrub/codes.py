"""Codes family: every code on the claim exists and is in effect on its date, and the ICD-10-CM
conventions a payer edits for.

Diagnoses are judged on the date the claim's codes are judged on (``ClaimFacts.code_date``: the
discharge date for inpatient claims, the first date of service otherwise), against the MCE validity
ranges; CPT/HCPCS, modifiers and revenue codes on each line's date against the I/OCE tables; POS codes
against the CMS list. A table that is not loaded, or does not reach the date, is reported once by
REF001 (INFO) and its rule passes rather than guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from medbill.core.claim import Claim, ClaimKind, DiagnosisRole
from medbill.core.codes import CodeSystem, display
from medbill.core.finding import Finding, Severity
from medbill.scrub.context import ClaimSetting, ScrubContext, service_code
from medbill.scrub.rule import rule
from medbill.scrub.tables import Span

CM = CodeSystem.ICD10CM
_MAIN_ROLES = (DiagnosisRole.PRINCIPAL, DiagnosisRole.OTHER, DiagnosisRole.EXTERNAL_CAUSE)
_ADDON_FLAGS = frozenset({"addon_type1", "addon_type2", "addon_type3"})


def _spans_text(spans: tuple[Span, ...]) -> str:
    return ", ".join(sp.text for sp in spans)


def _dx(code: str) -> str:
    return display(code, CM)


@rule("REF001", name="codes.tables_missing", family="codes", severity=Severity.INFO)
def tables_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Says which reference tables this claim needs are not loaded (or do not reach its dates).

    Code checks that need a missing table pass silently; this one INFO finding per claim says which
    were skipped. Passes when every table the claim needs is loaded and covers its dates. Fix: build
    the reference store with the current releases (``medbill data fetch`` / ``medbill data build``).
    """
    facts = ctx.facts(claim)
    tables = ctx.tables
    line_dates = [d for d in facts.line_dates if d is not None]
    first_line = min(line_dates) if line_dates else None
    needed: list[tuple[CodeSystem, dt.date | None]] = []
    if claim.diagnoses:
        needed.append((CM, facts.code_date))
    systems = set()
    mods = revenue = False
    for ln in claim.lines:
        if ln.procedure is not None:
            systems.add(ln.procedure.system)
        mods = mods or bool(ln.modifiers)
        revenue = revenue or ln.revenue_code is not None
    for system in (CodeSystem.CPT, CodeSystem.HCPCS):
        if system in systems:
            needed.append((system, first_line))
    if mods:
        needed.append((CodeSystem.MODIFIER, first_line))
    if claim.kind is ClaimKind.PROFESSIONAL:
        needed.append((CodeSystem.POS, None))
    elif revenue:
        needed.append((CodeSystem.REVENUE, first_line))
    inst = claim.institutional
    if facts.setting is ClaimSetting.INPATIENT and inst is not None and inst.principal_procedure is not None:
        needed.append((CodeSystem.ICD10PCS, facts.code_date))
    missing: list[str] = []
    for system, when in needed:
        if not tables.has(system):
            missing.append(f"{system.label} (not loaded)")
        elif when is not None and system is not CodeSystem.POS and not tables.covers(system, when):
            cov = tables.coverage(system)
            span = f"{cov[0].isoformat()}..{cov[1].isoformat() if cov and cov[1] else 'open'}" if cov else "?"
            missing.append(f"{system.label} (loaded for {span}, not {when.isoformat()})")
    if missing:
        yield tables_missing.finding(
            "claim",
            "not checked against reference tables: " + "; ".join(missing),
            "load the current releases (`medbill data fetch`, `medbill data build`)",
        )


@rule("DX001", name="codes.dx_valid", family="codes", severity=Severity.ERROR)
def dx_valid(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Each ICD-10-CM diagnosis exists and is billable on the date of service (inpatient: discharge).

    Fails on a code that does not exist, a category or subcategory (not billable: it has children),
    or a code not in effect on the date (added later, or deleted by an October 1 update). Passes for a
    billable code in effect on the date. Fix: code to the highest specificity, with the code set of the
    date of service. (A missing 7th character is DX002.)
    """
    facts = ctx.facts(claim)
    on = facts.code_date
    if on is None:
        return
    for i, dx in enumerate(claim.diagnoses):
        if facts.dx_flags[i] is not None or dx.code.system is not CM:  # valid on the date
            continue
        code = dx.code.value
        st = ctx.tables.dx_status(code, on)
        loc = f"diagnoses[{i}].code"
        if st.state == "not_on_date":
            yield dx_valid.finding(
                loc,
                f"{_dx(code)} is not valid on {on.isoformat()} (valid {_spans_text(st.spans)})",
                "use the code in effect on the date of service (code sets change every October 1)",
            )
        elif st.state == "header":
            yield dx_valid.finding(
                loc,
                f"{_dx(code)} is a {st.kind}, not a billable code",
                "code to the highest specificity: choose one of the codes below it",
            )
        elif st.state == "unknown":
            yield dx_valid.finding(
                loc, f"{_dx(code)} does not exist in ICD-10-CM", "look the condition up in the Alphabetic Index"
            )


@rule("DX002", name="codes.dx_seventh_character", family="codes", severity=Severity.ERROR)
def dx_seventh_character(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A diagnosis under a 7th-character definition has a valid 7th character (placeholder X to reach it).

    Fails on S01.81 (needs A, D or S: S01.81XA) or on a 7th character its category does not define.
    Passes for a complete code. Fix: add the placeholder X up to six characters and the 7th character
    for the encounter (A initial, D subsequent, S sequela ...).
    """
    facts = ctx.facts(claim)
    on = facts.code_date
    if on is None:
        return
    for i, dx in enumerate(claim.diagnoses):
        if facts.dx_flags[i] is not None or dx.code.system is not CM:  # valid on the date
            continue
        code = dx.code.value
        st = ctx.tables.dx_status(code, on)
        if st.state == "needs_seventh":
            example = _dx(code.ljust(6, "X") + st.chars[:1])
            yield dx_seventh_character.finding(
                f"diagnoses[{i}].code",
                f"{_dx(code)} needs a 7th character ({', '.join(st.chars)} defined at {_dx(st.node)})",
                f"add the placeholder X and the 7th character, e.g. {example}",
            )
        elif st.state == "bad_seventh":
            yield dx_seventh_character.finding(
                f"diagnoses[{i}].code",
                f"7th character {code[6]} of {_dx(code)} is not one of {', '.join(st.chars)} "
                f"(defined at {_dx(st.node)})",
                "use a 7th character the category defines",
            )


@rule("DX003", name="codes.dx_excludes1", family="codes", severity=Severity.ERROR, overridable=True)
def dx_excludes1(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Two diagnoses on one claim form an Excludes1 pair ("not coded here": never together).

    Fails when a code's Excludes1 note (at the code, an ancestor, its block or chapter) names another
    code on the claim, e.g. E11.9 with E10.9. Admitting and reason-for-visit diagnoses are not paired.
    Overridable: the guidelines allow both when the conditions are unrelated; record an override with
    the reason. Fix: keep the code the documentation supports.
    """
    codes = [
        (i, dx.code.value) for i, dx in enumerate(claim.diagnoses) if dx.code.system is CM and dx.role in _MAIN_ROLES
    ]
    tables = ctx.tables
    for a in range(len(codes)):
        i, ca = codes[a]
        for b in range(a + 1, len(codes)):
            j, cb = codes[b]
            if ca == cb:
                continue
            ex = tables.excludes1(ca, cb)
            first, second = ca, cb
            if ex is None:
                ex = tables.excludes1(cb, ca)
                first, second = cb, ca
            if ex is None:
                continue
            yield dx_excludes1.finding(
                f"diagnoses[{j}].code",
                f'{_dx(first)} and {_dx(second)} are an Excludes1 pair: {_dx(ex.node)} excludes "{ex.text}"',
                "keep the code the documentation supports; if the conditions are unrelated, record an "
                "override with the reason",
            )


def _flags_any(ctx: ScrubContext, code: str, on: dt.date | None) -> frozenset[str]:
    """The code's flags on the date, else those of any of its ranges (an invalid code is DX001's)."""
    if on is not None:
        flags = ctx.tables.flags_on(CM, code, on.toordinal())
        if flags is not None:
            return flags
    out: frozenset[str] = frozenset()
    for sp in ctx.tables.spans(CM, code):
        out = out | sp.flags
    return out


@rule("DX004", name="codes.dx_manifestation_first", family="codes", severity=Severity.ERROR)
def dx_manifestation_first(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A manifestation code ("in diseases classified elsewhere", "code first") is not first-listed.

    Fails when the principal (837I) or first (837P) diagnosis carries the MCE manifestation flag,
    e.g. G01. Fix: list the underlying condition (etiology) first and the manifestation after it.
    """
    facts = ctx.facts(claim)
    p = facts.principal
    if p is None or p >= len(claim.diagnoses) or claim.diagnoses[p].code.system is not CM:
        return
    code = claim.diagnoses[p].code.value
    flags = facts.dx_flags[p]
    if "manifestation" in (flags if flags is not None else _flags_any(ctx, code, None)):
        yield dx_manifestation_first.finding(
            f"diagnoses[{p}].code",
            f"{_dx(code)} is a manifestation code and may not be the first-listed diagnosis",
            "list the underlying condition first (see the code's 'code first' note), then this code",
        )


@rule("DX005", name="codes.dx_external_cause_first", family="codes", severity=Severity.ERROR)
def dx_external_cause_first(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """An external-cause code (V00-Y99) is never the principal or first-listed diagnosis.

    Fails when the principal/first diagnosis is in V00-Y99 (MCE "E-code as principal"). Fix: list the
    injury or condition first; keep the external cause as a secondary (837I: external-cause) code.
    """
    facts = ctx.facts(claim)
    p = facts.principal
    if p is None or p >= len(claim.diagnoses) or claim.diagnoses[p].code.system is not CM:
        return
    code = claim.diagnoses[p].code.value
    flags = facts.dx_flags[p]
    if code[:1] in ("V", "W", "X", "Y") or (flags is not None and "ecodepdx" in flags):
        yield dx_external_cause_first.finding(
            f"diagnoses[{p}].code",
            f"{_dx(code)} is an external-cause code and may not be the first-listed diagnosis",
            "list the injury or condition first and the external cause after it",
        )


@rule("DX006", name="codes.dx_unacceptable_principal", family="codes", severity=Severity.ERROR)
def dx_unacceptable_principal(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """On an inpatient claim (type of bill 11x), the principal diagnosis is acceptable as principal (MCE).

    Fails when the principal diagnosis carries the MCE "unacceptable principal diagnosis" flag on the
    discharge date (e.g. Z37.0, many Z codes, some symptoms). Outpatient and professional claims pass.
    Fix: make the condition chiefly responsible for the admission the principal diagnosis.
    """
    facts = ctx.facts(claim)
    p = facts.principal
    if facts.setting is not ClaimSetting.INPATIENT or p is None or facts.code_date is None:
        return
    dx = claim.diagnoses[p]
    flags = facts.dx_flags[p]
    if flags is not None and "unacceptable" in flags:
        yield dx_unacceptable_principal.finding(
            f"diagnoses[{p}].code",
            f"{_dx(dx.code.value)} is not acceptable as the principal diagnosis of an inpatient claim (MCE)",
            "make the condition chiefly responsible for the admission the principal diagnosis",
        )


@rule("DX007", name="codes.dx_duplicate", family="codes", severity=Severity.WARNING)
def dx_duplicate(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A diagnosis code appears only once among the principal and other diagnoses.

    Fails (warning) on a repeated code (MCE "duplicate of principal diagnosis" when it repeats the
    principal). Admitting and reason-for-visit diagnoses may repeat the principal. Fix: remove the
    repeated code.
    """
    seen: dict[str, int] = {}
    for i, dx in enumerate(claim.diagnoses):
        if dx.role not in _MAIN_ROLES:
            continue
        first = seen.setdefault(dx.code.value, i)
        if first != i:
            yield dx_duplicate.finding(
                f"diagnoses[{i}].code",
                f"{_dx(dx.code.value)} repeats diagnosis {first + 1}",
                "remove the repeated diagnosis (and repoint the lines)",
            )


@rule("PX001", name="codes.procedure_valid", family="codes", severity=Severity.ERROR)
def procedure_valid(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Each line's CPT/HCPCS code exists and is active on the line's date (I/OCE code table).

    Fails on a code the table does not have, or outside its active dates (deleted, not yet effective,
    or an approval period that ended). Fix: bill the code in effect on the date of service.
    """
    facts = ctx.facts(claim)
    tables = ctx.tables
    for i, flags in enumerate(facts.line_flags):
        if flags is not None:  # valid on its date
            continue
        proc = claim.lines[i].procedure
        on = facts.line_dates[i]
        if proc is None or on is None or proc.system not in (CodeSystem.CPT, CodeSystem.HCPCS):
            continue
        if not tables.covers(proc.system, on):
            continue
        spans = tables.spans(proc.system, proc.value)
        if spans:
            msg = f"{proc.system.label} {proc.value} is not active on {on.isoformat()} (active {_spans_text(spans)})"
        else:
            msg = f"{proc.system.label} {proc.value} is not in the loaded {proc.system.label} code table"
        yield procedure_valid.finding(f"lines[{i}].procedure", msg, "bill the code in effect on the date of service")


@rule("PX002", name="codes.addon_without_primary", family="codes", severity=Severity.ERROR)
def addon_without_primary(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """An add-on code is billed with a primary procedure by the same provider on the same day.

    Fails on a code the I/OCE flags as an add-on (type 1, 2 or 3) when no other, non-add-on procedure
    is billed that day (on this claim or the patient's other claims). The CMS lists of acceptable
    primary codes are not loaded, so any primary procedure passes. Fix: bill the primary procedure,
    or remove the add-on.
    """
    facts = ctx.facts(claim)
    tables = ctx.tables
    addons: list[int] = []
    primaries: set[tuple[dt.date | None, str]] = set()

    def is_addon(system: CodeSystem, code: str, on: dt.date | None) -> bool:
        if on is None:
            return False
        flags = tables.flags_on(system, code, on.toordinal())
        return flags is not None and bool(flags & _ADDON_FLAGS)

    for i, line in enumerate(claim.lines):
        if line.procedure is None:
            continue
        flags = facts.line_flags[i]
        if flags is not None and not flags.isdisjoint(_ADDON_FLAGS):
            addons.append(i)
        elif service_code(line.procedure) is not None:
            primaries.add((facts.line_dates[i], facts.line_npis[i]))
    if not addons:
        return
    for o in facts.other_lines:
        if o.procedure is not None and service_code(o.procedure) is not None:
            if not is_addon(o.procedure.system, o.procedure.value, o.service_date):
                primaries.add((o.service_date, o.provider_npi))
    for i in addons:
        if (facts.line_dates[i], facts.line_npis[i]) not in primaries:
            line = claim.lines[i]
            assert line.procedure is not None
            when = facts.line_dates[i]
            yield addon_without_primary.finding(
                f"lines[{i}].procedure",
                f"add-on code {line.procedure.value} is billed without a primary procedure on "
                f"{when.isoformat() if when else 'its date'}",
                "bill the primary procedure it adds to (same provider, same day), or remove the add-on",
            )


@rule("PX003", name="codes.pcs_valid", family="codes", severity=Severity.ERROR)
def pcs_valid(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Each ICD-10-PCS procedure on an inpatient claim is valid on the discharge date.

    Fails on a PCS code that does not exist or is not in effect on the discharge date (MCE "invalid
    procedure"). Fix: code the procedure with the PCS tables of the discharge date.
    """
    facts = ctx.facts(claim)
    inst = claim.institutional
    if inst is None or facts.code_date is None:
        return
    procs = (
        [("institutional.principal_procedure.code", inst.principal_procedure)] if inst.principal_procedure else []
    ) + [(f"institutional.other_procedures[{k}].code", p) for k, p in enumerate(inst.other_procedures)]
    for loc, proc in procs:
        assert proc is not None
        st = ctx.tables.dx_status(proc.code.value, facts.code_date, CodeSystem.ICD10PCS)
        if st.state == "not_on_date":
            yield pcs_valid.finding(
                loc,
                f"ICD-10-PCS {proc.code.value} is not valid on {facts.code_date.isoformat()} "
                f"(valid {_spans_text(st.spans)})",
                "code the procedure with the PCS tables of the discharge date",
            )
        elif st.state in ("unknown", "header"):
            yield pcs_valid.finding(
                loc, f"ICD-10-PCS {proc.code.value} does not exist", "build the code from the PCS tables"
            )


@rule("MOD001", name="codes.modifier_valid", family="codes", severity=Severity.ERROR)
def modifier_valid(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Each modifier exists and is active on the line's date (I/OCE modifier table).

    Fails on an unknown modifier or one used outside its active dates. Fix: use a valid modifier, or
    none.
    """
    facts = ctx.facts(claim)
    tables = ctx.tables
    for i, line in enumerate(claim.lines):
        on = facts.line_dates[i]
        if on is None or not line.modifiers or not tables.covers(CodeSystem.MODIFIER, on):
            continue
        for k, mod in enumerate(line.modifiers):
            spans = tables.spans(CodeSystem.MODIFIER, mod.value)
            o = on.toordinal()
            if any(sp.start <= o <= sp.end for sp in spans):
                continue
            msg = (
                f"modifier {mod.value} is not active on {on.isoformat()} (active {_spans_text(spans)})"
                if spans
                else f"modifier {mod.value} is not a valid modifier"
            )
            yield modifier_valid.finding(f"lines[{i}].modifiers[{k}]", msg, "use a valid modifier or remove it")


@rule("POS001", name="codes.pos_valid", family="codes", severity=Severity.ERROR)
def pos_valid(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A professional claim has a valid place of service (CLM05-1), and each line's POS is valid.

    Fails when the claim has no POS, or a POS code is not on the CMS place-of-service list. Fix: use
    the two-digit POS where the service was given (11 office, 22 outpatient hospital, 10 home telehealth ...).
    """
    if claim.kind is not ClaimKind.PROFESSIONAL:
        return
    if claim.place_of_service is None:
        yield pos_valid.finding(
            "place_of_service", "a professional claim needs a place of service (CLM05-1)", "give the POS code"
        )
    if not ctx.tables.has(CodeSystem.POS):
        return
    tables = ctx.tables
    pos = claim.place_of_service
    if pos is not None and not tables.pos_valid(pos.value):
        yield pos_valid.finding(
            "place_of_service", f"place of service {pos.value} is not on the CMS POS list", "use a valid POS code"
        )
    for i, ln in enumerate(claim.lines):
        pos = ln.place_of_service
        if pos is not None and not tables.pos_valid(pos.value):
            yield pos_valid.finding(
                f"lines[{i}].place_of_service",
                f"place of service {pos.value} is not on the CMS POS list",
                "use a valid POS code",
            )


@rule("REV001", name="codes.revenue_valid", family="codes", severity=Severity.ERROR)
def revenue_valid(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Each institutional line's revenue code exists and is active on its date (I/OCE revenue table).

    Fails on an unknown revenue code or one outside its active dates. Fix: use the four-digit NUBC
    revenue code for the department (0450 emergency room, 0300 laboratory ...).
    """
    facts = ctx.facts(claim)
    tables = ctx.tables
    for i, line in enumerate(claim.lines):
        rev, on = line.revenue_code, facts.line_dates[i]
        if rev is None or on is None or not tables.covers(CodeSystem.REVENUE, on):
            continue
        spans = tables.spans(CodeSystem.REVENUE, rev.value)
        o = on.toordinal()
        if any(sp.start <= o <= sp.end for sp in spans):
            continue
        msg = (
            f"revenue code {rev.value} is not active on {on.isoformat()} (active {_spans_text(spans)})"
            if spans
            else f"revenue code {rev.value} is not a valid revenue code"
        )
        yield revenue_valid.finding(f"lines[{i}].revenue_code", msg, "use the NUBC revenue code for the department")

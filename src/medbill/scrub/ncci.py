"""NCCI family: procedure-to-procedure (PTP) pairs.

A column-1/column-2 pair billed for the same patient, by the same provider (the line's rendering NPI,
else the claim's rendering or billing NPI), on the same date of service, on this claim or another of
the patient's claims (``ctx.other_lines``), is flagged while the edit is in effect
(``effective <= date < deletion``). Modifier indicator 0: never together, modifiers do not help;
1: allowed when an NCCI-associated modifier is on either code (59, XE, XP, XS, XU, 24, 25, 27, 57,
58, 78, 79, 91; an anatomic modifier (LT/RT, E1-E4, FA-F9, TA-T9, LC/LD/LM/RC/RI) counts when the two
lines' anatomic modifiers differ); 9: not applicable.

Tables: professional claims use the practitioner PTP table and, when it is not loaded, the hospital
outpatient one (I/OCE, then the CMS outpatient file); outpatient institutional claims the I/OCE table,
then the CMS outpatient file. Each finding names the table it came from. Inpatient claims have no PTP
edits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from medbill.core.claim import Claim
from medbill.core.codes import Code, CodeSystem
from medbill.core.finding import Finding, Severity
from medbill.scrub.context import ClaimSetting, ScrubContext, service_code
from medbill.scrub.rule import rule
from medbill.scrub.tables import PTP_TABLE_NAMES, PtpEdit

NCCI_MODIFIERS = frozenset({"59", "XE", "XP", "XS", "XU", "24", "25", "27", "57", "58", "78", "79", "91"})
ANATOMIC_MODIFIERS = frozenset(
    {"LT", "RT", "E1", "E2", "E3", "E4", "FA", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9"}
    | {"TA", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "LC", "LD", "LM", "RC", "RI"}
)
TABLE_ORDER = {
    ClaimSetting.PROFESSIONAL: ("practitioner", "ioce", "outpatient"),
    ClaimSetting.OUTPATIENT: ("ioce", "outpatient"),
}


def ptp_table(ctx: ScrubContext, setting: ClaimSetting) -> str | None:
    for table in TABLE_ORDER.get(setting, ()):
        if table in ctx.tables.ptp_tables:
            return table
    return None


def bypassed(mods1: frozenset[str], mods2: frozenset[str]) -> str | None:
    """The NCCI-associated modifier that lets an indicator-1 pair through, or None."""
    for m in sorted((mods1 | mods2) & NCCI_MODIFIERS):
        return m
    a1, a2 = mods1 & ANATOMIC_MODIFIERS, mods2 & ANATOMIC_MODIFIERS
    if (a1 or a2) and a1 != a2:
        return "/".join(sorted(a1 | a2))
    return None


_SERVICE_SYSTEMS = (CodeSystem.CPT, CodeSystem.HCPCS)


# (index into claim.lines or -1 for another claim's line, its modifiers, "claim X line n" or "")
_Line = tuple[int, tuple[Code, ...], str]


_MISSING: dict[ClaimSetting, Finding] = {}


@rule("NCCI000", name="ncci.table_missing", family="ncci", severity=Severity.INFO)
def table_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Says that no NCCI PTP table for this claim type is loaded, so PTP pairs were not checked.

    Professional claims need the practitioner table (or, as a fallback, the hospital outpatient one);
    outpatient institutional claims the hospital outpatient (I/OCE) table. Passes when one is loaded,
    and for inpatient claims. Fix: load the CMS NCCI PTP files (``medbill data fetch``).
    """
    setting = ctx.facts(claim).setting
    if setting in TABLE_ORDER and ptp_table(ctx, setting) is None and len(claim.lines) > 1:
        found = _MISSING.get(setting)
        if found is None:  # the same immutable finding for every claim
            wanted = " or ".join(PTP_TABLE_NAMES[t] for t in TABLE_ORDER[setting])
            found = _MISSING[setting] = table_missing.finding(
                "claim",
                f"NCCI PTP pairs not checked: no {wanted} is loaded",
                "load the CMS NCCI PTP files (`medbill data fetch`, `medbill data build`)",
            )
        yield found


@rule("NCCI001", name="ncci.ptp_pair", family="ncci", severity=Severity.ERROR)
def ptp_pair(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A column-1/column-2 NCCI PTP pair is billed on the same date by the same provider.

    Fails for an indicator-0 pair whatever the modifiers, and for an indicator-1 pair unless an
    NCCI-associated modifier is on either code (59, XE/XP/XS/XU, 24, 25, 27, 57, 58, 78, 79, 91, or
    differing anatomic modifiers). Passes when the edit was deleted before the date, not yet effective,
    indicator 9, or bypassed. The pair may span claims (``ctx.other_lines``). Fix: indicator 0, remove
    the column-2 code (it is part of the column-1 service); indicator 1, if the services were distinct,
    append the modifier that says how (and document it), otherwise remove the column-2 code.
    """
    facts = ctx.facts(claim)
    table = ptp_table(ctx, facts.setting)
    if table is None or len(claim.lines) + len(facts.other_lines) < 2:
        return
    if not facts.other_lines:  # most claims: one cheap test over every code of the claim first
        codes = [ln.procedure.value for ln in claim.lines if ln.procedure is not None]
        if len(codes) < 2 or not ctx.tables.ptp_any(table, codes):
            return
    # (date, provider) -> code -> [(line index or -1 for another claim's line, modifiers, where)]
    groups: dict[tuple[dt.date, str], dict[str, list[_Line]]] = {}
    dates, npis = facts.line_dates, facts.line_npis
    for i, line in enumerate(claim.lines):
        proc, on = line.procedure, dates[i]
        if proc is None or on is None or proc.system not in _SERVICE_SYSTEMS:
            continue
        key = (on, npis[i])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {}
        found = group.get(proc.value)
        if found is None:
            group[proc.value] = [(i, line.modifiers, "")]
        else:
            found.append((i, line.modifiers, ""))
    if not groups:
        return
    for o in facts.other_lines:
        code = service_code(o.procedure)
        if code is None or o.service_date is None:
            continue
        group = groups.get((o.service_date, o.provider_npi))
        if group is not None:
            group.setdefault(code, []).append((-1, o.modifiers, o.where))
    tables = ctx.tables
    for (on, _npi), by_code in groups.items():
        if len(by_code) < 2:
            continue
        focus = [c for c, lns in by_code.items() if any(ln[0] >= 0 for ln in lns)]
        edits = tables.ptp_pairs(table, list(by_code), focus if len(focus) < len(by_code) else None)
        if not edits:
            continue
        day = on.toordinal()
        for edit in edits:
            if not edit.applies_on(day):
                continue
            for l1 in by_code[edit.column1]:
                for l2 in by_code[edit.column2]:
                    if l1[0] < 0 and l2[0] < 0:
                        continue
                    if edit.modifier_indicator == "1" and bypassed(_values(l1[1]), _values(l2[1])) is not None:
                        continue
                    yield _finding(edit, facts.setting, on, l1, l2)


def _values(modifiers: tuple[Code, ...]) -> frozenset[str]:
    return frozenset(m.value for m in modifiers)


def _where(line: _Line) -> str:
    return line[2] or f"line {line[0] + 1}"


def _finding(edit: PtpEdit, setting: ClaimSetting, on: dt.date, l1: _Line, l2: _Line) -> Finding:
    mi, c1, c2 = edit.modifier_indicator, edit.column1, edit.column2
    fallback = ""
    if setting is ClaimSetting.PROFESSIONAL and edit.table != "practitioner":
        fallback = " (the practitioner table is not loaded)"
    head = (
        f"{c2} ({_where(l2)}, column 2) and {c1} ({_where(l1)}, column 1) are an NCCI PTP pair on "
        f"{on.isoformat()} in the {edit.table_name}{fallback}, modifier indicator {mi}"
    )
    if l2[0] >= 0:
        loc = f"lines[{l2[0]}].{'procedure' if mi == '0' else 'modifiers'}"
    else:
        loc = f"lines[{l1[0]}].procedure"
    if mi == "0":
        return ptp_pair.finding(
            loc,
            head + ": never billed together, modifiers do not bypass it",
            f"remove {c2}: it is part of {c1}",
        )
    return ptp_pair.finding(
        loc,
        head + ": allowed only with an NCCI-associated modifier",
        f"if the services were distinct (other site, session or encounter), append 59 or XE/XP/XS/XU (25 on a "
        f"significant separate E/M) and document it; otherwise remove {c2}",
    )

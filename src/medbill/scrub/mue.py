"""MUE family: medically unlikely edits, units of service above the CMS limit.

The table follows the claim type: practitioner MUEs for professional claims, outpatient hospital MUEs
for outpatient institutional claims (none for inpatient). The MUE adjudication indicator (MAI) says
how the limit applies: 1 per claim line; 2 per date of service, an absolute limit set by policy;
3 per date of service, a clinical limit that may be exceeded on appeal with documentation. Per-day
units add up this claim's lines and the patient's other lines (``ctx.other_lines``) with the same
code, date and provider. Lines in anesthesia minutes (MJ) are not counted. When no MUE table for the
claim type is loaded, one INFO finding says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from medbill.core.claim import Claim, UnitType
from medbill.core.finding import Finding, Severity
from medbill.scrub.context import ClaimSetting, ScrubContext, service_code
from medbill.scrub.rule import rule
from medbill.scrub.tables import MUE_TABLE_NAMES

MUE_TABLE = {ClaimSetting.PROFESSIONAL: "practitioner", ClaimSetting.OUTPATIENT: "outpatient"}
MAI_TEXT = {
    1: "MAI 1: a per-line limit",
    2: "MAI 2: an absolute per-day limit set by policy",
    3: "MAI 3: a clinical per-day limit",
}


def _units(u: Decimal) -> str:
    return format(u.normalize(), "f")


_MISSING: dict[str, Finding] = {}


@rule("MUE000", name="mue.table_missing", family="mue", severity=Severity.INFO)
def table_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Says that the MUE table for this claim type is not loaded, so units were not checked.

    Professional claims need the practitioner MUE table, outpatient institutional claims the outpatient
    hospital one. Passes when it is loaded, and for inpatient claims. Fix: load the CMS MUE tables
    (``medbill data fetch``).
    """
    table = MUE_TABLE.get(ctx.facts(claim).setting)
    if table is not None and table not in ctx.tables.mue_tables and claim.lines:
        found = _MISSING.get(table)
        if found is None:  # the same immutable finding for every claim
            found = _MISSING[table] = table_missing.finding(
                "claim",
                f"units not checked against MUEs: the {MUE_TABLE_NAMES[table]} is not loaded",
                "load the CMS MUE tables (`medbill data fetch`, `medbill data build`)",
            )
        yield found


@rule("MUE001", name="mue.units_per_line", family="mue", severity=Severity.ERROR)
def units_per_line(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A line's units do not exceed the code's MUE when its MAI is 1 (a per-line edit).

    Fails when one line bills more units than the limit (e.g. 2 units of a code whose MUE is 1, MAI 1).
    Fix: correct the units; if more were truly given, bill them on separate lines with the modifier
    that says why (76, 77, 91, 59/XE/XS, anatomic) as the payer's MUE policy allows.
    """
    facts = ctx.facts(claim)
    table = MUE_TABLE.get(facts.setting)
    if table is None or table not in ctx.tables.mue_tables:
        return
    for i, line in enumerate(claim.lines):
        code, on = service_code(line.procedure), facts.line_dates[i]
        if code is None or on is None or line.unit_type is UnitType.MINUTES:
            continue
        limit = ctx.tables.mue(table, code, on)
        if limit is None or limit.mai != 1 or line.units <= limit.max_units:
            continue
        yield units_per_line.finding(
            f"lines[{i}].units",
            f"{_units(line.units)} units of {code} on line {i + 1} exceed its MUE of {limit.max_units} "
            f"({limit.table_name}, {MAI_TEXT[1]})",
            "correct the units, or split them over lines with the modifiers that explain the repeat",
        )


@rule("MUE002", name="mue.units_per_day", family="mue", severity=Severity.ERROR)
def units_per_day(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The units of a code on one date do not exceed its MUE when its MAI is 2 or 3 (per-day edits).

    Adds up the units of the code for the same date and provider on this claim and the patient's other
    claims. Fails above the limit: MAI 2 is an absolute policy limit; MAI 3 a clinical limit the payer
    may pay above on appeal with documentation. Fix: correct the units; for MAI 3, bill within the
    limit and appeal with the medical record.
    """
    facts = ctx.facts(claim)
    table = MUE_TABLE.get(facts.setting)
    if table is None or table not in ctx.tables.mue_tables:
        return
    totals: dict[tuple[str, dt.date, str], Decimal] = {}
    first_line: dict[tuple[str, dt.date, str], int] = {}
    for i, line in enumerate(claim.lines):
        code, on = service_code(line.procedure), facts.line_dates[i]
        if code is None or on is None or line.unit_type is UnitType.MINUTES:
            continue
        key = (code, on, facts.line_npis[i])
        totals[key] = totals.get(key, Decimal(0)) + line.units
        first_line.setdefault(key, i)
    if not totals:
        return
    others: dict[tuple[str, dt.date, str], Decimal] = {}
    for o in facts.other_lines:
        code = service_code(o.procedure)
        if code is None or o.service_date is None:
            continue
        key = (code, o.service_date, o.provider_npi)
        if key in totals:
            others[key] = others.get(key, Decimal(0)) + o.units
    for key, units in totals.items():
        code, on, _npi = key
        limit = ctx.tables.mue(table, code, on)
        if limit is None or limit.mai not in (2, 3):
            continue
        total = units + others.get(key, Decimal(0))
        if total <= limit.max_units:
            continue
        elsewhere = f" ({_units(others[key])} of them on other claims)" if key in others else ""
        yield units_per_day.finding(
            f"lines[{first_line[key]}].units",
            f"{_units(total)} units of {code} on {on.isoformat()}{elsewhere} exceed its MUE of {limit.max_units} "
            f"({limit.table_name}, {MAI_TEXT[limit.mai]})",
            "correct the units"
            if limit.mai == 2
            else "bill within the limit and appeal the rest with the medical record, or correct the units",
        )

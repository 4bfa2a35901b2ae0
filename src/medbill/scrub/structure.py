"""Structure family: what every clearinghouse checks before it looks at codes.

NPI check digits, diagnosis pointers, descriptions of not-otherwise-classified codes, modifier 25 on a
visit with a same-day procedure, at least one diagnosis, positive charges and totals, dates (future,
before birth, inside the statement period), duplicate lines, the timely filing window, and what the
837 cannot go without (subscriber id, payer id, billing NPI and 9-digit ZIP). Where
``medbill.core.claim.claim_problems`` already checks something (pointers, totals, date order, the
837's limits), its problems are mapped to findings here rather than checked again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from medbill.core.claim import Claim, ClaimProblem, is_valid_npi
from medbill.core.codes import Code, CodeSystem
from medbill.core.finding import Finding, Severity
from medbill.scrub.context import ClaimSetting, ScrubContext, service_code
from medbill.scrub.rule import Rule, rule

# ---------------------------------------------------------------------------------------------------
# claim_problems -> findings

_POINTER_PROBLEMS = frozenset(
    {
        "line.pointer_missing",
        "line.pointer_duplicate",
        "line.pointer_range",
        "line.pointer_dangling",
        "line.too_many_pointers",
        "line.pointer_institutional",
    }
)
_DATE_ORDER_PROBLEMS = frozenset({"line.dates_order", "inst.statement_order", "inst.span_order"})
_MAPPED = _POINTER_PROBLEMS | _DATE_ORDER_PROBLEMS | {"dx.none", "total.mismatch"}

_FIXES = {
    "kind.institutional_on_professional": "remove the institutional information, or bill the claim as institutional",
    "kind.institutional_missing": "add the institutional information (type of bill, statement period, ...)",
    "frequency.invalid": "use frequency 1 (original), 7 (replacement) or 8 (void) on a professional claim",
    "frequency.original_missing": "give the payer's claim control number of the claim replaced or voided (REF*F8)",
    "frequency.original_unexpected": "remove the original claim number, or set frequency 7 or 8",
    "patient.missing": "add the patient, or set the relationship to 18 (self)",
    "patient.relationship_self": "give the patient's relationship to the subscriber, or remove the separate patient",
    "provider.role_mismatch": "put each provider in the slot of its role",
    "cob.prior_payer_missing": "add the prior payer's adjudication (paid amount, adjustments, date)",
    "cob.sbr05_missing": "give the Medicare secondary payer type (SBR05, e.g. 12 working aged)",
    "cob.line_unbalanced": "make the line charge equal the prior payer's paid amount plus its line adjustments",
    "cob.claim_unbalanced": "make the claim total equal the prior payer's paid amount plus all its adjustments",
    "cob.unknown_payer": "adjudicate the line by a payer listed among the other payers",
    "cob.cas_too_many": "put at most six reasons under one adjustment group",
    "cob.paid_missing": "give the other payer's paid amount with its adjustments",
    "cob.date_missing": "give the other payer's adjudication date",
    "code.system": "use a code of the system the field expects",
    "code.malformed": "write the code in its normal form (upper case, no dot)",
    "dx.too_many": "drop the least relevant diagnoses to the claim form's limit",
    "dx.role": "list the principal diagnosis first and the others after it",
    "dx.poa_professional": "remove the present-on-admission indicators from a professional claim",
    "dx.principal": "mark exactly one diagnosis as principal",
    "lines.none": "add the service lines",
    "lines.too_many": "split the claim: an 837P claim carries 50 lines",
    "line.number": "number the lines 1..n in order",
    "line.procedure_missing": "give the line's CPT/HCPCS code",
    "line.too_many_modifiers": "keep at most four modifiers",
    "line.date_missing": "give the line's date of service",
    "line.revenue_missing": "give the line's revenue code",
    "money.not_cents": "round the amount to whole cents",
    "inst.statement_missing": "give the statement period (from and through dates)",
    "inst.too_many": "keep at most 24 of these codes",
    "inst.principal_procedure": "give the principal procedure first",
}


def _problem_findings(r: Rule, problems: tuple[ClaimProblem, ...], fix: str | None = None) -> Iterator[Finding]:
    for p in problems:
        yield r.finding(p.path or "claim", p.message, fix or _FIXES.get(p.code, "correct the claim"))


@rule("STR001", name="structure.claim_form", family="structure", severity=Severity.ERROR)
def claim_form(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The claim breaks what the 837 can carry (``claim_problems`` not covered by another rule).

    Fails on every structural problem ``medbill.core.claim.claim_problems`` reports other than
    pointers, a missing diagnosis, the total and date order (STR002-STR004, STR010): kind and
    frequency, patient/relationship, provider roles, diagnosis counts and roles, line counts and
    numbering, malformed codes, sub-cent money, COB balance. Passes when there is none. Fix: as
    each finding says.
    """
    problems = tuple(p for p in ctx.facts(claim).problems if p.code not in _MAPPED)
    return _problem_findings(claim_form, problems)


@rule("STR002", name="structure.diagnosis_pointers", family="structure", severity=Severity.ERROR)
def diagnosis_pointers(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Each 837P line points at 1 to 4 existing diagnoses; 837I lines carry no pointers.

    Fails on a line without pointers, a repeated pointer, a pointer outside 1..12 or past the last
    diagnosis, more than four pointers, or pointers on an institutional line. Fix: point the line at
    the diagnoses that justify it (1 = the first diagnosis).
    """
    problems = tuple(p for p in ctx.facts(claim).problems if p.code in _POINTER_PROBLEMS)
    return _problem_findings(diagnosis_pointers, problems)


@rule("STR003", name="structure.diagnosis_required", family="structure", severity=Severity.ERROR)
def diagnosis_required(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A claim needs at least one diagnosis.

    Fails when ``diagnoses`` is empty. Fix: add the ICD-10-CM diagnosis codes the services treat.
    """
    problems = tuple(p for p in ctx.facts(claim).problems if p.code == "dx.none")
    return _problem_findings(diagnosis_required, problems, "add the diagnoses that justify the services")


@rule("STR004", name="structure.total_matches_lines", family="structure", severity=Severity.ERROR)
def total_matches_lines(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The claim total (CLM02) equals the sum of the line charges.

    Fails when a stated total (e.g. read from an 837) differs from the sum of the lines. Passes when
    the total is computed or agrees. Fix: correct the line charges or the total.
    """
    problems = tuple(p for p in ctx.facts(claim).problems if p.code == "total.mismatch")
    return _problem_findings(total_matches_lines, problems, "make the total equal the sum of the line charges")


_NPI_MEMO: dict[str, bool] = {}


def _npi_ok(npi: str) -> bool:
    ok = _NPI_MEMO.get(npi)
    if ok is None:
        if len(_NPI_MEMO) > 100_000:
            _NPI_MEMO.clear()
        ok = _NPI_MEMO[npi] = is_valid_npi(npi)
    return ok


@rule("STR005", name="structure.npi_check_digit", family="structure", severity=Severity.ERROR)
def npi_check_digit(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Every NPI on the claim is 10 digits with a valid check digit (Luhn over 80840 + the first 9).

    Fails on an NPI that is not 10 digits or whose last digit is not the check digit. Passes when
    every NPI given is valid (a missing NPI is STR015's concern for the billing provider). Fix:
    correct the NPI from NPPES.
    """
    for path, prov in claim.providers():
        if prov.npi is not None and not _npi_ok(prov.npi):
            yield npi_check_digit.finding(
                f"{path}.npi",
                f"NPI {prov.npi!r} of the {prov.role.value.replace('_', ' ')} provider is not valid "
                "(10 digits with the Luhn check digit)",
                "correct the NPI (look it up in NPPES)",
            )


@rule("STR006", name="structure.charges_positive", family="structure", severity=Severity.ERROR)
def charges_positive(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Every line charge is positive.

    Fails on a zero or negative charge (a warning for a zero-charge CPT Category II code, which payers
    expect at $0.01). Fix: charge the practice's fee-schedule amount.
    """
    for i, line in enumerate(claim.lines):
        if line.charge > 0:
            continue
        code = service_code(line.procedure)
        if line.charge == 0 and code is not None and code.endswith("F"):
            yield charges_positive.finding(
                f"lines[{i}].charge",
                f"CPT Category II code {code} is charged $0.00; most payers reject zero-charge lines",
                "charge $0.01",
                severity=Severity.WARNING,
            )
            continue
        yield charges_positive.finding(
            f"lines[{i}].charge", f"line {i + 1} charge is {line.charge}; charges must be positive", "charge the fee"
        )


def _service_dates(claim: Claim) -> Iterator[tuple[str, dt.date]]:
    for i, line in enumerate(claim.lines):
        if line.service_date is not None:
            yield f"lines[{i}].service_date", line.service_date
        if line.service_date_to is not None:
            yield f"lines[{i}].service_date_to", line.service_date_to
    inst = claim.institutional
    if inst is not None:
        for name in ("admission_date", "statement_from", "statement_to"):
            value = getattr(inst, name)
            if value is not None:
                yield f"institutional.{name}", value
        if inst.principal_procedure is not None:
            yield "institutional.principal_procedure.date", inst.principal_procedure.date
        for k, proc in enumerate(inst.other_procedures):
            yield f"institutional.other_procedures[{k}].date", proc.date


@rule("STR007", name="structure.dates_not_future", family="structure", severity=Severity.ERROR)
def dates_not_future(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """No date of service, statement date, admission or procedure date is after today.

    Fails on any such date later than ``ctx.today``. Fix: correct the date, or hold the claim until
    the service has been given.
    """
    for path, when in _service_dates(claim):
        if when > ctx.today:
            yield dates_not_future.finding(
                path, f"{when.isoformat()} is in the future (today is {ctx.today.isoformat()})", "correct the date"
            )


@rule("STR008", name="structure.dates_after_birth", family="structure", severity=Severity.ERROR)
def dates_after_birth(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """No date of service is before the patient's date of birth.

    Fails on a line, statement, admission or procedure date before the birth date. Fix: correct the
    date or the birth date (a newborn's claim is dated from the birth).
    """
    born = ctx.facts(claim).date_of_birth
    if born is None:
        return
    for path, when in _service_dates(claim):
        if when < born:
            yield dates_after_birth.finding(
                path,
                f"{when.isoformat()} is before the patient's birth ({born.isoformat()})",
                "correct the date of service or the date of birth",
            )


@rule("STR009", name="structure.lines_in_statement_period", family="structure", severity=Severity.ERROR)
def lines_in_statement_period(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Institutional line dates fall inside the statement period (from/through).

    Fails on a line dated before the statement's from date or after its through date. Fix: correct
    the line date or the statement period (split the claim if it spans two periods).
    """
    inst = claim.institutional
    if inst is None or inst.statement_from is None or inst.statement_to is None:
        return
    for i, line in enumerate(claim.lines):
        for name, when in (("service_date", line.service_date), ("service_date_to", line.service_date_to)):
            if when is not None and not inst.statement_from <= when <= inst.statement_to:
                yield lines_in_statement_period.finding(
                    f"lines[{i}].{name}",
                    f"line {i + 1} is dated {when.isoformat()}, outside the statement period "
                    f"{inst.statement_from.isoformat()}..{inst.statement_to.isoformat()}",
                    "correct the line date or the statement period",
                )


@rule("STR010", name="structure.dates_order", family="structure", severity=Severity.ERROR)
def dates_order(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """Date ranges end on or after they start (line dates, statement period, occurrence spans).

    Fails when a range's end is before its start. Fix: swap or correct the dates.
    """
    problems = tuple(p for p in ctx.facts(claim).problems if p.code in _DATE_ORDER_PROBLEMS)
    return _problem_findings(dates_order, problems, "correct the dates so the range ends after it starts")


@rule("STR011", name="structure.duplicate_line", family="structure", severity=Severity.WARNING)
def duplicate_line(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The same service (code, modifiers, date, provider) is billed twice.

    Fails with a warning for two such lines on this claim (combine them into one line with the units),
    and with an error when the patient's other claims already bill it (the payer denies a duplicate,
    CARC 18). Lines whose modifiers differ (76, 77, 91, anatomic) pass. Fix: remove the duplicate, or
    add the modifier that says why the service was repeated.
    """
    facts = ctx.facts(claim)
    seen: dict[tuple[str, tuple[str, ...], dt.date | None, str], int] = {}
    for i, line in enumerate(claim.lines):
        if line.procedure is None:
            continue
        key = (line.procedure.value, _mods(line.modifiers), facts.line_dates[i], facts.line_npis[i])
        first = seen.get(key)
        if first is not None:
            yield duplicate_line.finding(
                f"lines[{i}].procedure",
                f"line {i + 1} repeats line {first + 1} ({line.procedure.value} on {_date_text(facts.line_dates[i])})",
                "combine the lines into one with the total units, or add the modifier that explains the repeat",
            )
        else:
            seen[key] = i
    for o in facts.other_lines:
        if o.procedure is None:
            continue
        i2 = seen.get((o.procedure.value, _mods(o.modifiers), o.service_date, o.provider_npi))
        if i2 is not None:
            yield duplicate_line.finding(
                f"lines[{i2}].procedure",
                f"line {i2 + 1} ({o.procedure.value} on {_date_text(o.service_date)}) is already billed on {o.where}",
                "remove the line, or send a replacement claim (frequency 7) for the earlier claim",
                severity=Severity.ERROR,
            )


def _mods(modifiers: tuple[Code, ...]) -> tuple[str, ...]:
    if not modifiers:
        return ()
    return tuple(sorted(m.value for m in modifiers))


def _date_text(when: dt.date | None) -> str:
    return when.isoformat() if when is not None else "no date"


@rule("STR012", name="structure.timely_filing", family="structure", severity=Severity.ERROR)
def timely_filing(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The claim is filed within the payer's timely filing window.

    Counts days from the first date of service (institutional: the statement through date) to today.
    Fails past the window (payer rules, else ``ctx.timely_filing_days``, 365 by default); a warning
    when a delay reason (CLM20) is given, or within the window's last 30 days. Fix: file now; past the
    window, give the delay reason code and the proof the payer asks for.
    """
    facts = ctx.facts(claim)
    inst = claim.institutional
    basis = inst.statement_to if inst is not None and inst.statement_to is not None else None
    if basis is None:
        known = [d for d in facts.line_dates if d is not None]
        basis = min(known) if known else None
    if basis is None or basis > ctx.today:
        return
    days, source = ctx.filing_window(facts.payer_id)
    elapsed = (ctx.today - basis).days
    where = (
        "institutional.statement_to" if inst is not None and inst.statement_to is not None else "lines[0].service_date"
    )
    if elapsed > days:
        late = claim.delay_reason is not None
        yield timely_filing.finding(
            where,
            f"filed {elapsed} days after the date of service {basis.isoformat()}; the limit is {days} days "
            f"({source})" + (f", delay reason {claim.delay_reason} given" if late else ""),
            "attach the documentation for the delay reason"
            if late
            else "the payer will deny it (CARC 29): give a delay reason code (CLM20) with proof, or write it off",
            severity=Severity.WARNING if late else None,
        )
    elif days - elapsed <= 30:
        yield timely_filing.finding(
            where,
            f"{days - elapsed} days left to file (limit {days} days from {basis.isoformat()}, {source})",
            "submit the claim now",
            severity=Severity.WARNING,
        )


@rule("STR013", name="structure.subscriber_id", family="structure", severity=Severity.ERROR)
def subscriber_id(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The subscriber's member id is given (2010BA NM109), and each other payer's subscriber's (2330A).

    Fails when a member id is missing or blank. Fix: copy it from the insurance card.
    """
    if not (claim.coverage.subscriber.member_id or "").strip():
        yield subscriber_id.finding(
            "coverage.subscriber.member_id", "the subscriber's member id is missing", "copy it from the insurance card"
        )
    for k, other in enumerate(claim.other_payers):
        if not (other.coverage.subscriber.member_id or "").strip():
            yield subscriber_id.finding(
                f"other_payers[{k}].coverage.subscriber.member_id",
                f"the member id under other payer {other.coverage.payer.name} is missing",
                "copy it from that insurance card",
            )


@rule("STR014", name="structure.payer_id", family="structure", severity=Severity.ERROR)
def payer_id(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The payer id is given (2010BB NM109), and each other payer's (2330B).

    Fails when a payer id is missing or blank. Fix: use the payer id from the clearinghouse's payer list.
    """
    if not (claim.coverage.payer.payer_id or "").strip():
        yield payer_id.finding(
            "coverage.payer.payer_id",
            f"payer {claim.coverage.payer.name} has no payer id",
            "use the payer id from the clearinghouse's payer list",
        )
    for k, other in enumerate(claim.other_payers):
        if not (other.coverage.payer.payer_id or "").strip():
            yield payer_id.finding(
                f"other_payers[{k}].coverage.payer.payer_id",
                f"other payer {other.coverage.payer.name} has no payer id",
                "use the payer id from the clearinghouse's payer list",
            )


@rule("STR015", name="structure.billing_provider", family="structure", severity=Severity.ERROR)
def billing_provider(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The billing provider has an NPI and an address with a 9-digit ZIP code (2010AA N403).

    Fails when the NPI or the address is missing, or the ZIP is not 9 digits (ZIP+4 without dash).
    Fix: add the NPI, and the ZIP+4 of the billing address (a P.O. box is not allowed there).
    """
    prov = claim.billing_provider
    if not (prov.npi or "").strip():
        yield billing_provider.finding("billing_provider.npi", "the billing provider has no NPI", "add the NPI")
    if prov.address is None:
        yield billing_provider.finding(
            "billing_provider.address", "the billing provider has no address", "add the street address with ZIP+4"
        )
    elif not (len(prov.address.zip) == 9 and prov.address.zip.isdigit()):
        yield billing_provider.finding(
            "billing_provider.address.zip",
            f"billing provider ZIP {prov.address.zip!r} is not 9 digits; the 837 needs ZIP+4",
            "give the 9-digit ZIP+4 without dash",
        )


# Not-otherwise-classified (unlisted) codes: HCPCS Level II NOC codes and CPT unlisted-procedure numbers.
NOC_HCPCS = frozenset(
    "A0999 A4649 A9999 B9998 B9999 C9399 E1399 J3490 J3590 J7599 J7699 J7799 J8499 J8999 J9999 K0108 "
    "L0999 L1499 L2999 L3999 L5999 L7499 L8499 L8699 Q4100 T1999 V2199 V2299 V2399 V2499 V2599 V2799".split()
)
NOC_CPT = frozenset(
    "15999 17999 19499 20999 21089 21299 21499 21899 22899 22999 23929 24999 25999 26989 27299 27599 27899 "
    "28899 29799 29999 30999 31299 31599 31899 32999 33999 36299 37799 38589 38999 39499 39599 40799 40899 "
    "41599 41899 42299 42699 42999 43289 43499 43659 43999 44238 44799 44899 44979 45399 45499 45999 46999 "
    "47379 47399 47579 47999 48999 49329 49659 49999 50549 50949 51999 53899 54699 55559 55899 58578 58579 "
    "58679 58999 59897 59898 59899 60659 60699 64999 66999 67299 67399 67599 67999 68399 68899 69399 69799 "
    "69949 69979 76496 76497 76498 76499 76999 77299 77399 77499 77799 78099 78199 78299 78399 78499 78599 "
    "78699 78799 78999 79999 81099 81479 81599 84999 85999 86849 86999 87999 88099 88199 88299 88399 88749 "
    "89240 89398 90399 90749 90899 90999 91299 92499 93799 93998 94799 95199 95999 96379 96549 96999 97039 "
    "97139 97799 99199 99429 99499 99600".split()
)


def is_noc(system: CodeSystem, code: str, flags: frozenset[str] | None) -> bool:
    """A not-otherwise-classified code: on the built-in lists, or flagged by the I/OCE (``flags``)."""
    if system is CodeSystem.CPT:
        return code in NOC_CPT
    return code in NOC_HCPCS or (flags is not None and "unclassified_drug" in flags)


@rule("STR016", name="structure.noc_description", family="structure", severity=Severity.ERROR)
def noc_description(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A not-otherwise-classified code (J3490, J3590, J9999, E1399, L8699, CPT unlisted codes ...)
    carries its description (SV101-7 / SV202-7).

    Fails on an unlisted/NOC code (the built-in list, or the I/OCE unclassified-drug flag) without a
    line description. Fix: describe the drug or service (name, strength, dose) in the line description.
    """
    facts = ctx.facts(claim)
    for i, line in enumerate(claim.lines):
        proc = line.procedure
        if proc is None or (line.description or "").strip():
            continue
        if is_noc(proc.system, proc.value, facts.line_flags[i]):
            yield noc_description.finding(
                f"lines[{i}].description",
                f"{proc.value} is a not-otherwise-classified code and the line has no description",
                "describe the drug or service (name, strength, dose) in the line description (SV101-7)",
            )


def is_em(code: str) -> bool:
    """An evaluation and management visit: CPT 99202-99499, or HCPCS G0463 (hospital clinic visit)."""
    return ("99202" <= code <= "99499" and code.isdigit()) or code == "G0463"


def _procedure_kind(ctx: ScrubContext, setting: ClaimSetting, code: str) -> str | None:
    """'minor' / 'major' when a same-day visit with this procedure needs modifier 25 / 57."""
    if is_em(code):
        return None
    tables = ctx.tables
    if setting is ClaimSetting.OUTPATIENT and tables.has_significant_procedures:
        return "minor" if tables.is_significant_procedure(code) else None
    if tables.has_global_days:
        days = tables.global_days(code)
        return {"000": "minor", "010": "minor", "090": "major"}.get(days or "")
    return "minor" if code.isdigit() and 10004 <= int(code) <= 69990 else None


@rule("STR017", name="structure.modifier25_suggested", family="structure", severity=Severity.WARNING)
def modifier25_suggested(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """An E/M visit billed with a procedure on the same day carries modifier 25 (or 57).

    Fails (warning) when a visit (99202-99499, G0463) has neither 25 nor 57 and the same provider bills
    a procedure that day on this or another claim: one with a 0- or 10-day global period (PFS), or
    I/OCE status T/S/J1 on outpatient claims (I/OCE edit 21); a 90-day global procedure suggests 57.
    Passes with the modifier, or without a same-day procedure. Fix: add 25 when the visit was a
    significant, separately identifiable service (57 when it decided on major surgery), documented so.
    """
    visits = [
        i
        for i, line in enumerate(claim.lines)
        if line.procedure is not None
        and is_em(line.procedure.value)
        and not any(m.value in ("25", "57") for m in line.modifiers)
    ]
    if not visits:
        return
    facts = ctx.facts(claim)
    procedures: dict[tuple[dt.date | None, str], list[tuple[str, str]]] = {}
    for i, line in enumerate(claim.lines):
        code = service_code(line.procedure)
        if code is not None:
            kind = _procedure_kind(ctx, facts.setting, code)
            if kind is not None:
                procedures.setdefault((facts.line_dates[i], facts.line_npis[i]), []).append((code, kind))
    for o in facts.other_lines:
        code = service_code(o.procedure)
        if code is not None:
            kind = _procedure_kind(ctx, facts.setting, code)
            if kind is not None:
                procedures.setdefault((o.service_date, o.provider_npi), []).append((code, kind))
    if not procedures:
        return
    for i in visits:
        code = service_code(claim.lines[i].procedure)
        if code is None:
            continue
        same_day = procedures.get((facts.line_dates[i], facts.line_npis[i]))
        if not same_day:
            continue
        major = [c for c, k in same_day if k == "major"]
        names = ", ".join(sorted({c for c, _k in same_day}))
        yield modifier25_suggested.finding(
            f"lines[{i}].modifiers",
            f"visit {code} is billed with procedure {names} on {_date_text(facts.line_dates[i])} "
            f"without modifier {'57' if major else '25'}",
            "add modifier 57 if the visit decided on the surgery"
            if major
            else "add modifier 25 if the visit was significant and separately identifiable (document it)",
        )

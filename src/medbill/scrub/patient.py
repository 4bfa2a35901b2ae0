"""Patient family: age and sex conflicts, by claim type and by date.

- Inpatient claims (type of bill 11x): the MCE diagnosis flags in force on the discharge date
  (newborn 0, pediatric 0-17, maternity 9-64 since 2019-10-01 (12-55 before), adult 15-124; female/
  male), with the patient's age at admission; and the MCE procedure sex flags for ICD-10-PCS codes.
- Outpatient institutional claims (bill types the I/OCE processes): the I/OCE procedure age ranges
  (edit 7) and procedure sex (edit 8, bypassed by condition code 45). The I/OCE's own diagnosis
  age/sex table (edits 2 and 3) is not in the reference store; the MCE diagnosis flags stand in for it.
- Professional claims: the MCE diagnosis flags as warnings (payers apply similar edits).

The tables carry when CMS withdrew an edit: the MCE sex flags end 2024-09-30, so sex conflicts are
not reported for later dates unless a payer re-enables ``mce.sex`` / ``mce.procedure_sex`` (payer rules
or ``ctx.reenabled``); then the code's last sex flag applies. ``mce.age`` does the same for age flags
CMS ended (most newborn flags ended 2016-10-01).
"""

from __future__ import annotations

from collections.abc import Iterator

from medbill.core.claim import Claim, Sex
from medbill.core.codes import CodeSystem, display
from medbill.core.finding import Finding, Severity
from medbill.scrub.context import ClaimSetting, ScrubContext, age_on
from medbill.scrub.rule import rule

CM = CodeSystem.ICD10CM
PCS = CodeSystem.ICD10PCS
AGE_FLAGS = {"newborn": "Newborn", "pediatric": "Pediatric", "maternity": "Maternity", "adult": "Adult"}
_AGE_GROUP = frozenset(AGE_FLAGS)
_SEX_GROUP = frozenset({"female", "male"})
_SEX_OF_FLAG = {"female": Sex.FEMALE, "male": Sex.MALE}


def _severity(setting: ClaimSetting) -> Severity | None:
    """None = the rule's own severity (error) for institutional claims; a warning on professional ones."""
    return None if setting in (ClaimSetting.INPATIENT, ClaimSetting.OUTPATIENT) else Severity.WARNING


def _source(setting: ClaimSetting, what: str) -> str:
    if setting is ClaimSetting.INPATIENT:
        return f"MCE {what} edit"
    if setting is ClaimSetting.OUTPATIENT:
        return f"I/OCE {what} edit, MCE flags"
    return f"MCE {what} flags"


def _group_flags(
    ctx: ScrubContext, system: CodeSystem, code: str, on: int, group: frozenset[str], reenabled: bool
) -> frozenset[str]:
    if reenabled:
        return ctx.tables.last_flags(system, code, group, on)
    flags = ctx.tables.flags_on(system, code, on)
    return flags & group if flags is not None else frozenset()


@rule("PAT001", name="patient.dx_age", family="patient", severity=Severity.ERROR)
def dx_age(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """No diagnosis conflicts with the patient's age (MCE newborn / pediatric / maternity / adult flags).

    Uses the flags and age ranges in force on the discharge date (inpatient) or first date of service,
    with the age at admission (inpatient) or on that date. Fails e.g. on a maternity code (ages 9-64)
    for a 70-year-old, or a newborn code (age 0) for an adult. An error on institutional claims, a
    warning on professional ones. Fix: correct the code or the patient's date of birth.
    """
    facts = ctx.facts(claim)
    on, age = facts.code_date, facts.age
    if on is None or age is None or facts.setting is ClaimSetting.INSTITUTIONAL_OTHER:
        return
    o = on.toordinal()
    again = "mce.age" in facts.reenabled
    for i, dx in enumerate(claim.diagnoses):
        if again:
            if dx.code.system is not CM:
                continue
            found = _group_flags(ctx, CM, dx.code.value, o, _AGE_GROUP, True)
        else:
            flags = facts.dx_flags[i]
            if flags is None or flags.isdisjoint(_AGE_GROUP):
                continue
            found = flags & _AGE_GROUP
        for flag in sorted(found):
            rng = ctx.tables.age_range(AGE_FLAGS[flag], on)
            if rng is None or rng[0] <= age <= rng[1]:
                continue
            yield dx_age.finding(
                f"diagnoses[{i}].code",
                f"{display(dx.code.value, CM)} is a {flag} diagnosis (ages {rng[0]}-{rng[1]}) but the patient is "
                f"{age} ({_source(facts.setting, 'age')})",
                "correct the diagnosis or the patient's date of birth",
                severity=_severity(facts.setting),
            )


@rule("PAT002", name="patient.dx_sex", family="patient", severity=Severity.ERROR)
def dx_sex(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """No diagnosis conflicts with the patient's sex (MCE female/male flags, by date).

    The MCE withdrew its sex edits on 2024-10-01 (its flags end 2024-09-30): later claims pass unless
    the payer re-enables ``mce.sex``, which applies each code's last sex flag. Fails on a female-only
    code for a male patient (or the reverse), or for a patient of unknown sex (U), as the MCE does. An
    error on institutional claims, a warning on professional ones. Fix: correct the code or the sex.
    """
    facts = ctx.facts(claim)
    on, sex = facts.code_date, facts.sex
    if on is None or sex is None or facts.setting is ClaimSetting.INSTITUTIONAL_OTHER:
        return
    o = on.toordinal()
    again = "mce.sex" in facts.reenabled
    for i, dx in enumerate(claim.diagnoses):
        if again:
            if dx.code.system is not CM:
                continue
            found = _group_flags(ctx, CM, dx.code.value, o, _SEX_GROUP, True)
        else:
            flags = facts.dx_flags[i]
            if flags is None or flags.isdisjoint(_SEX_GROUP):
                continue
            found = flags & _SEX_GROUP
        for flag in sorted(found):
            if sex is _SEX_OF_FLAG[flag]:
                continue
            who = "of unknown sex" if sex is Sex.UNKNOWN else ("male" if sex is Sex.MALE else "female")
            yield dx_sex.finding(
                f"diagnoses[{i}].code",
                f"{display(dx.code.value, CM)} is a {flag}-only diagnosis but the patient is {who} "
                f"({_source(facts.setting, 'sex')})",
                "correct the diagnosis or the patient's sex",
                severity=_severity(facts.setting),
            )


@rule("PAT003", name="patient.procedure_age", family="patient", severity=Severity.ERROR)
def procedure_age(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """On an outpatient institutional claim, no CPT/HCPCS code conflicts with the age (I/OCE edit 7).

    Fails when the patient's age on the line's date is outside the code's I/OCE age range (e.g. 90715
    is for ages 7-124). Inpatient and professional claims pass. Fix: bill the code for the patient's age.
    """
    facts = ctx.facts(claim)
    if facts.setting is not ClaimSetting.OUTPATIENT or facts.date_of_birth is None:
        return
    for i, line in enumerate(claim.lines):
        on = facts.line_dates[i]
        if line.procedure is None or on is None or on < facts.date_of_birth:
            continue
        rng = ctx.tables.procedure_age(line.procedure.value)
        if rng is None:
            continue
        age = age_on(facts.date_of_birth, on)
        if not rng[0] <= age <= rng[1]:
            yield procedure_age.finding(
                f"lines[{i}].procedure",
                f"{line.procedure.value} is for ages {rng[0]}-{rng[1]} but the patient is {age} on {on.isoformat()} "
                "(I/OCE procedure/age edit)",
                "bill the code for the patient's age, or correct the date of birth",
            )


@rule("PAT004", name="patient.procedure_sex", family="patient", severity=Severity.ERROR)
def procedure_sex(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """No procedure conflicts with the patient's sex.

    Inpatient: the MCE sex flags of the ICD-10-PCS codes on the discharge date (withdrawn 2024-10-01;
    a payer may re-enable ``mce.procedure_sex``). Outpatient: the I/OCE procedure sex (edit 8), bypassed
    by condition code 45. Fails on a female-only procedure for a male patient (or the reverse, or an
    unknown sex). Fix: correct the code or the sex; for an outpatient gender-specific service to a
    patient whose sex differs, report condition code 45.
    """
    facts = ctx.facts(claim)
    sex = facts.sex
    inst = claim.institutional
    if sex is None or inst is None:
        return
    if facts.setting is ClaimSetting.INPATIENT and facts.code_date is not None:
        procs = (
            [("institutional.principal_procedure.code", inst.principal_procedure)] if inst.principal_procedure else []
        )
        procs += [(f"institutional.other_procedures[{k}].code", p) for k, p in enumerate(inst.other_procedures)]
        for loc, proc in procs:
            assert proc is not None
            flags = _group_flags(
                ctx,
                PCS,
                proc.code.value,
                facts.code_date.toordinal(),
                _SEX_GROUP,
                "mce.procedure_sex" in facts.reenabled,
            )
            for flag in sorted(flags):
                if sex is not _SEX_OF_FLAG[flag]:
                    yield procedure_sex.finding(
                        loc,
                        f"ICD-10-PCS {proc.code.value} is a {flag}-only procedure but the patient is "
                        f"{'of unknown sex' if sex is Sex.UNKNOWN else sex.name.lower()} (MCE sex edit)",
                        "correct the procedure code or the patient's sex",
                    )
    elif facts.setting is ClaimSetting.OUTPATIENT and "45" not in inst.condition_codes:
        for i, line in enumerate(claim.lines):
            if line.procedure is None:
                continue
            want = ctx.tables.procedure_sex(line.procedure.value)
            if want is not None and sex.value != want:
                yield procedure_sex.finding(
                    f"lines[{i}].procedure",
                    f"{line.procedure.value} is a {'female' if want == 'F' else 'male'}-only procedure but the "
                    f"patient's sex is {sex.value} (I/OCE procedure/sex edit)",
                    "correct the code or the sex; report condition code 45 for a gender-specific service",
                )


@rule("PAT005", name="patient.demographics", family="patient", severity=Severity.ERROR)
def demographics(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """The patient's date of birth and sex are given (837 DMG), so age and sex edits can run.

    Fails when the patient's (or, when the subscriber is the patient, the subscriber's) date of birth
    or sex is missing; a warning when the sex is U (unknown), which the MCE treats as a conflict with
    any sex-specific code. Fix: give the date of birth and the sex from registration.
    """
    base = "patient" if claim.patient is not None else "coverage.subscriber"
    facts = ctx.facts(claim)
    if facts.date_of_birth is None:
        yield demographics.finding(f"{base}.date_of_birth", "the patient's date of birth is missing", "give it")
    if facts.sex is None:
        yield demographics.finding(f"{base}.sex", "the patient's sex is missing", "give it (F, M or U)")
    elif facts.sex is Sex.UNKNOWN and facts.setting is not ClaimSetting.PROFESSIONAL:
        yield demographics.finding(
            f"{base}.sex",
            "the patient's sex is U (unknown): sex-specific codes will be edited as conflicts",
            "give F or M when registration knows it",
            severity=Severity.WARNING,
        )

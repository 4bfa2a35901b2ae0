"""What a scrub knows besides the claim: ``ScrubContext``.

- ``today``: the date the claim would be submitted (timely filing, dates in the future);
- ``tables``: the reference tables (``EditTables``; ``EditTables.empty()`` when none are loaded);
- ``other_lines``: the patient's lines on other claims (``OtherLine``), since NCCI PTP pairs, MUE
  per-day limits and duplicates span claims; ``scrub_many`` fills these in from the batch;
- ``payer_rules``: the practice's declarative payer rules (``medbill.scrub.payer``);
- ``overrides``: findings a coder overrode with a recorded reason (``Override``), e.g. an Excludes1
  pair under the unrelated-conditions exception;
- ``reenabled``: withdrawn edits a payer still applies, by payer id (``"*"`` = every payer); see
  ``WITHDRAWN_EDITS``;
- ``timely_filing_days``: the filing window when the payer rules give none.

``ClaimSetting`` says which edit tables apply to a claim: professional (837P: practitioner NCCI/MUE),
inpatient (837I type of bill 11x: MCE) or outpatient institutional (837I bill types the I/OCE
processes); other institutional bill types (SNF, hospice, home health ...) get neither MCE nor I/OCE edits.
``ctx.facts(claim)`` computes once per claim what several rules need (patient age and sex, the date the
codes are judged on, line dates and providers, ``claim_problems``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from medbill.core.claim import Claim, ClaimFrequency, ClaimKind, ClaimProblem, Sex, claim_problems
from medbill.core.codes import Code, CodeSystem
from medbill.scrub.tables import EditTables

if TYPE_CHECKING:
    from medbill.scrub.payer import PayerRules

DEFAULT_TIMELY_FILING_DAYS = 365  # Medicare: 12 months after the date of service (42 CFR 424.44)

WITHDRAWN_EDITS: Mapping[str, str] = {
    "mce.sex": "MCE diagnosis/sex conflict edits (withdrawn from the MCE on 2024-10-01)",
    "mce.procedure_sex": "MCE procedure/sex conflict edits (withdrawn from the MCE on 2024-10-01)",
    "mce.age": "MCE diagnosis/age flags CMS ended (most newborn flags ended 2016-10-01)",
}

# Bill types (first two digits) the I/OCE processes: hospital outpatient, Part B inpatient, SNF Part B,
# CAH, RHC/FQHC, CMHC, ESRD, outpatient rehabilitation.
IOCE_BILL_TYPES = frozenset({"12", "13", "14", "22", "23", "34", "71", "72", "74", "75", "76", "77", "83", "85"})


class ClaimSetting(StrEnum):
    PROFESSIONAL = "professional"
    INPATIENT = "inpatient"  # 837I type of bill 11x: MCE
    OUTPATIENT = "outpatient"  # 837I bill types the I/OCE processes
    INSTITUTIONAL_OTHER = "institutional_other"


def claim_setting(claim: Claim) -> ClaimSetting:
    if claim.kind is ClaimKind.PROFESSIONAL:
        return ClaimSetting.PROFESSIONAL
    ftc = claim.institutional.facility_type_code if claim.institutional is not None else ""
    if ftc == "11":
        return ClaimSetting.INPATIENT
    if ftc in IOCE_BILL_TYPES:
        return ClaimSetting.OUTPATIENT
    return ClaimSetting.INSTITUTIONAL_OTHER


def patient_key(claim: Claim) -> str:
    """Who the patient is, for matching lines across claims: member id, name and birth date."""
    sub = claim.coverage.subscriber
    person: Any = claim.patient if claim.patient is not None else sub
    dob = person.date_of_birth.isoformat() if person.date_of_birth else ""
    return "|".join((sub.member_id or "", person.last_name.upper(), (person.first_name or "").upper(), dob))


def line_npi(claim: Claim, index: int) -> str:
    """The NPI that performed a line: its rendering provider, the claim's, else the billing provider's."""
    line = claim.lines[index]
    for prov in (line.rendering_provider, claim.rendering_provider, claim.billing_provider):
        if prov is not None and prov.npi:
            return prov.npi
    return ""


@dataclass(frozen=True, slots=True)
class OtherLine:
    """A service line of the same patient on another claim (for PTP, MUE per day, duplicates)."""

    claim_id: str
    line_index: int
    procedure: Code | None
    modifiers: tuple[Code, ...]
    units: Decimal
    service_date: dt.date | None
    provider_npi: str
    charge: Decimal
    patient: str | None = None  # patient_key(); None = the claim being scrubbed is this patient's

    @property
    def where(self) -> str:
        return f"claim {self.claim_id} line {self.line_index + 1}"

    @classmethod
    def from_claim(cls, claim: Claim) -> tuple[OtherLine, ...]:
        key = patient_key(claim)
        start = claim.institutional.statement_from if claim.institutional is not None else None
        return tuple(
            cls(
                claim_id=claim.id,
                line_index=i,
                procedure=line.procedure,
                modifiers=line.modifiers,
                units=line.units,
                service_date=line.service_date or start,
                provider_npi=line_npi(claim, i),
                charge=line.charge,
                patient=key,
            )
            for i, line in enumerate(claim.lines)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """A coder's override of a finding, with the recorded reason (only rules marked overridable).

    It matches findings of ``rule`` on claim ``claim_id`` (any claim when None) at ``location`` (any
    when None); with ``codes``, only when the claim carries every one of these ICD-10-CM codes and the
    finding stands at a diagnosis holding one of them (an Excludes1 pair, whatever its position).
    """

    rule: str
    reason: str
    claim_id: str | None = None
    location: str | None = None
    codes: tuple[str, ...] = ()
    by: str | None = None


@dataclass(slots=True)
class ClaimFacts:
    """What several rules need about one claim, computed once (treat as read-only)."""

    setting: ClaimSetting
    date_of_birth: dt.date | None
    sex: Sex | None
    code_date: dt.date | None  # the date codes are judged on (inpatient: discharge; else first service)
    age: int | None  # at admission (inpatient) or at code_date
    line_dates: tuple[dt.date | None, ...]
    line_npis: tuple[str, ...]
    patient: str
    payer_id: str
    problems: tuple[ClaimProblem, ...]
    other_lines: tuple[OtherLine, ...]
    principal: int | None  # index of the first-listed (837P) / principal (837I) diagnosis
    reenabled: frozenset[str]  # withdrawn edits the payer re-enabled (WITHDRAWN_EDITS names)
    line_flags: tuple[frozenset[str] | None, ...]  # I/OCE flags of each line's CPT/HCPCS on its date; None: not valid
    dx_flags: tuple[frozenset[str] | None, ...]  # MCE flags of each ICD-10-CM diagnosis on code_date; None: not valid


_SERVICE = (CodeSystem.CPT, CodeSystem.HCPCS)


def age_on(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _facts(claim: Claim, ctx: ScrubContext) -> ClaimFacts:
    setting = claim_setting(claim)
    person: Any = claim.patient if claim.patient is not None else claim.coverage.subscriber
    dob: dt.date | None = person.date_of_birth
    sex: Sex | None = person.sex
    inst = claim.institutional
    start = inst.statement_from if inst is not None else None
    line_dates = tuple(line.service_date or start for line in claim.lines)
    known = [d for d in line_dates if d is not None]
    if setting is ClaimSetting.INPATIENT and inst is not None:
        code_date = inst.statement_to or inst.statement_from or (max(known) if known else None)
        age_date = inst.admission_date or inst.statement_from or code_date
    else:
        code_date = min(known) if known else (start or (inst.statement_to if inst else None))
        age_date = code_date
    age = age_on(dob, age_date) if dob is not None and age_date is not None and age_date >= dob else None
    key = patient_key(claim)
    others = tuple(o for o in ctx.other_lines if o.patient is None or o.patient == key)
    tables = ctx.tables
    line_flags = tuple(
        tables.flags_on(line.procedure.system, line.procedure.value, when.toordinal())
        if line.procedure is not None and when is not None and line.procedure.system in _SERVICE
        else None
        for line, when in zip(claim.lines, line_dates, strict=True)
    )
    code_ord = code_date.toordinal() if code_date is not None else None
    dx_flags = tuple(
        tables.flags_on(CodeSystem.ICD10CM, dx.code.value, code_ord)
        if code_ord is not None and dx.code.system is CodeSystem.ICD10CM
        else None
        for dx in claim.diagnoses
    )
    principal: int | None
    if claim.kind is ClaimKind.PROFESSIONAL:
        principal = 0 if claim.diagnoses else None
    else:
        principal = next((i for i, d in enumerate(claim.diagnoses) if d.role.value == "principal"), None)
    return ClaimFacts(
        setting=setting,
        date_of_birth=dob,
        sex=sex,
        code_date=code_date,
        age=age,
        line_dates=line_dates,
        line_npis=tuple(line_npi(claim, i) for i in range(len(claim.lines))),
        patient=key,
        payer_id=claim.coverage.payer.payer_id or "",
        problems=tuple(claim_problems(claim)),
        other_lines=others,
        principal=principal,
        reenabled=frozenset(e for e in WITHDRAWN_EDITS if ctx.is_reenabled(claim.coverage.payer.payer_id or "", e))
        if ctx.reenabled or ctx.payer_rules.configs
        else frozenset(),
        line_flags=line_flags,
        dx_flags=dx_flags,
    )


def _empty_payer_rules() -> PayerRules:
    from medbill.scrub.payer import PayerRules

    return PayerRules.empty()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScrubContext:
    today: dt.date
    tables: EditTables = field(default_factory=EditTables.empty)
    other_lines: tuple[OtherLine, ...] = ()
    payer_rules: PayerRules = field(default_factory=_empty_payer_rules)
    overrides: tuple[Override, ...] = ()
    reenabled: Mapping[str, frozenset[str]] = field(default_factory=dict)
    timely_filing_days: int = DEFAULT_TIMELY_FILING_DAYS
    _memo: list[tuple[Claim, ClaimFacts] | None] = field(default_factory=lambda: [None], repr=False, compare=False)

    def facts(self, claim: Claim) -> ClaimFacts:
        """``ClaimFacts`` of ``claim``, computed once per claim and context."""
        cached = self._memo[0]
        if cached is not None and cached[0] is claim:
            return cached[1]
        made = _facts(claim, self)
        self._memo[0] = (claim, made)
        return made

    def is_reenabled(self, payer_id: str, edit: str) -> bool:
        """Whether a withdrawn edit (``WITHDRAWN_EDITS``) applies to this payer's claims."""
        for key in (payer_id, "*"):
            if edit in self.reenabled.get(key, frozenset()):
                return True
        return edit in self.payer_rules.reenabled(payer_id)

    def filing_window(self, payer_id: str) -> tuple[int, str]:
        """(days, where the number comes from) for the payer's timely filing limit."""
        days = self.payer_rules.timely_filing_days(payer_id)
        if days is not None:
            return days, f"payer rules for {payer_id}"
        return self.timely_filing_days, "default"

    def with_other_lines(self, lines: Iterable[OtherLine]) -> ScrubContext:
        from dataclasses import replace

        return replace(self, other_lines=tuple(lines), _memo=[None])


def is_void_or_replacement(claim: Claim) -> bool:
    return claim.frequency in (ClaimFrequency.VOID, ClaimFrequency.REPLACEMENT)


def service_code(code: Code | None) -> str | None:
    """The CPT/HCPCS value of a line's procedure (None when absent or of another system)."""
    if code is None or code.system not in (CodeSystem.CPT, CodeSystem.HCPCS):
        return None
    return code.value

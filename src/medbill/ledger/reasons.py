"""What claim adjustment reasons mean for posting and for the denials worklist.

The code lists are X12's external code lists: Claim Adjustment Group Codes (CO, PR, OA, PI; CR is
not used in 5010), Claim Adjustment Reason Codes (CARC) and Remittance Advice Remark Codes (RARC),
published at x12.org (CARC/RARC maintained with CMS). Their official *texts* come from the
reference store through a describer; this module holds only medbill's judgement about each common
code: a :class:`ReasonCategory`, the suggested next action, and the scrub rule that would have
caught the problem before submission.

Categories fall in two sets. *Not denials*: ``cost_sharing`` (PR 1/2/3 deductible, coinsurance,
copay), ``pricing`` (the allowed amount and payment reductions: 45 fee schedule, 253 sequestration,
59 multiple procedure ...), ``prior_payer`` (OA 23, the impact of the prior payer on a secondary
claim). *Denials*: eligibility, authorization, coding, bundling, medical necessity, timely filing,
duplicate, missing information, non-covered, coordination of benefits, provider eligibility
(enrollment, credentialing, network), other. A CARC not in the table is ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from medbill.core.codes import Code

__all__ = [
    "DENIAL_CATEGORIES",
    "GROUP_TEXT",
    "PAYMENT_REDUCTION_CARCS",
    "ReasonCategory",
    "ResponsibilityType",
    "ScrubHint",
    "code_text",
    "group_text",
    "is_denial",
    "next_action",
    "reason_category",
    "responsibility_type",
    "scrub_hint",
]


class ReasonCategory(StrEnum):
    COST_SHARING = "cost_sharing"
    PRICING = "pricing"
    PRIOR_PAYER = "prior_payer"
    ELIGIBILITY = "eligibility"
    AUTHORIZATION = "authorization"
    CODING = "coding"
    BUNDLING = "bundling"
    MEDICAL_NECESSITY = "medical_necessity"
    TIMELY_FILING = "timely_filing"
    DUPLICATE = "duplicate"
    MISSING_INFORMATION = "missing_information"
    NON_COVERED = "non_covered"
    COORDINATION_OF_BENEFITS = "coordination_of_benefits"
    PROVIDER_ELIGIBILITY = "provider_eligibility"
    OTHER = "other"


DENIAL_CATEGORIES = frozenset(ReasonCategory) - {
    ReasonCategory.COST_SHARING,
    ReasonCategory.PRICING,
    ReasonCategory.PRIOR_PAYER,
}


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TABLE: dict[ReasonCategory, tuple[str, ...]] = {
    ReasonCategory.COST_SHARING: _codes("1 2 3 66 241 247 248"),
    ReasonCategory.PRICING: _codes(
        "24 42 45 59 69 70 94 104 118 122 130 131 137 142 144 161 172 186 209 223 232 237 245 253 260 281 308 B10"
    ),
    ReasonCategory.PRIOR_PAYER: _codes("23"),
    ReasonCategory.ELIGIBILITY: _codes("26 27 31 32 33 34 140 166 177 178 179 180 200 224 257 258 277 B9"),
    ReasonCategory.AUTHORIZATION: _codes("15 39 62 165 197 198 210 243 284 287 288 296 302"),
    ReasonCategory.CODING: _codes("4 5 6 7 8 9 10 11 12 13 14 58 146 181 182 189 199 240 282 306 B16"),
    ReasonCategory.BUNDLING: _codes("97 231 234 236 B14"),
    ReasonCategory.MEDICAL_NECESSITY: _codes("40 50 55 56 150 151 152 153 154 167 261"),
    ReasonCategory.TIMELY_FILING: _codes("29 B4"),
    ReasonCategory.DUPLICATE: _codes("18 B13"),
    ReasonCategory.MISSING_INFORMATION: _codes("16 125 148 163 164 206 207 208 226 227 228 250 251 252"),
    ReasonCategory.NON_COVERED: _codes(
        "35 49 51 53 54 96 112 114 119 149 157 158 159 160 202 204 222 246 254 256 269 270 272 273 B1"
    ),
    ReasonCategory.COORDINATION_OF_BENEFITS: _codes("19 20 21 22 109 136 275 276 B11"),
    ReasonCategory.PROVIDER_ELIGIBILITY: _codes("170 171 183 184 185 242 279 299 B7"),
    ReasonCategory.OTHER: _codes("95 133 193 216 A1"),
}
_CATEGORY: dict[str, ReasonCategory] = {code: cat for cat, codes in _TABLE.items() for code in codes}

PAYMENT_REDUCTION_CARCS = frozenset({"253", "104", "245"})
"""Reductions of the *payment*, not of the allowed amount (sequestration, withholds): the allowed
amount is paid + patient responsibility + these."""


def code_text(code: object) -> str:
    """The normalised text of a CARC/RARC given as a ``Code`` or a string."""
    if isinstance(code, Code):
        return code.value
    return str(code).strip().upper()


def reason_category(carc: object) -> ReasonCategory:
    """The category of a CARC (``"45"`` → pricing, ``"97"`` → bundling); unknown codes → other."""
    return _CATEGORY.get(code_text(carc), ReasonCategory.OTHER)


def is_denial(category: ReasonCategory) -> bool:
    return category in DENIAL_CATEGORIES


class ResponsibilityType(StrEnum):
    DEDUCTIBLE = "deductible"  # PR 1 (66 blood deductible, 247)
    COINSURANCE = "coinsurance"  # PR 2 (248)
    COPAY = "copay"  # PR 3 (241 LIS copay)
    OTHER = "other"  # any other PR reason (96 non-covered with waiver, 204 ...)


_PR_TYPES = {
    "1": ResponsibilityType.DEDUCTIBLE,
    "66": ResponsibilityType.DEDUCTIBLE,
    "247": ResponsibilityType.DEDUCTIBLE,
    "2": ResponsibilityType.COINSURANCE,
    "248": ResponsibilityType.COINSURANCE,
    "3": ResponsibilityType.COPAY,
    "241": ResponsibilityType.COPAY,
}


def responsibility_type(carc: object) -> ResponsibilityType:
    """The kind of patient responsibility a PR reason is (1 deductible, 2 coinsurance, 3 copay)."""
    return _PR_TYPES.get(code_text(carc), ResponsibilityType.OTHER)


GROUP_TEXT: dict[str, str] = {
    "CO": "Contractual obligation: the provider's write-off under contract or regulation; not billable to the patient.",
    "PR": "Patient responsibility: billable to the patient (or to the next payer).",
    "OA": "Other adjustment: neither contractual nor patient responsibility "
    "(prior payer impact, duplicate ...); not billable to the patient.",
    "PI": "Payer-initiated reduction: a reduction the payer applied outside the contract; not billable to the patient.",
    "CR": "Corrections and reversals: not used in 5010 (a reversal is CLP02=22 with negated amounts "
    "under the original group codes).",
}


def group_text(group: object) -> str:
    """The meaning of a claim adjustment group code (CO, PR, OA, PI, CR)."""
    key = code_text(group)
    return GROUP_TEXT.get(key, f"Unknown adjustment group {key!r}.")


_ACTIONS: dict[ReasonCategory, str] = {
    ReasonCategory.ELIGIBILITY: "Verify coverage for the date of service (270/271); update the coverage and bill "
    "the right payer, or bill the patient.",
    ReasonCategory.AUTHORIZATION: "Find the authorization: if it was obtained, resubmit with it (REF*G1); otherwise "
    "request a retro-authorization or appeal.",
    ReasonCategory.CODING: "Review the codes against the documentation; correct and resubmit as a replacement "
    "claim (frequency 7).",
    ReasonCategory.BUNDLING: "Check the NCCI edit: if the service was distinct, add the supported modifier "
    "(59/XE/XS/XP/XU) and resubmit as a replacement; otherwise write it off.",
    ReasonCategory.MEDICAL_NECESSITY: "Review the LCD/NCD and the documentation; appeal with records, or bill the "
    "patient when a signed ABN/waiver is on file.",
    ReasonCategory.TIMELY_FILING: "Find proof of timely filing (999/277CA acceptance dates); appeal with it, "
    "otherwise write it off.",
    ReasonCategory.DUPLICATE: "Do not resubmit: find the original claim and follow up on its status.",
    ReasonCategory.MISSING_INFORMATION: "Read the remark codes; supply the missing information or attachment and "
    "resubmit as a replacement claim.",
    ReasonCategory.NON_COVERED: "Bill the patient if a signed waiver/ABN is on file; otherwise write it off.",
    ReasonCategory.COORDINATION_OF_BENEFITS: "Update the coordination of benefits; bill the primary payer first, "
    "then this payer with the primary's adjudication.",
    ReasonCategory.PROVIDER_ELIGIBILITY: "Check the rendering/billing provider's enrollment, credentialing and "
    "network status with this payer; correct the provider and resubmit.",
    ReasonCategory.OTHER: "Read the CARC/RARC text and contact the payer.",
    ReasonCategory.PRICING: "Compare the allowed amount with the contract; appeal an underpayment.",
    ReasonCategory.COST_SHARING: "Bill the patient (or the secondary payer).",
    ReasonCategory.PRIOR_PAYER: "No action: the prior payer's adjudication.",
}
_ACTION_BY_CARC: dict[str, str] = {
    "22": "The payer says another payer is primary: verify the coordination of benefits, bill the primary first.",
    "109": "Send the claim to the correct payer/contractor (check the coverage on file).",
    "119": "Benefit maximum reached: bill the patient or the secondary payer.",
    "133": "Pending review: no action until the payer reprocesses (a reversal and correction will follow).",
    "252": "Send the requested attachment (275 or the payer's portal) quoting the payer claim number.",
}


def next_action(carc: object) -> str:
    """A suggested next action for a CARC (by code where specific, else by its category)."""
    key = code_text(carc)
    return _ACTION_BY_CARC.get(key) or _ACTIONS[reason_category(key)]


@dataclass(frozen=True, slots=True)
class ScrubHint:
    """The scrub rule family (and rule code, where one rule fits) that would have caught a denial."""

    family: str
    rule: str | None = None


_SCRUB: dict[str, ScrubHint] = {
    "4": ScrubHint("codes", "MOD001"),
    "182": ScrubHint("codes", "MOD001"),
    "5": ScrubHint("codes", "POS001"),
    "58": ScrubHint("codes", "POS001"),
    "6": ScrubHint("patient", "PAT003"),
    "7": ScrubHint("patient", "PAT004"),
    "9": ScrubHint("patient", "PAT001"),
    "10": ScrubHint("patient", "PAT002"),
    "11": ScrubHint("codes"),
    "146": ScrubHint("codes", "DX001"),
    "181": ScrubHint("codes", "PX001"),
    "199": ScrubHint("codes"),
    "16": ScrubHint("structure"),
    "207": ScrubHint("structure", "STR005"),
    "18": ScrubHint("structure", "STR011"),
    "29": ScrubHint("structure", "STR012"),
    "97": ScrubHint("ncci", "NCCI001"),
    "231": ScrubHint("ncci", "NCCI001"),
    "236": ScrubHint("ncci", "NCCI001"),
    "151": ScrubHint("mue"),
}


def scrub_hint(carc: object) -> ScrubHint | None:
    """The scrub rule that would have caught this denial before submission, where one exists."""
    return _SCRUB.get(code_text(carc))

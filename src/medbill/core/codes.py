"""Codes are normalised once; the system comes from the field, never from the look of the string.

``Code.parse("e11.9", system=CodeSystem.ICD10CM)`` gives ``Code(ICD10CM, "E119")``; ``str()`` of it
shows the display form ``E11.9``. Undotted, J1100 is both ICD-10-CM J11.00 and HCPCS J1100, so a
parse without a system is refused (see ``candidate_systems`` for a bare lookup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from medbill.core.errors import InvalidCode


class CodeSystem(StrEnum):
    ICD10CM = "ICD10CM"  # diagnoses
    ICD10PCS = "ICD10PCS"  # inpatient procedures
    CPT = "CPT"  # HCPCS Level I (AMA): numbers only unless the user imports a licensed file
    HCPCS = "HCPCS"  # HCPCS Level II (CMS)
    MODIFIER = "MODIFIER"
    POS = "POS"  # place of service
    CARC = "CARC"
    RARC = "RARC"
    GROUP = "GROUP"  # claim adjustment group codes
    REVENUE = "REVENUE"  # UB-04 revenue codes

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    CodeSystem.ICD10CM: "ICD-10-CM",
    CodeSystem.ICD10PCS: "ICD-10-PCS",
    CodeSystem.CPT: "CPT",
    CodeSystem.HCPCS: "HCPCS Level II",
    CodeSystem.MODIFIER: "Modifier",
    CodeSystem.POS: "Place of service",
    CodeSystem.CARC: "CARC",
    CodeSystem.RARC: "RARC",
    CodeSystem.GROUP: "Adjustment group",
    CodeSystem.REVENUE: "Revenue code",
}

_ALIASES = {
    "ICD10CM": CodeSystem.ICD10CM,
    "ICD-10-CM": CodeSystem.ICD10CM,
    "CM": CodeSystem.ICD10CM,
    "DX": CodeSystem.ICD10CM,
    "ICD10PCS": CodeSystem.ICD10PCS,
    "ICD-10-PCS": CodeSystem.ICD10PCS,
    "PCS": CodeSystem.ICD10PCS,
    "CPT": CodeSystem.CPT,
    "HCPCS": CodeSystem.HCPCS,
    "HCPCS2": CodeSystem.HCPCS,
    "HCPCSII": CodeSystem.HCPCS,
    "MOD": CodeSystem.MODIFIER,
    "MODIFIER": CodeSystem.MODIFIER,
    "POS": CodeSystem.POS,
    "CARC": CodeSystem.CARC,
    "RARC": CodeSystem.RARC,
    "GROUP": CodeSystem.GROUP,
    "REV": CodeSystem.REVENUE,
    "REVENUE": CodeSystem.REVENUE,
}


def parse_system(text: str) -> CodeSystem:
    key = text.strip().upper().replace("_", "").replace(" ", "")
    if key in _ALIASES:
        return _ALIASES[key]
    key2 = key.replace("-", "")
    if key2 in _ALIASES:
        return _ALIASES[key2]
    raise InvalidCode(
        f"unknown code system {text!r}",
        hint="use one of: icd10cm, icd10pcs, cpt, hcpcs, modifier, pos, carc, rarc, group, revenue",
        reason="unknown_system",
    )


# Shapes of a normalised (undotted, upper-case) value, per system.
_SHAPES: dict[CodeSystem, re.Pattern[str]] = {
    # letter, digit (a letter in chapter 23's QA0-), alnum, then up to 4 alnum (placeholder X included)
    CodeSystem.ICD10CM: re.compile(r"[A-Z][0-9][0-9A-Z]([0-9A-Z]{1,4})?|QA[0-9A-Z]([0-9A-Z]{1,4})?"),
    # 7 characters from 0-9 and A-Z without I and O
    CodeSystem.ICD10PCS: re.compile(r"[0-9A-HJ-NP-Z]{7}"),
    # CPT: 5 digits (Category I), 4 digits + F/T (Category II/III), + U/M (PLA, MAAA), + A (vaccine admin)
    CodeSystem.CPT: re.compile(r"[0-9]{4}[0-9AFTUM]"),
    CodeSystem.HCPCS: re.compile(r"[A-V][0-9]{4}"),
    CodeSystem.MODIFIER: re.compile(r"[0-9A-Z]{2}"),
    CodeSystem.POS: re.compile(r"[0-9]{2}"),
    CodeSystem.CARC: re.compile(r"[A-Z]?[0-9]{1,3}"),
    CodeSystem.RARC: re.compile(r"(M|MA|N)[0-9]{1,4}"),
    CodeSystem.GROUP: re.compile(r"CO|CR|OA|PI|PR"),
    CodeSystem.REVENUE: re.compile(r"[0-9]{4}"),
}

_EXAMPLES = {
    CodeSystem.ICD10CM: "E11.9, S72.001A",
    CodeSystem.ICD10PCS: "0DTJ4ZZ",
    CodeSystem.CPT: "99213, 0591T",
    CodeSystem.HCPCS: "J1100, G0439",
    CodeSystem.MODIFIER: "25, LT",
    CodeSystem.POS: "11",
    CodeSystem.CARC: "45, B7",
    CodeSystem.RARC: "N130, MA04",
    CodeSystem.GROUP: "CO",
    CodeSystem.REVENUE: "0450",
}


def normalize(text: str, system: CodeSystem) -> str:
    """Upper-case, strip spaces and (for ICD-10-CM) the dot; left-pad POS and revenue codes."""
    value = text.strip().upper().replace(" ", "")
    if system is CodeSystem.ICD10CM:
        if value.count(".") > 1 or (("." in value) and value.index(".") != 3):
            raise InvalidCode(
                f"{text!r} is not an ICD-10-CM code: the dot goes after the third character",
                hint=f"for example {_EXAMPLES[system]}",
                reason="malformed",
            )
        value = value.replace(".", "")
    elif system is CodeSystem.ICD10PCS:
        value = value.replace(".", "")
    elif system is CodeSystem.POS and value.isdigit() and len(value) == 1:
        value = value.zfill(2)
    elif system is CodeSystem.REVENUE and value.isdigit() and len(value) == 3:
        value = value.zfill(4)
    return value


def is_well_formed(value: str, system: CodeSystem) -> bool:
    return _SHAPES[system].fullmatch(value) is not None


def candidate_systems(text: str) -> tuple[CodeSystem, ...]:
    """The code systems whose shape a bare string fits (J1100 fits ICD-10-CM and HCPCS)."""
    out = []
    for system in (CodeSystem.ICD10CM, CodeSystem.ICD10PCS, CodeSystem.CPT, CodeSystem.HCPCS):
        try:
            value = normalize(text, system)
        except InvalidCode:
            continue
        if is_well_formed(value, system):
            out.append(system)
    return tuple(out)


@dataclass(frozen=True, slots=True, order=True)
class Code:
    system: CodeSystem
    value: str

    @classmethod
    def parse(cls, text: str, *, system: CodeSystem | str) -> Code:
        sys_ = system if isinstance(system, CodeSystem) else parse_system(system)
        if not text or not text.strip():
            raise InvalidCode(f"empty {sys_.label} code", reason="malformed")
        value = normalize(text, sys_)
        if not is_well_formed(value, sys_):
            raise InvalidCode(
                f"{text.strip()!r} is not a well-formed {sys_.label} code",
                hint=f"for example {_EXAMPLES[sys_]}",
                reason="malformed",
            )
        return cls(sys_, value)

    @property
    def display(self) -> str:
        return display(self.value, self.system)

    def __str__(self) -> str:
        return self.display


def display(value: str, system: CodeSystem) -> str:
    """Display form: ICD-10-CM gets its dot after the category (E119 -> E11.9)."""
    if system is CodeSystem.ICD10CM and len(value) > 3 and _CM_CODE.match(value):
        return f"{value[:3]}.{value[3:]}"
    return value


_CM_CODE = re.compile(r"([A-Z][0-9]|QA)[0-9A-Z][0-9A-Z]{1,4}$")

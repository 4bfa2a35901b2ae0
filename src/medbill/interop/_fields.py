"""Field checks shared by the CSV and FHIR importers.

Each ``check_*`` returns the normalised value or raises :class:`FieldProblem` with a message that never
repeats a PHI value (names, dates, ids); code values (not PHI) are quoted to help the user fix them.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from medbill.core.claim import ClaimFilingIndicator, InsuranceType, PresentOnAdmission, Relationship, is_valid_npi
from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import InvalidCode

__all__ = [
    "FieldProblem",
    "check_code",
    "check_date",
    "check_email",
    "check_filing_indicator",
    "check_insurance_type",
    "check_money",
    "check_npi",
    "check_phone",
    "check_poa",
    "check_relationship",
    "check_sex",
    "check_ssn",
    "check_state",
    "check_text",
    "check_zip",
    "procedure_system",
]


class FieldProblem(Exception):
    """A bad value in one field (the caller adds the file, row and field name)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # a sub-field (``procedures[2].charge``) when the caller's field is compound


_SEX = {"F": "F", "FEMALE": "F", "M": "M", "MALE": "M", "U": "U", "UNKNOWN": "U", "OTHER": "U", "O": "U"}
_RELATIONSHIP_WORDS = {
    "SELF": "18",
    "SPOUSE": "01",
    "CHILD": "19",
    "EMPLOYEE": "20",
    "UNKNOWN": "21",
    "LIFE_PARTNER": "53",
    "OTHER": "G8",
}


def check_text(value: str, *, max_len: int, required: bool = True) -> str | None:
    v = value.strip()
    if not v:
        if required:
            raise FieldProblem("required")
        return None
    if len(v) > max_len:
        raise FieldProblem(f"longer than {max_len} characters")
    return v


def check_date(value: str, *, required: bool = True, not_future: dt.date | None = None) -> dt.date | None:
    v = value.strip()
    if not v:
        if required:
            raise FieldProblem("required")
        return None
    try:
        d = dt.date.fromisoformat(v)
    except ValueError:
        raise FieldProblem("not a date (expected YYYY-MM-DD)") from None
    if len(v) != 10:
        raise FieldProblem("not a date (expected YYYY-MM-DD)")
    if d.year < 1880:
        raise FieldProblem("a date before 1880")
    if not_future is not None and d > not_future:
        raise FieldProblem("a date in the future")
    return d


def check_sex(value: str) -> str:
    v = value.strip().upper()
    if not v:
        return "U"
    if v not in _SEX:
        raise FieldProblem(f"{value.strip()!r} is not a sex code (F, M or U)")
    return _SEX[v]


def check_state(value: str) -> str | None:
    v = value.strip().upper()
    if not v:
        return None
    if not re.fullmatch(r"[A-Z]{2}", v):
        raise FieldProblem("not a two-letter state code")
    return v


def check_zip(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    digits = v.replace("-", "")
    if not (digits.isdigit() and len(digits) in (5, 9)):
        raise FieldProblem("not a ZIP code (5 or 9 digits)")
    return digits


def check_phone(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    digits = re.sub(r"[^0-9]", "", v)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or re.search(r"[A-Za-z]", v):
        raise FieldProblem("not a 10-digit phone number")
    return digits


def check_email(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) or len(v) > 200:
        raise FieldProblem("not an email address")
    return v


def check_ssn(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    digits = v.replace("-", "")
    if not (digits.isdigit() and len(digits) == 9):
        raise FieldProblem("not a social security number (9 digits)")
    return digits


def check_npi(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    if not is_valid_npi(v):
        raise FieldProblem(f"{v!r} is not a valid NPI (10 digits with the Luhn check digit)")
    return v


def check_relationship(value: str) -> str:
    v = value.strip().upper().replace(" ", "_")
    if not v:
        return "18"
    v = _RELATIONSHIP_WORDS.get(v, v)
    if v not in {r.value for r in Relationship}:
        raise FieldProblem(f"{value.strip()!r} is not a relationship code (18 self, 01 spouse, 19 child, G8 ...)")
    return v


def check_filing_indicator(value: str) -> str | None:
    v = value.strip().upper()
    if not v:
        return None
    if v not in {f.value for f in ClaimFilingIndicator}:
        raise FieldProblem(f"{value.strip()!r} is not a claim filing indicator (SBR09: CI, MB, MC, BL ...)")
    return v


def check_insurance_type(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    if v not in {t.value for t in InsuranceType}:
        raise FieldProblem(f"{v!r} is not an insurance type code (SBR05: 12, 13, 14 ...)")
    return v


def check_poa(value: str) -> str | None:
    v = value.strip().upper()
    if not v:
        return None
    if v not in {p.value for p in PresentOnAdmission}:
        raise FieldProblem(f"{v!r} is not a present-on-admission indicator (Y, N, U, W, 1)")
    return v


def check_code(value: str, system: CodeSystem) -> Code:
    try:
        return Code.parse(value, system=system)
    except InvalidCode as exc:
        raise FieldProblem(exc.message) from None


def procedure_system(code: str, prefix: str | None) -> CodeSystem:
    """The system of a procedure code: the explicit prefix, else CPT for digit-first, HCPCS for A-V+4 digits.

    CPT (digit first) and HCPCS Level II (letter first) never share a shape; ICD-10-PCS needs ``PCS:``.
    """
    if prefix:
        try:
            system = {
                "CPT": CodeSystem.CPT,
                "HCPCS": CodeSystem.HCPCS,
                "PCS": CodeSystem.ICD10PCS,
                "ICD10PCS": CodeSystem.ICD10PCS,
            }[prefix.strip().upper()]
        except KeyError:
            raise FieldProblem(f"{prefix!r} is not a procedure code system (CPT, HCPCS or PCS)") from None
        return system
    c = code.strip().upper()
    if re.fullmatch(r"[0-9]{4}[0-9AFTUM]", c):
        return CodeSystem.CPT
    if re.fullmatch(r"[A-V][0-9]{4}", c):
        return CodeSystem.HCPCS
    raise FieldProblem(f"{code.strip()!r} is neither a CPT nor a HCPCS code (prefix ICD-10-PCS codes with 'PCS:')")


def check_money(value: str) -> Decimal:
    v = value.strip().lstrip("$")
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise FieldProblem(f"{value.strip()!r} is not an amount") from None
    if not d.is_finite() or d < 0 or d != d.quantize(Decimal("0.01")):
        raise FieldProblem(f"{value.strip()!r} is not an amount in dollars and cents")
    return d.quantize(Decimal("0.01"))


def check_units(value: str) -> Decimal:
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        raise FieldProblem(f"{value.strip()!r} is not a number of units") from None
    if not d.is_finite() or d <= 0 or d != d.quantize(Decimal("0.01")) or d > 9999:
        raise FieldProblem(f"{value.strip()!r} is not a number of units (positive, at most two decimals)")
    return d

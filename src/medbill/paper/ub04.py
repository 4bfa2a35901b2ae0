"""UB-04 (CMS-1450) paper claims from institutional claims.

Format: the UB-04 uniform bill of the National Uniform Billing Committee (NUBC, nubc.org; adopted by
CMS as the CMS-1450, OMB 0938-0997): 81 form locators (FL) on a US-letter sheet, 10 characters per
inch and 6 lines per inch, 22 service lines a page and the totals line (line 23, revenue code 0001).
Data as the NUBC's UB-04 Data Specifications Manual and the CMS Claims Processing Manual (chapter 25)
describe it: upper case, dates MMDDYY (the birth date in FL10 MMDDYYYY), ICD-10 codes without their
decimal point, dollars and cents in their own sub-columns without "$" or a point, the type of bill
with its leading zero (FL4, "0131"), the federal tax number as NN-NNNNNNN (FL5).

Print grid (see ``layout``): column 1 at 0.2 in from the left edge of the sheet, line l from
(l - 1)/6 in below the top edge. Line and column numbers follow the UB-04 print layout of VistA's
Integrated Billing (IB form 3: FL1 on lines 2-5, the service lines on lines 19-40, the totals line 41,
FL67 on lines 54-55, FL76-79 on lines 57-64), so ``form=False`` output lands in the boxes of a
pre-printed red form.

What is filled: FL1 billing provider (name, address, phone), FL2 pay-to provider, FL3a claim id (patient
control number), FL3b medical record number, FL4 type of bill, FL5 tax number, FL6 statement period,
FL8b patient name, FL9 patient address, FL10 birth date, FL11 sex, FL12-17 admission date, hour, type,
source, discharge hour, patient status, FL18-28 condition codes, FL29 accident state, FL31-34 occurrence
codes, FL35-36 occurrence spans, FL38 the payer's name and address (claim addressee), FL39-41 value codes,
FL42-48 service lines (revenue code, NDC as N4 + NDC + unit + quantity or the line description, HCPCS and
modifiers, service date, units, charges, non-covered charges), line 23 with 0001, page n of m and the
totals on the last page, FL50-54 payers in responsibility order with release and assignment codes and
prior payments, FL56 NPI, FL58-62 insureds, FL63 prior authorization and FL64 document control number
(frequency 7 or 8) on the line of the payer billed, FL66 ICD indicator 0, FL67 and 67A-Q diagnoses with
POA (exempt is left blank, as on paper), FL69 admitting diagnosis, FL70 reasons for visit, FL71 DRG,
FL72 external causes with POA, FL74 principal procedure and 74a-e, FL76 attending, FL77 operating,
FL78-79 other operating (ZZ), referring (DN), rendering (82), FL80 the claim note, FL81a B3 taxonomy.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from decimal import Decimal

from medbill.core.claim import (
    Claim,
    ClaimFrequency,
    ClaimKind,
    Coverage,
    Diagnosis,
    DiagnosisRole,
    PresentOnAdmission,
    Provider,
    Responsibility,
    ServiceLine,
)
from medbill.core.money import sum_money
from medbill.paper.layout import (
    Grid,
    PaperFormError,
    Sheet,
    digits,
    name_part,
    person_name,
    plain,
    quantity,
    render_pdf,
    split_money,
    wrap,
)

GRID = Grid(x0=0.2)
LINES_PER_PAGE = 22
FIRST_SERVICE_LINE = 19
TOTALS_LINE = 41
LEFT = 0.5
RIGHT = 83.0
THIN = 0.3  # width of the rules between the rows of a locator

MAX_OTHER_DIAGNOSES = 17  # 67A-67Q
MAX_REASONS = 3  # 70a-c
MAX_EXTERNAL_CAUSES = 3  # 72a-c
MAX_CONDITIONS = 11  # 18-28
MAX_OCCURRENCES = 8  # 31a-34b
MAX_SPANS = 4  # 35a-36b
MAX_VALUE_CODES = 12  # 39a-41d
MAX_OTHER_PROCEDURES = 5  # 74a-e
MAX_PAYERS = 3  # 50A-C
MAX_OTHER_PROVIDERS = 2  # 78, 79
MONEY_DIGITS = 8  # dollars columns of FL47/48 and the value code amounts

_ORDER = {Responsibility.PRIMARY: 0, Responsibility.SECONDARY: 1, Responsibility.TERTIARY: 2}
_NON_DOLLAR_VALUE_CODES = frozenset(
    {
        "45",
        "46",
        "48",
        "49",
        "50",
        "51",
        "52",
        "53",
        "56",
        "57",
        "58",
        "59",
        "60",
        "61",
        "67",
        "68",
        "80",
        "81",
        "82",
        "83",
        "A0",
    }
)
"""Value codes whose amount is a count or measure (days, visits, hours, readings, ZIP): a whole number is
printed left of the dollars/cents rule; a fraction (a hematocrit of 38.5) in both columns, the rule
standing for the decimal point."""

# FL67: (line, code column) of the principal and of 67A-Q; the POA indicator follows the 7-character code
_DX_CELLS: tuple[tuple[int, int], ...] = tuple((54, 2 + 8 * k) for k in range(9)) + tuple(
    (55, 2 + 8 * k) for k in range(9)
)


def ub04_pages(claim: Claim) -> int:
    """How many forms the claim takes: 22 service lines a form."""
    return max(1, math.ceil(len(claim.lines) / LINES_PER_PAGE))


def render_ub04(claims: Iterable[Claim], *, form: bool = True) -> bytes:
    """A PDF of UB-04 forms, one or more pages per institutional claim, in order.

    ``form=True`` draws a facsimile of the red form with the data; ``form=False`` prints the data alone,
    for pre-printed forms. Raises ``PaperFormError`` (naming the claim id) for a professional claim or
    more codes, payers or providers than the form has locators for, before anything is drawn.
    """
    return render_pdf(
        claims,
        title="UB-04 (CMS-1450) claims",
        form_name="ub04",
        grid=GRID,
        form=form,
        check=_check,
        pages_of=ub04_pages,
        draw_form=_draw_form,
        fill=_fill,
    )


# ---------------------------------------------------------------------------------------------------
# Checks


def _by_role(claim: Claim, role: DiagnosisRole) -> list[Diagnosis]:
    return [dx for dx in claim.diagnoses if dx.role is role]


def _payers(claim: Claim) -> list[tuple[Coverage, bool]]:
    """Every coverage with a flag for the one billed, in responsibility order (FL50 A, B, C)."""
    rows = [(claim.coverage, True)] + [(o.coverage, False) for o in claim.other_payers]
    return sorted(rows, key=lambda row: _ORDER[row[0].responsibility])


def _other_providers(claim: Claim) -> list[tuple[str, Provider]]:
    """FL78-79: other operating (ZZ), referring (DN), rendering (82)."""
    out: list[tuple[str, Provider]] = []
    info = claim.institutional
    if info is not None and info.other_operating_provider is not None:
        out.append(("ZZ", info.other_operating_provider))
    if claim.referring_provider is not None:
        out.append(("DN", claim.referring_provider))
    if claim.rendering_provider is not None:
        out.append(("82", claim.rendering_provider))
    return out


def _check(claim: Claim) -> None:
    def fail(message: str, hint: str | None = None) -> None:
        raise PaperFormError(message, claim_id=claim.id, hint=hint)

    if claim.kind is not ClaimKind.INSTITUTIONAL:
        fail(
            f"is a {claim.kind.value} claim; the UB-04 carries institutional claims",
            "print professional claims on the CMS-1500 (render_cms1500, `medbill paper cms1500`)",
        )
    info = claim.institutional
    if info is None:
        fail("has no institutional information (type of bill, statement period) for the UB-04")
        return
    principal = _by_role(claim, DiagnosisRole.PRINCIPAL)
    limits = (
        (len(principal), 1, "principal diagnoses", "FL67"),
        (len(_by_role(claim, DiagnosisRole.OTHER)), MAX_OTHER_DIAGNOSES, "other diagnoses", "FL67A-Q"),
        (len(_by_role(claim, DiagnosisRole.ADMITTING)), 1, "admitting diagnoses", "FL69"),
        (len(_by_role(claim, DiagnosisRole.REASON_FOR_VISIT)), MAX_REASONS, "reasons for visit", "FL70a-c"),
        (len(_by_role(claim, DiagnosisRole.EXTERNAL_CAUSE)), MAX_EXTERNAL_CAUSES, "external causes", "FL72a-c"),
        (len(info.condition_codes), MAX_CONDITIONS, "condition codes", "FL18-28"),
        (len(info.occurrence_codes), MAX_OCCURRENCES, "occurrence codes", "FL31-34"),
        (len(info.occurrence_spans), MAX_SPANS, "occurrence spans", "FL35-36"),
        (len(info.value_codes), MAX_VALUE_CODES, "value codes", "FL39-41"),
        (len(info.other_procedures), MAX_OTHER_PROCEDURES, "other procedures", "FL74a-e"),
        (len(_payers(claim)), MAX_PAYERS, "payers", "FL50A-C"),
        (len(_other_providers(claim)), MAX_OTHER_PROVIDERS, "other providers", "FL78-79"),
    )
    for count, limit, what, where in limits:
        if count > limit:
            fail(f"has {count} {what}; the UB-04 holds {limit} ({where})")
    amounts = [line.charge for line in claim.lines] + [claim.total_charge]
    amounts += [line.non_covered_charge for line in claim.lines if line.non_covered_charge is not None]
    amounts += [v.amount for v in info.value_codes]
    amounts += [o.paid_amount for o in claim.other_payers if o.paid_amount is not None]
    for amount in amounts:
        if len(split_money(amount)[0]) > MONEY_DIGITS:
            fail(f"amount {amount} does not fit the UB-04's money columns")
    for line in claim.lines:
        if len(quantity(line.units)) > 7:
            fail(f"line {line.line_number}: {line.units} units do not fit FL46")


# ---------------------------------------------------------------------------------------------------
# The form: rules, locator numbers and captions


def _draw_form(s: Sheet) -> None:
    g = s.grid
    # Frame
    s.hline(2, LEFT, RIGHT, width=0.9)
    s.hline(65, LEFT, RIGHT, width=0.9)
    s.vline(LEFT, 2, 65, width=0.9)
    s.vline(RIGHT, 2, 65, width=0.9)

    # FL1 - FL7
    s.vline(26.0, 2, 6)
    s.vline(51.0, 2, 6)
    s.caption(2, 0.6, "1", size=5.5, bold=True)
    s.caption(2, 26.1, "2", size=5.5, bold=True)
    s.caption(2, 51, "3a PAT.", size=4.2)
    s.caption(2, 51, "CNTL #", size=4.2, down=5.2)
    s.caption(3, 51, "b. MED.", size=4.2)
    s.caption(3, 51, "REC. #", size=4.2, down=5.2)
    s.vline(53.8, 2, 4, dash=(1, 1))
    s.hline(3, 53.8, 78.0, width=THIN)
    s.vline(78.0, 2, 4)
    s.caption(2, 78, "4 TYPE", size=4.5, bold=True)
    s.caption(2, 78, "OF BILL", size=4.5, down=5)
    s.hline(4, 51.0, RIGHT)
    s.caption(4, 51, "5 FED. TAX NO.", size=4.5, bold=True)
    s.vline(61.0, 4, 6)
    s.caption(4, 63, "6   STATEMENT COVERS PERIOD", size=4.5, bold=True)
    s.caption(4, 62, "FROM", size=4.5, down=5)
    s.caption(4, 69, "THROUGH", size=4.5, down=5)
    s.vline(68.5, 5, 6)
    s.vline(75.0, 4, 6)
    s.caption(4, 75, "7", size=5.5, bold=True)
    s.hline(6, LEFT, RIGHT)

    # FL8 / FL9
    s.vline(31.0, 6, 8)
    s.caption(6, 0.6, "8 PATIENT NAME", size=4.5, bold=True)
    s.caption(6, 10.5, "a", size=5, down=3)
    s.shade(11.5, 6, 31.0, 7)
    s.caption(7, 0.6, "b", size=5, down=3)
    s.caption(6, 31.1, "9 PATIENT ADDRESS", size=4.5, bold=True)
    s.caption(6, 40.5, "a", size=5, down=3)
    s.caption(7, 31.1, "b", size=5, down=3)
    for col, letter in ((63.0, "c"), (67.0, "d"), (78.0, "e")):
        s.vline(col, 7, 8, width=THIN)
        s.caption(7, col + 0.1, letter, size=5, down=3)
    s.hline(8, LEFT, RIGHT)

    # FL10 - FL30
    seps = [9.5, 12.0, 19.0, 21.5, 24.5, 27.5, 30.5, 33.5] + [36.5 + 3 * k for k in range(11)] + [69.5]
    s.vlines(seps, 8, 10)
    s.caption(8, 0.6, "10 BIRTHDATE", size=4.2, down=4.6)
    s.caption(8, 9.6, "11 SEX", size=4.2, down=4.6)
    s.caption(8, 12.1, "ADMISSION", size=4.2)
    for col, text in ((12.1, "12 DATE"), (19.1, "13 HR"), (21.6, "14 TYPE"), (24.6, "15 SRC")):
        s.caption(8, col, text, size=4.0, down=4.6)
    s.caption(8, 27.6, "16 DHR", size=4.0, down=4.6)
    s.caption(8, 30.6, "17 STAT", size=4.0, down=4.6)
    s.caption(8, 44, "CONDITION CODES", size=4.2)
    for k in range(11):
        s.caption(8, 33.6 + 3 * k, str(18 + k), size=4.5, down=4.6)
    s.caption(8, 66.6, "29 ACDT", size=4.0)
    s.caption(8, 66.6, "STATE", size=4.0, down=4.6)
    s.caption(8, 69.6, "30", size=4.5, bold=True)
    s.shade(69.5, 9, RIGHT, 10)
    s.hline(10, LEFT, RIGHT)

    # FL31 - FL37
    s.vlines((11.0, 21.0, 31.0, 41.0, 58.0, 75.0), 10, 13)
    for k, n in enumerate((31, 32, 33, 34)):
        col = 1 + 10 * k
        at = col - 0.4 if k == 0 else col + 0.1
        s.caption(10, at, f"{n}  OCCURRENCE", size=4.2)
        s.caption(10, at, "CODE        DATE", size=4.0, down=4.6)
        s.vline(col + 3.5, 11, 13, dash=(1, 1))
    for n, col in ((35, 41), (36, 58)):
        s.caption(10, col + 0.1, f"{n}        OCCURRENCE SPAN", size=4.2)
        s.caption(10, col + 0.1, "CODE         FROM             THROUGH", size=4.0, down=4.6)
        s.vline(col + 3.5, 11, 13, dash=(1, 1))
        s.vline(col + 10.5, 11, 13, dash=(1, 1))
    s.caption(10, 75.1, "37", size=4.5, bold=True)
    s.hline(12, LEFT, 75.0, width=THIN)
    s.hline(11, LEFT, 75.0, width=THIN)
    for line, letter in ((11, "a"), (12, "b")):
        s.text_at(g.x(LEFT) - 1.5, g.baseline(line), letter, size=5.5, bold=True, align="right")
    s.hline(13, LEFT, RIGHT)

    # FL38 / FL39 - FL41
    s.caption(13, 0.6, "38", size=5.5, bold=True)
    s.vline(43.0, 13, 18)
    for n, col, amount_end in ((39, 43.0, 57.0), (40, 57.0, 70.0), (41, 70.0, 83.0)):
        s.vline(col, 13, 18)
        s.caption(13, col + 0.1, f"{n}   VALUE CODES", size=4.2)
        s.caption(13, col + 0.1, "CODE              AMOUNT", size=4.0, down=4.6)
        code_end = col + 3.5 if n != 39 else 46.5
        s.vline(code_end, 14, 18, width=THIN)
        s.vline(amount_end - 2.0, 14, 18, dash=(1, 1))
    for k, letter in enumerate("abcd"):
        s.caption(14 + k, 43.1, letter, size=5, down=3)
        s.hline(14 + k, 43.0, RIGHT, width=THIN)
    s.hline(18, LEFT, RIGHT)

    # FL42 - FL49 and the 23 lines
    cols = (
        (0.6, "42 REV. CD."),
        (6.1, "43 DESCRIPTION"),
        (31.1, "44 HCPCS / RATE / HIPPS CODE"),
        (46.1, "45 SERV. DATE"),
        (52.6, "46 SERV. UNITS"),
        (60.1, "47 TOTAL CHARGES"),
        (70.1, "48 NON-COVERED CHARGES"),
        (80.1, "49"),
    )
    for col, text in cols:
        s.caption(18, col, text, size=4.2, bold=True, down=3.5)
    s.vlines((5.5, 31.0, 46.0, 52.5, 60.0, 70.0, 80.0), 18, 42)
    s.vlines((68.0, 78.0), 19, 42, dash=(1, 1))
    for n in range(1, 24):
        line = FIRST_SERVICE_LINE + n - 1
        s.hline(line, LEFT, RIGHT, width=THIN)
        label = str(n)
        s.text_at(g.x(LEFT) - 1.5, g.baseline(line) + 0.5, label, size=5, bold=True, align="right")
        s.text_at(g.x(RIGHT) + 1.5, g.baseline(line) + 0.5, label, size=5, bold=True)
    s.caption(TOTALS_LINE, 6.5, "PAGE", size=5, bold=True, down=3.5)
    s.caption(TOTALS_LINE, 15.1, "OF", size=5, bold=True, down=3.5)
    s.caption(TOTALS_LINE, 33, "CREATION DATE", size=5, bold=True, down=3.5)
    s.caption(TOTALS_LINE, 52.6, "TOTALS", size=5, bold=True, down=3.5)
    s.hline(42, LEFT, RIGHT)

    # FL50 - FL57
    heads = (
        (0.6, "50 PAYER NAME"),
        (24.1, "51 HEALTH PLAN ID"),
        (39.1, "52 REL"),
        (41.6, "53 ASG"),
        (43.6, "54 PRIOR PAYMENTS"),
        (54.1, "55 EST. AMOUNT DUE"),
    )
    for col, text in heads:
        s.caption(42, col, text, size=4.2, bold=True, down=3.5)
    s.caption(42, 39.1, "INFO", size=3.6, down=0.2)
    s.caption(42, 41.6, "BEN.", size=3.6, down=0.2)
    s.vlines((24.0, 39.0, 41.5, 43.5, 54.0, 64.0), 42, 46)
    s.vlines((52.0, 62.0), 43, 46, dash=(1, 1))
    s.caption(42, 64.1, "56 NPI", size=4.5, bold=True, down=3.5)
    s.caption(43, 64.1, "57", size=4.5, bold=True)
    s.caption(43, 64.1, "OTHER", size=3.8, down=4.8)
    s.caption(44, 64.1, "PRV ID", size=3.8, down=0.5)
    for k, letter in enumerate("ABC"):
        line = 43 + k
        s.hline(line, LEFT, RIGHT, width=THIN)
        s.text_at(g.x(LEFT) - 1.5, g.baseline(line), letter, size=5.5, bold=True, align="right")
        s.caption(line, 66.6, letter, size=4.5, bold=True, down=3.5)
    s.vline(67.5, 42, 46, width=THIN)
    s.hline(46, LEFT, RIGHT)

    # FL58 - FL62
    for col, text in (
        (0.6, "58 INSURED'S NAME"),
        (27.1, "59 P. REL"),
        (30.1, "60 INSURED'S UNIQUE ID"),
        (50.1, "61 GROUP NAME"),
        (65.1, "62 INSURANCE GROUP NO."),
    ):
        s.caption(46, col, text, size=4.2, bold=True, down=3.5)
    s.vlines((27.0, 30.0, 50.0, 65.0), 46, 50)
    for k, letter in enumerate("ABC"):
        line = 47 + k
        s.hline(line, LEFT, RIGHT, width=THIN)
        s.text_at(g.x(LEFT) - 1.5, g.baseline(line), letter, size=5.5, bold=True, align="right")
    s.hline(50, LEFT, RIGHT)

    # FL63 - FL65
    for col, text in (
        (0.6, "63 TREATMENT AUTHORIZATION CODES"),
        (32.1, "64 DOCUMENT CONTROL NUMBER"),
        (58.1, "65 EMPLOYER NAME"),
    ):
        s.caption(50, col, text, size=4.2, bold=True, down=3.5)
    s.vlines((32.0, 58.0), 50, 54)
    for k, letter in enumerate("ABC"):
        line = 51 + k
        s.hline(line, LEFT, RIGHT, width=THIN)
        s.text_at(g.x(LEFT) - 1.5, g.baseline(line), letter, size=5.5, bold=True, align="right")
    s.hline(54, LEFT, RIGHT)

    # FL66 - FL68: diagnoses
    s.caption(54, 0.6, "66", size=4.2, bold=True)
    s.caption(54, 0.6, "DX", size=4.2, bold=True, down=4.6)
    for index, (line, col) in enumerate(_DX_CELLS):
        s.vline(col, line, line + 1, width=0.4)
        s.shade(col + 7.0, line, col + 8.0, line + 1)
        letter = "67" if index == 0 else "ABCDEFGHIJKLMNOPQ"[index - 1]
        s.caption(line, col + 0.1, letter, size=3.8, bold=True)
    s.vline(74.0, 54, 56)
    s.caption(54, 74.1, "68", size=4.2, bold=True)
    s.hline(55, 2.0, 74.0, width=THIN)
    s.hline(56, LEFT, RIGHT)

    # FL69 - FL73
    s.caption(56, 0.6, "69 ADMIT", size=3.6, bold=True)
    s.caption(56, 0.6, "DX", size=3.6, bold=True, down=4.0)
    s.vline(12.0, 56, 57)
    s.caption(56, 12.1, "70 PATIENT", size=3.6, bold=True)
    s.caption(56, 12.1, "REASON DX", size=3.6, bold=True, down=4.0)
    for col, letter in ((17.0, "a"), (24.0, "b"), (31.0, "c")):
        s.vline(col, 56, 57, width=THIN)
        s.caption(56, col + 0.1, letter, size=3.8, bold=True)
    s.vline(38.0, 56, 57)
    s.caption(56, 38.1, "71 PPS", size=3.6, bold=True)
    s.caption(56, 38.1, "CODE", size=3.6, bold=True, down=4.0)
    s.vline(47.0, 56, 57)
    s.caption(56, 47.1, "72", size=3.6, bold=True)
    s.caption(56, 47.1, "ECI", size=3.6, bold=True, down=4.0)
    for col, letter in ((49.0, "a"), (57.0, "b"), (65.0, "c")):
        s.vline(col, 56, 57, width=THIN)
        s.caption(56, col + 0.1, letter, size=3.8, bold=True)
        s.shade(col + 7.0, 56, col + 8.0, 57)
    s.vline(74.0, 56, 57)
    s.caption(56, 74.1, "73", size=4.2, bold=True)
    s.hline(57, LEFT, RIGHT)

    # FL74 / FL75
    for line, labels in (
        (57, ("74   PRINCIPAL PROCEDURE", "a.   OTHER PROCEDURE", "b.   OTHER PROCEDURE")),
        (59, ("c.   OTHER PROCEDURE", "d.   OTHER PROCEDURE", "e.   OTHER PROCEDURE")),
    ):
        for k, text in enumerate(labels):
            col = 1 + 15 * k
            at = col - 0.4 if k == 0 else col + 0.1
            s.caption(line, at, text, size=4.0, bold=True)
            s.caption(line, at, "CODE                          DATE", size=3.8, down=4.4)
            s.vline(col + 8.0, line + 1, line + 2, dash=(1, 1))
    s.vlines((16.0, 31.0), 57, 61)
    s.hline(59, LEFT, 46.0, width=THIN)
    s.vline(46.0, 57, 61)
    s.caption(57, 46.1, "75", size=4.5, bold=True)
    s.shade(46.0, 58, 51.0, 61)
    s.vline(51.0, 57, 65)

    # FL76 - FL79
    for line, title in ((57, "76 ATTENDING"), (59, "77 OPERATING"), (61, "78 OTHER"), (63, "79 OTHER")):
        s.caption(line, 51.1, title, size=4.0, bold=True)
        if line < 61:
            s.caption(line, 56.0, "NPI", size=3.8, bold=True, down=4.2)
        else:
            s.caption(line, 58.0, "NPI", size=3.2, bold=True, down=4.6)
        s.vline(59.0, line, line + 1, width=THIN)
        s.vline(70.0, line, line + 1, width=THIN)
        s.caption(line, 70.1, "QUAL", size=3.8, bold=True, down=4.2)
        s.vline(74.0, line, line + 1, width=THIN)
        s.caption(line + 1, 51.1, "LAST", size=3.8, bold=True, down=4.2)
        s.caption(line + 1, 69.0, "FIRST", size=3.8, bold=True, down=4.2)
        s.hline(line + 1, 51.0, RIGHT, width=THIN)
        if line >= 61:
            s.vline(55.5, line, line + 1, width=THIN)
            s.vline(58.0, line, line + 1, dash=(1, 1))
        if line > 57:
            s.hline(line, 51.0, RIGHT)
    s.hline(61, LEFT, 51.0)

    # FL80 / FL81
    s.caption(61, 0.6, "80 REMARKS", size=4.5, bold=True)
    s.vline(26.0, 61, 65)
    s.caption(61, 26.05, "81CC", size=3.4, bold=True, down=-0.3)
    for k, letter in enumerate("abcd"):
        line = 61 + k
        s.caption(line, 26.1, letter, size=4.5, bold=True, down=4.2)
        if k:
            s.hline(line, 26.0, 51.0, width=THIN)
    s.vline(29.0, 61, 65, dash=(1, 1))
    s.vline(39.0, 61, 65, dash=(1, 1))

    # Footer
    s.text_at(g.x(1), g.y(66) + 2, "UB-04 CMS-1450", size=7.5, bold=True)
    s.text_at(g.x(12), g.y(66) + 2, "APPROVED OMB NO. 0938-0997", size=5.5)
    s.text_at(
        g.x(42),
        g.y(66) + 2,
        "THE CERTIFICATIONS ON THE REVERSE APPLY TO THIS BILL AND ARE MADE A PART HEREOF.",
        size=5,
        align="center",
    )
    s.text_at(g.x(RIGHT), g.y(66) + 2, "NUBC  National Uniform Billing Committee", size=6, bold=True, align="right")


# ---------------------------------------------------------------------------------------------------
# The data


def _mmddyy(value: dt.date | None) -> str:
    return value.strftime("%m%d%y") if value is not None else ""


def _last_first(provider: Provider) -> tuple[str, str]:
    if provider.last_name:
        return name_part(provider.last_name), name_part(provider.first_name)
    return plain(provider.organization_name), ""


def _poa(dx: Diagnosis) -> str:
    """POA indicator as printed: Y, N, U, W; exempt (1 in 5010) is blank on the paper UB-04."""
    if dx.poa is None or dx.poa is PresentOnAdmission.EXEMPT:
        return ""
    return dx.poa.value


def _provider_block(s: Sheet, top: int, name: str, provider: Provider, *, name_col: int, col: int) -> None:
    s.put(top, name_col, name, 25 - (name_col - col))
    address = provider.address
    if address is not None:
        street = " ".join(p for p in (plain(address.line1), plain(address.line2)) if p)
        s.put(top + 1, col, street, 25)
        s.put(top + 2, col, f"{plain(address.city)} {plain(address.state)} {digits(address.zip)}", 25)


def _value_amount(s: Sheet, line: int, code: str, amount_first: int, amount: Decimal) -> None:
    """A value code amount: dollars | cents, or a count left of the rule for non-dollar codes."""
    dollars_last = amount_first + MONEY_DIGITS - 1
    if code in _NON_DOLLAR_VALUE_CODES and amount == amount.to_integral_value():
        s.put_right(line, dollars_last, quantity(amount), MONEY_DIGITS)
    else:
        s.money(line, dollars_last, dollars_last + 1, amount, MONEY_DIGITS)


def _description(line: ServiceLine) -> str:
    if line.drug is not None:
        return f"N4{digits(line.drug.ndc)}{line.drug.unit.value}{quantity(line.drug.quantity)}"
    return plain(line.description)


def _fill(s: Sheet, claim: Claim, page: int, pages: int) -> None:
    info = claim.institutional
    assert info is not None
    billing = claim.billing_provider
    coverage = claim.coverage
    patient = claim.patient or coverage.subscriber
    last_page = page == pages - 1

    # FL1, FL2
    _provider_block(s, 2, plain(billing.name), billing, name_col=2, col=1)
    phone = digits(billing.contact.phone if billing.contact else None)
    s.put(5, 1, phone, 10)
    if claim.pay_to_provider is not None:
        _provider_block(s, 2, plain(claim.pay_to_provider.name), claim.pay_to_provider, name_col=27, col=26)

    # FL3a, FL3b, FL4, FL5, FL6
    s.put(2, 54, plain(claim.id), 24)
    s.put(3, 54, plain(claim.medical_record_number), 24)
    s.put(3, 78, "0" + (claim.type_of_bill or ""), 4)
    tax = digits(billing.tax_id)
    s.put(5, 51, f"{tax[:2]}-{tax[2:]}" if len(tax) == 9 else tax, 10)
    s.put(5, 62, _mmddyy(info.statement_from), 6)
    s.put(5, 69, _mmddyy(info.statement_to), 6)

    # FL8, FL9
    s.put(7, 2, person_name(patient.last_name, patient.first_name, patient.middle_name, patient.suffix), 29)
    if patient.address is not None:
        a = patient.address
        s.put(6, 42, " ".join(p for p in (plain(a.line1), plain(a.line2)) if p), 40)
        s.put(7, 32, plain(a.city), 30)
        s.put(7, 65, plain(a.state), 2)
        s.put(7, 69, digits(a.zip), 9)

    # FL10 - FL17
    if patient.date_of_birth is not None:
        s.put(9, 1, patient.date_of_birth.strftime("%m%d%Y"))
    if patient.sex is not None:
        s.put(9, 10, patient.sex.value)
    s.put(9, 13, _mmddyy(info.admission_date), 6)
    if info.admission_time is not None:
        s.put(9, 19, f"{info.admission_time.hour:02d}")
    s.put(9, 22, info.admission_type, 1)
    s.put(9, 25, info.admission_source, 1)
    if info.discharge_time is not None:
        s.put(9, 28, f"{info.discharge_time.hour:02d}")
    s.put(9, 31, info.patient_status, 2)

    # FL18 - FL28, FL29
    for k, code in enumerate(info.condition_codes[:MAX_CONDITIONS]):
        s.put(9, 34 + 3 * k, code, 2)
    s.put(9, 67, plain(claim.accident_state), 2)

    # FL31 - FL34 (a row first, then b), FL35 - FL36
    for k, occurrence in enumerate(info.occurrence_codes[:MAX_OCCURRENCES]):
        line, col = 11 + k // 4, 1 + 10 * (k % 4)
        s.put(line, col, occurrence.code, 2)
        s.put(line, col + 4, _mmddyy(occurrence.date), 6)
    for k, span in enumerate(info.occurrence_spans[:MAX_SPANS]):
        line, col = 11 + k // 2, (41, 58)[k % 2]
        s.put(line, col, span.code, 2)
        s.put(line, col + 4, _mmddyy(span.date_from), 6)
        s.put(line, col + 11, _mmddyy(span.date_to), 6)

    # FL38: the payer billed (claim addressee)
    payer = coverage.payer
    s.put(13, 3, plain(payer.name), 40)
    if payer.address is not None:
        a = payer.address
        s.put(14, 1, " ".join(p for p in (plain(a.line1), plain(a.line2)) if p), 42)
        s.put(15, 1, f"{plain(a.city)} {plain(a.state)} {digits(a.zip)}", 42)

    # FL39 - FL41 (across, then down)
    for k, value in enumerate(info.value_codes[:MAX_VALUE_CODES]):
        line = 14 + k // 3
        code_col, amount_first = ((44, 47), (57, 60), (70, 73))[k % 3]
        s.put(line, code_col, value.code, 2)
        _value_amount(s, line, value.code, amount_first, value.amount)

    # FL42 - FL48: this page's lines
    chunk = claim.lines[page * LINES_PER_PAGE : (page + 1) * LINES_PER_PAGE]
    for n, svc in enumerate(chunk):
        line = FIRST_SERVICE_LINE + n
        if svc.revenue_code is not None:
            s.put(line, 1, svc.revenue_code.value.zfill(4), 4)
        s.put(line, 6, _description(svc), 25)
        if svc.procedure is not None:
            s.put(line, 31, svc.procedure.value + "".join(m.value for m in svc.modifiers[:4]), 15)
        s.put(line, 46, _mmddyy(svc.service_date), 6)
        s.put_right(line, 59, quantity(svc.units), 7)
        s.money(line, 67, 68, svc.charge, MONEY_DIGITS)
        if svc.non_covered_charge is not None:
            s.money(line, 77, 78, svc.non_covered_charge, MONEY_DIGITS)

    # Line 23: 0001, page n of m, totals on the last page
    s.put(TOTALS_LINE, 1, "0001")
    s.put_right(TOTALS_LINE, 14, str(page + 1), 3)
    s.put_right(TOTALS_LINE, 20, str(pages), 3)
    if last_page:
        s.money(TOTALS_LINE, 67, 68, claim.total_charge, MONEY_DIGITS)
        non_covered = [line.non_covered_charge for line in claim.lines if line.non_covered_charge is not None]
        if non_covered:
            s.money(TOTALS_LINE, 77, 78, sum_money(non_covered), MONEY_DIGITS)

    # FL50 - FL55, FL56, FL58 - FL62, FL63, FL64
    s.put(42, 68, digits(billing.npi), 15)
    paid = {o.coverage.payer.payer_id: o.paid_amount for o in claim.other_payers}
    for k, (cov, billed) in enumerate(_payers(claim)[:MAX_PAYERS]):
        line = 43 + k
        s.put(line, 1, plain(cov.payer.name), 23)
        s.put(line, 24, plain(cov.payer.payer_id), 15)
        s.put(line, 39, claim.release_of_information.value, 1)
        s.put(line, 42, claim.benefits_assigned.value, 1)
        prior = None if billed else paid.get(cov.payer.payer_id)
        if prior is not None:
            s.money(line, 51, 52, prior, MONEY_DIGITS)
        sub = cov.subscriber
        insured = 47 + k
        s.put(insured, 1, person_name(sub.last_name, sub.first_name, sub.middle_name, sub.suffix), 26)
        s.put(insured, 27, cov.relationship.value, 2)
        s.put(insured, 30, plain(sub.member_id), 20)
        s.put(insured, 50, plain(sub.group_name), 15)
        s.put(insured, 65, plain(sub.group_number), 18)
        if billed:
            auth = 51 + k
            s.put(auth, 1, plain(claim.prior_authorization), 31)
            if claim.frequency in (ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID):
                s.put(auth, 32, plain(claim.original_claim_number), 26)

    # FL66, FL67 (principal, then 67A-Q), FL69 - FL72
    principal = _by_role(claim, DiagnosisRole.PRINCIPAL)
    others = _by_role(claim, DiagnosisRole.OTHER)
    if claim.diagnoses:
        s.put(55, 1, "0")
    for (line, col), dx in zip(_DX_CELLS, principal[:1] + others[:MAX_OTHER_DIAGNOSES], strict=False):
        s.put(line, col, dx.code.value, 7)
        s.put(line, col + 7, _poa(dx), 1)
    for dx in _by_role(claim, DiagnosisRole.ADMITTING)[:1]:
        s.put(56, 5, dx.code.value, 7)
    for k, dx in enumerate(_by_role(claim, DiagnosisRole.REASON_FOR_VISIT)[:MAX_REASONS]):
        s.put(56, 17 + 7 * k, dx.code.value, 7)
    s.put(56, 43, info.drg, 4)
    for k, dx in enumerate(_by_role(claim, DiagnosisRole.EXTERNAL_CAUSE)[:MAX_EXTERNAL_CAUSES]):
        s.put(56, 49 + 8 * k, dx.code.value, 7)
        s.put(56, 56 + 8 * k, _poa(dx), 1)

    # FL74
    procedures = ([info.principal_procedure] if info.principal_procedure else []) + list(info.other_procedures)
    cells = ((58, 1), (58, 16), (58, 31), (60, 1), (60, 16), (60, 31))
    for (line, col), proc in zip(cells, procedures, strict=False):
        s.put(line, col, proc.code.value, 7)
        s.put(line, col + 9, _mmddyy(proc.date), 6)

    # FL76 - FL79
    def provider_rows(top: int, provider: Provider, qualifier: str | None) -> None:
        if qualifier:
            s.put(top, 56, qualifier, 2)
        s.put(top, 59, digits(provider.npi), 11)
        last, first = _last_first(provider)
        s.put(top + 1, 53, last, 16)
        s.put(top + 1, 71, first, 12)

    if info.attending_provider is not None:
        provider_rows(57, info.attending_provider, None)
    if info.operating_provider is not None:
        provider_rows(59, info.operating_provider, None)
    for top, (qualifier, provider) in zip((61, 63), _other_providers(claim), strict=False):
        provider_rows(top, provider, qualifier)

    # FL80, FL81
    note = plain(claim.note)
    if note:
        first = wrap(note, 15, 1)[0]
        s.put(61, 11, first, 15)
        for k, text in enumerate(wrap(note[len(first) :], 25, 3)):
            s.put(62 + k, 1, text, 25)
    if billing.taxonomy:
        s.put(61, 27, "B3")
        s.put(61, 29, plain(billing.taxonomy), 10)

"""CMS-1500 (02/12) paper claims from professional claims.

Format: the 1500 Health Insurance Claim Form, version 02/12, approved by the National Uniform Claim
Committee (NUCC, nucc.org; OMB 0938-1197), filled as the NUCC "1500 Health Insurance Claim Form
Reference Instruction Manual for Form Version 02/12" asks: upper case, 10-pitch Courier, dates
MM DD YY in their boxes (birth dates MM DD YYYY, items 3 and 11a), no decimal point in diagnosis codes,
dollars and cents in their own sub-columns without "$" or a point, no punctuation in addresses, names
as "LAST, FIRST, M" in items 2, 4 and 9 (commas between the parts, no periods), and "FIRST M LAST"
in items 17, 32 and 33.

Print grid (see ``layout``): 10 columns per inch, 6 lines per inch, column 1 at 0.3 in from the left
edge (the NUCC print specification's X offset) and the item 1 data line at 1.33 in from the top
(its Y offset): line 9 here. Line and column numbers follow the 1500 print layouts used by practice
systems (VistA's IB form 2, OpenEMR's Hcfa1500, one line lower) so that ``form=False`` output lands in
the boxes of a pre-printed red form.

What is filled, by item: carrier block (payer name and address); 1 (program from the claim filing
indicator, SBR09); 1a; 2; 3; 4; 5; 6; 7; 9, 9a, 9d (first other payer of the COB loops); 10a-10c and
the 10b state (related causes); 11 (group number), 11a, 11c (plan name, else payer name), 11d; 12 and 13
("SIGNATURE ON FILE" from the release of information and benefits assignment codes); 14 (onset, qualifier
431); 15 (accident date, qualifier 439); 17 and 17b (referring DN, else supervising DQ, else the first
line's ordering provider DK); 19 (claim note); 21 (ICD indicator 0, diagnoses A-L); 22 (frequency 7 or 8
and the payer's original claim number); 23 (prior authorization, else referral number); 24A-24J for six
lines a page, with the shaded supplemental line (N4 + NDC + unit + quantity, ZZ + the description of an
unlisted code) and the rendering NPI in 24J; 25 (tax id, SSN or EIN box); 26 (the claim id); 27; 28
and 29 (the other payers' paid amounts) on the last page only; 31 ("SIGNATURE ON FILE"); 32 and 32a
(service facility); 33, 33a, 33b (billing provider, phone, NPI, ZZ + taxonomy). Claims of more than six
lines continue on further pages, each page a complete form ("PAGE n OF m" above the form).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence

from medbill.core.claim import (
    AssignmentCode,
    BenefitsAssignment,
    Claim,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimKind,
    EntityType,
    Provider,
    RelatedCause,
    Relationship,
    ReleaseOfInformation,
    ServiceLine,
    Sex,
    TaxIdType,
)
from medbill.core.money import sum_money
from medbill.paper.layout import (
    INCH,
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
)

GRID = Grid(x0=0.3)
LINES_PER_PAGE = 6
MAX_DIAGNOSES = 12

# Form rules (column boundaries): the outer frame and the split between the patient's and the insured's side
LEFT = 0.5
RIGHT = 79.5
MID = 49.5
SPLIT = 30.5  # items 3, 6, 8, 10 begin here

# Item 1 check boxes, from the claim filing indicator (SBR09)
MEDICARE, MEDICAID, TRICARE, CHAMPVA, GROUP, FECA, OTHER = 1, 8, 15, 24, 31, 39, 45
_PROGRAM: dict[ClaimFilingIndicator, int] = {
    ClaimFilingIndicator.MEDICARE_PART_A: MEDICARE,
    ClaimFilingIndicator.MEDICARE_PART_B: MEDICARE,
    ClaimFilingIndicator.MEDICAID: MEDICAID,
    ClaimFilingIndicator.CHAMPUS: TRICARE,
    ClaimFilingIndicator.VETERANS_AFFAIRS: CHAMPVA,
    ClaimFilingIndicator.PPO: GROUP,
    ClaimFilingIndicator.POS: GROUP,
    ClaimFilingIndicator.EPO: GROUP,
    ClaimFilingIndicator.INDEMNITY: GROUP,
    ClaimFilingIndicator.BLUE_CROSS_BLUE_SHIELD: GROUP,
    ClaimFilingIndicator.COMMERCIAL: GROUP,
    ClaimFilingIndicator.FEDERAL_EMPLOYEES: GROUP,
    ClaimFilingIndicator.OTHER_FEDERAL: FECA,
}
"""Everything else (HMO, Medicare risk HMO, auto, liability, workers' compensation, ...) is OTHER, as the
NUCC defines it ("health insurance including HMOs, commercial insurance, automobile accident, liability,
or workers' compensation")."""

_RELATIONSHIP_COL = {Relationship.SELF: 33, Relationship.SPOUSE: 38, Relationship.CHILD: 42}
_RELATIONSHIP_OTHER = 47

# Item 24: column of each part of a service line (main line = shaded line + 1)
FIRST_SERVICE_LINE = 44  # the first shaded line; the six lines are 44/45, 46/47, ... 54/55
_POINTER_LETTERS = "ABCDEFGHIJKL"


def service_lines(page_line: int) -> tuple[int, int]:
    """(shaded line, main line) of service line 1..6 on the page."""
    shaded = FIRST_SERVICE_LINE + 2 * (page_line - 1)
    return shaded, shaded + 1


def cms1500_pages(claim: Claim) -> int:
    """How many forms the claim takes: six service lines a form."""
    return max(1, math.ceil(len(claim.lines) / LINES_PER_PAGE))


def render_cms1500(claims: Iterable[Claim], *, form: bool = True) -> bytes:
    """A PDF of CMS-1500 (02/12) forms, one or more pages per professional claim, in order.

    ``form=True`` draws a facsimile of the red form with the data; ``form=False`` prints the data alone,
    for pre-printed forms. Raises ``PaperFormError`` (naming the claim id) for an institutional claim,
    more than 12 diagnoses, or an amount or code too long for its box, before anything is drawn.
    """
    return render_pdf(
        claims,
        title="CMS-1500 (02/12) claims",
        form_name="cms1500",
        grid=GRID,
        form=form,
        check=_check,
        pages_of=cms1500_pages,
        draw_form=_draw_form,
        fill=_fill,
    )


# ---------------------------------------------------------------------------------------------------
# Checks


def _check(claim: Claim) -> None:
    if claim.kind is not ClaimKind.PROFESSIONAL:
        raise PaperFormError(
            f"is an {claim.kind.value} claim; the CMS-1500 carries professional claims",
            claim_id=claim.id,
            hint="print institutional claims on the UB-04 (render_ub04, `medbill paper ub04`)",
        )
    if len(claim.diagnoses) > MAX_DIAGNOSES:
        raise PaperFormError(
            f"has {len(claim.diagnoses)} diagnoses; item 21 of the CMS-1500 holds 12 (A-L)", claim_id=claim.id
        )
    for line in claim.lines:
        where = f"line {line.line_number}"
        if len(split_money(line.charge)[0]) > 5:
            raise PaperFormError(f"{where}: charge {line.charge} does not fit item 24F", claim_id=claim.id)
        if len(quantity(line.units)) > 4:
            raise PaperFormError(f"{where}: {line.units} units do not fit item 24G", claim_id=claim.id)
        if any(not 1 <= p <= MAX_DIAGNOSES for p in line.diagnosis_pointers):
            raise PaperFormError(f"{where}: a diagnosis pointer is outside A-L", claim_id=claim.id)
    if len(split_money(claim.total_charge)[0]) > 6:
        raise PaperFormError(f"total charge {claim.total_charge} does not fit item 28", claim_id=claim.id)


# ---------------------------------------------------------------------------------------------------
# The form (02/12): rules, item numbers and captions


def _draw_form(s: Sheet) -> None:
    g = s.grid
    # Title block and carrier area
    s.text_at(g.x(1), g.y(3) - 2, "1500", size=20, bold=True)
    s.text_at(g.x(1), g.y(6) + 2, "HEALTH INSURANCE CLAIM FORM", size=13, bold=True)
    s.text_at(g.x(1), g.y(7) + 4, "APPROVED BY NATIONAL UNIFORM CLAIM COMMITTEE (NUCC) 02/12", size=5.5)
    s.box(7, 1)
    s.caption(7, 2, "PICA", size=6, down=3)
    s.caption(7, 74, "PICA", size=6, down=3)
    s.box(7, 78)

    # Frame
    s.hline(8, LEFT, RIGHT, width=0.9)
    s.hline(63, LEFT, RIGHT, width=0.9)
    s.vline(LEFT, 8, 63, width=0.9)
    s.vline(RIGHT, 8, 63, width=0.9)

    # Item 1 / 1a
    s.vline(MID, 8, 32)
    programs = (
        (MEDICARE, "1. MEDICARE", "(Medicare#)"),
        (MEDICAID, "MEDICAID", "(Medicaid#)"),
        (TRICARE, "TRICARE", "(ID#/DoD#)"),
        (CHAMPVA, "CHAMPVA", "(Member ID#)"),
        (GROUP, "GROUP HEALTH PLAN", "(ID#)"),
        (FECA, "FECA BLK LUNG", "(ID#)"),
        (OTHER, "OTHER", "(ID#)"),
    )
    for col, name, sub in programs:
        s.caption(8, col, name, bold=col == MEDICARE)
        s.box(9, col)
        s.caption(9, col + 1, sub, size=4.5, down=3.5)
    s.caption(8, 50, "1a. INSURED'S I.D. NUMBER")
    s.caption(8, 79.3, "(For Program in Item 1)", align="right")

    # Rows of two lines: caption line, data line
    for top in (10, 12, 14, 16, 18, 20, 22, 24, 26, 28):
        s.hline(top, LEFT, RIGHT)
    s.vline(SPLIT, 10, 28)

    s.caption(10, 1, "2. PATIENT'S NAME (Last Name, First Name, Middle Initial)")
    s.caption(10, 31, "3. PATIENT'S BIRTH DATE")
    s.caption(10, 31, "MM      DD       YY", size=4.5, down=5.5)
    s.caption(10, 43, "SEX")
    _date_ticks(s, 11, 31)
    s.caption(11, 41, "M", down=3)
    s.box(11, 42)
    s.caption(11, 46, "F", down=3)
    s.box(11, 47)
    s.caption(10, 50, "4. INSURED'S NAME (Last Name, First Name, Middle Initial)")

    s.caption(12, 1, "5. PATIENT'S ADDRESS (No., Street)")
    s.caption(12, 31, "6. PATIENT RELATIONSHIP TO INSURED")
    for label, col in (("Self", 33), ("Spouse", 38), ("Child", 42), ("Other", 47)):
        s.caption(13, col, label, down=3, align="right")
        s.box(13, col)
    s.caption(12, 50, "7. INSURED'S ADDRESS (No., Street)")

    s.caption(14, 1, "CITY")
    s.caption(14, 26, "STATE")
    s.vline(25.5, 14, 16)
    s.caption(14, 31, "8. RESERVED FOR NUCC USE")
    s.caption(14, 50, "CITY")
    s.caption(14, 74, "STATE")
    s.vline(73.5, 14, 16)

    s.hline(16, LEFT, SPLIT)
    s.hline(16, MID, RIGHT)
    s.caption(16, 1, "ZIP CODE")
    s.caption(16, 14, "TELEPHONE (Include Area Code)")
    s.vline(13.5, 16, 18)
    _phone_parens(s, 17, 14)
    s.caption(16, 50, "ZIP CODE")
    s.caption(16, 64, "TELEPHONE (Include Area Code)")
    s.vline(63.5, 16, 18)
    _phone_parens(s, 17, 64)

    s.caption(18, 1, "9. OTHER INSURED'S NAME (Last Name, First Name, Middle Initial)")
    s.caption(18, 31, "10. IS PATIENT'S CONDITION RELATED TO:")
    s.caption(18, 50, "11. INSURED'S POLICY GROUP OR FECA NUMBER")

    s.caption(20, 1, "a. OTHER INSURED'S POLICY OR GROUP NUMBER")
    s.caption(20, 31, "a. EMPLOYMENT? (Current or Previous)")
    _yes_no(s, 21)
    s.caption(20, 50, "a. INSURED'S DATE OF BIRTH")
    s.caption(20, 53, "MM      DD       YY", size=4.5, down=5.5)
    s.caption(20, 71, "SEX")
    _date_ticks(s, 21, 53)
    s.caption(21, 67, "M", down=3)
    s.box(21, 68)
    s.caption(21, 74, "F", down=3)
    s.box(21, 75)

    s.caption(22, 1, "b. RESERVED FOR NUCC USE")
    s.caption(22, 31, "b. AUTO ACCIDENT?")
    s.caption(22, 44, "PLACE (State)")
    _yes_no(s, 23)
    s.hline(24, 44.6, 47.4, width=0.4)
    s.caption(22, 50, "b. OTHER CLAIM ID (Designated by NUCC)")
    s.shade(49.5, 23, 52.5, 24)
    s.vline(52.5, 23, 24, dash=(1, 1))

    s.caption(24, 1, "c. RESERVED FOR NUCC USE")
    s.caption(24, 31, "c. OTHER ACCIDENT?")
    _yes_no(s, 25)
    s.caption(24, 50, "c. INSURANCE PLAN NAME OR PROGRAM NAME")

    s.caption(26, 1, "d. INSURANCE PLAN NAME OR PROGRAM NAME")
    s.caption(26, 31, "10d. CLAIM CODES (Designated by NUCC)")
    s.caption(26, 50, "d. IS THERE ANOTHER HEALTH BENEFIT PLAN?")
    s.box(27, 52)
    s.caption(27, 53, "YES", down=3)
    s.box(27, 57)
    s.caption(27, 58, "NO", down=3)
    s.caption(27, 61, "If yes, complete items 9, 9a, and 9d.", size=4.5, down=3.5)

    # 12 / 13
    s.caption(28, 5, "READ BACK OF FORM BEFORE COMPLETING & SIGNING THIS FORM.", size=6, bold=True)
    s.caption(
        29,
        1,
        "12. PATIENT'S OR AUTHORIZED PERSON'S SIGNATURE  I authorize the release of any medical or other "
        "information necessary",
        size=4.6,
    )
    s.caption(
        29,
        1,
        "to process this claim. I also request payment of government benefits either to myself or to the party "
        "who accepts assignment",
        size=4.6,
        down=5.5,
    )
    s.caption(30, 1, "below.", size=4.6, down=0.5)
    _signed(s, 31, 1, 29.5, date_col=31)
    s.caption(28, 50, "13. INSURED'S OR AUTHORIZED PERSON'S SIGNATURE I authorize", size=4.6)
    s.caption(28, 50, "payment of medical benefits to the undersigned physician or supplier for", size=4.6, down=5.5)
    s.caption(29, 50, "services described below.", size=4.6, down=5.0)
    _signed(s, 31, 50, 79.0)

    # 14 / 15 / 16
    s.hline(32, LEFT, RIGHT)
    s.vline(SPLIT, 32, 34)
    s.vline(MID, 32, 63)
    s.caption(32, 1, "14. DATE OF CURRENT ILLNESS, INJURY, or PREGNANCY (LMP)")
    s.caption(32, 2, "MM      DD       YY", size=4.5, down=5.5)
    _date_ticks(s, 33, 2)
    s.caption(33, 12, "QUAL.", size=4.5, down=3.5)
    s.vline(15.5, 33, 34, dash=(1, 1))
    s.caption(32, 31, "15. OTHER DATE")
    s.caption(32, 31, "QUAL.", size=4.5, down=5.5)
    s.vline(34.5, 33, 34, dash=(1, 1))
    s.caption(32, 37, "MM      DD       YY", size=4.5, down=5.5)
    _date_ticks(s, 33, 37)
    s.caption(32, 50, "16. DATES PATIENT UNABLE TO WORK IN CURRENT OCCUPATION")
    _from_to(s, 32, 33)

    # 17 / 17a / 17b / 18
    s.hline(34, LEFT, RIGHT)
    s.caption(34, 1, "17. NAME OF REFERRING PROVIDER OR OTHER SOURCE")
    s.vline(3.5, 35, 36, dash=(1, 1))
    s.vline(28.5, 34, 36)
    s.shade(28.5, 34, MID, 35)
    s.hline(35, 28.5, MID, width=0.4)
    s.caption(34, 28.6, "17a.", size=4.5, down=2.5)
    s.vline(32.5, 34, 35, dash=(1, 1))
    s.caption(35, 28.6, "17b.", size=4.5, down=2.5)
    s.caption(35, 30.5, "NPI", size=4.5, down=2.5)
    s.vline(32.5, 35, 36)
    s.caption(34, 50, "18. HOSPITALIZATION DATES RELATED TO CURRENT SERVICES")
    _from_to(s, 34, 35)

    # 19 / 20
    s.hline(36, LEFT, RIGHT)
    s.caption(36, 1, "19. ADDITIONAL CLAIM INFORMATION (Designated by NUCC)")
    s.caption(36, 50, "20. OUTSIDE LAB?")
    s.caption(36, 64, "$ CHARGES")
    s.box(37, 52)
    s.caption(37, 53, "YES", down=3)
    s.box(37, 57)
    s.caption(37, 58, "NO", down=3)
    s.vline(60.5, 36, 38)
    s.vline(67.5, 37, 38, dash=(1, 1))
    s.vline(70.5, 37, 38, dash=(1, 1))

    # 21 / 22 / 23
    s.hline(38, LEFT, RIGHT)
    s.caption(38, 1, "21. DIAGNOSIS OR NATURE OF ILLNESS OR INJURY  Relate A-L to service line below (24E)")
    s.caption(38, 41.5, "ICD Ind.", size=4.5, down=0.3, align="right")
    s.vline(41.5, 38, 39, dash=(1, 1))
    s.vline(42.5, 38, 39, dash=(1, 1))
    for i, letter in enumerate(_POINTER_LETTERS):
        line, col = _diagnosis_cell(i)
        s.caption(line, col - 2, f"{letter}.", size=5.5, down=4)
        s.hline(line + 1, col - 0.2, col + 9.2, width=0.4)
    s.caption(38, 50, "22. RESUBMISSION")
    s.caption(38, 50, "CODE", down=5.5)
    s.caption(38, 62, "ORIGINAL REF. NO.", down=5.5)
    s.vline(61.5, 39, 40)
    s.hline(40, MID, RIGHT)
    s.caption(40, 50, "23. PRIOR AUTHORIZATION NUMBER")

    # 24 header
    s.hline(42, LEFT, RIGHT)
    header = (
        (1, "24.  A.        DATE(S) OF SERVICE"),
        (19, "B."),
        (22, "C."),
        (25, "D. PROCEDURES, SERVICES, OR SUPPLIES"),
        (45, "E."),
        (50, "F."),
        (59, "G."),
        (63, "H."),
        (65, "I."),
        (68, "J."),
    )
    for col, text in header:
        s.caption(42, col, text)
    s.caption(42, 18.6, "PLACE OF", size=4.2, down=5.5)
    s.caption(42, 28, "(Explain Unusual Circumstances)", size=4.5, down=5.5)
    s.caption(42, 44.6, "DIAGNOSIS", size=4.2, down=5.5)
    s.caption(42, 58.6, "DAYS", size=4.2, down=5.5)
    s.caption(42, 62.6, "EPSDT", size=4.2, down=5.5)
    s.caption(42, 64.6, "ID.", size=4.2, down=5.5)
    s.caption(42, 68, "RENDERING", size=4.5, down=5.5)
    s.caption(43, 2, "From", down=0.5)
    s.caption(43, 12, "To", down=0.5)
    s.caption(43, 1, "MM   DD   YY   MM   DD   YY", size=4.5, down=6)
    s.caption(43, 18.6, "SERVICE", size=4.2, down=5.5)
    s.caption(43, 21.6, "EMG", size=4.2, down=5.5)
    s.caption(43, 25, "CPT/HCPCS", size=4.5, down=5.5)
    s.caption(43, 34, "MODIFIER", size=4.5, down=5.5)
    s.caption(43, 44.6, "POINTER", size=4.2, down=5.5)
    s.caption(43, 50, "$ CHARGES", size=4.5, down=5.5)
    s.caption(43, 58.6, "OR UNITS", size=4.2, down=2.5)
    s.caption(43, 62.6, "Family", size=4.0, down=0.5)
    s.caption(43, 62.6, "Plan", size=4.0, down=5.5)
    s.caption(43, 64.6, "QUAL.", size=4.2, down=5.5)
    s.caption(43, 68, "PROVIDER ID. #", size=4.5, down=5.5)
    s.vlines((9.5, 18.5, 21.5, 24.5, 44.5, MID, 58.5, 62.5, 64.5, 67.5), 42, 44)
    s.vline(32.5, 43, 44)

    # 24 service lines: shaded supplemental line over each main line
    for n in range(1, LINES_PER_PAGE + 1):
        shaded, main = service_lines(n)
        s.shade(LEFT, shaded, RIGHT, main)
        s.hline(shaded, LEFT, RIGHT)
        s.hline(main, 62.5, RIGHT, width=0.3)
        s.vlines((9.5, 18.5, 21.5, 24.5, 32.5, 44.5, MID, 58.5), main, main + 1)
        s.vlines((35.5, 38.5, 41.5, 55.5), main, main + 1, dash=(1, 1))
        s.vlines((62.5, 64.5, 67.5), shaded, main + 1)
        for tick in (3.5, 6.5, 12.5, 15.5):
            s.tick(tick, main)
        s.caption(main, 65, "NPI", size=5.5, down=3)
        s.text_at(g.x(0.5) - 2, g.y(main) - 3, str(n), size=7, bold=True, align="right")

    # 25 - 30
    s.hline(56, LEFT, RIGHT, width=0.9)
    s.caption(56, 1, "25. FEDERAL TAX I.D. NUMBER")
    s.caption(56, 16.4, "SSN  EIN", size=4.6)
    s.box(57, 17)
    s.box(57, 19)
    s.vline(21.5, 56, 58)
    s.caption(56, 23, "26. PATIENT'S ACCOUNT NO.")
    s.vline(37.5, 56, 58)
    s.caption(56, 38, "27. ACCEPT ASSIGNMENT?")
    s.caption(56, 38, "(For govt. claims, see back)", size=4.0, down=5.0)
    s.box(57, 38)
    s.caption(57, 39, "YES", down=3)
    s.box(57, 43)
    s.caption(57, 44, "NO", down=3)
    s.caption(56, 50, "28. TOTAL CHARGE")
    s.caption(57, 50, "$", size=6, down=2.5)
    s.vline(57.5, 57, 58, dash=(1, 1))
    s.vline(60.5, 56, 58)
    s.caption(56, 61, "29. AMOUNT PAID")
    s.caption(57, 61, "$", size=6, down=2.5)
    s.vline(67.5, 57, 58, dash=(1, 1))
    s.vline(70.5, 56, 58)
    s.caption(56, 71, "30. Rsvd for NUCC Use")

    # 31 / 32 / 33
    s.hline(58, LEFT, RIGHT)
    s.vline(21.5, 58, 63)
    for i, text in enumerate(
        (
            "31. SIGNATURE OF PHYSICIAN OR SUPPLIER",
            "INCLUDING DEGREES OR CREDENTIALS",
            "(I certify that the statements on the reverse",
            "apply to this bill and are made a part thereof.)",
        )
    ):
        s.caption(58, 1, text, size=4.5, down=i * 5.0)
    s.caption(62, 1, "SIGNED", size=4.8, down=4)
    s.caption(62, 12, "DATE", size=4.8, down=4)
    s.caption(58, 23, "32. SERVICE FACILITY LOCATION INFORMATION")
    s.caption(58, 50, "33. BILLING PROVIDER INFO & PH #")
    _phone_parens(s, 58, 65)
    s.hline(62, 21.5, RIGHT)
    s.caption(62, 23, "a.", size=5, down=4)
    s.vline(34.0, 62, 63)
    s.caption(62, 34, "b.", size=5, down=4)
    s.shade(34.0, 62, MID, 63)
    s.caption(62, 50, "a.", size=5, down=4)
    s.vline(61.0, 62, 63)
    s.caption(62, 61, "b.", size=5, down=4)
    s.shade(61.0, 62, RIGHT, 63)

    # Footer and side labels
    s.text_at(g.x(1), g.y(64) + 2, "NUCC Instruction Manual available at: www.nucc.org", size=6, bold=True)
    s.text_at(g.x(40), g.y(64) + 2, "PLEASE PRINT OR TYPE", size=7, bold=True, align="center")
    s.text_at(g.x(RIGHT), g.y(64) + 2, "APPROVED OMB-0938-1197 FORM 1500 (02-12)", size=6, bold=True, align="right")
    side = g.x(RIGHT) + 0.11 * INCH
    s.vertical_text(side, g.y(2), g.y(8) + 2, "CARRIER")
    s.vertical_text(side, g.y(8) - 2, g.y(32) + 2, "PATIENT AND INSURED INFORMATION")
    s.vertical_text(side, g.y(32) - 2, g.y(63), "PHYSICIAN OR SUPPLIER INFORMATION")


def _yes_no(s: Sheet, line: int) -> None:
    s.box(line, 35)
    s.caption(line, 36, "YES", down=3)
    s.box(line, 41)
    s.caption(line, 42, "NO", down=3)


def _date_ticks(s: Sheet, line: int, col: int) -> None:
    """Ticks between MM | DD | YY of a date printed from ``col``."""
    for offset in (2.5, 5.5):
        s.tick(col + offset, line)


def _from_to(s: Sheet, caption_line: int, data_line: int) -> None:
    s.caption(data_line, 50, "FROM", size=4.6, down=3.5)
    s.caption(caption_line, 54, "MM      DD       YY", size=4.5, down=5.5)
    _date_ticks(s, data_line, 54)
    s.caption(data_line, 65.6, "TO", size=4.6, down=3.5)
    s.caption(caption_line, 68, "MM      DD       YY", size=4.5, down=5.5)
    _date_ticks(s, data_line, 68)


def _phone_parens(s: Sheet, line: int, col: int) -> None:
    """The printed "(   )" of a telephone number whose area code goes in ``col + 1``."""
    if not s.form:
        return
    s.text_at(s.grid.x(col) + 1.5, s.grid.baseline(line), "(", size=9)
    s.text_at(s.grid.x(col + 4) + 1.5, s.grid.baseline(line), ")", size=9)


def _signed(s: Sheet, line: int, col: int, end: float, *, date_col: int | None = None) -> None:
    s.caption(line, col, "SIGNED", size=5.5, bold=True, down=4)
    rule_end: float = (date_col - 0.5) if date_col else end
    s.hline(line + 1, col + 4.5, rule_end - 0.3, width=0.4)
    if date_col:
        s.caption(line, date_col, "DATE", size=5.5, bold=True, down=4)
        s.hline(line + 1, date_col + 3.5, end - 0.3, width=0.4)


# ---------------------------------------------------------------------------------------------------
# The data


def _diagnosis_cell(index: int) -> tuple[int, int]:
    """(line, column) of diagnosis A..L (index 0..11): A-D on line 39, E-H on 40, I-L on 41."""
    return 39 + index // 4, 3 + 13 * (index % 4)


def _date(s: Sheet, line: int, col: int, value: object, *, year4: bool = False) -> None:
    """MM DD YY (or MM DD YYYY) in the three boxes of a date printed from ``col``."""
    if not isinstance(value, dt.date):
        return
    s.put(line, col, f"{value.month:02d}")
    s.put(line, col + 3, f"{value.day:02d}")
    s.put(line, col + 6, f"{value.year:04d}" if year4 else f"{value.year % 100:02d}")


def _natural_name(provider: Provider) -> str:
    """A provider's name in natural order, "CHARLIE TESTDOCTOR" (items 17, 31, 32, 33)."""
    if provider.entity_type is EntityType.PERSON and provider.last_name:
        middle = name_part(provider.middle_name)[:1]
        parts = (name_part(provider.first_name), middle, name_part(provider.last_name), name_part(provider.suffix))
        return " ".join(p for p in parts if p)
    return plain(provider.organization_name or provider.last_name)


def _address_lines(s: Sheet, top: int, col: int, width: int, name: str, provider: Provider) -> None:
    s.put(top, col, name, width)
    address = provider.address
    if address is None:
        return
    street = " ".join(p for p in (plain(address.line1), plain(address.line2)) if p)
    s.put(top + 1, col, street, width)
    s.put(top + 2, col, f"{plain(address.city)} {plain(address.state)} {digits(address.zip)}", width)


def _supplemental(line: ServiceLine) -> str:
    """The shaded line of item 24: N4 + NDC + space + unit + quantity, ZZ + description, 3 spaces apart."""
    items = []
    if line.drug is not None:
        items.append(f"N4{digits(line.drug.ndc)} {line.drug.unit.value}{quantity(line.drug.quantity)}")
    if line.description:
        items.append("ZZ" + plain(line.description))
    return "   ".join(items)


def _fill(s: Sheet, claim: Claim, page: int, pages: int) -> None:
    coverage = claim.coverage
    payer = coverage.payer
    subscriber = coverage.subscriber
    patient = claim.patient or subscriber
    last_page = page == pages - 1

    if pages > 1:
        s.put(1, 68, f"PAGE {page + 1} OF {pages}")

    # Carrier block: the payer this claim goes to
    s.put(3, 41, plain(payer.name), 38)
    if payer.address is not None:
        a = payer.address
        s.put(4, 41, " ".join(p for p in (plain(a.line1), plain(a.line2)) if p), 38)
        s.put(5, 41, f"{plain(a.city)} {plain(a.state)} {digits(a.zip)}", 38)

    # 1, 1a
    indicator = payer.filing_indicator
    s.check(9, _PROGRAM.get(indicator, OTHER) if indicator is not None else OTHER)
    s.put(9, 50, plain(subscriber.member_id), 29)

    # 2, 3, 4
    s.put(11, 1, person_name(patient.last_name, patient.first_name, patient.middle_name, patient.suffix), 28)
    _date(s, 11, 31, patient.date_of_birth, year4=True)
    if patient.sex is Sex.MALE:
        s.check(11, 42)
    elif patient.sex is Sex.FEMALE:
        s.check(11, 47)
    s.put(
        11,
        50,
        person_name(subscriber.last_name, subscriber.first_name, subscriber.middle_name, subscriber.suffix),
        29,
    )

    # 5, 6, 7
    if patient.address is not None:
        a = patient.address
        s.put(13, 1, " ".join(p for p in (plain(a.line1), plain(a.line2)) if p), 28)
        s.put(15, 1, plain(a.city), 24)
        s.put(15, 26, plain(a.state), 2)
        s.put(17, 1, digits(a.zip), 12)
    s.check(13, _RELATIONSHIP_COL.get(coverage.relationship, _RELATIONSHIP_OTHER))
    if subscriber.address is not None:
        a = subscriber.address
        s.put(13, 50, " ".join(p for p in (plain(a.line1), plain(a.line2)) if p), 29)
        s.put(15, 50, plain(a.city), 23)
        s.put(15, 74, plain(a.state), 2)
        s.put(17, 50, digits(a.zip), 12)

    # 9, 9a, 9d: the other insured (first other payer), 11d
    if claim.other_payers:
        other = claim.other_payers[0].coverage
        o = other.subscriber
        s.put(19, 1, person_name(o.last_name, o.first_name, o.middle_name, o.suffix), 28)
        s.put(21, 1, plain(o.group_number or o.member_id), 28)
        s.put(27, 1, plain(o.group_name or other.payer.name), 28)
        s.check(27, 52)
    else:
        s.check(27, 57)

    # 10a-10c
    causes = set(claim.related_causes)
    for line, cause in (
        (21, RelatedCause.EMPLOYMENT),
        (23, RelatedCause.AUTO_ACCIDENT),
        (25, RelatedCause.OTHER_ACCIDENT),
    ):
        s.check(line, 35 if cause in causes else 41)
    if RelatedCause.AUTO_ACCIDENT in causes:
        s.put(23, 45, plain(claim.accident_state), 2)

    # 11, 11a, 11c
    s.put(19, 50, plain(subscriber.group_number), 29)
    _date(s, 21, 53, subscriber.date_of_birth, year4=True)
    if subscriber.sex is Sex.MALE:
        s.check(21, 68)
    elif subscriber.sex is Sex.FEMALE:
        s.check(21, 75)
    s.put(25, 50, plain(subscriber.group_name or payer.name), 29)

    # 12, 13
    if claim.release_of_information is ReleaseOfInformation.YES:
        s.put(31, 6, "SIGNATURE ON FILE", 24)
    if claim.benefits_assigned is BenefitsAssignment.YES:
        s.put(31, 56, "SIGNATURE ON FILE", 23)

    # 14, 15
    if claim.onset_date is not None:
        _date(s, 33, 2, claim.onset_date)
        s.put(33, 16, "431")
    if claim.accident_date is not None:
        s.put(33, 31, "439")
        _date(s, 33, 37, claim.accident_date)

    # 17, 17b
    source = _referring(claim)
    if source is not None:
        qualifier, provider = source
        s.put(35, 1, qualifier)
        s.put(35, 4, _natural_name(provider), 24)
        s.put(35, 33, digits(provider.npi), 10)

    # 19
    s.put(37, 1, plain(claim.note), 48)

    # 21: ICD indicator and diagnoses A-L (no decimal point)
    if claim.diagnoses:
        s.put(38, 42, "0")
    for i, dx in enumerate(claim.diagnoses[:MAX_DIAGNOSES]):
        line, col = _diagnosis_cell(i)
        s.put(line, col, dx.code.value, 8)

    # 22, 23
    if claim.frequency in (ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID):
        s.put(39, 50, claim.frequency.value)
        s.put(39, 62, plain(claim.original_claim_number), 17)
    s.put(41, 50, plain(claim.prior_authorization or claim.referral_number), 29)

    # 24: this page's lines
    chunk = claim.lines[page * LINES_PER_PAGE : (page + 1) * LINES_PER_PAGE]
    for n, svc in enumerate(chunk, start=1):
        _service_line(s, claim, n, svc)

    # 25, 26, 27
    billing = claim.billing_provider
    s.put(57, 1, digits(billing.tax_id), 15)
    if billing.tax_id:
        s.check(57, 17 if billing.tax_id_type is TaxIdType.SSN else 19)
    s.put(57, 23, plain(claim.id), 14)
    s.check(57, 43 if claim.assignment is AssignmentCode.NOT_ASSIGNED else 38)

    # 28, 29: on the last page only
    if last_page:
        s.money(57, 56, 58, claim.total_charge, 6)
        paid = [o.paid_amount for o in claim.other_payers if o.paid_amount is not None]
        if paid:
            s.money(57, 66, 68, sum_money(paid), 5)

    # 31
    if claim.provider_signature_on_file:
        s.put(61, 1, "SIGNATURE ON FILE", 20)

    # 32, 32a
    facility = claim.service_facility
    if facility is not None:
        _address_lines(s, 59, 23, 26, _natural_name(facility), facility)
        s.put(62, 24, digits(facility.npi), 10)

    # 33, 33a, 33b
    phone = digits(billing.contact.phone if billing.contact else None)
    if len(phone) >= 10:
        s.put(58, 66, phone[:3])
        s.put(58, 70, phone[3:10])
    _address_lines(s, 59, 50, 29, _natural_name(billing), billing)
    s.put(62, 51, digits(billing.npi), 10)
    if billing.taxonomy:
        s.put(62, 62, "ZZ" + plain(billing.taxonomy), 17)


def _referring(claim: Claim) -> tuple[str, Provider] | None:
    """Item 17's qualifier and provider: referring (DN), else supervising (DQ), else ordering (DK)."""
    if claim.referring_provider is not None:
        return "DN", claim.referring_provider
    if claim.supervising_provider is not None:
        return "DQ", claim.supervising_provider
    for line in claim.lines:
        if line.ordering_provider is not None:
            return "DK", line.ordering_provider
    return None


def _service_line(s: Sheet, claim: Claim, n: int, svc: ServiceLine) -> None:
    shaded, main = service_lines(n)
    s.put(shaded, 1, _supplemental(svc), 61)
    start = svc.service_date
    if start is not None:
        _date(s, main, 1, start)
        _date(s, main, 10, svc.service_date_to or start)
    pos = svc.place_of_service or claim.place_of_service
    if pos is not None:
        s.put(main, 19, pos.value.zfill(2), 2)
    if svc.procedure is not None:
        s.put(main, 25, svc.procedure.value, 6)
    for k, modifier in enumerate(svc.modifiers[:4]):
        s.put(main, 33 + 3 * k, modifier.value, 2)
    pointers = "".join(_POINTER_LETTERS[p - 1] for p in svc.diagnosis_pointers if 1 <= p <= MAX_DIAGNOSES)
    s.put(main, 45, pointers, 4)
    s.money(main, 54, 56, svc.charge, 5)
    s.put(main, 59, quantity(svc.units), 4)
    rendering = svc.rendering_provider or claim.rendering_provider
    if rendering is not None:
        s.put(main, 68, digits(rendering.npi), 10)


def page_lines(claim: Claim, page: int) -> Sequence[ServiceLine]:
    """The service lines printed on ``page`` (0-based) of the claim's forms."""
    return claim.lines[page * LINES_PER_PAGE : (page + 1) * LINES_PER_PAGE]

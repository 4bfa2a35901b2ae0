"""Shared drawing for the paper claim forms: the print grid, data text, and the form's outlines.

Both paper forms are laid out on a character grid, the way forms printers and practice systems
describe them: 10 characters per inch across and 6 lines per inch down a US-letter sheet (8.5 x 11 in).
``Grid`` turns a (line, column) pair into page coordinates: line ``l`` (1-based) spans
``[(l - 1) / 6, l / 6]`` inches below the top edge, column ``c`` (1-based) starts ``x0 + (c - 1) / 10``
inches from the left edge. Fractional columns name positions between characters (``30.5`` is the
middle of column 30), which is where the form's rules are drawn.

Data is printed in Courier 10 pt, upper case, one character per grid cell (Courier's 6 pt advance plus
1.2 pt character spacing = 7.2 pt = 1/10 inch). The form itself (rules, item numbers, captions,
check boxes, shading) is drawn only for a facsimile (``form=True``); without it the page carries the
data alone, positioned for a pre-printed red OCR form.

This module imports reportlab (the PDF library declared by medbill); the forms build on it.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reportlab.lib.colors import Color  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import letter  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from medbill.core.errors import MedbillError
from medbill.core.money import CENT

INCH = 72.0
PAGE_WIDTH, PAGE_HEIGHT = (float(v) for v in letter)
LINE = INCH / 6  # 12 pt
PITCH = INCH / 10  # 7.2 pt

DATA_FONT = "Courier"
DATA_SIZE = 10.0
_COURIER_ADVANCE = 0.6 * DATA_SIZE  # every Courier glyph is 600/1000 em wide
DATA_CHAR_SPACE = PITCH - _COURIER_ADVANCE
DATA_INSET = (PITCH - _COURIER_ADVANCE) / 2  # centre each glyph in its cell
DATA_BASELINE = 2.6  # points above the bottom of the line

CAPTION_FONT = "Helvetica"
CAPTION_BOLD = "Helvetica-Bold"
CAPTION_SIZE = 5.0

FORM_RED = Color(0.86, 0.13, 0.16)  # OCR drop-out red (the forms are printed in Flint J-6983 or a match)
FORM_TINT = Color(0.99, 0.86, 0.86)  # the shaded areas, a light tint of the same red
DATA_INK = Color(0, 0, 0)


class PaperFormError(MedbillError):
    """A claim that cannot be put on the paper form asked for (wrong kind, or more data than it holds)."""

    code = "paper_form_error"

    def __init__(self, message: str, *, claim_id: str, hint: str | None = None) -> None:
        super().__init__(f"claim {claim_id}: {message}", hint=hint)
        self.claim_id = claim_id

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["claim_id"] = self.claim_id
        return out


# ---------------------------------------------------------------------------------------------------
# Grid


@dataclass(frozen=True, slots=True)
class Grid:
    """The print grid of a form: where column 1 starts (inches from the left edge of the sheet)."""

    x0: float

    def x(self, col: float) -> float:
        """Page x (points) of the left edge of column ``col`` (fractional columns allowed)."""
        return (self.x0 + (col - 1) / 10) * INCH

    def y(self, line: float) -> float:
        """Page y (points, from the bottom) of the top edge of line ``line``."""
        return PAGE_HEIGHT - (line - 1) * LINE

    def baseline(self, line: int) -> float:
        """Page y of the data baseline in ``line``."""
        return self.y(line + 1) + DATA_BASELINE

    def cell(self, x: float, y: float) -> tuple[int, int]:
        """The (line, column) holding the data character drawn at page point (x, y)."""
        col = int((x - self.x0 * INCH) // PITCH) + 1
        line = int((PAGE_HEIGHT - y) // LINE) + 1
        return line, col


# ---------------------------------------------------------------------------------------------------
# Text for the form: upper case, ASCII, no punctuation where the instructions forbid it

_DROPPED = re.compile(r"[.'`]+")  # "N. Main", "O'Neil": these go without leaving a gap
_NOT_ALNUM = re.compile(r"[^A-Z0-9 ]+")
_NAME_PART = re.compile(r"[^A-Z0-9 \-]+")
_SPACES = re.compile(r" {2,}")


def ascii_upper(text: str) -> str:
    """Upper case, accents removed, anything outside printable ASCII dropped, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if 32 <= ord(ch) < 127)
    return _SPACES.sub(" ", plain.upper()).strip()


def plain(text: str | None) -> str:
    """Letters, digits and spaces only (addresses, plan names: "123 N. Main St., #101" -> "123 N MAIN ST 101")."""
    if not text:
        return ""
    return _SPACES.sub(" ", _NOT_ALNUM.sub(" ", _DROPPED.sub("", ascii_upper(text)))).strip()


def name_part(text: str | None) -> str:
    """One part of a person's name: letters, digits, spaces and hyphens ("O'Neil-Smith" -> "ONEIL-SMITH",
    "Smith*Jr" -> "SMITH JR")."""
    if not text:
        return ""
    return _SPACES.sub(" ", _NAME_PART.sub(" ", _DROPPED.sub("", ascii_upper(text)))).strip()


def person_name(last: str | None, first: str | None, middle: str | None, suffix: str | None = None) -> str:
    """NUCC order "LAST SUFFIX, FIRST, M": commas between the parts, no other punctuation, middle initial."""
    head = " ".join(p for p in (name_part(last), name_part(suffix)) if p)
    parts = [head, name_part(first)]
    initial = name_part(middle)[:1]
    if initial:
        parts.append(initial)
    return ", ".join(p for p in parts if p)


def digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def split_money(amount: Decimal) -> tuple[str, str]:
    """Dollars and cents of an amount as the forms print them: no sign of a decimal point or $."""
    value = amount.quantize(CENT)
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    dollars, cents = text.split(".")
    return sign + dollars, cents


def quantity(value: Decimal) -> str:
    """A quantity without exponent or trailing zeros: 1 -> "1", 0.500 -> "0.5"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def wrap(text: str, width: int, lines: int) -> list[str]:
    """``text`` split into at most ``lines`` pieces of ``width`` characters, on spaces where possible."""
    out: list[str] = []
    rest = text.strip()
    while rest and len(out) < lines:
        if len(rest) <= width:
            out.append(rest)
            break
        cut = rest.rfind(" ", 0, width + 1)
        if cut <= 0:
            cut = width
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return out


# ---------------------------------------------------------------------------------------------------
# A sheet: one page being drawn


class Sheet:
    """Draws data (always) and the form's outlines and captions (when ``form`` is true) on one canvas."""

    def __init__(self, canvas: Any, grid: Grid, *, form: bool) -> None:
        self.canvas = canvas
        self.grid = grid
        self.form = form

    # data -------------------------------------------------------------------------------------------

    def put(self, line: int, col: int, text: str | None, width: int | None = None) -> None:
        """Print ``text`` (already cleaned) from column ``col`` of ``line``, cut to ``width`` characters."""
        if not text:
            return
        if width is not None:
            text = text[:width].rstrip()
        c = self.canvas
        c.setFillColor(DATA_INK)
        c.setFont(DATA_FONT, DATA_SIZE)
        c.drawString(self.grid.x(col) + DATA_INSET, self.grid.baseline(line), text, charSpace=DATA_CHAR_SPACE)

    def put_right(self, line: int, last_col: int, text: str | None, width: int) -> None:
        """Print ``text`` right-aligned so that its last character falls in ``last_col``."""
        if not text:
            return
        text = text[-width:] if len(text) > width else text
        self.put(line, last_col - len(text) + 1, text)

    def check(self, line: int, col: int) -> None:
        """Mark a check box with an X."""
        self.put(line, col, "X")

    def money(self, line: int, dollars_last: int, cents_col: int, amount: Decimal, dollars_width: int) -> bool:
        """Dollars right-aligned ending in ``dollars_last``, cents in ``cents_col``; False if it does not fit."""
        dollars, cents = split_money(amount)
        if len(dollars) > dollars_width:
            return False
        self.put_right(line, dollars_last, dollars, dollars_width)
        self.put(line, cents_col, cents)
        return True

    # the form ---------------------------------------------------------------------------------------

    def _stroke(self, width: float = 0.5, dash: tuple[float, ...] | None = None) -> None:
        c = self.canvas
        c.setStrokeColor(FORM_RED)
        c.setLineWidth(width)
        if dash:
            c.setDash(list(dash), 0)
        else:
            c.setDash([], 0)

    def hline(
        self, line: float, c0: float, c1: float, *, width: float = 0.5, dash: tuple[float, ...] | None = None
    ) -> None:
        """A rule along the top edge of ``line`` from column boundary ``c0`` to ``c1``."""
        if not self.form:
            return
        self._stroke(width, dash)
        y = self.grid.y(line)
        self.canvas.line(self.grid.x(c0), y, self.grid.x(c1), y)

    def vline(
        self, col: float, l0: float, l1: float, *, width: float = 0.5, dash: tuple[float, ...] | None = None
    ) -> None:
        """A rule at column boundary ``col`` from the top of line ``l0`` to the top of line ``l1``."""
        if not self.form:
            return
        self._stroke(width, dash)
        x = self.grid.x(col)
        self.canvas.line(x, self.grid.y(l0), x, self.grid.y(l1))

    def vlines(self, cols: Iterable[float], l0: float, l1: float, **kw: Any) -> None:
        for col in cols:
            self.vline(col, l0, l1, **kw)

    def tick(self, col: float, line: int, *, height: float = 4.0) -> None:
        """A short rule rising from the bottom of ``line`` at ``col`` (between MM | DD | YY)."""
        if not self.form:
            return
        self._stroke(0.5)
        x = self.grid.x(col)
        y = self.grid.y(line + 1)
        self.canvas.line(x, y, x, y + height)

    def shade(self, c0: float, l0: float, c1: float, l1: float) -> None:
        """Tint the area from column boundary ``c0`` to ``c1``, top of line ``l0`` to top of line ``l1``."""
        if not self.form:
            return
        c = self.canvas
        c.setFillColor(FORM_TINT)
        x0, x1 = self.grid.x(c0), self.grid.x(c1)
        y0, y1 = self.grid.y(l0), self.grid.y(l1)
        c.rect(x0, y1, x1 - x0, y0 - y1, stroke=0, fill=1)

    def box(self, line: int, col: int, *, size: float = 7.0) -> None:
        """An empty check box centred on the data cell (line, col)."""
        if not self.form:
            return
        self._stroke(0.5)
        x = self.grid.x(col) + PITCH / 2 - size / 2
        y = self.grid.y(line + 1) + (LINE - size) / 2 + 0.3
        self.canvas.rect(x, y, size, size, stroke=1, fill=0)

    def caption(
        self,
        line: float,
        col: float,
        text: str,
        *,
        size: float = CAPTION_SIZE,
        bold: bool = False,
        down: float = 0.0,
        align: str = "left",
    ) -> None:
        """Small form text whose top sits just under the top edge of ``line`` (``down`` lowers it, in points)."""
        if not self.form:
            return
        c = self.canvas
        c.setFillColor(FORM_RED)
        c.setFont(CAPTION_BOLD if bold else CAPTION_FONT, size)
        x = self.grid.x(col) + 1.0
        y = self.grid.y(line) - 0.8 - size * 0.78 - down
        if align == "right":
            c.drawRightString(self.grid.x(col) - 1.0, y, text)
        elif align == "center":
            c.drawCentredString(self.grid.x(col), y, text)
        else:
            c.drawString(x, y, text)

    def text_at(self, x: float, y: float, text: str, *, size: float, bold: bool = False, align: str = "left") -> None:
        """Form text at a page point (titles, footers)."""
        if not self.form:
            return
        c = self.canvas
        c.setFillColor(FORM_RED)
        c.setFont(CAPTION_BOLD if bold else CAPTION_FONT, size)
        if align == "right":
            c.drawRightString(x, y, text)
        elif align == "center":
            c.drawCentredString(x, y, text)
        else:
            c.drawString(x, y, text)

    def vertical_text(self, x: float, y_top: float, y_bottom: float, text: str, *, size: float = 6.0) -> None:
        """Text turned 90 degrees, centred between two heights, with arrow rules to each end (side labels)."""
        if not self.form:
            return
        c = self.canvas
        c.saveState()
        c.setFillColor(FORM_RED)
        c.setStrokeColor(FORM_RED)
        c.setLineWidth(0.5)
        c.setFont(CAPTION_BOLD, size)
        mid = (y_top + y_bottom) / 2
        half = c.stringWidth(text, CAPTION_BOLD, size) / 2 + 3
        c.line(x, y_top - 1, x, mid + half)
        c.line(x, mid - half, x, y_bottom + 1)
        for tip, direction in ((y_top - 1, 1), (y_bottom + 1, -1)):
            path = c.beginPath()
            path.moveTo(x, tip)
            path.lineTo(x - 2, tip - 4 * direction)
            path.lineTo(x + 2, tip - 4 * direction)
            path.close()
            c.drawPath(path, stroke=0, fill=1)
        c.translate(x + size * 0.35, mid)
        c.rotate(90)
        c.drawCentredString(0, 0, text)
        c.restoreState()


# ---------------------------------------------------------------------------------------------------
# The document


def new_canvas(buffer: io.BytesIO, title: str) -> Any:
    """A reportlab canvas for a letter-size document with stable output (no timestamps, fixed ids)."""
    canvas = Canvas(buffer, pagesize=letter, invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor("medbill")
    canvas.setCreator("medbill")
    canvas.setSubject("paper claim")
    return canvas


def render_pdf(
    claims: Iterable[Any],
    *,
    title: str,
    form_name: str,
    grid: Grid,
    form: bool,
    check: Callable[[Any], None],
    pages_of: Callable[[Any], int],
    draw_form: Callable[[Sheet], None],
    fill: Callable[[Sheet, Any, int, int], None],
) -> bytes:
    """The render loop both forms share: check every claim before drawing anything, draw the form once
    (when ``form``) and place it on every page, fill each claim's pages in order."""
    batch = tuple(claims)
    if not batch:
        raise MedbillError("no claims to print")
    for claim in batch:
        check(claim)
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, title)
    if form:
        canvas.beginForm(form_name)
        draw_form(Sheet(canvas, grid, form=True))
        canvas.endForm()
    for claim in batch:
        pages = pages_of(claim)
        for page in range(pages):
            if form:
                canvas.doForm(form_name)
            fill(Sheet(canvas, grid, form=form), claim, page, pages)
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()

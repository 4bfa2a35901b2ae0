"""Tests of the paper claim forms, and the PDF reading they share.

The PDFs are read back with pypdf (an independent reader): every string drawn is a ``Run`` with its page
position and font. Data is printed in Courier, the form's captions in Helvetica, so the two are told
apart by font; ``cells`` maps each data run to the (line, column) of the print grid it starts in.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pypdf import PdfReader

from medbill.paper.layout import LINE, PITCH, Grid


@dataclass(frozen=True)
class Run:
    text: str
    x: float
    y: float
    font: str
    size: float

    @property
    def is_data(self) -> bool:
        return self.font == "/Courier"


def pages(pdf: bytes) -> list[list[Run]]:
    """Every string drawn on each page, in drawing order."""
    reader = PdfReader(io.BytesIO(pdf))
    out: list[list[Run]] = []
    for page in reader.pages:
        runs: list[Run] = []

        def visit(
            text: str,
            cm: list[float],
            tm: list[float],
            font: dict[str, object] | None,
            size: float,
            runs: list[Run] = runs,
        ) -> None:
            text = text.strip()
            if not text.strip():
                return
            name = str(font.get("/BaseFont")) if font else ""
            runs.append(Run(text, tm[4] + cm[4], tm[5] + cm[5], name, size))

        page.extract_text(visitor_text=visit)
        out.append(runs)
    return out


def cells(runs: list[Run], grid: Grid) -> dict[tuple[int, int], str]:
    """The data runs of a page by the (line, column) they start in."""
    out: dict[tuple[int, int], str] = {}
    for run in runs:
        if run.is_data:
            key = grid.cell(run.x, run.y)
            assert key not in out, f"two data runs start in cell {key}: {out[key]!r} and {run.text!r}"
            out[key] = run.text
    return out


def caption(runs: list[Run], prefix: str) -> Run:
    """The one caption (form text) starting with ``prefix``."""
    found = [r for r in runs if not r.is_data and r.text.startswith(prefix)]
    assert len(found) == 1, f"caption {prefix!r}: {[r.text for r in found]}"
    return found[0]


def under(runs: list[Run], cap: Run, *, columns: float, lines: float) -> list[str]:
    """Data inside the box a caption heads: right of its left edge by up to ``columns`` characters and
    below it by up to ``lines`` lines; in reading order (top to bottom, then left to right)."""
    inside = [
        r
        for r in runs
        if r.is_data and cap.x - PITCH <= r.x < cap.x + columns * PITCH and cap.y - lines * LINE <= r.y < cap.y
    ]
    return [r.text for r in sorted(inside, key=lambda r: (-round(r.y, 1), r.x))]


def fonts(runs: list[Run]) -> set[str]:
    return {r.font for r in runs}

"""Computer-assisted coding: a clinical note in, ranked code suggestions with evidence out.

``suggest(note, store=..., setting=...)`` runs the pipeline of ``coding.pipeline``; the records
are in ``coding.model``. medbill suggests; the coder decides.
"""

from medbill.coding.model import (
    CodingOptions,
    CodingResult,
    Conflict,
    DrgResult,
    Span,
    Suggestion,
    Task,
)
from medbill.coding.pipeline import suggest
from medbill.coding.text import NoteError, decode_note

__all__ = [
    "CodingOptions",
    "CodingResult",
    "Conflict",
    "DrgResult",
    "NoteError",
    "Span",
    "Suggestion",
    "Task",
    "decode_note",
    "suggest",
]

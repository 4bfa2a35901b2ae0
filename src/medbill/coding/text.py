"""Normalise and segment a clinical note: decoding, bounds, sentences, tokens, local abbreviations.

Offsets are always into the original text: the tokenizer runs a regex over the note as given and
keeps each token's ``start``/``end``; its matching key (folded, lower-case, lightly stemmed, see
``medbill.codesets.text``) is computed per token, so accents or ligatures never shift an offset.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import NamedTuple

from medbill.codesets.text import STOPWORDS, fold, stem

_TOKEN = re.compile(r"[^\W_]+(?:'s)?", re.UNICODE)
# a sentence ends at a blank line / newline, or at . ! ? ; followed by space and a capital/digit
_SENT_END = re.compile(r"\n\s*|(?<=[.!?;])\s+(?=[\"'(\[A-Z0-9])")
_HEADING = re.compile(r"(?:^|(?<=[.!?] ))[ \t]*([A-Za-z][A-Za-z /&-]{2,40}?)[ \t]*:", re.MULTILINE)

# words whose only job in a note is grammar; negation cues are kept (ConText needs them as text anyway)
MATCH_STOPWORDS = STOPWORDS | frozenset({"with", "his", "her", "their", "which", "was", "were", "has", "had", "have"})

# Section headings a coder reads, mapped to one category (medspaCy's names where it has one).
SECTION_CATEGORIES: dict[str, str] = {
    "chief complaint": "chief_complaint",
    "cc": "chief_complaint",
    "reason for visit": "chief_complaint",
    "history of present illness": "history_of_present_illness",
    "hpi": "history_of_present_illness",
    "past medical history": "past_medical_history",
    "pmh": "past_medical_history",
    "medical history": "past_medical_history",
    "past surgical history": "past_surgical_history",
    "psh": "past_surgical_history",
    "family history": "family_history",
    "fh": "family_history",
    "social history": "social_history",
    "sh": "social_history",
    "medications": "medications",
    "allergies": "allergies",
    "review of systems": "review_of_systems",
    "ros": "review_of_systems",
    "physical exam": "physical_exam",
    "physical examination": "physical_exam",
    "exam": "physical_exam",
    "labs": "labs_and_studies",
    "imaging": "labs_and_studies",
    "assessment": "observation_and_plan",
    "plan": "observation_and_plan",
    "assessment and plan": "observation_and_plan",
    "impression": "observation_and_plan",
    "diagnosis": "diagnoses",
    "diagnoses": "diagnoses",
    "discharge diagnosis": "diagnoses",
    "discharge diagnoses": "diagnoses",
    "final diagnosis": "diagnoses",
    "problem list": "problem_list",
    "procedure": "procedures",
    "procedures": "procedures",
    "operation": "procedures",
    "hospital course": "hospital_course",
}


class NoteError(ValueError):
    """A note that cannot be read as text (binary, undecodable)."""


class Token(NamedTuple):
    """A content token (a tuple: thousands are made per note)."""

    start: int
    end: int
    key: str  # folded, lower-case, stemmed
    sent: int  # sentence number


@dataclass(frozen=True, slots=True)
class Section:
    start: int
    end: int
    title: str
    category: str


def decode_note(raw: bytes, *, max_bytes: int = 5_000_000) -> tuple[str, list[str]]:
    """Bytes to text: UTF-8 (BOM or not), UTF-16 with a BOM, else Latin-1 when it reads as text.

    Binary content (NUL bytes in a non-UTF-16 file, or mostly control characters) raises
    ``NoteError``. More than ``max_bytes`` is cut, with a warning.
    """
    warnings: list[str] = []
    if len(raw) > max_bytes:
        warnings.append(f"note is {len(raw):,} bytes: only the first {max_bytes:,} were read")
        raw = raw[:max_bytes]
    text: str | None = None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16", errors="replace")
        warnings.append("note decoded as UTF-16 (byte-order mark)")
    elif raw.startswith(codecs.BOM_UTF8):
        text = raw[3:].decode("utf-8", errors="replace")
    else:
        if b"\x00" in raw:
            raise NoteError("the note looks like a binary file (it contains NUL bytes); give a plain-text note")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            warnings.append("note is not UTF-8: decoded as Latin-1")
    if text and _controls(text) > 0.05 * len(text):
        raise NoteError("the note looks like a binary file (mostly control characters); give a plain-text note")
    return text, warnings


def _controls(text: str) -> int:
    sample = text[:20_000]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f") or ch == "\ufffd")
    return bad * max(1, len(text) // max(1, len(sample)))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean(text: str) -> str:
    """Same length as ``text`` (offsets survive): NULs and other controls become spaces."""
    return _CONTROL.sub(" ", text) if _CONTROL.search(text) else text


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]


def sections(text: str) -> list[Section]:
    """Headings at the start of a line ("Family history:") and where they reach (the next one)."""
    found: list[tuple[int, int, str, str]] = []
    for m in _HEADING.finditer(text):
        title = " ".join(m.group(1).lower().split())
        cat = SECTION_CATEGORIES.get(title)
        if cat is None:
            continue
        found.append((m.start(1), m.end(), title, cat))
    out: list[Section] = []
    for i, (start, _body, title, cat) in enumerate(found):
        end = found[i + 1][0] if i + 1 < len(found) else len(text)
        out.append(Section(start, end, title, cat))
    return out


def tokenize(text: str, bounds: list[tuple[int, int]]) -> list[Token]:
    """Content tokens (stopwords dropped) with their sentence number."""
    out: list[Token] = []
    keys = _KEYS
    make = tuple.__new__  # Token(...) without the NamedTuple constructor's Python-level call
    for n, (a, b) in enumerate(bounds):
        for m in _TOKEN.finditer(text, a, b):
            raw = m.group()
            key = keys.get(raw, "")
            if key == "":
                key = word_key(raw)
            if key is not None:
                out.append(make(Token, (m.start(), m.end(), key, n)))
    return out


_KEYS: dict[str, str | None] = {}


def word_key(raw: str) -> str | None:
    """The matching key of one word (None for a stopword), memoised (bounded)."""
    word = raw.lower() if raw.isascii() else fold(raw).lower()
    key = None if word in MATCH_STOPWORDS else stem(word)
    if len(_KEYS) > 500_000:
        _KEYS.clear()
    _KEYS[raw] = key
    return key


_ABBR_PAREN = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9]{1,9})\s*\)")
_WORDS = re.compile(r"[A-Za-z]+")


def local_abbreviations(text: str) -> dict[str, tuple[int, int]]:
    """Abbreviations a note defines itself: "chronic kidney disease (CKD)" -> {"ckd": (start, end)}
    of the long form. The letters must be the initials of the last words before the parenthesis."""
    out: dict[str, tuple[int, int]] = {}
    for m in _ABBR_PAREN.finditer(text):
        abbr = m.group(1)
        if not any(ch.isupper() for ch in abbr):
            continue
        letters = [ch for ch in abbr.lower() if ch.isalpha()]
        lo = max(0, m.start() - 100)
        words = list(_WORDS.finditer(text, lo, m.start()))
        li = len(letters) - 1
        wi = len(words) - 1
        first = None
        while li >= 0 and wi >= 0:
            w = words[wi].group().lower()
            if w[0] == letters[li]:
                first = words[wi]
                li -= 1
            elif w not in STOPWORDS:
                break
            wi -= 1
        if li < 0 and first is not None and len(words) >= len(letters):
            end = words[-1].end()
            out.setdefault(abbr.lower(), (first.start(), end))
    return out

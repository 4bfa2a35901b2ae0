"""Normalising and segmenting notes: decoding, bounds, sentences, sections, local abbreviations."""

from __future__ import annotations

import codecs

import pytest

from medbill.coding.text import NoteError, clean, decode_note, local_abbreviations, sections, sentence_bounds, tokenize


def test_decode_utf8_latin1_utf16() -> None:
    assert decode_note("fièvre".encode()) == ("fièvre", [])
    text, warns = decode_note("fièvre".encode("latin-1"))
    assert text == "fièvre" and "Latin-1" in warns[0]
    text, warns = decode_note(codecs.BOM_UTF16_LE + "Pneumonia".encode("utf-16-le"))
    assert text == "Pneumonia" and "UTF-16" in warns[0]
    assert decode_note(codecs.BOM_UTF8 + b"abc")[0] == "abc"


def test_binary_is_refused() -> None:
    with pytest.raises(NoteError, match="binary"):
        decode_note(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(NoteError, match="binary"):
        decode_note(bytes(range(1, 9)) * 200)


def test_oversized_is_cut_with_warning() -> None:
    text, warns = decode_note(b"a" * 6_000_000, max_bytes=5_000_000)
    assert len(text) == 5_000_000 and "only the first" in warns[0]


def test_clean_keeps_length() -> None:
    raw = "a\x00b\x07c\nd"
    assert len(clean(raw)) == len(raw) and clean(raw) == "a b c\nd"


def test_sentences_and_sections() -> None:
    note = "Family history: mother had breast cancer.\nAssessment: Pneumonia. Plan: antibiotics."
    bounds = sentence_bounds(note)
    assert [note[a:b] for a, b in bounds][:2] == ["Family history: mother had breast cancer.", "Assessment: Pneumonia."]
    cats = [s.category for s in sections(note)]
    assert cats == ["family_history", "observation_and_plan", "observation_and_plan"]


def test_tokens_carry_original_offsets() -> None:
    note = "Fièvre and Diabetes"
    toks = tokenize(note, sentence_bounds(note))
    assert [(note[t.start : t.end], t.key) for t in toks] == [("Fièvre", "fievre"), ("Diabetes", "diabete")]


def test_local_abbreviation() -> None:
    note = "He has chronic kidney disease (CKD). CKD is stable."
    found = local_abbreviations(note)
    a, b = found["ckd"]
    assert note[a:b] == "chronic kidney disease"
    assert local_abbreviations("He takes aspirin (ASA).") == {}

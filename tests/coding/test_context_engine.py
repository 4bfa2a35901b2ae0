"""The phrase-trie ConText agrees with medspaCy's own ConText; the lexicon cache file round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from medbill.coding import context as ctx
from medbill.coding.lexicon import lexicon_for, load_lexicon, save_lexicon

from .test_assertion_cases import CASES


def test_phrase_engine_matches_medspacy_on_the_regression_set() -> None:
    pytest.importorskip("spacy")
    diffs = []
    for c in CASES:
        ours = ctx.assert_mentions(c.sentence, [c.span], [(0, len(c.sentence))], [""])[0]
        theirs = ctx.assert_mentions_medspacy(c.sentence, [c.span], [(0, len(c.sentence))], [""])[0]
        if ours != theirs:
            diffs.append((c.id, ours, theirs))
    assert not diffs, diffs


def test_scope_and_pseudo_cues() -> None:
    text = "No fever. There is no change in the mass. Gram negative rods. Denies a b c d e f g h cough."
    words = ("fever", "mass", "rods", "cough")
    spans = [(text.index(w), text.index(w) + len(w)) for w in words]
    starts = [0, 10, 42, 62]
    bounds = [(a, b) for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    got = ctx.assert_mentions(text, spans, bounds, [""] * 4)
    # "no change in" and "gram negative" are pseudo-cues; "cough" is beyond the 6-token scope
    assert got == ["negated", "present", "present", "present"]


def test_lexicon_cache_round_trip(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lex = lexicon_for(store)
    path = tmp_path / "lex.bin"
    save_lexicon(lex, path)
    back = load_lexicon(path)
    assert back.terms == lex.terms and back.nodes == lex.nodes and back.combos == lex.combos
    assert back.bags == lex.bags and back.notes == lex.notes and back.first_len == lex.first_len
    assert back.terms[("essential", "hypertension")][0].code == "I10"
    path.write_bytes(b"not a lexicon")
    with pytest.raises(ValueError):
        load_lexicon(path)

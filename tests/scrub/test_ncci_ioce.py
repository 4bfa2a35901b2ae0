"""Differential test of the PTP rule against real I/OCE pairs (the store's ``ptp`` rows as the oracle).

500 rows are sampled with a fixed seed from the reference store's I/OCE PTP table (indicator-0 pairs,
indicator-1 pairs, deleted pairs). For each, a two-line claim bills column 1 and column 2 on one date
of service; the expected outcome is computed from *every* store row of that pair with plain SQL (not
from the NumPy arrays the rule uses): an indicator-0 pair is flagged even with 59; an indicator-1 pair
is flagged without a modifier and passes with 59 (or 25 on an E/M column-2 code); a pair deleted
before the date passes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest

from medbill.codesets.refstore import RefStore
from medbill.core.claim import Claim, ServiceLine, example_claims
from medbill.core.codes import Code, CodeSystem
from medbill.core.money import money
from medbill.scrub import EditTables, ScrubContext
from medbill.scrub.rule import get_rule

SEED = 20260401
WANT = {"ind0": 150, "ind1": 250, "deleted": 100}
TODAY = dt.date(2026, 6, 30)


def _system(code: str) -> CodeSystem:
    return CodeSystem.CPT if code[0].isdigit() else CodeSystem.HCPCS


def _claim(c1: str, c2: str, on: dt.date, mods1: tuple[str, ...] = (), mods2: tuple[str, ...] = ()) -> Claim:
    office = example_claims()[0]

    def line(n: int, code: str, mods: tuple[str, ...]) -> ServiceLine:
        return ServiceLine(
            line_number=n,
            procedure=Code(_system(code), code),
            modifiers=tuple(Code(CodeSystem.MODIFIER, m) for m in mods),
            charge=money("100.00"),
            diagnosis_pointers=(1,),
            service_date=on,
        )

    return dataclasses.replace(office, lines=(line(1, c1, mods1), line(2, c2, mods2)))


def _rows(store: RefStore, c1: str, c2: str) -> list[tuple[str, dt.date, dt.date | None]]:
    return [
        (mi, dt.date.fromisoformat(eff), dt.date.fromisoformat(dele) if dele else None)
        for mi, eff, dele in store.conn.execute(
            "SELECT modifier_indicator, effective, deleted FROM ptp WHERE tbl='ioce' AND column1=? AND column2=?",
            (c1, c2),
        )
    ]


def _in_effect(rows: list[tuple[str, dt.date, dt.date | None]], on: dt.date) -> set[str]:
    return {mi for mi, eff, dele in rows if eff <= on and (dele is None or on < dele) and mi != "9"}


def _sample(store: RefStore) -> list[tuple[str, str, str, dt.date, dt.date | None, str]]:
    rng = random.Random(SEED)
    (top,) = store.conn.execute("SELECT max(rowid) FROM ptp").fetchone()
    got: dict[str, list[Any]] = {k: [] for k in WANT}
    seen: set[tuple[str, str]] = set()
    tries = 0
    while any(len(got[k]) < n for k, n in WANT.items()) and tries < 200_000:
        tries += 1
        row = store.conn.execute(
            "SELECT column1, column2, modifier_indicator, effective, deleted FROM ptp WHERE rowid=? AND tbl='ioce'",
            (rng.randint(1, top),),
        ).fetchone()
        if row is None or (row[0], row[1]) in seen:
            continue
        c1, c2, mi, eff, dele = row
        kind = "deleted" if dele else f"ind{mi}"
        if kind in got and len(got[kind]) < WANT[kind]:
            seen.add((c1, c2))
            got[kind].append(
                (c1, c2, mi, dt.date.fromisoformat(eff), dt.date.fromisoformat(dele) if dele else None, kind)
            )
    return [r for k in WANT for r in got[k]]


def _ptp(found: list[Any]) -> list[Any]:
    return [f for f in found if f.rule == "NCCI001"]


@pytest.fixture(scope="module")
def ioce(store: RefStore) -> tuple[RefStore, EditTables]:
    tables = EditTables.load(store)
    if "ioce" not in tables.ptp_tables:
        pytest.skip("the store has no I/OCE PTP table (MEDBILL_SOURCE_DIR without ioce-*)")
    return store, tables


def test_500_real_ioce_pairs(ioce: tuple[RefStore, EditTables]) -> None:
    store, tables = ioce
    rule = get_rule("NCCI001")
    assert rule is not None
    sample = _sample(store)
    assert Counter(k for *_x, k in sample) == Counter(WANT)
    ctx = ScrubContext(today=TODAY, tables=tables)
    checked: Counter[str] = Counter()
    for c1, c2, _mi, eff, dele, kind in sample:
        rows = _rows(store, c1, c2)
        if kind == "deleted":
            assert dele is not None
            on = dele  # the first day the edit no longer applies
            if on > TODAY:
                continue
        else:
            on = max(eff, dt.date(2026, 4, 1)) if dele is None else eff
        in_effect = _in_effect(rows, on)
        plain = _ptp(list(rule(_claim(c1, c2, on), ctx)))
        assert bool(plain) == bool(in_effect), (c1, c2, on, rows)
        if plain:
            assert plain[0].location.startswith("lines[1].")
            assert f"{c2} (line 2, column 2) and {c1} (line 1, column 1)" in plain[0].message
            assert "hospital outpatient PTP table (I/OCE)" in plain[0].message
        with59 = _ptp(list(rule(_claim(c1, c2, on, mods2=("59",)), ctx)))
        assert bool(with59) == ("0" in in_effect), (c1, c2, on, rows)
        if kind == "ind0":
            assert with59 and with59[0].location == "lines[1].procedure"
            assert "modifier indicator 0: never billed together" in with59[0].message
            checked["indicator 0 flagged even with 59"] += 1
        elif kind == "ind1" and in_effect == {"1"}:
            assert plain and not with59
            on_col1 = _ptp(list(rule(_claim(c1, c2, on, mods1=("XU",)), ctx)))
            assert not on_col1
            checked["indicator 1 flagged without, passes with 59 (or XU on column 1)"] += 1
            if c2.startswith("992"):
                assert not _ptp(list(rule(_claim(c1, c2, on, mods2=("25",)), ctx)))
                checked["indicator 1 with an E/M: passes with 25"] += 1
        elif kind == "deleted" and not in_effect:
            assert not plain and dele is not None
            before = dele - dt.timedelta(days=1)
            if before >= eff:
                assert _ptp(list(rule(_claim(c1, c2, before), ctx)))
            checked["deleted pair passes from its deletion date, flagged the day before"] += 1
    assert checked["indicator 0 flagged even with 59"] == WANT["ind0"]
    assert checked["indicator 1 flagged without, passes with 59 (or XU on column 1)"] >= 200
    assert checked["deleted pair passes from its deletion date, flagged the day before"] >= 80


def test_outpatient_claims_use_the_same_pairs(ioce: tuple[RefStore, EditTables]) -> None:
    store, tables = ioce
    outpatient = example_claims()[3]
    assert outpatient.institutional is not None
    ctx = ScrubContext(today=TODAY, tables=tables)
    rule = get_rule("NCCI001")
    assert rule is not None
    for c1, c2, _mi, eff, _dele, _kind in _sample(store)[:60]:
        on = eff
        period = dataclasses.replace(outpatient.institutional, statement_from=on, statement_to=on)
        prof = _claim(c1, c2, on)
        lines = tuple(
            dataclasses.replace(ln, diagnosis_pointers=(), revenue_code=outpatient.lines[0].revenue_code)
            for ln in prof.lines
        )
        claim = dataclasses.replace(outpatient, lines=lines, institutional=period)
        found = _ptp(list(rule(claim, ctx)))
        assert bool(found) == bool(_in_effect(_rows(store, c1, c2), on))
        for f in found:
            assert "(the practitioner table is not loaded)" not in f.message


def test_ptp_arrays_match_the_store(ioce: tuple[RefStore, EditTables]) -> None:
    store, tables = ioce
    (count,) = store.conn.execute("SELECT count(*) FROM ptp WHERE tbl='ioce'").fetchone()
    assert tables.summary()["ptp"]["ioce"] == count == 1_594_456
    rng = random.Random(SEED + 1)
    for i in rng.sample(range(count), 200):
        (edit,) = tables.ptp_sample("ioce", [i])
        rows = _rows(store, edit.column1, edit.column2)
        assert (edit.modifier_indicator, dt.date.fromordinal(edit.effective)) in {(mi, e) for mi, e, _d in rows}

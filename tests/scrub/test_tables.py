"""The edit tables: encodings, Excludes1 parsing, loading from a real store, the memory-mapped cache."""

from __future__ import annotations

import datetime as dt
import random
import string
from pathlib import Path

import numpy as np
import pytest

from medbill.codesets.refstore import RefStore
from medbill.core.codes import CodeSystem
from medbill.core.errors import InvalidCode
from medbill.scrub.tables import EditTables, Excludes1, cache_root, code5, code_key, parse_excludes1


def test_code_key_orders_like_the_strings() -> None:
    rng = random.Random(7)
    alphabet = string.digits + string.ascii_uppercase
    codes = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(3000)})
    assert sorted(codes, key=code_key) == codes
    assert code_key("E11") < code_key("E110") < code_key("E1100") < code_key("E111")
    assert code_key("e11") == code_key("E1.1") == code_key("") == code_key("ABCDEFGH") == -1
    assert code5("99214") == int("99214", 36) and code5("J1100") == int("J1100", 36)
    assert code5("9921") == code5("99214X") == code5("9921_") == -1


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        ("type 1 diabetes mellitus (E10.-)", [("E10", "E10")]),
        ("gestational diabetes (O24.4-)", [("O244", "O244")]),
        ("neonatal diabetes mellitus (P70.2)", [("P702", "P702")]),
        ("pneumonia in coccidioidomycosis (B38.0-B38.2)", [("B380", "B382")]),
        ("exposure to fire and flames (X00-X08)", [("X00", "X08")]),
        ("inflammation of penis (N48.1, N48.2-)", [("N481", "N481"), ("N482", "N482")]),
        ("allergic reaction to food, such as:", []),
        ("fluency disorder following cerebrovascular disease (I69. with final characters -23)", []),
    ],
)
def test_parse_excludes1(text: str, ranges: list[tuple[str, str]]) -> None:
    assert [(e.lo, e.hi) for e in parse_excludes1("X", text)] == ranges


def test_excludes1_ranges_match_on_the_prefix() -> None:
    ex = Excludes1("J17", "B380", "B382", "")
    assert ex.matches("B381") and ex.matches("B3829") and not ex.matches("B383") and not ex.matches("B38")


@pytest.fixture(scope="module")
def real(store: RefStore, tmp_path_factory: pytest.TempPathFactory) -> tuple[RefStore, EditTables, Path]:
    cache = tmp_path_factory.mktemp("edit-tables")
    tables = EditTables.load(store, cache=cache)
    if "ioce" not in tables.ptp_tables or tables.validity_source(CodeSystem.ICD10CM) != "validity":
        pytest.skip("the store lacks the MCE / I/OCE tables (MEDBILL_SOURCE_DIR unset)")
    return store, tables, cache


def test_load_writes_a_cache_keyed_by_the_release_hashes(real: tuple[RefStore, EditTables, Path]) -> None:
    store, first, cache = real
    assert first.origin == "cache"  # written, then memory-mapped
    (folder,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert folder.name == first.digest[:16]
    assert (folder / "meta.json").is_file() and (folder / "ptp_ioce_key.npy").is_file()
    again = EditTables.load(store, cache=cache)
    assert again.origin == "cache" and again.digest == first.digest
    worker = EditTables.from_cache(folder)
    assert worker.summary() == again.summary()
    key = worker.arrays["ptp_ioce_key"]
    assert isinstance(key, np.ndarray) and not key.flags.writeable  # read-only memory map
    assert bool(np.all(key[1:] >= key[:-1]))  # sorted for searchsorted
    assert first.nbytes() < 64_000_000  # 1.6M pairs in compact arrays


def test_counts_match_the_store(real: tuple[RefStore, EditTables, Path]) -> None:
    store, tables, _cache = real
    summary = tables.summary()
    for system, count in summary["validity"].items():
        (expected,) = store.conn.execute("SELECT count(*) FROM validity WHERE system=?", (system,)).fetchone()
        assert count == expected, system
    assert summary["validity"]["ICD10CM"] == 84_932 and summary["validity"]["ICD10PCS"] == 86_809
    assert summary["pos"] == 51
    assert summary["excludes1_nodes"] > 2_000


def test_diagnosis_status_agrees_with_the_reference_store(real: tuple[RefStore, EditTables, Path]) -> None:
    store, tables, _cache = real
    rng = random.Random(11)
    codes = [c for (c,) in store.conn.execute("SELECT DISTINCT code FROM validity WHERE system='ICD10CM'")]
    headers = [
        c
        for (c,) in store.conn.execute(
            "SELECT DISTINCT code FROM code WHERE system='ICD10CM' AND billable=0"
            " AND kind IN ('category', 'subcategory')"
        )
    ]
    days = [dt.date(2016, 3, 1), dt.date(2020, 6, 1), dt.date(2024, 9, 30), dt.date(2024, 10, 1), dt.date(2026, 5, 1)]
    for code in rng.sample(codes, 400) + rng.sample(headers, 200):
        on = rng.choice(days)
        st = tables.dx_status(code, on)
        try:
            info = store.get(code, system=CodeSystem.ICD10CM, on=on)
        except InvalidCode:
            assert st.state == "unknown", code
            continue
        assert (st.state == "valid") == info.billable, (code, on, st, info.billable)
        if info.needs_seventh:
            assert st.state == "needs_seventh", (code, on, st)
        if st.state == "valid":
            assert set(info.flags) == set(tables.flags_on(CodeSystem.ICD10CM, code, on.toordinal()) or ()), code


def test_real_facts(real: tuple[RefStore, EditTables, Path]) -> None:
    _store, tables, _cache = real
    on = dt.date(2025, 3, 10)
    assert tables.dx_status("E119", on).state == "valid"
    assert tables.dx_status("E11", on).state == "header"
    assert tables.dx_status("S0181", on).state == "needs_seventh"
    assert tables.dx_status("C8339", on).state == "not_on_date"  # split into children in FY2025
    ex = tables.excludes1("E119", "E109")
    assert ex is not None and ex.node == "E11" and ex.text == "type 1 diabetes mellitus (E10.-)"
    assert tables.excludes1("E119", "I10") is None
    assert "female" in (tables.flags_on(CodeSystem.ICD10CM, "O0900", dt.date(2024, 9, 30).toordinal()) or ())
    assert "female" not in (tables.flags_on(CodeSystem.ICD10CM, "O0900", dt.date(2024, 10, 1).toordinal()) or ())
    assert tables.last_flags(CodeSystem.ICD10CM, "O0900", frozenset({"female", "male"}), on.toordinal()) == {"female"}
    assert tables.procedure_age("90715") == (7, 124)
    assert tables.global_days("20610") == "000"
    assert tables.is_significant_procedure("11042")
    assert tables.age_range("Maternity", dt.date(2019, 9, 30)) == (12, 55)
    assert tables.age_range("Maternity", dt.date(2019, 10, 1)) == (9, 64)
    pairs = {
        (e.column1, e.column2, e.modifier_indicator)
        for e in tables.ptp_pairs("ioce", ["11042", "97597", "10004", "96523"])
    }
    assert ("11042", "97597", "1") in pairs and ("10004", "96523", "0") in pairs


def test_an_unwritable_cache_folder_falls_back_to_memory(
    real: tuple[RefStore, EditTables, Path], store: RefStore, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    tables = EditTables.load(store, cache=blocker / "sub")
    assert tables.origin == "store"
    assert tables.summary()["ptp"]["ioce"] == 1_594_456


def test_cache_root_is_beside_the_store() -> None:
    assert cache_root(Path("/x/refdata.sqlite")) == Path("/x/refdata.sqlite.edit-tables")


def test_empty_tables_have_nothing() -> None:
    empty = EditTables.empty()
    assert not empty.has(CodeSystem.ICD10CM) and not empty.has(CodeSystem.POS)
    assert empty.ptp_tables == () and empty.mue_tables == ()
    assert empty.dx_status("E119", dt.date(2025, 1, 1)).state == "no_table"
    assert empty.ptp_pairs("ioce", ["11042", "97597"]) == []
    assert empty.mue("practitioner", "99213", dt.date(2025, 1, 1)) is None

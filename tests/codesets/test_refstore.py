"""Lookup against a real built store: hierarchy, inherited notes, 7th characters, validity by date."""

from __future__ import annotations

import json
from datetime import date

import pytest

from medbill.codesets.refstore import RefStore
from medbill.core.codes import CodeSystem
from medbill.core.errors import CodeSetError, InvalidCode

CM = CodeSystem.ICD10CM
D = date(2026, 4, 1)


def test_e119_description_path_and_inherited_notes(store: RefStore) -> None:
    info = store.get("e11.9", system=CM, on=D)
    assert info.display == "E11.9"
    assert info.description == "Type 2 diabetes mellitus without complications"
    assert info.billable and info.valid
    assert [p.display for p in info.path][-1] == "E11"
    assert "E08-E13" in [p.display for p in info.path]
    excl1 = [n for n in info.notes if n.kind == "excludes1" and n.inherited and n.at == "E11"]
    assert any("type 1 diabetes mellitus (E10.-)" in n.text for n in excl1)
    use_add = [n for n in info.notes if n.kind == "use_additional" and n.at == "E11"]
    assert any("insulin (Z79.4)" in n.text for n in use_add)
    # inclusion terms are not inherited: E11.9 does not show E11.21's
    assert not any(n.kind == "inclusion" and n.inherited for n in info.notes)


def test_e1122_own_use_additional_note(store: RefStore) -> None:
    info = store.get("E1122", system=CM, on=D)
    own = [n for n in info.notes if not n.inherited]
    assert any(n.kind == "use_additional" and "N18.1-N18.6" in n.text for n in own)


def test_seventh_characters_s72_and_t36(store: RefStore) -> None:
    s72 = store.get("S72.001", system=CM, on=D)
    assert s72.needs_seventh and not s72.billable
    chars = dict(s72.seventh_characters)
    assert chars["A"] == "initial encounter for closed fracture"
    assert set("ABCDEFGHJKMNPQRS") <= set(chars)
    assert store.get("S72.001A", system=CM, on=D).billable
    t36 = store.get("T36.0X1A", system=CM, on=D)
    assert t36.billable
    assert dict(t36.seventh_characters).keys() == {"A", "D", "S"}


def test_require_billable_messages(store: RefStore) -> None:
    with pytest.raises(InvalidCode) as cat:
        store.require_billable("E11", system=CM, on=D)
    assert str(cat.value).startswith("E11 is a category; choose one of E11.0")
    assert cat.value.reason == "not_billable"
    with pytest.raises(InvalidCode) as sev:
        store.require_billable("S72.001", system=CM, on=D)
    assert "needs a 7th character" in str(sev.value)
    assert "S72.001A" in sev.value.suggestions
    with pytest.raises(InvalidCode) as unk:
        store.require_billable("E11.99", system=CM, on=D)
    assert unk.value.reason == "unknown" and "E11.9" in unk.value.suggestions
    with pytest.raises(InvalidCode) as bad:
        store.get("E1.1.9", system=CM, on=D)
    assert bad.value.reason == "malformed"
    assert store.require_billable("E11.9", system=CM, on=D).code == "E119"


def test_bare_lookup_shows_both_systems(store: RefStore) -> None:
    infos = store.lookup("J1100", on=D)
    systems = {i.system for i in infos}
    assert CM in systems
    cm = next(i for i in infos if i.system is CM)
    assert cm.display == "J11.00"


def test_date_beyond_newest_release_warns(store: RefStore) -> None:
    info = store.get("E11.9", system=CM, on=date(2026, 11, 26))
    assert any("may have changed" in w for w in info.warnings)
    assert not any("may have changed" in w for w in store.get("E11.9", system=CM, on=D).warnings)


def test_missing_store_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CodeSetError, match="does not exist"):
        RefStore.open(tmp_path / "nope.sqlite")


def test_validity_by_date_from_mce(store: RefStore, source_dir) -> None:  # type: ignore[no-untyped-def]
    # E11.9 has been valid since ICD-10 began; not before
    assert store.get("E11.9", system=CM, on=date(2015, 10, 1)).billable
    assert not store.get("E11.9", system=CM, on=date(2015, 9, 30)).valid
    # A18.15 carried the MCE 'male' sex edit until the MCE withdrew sex edits on 2024-10-01
    assert "male" in store.get("A18.15", system=CM, on=date(2024, 9, 30)).flags
    assert "male" not in store.get("A18.15", system=CM, on=date(2024, 10, 1)).flags
    # a code deleted at the end of FY2024 is valid on its last day and not the next
    row = store.conn.execute(
        "SELECT code FROM validity WHERE system='ICD10CM' AND valid_to='2024-09-30' AND code NOT IN"
        " (SELECT code FROM validity WHERE system='ICD10CM' AND (valid_to IS NULL OR valid_to>'2024-09-30'))"
        " ORDER BY code LIMIT 1"
    ).fetchone()
    assert row is not None
    assert store.get(row[0], system=CM, on=date(2024, 9, 30)).billable
    assert not store.get(row[0], system=CM, on=date(2024, 10, 1)).billable
    # C83.39 was a billable code until FY2025 split it into children: a header from then on
    assert store.get("C83.39", system=CM, on=date(2024, 9, 30)).billable
    split = store.get("C83.39", system=CM, on=date(2024, 10, 1))
    assert not split.billable and split.kind == "subcategory" and split.children
    # a code that left the code set entirely says so
    gone = store.conn.execute(
        "SELECT v.code FROM validity v WHERE v.system='ICD10CM'"
        " GROUP BY v.code HAVING max(coalesce(v.valid_to,'9999'))<'2025-10-01'"
        " AND v.code NOT IN (SELECT parent FROM code WHERE parent IS NOT NULL) LIMIT 1"
    ).fetchone()
    assert gone is not None
    late = store.get(gone[0], system=CM, on=date(2026, 4, 1))
    assert not late.billable and any("is not valid on 2026-04-01" in w for w in late.warnings)


def test_billable_set_equals_mce_active_on_2026_04_01(store: RefStore, source_dir) -> None:  # type: ignore[no-untyped-def]
    import csv

    mce = set()
    with (source_dir / "mce-v43.1" / "DERIVED_mce_v431_i10dx_master.csv").open() as fh:
        for r in csv.DictReader(fh):
            if r["start_date"] <= "20260401" and (not r["end_date"] or r["end_date"] >= "20260401"):
                mce.add(r["code"])
    assert len(mce) == 74_719
    assert store.active_codes(CM, D) == mce
    # every one is known and billable through the lookup API (checked on a spread sample: all
    # 74,719 go through the same code path, measured in bench/)
    for code in sorted(mce)[::500]:
        assert store.get(code, system=CM, on=D).billable, code
    # nodes of the tabular that are not in the MCE set are never billable on that date
    tab_billable = set(store.iter_codes(CM, billable_only=True))
    for code in sorted(tab_billable - mce)[:200]:
        assert not store.get(code, system=CM, on=D).billable, code


def test_every_code_list_node_is_known(store: RefStore) -> None:
    from medbill.codesets.icd10cm import default_code_list_path, parse_code_list

    nodes = parse_code_list(default_code_list_path())
    known = set(store.iter_codes(CM))
    # chapters are listed by number in the code list ("4"); the store keys them CH04
    known |= {
        json.loads(a)["tabular_id"]
        for (a,) in store.conn.execute("SELECT attrs FROM code WHERE system='ICD10CM' AND kind='chapter'")
    }
    missing = [c for c in nodes if c not in known]
    assert not missing, missing[:10]
    assert len(nodes) == 98_466

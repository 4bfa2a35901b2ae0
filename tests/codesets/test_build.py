"""The build: release records, no-op re-runs, newer releases beside older ones, all-or-nothing loads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from medbill.codesets.build import Dataset, LoadResult, build, in_source_dir, sha256_of
from medbill.codesets.records import ITEM, CodeRow, ValidityRow
from medbill.codesets.refstore import RefStore
from medbill.codesets.writer import ReleaseWriter
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

H = CodeSystem.HCPCS


def _load_lines(w: ReleaseWriter, path: Path) -> None:
    """A tiny format for tests: code,from,to,description per line."""
    codes, spans = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split(",")
        if len(parts) != 4:
            raise SourceFileError("want code,from,to,description", path=str(path), line=n)
        code, lo, hi, desc = parts
        codes.append(CodeRow(H, code, ITEM, True, desc))
        spans.append(ValidityRow(H, code, date.fromisoformat(lo), date.fromisoformat(hi) if hi else None))
    w.codes(codes)
    w.validity(spans)


def _dataset(release: str, lo: date, hi: date | None) -> Dataset:
    return Dataset("test-hcpcs", "test HCPCS", H, in_source_dir("t/*.csv"), _load_lines, release, lo, hi, where="tests")


def _write(src: Path, text: str) -> Path:
    (src / "t").mkdir(parents=True, exist_ok=True)
    for old in (src / "t").glob("*.csv"):
        old.unlink()
    path = src / "t" / "codes.csv"
    path.write_text(text)
    return path


def test_release_recorded_and_rerun_is_noop(tmp_path: Path) -> None:
    src = tmp_path / "src"
    path = _write(src, "A1111,2020-01-01,,Thing one\n")
    db = tmp_path / "ref.sqlite"
    first = build(db, source_dir=src, datasets=[_dataset("2020", date(2020, 1, 1), None)])
    assert [r.status for r in first] == ["loaded", "loaded"]  # dataset, then the search index
    second = build(db, source_dir=src, datasets=[_dataset("2020", date(2020, 1, 1), None)])
    assert [r.status for r in second] == ["unchanged"]
    store = RefStore.open(db)
    (rel,) = store.releases
    assert rel.sha256 == sha256_of(path) and rel.source == "codes.csv" and rel.rows == 2
    assert rel.effective_from == date(2020, 1, 1) and rel.release == "2020"
    store.close()


def test_newer_release_keeps_older_codes_valid_for_their_dates(tmp_path: Path) -> None:
    src = tmp_path / "src"
    db = tmp_path / "ref.sqlite"
    _write(src, "A1111,2020-01-01,2020-12-31,Old thing\nA2222,2020-01-01,,Kept thing\n")
    build(db, source_dir=src, datasets=[_dataset("2020", date(2020, 1, 1), date(2020, 12, 31))])
    _write(src, "A2222,2020-01-01,,Kept thing reworded\nA3333,2021-01-01,,New thing\n")
    build(db, source_dir=src, datasets=[_dataset("2021", date(2021, 1, 1), date(2021, 12, 31))])
    store = RefStore.open(db)
    assert len(store.releases) == 2
    assert store.get("A1111", system=H, on=date(2020, 6, 1)).billable
    gone = store.get("A1111", system=H, on=date(2021, 6, 1))
    assert not gone.billable and any("not valid on 2021-06-01" in w for w in gone.warnings)
    assert store.get("A2222", system=H, on=date(2021, 6, 1)).description == "Kept thing reworded"
    assert store.get("A2222", system=H, on=date(2020, 6, 1)).description == "Kept thing"
    assert not store.get("A3333", system=H, on=date(2020, 6, 1)).billable
    assert store.get("A3333", system=H, on=date(2021, 6, 1)).billable
    # beyond the newest release: a warning, never a silent pass
    late = store.get("A3333", system=H, on=date(2022, 3, 1))
    assert any("may have changed" in w for w in late.warnings)
    store.close()


def test_a_failed_load_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    db = tmp_path / "ref.sqlite"
    _write(src, "A1111,2020-01-01,,Good\nbroken line\n")
    results: list[LoadResult] = build(db, source_dir=src, datasets=[_dataset("2020", date(2020, 1, 1), None)])
    assert results[0].status == "failed"
    assert "codes.csv, line 2" in results[0].message
    import sqlite3

    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM release").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM code").fetchone()[0] == 0
    conn.close()


def test_missing_file_is_reported_not_failed(tmp_path: Path) -> None:
    results = build(tmp_path / "ref.sqlite", source_dir=tmp_path, datasets=[_dataset("x", date(2020, 1, 1), None)])
    assert results[0].status == "missing" and results[0].message == "tests"


@pytest.mark.parametrize("dataset_id", ["icd10cm-tabular", "mce-dx", "ncci-ioce", "hcpcs-anweb"])
def test_full_store_records_each_release(built_store_path: Path, source_dir: Path, dataset_id: str) -> None:
    store = RefStore.open(built_store_path)
    rels = [r for r in store.releases if r.dataset == dataset_id]
    assert len(rels) == 1 and len(rels[0].sha256) == 64 and rels[0].rows > 0
    store.close()

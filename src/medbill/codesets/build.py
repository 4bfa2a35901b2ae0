"""Builds the versioned reference store from official files.

Each dataset (see ``datasets.py``) names where its file is found, the release it carries and a
loader. For each file found: its SHA-256 is computed; if this dataset already holds a release with
that hash, nothing happens (re-running a build is a no-op); otherwise the loader writes its rows in
one transaction together with the ``release`` row (source file, release label, effective dates,
SHA-256, row count), so a build killed half way leaves nothing half written. A newer release of a
dataset adds rows beside the older one: older codes stay valid for their own dates.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

from medbill.codesets.writer import ReleaseWriter, iso
from medbill.core.codes import CodeSystem
from medbill.core.errors import CodeSetError

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"

Loader = Callable[[ReleaseWriter, Path], None]
# A locator finds a dataset's file, or the files of one release (CMS splits NCCI into f1..f4)
Locator = Callable[[Path | None], "Path | tuple[Path, ...] | None"]
# Optional: the release label and effective dates read from the file's path (hcpcs-level2-2026q4/...)
Describer = Callable[[Path], "tuple[str, date | None, date | None] | None"]


@dataclass(frozen=True, slots=True)
class Dataset:
    """One official file medbill can load."""

    id: str
    title: str
    system: CodeSystem | None
    locate: Locator  # finds the file (in MEDBILL_SOURCE_DIR or an installed package); None = missing
    load: Loader
    release: str
    effective_from: date | None
    effective_to: date | None
    where: str  # where a user gets it (shown by `data status` when missing)
    required: bool = True  # missing -> reported as missing by `data status`
    describe: Describer | None = None  # release label and dates from the path, when it says them


@dataclass(frozen=True, slots=True)
class LoadResult:
    dataset: str
    source: str | None
    status: str  # "loaded" | "unchanged" | "missing" | "failed"
    rows: int = 0
    seconds: float = 0.0
    sha256: str | None = None
    message: str = ""
    optional: bool = False  # a missing optional dataset is no gap


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def connect_for_build(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-200000")
    schema = resources.files("medbill.codesets").joinpath("schema.sql").read_text(encoding="utf-8")
    conn.executescript(schema)
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (SCHEMA_VERSION,),
    )
    return conn


def locate_files(ds: Dataset, dirs: Sequence[Path | None]) -> tuple[Path, ...]:
    """The file(s) of a dataset: from the first of ``dirs`` that holds them."""
    for d in dirs:
        found = ds.locate(d)
        if found:
            return found if isinstance(found, tuple) else (found,)
    return ()


def sha256_of_files(paths: Sequence[Path]) -> str:
    """One file: its SHA-256. Several (one release split in parts): the SHA-256 of their hashes."""
    if len(paths) == 1:
        return sha256_of(paths[0])
    return hashlib.sha256("".join(sha256_of(p) for p in paths).encode()).hexdigest()


def load_dataset(
    conn: sqlite3.Connection, ds: Dataset, source_dir: Path | None, *, extra_dirs: Sequence[Path] = ()
) -> LoadResult:
    paths = locate_files(ds, [source_dir, *extra_dirs])
    if not paths:
        return LoadResult(ds.id, None, "missing", message=ds.where, optional=not ds.required)
    source = ", ".join(p.name for p in paths)
    started = time.perf_counter()
    digest = sha256_of_files(paths)
    row = conn.execute("SELECT id FROM release WHERE dataset=? AND sha256=?", (ds.id, digest)).fetchone()
    if row is not None:
        return LoadResult(ds.id, source, "unchanged", sha256=digest)
    release, eff_from, eff_to = ds.release, ds.effective_from, ds.effective_to
    if ds.describe is not None:
        described = ds.describe(paths[0])
        if described is not None:
            release, eff_from, eff_to = described
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.execute(
            "INSERT INTO release(dataset, system, release, source, sha256, effective_from, effective_to,"
            " rows, loaded_at) VALUES (?,?,?,?,?,?,?,0,?)",
            (
                ds.id,
                str(ds.system) if ds.system else None,
                release,
                source,
                digest,
                iso(eff_from),
                iso(eff_to),
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        release_id = int(cur.lastrowid or 0)
        writer = ReleaseWriter(conn, release_id)
        for path in paths:
            ds.load(writer, path)
        conn.execute("UPDATE release SET rows=? WHERE id=?", (writer.count, release_id))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    seconds = time.perf_counter() - started
    log.info("loaded dataset=%s rows=%d seconds=%.1f", ds.id, writer.count, seconds)
    return LoadResult(ds.id, source, "loaded", writer.count, seconds, digest)


def build(
    db_path: Path,
    *,
    source_dir: Path | None,
    datasets: Sequence[Dataset] | None = None,
    progress: Callable[[LoadResult], None] | None = None,
    extra_dirs: Sequence[Path] = (),
) -> list[LoadResult]:
    """Load every dataset found (in ``source_dir``, then ``extra_dirs`` such as the download
    folder of ``medbill data fetch``); rebuild the search index when anything changed."""
    from medbill.codesets import datasets as registry
    from medbill.codesets.searchindex import rebuild_search_index

    chosen = list(datasets) if datasets is not None else registry.all_datasets()
    conn = connect_for_build(db_path)
    results: list[LoadResult] = []
    try:
        for ds in chosen:
            try:
                res = load_dataset(conn, ds, source_dir, extra_dirs=extra_dirs)
            except CodeSetError as exc:
                res = LoadResult(ds.id, None, "failed", message=str(exc))
            results.append(res)
            if progress:
                progress(res)
        changed = any(r.status == "loaded" for r in results)
        has_index = conn.execute("SELECT 1 FROM sqlite_master WHERE name='search_postings'").fetchone() is not None
        if changed or not has_index:
            started = time.perf_counter()
            n = rebuild_search_index(conn)
            res = LoadResult("search-index", None, "loaded", n, time.perf_counter() - started)
            results.append(res)
            if progress:
                progress(res)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()
    return results


def package_file(package: str, *parts: str) -> Path | None:
    """A file shipped inside an installed PyPI package, or None when the package is absent."""
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        return None
    target = root.joinpath(*parts)
    path = Path(str(target))
    return path if path.is_file() else None


def in_source_dir(*patterns: str, parts: bool = False) -> Locator:
    """Locate the newest file matching one of the glob patterns under a source folder.

    ``parts=True``: a release published in parts (``ccipra-v322r0-f1.txt`` .. ``-f4.txt``): every
    file of the newest folder that matches, loaded together as one release.
    """

    def locate(source_dir: Path | None) -> Path | tuple[Path, ...] | None:
        if source_dir is None or not source_dir.is_dir():
            return None
        found: list[Path] = []
        for pattern in patterns:
            found.extend(p for p in source_dir.glob(pattern) if p.is_file())
        if not found:
            return None
        newest = sorted(found)[-1]
        if not parts:
            return newest
        return tuple(sorted(p for p in found if p.parent == newest.parent))

    return locate

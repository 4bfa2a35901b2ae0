"""Reference data use cases: build and inspect the store, look codes up, search."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from medbill.codesets.build import LoadResult, build, locate_files
from medbill.codesets.datasets import all_datasets
from medbill.codesets.refstore import CodeInfo, RefStore
from medbill.codesets.search import SearchEngine, SearchHit
from medbill.core.codes import CodeSystem, parse_system
from medbill.settings import Settings


def build_reference(*, settings: Settings, progress: Callable[[LoadResult], None] | None = None) -> list[LoadResult]:
    invalidate()
    try:
        return build(
            settings.refdata_path,
            source_dir=settings.source_dir,
            progress=progress,
            extra_dirs=(settings.download_dir,),
        )
    finally:
        invalidate()


def invalidate() -> None:
    """Forget open stores and engines: the store file changed (a build, a CPT import)."""
    for store in list(_OPENED):
        store.close()
    _OPENED.clear()
    _open_store.cache_clear()
    _engine.cache_clear()


@dataclass(frozen=True, slots=True)
class DatasetStatus:
    id: str
    title: str
    state: str  # loaded | available (found, not loaded) | missing | optional (not loaded, not needed)
    releases: list[dict[str, Any]]
    where: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.id,
            "title": self.title,
            "state": self.state,
            "releases": self.releases,
            "where": self.where,
        }


def reference_status(*, settings: Settings) -> list[DatasetStatus]:
    """What is loaded (with release, dates, SHA-256) and what is missing."""
    loaded: dict[str, list[dict[str, Any]]] = {}
    path = settings.refdata_path
    if path.is_file():
        try:
            store = RefStore.open(path)
        except Exception:  # noqa: BLE001 - an empty/corrupt store reports everything as not loaded
            store = None
        if store is not None:
            for r in store.releases:
                loaded.setdefault(r.dataset, []).append(
                    {
                        "release": r.release,
                        "source": r.source,
                        "sha256": r.sha256,
                        "effective_from": r.effective_from.isoformat() if r.effective_from else None,
                        "effective_to": r.effective_to.isoformat() if r.effective_to else None,
                        "rows": r.rows,
                        "loaded_at": r.loaded_at,
                    }
                )
            store.close()
    out = []
    for ds in all_datasets():
        if ds.id in loaded:
            state = "loaded"
        elif locate_files(ds, [settings.source_dir, settings.download_dir]):
            state = "available"
        else:
            state = "missing" if ds.required else "optional"
        out.append(DatasetStatus(ds.id, ds.title, state, loaded.get(ds.id, []), ds.where))
    return out


_OPENED: list[RefStore] = []

STORE_LOCK = threading.RLock()
"""The reference store is one SQLite connection shared by a process's threads (API and web workers):
every use of it goes through this lock (``lookup_code``, ``search_codes`` and ``using_store`` take it)."""


@lru_cache(maxsize=4)
def _open_store(path: str) -> RefStore:
    store = RefStore.open(Path(path))
    _OPENED.append(store)
    return store


def open_store(*, settings: Settings) -> RefStore:
    return _open_store(str(settings.refdata_path))


def lookup_code(
    code: str, *, settings: Settings, system: str | CodeSystem | None = None, on: date | None = None
) -> list[CodeInfo]:
    store = open_store(settings=settings)
    sys_ = parse_system(system) if isinstance(system, str) else system
    with STORE_LOCK:
        return store.lookup(code, system=sys_, on=on)


def search_codes(
    query: str,
    *,
    settings: Settings,
    systems: list[str] | None = None,
    billable_only: bool = False,
    limit: int = 20,
) -> list[SearchHit]:
    engine = _engine(str(settings.refdata_path))
    parsed = [parse_system(s) for s in systems] if systems else None
    with STORE_LOCK:
        return engine.search(query, systems=parsed, billable_only=billable_only, limit=limit)


@contextmanager
def using_store(path: Path) -> Iterator[RefStore]:
    """The (cached) reference store at ``path``, held under :data:`STORE_LOCK` for the block."""
    store = _open_store(str(path))
    with STORE_LOCK:
        yield store


@lru_cache(maxsize=4)
def _engine(path: str) -> SearchEngine:
    return SearchEngine(_open_store(path).conn)

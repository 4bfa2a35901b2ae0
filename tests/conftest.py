"""Shared test fixtures.

Tests that need the official source files read them from ``MEDBILL_SOURCE_DIR`` (``.ci/run`` sets it
to ``../shared/data``); where it is unset they skip and say why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _source_dir() -> Path | None:
    raw = os.environ.get("MEDBILL_SOURCE_DIR")
    if not raw:
        return None
    path = Path(raw).resolve()
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def source_dir() -> Path:
    """The folder of official source files (``MEDBILL_SOURCE_DIR``); skips when unset."""
    path = _source_dir()
    if path is None:
        pytest.skip("MEDBILL_SOURCE_DIR is not set (or not a folder): official source files unavailable")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Third-party fixtures (``MEDBILL_FIXTURES_DIR``, default: ``fixtures`` beside the source dir)."""
    raw = os.environ.get("MEDBILL_FIXTURES_DIR")
    if raw:
        path = Path(raw).resolve()
    else:
        src = _source_dir()
        if src is None:
            pytest.skip("MEDBILL_FIXTURES_DIR / MEDBILL_SOURCE_DIR not set: shared fixtures unavailable")
        path = src.parent / "fixtures"
    if not path.is_dir():
        pytest.skip(f"fixtures folder {path} does not exist")
    return path


@pytest.fixture(scope="session")
def built_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference store built once per test run from everything available.

    Packaged code sets always; the CMS/CDC files too when MEDBILL_SOURCE_DIR is set.
    """
    from medbill.codesets.build import build

    prebuilt = os.environ.get("MEDBILL_TEST_REFDATA")
    if prebuilt and Path(prebuilt).is_file():
        # developers' shortcut: a store already built by `medbill data build` (never set in CI)
        return Path(prebuilt)
    path = tmp_path_factory.mktemp("refdata") / "refdata.sqlite"
    results = build(path, source_dir=_source_dir())
    failed = [r for r in results if r.status == "failed"]
    assert not failed, failed
    return path


@pytest.fixture(scope="session")
def store(built_store_path: Path):  # type: ignore[no-untyped-def]
    from medbill.codesets.refstore import RefStore

    s = RefStore.open(built_store_path)
    yield s
    s.close()


# ------------------------------------------------------------------------------ practice database
def _postgres_url() -> str | None:
    return os.environ.get("MEDBILL_TEST_DATABASE_URL") or None


def _fresh_postgres(url: str) -> None:
    """Empty the test PostgreSQL database (one schema, dropped and recreated)."""
    import sqlalchemy as sa

    engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A migrated, empty practice database: an SQLCipher file, and PostgreSQL when configured.

    PostgreSQL runs where ``MEDBILL_TEST_DATABASE_URL`` is set (``.ci/run`` starts a server and sets it).
    """
    from medbill.store.db import Database
    from medbill.store.keys import KeyRing

    ring = KeyRing.generate(tmp_path / "keys.json")
    ring.save()
    if request.param == "sqlite":
        database = Database(keyring=ring, path=tmp_path / "medbill.db", audit_anchor=tmp_path / "audit-anchor.json")
    else:
        url = _postgres_url()
        if url is None:
            pytest.skip("MEDBILL_TEST_DATABASE_URL is not set: no PostgreSQL server for this run")
        _fresh_postgres(url)
        database = Database(keyring=ring, url=url, audit_anchor=tmp_path / "audit-anchor.json")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The default backend only (SQLCipher file), for tests about the file itself."""
    from medbill.store.db import Database
    from medbill.store.keys import KeyRing

    ring = KeyRing.generate(tmp_path / "keys.json")
    ring.save()
    database = Database(keyring=ring, path=tmp_path / "medbill.db", audit_anchor=tmp_path / "audit-anchor.json")
    database.migrate()
    yield database
    database.dispose()

"""Opening the database: an SQLCipher file by default, PostgreSQL through ``MEDBILL_DATABASE_URL``.

SQLite: the whole file (and its -wal/-shm) is encrypted by SQLCipher with the raw key from the key
file (or ``MEDBILL_DB_KEY``); WAL, foreign keys on, ``synchronous=FULL`` (a committed transaction
survives a power cut), a busy timeout, and write transactions that start with ``BEGIN IMMEDIATE`` so
two writers queue instead of failing half way. PostgreSQL: a pooled engine (psycopg 3), READ
COMMITTED, and the unique constraints (posting keys, file hashes) as the exactly-once guard.

On both, PHI columns are encrypted by the application (:mod:`medbill.store.crypto`) with keys from
the same key file, so the test suite runs unchanged on both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from medbill.settings import Settings
from medbill.store.crypto import FieldCipher
from medbill.store.keys import KeyRing, load_or_create_keyring

__all__ = ["Database"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """One database with its keys: engine, sessions, transactions, migrations."""

    def __init__(
        self,
        *,
        keyring: KeyRing,
        url: str | None = None,
        path: Path | None = None,
        sqlcipher: bool = True,
        encrypt_columns: bool = True,
        audit_anchor: Path | None = None,
        audit: bool = True,
        echo: bool = False,
    ) -> None:
        if (url is None) == (path is None):
            raise ValueError("give a database url or a SQLite path, not both")
        self.keyring = keyring
        reload = None
        if keyring.path is not None:
            key_path = keyring.path

            def reload() -> KeyRing:
                return load_or_create_keyring(key_path, create=False)

        self.cipher = FieldCipher(keyring, enabled=encrypt_columns, reload=reload)
        self.path = path
        self.audit_anchor = audit_anchor  # the audit chains' heads, kept outside the database
        # False only for the load benchmark's "safeguards off" comparison (with sqlcipher/encrypt_columns off):
        # never from settings or the environment
        self.audit_enabled = audit
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if sqlcipher:
                sa_url: URL | str = URL.create(
                    "sqlite+pysqlcipher", password=f"x'{keyring.db_key}'", database=str(path)
                )
            else:  # benchmarks only: the "encryption off" comparison
                sa_url = URL.create("sqlite+pysqlite", database=str(path))
            # a pool of real connections (SQLAlchemy's SQLite default, one per thread up to 5, breaks with more
            # threads than that); each connection is keyed and set up by the connect event below
            self.engine: Engine = create_engine(sa_url, echo=echo, poolclass=QueuePool, pool_size=8, max_overflow=24)
            self.kind = "sqlite"
            self._sqlite_events()
        else:
            assert url is not None
            parsed = make_url(url)
            if parsed.drivername in ("postgresql", "postgres"):
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self.kind = parsed.get_backend_name()
        self.engine.dialect.medbill_cipher = self.cipher  # type: ignore[attr-defined]
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings: Settings, *, create_keys: bool = True) -> Database:
        key_file = settings.key_file or settings.home / "keys.json"
        ring = load_or_create_keyring(key_file, db_key_override=settings.db_key, create=create_keys)
        anchor = settings.audit_anchor or settings.home / "audit-anchor.json"
        if settings.database_url:
            return cls(keyring=ring, url=settings.database_url, audit_anchor=anchor)
        return cls(keyring=ring, path=settings.database_path or settings.home / "medbill.db", audit_anchor=anchor)

    def _sqlite_events(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # take over transaction control from the driver (SQLAlchemy's recipe for SQLite)
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Any) -> None:
            if conn.get_execution_options().get("medbill_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

    # ------------------------------------------------------------------ sessions
    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back at the end: nothing it did is kept)."""
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed once at the end, rolled back entirely on any error."""
        with self._sessions() as session:
            session.connection(execution_options={"medbill_write": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    # ------------------------------------------------------------------ schema
    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic (from an empty database too)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        log.info("database schema at %s", revision)

    def dispose(self) -> None:
        self.engine.dispose()

"""Settings from the environment (prefix ``MEDBILL_``), read in one place.

The domain packages never read the environment: the CLI/API pass paths in explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _home() -> Path:
    raw = os.environ.get("MEDBILL_HOME")
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "medbill"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path  # MEDBILL_HOME: where medbill keeps its files
    refdata_path: Path  # MEDBILL_REFDATA: the reference store (SQLite, no PHI)
    source_dir: Path | None  # MEDBILL_SOURCE_DIR: official release files (CMS/CDC) to build from
    download_dir: Path  # where `medbill data fetch` puts what it downloads
    database_url: str | None = None  # MEDBILL_DATABASE_URL: PostgreSQL in production; None = SQLCipher file
    database_path: Path | None = None  # the SQLCipher file when database_url is unset (home/medbill.db)
    key_file: Path | None = None  # MEDBILL_KEY_FILE: keys outside the database (home/keys.json)
    db_key: str | None = None  # MEDBILL_DB_KEY: the SQLCipher key (hex) instead of the key file's
    audit_anchor: Path | None = None  # MEDBILL_AUDIT_ANCHOR: audit chain heads kept outside the database

    @classmethod
    def from_env(cls) -> Settings:
        home = _home()
        ref = os.environ.get("MEDBILL_REFDATA")
        src = os.environ.get("MEDBILL_SOURCE_DIR")
        return cls(
            home=home,
            refdata_path=Path(ref).expanduser() if ref else home / "refdata.sqlite",
            source_dir=Path(src).expanduser() if src else None,
            download_dir=home / "sources",
            database_url=os.environ.get("MEDBILL_DATABASE_URL") or None,
            database_path=home / "medbill.db",
            key_file=Path(os.environ["MEDBILL_KEY_FILE"]).expanduser()
            if os.environ.get("MEDBILL_KEY_FILE")
            else home / "keys.json",
            db_key=os.environ.get("MEDBILL_DB_KEY") or None,
            audit_anchor=Path(os.environ["MEDBILL_AUDIT_ANCHOR"]).expanduser()
            if os.environ.get("MEDBILL_AUDIT_ANCHOR")
            else home / "audit-anchor.json",
        )

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
        )

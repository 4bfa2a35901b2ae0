"""Developers' tool: regenerate the (still unreleased) initial Alembic migration from the models.

Until the first release, the schema has one migration, ``0001``; after a model change run
``python scripts/regen_migration.py``. After a release, add new revisions instead
(``alembic revision --autogenerate`` through Database.migrate's configuration).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from medbill.store.db import MIGRATIONS, Database
from medbill.store.keys import KeyRing


def main() -> int:
    target = MIGRATIONS / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(keyring=KeyRing.generate(), path=Path(tmp) / "empty.db")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
        db.dispose()
    text = target.read_text().replace("Revises: \n", "Revises: (none)\n")
    target.write_text(text)
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(target)], check=False)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

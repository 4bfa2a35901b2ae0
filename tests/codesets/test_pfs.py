"""Physician Fee Schedule: the PPRRVU and GPCI files, and the payment formula.

``data/rvu_file_cms_layout_sample.csv`` is the ten header lines and nine data rows of the RVU26C
``PPRRVU2026_Jul_nonQPP`` file (descriptors blanked for CPT codes, as in MEDBILL_SOURCE_DIR).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from medbill.codesets.pfs import parse_gpci_file, parse_rvu_file, price
from medbill.codesets.records import GpciRow, RvuRow
from medbill.core.errors import SourceFileError

DATA = Path(__file__).parent / "data"
RVU_SAMPLE = DATA / "rvu_file_cms_layout_sample.csv"
RVU_NAME = "PPRRVU2026_Jul_nonQPP_no_cpt_descriptors.csv"
CPT_LIKE = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "D")


def _by_key(rows: list[RvuRow]) -> dict[tuple[str, str], RvuRow]:
    return {(r.code, r.modifier): r for r in rows}


# --- RVU file -------------------------------------------------------------------------------


def test_rvu_sample_fields_and_attrs() -> None:
    rows = _by_key(list(parse_rvu_file(RVU_SAMPLE)))
    assert len(rows) == 9
    office = rows["99213", ""]
    assert (office.status, office.global_days) == ("A", "XXX")
    assert (office.work_rvu, office.nonfacility_pe_rvu, office.facility_pe_rvu, office.mp_rvu) == (
        Decimal("1.30"),
        Decimal("1.46"),
        Decimal("0.33"),
        Decimal("0.09"),
    )
    assert office.conversion_factor == Decimal("33.4009")
    assert office.attrs["non_facility_total"] == "2.85" and office.attrs["facility_total"] == "1.72"
    assert office.attrs["pctc_ind"] == "0" and office.attrs["endo_base"] is None
    assert "description" not in office.attrs
    knee = rows["27447", ""]
    assert knee.global_days == "090"
    assert {k: knee.attrs[k] for k in ("mult_proc", "bilat_surg", "asst_surg", "co_surg", "team_surg")} == {
        "mult_proc": "2",
        "bilat_surg": "1",
        "asst_surg": "2",
        "co_surg": "1",
        "team_surg": "0",
    }
    assert (knee.attrs["pre_op"], knee.attrs["intra_op"], knee.attrs["post_op"]) == ("0.10", "0.69", "0.21")
    assert knee.attrs["non_fac_na_indicator"] is True and knee.attrs["facility_na_indicator"] is False
    chest_tc = rows["71046", "TC"]
    assert chest_tc.work_rvu == Decimal("0.00") and chest_tc.attrs["pctc_ind"] == "1"
    assert chest_tc.attrs["physician_supervision_of_diagnostic_procedures"] == "01"
    assert chest_tc.attrs["non_facility_pe_used_for_opps_payment_amount"] == "2.62"
    assert rows["45378", "53"].work_rvu == Decimal("1.59")
    assert rows["22526", ""].attrs["not_used_for_medicare_payment"] is True
    assert rows["22526", ""].status == "N"
    # HCPCS Level II descriptions are kept, CPT descriptors never
    assert rows["G0439", ""].attrs["description"] == "Ppps, subseq visit"


def test_rvu_real_file(source_dir: Path) -> None:
    rows = list(parse_rvu_file(source_dir / "mpfs-2026" / RVU_NAME))
    assert len(rows) == 19_356
    assert {r.conversion_factor for r in rows} == {Decimal("33.4009")}
    assert Counter(r.modifier for r in rows) == {"": 17_095, "26": 1_138, "TC": 1_119, "53": 4}
    assert Counter(r.global_days for r in rows)["090"] == 3_779
    by_key = _by_key(rows)
    assert len(by_key) == len(rows)  # one row per code and modifier
    assert by_key["99214", ""].work_rvu == Decimal("1.92")
    assert by_key["88305", "26"].attrs["pctc_ind"] == "1"
    # the file's own totals are the sums of its RVUs, on every row
    for r in rows:
        assert r.work_rvu + r.nonfacility_pe_rvu + r.mp_rvu == Decimal(r.attrs["non_facility_total"]), r.code
        assert r.work_rvu + r.facility_pe_rvu + r.mp_rvu == Decimal(r.attrs["facility_total"]), r.code
    # no descriptor is kept for a CPT (numeric / category II-III / PLA) or dental code
    assert not [r.code for r in rows if r.code.startswith(CPT_LIKE) and "description" in r.attrs]


def _rvu_broken(tmp_path: Path, old: str, new: str) -> Path:
    text = RVU_SAMPLE.read_text(encoding="latin-1")
    assert old in text
    path = tmp_path / "PPRRVU_broken.csv"
    path.write_text(text.replace(old, new, 1), encoding="latin-1", newline="")
    return path


# header lines 1-10; data rows from line 11 in file order: 22526, 27447, 45378, 45378-53,
# 71046, 71046-26, 71046-TC, 99213, G0439
@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ("99213,,,A,,1.30,", "99213,,,A,,1.3O,", 18, "WORK RVU"),
        ("27447,,,A,,19.11,11.58,NA,", "27447,,,A,,19.11,11.58,N/A,", 12, "NON-FAC NA INDICATOR"),
        ("45378,53,", "45378,5,", 14, "MOD"),
        ("33.4009,01,0,99,2.62", "33.4O09,01,0,99,2.62", 17, "CONV FACTOR"),
        (
            "99213,,,A,,1.30,1.46,,0.33,,0.09,2.85,1.72,0,XXX",
            "99213,,,A,,1.30,1.46,,0.33,,0.09,2.85,1.72,0,XX",
            18,
            "GLOB DAYS",
        ),
        ('G0439,,"Ppps, subseq visit",A', 'G0439,,"Ppps, subseq visit",', 19, "STATUS CODE"),
        ("22526,,,N,+,5.70", "22526,,,N,+,5.70,1", 11, "columns"),
    ],
)
def test_rvu_bad_rows(tmp_path: Path, old: str, new: str, line: int, field: str) -> None:
    path = _rvu_broken(tmp_path, old, new)
    with pytest.raises(SourceFileError) as info:
        list(parse_rvu_file(path))
    assert (info.value.path, info.value.line, info.value.field) == (str(path), line, field)


def test_rvu_missing_column(tmp_path: Path) -> None:
    path = _rvu_broken(tmp_path, ",GLOB,", ",GLOBAL,")
    with pytest.raises(SourceFileError, match="GLOB DAYS") as info:
        list(parse_rvu_file(path))
    assert (info.value.line, info.value.field) == (10, "header")


# --- GPCI -----------------------------------------------------------------------------------


def test_gpci_real_file(source_dir: Path) -> None:
    rows = list(parse_gpci_file(source_dir / "mpfs-2026" / "GPCI2026.csv"))
    assert len(rows) == 98
    assert rows[0] == GpciRow("10112", "AL", "00", "ALABAMA", Decimal("1.000"), Decimal("0.875"), Decimal("0.566"))
    by_key = {(r.mac, r.state, r.locality): r for r in rows}
    assert len(by_key) == 98  # (MAC, locality) alone repeats: 05102 00 is CT and IA
    assert by_key["02102", "AK", "01"].name == "ALASKA"  # footnote mark dropped
    assert by_key["02102", "AK", "01"].work == Decimal("1.500")
    assert by_key["01112", "CA", "05"].name.startswith("SAN FRANCISCO-OAKLAND-BERKELEY")
    assert sum(1 for r in rows if r.state == "CA") == 20


def test_gpci_bad_rows(tmp_path: Path) -> None:
    header = (
        "ADDENDUM E. FINAL CY 2026 GEOGRAPHIC PRACTICE COST INDICES (GPCIs),,,,,,\n,,,,,,\n"
        "Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,"
        "2026 PW GPCI (with 1.0 Floor)***,2026 PE GPCI,2026 MP GPCI\n"
    )
    good = "13202,NY,01,MANHATTAN,1.063,1.318,1.285\n"
    path = tmp_path / "GPCI.csv"
    path.write_text(header + good + ",,,,,,\n*Footnote,,,,,,\n", encoding="latin-1")
    assert [r.name for r in parse_gpci_file(path)] == ["MANHATTAN"]
    path.write_text(header + good + "13202,NY,02,NYC SUBURBS/LONG ISLAND,1.05x,1.3,1.2\n", encoding="latin-1")
    with pytest.raises(SourceFileError) as info:
        list(parse_gpci_file(path))
    assert (info.value.line, info.value.field) == (5, "2026 PW GPCI (WITH 1.0 FLOOR)***")
    path.write_text(header + "1320,NY,01,MANHATTAN,1.063,1.318,1.285\n", encoding="latin-1")
    with pytest.raises(SourceFileError, match="MAC") as info:
        list(parse_gpci_file(path))
    assert info.value.line == 4
    path.write_text(header.replace("PE GPCI", "PRACTICE GPCI"), encoding="latin-1")
    with pytest.raises(SourceFileError, match="PE GPCI"):
        list(parse_gpci_file(path))


# --- price ----------------------------------------------------------------------------------


def test_price_99213_manhattan(source_dir: Path) -> None:
    rvu = _by_key(list(parse_rvu_file(source_dir / "mpfs-2026" / RVU_NAME)))["99213", ""]
    gpci = next(
        g for g in parse_gpci_file(source_dir / "mpfs-2026" / "GPCI2026.csv") if (g.mac, g.locality) == ("13202", "01")
    )
    assert (gpci.name, gpci.work, gpci.pe, gpci.mp) == (
        "MANHATTAN",
        Decimal("1.063"),
        Decimal("1.318"),
        Decimal("1.285"),
    )
    # non-facility: (1.30 x 1.063 + 1.46 x 1.318 + 0.09 x 1.285) x 33.4009
    #             = (1.3819 + 1.92428 + 0.11565) x 33.4009 = 3.42183 x 33.4009 = 114.292201647
    assert Decimal("1.30") * Decimal("1.063") + Decimal("1.46") * Decimal("1.318") + Decimal("0.09") * Decimal(
        "1.285"
    ) == Decimal("3.42183")
    assert Decimal("3.42183") * Decimal("33.4009") == Decimal("114.292201647")
    assert price(rvu, gpci, facility=False) == Decimal("114.29")
    # facility: (1.3819 + 0.33 x 1.318 + 0.11565) x 33.4009 = 1.93249 x 33.4009 = 64.546905241
    assert Decimal("1.93249") * Decimal("33.4009") == Decimal("64.546905241")
    assert price(rvu, gpci, facility=True) == Decimal("64.55")
    # with every GPCI at 1 the formula gives the national amount: NON-FACILITY TOTAL x CF
    one = GpciRow("00000", "US", "00", "NATIONAL", Decimal(1), Decimal(1), Decimal(1))
    assert price(rvu, one, facility=False) == Decimal("95.19")  # 2.85 x 33.4009 = 95.192565


def test_price_rounds_half_up_to_cents() -> None:
    rvu = RvuRow("99999", "", "A", Decimal("1"), Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0.125"), "XXX")
    one = GpciRow("00000", "US", "00", "X", Decimal(1), Decimal(1), Decimal(1))
    assert price(rvu, one, facility=False) == Decimal("0.13")  # banker's rounding would give 0.12
    assert price(rvu, one, facility=False).as_tuple().exponent == -2

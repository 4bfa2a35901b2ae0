"""CMS-1500 (02/12): each item of the claim lands in its box, read back from the PDF with pypdf."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medbill.cli import paper as paper_cli
from medbill.core.claim import (
    Address,
    Claim,
    Diagnosis,
    DiagnosisRole,
    ServiceLine,
    claims_to_json,
    example_claims,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.money import money, sum_money
from medbill.paper import PaperFormError, cms1500_pages, render_cms1500
from medbill.paper.cms1500 import GRID
from tests.paper import caption, cells, fonts, pages, under

OFFICE, DEPENDENT, SECONDARY, OUTPATIENT, INPATIENT, REPLACEMENT = example_claims()

TWELVE = ("M17.11", "E11.9", "I10", "E78.5", "I25.10", "J45.909", "K21.9", "N39.0", "R07.9", "Z79.4", "G47.33", "F41.1")


def _big_claim() -> Claim:
    """12 diagnoses and 14 lines: three forms (6 + 6 + 2 lines)."""
    diagnoses = tuple(
        Diagnosis(
            code=Code.parse(code, system=CodeSystem.ICD10CM),
            role=DiagnosisRole.PRINCIPAL if i == 0 else DiagnosisRole.OTHER,
        )
        for i, code in enumerate(TWELVE)
    )
    lines = tuple(
        ServiceLine(
            line_number=i + 1,
            procedure=Code.parse(f"{99211 + i % 5}", system=CodeSystem.CPT),
            charge=money(f"{100 + 7 * i}.{i:02d}"),
            diagnosis_pointers=(i % 12 + 1,),
            service_date=dt.date(2025, 3, 1 + i),
        )
        for i in range(14)
    )
    return replace(OFFICE, id="TESTPCN0014", diagnoses=diagnoses, lines=lines)


def _render(claim: Claim, *, form: bool = True) -> list[dict[tuple[int, int], str]]:
    return [cells(runs, GRID) for runs in pages(render_cms1500([claim], form=form))]


# ---------------------------------------------------------------------------------------------------
# Items by grid cell (what a pre-printed form needs)


def test_dependent_claim_items() -> None:
    page = _render(DEPENDENT)[0]
    expected = {
        (3, 41): "TEST COMMERCIAL HEALTH PLAN",  # carrier block
        (4, 41): "PO BOX 1000",
        (5, 41): "ANYTOWN MD 21244",
        (9, 31): "X",  # 1: group health plan (filing indicator CI)
        (9, 50): "TESTMEMBER02",  # 1a
        (11, 1): "TESTPATIENT, FOXTROT",  # 2
        (11, 31): "06",  # 3: 06 15 2018
        (11, 34): "15",
        (11, 37): "2018",
        (11, 42): "X",  # 3: male
        (11, 50): "TESTPARENT, BRAVO",  # 4
        (13, 1): "1 TESTPATIENT LANE APT 2",  # 5
        (13, 42): "X",  # 6: child
        (15, 1): "ANYTOWN",
        (15, 26): "MD",
        (17, 1): "21244",
        (19, 50): "TESTGRP02",  # 11
        (21, 41): "X",  # 10a no
        (23, 41): "X",  # 10b no
        (25, 35): "X",  # 10c yes (other accident)
        (21, 53): "09",  # 11a
        (21, 59): "1985",
        (21, 68): "X",
        (27, 57): "X",  # 11d no
        (31, 6): "SIGNATURE ON FILE",  # 12
        (31, 56): "SIGNATURE ON FILE",  # 13
        (33, 31): "439",  # 15 accident date
        (33, 37): "04",
        (33, 40): "02",
        (33, 43): "25",
        (35, 1): "DN",  # 17
        (35, 4): "ECHO TESTREFERRER",
        (35, 33): "1999900032",  # 17b
        (38, 42): "0",  # 21 ICD indicator
        (39, 3): "S0181XA",
        (39, 16): "W010XXA",
        (39, 29): "Z23",
        (41, 50): "TESTAUTH01",  # 23
        (48, 1): "N400000000001 ML0.5",  # 24 shaded, line 3: NDC
        (49, 25): "90715",
        (49, 45): "C",
        (49, 53): "65",
        (49, 56): "25",
        (57, 1): "990000001",  # 25
        (57, 19): "X",  # EIN
        (57, 23): "TESTPCN0002",  # 26
        (57, 38): "X",  # 27 yes
        (57, 54): "420",  # 28: 420 25
        (57, 58): "25",
        (61, 1): "SIGNATURE ON FILE",  # 31
        (58, 66): "555",  # 33 phone
        (58, 70): "5550100",
        (59, 50): "TESTCLINIC FAMILY PRACTICE",
        (60, 50): "100 TEST AVENUE",
        (61, 50): "ANYTOWN MD 212440001",
        (62, 51): "1999900016",  # 33a
        (62, 62): "ZZ207Q00000X",  # 33b
    }
    for cell, text in expected.items():
        assert page.get(cell) == text, (cell, page.get(cell), text)
    # item 24, line 1: dates, POS, CPT, modifier, pointers A B, charge 120 00, 1 unit, rendering NPI
    row = {col: page[(45, col)] for col in (1, 4, 7, 10, 13, 16, 19, 25, 33, 45, 52, 56, 59, 68)}
    assert row == {
        1: "04", 4: "02", 7: "25", 10: "04", 13: "02", 16: "25", 19: "11", 25: "99213",
        33: "25", 45: "AB", 52: "120", 56: "00", 59: "1", 68: "1999900024",
    }  # fmt: skip
    assert (44, 1) not in page  # no supplemental information on line 1
    assert not any(line == 1 for line, _ in page)  # one form: no "PAGE n OF m"
    assert (29, 1) not in page and (22, 50) not in page  # nothing outside the data lines


def test_secondary_claim_cob_items() -> None:
    page = _render(SECONDARY)[0]
    assert page[(9, 1)] == "X"  # Medicare
    assert page[(11, 1)] == "TESTPATIENT, GOLF, H"  # middle initial after a comma
    assert page[(13, 33)] == "X"  # self
    assert page[(19, 1)] == "TESTPATIENT, GOLF, H"  # 9: other insured
    assert page[(21, 1)] == "TESTGRP03"  # 9a
    assert page[(27, 1)] == "TEST COMMERCIAL HEALTH PLAN"  # 9d: the other payer
    assert page[(27, 52)] == "X"  # 11d yes
    assert (19, 50) not in page  # 11: no group number for Medicare
    assert (page[(57, 64)], page[(57, 68)]) == ("142", "00")  # 29: what the primary paid
    assert (page[(57, 54)], page[(57, 58)]) == ("300", "00")  # 28
    assert page[(48, 1)] == "N400000000002 ML1   ZZTESTDRUG 10 MG INJECTION"  # NDC and NOC description
    assert page[(49, 25)] == "J3490"


def test_replacement_claim_item_22() -> None:
    page = _render(REPLACEMENT)[0]
    assert page[(39, 50)] == "7"
    assert page[(39, 62)] == "TESTICN000001"
    assert page[(37, 1)] == "CORRECTED MODIFIER"  # 19
    assert page[(33, 16)] == "431" and page[(33, 2)] == "02" and page[(33, 5)] == "01"  # 14 onset 02 01 25
    assert page[(45, 33)] == "25" and page[(47, 33)] == "59" and page[(47, 36)] == "RT"
    assert (39, 50) not in _render(OFFICE)[0]  # an original claim has no 22


# ---------------------------------------------------------------------------------------------------
# Items under their captions (what the facsimile shows)


def test_data_sits_under_its_caption() -> None:
    runs = pages(render_cms1500([DEPENDENT]))[0]
    assert under(runs, caption(runs, "2. PATIENT'S NAME"), columns=29, lines=2) == ["TESTPATIENT, FOXTROT"]
    assert under(runs, caption(runs, "1a. INSURED'S I.D."), columns=29, lines=2) == ["TESTMEMBER02"]
    assert under(runs, caption(runs, "23. PRIOR AUTH"), columns=29, lines=2) == ["TESTAUTH01"]
    assert under(runs, caption(runs, "26. PATIENT'S ACCOUNT"), columns=14, lines=2) == ["TESTPCN0002"]
    assert under(runs, caption(runs, "28. TOTAL CHARGE"), columns=10, lines=2) == ["420", "25"]
    assert under(runs, caption(runs, "17. NAME OF REFERRING"), columns=27, lines=2) == ["DN", "ECHO TESTREFERRER"]


def test_diagnoses_under_item_21_in_a_to_l_order() -> None:
    runs = pages(render_cms1500([_big_claim()]))[0]
    got = under(runs, caption(runs, "21. DIAGNOSIS"), columns=48, lines=4)
    assert got == ["0", *(code.replace(".", "") for code in TWELVE)]  # ICD Ind. then A..L, no decimal point
    box = [r for r in runs if not r.is_data and GRID.y(42) < r.y < GRID.y(39)]  # lines 39-41
    letters = [r.text for r in sorted(box, key=lambda r: (-round(r.y), r.x)) if re.fullmatch(r"[A-L]\.", r.text)]
    assert letters == [f"{c}." for c in "ABCDEFGHIJKL"]


# ---------------------------------------------------------------------------------------------------
# Pages and totals


def test_fourteen_lines_make_three_forms_with_the_total_on_the_last() -> None:
    claim = _big_claim()
    assert cms1500_pages(claim) == 3
    forms = _render(claim)
    assert len(forms) == 3
    charges = []
    for n, page in enumerate(forms, start=1):
        assert page[(1, 68)] == f"PAGE {n} OF 3"
        mains = [45 + 2 * k for k in range(6) if (45 + 2 * k, 25) in page]
        assert len(mains) == (6, 6, 2)[n - 1]
        for line in mains:
            charges.append(Decimal(f"{page[(line, 52)]}.{page[(line, 56)]}"))
        assert page[(57, 23)] == "TESTPCN0014"  # each form is a whole claim form
        assert page[(39, 3)] == "M1711"
    total = sum_money(charges)
    assert total == claim.total_charge == Decimal("2037.91")
    assert all((57, 58) not in page for page in forms[:2])  # no total on forms 1 and 2
    assert (forms[2][(57, 53)], forms[2][(57, 58)]) == ("2037", "91")
    # line dates follow the claim's order across forms
    assert [forms[1][(45, 4)], forms[2][(47, 4)]] == ["07", "14"]


def test_money_is_right_aligned_in_dollar_and_cent_columns() -> None:
    lines = (
        replace(OFFICE.lines[0], charge=money("5.07")),
        replace(OFFICE.lines[1], charge=money("12345.60")),
    )
    page = _render(replace(OFFICE, lines=lines))[0]
    assert (page[(45, 54)], page[(45, 56)]) == ("5", "07")
    assert (page[(47, 50)], page[(47, 56)]) == ("12345", "60")
    assert (page[(57, 52)], page[(57, 58)]) == ("12350", "67")  # dollars end in column 56 too


# ---------------------------------------------------------------------------------------------------
# Text rules


def test_names_and_addresses_upper_case_without_punctuation() -> None:
    assert DEPENDENT.patient is not None
    messy = replace(
        DEPENDENT,
        patient=replace(
            DEPENDENT.patient,
            last_name="o'Brien-Smith",
            first_name="José",
            middle_name="q.",
            suffix="jr.",
            address=Address(line1="123 n. Main St., #101", city="St. Louis", state="mo", zip="63101-1234"),
        ),
        coverage=replace(
            DEPENDENT.coverage, subscriber=replace(DEPENDENT.subscriber, last_name="O'NEIL*SMITH~JR", first_name="Zoë")
        ),
    )
    page = _render(messy)[0]
    assert page[(11, 1)] == "OBRIEN-SMITH JR, JOSE, Q"
    assert page[(11, 50)] == "ONEIL SMITH JR, ZOE"  # X12 delimiters in a name become spaces
    assert page[(13, 1)] == "123 N MAIN ST 101"
    assert (page[(15, 1)], page[(15, 26)], page[(17, 1)]) == ("ST LOUIS", "MO", "631011234")
    for cell in ((11, 1), (11, 50), (19, 1)):
        if cell in page:  # names: parts separated by ", ", nothing else but letters, digits, spaces, hyphens
            assert re.fullmatch(r"[A-Z0-9 \-]+(, [A-Z0-9 \-]+)*", page[cell]), page[cell]
    for cell in ((13, 1), (13, 50), (15, 1), (15, 50), (59, 50), (60, 50), (61, 50), (3, 41), (4, 41), (5, 41)):
        assert re.fullmatch(r"[A-Z0-9 ]+", page[cell]), page[cell]
    assert not any(ch.islower() for text in page.values() for ch in text)


def test_data_only_mode_draws_no_form() -> None:
    pdf = render_cms1500([SECONDARY], form=False)
    runs = pages(pdf)[0]
    assert fonts(runs) == {"/Courier"}
    assert not any("PATIENT" in r.text and "'" in r.text for r in runs)
    assert cells(runs, GRID) == _render(SECONDARY)[0]  # the same data in the same cells as the facsimile
    facsimile = pages(render_cms1500([SECONDARY]))[0]
    assert {"/Courier", "/Helvetica", "/Helvetica-Bold"} <= fonts(facsimile)
    assert caption(facsimile, "21. DIAGNOSIS").font == "/Helvetica"


def test_several_claims_several_forms() -> None:
    forms = _render(OFFICE) + _render(DEPENDENT)
    both = [cells(runs, GRID) for runs in pages(render_cms1500([OFFICE, DEPENDENT]))]
    assert both == forms
    assert [f[(57, 23)] for f in both] == ["TESTPCN0001", "TESTPCN0002"]
    assert render_cms1500([OFFICE, DEPENDENT]) == render_cms1500([OFFICE, DEPENDENT])  # no timestamps, stable ids


# ---------------------------------------------------------------------------------------------------
# Errors


def test_institutional_claim_is_refused_with_its_id() -> None:
    with pytest.raises(PaperFormError) as err:
        render_cms1500([OFFICE, OUTPATIENT])
    assert err.value.claim_id == "TESTPCN0004"
    assert "TESTPCN0004" in err.value.message and "institutional" in err.value.message
    assert err.value.to_dict()["error"] == "paper_form_error"


def test_more_than_twelve_diagnoses_is_refused() -> None:
    extra = Diagnosis(code=Code.parse("R51.9", system=CodeSystem.ICD10CM))
    claim = _big_claim()
    with pytest.raises(PaperFormError, match=r"TESTPCN0014.*13 diagnoses"):
        render_cms1500([replace(claim, diagnoses=(*claim.diagnoses, extra))])


# ---------------------------------------------------------------------------------------------------
# CLI


def _cli() -> click.Group:
    group = click.Group("medbill")
    paper_cli.register(group)
    return group


def test_cli_writes_the_pdf(tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(claims_to_json([OFFICE, _big_claim()]))
    out = tmp_path / "out.pdf"
    res = CliRunner().invoke(_cli(), ["paper", "cms1500", str(claims), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {
        "form": "cms1500", "output": str(out), "claims": 2, "pages": 4, "data_only": False,
    }  # fmt: skip
    assert len(pages(out.read_bytes())) == 4
    res = CliRunner().invoke(_cli(), ["paper", "cms1500", str(claims), "-o", str(out), "--data-only"])
    assert res.exit_code == 0 and "wrote 4 page(s) for 2 claim(s)" in res.output
    assert all(fonts(runs) == {"/Courier"} for runs in pages(out.read_bytes()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.json", "out.pdf"]  # no temporary file left


def test_cli_refuses_an_institutional_claim_and_writes_nothing(tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(claims_to_json([OFFICE, INPATIENT]))
    out = tmp_path / "out.pdf"
    res = CliRunner().invoke(_cli(), ["paper", "cms1500", str(claims), "-o", str(out)])
    assert res.exit_code == 2
    assert "TESTPCN0005" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(_cli(), ["paper", "cms1500", str(claims), "-o", str(out), "--json"])
    assert json.loads(res.output)["claim_id"] == "TESTPCN0005"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.json"]


def test_cli_bad_claims_file(tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text('{"claims": [{"id": 1}]}')
    res = CliRunner().invoke(_cli(), ["paper", "cms1500", str(claims), "-o", str(tmp_path / "x.pdf")])
    assert res.exit_code == 2 and "claims[0].id" in res.output
    assert not (tmp_path / "x.pdf").exists()

"""UB-04 (CMS-1450): each form locator of the claim lands in its box, read back from the PDF with pypdf."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medbill.cli import paper as paper_cli
from medbill.core.claim import (
    Claim,
    ClaimFrequency,
    Diagnosis,
    DiagnosisRole,
    OccurrenceSpan,
    OtherPayer,
    Responsibility,
    ServiceLine,
    ValueCode,
    claims_to_json,
    example_claims,
)
from medbill.core.codes import Code, CodeSystem
from medbill.core.money import money, sum_money
from medbill.paper import PaperFormError, render_ub04, ub04_pages
from medbill.paper.ub04 import GRID
from tests.paper import caption, cells, fonts, pages, under

OFFICE, DEPENDENT, SECONDARY, OUTPATIENT, INPATIENT, REPLACEMENT = example_claims()


def _render(claim: Claim, *, form: bool = True) -> list[dict[tuple[int, int], str]]:
    return [cells(runs, GRID) for runs in pages(render_ub04([claim], form=form))]


def _long_claim(n: int) -> Claim:
    lines = tuple(
        ServiceLine(
            line_number=i + 1,
            revenue_code=Code.parse("0300", system=CodeSystem.REVENUE),
            procedure=Code.parse(f"{85000 + i}", system=CodeSystem.CPT),
            charge=money(f"{10 * (i + 1)}.{i % 100:02d}"),
            service_date=dt.date(2025, 6, 14),
        )
        for i in range(n)
    )
    return replace(OUTPATIENT, id="TESTPCN0030", lines=lines)


# ---------------------------------------------------------------------------------------------------
# Form locators by grid cell


def test_inpatient_claim_locators() -> None:
    page = _render(INPATIENT)[0]
    expected = {
        (2, 2): "TESTHOSPITAL GENERAL",  # FL1
        (3, 1): "500 TEST HOSPITAL DRIVE",
        (4, 1): "ANYTOWN MD 212440005",
        (2, 54): "TESTPCN0005",  # FL3a
        (3, 54): "TESTMRN0005",  # FL3b
        (3, 78): "0111",  # FL4
        (5, 51): "99-0000010",  # FL5
        (5, 62): "070125",  # FL6
        (5, 69): "070425",
        (7, 2): "TESTPATIENT, GOLF, H",  # FL8b
        (6, 42): "1 TESTPATIENT LANE APT 2",  # FL9a
        (7, 32): "ANYTOWN",
        (7, 65): "MD",
        (7, 69): "21244",
        (9, 1): "01201955",  # FL10 MMDDYYYY
        (9, 10): "M",  # FL11
        (9, 13): "070125",  # FL12
        (9, 19): "22",  # FL13
        (9, 22): "1",  # FL14
        (9, 25): "7",  # FL15
        (9, 28): "11",  # FL16
        (9, 31): "01",  # FL17
        (11, 1): "11",  # FL31a
        (11, 5): "070125",
        (13, 3): "TEST MEDICARE PART A",  # FL38
        (14, 44): "80",  # FL39a: covered days, a count left of the cents
        (14, 54): "3",
        (19, 1): "0120",  # FL42
        (19, 59): "3",  # FL46 right-aligned
        (19, 64): "5400",  # FL47 5400 | 00
        (19, 68): "00",
        (20, 1): "0250",
        (20, 58): "12",
        (20, 65): "912",
        (20, 68): "15",
        (22, 1): "0481",
        (22, 63): "18250",
        (41, 1): "0001",  # line 23
        (41, 14): "1",
        (41, 20): "1",
        (41, 63): "25202",
        (41, 68): "15",
        (42, 68): "1999900107",  # FL56
        (43, 1): "TEST MEDICARE PART A",  # FL50A
        (43, 24): "TESTMA001",  # FL51
        (43, 39): "Y",  # FL52
        (43, 42): "Y",  # FL53
        (47, 1): "TESTPATIENT, GOLF, H",  # FL58
        (47, 27): "18",  # FL59
        (47, 30): "TESTMBI0001",  # FL60
        (55, 1): "0",  # FL66
        (54, 2): "I214",  # FL67 + POA
        (54, 9): "Y",
        (54, 10): "I2510",  # 67A
        (54, 17): "Y",
        (54, 18): "E119",
        (54, 26): "N390",
        (54, 33): "N",
        (54, 34): "Z794",  # exempt: no POA printed
        (56, 5): "R079",  # FL69
        (58, 1): "027034Z",  # FL74
        (58, 10): "070225",
        (58, 16): "02C03ZZ",  # 74a
        (58, 25): "070225",
        (57, 59): "1999900115",  # FL76
        (58, 53): "TESTATTENDING",
        (58, 71): "INDIA",
        (59, 59): "1999900123",  # FL77
        (60, 53): "TESTSURGEON",
        (61, 27): "B3",  # FL81a
        (61, 29): "282N00000X",
    }
    for cell, text in expected.items():
        assert page.get(cell) == text, (cell, page.get(cell), text)
    assert (54, 41) not in page  # Z79.4 is POA-exempt: blank on paper
    assert (51, 1) not in page and (51, 32) not in page  # no prior authorization, original bill


def test_outpatient_claim_lines_and_reason_for_visit() -> None:
    page = _render(OUTPATIENT)[0]
    assert page[(3, 78)] == "0131"
    assert page[(19, 31)] == "9928425"  # HCPCS then its modifier
    assert [page[(19 + k, 46)] for k in range(4)] == ["061425"] * 4  # FL45 MMDDYY
    assert [page[(19 + k, 1)] for k in range(4)] == ["0450", "0300", "0320", "0730"]
    assert page[(56, 17)] == "R0789"  # FL70a
    assert page[(54, 2)] == "R0789" and page[(54, 10)] == "I10"
    assert (54, 9) not in page  # outpatient: no POA
    assert (9, 13) not in page  # no admission date
    assert page[(13, 3)] == "TEST COMMERCIAL HEALTH PLAN" and page[(14, 1)] == "PO BOX 1000"
    assert (page[(41, 64)], page[(41, 68)]) == ("1823", "75")
    assert sum_money(line.charge for line in OUTPATIENT.lines) == Decimal("1823.75")
    assert page[(47, 50)] == "TEST EMPLOYER G"  # FL61 cut to its 15 columns
    assert page[(47, 65)] == "TESTGRP01"


def test_replacement_and_cob_go_on_the_payers_lines() -> None:
    primary = OtherPayer(coverage=OUTPATIENT.coverage, paid_amount=money("20000.00"))
    claim = replace(
        INPATIENT,
        frequency=ClaimFrequency.REPLACEMENT,
        original_claim_number="TESTDCN000005",
        prior_authorization="TESTAUTH05",
        coverage=replace(INPATIENT.coverage, responsibility=Responsibility.SECONDARY),
        other_payers=(primary,),
    )
    page = _render(claim)[0]
    assert page[(3, 78)] == "0117"
    assert page[(43, 1)] == "TEST COMMERCIAL HEALTH" and page[(44, 1)] == "TEST MEDICARE PART A"  # primary first
    assert (page[(43, 47)], page[(43, 52)]) == ("20000", "00")  # FL54A prior payment
    assert (44, 47) not in page and (44, 52) not in page
    assert page[(47, 30)] == "TESTMEMBER01" and page[(48, 30)] == "TESTMBI0001"  # FL60 A and B
    assert page[(52, 1)] == "TESTAUTH05" and page[(52, 32)] == "TESTDCN000005"  # FL63B, FL64B: the payer billed
    assert (51, 1) not in page


def test_condition_codes_spans_other_providers_and_remarks() -> None:
    info = INPATIENT.institutional
    assert info is not None and DEPENDENT.referring_provider is not None
    claim = replace(
        INPATIENT,
        note="Patient transferred from Test County Hospital on day 2.",
        referring_provider=DEPENDENT.referring_provider,
        accident_state="va",
        institutional=replace(
            info,
            condition_codes=("39", "C1"),
            occurrence_spans=(
                OccurrenceSpan(code="70", date_from=dt.date(2025, 6, 1), date_to=dt.date(2025, 6, 3)),
                OccurrenceSpan(code="74", date_from=dt.date(2025, 6, 5), date_to=dt.date(2025, 6, 6)),
            ),
            drg="247",
        ),
    )
    page = _render(claim)[0]
    assert (page[(9, 34)], page[(9, 37)], page[(9, 67)]) == ("39", "C1", "VA")  # FL18, FL19, FL29
    assert (page[(11, 41)], page[(11, 45)], page[(11, 52)]) == ("70", "060125", "060325")  # FL35a
    assert (page[(11, 58)], page[(11, 62)], page[(11, 69)]) == ("74", "060525", "060625")  # FL36a
    assert page[(56, 43)] == "247"  # FL71
    assert (page[(61, 56)], page[(61, 59)]) == ("DN", "1999900032")  # FL78: referring
    assert (page[(62, 53)], page[(62, 71)]) == ("TESTREFERRER", "ECHO")
    assert (page[(61, 11)], page[(62, 1)], page[(63, 1)]) == (
        "PATIENT",
        "TRANSFERRED FROM TEST",
        "COUNTY HOSPITAL ON DAY 2",
    )


# ---------------------------------------------------------------------------------------------------
# Under the captions


def test_data_sits_under_its_caption() -> None:
    runs = pages(render_ub04([INPATIENT]))[0]
    assert under(runs, caption(runs, "42 REV. CD."), columns=5, lines=5) == ["0120", "0250", "0300", "0481"]
    assert under(runs, caption(runs, "47 TOTAL CHARGES"), columns=10, lines=3) == ["5400", "00", "912", "15"]
    assert under(runs, caption(runs, "58 INSURED'S NAME"), columns=26, lines=2) == ["TESTPATIENT, GOLF, H"]
    assert under(runs, caption(runs, "60 INSURED'S UNIQUE ID"), columns=20, lines=2) == ["TESTMBI0001"]
    assert under(runs, caption(runs, "74   PRINCIPAL"), columns=15, lines=2) == ["027034Z", "070225"]


# ---------------------------------------------------------------------------------------------------
# Pages and totals


def test_thirty_lines_make_two_forms_with_the_total_on_the_last() -> None:
    claim = _long_claim(30)
    assert ub04_pages(claim) == 2
    forms = _render(claim)
    assert len(forms) == 2
    counts = [sum(1 for (line, col) in page if col == 1 and 19 <= line <= 40) for page in forms]
    assert counts == [22, 8]
    charges = [
        Decimal(f"{page[(line, col)]}.{page[(line, 68)]}")
        for page in forms
        for (line, col) in page
        if 19 <= line <= 40 and 60 <= col <= 67
    ]
    assert sum_money(charges) == claim.total_charge == Decimal("4654.35")
    for n, page in enumerate(forms, start=1):
        assert page[(41, 1)] == "0001" and page[(41, 14)] == str(n) and page[(41, 20)] == "2"
        assert page[(2, 54)] == "TESTPCN0030"
    assert not any(line == 41 and col >= 60 for line, col in forms[0])  # no total on form 1
    assert (forms[1][(41, 64)], forms[1][(41, 68)]) == ("4654", "35")


def test_value_code_money_and_non_covered_charges() -> None:
    info = INPATIENT.institutional
    assert info is not None
    claim = replace(
        INPATIENT,
        institutional=replace(info, value_codes=(*info.value_codes, ValueCode(code="A1", amount=money("1632.00")))),
        lines=(*INPATIENT.lines[:3], replace(INPATIENT.lines[3], non_covered_charge=money("250.50"))),
    )
    page = _render(claim)[0]
    assert (page[(14, 57)], page[(14, 64)], page[(14, 68)]) == ("A1", "1632", "00")  # FL40a dollars | cents
    assert (page[(22, 75)], page[(22, 78)]) == ("250", "50")  # FL48
    assert (page[(41, 75)], page[(41, 78)]) == ("250", "50")


# ---------------------------------------------------------------------------------------------------
# Data only, errors


def test_data_only_mode_draws_no_form() -> None:
    runs = pages(render_ub04([INPATIENT], form=False))[0]
    assert fonts(runs) == {"/Courier"}
    assert cells(runs, GRID) == _render(INPATIENT)[0]
    assert "/Helvetica" in fonts(pages(render_ub04([INPATIENT]))[0])


def test_professional_claim_is_refused_with_its_id() -> None:
    with pytest.raises(PaperFormError) as err:
        render_ub04([INPATIENT, DEPENDENT])
    assert err.value.claim_id == "TESTPCN0002"
    assert "professional" in err.value.message and "UB-04" in err.value.message


def test_more_diagnoses_than_the_form_holds_is_refused() -> None:
    codes = [f"S{k:02d}.00XA" for k in range(18)]
    extra = tuple(Diagnosis(code=Code.parse(c, system=CodeSystem.ICD10CM), role=DiagnosisRole.OTHER) for c in codes)
    with pytest.raises(PaperFormError, match=r"TESTPCN0005.*22 other diagnoses.*67A-Q"):
        render_ub04([replace(INPATIENT, diagnoses=INPATIENT.diagnoses + extra)])


def test_cli_writes_the_pdf_and_refuses_the_wrong_kind(tmp_path: Path) -> None:
    group = click.Group("medbill")
    paper_cli.register(group)
    claims = tmp_path / "claims.json"
    claims.write_text(claims_to_json([OUTPATIENT, _long_claim(30)]))
    out = tmp_path / "ub.pdf"
    res = CliRunner().invoke(group, ["paper", "ub04", str(claims), "-o", str(out), "--json", "--data-only"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["pages"] == 3
    assert len(pages(out.read_bytes())) == 3
    claims.write_text(claims_to_json([OFFICE]))
    res = CliRunner().invoke(group, ["paper", "ub04", str(claims), "-o", str(tmp_path / "no.pdf")])
    assert res.exit_code == 2 and "TESTPCN0001" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.json", "ub.pdf"]

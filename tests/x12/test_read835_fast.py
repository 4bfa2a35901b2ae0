"""The 835 reader's fast pass against its grammar-based pass: identical records, or a fallback.

``read_835`` first tries a single pass specialised for the 835 loops and falls back to the grammar-based
pass (the source of every error message) at anything it does not take as the common case. The fast pass
may give up on a valid file (it is then only slower); it must never return records the grammar-based pass
would not return, nor different ones. Checked here on every shared 835 fixture, the hand-written 835s,
the payer simulator's 835s, the benchmark's file, several layouts and envelopes, and a thousand
damaged files (seeded, so a failure reproduces).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest

from medbill.core.claim import ClaimKind, example_claims
from medbill.core.errors import X12ParseError
from medbill.core.remit import ClaimPayment, ClaimStatusCode, RemitParty, Remittance, ServicePayment
from medbill.x12 import read835
from medbill.x12.envelope import CounterControlNumbers
from medbill.x12.read835 import read_835
from medbill.x12.simulate import rules_from_mapping, simulate
from medbill.x12.tokenizer import Delimiters
from medbill.x12.write837 import build_837i, build_837p
from tests.x12.test_read835 import EXPECTED, HAND_WRITTEN, WO, _bench, _data, _text, redelimit
from tests.x12.test_simulate import RULES, professional_batch
from tests.x12.test_write837 import SETTINGS, WHEN

Outcome = tuple[object, ...]


def fast(text: str, drop: frozenset[str] = frozenset()) -> Outcome:
    """("read", remittances) from the fast pass, or ("fallback",) when it gives up (by design or by error)."""
    try:
        return ("read", read835._read_835_fast(text, drop))
    except read835._Fallback:
        return ("fallback",)
    except X12ParseError:  # raised by shared checks it calls (ISA, envelopes, header grammar, values)
        return ("fallback",)


def grammar(text: str, drop: frozenset[str] = frozenset()) -> Outcome:
    try:
        return ("read", read835._read_835_grammar(text, drop))
    except X12ParseError as exc:
        return ("error", str(exc))


def public(text: str, drop: frozenset[str] = frozenset()) -> Outcome:
    try:
        return ("read", read_835(text, drop=drop))
    except X12ParseError as exc:
        return ("error", str(exc))


def assert_same_as_grammar(text: str, drop: frozenset[str] = frozenset(), *, must_be_fast: bool = False) -> None:
    f, g = fast(text, drop), grammar(text, drop)
    if f[0] == "read":
        assert g == f, "the fast pass returned records the grammar-based pass does not"
    assert public(text, drop) == g
    if must_be_fast:
        assert f[0] == "read", "the fast pass gave up on a file it should read"


# ---------------------------------------------------------------------------------------------------
# Valid files: the fast pass reads them, with the grammar-based pass's records


READ_FIXTURES = sorted(rel for rel, expected in EXPECTED.items() if expected[0] == "read")
REFUSED_FIXTURES = sorted(rel for rel, expected in EXPECTED.items() if expected[0] == "error")


@pytest.mark.parametrize("rel", READ_FIXTURES)
def test_fixture_read_by_the_fast_pass(fixtures_dir: Path, rel: str) -> None:
    assert_same_as_grammar(_text(fixtures_dir, rel), must_be_fast=True)


@pytest.mark.parametrize("rel", REFUSED_FIXTURES)
def test_refused_fixture_refused_with_the_grammar_message(fixtures_dir: Path, rel: str) -> None:
    text = _text(fixtures_dir, rel)
    assert fast(text) == ("fallback",)
    assert public(text) == grammar(text) == ("error", EXPECTED[rel][4])


def test_refused_fixture_with_its_drop_keys(fixtures_dir: Path) -> None:
    """TS3 (with the drop keys): the 2000 loop's summary goes through the grammar reader's own method."""
    text = _text(fixtures_dir, "x12/linuxforhealth-x12/835_005010X221A1__medicare-part-a.835")
    assert_same_as_grammar(text, frozenset({"TS309", "TS311"}), must_be_fast=True)
    (remit,) = read_835(text, drop={"TS309", "TS311"})
    assert remit.provider_summaries and remit.provider_summaries[0].claim_count > 0


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_hand_written_835(name: str) -> None:
    assert_same_as_grammar(_data(name), must_be_fast=True)


@functools.cache
def _simulated() -> list[str]:
    rules = rules_from_mapping({**RULES, "take_backs": {"TESTPCN0003": "10.5"}})  # 0002 is rejected by the 277CA
    professional = simulate(professional_batch(), rules, seed=7).remit_835
    institutional = [c for c in example_claims() if c.kind is ClaimKind.INSTITUTIONAL]
    batch = build_837i(institutional, SETTINGS, CounterControlNumbers(), when=WHEN).text
    claims = [c for c in example_claims() if c.kind is ClaimKind.PROFESSIONAL]
    denied = {"denials": [{"claim": claims[0].id, "carc": "29", "group": "CO"}], "copay": "15"}
    other = build_837p(claims, SETTINGS, CounterControlNumbers(), when=WHEN).text
    return [professional, simulate(batch, seed=3).remit_835, simulate(other, rules_from_mapping(denied)).remit_835]


def test_simulated_835s() -> None:
    texts = _simulated()
    for text in texts:
        assert_same_as_grammar(text, must_be_fast=True)
    remits = [r for t in texts for r in read_835(t)]
    statuses = {c.status for r in remits for c in r.claims}
    assert ClaimStatusCode.REVERSAL in statuses  # the rules reverse a claim
    assert any(r.provider_adjustments for r in remits)  # and take money back in a PLB


def test_benchmark_file(fixtures_dir: Path) -> None:
    bench = _bench()
    text = bench.build_835(_text(fixtures_dir, bench.FIXTURE), 300)
    assert_same_as_grammar(text, must_be_fast=True)
    (remit,) = read_835(text)
    assert len(remit.claims) == 300 and [c.position for c in remit.claims] == list(range(300))


@pytest.mark.parametrize(
    "change",
    [
        lambda t: "\ufeff" + t,
        lambda t: "\r\n  " + t.replace("~\n", "~\r\n"),
        lambda t: t.replace("~\n", "~"),
        lambda t: t.replace("~\n", "~ \t\n"),
        lambda t: t + "\x1a",
        lambda t: redelimit(t, Delimiters("|", "}", "'", "^")),
        lambda t: redelimit(t, Delimiters("*", ">", "\n", "^")),
        lambda t: redelimit(t, Delimiters("^", "\\", "~", "{")),
        lambda t: t + t.replace("000000102", "000000103"),
        lambda t: (t + t.replace("000000102", "000000103")).replace("~\n", "~"),
    ],
    ids=[
        "bom",
        "crlf",
        "no-breaks",
        "spaces",
        "dos-eof",
        "pipe",
        "newline-terminator",
        "caret",
        "two-isa",
        "two-isa-1",
    ],
)
def test_layouts_read_by_the_fast_pass(change: object) -> None:
    text = change(_data(WO))  # type: ignore[operator]
    assert_same_as_grammar(text, must_be_fast=True)
    (one,) = read_835(_data(WO))
    remits = read_835(text)
    assert [r.claims for r in remits] == [one.claims] * len(remits)
    assert dataclasses.replace(remits[-1], interchange_control_number=one.interchange_control_number) == one


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.rstrip("\n~"),  # the last segment without its terminator
        lambda t: redelimit(t, Delimiters("*", ".", "~", "^")),  # a component separator inside numbers
        lambda t: t + redelimit(t.replace("000000102", "000000103"), Delimiters("|", ">", "'", "^")),
    ],
    ids=["no-last-terminator", "dot-components", "other-delimiters-later"],
)
def test_unusual_layouts_go_to_the_grammar(change: object) -> None:
    text = change(_data(WO))  # type: ignore[operator]
    assert fast(text) == ("fallback",)
    assert_same_as_grammar(text)
    assert public(text)[0] == "read"


def test_rare_segments_inside_the_claims() -> None:
    """MIA/MOA, PER, QTY, LQ*RX, NM1*74/IL, REF*6R, DTM*151, SVC04-07, CLP11-13: read in the fast pass."""
    text = _data(WO)
    svc = "SVC*HC:99214*150*100**1~\nDTM*472*20260305~\n"
    extra = {
        "NM1*QC*1*DOE*JANE****MI*W123456789~\n": (
            "NM1*QC*1*DOE*JANE****MI*W123456789~\nNM1*IL*1*DOE*JOHN****MI*W1~\nNM1*74*1*DOE*JANIE~\n"
            "MOA***MA01*MA02~\nREF*1L*GROUP7~\nDTM*232*20260301~\nDTM*233*20260305~\nPER*CX*CLAIMS*TE*8005550101~\n"
            "AMT*AU*100~\nQTY*CA*2~\n"
        ),
        svc: "SVC*HC:99214:25*150*100*0450*1*HC:99215*2~\nDTM*150*20260305~\nDTM*151*20260306~\n",
        "AMT*B6*100~\n": "AMT*B6*100~\nAMT*KH*5~\nQTY*ZK*1~\nLQ*HE*N130~\nLQ*RX*70~\n",
        "ICN20260010*11*1~": "ICN20260010*11*1**470*1.5*0.5~",
    }
    for old, new in extra.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    text = "~\n".join(_recount(_segments(text))) + "~\n"
    assert_same_as_grammar(text, must_be_fast=True)
    (remit,) = read_835(text)
    claim = remit.claims[0]
    assert [p.role for p in claim.parties] == ["QC", "IL", "74"]
    assert claim.remarks == ("MA01", "MA02") and claim.drg == "470" and claim.drg_weight == Decimal("1.5")
    assert claim.statement_from is not None and claim.quantities == (("CA", Decimal("2")),)
    line = claim.services[0]
    assert line.modifiers == ("25",) and line.revenue_code == "0450" and line.submitted_procedure == "99215"
    assert line.service_date_to is not None and line.remarks == ("N130",) and line.reject_codes == ("70",)
    assert line.amounts == (("KH", Decimal("5.00")),) and line.control_number == "PCN2002-1"


def test_the_drop_keys_apply_in_the_fast_pass() -> None:
    text = _data(WO).replace("ICN20260010*11*1~", "ICN20260010*11*1*01~")
    assert fast(text) == ("fallback",)  # refused: the grammar names CLP10
    assert public(text)[0] == "error" and "CLP10" in str(public(text)[1])
    assert_same_as_grammar(text, frozenset({"CLP10"}), must_be_fast=True)


def test_a_composite_claim_date_qualifier_is_an_error_not_a_traceback() -> None:
    qc = "NM1*QC*1*DOE*JANE****MI*W123456789~\n"
    text = re.sub(r"SE\*20\*", "SE*21*", _data(WO).replace(qc, qc + "DTM*232:1*20260301~\n"))
    assert fast(text) == ("fallback",)
    with pytest.raises(X12ParseError, match="holds the component separator"):
        read_835(text)


# ---------------------------------------------------------------------------------------------------
# Damaged files: the fast pass never returns records the grammar-based pass does not


def _segments(text: str) -> list[str]:
    return [s.strip() for s in text.lstrip("\ufeff").split("~") if s.strip()]


def _recount(segs: list[str]) -> list[str]:
    out, count = [], 0
    for seg in segs:
        if seg.startswith("ST*"):
            count = 0
        count += 1
        if seg.startswith("SE*"):
            seg = re.sub(r"^SE\*[^*]*", f"SE*{count}", seg)
        out.append(seg)
    return out


QUALIFIERS = "QC IL 74 82 TT PR GB 6R B6 AU KH 472 150 151 232 233 036 050 HE RX CX BL IC EV F2 405 CA ZK 0K LU 1S XX"
DROPS = ["RDM", "CLP10", "TS309", "SVC01-7", "NM106", "CLP14", "AMT03", "CAS20"]


def _damage(rng: random.Random, segs: list[str], pool: list[str]) -> list[str]:
    segs = list(segs)
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(segs))
        action = rng.choice(
            ["drop", "repeat", "swap", "move", "insert", "insert", "char", "extra", "composite", "qual"]
        )
        parts = segs[k].split("*")
        if action == "drop" and len(segs) > 1:
            del segs[k]
        elif action == "repeat":
            segs.insert(k, segs[k])
        elif action == "swap" and k + 1 < len(segs):
            segs[k], segs[k + 1] = segs[k + 1], segs[k]
        elif action == "move":
            seg = segs.pop(k)
            segs.insert(rng.randrange(len(segs) + 1), seg)
        elif action == "insert":
            segs.insert(k, rng.choice(pool))
        elif action == "char" and segs[k]:
            i = rng.randrange(len(segs[k]))
            segs[k] = segs[k][:i] + rng.choice("*:~-.0A ^9\n") + segs[k][i + 1 :]
        elif action == "extra":
            segs[k] += rng.choice(["*X", "*", "*1", "**", "*1:2"])
        elif action == "composite" and len(parts) > 1:
            j = rng.randrange(1, len(parts))
            parts[j] += ":" + rng.choice(["", "X", "1"])
            segs[k] = "*".join(parts)
        elif action == "qual" and len(parts) > 1:
            parts[1] = rng.choice(QUALIFIERS.split())
            segs[k] = "*".join(parts)
    return _recount(segs) if rng.random() < 0.7 else segs


def _valid_835s(fixtures_dir: Path) -> list[str]:
    return [_text(fixtures_dir, rel) for rel in sorted(EXPECTED)] + [_data(n) for n in HAND_WRITTEN] + _simulated()


@pytest.mark.parametrize("seed", range(2))
def test_damaged_files(fixtures_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    texts = _valid_835s(fixtures_dir)
    pool = sorted({s for t in texts for s in _segments(t) if not s.startswith(("ISA", "GS", "GE", "IEA"))})
    read = 0
    for _ in range(500):
        sep = rng.choice(["~\n", "~", "~\r\n"])
        text = sep.join(_damage(rng, _segments(rng.choice(texts)), pool)) + sep
        if rng.random() < 0.2:
            text += rng.choice(texts)
        if rng.random() < 0.1:
            text = "\ufeff" + text
        drop = frozenset(rng.sample(DROPS, rng.randint(1, 2))) if rng.random() < 0.2 else frozenset()
        f = fast(text, drop)
        assert_same_as_grammar(text, drop)
        read += f[0] == "read"
    assert read > 20  # some damaged files stay valid (a repeated CAS, a moved REF ...) and are read fast


# ---------------------------------------------------------------------------------------------------
# The pieces


def test_records_built_by_slots_equal_records_built_by_init() -> None:
    make_claim, make_service = read835._make_claim, read835._make_service
    assert make_claim is not ClaimPayment and make_service is not ServicePayment  # the fast constructors
    d = Decimal("12.50")
    service = make_service(procedure="99213", charge=d, paid=d)
    assert service == ServicePayment(procedure="99213", charge=d, paid=d)
    assert hash(service) == hash(ServicePayment(procedure="99213", charge=d, paid=d))
    assert service.units_paid == Decimal("1") and service.procedure_qualifier == "HC" and service.remarks == ()
    party = RemitParty(role="QC", entity="1", last_name="DOE")
    kwargs: dict[str, object] = {
        "patient_control_number": "A1",
        "status": ClaimStatusCode.DENIED,
        "charge": d,
        "paid": Decimal("0.00"),
        "parties": (party,),
        "services": (service,),
        "position": 3,
    }
    claim = make_claim(**kwargs)
    assert claim == ClaimPayment(**kwargs)  # type: ignore[arg-type]
    assert [f.name for f in dataclasses.fields(claim) if getattr(claim, f.name) != f.default] == [
        "patient_control_number",
        "status",
        "charge",
        "paid",
        "services",
        "position",
        "parties",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        claim.paid = d  # type: ignore[misc]
    with pytest.raises(TypeError):
        make_claim(status=ClaimStatusCode.DENIED, charge=d, paid=d)  # CLP01 is required


def test_tables_follow_the_grammar() -> None:
    tables = read835._tables()
    assert read835._resolve(tables.own2110, "REF", "6R") == (3, 4, 1)  # slot 3, 5th definition, once
    assert read835._resolve(tables.own2110, "DTM", "472") == (1, 1, 2)
    assert read835._resolve(tables.own2110, "DTM", "232") is None  # a claim date, not a line date
    qc, gb = read835._resolve(tables.own2100, "NM1", "QC"), read835._resolve(tables.own2100, "NM1", "GB")
    assert qc is not None and gb is not None and qc[0] == gb[0] == 2 and qc[2] == gb[2] == 1 and qc[1] < gb[1]
    assert read835._resolve(tables.own2100, "SVC", "") is None and read835._resolve(tables.own2000, "TS3", "")
    assert (tables.max2110, tables.size2100, tables.size2110) == (999, 19, 10)


def test_a_file_that_cannot_be_read_returns_nothing() -> None:
    remits = read_835(_data(WO))
    assert isinstance(remits[0], Remittance)
    broken = _data(WO).replace("CAS*CO*45*50", "CAS*CO*45*5O")
    assert fast(broken) == ("fallback",)
    with pytest.raises(X12ParseError, match=r"^segment 18 CAS 2110 CAS03: '5O' is not an amount$"):
        read_835(broken)

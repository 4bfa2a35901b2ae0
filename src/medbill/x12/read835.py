"""X12 835 reader: health care claim payment/advice (005010X221A1) files into medbill remittances.

Format: the ASC X12N 005010X221A1 implementation guide (Health Care Claim Payment/Advice, "TR3",
published by X12 at x12.org; adopted under HIPAA, 45 CFR 162.1602). Loops and elements are named as in
the guide (``2100 CLP04``, ``2110 SVC01-2``). Pure text in, records out: no I/O.

``read_835(text)`` returns one ``medbill.core.remit.Remittance`` per 835 transaction set (ST..SE), in
file order, for every interchange and functional group in the file. It reads in three passes and raises
one ``X12ParseError`` at the first problem, naming the segment (``segment 21 SVC 2110 SVC01: ...``):

1. structure -- tokenizing (delimiters from the ISA; a byte-order mark, CR/LF or no line breaks are
   fine), the envelopes, then each transaction against the loop grammar below: segment order within a
   loop, repeat limits, the loops the guide requires (1000A payer, 1000B payee), segments that are not
   part of the 835;
2. control totals -- SE01/SE02, GE01/GE02, IEA01/IEA02;
3. values -- each segment into the records: dates, amounts and codes must parse, qualifiers must be
   the guide's. ``CLP02`` must be a claim status code of the guide, ``CAS01`` a group code (CO, PR, OA,
   PI: CR is not used in 5010), every CARC and RARC well formed.

Speed: ``read_835`` first tries a single pass specialised for the 835 (see "The fast pass" below: one
split at the delimiters from the ISA, the 2000/2100/2110 loops checked against tables derived from the
grammar while the records are built, repeated segments converted once). It never reports an error
itself: at anything unusual it gives up and the three passes above read the text, so they remain the
only source of error messages, and a test checks that both give the same records.

A remittance that does not balance is *not* an error: it is read as the payer sent it and
``medbill.core.remit.remit_problems`` reports each broken rule (BPR02 = sum of CLP04 - sum of PLB;
CLP03 - CLP04 = claim and line CAS; SVC02 - SVC03 = line CAS).

Every segment of the guide is in the grammar below, and all of them are carried into the records
except 1000B ``RDM`` (remittance delivery method), which is refused unless ``drop={"RDM"}``. Elements
the guide marks "not used" (``TS309``, ``CLP10``, ``SVC01-7`` ...) are refused the same way, naming
the key (the element reference) that accepts losing them. Data the guide requires but posting does
not use is not demanded: payers omit it (the 1000A PER*BL technical contact, BPR16 the payment date,
1000A N3/N4, 2100 NM1*QC and CLP06/CLP07 may be missing).

Carried (see the record types): BPR (handling, amount, credit/debit, method, format, both bank
accounts, originator, date), TRN, CUR, REF*EV/F2, DTM*405; 1000A N1*PR with N3/N4, REF, PER; 1000B
N1*PE with N3/N4, REF; 2000 LX, TS3, TS2 (``ProviderSummary``); 2100 CLP (01-09, 11-13), CAS, every NM1
(``RemitParty``: QC, IL, 74, 82, TT, PR, GB), MIA/MOA (remark codes into ``remarks``, amounts into
``adjudication``), REF, DTM 232/233/036/050, PER*CX, AMT, QTY; 2110 SVC (01-07), DTM 472/150/151, CAS,
REF (6R into ``control_number``), AMT (B6 into ``allowed``), QTY, LQ (HE remarks, RX reject codes);
PLB, each adjustment pair of it (up to six) one ``ProviderAdjustment``.

``CLP`` ``position`` is the 0-based order of the claim in its transaction set (a reversal, its
correction and the parts of a split claim share CLP01: posting keys on the position too).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from medbill.core.claim import ClaimAdjustment
from medbill.core.codes import CodeSystem
from medbill.core.remit import (
    BankAccount,
    ClaimPayment,
    ClaimStatusCode,
    PayerIdentity,
    PostalAddress,
    ProviderAdjustment,
    ProviderSummary,
    RemitContact,
    RemitParty,
    Remittance,
    ServicePayment,
)
from medbill.x12._common import ANY, Loop, LoopDef, S, ValueReader, structure, transaction_version
from medbill.x12.tokenizer import (
    _FILLER,
    _TRAILING_JUNK,
    Delimiters,
    Element,
    Segment,
    TransactionSet,
    _check_isa,
    _expect_count,
    _expect_same,
    _filler,
    _read_isa,
    check_control_totals,
    gc_paused,
    read_transactions,
    tokenize,
)

__all__ = ["VERSIONS", "Transaction835", "grammar", "known_segments", "parse_835", "read_835"]

VERSIONS = frozenset({"005010X221A1"})

# ---------------------------------------------------------------------------------------------------
# Grammar

_PAYER_REFS = "2U,EO,HI,NF"
_PAYEE_REFS = "0B,D3,PQ,TJ"
_CLAIM_REFS = "1L,1W,28,6P,9A,9C,BB,CE,EA,F8,G1,G3,IG,SY"
_CLAIM_PROVIDER_REFS = "0B,1A,1B,1C,1D,1G,1H,1J,D3,G2,LU"
_SERVICE_REFS = "1S,APC,BB,E9,G1,G3,LU,RB"
_SERVICE_PROVIDER_REFS = "0B,1A,1B,1C,1D,1G,1H,1J,D3,G2,HPI,SY,TJ"
_CLAIM_AMOUNTS = "AU,D8,DY,F5,I,NL,T,T2,ZK,ZL,ZM,ZN,ZO"
_CLAIM_QUANTITIES = "CA,CD,LA,LE,NE,NR,OU,PS,VS,ZK,ZL,ZM,ZN,ZO"
_SERVICE_AMOUNTS = "B6,KH,T,T2,ZK,ZL,ZM,ZN,ZO"
_SERVICE_QUANTITIES = "ZK,ZL,ZM,ZN,ZO"


def _grammar() -> LoopDef:
    payer = LoopDef(
        "1000A",
        "payer identification",
        [
            S("N1*PR", 1, True, "n1", "payer identification"),
            S("N3", 1, False, "n3", "payer address"),
            S("N4", 1, False, "n4", "payer city, state, ZIP code"),
            S(f"REF*{_PAYER_REFS}", 4, False, "ref", "additional payer identification"),
            S("PER*CX", 1, False, "per", "payer business contact information"),
            S("PER*BL", ANY, False, "per", "payer technical contact information"),
            S("PER*IC", 1, False, "per", "payer web site"),
        ],
        req=True,
    )
    payee = LoopDef(
        "1000B",
        "payee identification",
        [
            S("N1*PE", 1, True, "n1", "payee identification"),
            S("N3", 1, False, "n3", "payee address"),
            S("N4", 1, False, "n4", "payee city, state, ZIP code"),
            S(f"REF*{_PAYEE_REFS}", ANY, False, "ref", "payee additional identification"),
            S("RDM", 1, False, None, "remittance delivery method"),
        ],
        req=True,
    )
    service = LoopDef(
        "2110",
        "service payment information",
        [
            S("SVC", 1, True, "svc", "service payment information"),
            S("DTM*150,151,472", 2, False, "dtm", "service date"),
            S("CAS", 99, False, "cas", "service adjustment"),
            S(f"REF*{_SERVICE_REFS}", 8, False, "ref", "service identification"),
            S("REF*6R", 1, False, "ref", "line item control number"),
            S(f"REF*{_SERVICE_PROVIDER_REFS}", 10, False, "ref", "rendering provider information"),
            S("REF*0K", 5, False, "ref", "health care policy identification"),
            S(f"AMT*{_SERVICE_AMOUNTS}", 9, False, "amt", "service supplemental amount"),
            S(f"QTY*{_SERVICE_QUANTITIES}", 6, False, "qty", "service supplemental quantity"),
            S("LQ*HE,RX", 99, False, "lq", "health care remark codes"),
        ],
        max=999,
    )
    claim = LoopDef(
        "2100",
        "claim payment information",
        [
            S("CLP", 1, True, "clp", "claim payment information"),
            S("CAS", 99, False, "cas", "claim adjustment"),
            S("NM1*QC", 1, False, "nm1", "patient name"),
            S("NM1*IL", 1, False, "nm1", "insured name"),
            S("NM1*74", 1, False, "nm1", "corrected patient/insured name"),
            S("NM1*82", 1, False, "nm1", "service provider name"),
            S("NM1*TT", 1, False, "nm1", "crossover carrier name"),
            S("NM1*PR", 1, False, "nm1", "corrected priority payer name"),
            S("NM1*GB", 1, False, "nm1", "other subscriber name"),
            S("MIA", 1, False, "mia", "inpatient adjudication information"),
            S("MOA", 1, False, "moa", "outpatient adjudication information"),
            S(f"REF*{_CLAIM_REFS}", 5, False, "ref", "other claim related identification"),
            S(f"REF*{_CLAIM_PROVIDER_REFS}", 10, False, "ref", "rendering provider identification"),
            S("DTM*232,233", 2, False, "dtm", "statement from or to date"),
            S("DTM*036", 1, False, "dtm", "coverage expiration date"),
            S("DTM*050", 1, False, "dtm", "claim received date"),
            S("PER*CX", 2, False, "per", "claim contact information"),
            S(f"AMT*{_CLAIM_AMOUNTS}", 13, False, "amt", "claim supplemental information"),
            S(f"QTY*{_CLAIM_QUANTITIES}", 14, False, "qty", "claim supplemental information quantity"),
        ],
        [service],
        max=ANY,
        req=True,
    )
    header = LoopDef(
        "2000",
        "header number",
        [
            S("LX", 1, True, "lx", "header number"),
            S("TS3", 1, False, "ts3", "provider summary information"),
            S("TS2", 1, False, "ts2", "provider supplemental summary information"),
        ],
        [claim],
        max=ANY,
    )
    footer = LoopDef("PLB", "provider adjustment", [S("PLB", 1, True, "plb", "provider adjustment")], max=ANY)
    return LoopDef(
        "ST",
        "transaction set",
        [
            S("ST", 1, True, "st"),
            S("BPR", 1, True, "bpr", "financial information"),
            S("TRN*1", 1, True, "trn", "reassociation trace number"),
            S("CUR*PR", 1, False, "cur", "foreign currency information"),
            S("REF*EV", 1, False, "ref", "receiver identification"),
            S("REF*F2", 1, False, "ref", "version identification"),
            S("DTM*405", 1, False, "dtm", "production date"),
        ],
        [payer, payee, header, footer],
    ).finish()


_GRAMMAR: list[LoopDef] = []


def grammar() -> LoopDef:
    """The loop grammar of the 835 (the root loop is the transaction set, ``ST``)."""
    if not _GRAMMAR:
        _GRAMMAR.append(_grammar())
    return _GRAMMAR[0]


def known_segments() -> list[tuple[str, str, bool]]:
    """Every (loop, segment label, carried) of the guide, in grammar order: the documented list."""
    out: list[tuple[str, str, bool]] = []

    def walk(loop: LoopDef) -> None:
        for d in loop.segs:
            out.append((loop.id, d.label, d.tag is not None))
        for child in loop.children:
            walk(child)

    walk(grammar())
    return out


# ---------------------------------------------------------------------------------------------------
# Structure


@dataclass(frozen=True, slots=True)
class Transaction835:
    """One parsed 835 transaction set: its envelope and loop tree (root ``ST``)."""

    version: str
    envelope: TransactionSet
    root: Loop
    loop_of: dict[int, str] = field(default_factory=dict, repr=False)  # segment index -> loop id


def _version(tx: TransactionSet) -> str:
    return transaction_version(
        tx, set_id="835", reader="read_835", what="835 remittance transactions", versions=VERSIONS, guide="005010X221A1"
    )


def parse_835(text: str, *, check_totals: bool = True) -> list[Transaction835]:
    """Passes 1 and 2 of ``read_835``: the loop tree of every 835 transaction set, values unread."""
    with gc_paused():
        document = tokenize(text)
        out: list[Transaction835] = []
        for tx in read_transactions(document):
            version = _version(tx)
            loop_of: dict[int, str] = {}
            out.append(Transaction835(version, tx, structure(tx, grammar(), loop_of, guide="835 guide"), loop_of))
        if check_totals:
            check_control_totals(document)
        return out


# ---------------------------------------------------------------------------------------------------
# Values

_ZERO = Decimal("0.00")
_HANDLING = frozenset("CDHIPUX")
_METHODS = frozenset({"ACH", "BOP", "CHK", "FWT", "NON"})
_SERVICE_QUALIFIERS = frozenset({"AD", "ER", "HC", "HP", "IV", "N4", "N6", "NU", "UI", "WK"})
_SUBMITTED_QUALIFIERS = frozenset({"AD", "ER", "HC", "HP", "IV", "N4", "NU", "WK"})
_PERSON_OR_ORG = {"QC": ("1",), "TT": ("2",), "PR": ("2",)}
_CLAIM_DATES = {"232": "statement_from", "233": "statement_to", "036": "coverage_expiration", "050": "received"}
_MIA_REMARKS = (5, 20, 21, 22, 23, 24)
_MOA_REMARKS = (3, 4, 5, 6, 7)
_TS3_USED = (1, 2, 3, 4, 5, 13, 15, 17, 18, 20, 21, 22, 23, 24)
_TS3_NOT_USED = (6, 7, 8, 9, 10, 11, 12, 14, 16, 19)

_ELEMENT_NAMES = {
    "BPR17": "an element not used in the 835 guide",
    "CLP10": "patient status code; not used in the 835 guide",
    "CLP14": "claim frequency type code; not used in the 835 guide",
    "SVC01-7": "procedure description; not used in the 835 guide (SVC06-7 carries the submitted one)",
    "N405": "location qualifier; not used in the 835 guide",
    "N406": "location identifier; not used in the 835 guide",
    "NM106": "name prefix; not used in the 835 guide",
}


class _Reader(ValueReader):
    """Turns the loop tree of one 835 transaction into a ``Remittance`` (pass 3)."""

    carrier = "medbill remittances"
    guide_label = "835 guide"
    element_names = _ELEMENT_NAMES
    plain_loops = frozenset({"ST", "PLB"})

    def __init__(self, drop: frozenset[str]) -> None:
        super().__init__(drop)

    # -- shared segments ----------------------------------------------------------------------------

    def one_of(self, seg: Segment, pos: int, codes: Collection[str], what: str, *, required: bool = True) -> str:
        value = seg.text(pos)
        if not value and not required:
            return ""
        if value not in codes:
            shown = ", ".join(sorted(codes))
            if not value:
                raise self.err(seg, f"{what} is required ({shown})", pos)
            raise self.err(seg, f"{value!r} is not a {what} of the 835 guide ({shown})", pos)
        return value

    def pair(self, seg: Segment) -> tuple[str, str]:
        """A REF as (qualifier, value)."""
        self.used(seg, 2)
        return seg.text(1), self.required(seg, 2, "REF02 (the reference)")

    def amount_pair(self, seg: Segment) -> tuple[str, Decimal]:
        """An AMT as (qualifier, amount)."""
        self.used(seg, 2)
        amount = self.money(seg, 2)
        assert amount is not None
        return seg.text(1), amount

    def quantity_pair(self, seg: Segment) -> tuple[str, Decimal]:
        """A QTY as (qualifier, quantity)."""
        self.used(seg, 2)
        return seg.text(1), self.decimal(seg, 2)

    def dtm(self, seg: Segment) -> dt.date:
        self.used(seg, 2)
        if not seg.text(2):
            raise self.err(seg, "the date (CCYYMMDD) is required", 2)
        return self.date(seg, 2)

    def per(self, seg: Segment) -> RemitContact:
        self.used(seg, 8)
        numbers: list[tuple[str, str]] = []
        for pos in (3, 5, 7):
            qualifier, number = seg.text(pos), seg.text(pos + 1)
            if not qualifier and not number:
                continue
            if not qualifier:
                raise self.err(seg, "a communication number without its qualifier", pos)
            if not number:
                raise self.err(seg, f"{qualifier} without its communication number", pos + 1)
            numbers.append((qualifier, number))
        return RemitContact(function=seg.text(1), name=seg.text(2) or None, numbers=tuple(numbers))

    def address(self, n3: Segment | None, n4: Segment | None) -> PostalAddress | None:
        if n3 is None and n4 is None:
            return None
        if n3 is None or n4 is None:
            seg = n3 or n4
            assert seg is not None
            raise self.err(seg, "an address needs both N3 and N4")
        self.used(n3, 2)
        self.used(n4, 7, (5, 6))
        return PostalAddress(
            line1=self.required(n3, 1, "N301 (address line)"),
            line2=n3.text(2) or None,
            city=self.required(n4, 1, "N401 (city)"),
            state=n4.text(2) or None,
            zip=n4.text(3) or None,
            country=n4.text(4) or None,
            subdivision=n4.text(7) or None,
        )

    def remark(self, seg: Segment, pos: int) -> str:
        return self.code(seg, CodeSystem.RARC, seg.text(pos), pos).value

    def bank(self, seg: Segment, start: int) -> BankAccount | None:
        """BPR06-09 (``start`` 6) or BPR12-15 (``start`` 12)."""
        values = [seg.text(start + k) for k in range(4)]
        if not any(values):
            return None
        if not values[0] or not values[1]:
            k = next(k for k, v in enumerate(values) if v)
            hint = ""
            if start + k == 15 and not seg.text(16) and len(values[3]) == 8 and values[3].isdigit():
                hint = "; is it the payment date one element early? BPR16 is empty"
            raise self.err(
                seg,
                f"{values[k]!r} without the bank it belongs to ({seg.ref(start)} DFI id number qualifier and "
                f"{seg.ref(start + 1)} DFI identification number){hint}",
                start + k,
            )
        qualifier = self.one_of(seg, start, ("01", "04"), "DFI id number qualifier")
        dfi = self.required(seg, start + 1, f"{seg.ref(start + 1)} (DFI identification number)")
        account_qualifier = values[2] or None
        if account_qualifier is not None:
            self.one_of(seg, start + 2, ("DA", "SG") if start == 12 else ("DA",), "account number qualifier")
        return BankAccount(
            dfi_qualifier=qualifier, dfi_id=dfi, account_qualifier=account_qualifier, account_number=values[3] or None
        )

    # -- header -------------------------------------------------------------------------------------

    def remittance(self, tx: Transaction835) -> Remittance:
        fields = self.header_fields(tx.envelope, tx.root, tx.loop_of)
        claims: list[ClaimPayment] = []
        summaries: list[ProviderSummary] = []
        adjustments: list[ProviderAdjustment] = []
        for child in self.carried_children(tx.root):
            if child.id == "2000":
                self.header_group(child, claims, summaries)
            elif child.id == "PLB":
                adjustments.extend(self.plb(child.start))
        fields["claims"] = tuple(claims)
        fields["provider_summaries"] = tuple(summaries)
        fields["provider_adjustments"] = tuple(adjustments)
        return Remittance(**fields)  # type: ignore[arg-type]

    def header_fields(self, env: TransactionSet, root: Loop, loop_of: dict[int, str]) -> dict[str, object]:
        """The ``Remittance`` fields of the header: envelope, ST-level segments, 1000A payer, 1000B payee."""
        self.loop_of = loop_of
        self.component = env.delimiters.component
        fields: dict[str, object] = {
            "control_number": env.st.text(2),
            "interchange_control_number": env.isa.text(13) or None,
            "group_control_number": env.gs.text(6) or None,
        }
        references: list[tuple[str, str]] = []
        for seg, d in self.walk(root):
            tag = d.tag
            if tag == "bpr":
                self.bpr(seg, fields)
            elif tag == "trn":
                self.used(seg, 4)
                fields["trace_number"] = self.required(seg, 2, "TRN02 (check or EFT trace number)")
                fields["payer_trace_id"] = self.required(seg, 3, "TRN03 (payer identifier)")
                fields["trace_supplemental"] = seg.text(4) or None
            elif tag == "cur":
                self.used(seg, 2)
                fields["currency"] = self.required(seg, 2, "CUR02 (currency code)")
            elif tag == "ref":
                references.append(self.pair(seg))
            elif tag == "dtm":
                fields["production_date"] = self.dtm(seg)
        fields["references"] = tuple(references)
        for child in self.carried_children(root):
            if child.id == "1000A":
                fields["payer"] = self.party(child, payer=True)
            elif child.id == "1000B":
                fields["payee"] = self.party(child, payer=False)
        return fields

    def bpr(self, seg: Segment, fields: dict[str, object]) -> None:
        self.used(seg, 16)
        fields["handling"] = self.one_of(seg, 1, _HANDLING, "transaction handling code")
        fields["payment_amount"] = self.money(seg, 2)
        fields["credit_debit"] = self.one_of(seg, 3, ("C", "D"), "credit/debit flag code")
        fields["payment_method"] = self.one_of(seg, 4, _METHODS, "payment method code")
        fields["payment_format"] = self.one_of(seg, 5, ("CCP", "CTX"), "payment format code", required=False) or None
        fields["payer_account"] = self.bank(seg, 6)
        fields["originator_id"] = seg.text(10) or None
        fields["originator_code"] = seg.text(11) or None
        fields["payee_account"] = self.bank(seg, 12)
        fields["payment_date"] = self.date(seg, 16) if seg.text(16) else None

    def party(self, loop: Loop, *, payer: bool) -> PayerIdentity:
        fields: dict[str, object] = {}
        n3 = n4 = None
        references: list[tuple[str, str]] = []
        contacts: list[RemitContact] = []
        for seg, d in self.walk(loop):
            tag = d.tag
            if tag == "n1":
                self.used(seg, 4)
                fields["name"] = self.required(seg, 2, "N102 (name)")
                qualifier, ident = seg.text(3), seg.text(4)
                if qualifier or ident:
                    codes = ("XV",) if payer else ("FI", "XV", "XX")
                    fields["identifier_qualifier"] = self.one_of(seg, 3, codes, "identification code qualifier")
                    fields["identifier"] = self.required(seg, 4, "N104 (identification code)")
            elif tag == "n3":
                n3 = seg
            elif tag == "n4":
                n4 = seg
            elif tag == "ref":
                references.append(self.pair(seg))
            elif tag == "per":
                contacts.append(self.per(seg))
        if payer and "identifier" not in fields:
            for qualifier, value in references:
                if qualifier == "2U":
                    fields["identifier"], fields["identifier_qualifier"] = value, "2U"
                    break
        fields["address"] = self.address(n3, n4)
        fields["references"] = tuple(references)
        fields["contacts"] = tuple(contacts)
        return PayerIdentity(**fields)  # type: ignore[arg-type]

    # -- 2000 ---------------------------------------------------------------------------------------

    def header_group(self, loop: Loop, claims: list[ClaimPayment], summaries: list[ProviderSummary]) -> None:
        number = self.header_summary([(seg, d.tag) for seg, d in self.walk(loop)], summaries)
        for child in self.carried_children(loop):
            claims.append(self.claim(child, number, len(claims)))

    def header_summary(self, segments: list[tuple[Segment, str | None]], summaries: list[ProviderSummary]) -> str:
        """LX01 of a 2000 loop from its own segments (LX, TS3, TS2 with their tags); its TS3/TS2 into
        ``summaries``."""
        number = ""
        ts3: Segment | None = None
        amounts: list[tuple[str, Decimal]] = []
        for seg, tag in segments:
            if tag == "lx":
                self.used(seg, 1)
                number = self.required(seg, 1, "LX01 (assigned number)")
                if not number.isdigit():
                    raise self.err(seg, f"{number!r} is not a number", 1)
            elif tag == "ts3":
                ts3 = seg
                self.used(seg, 24, _TS3_NOT_USED)
                amounts.extend(self.summary_amounts(seg, _TS3_USED[5:]))
            elif tag == "ts2":
                self.used(seg, 19)
                amounts.extend(self.summary_amounts(seg, range(1, 20)))
        if ts3 is not None:
            count = self.required(ts3, 4, "TS304 (total claim count)")
            if not count.isdigit():
                raise self.err(ts3, f"{count!r} is not a count", 4)
            total = self.money(ts3, 5)
            assert total is not None
            summaries.append(
                ProviderSummary(
                    header_number=number,
                    provider_id=self.required(ts3, 1, "TS301 (provider identifier)"),
                    facility_type=self.required(ts3, 2, "TS302 (facility type code)"),
                    fiscal_period_end=self.date(ts3, 3),
                    claim_count=int(count),
                    total_charge=total,
                    amounts=tuple(amounts),
                )
            )
        elif amounts:
            raise self.err(segments[0][0], "a TS2 (provider supplemental summary) needs its TS3")
        return number

    def summary_amounts(self, seg: Segment, positions: range | tuple[int, ...]) -> list[tuple[str, Decimal]]:
        out: list[tuple[str, Decimal]] = []
        for pos in positions:
            if seg.text(pos):
                out.append((seg.ref(pos), self.decimal(seg, pos)))
        return out

    # -- 2100 ---------------------------------------------------------------------------------------

    def claim(self, loop: Loop, header_number: str, position: int) -> ClaimPayment:
        """One 2100 loop (every segment of it is carried: no refusals to check; dispatch on the id)."""
        fields: dict[str, object] = {"header_number": header_number or None, "position": position}
        adjustments: list[ClaimAdjustment] = []
        parties: list[RemitParty] = []
        remarks: list[str] = []
        adjudication: list[tuple[str, Decimal]] = []
        references: list[tuple[str, str]] = []
        contacts: list[RemitContact] = []
        amounts: list[tuple[str, Decimal]] = []
        quantities: list[tuple[str, Decimal]] = []
        segments = loop.segments
        self.clp(segments[0], fields)
        for k in range(1, len(segments)):
            seg = segments[k]
            sid = seg.id
            if sid == "CAS":
                adjustments.extend(self.cas(seg))
            elif sid == "NM1":
                parties.append(self.nm1(seg))
            elif sid == "DTM":
                name = _CLAIM_DATES[seg.text(1)]  # the grammar matched DTM01 (a composite DTM01 raises)
                if name in fields:
                    raise self.err(seg, f"a second DTM*{seg.text(1)} in the claim", 1)
                fields[name] = self.dtm(seg)
            elif sid == "AMT":
                amounts.append(self.amount_pair(seg))
            elif sid == "REF":
                references.append(self.pair(seg))
            elif sid == "MIA":
                self.used(seg, 24)
                self.decimal(seg, 1)  # MIA01 covered days or visits is required
                self.inpatient_outpatient(seg, range(1, 25), _MIA_REMARKS, remarks, adjudication)
            elif sid == "MOA":
                self.used(seg, 9)
                self.inpatient_outpatient(seg, range(1, 10), _MOA_REMARKS, remarks, adjudication)
            elif sid == "PER":
                contacts.append(self.per(seg))
            elif sid == "QTY":
                quantities.append(self.quantity_pair(seg))
            else:  # pragma: no cover - the grammar and this dispatch agree
                raise AssertionError(sid)
        for party in parties:
            if party.role == "QC":
                fields["patient_name"] = party.display_name or None
                if party.identifier:
                    fields["member_id"] = party.identifier
            elif party.role == "PR":
                fields["corrected_payer"] = party.last_name
        if "member_id" not in fields:  # no patient id: the insured's
            il = next((p for p in parties if p.role == "IL" and p.identifier), None)
            if il is not None:
                fields["member_id"] = il.identifier
        service = self.service
        return ClaimPayment(
            adjustments=tuple(adjustments),
            parties=tuple(parties),
            remarks=tuple(remarks),
            adjudication=tuple(adjudication),
            references=tuple(references),
            contacts=tuple(contacts),
            amounts=tuple(amounts),
            quantities=tuple(quantities),
            services=tuple([service(child) for child in loop.children]),
            **fields,  # type: ignore[arg-type]
        )

    def clp(self, seg: Segment, fields: dict[str, object]) -> None:
        self.used(seg, 13, (10,))
        fields["patient_control_number"] = self.required(seg, 1, "CLP01 (patient control number)")
        fields["status"] = self.enum(ClaimStatusCode, seg, 2, "claim status code")
        fields["charge"] = self.money(seg, 3)
        fields["paid"] = self.money(seg, 4)
        fields["patient_responsibility"] = self.money(seg, 5) if seg.text(5) else _ZERO
        for pos, name in ((6, "filing_indicator"), (7, "payer_claim_number"), (8, "facility_type"), (9, "frequency")):
            if seg.text(pos):
                fields[name] = seg.text(pos)
        if seg.text(11):
            fields["drg"] = seg.text(11)
        if seg.text(12):
            fields["drg_weight"] = self.decimal(seg, 12)
        if seg.text(13):
            fields["discharge_fraction"] = self.decimal(seg, 13)

    def nm1(self, seg: Segment) -> RemitParty:
        self.used(seg, 9, (6,))
        role = seg.text(1)
        entity = self.one_of(seg, 2, _PERSON_OR_ORG.get(role, ("1", "2")), "entity type qualifier")
        qualifier, ident = seg.text(8), seg.text(9)
        if ident and not qualifier:
            raise self.err(seg, "an identifier (NM109) without its qualifier (NM108)", 8)
        if qualifier and not ident:
            raise self.err(seg, f"NM108 is {qualifier} but the identifier (NM109) is missing", 9)
        if entity == "2" and (seg.text(4) or seg.text(5) or seg.text(7)):
            raise self.err(seg, "an organization (NM102 = 2) has no first/middle name or suffix", 4)
        return RemitParty(
            role=role,
            entity=entity,
            last_name=seg.text(3) or None,
            first_name=seg.text(4) or None,
            middle_name=seg.text(5) or None,
            suffix=seg.text(7) or None,
            id_qualifier=qualifier or None,
            identifier=ident or None,
        )

    def inpatient_outpatient(
        self,
        seg: Segment,
        positions: range,
        remark_positions: tuple[int, ...],
        remarks: list[str],
        adjudication: list[tuple[str, Decimal]],
    ) -> None:
        for pos in positions:
            if not seg.text(pos):
                continue
            if pos in remark_positions:
                remarks.append(self.remark(seg, pos))
            else:
                adjudication.append((seg.ref(pos), self.decimal(seg, pos)))

    # -- 2110 ---------------------------------------------------------------------------------------

    def procedure(self, seg: Segment, pos: int, codes: frozenset[str], used: int) -> tuple[str, str, tuple[str, ...]]:
        """A procedure composite (SVC01, SVC06): qualifier, code, modifiers (components 3-6)."""
        value = seg.elements[pos - 1]
        if value.__class__ is tuple and 2 <= len(value) <= 6:  # the usual shape: check it quickly
            qualifier, code = value[0], value[1].strip()
            modifiers = value[2:]
            if qualifier in codes and code and all(modifiers):
                return qualifier, code.upper(), modifiers
        if isinstance(value, str) and value and pos == 1:
            raise self.err(
                seg,
                f"{value!r} holds no component separator {self.component!r} (ISA16): SVC01 is a composite of "
                f"a qualifier and a procedure code (HC{self.component}99213)",
                pos,
            )
        comps = seg.components(pos)
        for sub in range(used + 1, len(comps) + 1):
            if comps[sub - 1]:
                ref = seg.ref(pos, sub)
                self.refuse(seg, ref, self.not_used(ref), pos, comps[sub - 1], sub)
        qualifier = seg.component(pos, 1)
        if qualifier not in codes:
            shown = ", ".join(sorted(codes))
            if not qualifier:
                raise self.err(seg, f"the product/service id qualifier is required ({shown})", pos, 1)
            raise self.err(seg, f"{qualifier!r} is not a product/service id qualifier of the 835 ({shown})", pos, 1)
        code = seg.component(pos, 2).strip()
        if not code:
            raise self.err(seg, "the procedure code is required", pos, 2)
        modifiers = tuple(m for k in range(3, 7) if (m := seg.component(pos, k)))
        if any(not seg.component(pos, k) for k in range(3, 3 + len(modifiers))):
            raise self.err(seg, "modifiers must fill components 3 to 6 in order, without gaps", pos)
        return qualifier, code.upper(), modifiers

    def service(self, loop: Loop) -> ServicePayment:
        """One 2110 loop (every segment of it is carried; dispatch on the id)."""
        fields: dict[str, object] = {}
        adjustments: list[ClaimAdjustment] = []
        references: list[tuple[str, str]] = []
        amounts: list[tuple[str, Decimal]] = []
        quantities: list[tuple[str, Decimal]] = []
        remarks: list[str] = []
        rejects: list[str] = []
        segments = loop.segments
        self.svc(segments[0], fields)
        for k in range(1, len(segments)):
            seg = segments[k]
            sid = seg.id
            if sid == "CAS":
                adjustments.extend(self.cas(seg))
            elif sid == "DTM":
                name = "service_date_to" if seg.elements[0] == "151" else "service_date"
                if name in fields:
                    raise self.err(seg, f"DTM*{seg.text(1)}: the line already has its {name.replace('_', ' ')}", 1)
                fields[name] = self.dtm(seg)
            elif sid == "AMT":
                qualifier, amount = self.amount_pair(seg)
                if qualifier == "B6":
                    if "allowed" in fields:
                        raise self.err(seg, "a second AMT*B6 (allowed amount) on the line", 1)
                    fields["allowed"] = amount
                else:
                    amounts.append((qualifier, amount))
            elif sid == "REF":
                qualifier, value = self.pair(seg)
                if qualifier == "6R":
                    fields["control_number"] = value
                else:
                    references.append((qualifier, value))
            elif sid == "LQ":
                self.used(seg, 2)
                if seg.elements[0] == "HE":
                    remarks.append(self.remark(seg, 2))
                else:
                    rejects.append(self.required(seg, 2, "LQ02 (reject code)"))
            elif sid == "QTY":
                quantities.append(self.quantity_pair(seg))
            else:  # pragma: no cover - the grammar and this dispatch agree
                raise AssertionError(sid)
        return ServicePayment(
            adjustments=tuple(adjustments),
            references=tuple(references),
            amounts=tuple(amounts),
            quantities=tuple(quantities),
            remarks=tuple(remarks),
            reject_codes=tuple(rejects),
            **fields,  # type: ignore[arg-type]
        )

    def svc(self, seg: Segment, fields: dict[str, object]) -> None:
        elements = seg.elements
        n = len(elements)
        if n > 7:
            self.used(seg, 7)
        qualifier, code, modifiers = self.procedure(seg, 1, _SERVICE_QUALIFIERS, 6)
        fields["procedure_qualifier"], fields["procedure"], fields["modifiers"] = qualifier, code, modifiers
        fields["charge"] = self.money(seg, 2)
        fields["paid"] = self.money(seg, 3)
        if n > 3:
            if elements[3]:
                fields["revenue_code"] = seg.text(4)
            if n > 4 and elements[4]:
                fields["units_paid"] = self.decimal(seg, 5)
            if n > 5 and elements[5]:
                sub_qualifier, sub_code, sub_modifiers = self.procedure(seg, 6, _SUBMITTED_QUALIFIERS, 7)
                fields["submitted_qualifier"] = sub_qualifier
                fields["submitted_procedure"] = sub_code
                fields["submitted_modifiers"] = sub_modifiers
                fields["submitted_description"] = seg.component(6, 7) or None
            if n > 6 and elements[6]:
                fields["units_submitted"] = self.decimal(seg, 7)

    # -- PLB ----------------------------------------------------------------------------------------

    def plb(self, seg: Segment) -> list[ProviderAdjustment]:
        self.used(seg, 14)
        provider = self.required(seg, 1, "PLB01 (provider identifier)")
        period = self.date(seg, 2) if seg.text(2) else None
        out: list[ProviderAdjustment] = []
        for pos in range(3, 15, 2):
            reason, reference = seg.component(pos, 1), seg.component(pos, 2)
            amount_text = seg.text(pos + 1)
            if not reason:
                if reference or amount_text:
                    raise self.err(seg, "an adjustment without its reason code", pos, 1)
                continue
            if len(seg.components(pos)) > 2 and any(seg.components(pos)[2:]):
                raise self.err(seg, "an adjustment identifier has two components (reason, reference)", pos)
            if not amount_text:
                raise self.err(seg, f"adjustment {reason} has no amount", pos + 1)
            amount = self.money(seg, pos + 1)
            assert amount is not None
            out.append(
                ProviderAdjustment(
                    provider_id=provider,
                    fiscal_period_end=period,
                    reason=reason,
                    reference=reference or None,
                    amount=amount,
                )
            )
        if not out:
            raise self.err(seg, "a PLB needs at least one adjustment (reason and amount)", 3)
        return out


# ---------------------------------------------------------------------------------------------------
# The fast pass
#
# ``read_835`` first tries one pass specialised for the 835: the text is split once at the segment
# terminator (delimiters from the ISA, exactly as ``tokenize`` splits it), each segment once at the element
# separator, and the 2000/2100/2110/PLB loops are checked against tables derived from ``grammar()`` (slots,
# qualifiers, repeat limits) while their records are built. Segments are converted by the same ``_Reader``
# methods as the grammar-based pass, memoised by the segment's text (a CAS, DTM, AMT or REF repeats
# thousands of times in a large remittance); the header (ST to the first LX/PLB) goes through
# ``structure()`` itself. The fast pass never reports an error: at anything it does not take as the
# common case (an error, an unusual element, other delimiters in a later interchange ...) it gives up and
# the grammar-based pass reads the whole text, so every error message has one source. A test checks that
# both passes give equal records on every fixture and on generated and damaged files.


class _Fallback(Exception):
    """The fast pass gives the text to the grammar-based pass."""


_T = TypeVar("_T")


def _maker(cls: type[_T]) -> Callable[..., _T]:
    """A keyword-only constructor for the frozen slots dataclass ``cls`` that sets its slots directly (as
    ``copy`` and ``pickle`` do), with the dataclass's own defaults: about twice as fast as its ``__init__``,
    which goes through ``object.__setattr__`` per field. Records built either way are equal."""
    names: list[str] = []
    params: list[str] = []
    namespace: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    if hasattr(cls, "__post_init__"):  # pragma: no cover - the remittance records validate nothing
        return cls
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        slot = cls.__dict__.get(f.name)
        if not isinstance(slot, types.MemberDescriptorType) or f.default_factory is not dataclasses.MISSING:
            return cls  # pragma: no cover - not a plain slots dataclass: use its __init__
        names.append(f.name)
        namespace[f"_set_{f.name}"] = slot.__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{name}(o, {name})\n" for name in names)
    exec(f"def make(*, {', '.join(params)}):\n    o = _new(_cls)\n{body}    return o\n", namespace)
    return namespace["make"]  # type: ignore[return-value]


_make_claim = _maker(ClaimPayment)
_make_service = _maker(ServicePayment)

_Entry = tuple[int, int, int]  # (slot, definition index, repeat limit)
_Own = dict[str, _Entry | dict[str, _Entry]]
_Hit = tuple[str, str, object, _Entry | None, _Entry | None]
"""A segment's id, qualifier (element 1), value, and its place in loops 2100 and 2110 (None: not theirs)."""


def _resolve(own: _Own, sid: str, qualifier: str) -> _Entry | None:
    entry = own.get(sid)
    if isinstance(entry, dict):
        return entry.get(qualifier)
    return entry


def _own_table(loop: LoopDef) -> _Own:
    """A loop's own segments (not its trigger) by id, then qualifier: the first definition that takes them.

    The grammar tries a loop's definitions in order and takes the first with a matching qualifier whose
    slot is not behind the loop's; the fast pass takes the first with a matching qualifier and gives up
    when its slot is behind (rare, and then the grammar may still find a later one)."""
    table: _Own = {}
    for i, d in enumerate(loop.segs):
        if not i:
            continue
        assert d.qpos == 1 and d.tag is not None, d  # the 835 qualifies by element 1 and carries its loops
        entry = (d.slot, i, d.max)
        if d.quals is None:
            table.setdefault(d.id, entry)
            continue
        by_qualifier = table.setdefault(d.id, {})
        assert isinstance(by_qualifier, dict), d
        for q in d.quals:
            by_qualifier.setdefault(q, entry)
    return table


def _loop(root: LoopDef, loop_id: str) -> LoopDef:
    todo = [root]
    while todo:
        loop = todo.pop()
        if loop.id == loop_id:
            return loop
        todo.extend(loop.children)
    raise KeyError(loop_id)  # pragma: no cover


@dataclass(frozen=True, slots=True)
class _Tables:
    """Own-segment tables of loops 2000, 2100 and 2110 (and their number of segment definitions), and the
    repeat limits of loops 2000, 2100, 2110 and PLB."""

    own2000: _Own
    own2100: _Own
    own2110: _Own
    size2000: int
    size2100: int
    size2110: int
    max2000: int
    max2100: int
    max2110: int
    max_plb: int


_TABLES: list[_Tables] = []


def _tables() -> _Tables:
    if not _TABLES:
        g = grammar()
        header, claim, service, footer = (_loop(g, x) for x in ("2000", "2100", "2110", "PLB"))
        assert [c.segs[0].id for c in (header, claim, service, footer)] == ["LX", "CLP", "SVC", "PLB"]
        assert not claim.children[0].req and claim.req and not service.children and not footer.children
        for loop in (header, claim, service):  # only their triggers are required: no `advance` checks
            assert not loop.req_segs, loop
        _TABLES.append(
            _Tables(
                _own_table(header),
                _own_table(claim),
                _own_table(service),
                len(header.segs),
                len(claim.segs),
                len(service.segs),
                header.max,
                claim.max,
                service.max,
                footer.max,
            )
        )
    return _TABLES[0]


_STATUS: dict[str, ClaimStatusCode] = {member.value: member for member in ClaimStatusCode}
_ENDS = frozenset({"SVC", "CLP", "LX", "PLB", "SE"})  # the triggers that end a 2110 or a 2100 loop
_LQ_HE = "HE"
_UNITS_PAID: Decimal = next(f.default for f in dataclasses.fields(ServicePayment) if f.name == "units_paid")  # type: ignore[assignment]


class _Fast(_Reader):
    """One call of the fast pass over a text whose every interchange has the same delimiters."""

    def __init__(self, drop: frozenset[str], delimiters: Delimiters, text: str) -> None:
        super().__init__(drop)
        if delimiters.component in ".-":  # a component separator inside numbers: leave it to the grammar
            raise _Fallback
        self.delimiters = delimiters
        self.esep = delimiters.element
        self.csep = delimiters.component
        self.component = delimiters.component
        self.text = text
        self.contents: list[str] = []
        self.cache: dict[str, _Hit] = {}  # segment text -> its hit
        self.procedures: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # SVC01 text -> procedure
        tables = _tables()
        self.own2000, self.own2100, self.own2110 = tables.own2000, tables.own2100, tables.own2110
        self.size2000, self.size2100, self.size2110 = tables.size2000, tables.size2100, tables.size2110
        self.max2000, self.max2100, self.max2110, self.max_plb = (
            tables.max2000,
            tables.max2100,
            tables.max2110,
            tables.max_plb,
        )

    # -- segments -----------------------------------------------------------------------------------

    def seg(self, k: int) -> Segment:
        """Segment ``k`` of the split text, its elements exactly as ``tokenize`` makes them."""
        content = self.contents[k]
        esep, csep = self.esep, self.csep
        parts = content.split(esep)
        if csep in content:
            elements = tuple([tuple(p.split(csep)) if csep in p else p for p in parts[1:]])
        else:
            elements = tuple(parts[1:])
        return Segment(k + 2, parts[0], elements)  # the ISA is segment 1 and pieces[0] segment 2

    def classify(self, k: int) -> _Hit:
        """Segment ``k`` as a ``_Hit``: its value converted (and the hit memoised by the segment's text)
        for the segments every loop converts alike; its split elements for the others (SVC, MIA ...)."""
        content = self.contents[k]
        parts = content.split(self.esep)
        sid = parts[0]
        convert = _CONVERT.get(sid)
        if convert is None:  # none of these is qualified in 2100/2110: the qualifier plays no part
            return sid, "", parts, _resolve(self.own2100, sid, ""), _resolve(self.own2110, sid, "")
        seg = self.seg(k)
        elements = seg.elements
        qualifier = elements[0] if elements else ""
        if not isinstance(qualifier, str):
            raise _Fallback  # a composite qualifier: the grammar's business
        hit = (
            sid,
            qualifier,
            convert(self, seg),
            _resolve(self.own2100, sid, qualifier),
            _resolve(self.own2110, sid, qualifier),
        )
        self.cache[content] = hit
        return hit

    def amount(self, text: str) -> Decimal:
        """A money element not seen before (``ValueReader.money``, memoised there)."""
        value = self.money(Segment(0, "", ("", text)), 2)
        assert value is not None
        return value

    def number(self, text: str) -> Decimal:
        return self.decimal(Segment(0, "", ("", text)), 2)

    def lq(self, seg: Segment) -> tuple[bool, str]:
        self.used(seg, 2)
        if seg.elements[0] == _LQ_HE:
            return True, self.remark(seg, 2)
        return False, self.required(seg, 2, "LQ02 (reject code)")

    # -- the text -----------------------------------------------------------------------------------

    def run(self, isa_elements: tuple[str, ...], after_isa: int) -> list[Remittance]:
        text, delimiters = self.text, self.delimiters
        filler = _filler(delimiters)
        pieces = text[after_isa:].split(delimiters.segment)
        tail = pieces.pop()
        content = tail.lstrip(filler) if filler else tail
        if not (
            (len(content) != len(tail) and not content.strip(_TRAILING_JUNK + _FILLER))
            or not content.strip(_TRAILING_JUNK)
        ):
            raise _Fallback  # the last segment has no terminator
        self.contents = contents = [p.lstrip(filler) for p in pieces] if filler else pieces
        last = len(contents)
        out: list[Remittance] = []
        isa = Segment(1, "ISA", tuple[Element, ...](isa_elements))
        k = 0
        offset_k, offset = 0, after_isa  # where pieces[offset_k] starts in the text
        while True:
            _check_isa(isa)
            groups = 0
            while True:
                seg = self.seg(k)
                if seg.id == "GS":
                    gs = seg
                    groups += 1
                    sets = 0
                    k += 1
                    while True:
                        seg = self.seg(k)
                        if seg.id == "ST":
                            remit, k = self.transaction(isa, gs, seg, k)
                            out.append(remit)
                            sets += 1
                        elif seg.id == "GE":
                            _expect_count(seg, 1, sets, "transaction sets in the functional group")
                            _expect_same(seg, 2, gs, 6, "GS06")
                            k += 1
                            break
                        else:
                            raise _Fallback
                elif seg.id == "IEA":
                    _expect_count(seg, 1, groups, "functional groups in the interchange")
                    _expect_same(seg, 2, isa, 13, "ISA13")
                    k += 1
                    break
                else:
                    raise _Fallback
            if k == last:
                return out
            content = contents[k]  # only another ISA, with the same delimiters, may follow an IEA
            if not content.startswith("ISA"):
                raise _Fallback
            while offset_k < k:
                offset += len(pieces[offset_k]) + 1
                offset_k += 1
            at = offset + len(pieces[k]) - len(content)
            other, isa_elements, after = _read_isa(text, at, k + 2)
            if other != delimiters or after != at + len(content) + 1:
                raise _Fallback
            isa = Segment(k + 2, "ISA", tuple[Element, ...](isa_elements))
            k += 1

    def transaction(self, isa: Segment, gs: Segment, st: Segment, k: int) -> tuple[Remittance, int]:
        """The transaction set whose ST is segment ``k``: its remittance and the segment after its SE."""
        start = k
        _version(TransactionSet(isa, gs, st, (), st, self.delimiters))
        contents, esep = self.contents, self.esep
        header: list[Segment] = []
        k += 1
        while contents[k].split(esep, 1)[0] not in ("LX", "PLB", "SE"):
            header.append(self.seg(k))
            k += 1
        loop_of: dict[int, str] = {}
        env = TransactionSet(isa, gs, st, tuple(header), self.seg(k), self.delimiters)
        fields = self.header_fields(env, structure(env, grammar(), loop_of, guide="835 guide"), loop_of)
        self.loop_of = {}
        claims: list[ClaimPayment] = []
        summaries: list[ProviderSummary] = []
        sid = contents[k].split(esep, 1)[0]
        groups = 0
        while sid == "LX":
            groups += 1
            if groups > self.max2000:
                raise _Fallback
            k, sid = self.header_group_fast(k, claims, summaries)
        adjustments: list[ProviderAdjustment] = []
        footers = 0
        while sid == "PLB":
            footers += 1
            if footers > self.max_plb:
                raise _Fallback
            adjustments.extend(self.plb(self.seg(k)))
            k += 1
            sid = contents[k].split(esep, 1)[0]
        if sid != "SE":
            raise _Fallback
        se = self.seg(k)
        _expect_count(se, 1, k - start + 1, "segments in the transaction set (ST through SE)")
        _expect_same(se, 2, st, 2, "ST02")
        fields["claims"] = tuple(claims)
        fields["provider_summaries"] = tuple(summaries)
        fields["provider_adjustments"] = tuple(adjustments)
        return Remittance(**fields), k + 1  # type: ignore[arg-type]

    # -- 2000 ---------------------------------------------------------------------------------------

    def header_group_fast(
        self, k: int, claims: list[ClaimPayment], summaries: list[ProviderSummary]
    ) -> tuple[int, str]:
        """The 2000 loop at segment ``k``: its claims appended; the next segment and its id."""
        contents, esep = self.contents, self.esep
        e = contents[k].split(esep)
        own = self.own2000
        start = k
        slot = 0
        counts = [0] * self.size2000
        k += 1
        while True:
            sid = contents[k].split(esep, 1)[0]
            entry = _resolve(own, sid, "")  # TS3, TS2: not qualified
            if entry is None:
                break
            s, i, limit = entry
            if s < slot or counts[i] >= limit:
                raise _Fallback
            slot = s
            counts[i] += 1
            k += 1
        if sid != "CLP":  # a 2000 loop needs a claim
            raise _Fallback
        if k == start + 1 and len(e) == 2 and e[1].isdigit():
            number = e[1]
        else:
            tags = {"LX": "lx", "TS3": "ts3", "TS2": "ts2"}
            segments = [self.seg(j) for j in range(start, k)]
            number = self.header_summary([(seg, tags[seg.id]) for seg in segments], summaries)
        header_number = number or None
        count = 0
        limit = self.max2100
        while sid == "CLP":
            count += 1
            if count > limit:
                raise _Fallback
            claim, k, sid = self.claim_fast(k, header_number, len(claims))
            claims.append(claim)
        return k, sid

    # -- 2100 ---------------------------------------------------------------------------------------

    def claim_fast(self, k: int, header_number: str | None, position: int) -> tuple[ClaimPayment, int, str]:
        """The 2100 loop at segment ``k``: its record, the next segment and its id."""
        contents, csep = self.contents, self.csep
        amounts_cache = self.amounts
        content = contents[k]
        e = content.split(self.esep)
        if len(e) <= 10 and csep not in content:  # CLP01-09, simple elements: the usual CLP
            if len(e) < 10:
                e.extend([""] * (10 - len(e)))
            status = _STATUS.get(e[2])
            if not e[1] or status is None:
                raise _Fallback
            charge = amounts_cache.get(e[3])
            if charge is None:
                charge = self.amount(e[3])
            paid = amounts_cache.get(e[4])
            if paid is None:
                paid = self.amount(e[4])
            responsibility = _ZERO
            if e[5]:
                responsibility = amounts_cache.get(e[5])  # type: ignore[assignment]
                if responsibility is None:
                    responsibility = self.amount(e[5])
            f: dict[str, object] = {
                "patient_control_number": e[1],
                "status": status,
                "charge": charge,
                "paid": paid,
                "patient_responsibility": responsibility,
                "filing_indicator": e[6] or None,
                "payer_claim_number": e[7] or None,
                "facility_type": e[8] or None,
                "frequency": e[9] or None,
            }
        else:
            f = {}
            self.clp(self.seg(k), f)
        adjustments: tuple[ClaimAdjustment, ...] = ()
        parties: tuple[RemitParty, ...] = ()
        remarks: list[str] = []
        adjudication: list[tuple[str, Decimal]] = []
        references: tuple[tuple[str, str], ...] = ()
        contacts: tuple[RemitContact, ...] = ()
        amounts: tuple[tuple[str, Decimal], ...] = ()
        quantities: tuple[tuple[str, Decimal], ...] = ()
        services: list[ServicePayment] = []
        cache = self.cache
        slot = 0
        counts = [0] * self.size2100
        while True:
            k += 1
            content = contents[k]
            hit = cache.get(content) or self.classify(k)
            sid, q1, value, entry, _ = hit
            if entry is None:
                break
            s, i, limit = entry
            if s < slot or counts[i] >= limit:
                raise _Fallback
            slot = s
            counts[i] += 1
            if sid == "CAS":
                adjustments += value  # type: ignore[operator]
            elif sid == "NM1":
                parties += (value,)  # type: ignore[operator]
            elif sid == "AMT":
                amounts += (value,)  # type: ignore[operator]
            elif sid == "DTM":
                name = _CLAIM_DATES[q1]
                if name in f:
                    raise _Fallback
                f[name] = value
            elif sid == "REF":
                references += (value,)  # type: ignore[operator]
            elif sid == "MIA":
                seg = self.seg(k)
                self.used(seg, 24)
                self.decimal(seg, 1)
                self.inpatient_outpatient(seg, range(1, 25), _MIA_REMARKS, remarks, adjudication)
            elif sid == "MOA":
                seg = self.seg(k)
                self.used(seg, 9)
                self.inpatient_outpatient(seg, range(1, 10), _MOA_REMARKS, remarks, adjudication)
            elif sid == "PER":
                contacts += (value,)  # type: ignore[operator]
            elif sid == "QTY":
                quantities += (value,)  # type: ignore[operator]
            else:  # pragma: no cover - the tables and this dispatch agree
                raise _Fallback
        if sid == "SVC":
            count = 0
            limit = self.max2110
            while sid == "SVC":
                count += 1
                if count > limit:
                    raise _Fallback
                service, k, sid, value = self.service_fast(k, value)  # type: ignore[arg-type]
                services.append(service)
        elif sid not in _ENDS:
            raise _Fallback
        for party in parties:
            if party.role == "QC":
                f["patient_name"] = party.display_name or None
                if party.identifier:
                    f["member_id"] = party.identifier
            elif party.role == "PR":
                f["corrected_payer"] = party.last_name
        if "member_id" not in f:  # no patient id: the insured's
            il = next((p for p in parties if p.role == "IL" and p.identifier), None)
            if il is not None:
                f["member_id"] = il.identifier
        claim = _make_claim(
            adjustments=adjustments,
            parties=parties,
            remarks=tuple(remarks),
            adjudication=tuple(adjudication),
            references=references,
            contacts=contacts,
            amounts=amounts,
            quantities=quantities,
            services=tuple(services),
            header_number=header_number,
            position=position,
            **f,
        )
        return claim, k, sid

    # -- 2110 ---------------------------------------------------------------------------------------

    def service_fast(self, k: int, e: list[str]) -> tuple[ServicePayment, int, str, object]:
        """The 2110 loop at segment ``k`` (its SVC split into ``e``): its record, the next segment, its id
        and value (its split elements when it is an SVC)."""
        contents = self.contents
        amounts_cache = self.amounts
        n = len(e)
        revenue_code: str | None = None
        units_paid = _UNITS_PAID
        units_submitted: Decimal | None = None
        submitted: dict[str, object] | None = None
        if 4 <= n <= 8 and (n < 5 or self.csep not in e[4]) and (n < 7 or not e[6]):  # the usual SVC
            procedure = self.procedures.get(e[1])
            if procedure is None:
                procedure = self.procedure(self.seg(k), 1, _SERVICE_QUALIFIERS, 6)
                self.procedures[e[1]] = procedure
            qualifier, code, modifiers = procedure
            charge = amounts_cache.get(e[2])
            if charge is None:
                charge = self.amount(e[2])
            paid = amounts_cache.get(e[3])
            if paid is None:
                paid = self.amount(e[3])
            if n > 4:
                if e[4]:
                    revenue_code = e[4]
                if n > 5 and e[5]:
                    units_paid = self.numbers.get(e[5]) or self.number(e[5])
                if n > 7 and e[7]:
                    units_submitted = self.numbers.get(e[7]) or self.number(e[7])
        else:  # SVC06 (the procedure as submitted) or anything unusual: the grammar reader's method
            submitted = {}
            self.svc(self.seg(k), submitted)
            qualifier = submitted.pop("procedure_qualifier")  # type: ignore[assignment]
            code = submitted.pop("procedure")  # type: ignore[assignment]
            modifiers = submitted.pop("modifiers")  # type: ignore[assignment]
            charge = submitted.pop("charge")  # type: ignore[assignment]
            paid = submitted.pop("paid")  # type: ignore[assignment]
            revenue_code = submitted.pop("revenue_code", None)  # type: ignore[assignment]
            units_paid = submitted.pop("units_paid", _UNITS_PAID)  # type: ignore[assignment]
            units_submitted = submitted.pop("units_submitted", None)  # type: ignore[assignment]
        adjustments: tuple[ClaimAdjustment, ...] = ()
        references: tuple[tuple[str, str], ...] = ()
        amounts: tuple[tuple[str, Decimal], ...] = ()
        quantities: tuple[tuple[str, Decimal], ...] = ()
        remarks: tuple[str, ...] = ()
        rejects: tuple[str, ...] = ()
        service_date: dt.date | None = None
        service_date_to: dt.date | None = None
        allowed: Decimal | None = None
        control_number: str | None = None
        cache = self.cache
        slot = 0
        counts = [0] * self.size2110
        while True:
            k += 1
            content = contents[k]
            hit = cache.get(content) or self.classify(k)
            sid, q1, value, _, entry = hit
            if entry is None:
                break
            s, i, limit = entry
            if s < slot or counts[i] >= limit:
                raise _Fallback
            slot = s
            counts[i] += 1
            if sid == "CAS":
                adjustments += value  # type: ignore[operator]
            elif sid == "DTM":
                if q1 == "151":
                    if service_date_to is not None:
                        raise _Fallback
                    service_date_to = value  # type: ignore[assignment]
                else:
                    if service_date is not None:
                        raise _Fallback
                    service_date = value  # type: ignore[assignment]
            elif sid == "AMT":
                if q1 == "B6":
                    if allowed is not None:
                        raise _Fallback
                    allowed = value[1]  # type: ignore[index]
                else:
                    amounts += (value,)  # type: ignore[operator]
            elif sid == "REF":
                if q1 == "6R":
                    control_number = value[1]  # type: ignore[index]
                else:
                    references += (value,)  # type: ignore[operator]
            elif sid == "LQ":
                if value[0]:  # type: ignore[index]
                    remarks += (value[1],)  # type: ignore[index]
                else:
                    rejects += (value[1],)  # type: ignore[index]
            elif sid == "QTY":
                quantities += (value,)  # type: ignore[operator]
            else:  # pragma: no cover - the tables and this dispatch agree
                raise _Fallback
        if sid not in _ENDS:
            raise _Fallback
        service = _make_service(
            procedure=code,
            procedure_qualifier=qualifier,
            modifiers=modifiers,
            charge=charge,
            paid=paid,
            revenue_code=revenue_code,
            units_paid=units_paid,
            units_submitted=units_submitted,
            service_date=service_date,
            service_date_to=service_date_to,
            adjustments=adjustments,
            control_number=control_number,
            allowed=allowed,
            remarks=remarks,
            references=references,
            amounts=amounts,
            quantities=quantities,
            reject_codes=rejects,
            **(submitted or {}),
        )
        return service, k, sid, value


def _cas(reader: _Reader, seg: Segment) -> tuple[ClaimAdjustment, ...]:
    return tuple(reader.cas(seg))


_CONVERT: dict[str, Callable[[_Fast, Segment], object]] = {
    "CAS": _cas,
    "NM1": _Reader.nm1,
    "DTM": _Reader.dtm,
    "AMT": _Reader.amount_pair,
    "REF": _Reader.pair,
    "QTY": _Reader.quantity_pair,
    "PER": _Reader.per,
    "LQ": _Fast.lq,
}


def _read_835_fast(text: str, drop: frozenset[str]) -> list[Remittance]:
    """The fast pass over ``text``; raises ``_Fallback`` (or an ``X12ParseError`` from the checks it shares
    with the grammar-based pass) when the grammar-based pass must decide."""
    start = 1 if text.startswith("\ufeff") else 0
    pos = len(text) - len(text[start:].lstrip(_FILLER))
    if not text.startswith("ISA", pos):
        raise _Fallback
    delimiters, isa_elements, after = _read_isa(text, pos, 1)
    try:
        return _Fast(drop, delimiters, text).run(isa_elements, after)
    except IndexError:  # the text ends inside a transaction set or group
        raise _Fallback from None


def _read_835_grammar(text: str, drop: frozenset[str]) -> list[Remittance]:
    """The grammar-based pass: tokenize, envelopes, loop grammar, control totals, values (the source of
    every error message)."""
    transactions = parse_835(text)
    reader = _Reader(drop)
    return [reader.remittance(tx) for tx in transactions]


def read_835(text: str, *, drop: Collection[str] = ()) -> list[Remittance]:
    """The remittances of every 835 transaction set in ``text``, in file order.

    Raises ``X12ParseError`` naming the segment at the first problem (see the module docstring). ``drop``
    lists the keys of data the records do not carry that the caller accepts to lose (``RDM``,
    ``TS309`` ...). Balancing is not checked here: see ``medbill.core.remit.remit_problems``.
    """
    keys = frozenset(drop)
    with gc_paused():
        try:
            return _read_835_fast(text, keys)
        except Exception:  # the fast pass gives up (or meets an error): the grammar-based pass decides
            pass
        return _read_835_grammar(text, keys)

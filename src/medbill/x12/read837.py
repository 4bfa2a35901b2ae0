"""X12 837 reader: 837P (005010X222A1) and 837I (005010X223A2) files into medbill claims.

Format: the ASC X12N 005010X222A1 (Health Care Claim: Professional) and 005010X223A2 (Institutional)
implementation guides ("TR3s", published by X12 at x12.org; adopted under HIPAA, 45 CFR 162.1102). The
errata versions 005010X222A2 and 005010X223A3 read the same way. Loops and elements are named as in the
guides (``2300 CLM05-1``, ``2400 SV101-2``). Pure text in, records out: no I/O.

``read_837(text)`` returns one ``medbill.core.claim.Claim`` per 2300 loop, in file order, for every
837 transaction set in the file (several ISA/GS/ST are fine). It reads in three passes and raises
``X12ParseError`` at the first problem, naming the segment (``segment 14 NM1: NM109 ...``):

1. structure -- tokenizing (delimiters from the ISA), the envelopes (``tokenizer.read_transactions``),
   then each transaction against the loop grammar of its guide below: segment order within a loop,
   repeat limits, required segments and loops, and the HL hierarchy (HL01 numbered 1, 2, 3 ... in
   order; a subscriber HL points at a billing-provider HL, a patient HL at a subscriber HL);
2. control totals -- SE01/SE02, GE01/GE02, IEA01/IEA02 (``tokenizer.check_control_totals``);
3. values -- each segment into the claim: dates, amounts and codes must parse; codes are normalised.

It never drops data silently. Every segment of the two guides is in the grammar tables below, marked
*carried* (mapped into the claim) or not. A segment, loop or element the claim model does not carry
raises an error that names it and the key to pass in ``drop`` to accept losing it (``drop={"REF*G2"}``;
keys are ``ID`` or ``ID*QUALIFIER`` for segments, the loop id for whole loops (``2310E``), and the
element reference for elements (``SV109``)). ICD-9-CM qualifiers (BK, BF, BJ, PR, BN, BR, BQ) are
refused: claims carry ICD-10-CM/PCS only, and no drop key accepts them.

Carried (837P / 837I; everything else in the guides is known but refused unless dropped):

* header: BHT (BHT06 CH only), 1000A submitter and 1000B receiver -- batch data, read but not part of
  a claim (the writer takes them from settings);
* 2000A PRV*BI; 2010AA NM1*85, N3, N4, REF*EI/SY, one PER*IC; 2010AB NM1*87, N3, N4;
* 2000B SBR; 2010BA NM1*IL (MI), N3, N4, DMG; 2010BB NM1*PR (PI), N3, N4;
* 2000C PAT01; 2010CA NM1*QC, N3, N4, DMG;
* 2300 CLM (01, 02, 05, 06, 07, 08, 09, 10, 11, 20); DTP 431, 439 (837P), 434, 435, 096 (837I); CL1;
  REF 9F, G1, F8, EA, LU (837I accident state); NTE*ADD; HI ABK/ABF (837P); HI ABK, ABJ, APR, ABN, ABF
  with POA, DR, BBR, BBQ, BI, BH, BE, BG (837I);
* 2310x referring (DN), rendering (82 + PRV*PE), service facility (77 + N3/N4/PER), supervising (DQ)
  on 837P; attending (71 + PRV*AT), operating (72), other operating (ZZ), rendering (82), service
  facility (77), referring (DN) on 837I;
* 2320 SBR, CAS, AMT*D, AMT*EAF, OI (when OI03/OI04/OI06 repeat CLM08/CLM10/CLM09, as the model has
  no place of its own for them); 2330A NM1*IL, N3, N4; 2330B NM1*PR, N3, N4, DTP*573, REF*F8;
* 2400 LX, SV1 (01-05, 07) or SV2 (01-05, 07), DTP*472, REF*6R, REF*G1 (837P); 2410 LIN (N4) and CTP;
  2420A rendering (837P; 2420C on 837I) and 2420E ordering (837P); 2430 SVD, CAS, DTP*573.

When 2330B has no DTP*573 (the guide omits it when 2430 loops carry the date), the other payer's
adjudication date is the one its 2430 loops agree on (None when they differ). A 2300 directly under a
2000B is the subscriber's own claim: SBR02 there is 18, and an empty SBR02 is read as 18 (another code
is an error). ``parse_837`` gives the loop tree without reading values (``Loop``); ``known_segments``
lists every segment of both guides with whether it is carried. The cyclic garbage collector is paused
while a file is read (``tokenizer.gc_paused``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from medbill.core.claim import (
    Address,
    AssignmentCode,
    BenefitsAssignment,
    Claim,
    ClaimAdjustment,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimKind,
    Contact,
    Coverage,
    Diagnosis,
    DiagnosisRole,
    Drug,
    EntityType,
    InstitutionalInfo,
    InsuranceType,
    LineAdjudication,
    NdcUnit,
    Occurrence,
    OccurrenceSpan,
    OtherPayer,
    Patient,
    PatientSignatureSource,
    Payer,
    PcsProcedure,
    PresentOnAdmission,
    Provider,
    ProviderRole,
    RelatedCause,
    Relationship,
    ReleaseOfInformation,
    Responsibility,
    ServiceLine,
    Sex,
    Subscriber,
    TaxIdType,
    UnitType,
    ValueCode,
)
from medbill.core.codes import Code, CodeSystem
from medbill.x12._common import ANY as _ANY
from medbill.x12._common import Loop, LoopDef, S, SegDef, ValueReader, structure
from medbill.x12._common import element_qualifier as _qualifier
from medbill.x12.tokenizer import (
    Segment,
    TransactionSet,
    check_control_totals,
    gc_paused,
    read_transactions,
    tokenize,
)

__all__ = [
    "PROFESSIONAL_VERSIONS",
    "INSTITUTIONAL_VERSIONS",
    "Loop",
    "LoopDef",
    "SegDef",
    "Transaction837",
    "grammar",
    "known_segments",
    "parse_837",
    "read_837",
]

PROFESSIONAL_VERSIONS = frozenset({"005010X222A1", "005010X222A2"})
INSTITUTIONAL_VERSIONS = frozenset({"005010X223A2", "005010X223A3"})

# ---------------------------------------------------------------------------------------------------
# Grammar


def _addr(tag: str | None, req: bool = True) -> list[SegDef]:
    return [
        S("N3", 1, req, f"{tag}.n3" if tag else None, "address"),
        S("N4", 1, req, f"{tag}.n4" if tag else None, "city, state, ZIP"),
    ]


def _refs(quals: str, max: int, name: str) -> SegDef:
    return S(f"REF*{quals}", max, False, None, name)


def _uncarried_loop(id: str, name: str, segs: list[SegDef], *, max: int = 1, req: bool = False) -> LoopDef:
    return LoopDef(id, name, segs, max=max, req=req, carried=False)


_PROVIDER_REFS = "0B,1G,G2,LU"


def _professional() -> LoopDef:
    l2010aa = LoopDef(
        "2010AA",
        "billing provider name",
        [
            S("NM1*85", 1, True, "prov", "billing provider name"),
            *_addr("prov"),
            S("REF*EI,SY", 1, True, "prov.taxid", "billing provider tax id"),
            _refs("0B,1G", 2, "billing provider UPIN/license"),
            S("PER*IC", 2, False, "prov.per", "billing provider contact"),
        ],
        req=True,
    )
    l2010ab = LoopDef(
        "2010AB", "pay-to address", [S("NM1*87", 1, True, "payto", "pay-to address name"), *_addr("payto")]
    )
    l2010ac = _uncarried_loop(
        "2010AC",
        "pay-to plan name",
        [S("NM1*PE", 1, True), *_addr(None), _refs("2U,FY,NF", 1, "pay-to plan secondary id"), S("REF*EI", 1, True)],
    )
    l2000a = LoopDef(
        "2000A",
        "billing provider",
        [
            S("HL@3*20", 1, True, "hl", "billing provider HL"),
            S("PRV*BI", 1, False, "prv", "billing provider specialty"),
            S("CUR", 1, False, None, "foreign currency"),
        ],
        [l2010aa, l2010ab, l2010ac],
        max=_ANY,
        free=True,
    )
    l2010ba = LoopDef(
        "2010BA",
        "subscriber name",
        [
            S("NM1*IL", 1, True, "sub", "subscriber name"),
            *_addr("sub", False),
            S("DMG", 1, False, "dmg", "subscriber demographics"),
            _refs("SY", 1, "subscriber SSN"),
            _refs("Y4", 1, "property and casualty claim number"),
            S("PER*IC", 1, False, None, "property and casualty subscriber contact"),
        ],
        req=True,
    )
    l2010bb = LoopDef(
        "2010BB",
        "payer name",
        [
            S("NM1*PR", 1, True, "payer", "payer name"),
            *_addr("payer", False),
            _refs("2U,EI,FY,NF", 2, "payer secondary id"),
            _refs("G2,LU", 2, "billing provider secondary id"),
        ],
        req=True,
    )
    l2300 = _professional_claim()
    l2000b = LoopDef(
        "2000B",
        "subscriber",
        [
            S("HL@3*22", 1, True, "hl", "subscriber HL"),
            S("SBR", 1, True, "sbr", "subscriber information"),
            S("PAT", 1, False, None, "patient information (death date, weight, pregnancy)"),
        ],
        [l2010ba, l2010bb, l2300],
        max=_ANY,
        free=True,
    )
    l2010ca = LoopDef(
        "2010CA",
        "patient name",
        [
            S("NM1*QC", 1, True, "pat", "patient name"),
            *_addr("pat"),
            S("DMG", 1, True, "dmg", "patient demographics"),
            _refs("Y4", 1, "property and casualty claim number"),
            _refs("1W,SY", 1, "property and casualty patient id"),
            S("PER*IC", 1, False, None, "property and casualty patient contact"),
        ],
        req=True,
    )
    l2000c = LoopDef(
        "2000C",
        "patient",
        [S("HL@3*23", 1, True, "hl", "patient HL"), S("PAT", 1, True, "pat01", "patient information")],
        [l2010ca, l2300],
        max=_ANY,
        free=True,
    )
    return _root(l2000a, l2000b, l2000c)


def _root(*hl_loops: LoopDef) -> LoopDef:
    return LoopDef(
        "ST",
        "transaction set",
        [S("ST", 1, True, "batch"), S("BHT*0019", 1, True, "bht", "beginning of hierarchical transaction")],
        [
            LoopDef(
                "1000A",
                "submitter name",
                [S("NM1*41", 1, True, "batch", "submitter name"), S("PER*IC", 2, True, "batch", "submitter contact")],
                req=True,
            ),
            LoopDef("1000B", "receiver name", [S("NM1*40", 1, True, "batch", "receiver name")], req=True),
            *hl_loops,
        ],
    )


def _professional_claim() -> LoopDef:
    dtp_uncarried = {
        "454": "initial treatment date",
        "304": "last seen date",
        "453": "acute manifestation date",
        "484": "last menstrual period date",
        "455": "last x-ray date",
        "471": "hearing and vision prescription date",
        "314,360,361": "disability dates",
        "297": "last worked date",
        "296": "authorized return to work date",
        "435": "admission date",
        "096": "discharge date",
        "090": "assumed care date",
        "091": "relinquished care date",
        "444": "property and casualty first contact date",
        "050": "repricer received date",
    }
    refs_uncarried = {
        "4N": "service authorization exception code",
        "F5": "mandatory Medicare crossover indicator",
        "EW": "mammography certification number",
        "X4": "CLIA number",
        "9A": "repriced claim number",
        "9C": "adjusted repriced claim number",
        "LX": "investigational device exemption number",
        "D9": "claim identifier for transmission intermediaries",
        "P4": "care plan oversight / demonstration project",
        "1J": "care plan oversight",
    }
    segs = [
        S("CLM", 1, True, "clm", "claim information"),
        S("DTP*431", 1, False, "dtp.onset", "onset of current illness"),
        S("DTP*439", 1, False, "dtp.accident", "accident date"),
        *(S(f"DTP*{q}", 1, False, None, n) for q, n in dtp_uncarried.items()),
        S("PWK", 10, False, None, "claim supplemental information"),
        S("CN1", 1, False, None, "contract information"),
        S("AMT*F5", 1, False, None, "patient amount paid"),
        S("REF*9F", 1, False, "ref.referral", "referral number"),
        S("REF*G1", 1, False, "ref.prior_auth", "prior authorization"),
        S("REF*F8", 1, False, "ref.original", "payer claim control number"),
        S("REF*EA", 1, False, "ref.mrn", "medical record number"),
        *(_refs(q, 1, n) for q, n in refs_uncarried.items()),
        S("K3", 10, False, None, "file information"),
        S("NTE*ADD,CER,DCP,DGN,TPO", 1, False, "nte", "claim note"),
        S("CR1", 1, False, None, "ambulance transport information"),
        S("CR2", 1, False, None, "spinal manipulation service information"),
        S("CRC*07", 3, False, None, "ambulance certification"),
        S("CRC*E1,E2,E3", 3, False, None, "patient condition information: vision"),
        S("CRC*75", 1, False, None, "homebound indicator"),
        S("CRC*ZZ", 1, False, None, "EPSDT referral"),
        S("HI*ABK,BK", 1, True, "hi.dx", "health care diagnosis code"),
        S("HI*BP,BO", 1, False, None, "anesthesia related procedure"),
        S("HI*BG", 2, False, None, "condition information"),
        S("HCP", 1, False, None, "claim pricing/repricing information"),
    ]
    prov_refs = _refs(_PROVIDER_REFS, 4, "provider secondary id")
    children = [
        LoopDef(
            "2310A", "referring provider", [S("NM1*DN,P3", 1, True, "nm1.ref", "referring provider"), prov_refs], max=2
        ),
        LoopDef(
            "2310B",
            "rendering provider",
            [
                S("NM1*82", 1, True, "nm1.rend", "rendering provider"),
                S("PRV*PE", 1, False, "prv", "specialty"),
                prov_refs,
            ],
        ),
        LoopDef(
            "2310C",
            "service facility location",
            [
                S("NM1*77", 1, True, "nm1.fac", "service facility"),
                *_addr("fac"),
                _refs("G2,LU", 3, "service facility secondary id"),
                S("PER*IC", 1, False, "fac.per", "service facility contact"),
            ],
        ),
        LoopDef("2310D", "supervising provider", [S("NM1*DQ", 1, True, "nm1.sup", "supervising provider"), prov_refs]),
        _uncarried_loop("2310E", "ambulance pick-up location", [S("NM1*PW", 1, True), *_addr(None)]),
        _uncarried_loop("2310F", "ambulance drop-off location", [S("NM1*45", 1, True), *_addr(None)]),
        _other_subscriber(professional=True),
        _professional_line(),
    ]
    children[-1].req = True
    return LoopDef("2300", "claim information", segs, children, max=100)


def _other_subscriber(*, professional: bool) -> LoopDef:
    segs = [
        S("SBR", 1, True, "cob.sbr", "other subscriber information"),
        S("CAS", 5, False, "cob.cas", "claim level adjustments"),
        S("AMT*D", 1, False, "cob.paid", "payer paid amount"),
        S("AMT*A8", 1, False, None, "non-covered charge amount"),
        S("AMT*EAF", 1, False, "cob.remaining", "remaining patient liability"),
        S("OI", 1, True, "cob.oi", "other insurance coverage information"),
    ]
    if not professional:
        segs.append(S("MIA", 1, False, None, "inpatient adjudication information"))
    segs.append(S("MOA", 1, False, None, "outpatient adjudication information"))
    l2330a = LoopDef(
        "2330A",
        "other subscriber name",
        [S("NM1*IL", 1, True, "cob.sub", "other subscriber name"), *_addr("cob.sub", False), _refs("SY", 1, "SSN")],
        req=True,
    )
    l2330b = LoopDef(
        "2330B",
        "other payer name",
        [
            S("NM1*PR", 1, True, "cob.payer", "other payer name"),
            *_addr("cob.payer", False),
            S("DTP*573", 1, False, "cob.date", "claim check or remittance date"),
            _refs("2U,EI,FY,NF", 2, "other payer secondary id"),
            _refs("G1", 2, "other payer prior authorization number"),
            _refs("9F", 2, "other payer referral number"),
            _refs("T4", 1, "other payer claim adjustment indicator"),
            S("REF*F8", 1, False, "cob.icn", "other payer claim control number"),
        ],
        req=True,
    )
    ids = "CDEFGHI"
    if professional:
        roles = [
            ("DN,P3", "other payer referring provider"),
            ("82", "other payer rendering provider"),
            ("77", "other payer service facility location"),
            ("DQ", "other payer supervising provider"),
            ("85", "other payer billing provider"),
        ]
    else:
        roles = [
            ("71", "other payer attending provider"),
            ("72", "other payer operating physician"),
            ("ZZ", "other payer other operating physician"),
            ("77", "other payer service facility location"),
            ("82", "other payer rendering provider"),
            ("DN", "other payer referring provider"),
            ("85", "other payer billing provider"),
        ]
    others = [
        _uncarried_loop(
            f"2330{ids[k]}",
            name,
            [S(f"NM1*{q}", 1, True), _refs(_PROVIDER_REFS, 3, "secondary id")],
            max=2 if professional and k == 0 else 1,  # 837P 2330C: referring and primary care provider
        )
        for k, (q, name) in enumerate(roles)
    ]
    return LoopDef("2320", "other subscriber information", segs, [l2330a, l2330b, *others], max=10)


def _line_adjudication() -> LoopDef:
    return LoopDef(
        "2430",
        "line adjudication information",
        [
            S("SVD", 1, True, "svd", "line adjudication information"),
            S("CAS", 5, False, "svd.cas", "line adjustment"),
            S("DTP*573", 1, True, "svd.date", "line check or remittance date"),
            S("AMT*EAF", 1, False, None, "remaining patient liability"),
        ],
        max=15,
    )


def _drug() -> LoopDef:
    return LoopDef(
        "2410",
        "drug identification",
        [
            S("LIN", 1, True, "lin", "drug identification"),
            S("CTP", 1, True, "ctp", "drug quantity"),
            _refs("VY,XZ", 1, "prescription or compound drug number"),
        ],
    )


def _professional_line() -> LoopDef:
    dtp_uncarried = {
        "471": "prescription date",
        "607": "certification revision date",
        "463": "begin therapy date",
        "461": "last certification date",
        "304": "last seen date",
        "738,739": "test date",
        "011": "shipped date",
        "455": "last x-ray date",
        "454": "initial treatment date",
    }
    refs_uncarried = {
        "9B": "repriced line item reference number",
        "9D": "adjusted repriced line item reference number",
        "EW": "mammography certification number",
        "X4": "CLIA number",
        "F4": "referring CLIA number",
        "BT": "immunization batch number",
        "9F": "referral number",
    }
    segs = [
        S("LX", 1, True, "lx", "service line number"),
        S("SV1", 1, True, "sv1", "professional service"),
        S("SV5", 1, False, None, "durable medical equipment service"),
        S("PWK", 11, False, None, "line supplemental information"),
        S("CR1", 1, False, None, "ambulance transport information"),
        S("CR3", 1, False, None, "durable medical equipment certification"),
        S("CRC", 5, False, None, "certification (ambulance, hospice, DME)"),
        S("DTP*472", 1, True, "dtp.service", "date of service"),
        *(S(f"DTP*{q}", 2, False, None, n) for q, n in dtp_uncarried.items()),
        S("QTY*PT,FL", 2, False, None, "patient count / obstetric additional units"),
        S("MEA", 5, False, None, "test result"),
        S("CN1", 1, False, None, "contract information"),
        S("REF*G1", 5, False, "ref.prior_auth", "prior authorization"),
        S("REF*6R", 1, False, "ref.control", "line item control number"),
        *(_refs(q, 5, n) for q, n in refs_uncarried.items()),
        S("AMT*T,F4", 2, False, None, "sales tax / postage claimed amount"),
        S("K3", 10, False, None, "file information"),
        S("NTE*ADD,DCP,TPO", 2, False, None, "line note"),
        S("PS1", 1, False, None, "purchased service information"),
        S("HCP", 1, False, None, "line pricing/repricing information"),
    ]
    prov_refs = _refs(_PROVIDER_REFS, 20, "provider secondary id")
    children = [
        _drug(),
        LoopDef(
            "2420A",
            "rendering provider",
            [
                S("NM1*82", 1, True, "nm1.rend", "line rendering provider"),
                S("PRV*PE", 1, False, "prv", "specialty"),
                prov_refs,
            ],
        ),
        _uncarried_loop("2420B", "purchased service provider", [S("NM1*QB", 1, True), prov_refs]),
        _uncarried_loop("2420C", "service facility location", [S("NM1*77", 1, True), *_addr(None), prov_refs]),
        _uncarried_loop("2420D", "supervising provider", [S("NM1*DQ", 1, True), prov_refs]),
        LoopDef(
            "2420E",
            "ordering provider",
            [
                S("NM1*DK", 1, True, "nm1.ord", "ordering provider"),
                *_addr("ord", False),
                prov_refs,
                S("PER*IC", 1, False, "ord.per", "ordering provider contact"),
            ],
        ),
        _uncarried_loop("2420F", "referring provider", [S("NM1*DN,P3", 1, True), prov_refs], max=2),
        _uncarried_loop("2420G", "ambulance pick-up location", [S("NM1*PW", 1, True), *_addr(None)]),
        _uncarried_loop("2420H", "ambulance drop-off location", [S("NM1*45", 1, True), *_addr(None)]),
        _line_adjudication(),
        _uncarried_loop("2440", "form identification code", [S("LQ", 1, True), S("FRM", 99, True)], max=_ANY),
    ]
    return LoopDef("2400", "service line", segs, children, max=50)


def _institutional() -> LoopDef:
    l2010aa = LoopDef(
        "2010AA",
        "billing provider name",
        [
            S("NM1*85", 1, True, "prov", "billing provider name"),
            *_addr("prov"),
            S("REF*EI,SY", 1, True, "prov.taxid", "billing provider tax id"),
            S("PER*IC", 2, False, "prov.per", "billing provider contact"),
        ],
        req=True,
    )
    l2010ab = LoopDef(
        "2010AB", "pay-to address", [S("NM1*87", 1, True, "payto", "pay-to address name"), *_addr("payto")]
    )
    l2010ac = _uncarried_loop(
        "2010AC",
        "pay-to plan name",
        [S("NM1*PE", 1, True), *_addr(None), _refs("2U,FY,NF", 1, "pay-to plan secondary id"), S("REF*EI", 1, True)],
    )
    l2000a = LoopDef(
        "2000A",
        "billing provider",
        [
            S("HL@3*20", 1, True, "hl", "billing provider HL"),
            S("PRV*BI", 1, False, "prv", "billing provider specialty"),
            S("CUR", 1, False, None, "foreign currency"),
        ],
        [l2010aa, l2010ab, l2010ac],
        max=_ANY,
        free=True,
    )
    l2010ba = LoopDef(
        "2010BA",
        "subscriber name",
        [
            S("NM1*IL", 1, True, "sub", "subscriber name"),
            *_addr("sub", False),
            S("DMG", 1, False, "dmg", "subscriber demographics"),
            _refs("SY", 1, "subscriber SSN"),
            _refs("Y4", 1, "property and casualty claim number"),
        ],
        req=True,
    )
    l2010bb = LoopDef(
        "2010BB",
        "payer name",
        [
            S("NM1*PR", 1, True, "payer", "payer name"),
            *_addr("payer", False),
            _refs("2U,EI,FY,NF", 2, "payer secondary id"),
            _refs("G2,LU", 2, "billing provider secondary id"),
        ],
        req=True,
    )
    l2300 = _institutional_claim()
    l2000b = LoopDef(
        "2000B",
        "subscriber",
        [S("HL@3*22", 1, True, "hl", "subscriber HL"), S("SBR", 1, True, "sbr", "subscriber information")],
        [l2010ba, l2010bb, l2300],
        max=_ANY,
        free=True,
    )
    l2010ca = LoopDef(
        "2010CA",
        "patient name",
        [
            S("NM1*QC", 1, True, "pat", "patient name"),
            *_addr("pat"),
            S("DMG", 1, True, "dmg", "patient demographics"),
            _refs("Y4", 1, "property and casualty claim number"),
        ],
        req=True,
    )
    l2000c = LoopDef(
        "2000C",
        "patient",
        [S("HL@3*23", 1, True, "hl", "patient HL"), S("PAT", 1, True, "pat01", "patient information")],
        [l2010ca, l2300],
        max=_ANY,
        free=True,
    )
    return _root(l2000a, l2000b, l2000c)


def _institutional_claim() -> LoopDef:
    refs_uncarried = {
        "4N": "service authorization exception code",
        "9A": "repriced claim number",
        "9C": "adjusted repriced claim number",
        "D9": "claim identifier for transmission intermediaries",
        "DD": "document identification code",
        "LX": "investigational device exemption number",
        "P4": "demonstration project identifier",
    }
    segs = [
        S("CLM", 1, True, "clm", "claim information"),
        S("DTP*096", 1, False, "dtp.discharge", "discharge hour"),
        S("DTP*434", 1, True, "dtp.statement", "statement dates"),
        S("DTP*435", 1, False, "dtp.admission", "admission date/hour"),
        S("DTP*050", 1, False, None, "repricer received date"),
        S("CL1", 1, True, "cl1", "institutional claim code"),
        S("PWK", 10, False, None, "claim supplemental information"),
        S("CN1", 1, False, None, "contract information"),
        S("AMT*F3", 1, False, None, "patient estimated amount due"),
        S("REF*9F", 1, False, "ref.referral", "referral number"),
        S("REF*G1", 1, False, "ref.prior_auth", "prior authorization"),
        S("REF*F8", 1, False, "ref.original", "payer claim control number"),
        S("REF*EA", 1, False, "ref.mrn", "medical record number"),
        S("REF*LU", 1, False, "ref.accident_state", "auto accident state"),
        *(_refs(q, 1, n) for q, n in refs_uncarried.items()),
        S("K3", 10, False, None, "file information"),
        S("NTE*ADD,ALG,DGN,DRG,MED,NTR,ODT,RHB,RLH,RNH,SET,SFM,UPI", 11, False, "nte", "claim note"),
        S("CRC*ZZ", 1, False, None, "EPSDT referral"),
        S("HI*ABK,BK", 1, True, "hi.principal", "principal diagnosis"),
        S("HI*ABJ,BJ", 1, False, "hi.admitting", "admitting diagnosis"),
        S("HI*APR,PR", 1, False, "hi.reason", "patient's reason for visit"),
        S("HI*ABN,BN", 1, False, "hi.external", "external cause of injury"),
        S("HI*DR", 1, False, "hi.drg", "diagnosis related group"),
        S("HI*ABF,BF", 2, False, "hi.other", "other diagnosis information"),
        S("HI*BBR,BR,CAH", 1, False, "hi.principal_procedure", "principal procedure"),
        S("HI*BBQ,BQ", 2, False, "hi.other_procedures", "other procedure information"),
        S("HI*BI", 2, False, "hi.spans", "occurrence span information"),
        S("HI*BH", 2, False, "hi.occurrences", "occurrence information"),
        S("HI*BE", 2, False, "hi.values", "value information"),
        S("HI*BG", 2, False, "hi.conditions", "condition information"),
        S("HI*TC", 1, False, None, "treatment code information"),
        S("HCP", 1, False, None, "claim pricing/repricing information"),
    ]
    prov_refs = _refs(_PROVIDER_REFS, 4, "provider secondary id")
    children = [
        LoopDef(
            "2310A",
            "attending provider",
            [
                S("NM1*71", 1, True, "nm1.att", "attending provider"),
                S("PRV*AT", 1, False, "prv", "specialty"),
                prov_refs,
            ],
        ),
        LoopDef("2310B", "operating physician", [S("NM1*72", 1, True, "nm1.op", "operating physician"), prov_refs]),
        LoopDef(
            "2310C",
            "other operating physician",
            [S("NM1*ZZ", 1, True, "nm1.oop", "other operating physician"), prov_refs],
        ),
        LoopDef("2310D", "rendering provider", [S("NM1*82", 1, True, "nm1.rend", "rendering provider"), prov_refs]),
        LoopDef(
            "2310E",
            "service facility location",
            [
                S("NM1*77", 1, True, "nm1.fac", "service facility"),
                *_addr("fac"),
                _refs("G2,LU", 3, "service facility secondary id"),
            ],
        ),
        LoopDef("2310F", "referring provider", [S("NM1*DN", 1, True, "nm1.ref", "referring provider"), prov_refs]),
        _other_subscriber(professional=False),
        _institutional_line(),
    ]
    children[-1].req = True
    return LoopDef("2300", "claim information", segs, children, max=100)


def _institutional_line() -> LoopDef:
    segs = [
        S("LX", 1, True, "lx", "service line number"),
        S("SV2", 1, True, "sv2", "institutional service line"),
        S("PWK", 10, False, None, "line supplemental information"),
        S("DTP*472", 1, False, "dtp.service", "date of service"),
        S("REF*6R", 1, False, "ref.control", "line item control number"),
        _refs("9B", 1, "repriced line item reference number"),
        _refs("9D", 1, "adjusted repriced line item reference number"),
        S("AMT*GT", 1, False, None, "service tax amount"),
        S("AMT*N8", 1, False, None, "facility tax amount"),
        S("NTE*TPO", 1, False, None, "third party organization notes"),
        S("HCP", 1, False, None, "line pricing/repricing information"),
    ]
    prov_refs = _refs(_PROVIDER_REFS, 20, "provider secondary id")
    children = [
        _drug(),
        _uncarried_loop("2420A", "operating physician", [S("NM1*72", 1, True), prov_refs]),
        _uncarried_loop("2420B", "other operating physician", [S("NM1*ZZ", 1, True), prov_refs]),
        LoopDef(
            "2420C", "rendering provider", [S("NM1*82", 1, True, "nm1.rend", "line rendering provider"), prov_refs]
        ),
        _uncarried_loop("2420D", "referring provider", [S("NM1*DN", 1, True), prov_refs]),
        _line_adjudication(),
    ]
    return LoopDef("2400", "service line", segs, children, max=999)


_GRAMMARS: dict[ClaimKind, LoopDef] = {}


def grammar(kind: ClaimKind) -> LoopDef:
    """The loop grammar of the 837P or 837I (the root loop is the transaction set, ``ST``)."""
    if kind not in _GRAMMARS:
        _GRAMMARS[kind] = (_professional() if kind is ClaimKind.PROFESSIONAL else _institutional()).finish()
    return _GRAMMARS[kind]


def known_segments(kind: ClaimKind) -> list[tuple[str, str, bool]]:
    """Every (loop, segment label, carried) of the guide, in grammar order: the documented list."""
    out: list[tuple[str, str, bool]] = []

    def walk(loop: LoopDef, carried: bool) -> None:
        here = carried and loop.carried
        for d in loop.segs:
            out.append((loop.id, d.label, here and d.tag is not None))
        for child in loop.children:
            walk(child, here)

    walk(grammar(kind), True)
    return out


# ---------------------------------------------------------------------------------------------------
# Structure: segments into loops


@dataclass(frozen=True, slots=True)
class Transaction837:
    """One parsed 837 transaction set: its kind, envelope and loop tree (root ``ST``)."""

    kind: ClaimKind
    version: str
    envelope: TransactionSet
    root: Loop
    loop_of: dict[int, str] = field(default_factory=dict, repr=False)  # segment index -> loop id


def _guide_name(root: LoopDef) -> str:
    return "837P guide" if root is _GRAMMARS.get(ClaimKind.PROFESSIONAL) else "837I guide"


def _structure(tx: TransactionSet, root_def: LoopDef, loop_of: dict[int, str]) -> Loop:
    """Place each segment of the body in its loop (``_common.structure``), then check the HL numbering."""
    hl_levels: dict[str, str] = {}

    def on_loop(seg: Segment) -> None:
        if seg.id == "HL":
            _check_hl(seg, hl_levels)

    root = structure(tx, root_def, loop_of, guide=_guide_name(root_def), on_loop=on_loop)
    if not hl_levels:
        raise tx.se.error("the transaction set has no HL loops (no billing provider, subscriber or claim)")
    return root


_HL_PARENT = {"20": None, "22": "20", "23": "22"}
_HL_NAMES = {"20": "billing provider", "22": "subscriber", "23": "patient"}


def _check_hl(seg: Segment, levels: dict[str, str]) -> None:
    hl01, hl02, hl03 = seg.text(1), seg.text(2), seg.text(3)
    expected = str(len(levels) + 1)
    if hl01 != expected:
        raise seg.error(
            f"is {hl01 or '(empty)'} but should be {expected}: HL segments are numbered 1, 2, 3 ... in order", 1
        )
    parent_level = _HL_PARENT[hl03]
    if parent_level is None:
        if hl02:
            raise seg.error(f"a billing provider HL has no parent, but HL02 is {hl02}", 2)
    else:
        if not hl02:
            raise seg.error(f"a {_HL_NAMES[hl03]} HL needs its parent {_HL_NAMES[parent_level]} HL in HL02", 2)
        found = levels.get(hl02)
        if found is None:
            raise seg.error(f"parent {hl02} is not an earlier HL", 2)
        if found != parent_level:
            raise seg.error(
                f"parent {hl02} is a {_HL_NAMES[found]} HL; a {_HL_NAMES[hl03]} HL belongs to a "
                f"{_HL_NAMES[parent_level]} HL",
                2,
            )
    levels[hl01] = hl03


def _kind(tx: TransactionSet) -> tuple[ClaimKind, str]:
    st = tx.st
    if st.text(1) != "837":
        raise st.error(f"is {st.text(1) or '(empty)'}: read_837 reads 837 claim transactions", 1)
    gs08, st03 = tx.gs.text(8), st.text(3)
    if st03 and gs08 and st03 != gs08:
        raise st.error(f"ST03 {st03} differs from GS08 {gs08} (segment {tx.gs.index})", 3)
    version = st03 or gs08
    if version in PROFESSIONAL_VERSIONS:
        return ClaimKind.PROFESSIONAL, version
    if version in INSTITUTIONAL_VERSIONS:
        return ClaimKind.INSTITUTIONAL, version
    raise st.error(
        f"version {version or '(empty)'} is not an 837P (005010X222A1) or 837I (005010X223A2) guide",
        3 if st03 else None,
    )


def parse_837(text: str, *, check_totals: bool = True) -> list[Transaction837]:
    """Passes 1 and 2 of ``read_837``: the loop tree of every 837 transaction set, values unread.

    With ``check_totals=False`` the trailer counts and control numbers are not checked.
    """
    with gc_paused():
        document = tokenize(text)
        out: list[Transaction837] = []
        for tx in read_transactions(document):
            kind, version = _kind(tx)
            loop_of: dict[int, str] = {}
            out.append(Transaction837(kind, version, tx, _structure(tx, grammar(kind), loop_of), loop_of))
        if check_totals:
            check_control_totals(document)
        return out


# ---------------------------------------------------------------------------------------------------
# Values


_CPT_SHAPE = re.compile(r"[0-9]{4}[0-9A-Z]")
_HCPCS_SHAPE = re.compile(r"[A-Z][0-9]{4}")
_UB = re.compile(r"[0-9A-Z]{2}")
_ICD9 = {"BK": "ABK", "BF": "ABF", "BJ": "ABJ", "PR": "APR", "BN": "ABN", "BR": "BBR", "BQ": "BBQ"}

_ELEMENT_NAMES = {
    "CLM06": "provider signature indicator; not used on the 837I",
    "CLM10": "patient signature source; not used on the 837I",
    "SV109": "emergency indicator",
    "SV111": "EPSDT indicator",
    "SV112": "family planning indicator",
    "SV115": "co-pay status",
    "SV206": "service line rate",
    "CLM12": "special program code",
    "N404": "country code",
    "N407": "country subdivision code",
    "NM106": "name prefix",
    "SVD06": "bundled line number",
    "PAT05": "patient death date qualifier",
}


class _Mapper(ValueReader):
    """Turns the loop tree of one transaction into claims (pass 3)."""

    carrier = "medbill claims"
    element_names = _ELEMENT_NAMES

    def __init__(self, kind: ClaimKind, drop: frozenset[str]) -> None:
        super().__init__(drop)
        self.kind = kind
        self.professional = kind is ClaimKind.PROFESSIONAL
        self.guide = "837P" if self.professional else "837I"

    # -- refusal ------------------------------------------------------------------------------------

    # -- element parsers ----------------------------------------------------------------------------

    def service_code(self, seg: Segment, pos: int) -> tuple[Code, tuple[Code, ...], str | None]:
        """A procedure composite (SV101, SV202, SVD03): HC qualifier, code, up to 4 modifiers, description."""
        qualifier = seg.component(pos, 1)
        if qualifier != "HC":
            self.refuse(seg, f"{seg.ref(pos, 1)}*{qualifier}", "a procedure code qualifier other than HC", pos, sub=1)
        text = seg.component(pos, 2).strip().upper()
        if _CPT_SHAPE.fullmatch(text):
            system = CodeSystem.CPT
        elif _HCPCS_SHAPE.fullmatch(text):
            system = CodeSystem.HCPCS
        else:
            raise self.err(seg, f"{text!r} is not a well-formed CPT or HCPCS Level II code", pos, 2)
        code = self.code(seg, system, text, pos, 2)
        modifiers = tuple(
            self.code(seg, CodeSystem.MODIFIER, m, pos, k) for k in range(3, 7) if (m := seg.component(pos, k))
        )
        if any(not seg.component(pos, k) for k in range(3, 3 + len(modifiers))):
            raise self.err(seg, "modifiers must fill components 3 to 6 in order, without gaps", pos)
        description = seg.component(pos, 7) or None
        self.only_components(seg, pos, range(1, 8))
        return code, modifiers, description

    # -- shared segments ----------------------------------------------------------------------------

    def nm1(self, seg: Segment, *, entities: str = "12") -> dict[str, object]:
        """NM102..NM109 as Provider fields (entity type, names, NPI with NM108 = XX)."""
        self.only(seg, (1, 2, 3, 4, 5, 7, 8, 9))
        entity = seg.text(2)
        out: dict[str, object] = {}
        if entity not in entities or len(entity) != 1:
            allowed = " or ".join({"1": "1 (person)", "2": "2 (organization)"}[e] for e in entities)
            raise self.err(seg, f"is {entity or '(empty)'}; here it must be {allowed}", 2)
        if entity == "1":
            out["entity_type"] = EntityType.PERSON
            out["last_name"] = self.required(seg, 3, "NM103 (last name)")
            out["first_name"] = seg.text(4) or None
            out["middle_name"] = seg.text(5) or None
            out["suffix"] = seg.text(7) or None
        else:
            out["entity_type"] = EntityType.ORGANIZATION
            out["organization_name"] = self.required(seg, 3, "NM103 (organization name)")
            for pos in (4, 5, 7):
                if seg.text(pos):
                    raise self.err(seg, "an organization (NM102 = 2) has no first/middle name or suffix", pos)
        qualifier, ident = seg.text(8), seg.text(9)
        if qualifier or ident:
            if qualifier != "XX":
                key = f"NM108*{qualifier}" if qualifier else "NM108"
                self.refuse(seg, key, "a provider identifier other than the NPI (XX)", 8)
            elif not ident:
                raise self.err(seg, "NM108 is XX but the NPI (NM109) is missing", 9)
            else:
                out["npi"] = ident
        return out

    def address(self, n3: Segment | None, n4: Segment | None) -> Address | None:
        if n3 is None and n4 is None:
            return None
        if n3 is None or n4 is None:
            seg = n3 or n4
            assert seg is not None
            raise self.err(seg, "an address needs both N3 and N4")
        self.only(n3, (1, 2))
        self.only(n4, (1, 2, 3))
        return Address(
            line1=self.required(n3, 1, "N301 (address line)"),
            line2=n3.text(2) or None,
            city=self.required(n4, 1, "N401 (city)"),
            state=self.required(n4, 2, "N402 (state)"),
            zip=self.required(n4, 3, "N403 (ZIP code)"),
        )

    def per(self, seg: Segment) -> Contact:
        self.only(seg, range(1, 9))
        fields: dict[str, str] = {}
        names = {"TE": "phone", "EX": "phone_extension", "FX": "fax", "EM": "email"}
        for pos in (3, 5, 7):
            qualifier, number = seg.text(pos), seg.text(pos + 1)
            if not qualifier and not number:
                continue
            name = names.get(qualifier)
            if name is None:
                self.refuse(seg, f"{seg.ref(pos)}*{qualifier}", "a communication number other than TE/EX/FX/EM", pos)
                continue
            if name in fields:
                self.refuse(seg, f"{seg.ref(pos)}*{qualifier}", f"a second {name.replace('_', ' ')}", pos)
                continue
            if not number:
                raise self.err(seg, f"{qualifier} without its number", pos + 1)
            fields[name] = number
        return Contact(name=seg.text(2) or None, **fields)

    def dmg(self, seg: Segment) -> tuple[dt.date | None, Sex | None]:
        self.only(seg, (1, 2, 3))
        dob = None
        if seg.text(1) or seg.text(2):
            if seg.text(1) != "D8":
                raise self.err(seg, f"is {seg.text(1) or '(empty)'}; it must be D8", 1)
            dob = self.date(seg, 2)
        sex = self.enum(Sex, seg, 3, "sex code") if seg.text(3) else None
        return dob, sex

    # -- loops --------------------------------------------------------------------------------------

    def header(self, root: Loop) -> None:
        for seg, d in self.walk(root):
            if d.tag == "bht":
                self.only(seg, range(1, 7))
                if seg.text(2) not in ("00", "18"):
                    raise self.err(seg, f"is {seg.text(2) or '(empty)'}; it must be 00 (original) or 18 (reissue)", 2)
                if seg.text(6) != "CH":
                    self.refuse(seg, f"BHT06*{seg.text(6)}", "a transaction type other than CH (chargeable)", 6)
        for child in self.carried_children(root):
            if child.id in ("1000A", "1000B"):
                # submitter and receiver: batch data (the writer takes them from settings), checked, not kept
                for seg, _d in self.walk(child):
                    if seg.id == "NM1":
                        self.only(seg, (1, 2, 3, 4, 5, 8, 9))
                        if seg.text(2) not in ("1", "2"):
                            raise self.err(seg, f"is {seg.text(2) or 'empty'}; it must be 1 or 2", 2)
                        self.required(seg, 3, "NM103 (name)")
                        if seg.text(8) != "46":
                            raise self.err(seg, f"is {seg.text(8) or 'empty'}; it must be 46 (ETIN)", 8)
                        self.required(seg, 9, "NM109 (identifier)")
                    elif seg.id == "PER":
                        self.only(seg, range(1, 9))
                        self.required(seg, 4, "PER04 (communication number)")

    def provider(self, loop: Loop, role: ProviderRole, *, entities: str = "12") -> Provider:
        """A provider loop: NM1 (+ PRV, N3/N4, PER) into a Provider."""
        fields: dict[str, object] = {"role": role}
        n3 = n4 = None
        for seg, d in self.walk(loop):
            tag = d.tag or ""
            if tag.startswith("nm1"):
                fields.update(self.nm1(seg, entities=entities))
            elif tag == "prv":
                fields["taxonomy"] = self.prv(seg)
            elif tag.endswith(".n3"):
                n3 = seg
            elif tag.endswith(".n4"):
                n4 = seg
            elif tag.endswith(".per"):
                fields["contact"] = self.per(seg)
            else:  # pragma: no cover - grammar and mapper agree
                raise AssertionError(tag)
        address = self.address(n3, n4)
        if address is not None:
            fields["address"] = address
        return Provider(**fields)  # type: ignore[arg-type]

    def prv(self, seg: Segment) -> str:
        self.only(seg, (1, 2, 3))
        if seg.text(2) != "PXC":
            raise self.err(seg, f"is {seg.text(2) or '(empty)'}; it must be PXC (taxonomy code)", 2)
        return self.required(seg, 3, "PRV03 (taxonomy code)")

    def billing(self, hl: Loop) -> tuple[Provider, Provider | None]:
        taxonomy: str | None = None
        for seg, d in self.walk(hl):
            if d.tag == "prv":
                taxonomy = self.prv(seg)
            else:
                self.only(seg, (1, 2, 3, 4))
        billing: Provider | None = None
        pay_to: Provider | None = None
        for child in self.carried_children(hl):
            if child.id == "2010AA":
                billing = self.billing_name(child, taxonomy)
            elif child.id == "2010AB":
                pay_to = self.pay_to(child)
        assert billing is not None  # the grammar requires 2010AA
        return billing, pay_to

    def billing_name(self, loop: Loop, taxonomy: str | None) -> Provider:
        fields: dict[str, object] = {"role": ProviderRole.BILLING, "taxonomy": taxonomy}
        n3 = n4 = None
        contacts = 0
        for seg, d in self.walk(loop):
            if d.tag == "prov":
                fields.update(self.nm1(seg, entities="12" if self.professional else "2"))
            elif d.tag == "prov.n3":
                n3 = seg
            elif d.tag == "prov.n4":
                n4 = seg
            elif d.tag == "prov.taxid":
                fields["tax_id"] = self.ref(seg)
                fields["tax_id_type"] = TaxIdType.EIN if seg.text(1) == "EI" else TaxIdType.SSN
            elif d.tag == "prov.per":
                contacts += 1
                if contacts > 1:
                    self.refuse(seg, "PER*IC", "a second billing provider contact, loop 2010AA")
                    continue
                fields["contact"] = self.per(seg)
        fields["address"] = self.address(n3, n4)
        return Provider(**fields)  # type: ignore[arg-type]

    def pay_to(self, loop: Loop) -> Provider:
        fields: dict[str, object] = {"role": ProviderRole.PAY_TO}
        n3 = n4 = None
        for seg, d in self.walk(loop):
            if d.tag == "payto":
                self.only(seg, (1, 2))
                entity = seg.text(2)
                if entity not in ("1", "2"):
                    raise self.err(seg, f"is {entity or '(empty)'}; it must be 1 or 2", 2)
                fields["entity_type"] = EntityType.PERSON if entity == "1" else EntityType.ORGANIZATION
            elif d.tag == "payto.n3":
                n3 = seg
            elif d.tag == "payto.n4":
                n4 = seg
        fields["address"] = self.address(n3, n4)
        return Provider(**fields)  # type: ignore[arg-type]

    def sbr(
        self, seg: Segment, *, other: bool
    ) -> tuple[Responsibility, str, str | None, str | None, InsuranceType | None, ClaimFilingIndicator]:
        self.only(seg, (1, 2, 3, 4, 5, 9))
        responsibility = self.enum(Responsibility, seg, 1, "payer responsibility code")
        relationship = seg.text(2)
        if not other and relationship not in ("", "18"):
            raise self.err(seg, f"is {relationship}; in 2000B it is 18 (self) or empty", 2)
        if other and not relationship:
            raise self.err(seg, "SBR02 (the patient's relationship to the other subscriber) is required", 2)
        insurance_type = None
        if seg.text(5):
            if self.professional:
                insurance_type = self.enum(InsuranceType, seg, 5, "insurance type code")
            else:
                self.refuse(seg, "SBR05", "insurance type on an 837I", 5, seg.text(5))
        filing = self.enum(ClaimFilingIndicator, seg, 9, "claim filing indicator code")
        return responsibility, relationship, seg.text(3) or None, seg.text(4) or None, insurance_type, filing

    def subscriber(self, hl: Loop) -> Coverage:
        """The 2000B coverage: payer, subscriber, responsibility (SBR02 is 18 or empty: checked by ``sbr``)."""
        sbr = None
        for seg, d in self.walk(hl):
            if d.tag == "sbr":
                sbr = self.sbr(seg, other=False)
            elif d.tag == "hl":
                self.only(seg, (1, 2, 3, 4))
        assert sbr is not None
        responsibility, _relationship, group, group_name, insurance_type, filing = sbr
        subscriber: Subscriber | None = None
        payer: Payer | None = None
        for child in self.carried_children(hl):
            if child.id == "2010BA":
                subscriber = self.subscriber_name(child, group, group_name)
            elif child.id == "2010BB":
                payer = self.payer_name(child, filing)
        assert subscriber is not None and payer is not None
        return Coverage(
            payer=payer, subscriber=subscriber, responsibility=responsibility, insurance_type=insurance_type
        )

    def person(self, seg: Segment, *, id_qualifier: str | None) -> dict[str, object]:
        self.only(seg, (1, 2, 3, 4, 5, 7, 8, 9))
        if seg.text(2) != "1":
            self.refuse(seg, "NM102", "a subscriber or patient that is not a person", 2, seg.text(2))
        out: dict[str, object] = {
            "last_name": self.required(seg, 3, "NM103 (last name)"),
            "first_name": seg.text(4) or None,
            "middle_name": seg.text(5) or None,
            "suffix": seg.text(7) or None,
        }
        qualifier, ident = seg.text(8), seg.text(9)
        if qualifier or ident:
            if id_qualifier is None or qualifier != id_qualifier:
                self.refuse(seg, f"NM108*{qualifier}" if qualifier else "NM108", "this member identifier", 8)
            elif not ident:
                raise self.err(seg, "NM109 (member id) is missing", 9)
            else:
                out["member_id"] = ident
        return out

    def subscriber_name(self, loop: Loop, group: str | None, group_name: str | None) -> Subscriber:
        fields: dict[str, object] = {"group_number": group, "group_name": group_name}
        n3 = n4 = None
        for seg, d in self.walk(loop):
            if d.tag in ("sub", "cob.sub"):
                fields.update(self.person(seg, id_qualifier="MI"))
            elif d.tag in ("sub.n3", "cob.sub.n3"):
                n3 = seg
            elif d.tag in ("sub.n4", "cob.sub.n4"):
                n4 = seg
            elif d.tag == "dmg":
                fields["date_of_birth"], fields["sex"] = self.dmg(seg)
        fields["address"] = self.address(n3, n4)
        return Subscriber(**fields)  # type: ignore[arg-type]

    def payer_name(self, loop: Loop, filing: ClaimFilingIndicator) -> Payer:
        fields: dict[str, object] = {"filing_indicator": filing}
        n3 = n4 = None
        for seg, d in self.walk(loop):
            if d.tag in ("payer", "cob.payer"):
                self.only(seg, (1, 2, 3, 8, 9))
                if seg.text(2) != "2":
                    raise self.err(seg, f"is {seg.text(2) or '(empty)'}; a payer is an organization (2)", 2)
                fields["name"] = self.required(seg, 3, "NM103 (payer name)")
                qualifier = seg.text(8)
                if qualifier != "PI":
                    self.refuse(seg, f"NM108*{qualifier}" if qualifier else "NM108", "a payer id other than PI", 8)
                else:
                    fields["payer_id"] = self.required(seg, 9, "NM109 (payer id)")
            elif d.tag in ("payer.n3", "cob.payer.n3"):
                n3 = seg
            elif d.tag in ("payer.n4", "cob.payer.n4"):
                n4 = seg
        fields["address"] = self.address(n3, n4)
        return Payer(**fields)  # type: ignore[arg-type]

    def patient(self, hl: Loop) -> tuple[Relationship, Patient]:
        relationship: Relationship | None = None
        for seg, d in self.walk(hl):
            if d.tag == "pat01":
                self.only(seg, (1,))
                relationship = self.enum(Relationship, seg, 1, "patient relationship code")
            elif d.tag == "hl":
                self.only(seg, (1, 2, 3, 4))
        assert relationship is not None
        patient: Patient | None = None
        for child in self.carried_children(hl):
            if child.id == "2010CA":
                fields: dict[str, object] = {}
                n3 = n4 = None
                for seg, d in self.walk(child):
                    if d.tag == "pat":
                        fields.update(self.person(seg, id_qualifier=None))
                    elif d.tag == "pat.n3":
                        n3 = seg
                    elif d.tag == "pat.n4":
                        n4 = seg
                    elif d.tag == "dmg":
                        fields["date_of_birth"], fields["sex"] = self.dmg(seg)
                fields["address"] = self.address(n3, n4)
                patient = Patient(**fields)  # type: ignore[arg-type]
        assert patient is not None
        return relationship, patient

    # -- 2300 ---------------------------------------------------------------------------------------

    def claim(self, loop: Loop, base: dict[str, object]) -> Claim:
        fields: dict[str, object] = dict(base)
        fields["kind"] = self.kind
        info: dict[str, object] = {}
        diagnoses: list[Diagnosis] = []
        clm: Segment | None = None
        notes = 0
        for seg, d in self.walk(loop):
            tag = d.tag
            if tag == "clm":
                clm = seg
                self.clm(seg, fields, info)
            elif tag == "dtp.onset":
                fields["onset_date"] = self.dates(seg, ("D8",))[0]
            elif tag == "dtp.accident":
                fields["accident_date"] = self.dates(seg, ("D8",))[0]
            elif tag == "dtp.statement":
                start, end, _ = self.dates(seg, ("RD8",))
                info["statement_from"], info["statement_to"] = start, end
            elif tag == "dtp.admission":
                day, _, time = self.dates(seg, ("D8", "DT"))
                info["admission_date"], info["admission_time"] = day, time
            elif tag == "dtp.discharge":
                if seg.text(2) != "TM":
                    raise self.err(seg, f"is {seg.text(2) or '(empty)'}; the discharge hour is TM", 2)
                self.only(seg, (1, 2, 3))
                info["discharge_time"] = self.hhmm(seg, 3, seg.text(3))
            elif tag == "cl1":
                self.cl1(seg, info)
            elif tag == "ref.referral":
                fields["referral_number"] = self.ref(seg)
            elif tag == "ref.prior_auth":
                fields["prior_authorization"] = self.ref(seg)
            elif tag == "ref.original":
                fields["original_claim_number"] = self.ref(seg)
            elif tag == "ref.mrn":
                fields["medical_record_number"] = self.ref(seg)
            elif tag == "ref.accident_state":
                fields["accident_state"] = self.ref(seg)
            elif tag == "nte":
                notes += 1
                if seg.text(1) != "ADD" or notes > 1:
                    self.refuse(seg, f"NTE*{seg.text(1)}", "a claim note other than one NTE*ADD")
                    continue
                self.only(seg, (1, 2))
                fields["note"] = self.required(seg, 2, "NTE02 (note text)")
            elif tag == "hi.dx":
                diagnoses.extend(self.professional_hi(seg))
            elif tag is not None and tag.startswith("hi."):
                self.institutional_hi(seg, tag, diagnoses, info)
            else:  # pragma: no cover
                raise AssertionError(tag)
        assert clm is not None
        fields["diagnoses"] = tuple(diagnoses)
        other_payers: list[tuple[OtherPayer, bool]] = []
        lines: list[ServiceLine] = []
        for child in self.carried_children(loop):
            cid = child.id
            if cid == "2400":
                lines.append(self.line(child))
            elif cid == "2320":
                other_payers.append(self.other_payer(child, fields))
            else:
                self.claim_provider(child, fields, info)
        fields["lines"] = tuple(lines)
        fields["other_payers"] = tuple(self.adjudication_dates(other_payers, lines))
        if not self.professional:
            if "statement_from" not in info:  # pragma: no cover - the grammar requires DTP*434
                raise self.err(clm, "the statement dates (DTP*434) are missing")
            fields["institutional"] = InstitutionalInfo(**info)  # type: ignore[arg-type]
        return Claim(**fields)  # type: ignore[arg-type]

    def clm(self, seg: Segment, fields: dict[str, object], info: dict[str, object]) -> None:
        allowed = [1, 2, 5, 7, 8, 9, 11, 20] + ([6, 10] if self.professional else [])
        self.only(seg, allowed)
        fields["id"] = self.required(seg, 1, "CLM01 (patient control number)")
        fields["stated_total"] = self.money(seg, 2)
        self.only_components(seg, 5, (1, 2, 3))
        place, qualifier = seg.component(5, 1), seg.component(5, 2)
        expected = "B" if self.professional else "A"
        if qualifier != expected:
            raise self.err(seg, f"is {qualifier or '(empty)'}; on an {self.guide} it must be {expected}", 5, 2)
        fields["frequency"] = self.enum(ClaimFrequency, seg, 5, "claim frequency code", 3)
        if self.professional:
            if not place:
                raise self.err(seg, "the place of service is required", 5, 1)
            fields["place_of_service"] = self.code(seg, CodeSystem.POS, place, 5, 1)
            signature = seg.text(6)
            if signature not in ("Y", "N"):
                raise self.err(seg, f"is {signature or '(empty)'}; it must be Y or N", 6)
            fields["provider_signature_on_file"] = signature == "Y"
            if seg.text(10):
                fields["patient_signature_source"] = self.enum(
                    PatientSignatureSource, seg, 10, "patient signature source code"
                )
        else:
            if not re.fullmatch(r"[0-9]{2}", place):
                raise self.err(seg, f"{place!r} is not a facility type code (two digits)", 5, 1)
            info["facility_type_code"] = place
        fields["assignment"] = self.enum(AssignmentCode, seg, 7, "assignment code")
        fields["benefits_assigned"] = self.enum(BenefitsAssignment, seg, 8, "benefits assignment code")
        fields["release_of_information"] = self.enum(ReleaseOfInformation, seg, 9, "release of information code")
        if seg.element(11):
            self.only_components(seg, 11, (1, 2, 4, 5))
            causes = [
                self.enum(RelatedCause, seg, 11, "related causes code", k) for k in (1, 2) if seg.component(11, k)
            ]
            fields["related_causes"] = tuple(causes)
            if seg.component(11, 4):
                fields["accident_state"] = seg.component(11, 4)
            if seg.component(11, 5):
                fields["accident_country"] = seg.component(11, 5)
        delay = seg.text(20)
        if delay:
            if not re.fullmatch(r"[1-9]|1[01]|15", delay):
                raise self.err(seg, f"{delay!r} is not a delay reason code (1-11 or 15)", 20)
            fields["delay_reason"] = delay

    def cl1(self, seg: Segment, info: dict[str, object]) -> None:
        self.only(seg, (1, 2, 3))
        patterns = (
            (1, "admission_type", r"[1-59]", "an admission type (1-5 or 9)"),
            (2, "admission_source", r"[0-9A-Z]", "an admission source code"),
            (3, "patient_status", r"[0-9]{2}", "a patient status code (two digits)"),
        )
        for pos, name, pattern, what in patterns:
            value = seg.text(pos)
            if value:
                if not re.fullmatch(pattern, value):
                    raise self.err(seg, f"{value!r} is not {what}", pos)
                info[name] = value

    def icd9(self, seg: Segment, pos: int, qualifier: str) -> None:
        modern = _ICD9[qualifier]
        raise self.err(
            seg, f"{qualifier} is an ICD-9-CM qualifier; medbill claims carry ICD-10-CM/PCS only ({modern})", pos, 1
        )

    def professional_hi(self, seg: Segment) -> list[Diagnosis]:
        out: list[Diagnosis] = []
        if len(seg.elements) > 12:
            raise self.err(seg, "an 837P HI carries at most 12 diagnoses", 13)
        for pos in range(1, len(seg.elements) + 1):
            qualifier = seg.component(pos, 1)
            if not qualifier and not seg.component(pos, 2):
                if any(seg.component(p, 1) for p in range(pos + 1, len(seg.elements) + 1)):
                    raise self.err(seg, "diagnoses must fill HI01, HI02 ... without gaps", pos)
                continue
            expected = "ABK" if pos == 1 else "ABF"
            if qualifier in _ICD9:
                self.icd9(seg, pos, qualifier)
            if qualifier != expected:
                raise self.err(seg, f"{qualifier or '(empty)'}: on an 837P {seg.ref(pos, 1)} is {expected}", pos, 1)
            self.only_components(seg, pos, (1, 2))
            code = seg.component(pos, 2)
            if not code:
                raise self.err(seg, "the diagnosis code is missing", pos, 2)
            role = DiagnosisRole.PRINCIPAL if pos == 1 else DiagnosisRole.OTHER
            out.append(Diagnosis(code=self.code(seg, CodeSystem.ICD10CM, code, pos, 2), role=role))
        return out

    _HI_ROLES = {
        "hi.principal": DiagnosisRole.PRINCIPAL,
        "hi.admitting": DiagnosisRole.ADMITTING,
        "hi.reason": DiagnosisRole.REASON_FOR_VISIT,
        "hi.external": DiagnosisRole.EXTERNAL_CAUSE,
        "hi.other": DiagnosisRole.OTHER,
    }
    _HI_MAX = {"hi.principal": 1, "hi.admitting": 1, "hi.reason": 3, "hi.drg": 1, "hi.principal_procedure": 1}
    _POA = {
        "Y": PresentOnAdmission.YES,
        "N": PresentOnAdmission.NO,
        "U": PresentOnAdmission.UNKNOWN,
        "W": PresentOnAdmission.UNDETERMINED,
        "1": PresentOnAdmission.EXEMPT,
    }

    def institutional_hi(self, seg: Segment, tag: str, diagnoses: list[Diagnosis], info: dict[str, object]) -> None:
        first = seg.component(1, 1)
        limit = self._HI_MAX.get(tag, 12)
        for pos in range(1, len(seg.elements) + 1):
            qualifier = seg.component(pos, 1)
            if not qualifier and not seg.component(pos, 2):
                if any(seg.component(p, 1) for p in range(pos + 1, len(seg.elements) + 1)):
                    raise self.err(seg, "composites must fill HI01, HI02 ... without gaps", pos)
                continue
            if qualifier in _ICD9:
                self.icd9(seg, pos, qualifier)
            if qualifier != first:
                raise self.err(
                    seg, f"{qualifier or '(empty)'} differs from HI01-1 {first}: one HI carries one kind", pos, 1
                )
            if pos > limit:
                raise self.err(seg, f"{first} may fill only {limit} composite(s) of an HI", pos)
            code = seg.component(pos, 2)
            if not code:
                raise self.err(seg, "the code is missing", pos, 2)
            role = self._HI_ROLES.get(tag)
            if role is not None:
                poa_allowed = tag in ("hi.principal", "hi.other", "hi.external")
                self.only_components(seg, pos, (1, 2, 9) if poa_allowed else (1, 2))
                poa_text = seg.component(pos, 9)
                poa = None
                if poa_text:
                    poa = self._POA.get(poa_text)
                    if poa is None:
                        raise self.err(
                            seg, f"{poa_text!r} is not a present-on-admission indicator (Y, N, U, W, 1)", pos, 9
                        )
                diagnoses.append(Diagnosis(code=self.code(seg, CodeSystem.ICD10CM, code, pos, 2), role=role, poa=poa))
            elif tag == "hi.drg":
                self.only_components(seg, pos, (1, 2))
                if not re.fullmatch(r"[0-9]{3}", code):
                    raise self.err(seg, f"{code!r} is not a DRG (three digits)", pos, 2)
                info["drg"] = code
            elif tag in ("hi.principal_procedure", "hi.other_procedures"):
                if qualifier == "CAH":
                    self.refuse(seg, "HI*CAH", "advanced billing concepts procedure codes", pos, sub=1)
                    continue
                self.only_components(seg, pos, (1, 2, 3, 4))
                if seg.component(pos, 3) != "D8":
                    raise self.err(seg, "the procedure date format must be D8", pos, 3)
                procedure = PcsProcedure(
                    code=self.code(seg, CodeSystem.ICD10PCS, code, pos, 2),
                    date=self.date(seg, pos, seg.component(pos, 4)),
                )
                if tag == "hi.principal_procedure":
                    info["principal_procedure"] = procedure
                else:
                    info["other_procedures"] = tuple(info.get("other_procedures", ())) + (procedure,)  # type: ignore[arg-type]
            elif tag in ("hi.spans", "hi.occurrences"):
                self.only_components(seg, pos, (1, 2, 3, 4))
                self.ub(seg, pos, code)
                fmt, value = seg.component(pos, 3), seg.component(pos, 4)
                if tag == "hi.spans":
                    if fmt != "RD8" or "-" not in value:
                        raise self.err(seg, "an occurrence span needs RD8 and CCYYMMDD-CCYYMMDD", pos, 3)
                    start, _, end = value.partition("-")
                    span = OccurrenceSpan(
                        code=code, date_from=self.date(seg, pos, start), date_to=self.date(seg, pos, end)
                    )
                    info["occurrence_spans"] = tuple(info.get("occurrence_spans", ())) + (span,)  # type: ignore[arg-type]
                else:
                    if fmt != "D8":
                        raise self.err(seg, "an occurrence date needs D8", pos, 3)
                    occ = Occurrence(code=code, date=self.date(seg, pos, value))
                    info["occurrence_codes"] = tuple(info.get("occurrence_codes", ())) + (occ,)  # type: ignore[arg-type]
            elif tag == "hi.values":
                self.only_components(seg, pos, (1, 2, 5))
                self.ub(seg, pos, code)
                amount = self.money(seg, pos, 5)
                assert amount is not None
                value_code = ValueCode(code=code, amount=amount)
                info["value_codes"] = tuple(info.get("value_codes", ())) + (value_code,)  # type: ignore[arg-type]
            elif tag == "hi.conditions":
                self.only_components(seg, pos, (1, 2))
                self.ub(seg, pos, code)
                info["condition_codes"] = tuple(info.get("condition_codes", ())) + (code,)  # type: ignore[arg-type]
            else:  # pragma: no cover
                raise AssertionError(tag)

    def ub(self, seg: Segment, pos: int, code: str) -> None:
        if not _UB.fullmatch(code):
            raise self.err(seg, f"{code!r} is not a two-character NUBC code", pos, 2)

    # loop -> (claim field, role, NM102 allowed: "1", "2" or "12"); institutional fields go into info
    _PROFESSIONAL_PROVIDERS = {
        "2310A": ("referring_provider", ProviderRole.REFERRING, "1"),
        "2310B": ("rendering_provider", ProviderRole.RENDERING, "12"),
        "2310C": ("service_facility", ProviderRole.SERVICE_FACILITY, "2"),
        "2310D": ("supervising_provider", ProviderRole.SUPERVISING, "1"),
    }
    _INSTITUTIONAL_PROVIDERS = {
        "2310A": ("attending_provider", ProviderRole.ATTENDING, "1"),
        "2310B": ("operating_provider", ProviderRole.OPERATING, "1"),
        "2310C": ("other_operating_provider", ProviderRole.OTHER_OPERATING, "1"),
        "2310D": ("rendering_provider", ProviderRole.RENDERING, "1"),
        "2310E": ("service_facility", ProviderRole.SERVICE_FACILITY, "2"),
        "2310F": ("referring_provider", ProviderRole.REFERRING, "1"),
    }
    _INFO_PROVIDERS = frozenset({"attending_provider", "operating_provider", "other_operating_provider"})

    def claim_provider(self, loop: Loop, fields: dict[str, object], info: dict[str, object]) -> None:
        table = self._PROFESSIONAL_PROVIDERS if self.professional else self._INSTITUTIONAL_PROVIDERS
        name, role, entities = table[loop.id]
        if self.professional and loop.id == "2310A":
            if _qualifier(loop.start, 1) == "P3":
                self.refuse(loop.start, "NM1*P3", "primary care provider, loop 2310A")
                return
            if "referring_provider" in fields:
                self.refuse(loop.start, "2310A", "a second referring provider")
                return
        provider = self.provider(loop, role, entities=entities)
        if name in self._INFO_PROVIDERS:
            info[name] = provider
        else:
            fields[name] = provider

    # -- 2320 / 2330 --------------------------------------------------------------------------------

    def other_payer(self, loop: Loop, claim_fields: dict[str, object]) -> tuple[OtherPayer, bool]:
        """One 2320 loop; the flag says whether 2330B carried its own DTP*573."""
        fields: dict[str, object] = {}
        adjustments: list[ClaimAdjustment] = []
        sbr = None
        for seg, d in self.walk(loop):
            if d.tag == "cob.sbr":
                sbr = self.sbr(seg, other=True)
            elif d.tag == "cob.cas":
                adjustments.extend(self.cas(seg))
            elif d.tag == "cob.paid":
                self.only(seg, (1, 2))
                fields["paid_amount"] = self.money(seg, 2)
            elif d.tag == "cob.remaining":
                self.only(seg, (1, 2))
                fields["remaining_patient_liability"] = self.money(seg, 2)
            elif d.tag == "cob.oi":
                self.oi(seg, claim_fields)
        assert sbr is not None
        responsibility, relationship, group, group_name, insurance_type, filing = sbr
        relation = Relationship(relationship) if relationship in {r.value for r in Relationship} else None
        if relation is None:
            raise self.err(loop.start, f"{relationship!r} is not a relationship code medbill claims carry", 2)
        subscriber: Subscriber | None = None
        payer: Payer | None = None
        dated = False
        for child in self.carried_children(loop):
            if child.id == "2330A":
                subscriber = self.subscriber_name(child, group, group_name)
            elif child.id == "2330B":
                payer = self.payer_name(child, filing)
                for seg, d in self.walk(child):
                    if d.tag == "cob.date":
                        fields["adjudication_date"] = self.dates(seg, ("D8",))[0]
                        dated = True
                    elif d.tag == "cob.icn":
                        fields["payer_claim_control_number"] = self.ref(seg)
        assert subscriber is not None and payer is not None
        coverage = Coverage(
            payer=payer,
            subscriber=subscriber,
            responsibility=responsibility,
            relationship=relation,
            insurance_type=insurance_type,
        )
        return OtherPayer(coverage=coverage, adjustments=tuple(adjustments), **fields), dated  # type: ignore[arg-type]

    def oi(self, seg: Segment, claim_fields: dict[str, object]) -> None:
        """OI is carried only as a repeat of CLM08/CLM10/CLM09 (the model has no fields of its own)."""
        self.only(seg, (3, 4, 6) if self.professional else (3, 6))
        benefits = claim_fields.get("benefits_assigned")
        release = claim_fields.get("release_of_information")
        source = claim_fields.get("patient_signature_source")
        checks = (
            (3, benefits.value if isinstance(benefits, Enum) else "", "CLM08 (benefits assignment)"),
            (6, release.value if isinstance(release, Enum) else "", "CLM09 (release of information)"),
            (4, source.value if isinstance(source, Enum) else "", "CLM10 (patient signature source)"),
        )
        for pos, expected, name in checks:
            value = seg.text(pos)
            if pos == 4 and not self.professional:
                continue
            if value != expected:
                self.refuse(
                    seg,
                    seg.ref(pos),
                    f"an other-payer value differing from the claim's {name} {expected or '(empty)'}",
                    pos,
                    value,
                )

    def adjudication_dates(self, payers: list[tuple[OtherPayer, bool]], lines: list[ServiceLine]) -> list[OtherPayer]:
        out: list[OtherPayer] = []
        for other, dated in payers:
            if not dated and other.paid_amount is not None:
                dates = {
                    adj.adjudication_date
                    for line in lines
                    for adj in line.adjudications
                    if adj.payer_id == other.coverage.payer.payer_id
                }
                if len(dates) == 1:
                    other = dataclasses.replace(other, adjudication_date=dates.pop())
            out.append(other)
        return out

    # -- 2400 ---------------------------------------------------------------------------------------

    def line(self, loop: Loop) -> ServiceLine:
        fields: dict[str, object] = {}
        for seg, d in self.walk(loop):
            tag = d.tag
            if tag == "lx":
                self.only(seg, (1,))
                number = self.required(seg, 1, "LX01 (line number)")
                if not number.isdigit() or not 1 <= int(number) <= 999:
                    raise self.err(seg, f"{number!r} is not a line number (1-999)", 1)
                fields["line_number"] = int(number)
            elif tag == "sv1":
                self.sv1(seg, fields)
            elif tag == "sv2":
                self.sv2(seg, fields)
            elif tag == "dtp.service":
                start, end, _ = self.dates(seg, ("D8", "RD8"))
                fields["service_date"] = start
                if end is not None:
                    fields["service_date_to"] = end
            elif tag == "ref.control":
                fields["control_number"] = self.ref(seg)
            elif tag == "ref.prior_auth":
                if "prior_authorization" in fields:
                    self.refuse(seg, "REF*G1", "a second line prior authorization")
                    continue
                fields["prior_authorization"] = self.ref(seg)
            else:  # pragma: no cover
                raise AssertionError(tag)
        adjudications: list[LineAdjudication] = []
        for child in self.carried_children(loop):
            if child.id == "2410":
                fields["drug"] = self.drug(child)
            elif child.id in ("2420A", "2420C"):
                fields["rendering_provider"] = self.provider(
                    child, ProviderRole.RENDERING, entities="12" if self.professional else "1"
                )
            elif child.id == "2420E":
                fields["ordering_provider"] = self.provider(child, ProviderRole.ORDERING, entities="1")
            elif child.id == "2430":
                adjudications.append(self.line_adjudication(child))
        fields["adjudications"] = tuple(adjudications)
        return ServiceLine(**fields)  # type: ignore[arg-type]

    def sv1(self, seg: Segment, fields: dict[str, object]) -> None:
        self.only(seg, (1, 2, 3, 4, 5, 7))
        fields["procedure"], fields["modifiers"], fields["description"] = self.service_code(seg, 1)
        fields["charge"] = self.money(seg, 2)
        fields["unit_type"] = self.enum(UnitType, seg, 3, "unit basis code")
        fields["units"] = self.decimal(seg, 4)
        if seg.text(5):
            fields["place_of_service"] = self.code(seg, CodeSystem.POS, seg.text(5), 5)
        pointers: list[int] = []
        comps = seg.components(7)
        for sub, value in enumerate(comps, start=1):
            if not value:
                if any(comps[sub:]):
                    raise self.err(seg, "diagnosis pointers must fill components 1 to 4 in order", 7, sub)
                continue
            if sub > 4:
                raise self.err(seg, "at most 4 diagnosis pointers", 7, sub)
            if not value.isdigit() or not 1 <= int(value) <= 12:
                raise self.err(seg, f"{value!r} is not a diagnosis pointer (1-12)", 7, sub)
            pointers.append(int(value))
        if not pointers:
            raise self.err(seg, "an 837P line needs at least one diagnosis pointer", 7, 1)
        fields["diagnosis_pointers"] = tuple(pointers)

    def sv2(self, seg: Segment, fields: dict[str, object]) -> None:
        self.only(seg, (1, 2, 3, 4, 5, 7))
        fields["revenue_code"] = self.code(seg, CodeSystem.REVENUE, self.required(seg, 1, "SV201 (revenue code)"), 1)
        if seg.element(2):
            fields["procedure"], fields["modifiers"], fields["description"] = self.service_code(seg, 2)
        fields["charge"] = self.money(seg, 3)
        fields["unit_type"] = self.enum(UnitType, seg, 4, "unit basis code")
        fields["units"] = self.decimal(seg, 5)
        non_covered = self.money(seg, 7, required=False)
        if non_covered is not None:
            fields["non_covered_charge"] = non_covered

    def drug(self, loop: Loop) -> Drug:
        fields: dict[str, object] = {}
        for seg, d in self.walk(loop):
            if d.tag == "lin":
                self.only(seg, (2, 3))
                if seg.text(2) != "N4":
                    self.refuse(seg, f"LIN02*{seg.text(2)}", "a drug code other than an NDC (N4)", 2)
                    continue
                fields["ndc"] = self.required(seg, 3, "LIN03 (NDC)")
            elif d.tag == "ctp":
                self.only(seg, (4, 5))
                fields["quantity"] = self.decimal(seg, 4)
                self.only_components(seg, 5, (1,))
                fields["unit"] = self.enum(NdcUnit, seg, 5, "unit of measure code", 1)
        return Drug(**fields)  # type: ignore[arg-type]

    def line_adjudication(self, loop: Loop) -> LineAdjudication:
        fields: dict[str, object] = {}
        adjustments: list[ClaimAdjustment] = []
        for seg, d in self.walk(loop):
            if d.tag == "svd":
                self.only(seg, (1, 2, 3, 5) if self.professional else (1, 2, 3, 4, 5))
                fields["payer_id"] = self.required(seg, 1, "SVD01 (other payer id)")
                fields["paid_amount"] = self.money(seg, 2)
                if seg.element(3):
                    procedure, modifiers, description = self.service_code(seg, 3)
                    if description:
                        self.refuse(seg, "SVD03-7", "the adjudicated procedure's description", 3, description, 7)
                    fields["procedure"], fields["modifiers"] = procedure, modifiers
                if seg.text(4):
                    fields["revenue_code"] = self.code(seg, CodeSystem.REVENUE, seg.text(4), 4)
                fields["paid_units"] = self.decimal(seg, 5, default=Decimal("1"))
            elif d.tag == "svd.cas":
                adjustments.extend(self.cas(seg))
            elif d.tag == "svd.date":
                fields["adjudication_date"] = self.dates(seg, ("D8",))[0]
        return LineAdjudication(adjustments=tuple(adjustments), **fields)  # type: ignore[arg-type]

    # -- transaction --------------------------------------------------------------------------------

    def claims(self, root: Loop) -> list[Claim]:
        self.header(root)
        out: list[Claim] = []
        billing: dict[str, tuple[Provider, Provider | None]] = {}
        subscribers: dict[str, tuple[Coverage, str]] = {}
        used: set[str] = set()
        for hl in self.carried_children(root):
            if hl.id in ("1000A", "1000B"):
                continue
            seg = hl.start
            hl01, parent = seg.text(1), seg.text(2)
            if hl.id == "2000A":
                billing[hl01] = self.billing(hl)
                continue
            if hl.id == "2000B":
                coverage = self.subscriber(hl)
                subscribers[hl01] = (coverage, parent)
                used.add(parent)
                base = self.base(billing[parent], coverage)
                for child in hl.children:
                    if child.id == "2300":  # the subscriber's own claim (SBR02 18, read so when empty)
                        out.append(self.claim(child, base))
                        used.add(hl01)
                continue
            coverage, grandparent = subscribers[parent]
            used.update((parent, hl01))
            relationship, patient = self.patient(hl)
            coverage = dataclasses.replace(coverage, relationship=relationship)
            base = self.base(billing[grandparent], coverage)
            base["patient"] = patient
            claims = [self.claim(child, base) for child in hl.children if child.id == "2300"]
            if not claims:
                raise self.err(seg, f"patient HL {hl01} has no claim (2300)")
            out.extend(claims)
        for hl in root.children:
            if hl.id in ("2000A", "2000B") and hl.start.text(1) not in used:
                kind = "billing provider" if hl.id == "2000A" else "subscriber"
                raise self.err(hl.start, f"{kind} HL {hl.start.text(1)} has no claims under it")
        return out

    def base(self, billing: tuple[Provider, Provider | None], coverage: Coverage) -> dict[str, object]:
        out: dict[str, object] = {"billing_provider": billing[0], "coverage": coverage}
        if billing[1] is not None:
            out["pay_to_provider"] = billing[1]
        return out


def read_837(text: str, *, drop: Collection[str] = ()) -> list[Claim]:
    """The claims of every 837P/837I transaction set in ``text``, in file order.

    Raises ``X12ParseError`` naming the segment at the first problem (see the module docstring). ``drop``
    lists the keys of data the claim model does not carry that the caller accepts to lose.
    """
    keys = frozenset(drop)
    with gc_paused():
        transactions = parse_837(text)
        out: list[Claim] = []
        mappers: dict[ClaimKind, _Mapper] = {}
        for tx in transactions:
            mapper = mappers.get(tx.kind) or mappers.setdefault(tx.kind, _Mapper(tx.kind, keys))
            mapper.loop_of = tx.loop_of
            out.extend(mapper.claims(tx.root))
        return out

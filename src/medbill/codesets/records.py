"""Records that the official-file parsers yield and the reference store writes.

Parsers are pure: a path (or bytes) in, an iterator of these records out. They never touch the
store. Every record is frozen. Dates are ``datetime.date``; an open end is ``None``. Money and RVUs
are ``Decimal``. Codes are normalised (undotted, upper-case).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from medbill.core.codes import CodeSystem

# Kinds of node in a hierarchy
CHAPTER = "chapter"
BLOCK = "block"  # ICD-10-CM "section" (A00-A09)
CATEGORY = "category"  # 3 characters
SUBCATEGORY = "subcategory"  # 4-6 characters with children
CODE = "code"  # a leaf (billable)
TABLE = "table"  # ICD-10-PCS table (first 3 characters)
ITEM = "item"  # a flat code list entry (modifier, POS, CARC ...)

# Kinds of instructional note (ICD-10-CM tabular element names, normalised)
NOTE_KINDS = (
    "inclusion",  # <inclusionTerm>
    "includes",  # <includes>
    "excludes1",
    "excludes2",
    "code_first",  # <codeFirst>
    "use_additional",  # <useAdditionalCode>
    "code_also",  # <codeAlso>
    "note",  # <notes>
    "seven_chr_note",  # <sevenChrNote>
)


@dataclass(frozen=True, slots=True)
class CodeRow:
    """One node of a code system as published in one release."""

    system: CodeSystem
    code: str
    kind: str
    billable: bool
    long_desc: str | None
    short_desc: str | None = None
    parent: str | None = None  # normalised code of the parent node (a chapter/block id for categories)
    # where the record's validity is known from the file itself (HCPCS add/term dates)
    valid_from: date | None = None
    valid_to: date | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)  # system-specific attributes, JSON-able


@dataclass(frozen=True, slots=True)
class NoteRow:
    """An instructional note where it stands in the tabular (inheritance is computed on lookup)."""

    system: CodeSystem
    code: str
    kind: str  # one of NOTE_KINDS
    seq: int
    text: str


@dataclass(frozen=True, slots=True)
class SeventhCharRow:
    """A 7th-character value defined at ``code`` (applies to every code below it)."""

    system: CodeSystem
    code: str
    char: str
    text: str


@dataclass(frozen=True, slots=True)
class ValidityRow:
    """A date range in which a code is valid (and billable), with the edit flags in force then.

    From the MCE masters (ICD-10-CM/PCS since 2015-10-01) and the I/OCE HCPCS table.
    """

    system: CodeSystem
    code: str
    valid_from: date
    valid_to: date | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One entry of the ICD-10-CM Alphabetic Index, External Cause Index, Neoplasm table or Drug table.

    ``id``/``parent_id`` are file-local integers giving the entry tree (mainTerm level 0, term
    level n). ``codes`` maps a column to a code: ``{"code": "E11.9"}`` for the indexes, the table
    column names for the Neoplasm table (``malignant_primary``, ``malignant_secondary``,
    ``ca_in_situ``, ``benign``, ``uncertain``, ``unspecified``) and the Drug table
    (``poisoning_accidental``, ``poisoning_intentional``, ``poisoning_assault``,
    ``poisoning_undetermined``, ``adverse_effect``, ``underdosing``). Codes are kept as printed
    (may end in "-" for an incomplete code). ``manif`` is the manifestation code printed in
    brackets after the etiology code.
    """

    index: str  # "disease" | "external" | "neoplasm" | "drug"
    id: int
    parent_id: int | None
    level: int
    title: str
    nemod: str = ""  # nonessential modifiers, e.g. "(mellitus)"
    codes: Mapping[str, str] = field(default_factory=dict)
    manif: str = ""
    see: str = ""
    see_also: str = ""


@dataclass(frozen=True, slots=True)
class PtpRow:
    """An NCCI procedure-to-procedure edit: column-1/column-2 pair with the modifier indicator."""

    table: str  # "practitioner" | "outpatient" | "ioce"
    column1: str
    column2: str
    modifier_indicator: str  # "0" never, "1" allowed with an NCCI-associated modifier, "9" n/a
    effective: date
    deleted: date | None  # deletion date (None = in effect); the edit applies while date < deleted
    rationale: str = ""


@dataclass(frozen=True, slots=True)
class MueRow:
    """A medically unlikely edit: maximum units of service for a code."""

    table: str  # "practitioner" | "outpatient" | "dme"
    code: str
    max_units: int
    mai: int  # MUE adjudication indicator: 1 line edit, 2 date of service (policy), 3 date of service (clinical)
    rationale: str = ""
    effective: date | None = None
    deleted: date | None = None


@dataclass(frozen=True, slots=True)
class RvuRow:
    """A Medicare Physician Fee Schedule RVU row (one HCPCS/CPT + modifier)."""

    code: str
    modifier: str
    status: str
    work_rvu: Decimal
    nonfacility_pe_rvu: Decimal
    facility_pe_rvu: Decimal
    mp_rvu: Decimal
    conversion_factor: Decimal
    global_days: str
    attrs: Mapping[str, Any] = field(default_factory=dict)  # indicators (PCTC, mult surg, bilat ...)


@dataclass(frozen=True, slots=True)
class GpciRow:
    mac: str
    state: str
    locality: str
    name: str
    work: Decimal
    pe: Decimal
    mp: Decimal

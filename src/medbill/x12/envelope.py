"""X12 005010 envelopes: ISA/IEA interchange, GS/GE functional group, ST/SE transaction set.

Format: ASC X12 005010 control segments (ISA version 00501) as used by the HIPAA implementation guides
(837P 005010X222A1, 837I 005010X223A2, published by X12 at x12.org; the envelope rules are appendix B of
each TR3). The ISA is fixed width: ISA06/ISA08 are padded to 15 characters, ISA13 is 9 digits, ISA11
carries the repetition separator and ISA16 the component separator. GS06/GE02 and ST02/SE02 repeat the
group and transaction control numbers; SE01, GE01 and IEA01 are counts, computed here from what is
written, never kept by hand.

Control numbers come from a ``ControlNumbers`` source (``next_interchange()``, ``next_group()``,
``next_transaction()``) that must never hand out the same number twice for one trading partner:
``CounterControlNumbers`` counts in memory (tests, one-off files); ``medbill.x12.sequence`` persists
them in SQLite.

Text written into elements goes through ``Elements``: free text (names, addresses, notes) is reduced to
the X12 basic/extended character set (accents folded, delimiters and control characters replaced by a
space, truncated to the element's maximum); identifiers (member ids, claim ids, NPIs) are refused with
an ``X12WriteError`` when they contain a delimiter, non-ASCII text or exceed their maximum length, since
changing an identifier silently would send a different claim.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from medbill.core.claim import Contact
from medbill.core.errors import MedbillError

__all__ = [
    "ControlNumbers",
    "CounterControlNumbers",
    "Delimiters",
    "Elements",
    "InterchangeSettings",
    "MAX_CONTROL_NUMBER",
    "X12WriteError",
    "format_r",
    "interchange_settings_from_mapping",
    "wrap_interchange",
]

MAX_CONTROL_NUMBER = 999_999_999
"""ISA13 is N0 9/9, GS06 N0 1/9, ST02 AN 4/9: all three stay below 10^9."""


class X12WriteError(MedbillError):
    """A claim or setting that cannot be written into a valid 837.

    ``path`` is the JSON-style location (``claims[3]``, ``settings.sender_id``); ``element`` the X12
    element by its implementation-guide name (``2010BA NM109``) when there is one.
    """

    code = "x12_write_error"

    def __init__(
        self,
        message: str,
        *,
        path: str,
        element: str | None = None,
        claim_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = path
        if claim_id is not None:
            where += f" (claim {claim_id})"
        if element:
            where += f": {element}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.element = element
        self.claim_id = claim_id
        self.detail = message

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["path"] = self.path
        if self.element:
            out["element"] = self.element
        if self.claim_id is not None:
            out["claim"] = self.claim_id
        return out


# ---------------------------------------------------------------------------------------------------
# Delimiters and element text


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four X12 delimiters (from the ISA segment when reading) and an optional line break.

    ``suffix`` is written after each segment terminator (``""`` or ``"\\n"``/``"\\r\\n"``); receivers
    ignore line breaks between segments, and a file with them is easier to read.
    """

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"
    suffix: str = ""

    def __post_init__(self) -> None:
        chars = (self.element, self.component, self.repetition, self.segment)
        for name, char in zip(("element", "component", "repetition", "segment"), chars, strict=True):
            if len(char) != 1 or char.isalnum() or char.isspace() or not char.isascii() or not char.isprintable():
                raise X12WriteError(
                    f"{char!r} cannot be a delimiter: use one printable, non-alphanumeric ASCII character",
                    path=f"settings.delimiters.{name}",
                )
        if len(set(chars)) != 4:
            raise X12WriteError("the four delimiters must differ", path="settings.delimiters")
        if self.suffix not in ("", "\n", "\r\n"):
            raise X12WriteError('suffix is "", "\\n" or "\\r\\n"', path="settings.delimiters.suffix")

    @property
    def terminator(self) -> str:
        """What ends a segment in the file: the terminator and the optional line break."""
        return self.segment + self.suffix


_MULTISPACE = re.compile(r" {2,}")


class _BadValue(Exception):
    """An element value that cannot be written; the writer adds the claim context."""

    def __init__(self, element: str, message: str) -> None:
        super().__init__(message)
        self.element = element
        self.message = message


class Elements:
    """Element text for one set of delimiters: free text cleaned, identifiers checked, money as R."""

    __slots__ = ("delimiters", "_forbidden", "_translate", "e", "c")

    def __init__(self, delimiters: Delimiters) -> None:
        self.delimiters = delimiters
        self.e = delimiters.element
        self.c = delimiters.component
        specials = delimiters.element + delimiters.component + delimiters.repetition + delimiters.segment
        self._forbidden = re.compile("[" + re.escape(specials) + r"\x00-\x1f\x7f]")
        table = {ord(ch): " " for ch in specials}
        table.update({i: " " for i in range(32)})
        table[127] = " "
        self._translate = table

    def text(self, value: str | None, max_len: int) -> str:
        """Free text (names, addresses, notes): ASCII, no delimiters, single spaces, at most ``max_len``."""
        if not value:
            return ""
        if not value.isascii():
            value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
        if self._forbidden.search(value):
            value = value.translate(self._translate)
        if "  " in value:
            value = _MULTISPACE.sub(" ", value)
        value = value.strip()
        if len(value) > max_len:
            value = value[:max_len].rstrip()
        return value

    def ident(self, value: str, element: str, max_len: int, *, min_len: int = 1) -> str:
        """An identifier written as given, or ``_BadValue`` naming the element."""
        value = value.strip()
        if len(value) < min_len:
            raise _BadValue(element, f"{value!r} is shorter than {min_len} characters")
        if len(value) > max_len:
            raise _BadValue(element, f"{value!r} is longer than {max_len} characters")
        if not value.isascii() or self._forbidden.search(value):
            raise _BadValue(
                element,
                f"{value!r} contains a delimiter, a control character or non-ASCII text",
            )
        return value

    def composite(self, *parts: str) -> str:
        """Components joined by the component separator, trailing empty ones dropped.

        (No component contains a delimiter, so stripping trailing separators drops exactly the
        trailing empty components.)
        """
        return self.c.join(parts).rstrip(self.c)

    def segment(self, *elements: str) -> str:
        """One segment without its terminator; trailing empty elements are dropped."""
        return self.e.join(elements).rstrip(self.e)


def format_r(value: Decimal) -> str:
    """An X12 R (real) value: no exponent, no trailing zeros, no float ("100", "100.5", "-3.25")."""
    text = str(value)
    if "E" in text or "e" in text or "N" in text or "n" in text:  # exponent, NaN, Infinity
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        return "0"
    return text


def format_d8(value: dt.date) -> str:
    """CCYYMMDD."""
    return value.isoformat().replace("-", "")


def format_rd8(start: dt.date, end: dt.date) -> str:
    return f"{format_d8(start)}-{format_d8(end)}"


# ---------------------------------------------------------------------------------------------------
# Settings


_QUALIFIER = re.compile(r"[0-9A-Z]{2}")
_ID_CHARS = re.compile(r"[ -~]*")  # printable ASCII


@dataclass(frozen=True, slots=True, kw_only=True)
class InterchangeSettings:
    """Who sends to whom: the ISA/GS ids, the submitter (1000A) and the receiver (1000B).

    ``sender_id``/``receiver_id`` are ISA06/ISA08 (also GS02/GS03 unless ``application_sender_code``/
    ``application_receiver_code`` say otherwise); ``receiver_primary_id`` is 1000B NM109 (defaults to
    ``receiver_id``). ``submitter_id`` is the submitter's ETIN as the receiver assigned it (1000A NM109).
    """

    sender_id: str  # ISA06
    receiver_id: str  # ISA08
    sender_qualifier: str = "ZZ"  # ISA05
    receiver_qualifier: str = "ZZ"  # ISA07
    application_sender_code: str | None = None  # GS02
    application_receiver_code: str | None = None  # GS03
    submitter_name: str  # 1000A NM103
    submitter_id: str  # 1000A NM109 (NM108 = 46)
    submitter_is_person: bool = False  # 1000A NM102 1 (person) or 2 (organization)
    submitter_first_name: str | None = None  # 1000A NM104 when a person
    submitter_contact: Contact  # 1000A PER
    receiver_name: str  # 1000B NM103
    receiver_primary_id: str | None = None  # 1000B NM109 (NM108 = 46)
    usage_indicator: str = "T"  # ISA15: T test, P production
    acknowledgment_requested: bool = False  # ISA14: TA1 requested
    delimiters: Delimiters = field(default_factory=Delimiters)
    max_claims_per_transaction: int = 5000  # the TR3 recommends at most 5000 CLM per ST/SE
    transaction_type: str = "CH"  # BHT06: CH chargeable, RP reporting (encounters)

    def __post_init__(self) -> None:
        def bad(name: str, message: str) -> X12WriteError:
            return X12WriteError(message, path=f"settings.{name}")

        for name in ("sender_id", "receiver_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not 1 <= len(value.strip()) <= 15 or not _ID_CHARS.fullmatch(value):
                raise bad(name, f"{value!r}: ISA06/ISA08 ids are 1 to 15 printable ASCII characters")
        for name in ("sender_qualifier", "receiver_qualifier"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _QUALIFIER.fullmatch(value):
                raise bad(name, f"{value!r}: an ISA id qualifier is two characters such as ZZ, 01, 30")
        for name in ("application_sender_code", "application_receiver_code"):
            value = getattr(self, name)
            if value is not None and (not 2 <= len(value.strip()) <= 15 or not _ID_CHARS.fullmatch(value)):
                raise bad(name, f"{value!r}: GS02/GS03 codes are 2 to 15 printable ASCII characters")
        if self.application_sender_code is None and len(self.sender_id.strip()) < 2:
            raise bad("application_sender_code", "GS02 needs 2 to 15 characters; sender_id is too short")
        if self.application_receiver_code is None and len(self.receiver_id.strip()) < 2:
            raise bad("application_receiver_code", "GS03 needs 2 to 15 characters; receiver_id is too short")
        for name in ("submitter_name", "receiver_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise bad(name, "required")
        for name in ("submitter_id", "receiver_primary_id"):
            value = getattr(self, name)
            if value is not None and (not 2 <= len(value.strip()) <= 80 or not _ID_CHARS.fullmatch(value)):
                raise bad(name, f"{value!r}: NM109 ids are 2 to 80 printable ASCII characters")
        contact = self.submitter_contact
        if not isinstance(contact, Contact) or not (contact.phone or contact.email or contact.fax):
            raise bad("submitter_contact", "1000A PER needs a phone number, an email address or a fax number")
        if self.usage_indicator not in ("T", "P"):
            raise bad("usage_indicator", f"{self.usage_indicator!r}: ISA15 is T (test) or P (production)")
        if not isinstance(self.max_claims_per_transaction, int) or not 1 <= self.max_claims_per_transaction <= 5000:
            raise bad("max_claims_per_transaction", "between 1 and 5000 claims per transaction set")
        if self.transaction_type not in ("CH", "RP", "31"):
            raise bad("transaction_type", "BHT06 is CH (chargeable), RP (reporting) or 31 (subrogation)")
        if not isinstance(self.delimiters, Delimiters):
            raise bad("delimiters", "expected Delimiters")
        used = "".join(
            (
                self.sender_id,
                self.receiver_id,
                self.application_sender_code or "",
                self.application_receiver_code or "",
                self.submitter_id,
                self.receiver_primary_id or "",
            )
        )
        d = self.delimiters
        for char in (d.element, d.component, d.repetition, d.segment):
            if char in used:
                raise bad("delimiters", f"the delimiter {char!r} appears in an interchange id")

    @property
    def gs_sender(self) -> str:
        return (self.application_sender_code or self.sender_id).strip()

    @property
    def gs_receiver(self) -> str:
        return (self.application_receiver_code or self.receiver_id).strip()

    @property
    def receiver_nm109(self) -> str:
        return (self.receiver_primary_id or self.receiver_id).strip()

    @property
    def partner_key(self) -> str:
        """The trading-partner key control numbers are kept under: sender and receiver with qualifiers."""
        return f"{self.sender_qualifier}:{self.sender_id.strip()}>{self.receiver_qualifier}:{self.receiver_id.strip()}"


_SETTING_FIELDS = (
    "sender_id",
    "receiver_id",
    "sender_qualifier",
    "receiver_qualifier",
    "application_sender_code",
    "application_receiver_code",
    "submitter_name",
    "submitter_id",
    "submitter_is_person",
    "submitter_first_name",
    "receiver_name",
    "receiver_primary_id",
    "usage_indicator",
    "acknowledgment_requested",
    "max_claims_per_transaction",
    "transaction_type",
)
_CONTACT_FIELDS = ("name", "phone", "phone_extension", "fax", "email")
_DELIMITER_FIELDS = ("element", "component", "repetition", "segment", "suffix")


def interchange_settings_from_mapping(data: Mapping[str, Any], *, source: str = "settings") -> InterchangeSettings:
    """``InterchangeSettings`` from a plain mapping (a partner TOML/JSON file, or the environment).

    Keys are the field names; ``submitter_contact`` and ``delimiters`` are nested mappings. Unknown keys
    and wrong types raise ``X12WriteError`` with ``path`` = ``source.key``. A ``partner`` key (the name
    control numbers are kept under) is allowed and ignored here.
    """
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{source}.{key}"
        if key == "partner":
            continue
        if key == "submitter_contact":
            kwargs[key] = Contact(**_nested(value, _CONTACT_FIELDS, path, str))
        elif key == "delimiters":
            kwargs[key] = Delimiters(**_nested(value, _DELIMITER_FIELDS, path, str))
        elif key in ("submitter_is_person", "acknowledgment_requested"):
            kwargs[key] = _boolean(value, path)
        elif key == "max_claims_per_transaction":
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
                raise X12WriteError(f"{value!r} is not a whole number", path=path)
            kwargs[key] = int(value)
        elif key in _SETTING_FIELDS:
            if not isinstance(value, str):
                raise X12WriteError(f"expected a string, got {type(value).__name__}", path=path)
            kwargs[key] = value
        else:
            raise X12WriteError(
                "unknown setting", path=path, hint=f"known: {', '.join((*_SETTING_FIELDS, 'submitter_contact'))}"
            )
    missing = [
        name
        for name in ("sender_id", "receiver_id", "submitter_name", "submitter_id", "submitter_contact", "receiver_name")
        if name not in kwargs
    ]
    if missing:
        raise X12WriteError(f"missing {', '.join(missing)}", path=source)
    try:
        return InterchangeSettings(**kwargs)
    except X12WriteError as exc:
        raise X12WriteError(exc.detail, path=exc.path.replace("settings", source, 1), hint=exc.hint) from None


def _nested(value: object, fields: tuple[str, ...], path: str, kind: type) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise X12WriteError(f"expected a table/object, got {type(value).__name__}", path=path)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in fields:
            raise X12WriteError(f"unknown key; known: {', '.join(fields)}", path=f"{path}.{key}")
        if item is not None and not isinstance(item, kind):
            raise X12WriteError(f"expected a string, got {type(item).__name__}", path=f"{path}.{key}")
        out[str(key)] = item
    return out


def _boolean(value: object, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "y"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "n", ""):
        return False
    raise X12WriteError(f"{value!r} is not true or false", path=path)


# ---------------------------------------------------------------------------------------------------
# Control numbers


class ControlNumbers(Protocol):
    """A source of interchange (ISA13), group (GS06) and transaction (ST02) control numbers.

    Each call returns a number never returned before for this trading partner (1..999,999,999).
    """

    def next_interchange(self) -> int: ...

    def next_group(self) -> int: ...

    def next_transaction(self) -> int: ...


class CounterControlNumbers:
    """Control numbers counted in memory from the given starting values (never repeats per object)."""

    def __init__(self, *, interchange: int = 1, group: int = 1, transaction: int = 1) -> None:
        self._next = {"interchange": interchange, "group": group, "transaction": transaction}

    def _take(self, kind: str) -> int:
        value = self._next[kind]
        if not 1 <= value <= MAX_CONTROL_NUMBER:
            raise X12WriteError(f"{kind} control numbers are exhausted", path=f"control_numbers.{kind}")
        self._next[kind] = value + 1
        return value

    def next_interchange(self) -> int:
        return self._take("interchange")

    def next_group(self) -> int:
        return self._take("group")

    def next_transaction(self) -> int:
        return self._take("transaction")


def _checked(value: int, kind: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTROL_NUMBER:
        raise X12WriteError(f"{value!r} is not a control number 1..999999999", path=f"control_numbers.{kind}")
    return value


# ---------------------------------------------------------------------------------------------------
# Interchange assembly


@dataclass(frozen=True, slots=True)
class EnvelopeNumbers:
    """The control numbers of one written interchange, as written (ISA13 9 digits, ST02 at least 4)."""

    interchange: str
    group: str
    transactions: tuple[str, ...]


def wrap_interchange(
    bodies: Iterable[list[str]],
    *,
    settings: InterchangeSettings,
    control_numbers: ControlNumbers,
    when: dt.datetime,
    version: str,
    header: Callable[[str], list[str]],
) -> tuple[str, EnvelopeNumbers, tuple[int, ...]]:
    """One ISA/GS around the transaction ``bodies`` (segments between the header and SE, unterminated).

    ``header(st02)`` gives the segments after ST (BHT, 1000A, 1000B). Control numbers are taken from
    ``control_numbers`` here, after every claim has been rendered, so a claim that cannot be written
    uses none. Returns the text, the numbers, and SE01 of each transaction.
    """
    d = settings.delimiters
    e = d.element
    term = d.terminator
    isa13 = f"{_checked(control_numbers.next_interchange(), 'interchange'):09d}"
    gs06 = str(_checked(control_numbers.next_group(), "group"))
    isa = e.join(
        (
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            settings.sender_qualifier,
            settings.sender_id.strip().ljust(15),
            settings.receiver_qualifier,
            settings.receiver_id.strip().ljust(15),
            f"{when:%y%m%d}",
            f"{when:%H%M}",
            d.repetition,
            "00501",
            isa13,
            "1" if settings.acknowledgment_requested else "0",
            settings.usage_indicator,
            d.component,
        )
    )
    gs = e.join(
        ("GS", "HC", settings.gs_sender, settings.gs_receiver, f"{when:%Y%m%d}", f"{when:%H%M}", gs06, "X", version)
    )
    chunks: list[str] = [isa, term, gs, term]
    st_numbers: list[str] = []
    counts: list[int] = []
    for body in bodies:
        st02 = f"{_checked(control_numbers.next_transaction(), 'transaction'):04d}"
        st_numbers.append(st02)
        head = header(st02)
        segments = [e.join(("ST", "837", st02, version)), *head, *body]
        se01 = len(segments) + 1
        segments.append(e.join(("SE", str(se01), st02)))
        counts.append(se01)
        chunks.append(term.join(segments))
        chunks.append(term)
    chunks.extend((e.join(("GE", str(len(st_numbers)), gs06)), term, e.join(("IEA", "1", isa13)), term))
    return "".join(chunks), EnvelopeNumbers(isa13, gs06, tuple(st_numbers)), tuple(counts)

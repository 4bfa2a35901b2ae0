"""Ledger entries: append-only, frozen, ``Decimal`` money, posted in batches that are exactly-once by key.

An :class:`Entry` is one signed amount on one claim (and line) for one *party*: a payer
(``payer_party("TESTCI001")`` = ``"payer:TESTCI001"``) or the patient (``PATIENT``). Entries are
never changed or deleted: a mistake is answered by a ``correction`` entry, a payer's take-back by
``reversal`` entries.

Sign convention (one rule for every kind): ``amount`` is the change in what the party owes us on
that claim. A charge is positive; a payment, a contractual adjustment, a denial or a write-off is
negative; a refund we send back is positive (it raises a credit balance back toward zero); a
transfer is a pair of entries, minus on the party that stops owing and plus on the one that
starts (patient responsibility from an 835 moves the PR amount from the payer to the patient).
So for every claim ``Σ amounts`` is the open balance, ``Σ`` over one party its share, and

    charges = payments + adjustments + open balance

where *payments* is the net cash received (payments less refunds) and *adjustments* the net
non-cash reductions (see :class:`Category`); transfers net to zero on each claim.

Provider-level adjustments from the 835 PLB segment are entries without a claim
(``claim_id is None``), party the payer, ``amount`` = PLB04 as the payer writes it (positive: money
the payer kept back — a take-back, a forward balance being recovered; negative: money added —
interest, a forward balance advanced). They are outside claim A/R (category ``provider``).

Entries are appended as :class:`PostingBatch` es. A batch has a :class:`PostingKey` and the ledger
store refuses a second batch with a key it already holds: for a remittance claim payment the key is
(TRN03, TRN02, CLP01, CLP07, CLP02, position), so the same 835 read again — renamed, resent — posts
nothing. An 835 batch also carries the claim payment's content *fingerprint* so that the same
payment reissued under another trace number is caught (``suspected_duplicate``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from medbill.core.errors import MedbillError

__all__ = [
    "PATIENT",
    "AppendResult",
    "Category",
    "Entry",
    "EntryKind",
    "FingerprintUses",
    "LedgerError",
    "LedgerStore",
    "PostedKeys",
    "PostingBatch",
    "PostingKey",
    "Skipped",
    "SkipReason",
    "Source",
    "SourceKind",
    "category_of",
    "entry_id",
    "is_patient",
    "payer_id_of",
    "payer_party",
]

PATIENT = "patient"
"""The party of patient money (copays, patient payments, patient responsibility)."""

_PAYER_PREFIX = "payer:"


def payer_party(payer_id: str) -> str:
    """The party string of a payer: ``payer_party("TESTCI001") == "payer:TESTCI001"``."""
    return _PAYER_PREFIX + payer_id


def is_patient(party: str) -> bool:
    return party == PATIENT


def payer_id_of(party: str) -> str | None:
    """The payer id of a payer party, ``None`` for the patient."""
    return party[len(_PAYER_PREFIX) :] if party.startswith(_PAYER_PREFIX) else None


class LedgerError(MedbillError):
    """A broken ledger contract (a malformed entry or action), not a data problem of a remittance."""

    code = "ledger_error"


class EntryKind(StrEnum):
    CHARGE = "charge"
    PAYER_PAYMENT = "payer_payment"
    CONTRACTUAL_ADJUSTMENT = "contractual_adjustment"  # CO with a pricing reason (45, 253, 59 ...)
    PATIENT_RESPONSIBILITY = "patient_responsibility"  # PR: 1 deductible, 2 coinsurance, 3 copay, other PR
    OTHER_ADJUSTMENT = "other_adjustment"  # OA / PI with a pricing reason
    DENIAL = "denial"  # a non-PR adjustment with a denial reason (CO 50, CO 97, OA 18 ...)
    REVERSAL = "reversal"  # CLP02=22: ``of_kind`` names what is reversed
    CORRECTION = "correction"  # a user correction: ``of_kind`` names what is corrected
    PLB_TAKEBACK = "plb_takeback"  # PLB WO overpayment recovery, 72 authorized return
    PLB_INTEREST = "plb_interest"  # PLB L6
    PLB_FORWARD_BALANCE = "plb_forward_balance"  # PLB FB
    PLB_OTHER = "plb_other"  # any other PLB reason (kept in ``plb_reason``)
    REFUND = "refund"  # an overpayment returned to a payer
    TRANSFER_TO_SECONDARY = "transfer_to_secondary"
    TRANSFER_TO_PATIENT = "transfer_to_patient"
    WRITE_OFF = "write_off"  # approved (small-balance, hardship, ...) write-off
    PATIENT_PAYMENT = "patient_payment"
    COPAY_AT_TIME_OF_SERVICE = "copay_at_time_of_service"
    CREDIT_BALANCE_REFUND = "credit_balance_refund"  # a patient's credit balance paid back
    PAYMENT_PLAN_INSTALLMENT = "payment_plan_installment"


class Category(StrEnum):
    """What an entry does to the claim invariant ``charges = payments + adjustments + open``."""

    CHARGE = "charge"
    PAYMENT = "payment"  # cash: payments (negative amounts) and refunds (positive)
    ADJUSTMENT = "adjustment"  # non-cash reductions
    TRANSFER = "transfer"  # moves a balance between parties; nets to zero on the claim
    PROVIDER = "provider"  # PLB: provider level, outside claim A/R


_CATEGORY: dict[EntryKind, Category] = {
    EntryKind.CHARGE: Category.CHARGE,
    EntryKind.PAYER_PAYMENT: Category.PAYMENT,
    EntryKind.PATIENT_PAYMENT: Category.PAYMENT,
    EntryKind.COPAY_AT_TIME_OF_SERVICE: Category.PAYMENT,
    EntryKind.PAYMENT_PLAN_INSTALLMENT: Category.PAYMENT,
    EntryKind.REFUND: Category.PAYMENT,
    EntryKind.CREDIT_BALANCE_REFUND: Category.PAYMENT,
    EntryKind.CONTRACTUAL_ADJUSTMENT: Category.ADJUSTMENT,
    EntryKind.OTHER_ADJUSTMENT: Category.ADJUSTMENT,
    EntryKind.DENIAL: Category.ADJUSTMENT,
    EntryKind.WRITE_OFF: Category.ADJUSTMENT,
    EntryKind.PATIENT_RESPONSIBILITY: Category.TRANSFER,
    EntryKind.TRANSFER_TO_SECONDARY: Category.TRANSFER,
    EntryKind.TRANSFER_TO_PATIENT: Category.TRANSFER,
    EntryKind.PLB_TAKEBACK: Category.PROVIDER,
    EntryKind.PLB_INTEREST: Category.PROVIDER,
    EntryKind.PLB_FORWARD_BALANCE: Category.PROVIDER,
    EntryKind.PLB_OTHER: Category.PROVIDER,
}


def category_of(kind: EntryKind, of_kind: EntryKind | None = None) -> Category:
    """The category of a kind; a reversal or correction takes the category of ``of_kind``."""
    if kind in (EntryKind.REVERSAL, EntryKind.CORRECTION):
        if of_kind is None or of_kind in (EntryKind.REVERSAL, EntryKind.CORRECTION):
            raise LedgerError(f"a {kind} entry needs of_kind naming the kind it {kind}s")
        return _CATEGORY[of_kind]
    return _CATEGORY[kind]


class SourceKind(StrEnum):
    CLAIM = "claim"  # charges from our claim
    REMITTANCE = "remittance"  # an 835 claim payment or PLB
    USER = "user"  # a user action (payment at the desk, refund, write-off, transfer, correction)


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where an entry comes from. Holds control numbers and positions, never PHI."""

    kind: SourceKind
    payer_trace_id: str | None = None  # TRN03
    trace: str | None = None  # TRN02
    transaction: str | None = None  # ST02 of the 835 (informational: not part of the key)
    claim_position: int | None = None  # index of the CLP in the 835
    service_position: int | None = None  # index of the SVC in its CLP
    plb_position: int | None = None  # index of the PLB adjustment in the 835
    action: str | None = None  # user action id (idempotency key)
    user: str | None = None


def _escape(part: str) -> str:
    return part.replace("\\", "\\\\").replace("|", "\\|")


@dataclass(frozen=True, slots=True, order=True)
class PostingKey:
    """The exactly-once key of a batch: ``source`` plus its parts (see the constructors).

    ``text`` is the canonical string a store puts under a unique index. It contains CLP01 (PHI):
    log ``digest``, never ``text``.
    """

    source: str
    parts: tuple[str, ...]

    @classmethod
    def remittance(
        cls,
        *,
        payer_trace_id: str,
        trace: str,
        patient_control_number: str,
        payer_claim_number: str | None,
        status: str,
        position: int,
    ) -> PostingKey:
        """(TRN03, TRN02, CLP01, CLP07, CLP02, position) of one 835 claim payment."""
        return cls(
            "835",
            (payer_trace_id, trace, patient_control_number, payer_claim_number or "", status, str(position)),
        )

    @classmethod
    def provider_adjustment(cls, *, payer_trace_id: str, trace: str, position: int) -> PostingKey:
        """(TRN03, TRN02, position) of one PLB adjustment."""
        return cls("plb", (payer_trace_id, trace, str(position)))

    @classmethod
    def charge(cls, claim_id: str) -> PostingKey:
        return cls("charge", (claim_id,))

    @classmethod
    def action(cls, action_id: str) -> PostingKey:
        """A user action, keyed by an id the client generates once (a double click posts once)."""
        return cls("action", (action_id,))

    @property
    def text(self) -> str:
        return "|".join((self.source, *(_escape(p) for p in self.parts)))

    @property
    def digest(self) -> str:
        """A short surrogate of ``text`` for logs and entry ids (no PHI)."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def trace(self) -> tuple[str, str] | None:
        """(TRN03, TRN02) for remittance keys, else ``None``."""
        if self.source in ("835", "plb"):
            return (self.parts[0], self.parts[1])
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One append-only ledger entry (see the module docstring for the sign convention)."""

    id: str
    key: PostingKey
    claim_id: str | None  # None only for provider-level (PLB) entries
    line_number: int | None  # None: claim level
    kind: EntryKind
    party: str  # payer_party(id) or PATIENT
    amount: Decimal
    effective: dt.date
    source: Source
    of_kind: EntryKind | None = None  # reversal / correction: the kind reversed or corrected
    group: str | None = None  # CAS01 group code (CO, PR, OA, PI)
    carc: str | None = None  # CAS reason code
    rarcs: tuple[str, ...] = ()  # remark codes (LQ*HE at the line, MOA/MIA at the claim)
    quantity: Decimal | None = None  # CAS quantity
    plb_reason: str | None = None  # PLB03-1 (WO, L6, FB, 72, J1 ...)
    reference: str | None = None  # PLB03-2, or a user reference (check number, plan id)
    related_claim_id: str | None = None  # PLB: the claim its reference names, when found
    memo: str | None = None

    @property
    def category(self) -> Category:
        return category_of(self.kind, self.of_kind)

    @property
    def base_kind(self) -> EntryKind:
        """``of_kind`` for reversals and corrections, else ``kind``."""
        return self.of_kind if self.of_kind is not None else self.kind


@dataclass(frozen=True, slots=True, kw_only=True)
class PostingBatch:
    """Entries appended together, exactly once per ``key``."""

    key: PostingKey
    entries: tuple[Entry, ...]
    fingerprint: str | None = None  # content fingerprint of an 835 claim payment
    reverses: str | None = None  # for a reversal: the fingerprint of the payment it cancels
    duplicate_approved: bool = False  # a human released a suspected duplicate


@dataclass(frozen=True, slots=True)
class FingerprintUses:
    """Where a content fingerprint was posted, and how many reversals cancelled it."""

    keys: tuple[PostingKey, ...] = ()
    reversed: int = 0

    @property
    def live(self) -> int:
        return len(self.keys) - self.reversed


class SkipReason(StrEnum):
    ALREADY_POSTED = "already_posted"
    SUSPECTED_DUPLICATE = "suspected_duplicate"


@dataclass(frozen=True, slots=True)
class Skipped:
    key: PostingKey
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class AppendResult:
    appended: tuple[PostingKey, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    @property
    def entries_changed(self) -> bool:
        return bool(self.appended)


class PostedKeys(Protocol):
    """What posting needs to know about the ledger (a store implements it)."""

    def posted_fingerprint(self, key: PostingKey) -> str | None:
        """The fingerprint posted under ``key``: ``None`` if never posted, ``""`` if posted without one."""
        ...

    def fingerprint_uses(self, fingerprint: str) -> FingerprintUses: ...


class LedgerStore(PostedKeys, Protocol):
    """Append-only storage of batches.

    ``append`` is atomic per batch and exactly-once on ``batch.key``: a batch whose key is already
    held is skipped (``already_posted``); a batch with a fingerprint that is live under another
    (TRN03, TRN02), not ``duplicate_approved`` and not the reversal of a live payment is skipped
    (``suspected_duplicate``). Skips are returned, never raised. Two posters racing with the same
    batch append it once.
    """

    def append(self, batches: Sequence[PostingBatch]) -> AppendResult: ...

    def entries(self) -> Sequence[Entry]: ...


def entry_id(key: PostingKey, index: int) -> str:
    """Deterministic entry id: the key's digest and the entry's index in its batch."""
    return f"{key.digest}-{index}"

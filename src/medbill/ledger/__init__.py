"""The ledger: append-only entries, balances, exactly-once 835 posting, claim status, denials and A/R.

Modules: ``entries`` (records, keys, the store protocol), ``actions`` (charges and user actions),
``posting`` (plan and apply an 835), ``memory`` (the in-memory store), ``balances``, ``status``
(the claim state machine), ``reasons`` (CARC categories, group codes), ``denials`` (worklist,
expected allowed amounts), ``reports`` (aging and revenue-cycle measures). Imports only
``medbill.core`` and, for PFS pricing, ``medbill.codesets.pfs``/``records``.
"""

from medbill.ledger.balances import (
    LedgerProblem,
    PayerBalance,
    Totals,
    claim_balances,
    ledger_problems,
    line_balances,
    party_balances,
    patient_balances,
    payer_balances,
)
from medbill.ledger.entries import (
    PATIENT,
    AppendResult,
    Category,
    Entry,
    EntryKind,
    LedgerError,
    LedgerStore,
    PostedKeys,
    PostingBatch,
    PostingKey,
    Source,
    SourceKind,
    payer_party,
)
from medbill.ledger.memory import InMemoryLedger
from medbill.ledger.posting import Disposition, PostingPlan, apply, plan_posting, release_duplicates
from medbill.ledger.status import ClaimStatus, StatusChange, next_frequency

__all__ = [
    "PATIENT",
    "AppendResult",
    "Category",
    "ClaimStatus",
    "Disposition",
    "Entry",
    "EntryKind",
    "InMemoryLedger",
    "LedgerError",
    "LedgerProblem",
    "LedgerStore",
    "PayerBalance",
    "PostedKeys",
    "PostingBatch",
    "PostingKey",
    "PostingPlan",
    "Source",
    "SourceKind",
    "StatusChange",
    "Totals",
    "apply",
    "claim_balances",
    "ledger_problems",
    "line_balances",
    "next_frequency",
    "party_balances",
    "patient_balances",
    "payer_balances",
    "payer_party",
    "plan_posting",
    "release_duplicates",
]

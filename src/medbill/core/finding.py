"""A data problem found by an edit: never raised, always returned."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # blocks submission
    WARNING = "warning"  # does not block
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: stable rule code, dotted name, severity, location, message and fix."""

    rule: str
    name: str
    severity: Severity
    message: str
    location: str = ""
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": str(self.severity),
            "location": self.location,
            "message": self.message,
            "fix": self.fix,
        }

"""Frozen domain records and errors. Standard library only."""

from medbill.core.codes import Code, CodeSystem
from medbill.core.errors import (
    CodeSetError,
    InvalidCode,
    MedbillError,
    NotFound,
    PermissionDenied,
    SourceFileError,
    X12ParseError,
)
from medbill.core.finding import Finding, Severity

__all__ = [
    "Code",
    "CodeSetError",
    "CodeSystem",
    "Finding",
    "InvalidCode",
    "MedbillError",
    "NotFound",
    "PermissionDenied",
    "Severity",
    "SourceFileError",
    "X12ParseError",
]

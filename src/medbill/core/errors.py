"""One error root. Exceptions are for broken contracts; data problems are Findings."""

from __future__ import annotations


class MedbillError(Exception):
    """Root of every error medbill raises on purpose.

    ``code`` is a stable machine-readable identifier; ``hint`` an optional fix for the user.
    """

    code = "medbill_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"error": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class NotFound(MedbillError):
    code = "not_found"


class PermissionDenied(MedbillError):
    code = "permission_denied"


class AuthenticationRequired(MedbillError):
    """No valid session: missing, expired, idle too long, revoked, or MFA not yet passed."""

    code = "authentication_required"


class Conflict(MedbillError):
    """The request conflicts with the current state (a duplicate, a stale version, a wrong status)."""

    code = "conflict"


class ValidationFailed(MedbillError):
    """Input that breaks a rule of the operation, with the field it concerns."""

    code = "validation_failed"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self.field:
            out["field"] = self.field
        return out


class CodeSetError(MedbillError):
    """A code-set problem: unknown code, bad format, reference data missing."""

    code = "code_set_error"


class InvalidCode(CodeSetError):
    """A code that is malformed, unknown, not billable, or not valid on a date.

    ``suggestions`` lists nearby valid codes (display form) when there are any.
    """

    code = "invalid_code"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        suggestions: tuple[str, ...] = (),
        reason: str = "invalid",
    ) -> None:
        super().__init__(message, hint=hint)
        self.suggestions = suggestions
        self.reason = reason

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["reason"] = self.reason
        if self.suggestions:
            out["suggestions"] = list(self.suggestions)
        return out


class SourceFileError(CodeSetError):
    """An official source file that cannot be read: names the file, line and field."""

    code = "source_file_error"

    def __init__(
        self,
        message: str,
        *,
        path: str,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = path
        if line is not None:
            where += f", line {line}"
        if field:
            where += f", field {field}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.line = line
        self.field = field


class X12ParseError(MedbillError):
    """An X12 interchange that cannot be read, located by segment index, id and element."""

    code = "x12_parse_error"

    def __init__(
        self,
        message: str,
        *,
        segment_index: int | None = None,
        segment_id: str | None = None,
        element: str | None = None,
    ) -> None:
        parts = []
        if segment_index is not None:
            parts.append(f"segment {segment_index}")
        if segment_id:
            parts.append(segment_id)
        if element:
            parts.append(element)
        prefix = " ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.segment_index = segment_index
        self.segment_id = segment_id
        self.element = element

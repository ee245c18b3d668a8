"""Why a report is rejected: machine-readable reasons, messages that never hold values."""

from __future__ import annotations

from enum import StrEnum

from anonymizer.errors import InputError


class ReportReason(StrEnum):
    """Rejection reasons of the report path (with ``identifying_value_in_output``,
    ``verification_failed`` and ``too_large`` of :class:`anonymizer.errors.Reason`)."""

    UNSUPPORTED = "unsupported_report"
    MALFORMED = "malformed_report"
    STUDY_MISMATCH = "study_mismatch"
    INVALID_IDENTIFIERS = "invalid_identifiers"


class ReportError(InputError):
    """A report that cannot be de-identified; it is rejected whole and never stored.

    ``report_reason`` is the machine-readable reason; the message names fields, pages or
    lines, never a value.
    """

    def __init__(self, report_reason: ReportReason, message: str) -> None:
        self.report_reason = report_reason
        super().__init__(message)


def reason_of(exc: Exception) -> str:
    """The machine-readable reason of a rejection."""
    if isinstance(exc, ReportError):
        return str(exc.report_reason)
    reason = getattr(exc, "reason", None)
    return str(reason) if reason is not None else "verification_failed"

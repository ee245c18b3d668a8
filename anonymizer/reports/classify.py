"""What kind of report some bytes are: by their content first, then by name and media type."""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePath

from anonymizer.reports.errors import ReportError, ReportReason


class ReportKind(StrEnum):
    """The report formats the service accepts."""

    JSON = "json"
    TEXT = "text"
    MARKDOWN = "markdown"
    PDF = "pdf"
    DICOM_SR = "dicom-sr"
    DICOM_PDF = "dicom-pdf"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self]


_MEDIA_TYPES = {
    ReportKind.JSON: "application/json",
    ReportKind.TEXT: "text/plain; charset=utf-8",
    ReportKind.MARKDOWN: "text/markdown; charset=utf-8",
    ReportKind.PDF: "application/pdf",
    ReportKind.DICOM_SR: "application/dicom",
    ReportKind.DICOM_PDF: "application/dicom",
}
_EXTENSIONS = {
    ReportKind.JSON: "json",
    ReportKind.TEXT: "txt",
    ReportKind.MARKDOWN: "md",
    ReportKind.PDF: "pdf",
    ReportKind.DICOM_SR: "dcm",
    ReportKind.DICOM_PDF: "dcm",
}
_TEXT_SUFFIXES = frozenset({".txt", ".text", ".log", ".csv"})
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
_JSON_TYPES = frozenset({"application/json", "text/json"})


def _by_name(suffix: str, mime: str) -> ReportKind | None:
    if suffix == ".json" or mime in _JSON_TYPES or mime.endswith("+json"):
        return ReportKind.JSON
    if suffix in _MARKDOWN_SUFFIXES or mime in {"text/markdown", "text/x-markdown"}:
        return ReportKind.MARKDOWN
    if suffix in _TEXT_SUFFIXES or mime.startswith("text/"):
        return ReportKind.TEXT
    return None


def classify_report(
    data: bytes, *, filename: str | None = None, media_type: str | None = None
) -> ReportKind:
    """The kind of report ``data`` is. DICOM comes back as ``DICOM_SR``; the caller tells an
    SR from an Encapsulated PDF by its SOP Class."""
    if data[128:132] == b"DICM":
        return ReportKind.DICOM_SR
    if b"%PDF-" in data[:1024]:
        return ReportKind.PDF
    suffix = PurePath(filename or "").suffix.lower()
    mime = (media_type or "").split(";")[0].strip().lower()
    named = _by_name(suffix, mime)
    if named is not None:
        return named
    if suffix in {".dcm", ".pdf"} or mime in {"application/dicom", "application/pdf"}:
        raise ReportError(ReportReason.MALFORMED, f"the report is not a valid {suffix or mime}")
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return ReportKind.JSON
    if not data or b"\0" in data[:4096]:
        raise ReportError(
            ReportReason.UNSUPPORTED, "reports are JSON, text, Markdown, PDF or DICOM SR"
        )
    return ReportKind.TEXT

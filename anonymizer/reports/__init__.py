"""Analysis reports: de-identified with the pseudonyms of their study, stored beside it.

JSON results, plain text and Markdown, PDF, DICOM Structured Reports and Encapsulated PDF::

    from anonymizer import Anonymizer, PseudonymKey
    from anonymizer.reports import ReportAnonymizer, ReportInput

    images = Anonymizer(profile="basic", key=PseudonymKey.from_file("deid.key"))
    report = ReportAnonymizer(images).anonymize(ReportInput(data, filename="result.json"))

The identifying values searched for in a report are those of its own identifying fields
(JSON keys, a DICOM report's header), those a caller supplies for the linked study, and the
patterns that identify on their own (:mod:`anonymizer.reports.detect`).
"""

from anonymizer.reports.classify import ReportKind, classify_report
from anonymizer.reports.deidentify import DeidentifiedReport, ReportAnonymizer, ReportInput
from anonymizer.reports.detect import Kind, find_patterns, is_rrn, rrn_check_digit
from anonymizer.reports.errors import ReportError, ReportReason
from anonymizer.reports.options import PdfPolicy, Replacement, ReportOptions, ReportSettings
from anonymizer.reports.redact import Redactor
from anonymizer.reports.values import StudyValues

__all__ = [
    "DeidentifiedReport",
    "Kind",
    "PdfPolicy",
    "Redactor",
    "Replacement",
    "ReportAnonymizer",
    "ReportError",
    "ReportInput",
    "ReportKind",
    "ReportOptions",
    "ReportReason",
    "ReportSettings",
    "StudyValues",
    "classify_report",
    "find_patterns",
    "is_rrn",
    "rrn_check_digit",
]

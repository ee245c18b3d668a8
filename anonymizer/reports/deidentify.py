"""One report through every stage: classify, collect identifying values, replace, verify.

Nothing comes back unless the leak check passed; a report that fails it is rejected whole
with the reason (:class:`anonymizer.errors.LeakDetected` names fields, lines or pages, never
values).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from anonymizer.pipeline import Anonymizer
from anonymizer.reports import json_report, sr_report, text_report
from anonymizer.reports.classify import ReportKind, classify_report
from anonymizer.reports.options import ReportOptions, report_options
from anonymizer.reports.redact import Redactor
from anonymizer.reports.values import StudyValues

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class ReportInput:
    """An incoming report: its bytes, and the name and media type it came with (hints)."""

    data: bytes
    filename: str | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class DeidentifiedReport:
    """A report ready to store. Holds pseudonyms, counts and kinds, never input values.

    ``study_uid`` is the de-identified Study Instance UID the report names itself (a DICOM
    report's, or a JSON report's top-level field), or None.
    """

    data: bytes
    kind: ReportKind
    report_id: str
    study_uid: str | None
    sha256: str
    replaced: Mapping[str, int]
    warnings: tuple[str, ...]

    @property
    def media_type(self) -> str:
        return self.kind.media_type

    @property
    def extension(self) -> str:
        return self.kind.extension

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class ParsedReport:
    """A classified, parsed report, before de-identification."""

    kind: ReportKind
    json: Any = None
    text: str = ""
    dataset: Dataset | None = None
    data: bytes = b""


class ReportAnonymizer:
    """De-identify analysis reports with the pseudonyms of one image anonymizer.

    Parameters
    ----------
    anonymizer
        The anonymizer the study's images went through (same profile, same key): the report
        gets the same pseudonyms.
    options
        How reports are treated; by default what the profile's ``reports`` section says.
    """

    def __init__(self, anonymizer: Anonymizer, *, options: ReportOptions | None = None) -> None:
        self.anonymizer = anonymizer
        self.options = options or report_options(anonymizer.compiled.profile)
        self._pipeline: Anonymizer | None = None

    def parse(self, report: ReportInput) -> tuple[ParsedReport, StudyValues]:
        """Classify and parse ``report``; return it with the identifying values it holds."""
        kind = classify_report(report.data, filename=report.filename, media_type=report.media_type)
        if kind is ReportKind.JSON:
            document = json_report.parse_json(report.data, max_depth=self.options.max_json_depth)
            return ParsedReport(kind, json=document), json_report.collect_values(document)
        if kind is ReportKind.DICOM_SR:
            ds = sr_report.read_report(report.data)
            if sr_report.is_encapsulated_pdf(ds):
                kind = ReportKind.DICOM_PDF
            return ParsedReport(kind, dataset=ds), sr_report.values_of(ds)
        if kind in (ReportKind.TEXT, ReportKind.MARKDOWN):
            return ParsedReport(kind, text=text_report.decode_text(report.data)), StudyValues()
        return ParsedReport(kind, data=report.data), StudyValues()

    def anonymize(
        self,
        report: ReportInput,
        *,
        study_uid: str | None = None,
        identifiers: Mapping[str, object] | StudyValues | None = None,
    ) -> DeidentifiedReport:
        """De-identify one report.

        Parameters
        ----------
        report
            The report's bytes (and name and media type, as hints).
        study_uid
            The original Study Instance UID of the linked study, when known: it must not
            survive, and it gives the date shift of a study without a patient ID.
        identifiers
            Identifying values of the linked study known otherwise: a mapping of DICOM
            keywords (``PatientName``, ``PatientID`` ...) to values, or values already
            collected (from the JSON reports of the same request). Used in memory only.

        Raises
        ------
        ReportError
            Unsupported or malformed report.
        LeakDetected
            An identifying value is still in the output.
        """
        parsed, own = self.parse(report)
        return self.anonymize_parsed(parsed, own, study_uid=study_uid, identifiers=identifiers)

    def anonymize_parsed(
        self,
        parsed: ParsedReport,
        own: StudyValues,
        *,
        study_uid: str | None = None,
        identifiers: Mapping[str, object] | StudyValues | None = None,
    ) -> DeidentifiedReport:
        """De-identify a report :meth:`parse` gave, with its own values first."""
        values = StudyValues()
        values.merge(own)
        if isinstance(identifiers, StudyValues):
            values.merge(identifiers)
        elif identifiers:
            values.merge(StudyValues.from_identifiers(identifiers))
        if study_uid:
            values.uids.add(study_uid)
        redactor = Redactor(
            values,
            pseudonyms=self.anonymizer.pseudonyms,
            compiled=self.anonymizer.compiled,
            options=self.options,
            study_uid=study_uid,
        )
        data, study, warnings, report_id = self._run(parsed, redactor)
        digest = hashlib.sha256(data).hexdigest()
        logger.debug("report kind=%s replaced=%d", parsed.kind, sum(redactor.counts.values()))
        return DeidentifiedReport(
            data=data,
            kind=parsed.kind,
            report_id=report_id or f"r-{digest[:32]}",
            study_uid=study,
            sha256=digest,
            replaced={str(k): v for k, v in sorted(redactor.counts.items())},
            warnings=tuple(warnings),
        )

    def _run(
        self, parsed: ParsedReport, redactor: Redactor
    ) -> tuple[bytes, str | None, list[str], str | None]:
        options = self.options
        if parsed.kind is ReportKind.JSON:
            result = json_report.deidentify_json(parsed.json, redactor)
            json_report.verify_json(result.document, redactor)
            return json_report.dump_json(result.document), result.study_uid, [], None
        if parsed.kind in (ReportKind.TEXT, ReportKind.MARKDOWN):
            text = text_report.deidentify_text(parsed.text, redactor)
            text_report.verify_text(text, redactor)
            return text.encode("utf-8"), None, [], None
        if parsed.kind is ReportKind.PDF:
            # Loaded on the first PDF: pypdf, pdfium and Pillow cost ~40 MB in every process.
            from anonymizer.reports import pdf_report  # noqa: PLC0415

            pdf = pdf_report.deidentify_pdf(
                parsed.data,
                redactor,
                policy=options.pdf,
                dpi=options.pdf_dpi,
                max_pages=options.max_pdf_pages,
            )
            pdf_report.verify_pdf(pdf.data, redactor)
            return pdf.data, None, pdf.warnings, None
        assert parsed.dataset is not None  # noqa: S101 - parse() set it for DICOM
        outcome = sr_report.deidentify_dicom(
            parsed.dataset, pipeline=self._report_pipeline(), redactor=redactor, options=options
        )
        dicom = outcome.result
        return outcome.data, dicom.study_instance_uid, outcome.warnings, dicom.sop_instance_uid

    def _report_pipeline(self) -> Anonymizer:
        if self._pipeline is None:
            self._pipeline = sr_report.report_pipeline(self.anonymizer)
        return self._pipeline

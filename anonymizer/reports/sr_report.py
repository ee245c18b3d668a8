"""DICOM reports: Structured Reports and Encapsulated PDF.

They go through the image pipeline (header profile, verify stage) with the Clean Structured
Content option added, so the content tree is kept and its text cleaned instead of removed;
before that, their free text is scrubbed like any report text and an encapsulated PDF goes
through the PDF path (after which Encapsulated Document is kept, not dummied). After it, the
text of every element and the encapsulated PDF are checked again.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from anonymizer.actions import Action, Option
from anonymizer.errors import LeakDetected
from anonymizer.pipeline import Anonymizer, ObjectResult, _quiet_pydicom
from anonymizer.profiles import compile_profile
from anonymizer.reports.errors import ReportError, ReportReason
from anonymizer.reports.options import ReportOptions
from anonymizer.reports.redact import Redactor
from anonymizer.reports.values import StudyValues

SR_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
_ENCAPSULATED_DOCUMENT = 0x00420011
_FREE_TEXT = frozenset({"UT", "LT", "ST", "UC"})
_TEXT = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})


@dataclass
class DicomOutcome:
    """The de-identified DICOM report and what the pipeline did."""

    data: bytes
    result: ObjectResult
    warnings: list[str] = field(default_factory=list)


def read_report(data: bytes) -> Dataset:
    """The DICOM report's data set; anything but an SR or an Encapsulated PDF is refused."""
    try:
        with _quiet_pydicom():
            ds = pydicom.dcmread(io.BytesIO(data))
            sop_class = str(ds.get("SOPClassUID", ""))
    except (InvalidDicomError, ValueError, EOFError, OSError, KeyError, TypeError) as exc:
        raise ReportError(
            ReportReason.MALFORMED, f"the DICOM report cannot be read ({type(exc).__name__})"
        ) from None
    if not (sop_class.startswith(SR_CLASS_PREFIX) or sop_class == ENCAPSULATED_PDF):
        raise ReportError(
            ReportReason.UNSUPPORTED,
            "a DICOM report is a Structured Report or an Encapsulated PDF; "
            "send images to /v1/uploads",
        )
    return ds


def is_encapsulated_pdf(ds: Dataset) -> bool:
    return str(ds.get("SOPClassUID", "")) == ENCAPSULATED_PDF


def values_of(ds: Dataset) -> StudyValues:
    """The identifying values of the report's header."""
    with _quiet_pydicom():
        return StudyValues.from_dataset(ds)


def report_pipeline(base: Anonymizer) -> Anonymizer:
    """``base`` with Clean Structured Content, and Encapsulated Document kept (the PDF path
    has cleaned it); same key, same limits."""
    profile = base.compiled.profile
    variant = dataclasses.replace(
        profile,
        options=profile.options | {Option.CLEAN_STRUCTURED_CONTENT},
        attributes={**profile.attributes, _ENCAPSULATED_DOCUMENT: Action.KEEP},
    )
    return Anonymizer(profile=compile_profile(variant), key=base.key, limits=base.limits)


def deidentify_dicom(
    ds: Dataset, *, pipeline: Anonymizer, redactor: Redactor, options: ReportOptions
) -> DicomOutcome:
    """Scrub the free text, clean an encapsulated PDF, run the pipeline, check the result."""
    warnings: list[str] = []
    with _quiet_pydicom():
        for _path, elem in _text_elements(ds, prefix="", vrs=_FREE_TEXT):
            elem.value = _map_text(elem.value, redactor.scrub)
        if is_encapsulated_pdf(ds) and _ENCAPSULATED_DOCUMENT in ds:
            from anonymizer.reports.pdf_report import deidentify_pdf  # noqa: PLC0415 - heavy

            outcome = deidentify_pdf(
                bytes(ds.EncapsulatedDocument),
                redactor,
                policy=options.pdf,
                dpi=options.pdf_dpi,
                max_pages=options.max_pdf_pages,
            )
            ds.EncapsulatedDocument = outcome.data + (b"\0" if len(outcome.data) % 2 else b"")
            if "EncapsulatedDocumentLength" in ds:
                ds.EncapsulatedDocumentLength = len(outcome.data)
            warnings.extend(outcome.warnings)
        source = io.BytesIO()
        ds.save_as(source, enforce_file_format=True)
    out = io.BytesIO()
    result = pipeline.anonymize(source.getvalue(), out)
    data = out.getvalue()
    verify_dicom(data, redactor)
    return DicomOutcome(data, result, [*warnings, *result.warnings])


def verify_dicom(data: bytes, redactor: Redactor) -> None:
    """Raise :class:`LeakDetected` naming the elements (or PDF pages) still identifying."""
    with _quiet_pydicom():
        ds = pydicom.dcmread(io.BytesIO(data))
        places = [
            f"{path} ({', '.join(sorted(set(kinds)))})"
            for path, elem in _text_elements(ds, prefix="", vrs=_TEXT)
            if (kinds := [k for t in _texts(elem.value) for k in redactor.leaks(t)])
        ]
        if places:
            raise LeakDetected(places)
        if is_encapsulated_pdf(ds) and _ENCAPSULATED_DOCUMENT in ds:
            from anonymizer.reports.pdf_report import verify_pdf  # noqa: PLC0415 - heavy

            try:
                verify_pdf(bytes(ds.EncapsulatedDocument).rstrip(b"\0"), redactor)
            except LeakDetected as exc:
                raise LeakDetected([f"(0042,0011) {p}" for p in exc.paths]) from None


def _text_elements(
    ds: Dataset, *, prefix: str, vrs: frozenset[str]
) -> Iterator[tuple[str, pydicom.DataElement]]:
    for elem in ds:
        path = f"{prefix}({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value):
                yield from _text_elements(item, prefix=f"{path}[{index}]/", vrs=vrs)
        elif elem.VR in vrs and elem.value:
            yield path, elem


def _texts(value: object) -> list[str]:
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _map_text(value: object, scrub: Callable[[str], str]) -> object:
    if isinstance(value, MultiValue | list | tuple):
        return [scrub(str(v)) for v in value]
    return scrub(str(value))

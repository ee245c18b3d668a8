"""How reports are de-identified: replacement style, the PDF policy, the record-number pattern.

The defaults suit the shipped profiles. A profile may say otherwise in a ``reports:``
section (see :class:`ReportSettings`); :func:`report_options` reads it when present.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from anonymizer.profiles.report_settings import (
    PdfPolicy,
    Replacement,
    ReportSettings,
    check_pattern,
)

__all__ = ["PdfPolicy", "Replacement", "ReportOptions", "ReportSettings", "report_options"]


@dataclass(frozen=True)
class ReportOptions:
    """Options of the report path.

    Parameters
    ----------
    replacement
        Pseudonyms (the same as the images got) or typed placeholders.
    pdf
        Reject a PDF whose text holds identifying values, or re-render it as an image PDF
        with those words masked.
    mrn_pattern
        A regular expression for the site's medical record numbers; a group named ``id``
        (or else the first group, or else the whole match) is what gets replaced.
    pdf_dpi
        Resolution of re-rendered PDF pages.
    max_pdf_pages
        PDFs with more pages are rejected.
    max_json_depth
        JSON nested deeper is rejected.
    """

    replacement: Replacement = Replacement.PSEUDONYM
    pdf: PdfPolicy = PdfPolicy.REJECT
    mrn_pattern: str | None = None
    pdf_dpi: int = 150
    max_pdf_pages: int = 200
    max_json_depth: int = 64

    def __post_init__(self) -> None:
        check_pattern(self.mrn_pattern)
        if not 36 <= self.pdf_dpi <= 600:
            raise ValueError("pdf_dpi must be within [36, 600]")
        if self.max_pdf_pages < 1 or self.max_json_depth < 1:
            raise ValueError("max_pdf_pages and max_json_depth must be positive")


def report_options(profile: Any, base: ReportOptions | None = None) -> ReportOptions:
    """The options for ``profile`` (a loaded profile): its ``reports`` section over ``base``."""
    options = base or ReportOptions()
    settings = getattr(profile, "reports", None)
    if not isinstance(settings, ReportSettings):
        return options
    changes = {k: v for k, v in settings.model_dump().items() if v is not None}
    return replace(options, **changes)

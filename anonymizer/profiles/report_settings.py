"""The ``reports:`` section of a profile: how analysis reports are de-identified.

Kept with the profile schema (pure pydantic, no I/O); ``anonymizer.reports.options``
turns it into the report path's options.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

_MAX_PATTERN = 512


class Replacement(StrEnum):
    """What an identifying value in a report becomes."""

    PSEUDONYM = "pseudonym"  # the keyed pseudonym the images got, where there is one
    PLACEHOLDER = "placeholder"  # a typed placeholder: [NAME], [ID], [PHONE] ...


class PdfPolicy(StrEnum):
    """What happens to a PDF whose text holds identifying values (PDF text cannot be edited)."""

    REJECT = "reject"  # reject the report, naming the pages
    RASTERIZE = "rasterize"  # re-render as an image PDF with those words masked


def check_pattern(pattern: str | None) -> str | None:
    if pattern is None:
        return None
    if len(pattern) > _MAX_PATTERN:
        raise ValueError(f"mrn_pattern is longer than {_MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"mrn_pattern is not a regular expression ({exc.msg})") from None
    if compiled.match(""):
        raise ValueError("mrn_pattern must not match the empty string")
    return pattern


class ReportSettings(BaseModel):
    """The ``reports:`` section of a YAML profile (all fields optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replacement: Replacement | None = None
    pdf: PdfPolicy | None = None
    mrn_pattern: str | None = Field(default=None, max_length=_MAX_PATTERN)

    @field_validator("mrn_pattern")
    @classmethod
    def _valid_pattern(cls, value: str | None) -> str | None:
        return check_pattern(value)

"""The schema of a YAML profile, as frozen pydantic models: an invalid profile cannot exist."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from anonymizer.actions import Action, Option
from anonymizer.pixels.codec import LossyOutput
from anonymizer.pixels.regions import RegionRule
from anonymizer.profiles.report_settings import ReportSettings

_TAG_PATTERN = re.compile(r"\([0-9A-Fa-fxX]{4},[0-9A-Fa-fxX]{4}\)")
_POLICY_OPTIONS = {
    Option.RETAIN_SAFE_PRIVATE: "'private: {policy: safe}'",
    Option.RETAIN_LONGITUDINAL_FULL_DATES: "'dates: {policy: keep}'",
    Option.RETAIN_LONGITUDINAL_MODIFIED_DATES: "'dates: {policy: shift}'",
}


def _parse_action(value: object) -> object:
    """Accept PS3.15 letters; an unknown action is reported on its own line."""
    if not isinstance(value, str):
        return value
    try:
        return Action.parse(value)
    except ValueError:
        known = ", ".join(a.value for a in Action)
        raise ValueError(
            f"unknown action {value.strip()!r}; use X, Z, D, K, C, U or {known}"
        ) from None


def _no_policy_option(option: Option) -> Option:
    """The three options that a policy sets cannot also be listed."""
    if option in _POLICY_OPTIONS:
        raise ValueError(f"option {option.value!r} is set by {_POLICY_OPTIONS[option]}")
    return option


# Validated one by one, so an error's location (and so its line) is that of the item.
_ActionField = Annotated[Action, BeforeValidator(_parse_action)]
_OptionField = Annotated[Option, AfterValidator(_no_policy_option)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatePolicy(StrEnum):
    """What happens to dates and date-times the Annex E table lets a profile retain."""

    REMOVE = "remove"  # Basic Profile: dates go; LongitudinalTemporalInformationModified REMOVED
    SHIFT = "shift"  # Retain Longitudinal Temporal Information with Modified Dates (113107)
    KEEP = "keep"  # Retain Longitudinal Temporal Information with Full Dates (113106)


class PrivatePolicy(StrEnum):
    """What happens to private (odd group) elements."""

    REMOVE = "remove"  # Basic Profile
    SAFE = "safe"  # Retain Safe Private (113111): Table E.3.10-1 plus the profile's own list
    KEEP = "keep"  # keep every private element (not a PS3.15 option; for trusted sources only)


class PixelPolicy(StrEnum):
    """When the pixel stage cleans burned-in text."""

    NEVER = "never"
    ALWAYS = "always"
    BURNED_IN_ANNOTATION = "burned_in_annotation"
    MODALITIES = "modalities"


class Unlisted(StrEnum):
    """What happens to public elements that neither Table E.1-1 nor the profile lists."""

    KEEP = "keep"  # PS3.15: attributes not in the table are retained
    REMOVE = "remove"  # keep-list profiles: only what the profile names survives


class DateSettings(_Frozen):
    policy: DatePolicy
    shift_days: tuple[int, int] = (-730, -1)

    @field_validator("shift_days")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if low > high:
            raise ValueError("shift_days must be [low, high] with low <= high")
        if low <= 0 <= high:
            raise ValueError("shift_days must not contain 0: an unshifted date is not modified")
        if max(abs(low), abs(high)) > 36500:
            raise ValueError("shift_days must stay within 100 years")
        return value


class PrivateCreatorEntry(_Frozen):
    """One extra safe private element: group, Private Creator and element within the block."""

    group: str = Field(pattern=r"^[0-9A-Fa-f]{4}$")
    creator: str = Field(min_length=1, max_length=64)
    element: str = Field(pattern=r"^[0-9A-Fa-f]{2}$")

    @field_validator("group")
    @classmethod
    def _odd(cls, value: str) -> str:
        if int(value, 16) % 2 == 0:
            raise ValueError("a private group is odd")
        return value.upper()


class PrivateSettings(_Frozen):
    policy: PrivatePolicy
    safe: tuple[PrivateCreatorEntry, ...] = ()


class PixelSettings(_Frozen):
    policy: PixelPolicy
    modalities: tuple[str, ...] = ()
    sop_classes: tuple[str, ...] = ()
    regions: tuple[RegionRule, ...] = ()
    lossy_output: LossyOutput = LossyOutput.UNCOMPRESSED

    @model_validator(mode="after")
    def _modalities_given(self) -> PixelSettings:
        if self.policy is PixelPolicy.MODALITIES and not (self.modalities or self.sop_classes):
            raise ValueError("policy 'modalities' needs a list of modalities or sop_classes")
        return self


class PatternRule(_Frozen):
    """A tag pattern such as ``(0009,xxxx)`` or ``(60xx,3000)`` and its action."""

    tag: str
    action: _ActionField

    @field_validator("tag")
    @classmethod
    def _tag_pattern(cls, value: str) -> str:
        if not _TAG_PATTERN.fullmatch(value):
            raise ValueError(
                "a tag pattern is '(gggg,eeee)' with 4 hex digits or x in each half, "
                "such as '(0019,xxxx)'"
            )
        return value


class ProfileSpec(_Frozen):
    """One YAML profile file, before ``extends`` is resolved."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""
    version: int = Field(default=1, ge=1)
    edition: str = "2026d"
    extends: str | None = None
    options: tuple[_OptionField, ...] = ()
    unlisted: Unlisted | None = None
    attributes: dict[str, _ActionField] = Field(default_factory=dict)
    patterns: tuple[PatternRule, ...] = ()
    private: PrivateSettings | None = None
    dates: DateSettings | None = None
    pixels: PixelSettings | None = None
    reports: ReportSettings | None = None
    safe_harbor: bool | None = None

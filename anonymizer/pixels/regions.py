"""Region rules: fixed rectangles blanked on images from devices known to write text there.

As in RSNA CTP's DicomPixelAnonymizer script and pydicom/deid's ``%filter`` sections, a
rule names header values to match and the rectangles to blank. In a profile::

    pixels:
      policy: modalities
      modalities: [US]
      regions:
        - name: philips-iu22-banner
          match: {Manufacturer: "Philips*", Modality: US, Rows: 600, Columns: 800}
          boxes: [[0, 0, 800, 60]]          # x, y, width, height

String values are case-insensitive shell patterns (``*``, ``?``, ``[..]``) matched
against the stripped value (for multi-valued attributes, against any value or the
values joined with ``\\``); integers must be equal. Every key must match; a missing
attribute never matches.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydicom.dataset import Dataset

from anonymizer.pixels.geometry import Box


class MatchKey(StrEnum):
    """The header attributes a region rule may match on."""

    MANUFACTURER = "Manufacturer"
    MANUFACTURER_MODEL_NAME = "ManufacturerModelName"
    SOFTWARE_VERSIONS = "SoftwareVersions"
    MODALITY = "Modality"
    SOP_CLASS_UID = "SOPClassUID"
    ROWS = "Rows"
    COLUMNS = "Columns"
    IMAGE_TYPE = "ImageType"
    PHOTOMETRIC_INTERPRETATION = "PhotometricInterpretation"
    NUMBER_OF_FRAMES = "NumberOfFrames"
    STATION_NAME = "StationName"
    DEVICE_SERIAL_NUMBER = "DeviceSerialNumber"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegionBox(_Frozen):
    """One rectangle in pixels: ``x``, ``y`` of its top-left corner, ``width``, ``height``.

    Written in YAML as ``[x, y, width, height]`` or as a mapping.
    """

    x: int = Field(ge=0)
    y: int = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)

    def to_box(self) -> Box:
        """As a :class:`~anonymizer.pixels.geometry.Box`."""
        return Box(self.x, self.y, self.width, self.height)


class RegionRule(_Frozen):
    """Header values to match and the rectangles to blank on every frame of a match."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    match: dict[MatchKey, str | int] = Field(min_length=1)
    boxes: tuple[RegionBox, ...] = Field(min_length=1)

    @field_validator("boxes", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(_box_from_list(item) for item in value)
        return value

    def matches(self, ds: Dataset) -> bool:
        """Whether every key of ``match`` matches ``ds``."""
        return all(_matches(ds, key, wanted) for key, wanted in self.match.items())


def _box_from_list(item: object) -> object:
    if isinstance(item, list | tuple):
        if len(item) != 4:
            raise ValueError("a box is [x, y, width, height]")
        x, y, width, height = item
        return {"x": x, "y": y, "width": width, "height": height}
    return item


def _matches(ds: Dataset, key: MatchKey, wanted: str | int) -> bool:
    try:
        value = ds.get(key.value)
    except Exception:  # noqa: BLE001 - a malformed value never matches
        return False
    if value is None or value == "":
        return False
    if isinstance(wanted, int):
        try:
            return int(value) == wanted
        except (TypeError, ValueError):
            return False
    values = [str(v).strip() for v in value] if _multi(value) else [str(value).strip()]
    pattern = wanted.strip().lower()
    candidates = [*values, "\\".join(values)]
    return any(fnmatch.fnmatchcase(candidate.lower(), pattern) for candidate in candidates)


def _multi(value: object) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def region_boxes(ds: Dataset, rules: Iterable[RegionRule]) -> tuple[list[str], list[Box]]:
    """The names of the rules that match ``ds`` and the boxes they blank."""
    names: list[str] = []
    boxes: list[Box] = []
    for rule in rules:
        if rule.matches(ds):
            names.append(rule.name)
            boxes.extend(region.to_box() for region in rule.boxes)
    return names, boxes

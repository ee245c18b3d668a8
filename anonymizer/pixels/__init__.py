"""Burned-in text: decode every frame, find text, mask it, re-encode.

Pure: takes and returns data sets and arrays, no I/O. The pipeline calls
:func:`clean_pixels`; previews and the image path use the pieces below it.

Names are loaded on first use (PEP 562), so that ``anonymizer.pixels.regions`` (which
profiles need) does not pull OpenCV in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anonymizer.pixels.codec import DecodedPixels, LossyOutput, decode_pixels, encode_pixels
    from anonymizer.pixels.detect import DEFAULT_SETTINGS, DetectorSettings, detect_text
    from anonymizer.pixels.geometry import Box
    from anonymizer.pixels.overlays import OverlayHandling
    from anonymizer.pixels.policy import CleanReason, cleaning_reason
    from anonymizer.pixels.regions import MatchKey, RegionBox, RegionRule
    from anonymizer.pixels.stage import PixelOptions, PixelResult, clean_pixels

_WHERE = {
    "DecodedPixels": "codec",
    "LossyOutput": "codec",
    "decode_pixels": "codec",
    "encode_pixels": "codec",
    "DEFAULT_SETTINGS": "detect",
    "DetectorSettings": "detect",
    "detect_text": "detect",
    "Box": "geometry",
    "OverlayHandling": "overlays",
    "CleanReason": "policy",
    "cleaning_reason": "policy",
    "MatchKey": "regions",
    "RegionBox": "regions",
    "RegionRule": "regions",
    "PixelOptions": "stage",
    "PixelResult": "stage",
    "clean_pixels": "stage",
}

__all__ = [
    "DEFAULT_SETTINGS",
    "Box",
    "CleanReason",
    "DecodedPixels",
    "DetectorSettings",
    "LossyOutput",
    "MatchKey",
    "OverlayHandling",
    "PixelOptions",
    "PixelResult",
    "RegionBox",
    "RegionRule",
    "clean_pixels",
    "cleaning_reason",
    "decode_pixels",
    "detect_text",
    "encode_pixels",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - PEP 562 hook
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"anonymizer.pixels.{_WHERE[name]}"), name)

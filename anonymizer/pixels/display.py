"""8-bit views of decoded frames: what detection and previews look at.

Stored values are never changed here; these are copies. Monochrome data wider than 8 bits
is scaled between low and high percentiles of the whole series, so text drawn at the
maximum value (the usual way scanners burn it in) is white, and anatomy keeps contrast.
Palette colour is looked up, YBR_FULL converted to RGB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, convert_color_space
from pydicom.uid import ExplicitVRBigEndian

from anonymizer.pixels.codec import DecodedPixels

_LOW_PERCENTILE = 0.5
_HIGH_PERCENTILE = 99.5
_SAMPLE_STRIDE = 7


@dataclass(frozen=True)
class _Scale:
    low: float
    high: float


def iter_display(decoded: DecodedPixels, ds: Dataset) -> Iterator[NDArray[np.uint8]]:
    """Yield one 8-bit frame at a time: ``(rows, columns)`` grey or ``(rows, columns, 3)`` RGB.

    Parameters
    ----------
    decoded
        The decoded pixel data.
    ds
        The data set it came from (for the palette lookup tables).
    """
    frames = decoded.frames
    photometric = decoded.photometric
    if photometric == "PALETTE COLOR":
        for frame in frames:
            yield _palette(frame[..., 0], ds)
        return
    if photometric == "YBR_FULL":
        for frame in frames:
            yield _to_uint8(convert_color_space(frame, "YBR_FULL", "RGB"), decoded.bits_stored)
        return
    if decoded.samples == 3:
        for frame in frames:
            yield _to_uint8(frame, decoded.bits_stored)
        return
    if frames.dtype == np.uint8:
        for frame in frames:
            yield frame[..., 0]
        return
    scale = _series_scale(frames)
    for frame in frames:
        yield _scaled(frame[..., 0], scale)


def display_frame(decoded: DecodedPixels, ds: Dataset, index: int) -> NDArray[np.uint8]:
    """One 8-bit view, as :func:`iter_display` yields it, of frame ``index``."""
    single = DecodedPixels(
        frames=decoded.frames[index : index + 1],
        photometric=decoded.photometric,
        bits_allocated=decoded.bits_allocated,
        bits_stored=decoded.bits_stored,
        signed=decoded.signed,
        source_syntax=decoded.source_syntax,
    )
    grey = decoded.samples == 1 and decoded.photometric != "PALETTE COLOR"
    if grey and decoded.frames.dtype != np.uint8:
        # Scaled by the whole series, as iter_display does, not by this frame alone.
        return _scaled(decoded.frames[index, ..., 0], _series_scale(decoded.frames))
    return next(iter_display(single, ds))


def palette_rgb(indices: NDArray[np.integer], ds: Dataset) -> NDArray[np.integer]:
    """Palette lookup, as pydicom's ``apply_color_lut``, right for big endian data too.

    pydicom 3.0.2 reads 16-bit LUT Data of an Explicit VR Big Endian data set as little
    endian; the entries come back byte-swapped, and are swapped back here.
    """
    rgb = apply_color_lut(indices, ds)
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if rgb.dtype == np.uint16 and syntax == ExplicitVRBigEndian:
        rgb = rgb.byteswap()
    return rgb


def _palette(frame: NDArray[np.integer], ds: Dataset) -> NDArray[np.uint8]:
    rgb = palette_rgb(frame, ds)
    if rgb.dtype == np.uint8:
        return rgb.astype(np.uint8, copy=False)
    return (rgb >> 8).astype(np.uint8)


def _to_uint8(frame: NDArray[np.integer], bits_stored: int) -> NDArray[np.uint8]:
    if frame.dtype == np.uint8:
        return frame.astype(np.uint8, copy=False)
    shift = max(bits_stored - 8, 0)
    clipped: NDArray[np.uint8] = np.clip(frame.astype(np.int64) >> shift, 0, 255).astype(np.uint8)
    return clipped


def _series_scale(frames: NDArray[np.integer]) -> _Scale:
    sample = frames.reshape(-1)[::_SAMPLE_STRIDE]
    if sample.size == 0:
        return _Scale(0.0, 1.0)
    low, high = np.percentile(sample, (_LOW_PERCENTILE, _HIGH_PERCENTILE))
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    return _Scale(float(low), float(max(high, low + 1)))


def _scaled(frame: NDArray[np.integer], scale: _Scale) -> NDArray[np.uint8]:
    factor = 255.0 / (scale.high - scale.low)
    values = (frame.astype(np.float32) - np.float32(scale.low)) * np.float32(factor)
    scaled: NDArray[np.uint8] = np.clip(values, 0, 255).astype(np.uint8)
    return scaled

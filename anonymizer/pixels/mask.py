"""Fill boxes with a constant in every sample of the stored values: not a blur.

The fill is the value that displays as the image's background: the darkest stored value
for MONOCHROME2, the brightest for MONOCHROME1, black for RGB and YBR, and the palette
index whose colour is darkest for PALETTE COLOR. Nothing of the text survives in the
masked pixels, and the result looks like the empty screen around it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from anonymizer.pixels.codec import DecodedPixels
from anonymizer.pixels.display import palette_rgb
from anonymizer.pixels.geometry import Box


def fill_value(decoded: DecodedPixels, ds: Dataset) -> NDArray[np.integer]:
    """The constant, one value per sample, that masked pixels get.

    Parameters
    ----------
    decoded
        The decoded pixel data.
    ds
        The data set (palette lookup tables).
    """
    frames = decoded.frames
    dtype = frames.dtype
    photometric = decoded.photometric
    if photometric == "MONOCHROME2":
        return np.array([frames.min()], dtype)
    if photometric == "MONOCHROME1":
        return np.array([frames.max()], dtype)
    if photometric == "PALETTE COLOR":
        return np.array([_darkest_index(ds, dtype)], dtype)
    if photometric == "YBR_FULL":
        middle = 1 << (decoded.bits_stored - 1)
        return np.array([0, middle, middle], dtype)
    return np.zeros(3, dtype)


def _darkest_index(ds: Dataset, dtype: np.dtype[np.integer]) -> int:
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
    if descriptor is None:
        return 0
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    info = np.iinfo(dtype)
    candidates = np.arange(max(first, info.min), min(first + entries, info.max + 1))
    rgb = palette_rgb(candidates.astype(dtype), ds).astype(np.float64)
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    return int(candidates[int(np.argmin(luminance))])


def pad_boxes(
    boxes: Sequence[Box], *, padding: int, relative: float, along: float = 0.0
) -> list[Box]:
    """Grow each box by ``padding`` pixels plus ``relative`` times its height on every
    side, and by a further ``along`` times its height at both ends of the line."""
    out = []
    for box in boxes:
        grow = padding + round(relative * box.height)
        extra = round(along * box.height)
        out.append(
            Box(
                box.x - grow - extra,
                box.y - grow,
                box.width + 2 * (grow + extra),
                box.height + 2 * grow,
            )
        )
    return out


def mask_frames(
    frames: NDArray[np.integer],
    boxes_per_frame: Sequence[Sequence[Box]],
    *,
    fill: NDArray[np.integer],
) -> tuple[list[list[Box]], int]:
    """Fill the boxes of each frame in place, in every sample.

    Parameters
    ----------
    frames
        ``(frames, rows, columns, samples)`` stored values, changed in place.
    boxes_per_frame
        One sequence of boxes per frame (already padded).
    fill
        One value per sample.

    Returns
    -------
    tuple
        The boxes as clipped to the image, per frame, and the number of pixels masked
        (pixels covered by at least one box, summed over frames).
    """
    count, rows, columns = frames.shape[0], frames.shape[1], frames.shape[2]
    if len(boxes_per_frame) != count:
        raise ValueError("one list of boxes per frame is needed")
    clipped_all: list[list[Box]] = []
    masked = 0
    for index, boxes in enumerate(boxes_per_frame):
        clipped = [c for box in boxes if (c := box.clipped(rows, columns)) is not None]
        clipped_all.append(clipped)
        if not clipped:
            continue
        covered = np.zeros((rows, columns), bool)
        frame = frames[index]
        for box in clipped:
            covered[box.y : box.bottom, box.x : box.right] = True
            frame[box.y : box.bottom, box.x : box.right] = fill
        masked += int(np.count_nonzero(covered))
    return clipped_all, masked

"""Overlay planes (60xx,3000) left in the data set when pixel cleaning runs.

The Basic Profile removes Overlay Data (X); a profile that keeps it (K, or C with the
Clean Graphics option) gets it cleaned here: the bits under the image's masked boxes are
cleared, and text drawn in the overlay itself is detected and cleared too. Overlays
embedded in unused high bits of the pixel data (retired) are dropped by re-encoding the
stored values, and their description is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pack_bits

from anonymizer.pixels.detect import DetectorSettings, detect_text
from anonymizer.pixels.geometry import Box

_OVERLAY_DATA = 0x3000


class OverlayHandling(StrEnum):
    """What the pixel stage does with overlay planes still present."""

    CLEAN = "clean"  # clear bits under masked boxes and under text found in the overlay
    REMOVE = "remove"  # delete every overlay group
    KEEP = "keep"  # leave them as the header stage left them


def overlay_groups(ds: Dataset) -> list[int]:
    """The even groups 6000-601E that have any element in ``ds``."""
    tags = list(ds.keys())
    return sorted({t.group for t in tags if 0x6000 <= t.group <= 0x601E and t.group % 2 == 0})


def handle_overlays(
    ds: Dataset,
    *,
    handling: OverlayHandling,
    image_boxes: Sequence[Box],
    settings: DetectorSettings,
    padding: int,
) -> int:
    """Clean or remove overlay planes; return how many overlay groups were changed.

    ``image_boxes`` are the boxes masked on the first frame, in image coordinates.
    """
    if handling is OverlayHandling.KEEP:
        return 0
    changed = 0
    for group in overlay_groups(ds):
        data_tag = (group << 16) | _OVERLAY_DATA
        if handling is OverlayHandling.REMOVE or data_tag not in ds or not _cleanable(ds, group):
            _remove_group(ds, group)
        elif not _clean_group(ds, group, image_boxes, settings=settings, padding=padding):
            continue
        changed += 1
    return changed


def _cleanable(ds: Dataset, group: int) -> bool:
    frames = ds.get((group << 16) | 0x0015)  # Number of Frames in Overlay
    bits = ds.get((group << 16) | 0x0100)  # Overlay Bits Allocated
    return (frames is None or int(frames.value or 1) == 1) and (
        bits is None or int(bits.value or 1) == 1
    )


def _remove_group(ds: Dataset, group: int) -> None:
    tags = list(ds.keys())
    for tag in [t for t in tags if t.group == group]:
        del ds[tag]


def _clean_group(
    ds: Dataset, group: int, image_boxes: Sequence[Box], *, settings: DetectorSettings, padding: int
) -> bool:
    try:
        plane = ds.overlay_array(group)
    except Exception:  # noqa: BLE001 - a malformed overlay cannot be trusted: drop it
        _remove_group(ds, group)
        return True
    plane = np.array(plane, dtype=np.uint8, copy=True)
    origin = ds.get((group << 16) | 0x0050)
    row0, col0 = (int(origin.value[0]) - 1, int(origin.value[1]) - 1) if origin else (0, 0)
    rows, columns = plane.shape
    boxes = [Box(b.x - col0, b.y - row0, b.width, b.height) for b in image_boxes]
    boxes += [b.padded(padding) for b in detect_text(plane * 255, settings)]
    touched = False
    for box in boxes:
        clipped = box.clipped(rows, columns)
        if clipped is None:
            continue
        region = plane[clipped.y : clipped.bottom, clipped.x : clipped.right]
        touched = touched or bool(region.any())
        region[:] = 0
    if touched:
        element = ds[(group << 16) | _OVERLAY_DATA]
        packed = pack_bits(plane.reshape(-1))
        element.value = packed + (b"\0" if len(packed) % 2 else b"")
    return touched

"""Static text in a cine: found in enough frames, masked in all of them.

Burned-in text stays put while the anatomy under and around it moves, so a frame where
the detector missed a line (moving speckle crossed it) borrows the boxes of its
neighbours. Per pixel, the frames whose boxes cover it are counted; where that count
reaches a share of the frames, the covering region is masked in every frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from anonymizer.pixels.geometry import Box

_SHARE = 0.1


def static_boxes(boxes_per_frame: Sequence[Sequence[Box]], *, rows: int, columns: int) -> list[Box]:
    """Boxes of the regions covered in at least 10% of the frames (and at least two).

    Parameters
    ----------
    boxes_per_frame
        Detected boxes of each frame.
    rows, columns
        The frame size.

    Returns
    -------
    list of Box
        Regions to mask in every frame; empty for a single frame.
    """
    count = len(boxes_per_frame)
    if count < 2:
        return []
    needed = max(2, math.ceil(_SHARE * count))
    votes = np.zeros((rows, columns), np.uint16)
    for boxes in boxes_per_frame:
        seen = np.zeros((rows, columns), bool)
        for box in boxes:
            clipped = box.clipped(rows, columns)
            if clipped is not None:
                seen[clipped.y : clipped.bottom, clipped.x : clipped.right] = True
        votes += seen
    static = (votes >= needed).astype(np.uint8)
    if not static.any():
        return []
    found, _, stats, _ = cv2.connectedComponentsWithStats(static, connectivity=8)
    return [Box(int(x), int(y), int(w), int(h)) for x, y, w, h, _ in stats[1:found]]

"""JPEG Baseline encoding with OpenCV: pydicom has no baseline encoder.

Used only when the profile allows lossy re-compression of lossy input
(``LossyOutput.SAME_SYNTAX``).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit

_QUALITY = 95
_SAMPLING_422 = 0x221111  # cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422


def compress_baseline(ds: Dataset, frames: NDArray[np.integer]) -> None:
    """Encode 8-bit ``frames`` (n, rows, columns, samples) as JPEG Baseline into ``ds``."""
    if frames.dtype != np.uint8:
        raise ValueError("JPEG Baseline needs 8-bit unsigned samples")
    colour = frames.shape[3] == 3
    params = [cv2.IMWRITE_JPEG_QUALITY, _QUALITY]
    if colour:
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING_422]
    fragments = []
    for frame in frames:
        image = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if colour else frame[..., 0]
        ok, encoded = cv2.imencode(".jpg", image, params)
        if not ok:
            raise ValueError("JPEG encoding failed")
        fragments.append(encoded.tobytes())
    ds.PixelData = encapsulate(fragments)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    if colour:
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.PlanarConfiguration = 0
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit

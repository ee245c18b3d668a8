"""A picture for people: the original and the cleaned image side by side.

Left, one frame of the original with every masked rectangle outlined in red (regions
from rules in orange); right, the same frame as it will be stored. Nothing is written
except the PNG asked for, and the input file is read only. The preview contains the
original pixels, burned-in PHI included: it is for the operator's eyes, not for storage.
"""

from __future__ import annotations

import copy
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pydicom
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset

from anonymizer.errors import InputError
from anonymizer.images import clean_image
from anonymizer.pixels.codec import decode_pixels
from anonymizer.pixels.display import display_frame
from anonymizer.pixels.geometry import Box
from anonymizer.pixels.policy import CleanReason
from anonymizer.pixels.regions import RegionRule, region_boxes
from anonymizer.pixels.stage import PixelOptions, clean_pixels
from anonymizer.profiles import load_profile
from anonymizer.profiles.model import PixelSettings

_RED = (0, 0, 255)
_ORANGE = (0, 165, 255)
_GAP = 8
_BANNER = 22


@dataclass(frozen=True)
class PreviewResult:
    """What the preview shows: counts for the chosen frame and the whole object."""

    cleaned: bool
    reason: str
    frame: int
    frames: int
    boxes: int
    masked_pixels: int


def render_preview(
    ds: Dataset,
    *,
    settings: PixelSettings,
    options: PixelOptions | None = None,
    regions: list[RegionRule] | None = None,
    frame: int = 0,
) -> tuple[NDArray[np.uint8], PreviewResult]:
    """Clean a copy of ``ds`` and draw frame ``frame`` before and after, as BGR.

    Parameters
    ----------
    ds
        A fully read data set (not changed).
    settings
        The profile's pixel settings; if they do not select this image, both halves
        show it unchanged and the banner says why.
    options, regions
        As for :func:`~anonymizer.pixels.clean_pixels`.
    frame
        Which frame to show (0-based).
    """
    cleaned_ds = copy.deepcopy(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = clean_pixels(cleaned_ds, settings=settings, options=options, regions=regions)
        before = decode_pixels(ds, max_bytes=(options or PixelOptions()).max_decoded_bytes)
        index = min(max(frame, 0), before.frames.shape[0] - 1)
        left = _bgr(display_frame(before, ds, index))
        right = left.copy()
        if result.cleaned:
            after = decode_pixels(cleaned_ds, max_bytes=1 << 40)
            right = _bgr(display_frame(after, cleaned_ds, index))
    fixed = region_boxes(ds, regions if regions is not None else getattr(settings, "regions", ()))
    boxes = result.frame_boxes[index] if result.frame_boxes else ()
    _outline(left, boxes, _RED)
    _outline(left, fixed[1], _ORANGE)
    label = (
        f"frame {index + 1}/{before.frames.shape[0]}: {len(boxes)} boxes masked"
        if result.cleaned
        else f"not cleaned: {result.reason.value}"
    )
    summary = PreviewResult(
        cleaned=result.cleaned,
        reason=result.reason.value,
        frame=index,
        frames=int(before.frames.shape[0]),
        boxes=result.boxes,
        masked_pixels=result.masked_pixels,
    )
    return _side_by_side(left, right, label), summary


def write_preview(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    profile: str | os.PathLike[str] = "ai-upload",
    options: PixelOptions | None = None,
    frame: int = 0,
) -> PreviewResult:
    """Write a side-by-side PNG of ``source`` (DICOM, PNG or JPEG) before and after.

    Parameters
    ----------
    source
        The file to preview.
    destination
        Where the PNG goes.
    profile
        A shipped profile name or a YAML path: its pixel settings (and region rules)
        decide whether and how the image is cleaned.
    options
        Detection and padding options.
    frame
        Which frame of a multi-frame image to show.
    """
    data = Path(source).read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff":
        image, summary = _image_preview(data, options=options)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - pydicom raises anything on bad input
            raise InputError(f"not DICOM, PNG or JPEG ({type(exc).__name__})") from None
        settings = load_profile(Path(profile) if not isinstance(profile, str) else profile).pixels
        image, summary = render_preview(ds, settings=settings, options=options, frame=frame)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise InputError("the preview could not be encoded")
    Path(destination).write_bytes(encoded.tobytes())
    return summary


def _image_preview(
    data: bytes, *, options: PixelOptions | None
) -> tuple[NDArray[np.uint8], PreviewResult]:
    cleaned, result = clean_image(data, options=options)
    with Image.open(io.BytesIO(cleaned)) as after_image:
        right = _pil_bgr(after_image)
    with Image.open(io.BytesIO(data)) as before_image:
        left = _pil_bgr(before_image)
    if left.shape != right.shape:  # EXIF orientation applied on the right
        left = np.asarray(cv2.resize(left, (right.shape[1], right.shape[0])), np.uint8)
    _outline(left, result.boxes, _RED)
    summary = PreviewResult(
        True, CleanReason.ALWAYS.value, 0, 1, len(result.boxes), result.masked_pixels
    )
    removed = ", ".join(result.metadata_removed) or "none"
    label = f"{len(result.boxes)} boxes masked; metadata removed: {removed}"
    return _side_by_side(left, right, label), summary


def _pil_bgr(image: Image.Image) -> NDArray[np.uint8]:
    if image.mode == "I;16":
        array = np.array(image).astype(np.float32)
        span = max(float(array.max() - array.min()), 1.0)
        return _bgr(((array - array.min()) * (255.0 / span)).astype(np.uint8))
    return _bgr(np.array(image.convert("RGB")))


def _bgr(view: NDArray[np.uint8]) -> NDArray[np.uint8]:
    code = cv2.COLOR_GRAY2BGR if view.ndim == 2 else cv2.COLOR_RGB2BGR
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(view), code), np.uint8)


def _outline(
    image: NDArray[np.uint8], boxes: tuple[Box, ...] | list[Box], colour: tuple[int, int, int]
) -> None:
    for box in boxes:
        cv2.rectangle(image, (box.x, box.y), (box.right - 1, box.bottom - 1), colour, 1)


def _side_by_side(
    left: NDArray[np.uint8], right: NDArray[np.uint8], label: str
) -> NDArray[np.uint8]:
    rows, columns = left.shape[:2]
    canvas = np.full((rows + _BANNER, columns * 2 + _GAP, 3), 32, np.uint8)
    canvas[_BANNER:, :columns] = left
    canvas[_BANNER:, columns + _GAP :] = right
    cv2.putText(canvas, "original", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    cv2.putText(
        canvas,
        f"cleaned - {label}",
        (columns + _GAP + 4, 16),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 255),
        1,
    )
    return canvas

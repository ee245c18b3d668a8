"""The pixel stage: the one entry point the pipeline calls.

``clean_pixels`` decides from the profile whether the data set needs cleaning, decodes
every frame, finds text, adds the profile's region rules, masks, re-encodes (lossless
input stays lossless) and updates the data set. It either cleans every frame or raises:
an image the policy selects is never returned uncleaned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from anonymizer.errors import BurnedInTextUnresolved, DeidError
from anonymizer.pixels.codec import (
    LossyOutput,
    decode_pixels,
    encode_pixels,
    transfer_syntax_of,
)
from anonymizer.pixels.detect import DEFAULT_SETTINGS, DetectorSettings, detect_text
from anonymizer.pixels.display import iter_display
from anonymizer.pixels.geometry import Box
from anonymizer.pixels.mask import fill_value, mask_frames, pad_boxes
from anonymizer.pixels.overlays import OverlayHandling, handle_overlays
from anonymizer.pixels.policy import CleanReason, cleaning_reason
from anonymizer.pixels.regions import RegionRule, region_boxes
from anonymizer.pixels.temporal import static_boxes
from anonymizer.profiles.model import PixelSettings

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_ICON_IMAGE_SEQUENCE = 0x00880200


@dataclass(frozen=True)
class PixelOptions:
    """How the pixel stage cleans; the library never reads these from the environment.

    Parameters
    ----------
    detect
        Run text detection. With False only region rules are masked.
    padding
        Pixels added around every detected box.
    relative_padding
        Further padding as a fraction of the box height (taller text, wider margin).
    line_padding
        Further padding at both ends of a line, as a fraction of its height: the first
        and last glyphs are the faintest part of a line on a busy background.
    detector
        Detector tuning.
    lossy_output
        How pixels of lossy input are written (never lossy unless the profile says).
    overlays
        What happens to overlay planes (60xx,3000) still in the data set.
    max_decoded_bytes
        Refuse to decode more than this (``TooLarge``).
    """

    detect: bool = True
    padding: int = 3
    relative_padding: float = 0.2
    line_padding: float = 1.0
    detector: DetectorSettings = DEFAULT_SETTINGS
    lossy_output: LossyOutput = LossyOutput.UNCOMPRESSED
    overlays: OverlayHandling = OverlayHandling.CLEAN
    max_decoded_bytes: int = 4 << 30

    def __post_init__(self) -> None:
        if min(self.padding, self.relative_padding, self.line_padding) < 0:
            raise ValueError("padding must not be negative")


@dataclass(frozen=True)
class PixelResult:
    """What the pixel stage did. Counts and rule names only, never pixel content.

    ``frame_boxes`` holds the masked rectangles of each frame (padded and clipped), for
    previews and audits.
    """

    cleaned: bool
    reason: CleanReason
    frames: int = 0
    boxes: int = 0
    masked_pixels: int = 0
    region_rules: tuple[str, ...] = ()
    transfer_syntax: str = ""
    lossy_recompressed: bool = False
    overlays_changed: int = 0
    seconds: float = 0.0
    frame_boxes: tuple[tuple[Box, ...], ...] = field(default=(), repr=False)


def clean_pixels(
    ds: Dataset,
    *,
    settings: PixelSettings,
    options: PixelOptions | None = None,
    regions: Sequence[RegionRule] | None = None,
) -> PixelResult:
    """Find and mask burned-in text in every frame of ``ds``, in place, if the policy says.

    Parameters
    ----------
    ds
        A fully read data set with its Pixel Data, as received (the policy reads Burned In
        Annotation, Modality and SOP Class UID).
    settings
        The profile's pixel settings.
    options
        Detection, padding and output options.
    regions
        Region rules; by default those of ``settings`` (``settings.regions``).

    Returns
    -------
    PixelResult
        ``cleaned`` is True when the pixels were cleaned; then Burned In Annotation is
        NO, the Pixel Data and Transfer Syntax UID (in ``ds.file_meta``) are the new
        ones, and the Icon Image Sequence is gone.

    Raises
    ------
    UnsupportedTransferSyntax
        The policy requires cleaning and the transfer syntax cannot be decoded.
    BurnedInTextUnresolved
        The policy requires cleaning and it could not be done.
    TooLarge
        Decoding would exceed ``options.max_decoded_bytes``.
    """
    started = time.perf_counter()
    options = options or PixelOptions()
    reason = cleaning_reason(ds, settings)
    if not reason.cleans:
        return PixelResult(cleaned=False, reason=reason)
    rules: Sequence[RegionRule] = (
        regions if regions is not None else getattr(settings, "regions", ())
    )
    try:
        return _clean(ds, reason=reason, options=options, rules=rules, started=started)
    except DeidError:
        raise
    except (MemoryError, RecursionError):
        raise BurnedInTextUnresolved("pixel data too large to clean") from None
    except Exception as exc:  # noqa: BLE001 - numpy/OpenCV/pydicom raise anything
        raise BurnedInTextUnresolved(f"pixel cleaning failed ({type(exc).__name__})") from None


def _clean(
    ds: Dataset,
    *,
    reason: CleanReason,
    options: PixelOptions,
    rules: Sequence[RegionRule],
    started: float,
) -> PixelResult:
    decoded = decode_pixels(ds, max_bytes=options.max_decoded_bytes)
    count, rows, columns = decoded.frames.shape[:3]
    detected: list[list[Box]] = [[] for _ in range(count)]
    if options.detect:
        detected = [detect_text(view, options.detector) for view in iter_display(decoded, ds)]
    everywhere = static_boxes(detected, rows=rows, columns=columns)
    names, fixed = region_boxes(ds, rules)
    per_frame = [
        pad_boxes(
            [*boxes, *everywhere],
            padding=options.padding,
            relative=options.relative_padding,
            along=options.line_padding,
        )
        + fixed
        for boxes in detected
    ]
    clipped, masked = mask_frames(decoded.frames, per_frame, fill=fill_value(decoded, ds))
    if masked:
        encoded = encode_pixels(ds, decoded, lossy=options.lossy_output)
        syntax, recompressed = str(encoded.transfer_syntax), encoded.lossy_recompressed
    else:
        # Nothing masked: the pixel data stays as it came, bytes and transfer syntax.
        syntax, recompressed = str(transfer_syntax_of(ds)), False
    overlays = handle_overlays(
        ds,
        handling=options.overlays,
        image_boxes=clipped[0] if clipped else [],
        settings=options.detector,
        padding=options.padding,
    )
    ds.BurnedInAnnotation = "NO"
    if _ICON_IMAGE_SEQUENCE in ds:
        del ds[_ICON_IMAGE_SEQUENCE]  # PS3.15 E.3.1: the icon shows the text too
    result = PixelResult(
        cleaned=True,
        reason=reason,
        frames=count,
        boxes=sum(len(boxes) for boxes in clipped),
        masked_pixels=masked,
        region_rules=tuple(names),
        transfer_syntax=syntax,
        lossy_recompressed=recompressed,
        overlays_changed=overlays,
        seconds=time.perf_counter() - started,
        frame_boxes=tuple(tuple(boxes) for boxes in clipped),
    )
    logger.debug(
        "pixels cleaned frames=%d boxes=%d masked=%d rules=%d syntax=%s seconds=%.3f",
        result.frames,
        result.boxes,
        result.masked_pixels,
        len(result.region_rules),
        result.transfer_syntax,
        result.seconds,
    )
    return result

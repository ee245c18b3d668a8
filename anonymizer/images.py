"""PNG and JPEG uploads: every metadata block stripped, burned-in text masked.

Photos and viewer screenshots carry identifying data in two places: metadata (EXIF with
GPS and camera serials, XMP, IPTC, ICC profile descriptions, PNG text chunks, JPEG
comments) and the pixels (names and IDs on screen). The image is decoded with Pillow
(format checked, size capped before decoding, decompression-bomb warnings fatal), turned
upright by its EXIF orientation and converted to sRGB by its ICC profile so that dropping
them changes nothing visible, masked like a DICOM frame, and encoded again with nothing
but pixels. JPEG input is written as PNG unless lossy output is allowed.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageCms, ImageOps

from anonymizer.errors import InputError, TooLarge
from anonymizer.pixels.codec import LossyOutput
from anonymizer.pixels.detect import detect_text
from anonymizer.pixels.geometry import Box
from anonymizer.pixels.mask import pad_boxes
from anonymizer.pixels.stage import PixelOptions

DEFAULT_MAX_PIXELS = 50_000_000
_JPEG_QUALITY = 95
_MODES = {"L", "LA", "RGB", "RGBA", "I;16"}


class ImageFormat(StrEnum):
    """The formats accepted and written."""

    PNG = "PNG"
    JPEG = "JPEG"


@dataclass(frozen=True)
class ImageResult:
    """What was done to one image. Kinds and counts only, never metadata values.

    ``metadata_removed`` names the kinds of metadata the input carried (``exif``,
    ``gps``, ``xmp``, ``iptc``, ``icc_profile``, ``text``, ``comment`` ...).
    """

    input_format: ImageFormat
    output_format: ImageFormat
    width: int
    height: int
    boxes: tuple[Box, ...]
    masked_pixels: int
    metadata_removed: tuple[str, ...]

    @property
    def media_type(self) -> str:
        """The MIME type of the output."""
        return "image/png" if self.output_format is ImageFormat.PNG else "image/jpeg"


def clean_image(
    data: bytes,
    *,
    options: PixelOptions | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[bytes, ImageResult]:
    """Strip metadata from a PNG or JPEG and mask its burned-in text.

    Parameters
    ----------
    data
        The uploaded bytes.
    options
        Detection and padding; ``options.lossy_output`` decides whether a JPEG stays JPEG.
    max_pixels
        Refuse larger images before decoding them.

    Returns
    -------
    tuple
        The new image bytes and what was done.

    Raises
    ------
    InputError
        Not a PNG or JPEG, or unreadable.
    TooLarge
        More than ``max_pixels`` pixels.
    """
    options = options or PixelOptions()
    image, source_format, found = _open(data, max_pixels=max_pixels)
    pixels = np.array(image)
    boxes: list[Box] = []
    masked = 0
    if options.detect:
        boxes = detect_text(_view(pixels, image.mode), options.detector)
        padded = pad_boxes(
            boxes,
            padding=options.padding,
            relative=options.relative_padding,
            along=options.line_padding,
        )
        boxes, masked = _mask(pixels, padded, image.mode)
    target = ImageFormat.PNG
    if source_format is ImageFormat.JPEG and options.lossy_output is LossyOutput.SAME_SYNTAX:
        target = ImageFormat.JPEG
    output = _encode(pixels, image.mode, target)
    _check_clean(output)
    return output, ImageResult(
        input_format=source_format,
        output_format=target,
        width=image.width,
        height=image.height,
        boxes=tuple(boxes),
        masked_pixels=masked,
        metadata_removed=tuple(sorted(found)),
    )


def _open(data: bytes, *, max_pixels: int) -> tuple[Image.Image, ImageFormat, set[str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooLarge("image dimensions exceed the decompression-bomb limit") from None
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on bad input
            raise InputError(f"not a readable PNG or JPEG ({type(exc).__name__})") from None
        if image.width * image.height > max_pixels:
            raise TooLarge("image has more pixels than the configured cap")
        source_format = ImageFormat(image.format or "PNG")
        found = _metadata_kinds(image)
        try:
            image.load()
            upright = _upright_srgb(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooLarge("image dimensions exceed the decompression-bomb limit") from None
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"image data is unreadable ({type(exc).__name__})") from None
    return upright, source_format, found


def _metadata_kinds(image: Image.Image) -> set[str]:
    found = {key for key in image.info if isinstance(key, str)}
    names = {
        "exif": "exif",
        "icc_profile": "icc_profile",
        "xmp": "xmp",
        "XML:com.adobe.xmp": "xmp",
        "photoshop": "iptc",
        "comment": "comment",
        "dpi": "dpi",
        "jfif": "jfif",
        "adobe": "adobe",
    }
    kinds = {names.get(key, "text" if image.format == "PNG" else key) for key in found}
    exif = image.getexif()
    if exif:
        kinds.add("exif")
        if exif.get_ifd(0x8825):  # GPSInfo
            kinds.add("gps")
    if getattr(image, "text", None):
        kinds.add("text")
    return kinds


def _upright_srgb(image: Image.Image) -> Image.Image:
    """Bake in the EXIF orientation and the ICC colours, then normalise the mode."""
    image = ImageOps.exif_transpose(image) or image
    profile = image.info.get("icc_profile")
    if profile and image.mode in {"RGB", "RGBA", "CMYK", "L"}:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            target_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode=target_mode
            )
            image = converted or image
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile is dropped as it is; the pixels stay as stored
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "PA":
        image = image.convert("RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode in {"I", "I;16B", "I;16L"}:
        image = image.convert("I;16")
    elif image.mode not in _MODES:
        image = image.convert("RGB")
    return image


def _view(pixels: NDArray[np.generic], mode: str) -> NDArray[np.uint8]:
    """The 8-bit image detection looks at (alpha dropped, 16-bit scaled)."""
    if mode == "I;16":
        data = pixels.astype(np.float32)
        low, high = np.percentile(data, (0.5, 99.5))
        scaled = (data - low) * (255.0 / max(float(high - low), 1.0))
        view: NDArray[np.uint8] = np.clip(scaled, 0, 255).astype(np.uint8)
        return view
    if mode in {"LA", "RGBA"}:
        # Composited over black, as a viewer shows it: text drawn only in the alpha
        # channel shows up too.
        colour = pixels[..., :-1].astype(np.uint16) * pixels[..., -1:].astype(np.uint16)
        view = (colour // 255).astype(np.uint8)
        return np.ascontiguousarray(view[..., 0] if mode == "LA" else view)
    return np.ascontiguousarray(pixels).astype(np.uint8)


def _mask(pixels: NDArray[np.generic], boxes: list[Box], mode: str) -> tuple[list[Box], int]:
    """Fill with black, and make the fill opaque: text drawn in alpha is text too."""
    rows, columns = pixels.shape[:2]
    covered = np.zeros((rows, columns), bool)
    clipped = [c for box in boxes if (c := box.clipped(rows, columns)) is not None]
    for box in clipped:
        covered[box.y : box.bottom, box.x : box.right] = True
    if mode in {"RGBA", "LA"}:
        pixels[covered, :-1] = 0
        pixels[covered, -1] = 255
    else:
        pixels[covered] = 0
    return clipped, int(covered.sum())


def _encode(pixels: NDArray[np.generic], mode: str, target: ImageFormat) -> bytes:
    image = Image.fromarray(pixels)  # uint16 arrays come back as I;16
    buffer = io.BytesIO()
    if target is ImageFormat.JPEG:
        if image.mode not in {"L", "RGB"}:
            image = image.convert("RGB")
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _check_clean(output: bytes) -> None:
    """The encoded image carries no metadata at all: fail closed if it does."""
    with Image.open(io.BytesIO(output)) as image:
        allowed = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
        left = {key for key in image.info if key not in allowed}
        if left or image.getexif() or getattr(image, "text", None):
            raise InputError("metadata survived re-encoding")

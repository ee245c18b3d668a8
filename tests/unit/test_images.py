"""PNG and JPEG uploads: metadata stripped, burned-in text masked, output re-encoded."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from anonymizer.errors import InputError, TooLarge
from anonymizer.images import ImageFormat, clean_image
from anonymizer.pixels import LossyOutput, PixelOptions

NAME = "DOE^JANE 1951-08-29"


def _screenshot(colour: bool = True) -> np.ndarray:
    rng = np.random.default_rng(7)
    image = np.full((240, 320, 3), 20, np.uint8)
    noise = rng.normal(80, 25, (140, 240)).astype(np.float32)
    panel = cv2.GaussianBlur(noise, (0, 0), 2.0)
    image[60:200, 40:280] = np.clip(panel, 0, 255).astype(np.uint8)[..., None]
    cv2.putText(
        image,
        "JANE DOE 12345678",
        (8, 24),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6,
        (255, 255, 0),
        1,
        cv2.LINE_AA,
    )
    return image if colour else image[..., 1].copy()


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x0112] = 1  # orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (37.0, 33.0, 59.0)
    return exif


def _png_with_everything(pixels: np.ndarray) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", NAME)
    info.add_itxt("Comment", NAME, lang="en")
    info.add_text("XML:com.adobe.xmp", f"<x:xmpmeta>{NAME}</x:xmpmeta>")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
        buffer, format="PNG", pnginfo=info, exif=_exif_with_gps(), icc_profile=icc
    )
    return buffer.getvalue()


def _jpeg_with_everything(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
        buffer, format="JPEG", quality=95, exif=_exif_with_gps(), comment=NAME.encode()
    )
    return buffer.getvalue()


def _text_region_masked(output: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(output)) as image:
        return np.array(image)


def test_png_metadata_stripped_and_text_masked() -> None:
    data = _png_with_everything(_screenshot())
    assert NAME.encode() in data
    output, result = clean_image(data)
    assert NAME.encode() not in output and b"CameraMaker" not in output
    assert {"exif", "gps", "icc_profile", "text"} <= set(result.metadata_removed)
    assert result.output_format is ImageFormat.PNG and result.media_type == "image/png"
    with Image.open(io.BytesIO(output)) as image:
        assert not image.info and not image.getexif()
        pixels = np.array(image)
    assert result.boxes
    # The text is black now; the textured panel below is untouched.
    ink = _screenshot()[:40, :, 0] > 20
    assert ink.any() and pixels[:40][ink].max() == 0
    assert np.array_equal(pixels[80:180, 60:260], _screenshot()[80:180, 60:260])


def test_jpeg_becomes_png_unless_lossy_allowed() -> None:
    data = _jpeg_with_everything(_screenshot())
    output, result = clean_image(data)
    assert result.input_format is ImageFormat.JPEG and result.output_format is ImageFormat.PNG
    assert "comment" in result.metadata_removed and "gps" in result.metadata_removed
    assert NAME.encode() not in output
    output, result = clean_image(data, options=PixelOptions(lossy_output=LossyOutput.SAME_SYNTAX))
    assert result.output_format is ImageFormat.JPEG
    with Image.open(io.BytesIO(output)) as image:
        assert image.format == "JPEG" and not image.getexif()
        assert "comment" not in image.info and "exif" not in image.info


def test_grey_and_alpha_images() -> None:
    grey = _screenshot(colour=False)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")
    output, result = clean_image(buffer.getvalue())
    assert result.boxes and _text_region_masked(output)[:40][grey[:40] > 20].max() == 0
    # Text drawn only in the alpha channel is text too: the mask makes it opaque.
    rgba = np.zeros((240, 320, 4), np.uint8)
    cv2.putText(
        rgba, "JANE DOE 12345678", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255, 255), 1
    )
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    output, result = clean_image(buffer.getvalue())
    out = _text_region_masked(output)
    ink = rgba[..., 3] > 0
    assert result.boxes and (out[ink, 3] == 255).all() and (out[ink, :3] == 0).all()


def test_exif_orientation_is_applied_before_stripping() -> None:
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :10] = 255  # a bar on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", exif=exif)
    output, result = clean_image(buffer.getvalue(), options=PixelOptions(detect=False))
    assert (result.width, result.height) == (40, 80)
    upright = _text_region_masked(output)
    assert upright.shape[:2] == (80, 40) and upright[:10].min() == 255


def test_not_an_image_and_too_large() -> None:
    with pytest.raises(InputError):
        clean_image(b"GIF89a" + b"\0" * 64)
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(buffer, format="PNG")
    with pytest.raises(TooLarge):
        clean_image(buffer.getvalue(), max_pixels=5000)


def test_sixteen_bit_png_stays_sixteen_bit() -> None:
    pixels = np.full((120, 240), 1000, np.uint16)
    canvas = np.zeros((120, 240), np.uint8)
    cv2.putText(canvas, "ID 4471 X", (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2)
    pixels[canvas > 0] = 60000
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    output, result = clean_image(buffer.getvalue())
    out = _text_region_masked(output)
    assert out.dtype == np.uint16 and result.boxes
    assert out[5:40, 0:150].max() < 60000

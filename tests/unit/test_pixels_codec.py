"""Every pixel format a PACS sends decodes, masks and re-encodes; lossless stays lossless.

Each case masks one box in every frame, writes the data set with pydicom, reads it back
and decodes it: pixels outside the box are unchanged bit for bit (the decoded values of
the input, for lossy input too, since those are written uncompressed), pixels inside are
the fill value, frame by frame.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from anonymizer.errors import BurnedInTextUnresolved, TooLarge, UnsupportedTransferSyntax
from anonymizer.pixels._jpeg import decode_baseline
from anonymizer.pixels.codec import (
    LossyOutput,
    decode_pixels,
    encode_pixels,
    output_syntax,
)
from anonymizer.pixels.geometry import Box
from anonymizer.pixels.mask import fill_value, mask_frames

_CAP = 1 << 31

# file, expected output transfer syntax, photometric after decoding
CASES = [
    ("CT_small.dcm", ExplicitVRLittleEndian, "MONOCHROME2"),  # 16-bit signed
    ("MR_small_implicit.dcm", ImplicitVRLittleEndian, "MONOCHROME2"),
    ("MR_small_bigendian.dcm", ExplicitVRBigEndian, "MONOCHROME2"),
    ("image_dfl.dcm", ExplicitVRLittleEndian, "MONOCHROME2"),  # deflate
    ("MR_small_RLE.dcm", RLELossless, "MONOCHROME2"),
    ("SC_rgb_rle_16bit.dcm", RLELossless, "RGB"),
    ("SC_rgb_rle_2frame.dcm", RLELossless, "RGB"),
    ("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless, "MONOCHROME2"),
    ("MR_small_jp2klossless.dcm", JPEG2000Lossless, "MONOCHROME2"),
    ("examples_jpeg2k.dcm", JPEG2000Lossless, "RGB"),  # YBR_RCT, burned-in text
    ("SC_rgb_jpeg_gdcm.dcm", ExplicitVRLittleEndian, "RGB"),  # JPEG lossless SV1
    ("SC_rgb.dcm", ExplicitVRLittleEndian, "RGB"),
    ("SC_rgb_2frame.dcm", ExplicitVRLittleEndian, "RGB"),
    ("SC_rgb_32bit_2frame.dcm", ExplicitVRLittleEndian, "RGB"),
    ("SC_rgb_expb_16bit_2frame.dcm", ExplicitVRBigEndian, "RGB"),
    ("color-pl.dcm", ExplicitVRLittleEndian, "RGB"),  # planar configuration 1
    ("ExplVR_BigEnd.dcm", ExplicitVRBigEndian, "RGB"),  # planar 1, big endian
    ("SC_ybr_full_uncompressed.dcm", ExplicitVRLittleEndian, "YBR_FULL"),
    ("SC_rgb_dcmtk_+eb+cy+s4.dcm", ExplicitVRLittleEndian, "RGB"),  # JPEG YBR_FULL
    ("SC_ybr_full_422_uncompressed.dcm", ExplicitVRLittleEndian, "YBR_FULL"),
    ("examples_palette.dcm", ExplicitVRLittleEndian, "PALETTE COLOR"),
    ("OBXXXX1A_rle_2frame.dcm", RLELossless, "PALETTE COLOR"),
    ("OBXXXX1A_expb_2frame.dcm", ExplicitVRBigEndian, "PALETTE COLOR"),
    ("gdcm-US-ALOKA-16.dcm", ImplicitVRLittleEndian, "PALETTE COLOR"),  # 16-bit palette
    ("rtdose.dcm", ImplicitVRLittleEndian, "MONOCHROME2"),  # 15 frames, 32-bit
    ("emri_small_jpeg_2k_lossless.dcm", JPEG2000Lossless, "MONOCHROME2"),  # 10 frames
    ("liver_1frame.dcm", ExplicitVRLittleEndian, "MONOCHROME2"),  # 1-bit
    ("RG1_UNCR.dcm", ExplicitVRLittleEndian, "MONOCHROME1"),
    # lossy input: decoded once, written uncompressed, flagged lossy
    ("SC_rgb_jpeg_dcmd.dcm", ImplicitVRLittleEndian, "RGB"),
    pytest.param(  # 120 frames
        "color3d_jpeg_baseline.dcm", ExplicitVRLittleEndian, "RGB", marks=pytest.mark.slow
    ),
    ("examples_ybr_color.dcm", ExplicitVRLittleEndian, "RGB"),
    ("JPGExtended.dcm", ExplicitVRLittleEndian, "MONOCHROME2"),
    ("JPEGLSNearLossless_16.dcm", ExplicitVRLittleEndian, "MONOCHROME2"),
    ("US1_J2KI.dcm", ExplicitVRLittleEndian, "RGB"),  # YBR_ICT
]


def _load(name: str) -> Dataset:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom-data)")
    return pydicom.dcmread(path)


def _round_trip(ds: Dataset) -> Dataset:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


@pytest.mark.parametrize(("name", "syntax", "photometric"), CASES)
def test_mask_round_trip(name: str, syntax: str, photometric: str) -> None:
    ds = _load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = decode_pixels(ds, max_bytes=_CAP)
    assert before.photometric == photometric
    original = before.frames.copy()
    count, rows, columns = original.shape[:3]
    box = Box(columns // 4, rows // 4, max(columns // 3, 1), max(rows // 5, 1))
    fill = fill_value(before, ds)
    mask_frames(before.frames, [[box]] * count, fill=fill)
    encoded = encode_pixels(ds, before, lossy=LossyOutput.UNCOMPRESSED)
    assert encoded.transfer_syntax == syntax
    assert ds.file_meta.TransferSyntaxUID == syntax
    if before.lossy:
        assert ds.LossyImageCompression == "01"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        after = decode_pixels(_round_trip(ds), max_bytes=_CAP).frames
    assert after.shape == original.shape
    inside = np.zeros((rows, columns), bool)
    inside[box.y : box.bottom, box.x : box.right] = True
    for index in range(count):  # frame by frame
        assert np.array_equal(after[index][~inside], original[index][~inside]), index
        assert (after[index][inside] == fill).all(), index


def test_lossy_same_syntax_recompresses_only_when_asked() -> None:
    ds = _load("SC_rgb_jpeg_gdcm.dcm")  # lossless: never lossy
    decoded = decode_pixels(ds, max_bytes=_CAP)
    assert output_syntax(decoded, lossy=LossyOutput.SAME_SYNTAX) == ExplicitVRLittleEndian
    ds = _load("SC_rgb_jpeg_dcmtk.dcm")
    decoded = decode_pixels(ds, max_bytes=_CAP)
    assert output_syntax(decoded, lossy=LossyOutput.UNCOMPRESSED) == ExplicitVRLittleEndian
    encoded = encode_pixels(ds, decoded, lossy=LossyOutput.SAME_SYNTAX)
    assert encoded.lossy_recompressed
    assert ds.file_meta.TransferSyntaxUID.is_compressed
    assert ds.LossyImageCompression == "01"
    assert list(ds.LossyImageCompressionMethod)[-1] == "ISO_10918_1"
    again = decode_pixels(_round_trip(ds), max_bytes=_CAP)
    assert again.frames.shape == decoded.frames.shape


def test_unsupported_transfer_syntax_is_rejected() -> None:
    ds = _load("CT_small.dcm")
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.100")  # MPEG2 video
    with pytest.raises(UnsupportedTransferSyntax):
        decode_pixels(ds, max_bytes=_CAP)


def test_float_pixel_data_is_rejected() -> None:
    ds = _load("CT_small.dcm")
    ds.FloatPixelData = b"\0" * 8
    with pytest.raises(BurnedInTextUnresolved):
        decode_pixels(ds, max_bytes=_CAP)


def test_corrupt_pixel_data_is_rejected_not_passed() -> None:
    ds = _load("MR_small_RLE.dcm")
    ds.PixelData = ds.PixelData[:200]
    with pytest.raises(BurnedInTextUnresolved):
        decode_pixels(ds, max_bytes=_CAP)


def test_decoded_size_cap() -> None:
    ds = _load("CT_small.dcm")
    with pytest.raises(TooLarge):
        decode_pixels(ds, max_bytes=1000)


@pytest.mark.parametrize(
    "name",
    [
        "SC_rgb_dcmtk_+eb+cy+n1.dcm",  # YBR_FULL
        "SC_rgb_jpeg_lossy_gdcm.dcm",
        "SC_rgb_dcmtk_+eb+cy+np.dcm",  # YBR_FULL_422
        "examples_ybr_color.dcm",  # 30 frames
        "SC_rgb_small_odd_jpeg.dcm",  # 3x3
    ],
)
def test_baseline_decoded_by_opencv_agrees_with_pydicom(name: str) -> None:
    """OpenCV decodes YCbCr baseline JPEG to RGB within a few levels of pydicom's decoder."""
    ds = _load(name)
    assert decode_baseline(ds) is not None  # the fast path is the one taken
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = decode_pixels(ds, max_bytes=_CAP)
        reference = ds.pixel_array.reshape(ours.frames.shape)
    assert ours.photometric == "RGB"
    difference = np.abs(ours.frames.astype(int) - reference.astype(int))
    assert difference.max() <= 8 and difference.mean() < 0.5


def test_monochrome_baseline_decoded_by_opencv() -> None:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)
    frames = np.asarray(cv2.GaussianBlur(noise, (5, 5), 2), np.uint8).transpose(2, 0, 1)
    ds = _load("CT_small.dcm")
    fragments = [
        cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in frames
    ]
    ds.PixelData = encapsulate(fragments)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.Rows, ds.Columns, ds.NumberOfFrames = 64, 80, 3
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    decoded = decode_pixels(ds, max_bytes=_CAP)
    assert decoded.frames.shape == (3, 64, 80, 1) and decoded.photometric == "MONOCHROME2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = ds.pixel_array
    assert np.abs(decoded.frames[..., 0].astype(int) - reference.astype(int)).max() <= 8


@pytest.mark.parametrize("name", ["SC_rgb_jpeg.dcm", "SC_jpeg_no_color_transform.dcm"])
def test_rgb_baseline_is_left_to_pydicom(name: str) -> None:
    """An RGB-labelled JPEG may or may not carry a colour transform: pydicom decides."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SC_rgb_jpeg.dcm's header is oddly encoded
        ds = _load(name)
    assert decode_baseline(ds) is None

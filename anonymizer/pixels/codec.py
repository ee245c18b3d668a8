"""Decode a data set's pixel data to one array, and encode the cleaned array back.

Frames are always shaped ``(frames, rows, columns, samples)`` and hold *stored values*:
no Modality LUT, no VOI, no palette applied. What is decoded and what is written follows
one policy (DESIGN.md, "Lossless input stays lossless"):

========================================  ============================================
input transfer syntax                     output
========================================  ============================================
Implicit / Explicit VR Little Endian,    the same syntax, same layout, same values
Explicit VR Big Endian
Deflated Explicit VR Little Endian        Explicit VR Little Endian (the pipeline writes
                                          deflate as explicit little endian too)
RLE, JPEG-LS lossless, JPEG 2000 lossless the same syntax, re-encoded losslessly
JPEG lossless (.57, .70), HTJ2K lossless  Explicit VR Little Endian (no encoder)
lossy JPEG, JPEG-LS near-lossless,        Explicit VR Little Endian, Lossy Image
JPEG 2000, HTJ2K                          Compression stays 01; re-compressed lossily
                                          only with ``LossyOutput.SAME_SYNTAX``
anything else (video, JPIP, JPEG XL ...)  rejected: ``UnsupportedTransferSyntax``
========================================  ============================================
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pack_bits, pixel_array
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from anonymizer.errors import BurnedInTextUnresolved, TooLarge, UnsupportedTransferSyntax

_NATIVE_SAME = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian})
_NATIVE_TO_EXPLICIT = frozenset({DeflatedExplicitVRLittleEndian})
_LOSSLESS_REENCODED = frozenset({RLELossless, JPEGLSLossless, JPEG2000Lossless})
_LOSSLESS_UNCOMPRESSED = frozenset(
    {JPEGLossless, JPEGLosslessSV1, HTJ2KLossless, HTJ2KLosslessRPCL}
)
_LOSSY = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000, HTJ2K})
SUPPORTED_SYNTAXES = (
    _NATIVE_SAME | _NATIVE_TO_EXPLICIT | _LOSSLESS_REENCODED | _LOSSLESS_UNCOMPRESSED | _LOSSY
)
_LOSSY_REENCODED = frozenset({JPEGBaseline8Bit, JPEGLSNearLossless, JPEG2000})
_LOSSY_METHOD = {
    JPEGBaseline8Bit: "ISO_10918_1",
    JPEGLSNearLossless: "ISO_14495_1",
    JPEG2000: "ISO_15444_1",
}
_SUPPORTED_PHOTOMETRIC = frozenset(
    {"MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR"}
    | {"YBR_RCT", "YBR_ICT"}
)
_YBR_DECODED_AS_RGB = frozenset({"YBR_RCT", "YBR_ICT", "YBR_FULL", "YBR_FULL_422"})
_FLOAT_PIXEL_TAGS = (0x7FE00008, 0x7FE00009)

Frames = NDArray[np.integer]


class LossyOutput(StrEnum):
    """How cleaned pixels of lossy input are written."""

    UNCOMPRESSED = "uncompressed"  # Explicit VR Little Endian: no second generation loss
    SAME_SYNTAX = "same_syntax"  # re-compress lossily where an encoder exists


@dataclass(frozen=True)
class DecodedPixels:
    """Stored values of every frame and how to write them back.

    ``photometric`` is the interpretation of ``frames`` (YBR_FULL_422 is decoded to full
    resolution, and compressed YBR to RGB); ``source_syntax`` is the input transfer syntax.
    """

    frames: Frames
    photometric: str
    bits_allocated: int
    bits_stored: int
    signed: bool
    source_syntax: UID

    @property
    def lossy(self) -> bool:
        """Whether the input was lossy compressed."""
        return self.source_syntax in _LOSSY

    @property
    def samples(self) -> int:
        """Samples per pixel."""
        return int(self.frames.shape[3])


@dataclass(frozen=True)
class EncodedPixels:
    """What was written into the data set."""

    transfer_syntax: UID
    photometric: str
    lossy_recompressed: bool


def transfer_syntax_of(ds: Dataset) -> UID:
    """The transfer syntax of ``ds``, from its file meta or how it was read."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid:
        return UID(str(uid))
    if ds.is_little_endian is False:
        return ExplicitVRBigEndian
    return ImplicitVRLittleEndian if ds.is_implicit_VR else ExplicitVRLittleEndian


def decode_pixels(ds: Dataset, *, max_bytes: int) -> DecodedPixels:
    """Decode every frame of ``ds`` to stored values.

    Parameters
    ----------
    ds
        A fully read data set with Pixel Data.
    max_bytes
        Refuse (``TooLarge``) when the decoded frames would take more memory than this.

    Raises
    ------
    UnsupportedTransferSyntax
        The transfer syntax cannot be decoded here.
    BurnedInTextUnresolved
        The pixel data is of a kind that cannot be cleaned (float pixels, odd layout)
        or fails to decode.
    """
    syntax = transfer_syntax_of(ds)
    if syntax not in SUPPORTED_SYNTAXES:
        raise UnsupportedTransferSyntax(f"transfer syntax {syntax} cannot be pixel-cleaned")
    if any(tag in ds for tag in _FLOAT_PIXEL_TAGS):
        raise BurnedInTextUnresolved("float pixel data cannot be pixel-cleaned")
    if 0x7FE00010 not in ds:
        raise BurnedInTextUnresolved("the data set has no Pixel Data (7FE0,0010)")
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric not in _SUPPORTED_PHOTOMETRIC:
        raise BurnedInTextUnresolved(
            "Photometric Interpretation (0028,0004) is not one that can be pixel-cleaned"
        )
    bits_allocated = int(ds.get("BitsAllocated", 0) or 0)
    if bits_allocated not in (1, 8, 16, 32):
        raise BurnedInTextUnresolved("Bits Allocated (0028,0100) is not 1, 8, 16 or 32")
    _check_size(ds, bits_allocated=bits_allocated, max_bytes=max_bytes)
    native = not syntax.is_compressed
    # Native and RLE data keep their stored values exactly (raw); compressed YBR is decoded
    # to RGB, which for JPEG 2000 reverses the codestream's own colour transform exactly.
    raw = native or syntax == RLELossless
    try:
        array = None
        if syntax == JPEGBaseline8Bit:
            from anonymizer.pixels._jpeg import decode_baseline  # noqa: PLC0415 - OpenCV

            array = decode_baseline(ds)
        if array is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = pixel_array(ds, raw=raw)
    except (MemoryError, RecursionError):
        raise TooLarge("pixel data too large to decode") from None
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise anything on bad data
        raise BurnedInTextUnresolved(
            f"pixel data failed to decode ({type(exc).__name__})"
        ) from None
    frames = _as_frames(ds, array)
    out_photometric = photometric
    if photometric == "YBR_FULL_422" and raw:
        out_photometric = "YBR_FULL"  # upsampled: the same decoded values, full resolution
    elif photometric in _YBR_DECODED_AS_RGB and not raw:
        out_photometric = "RGB"
    return DecodedPixels(
        frames=frames,
        photometric=out_photometric,
        bits_allocated=bits_allocated,
        bits_stored=int(ds.get("BitsStored", bits_allocated) or bits_allocated),
        signed=int(ds.get("PixelRepresentation", 0) or 0) == 1,
        source_syntax=syntax,
    )


def _check_size(ds: Dataset, *, bits_allocated: int, max_bytes: int) -> None:
    rows = int(ds.get("Rows", 0) or 0)
    columns = int(ds.get("Columns", 0) or 0)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    try:
        count = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise BurnedInTextUnresolved("Number of Frames (0028,0008) is not a number") from None
    if min(rows, columns, samples, count) < 1 or samples not in (1, 3):
        raise BurnedInTextUnresolved("the image pixel description is incomplete")
    if rows * columns * samples * count * max(bits_allocated, 8) // 8 > max_bytes:
        raise TooLarge("decoded pixel data would exceed the configured cap")


def _as_frames(ds: Dataset, array: NDArray[np.integer]) -> Frames:
    rows, columns = int(ds.Rows), int(ds.Columns)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    try:
        return array.reshape(-1, rows, columns, samples)
    except ValueError:
        raise BurnedInTextUnresolved("decoded pixel data does not match the image size") from None


def output_syntax(decoded: DecodedPixels, *, lossy: LossyOutput) -> UID:
    """The transfer syntax the cleaned pixels are written in (see the module table)."""
    source = decoded.source_syntax
    if source in _NATIVE_SAME or source in _LOSSLESS_REENCODED:
        return source
    if source in _LOSSY and lossy is LossyOutput.SAME_SYNTAX and source in _LOSSY_REENCODED:
        return source
    return ExplicitVRLittleEndian


def encode_pixels(ds: Dataset, decoded: DecodedPixels, *, lossy: LossyOutput) -> EncodedPixels:
    """Write ``decoded.frames`` into ``ds`` and update the Image Pixel attributes.

    Falls back to Explicit VR Little Endian when a lossless encoder refuses the data, so
    the output is always lossless with respect to the cleaned frames.
    """
    target = output_syntax(decoded, lossy=lossy)
    if target.is_compressed:
        try:
            _encode_compressed(ds, decoded, target)
        except Exception:  # noqa: BLE001 - encoder plugins raise anything; write natively
            target = ExplicitVRLittleEndian
        else:
            _after_encoding(ds, decoded, target)
            return EncodedPixels(target, str(ds.PhotometricInterpretation), decoded.lossy)
    _encode_native(ds, decoded, target)
    _after_encoding(ds, decoded, target)
    return EncodedPixels(target, decoded.photometric, lossy_recompressed=False)


def _encode_native(ds: Dataset, decoded: DecodedPixels, target: UID) -> None:
    frames = decoded.frames
    if decoded.bits_allocated == 1:
        data = pack_bits(frames.reshape(-1).astype(np.uint8))
    else:
        planar = 0  # decoded from a compressed stream: write colour-by-pixel
        if decoded.samples == 3 and not decoded.source_syntax.is_compressed:
            planar = int(ds.get("PlanarConfiguration", 0) or 0)
        layout = frames.transpose(0, 3, 1, 2) if planar == 1 else frames
        order = ">" if target == ExplicitVRBigEndian else "<"
        kind = "i" if decoded.signed else "u"
        dtype = np.dtype(f"{order}{kind}{decoded.bits_allocated // 8}")
        data = np.ascontiguousarray(layout).astype(dtype, copy=False).tobytes()
        if decoded.samples == 3:
            ds.PlanarConfiguration = planar
    if len(data) % 2:
        data += b"\0"
    ds.PixelData = data
    ds["PixelData"].VR = "OW" if decoded.bits_allocated > 8 else "OB"
    ds["PixelData"].is_undefined_length = False
    ds.PhotometricInterpretation = decoded.photometric
    ds.file_meta.TransferSyntaxUID = target


def _encode_compressed(ds: Dataset, decoded: DecodedPixels, target: UID) -> None:
    ds.PhotometricInterpretation = decoded.photometric
    if decoded.samples == 3:
        ds.PlanarConfiguration = 0
    if target == JPEGBaseline8Bit:
        from anonymizer.pixels._jpeg import compress_baseline  # noqa: PLC0415 - optional path

        compress_baseline(ds, decoded.frames)
        return
    array = decoded.frames
    if decoded.samples == 1:
        array = array[..., 0]
    if array.shape[0] == 1:
        array = array[0]
    psnr = [50.0] if target == JPEG2000 else None
    error = 2 if target == JPEGLSNearLossless else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.compress(target, array, generate_instance_uid=False, j2k_psnr=psnr, jls_error=error)
        check = pixel_array(ds, raw=True)
    if target in _LOSSLESS_REENCODED and not np.array_equal(
        check.reshape(decoded.frames.shape), decoded.frames
    ):
        raise ValueError("lossless re-encoding did not round-trip")


def _after_encoding(ds: Dataset, decoded: DecodedPixels, target: UID) -> None:
    for tag in (0x7FE00001, 0x7FE00002):  # Extended Offset Table: stale for new fragments
        if tag in ds:
            del ds[tag]
    if decoded.lossy or target in _LOSSY:
        # PS3.3 C.7.6.1.1.5: once lossy, always lossy.
        ds.LossyImageCompression = "01"
    if target in _LOSSY and decoded.lossy:
        # A second lossy generation is recorded as one more method (PS3.3 C.7.6.1.1.5).
        value = ds.get("LossyImageCompressionMethod")
        methods = [value] if isinstance(value, str) else [str(v) for v in value or []]
        ds.LossyImageCompressionMethod = [*methods, _LOSSY_METHOD[target]]

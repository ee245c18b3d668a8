"""Hostile input (standards-notes.md section 5) is rejected with a specific DeidError, quickly.

Every input here is small: none of them may hang, allocate what it declares, or escape as
anything but a :class:`~anonymizer.errors.DeidError`.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import pydicom
import pytest
from factories import (
    DEFLATED,
    EXPLICIT_LE,
    IMPLICIT_LE,
    LONG_VRS,
    anonymizer_for,
    element,
    make_phi_dataset,
    minimal,
    nested,
    part10,
    pydicom_file,
    to_bytes,
)

from anonymizer import Limits
from anonymizer.errors import (
    DeidError,
    ElementTooLong,
    InflatedTooLarge,
    InputError,
    MalformedDicom,
    NestingTooDeep,
    NotDicom,
    Reason,
    TooLarge,
    UnsupportedTransferSyntax,
)

# Random bytes that do not start like a data set (no group 0008 or 0002 anywhere).
NOISE = random.Random(7).randbytes(4096).replace(b"\x08\x00", b"\x09\x00")  # noqa: S311


def reject(data: bytes | str | Path, *, limits: Limits | None = None) -> DeidError:
    """Run the pipeline, demand a DeidError, and that nothing was written."""
    out = io.BytesIO()
    with pytest.raises(DeidError) as caught:
        anonymizer_for("basic", limits=limits).anonymize(data, out)
    assert out.getvalue() == b""
    assert isinstance(caught.value.reason, Reason)
    return caught.value


def test_the_minimal_input_is_accepted() -> None:
    # The rejections below are about what was done to it, not about the base itself.
    for implicit in (False, True):
        ts = IMPLICIT_LE if implicit else EXPLICIT_LE
        out = io.BytesIO()
        anonymizer_for("basic").anonymize(part10(minimal(implicit=implicit), ts), out)
        assert pydicom.dcmread(io.BytesIO(out.getvalue())).PatientName != "FAKE^HOSTILE"
        out = io.BytesIO()
        anonymizer_for("basic").anonymize(part10(nested(5, implicit=implicit), ts), out)
        assert b"FAKE^DEEP" not in out.getvalue()


# -- nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [17, 40, 300, 3000])
@pytest.mark.parametrize(("implicit", "defined"), [(False, False), (True, False), (False, True)])
def test_deep_nesting_rejected(depth: int, implicit: bool, defined: bool) -> None:
    ts = IMPLICIT_LE if implicit else EXPLICIT_LE
    error = reject(part10(nested(depth, implicit=implicit, defined=defined), ts))
    assert isinstance(error, NestingTooDeep)
    assert error.reason is Reason.NESTING_TOO_DEEP


def test_nesting_cap_is_configurable() -> None:
    data = part10(nested(8))
    assert isinstance(reject(data, limits=Limits(max_depth=4)), NestingTooDeep)
    anonymizer_for("basic", limits=Limits(max_depth=8)).anonymize(data, io.BytesIO())


# -- deflate -------------------------------------------------------------------------------


def _deflate(raw: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(raw) + compressor.flush()


def test_deflate_bomb_rejected() -> None:
    bomb = minimal() + element(0x00291010, "OB", b"\0" * (8 << 20))
    data = part10(_deflate(bomb), DEFLATED)
    assert len(data) < 64 << 10
    error = reject(data, limits=Limits(max_inflated_bytes=1 << 20))
    assert isinstance(error, InflatedTooLarge)
    assert error.reason is Reason.INFLATED_TOO_LARGE


def test_deflate_within_cap_accepted() -> None:
    data = part10(_deflate(minimal()), DEFLATED)
    out = io.BytesIO()
    result = anonymizer_for("basic", limits=Limits(max_inflated_bytes=1 << 20)).anonymize(data, out)
    assert "deflate_written_as_explicit_little_endian" in result.warnings
    assert pydicom.dcmread(io.BytesIO(out.getvalue())).file_meta.TransferSyntaxUID == EXPLICIT_LE


def test_real_deflated_file_accepted() -> None:
    out = io.BytesIO()
    anonymizer_for("basic").anonymize(pydicom_file("image_dfl.dcm"), out)
    assert pydicom.dcmread(io.BytesIO(out.getvalue())).PixelData


def test_deflate_garbage_rejected() -> None:
    assert isinstance(reject(part10(b"\xff" * 64, DEFLATED)), MalformedDicom)


# -- lengths -------------------------------------------------------------------------------


@pytest.mark.parametrize("vr", ["UT", "OB", "LO"])
def test_element_longer_than_file_rejected(vr: str) -> None:
    length = 0xFFF0 if vr == "LO" else 0x7FFFFFF0
    head = struct.pack("<HH", 0x0008, 0x1030) + vr.encode()
    head += struct.pack("<HL", 0, length) if vr in LONG_VRS else struct.pack("<H", length)
    error = reject(part10(minimal() + head + b"FAKE^SHORT"))
    assert isinstance(error, ElementTooLong | MalformedDicom)


def test_pixel_data_longer_than_file_rejected() -> None:
    head = struct.pack("<HH", 0x7FE0, 0x0010) + b"OW" + struct.pack("<HL", 0, 0x40000000)
    error = reject(part10(minimal() + head + b"\0" * 16))
    assert isinstance(error, ElementTooLong)
    assert error.reason is Reason.ELEMENT_TOO_LONG


def test_encapsulated_pixel_data_without_delimiter_rejected() -> None:
    head = struct.pack("<HH", 0x7FE0, 0x0010) + b"OB" + struct.pack("<HL", 0, 0xFFFFFFFF)
    items = struct.pack("<HHL", 0xFFFE, 0xE000, 0) + struct.pack("<HHL", 0xFFFE, 0xE000, 4)
    assert isinstance(reject(part10(minimal() + head + items + b"\0" * 4)), MalformedDicom)


@pytest.mark.parametrize("name", ["MR_truncated.dcm", "rtplan_truncated.dcm"])
def test_truncated_pydicom_files_rejected(name: str) -> None:
    assert isinstance(reject(pydicom_file(name)), InputError)


@pytest.mark.parametrize("keep", [200, 1000, 5000, 20000])
def test_truncated_ct_rejected_or_clean(keep: int) -> None:
    phi = make_phi_dataset()
    data = phi.to_bytes()[:keep]
    out = io.BytesIO()
    try:
        anonymizer_for("basic").anonymize(data, out)
    except DeidError:
        assert out.getvalue() == b""
        return
    pytest.fail("a truncated file was accepted")


# -- not DICOM at all ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\0",
        b"DICM",
        NOISE,
        b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\0" * 64,
        b"\xff\xd8\xff\xe0\0\x10JFIF\0" + b"\0" * 64,
        b"PK\x03\x04" + b"\0" * 64,
        b"Patient: FAKE^PATIENT\nMRN: FAKE-MRN-0001\n" * 10,
        b"\0" * 128 + b"DIC",
    ],
    ids=["empty", "one-byte", "dicm", "random", "png", "jpeg", "zip", "text", "short-preamble"],
)
def test_not_dicom_rejected(data: bytes, tmp_path: Path) -> None:
    error = reject(data)
    assert isinstance(error, NotDicom)
    assert error.reason is Reason.NOT_DICOM
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    assert isinstance(reject(path), NotDicom)
    assert "FAKE" not in str(error)


def test_dicm_with_garbage_meta_rejected() -> None:
    data = b"\0" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00" + b"\xff" * 40
    assert isinstance(reject(data), InputError)


def test_unknown_transfer_syntax_rejected() -> None:
    error = reject(part10(minimal(), "1.2.3.4.5.6"))
    assert isinstance(error, UnsupportedTransferSyntax)


def test_wrong_encoding_for_transfer_syntax_rejected() -> None:
    assert isinstance(reject(part10(minimal(), IMPLICIT_LE)), MalformedDicom)
    assert isinstance(reject(part10(minimal(implicit=True), EXPLICIT_LE)), MalformedDicom)


@pytest.mark.parametrize("as_path", [False, True])
def test_file_over_size_cap_rejected(as_path: bool, tmp_path: Path) -> None:
    data = make_phi_dataset().to_bytes()
    source: bytes | Path = data
    if as_path:
        source = tmp_path / "big.dcm"
        source.write_bytes(data)
    error = reject(source, limits=Limits(max_file_bytes=len(data) - 1))
    assert isinstance(error, TooLarge)
    anonymizer_for("basic", limits=Limits(max_file_bytes=len(data))).anonymize(source, io.BytesIO())


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("ExplVR_LitEndNoMeta.dcm", EXPLICIT_LE),
        ("ExplVR_BigEndNoMeta.dcm", "1.2.840.10008.1.2.2"),
        ("rtstruct.dcm", IMPLICIT_LE),
    ],
)
def test_bare_dataset_without_meta_accepted(name: str, syntax: str) -> None:
    out = io.BytesIO()
    anonymizer_for("basic").anonymize(pydicom_file(name), out)
    back = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert back.file_meta.TransferSyntaxUID == syntax
    assert back.PatientIdentityRemoved == "YES"


def test_bare_data_set_starting_mid_element_rejected() -> None:
    # pydicom's no_meta.dcm has a stray first byte; it cannot be parsed as a data set.
    assert isinstance(reject(pydicom_file("no_meta.dcm")), NotDicom)


def test_invalid_utf8_text_rejected_or_replaced() -> None:
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    data = to_bytes(ds)
    name = ds["PatientName"]
    raw_name = str(name.value).encode()
    bad = data.replace(raw_name, b"FAKE\xff\xfe^BAD" + b" " * (len(raw_name) - 10), 1)
    assert bad != data
    out = io.BytesIO()
    try:
        anonymizer_for("basic").anonymize(bad, out)
    except DeidError:
        assert out.getvalue() == b""
        return
    assert b"FAKE\xff\xfe" not in out.getvalue()


def test_sequence_with_non_item_content_rejected_or_clean() -> None:
    body = element(0x00100010, "PN", b"FAKE^INSEQ")  # no item tag around it
    data = part10(minimal() + element(0x00081140, "SQ", body))
    out = io.BytesIO()
    try:
        anonymizer_for("basic").anonymize(data, out)
    except DeidError:
        assert out.getvalue() == b""
        return
    assert b"FAKE^INSEQ" not in out.getvalue()


@pytest.mark.parametrize("cut", [4, 6, 8, 10, 11])
def test_pixel_data_header_cut_short_rejected(cut: int) -> None:
    pixel = struct.pack("<HH", 0x7FE0, 0x0010) + b"OW" + struct.pack("<HL", 0, 4) + b"\0" * 4
    error = reject(part10(minimal() + pixel[:cut]))
    assert isinstance(error, ElementTooLong | MalformedDicom)


def test_pixel_group_length_before_pixel_data_keeps_pixels() -> None:
    # (7FE0,0000) sorts before Pixel Data; stopping there once dropped the pixels silently.
    pixels = b"\x01\x02" * 8
    data = part10(
        minimal()
        + element(0x7FE00000, "UL", struct.pack("<L", 12 + len(pixels)))
        + element(0x7FE00010, "OW", pixels)
    )
    out = io.BytesIO()
    result = anonymizer_for("basic").anonymize(data, out)
    assert pydicom.dcmread(io.BytesIO(out.getvalue())).PixelData == pixels
    assert "trailing_elements_removed" not in result.warnings


def test_zero_length_pixel_data_at_end_accepted() -> None:
    data = part10(
        minimal(implicit=True) + element(0x7FE00010, "OW", b"", implicit=True), IMPLICIT_LE
    )
    out = io.BytesIO()
    anonymizer_for("basic").anonymize(data, out)
    assert out.getvalue().endswith(b"\xe0\x7f\x10\x00\0\0\0\0")
    assert pydicom.dcmread(io.BytesIO(out.getvalue())).PixelData in (b"", None)

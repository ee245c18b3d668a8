"""The fast encoder writes exactly the bytes pydicom's writer does."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import pydicom.data
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_file_meta_info
from pydicom.filewriter import write_dataset
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from anonymizer.encode import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION,
    encode_dataset,
    encode_file_meta,
)

DATA_ROOT = Path(pydicom.data.__file__).parent
FILES = sorted(
    p
    for folder in ("test_files", "charset_files")
    for p in (DATA_ROOT / folder).rglob("*")
    if p.is_file()
    and p.suffix not in {".json", ".txt", ".gz", ".dump", ".icc"}
    and p.name != "README"
)
ENCODINGS = [(True, True), (False, True), (False, False)]


def read(path: Path, *, touch: bool) -> Dataset:
    # pydicom's test files are deliberately odd; its warnings are not what is tested here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(path, stop_before_pixels=True)
        except InvalidDicomError:
            ds = dcmread(path, stop_before_pixels=True, force=True)  # no preamble or meta
            if not ds:
                raise
        if touch:
            for _ in ds.iterall():
                pass
    return ds


def readable(path: Path) -> Dataset:
    try:
        return read(path, touch=True)
    except Exception as exc:  # noqa: BLE001 - any reason pydicom cannot read it is a skip
        pytest.skip(f"pydicom cannot read {path.name} ({type(exc).__name__})")


def pydicom_bytes(ds: Dataset, *, implicit: bool, little: bool) -> bytes | None:
    fp = DicomBytesIO()
    fp.is_implicit_VR = implicit
    fp.is_little_endian = little
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            write_dataset(fp, ds)
        except Exception:  # noqa: BLE001 - pydicom cannot write it: nothing to compare with
            return None
    return fp.getvalue()


def ours(ds: Dataset, *, implicit: bool, little: bool) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return encode_dataset(ds, implicit=implicit, little=little)


def test_there_are_files_to_compare() -> None:
    assert len(FILES) > 150
    assert any(p.name == "CT_small.dcm" for p in FILES)
    assert any(p.parent.name == "charset_files" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_byte_identical_to_pydicom(path: Path) -> None:
    original = readable(path).original_encoding
    compared = 0
    for implicit, little in ENCODINGS:
        # two independent reads, all elements decoded in both
        expected = pydicom_bytes(read(path, touch=True), implicit=implicit, little=little)
        if expected is None:
            assert (implicit, little) != original or path.name in PYDICOM_CANNOT_WRITE
            continue
        actual = ours(read(path, touch=True), implicit=implicit, little=little)
        assert actual == expected, (implicit, little)
        compared += 1
    assert compared or path.name in PYDICOM_CANNOT_WRITE


# Files pydicom itself cannot write back in their own encoding (bad values).
PYDICOM_CANNOT_WRITE = frozenset({"SC_rgb_jpeg.dcm"})


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_raw_elements_converted_to_another_encoding(path: Path) -> None:
    """Raw bytes read in one encoding must not be copied into another (a sequence's items
    carry their VR mode, numbers their byte order)."""
    original = readable(path).original_encoding
    for implicit, little in ENCODINGS:
        if (implicit, little) == original:
            continue
        expected = pydicom_bytes(read(path, touch=True), implicit=implicit, little=little)
        if expected is None:
            continue
        actual = ours(read(path, touch=False), implicit=implicit, little=little)
        assert actual == expected, (implicit, little)


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "MR_small_bigendian.dcm"]
)
def test_untouched_data_set_is_written_back_as_read(name: str) -> None:
    path = DATA_ROOT / "test_files" / name
    ds = read(path, touch=False)
    implicit, little = ds.original_encoding
    assert implicit is not None
    assert little is not None
    data = ours(ds, implicit=implicit, little=little)
    raw = path.read_bytes()
    assert raw[128:132] == b"DICM"
    meta_length = struct.unpack("<L", raw[140:144])[0]
    start = 144 + meta_length
    # the data set exactly as the file holds it, up to the pixel data
    assert data == raw[start : start + len(data)]
    rest = raw[start + len(data) :]
    assert rest == b"" or rest[:4] == struct.pack("<HH" if little else ">HH", 0x7FE0, 0x0010)


def test_changed_elements_are_encoded() -> None:
    path = DATA_ROOT / "test_files" / "CT_small.dcm"
    ds = read(path, touch=False)
    ds.PatientName = "Changed^Fake"
    ds.SeriesDescription = None
    reference = read(path, touch=True)
    reference.PatientName = "Changed^Fake"
    reference.SeriesDescription = None
    assert ours(ds, implicit=False, little=True) == pydicom_bytes(
        reference, implicit=False, little=True
    )
    assert b"Changed^Fake" in ours(ds, implicit=False, little=True)


def test_sequence_lengths_undefined_and_defined() -> None:
    ds = Dataset()
    item = Dataset()
    item.CodeValue = "1"
    ds.ReferencedImageSequence = [item]
    ds.ReferencedImageSequence.is_undefined_length = False
    ds["ReferencedImageSequence"].is_undefined_length = True
    for implicit, little in ENCODINGS:
        assert ours(ds, implicit=implicit, little=little) == pydicom_bytes(
            ds, implicit=implicit, little=little
        )
    data = ours(ds, implicit=True, little=True)
    assert data.endswith(struct.pack("<HHL", 0xFFFE, 0xE0DD, 0))


# -- file meta ----------------------------------------------------------------------------


@pytest.mark.parametrize("transfer_syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian])
@pytest.mark.parametrize("sop_instance", ["1.2.3.4", "2.25.123456789012345678901234567890123"])
def test_file_meta_parses_with_pydicom(
    tmp_path: Path, transfer_syntax: str, sop_instance: str
) -> None:
    meta = encode_file_meta(
        sop_class="1.2.840.10008.5.1.4.1.1.7",
        sop_instance=sop_instance,
        transfer_syntax=transfer_syntax,
    )
    group_length = struct.unpack("<L", meta[8:12])[0]
    assert meta[:8] == b"\x02\x00\x00\x00UL\x04\x00"
    assert group_length == len(meta) - 12
    assert len(meta) % 2 == 0

    path = tmp_path / "meta.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + meta)
    info = read_file_meta_info(path)
    assert info.FileMetaInformationGroupLength == group_length
    assert info.FileMetaInformationVersion == b"\x00\x01"
    assert info.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert info.MediaStorageSOPInstanceUID == sop_instance
    assert info.TransferSyntaxUID == transfer_syntax
    assert info.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert info.ImplementationVersionName == IMPLEMENTATION_VERSION


def test_file_meta_with_a_data_set_reads_back() -> None:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.PatientName = "Fake^Person"
    ds.Rows = 2
    body = ours(ds, implicit=False, little=False)
    meta = encode_file_meta(
        sop_class=ds.SOPClassUID,
        sop_instance=ds.SOPInstanceUID,
        transfer_syntax=ExplicitVRBigEndian,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Explicit VR Big Endian TS is retired
        back = dcmread(io.BytesIO(b"\0" * 128 + b"DICM" + meta + body))
    assert back.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    assert back.PatientName == "Fake^Person"
    assert back.Rows == 2
    assert back.SOPInstanceUID == "1.2.3.4.5"


@pytest.mark.parametrize("vr", ["SV", "UV"])
def test_64_bit_vrs_kept_raw_get_the_long_header(vr: str) -> None:
    """SV and UV have a 4-byte length in Explicit VR (PS3.5 Table 7.1-1), like OB."""
    ds = Dataset()
    if vr == "SV":
        ds.SelectorSVValue = [-5, 1 << 40]
    else:
        ds.SelectorUVValue = [5, 1 << 40]
    expected = pydicom_bytes(ds, implicit=False, little=True)
    assert expected is not None
    assert expected[4:8] == vr.encode() + b"\0\0"
    raw = dcmread(io.BytesIO(expected), force=True)  # read back raw, never decoded
    raw.set_original_encoding(False, True, None)
    assert ours(raw, implicit=False, little=True) == expected

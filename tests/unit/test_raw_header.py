"""Reading a data set with its undefined-length sequences kept raw (raw_header)."""

from __future__ import annotations

import io
import struct

import pydicom
import pytest
from factories import element, minimal, sequence_element, sequence_item
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from anonymizer.raw_header import read_keeping_sequences_raw

UNDEFINED = 0xFFFFFFFF
PIXEL_DATA = 0x7FE00010


def _read(data: bytes, *, implicit: bool = False) -> tuple[Dataset, int] | None:
    return read_keeping_sequences_raw(
        data, 0, implicit=implicit, little=True, stop_at=lambda tag: tag >= PIXEL_DATA
    )


def _body(*, implicit: bool) -> bytes:
    first = sequence_item(element(0x00100020, "LO", b"FAKE-OTHER", implicit=implicit))
    second = sequence_item(
        element(0x00200032, "DS", b"1\\2\\3 ", implicit=implicit), undefined=True
    )
    return b"".join(
        (
            minimal(implicit=implicit),
            sequence_element(0x00101002, first, implicit=implicit, undefined=True),
            element(0x00180050, "DS", b"2 ", implicit=implicit),
            sequence_element(0x00209113, second, implicit=implicit, undefined=True),
            element(0x00280002, "US", struct.pack("<H", 1), implicit=implicit),
        )
    )


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_undefined_length_sequences_stay_raw_and_reading_goes_on(implicit: bool) -> None:
    data = _body(implicit=implicit)
    result = _read(data, implicit=implicit)
    assert result is not None
    ds, stopped = result
    assert stopped == len(data)
    for tag in (0x00101002, 0x00209113):
        raw = ds._dict[BaseTag(tag)]
        assert isinstance(raw, RawDataElement)
        assert raw.length == UNDEFINED
    # pydicom converts the raw sequences to what it parses from the file itself.
    expected = pydicom.dcmread(
        io.BytesIO(data), force=True, stop_before_pixels=True
    )  # no meta: force
    expected.set_original_encoding(implicit, True, None)
    assert ds.OtherPatientIDsSequence[0].PatientID == "FAKE-OTHER"
    assert ds.PlanePositionSequence[0].ImagePositionPatient == [1, 2, 3]
    assert ds["PlanePositionSequence"].is_undefined_length
    assert ds.PlanePositionSequence[0].is_undefined_length_sequence_item
    assert ds.SliceThickness == 2
    assert ds.SamplesPerPixel == 1
    assert [e.tag for e in ds] == [e.tag for e in expected]


def test_a_malformed_sequence_sends_the_whole_read_back_to_pydicom() -> None:
    bad_item = struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + element(0x00200032, "DS", b"1 ")
    data = minimal() + sequence_element(0x00209113, bad_item, implicit=False, undefined=True)
    assert _read(data) is None


def test_a_segment_pydicom_would_read_in_another_vr_mode_is_not_split() -> None:
    # After the sequence, an element whose VR bytes are not capitals: pydicom would switch
    # that whole segment to implicit VR if it began a data set there.
    item = sequence_item(element(0x00200032, "DS", b"1 "))
    odd = struct.pack("<HH", 0x0028, 0x0002) + b"\x01\x00" + b"\x00\x00"
    data = minimal() + sequence_element(0x00209113, item, implicit=False, undefined=True) + odd
    assert _read(data) is None


def test_private_undefined_length_sequences_are_left_to_pydicom() -> None:
    item = sequence_item(element(0x00200032, "DS", b"1 "))
    data = minimal() + sequence_element(0x00091010, item, implicit=False, undefined=True)
    result = _read(data)
    assert result is not None
    ds, _ = result
    assert not isinstance(ds._dict[BaseTag(0x00091010)], RawDataElement)


def test_reading_stops_before_pixel_data() -> None:
    pixels = struct.pack("<HH", 0x7FE0, 0x0010) + b"OW" + struct.pack("<HL", 0, 4) + b"\0" * 4
    data = _body(implicit=False) + pixels
    result = _read(data)
    assert result is not None
    ds, stopped = result
    assert stopped == len(data) - len(pixels)
    assert PIXEL_DATA not in ds._dict


def test_an_item_tag_inside_an_item_sends_the_read_back_to_pydicom() -> None:
    # pydicom would read the nested item tag as an element and guess implicit VR for the
    # item; the strict scanner does not try to follow it.
    nested = struct.pack("<HHL", 0xFFFE, 0xE000, 0) + element(0x00200032, "DS", b"1 ")
    data = minimal() + sequence_element(
        0x00209113, sequence_item(nested), implicit=False, undefined=True
    )
    assert _read(data) is None


@pytest.mark.parametrize("cut", [2, 6])
def test_a_file_ending_inside_an_element_after_a_sequence_goes_back_to_pydicom(
    cut: int,
) -> None:
    # pydicom returns an empty or partial data set for a segment that ends mid-element
    # (with or without a warning); the whole read is left to pydicom then.
    item = sequence_item(element(0x00200032, "DS", b"1 "))
    tail = element(0x00280002, "US", struct.pack("<H", 1))
    data = minimal() + sequence_element(0x00209113, item, implicit=False, undefined=True)
    assert _read(data + tail[:cut]) is None

"""The pixel policy decides which images need burned-in text cleaned; until the pixel
stage exists, those images are refused (fail closed), never stored as they came."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from anonymizer import Anonymizer, PseudonymKey
from anonymizer.errors import DeidError
from anonymizer.pixel_policy import cleaning_required
from anonymizer.profiles.model import PixelPolicy, PixelSettings

KEY = PseudonymKey(key_id="test", secret=b"k" * 32)


def _ds(modality: str, burned: str | None = None) -> Dataset:
    ds = Dataset()
    ds.Modality = modality
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    if burned is not None:
        ds.BurnedInAnnotation = burned
    return ds


@pytest.mark.parametrize(
    ("policy", "modality", "burned", "expected"),
    [
        (PixelPolicy.NEVER, "US", "YES", False),
        (PixelPolicy.ALWAYS, "CT", "NO", True),
        (PixelPolicy.BURNED_IN_ANNOTATION, "US", None, False),
        (PixelPolicy.BURNED_IN_ANNOTATION, "CT", "YES", True),
        (PixelPolicy.MODALITIES, "US", None, True),
        (PixelPolicy.MODALITIES, "US ", None, True),
        (PixelPolicy.MODALITIES, "CT", None, False),
        (PixelPolicy.MODALITIES, "CT", "YES", True),
    ],
)
def test_cleaning_required(
    policy: PixelPolicy, modality: str, burned: str | None, expected: bool
) -> None:
    settings = PixelSettings(policy=policy, modalities=("US", "SC"))
    assert cleaning_required(_ds(modality, burned), settings) is expected


def test_sop_class_list_counts() -> None:
    settings = PixelSettings(
        policy=PixelPolicy.MODALITIES, sop_classes=("1.2.840.10008.5.1.4.1.1.7",)
    )
    assert cleaning_required(_ds("OT"), settings)


def _file(name: str, **changes: str) -> bytes:
    path = get_testdata_file(name, download=False)
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_ai_upload_cleans_ultrasound_pixels() -> None:
    anonymizer = Anonymizer(profile="ai-upload", key=KEY)
    out = io.BytesIO()
    result = anonymizer.anonymize(_file("CT_small.dcm", Modality="US"), out)
    assert result.pixels_cleaned is True
    written = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert written.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in written.DeidentificationMethodCodeSequence]
    assert "113101" in codes


def test_nothing_to_mask_copies_the_pixel_data_unchanged() -> None:
    """Cleaning ran and found no text: the JPEG stream is copied, not decoded and re-written."""
    source = _file("SC_rgb_jpeg_dcmtk.dcm", Modality="US")
    out = io.BytesIO()
    result = Anonymizer(profile="ai-upload", key=KEY).anonymize(source, out)
    assert result.pixels_cleaned is True
    assert result.transfer_syntax == "1.2.840.10008.1.2.4.50"
    original = pydicom.dcmread(io.BytesIO(source))
    written = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert written.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    assert written.PixelData == original.PixelData
    assert written.BurnedInAnnotation == "NO"
    assert "113101" in [item.CodeValue for item in written.DeidentificationMethodCodeSequence]


def test_ai_upload_cleans_burned_in_annotation_yes() -> None:
    anonymizer = Anonymizer(profile="ai-upload", key=KEY)
    result = anonymizer.anonymize(_file("CT_small.dcm", BurnedInAnnotation="YES"), io.BytesIO())
    assert result.pixels_cleaned is True


def test_unreadable_pixels_are_refused_not_stored() -> None:
    data = bytearray(_file("CT_small.dcm", Modality="US"))
    data[-2000:] = b"\xff" * 2000  # still parses; the pixel data is now short of its length
    anonymizer = Anonymizer(profile="ai-upload", key=KEY)
    out = io.BytesIO()
    with pytest.raises(DeidError):
        anonymizer.anonymize(bytes(data[:-1000]), out)
    assert out.getvalue() == b""


def test_ai_upload_stores_ct_without_burned_in_text(tmp_path: Path) -> None:
    anonymizer = Anonymizer(profile="ai-upload", key=KEY)
    result = anonymizer.anonymize_file(_file("CT_small.dcm"), tmp_path / "out.dcm")
    assert result.pixels_cleaned is False
    assert (tmp_path / "out.dcm").stat().st_size == result.size


def test_basic_never_asks_for_pixel_cleaning() -> None:
    anonymizer = Anonymizer(profile="basic", key=KEY)
    result = anonymizer.anonymize(_file("CT_small.dcm", Modality="US"), io.BytesIO())
    assert result.pixels_cleaned is False

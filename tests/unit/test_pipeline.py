"""One object through the pipeline: what it writes, what it returns, what it never shows."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import pydicom
import pytest
from factories import (
    KEY,
    anonymizer_for,
    leaked,
    make_phi_dataset,
    pydicom_file,
    to_bytes,
)

from anonymizer import Anonymizer, PseudonymKey
from anonymizer.errors import MalformedDicom


def test_anonymize_file_writes_atomically(tmp_path: Path) -> None:
    phi = make_phi_dataset()
    source = tmp_path / "in.dcm"
    source.write_bytes(phi.to_bytes())
    target = tmp_path / "nested" / "out.dcm"
    result = anonymizer_for("basic").anonymize_file(source, target)
    data = target.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["out.dcm"]
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert pydicom.dcmread(target).SOPInstanceUID == result.sop_instance_uid
    assert leaked(data, phi.planted, ("latin-1",)) == []


def test_path_and_bytes_give_identical_output(tmp_path: Path) -> None:
    data = make_phi_dataset().to_bytes()
    source = tmp_path / "in.dcm"
    source.write_bytes(data)
    from_path, from_bytes = io.BytesIO(), io.BytesIO()
    anonymizer_for("research").anonymize(source, from_path)
    anonymizer_for("research").anonymize(data, from_bytes)
    assert from_path.getvalue() == from_bytes.getvalue()


def test_output_is_deterministic_across_instances() -> None:
    data = make_phi_dataset().to_bytes()
    outputs = set()
    for _ in range(2):
        out = io.BytesIO()
        Anonymizer(profile="research", key=KEY).anonymize(data, out)
        outputs.add(out.getvalue())
    assert len(outputs) == 1


def test_result_holds_no_input_value() -> None:
    phi = make_phi_dataset()
    result = anonymizer_for("research").anonymize(phi.to_bytes(), io.BytesIO())
    text = repr(result.as_dict())
    assert leaked(text.encode(), phi.planted) == []
    assert not [u for u in phi.uids.values() if u in text]
    assert result.patient_pseudonym is not None
    assert result.removed > 0
    assert result.uids_mapped >= 5
    assert result.dates_shifted >= 5
    assert result.private_kept > 0  # CT_small's safe private elements
    assert result.pixels_cleaned is False


def test_trailing_elements_after_pixel_data_dropped_with_warning() -> None:
    # The Digital Signatures Sequence sorts after Pixel Data; it must not be copied along.
    phi = make_phi_dataset()
    out = io.BytesIO()
    result = anonymizer_for("basic").anonymize(phi.to_bytes(), out)
    assert "trailing_elements_removed" in result.warnings
    assert out.getvalue().endswith(phi.dataset.PixelData)


def test_logs_hold_no_phi(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    phi = make_phi_dataset()
    caplog.set_level(logging.DEBUG)
    anonymizer_for("research").anonymize_file(phi.to_bytes(), tmp_path / "out.dcm")
    assert caplog.records, "the pipeline logs what it did"
    assert leaked(caplog.text.encode(), phi.planted) == []
    assert not [u for u in phi.uids.values() if u in caplog.text]


def test_missing_sop_instance_uid_rejected() -> None:
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    del ds.SOPInstanceUID
    out = io.BytesIO()
    with pytest.raises(MalformedDicom) as caught:
        anonymizer_for("basic").anonymize(to_bytes(ds), out)
    assert "SOPInstanceUID" in str(caught.value)
    assert out.getvalue() == b""


@pytest.mark.parametrize(
    "name",
    ["JPEG2000.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_dcmd.dcm", "MR_small_bigendian.dcm"],
)
def test_compressed_and_other_syntaxes_keep_pixels_and_syntax(name: str) -> None:
    path = pydicom_file(name)
    source = pydicom.dcmread(path)
    out = io.BytesIO()
    result = anonymizer_for("basic").anonymize(path, out)
    back = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert back.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
    assert result.transfer_syntax == source.file_meta.TransferSyntaxUID
    assert back.PixelData == source.PixelData


def test_different_key_id_recorded() -> None:
    other = PseudonymKey(key_id="site-b", secret=b"b" * 32)
    out = io.BytesIO()
    anonymizer_for("basic", key=other).anonymize(make_phi_dataset().to_bytes(), out)
    assert "key site-b" in pydicom.dcmread(io.BytesIO(out.getvalue())).DeidentificationMethod


def test_invalid_values_are_neither_logged_nor_warned(caplog: pytest.LogCaptureFixture) -> None:
    # pydicom's value validation logs "Invalid value for VR DA: '<value>'"; the pipeline
    # must not let it (and filterwarnings=error would turn its warning into a rejection).
    bad = {
        "PatientID": ("LO", "FAKE-MRN-" + "Z" * 70),
        "PatientBirthDate": ("DA", "FAKE1961"),
        "PatientAge": ("AS", "FAKEAGE"),
        "StudyDate": ("DA", "FAKEDATE"),
    }
    with pydicom.config.disable_value_validation():
        phi = make_phi_dataset()
        for keyword, (vr, value) in bad.items():
            phi.dataset.add_new(keyword, vr, value)
        data = phi.to_bytes()
    modes = (
        pydicom.config.settings.reading_validation_mode,
        pydicom.config.settings.writing_validation_mode,
    )
    caplog.set_level(logging.DEBUG)
    for profile in ("basic", "research"):
        out = io.BytesIO()
        anonymizer_for(profile).anonymize(data, out)
        # research keeps Patient's Age as it is (Retain Patient Characteristics).
        gone = [v for k, (_vr, v) in bad.items() if profile == "basic" or k != "PatientAge"]
        assert leaked(out.getvalue(), gone) == []
    assert "FAKE" not in caplog.text
    assert (
        pydicom.config.settings.reading_validation_mode,
        pydicom.config.settings.writing_validation_mode,
    ) == modes

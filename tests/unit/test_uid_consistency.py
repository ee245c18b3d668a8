"""The same original UID maps to the same new UID: within a file, across files and runs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pydicom
from factories import (
    KEY,
    OTHER_KEY,
    anonymizer_for,
    make_phi_dataset,
    uid,
    write_profile,
)
from pydicom.dataset import Dataset

from anonymizer import Anonymizer, PseudonymKey

_UID_2_25 = re.compile(r"^2\.25\.[1-9][0-9]{0,38}$")


def _out(data: bytes, profile: str | Path = "basic", key: PseudonymKey = KEY) -> Dataset:
    buffer = io.BytesIO()
    anonymizer_for(profile, key=key).anonymize(data, buffer)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


def test_study_uid_same_at_top_level_and_in_referenced_study_sequence(tmp_path: Path) -> None:
    # Basic empties Referenced Study Sequence; a profile that keeps it gets mapped UIDs.
    profile = write_profile(
        tmp_path, "keepref", "extends: basic\nattributes:\n  ReferencedStudySequence: keep\n"
    )
    phi = make_phi_dataset()
    out = _out(phi.to_bytes(), profile)
    assert out.StudyInstanceUID != phi.uids["study"]
    assert out.ReferencedStudySequence[0].ReferencedSOPInstanceUID == out.StudyInstanceUID


def test_reference_matches_the_other_files_new_sop_instance_uid() -> None:
    first = make_phi_dataset(sop_uid=uid("7.1"))
    second = make_phi_dataset(sop_uid=uid("7.2"), referenced_sop_uid=uid("7.1"))
    out_first = _out(first.to_bytes())
    out_second = _out(second.to_bytes())
    reference = out_second.ReferencedImageSequence[0].ReferencedSOPInstanceUID
    assert reference == out_first.SOPInstanceUID
    assert out_first.SOPInstanceUID != out_second.SOPInstanceUID
    # Both files of one study and series keep sharing them.
    assert out_first.StudyInstanceUID == out_second.StudyInstanceUID
    assert out_first.SeriesInstanceUID == out_second.SeriesInstanceUID
    assert out_first.FrameOfReferenceUID == out_second.FrameOfReferenceUID


def test_two_instances_with_the_same_key_agree() -> None:
    data = make_phi_dataset().to_bytes()
    first, second = io.BytesIO(), io.BytesIO()
    Anonymizer(profile="basic", key=KEY).anonymize(data, first)
    Anonymizer(profile="basic", key=PseudonymKey(key_id="copy", secret=KEY.secret)).anonymize(
        data, second
    )
    a = pydicom.dcmread(io.BytesIO(first.getvalue()))
    b = pydicom.dcmread(io.BytesIO(second.getvalue()))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PatientID"):
        assert a[keyword].value == b[keyword].value


def test_profiles_agree_on_uids() -> None:
    # UIDs depend on the key alone, so research and basic outputs still reference each other.
    data = make_phi_dataset().to_bytes()
    assert _out(data, "basic").SOPInstanceUID == _out(data, "research").SOPInstanceUID


def test_different_key_gives_different_uids_and_pseudonyms() -> None:
    data = make_phi_dataset().to_bytes()
    a, b = _out(data, key=KEY), _out(data, key=OTHER_KEY)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PatientID"):
        assert a[keyword].value != b[keyword].value
    assert a.SOPClassUID == b.SOPClassUID


def test_new_uids_are_valid_and_sop_class_kept() -> None:
    phi = make_phi_dataset()
    out = _out(phi.to_bytes())
    assert out.SOPClassUID == phi.dataset.SOPClassUID
    values = [
        str(elem.value)
        for elem in out.iterall()
        if elem.VR == "UI" and elem.keyword not in ("SOPClassUID", "ReferencedSOPClassUID")
    ]
    assert len(values) >= 6
    for value in values:
        assert len(value) <= 64
        assert _UID_2_25.match(value), value
    assert len(set(values)) >= 6  # distinct originals stay distinct


def test_registry_uids_kept() -> None:
    phi = make_phi_dataset()
    out = _out(phi.to_bytes())
    classes = {str(elem.value) for elem in out.iterall() if elem.keyword == "ReferencedSOPClassUID"}
    assert classes == {"1.2.840.10008.5.1.4.1.1.2"}

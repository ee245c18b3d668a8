"""HIPAA Safe Harbor (``safe_harbor: true``): years only, no times, ages capped, no serials."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from factories import (
    ACQUISITION_DATETIME,
    DATES,
    anonymizer_for,
    leaked,
    make_phi_dataset,
    walk,
    write_profile,
)
from pydicom.dataset import Dataset


def _profile(tmp_path: Path, extends: str, extra: str = "") -> Path:
    return write_profile(tmp_path, "sh", f"extends: {extends}\n{extra}safe_harbor: true\n")


def _run(profile: Path, *, age: str = "095Y") -> tuple[bytes, Dataset]:
    phi = make_phi_dataset()
    phi.dataset.PatientAge = age
    phi.dataset.DeviceSerialNumber = "FAKESERIAL123"
    phi.dataset.ReferencedImageSequence[0].DeviceSerialNumber = "FAKESERIAL456"
    buffer = io.BytesIO()
    anonymizer_for(profile).anonymize(phi.to_bytes(), buffer)
    return buffer.getvalue(), pydicom.dcmread(io.BytesIO(buffer.getvalue()))


def _values(ds: Dataset, vr: str) -> list[str]:
    return [
        str(parent[tag].value)
        for path, parent, tag in walk(ds)
        if vr == parent[tag].VR and parent[tag].value and "(0012,0064)" not in path
    ]


def test_full_dates_become_years(tmp_path: Path) -> None:
    # Full dates kept, then truncated: the year survives, nothing finer.
    output, out = _run(_profile(tmp_path, "research", "dates:\n  policy: keep\n"))
    assert out.StudyDate == "20210101"
    assert out.SeriesDate == "20180101"
    assert out.AcquisitionDateTime == ACQUISITION_DATETIME[:4]
    assert out.RequestAttributesSequence[0].ScheduledProcedureStepStartDate == "19990101"
    dates = _values(out, "DA")
    assert dates and all(d.endswith("0101") for d in dates)
    assert all(len(d) == 4 for d in _values(out, "DT"))
    assert leaked(output, DATES) == []
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"


def test_shifted_dates_become_years(tmp_path: Path) -> None:
    _output, out = _run(_profile(tmp_path, "research"))
    assert out.StudyDate.endswith("0101")
    assert 2019 <= int(out.StudyDate[:4]) <= 2021
    assert all(d.endswith("0101") for d in _values(out, "DA"))
    assert all(len(d) == 4 for d in _values(out, "DT"))
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"


@pytest.mark.parametrize("extends", ["basic", "research", "ai-upload"])
def test_times_emptied_everywhere(tmp_path: Path, extends: str) -> None:
    _output, out = _run(_profile(tmp_path, extends))
    # A dummy (D) time is no time of the patient's; every real one is gone.
    assert set(_values(out, "TM")) <= {"000000"}
    assert "StudyTime" not in out or out.StudyTime == ""


@pytest.mark.parametrize(
    ("age", "expected"),
    [("095Y", "090Y"), ("090Y", "090Y"), ("100Y", "090Y"), ("089Y", "089Y"), ("006M", "006M")],
)
def test_age_over_89_capped(tmp_path: Path, age: str, expected: str) -> None:
    _output, out = _run(_profile(tmp_path, "ai-upload"), age=age)
    assert out.PatientAge == expected


def test_age_not_capped_without_safe_harbor() -> None:
    phi = make_phi_dataset()
    phi.dataset.PatientAge = "095Y"
    buffer = io.BytesIO()
    anonymizer_for("ai-upload").anonymize(phi.to_bytes(), buffer)
    assert pydicom.dcmread(io.BytesIO(buffer.getvalue())).PatientAge == "095Y"


@pytest.mark.parametrize(
    "extra",
    ["", "options: [retain_device_identity]\n"],
    ids=["research", "retain-device-identity"],
)
def test_device_serial_number_gone(tmp_path: Path, extra: str) -> None:
    output, out = _run(_profile(tmp_path, "research", extra))
    assert "DeviceSerialNumber" not in out
    assert "DeviceSerialNumber" not in out.ReferencedImageSequence[0]
    assert leaked(output, ["FAKESERIAL123", "FAKESERIAL456"]) == []


def test_device_serial_kept_without_safe_harbor(tmp_path: Path) -> None:
    # The test above means something: the option alone keeps the serial number.
    profile = write_profile(
        tmp_path, "rdi", "extends: research\noptions: [retain_device_identity]\n"
    )
    _output, out = _run(profile)
    assert out.DeviceSerialNumber == "FAKESERIAL123"


def test_safe_harbor_wins_over_explicit_keep(tmp_path: Path) -> None:
    extra = "attributes:\n  DeviceSerialNumber: keep\n"
    _output, out = _run(_profile(tmp_path, "research", extra))
    assert "DeviceSerialNumber" not in out


def test_planted_values_still_gone(tmp_path: Path) -> None:
    phi = make_phi_dataset()
    buffer = io.BytesIO()
    anonymizer_for(_profile(tmp_path, "research")).anonymize(phi.to_bytes(), buffer)
    assert leaked(buffer.getvalue(), phi.planted, ("latin-1",)) == []


def test_method_codes_do_not_claim_full_dates(tmp_path: Path) -> None:
    _output, out = _run(_profile(tmp_path, "research", "dates:\n  policy: keep\n"))
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert "113106" not in codes
    assert "113107" in codes

"""Scenario: one patient, two studies: one pseudonym, one date shift, intervals kept."""

from __future__ import annotations

import datetime as dt
import io

import pydicom
from factories import anonymizer_for, make_phi_dataset, uid
from pydicom.dataset import Dataset


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text[:8], "%Y%m%d").date()


def _out(data: bytes, profile: str) -> Dataset:
    buffer = io.BytesIO()
    anonymizer_for(profile).anonymize(data, buffer)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


def _two_studies() -> tuple[bytes, bytes]:
    first = make_phi_dataset(
        study_uid=uid("10.1"),
        series_uid=uid("10.2"),
        sop_uid=uid("10.3"),
        study_date="20200110",
        series_date="20200111",
    )
    second = make_phi_dataset(
        study_uid=uid("11.1"),
        series_uid=uid("11.2"),
        sop_uid=uid("11.3"),
        study_date="20220620",
        series_date="20220620",
    )
    return first.to_bytes(), second.to_bytes()


def test_same_pseudonym_in_both_studies() -> None:
    for profile in ("basic", "research"):
        a, b = (_out(data, profile) for data in _two_studies())
        assert a.PatientID == b.PatientID
        assert a.PatientName == b.PatientName
        assert a.StudyInstanceUID != b.StudyInstanceUID


def test_same_date_shift_and_intervals_kept() -> None:
    a, b = (_out(data, "research") for data in _two_studies())
    shift_a = (_date(a.StudyDate) - _date("20200110")).days
    shift_b = (_date(b.StudyDate) - _date("20220620")).days
    assert shift_a == shift_b
    assert -730 <= shift_a <= -1
    assert (_date(b.StudyDate) - _date(a.StudyDate)).days == (
        _date("20220620") - _date("20200110")
    ).days
    assert (_date(a.SeriesDate) - _date(a.StudyDate)).days == 1
    assert a.SeriesDate != "20200111"

"""Scenario: every instance of a study gets the same date shift, with or without Patient ID."""

from __future__ import annotations

import datetime as dt
import io

import pydicom
from factories import STUDY_DATE, anonymizer_for, make_phi_dataset, uid
from pydicom.dataset import Dataset


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text[:8], "%Y%m%d").date()


def _instances(*, with_patient_id: bool) -> list[Dataset]:
    out: list[Dataset] = []
    for n, series_date in enumerate(("20210315", "20210316", "20210320")):
        phi = make_phi_dataset(
            series_uid=uid(f"30.{n}"), sop_uid=uid(f"31.{n}"), series_date=series_date
        )
        if not with_patient_id:
            del phi.dataset.PatientID
        buffer = io.BytesIO()
        anonymizer_for("research").anonymize(phi.to_bytes(), buffer)
        out.append(pydicom.dcmread(io.BytesIO(buffer.getvalue())))
    return out


def test_one_shift_per_study() -> None:
    for with_patient_id in (True, False):
        outs = _instances(with_patient_id=with_patient_id)
        assert len({o.StudyDate for o in outs}) == 1
        assert len({o.StudyInstanceUID for o in outs}) == 1
        assert len({o.SeriesInstanceUID for o in outs}) == 3
        gaps = [(_date(o.SeriesDate) - _date(o.StudyDate)).days for o in outs]
        assert gaps == [0, 1, 5]
        assert outs[0].StudyDate != STUDY_DATE


def test_shift_follows_patient_not_study_when_id_present() -> None:
    a = make_phi_dataset(study_uid=uid("40.1"), sop_uid=uid("40.2"))
    b = make_phi_dataset(study_uid=uid("41.1"), sop_uid=uid("41.2"))
    dates = []
    for phi in (a, b):
        buffer = io.BytesIO()
        anonymizer_for("research").anonymize(phi.to_bytes(), buffer)
        dates.append(pydicom.dcmread(io.BytesIO(buffer.getvalue())).StudyDate)
    assert dates[0] == dates[1]

"""The Store Instances Response written as DICOM JSON without pydicom's converter."""

from __future__ import annotations

import json

from pydicom.dataset import Dataset

from app.dicom_response import (
    FAILURE_CANNOT_UNDERSTAND,
    WARNING_COERCION,
    failed_item,
    referenced_item,
    store_response,
    to_json,
)


def _response(*, study_url: str | None) -> Dataset:
    referenced = [
        referenced_item(
            sop_class="1.2.840.10008.5.1.4.1.1.2",
            sop_instance=f"2.25.{n}",
            url=f"http://127.0.0.1/dicomweb/studies/2.25.1/series/2.25.2/instances/2.25.{n}",
            warning=WARNING_COERCION if n % 2 else None,
        )
        for n in range(3)
    ]
    failed = [failed_item(sop_class="", sop_instance="", reason=FAILURE_CANNOT_UNDERSTAND)]
    return store_response(study_url=study_url, referenced=referenced, failed=failed)


def test_matches_pydicom_for_store_responses() -> None:
    for study_url in (None, "http://127.0.0.1/dicomweb/studies/2.25.1"):
        ds = _response(study_url=study_url)
        assert to_json(ds) == ds.to_json_dict()


def test_shape_of_the_answer() -> None:
    answer = json.loads(json.dumps(to_json(_response(study_url=None))))
    assert answer["00081190"] == {"vr": "UR"}  # no study URL: an empty element, no Value
    first, second = answer["00081199"]["Value"][:2]
    assert first["00081155"] == {"vr": "UI", "Value": ["2.25.0"]}
    assert "00081196" not in first and second["00081196"] == {"vr": "US", "Value": [0xB000]}
    assert answer["00081198"]["Value"][0]["00081197"] == {"vr": "US", "Value": [0xC000]}
    assert answer["00081198"]["Value"][0]["00081150"] == {"vr": "UI"}


def test_other_value_types_fall_back_to_pydicom() -> None:
    ds = Dataset()
    ds.PatientName = "Anon^Patient"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.Rows = 512
    assert to_json(ds) == ds.to_json_dict()

"""POST /v1/uploads with real DICOM files: stored de-identified, recorded, one result each."""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import pydicom
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from service_helpers import Keys, auth

from app.services import Services


def _dicom(name: str, *, patient: str = "FAKE^UPLOAD^PATIENT") -> bytes:
    path = get_testdata_file(name, download=False)
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = patient
    ds.PatientID = "FAKE-UP-0001"
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_upload_stores_deidentified_and_records(
    client: TestClient, services: Services, keys: Keys
) -> None:
    files = [
        ("files", ("ct.dcm", _dicom("CT_small.dcm"), "application/dicom")),
        ("files", ("mr.dcm", _dicom("MR_small.dcm"), "application/dicom")),
    ]
    response = client.post("/v1/uploads", files=files, headers=auth(keys.upload))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["stored"] == 2
    assert [f["status"] for f in body["files"]] == ["stored", "stored"]
    for result in body["files"]:
        assert result["key"].startswith("clinic-a/2.25.")
        stored = services.storage.get(result["key"])
        assert b"FAKE^UPLOAD^PATIENT" not in stored
        assert b"FAKE-UP-0001" not in stored
        ds = pydicom.dcmread(io.BytesIO(stored))
        assert ds.SOPInstanceUID == result["sop_instance_uid"]
        assert ds.PatientIdentityRemoved == "YES"
    rows = list(services.ledger.rows(tenant="clinic-a"))
    assert [r.object_key for r in rows] == [f["key"] for f in body["files"]]
    assert services.ledger.verify_chain().ok


def test_same_file_twice_is_idempotent(client: TestClient, services: Services, keys: Keys) -> None:
    data = _dicom("CT_small.dcm")
    first = client.post(
        "/v1/uploads",
        files=[("files", ("a.dcm", data, "application/dicom"))],
        headers=auth(keys.upload),
    )
    second = client.post(
        "/v1/uploads",
        files=[("files", ("a.dcm", data, "application/dicom"))],
        headers=auth(keys.upload),
    )
    assert first.json()["files"][0]["status"] == "stored"
    assert second.status_code == 201
    assert second.json()["files"][0]["status"] == "duplicate"
    assert len(list(services.ledger.rows())) == 1


def test_bad_files_get_a_specific_reason(client: TestClient, keys: Keys) -> None:
    files = [
        ("files", ("notes.txt", b"just some text, not DICOM", "text/plain")),
        ("files", ("ct.dcm", _dicom("CT_small.dcm"), "application/dicom")),
        ("files", ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png")),
    ]
    response = client.post("/v1/uploads", files=files, headers=auth(keys.upload))
    assert response.status_code == 200
    results = response.json()["files"]
    assert results[0]["status"] == "rejected"
    assert results[0]["reason"] == "not_dicom"
    assert results[1]["status"] == "stored"
    assert results[2]["status"] == "rejected"  # a PNG signature and nothing else
    assert results[2]["reason"]


def test_all_rejected_is_422(client: TestClient, keys: Keys) -> None:
    files = [("files", ("x.bin", b"\0" * 300, "application/octet-stream"))]
    response = client.post("/v1/uploads", files=files, headers=auth(keys.upload))
    assert response.status_code == 422
    assert response.json()["rejected"] == 1


def test_zip_upload_expands_members_safely(client: TestClient, keys: Keys, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("study/ct.dcm", _dicom("CT_small.dcm"))
        zf.writestr("study/mr.dcm", _dicom("MR_small.dcm"))
        zf.writestr("../../evil.dcm", _dicom("CT_small.dcm"))
    files = [("files", ("study.zip", buffer.getvalue(), "application/zip"))]
    response = client.post("/v1/uploads", files=files, headers=auth(keys.upload))
    results = response.json()["files"]
    statuses = sorted(r["status"] for r in results)
    assert statuses == ["rejected", "stored", "stored"]
    rejected = next(r for r in results if r["status"] == "rejected")
    assert rejected["reason"] == "unsafe_archive_path"
    assert not (tmp_path / "evil.dcm").exists()


def test_zip_bomb_is_refused(client: TestClient, keys: Keys) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.dcm", b"\0" * (50 << 20))
    files = [("files", ("bomb.zip", buffer.getvalue(), "application/zip"))]
    response = client.post("/v1/uploads", files=files, headers=auth(keys.upload))
    results = response.json()["files"]
    assert results[0]["status"] == "rejected"
    assert results[0]["reason"] == "zip_bomb"


def test_profile_must_be_allowed(client: TestClient, keys: Keys) -> None:
    files = [("files", ("ct.dcm", _dicom("CT_small.dcm"), "application/dicom"))]
    response = client.post(
        "/v1/uploads", files=files, data={"profile": "nonexistent"}, headers=auth(keys.upload)
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "profile_not_allowed"


def test_research_profile_can_be_chosen(client: TestClient, services: Services, keys: Keys) -> None:
    files = [("files", ("ct.dcm", _dicom("CT_small.dcm"), "application/dicom"))]
    response = client.post(
        "/v1/uploads", files=files, data={"profile": "research"}, headers=auth(keys.upload)
    )
    assert response.status_code == 201
    assert response.json()["profile"] == "research"
    row = next(iter(services.ledger.rows()))
    assert row.profile == "research"


def test_oversized_request_is_refused_before_reading(client: TestClient, keys: Keys) -> None:
    headers = {**auth(keys.upload), "Content-Type": "multipart/form-data; boundary=x"}
    headers["Content-Length"] = str(1 << 40)
    response = client.post("/v1/uploads", content=b"--x--\r\n", headers=headers)
    assert response.status_code == 413
    assert response.json()["reason"] == "request_too_large"


def test_png_screenshot_is_cleaned_and_stored(
    client: TestClient, services: Services, keys: Keys
) -> None:
    import cv2
    import numpy as np
    from PIL import Image, PngImagePlugin

    canvas = np.full((240, 480, 3), 20, np.uint8)
    cv2.putText(
        canvas, "FAKE PATIENT 1234", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2
    )
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "FAKE^PNG^PATIENT")
    out = io.BytesIO()
    Image.fromarray(canvas).save(out, format="PNG", pnginfo=info)
    response = client.post(
        "/v1/uploads",
        files=[("files", ("screenshot.png", out.getvalue(), "image/png"))],
        headers=auth(keys.upload),
    )
    assert response.status_code == 201, response.text
    result = response.json()["files"][0]
    assert result["key"].startswith("clinic-a/images/")
    assert result["pixels_cleaned"] is True
    stored = services.storage.get(result["key"])
    assert b"FAKE^PNG^PATIENT" not in stored
    cleaned = np.asarray(Image.open(io.BytesIO(stored)).convert("L"))
    assert cleaned[35:65, 20:300].max() < 128  # the text is masked
    assert next(iter(services.ledger.rows())).items.startswith('["image')

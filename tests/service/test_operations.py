"""Health, readiness, metrics, the ledger export, logs without PHI, OpenAPI shapes."""

from __future__ import annotations

import csv
import io
import logging
import warnings

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from service_helpers import Keys, auth

from anonymizer.database import create_database_engine
from app.services import Services

FAKE = "FAKE^OPS^PATIENT"


def _ct(patient: str = FAKE) -> bytes:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = patient
    ds.PatientID = "FAKE-OPS-0001"
    ds.InstitutionName = "Fake Ops Hospital"
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"storage": "ok", "database": "ok"}}


def test_readiness_fails_when_the_database_is_gone(client: TestClient, services: Services) -> None:
    services.ledger.engine.dispose()
    services.ledger.engine = create_database_engine("sqlite:////nonexistent/dir/db.sqlite")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] != "ok"


def test_metrics_count_uploads_and_rejections(client: TestClient, keys: Keys) -> None:
    client.post(
        "/v1/uploads",
        files=[
            ("files", ("ct.dcm", _ct(), "application/dicom")),
            ("files", ("x.txt", b"not dicom at all", "text/plain")),
        ],
        headers=auth(keys.upload),
    )
    text = client.get("/metrics", headers=auth(keys.admin)).text
    assert 'anonymizer_objects_total{door="uploads",outcome="stored"}' in text
    assert 'anonymizer_rejections_total{reason="not_dicom"}' in text
    assert FAKE not in text


def test_ledger_export_json_and_csv(client: TestClient, keys: Keys) -> None:
    client.post(
        "/v1/uploads",
        files=[("files", ("ct.dcm", _ct(), "application/dicom"))],
        headers=auth(keys.upload),
    )
    rows = client.get("/v1/ledger", headers=auth(keys.admin)).json()
    assert len(rows) == 1
    row = rows[0]
    assert row["items"] == ["medical images (de-identified)"]
    for field in ("destination_country", "recipient", "purpose", "retention", "sha256"):
        assert field in row
    exported = client.get("/v1/ledger?format=csv", headers=auth(keys.admin))
    assert exported.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(exported.text)))
    assert parsed[0]["object_key"] == row["object_key"]
    later = client.get("/v1/ledger?since=2999-01-01T00:00:00", headers=auth(keys.admin))
    assert later.json() == []


def test_logs_hold_no_identifying_values(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.post(
        "/v1/uploads",
        files=[("files", ("FAKE_OPS_PATIENT.dcm", _ct(), "application/dicom"))],
        headers=auth(keys.upload),
    )
    client.post(
        "/dicomweb/studies",
        content=b"--B\r\nContent-Type: application/dicom\r\n\r\n" + _ct() + b"\r\n--B--",
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=B",
        },
    )
    text = caplog.text
    assert caplog.records, "the requests should have been logged"
    for value in (FAKE, "FAKE-OPS-0001", "Fake Ops Hospital", "FAKE_OPS_PATIENT"):
        assert value not in text


def test_openapi_shows_the_real_shapes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    upload = spec["paths"]["/v1/uploads"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert upload["responses"]["201"]
    assert "FileResult" in spec["components"]["schemas"]
    stow = spec["paths"]["/dicomweb/studies"]["post"]
    assert any("multipart/related" in k for k in stow["requestBody"]["content"])

"""Helpers of the retention, subject-request and access-log tests. Obviously fake PHI only."""

from __future__ import annotations

import io
import warnings
from typing import Any

import pydicom
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from service_helpers import auth

from app.access import AccessLogMiddleware, install_access_log
from app.main import create_app
from app.routes import subjects
from app.services import Services

UID_ROOT = "1.2.826.0.1.3680043.8.498.991"  # test-only root; values below are made up


def wired_app(services: Services) -> FastAPI:
    """The service with the subjects routes and the access-log middleware.

    ``create_app`` may already wire them (then nothing is added twice).
    """
    app = create_app(services=services)
    if not any(getattr(r, "path", "") == "/v1/subjects:lookup" for r in app.routes):
        app.include_router(subjects.router)
    if not any(m.cls is AccessLogMiddleware for m in app.user_middleware):  # type: ignore[comparison-overlap]
        install_access_log(app)
    return app


def ct(*, patient_id: str, study: str, sop: str, name: str = "FAKE^SUBJECT") -> bytes:
    """CT_small with a fake patient and made-up UIDs."""
    path = get_testdata_file("CT_small.dcm", download=False)
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = name
    ds.PatientID = patient_id
    ds.IssuerOfPatientID = "FAKE-ISSUER"
    ds.StudyInstanceUID = f"{UID_ROOT}.1.{study}"
    ds.SeriesInstanceUID = f"{UID_ROOT}.2.{study}"
    ds.SOPInstanceUID = f"{UID_ROOT}.3.{sop}"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def upload(client: TestClient, token: str, data: bytes) -> dict[str, Any]:
    """Upload one file; its result (key, de-identified UIDs)."""
    response = client.post(
        "/v1/uploads",
        files=[("files", ("scan.dcm", data, "application/dicom"))],
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()["files"][0]
    return result

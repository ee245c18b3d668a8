"""50 uploads at once; the S3 server stopped in the middle of a series of uploads."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pydicom
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from service_helpers import Keys, auth

from anonymizer.apikeys import Scope
from anonymizer.ledger.reconcile import audit
from app.main import create_app
from app.services import Services, build_services
from app.settings import Settings, StorageKind

pytestmark = pytest.mark.integration


def _instance(i: int) -> bytes:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = f"FAKE^CONCURRENT^{i:03d}"
    ds.PatientID = f"FAKE-CONC-{i:04d}"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["concurrency test", str(i)])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_fifty_parallel_uploads(live_url: str, services: Services, keys: Keys) -> None:
    bodies = [_instance(i) for i in range(50)]

    def send(i: int) -> int:
        response = httpx.post(
            f"{live_url}/v1/uploads",
            files=[("files", (f"{i}.dcm", bodies[i], "application/dicom"))],
            headers=auth(keys.upload),
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(send, range(50)))
    assert statuses == [201] * 50
    rows = list(services.ledger.rows())
    assert len(rows) == 50
    assert len({r.object_key for r in rows}) == 50
    assert services.ledger.verify_chain().ok
    report = audit(services.ledger, services.storage)
    assert report.ok
    assert report.objects_checked == 50


@pytest.fixture
def s3_services(tmp_path: Path, s3_server: object, s3_bucket: str) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path / "data",
        storage=StorageKind.S3,
        s3_bucket=s3_bucket,
        s3_region="eu-west-1",
        s3_endpoint_url=s3_server.url,  # type: ignore[attr-defined]
        s3_access_key_id=SecretStr("test"),
        s3_secret_access_key=SecretStr("moto-test-secret"),
        destination_country="NL",
        destination_region="eu-west-1",
        recipient_name="Example Cloud B.V.",
    )
    services = build_services(settings)
    # Fail fast while the server is down.
    services.storage._client.meta.config.retries = {"max_attempts": 1}  # type: ignore[attr-defined]
    yield services
    services.close()


def test_s3_stopped_mid_batch(s3_services: Services, s3_server: object) -> None:
    token, _ = s3_services.api_keys.create(tenant="clinic-a", scopes=frozenset({Scope.UPLOAD}))
    statuses = []
    with TestClient(create_app(services=s3_services)) as client:
        for i in range(12):
            if i == 4:
                s3_server.stop()  # type: ignore[attr-defined]
            if i == 8:
                s3_server.restart()  # type: ignore[attr-defined]
            response = client.post(
                "/v1/uploads",
                files=[("files", (f"{i}.dcm", _instance(100 + i), "application/dicom"))],
                headers=auth(token),
            )
            statuses.append(response.status_code)
            if response.status_code == 503:
                assert response.json()["reason"] == "storage_unavailable"
                assert response.headers["retry-after"] == "30"
    assert statuses == [201] * 4 + [503] * 4 + [201] * 4
    rows = list(s3_services.ledger.rows())
    assert len(rows) == 8
    assert rows[0].destination_country == "NL"
    report = audit(s3_services.ledger, s3_services.storage)
    assert report.ok, report
    assert report.mismatches == 0

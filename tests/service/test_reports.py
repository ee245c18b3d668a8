"""Analysis reports through the service: stored beside their de-identified study, recorded in
the ledger, listed and fetched; rejected (and never stored) when anything identifying is left.

Fake PHI only: FAKE^REPORT^PATIENT, 가짜^환자, a registration number built here with a valid
check digit from a fake serial, phones in unassigned ranges.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF
from pydicom.data import get_testdata_file
from service_helpers import Keys, auth

from anonymizer.errors import StorageUnavailable
from anonymizer.reports.intake import report_row_cleanup
from app.main import create_app
from app.routes import reports as reports_route
from app.services import Services

ROOT = "1.2.826.0.1.3680043.8.498.7732"  # a test-only root; the values below are made up
STUDY, SERIES, SOP, FINDING = f"{ROOT}.1", f"{ROOT}.2", f"{ROOT}.3", f"{ROOT}.4"
NAME, PATIENT_ID, PHONE = "FAKE^REPORT^PATIENT", "FAKE-RPT-0042", "010-0000-1234"
WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def fake_rrn() -> str:
    first = "610203" + "2" + "00000"
    check = (11 - sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11) % 10
    return f"610203-200000{check}"


PHI = [NAME, "Fake Report Patient", PATIENT_ID, STUDY, SOP, FINDING, PHONE, "가짜", fake_rrn()]


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = create_app(services=services)
    paths = {getattr(route, "path", "") for route in app.routes}
    if "/v1/studies/{study_uid}/reports" not in paths:  # until app.main includes it
        app.include_router(reports_route.router)
    with TestClient(app) as test_client:
        yield test_client


def read(data: bytes) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data))


def ct_image() -> bytes:
    ds = read(Path(str(get_testdata_file("CT_small.dcm"))).read_bytes())
    ds.PatientName, ds.PatientID = NAME, PATIENT_ID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = STUDY, SERIES, SOP
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def upload_study(client: TestClient, keys: Keys) -> dict[str, str]:
    files = [("files", ("ct.dcm", ct_image(), "application/dicom"))]
    response = client.post("/v1/uploads", files=files, headers=auth(keys.upload))
    assert response.status_code == 201, response.text
    result: dict[str, str] = response.json()["files"][0]
    return result


def ai_result() -> bytes:
    document = {
        "StudyInstanceUID": STUDY,
        "PatientName": NAME,
        "PatientID": PATIENT_ID,
        "findings": [
            {"sop_instance_uid": SOP, "label": "nodule", "score": 0.91},
            {"sop_instance_uid": FINDING, "label": "nodule", "note": f"see {SOP} ({NAME})"},
        ],
        "summary": f"Call Fake Report Patient at {PHONE}.",
    }
    return json.dumps(document).encode()


def post_reports(
    client: TestClient, token: str, study: str, *reports: tuple[str, bytes, str], **form: str
) -> dict[str, Any]:
    files = [("reports", report) for report in reports]
    response = client.post(
        f"/v1/studies/{study}/reports", files=files, data=form, headers=auth(token)
    )
    body: dict[str, Any] = response.json()
    body["_status"] = response.status_code
    return body


def everything_stored(services: Services) -> bytes:
    """Every byte the service keeps: stored objects and the database files."""
    data = services.settings.data_dir
    return b"".join(p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file())


def test_json_report_is_stored_beside_its_study(
    client: TestClient, services: Services, keys: Keys
) -> None:
    image = upload_study(client, keys)
    study = image["study_instance_uid"]
    body = post_reports(
        client, keys.upload, STUDY, ("result.json", ai_result(), "application/json")
    )
    assert body["_status"] == 201, body
    assert (body["study_instance_uid"], body["study_stored"], body["stored"]) == (study, True, 1)
    [result] = body["reports"]
    assert result["status"] == "stored"
    assert result["key"] == f"clinic-a/{study}/reports/{result['report_id']}.json"
    stored = json.loads(services.storage.get(result["key"]))
    # Linked to the stored images by the same pseudonymized UIDs and patient pseudonym.
    assert stored["StudyInstanceUID"] == study
    assert stored["findings"][0]["sop_instance_uid"] == image["sop_instance_uid"]
    stored_image = read(services.storage.get(image["key"]))
    assert stored["PatientID"] == stored_image.PatientID
    assert stored["summary"] == f"Call {stored_image.PatientName} at [PHONE]."
    assert not [v for v in PHI if v in json.dumps(stored, ensure_ascii=False)]
    # One ledger row, with the items transferred.
    rows = list(services.ledger.rows(tenant="clinic-a"))
    assert [(r.object_key, json.loads(r.items)) for r in rows[1:]] == [
        (result["key"], ["analysis report"])
    ]
    assert services.ledger.verify_chain().ok
    # Listed and fetched by the original or the de-identified study UID.
    for name in (STUDY, study):
        listing = client.get(f"/v1/studies/{name}/reports", headers=auth(keys.read))
        assert listing.status_code == 200
        assert [r["report_id"] for r in listing.json()["reports"]] == [result["report_id"]]
    fetched = client.get(
        f"/v1/studies/{study}/reports/{result['report_id']}", headers=auth(keys.read)
    )
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.content == services.storage.get(result["key"])


def test_korean_text_with_the_callers_identifiers(
    client: TestClient, services: Services, keys: Keys
) -> None:
    image = upload_study(client, keys)
    text = (
        f"환자: 가짜환자 (ID {PATIENT_ID})\n주민등록번호: {fake_rrn()}\n"
        f"연락처: {PHONE}\n소견: 결절 6 mm, 환자 상태 양호.\n"
    )
    identifiers = json.dumps({"PatientName": "가짜^환자", "PatientID": PATIENT_ID})
    body = post_reports(
        client,
        keys.upload,
        image["study_instance_uid"],
        ("소견서.txt", text.encode(), "text/plain"),
        identifiers=identifiers,
    )
    assert body["_status"] == 201, body
    [result] = body["reports"]
    stored = services.storage.get(result["key"]).decode()
    stored_image = read(services.storage.get(image["key"]))
    assert stored == (
        f"환자: {stored_image.PatientName} (ID {stored_image.PatientID})\n주민등록번호: [RRN]\n"
        "연락처: [PHONE]\n소견: 결절 6 mm, 환자 상태 양호.\n"
    )
    # The identifiers were used in memory only: nowhere in storage or the database.
    kept = everything_stored(services)
    assert not [v for v in PHI if v.encode() in kept]


def test_pdf_still_identifying_is_rejected_and_never_stored(
    client: TestClient, services: Services, keys: Keys
) -> None:
    upload_study(client, keys)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=f"Patient {NAME}, MRN {PATIENT_ID}")
    rows_before = len(list(services.ledger.rows(tenant="clinic-a")))
    body = post_reports(
        client,
        keys.upload,
        STUDY,
        ("report.pdf", bytes(pdf.output()), "application/pdf"),
        identifiers=json.dumps({"PatientName": NAME}),
    )
    assert body["_status"] == 422
    [result] = body["reports"]
    assert result["status"] == "rejected"
    assert result["reason"] == "identifying_value_in_output"
    assert "page 1" in result["message"] and NAME not in result["message"]
    assert len(list(services.ledger.rows(tenant="clinic-a"))) == rows_before
    assert not [i for i in services.storage.list("clinic-a/") if "/reports/" in i.key]


def test_pydicoms_bundled_sr(client: TestClient, services: Services, keys: Keys) -> None:
    data = Path(str(get_testdata_file("test-SR.dcm"))).read_bytes()
    original = read(data)
    body = post_reports(
        client, keys.upload, original.StudyInstanceUID, ("sr.dcm", data, "application/dicom")
    )
    assert body["_status"] == 201, body
    [result] = body["reports"]
    stored = read(services.storage.get(result["key"]))
    assert result["kind"] == "dicom-sr"
    assert body["study_stored"] is False  # no images of this study: the report comes first
    assert stored.StudyInstanceUID == body["study_instance_uid"] != original.StudyInstanceUID
    assert result["report_id"] == stored.SOPInstanceUID
    assert b"Riesmeier" not in services.storage.get(result["key"])


def test_a_report_of_another_study_is_rejected(client: TestClient, keys: Keys) -> None:
    data = Path(str(get_testdata_file("test-SR.dcm"))).read_bytes()
    body = post_reports(client, keys.upload, STUDY, ("sr.dcm", data, "application/dicom"))
    assert body["_status"] == 422
    assert body["reports"][0]["reason"] == "study_mismatch"


def test_same_report_twice_is_one_object_and_one_row(
    client: TestClient, services: Services, keys: Keys
) -> None:
    report = ("result.json", ai_result(), "application/json")
    first = post_reports(client, keys.upload, STUDY, report)
    second = post_reports(client, keys.upload, STUDY, report)
    assert [first["_status"], second["_status"]] == [201, 201]
    assert second["reports"][0]["status"] == "duplicate"
    assert len(list(services.ledger.rows(tenant="clinic-a"))) == 1
    listing = client.get(f"/v1/studies/{STUDY}/reports", headers=auth(keys.read))
    assert len(listing.json()["reports"]) == 1


def test_raw_body_report(client: TestClient, keys: Keys) -> None:
    response = client.post(
        f"/v1/studies/{STUDY}/reports",
        content=ai_result(),
        headers={**auth(keys.upload), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["reports"][0]["kind"] == "json"


def test_scopes_and_tenants(client: TestClient, keys: Keys) -> None:
    report = ("result.json", ai_result(), "application/json")
    assert post_reports(client, keys.read, STUDY, report)["_status"] == 403
    stored = post_reports(client, keys.upload, STUDY, report)
    report_id = stored["reports"][0]["report_id"]
    assert client.get(f"/v1/studies/{STUDY}/reports", headers=auth(keys.upload)).status_code == 403
    other = client.get(f"/v1/studies/{STUDY}/reports", headers=auth(keys.other_tenant))
    assert other.json()["reports"] == []
    fetched = client.get(
        f"/v1/studies/{STUDY}/reports/{report_id}", headers=auth(keys.other_tenant)
    )
    assert fetched.status_code == 404


def test_bad_requests(client: TestClient, keys: Keys) -> None:
    report = ("result.json", ai_result(), "application/json")
    bad_uid = post_reports(client, keys.upload, "not-a-uid", report)
    assert (bad_uid["_status"], bad_uid["reason"]) == (422, "malformed_report")
    bad_identifiers = post_reports(client, keys.upload, STUDY, report, identifiers="[1]")
    assert (bad_identifiers["_status"], bad_identifiers["reason"]) == (422, "invalid_identifiers")
    unknown = post_reports(client, keys.upload, STUDY, report, identifiers='{"Nick": "FAKE"}')
    assert unknown["reason"] == "invalid_identifiers" and "FAKE" not in str(unknown["message"])
    profile = post_reports(client, keys.upload, STUDY, report, profile="nope")
    assert profile["reason"] == "profile_not_allowed"
    binary = post_reports(client, keys.upload, STUDY, ("x.bin", b"\0\1\2", "application/x"))
    assert binary["reports"][0]["reason"] == "unsupported_report"


def test_storage_outage_stores_and_records_nothing(
    client: TestClient, services: Services, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_args: object, **_kwargs: object) -> None:
        raise StorageUnavailable("storage unreachable")

    monkeypatch.setattr(services.storage, "put", down)
    body = post_reports(client, keys.upload, STUDY, ("r.json", ai_result(), "application/json"))
    assert body["_status"] == 503
    assert list(services.ledger.rows(tenant="clinic-a")) == []


def test_no_identifying_value_in_logs(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    identifiers = json.dumps({"PatientName": "가짜^환자", "PatientID": PATIENT_ID})
    text = f"가짜환자 {fake_rrn()} {PHONE}".encode()
    post_reports(
        client, keys.upload, STUDY, ("가짜환자.txt", text, "text/plain"), identifiers=identifiers
    )
    post_reports(client, keys.upload, STUDY, ("r.json", ai_result(), "application/json"))
    # The test client logs its own request URLs; the service's records are what count.
    service = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert service
    assert not [v for v in PHI if any(v in message for message in service)]


def test_a_report_download_is_recorded_and_a_hold_is_honoured(
    client: TestClient, services: Services, keys: Keys
) -> None:
    image = upload_study(client, keys)
    study = image["study_instance_uid"]
    body = post_reports(client, keys.upload, study, ("r.json", ai_result(), "application/json"))
    result = body["reports"][0]
    url = f"/v1/studies/{study}/reports/{result['report_id']}"
    assert client.get(url, headers=auth(keys.read)).status_code == 200
    reads = [r for r in services.privacy.access_log.rows() if r.action.startswith("GET")]
    assert reads[-1].action == "GET /v1/studies/{study_uid}/reports/{report_id}"
    assert json.loads(reads[-1].target)["objects"] == [result["key"]]
    # The patient asked for processing to stop: their reports are not served either.
    patient = read(services.storage.get(image["key"])).PatientID
    services.privacy.holds.place(
        tenant="clinic-a", patients=[patient], request_id="test", now="2026-01-01T00:00:00Z"
    )
    assert client.get(url, headers=auth(keys.read)).status_code == 451
    listing = client.get(f"/v1/studies/{study}/reports", headers=auth(keys.read))
    assert listing.status_code == 451


def test_destroyed_reports_leave_the_list(
    client: TestClient, services: Services, keys: Keys
) -> None:
    body = post_reports(client, keys.upload, STUDY, ("r.json", ai_result(), "application/json"))
    key = body["reports"][0]["key"]
    report_row_cleanup(services.ledger.engine)("clinic-a", key)
    listing = client.get(f"/v1/studies/{STUDY}/reports", headers=auth(keys.read))
    assert listing.json()["reports"] == []


def test_reports_part_of_the_uploads_door(
    client: TestClient, services: Services, keys: Keys
) -> None:
    """Images and their report in one POST /v1/uploads: the report joins the images' study."""
    files = [
        ("files", ("ct.dcm", ct_image(), "application/dicom")),
        ("reports", ("result.json", ai_result(), "application/json")),
    ]
    response = client.post("/v1/uploads", files=files, headers=auth(keys.upload))
    assert response.status_code == 201, response.text
    image, report = response.json()["files"]
    assert report["status"] == "stored"
    assert report["key"].startswith(f"clinic-a/{image['study_instance_uid']}/reports/")
    stored = services.storage.get(report["key"])
    for value in (NAME.encode(), PATIENT_ID.encode(), STUDY.encode(), SOP.encode()):
        assert value not in stored
    items = [row.items for row in services.ledger.rows()]
    assert any("analysis report" in item for item in items)

"""STOW-RS bodies replayed byte for byte as each known client builds them.

See the client table in standards-notes.md section 1:

* dicomweb-client (Python): leading CRLF before each delimiter, quoted boundary, no part
  Content-Length; chunked (1 MB chunks) above 1 MB; no Accept of its own.
* Orthanc's DICOMweb plugin: no leading CRLF, unquoted boundary (two UUIDs joined by a
  dash, 73 characters, as captured from Orthanc 1.10.1 with plugin 1.7), part
  Content-Length, an empty ``Expect:`` header, ``Accept: application/dicom+json``, chunked.
* dcm4che ``stowrs``: unquoted boundary, ``transfer-syntax=`` in the Content-Type,
  ``Accept: application/dicom+xml``.
* OHIF (dcmjs dicomweb-client): one file per request, quoted boundary, from a browser
  origin, so with a CORS preflight.

Each body carries an instance whose pixel data holds CRLF CRLF and ``--`` (and a
boundary prefix), the bytes a naive splitter cuts at.
"""

from __future__ import annotations

import http.client
import io
import json
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.web import DICOMwebClient as WebClient
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from service_helpers import Keys, auth

from app.main import create_app
from app.services import Services
from app.settings import Settings

FAKE_NAME = "FAKE^REPLAY^PATIENT"
FAKE_ID = "FAKE-REPLAY-0001"
STUDY_UID = "1.2.826.0.1.3680043.8.498.88001"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
VIEWER = "https://viewer.example"
WARNING_COERCION = 0xB000
FAILURE_CANNOT_UNDERSTAND = 0xC000
FAILURE_PROCESSING = 0x0110
NATIVE_DICOM = "{http://dicom.nema.org/PS3.19/models/NativeDICOM}"


# -- instances ----------------------------------------------------------------------------


def _dataset(name: str, number: int, *, study: str = STUDY_UID) -> Dataset:
    path = get_testdata_file(name, download=False)
    assert path is not None, name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = FAKE_NAME
    ds.PatientID = FAKE_ID
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = f"{study}.{number}"
    ds.SOPInstanceUID = f"{study}.{number}.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _encode(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def _trap(boundary: str) -> bytes:
    """Bytes a naive splitter cuts at: CRLF CRLF, dashes, and a boundary prefix."""
    return b"\r\n\r\n--\r\n--" + boundary[:-1].encode() + b"\r\n\r\n--"


def _study(boundary: str, count: int = 2) -> tuple[list[bytes], bytes]:
    """``count`` instances of one study; the first (a CT) has the trap in its pixel data."""
    trap = _trap(boundary)
    first = _dataset("CT_small.dcm", 1)
    pixels = bytearray(first.PixelData)
    pixels[200 : 200 + len(trap)] = trap
    first.PixelData = bytes(pixels)
    names = ["MR_small.dcm", "CT_small.dcm"]
    others = [_dataset(names[i % 2], i + 2) for i in range(count - 1)]
    return [_encode(first), *(_encode(ds) for ds in others)], trap


# -- bodies as each client builds them ------------------------------------------------------


def dicomweb_client_body(parts: list[bytes], boundary: str) -> tuple[bytes, str]:
    """dicomweb-client's own encoder: CRLF before each delimiter, no part length."""
    content_type = f'multipart/related; type="application/dicom"; boundary="{boundary}"'
    return WebClient._encode_multipart_message(parts, content_type), content_type


def orthanc_body(parts: list[bytes], boundary: str) -> tuple[bytes, str]:
    """Orthanc's DicomWebClient: no leading CRLF, part Content-Length, CRLF after the end."""
    chunks = []
    for index, data in enumerate(parts):
        chunks.append(b"\r\n" if index else b"")
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
        )
        chunks.append(data)
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(chunks), f'multipart/related; type="application/dicom"; boundary={boundary}'


def dcm4che_body(parts: list[bytes], boundary: str) -> tuple[bytes, str]:
    """dcm4che stowrs: unquoted boundary, transfer syntax named in request and parts."""
    chunks = []
    for data in parts:
        chunks.append(
            f"\r\n--{boundary}\r\n"
            f"Content-Type: application/dicom;transfer-syntax={EXPLICIT_LE}\r\n\r\n".encode()
        )
        chunks.append(data)
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    content_type = (
        f'multipart/related;type="application/dicom";transfer-syntax={EXPLICIT_LE};'
        f"boundary={boundary}"
    )
    return b"".join(chunks), content_type


def dcmjs_body(data: bytes, boundary: str) -> tuple[bytes, str]:
    """dcmjs dicomweb-client ``multipartEncode``: header with leading CRLF, one file."""
    body = (
        f"\r\n--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--".encode()
    )
    return body, f'multipart/related; type="application/dicom"; boundary="{boundary}"'


# -- answers --------------------------------------------------------------------------------


def _check_json_answer(body: dict[str, Any], *, count: int, base: str) -> list[str]:
    """The Store Instances Response (PS3.18 Annex I) as DICOM JSON; returns new SOP UIDs."""
    assert "00081198" not in body, "no FailedSOPSequence when everything was stored"
    study_url = body["00081190"]["Value"][0]
    assert study_url.startswith(f"{base}/dicomweb/studies/2.25.")
    items = body["00081199"]["Value"]
    assert len(items) == count
    uids = []
    for item in items:
        assert item["00081150"]["vr"] == "UI" and item["00081150"]["Value"][0]
        sop = item["00081155"]["Value"][0]
        assert sop.startswith("2.25.")
        assert item["00081190"]["vr"] == "UR"
        assert item["00081190"]["Value"][0].startswith(f"{study_url}/series/2.25.")
        assert item["00081190"]["Value"][0].endswith(f"/instances/{sop}")
        assert item["00081196"] == {"vr": "US", "Value": [WARNING_COERCION]}
        uids.append(sop)
    return uids


def _xml_attributes(node: ET.Element) -> dict[str, ET.Element]:
    return {child.attrib["tag"]: child for child in node.findall(f"{NATIVE_DICOM}DicomAttribute")}


def _check_xml_answer(content: bytes, *, count: int) -> None:
    """The same module as PS3.19 Native DICOM Model XML."""
    root = ET.fromstring(content)  # noqa: S314 - our own service's answer
    assert root.tag == f"{NATIVE_DICOM}NativeDicomModel"
    top = _xml_attributes(root)
    assert "00081198" not in top
    assert top["00081190"].attrib["vr"] == "UR"
    sequence = top["00081199"]
    assert sequence.attrib["vr"] == "SQ"
    items = sequence.findall(f"{NATIVE_DICOM}Item")
    assert len(items) == count
    for item in items:
        attributes = _xml_attributes(item)
        assert {"00081150", "00081155", "00081190", "00081196"} <= set(attributes)
        warning = attributes["00081196"].find(f"{NATIVE_DICOM}Value")
        assert warning is not None and warning.text == str(WARNING_COERCION)
        sop = attributes["00081155"].find(f"{NATIVE_DICOM}Value")
        assert sop is not None and sop.text is not None and sop.text.startswith("2.25.")


def _check_stored(services: Services, *, count: int, trap: bytes) -> None:
    keys = [info.key for info in services.storage.list("clinic-a/")]
    assert len(keys) == count
    stored = [services.storage.get(key) for key in keys]
    assert any(trap in data for data in stored), "the pixel data arrived whole"
    assert not any(FAKE_NAME.encode() in data for data in stored)
    assert len(list(services.ledger.rows())) == count
    assert services.ledger.verify_chain().ok


# -- dicomweb-client ------------------------------------------------------------------------


def test_dicomweb_client_body(client: TestClient, services: Services, keys: Keys) -> None:
    boundary = "0f3cf5c0-70e0-41ef-baef-c6f9f65ec3e1"
    parts, trap = _study(boundary)
    body, content_type = dicomweb_client_body(parts, boundary)
    assert body.startswith(b"\r\n--") and b"Content-Length" not in body[:200]
    response = client.post(
        "/dicomweb/studies",
        content=body,
        headers={**auth(keys.upload), "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/dicom+json"
    _check_json_answer(response.json(), count=2, base="http://testserver")
    _check_stored(services, count=2, trap=trap)


def test_dicomweb_client_chunked_above_one_megabyte(
    live_url: str, services: Services, keys: Keys
) -> None:
    """The real client over a socket: 30 instances (> 1 MB) go out chunked."""
    datasets = [_dataset("CT_small.dcm", number) for number in range(1, 31)]
    assert sum(len(_encode(ds)) for ds in datasets) > 10**6
    client = DICOMwebClient(url=f"{live_url}/dicomweb", headers=auth(keys.upload))
    answer = client.store_instances(datasets)
    assert "FailedSOPSequence" not in answer
    assert len(answer.ReferencedSOPSequence) == 30
    assert {item.WarningReason for item in answer.ReferencedSOPSequence} == {WARNING_COERCION}
    assert len(list(services.ledger.rows())) == 30
    assert services.ledger.verify_chain().ok


# -- Orthanc --------------------------------------------------------------------------------


def _post_over_socket(
    live_url: str, path: str, *, body: bytes, headers: dict[str, str], chunk: int
) -> tuple[int, dict[str, str], bytes]:
    """POST with chunked transfer encoding over a real socket, the way libcurl does."""
    where = urlsplit(live_url)
    assert where.hostname == "127.0.0.1" and where.port is not None
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)

    def chunks() -> Iterator[bytes]:
        for offset in range(0, len(body), chunk):
            yield body[offset : offset + chunk]

    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for piece in chunks():
            connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "boundary",
    [
        pytest.param(str(uuid.uuid4()), id="uuid-boundary"),
        pytest.param(f"{uuid.uuid4()}-{uuid.uuid4()}", id="orthanc-1.10-73-char-boundary"),
    ],
)
def test_orthanc_body_chunked_over_socket(
    live_url: str, services: Services, keys: Keys, boundary: str
) -> None:
    parts, trap = _study(boundary)
    body, content_type = orthanc_body(parts, boundary)
    assert not body.startswith(b"\r\n") and b"Content-Length: " in body[:200]
    status, headers, answer = _post_over_socket(
        live_url,
        "/dicomweb/studies",
        body=body,
        headers={
            "Host": urlsplit(live_url).netloc,
            "Accept": "application/dicom+json",
            **auth(keys.upload),
            "Content-Type": content_type,
            "Expect": "",
        },
        chunk=0x99FC,  # the chunk size Orthanc's client was seen to use
    )
    assert status == 200, answer[:500]
    assert headers["content-type"] == "application/dicom+json"
    _check_json_answer(json.loads(answer), count=2, base=live_url)
    _check_stored(services, count=2, trap=trap)


def test_orthanc_resend_is_success_with_every_instance_listed(
    client: TestClient, services: Services, keys: Keys
) -> None:
    """Orthanc fails its job unless 00081199 lists every instance and 00081198 is absent."""
    boundary = str(uuid.uuid4())
    parts, _ = _study(boundary, count=3)
    body, content_type = orthanc_body(parts, boundary)
    headers = {
        **auth(keys.upload),
        "Content-Type": content_type,
        "Accept": "application/dicom+json",
        "Expect": "",
    }
    first = client.post("/dicomweb/studies", content=body, headers=headers)
    again = client.post("/dicomweb/studies", content=body, headers=headers)
    assert first.status_code == again.status_code == 200
    uids = _check_json_answer(again.json(), count=3, base="http://testserver")
    assert uids == _check_json_answer(first.json(), count=3, base="http://testserver")
    assert len(list(services.ledger.rows())) == 3


def test_orthanc_invalid_part_is_400_with_c000(client: TestClient, keys: Keys) -> None:
    boundary = str(uuid.uuid4())
    body, content_type = orthanc_body([b"\r\n\r\n--not DICOM at all--\r\n" * 20], boundary)
    response = client.post(
        "/dicomweb/studies",
        content=body,
        headers={
            **auth(keys.upload),
            "Content-Type": content_type,
            "Accept": "application/dicom+json",
        },
    )
    assert response.status_code == 400
    answer = response.json()
    assert "00081199" not in answer
    failed = answer["00081198"]["Value"]
    assert len(failed) == 1
    assert failed[0]["00081197"] == {"vr": "US", "Value": [FAILURE_CANNOT_UNDERSTAND]}


# -- dcm4che --------------------------------------------------------------------------------


def test_dcm4che_stowrs_body_answers_xml(
    client: TestClient, services: Services, keys: Keys
) -> None:
    boundary = "myboundary"
    parts, trap = _study(boundary)
    body, content_type = dcm4che_body(parts, boundary)
    response = client.post(
        "/dicomweb/studies",
        content=body,
        headers={
            **auth(keys.upload),
            "Content-Type": content_type,
            "Accept": "application/dicom+xml",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/dicom+xml"
    _check_xml_answer(response.content, count=2)
    _check_stored(services, count=2, trap=trap)


def test_dcm4che_to_another_study_is_409_with_0110_in_xml(
    client: TestClient, services: Services, keys: Keys
) -> None:
    boundary = "myboundary"
    parts, _ = _study(boundary)
    body, content_type = dcm4che_body(parts, boundary)
    response = client.post(
        "/dicomweb/studies/1.2.826.0.1.3680043.8.498.99999",
        content=body,
        headers={
            **auth(keys.upload),
            "Content-Type": content_type,
            "Accept": "application/dicom+xml",
        },
    )
    assert response.status_code == 409
    root = ET.fromstring(response.content)  # noqa: S314 - our own service's answer
    top = _xml_attributes(root)
    assert "00081199" not in top
    items = top["00081198"].findall(f"{NATIVE_DICOM}Item")
    assert len(items) == 2
    for item in items:
        attributes = _xml_attributes(item)
        reason = attributes["00081197"].find(f"{NATIVE_DICOM}Value")
        assert reason is not None and reason.text == str(FAILURE_PROCESSING)
        sop = attributes["00081155"].find(f"{NATIVE_DICOM}Value")
        assert sop is not None and sop.text is not None
        assert sop.text.startswith(STUDY_UID), "failures name the sender's own UIDs"
    assert list(services.storage.list("clinic-a/")) == []
    assert list(services.ledger.rows()) == []


def test_mixed_failures_store_nothing_and_answer_409(
    client: TestClient, services: Services, keys: Keys
) -> None:
    """One unreadable part (C000) and one of another study (0110): nothing storable."""
    boundary = "myboundary"
    body, content_type = dcm4che_body(
        [b"not DICOM\r\n\r\n--" * 30, _encode(_dataset("CT_small.dcm", 1))], boundary
    )
    response = client.post(
        "/dicomweb/studies/1.2.826.0.1.3680043.8.498.99999",
        content=body,
        headers={**auth(keys.upload), "Content-Type": content_type},
    )
    assert response.status_code == 409
    reasons = [item["00081197"]["Value"][0] for item in response.json()["00081198"]["Value"]]
    assert sorted(reasons) == [FAILURE_PROCESSING, FAILURE_CANNOT_UNDERSTAND]
    assert list(services.ledger.rows()) == []


# -- OHIF / dcmjs ---------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path: Path, services: Services) -> Iterator[TestClient]:
    """The service with CORS open to one viewer origin."""
    settings = Settings(data_dir=tmp_path / "data", cors_origins=[VIEWER])
    with TestClient(create_app(settings=settings, services=services)) as test_client:
        yield test_client


def test_cors_preflight_for_the_viewer(browser: TestClient) -> None:
    preflight = browser.options(
        "/dicomweb/studies",
        headers={
            "Origin": VIEWER,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == VIEWER
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    refused = browser.options(
        "/dicomweb/studies",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_ohif_dcmjs_one_file_per_request(
    browser: TestClient, services: Services, keys: Keys
) -> None:
    boundary = str(uuid.uuid4())
    parts, trap = _study(boundary, count=3)
    study_urls = set()
    for data in parts:
        body, content_type = dcmjs_body(data, boundary)
        response = browser.post(
            "/dicomweb/studies",
            content=body,
            headers={
                **auth(keys.upload),
                "Content-Type": content_type,
                "Accept": "*/*",
                "Origin": VIEWER,
            },
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == VIEWER
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
        answer = response.json()
        _check_json_answer(answer, count=1, base="http://testserver")
        study_urls.add(answer["00081190"]["Value"][0])
    assert len(study_urls) == 1, "one study, whatever the number of requests"
    _check_stored(services, count=3, trap=trap)

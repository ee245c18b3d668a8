"""STOW-RS with a real client (dicomweb-client) and replayed bodies of other clients."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator

import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from service_helpers import Keys, auth

from app.services import Services

FAKE_NAME = "FAKE^STOW^PATIENT"


def _dataset(name: str, *, study: str | None = None) -> Dataset:
    path = get_testdata_file(name, download=False)
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = FAKE_NAME
    ds.PatientID = "FAKE-STOW-0001"
    if study:
        ds.StudyInstanceUID = study
    return ds


def _bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def _body(parts: list[bytes], boundary: str = "BOUNDARY", *, leading_crlf: bool = True) -> bytes:
    chunks = [b"\r\n"] if leading_crlf else []
    for data in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--".encode())
    return b"".join(chunks)


def test_dicomweb_client_store_instances(live_url: str, services: Services, keys: Keys) -> None:
    client = DICOMwebClient(
        url=f"{live_url}/dicomweb", headers={"Authorization": f"Bearer {keys.upload}"}
    )
    datasets = [_dataset("CT_small.dcm"), _dataset("MR_small.dcm")]
    response = client.store_instances(datasets)
    referenced = response.ReferencedSOPSequence
    assert len(referenced) == 2
    assert "FailedSOPSequence" not in response
    for item in referenced:
        assert item.ReferencedSOPInstanceUID.startswith("2.25.")
        assert item.WarningReason == 0xB000
        assert item.RetrieveURL.startswith(f"{live_url}/dicomweb/studies/2.25.")
    stored = list(services.storage.list("clinic-a/"))
    assert len(stored) == 2
    for info in stored:
        assert FAKE_NAME.encode() not in services.storage.get(info.key)
    # The RetrieveURL resolves for a reader of the same tenant.
    reader = DICOMwebClient(
        url=f"{live_url}/dicomweb", headers={"Authorization": f"Bearer {keys.read}"}
    )
    first = referenced[0]
    study_uid = first.RetrieveURL.split("/studies/")[1].split("/")[0]
    series_uid = first.RetrieveURL.split("/series/")[1].split("/")[0]
    instance = reader.retrieve_instance(study_uid, series_uid, first.ReferencedSOPInstanceUID)
    assert instance.SOPInstanceUID == first.ReferencedSOPInstanceUID
    assert str(instance.PatientName) != FAKE_NAME
    found = reader.search_for_studies(search_filters={"StudyInstanceUID": study_uid})
    assert len(found) == 1


@pytest.mark.parametrize("quoted", [True, False])
def test_quoted_and_unquoted_boundaries(client: TestClient, keys: Keys, quoted: bool) -> None:
    boundary = '"BOUNDARY"' if quoted else "BOUNDARY"
    response = client.post(
        "/dicomweb/studies",
        content=_body([_bytes(_dataset("CT_small.dcm"))]),
        headers={
            **auth(keys.upload),
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/dicom+json")
    body = response.json()
    assert len(body["00081199"]["Value"]) == 1


def test_parts_containing_crlf_and_dashes(
    client: TestClient, services: Services, keys: Keys
) -> None:
    ds = _dataset("CT_small.dcm")
    trap = b"\r\n\r\n--BOUNDARY-\r\n--"
    pixels = bytearray(ds.PixelData)
    pixels[100 : 100 + len(trap)] = trap  # the bytes a naive splitter would cut at
    ds.PixelData = bytes(pixels)
    data = _bytes(ds)
    response = client.post(
        "/dicomweb/studies",
        content=_body([bytes(data), _bytes(_dataset("MR_small.dcm"))]),
        headers={
            **auth(keys.upload),
            "Content-Type": 'multipart/related; type="application/dicom"; boundary=BOUNDARY',
        },
    )
    assert response.status_code == 200, response.text
    keys_stored = [info.key for info in services.storage.list("clinic-a/")]
    assert len(keys_stored) == 2
    assert any(trap in services.storage.get(k) for k in keys_stored)


def test_chunked_transfer_and_expect_header(client: TestClient, keys: Keys) -> None:
    payload = _body([_bytes(_dataset("CT_small.dcm"))])

    def chunks() -> Iterator[bytes]:  # a generator body is sent chunked
        for i in range(0, len(payload), 7000):
            yield payload[i : i + 7000]

    response = client.post(
        "/dicomweb/studies",
        content=chunks(),
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
            "Expect": "100-continue",
        },
    )
    assert response.status_code == 200, response.text


def test_xml_response_when_asked(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/dicomweb/studies",
        content=_body([_bytes(_dataset("CT_small.dcm"))]),
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
            "Accept": "application/dicom+xml",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/dicom+xml")
    assert b"<NativeDicomModel" in response.content
    assert b'tag="00081199"' in response.content


def test_unacceptable_accept_is_406(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/dicomweb/studies",
        content=_body([_bytes(_dataset("CT_small.dcm"))]),
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
            "Accept": "text/html",
        },
    )
    assert response.status_code == 406


def test_wrong_content_type_is_415(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/dicomweb/studies",
        content=_bytes(_dataset("CT_small.dcm")),
        headers={**auth(keys.upload), "Content-Type": "application/dicom"},
    )
    assert response.status_code == 415


def test_invalid_part_only_is_400_with_c000(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/dicomweb/studies",
        content=_body([b"this is not DICOM at all" * 10]),
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
        },
    )
    assert response.status_code == 400
    failed = response.json()["00081198"]["Value"]
    assert failed[0]["00081197"]["Value"] == [0xC000]


def test_mixed_parts_is_202(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/dicomweb/studies",
        content=_body([b"not DICOM" * 40, _bytes(_dataset("CT_small.dcm"))]),
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
        },
    )
    assert response.status_code == 202
    body = response.json()
    assert len(body["00081198"]["Value"]) == 1
    assert len(body["00081199"]["Value"]) == 1


def test_wrong_study_is_409_with_0110(client: TestClient, keys: Keys) -> None:
    ds = _dataset("CT_small.dcm", study="1.2.826.0.1.3680043.8.498.1")
    response = client.post(
        "/dicomweb/studies/1.2.826.0.1.3680043.8.498.999",
        content=_body([_bytes(ds)]),
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
        },
    )
    assert response.status_code == 409
    assert response.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0x0110]


def test_study_in_url_may_be_the_original(client: TestClient, keys: Keys) -> None:
    ds = _dataset("CT_small.dcm", study="1.2.826.0.1.3680043.8.498.1")
    response = client.post(
        "/dicomweb/studies/1.2.826.0.1.3680043.8.498.1",
        content=_body([_bytes(ds)]),
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
        },
    )
    assert response.status_code == 200, response.text


def test_resent_instance_is_success_and_recorded_once(
    client: TestClient, services: Services, keys: Keys
) -> None:
    data = _bytes(_dataset("CT_small.dcm"))
    headers = {
        **auth(keys.upload),
        "Content-Type": "multipart/related; type=application/dicom; boundary=BOUNDARY",
    }
    first = client.post("/dicomweb/studies", content=_body([data]), headers=headers)
    second = client.post("/dicomweb/studies", content=_body([data]), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["00081199"] == second.json()["00081199"]
    assert len(list(services.ledger.rows())) == 1


def test_no_leading_crlf_and_part_content_length(client: TestClient, keys: Keys) -> None:
    data = _bytes(_dataset("CT_small.dcm"))
    body = (
        b"--B\r\nContent-Type: application/dicom\r\nContent-Length: "
        + str(len(data)).encode()
        + b"\r\n\r\n"
        + data
        + b"\r\n--B--\r\n"
    )
    response = client.post(
        "/dicomweb/studies",
        content=body,
        headers={
            **auth(keys.upload),
            "Content-Type": "multipart/related; type=application/dicom; boundary=B",
            "Expect": "",
        },
    )
    assert response.status_code == 200, response.text
    assert json.loads(response.text)["00081199"]["Value"][0]["00081196"]["Value"] == [0xB000]

"""A real Orthanc (with its DICOMweb plugin) pushes a study to the service over STOW-RS.

Orthanc gets two real instances with fake PHI through its REST API, then sends their
study to the service with its own DICOMweb client (``/dicom-web/servers/deid/stow``).
The service must answer so that Orthanc reports success, store only de-identified
bytes, record one ledger row per instance, and answer a re-send as success with no new
rows. Orthanc's DICOMweb client then queries the service (QIDO-RS) and retrieves from it.

Orthanc comes from Debian (``scripts/install-system-deps``). Without it this test is
skipped, except under CI (``CI`` set), where a missing Orthanc is a failure.
"""

from __future__ import annotations

import io
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from service.orthanc_server import (
    OrthancServer,
    find_dicomweb_plugin,
    find_orthanc,
    running_orthanc,
)

from anonymizer.apikeys import Scope
from app.services import Services

pytestmark = pytest.mark.integration

FAKE_NAME = "FAKE^ORTHANC^PATIENT"
FAKE_ID = "FAKE-ORTHANC-0001"
FAKE_ACCESSION = "FAKEACC4242"
FAKE_INSTITUTION = "FAKE ORTHANC GENERAL HOSPITAL"
FAKE_PHYSICIAN = "FAKE^REFERRING^DOCTOR"
STUDY_UID = "1.2.826.0.1.3680043.8.498.77001"
PHI_VALUES = (FAKE_NAME, FAKE_ID, FAKE_ACCESSION, FAKE_INSTITUTION, FAKE_PHYSICIAN, STUDY_UID)


def _require_orthanc() -> None:
    missing = [
        what
        for what, found in (
            ("Orthanc (Debian package orthanc)", find_orthanc()),
            ("the DICOMweb plugin (Debian package orthanc-dicomweb)", find_dicomweb_plugin()),
        )
        if found is None
    ]
    if not missing:
        return
    message = f"{' and '.join(missing)} not installed; run scripts/install-system-deps"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the Orthanc interop test: {message}")
    pytest.skip(message)


def _instance(name: str, number: int) -> tuple[Dataset, bytes]:
    path = get_testdata_file(name, download=False)
    assert path is not None, name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = FAKE_NAME
    ds.PatientID = FAKE_ID
    ds.PatientBirthDate = "19470704"
    ds.AccessionNumber = FAKE_ACCESSION
    ds.InstitutionName = FAKE_INSTITUTION
    ds.ReferringPhysicianName = FAKE_PHYSICIAN
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = f"{STUDY_UID}.{number}"
    ds.SOPInstanceUID = f"{STUDY_UID}.{number}.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out)
    return ds, out.getvalue()


@pytest.fixture
def orthanc(tmp_path: Path, live_url: str, services: Services) -> Iterator[OrthancServer]:
    _require_orthanc()
    token, _ = services.api_keys.create(
        tenant="clinic-a", scopes=frozenset({Scope.UPLOAD, Scope.READ})
    )
    servers = {
        "deid": {
            "Url": f"{live_url}/dicomweb/",
            "HttpHeaders": {"Authorization": f"Bearer {token}"},
        }
    }
    with running_orthanc(tmp_path / "orthanc", dicomweb_servers=servers) as server:
        yield server
        # Captured teardown output is shown only when the test failed: Orthanc's side of it.
        sys.stdout.write(f"--- Orthanc log (tail) ---\n{server.log_tail()}\n")


def _call(server: OrthancServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        response = server.http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise server.fail(f"{method} {path}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise server.fail(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
    return response


def _push_study(server: OrthancServer, study_id: str) -> dict[str, Any]:
    """Orthanc's synchronous STOW-RS job; a failed job is an HTTP error (not 200)."""
    response = _call(
        server,
        "POST",
        "/dicom-web/servers/deid/stow",
        json={"Resources": [study_id], "Synchronous": True},
    )
    answer: dict[str, Any] = response.json()
    return answer


def test_orthanc_pushes_a_study_over_stow_rs(orthanc: OrthancServer, services: Services) -> None:
    sources = [_instance("CT_small.dcm", 1), _instance("MR_small.dcm", 2)]
    study_ids = set()
    for _, data in sources:
        answer = _call(
            orthanc,
            "POST",
            "/instances",
            content=data,
            headers={"Content-Type": "application/dicom"},
        ).json()
        assert answer["Status"] == "Success", answer
        study_ids.add(answer["ParentStudy"])
    assert len(study_ids) == 1, "both instances belong to one Orthanc study"
    study_id = study_ids.pop()

    answer = _push_study(orthanc, study_id)
    assert int(answer["InstancesCount"]) == len(sources), answer

    # Storage holds both instances, de-identified, and nothing of the fake PHI.
    stored = list(services.storage.list("clinic-a/"))
    assert len(stored) == len(sources), orthanc.log_tail()
    for info in stored:
        data = services.storage.get(info.key)
        for value in PHI_VALUES:
            assert value.encode() not in data, f"{value!r} reached storage"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data))
        assert ds.StudyInstanceUID.startswith("2.25.")
        assert ds.PatientIdentityRemoved == "YES"
    stored_studies = {info.key.split("/")[1] for info in stored}
    assert len(stored_studies) == 1, "the two instances still share one (new) study"
    original_sops = {ds.SOPInstanceUID for ds, _ in sources}
    assert not original_sops & {info.key.split("/")[3].removesuffix(".dcm") for info in stored}

    rows = list(services.ledger.rows())
    assert len(rows) == len(sources)
    assert {row.object_key for row in rows} == {info.key for info in stored}
    assert services.ledger.verify_chain().ok

    # A re-send is a success for Orthanc and changes nothing here.
    again = _push_study(orthanc, study_id)
    assert int(again["InstancesCount"]) == len(sources), again
    assert len(list(services.ledger.rows())) == len(sources)
    assert len(list(services.storage.list("clinic-a/"))) == len(sources)
    assert services.ledger.verify_chain().ok

    # Orthanc's DICOMweb client can search (QIDO-RS) and retrieve (WADO-RS) from us.
    new_study = stored_studies.pop()
    found = _call(
        orthanc,
        "POST",
        "/dicom-web/servers/deid/qido",
        json={"Uri": "/studies", "Arguments": {"StudyInstanceUID": new_study}},
    ).json()
    assert len(found) == 1
    # Orthanc hands the answer back in its own format: one "Value" string per tag.
    assert found[0]["0020000D"]["Value"] == new_study
    assert found[0]["00100010"]["Value"] != FAKE_NAME
    assert FAKE_NAME not in str(found)
    series = _call(
        orthanc,
        "POST",
        "/dicom-web/servers/deid/get",
        json={"Uri": f"/studies/{new_study}/series"},
    ).json()
    assert len(series) == len(sources)

"""A data subject's requests end to end: look up, suspend (reads refused), erase, rotate keys.

Fake patients only: FAKE-SUBJ-A has two studies, FAKE-SUBJ-B one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from privacy_helpers import ct, upload, wired_app
from service_helpers import Keys, auth

from anonymizer.ledger.reconcile import audit
from anonymizer.retention import live_objects
from anonymizer.tenant_keys import KeyStatus
from app.services import Services
from app.settings import Settings

PATIENT_A = "FAKE-SUBJ-A"
PATIENT_B = "FAKE-SUBJ-B"
ISSUER = "FAKE-ISSUER"


@pytest.fixture
def app_client(services: Services) -> Iterator[TestClient]:
    with TestClient(wired_app(services)) as test_client:
        yield test_client


def _request(client: TestClient, keys: Keys, kind: str, patient: str) -> dict[str, Any]:
    response = client.post(
        f"/v1/subjects:{kind}",
        json={"patient_id": patient, "issuer": ISSUER},
        headers=auth(keys.admin),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _keys_of(body: dict[str, Any]) -> set[str]:
    return {o["object_key"] for o in body["objects"]}


def test_lookup_suspend_erase_touch_only_that_patient(
    app_client: TestClient, services: Services, keys: Keys, settings: Settings
) -> None:
    client = app_client
    a1 = upload(client, keys.upload, ct(patient_id=PATIENT_A, study="1", sop="11"))
    a2 = upload(client, keys.upload, ct(patient_id=PATIENT_A, study="2", sop="21"))
    b1 = upload(client, keys.upload, ct(patient_id=PATIENT_B, study="3", sop="31"))

    found = _request(client, keys, "lookup", PATIENT_A)
    assert _keys_of(found) == {a1["key"], a2["key"]}
    assert found["generations"] == [1]
    assert found["held"] is False
    # the other patient, and the same ID under another issuer, are someone else
    assert _keys_of(_request(client, keys, "lookup", PATIENT_B)) == {b1["key"]}
    other_issuer = client.post(
        "/v1/subjects:lookup", json={"patient_id": PATIENT_A}, headers=auth(keys.admin)
    )
    assert other_issuer.json()["objects"] == []

    # suspension: reads of A refused, searches skip A, B unaffected
    assert _request(client, keys, "suspend", PATIENT_A)["held"] is True
    study_a = f"/dicomweb/studies/{a1['study_instance_uid']}"
    assert client.get(study_a, headers=auth(keys.read)).status_code == 451
    assert client.get(f"{study_a}/metadata", headers=auth(keys.read)).status_code == 451
    studies = client.get("/dicomweb/studies", headers=auth(keys.read)).json()
    assert [s["0020000D"]["Value"][0] for s in studies] == [b1["study_instance_uid"]]
    study_b = f"/dicomweb/studies/{b1['study_instance_uid']}"
    assert client.get(study_b, headers=auth(keys.read)).status_code == 200

    # release, then suspend again: holds can be lifted
    assert _request(client, keys, "release", PATIENT_A)["held"] is False
    assert client.get(study_a, headers=auth(keys.read)).status_code == 200
    _request(client, keys, "suspend", PATIENT_A)

    # erasure: only A's objects go, held or not; B stays; the ledger says so and verifies
    erased = _request(client, keys, "erase", PATIENT_A)
    assert set(erased["destroyed"]) == {a1["key"], a2["key"]}
    for gone in (a1, a2):
        assert services.storage.head(gone["key"]) is None
    assert services.storage.head(b1["key"]) is not None
    assert client.get(study_a, headers=auth(keys.read)).status_code == 404
    assert client.get(study_b, headers=auth(keys.read)).status_code == 200
    assert _request(client, keys, "lookup", PATIENT_A)["objects"] == []
    destroyed = list(services.ledger.rows(event="destroyed"))
    assert {r.object_key for r in destroyed} == {a1["key"], a2["key"]}
    assert {r.request_id for r in destroyed} == {erased["request_id"]}
    assert all(r.purpose == "data subject's erasure request" for r in destroyed)
    report = audit(services.ledger, services.storage)
    assert report.ok, report
    assert services.privacy.access_log.verify_chain().ok

    # nothing identifying was stored to do all this: not in the database, not in storage
    services.ledger.engine.dispose()
    database = Path(settings.data_dir / "anonymizer.db").read_bytes()
    assert b1["study_instance_uid"].encode() in database  # the check can see what is there
    for raw in (PATIENT_A.encode(), PATIENT_B.encode(), ISSUER.encode(), b"FAKE^SUBJECT"):
        assert raw not in database


def test_requests_are_recorded_without_the_id(
    app_client: TestClient, services: Services, keys: Keys
) -> None:
    upload(app_client, keys.upload, ct(patient_id=PATIENT_A, study="1", sop="11"))
    body = _request(app_client, keys, "lookup", PATIENT_A)
    rows = [r for r in services.privacy.access_log.rows() if r.action == "POST /v1/subjects:lookup"]
    assert len(rows) == 1
    assert rows[0].outcome == "ok"
    assert body["request_id"] in rows[0].target
    assert PATIENT_A not in rows[0].target


def test_requests_need_the_admin_scope(app_client: TestClient, keys: Keys) -> None:
    body = {"patient_id": PATIENT_A, "issuer": ISSUER}
    assert app_client.post("/v1/subjects:erase", json=body).status_code == 401
    denied = app_client.post("/v1/subjects:erase", json=body, headers=auth(keys.read))
    assert denied.status_code == 403


def test_a_tenant_only_reaches_its_own_subjects(app_client: TestClient, keys: Keys) -> None:
    upload(app_client, keys.upload, ct(patient_id=PATIENT_A, study="1", sop="11"))
    response = app_client.post(
        "/v1/subjects:erase",
        json={"patient_id": PATIENT_A, "issuer": ISSUER},
        headers=auth(keys.other_tenant),
    )
    assert response.json()["destroyed"] == []


def test_rotated_keys_old_data_stays_reachable_until_destroyed(
    app_client: TestClient, services: Services, keys: Keys
) -> None:
    old = upload(app_client, keys.upload, ct(patient_id=PATIENT_A, study="1", sop="11"))
    rotated = services.privacy.tenant_keys.rotate("clinic-a")
    assert rotated.generation == 2
    new = upload(app_client, keys.upload, ct(patient_id=PATIENT_A, study="2", sop="21"))
    key_ids = {o.key: o.key_id for o in live_objects(services.ledger, tenant="clinic-a")}
    assert key_ids[new["key"]] == rotated.key_id
    assert key_ids[old["key"]] != rotated.key_id

    found = _request(app_client, keys, "lookup", PATIENT_A)
    assert found["generations"] == [1, 2]
    generations = {o["object_key"]: o["generation"] for o in found["objects"]}
    assert generations == {old["key"]: 1, new["key"]: 2}

    _request(app_client, keys, "erase", PATIENT_A)
    statuses = [g.status for g in services.privacy.tenant_keys.generations("clinic-a")]
    assert statuses == [KeyStatus.DESTROYED, KeyStatus.CURRENT]
    assert _request(app_client, keys, "lookup", PATIENT_A)["generations"] == [2]

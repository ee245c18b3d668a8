"""Every route but health needs a key; scopes and tenants are enforced on every route."""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

import pydicom
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from service_helpers import Keys, auth

PUBLIC = {"/healthz", "/readyz"}
# The API description pages hold no data; they are the only other routes without a key.
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
UID = "2.25.1"


def _flatten(routes: list[Any]) -> list[Any]:
    """Routes of the app and of every included router (FastAPI includes them lazily)."""
    flat = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            flat.extend(_flatten(list(included.routes)))
        else:
            flat.append(route)
    return flat


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every API route the app serves, path parameters filled in."""
    found = []
    for route in _flatten(list(client.app.routes)):  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            assert route.path in DOCS, f"unexpected non-API route {route.path}"
            continue
        path = re.sub(r"\{[^}]+\}", UID, route.path)
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def test_the_app_has_the_routes_we_expect(client: TestClient) -> None:
    paths = {path for _, path in _routes(client)}
    assert {"/v1/uploads", "/dicomweb/studies", "/v1/ledger", "/metrics"} <= paths
    assert len(paths) >= 12


def test_every_route_but_health_refuses_requests_without_a_key(client: TestClient) -> None:
    for method, path in _routes(client):
        response = client.request(method, path)
        if path in PUBLIC:
            assert response.status_code in (200, 503), (method, path)
        else:
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["detail"]["reason"] == "unauthenticated"
            assert response.headers["www-authenticate"] == "Bearer"


def test_every_route_refuses_a_forged_key(client: TestClient) -> None:
    forged = "ak_0123456789abcdef_" + "x" * 43
    for method, path in _routes(client):
        if path in PUBLIC:
            continue
        response = client.request(method, path, headers=auth(forged))
        assert response.status_code == 401, (method, path)


def test_scopes_are_enforced(client: TestClient, keys: Keys) -> None:
    for method, path in _routes(client):
        if path in PUBLIC:
            continue
        admin_only = path in ("/v1/ledger", "/metrics") or path.startswith("/v1/subjects")
        needs = "admin" if admin_only else "upload" if method == "POST" else "read"
        for scope in ("upload", "read"):
            token = getattr(keys, scope)
            status = client.request(method, path, headers=auth(token)).status_code
            if scope == needs:
                assert status != 403, (method, path, scope)
            else:
                assert status == 403, (method, path, scope, status)


def test_revoked_key_is_refused(client: TestClient, services: object, keys: Keys) -> None:
    key_id = keys.read.split("_")[1]
    assert services.api_keys.revoke(key_id)  # type: ignore[attr-defined]
    response = client.get("/dicomweb/studies", headers=auth(keys.read))
    assert response.status_code == 401


def _upload(client: TestClient, token: str) -> dict[str, str]:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    ds.PatientName = "FAKE^TENANT^PATIENT"
    out = io.BytesIO()
    ds.save_as(out)
    response = client.post(
        "/v1/uploads",
        files=[("files", ("ct.dcm", out.getvalue(), "application/dicom"))],
        headers=auth(token),
    )
    assert response.status_code == 201
    return dict(response.json()["files"][0])


def test_a_tenant_never_sees_another_tenants_objects(client: TestClient, keys: Keys) -> None:
    stored = _upload(client, keys.upload)
    study, series, sop = (
        stored["study_instance_uid"],
        stored["series_instance_uid"],
        stored["sop_instance_uid"],
    )
    own = client.get("/dicomweb/studies", headers=auth(keys.read))
    assert [s["0020000D"]["Value"][0] for s in own.json()] == [study]
    other = auth(keys.other_tenant)
    assert client.get("/dicomweb/studies", headers=other).json() == []
    assert client.get(f"/dicomweb/studies/{study}", headers=other).status_code == 404
    path = f"/dicomweb/studies/{study}/series/{series}/instances/{sop}"
    assert client.get(path, headers=other).status_code == 404
    assert client.get(path, headers=auth(keys.read)).status_code == 200
    assert client.get(f"/dicomweb/studies/{study}/metadata", headers=other).status_code == 404
    assert client.get("/v1/ledger", headers=other).json() == []
    own_ledger = client.get("/v1/ledger", headers=auth(keys.admin)).json()
    assert [row["object_key"] for row in own_ledger] == [stored["key"]]


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_both_key_headers_work(client: TestClient, keys: Keys, header: str) -> None:
    value = f"Bearer {keys.read}" if header == "Authorization" else keys.read
    assert client.get("/dicomweb/studies", headers={header: value}).status_code == 200

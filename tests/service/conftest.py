"""The service under test: real settings, a temporary data directory, keys for two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from servers import postgres_url, s3_bucket, s3_server
from service_helpers import Keys

from anonymizer.apikeys import Scope
from app.main import create_app
from app.services import Services, build_services
from app.settings import Settings

__all__ = ["postgres_url", "s3_bucket", "s3_server"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_request_bytes=64 << 20)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture
def keys(services: Services) -> Keys:
    make = services.api_keys.create
    upload, _ = make(tenant="clinic-a", scopes=frozenset({Scope.UPLOAD}))
    read, _ = make(tenant="clinic-a", scopes=frozenset({Scope.READ}))
    admin, _ = make(tenant="clinic-a", scopes=frozenset({Scope.ADMIN}))
    other, _ = make(tenant="clinic-b", scopes=frozenset({Scope.UPLOAD, Scope.READ, Scope.ADMIN}))
    reader, _ = make(tenant="clinic-a", scopes=frozenset({Scope.READ}))
    return Keys(upload=upload, read=read, admin=admin, other_tenant=other, reader_only=reader)


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@pytest.fixture
def live_url(services: Services) -> Iterator[str]:
    """The service on a loopback port (uvicorn in a thread), for real HTTP clients."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(services=services), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)

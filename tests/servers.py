"""Real servers on loopback for the tests: an S3-compatible server (moto) and PostgreSQL.

Fixtures here are imported by the conftest.py of each test folder that needs them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

POSTGRES_URL = os.environ.get(
    "ANONYMIZER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class S3Server:
    """moto's S3 server on a loopback port; can be stopped and started again on that port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._factory = ThreadedMotoServer
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        """Start again on the same port. moto keeps its state in the process."""
        self.server = self._factory(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    pytest.importorskip("moto.server")
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    import boto3

    name = f"deid-{secrets.token_hex(6)}"
    client: Any = boto3.client(
        "s3",
        endpoint_url=s3_server.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return name


def _postgres_reachable(url: str) -> bool:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return True


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    pytest.importorskip("psycopg")
    if not _postgres_reachable(POSTGRES_URL):
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {POSTGRES_URL}")
        pytest.skip(f"no PostgreSQL server reachable at {POSTGRES_URL} (set CI=true to require it)")
    from sqlalchemy import create_engine, text

    schema = f"ledger_test_{secrets.token_hex(4)}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()

"""Integration tests run against real servers on loopback (see tests/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import postgres_url, s3_bucket, s3_server

from anonymizer.ledger import Ledger

__all__ = ["ledger", "postgres_url", "s3_bucket", "s3_server"]


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """The ledger on SQLite and on the real PostgreSQL server (a fresh schema)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with Ledger(url) as opened:
        yield opened

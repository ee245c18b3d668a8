"""The service database (SQLite by default, PostgreSQL in production) and its migrations.

One database holds the transfer ledger, the API keys and the catalogue of stored
instances; its schema is managed by Alembic (``anonymizer/migrations``), run
programmatically so no ``alembic.ini`` is needed.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.orm import Session

_SCRIPTS = Path(__file__).parent / "migrations"
_Row = TypeVar("_Row")


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite transactions take the write lock up front."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            # Write-ahead log: readers never wait for the writer, commits cost one fsync.
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def stream_rows(engine: Engine, query: Select[_Row]) -> Generator[_Row, None, None]:
    """Yield the ORM rows of ``query`` in batches, detached, closing the cursor however the
    caller stops (PostgreSQL streams them with a server-side cursor)."""
    with Session(engine) as session:
        result = session.execute(query.execution_options(yield_per=500))
        try:
            for row in result.scalars():
                session.expunge(row)
                yield row
        finally:
            result.close()


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

"""Append to, read and verify the transfer ledger (SQLite by default, PostgreSQL in production).

Appends are serialised: SQLite transactions start with ``BEGIN IMMEDIATE`` and PostgreSQL
ones take a transaction-scoped advisory lock, so two writers can never chain onto the same
previous row, whatever the number of service replicas.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from anonymizer.database import create_database_engine, stream_rows, upgrade_database
from anonymizer.errors import LedgerError
from anonymizer.ledger.chain import CHAINED_FIELDS, GENESIS, ChainReport, row_hash, verify_rows
from anonymizer.models import TransferRow

_PG_LOCK_KEY = 7_305_001  # any constant: one advisory lock for the ledger's chain
STORED = "stored"


@dataclass(frozen=True)
class TransferRecord:
    """What the caller knows about one transfer; the ledger adds seq, time and hashes."""

    tenant: str
    object_key: str
    size: int
    sha256: str
    items: tuple[str, ...]
    destination_country: str
    destination_region: str
    recipient: str
    recipient_contact: str
    method: str
    purpose: str
    retention: str
    request_id: str
    profile: str
    key_id: str
    event: str = STORED


class Ledger:
    """The transfer ledger behind a SQLAlchemy URL.

    Parameters
    ----------
    url
        ``sqlite:///path/ledger.db`` (the embedded default) or
        ``postgresql+psycopg://user@host/db``.
    """

    def __init__(self, url: str, *, engine: Engine | None = None, migrate: bool = True) -> None:
        self.url = url
        self.engine = engine or create_database_engine(url)
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        upgrade_database(self.engine)

    def append(self, record: TransferRecord, *, now: dt.datetime | None = None) -> int | None:
        """Append one row and return its seq, or None if this exact object is recorded.

        A re-upload of the same bytes under the same key is idempotent: it gets no
        second row.
        """
        return self.append_many([record], now=now)[0]

    def append_many(
        self,
        records: Sequence[TransferRecord],
        *,
        now: dt.datetime | None = None,
        also: Callable[[Connection], object] | None = None,
    ) -> list[int | None]:
        """Append rows in one transaction; each record's seq, or None where that exact
        object is already recorded (by an earlier transaction or earlier in ``records``).

        ``also`` runs in the same transaction, so the rows and what the caller writes
        beside them (the catalogue entries) commit together or not at all.
        """
        moment = _iso(now or dt.datetime.now(dt.UTC))
        seqs: list[int | None] = []
        try:
            with self.engine.begin() as conn:
                self._lock(conn)
                last = conn.execute(_LAST_ROW).first()
                seq, prev = (last[0], last[1]) if last else (0, GENESIS)
                stored = _stored_already(conn, records)
                rows = []
                for record in records:
                    identity = (record.tenant, record.object_key, record.sha256)
                    if record.event == STORED and identity in stored:
                        seqs.append(None)
                        continue
                    seq += 1
                    fields = _fields(record, seq=seq, recorded_at=moment)
                    fields["prev_hash"] = prev
                    prev = fields["row_hash"] = row_hash(fields, prev)
                    rows.append(fields)
                    seqs.append(seq)
                    if record.event == STORED:
                        stored.add(identity)
                    else:
                        stored.discard(identity)
                if rows:
                    conn.execute(_INSERT, rows)
                if also is not None:
                    also(conn)
        except OperationalError as exc:
            raise LedgerError(f"ledger database unavailable ({type(exc).__name__})") from None
        except SQLAlchemyError as exc:
            raise LedgerError(f"ledger write failed ({type(exc).__name__})") from None
        return seqs

    def _lock(self, conn: Connection) -> None:
        if self.engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})

    def rows(
        self,
        *,
        tenant: str | None = None,
        since: dt.datetime | None = None,
        event: str | None = None,
    ) -> Generator[TransferRow, None, None]:
        """Rows in chain order, optionally for one tenant, from a time, of one event type."""
        query = select(TransferRow).order_by(TransferRow.seq)
        if tenant is not None:
            query = query.where(TransferRow.tenant == tenant)
        if since is not None:
            query = query.where(TransferRow.recorded_at >= _iso(since))
        if event is not None:
            query = query.where(TransferRow.event == event)
        yield from stream_rows(self.engine, query)

    def verify_chain(self) -> ChainReport:
        """Recompute every hash in order: an edited, removed or inserted row breaks it."""
        with closing(self.rows()) as rows:
            return verify_rows(rows)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise LedgerError(f"ledger database unavailable ({type(exc).__name__})") from None


_COLUMNS = CHAINED_FIELDS
_INSERT = insert(TransferRow)
_LAST_ROW = select(TransferRow.seq, TransferRow.row_hash).order_by(TransferRow.seq.desc()).limit(1)


def _stored_already(
    conn: Connection, records: Sequence[TransferRecord]
) -> set[tuple[str, str, str]]:
    """(tenant, key, sha256) of the records' objects whose latest row says stored: one
    query for the whole batch, by object key (indexed)."""
    keys = sorted({r.object_key for r in records if r.event == STORED})
    if not keys:
        return set()
    latest: dict[tuple[str, str, str], str] = {}
    for start in range(0, len(keys), 500):
        found = conn.execute(
            select(
                TransferRow.tenant, TransferRow.object_key, TransferRow.sha256, TransferRow.event
            )
            .where(TransferRow.object_key.in_(keys[start : start + 500]))
            .order_by(TransferRow.seq)
        )
        for tenant, key, sha256, event in found:
            latest[(tenant, key, sha256)] = event  # in seq order: the last one wins
    return {identity for identity, event in latest.items() if event == STORED}


def _fields(record: TransferRecord, *, seq: int, recorded_at: str) -> dict[str, Any]:
    fields: dict[str, Any] = {name: getattr(record, name) for name in _RECORD_FIELDS}
    fields["items"] = json.dumps(list(record.items), ensure_ascii=False)
    fields["seq"] = seq
    fields["recorded_at"] = recorded_at
    return fields


_RECORD_FIELDS = tuple(f.name for f in dataclass_fields(TransferRecord))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_as_dict(row: TransferRow) -> dict[str, Any]:
    """A row as plain data for export, with ``items`` decoded."""
    data = {name: getattr(row, name) for name in (*_COLUMNS, "prev_hash", "row_hash")}
    data["items"] = json.loads(data["items"])
    return data


__all__: Sequence[str] = ["ChainReport", "Ledger", "TransferRecord", "row_as_dict"]

"""The catalogue of stored instances, by de-identified UIDs, per tenant.

It answers QIDO-RS searches and tells WADO-RS where an instance lies. It holds only what
the stored (de-identified) objects hold.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anonymizer.models import InstanceRow


@dataclass(frozen=True)
class CatalogEntry:
    """What the catalogue records for one instance."""

    tenant: str
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    modality: str
    study_date: str
    patient_id: str
    object_key: str
    size: int
    sha256: str
    attributes: Mapping[str, Any]


_FILTERS = {
    "StudyInstanceUID": "study_uid",
    "SeriesInstanceUID": "series_uid",
    "SOPInstanceUID": "sop_uid",
    "SOPClassUID": "sop_class_uid",
    "Modality": "modality",
    "StudyDate": "study_date",
    "PatientID": "patient_id",
}


class Catalog:
    """Add and find stored instances."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, entry: CatalogEntry) -> bool:
        """Record an instance; False if this tenant already has that SOP Instance UID."""
        with self.engine.begin() as conn:
            return add_entries(conn, [entry]) == 1

    def find(
        self,
        *,
        tenant: str,
        filters: Mapping[str, str] | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[InstanceRow]:
        """Instances of ``tenant`` matching exact-value ``filters`` (keywords of _FILTERS)."""
        query = select(InstanceRow).where(InstanceRow.tenant == tenant)
        for keyword, value in (filters or {}).items():
            column = _FILTERS.get(keyword)
            if column is None:
                raise KeyError(keyword)
            query = query.where(getattr(InstanceRow, column) == value)
        query = query.order_by(InstanceRow.id).limit(limit).offset(offset)
        with Session(self.engine) as session:
            rows = list(session.execute(query).scalars())
            for row in rows:
                session.expunge(row)
            return rows


def add_entries(conn: Connection, entries: Sequence[CatalogEntry]) -> int:
    """Record instances inside the caller's transaction, in one statement; duplicates of
    what the tenant has are skipped by the database (``ON CONFLICT DO NOTHING``), so they
    never abort the transaction they share (the ledger rows'). Returns how many were new
    where the database says (SQLite and PostgreSQL do for one entry; for several, -1 may
    mean unknown)."""
    if not entries:
        return 0
    stored_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rows = [_values(entry, stored_at) for entry in entries]
    dialect = conn.dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite_insert(InstanceRow).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql_insert(InstanceRow).on_conflict_do_nothing()
    else:  # no portable ON CONFLICT: a savepoint per entry keeps the transaction alive
        added = 0
        for row in rows:
            try:
                with conn.begin_nested():
                    conn.execute(insert(InstanceRow), row)
            except IntegrityError:
                continue
            added += 1
        return added
    return int(conn.execute(statement, rows if len(rows) > 1 else rows[0]).rowcount)


def _values(entry: CatalogEntry, stored_at: str) -> dict[str, Any]:
    return {
        "tenant": entry.tenant,
        "study_uid": entry.study_uid,
        "series_uid": entry.series_uid,
        "sop_uid": entry.sop_uid,
        "sop_class_uid": entry.sop_class_uid,
        "modality": entry.modality,
        "study_date": entry.study_date,
        "patient_id": entry.patient_id,
        "object_key": entry.object_key,
        "size": entry.size,
        "sha256": entry.sha256,
        "stored_at": stored_at,
        "attributes": json.dumps(dict(entry.attributes), sort_keys=True),
    }


def searchable_keywords() -> frozenset[str]:
    """The attributes QIDO-RS can match on."""
    return frozenset(_FILTERS)

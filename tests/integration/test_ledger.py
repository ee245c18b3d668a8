"""The transfer ledger on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from anonymizer.ledger import Ledger, TransferRecord, row_as_dict

pytestmark = pytest.mark.integration

RECORD = TransferRecord(
    tenant="clinic-a",
    object_key="clinic-a/2.25.1/2.25.2/2.25.3.dcm",
    size=1234,
    sha256="ab" * 32,
    items=("medical images", "sex", "age"),
    destination_country="NL",
    destination_region="eu-west-1",
    recipient="Example Cloud B.V.",
    recipient_contact="privacy@example.invalid",
    method="HTTPS PUT to object storage",
    purpose="AI analysis of uploaded images",
    retention="until the end of the service agreement",
    request_id="req-0001",
    profile="ai-upload",
    key_id="k-0123456789abcdef",
)


def _record(i: int) -> TransferRecord:
    return dataclasses.replace(RECORD, object_key=f"clinic-a/2.25.1/2.25.2/2.25.{i}.dcm")


def test_rows_are_chained_and_verify(ledger: Ledger) -> None:
    seqs = [ledger.append(_record(i)) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    report = ledger.verify_chain()
    assert report.ok
    assert report.rows == 5
    rows = list(ledger.rows())
    assert rows[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    exported = row_as_dict(rows[0])
    assert exported["items"] == ["medical images", "sex", "age"]
    assert exported["destination_country"] == "NL"


def test_same_object_twice_gets_one_row(ledger: Ledger) -> None:
    assert ledger.append(RECORD) == 1
    assert ledger.append(RECORD) is None
    assert ledger.append(dataclasses.replace(RECORD, sha256="cd" * 32)) == 2


def test_edit_in_database_breaks_the_chain(ledger: Ledger) -> None:
    for i in range(3):
        ledger.append(_record(i))
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE transfers SET destination_country = 'KR' WHERE seq = 2"))
    report = ledger.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == 2
    assert report.problem == "row content does not match its hash"


def test_deleted_row_breaks_the_chain(ledger: Ledger) -> None:
    for i in range(3):
        ledger.append(_record(i))
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM transfers WHERE seq = 2"))
    report = ledger.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == 3


def test_rehashed_edit_still_breaks_the_link(ledger: Ledger) -> None:
    """Someone who edits a row and recomputes its hash breaks the next row's link."""
    from anonymizer.ledger.chain import row_hash

    for i in range(3):
        ledger.append(_record(i))
    row = next(r for r in ledger.rows() if r.seq == 2)
    fields = {k: v for k, v in row_as_dict(row).items() if k not in ("prev_hash", "row_hash")}
    fields["items"] = '["medical images"]'
    forged = row_hash(fields, row.prev_hash)
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE transfers SET items = :i, row_hash = :h WHERE seq = 2"),
            {"i": fields["items"], "h": forged},
        )
    report = ledger.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == 3


def test_concurrent_appends_chain_without_duplicates(ledger: Ledger) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        seqs = list(pool.map(lambda i: ledger.append(_record(i)), range(50)))
    assert sorted(s for s in seqs if s is not None) == list(range(1, 51))
    assert ledger.verify_chain().ok
    keys = [r.object_key for r in ledger.rows()]
    assert len(keys) == len(set(keys)) == 50


def test_filters_by_tenant_and_time(ledger: Ledger) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ledger.append(_record(1), now=t0)
    ledger.append(dataclasses.replace(_record(2), tenant="clinic-b"), now=t0 + dt.timedelta(days=2))
    ledger.append(_record(3), now=t0 + dt.timedelta(days=3))
    assert [r.seq for r in ledger.rows(tenant="clinic-a")] == [1, 3]
    assert [r.seq for r in ledger.rows(since=t0 + dt.timedelta(days=1))] == [2, 3]


def test_migrations_are_idempotent(ledger: Ledger) -> None:
    ledger.append(RECORD)
    ledger.migrate()
    with Ledger(ledger.url) as again:
        assert again.verify_chain().rows == 1

"""Write order under faults: the S3 server stopped mid-batch, the ledger down after a put."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from anonymizer.errors import LedgerError, StorageUnavailable
from anonymizer.ledger import Ledger
from anonymizer.ledger.reconcile import audit, reconcile
from anonymizer.storage import Destination, LocalStorage
from anonymizer.storage.s3 import S3Config, S3Storage
from anonymizer.transfer import TransferTerms, store_and_record

pytestmark = pytest.mark.integration

TERMS = TransferTerms(
    items=("medical images",), purpose="AI analysis", retention="1 year after upload"
)
NL = Destination(
    country="NL",
    region="eu-west-1",
    recipient="Example Cloud B.V.",
    recipient_contact="privacy@example.invalid",
    method="HTTPS PUT to object storage",
)


def _store(storage: object, ledger: Ledger, i: int) -> object:
    data = f"object {i}".encode() * 100
    return store_and_record(
        storage=storage,  # type: ignore[arg-type]
        ledger=ledger,
        key=f"clinic-a/2.25.9/2.25.{i}.dcm",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        tenant="clinic-a",
        terms=TERMS,
        request_id=f"req-{i}",
        profile="basic",
        key_id="k-test",
    )


def test_s3_stopped_mid_batch_leaves_no_mismatch(
    s3_server: object, s3_bucket: str, tmp_path: Path
) -> None:
    server = s3_server
    storage = S3Storage(
        S3Config(
            bucket=s3_bucket,
            region="eu-west-1",
            destination=NL,
            endpoint_url=server.url,  # type: ignore[attr-defined]
            access_key_id="test",
            secret_access_key="test",
            connect_timeout=0.5,
            read_timeout=2,
            max_attempts=1,
        )
    )
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    outcomes: list[str] = []
    for i in range(20):
        if i == 8:
            server.stop()  # type: ignore[attr-defined]
        if i == 14:
            server.restart()  # type: ignore[attr-defined]
        try:
            _store(storage, ledger, i)
            outcomes.append("stored")
        except StorageUnavailable:
            outcomes.append("unavailable")
    assert outcomes.count("unavailable") == 6
    assert outcomes.count("stored") == 14
    report = audit(ledger, storage)
    assert report.ok, report
    assert report.mismatches == 0
    assert report.rows_checked == 14
    # The failed ones are retried after the outage: stored once, recorded once.
    for i in range(8, 14):
        _store(storage, ledger, i)
    final = audit(ledger, storage)
    assert final.ok
    assert final.rows_checked == 20


def test_ledger_down_after_put_leaves_an_orphan_that_reconcile_removes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    _store(storage, ledger, 1)
    broken = Ledger(f"sqlite:///{tmp_path / 'missing-dir' / 'ledger.db'}", migrate=False)
    with pytest.raises(LedgerError):
        _store(storage, broken, 2)
    report = audit(ledger, storage)
    assert report.orphan_objects == ["clinic-a/2.25.9/2.25.2.dcm"]
    assert report.missing_objects == []
    repaired = reconcile(ledger, storage)
    assert repaired.ok
    assert storage.head("clinic-a/2.25.9/2.25.2.dcm") is None
    assert storage.head("clinic-a/2.25.9/2.25.1.dcm") is not None


def test_retry_after_ledger_failure_records_once(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    broken = Ledger(f"sqlite:///{tmp_path / 'missing-dir' / 'ledger.db'}", migrate=False)
    with pytest.raises(LedgerError):
        _store(storage, broken, 3)
    first = _store(storage, ledger, 3)
    second = _store(storage, ledger, 3)
    assert not first.created  # type: ignore[attr-defined]
    assert first.ledger_seq == 1  # type: ignore[attr-defined]
    assert second.ledger_seq is None  # type: ignore[attr-defined]
    assert audit(ledger, storage).ok


def test_object_removed_behind_the_ledgers_back_is_reported(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    _store(storage, ledger, 1)
    _store(storage, ledger, 2)
    (tmp_path / "objects" / "clinic-a" / "2.25.9" / "2.25.2.dcm").unlink()
    (tmp_path / "objects" / "clinic-a" / "2.25.9" / "2.25.1.dcm").write_bytes(b"tampered")
    report = audit(ledger, storage)
    assert report.missing_objects == ["clinic-a/2.25.9/2.25.2.dcm"]
    assert report.checksum_mismatches == ["clinic-a/2.25.9/2.25.1.dcm"]
    assert not report.ok

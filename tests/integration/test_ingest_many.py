"""One STOW-RS request's instances: put one by one, then recorded in one transaction.

Real pydicom files, local storage, the SQLite and PostgreSQL ledgers; faults are real ones
(a storage that goes away mid-request, a catalogue table that is gone).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import pydicom_file
from sqlalchemy import select, text

from anonymizer.catalog import Catalog
from anonymizer.errors import LedgerError, NotDicom, StorageUnavailable
from anonymizer.intake import Ingested, Intake
from anonymizer.keys import PseudonymKey
from anonymizer.ledger import Ledger
from anonymizer.ledger.reconcile import audit
from anonymizer.models import InstanceRow, TransferRow
from anonymizer.storage import LocalStorage
from anonymizer.storage.base import PutResult
from anonymizer.transfer import TransferTerms

pytestmark = pytest.mark.integration

FILES = ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "SC_rgb.dcm")
TERMS = TransferTerms(items=("medical images",), purpose="AI analysis", retention="1 year")


class GoesAway(LocalStorage):
    """Local storage whose puts fail as unavailable from the ``fail_from``-th on."""

    def __init__(self, root: Path, *, fail_from: int) -> None:
        super().__init__(root)
        self.fail_from = fail_from
        self.puts = 0

    def put(self, key: str, data: bytes | Path, *, sha256: str) -> PutResult:
        self.puts += 1
        if self.puts >= self.fail_from:
            raise StorageUnavailable("storage unreachable (test)")
        return super().put(key, data, sha256=sha256)


def _intake(ledger: Ledger, storage: LocalStorage, tmp_path: Path) -> Intake:
    return Intake(
        master_key=PseudonymKey.generate(),
        storage=storage,
        ledger=ledger,
        catalog=Catalog(ledger.engine),
        terms=TERMS,
        spool_dir=tmp_path / "spool",
    )


def _sources() -> list[Path | bytes]:
    return [Path(pydicom_file(name)) for name in FILES]


def _count(ledger: Ledger, table: type[TransferRow] | type[InstanceRow]) -> int:
    with ledger.engine.connect() as conn:
        return len(conn.execute(select(table)).all())


def test_a_request_is_recorded_as_one_chained_batch(ledger: Ledger, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects")
    intake = _intake(ledger, storage, tmp_path)
    sources = _sources()
    sources.insert(2, b"not a dicom file at all")
    outcomes = intake.ingest_many(sources, tenant="clinic-a", profile="basic", request_id="r1")

    assert isinstance(outcomes[2], NotDicom)
    stored = [o for o in outcomes if isinstance(o, Ingested)]
    assert len(stored) == len(FILES)
    assert [o.ledger_seq for o in stored] == [1, 2, 3, 4]
    assert all(storage.head(o.key) is not None for o in stored)
    assert ledger.verify_chain().ok
    assert _count(ledger, InstanceRow) == len(FILES)
    report = audit(ledger, storage)
    assert report.ok and report.mismatches == 0, report

    # The same request again: idempotent, no new rows, no new catalogue entries.
    again = intake.ingest_many(sources, tenant="clinic-a", profile="basic", request_id="r2")
    assert [o.ledger_seq for o in again if isinstance(o, Ingested)] == [None] * len(FILES)
    assert _count(ledger, TransferRow) == len(FILES)
    assert _count(ledger, InstanceRow) == len(FILES)


def test_the_same_instance_twice_in_one_request_gets_one_row(
    ledger: Ledger, tmp_path: Path
) -> None:
    intake = _intake(ledger, LocalStorage(tmp_path / "objects"), tmp_path)
    source = Path(pydicom_file("CT_small.dcm"))
    first, second = intake.ingest_many(
        [source, source], tenant="clinic-a", profile="basic", request_id="r1"
    )
    assert isinstance(first, Ingested) and isinstance(second, Ingested)
    assert (first.ledger_seq, second.ledger_seq) == (1, None)
    assert _count(ledger, TransferRow) == 1
    assert ledger.verify_chain().ok


def test_storage_gone_mid_request_records_what_was_put(ledger: Ledger, tmp_path: Path) -> None:
    storage = GoesAway(tmp_path / "objects", fail_from=3)
    intake = _intake(ledger, storage, tmp_path)
    outcomes = intake.ingest_many(_sources(), tenant="clinic-a", profile="basic", request_id="r")

    assert [type(o).__name__ for o in outcomes] == [
        "Ingested",
        "Ingested",
        "StorageUnavailable",
        "StorageUnavailable",
    ]
    assert storage.puts == 3  # the fourth was not tried once storage was gone
    assert _count(ledger, TransferRow) == 2
    assert _count(ledger, InstanceRow) == 2
    report = audit(ledger, storage)
    assert report.ok and report.mismatches == 0, report
    assert list((tmp_path / "spool").iterdir()) == []


def test_ledger_failure_records_nothing_of_the_request(ledger: Ledger, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects")
    intake = _intake(ledger, storage, tmp_path)
    with ledger.engine.begin() as conn:  # the catalogue insert, inside the ledger's
        conn.execute(text("DROP TABLE instances"))  # transaction, now fails
    outcomes = intake.ingest_many(_sources(), tenant="clinic-a", profile="basic", request_id="r")

    assert all(isinstance(o, LedgerError) for o in outcomes)
    assert "instances" not in str(outcomes[0])  # the reason, not the database's message
    assert _count(ledger, TransferRow) == 0  # the rows rolled back with the entries
    report = audit(ledger, storage)
    assert len(report.orphan_objects) == len(FILES)  # put, unrecorded: reconcile's work
    assert not report.missing_objects

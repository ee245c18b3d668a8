"""Store one de-identified object and record its transfer, in the order that keeps both true.

1. ``storage.put`` (checksummed, never overwriting). If storage is down, nothing is
   recorded and :class:`~anonymizer.errors.StorageUnavailable` propagates.
2. ``ledger.append``. If the ledger is down, the object is an orphan: the caller reports a
   failure, the client retries (the put is idempotent and the row is then written), and
   :func:`anonymizer.ledger.reconcile.reconcile` removes orphans nobody retried.

So a committed row always has its object; an object without a row exists only between the
two steps or after a crash, until reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anonymizer.ledger.repository import Ledger, TransferRecord
from anonymizer.storage.base import Storage


@dataclass(frozen=True)
class TransferTerms:
    """What the controller declares for every transfer (PIPA Art. 28-8(2))."""

    items: tuple[str, ...]
    purpose: str
    retention: str


@dataclass(frozen=True)
class StoredObject:
    """The outcome: key, size, checksum, whether bytes were new, and the ledger seq."""

    key: str
    size: int
    sha256: str
    created: bool
    ledger_seq: int | None


def store_and_record(
    *,
    storage: Storage,
    ledger: Ledger,
    key: str,
    data: bytes | Path,
    sha256: str,
    tenant: str,
    terms: TransferTerms,
    request_id: str,
    profile: str,
    key_id: str,
) -> StoredObject:
    """Put ``data`` under ``key``, then append its ledger row."""
    put = storage.put(key, data, sha256=sha256)
    record = transfer_record(
        storage,
        key=key,
        size=put.info.size,
        sha256=sha256,
        tenant=tenant,
        terms=terms,
        request_id=request_id,
        profile=profile,
        key_id=key_id,
    )
    seq = ledger.append(record)
    return StoredObject(
        key=key, size=put.info.size, sha256=sha256, created=put.created, ledger_seq=seq
    )


def transfer_record(
    storage: Storage,
    *,
    key: str,
    size: int,
    sha256: str,
    tenant: str,
    terms: TransferTerms,
    request_id: str,
    profile: str,
    key_id: str,
) -> TransferRecord:
    """The ledger row of one object put to ``storage`` (its destination facts included)."""
    destination = storage.destination
    return TransferRecord(
        tenant=tenant,
        object_key=key,
        size=size,
        sha256=sha256,
        items=terms.items,
        destination_country=destination.country,
        destination_region=destination.region,
        recipient=destination.recipient,
        recipient_contact=destination.recipient_contact,
        method=destination.method,
        purpose=terms.purpose,
        retention=terms.retention,
        request_id=request_id,
        profile=profile,
        key_id=key_id,
    )

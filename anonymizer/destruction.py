"""Destroy stored objects beyond recovery, and record each destruction in the ledger.

Order, so that a crash at any step is finished by running again:

1. the storage backend destroys the object (S3: every version and delete marker; local:
   overwritten, then unlinked) and is asked again to prove it is gone;
2. a ``destroyed`` ledger row is appended: object key, size, checksum, key id, the reason
   and the approval or request id, nothing identifying;
3. the catalogue rows go (and whatever ``cleanups`` the caller added).

Until step 2 the object's latest ledger row still says ``stored``, so the next run selects
it again (a missing object counts as destroyed); after step 2 ``ledger verify`` stops
expecting it. A row is written only once storage confirms the object is gone, so the
ledger never claims a destruction that did not happen. A catalogue row left by a crash
before step 3 points at nothing (WADO-RS answers 404) and is dropped by the next subject
request that finds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from anonymizer.access_log import iso
from anonymizer.errors import ObjectNotFound, StorageError
from anonymizer.ledger import Ledger, TransferRecord
from anonymizer.models import InstanceRow
from anonymizer.retention import LiveObject
from anonymizer.retention_models import ApprovalRow
from anonymizer.storage.base import Storage

DESTROYED = "destroyed"
_METHODS = {
    "S3Storage": "destroyed: every version and delete marker deleted",
    "LocalStorage": "destroyed: overwritten with zeros, then unlinked",
}


class DestructionReason(StrEnum):
    """Why an object was destroyed (recorded in the ledger row's purpose)."""

    RETENTION = "retention period ended"
    ERASURE = "data subject's erasure request"


@dataclass(frozen=True)
class Approval:
    """Who approved a destruction, when, under which policy (or request)."""

    approval_id: str
    tenant: str
    reason: DestructionReason
    approved_by: str
    approved_at: dt.datetime
    policy: str


def new_id(prefix: str) -> str:
    """A random id for a run or request: ``<prefix>_<16 hex>``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def record_approval(engine: Engine, approval: Approval, *, objects: int) -> None:
    """Keep the approval of a destruction run (before anything is destroyed)."""
    with Session(engine) as session, session.begin():
        session.add(
            ApprovalRow(
                approval_id=approval.approval_id,
                tenant=approval.tenant,
                reason=approval.reason.name.lower(),
                approved_by=approval.approved_by[:128],
                approved_at=iso(approval.approved_at),
                policy=approval.policy,
                objects=objects,
            )
        )


class Destroyer:
    """Destroy objects in storage and record it; ``cleanups`` drop other catalogues' rows.

    Parameters
    ----------
    storage, ledger
        Where the objects are and where their transfers are recorded.
    cleanups
        Called as ``cleanup(tenant, object_key)`` once the object is destroyed, e.g. to
        drop rows of a reports catalogue; the instance catalogue is always cleaned.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        ledger: Ledger,
        cleanups: Sequence[Callable[[str, str], None]] = (),
    ) -> None:
        self.storage = storage
        self.ledger = ledger
        self.cleanups = tuple(cleanups)

    @property
    def method(self) -> str:
        return _METHODS.get(type(self.storage).__name__, "destroyed: deleted from storage")

    def destroy(
        self,
        found: LiveObject,
        *,
        reason: DestructionReason,
        request_id: str,
        now: dt.datetime | None = None,
    ) -> int | None:
        """Destroy one object; returns the seq of its ``destroyed`` ledger row."""
        # Gone already: a previous run stopped before writing its ledger row.
        with contextlib.suppress(ObjectNotFound):
            self.storage.delete(found.key)
        if self.storage.head(found.key) is not None:
            raise StorageError("the object is still there after it was deleted")
        destination = self.storage.destination
        seq = self.ledger.append(
            TransferRecord(
                tenant=found.tenant,
                object_key=found.key,
                size=found.size,
                sha256=found.sha256,
                items=found.items,
                destination_country=destination.country,
                destination_region=destination.region,
                recipient=destination.recipient,
                recipient_contact=destination.recipient_contact,
                method=self.method,
                purpose=str(reason),
                retention="",
                request_id=request_id,
                profile="",
                key_id=found.key_id,
                event=DESTROYED,
            ),
            now=now,
        )
        self.forget(found.tenant, found.key)
        return seq

    def forget(self, tenant: str, key: str) -> None:
        """Drop the catalogue rows of an object that is gone."""
        with Session(self.ledger.engine) as session, session.begin():
            session.execute(
                delete(InstanceRow).where(
                    InstanceRow.tenant == tenant, InstanceRow.object_key == key
                )
            )
        for cleanup in self.cleanups:
            cleanup(tenant, key)

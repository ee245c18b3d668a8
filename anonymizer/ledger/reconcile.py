"""Cross-check the ledger against the storage backend, and repair what a crash left behind.

Write order (see ``anonymizer.transfer``): the object is put first, then its row is
appended. So a crash can leave an object without a row (an orphan: the client never got a
success and will retry), but never a row without its object. ``audit`` finds both kinds of
mismatch; ``reconcile`` deletes orphans older than a grace period (younger ones may belong
to uploads in flight) and reports anything it cannot repair.
"""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from dataclasses import dataclass, field

from anonymizer.ledger.repository import STORED, ChainReport, Ledger
from anonymizer.storage.base import ObjectInfo, Storage


@dataclass
class AuditReport:
    """Mismatches between ledger and storage. Keys only: they hold no identifying values."""

    chain: ChainReport
    rows_checked: int = 0
    objects_checked: int = 0
    missing_objects: list[str] = field(default_factory=list)
    checksum_mismatches: list[str] = field(default_factory=list)
    orphan_objects: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        return len(self.missing_objects) + len(self.checksum_mismatches) + len(self.orphan_objects)

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.mismatches == 0


def audit(ledger: Ledger, storage: Storage, *, tenant: str | None = None) -> AuditReport:
    """Prove the chain, then check every row against storage and every object against rows."""
    report = AuditReport(chain=ledger.verify_chain())
    latest: dict[str, tuple[str, str]] = {}
    with closing(ledger.rows(tenant=tenant)) as rows:
        for row in rows:
            latest[row.object_key] = (row.event, row.sha256)
            report.rows_checked += 1
    stored = {key: sha for key, (event, sha) in latest.items() if event == STORED}
    objects: dict[str, ObjectInfo] = {}
    prefix = f"{tenant}/" if tenant else ""
    for info in storage.list(prefix):
        objects[info.key] = info
        report.objects_checked += 1
    for key, sha in sorted(stored.items()):
        found = objects.get(key)
        if found is None:
            report.missing_objects.append(key)
        elif found.sha256 != sha:
            report.checksum_mismatches.append(key)
    report.orphan_objects = sorted(key for key in objects if key not in stored)
    return report


def reconcile(
    ledger: Ledger,
    storage: Storage,
    *,
    grace: dt.timedelta = dt.timedelta(minutes=15),
    modified: dict[str, dt.datetime] | None = None,
    now: dt.datetime | None = None,
) -> AuditReport:
    """Delete orphan objects older than ``grace``; return the audit taken afterwards.

    ``modified`` maps keys to last-modified times when the caller knows them; objects
    without a known time are treated as old enough (run this when no upload is in flight).
    """
    before = audit(ledger, storage)
    moment = now or dt.datetime.now(dt.UTC)
    for key in before.orphan_objects:
        changed = (modified or {}).get(key)
        if changed is not None and moment - changed < grace:
            continue
        storage.delete(key)
    return audit(ledger, storage)

"""What the privacy promises need, built once over the service database and storage.

:class:`Privacy` holds the access log, holds, key generations, subject requests and the
destroyer, and runs retention: select what is due, record the approval (who, when, which
policy), destroy, and report. Every method takes ``now`` so tests control the clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from anonymizer.access_log import AccessLog, AccessRecord, AdminAction, Outcome
from anonymizer.catalog import Catalog
from anonymizer.destruction import Approval, Destroyer, DestructionReason, new_id, record_approval
from anonymizer.errors import DeidError, StorageError
from anonymizer.holds import Holds
from anonymizer.keys import PseudonymKey
from anonymizer.ledger import Ledger
from anonymizer.retention import (
    DueObject,
    LiveObject,
    RetentionPolicies,
    ledger_rows_past_retention,
    live_objects,
    select_due,
)
from anonymizer.storage.base import Storage
from anonymizer.subjects import SubjectRequests
from anonymizer.tenant_keys import TenantKeys

logger = logging.getLogger(__name__)
_ALL = 10_000_000
ALL_TENANTS = "*"


class ApprovalRequired(DeidError, ValueError):  # noqa: N818
    """A destruction run was started without naming who approved it."""


@dataclass(frozen=True)
class RetentionReport:
    """What a retention run found and did. Keys and counts only."""

    run_id: str | None
    dry_run: bool
    now: dt.datetime
    policies: tuple[str, ...]
    due: tuple[DueObject, ...]
    destroyed: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    ledger_rows_past_retention: int = 0
    generations_destroyed: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


class Privacy:
    """Retention, subject requests, key generations and the access log of one service.

    Parameters
    ----------
    storage, ledger
        The service's storage backend and ledger (whose database holds every table).
    master_key
        The service pseudonym key; tenant keys are derived from it per generation.
    policies
        Retention policies; by default nothing is ever due.
    cleanups
        Extra ``cleanup(tenant, object_key)`` calls after each destruction.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        ledger: Ledger,
        master_key: PseudonymKey,
        policies: RetentionPolicies | None = None,
        cleanups: Sequence[Callable[[str, str], None]] = (),
    ) -> None:
        engine = ledger.engine
        self.storage = storage
        self.ledger = ledger
        self.policies = policies or RetentionPolicies()
        self.catalog = Catalog(engine)
        self.access_log = AccessLog(engine)
        self.holds = Holds(engine)
        self.tenant_keys = TenantKeys(engine, master_key)
        self.destroyer = Destroyer(storage=storage, ledger=ledger, cleanups=cleanups)
        self.subjects = SubjectRequests(
            ledger=ledger, tenant_keys=self.tenant_keys, holds=self.holds, destroyer=self.destroyer
        )

    def is_study_held(self, *, tenant: str, study_uid: str) -> bool:
        """Whether any instance of the study belongs to a held patient pseudonym."""
        rows = self.catalog.find(tenant=tenant, filters={"StudyInstanceUID": study_uid}, limit=_ALL)
        return bool(self.holds.held(tenant=tenant, patients={row.patient_id for row in rows}))

    def held_keys(self, tenant: str, live: Sequence[LiveObject]) -> frozenset[str]:
        """Keys of held objects: held patients' instances and objects beside them."""
        keys: set[str] = set()
        studies: set[str] = set()
        for patient in self.holds.all_held(tenant):
            for row in self.catalog.find(tenant=tenant, filters={"PatientID": patient}, limit=_ALL):
                keys.add(row.object_key)
                studies.add(f"{tenant}/{row.study_uid}/")
        prefixes = tuple(studies)
        if prefixes:
            keys.update(o.key for o in live if o.key.startswith(prefixes))
        return frozenset(keys)

    def due(self, *, now: dt.datetime, tenant: str | None = None) -> list[DueObject]:
        """Objects past their deadline (held ones marked), in ledger order."""
        live = live_objects(self.ledger, tenant=tenant)
        due: list[DueObject] = []
        for name in sorted({o.tenant for o in live}):
            mine = [o for o in live if o.tenant == name]
            held = self.held_keys(name, mine)
            due.extend(select_due(mine, self.policies, now=now, held=held))
        return due

    def run_retention(
        self,
        *,
        approved_by: str,
        now: dt.datetime,
        tenant: str | None = None,
        dry_run: bool = False,
        actor: str = "",
        client: str = "local",
    ) -> RetentionReport:
        """Destroy what is due (held objects stay); with ``dry_run`` only list it.

        The approval is recorded before anything is destroyed, and the run itself is an
        admin action in the access log.
        """
        if not approved_by.strip() and not dry_run:
            raise ApprovalRequired("a destruction run needs the name of whoever approved it")
        due = self.due(now=now, tenant=tenant)
        tenants = sorted({d.object.tenant for d in due})
        policies = tuple(self.policies.for_tenant(t).describe() for t in tenants) or (
            self.policies.default.describe(),
        )
        past = ledger_rows_past_retention(self.ledger, self.policies, now=now, tenant=tenant)
        held = tuple(d.object.key for d in due if d.held)
        if dry_run:
            self.record_action(
                AdminAction.RETENTION_DRY_RUN, tenant=tenant, actor=actor, client=client, now=now
            )
            return RetentionReport(
                run_id=None,
                dry_run=True,
                now=now,
                policies=policies,
                due=tuple(due),
                held=held,
                ledger_rows_past_retention=past,
            )
        run_id = new_id("rr")
        victims = [d for d in due if not d.held]
        approval = Approval(
            approval_id=run_id,
            tenant=tenant or ALL_TENANTS,
            reason=DestructionReason.RETENTION,
            approved_by=approved_by.strip(),
            approved_at=now,
            policy="; ".join(policies),
        )
        record_approval(self.ledger.engine, approval, objects=len(victims))
        destroyed: list[str] = []
        failed: list[str] = []
        for item in victims:
            try:
                self.destroyer.destroy(
                    item.object, reason=DestructionReason.RETENTION, request_id=run_id, now=now
                )
                destroyed.append(item.object.key)
            except StorageError as exc:
                logger.warning(
                    "retention run %s: destruction failed (%s)", run_id, type(exc).__name__
                )
                failed.append(item.object.key)
        spent = self._destroy_spent_keys(tenants, now=now)
        outcome = Outcome.ERROR if failed else Outcome.OK
        self.record_action(
            AdminAction.RETENTION_RUN,
            tenant=tenant,
            actor=actor or approved_by,
            client=client,
            now=now,
            objects=tuple(destroyed),
            request_id=run_id,
            outcome=outcome,
        )
        return RetentionReport(
            run_id=run_id,
            dry_run=False,
            now=now,
            policies=policies,
            due=tuple(due),
            destroyed=tuple(destroyed),
            held=held,
            failed=tuple(failed),
            ledger_rows_past_retention=past,
            generations_destroyed=spent,
        )

    def _destroy_spent_keys(
        self, tenants: Sequence[str], *, now: dt.datetime
    ) -> dict[str, list[int]]:
        spent: dict[str, list[int]] = {}
        for name in tenants:
            in_use = {o.key_id for o in live_objects(self.ledger, tenant=name)}
            gone = self.tenant_keys.destroy_spent(name, in_use=in_use, now=now)
            if gone:
                spent[name] = gone
        return spent

    def record_action(
        self,
        action: AdminAction,
        *,
        tenant: str | None,
        actor: str,
        client: str,
        now: dt.datetime,
        objects: tuple[str, ...] = (),
        request_id: str = "",
        outcome: Outcome = Outcome.OK,
    ) -> None:
        """Append an admin action taken outside HTTP to the access log."""
        self.access_log.append(
            AccessRecord(
                tenant=tenant or ALL_TENANTS,
                actor=actor or "operator",
                action=action,
                client=client,
                outcome=outcome,
                objects=objects,
                request_id=request_id,
            ),
            now=now,
        )

"""A data subject's requests (access, suspension, erasure) without any stored identity.

Given the person's original patient ID and issuer, the pseudonym the de-identified
objects carry is computed under each *live* generation of the tenant's key
(:mod:`anonymizer.tenant_keys`) and looked up in the catalogue. Nothing identifying is
stored to make this possible, and the request is recorded with its kind, actor, time,
the generations tried and a count, never with the ID.

Suspension places a hold on each pseudonym (every live generation, so later uploads of
the same person under the current key are held too): held objects are not served and not
destroyed by retention runs until released. Erasure destroys everything found, held or
not, with a ledger row per object (see :mod:`anonymizer.destruction`).

Objects beside an instance in its study folder (reports, for instance) belong to the
same person and are included, unless the catalogue says another patient's instance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from anonymizer.access_log import iso
from anonymizer.catalog import Catalog
from anonymizer.destruction import Approval, Destroyer, DestructionReason, new_id, record_approval
from anonymizer.errors import InputError
from anonymizer.holds import Holds
from anonymizer.ledger import Ledger
from anonymizer.models import InstanceRow
from anonymizer.pseudonyms import Pseudonymizer
from anonymizer.retention import LiveObject, live_objects
from anonymizer.retention_models import SubjectRequestRow
from anonymizer.tenant_keys import TenantKeys

_ALL = 10_000_000


class SubjectRequestInvalid(InputError):
    """The request lacks what is needed to find the person's objects."""


class RequestKind(StrEnum):
    """What the person asked for."""

    LOOKUP = "lookup"
    SUSPEND = "suspend"
    RELEASE = "release"
    ERASE = "erase"


@dataclass(frozen=True)
class SubjectObject:
    """One stored object of the person: de-identified UIDs and where it lies."""

    object_key: str
    study_uid: str
    series_uid: str
    sop_uid: str
    modality: str
    stored_at: str
    generation: int | None


@dataclass(frozen=True)
class SubjectResult:
    """The answer to a request: what was found, and what was done."""

    request_id: str
    kind: RequestKind
    generations: tuple[int, ...]
    objects: tuple[SubjectObject, ...]
    held: bool
    destroyed: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Match:
    pseudonyms: dict[str, int]
    rows: list[InstanceRow]
    beside: list[LiveObject]


class SubjectRequests:
    """Look up, suspend, release and erase one person's objects in one tenant."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        tenant_keys: TenantKeys,
        holds: Holds,
        destroyer: Destroyer,
    ) -> None:
        self.ledger = ledger
        self.engine = ledger.engine
        self.catalog = Catalog(ledger.engine)
        self.tenant_keys = tenant_keys
        self.holds = holds
        self.destroyer = destroyer

    def handle(
        self,
        kind: RequestKind,
        *,
        tenant: str,
        patient_id: str,
        issuer: str = "",
        actor: str,
        now: dt.datetime | None = None,
    ) -> SubjectResult:
        """Carry out one request and record it (without the ID)."""
        moment = now or dt.datetime.now(dt.UTC)
        request_id = new_id("sr")
        live = {o.key: o for o in live_objects(self.ledger, tenant=tenant)}
        match = self._match(tenant, patient_id.strip(), issuer.strip(), live)
        generations = tuple(sorted(set(match.pseudonyms.values())))
        count = len(match.rows) + len(match.beside)
        self._record(
            tenant=tenant,
            kind=kind,
            actor=actor,
            request_id=request_id,
            moment=moment,
            generations=generations,
            objects=count,
        )
        if kind is RequestKind.SUSPEND:
            self.holds.place(
                tenant=tenant, patients=match.pseudonyms, request_id=request_id, now=iso(moment)
            )
        elif kind is RequestKind.RELEASE:
            self.holds.release(
                tenant=tenant, patients=match.pseudonyms, request_id=request_id, now=iso(moment)
            )
        destroyed = (
            self._erase(tenant, match, live, actor=actor, request_id=request_id, now=moment)
            if kind is RequestKind.ERASE
            else ()
        )
        objects = tuple(_subject_object(row, match.pseudonyms) for row in match.rows) + tuple(
            SubjectObject(o.key, o.key.split("/")[1], "", "", "", iso(o.stored_at), None)
            for o in match.beside
        )
        held = bool(self.holds.held(tenant=tenant, patients=match.pseudonyms))
        return SubjectResult(request_id, kind, generations, objects, held, destroyed)

    def _match(
        self, tenant: str, patient_id: str, issuer: str, live: dict[str, LiveObject]
    ) -> _Match:
        if not patient_id:
            raise SubjectRequestInvalid("a patient ID is required")
        pseudonyms = {
            Pseudonymizer(key).patient_id(patient_id, issuer): found.generation
            for found, key in self.tenant_keys.live(tenant)
        }
        rows = [
            row
            for pseudonym in pseudonyms
            for row in self.catalog.find(
                tenant=tenant, filters={"PatientID": pseudonym}, limit=_ALL
            )
        ]
        mine = {row.object_key for row in rows}
        others: set[str] = set()
        for study in sorted({row.study_uid for row in rows}):
            found = self.catalog.find(
                tenant=tenant, filters={"StudyInstanceUID": study}, limit=_ALL
            )
            others.update(row.object_key for row in found if row.object_key not in mine)
        prefixes = tuple(f"{tenant}/{row.study_uid}/" for row in rows)
        beside = [
            o
            for key, o in sorted(live.items())
            if prefixes and key.startswith(prefixes) and key not in mine and key not in others
        ]
        return _Match(pseudonyms, rows, beside)

    def _erase(
        self,
        tenant: str,
        match: _Match,
        live: dict[str, LiveObject],
        *,
        actor: str,
        request_id: str,
        now: dt.datetime,
    ) -> tuple[str, ...]:
        keys = [row.object_key for row in match.rows] + [o.key for o in match.beside]
        approval = Approval(
            approval_id=request_id,
            tenant=tenant,
            reason=DestructionReason.ERASURE,
            approved_by=actor,
            approved_at=now,
            policy=f"subject request {request_id}",
        )
        record_approval(self.engine, approval, objects=len(keys))
        destroyed = []
        for key in keys:
            found = live.pop(key, None)
            if found is None:  # the ledger says it is gone: a stale catalogue row
                self.destroyer.forget(tenant, key)
                continue
            self.destroyer.destroy(
                found, reason=DestructionReason.ERASURE, request_id=request_id, now=now
            )
            destroyed.append(key)
        self.tenant_keys.destroy_spent(tenant, in_use={o.key_id for o in live.values()}, now=now)
        return tuple(destroyed)

    def _record(
        self,
        *,
        tenant: str,
        kind: RequestKind,
        actor: str,
        request_id: str,
        moment: dt.datetime,
        generations: tuple[int, ...],
        objects: int,
    ) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                SubjectRequestRow(
                    request_id=request_id,
                    tenant=tenant,
                    kind=str(kind),
                    actor=actor[:128],
                    requested_at=iso(moment),
                    generations=",".join(str(g) for g in generations),
                    objects=objects,
                )
            )


def _subject_object(row: InstanceRow, pseudonyms: dict[str, int]) -> SubjectObject:
    return SubjectObject(
        object_key=row.object_key,
        study_uid=row.study_uid,
        series_uid=row.series_uid,
        sop_uid=row.sop_uid,
        modality=row.modality,
        stored_at=row.stored_at,
        generation=pseudonyms.get(row.patient_id),
    )

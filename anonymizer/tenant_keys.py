"""Generations of a tenant's pseudonym key: rotate for new uploads, keep old ones for requests.

Each generation's secret is derived from the service key, so nothing secret is stored:
generation 1 is :func:`anonymizer.intake.tenant_key` (what every object stored before
rotation used), generation *n* > 1 is ``HMAC(service key, "tenant\\0<tenant>\\0<n>")``
with key id ``<service key id>/<tenant>/g<n>``. The ledger row of every object names its
key id, so the generation of any stored object is known without another table.

A rotation retires the current generation and starts the next one; new uploads use it at
once (every replica reads the current generation per object). A retired generation stays
*live* for subject requests until no stored object uses it; :meth:`TenantKeys.destroy_spent`
then marks it destroyed and it is never derived again. (Its secret could still be derived
from the service key by someone holding that key; destroying it for good means rotating
the service key itself, which is outside this module.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anonymizer.access_log import iso
from anonymizer.apikeys import check_tenant
from anonymizer.catalog import Catalog
from anonymizer.errors import KeyProblem
from anonymizer.intake import Intake, tenant_key
from anonymizer.keys import PseudonymKey
from anonymizer.ledger import Ledger
from anonymizer.pipeline import Anonymizer
from anonymizer.retention_models import TenantKeyRow
from anonymizer.storage.base import Storage
from anonymizer.transfer import TransferTerms

_GENERATION = re.compile(r"/g([0-9]+)$")


class KeyStatus(StrEnum):
    """Where a generation is in its life."""

    CURRENT = "current"
    RETIRED = "retired"
    DESTROYED = "destroyed"


class KeyGenerationDestroyed(KeyProblem):  # noqa: N818 - named like the other key errors
    """That key generation was destroyed with the last of its data."""


class RotationConflict(KeyProblem):  # noqa: N818
    """Another rotation of the same tenant's key happened at the same time."""


@dataclass(frozen=True)
class KeyGeneration:
    """One generation of a tenant's key (no secret: it is derived when needed)."""

    tenant: str
    generation: int
    key_id: str
    created_at: str | None
    retired_at: str | None
    destroyed_at: str | None

    @property
    def status(self) -> KeyStatus:
        if self.destroyed_at is not None:
            return KeyStatus.DESTROYED
        return KeyStatus.CURRENT if self.retired_at is None else KeyStatus.RETIRED


def generation_key(master: PseudonymKey, tenant: str, generation: int) -> PseudonymKey:
    """The secret of one generation, derived from the service key."""
    if generation < 1:
        raise ValueError("key generations start at 1")
    if generation == 1:
        return tenant_key(master, tenant)
    message = b"tenant\0" + tenant.encode() + b"\0" + str(generation).encode()
    secret = hmac.new(master.secret, message, hashlib.sha256).digest()
    return PseudonymKey(key_id=f"{master.key_id}/{tenant}/g{generation}", secret=secret)


def generation_of(key_id: str, *, master: PseudonymKey, tenant: str) -> int | None:
    """The generation a ledger row's key id names, or None if another key made it."""
    if key_id == f"{master.key_id}/{tenant}":
        return 1
    match = _GENERATION.search(key_id)
    if match and key_id == f"{master.key_id}/{tenant}/g{match.group(1)}":
        return int(match.group(1))
    return None


class TenantKeys:
    """Read, rotate and retire the key generations of every tenant."""

    def __init__(self, engine: Engine, master: PseudonymKey) -> None:
        self.engine = engine
        self.master = master

    def generations(self, tenant: str) -> list[KeyGeneration]:
        """Every generation, oldest first; a tenant never rotated has generation 1 only."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(TenantKeyRow)
                .where(TenantKeyRow.tenant == tenant)
                .order_by(TenantKeyRow.generation)
            ).scalars()
            found = [_generation(row) for row in rows]
        if not found:
            found = [
                KeyGeneration(tenant, 1, tenant_key(self.master, tenant).key_id, None, None, None)
            ]
        return found

    def current(self, tenant: str) -> KeyGeneration:
        """The generation new uploads use."""
        return self.generations(tenant)[-1]

    def key(self, tenant: str, generation: int) -> PseudonymKey:
        """The key of a live generation; :class:`KeyGenerationDestroyed` otherwise."""
        for found in self.generations(tenant):
            if found.generation == generation and found.status is not KeyStatus.DESTROYED:
                return generation_key(self.master, tenant, generation)
        raise KeyGenerationDestroyed(f"key generation {generation} is not available")

    def live(self, tenant: str) -> list[tuple[KeyGeneration, PseudonymKey]]:
        """Every generation not destroyed, with its key: what subject requests try."""
        return [
            (found, generation_key(self.master, tenant, found.generation))
            for found in self.generations(tenant)
            if found.status is not KeyStatus.DESTROYED
        ]

    def rotate(self, tenant: str, *, now: dt.datetime | None = None) -> KeyGeneration:
        """Retire the current generation and start the next; new uploads use it at once."""
        check_tenant(tenant)
        moment = iso(now or dt.datetime.now(dt.UTC))
        current = self.current(tenant)
        following = current.generation + 1
        try:
            with Session(self.engine) as session, session.begin():
                if current.created_at is None:  # generation 1 was implicit until now
                    session.add(_row(self.master, tenant, 1, moment))
                    session.flush()
                retired = session.execute(
                    update(TenantKeyRow)
                    .where(
                        TenantKeyRow.tenant == tenant,
                        TenantKeyRow.generation == current.generation,
                        TenantKeyRow.retired_at.is_(None),
                    )
                    .values(retired_at=moment)
                )
                if not getattr(retired, "rowcount", 0):
                    raise RotationConflict("the key was rotated by someone else meanwhile")
                session.add(_row(self.master, tenant, following, moment))
        except IntegrityError:
            raise RotationConflict("the key was rotated by someone else meanwhile") from None
        # This process uses the new generation at once.
        _RECENT_GENERATIONS.pop((str(self.engine.url), tenant), None)
        return self.current(tenant)

    def destroy_spent(
        self, tenant: str, *, in_use: Iterable[str], now: dt.datetime | None = None
    ) -> list[int]:
        """Mark retired generations whose key id no stored object uses as destroyed."""
        used = set(in_use)
        moment = iso(now or dt.datetime.now(dt.UTC))
        spent = [
            found.generation
            for found in self.generations(tenant)
            if found.status is KeyStatus.RETIRED and found.key_id not in used
        ]
        if spent:
            with Session(self.engine) as session, session.begin():
                session.execute(
                    update(TenantKeyRow)
                    .where(TenantKeyRow.tenant == tenant, TenantKeyRow.generation.in_(spent))
                    .values(destroyed_at=moment)
                )
        return spent


def _row(master: PseudonymKey, tenant: str, generation: int, moment: str) -> TenantKeyRow:
    return TenantKeyRow(
        tenant=tenant,
        generation=generation,
        key_id=generation_key(master, tenant, generation).key_id,
        created_at=moment,
        retired_at=None,
        destroyed_at=None,
    )


def _generation(row: TenantKeyRow) -> KeyGeneration:
    return KeyGeneration(
        tenant=row.tenant,
        generation=row.generation,
        key_id=row.key_id,
        created_at=row.created_at,
        retired_at=row.retired_at,
        destroyed_at=row.destroyed_at,
    )


_GENERATION_TTL = 5.0
# (database, tenant) -> (current generation, when looked up); rotate() clears its entry.
_RECENT_GENERATIONS: dict[tuple[str, str], tuple[int, float]] = {}


class RotatingIntake(Intake):
    """The service's intake, with each tenant's *current* key generation for new uploads."""

    def __init__(
        self,
        *,
        master_key: PseudonymKey,
        storage: Storage,
        ledger: Ledger,
        catalog: Catalog,
        terms: TransferTerms,
        spool_dir: Path,
    ) -> None:
        super().__init__(
            master_key=master_key,
            storage=storage,
            ledger=ledger,
            catalog=catalog,
            terms=terms,
            spool_dir=spool_dir,
        )
        self.tenant_keys = TenantKeys(ledger.engine, master_key)
        self._by_generation: dict[tuple[str, str, int], Anonymizer] = {}

    def _generation(self, tenant: str) -> int:
        """The current generation, looked up at most every few seconds per tenant.

        A rotation made by another replica takes effect here within that time; uploads in
        between use the previous generation, which stays valid until its data is destroyed.
        """
        now = time.monotonic()
        slot = (str(self.tenant_keys.engine.url), tenant)
        cached = _RECENT_GENERATIONS.get(slot)
        if cached is not None and now - cached[1] < _GENERATION_TTL:
            return cached[0]
        generation = self.tenant_keys.current(tenant).generation
        _RECENT_GENERATIONS[slot] = (generation, now)
        return generation

    def anonymizer(self, *, tenant: str, profile: str) -> Anonymizer:
        """The (cached) anonymizer of a tenant's current key generation and a profile."""
        generation = self._generation(tenant)
        cache_key = (tenant, profile, generation)
        found = self._by_generation.get(cache_key)
        if found is None:
            key = generation_key(self.master_key, tenant, generation)
            found = Anonymizer(profile=profile, key=key)
            self._by_generation[cache_key] = found
        return found

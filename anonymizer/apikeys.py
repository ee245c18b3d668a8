"""API keys bound to one tenant and a set of scopes; only a hash of each secret is kept.

A key reads ``ak_<key id>_<secret>``; the key id is public (it appears in logs and in the
access records), the secret is shown once when the key is made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from anonymizer.errors import DeidError
from anonymizer.models import ApiKeyRow

TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TOKEN = re.compile(r"^ak_([0-9a-f]{16})_([A-Za-z0-9_-]{32,64})$")


class Scope(StrEnum):
    """What a key may do."""

    UPLOAD = "upload"
    READ = "read"
    ADMIN = "admin"


class InvalidTenant(DeidError, ValueError):  # noqa: N818
    """Tenant names are lower-case letters, digits and dashes, at most 63 characters."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id, its tenant and scopes."""

    key_id: str
    tenant: str
    scopes: frozenset[Scope]

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes


def check_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is a valid tenant name, else raise :class:`InvalidTenant`."""
    if not TENANT_PATTERN.match(tenant):
        raise InvalidTenant("tenant names are lower-case letters, digits and dashes (max 63)")
    return tenant


class ApiKeys:
    """Create, check and revoke API keys stored in the service database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, *, tenant: str, scopes: frozenset[Scope], label: str = ""
    ) -> tuple[str, Principal]:
        """Make a key; returns the token (shown once) and its principal."""
        check_tenant(tenant)
        if not scopes:
            raise ValueError("a key needs at least one scope")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            key_id=key_id,
            tenant=tenant,
            scopes=",".join(sorted(s.value for s in scopes)),
            secret_sha256=_hash(secret),
            label=label[:128],
            created_at=_now(),
            revoked_at=None,
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
        return f"ak_{key_id}_{secret}", Principal(key_id, tenant, frozenset(scopes))

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None (constant-time compare)."""
        match = _TOKEN.match(token.strip())
        if not match:
            return None
        key_id, secret = match.groups()
        with Session(self.engine) as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None or row.revoked_at is not None:
                _hash(secret)  # same work either way
                return None
            if not hmac.compare_digest(row.secret_sha256, _hash(secret)):
                return None
            scopes = frozenset(Scope(s) for s in row.scopes.split(",") if s)
            return Principal(row.key_id, row.tenant, scopes)

    def revoke(self, key_id: str) -> bool:
        """Revoke a key; True if it existed and was active."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            return bool(getattr(result, "rowcount", 0))

    def list(self, *, tenant: str | None = None) -> list[ApiKeyRow]:
        """Keys (without secrets), optionally of one tenant."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
        if tenant is not None:
            query = query.where(ApiKeyRow.tenant == tenant)
        with Session(self.engine) as session:
            rows = list(session.execute(query).scalars())
            for row in rows:
                session.expunge(row)
            return rows


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

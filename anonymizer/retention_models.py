"""Tables for retention, subject requests, key generations and the access log.

None of them holds an original identifier: holds name the patient *pseudonym* that the
stored objects already carry, subject requests keep only counts and generations, and the
access log keeps key ids, object keys and redacted queries.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from anonymizer.models import Base


class TenantKeyRow(Base):
    """One generation of a tenant's pseudonym key; the secret is derived, never stored."""

    __tablename__ = "tenant_keys"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[str] = mapped_column(String(32))
    retired_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    destroyed_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class HoldRow(Base):
    """A suspension: objects of this patient pseudonym are not served or destroyed."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(64))
    since: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_holds_patient", "tenant", "patient_id"),)


class SubjectRequestRow(Base):
    """A data subject's request, recorded without the identifier it was made with."""

    __tablename__ = "subject_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[str] = mapped_column(String(32))
    generations: Mapped[str] = mapped_column(String(128))
    objects: Mapped[int] = mapped_column(Integer)


class ApprovalRow(Base):
    """Who approved a destruction run, when, under which policy, and how much went."""

    __tablename__ = "destruction_approvals"

    approval_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    approved_by: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[str] = mapped_column(String(32))
    policy: Mapped[str] = mapped_column(Text)
    objects: Mapped[int] = mapped_column(Integer)


class AccessRow(Base):
    """One read of stored data or one admin action, hash-chained like the ledger."""

    __tablename__ = "access_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[str] = mapped_column(String(32), index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(Text)
    client: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

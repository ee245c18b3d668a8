"""Tables of the service database: the transfer ledger, API keys, the instance catalogue."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class TransferRow(Base):
    """One stored object (or, later, one destruction), with what PIPA Art. 28-8 asks.

    ``seq`` is assigned by us under the append lock, so a gap shows a deleted row;
    ``row_hash`` chains each row to the previous one.
    """

    __tablename__ = "transfers"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    object_key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    items: Mapped[str] = mapped_column(Text)
    destination_country: Mapped[str] = mapped_column(String(64))
    destination_region: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(256))
    recipient_contact: Mapped[str] = mapped_column(String(256))
    method: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(512))
    retention: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_transfers_key", "object_key", "sha256"),)


class ApiKeyRow(Base):
    """An API key: only a SHA-256 of its secret is stored."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    scopes: Mapped[str] = mapped_column(String(128))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class InstanceRow(Base):
    """One stored instance, by its de-identified UIDs: what QIDO-RS searches, WADO-RS serves."""

    __tablename__ = "instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    study_uid: Mapped[str] = mapped_column(String(64))
    series_uid: Mapped[str] = mapped_column(String(64))
    sop_uid: Mapped[str] = mapped_column(String(64))
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str] = mapped_column(String(16))
    study_date: Mapped[str] = mapped_column(String(8))
    patient_id: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[str] = mapped_column(String(32))
    attributes: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("tenant", "sop_uid", name="uq_instances_tenant_sop"),
        Index("ix_instances_study", "tenant", "study_uid"),
        Index("ix_instances_patient", "tenant", "patient_id"),
    )

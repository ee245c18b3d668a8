"""The reports table: one row per stored analysis report, by its study's de-identified UID."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anonymizer.models import Base


class ReportRow(Base):
    """One stored report: where it lies, what it is, its size and checksum. No input values."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    study_uid: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("tenant", "study_uid", "report_id", name="uq_reports_tenant_study_report"),
        Index("ix_reports_study", "tenant", "study_uid"),
    )

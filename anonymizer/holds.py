"""Holds: a data subject's suspension, by the patient pseudonym the stored objects carry.

A held patient's objects are not served (WADO-RS answers 451, QIDO-RS skips them) and not
destroyed by retention runs until the hold is released; an erasure request still
destroys them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from anonymizer.retention_models import HoldRow


class Holds:
    """Suspensions by patient pseudonym."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def place(self, *, tenant: str, patients: Iterable[str], request_id: str, now: str) -> None:
        """Hold each pseudonym that is not held already."""
        wanted = set(patients)
        with Session(self.engine) as session, session.begin():
            held = self._active(session, tenant, wanted)
            for patient in sorted(wanted - held):
                session.add(
                    HoldRow(tenant=tenant, patient_id=patient, since=now, request_id=request_id)
                )

    def release(self, *, tenant: str, patients: Iterable[str], request_id: str, now: str) -> int:
        """Release the holds of these pseudonyms; returns how many were active."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(HoldRow)
                .where(
                    HoldRow.tenant == tenant,
                    HoldRow.patient_id.in_(list(patients)),
                    HoldRow.released_at.is_(None),
                )
                .values(released_at=now, released_by=request_id)
            )
            return int(getattr(result, "rowcount", 0))

    def held(self, *, tenant: str, patients: Iterable[str]) -> set[str]:
        """Which of these pseudonyms are held."""
        wanted = {p for p in patients if p}
        if not wanted:
            return set()
        with Session(self.engine) as session:
            return self._active(session, tenant, wanted)

    def all_held(self, tenant: str) -> set[str]:
        """Every held pseudonym of a tenant."""
        with Session(self.engine) as session:
            return set(
                session.execute(
                    select(HoldRow.patient_id).where(
                        HoldRow.tenant == tenant, HoldRow.released_at.is_(None)
                    )
                ).scalars()
            )

    @staticmethod
    def _active(session: Session, tenant: str, patients: set[str]) -> set[str]:
        return set(
            session.execute(
                select(HoldRow.patient_id).where(
                    HoldRow.tenant == tenant,
                    HoldRow.patient_id.in_(sorted(patients)),
                    HoldRow.released_at.is_(None),
                )
            ).scalars()
        )

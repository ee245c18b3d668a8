"""Reports in the service: de-identified, stored under their study's prefix, recorded.

Each accepted report is stored as ``<tenant>/<de-identified study UID>/reports/<report
id>.<ext>`` through :func:`anonymizer.transfer.store_and_record` (one ledger row, items
"analysis report") and listed in the ``reports`` table. A rejected report is never stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anonymizer.actions import Action
from anonymizer.apikeys import check_tenant
from anonymizer.errors import DeidError, LedgerError, ObjectNotFound, StorageError
from anonymizer.intake import Intake
from anonymizer.pipeline import Anonymizer
from anonymizer.report_models import ReportRow
from anonymizer.reports.deidentify import (
    DeidentifiedReport,
    ParsedReport,
    ReportAnonymizer,
    ReportInput,
)
from anonymizer.reports.errors import ReportError, ReportReason, reason_of
from anonymizer.reports.options import ReportOptions, report_options
from anonymizer.reports.redact import is_pseudonym_uid
from anonymizer.reports.values import StudyValues
from anonymizer.transfer import TransferTerms, store_and_record

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

REPORT_ITEMS = ("analysis report",)
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_STUDY_UID_TAG = 0x0020000D


@dataclass(frozen=True)
class StudyRef:
    """The study a request names: its de-identified UID, the original when the request
    gave it, and whether images of it are stored."""

    uid: str
    original: str | None
    stored: bool


@dataclass(frozen=True)
class ReportOutcome:
    """What happened to one report: stored (or already there), or rejected with a reason."""

    label: str
    stored: bool
    created: bool = False
    key: str | None = None
    report: DeidentifiedReport | None = None
    ledger_seq: int | None = None
    reason: str | None = None
    message: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


class ReportIntake:
    """Store analysis reports beside the de-identified studies of many tenants.

    Parameters
    ----------
    intake
        The image intake: its storage, ledger, catalogue, and per-tenant anonymizers.
    terms
        What the ledger records for reports; by default the images' terms with the items
        "analysis report".
    options
        Report options over the profile's ``reports`` section.
    """

    def __init__(
        self,
        intake: Intake,
        *,
        terms: TransferTerms | None = None,
        options: ReportOptions | None = None,
    ) -> None:
        self.intake = intake
        self.engine = intake.catalog.engine
        self.terms = terms or dataclasses.replace(intake.terms, items=REPORT_ITEMS)
        self.options = options
        self._anonymizers: dict[tuple[str, str], ReportAnonymizer] = {}

    def report_anonymizer(self, *, tenant: str, profile: str) -> ReportAnonymizer:
        """The (cached) report anonymizer of a tenant and profile: the images' pseudonyms."""
        cache_key = (tenant, profile)
        found = self._anonymizers.get(cache_key)
        if found is None:
            images = self.intake.anonymizer(tenant=tenant, profile=profile)
            options = report_options(images.compiled.profile, self.options)
            found = ReportAnonymizer(images, options=options)
            self._anonymizers[cache_key] = found
        return found

    def resolve_study(self, study_uid: str, *, tenant: str, profile: str) -> StudyRef:
        """Tell an original Study Instance UID from a de-identified one.

        A stored study answers first (by the pseudonym of the given UID, then by the UID
        itself); failing that, a UID of our pseudonym form is taken as de-identified and any
        other as original.
        """
        check_tenant(tenant)
        uid = study_uid.strip()
        if not _UID.match(uid) or len(uid) > 64:
            raise ReportError(ReportReason.MALFORMED, "the Study Instance UID is not a valid UID")
        images = self.intake.anonymizer(tenant=tenant, profile=profile)
        mapped = uid if _keeps_uids(images) else images.pseudonyms.uid(uid)
        if self._has_study(tenant, mapped):
            return StudyRef(uid=mapped, original=uid if mapped != uid else None, stored=True)
        if self._has_study(tenant, uid):
            return StudyRef(uid=uid, original=None, stored=True)
        if is_pseudonym_uid(uid) or mapped == uid:
            return StudyRef(uid=uid, original=None, stored=False)
        return StudyRef(uid=mapped, original=uid, stored=False)

    def _has_study(self, tenant: str, uid: str) -> bool:
        found = self.intake.catalog.find(tenant=tenant, filters={"StudyInstanceUID": uid}, limit=1)
        return bool(found) or bool(self._rows(tenant, (uid,), limit=1))

    def ingest(
        self,
        reports: Sequence[tuple[str, ReportInput]],
        *,
        tenant: str,
        profile: str,
        request_id: str,
        study: StudyRef,
        identifiers: Mapping[str, object] | None = None,
    ) -> list[ReportOutcome]:
        """De-identify, store and record ``reports`` (label, input) of one study.

        The identifying values of the JSON reports (and DICOM reports' headers) are looked
        for in every report of the request, with the caller's ``identifiers``.

        Raises
        ------
        ReportError
            ``identifiers`` is invalid (nothing is stored).
        StorageUnavailable, LedgerError
            The service cannot store now.
        """
        anonymizer = self.report_anonymizer(tenant=tenant, profile=profile)
        shared = StudyValues.from_identifiers(identifiers) if identifiers else StudyValues()
        pending: list[tuple[str, ParsedReport, StudyValues] | ReportOutcome] = []
        for label, report in reports:
            try:
                parsed, own = anonymizer.parse(report)
            except DeidError as exc:
                pending.append(_rejected(label, exc))
                continue
            shared.merge(own)
            pending.append((label, parsed, own))
        outcomes = []
        for item in pending:
            if isinstance(item, ReportOutcome):
                outcomes.append(item)
                continue
            label, parsed, own = item
            try:
                result = anonymizer.anonymize_parsed(
                    parsed, own, study_uid=study.original, identifiers=shared
                )
                if result.study_uid is not None and result.study_uid != study.uid:
                    raise ReportError(
                        ReportReason.STUDY_MISMATCH,
                        "the report names another study than the request's",
                    )
                outcomes.append(
                    self._store(
                        label,
                        result,
                        anonymizer.anonymizer,
                        tenant=tenant,
                        profile=profile,
                        request_id=request_id,
                        study=study,
                    )
                )
            except (StorageError, LedgerError):
                raise
            except DeidError as exc:
                outcomes.append(_rejected(label, exc))
        return outcomes

    def _store(
        self,
        label: str,
        report: DeidentifiedReport,
        images: Anonymizer,
        *,
        tenant: str,
        profile: str,
        request_id: str,
        study: StudyRef,
    ) -> ReportOutcome:
        key = report_key(tenant, study.uid, report)
        stored = store_and_record(
            storage=self.intake.storage,
            ledger=self.intake.ledger,
            key=key,
            data=report.data,
            sha256=report.sha256,
            tenant=tenant,
            terms=self.terms,
            request_id=request_id,
            profile=profile,
            key_id=images.key.key_id,
        )
        self._record(tenant=tenant, study_uid=study.uid, key=key, report=report)
        logger.info(
            "report stored kind=%s study=%s report=%s size=%d",
            report.kind,
            study.uid,
            report.report_id,
            report.size,
        )
        return ReportOutcome(
            label=label,
            stored=True,
            created=stored.created,
            key=key,
            report=report,
            ledger_seq=stored.ledger_seq,
            warnings=report.warnings,
        )

    def _record(self, *, tenant: str, study_uid: str, key: str, report: DeidentifiedReport) -> None:
        row = ReportRow(
            tenant=tenant,
            study_uid=study_uid,
            report_id=report.report_id,
            kind=str(report.kind),
            media_type=report.media_type,
            object_key=key,
            size=report.size,
            sha256=report.sha256,
            stored_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
        except IntegrityError:
            pass  # the same report again: stored and listed already

    def list_reports(self, *, tenant: str, study_uid: str, profile: str) -> list[ReportRow]:
        """The reports of a study (named by its original or de-identified UID)."""
        return self._rows(tenant, self._candidates(study_uid, tenant=tenant, profile=profile))

    def find_report(
        self, *, tenant: str, study_uid: str, report_id: str, profile: str
    ) -> ReportRow:
        """A stored report's row; :class:`ObjectNotFound` if there is none."""
        candidates = self._candidates(study_uid, tenant=tenant, profile=profile)
        for row in self._rows(tenant, candidates):
            if row.report_id == report_id:
                return row
        raise ObjectNotFound("no such report for this study")

    def get_report(
        self, *, tenant: str, study_uid: str, report_id: str, profile: str
    ) -> tuple[ReportRow, bytes]:
        """A stored report and its bytes; :class:`ObjectNotFound` if there is none."""
        row = self.find_report(
            tenant=tenant, study_uid=study_uid, report_id=report_id, profile=profile
        )
        return row, self.intake.storage.get(row.object_key)

    def _candidates(self, study_uid: str, *, tenant: str, profile: str) -> tuple[str, ...]:
        uid = study_uid.strip()
        if not _UID.match(uid) or len(uid) > 64:
            return ()
        images = self.intake.anonymizer(tenant=tenant, profile=profile)
        return (uid, images.pseudonyms.uid(uid))

    def _rows(self, tenant: str, studies: tuple[str, ...], *, limit: int = 1000) -> list[ReportRow]:
        if not studies:
            return []
        query = (
            select(ReportRow)
            .where(ReportRow.tenant == tenant, ReportRow.study_uid.in_(studies))
            .order_by(ReportRow.id)
            .limit(limit)
        )
        with Session(self.engine) as session:
            rows = list(session.execute(query).scalars())
            for row in rows:
                session.expunge(row)
        return rows


def report_row_cleanup(engine: Engine) -> Callable[[str, str], None]:
    """A :class:`~anonymizer.destruction.Destroyer` cleanup: once a stored report is
    destroyed (retention, a subject's erasure), its row leaves the reports table."""

    def cleanup(tenant: str, object_key: str) -> None:
        with Session(engine) as session, session.begin():
            session.execute(
                delete(ReportRow).where(
                    ReportRow.tenant == tenant, ReportRow.object_key == object_key
                )
            )

    return cleanup


def report_key(tenant: str, study_uid: str, report: DeidentifiedReport) -> str:
    """``tenant/study/reports/<report id>.<ext>``, from de-identified values only."""
    if not _UID.match(study_uid) or len(study_uid) > 64:
        raise ReportError(ReportReason.MALFORMED, "the study has no valid de-identified UID")
    return f"{tenant}/{study_uid}/reports/{report.report_id}.{report.extension}"


def _keeps_uids(images: Anonymizer) -> bool:
    return images.compiled.action_for(_STUDY_UID_TAG) is Action.KEEP


def _rejected(label: str, exc: DeidError) -> ReportOutcome:
    logger.info("report rejected reason=%s", reason_of(exc))
    return ReportOutcome(label=label, stored=False, reason=reason_of(exc), message=str(exc))

"""Analysis reports of a study: ``POST``, list and fetch under ``/v1/studies/{study}/reports``.

A report is de-identified with the tenant's pseudonyms (those its study's images got),
checked, then stored beside the study and recorded in the ledger; a report that fails the
check is rejected with the reason and never stored. The study may be named by its original
or its de-identified Study Instance UID.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from anonymizer.errors import DeidError
from anonymizer.reports import ReportError, ReportInput, ReportReason
from anonymizer.reports.errors import reason_of
from anonymizer.reports.intake import ReportIntake, ReportOutcome, StudyRef
from app.access import any_held, held_response, note_objects
from app.auth import Reader, Uploader
from app.observability import BYTES, REJECTIONS, UPLOADS
from app.schemas import FileResult, FileStatus
from app.services import Services, get_services

router = APIRouter(prefix="/v1", tags=["reports"])

ServicesDep = Annotated[Services, Depends(get_services)]
_MULTIPART = "multipart/form-data"
_FORM_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            _MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "reports": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "JSON, text, Markdown, PDF, DICOM SR or "
                            "Encapsulated PDF reports",
                        },
                        "profile": {"type": "string", "description": "profile name"},
                        "identifiers": {
                            "type": "string",
                            "description": "JSON object of the study's original identifiers, "
                            'e.g. {"PatientName": "...", "PatientID": "..."}: used in memory '
                            "to find them in the reports, never stored or logged",
                        },
                    },
                    "required": ["reports"],
                }
            },
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "application/dicom": {"schema": {"type": "string", "format": "binary"}},
        },
        "required": True,
    }
}


class ReportResult(BaseModel):
    """What happened to one report."""

    file: str = Field(description="The uploaded file name (or 'body')")
    status: FileStatus
    report_id: str | None = None
    kind: str | None = None
    media_type: str | None = None
    key: str | None = Field(default=None, description="Storage key of the stored report")
    size: int | None = None
    sha256: str | None = None
    replaced: dict[str, int] = Field(
        default_factory=dict, description="Identifying values replaced, by kind"
    )
    warnings: list[str] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="Machine-readable rejection reason")
    message: str | None = Field(default=None, description="Why (never holds values)")


class ReportUploadResponse(BaseModel):
    request_id: str
    profile: str
    study_instance_uid: str = Field(description="The study's de-identified UID")
    study_stored: bool = Field(description="Whether images of the study are stored")
    stored: int
    rejected: int
    reports: list[ReportResult]


class StoredReport(BaseModel):
    report_id: str
    kind: str
    media_type: str
    key: str
    size: int
    sha256: str
    stored_at: str


class ReportList(BaseModel):
    study_instance_uid: str
    reports: list[StoredReport]


def report_intake(request: Request, services: ServicesDep) -> ReportIntake:
    """The report intake, built once per application from the services."""
    found = getattr(request.app.state, "report_intake", None)
    if not isinstance(found, ReportIntake) or found.intake is not services.intake:
        found = ReportIntake(services.intake)
        request.app.state.report_intake = found
    return found


ReportIntakeDep = Annotated[ReportIntake, Depends(report_intake)]


@router.post(
    "/studies/{study_uid}/reports",
    response_model=ReportUploadResponse,
    responses={
        201: {"description": "every report stored"},
        200: {"description": "some reports stored, some rejected (see each report)"},
        422: {"description": "no report could be stored; each report says why"},
        503: {"description": "storage or database unavailable; nothing stored"},
    },
    openapi_extra=_FORM_DOC,
)
async def upload_reports(
    study_uid: str,
    request: Request,
    principal: Uploader,
    services: ServicesDep,
    intake: ReportIntakeDep,
) -> JSONResponse:
    """De-identify, store and record the reports of one study."""
    settings = services.settings
    request_id: str = request.state.request_id
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    identifiers: str | None = None
    if content_type == _MULTIPART:
        async with request.form(
            max_files=settings.max_files, max_fields=8, max_part_size=64 << 10
        ) as form:
            profile = str(form.get("profile") or settings.default_profile)
            raw_identifiers = form.get("identifiers")
            identifiers = raw_identifiers if isinstance(raw_identifiers, str) else None
            items = [
                f
                for name in ("reports", "files")
                for f in form.getlist(name)
                if isinstance(f, StarletteUpload)
            ]
            reports = [
                (
                    item.filename or f"report-{i}",
                    await read_report_part(item, settings.max_part_bytes),
                    item.content_type,
                )
                for i, item in enumerate(items, 1)
            ]
    else:
        profile = request.query_params.get("profile") or settings.default_profile
        raw = await request.body()
        reports = [("body", raw if len(raw) <= settings.max_part_bytes else None, content_type)]
    if profile not in settings.allowed_profiles:
        return _error(422, "profile_not_allowed", "this profile is not allowed", request_id)
    if not reports:
        return _error(422, "no_reports", "send one or more reports in 'reports'", request_id)
    try:
        parsed_identifiers = parse_identifiers(identifiers)
        study = await run_in_threadpool(
            intake.resolve_study, study_uid, tenant=principal.tenant, profile=profile
        )
    except ReportError as exc:
        return _error(422, reason_of(exc), str(exc), request_id)
    results = await run_in_threadpool(
        _ingest,
        intake,
        reports,
        tenant=principal.tenant,
        profile=profile,
        request_id=request_id,
        study=study,
        identifiers=parsed_identifiers,
    )
    if isinstance(results, JSONResponse):
        return results
    stored = sum(r.status is not FileStatus.REJECTED for r in results)
    body = ReportUploadResponse(
        request_id=request_id,
        profile=profile,
        study_instance_uid=study.uid,
        study_stored=study.stored,
        stored=stored,
        rejected=len(results) - stored,
        reports=results,
    )
    status = 201 if stored == len(results) else 200 if stored else 422
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


@router.get(
    "/studies/{study_uid}/reports",
    response_model=ReportList,
    responses={451: {"description": "held at the data subject's request"}},
)
def list_reports(
    request: Request,
    study_uid: str,
    principal: Reader,
    services: ServicesDep,
    intake: ReportIntakeDep,
) -> Response:
    """The stored reports of a study (named by its original or de-identified UID)."""
    rows = intake.list_reports(
        tenant=principal.tenant, study_uid=study_uid, profile=services.settings.default_profile
    )
    study = rows[0].study_uid if rows else study_uid
    if rows and _held(services, principal.tenant, study):
        return held_response()
    listing = ReportList(
        study_instance_uid=study,
        reports=[
            StoredReport(
                report_id=r.report_id,
                kind=r.kind,
                media_type=r.media_type,
                key=r.object_key,
                size=r.size,
                sha256=r.sha256,
                stored_at=r.stored_at,
            )
            for r in rows
        ],
    )
    return JSONResponse(listing.model_dump(mode="json"))


@router.get(
    "/studies/{study_uid}/reports/{report_id}",
    responses={
        200: {"content": {"application/octet-stream": {}}},
        404: {"description": "no such report"},
        451: {"description": "held at the data subject's request"},
    },
)
def fetch_report(  # noqa: PLR0917 - FastAPI passes the path parameters by name
    request: Request,
    study_uid: str,
    report_id: str,
    principal: Reader,
    services: ServicesDep,
    intake: ReportIntakeDep,
) -> Response:
    """The stored (de-identified) report."""
    row = intake.find_report(
        tenant=principal.tenant,
        study_uid=study_uid,
        report_id=report_id,
        profile=services.settings.default_profile,
    )
    note_objects(request, [row.object_key])
    if _held(services, principal.tenant, row.study_uid):
        return held_response()
    data = services.storage.get(row.object_key)
    return Response(data, media_type=row.media_type, headers={"ETag": f'"{row.sha256}"'})


def _held(services: Services, tenant: str, study_uid: str) -> bool:
    """Whether the patient of the study's stored images asked for processing to stop."""
    rows = services.catalog.find(
        tenant=tenant, filters={"StudyInstanceUID": study_uid}, limit=100_000
    )
    return any_held(services, tenant, rows)


def parse_identifiers(text: str | None) -> dict[str, object] | None:
    """The optional ``identifiers`` form field: a JSON object of the study's identifiers."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ReportError(
            ReportReason.INVALID_IDENTIFIERS, "'identifiers' must be a JSON object"
        ) from None
    if not isinstance(value, dict):
        raise ReportError(ReportReason.INVALID_IDENTIFIERS, "'identifiers' must be a JSON object")
    return value


def store_upload_reports(
    reports: list[tuple[str, bytes | None, str | None]],
    *,
    intake: ReportIntake,
    tenant: str,
    profile: str,
    request_id: str,
    study_uids: list[str],
    identifiers: str | None = None,
) -> list[FileResult]:
    """The ``reports`` part of ``POST /v1/uploads``: one :class:`FileResult` per report.

    The study is the one named in ``study_uids`` (the form's ``study_instance_uid``, or the
    single study whose images the same request stored); none or several reject each report.
    """
    if len(set(study_uids)) != 1:
        message = "name the study of the reports in 'study_instance_uid'"
        return [_file_rejected(label, "study_required", message) for label, _, _ in reports]
    try:
        parsed = parse_identifiers(identifiers)
        study = intake.resolve_study(study_uids[0], tenant=tenant, profile=profile)
    except ReportError as exc:
        return [_file_rejected(label, reason_of(exc), str(exc)) for label, _, _ in reports]
    results = _ingest(
        intake,
        reports,
        tenant=tenant,
        profile=profile,
        request_id=request_id,
        study=study,
        identifiers=parsed,
    )
    if isinstance(results, JSONResponse):
        message = "'identifiers' is invalid"
        return [_file_rejected(label, "invalid_identifiers", message) for label, _, _ in reports]
    return [
        FileResult(
            file=r.file,
            status=r.status,
            key=r.key,
            study_instance_uid=study.uid if r.key else None,
            size=r.size,
            sha256=r.sha256,
            warnings=r.warnings,
            reason=r.reason,
            message=r.message,
        )
        for r in results
    ]


def _ingest(
    intake: ReportIntake,
    reports: list[tuple[str, bytes | None, str | None]],
    *,
    tenant: str,
    profile: str,
    request_id: str,
    study: StudyRef,
    identifiers: dict[str, object] | None,
) -> list[ReportResult] | JSONResponse:
    inputs = []
    too_large = []
    for label, data, media_type in reports:
        if data is None:
            too_large.append(
                ReportResult(
                    file=label,
                    status=FileStatus.REJECTED,
                    reason="too_large",
                    message="the report is larger than the part size limit",
                )
            )
        else:
            inputs.append((label, ReportInput(data, filename=label, media_type=media_type)))
    try:
        outcomes = intake.ingest(
            inputs,
            tenant=tenant,
            profile=profile,
            request_id=request_id,
            study=study,
            identifiers=identifiers,
        )
    except ReportError as exc:
        return _error(422, reason_of(exc), str(exc), request_id)
    except DeidError:
        UPLOADS.labels(door="reports", outcome="unavailable").inc()
        raise
    return too_large + [_result(o) for o in outcomes]


def _result(outcome: ReportOutcome) -> ReportResult:
    report = outcome.report
    if not outcome.stored or report is None:
        REJECTIONS.labels(reason=outcome.reason or "rejected").inc()
        UPLOADS.labels(door="reports", outcome="rejected").inc()
        return ReportResult(
            file=outcome.label,
            status=FileStatus.REJECTED,
            reason=outcome.reason,
            message=outcome.message,
        )
    UPLOADS.labels(door="reports", outcome="stored").inc()
    BYTES.inc(report.size)
    return ReportResult(
        file=outcome.label,
        status=FileStatus.STORED if outcome.created else FileStatus.DUPLICATE,
        report_id=report.report_id,
        kind=str(report.kind),
        media_type=report.media_type,
        key=outcome.key,
        size=report.size,
        sha256=report.sha256,
        replaced=dict(report.replaced),
        warnings=list(outcome.warnings),
    )


async def read_report_part(item: StarletteUpload, limit: int) -> bytes | None:
    """The part's bytes, or None when it is larger than ``limit``."""
    data = await item.read(limit + 1)
    return data if len(data) <= limit else None


def _file_rejected(label: str, reason: str, message: str) -> FileResult:
    return FileResult(file=label, status=FileStatus.REJECTED, reason=reason, message=message)


def _error(status: int, reason: str, message: str, request_id: str) -> JSONResponse:
    body = {"reason": reason, "message": message, "request_id": request_id}
    return JSONResponse(body, status_code=status)

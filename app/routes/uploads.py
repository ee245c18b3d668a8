"""``POST /v1/uploads``: multipart form uploads from web front ends, one result per file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from anonymizer.errors import DeidError, InputError, LedgerError, StorageUnavailable
from anonymizer.intake import ingest_image
from anonymizer.sources import SourceError, SourceReader, ZipLimits, list_source
from app.auth import Uploader
from app.observability import BYTES, REJECTIONS, UPLOADS
from app.routes.reports import read_report_part, report_intake, store_upload_reports
from app.schemas import FileResult, FileStatus, UploadResponse
from app.services import Services, get_services

router = APIRouter(prefix="/v1", tags=["uploads"])

_ZIP_MAGIC = b"PK\x03\x04"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


@router.post(
    "/uploads",
    response_model=UploadResponse,
    responses={
        201: {"description": "every file stored"},
        200: {"description": "some files stored, some rejected (see each file)"},
        422: {"description": "no file could be stored; each file says why"},
        503: {"description": "storage or database unavailable; nothing stored"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "description": "DICOM files, zip archives of them",
                            },
                            "reports": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "description": "analysis reports (JSON, text, PDF, DICOM SR)",
                            },
                            "study_instance_uid": {
                                "type": "string",
                                "description": "study of the reports, if no images are sent",
                            },
                            "identifiers": {
                                "type": "string",
                                "description": "JSON of the study's original identifiers, "
                                "used in memory only to find them in the reports",
                            },
                            "profile": {"type": "string", "description": "profile name"},
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def upload(
    request: Request,
    principal: Uploader,
    services: Annotated[Services, Depends(get_services)],
) -> JSONResponse:
    """De-identify every uploaded file, then store it; a JSON result per file."""
    settings = services.settings
    async with request.form(
        max_files=settings.max_files, max_fields=8, max_part_size=64 << 10
    ) as form:
        profile = str(form.get("profile") or settings.default_profile)
        if profile not in settings.allowed_profiles:
            return _error(422, "profile_not_allowed", "this profile is not allowed", request)
        uploads = [f for f in form.getlist("files") if isinstance(f, StarletteUpload)]
        report_parts = [f for f in form.getlist("reports") if isinstance(f, StarletteUpload)]
        if not uploads and not report_parts:
            return _error(
                422, "no_files", "send files in the 'files' field or reports in 'reports'", request
            )
        results: list[FileResult] = []
        for item in uploads:
            results.extend(
                await run_in_threadpool(
                    _process_upload,
                    item,
                    services=services,
                    tenant=principal.tenant,
                    profile=profile,
                    request_id=request.state.request_id,
                )
            )
        if report_parts:
            named = form.get("study_instance_uid")
            studies = (
                [named]
                if isinstance(named, str) and named
                else [
                    r.study_instance_uid
                    for r in results
                    if r.status is not FileStatus.REJECTED and r.study_instance_uid
                ]
            )
            items = [
                (
                    f.filename or "report",
                    await read_report_part(f, settings.max_part_bytes),
                    f.content_type,
                )
                for f in report_parts
            ]
            identifiers = form.get("identifiers")
            results.extend(
                await run_in_threadpool(
                    store_upload_reports,
                    items,
                    intake=report_intake(request, services),
                    tenant=principal.tenant,
                    profile=profile,
                    request_id=request.state.request_id,
                    study_uids=studies,
                    identifiers=identifiers if isinstance(identifiers, str) else None,
                )
            )
    stored = sum(r.status is not FileStatus.REJECTED for r in results)
    body = UploadResponse(
        request_id=request.state.request_id,
        profile=profile,
        stored=stored,
        rejected=len(results) - stored,
        files=results,
    )
    status = 201 if stored == len(results) else 200 if stored else 422
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


def _process_upload(
    item: StarletteUpload, *, services: Services, tenant: str, profile: str, request_id: str
) -> list[FileResult]:
    name = item.filename or "upload"
    item.file.seek(0)
    head = item.file.read(8)
    item.file.seek(0)
    spool = services.settings.spool_dir
    spool.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(dir=spool))
    try:
        if head.startswith(_ZIP_MAGIC):
            archive = folder / "upload.zip"
            _copy(item, archive)
            return _process_archive(
                archive,
                name,
                services=services,
                tenant=tenant,
                profile=profile,
                request_id=request_id,
            )
        if head.startswith((_PNG_MAGIC, _JPEG_MAGIC)):
            return [
                _ingest_image(
                    item,
                    name,
                    services=services,
                    tenant=tenant,
                    profile=profile,
                    request_id=request_id,
                )
            ]
        path = folder / "upload.dcm"
        _copy(item, path)
        return [
            _ingest(
                path, name, services=services, tenant=tenant, profile=profile, request_id=request_id
            )
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _process_archive(
    archive: Path, name: str, *, services: Services, tenant: str, profile: str, request_id: str
) -> list[FileResult]:
    settings = services.settings
    limits = ZipLimits(
        max_members=settings.max_archive_members,
        max_total_bytes=settings.max_inflated_bytes,
        max_ratio=float(settings.max_compression_ratio),
    )
    try:
        listing = list_source(archive, zip_limits=limits)
    except SourceError as exc:
        return [_rejected(name, str(exc.problem), str(exc))]
    results = [
        _rejected(f"{name}/{r.relative}", str(r.problem), r.message) for r in listing.refused
    ]
    with SourceReader() as reader:
        for member in listing.items:
            label = f"{name}/{member.relative}"
            try:
                with reader.open(member) as source:
                    results.append(
                        _ingest(
                            source,
                            label,
                            services=services,
                            tenant=tenant,
                            profile=profile,
                            request_id=request_id,
                        )
                    )
            except SourceError as exc:
                results.append(_rejected(label, str(exc.problem), str(exc)))
    return results


def _ingest(
    source: Path | bytes,
    label: str,
    *,
    services: Services,
    tenant: str,
    profile: str,
    request_id: str,
) -> FileResult:
    try:
        ingested = services.intake.ingest(
            source, tenant=tenant, profile=profile, request_id=request_id
        )
    except (StorageUnavailable, LedgerError):
        UPLOADS.labels(door="uploads", outcome="unavailable").inc()
        raise
    except (InputError, DeidError) as exc:
        if isinstance(exc, StorageUnavailable | LedgerError):
            raise
        REJECTIONS.labels(reason=str(exc.reason)).inc()
        UPLOADS.labels(door="uploads", outcome="rejected").inc()
        return _rejected(label, str(exc.reason), str(exc))
    result = ingested.result
    UPLOADS.labels(door="uploads", outcome="stored").inc()
    BYTES.inc(result.size)
    return FileResult(
        file=label,
        status=FileStatus.STORED if ingested.created else FileStatus.DUPLICATE,
        key=ingested.key,
        study_instance_uid=result.study_instance_uid,
        series_instance_uid=result.series_instance_uid,
        sop_instance_uid=result.sop_instance_uid,
        removed=result.removed,
        replaced=result.replaced,
        uids_mapped=result.uids_mapped,
        pixels_cleaned=result.pixels_cleaned,
        size=result.size,
        sha256=result.sha256,
        warnings=result.warnings,
    )


def _ingest_image(
    item: StarletteUpload,
    label: str,
    *,
    services: Services,
    tenant: str,
    profile: str,
    request_id: str,
) -> FileResult:
    item.file.seek(0)
    data = item.file.read(services.settings.max_part_bytes + 1)
    if len(data) > services.settings.max_part_bytes:
        return _rejected(label, "too_large", "the image is larger than the part limit")
    try:
        stored = ingest_image(
            services.intake, data, tenant=tenant, profile=profile, request_id=request_id
        )
    except (StorageUnavailable, LedgerError):
        UPLOADS.labels(door="uploads", outcome="unavailable").inc()
        raise
    except DeidError as exc:
        REJECTIONS.labels(reason=str(exc.reason)).inc()
        UPLOADS.labels(door="uploads", outcome="rejected").inc()
        return _rejected(label, str(exc.reason), str(exc))
    UPLOADS.labels(door="uploads", outcome="stored").inc()
    BYTES.inc(stored.size)
    return FileResult(
        file=label,
        status=FileStatus.STORED if stored.created else FileStatus.DUPLICATE,
        key=stored.key,
        pixels_cleaned=True,
        size=stored.size,
        sha256=stored.sha256,
        warnings=[f"metadata_removed:{kind}" for kind in stored.metadata_removed]
        + [f"pixels_masked:{stored.masked_boxes}_boxes"],
    )


def _rejected(label: str, reason: str, message: str) -> FileResult:
    return FileResult(file=label, status=FileStatus.REJECTED, reason=reason, message=message)


def _copy(item: StarletteUpload, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(item.file, out, 1 << 20)


def _error(status: int, reason: str, message: str, request: Request) -> JSONResponse:
    body = {"reason": reason, "message": message, "request_id": request.state.request_id}
    return JSONResponse(body, status_code=status)

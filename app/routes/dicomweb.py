"""DICOMweb: STOW-RS (store), QIDO-RS (search) and WADO-RS (retrieve), PS3.18.

STOW-RS answers (decided where PS3.18 leaves room, see README):
200 every instance stored (each with WarningReason B000: its attributes were coerced by
de-identification); 202 some stored, some failed; 400 nothing stored and every part was
unreadable (FailureReason C000); 409 nothing stored for other reasons (0110, A700);
415 not ``multipart/related; type="application/dicom"``; 406 an Accept we cannot produce;
503 storage or database down before anything was stored. Re-sent instances count as stored.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydicom
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydicom.datadict import dictionary_VR, tag_for_keyword
from starlette.concurrency import run_in_threadpool

from anonymizer.errors import DeidError, InputError, LedgerError, StorageUnavailable
from anonymizer.intake import StudyMismatch, catalog_tags
from anonymizer.models import InstanceRow
from anonymizer.pipeline import ObjectResult
from anonymizer.query_match import Predicate, QueryValueError, matcher
from app.access import any_held, held_response, note_objects, unheld
from app.auth import Reader, Uploader
from app.dicom_response import (
    DICOM_JSON,
    DICOM_XML,
    FAILURE_CANNOT_UNDERSTAND,
    FAILURE_OUT_OF_RESOURCES,
    FAILURE_PROCESSING,
    WARNING_COERCION,
    failed_item,
    referenced_item,
    store_response,
    to_json,
    to_xml,
)
from app.observability import BYTES, REJECTIONS, UPLOADS
from app.services import Services, get_services
from app.stow_parser import (
    Part,
    StowLimits,
    StowRequestError,
    parse_content_type,
    read_parts,
    remove_parts,
)

router = APIRouter(prefix="/dicomweb", tags=["dicomweb"])
ServicesDep = Annotated[Services, Depends(get_services)]

_STOW_DOC = {
    "requestBody": {
        "content": {
            'multipart/related; type="application/dicom"': {
                "schema": {"type": "string", "format": "binary"}
            }
        },
        "required": True,
    },
    "responses": {
        "200": {"description": "all stored", "content": {DICOM_JSON: {}, DICOM_XML: {}}},
        "202": {"description": "some stored, some failed"},
        "400": {"description": "nothing stored: unreadable parts or body"},
        "409": {"description": "nothing stored"},
        "415": {"description": "not multipart/related; type=application/dicom"},
    },
}


@router.post("/studies", openapi_extra=_STOW_DOC)
async def stow(request: Request, principal: Uploader, services: ServicesDep) -> Response:
    """Store instances (PS3.18 10.5)."""
    return await _stow(request, principal.tenant, services, study_uid=None)


@router.post("/studies/{study_uid}", openapi_extra=_STOW_DOC)
async def stow_study(
    request: Request, study_uid: str, principal: Uploader, services: ServicesDep
) -> Response:
    """Store instances of one study; others fail with 0110."""
    return await _stow(request, principal.tenant, services, study_uid=study_uid)


def public_base(request: Request, configured: str | None) -> str:
    """The base URL clients reach us at: configured, or from the request.

    Some clients send a Host header without the port; the port the server listens on
    then fills it in, so RetrieveURLs resolve.
    """
    if configured:
        return configured.rstrip("/")
    base = str(request.base_url).rstrip("/")
    host = request.headers.get("host", "")
    server = request.scope.get("server")
    if host and ":" not in host and server and server[1] not in (80, 443):
        base = f"{request.url.scheme}://{host}:{server[1]}"
    return base


def _accept(request: Request) -> str | None:
    accept = request.headers.get("accept", "").lower()
    if not accept or "*/*" in accept or DICOM_JSON in accept or "application/json" in accept:
        return DICOM_JSON
    if DICOM_XML in accept or "application/xml" in accept:
        return DICOM_XML
    return None


async def _stow(
    request: Request, tenant: str, services: ServicesDep, *, study_uid: str | None
) -> Response:
    media = _accept(request)
    if media is None:
        return _problem(406, "not_acceptable", "answers are application/dicom+json or +xml")
    settings = services.settings
    try:
        related = parse_content_type(request.headers.get("content-type"))
        spool = settings.spool_dir
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        parts = await read_parts(
            request.stream(),
            related=related,
            spool=spool,
            limits=StowLimits(
                max_parts=settings.max_files,
                max_part_bytes=settings.max_part_bytes,
                max_header_bytes=settings.max_header_bytes,
            ),
        )
    except StowRequestError as exc:
        return _problem(exc.status, exc.reason, str(exc))
    try:
        if not parts:
            return _problem(400, "no_parts", "the body holds no parts")
        outcome = await run_in_threadpool(
            _store_parts,
            parts,
            services=services,
            tenant=tenant,
            request_id=request.state.request_id,
            study_uid=study_uid,
            base=public_base(request, services.settings.public_url) + "/dicomweb",
        )
    finally:
        remove_parts(parts)
    return outcome.respond(media)


class _Outcome:
    def __init__(self) -> None:
        self.referenced: list[Any] = []
        self.failed: list[Any] = []
        self.reasons: list[int] = []
        self.unavailable = False
        self.studies: set[str] = set()
        self.base = ""

    def fail(self, part: Part, reason: int) -> None:
        """A failed item; the sender's own UIDs are read only now, for failures alone."""
        self.failed.append(failed_item(**_original_uids(part.path), reason=reason))
        self.reasons.append(reason)

    def stored(self, result: ObjectResult) -> None:
        UPLOADS.labels(door="stow", outcome="stored").inc()
        BYTES.inc(result.size)
        self.studies.add(result.study_instance_uid)
        url = (
            f"{self.base}/studies/{result.study_instance_uid}/series/"
            f"{result.series_instance_uid}/instances/{result.sop_instance_uid}"
        )
        self.referenced.append(
            referenced_item(
                sop_class=result.sop_class_uid,
                sop_instance=result.sop_instance_uid,
                url=url,
                warning=WARNING_COERCION,
            )
        )

    def respond(self, media: str) -> Response:
        if not self.referenced and self.unavailable:
            return _problem(503, "storage_unavailable", "storage or database unavailable")
        study_url = (
            f"{self.base}/studies/{next(iter(self.studies))}" if len(self.studies) == 1 else None
        )
        ds = store_response(study_url=study_url, referenced=self.referenced, failed=self.failed)
        if self.referenced and not self.failed:
            status = 200
        elif self.referenced:
            status = 202
        elif all(r == FAILURE_CANNOT_UNDERSTAND for r in self.reasons):
            status = 400
        else:
            status = 409
        if media == DICOM_XML:
            return Response(to_xml(ds), status_code=status, media_type=DICOM_XML)
        return Response(json.dumps(to_json(ds)), status_code=status, media_type=DICOM_JSON)


def _store_parts(
    parts: list[Part],
    *,
    services: Services,
    tenant: str,
    request_id: str,
    study_uid: str | None,
    base: str,
) -> _Outcome:
    outcome = _Outcome()
    outcome.base = base
    storable: list[Part] = []
    for part in parts:
        if part.too_large or part.path is None:
            outcome.fail(part, FAILURE_OUT_OF_RESOURCES)
        elif part.content_type not in ("application/dicom", ""):
            outcome.fail(part, FAILURE_CANNOT_UNDERSTAND)
        else:
            storable.append(part)
    # One call for the request: each part is de-identified and put, then all the ledger
    # rows and catalogue entries are written in one transaction.
    results = services.intake.ingest_many(
        [part.path for part in storable if part.path is not None],
        tenant=tenant,
        profile=services.settings.default_profile,
        request_id=request_id,
        study_uid=study_uid,
    )
    for part, result in zip(storable, results, strict=True):
        if isinstance(result, StorageUnavailable | LedgerError):
            outcome.unavailable = True
            UPLOADS.labels(door="stow", outcome="unavailable").inc()
            outcome.fail(part, FAILURE_OUT_OF_RESOURCES)
        elif isinstance(result, DeidError):
            REJECTIONS.labels(reason=str(result.reason)).inc()
            UPLOADS.labels(door="stow", outcome="rejected").inc()
            outcome.fail(part, _failure_reason(result))
        else:
            outcome.stored(result.result)
    return outcome


def _failure_reason(exc: DeidError) -> int:
    if isinstance(exc, StudyMismatch):
        return FAILURE_PROCESSING
    if isinstance(exc, InputError):
        return FAILURE_CANNOT_UNDERSTAND
    return FAILURE_PROCESSING


def _original_uids(path: Path | None) -> dict[str, str]:
    """The sender's own SOP Class/Instance UIDs, echoed in failures so it can match them."""
    empty = {"sop_class": "", "sop_instance": ""}
    if path is None:
        return empty
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"]
            )
        return {
            "sop_class": str(ds.get("SOPClassUID", "")),
            "sop_instance": str(ds.get("SOPInstanceUID", "")),
        }
    except Exception:  # noqa: BLE001 - an unreadable part is simply reported without UIDs
        return empty


def _problem(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"reason": reason, "message": message}, status_code=status)


# -- QIDO-RS ---------------------------------------------------------------------------

_STUDY_LEVEL = (
    "0020000D",
    "00080020",
    "00080030",
    "00080050",
    "00200010",
    "00100020",
    "00100010",
    "00100040",
    "00101010",
)
_SERIES_LEVEL = ("0020000E", "00080060", "00200011")
_INSTANCE_LEVEL = ("00080016", "00080018", "00200013", "00280010", "00280011", "00280008")
# Catalogue columns (indexed) that a plain single value can be matched on in SQL.
_COLUMN_KEYS = {
    "0020000D": "StudyInstanceUID",
    "0020000E": "SeriesInstanceUID",
    "00080018": "SOPInstanceUID",
    "00100020": "PatientID",
    "00080060": "Modality",
}
_PAGING = ("limit", "offset", "includefield", "fuzzymatching")


@dataclass
class _Query:
    """A QIDO-RS query: SQL filters, matchers over the stored attributes, paging, warnings."""

    filters: dict[str, str]
    matchers: list[tuple[str, Predicate]]
    limit: int
    offset: int
    warnings: list[str]

    def keep(self, row: InstanceRow) -> bool:
        if not self.matchers:
            return True
        stored: dict[str, Any] = json.loads(row.attributes)
        return all(match(stored.get(tag)) for tag, match in self.matchers)


def _query(request: Request, fixed: dict[str, str]) -> _Query:
    """Parse the query parameters (PS3.18 8.3.4): attributes by keyword or tag, matched as
    PS3.4 C.2.2.2 says (see :mod:`anonymizer.query_match`); raises ``QueryValueError``."""
    query = _Query(dict(fixed), [], 100, 0, [])
    for name, value in request.query_params.multi_items():
        if name in _PAGING:
            _paging(query, name, value)
            continue
        tag = _tag_of(name)
        if tag is None:  # not echoed: a caller's mistyped name might be anything
            query.warnings.append("a query parameter that names no DICOM attribute was ignored")
            continue
        if tag not in catalog_tags():
            query.warnings.append(f"the {name} query parameter is not supported")
            continue
        if tag in _COLUMN_KEYS and value and not re.search(r"[*?,\\-]", value):
            query.filters[_COLUMN_KEYS[tag]] = value
            continue
        query.matchers.append((tag, matcher(dictionary_VR(int(tag, 16)), value)))
    return query


def _paging(query: _Query, name: str, value: str) -> None:
    if name == "limit":
        query.limit = max(1, min(int(value), 1000)) if value.isdigit() else query.limit
    elif name == "offset":
        query.offset = int(value) if value.isdigit() else 0
    elif name == "fuzzymatching" and value.lower() == "true":
        query.warnings.append("the fuzzymatching parameter is not supported: literal matching")


def _tag_of(name: str) -> str | None:
    """``PatientName`` or ``00100010`` as an 8-digit hex tag; None if neither."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        return name.upper()
    tag = tag_for_keyword(name)
    return f"{tag:08X}" if tag is not None else None


def _search(
    request: Request, services: Services, tenant: str, fixed: dict[str, str]
) -> tuple[list[InstanceRow], _Query] | Response:
    try:
        query = _query(request, fixed)
    except QueryValueError as exc:
        return _problem(400, "bad_query", str(exc))
    rows = services.catalog.find(tenant=tenant, filters=query.filters, limit=100_000)
    return [row for row in unheld(services, tenant, rows) if query.keep(row)], query


def _attributes(row: InstanceRow, level: tuple[str, ...]) -> dict[str, Any]:
    stored: dict[str, Any] = json.loads(row.attributes)
    return {tag: stored[tag] for tag in level if tag in stored}


def _qido(rows: list[InstanceRow], group: str, level: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        key = getattr(row, group)
        counts[key] = counts.get(key, 0) + 1
        if key not in seen:
            seen[key] = _attributes(row, level)
    answers = []
    for key, attrs in seen.items():
        if group == "study_uid":
            attrs["00201208"] = {"vr": "IS", "Value": [counts[key]]}
        elif group == "series_uid":
            attrs["00201209"] = {"vr": "IS", "Value": [counts[key]]}
        answers.append(attrs)
    return answers


@router.get("/studies")
def search_studies(request: Request, principal: Reader, services: ServicesDep) -> Response:
    found = _search(request, services, principal.tenant, {})
    if isinstance(found, Response):
        return found
    rows, query = found
    return _paged(_qido(rows, "study_uid", _STUDY_LEVEL), query)


@router.get("/studies/{study_uid}/series")
def search_series(
    request: Request, study_uid: str, principal: Reader, services: ServicesDep
) -> Response:
    found = _search(request, services, principal.tenant, {"StudyInstanceUID": study_uid})
    if isinstance(found, Response):
        return found
    rows, query = found
    return _paged(_qido(rows, "series_uid", _STUDY_LEVEL + _SERIES_LEVEL), query)


@router.get("/studies/{study_uid}/series/{series_uid}/instances")
def search_instances(
    request: Request, study_uid: str, series_uid: str, principal: Reader, services: ServicesDep
) -> Response:
    fixed = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
    found = _search(request, services, principal.tenant, fixed)
    if isinstance(found, Response):
        return found
    rows, query = found
    level = _STUDY_LEVEL + _SERIES_LEVEL + _INSTANCE_LEVEL
    return _paged(_qido(rows, "sop_uid", level), query)


def _paged(answers: list[dict[str, Any]], query: _Query) -> JSONResponse:
    """One page of answers; unsupported parameters named in Warning headers (PS3.18 8.3.4)."""
    page = answers[query.offset : query.offset + query.limit]
    response = JSONResponse(page, media_type=DICOM_JSON)
    for warning in query.warnings:
        response.headers.append("Warning", f'299 upload-anonymizer: "{warning}"')
    return response


# -- WADO-RS ---------------------------------------------------------------------------


def _multipart(objects: list[bytes]) -> Response:
    boundary = secrets.token_hex(16)
    chunks = []
    for data in objects:
        chunks.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return Response(
        b"".join(chunks),
        media_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
    )


def _retrieve(
    request: Request, services: Services, tenant: str, filters: dict[str, str]
) -> Response:
    rows = services.catalog.find(tenant=tenant, filters=filters, limit=100_000)
    if not rows:
        return _problem(404, "not_found", "no such study, series or instance")
    note_objects(request, (row.object_key for row in rows))
    if any_held(services, tenant, rows):
        return held_response()
    return _multipart([services.storage.get(row.object_key) for row in rows])


@router.get("/studies/{study_uid}")
def retrieve_study(
    request: Request, study_uid: str, principal: Reader, services: ServicesDep
) -> Response:
    return _retrieve(request, services, principal.tenant, {"StudyInstanceUID": study_uid})


@router.get("/studies/{study_uid}/series/{series_uid}")
def retrieve_series(
    request: Request, study_uid: str, series_uid: str, principal: Reader, services: ServicesDep
) -> Response:
    filters = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
    return _retrieve(request, services, principal.tenant, filters)


@router.get("/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}")
def retrieve_instance(  # noqa: PLR0917 - FastAPI passes the path parameters by name
    request: Request,
    study_uid: str,
    series_uid: str,
    sop_uid: str,
    principal: Reader,
    services: ServicesDep,
) -> Response:
    filters = {
        "StudyInstanceUID": study_uid,
        "SeriesInstanceUID": series_uid,
        "SOPInstanceUID": sop_uid,
    }
    return _retrieve(request, services, principal.tenant, filters)


@router.get("/studies/{study_uid}/metadata")
def study_metadata(
    request: Request, study_uid: str, principal: Reader, services: ServicesDep
) -> Response:
    rows = services.catalog.find(
        tenant=principal.tenant, filters={"StudyInstanceUID": study_uid}, limit=100_000
    )
    if not rows:
        return _problem(404, "not_found", "no such study")
    note_objects(request, (row.object_key for row in rows))
    if any_held(services, principal.tenant, rows):
        return held_response()
    answers = []
    for row in rows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                io.BytesIO(services.storage.get(row.object_key)), stop_before_pixels=True
            )
        answers.append(ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=None))
    return JSONResponse(answers, media_type=DICOM_JSON)

"""Record every read of stored data and every admin action in the access log.

A middleware writes one access-log row per request to a recorded route, after the route
has answered and before the answer leaves: who (API key id and tenant, or nobody), when,
what (the route, the object keys the route noted, the redacted query and path
parameters), from where (the client address) and the outcome (from the status code).
If the row cannot be written, the answer is replaced by a 503: no read without its record.

Recorded: every ``GET`` under ``/dicomweb`` and ``/v1`` (WADO-RS, QIDO-RS, ledger export,
report downloads), and every other method under ``/v1`` except uploads (admin actions
such as subject requests). Uploads are recorded by the transfer ledger; health, metrics
and the OpenAPI pages are not data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from anonymizer.access_log import AccessRecord, Outcome
from anonymizer.apikeys import Principal
from anonymizer.errors import LedgerError
from anonymizer.models import InstanceRow
from app.services import Services

logger = logging.getLogger(__name__)
_NOBODY = "(none)"
_NOT_RECORDED = ("/v1/uploads",)
HELD_STATUS = 451


def note_objects(request: Request, keys: Iterable[str]) -> None:
    """Name the object keys this request read (or acted on) in its access-log row."""
    noted: list[str] = getattr(request.state, "access_objects", [])
    noted.extend(keys)
    request.state.access_objects = noted


def note_query(request: Request, **values: str) -> None:
    """Add parameters (redacted like the query) to this request's access-log row."""
    noted: dict[str, str] = getattr(request.state, "access_query", {})
    noted.update(values)
    request.state.access_query = noted


def unheld(services: Services, tenant: str, rows: Sequence[InstanceRow]) -> list[InstanceRow]:
    """The rows whose patient is not held (QIDO-RS skips held objects)."""
    held = services.privacy.holds.held(tenant=tenant, patients={row.patient_id for row in rows})
    return [row for row in rows if row.patient_id not in held]


def any_held(services: Services, tenant: str, rows: Sequence[InstanceRow]) -> bool:
    """Whether any of the rows belongs to a held patient (WADO-RS then refuses)."""
    return bool(
        services.privacy.holds.held(tenant=tenant, patients={row.patient_id for row in rows})
    )


def held_response() -> JSONResponse:
    """451: the data subject asked for processing to be suspended."""
    return JSONResponse(
        {"reason": "held", "message": "held at the data subject's request; not served"},
        status_code=HELD_STATUS,
    )


def recorded(method: str, path: str) -> bool:
    """Whether a request to ``path`` goes into the access log."""
    if path.startswith(_NOT_RECORDED):
        return False
    if method == "POST" and path.endswith("/reports"):
        return False  # report uploads are transfers: the ledger records them
    if method in ("GET", "HEAD"):
        return path.startswith(("/dicomweb/", "/v1/"))
    return path.startswith("/v1/")


def _caller(request: Request, services: Services, status: int) -> Principal | None:
    """Who called: set by authentication, or (for a 403) the valid key that lacked a scope."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None and status == 403:
        header = request.headers.get("authorization", "")
        token = request.headers.get("x-api-key") or (
            header[7:].strip() if header.lower().startswith("bearer ") else ""
        )
        principal = services.api_keys.authenticate(token) if token else None
    return principal


def access_record(request: Request, status: int, principal: Principal | None) -> AccessRecord:
    """The access-log row of an answered request."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    query = dict(request.query_params.items())
    query.update({str(k): str(v) for k, v in request.scope.get("path_params", {}).items()})
    query.update(getattr(request.state, "access_query", {}))
    return AccessRecord(
        tenant=principal.tenant if principal else _NOBODY,
        actor=principal.key_id if principal else _NOBODY,
        action=f"{request.method} {template}",
        client=request.client.host if request.client else "unknown",
        outcome=Outcome.from_status(status),
        objects=tuple(getattr(request.state, "access_objects", ())),
        query=query,
        request_id=str(getattr(request.state, "request_id", "")),
    )


def install_access_log(app: FastAPI) -> None:
    """Add the middleware that records reads and admin actions."""
    app.add_middleware(AccessLogMiddleware)


class AccessLogMiddleware:
    """Requests to recorded routes go through :func:`_record_access`; the others (uploads,
    STOW-RS, health) pass straight through, without ``BaseHTTPMiddleware``'s cost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.recording = BaseHTTPMiddleware(app, dispatch=_record_access)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and recorded(scope["method"], Request(scope).url.path):
            await self.recording(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def _record_access(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    if request.scope.get("route") is None:
        return response  # no such route: nothing was read
    services: Services = request.app.state.services
    try:
        caller = await run_in_threadpool(_caller, request, services, response.status_code)
        record = access_record(request, response.status_code, caller)
        await run_in_threadpool(services.privacy.access_log.append, record)
    except LedgerError as exc:
        logger.error("access log write failed (%s); answer withheld", type(exc).__name__)
        await _discard(response)
        return JSONResponse(
            {"reason": str(exc.reason), "message": "the access could not be recorded"},
            status_code=503,
            headers={"Retry-After": "30"},
        )
    return response


async def _discard(response: Response) -> None:
    """Drain a streamed answer that will not be sent, so its resources are released."""
    body = getattr(response, "body_iterator", None)
    if body is not None:
        async for _chunk in body:
            pass

"""One table from library errors to HTTP answers; bodies carry reasons, never values."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from anonymizer.errors import (
    DeidError,
    InputError,
    LedgerError,
    ObjectNotFound,
    ProfileNotFound,
    StorageUnavailable,
)

logger = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[DeidError], int], ...] = (
    (ObjectNotFound, 404),
    (ProfileNotFound, 404),
    (InputError, 422),
    (StorageUnavailable, 503),
    (LedgerError, 503),
)


def status_for(exc: DeidError) -> int:
    """The HTTP status of a library error."""
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code
    return 500


def error_body(exc: DeidError, request_id: str) -> dict[str, str]:
    """``reason`` is machine-readable; the message never holds element values."""
    code = status_for(exc)
    message = str(exc) if code < 500 or code == 503 else "internal error"
    return {"reason": str(exc.reason), "message": message, "request_id": request_id}


def register_error_handlers(app: FastAPI) -> None:
    """Install the handler table."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DeidError)  # noqa: S101 - registered for DeidError only
        request_id = getattr(request.state, "request_id", "")
        code = status_for(exc)
        if code >= 500:
            logger.error("request failed reason=%s type=%s", exc.reason, type(exc).__name__)
        headers = {"Retry-After": "30"} if code == 503 else None
        return JSONResponse(error_body(exc, request_id), status_code=code, headers=headers)

    app.add_exception_handler(DeidError, handle)

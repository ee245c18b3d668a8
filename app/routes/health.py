"""Liveness and readiness: the only routes that need no API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from anonymizer.errors import DeidError
from app.services import Services, get_services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    """Storage and database both answer."""
    checks: dict[str, str] = {}
    for name, ping in (("storage", services.storage.ping), ("database", services.ledger.ping)):
        try:
            ping()
            checks[name] = "ok"
        except DeidError as exc:
            checks[name] = str(exc.reason)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

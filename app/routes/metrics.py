"""``GET /metrics``: Prometheus metrics (counts, sizes, reasons, latencies; no values)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.auth import Admin
from app.observability import REGISTRY

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
def metrics(principal: Admin) -> Response:
    """Prometheus text format; scrape with an admin key as a bearer token."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

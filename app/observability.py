"""JSON logs with request ids, and Prometheus metrics. Nothing identifying in either."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()
UPLOADS = Counter(
    "anonymizer_objects_total",
    "Objects received, by door and outcome",
    ["door", "outcome"],
    registry=REGISTRY,
)
BYTES = Counter(
    "anonymizer_stored_bytes_total", "Bytes of de-identified objects stored", registry=REGISTRY
)
REJECTIONS = Counter(
    "anonymizer_rejections_total", "Objects rejected, by reason", ["reason"], registry=REGISTRY
)
STAGE_SECONDS = Histogram(
    "anonymizer_stage_seconds", "Time spent per stage", ["stage"], registry=REGISTRY
)
REQUEST_SECONDS = Histogram(
    "anonymizer_request_seconds",
    "Request latency by route template",
    ["route", "status"],
    registry=REGISTRY,
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and request id if known."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            data["request_id"] = request_id
        return json.dumps(data)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON logs on stderr for the service process."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def install(app: FastAPI) -> None:
    """Request ids on every request and response, and latency metrics."""
    access = logging.getLogger("app.access")

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = secrets.token_hex(8)
        request.state.request_id = request_id
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUEST_SECONDS.labels(route=route, status=str(response.status_code)).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        access.info(
            "%s %s %d %.1fms",
            request.method,
            route,
            response.status_code,
            elapsed * 1000,
            extra={"request_id": request_id},
        )
        return response

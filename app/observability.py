"""JSON logs with request ids, and Prometheus metrics. Nothing identifying in either."""

from __future__ import annotations

import json
import logging
import secrets
import time

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    app.add_middleware(RequestContext)


class RequestContext:
    """Pure ASGI middleware (no response re-streaming, unlike ``BaseHTTPMiddleware``):
    a request id in ``request.state`` and the ``X-Request-ID`` header, the latency
    histogram and one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("app.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # unless the app answers: an exception becomes a 500 further out

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUEST_SECONDS.labels(route=route, status=str(status)).observe(elapsed)
            self.log.info(
                "%s %s %d %.1fms",
                scope["method"],
                route,
                status,
                elapsed * 1000,
                extra={"request_id": request_id},
            )

"""``create_app``: the FastAPI application, built from settings; nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from anonymizer import __version__
from app import observability
from app.access import install_access_log
from app.errors import register_error_handlers
from app.limits import BodyLimitMiddleware
from app.retention_task import retention_schedule
from app.routes import dicomweb, health, ledger, metrics, reports, subjects, uploads
from app.services import Services, build_services
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the service. Tests pass their own settings or services."""
    settings = settings or (services.settings if services else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings)
        try:
            async with retention_schedule(app.state.services):
                yield
        finally:
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="upload anonymizer",
        version=__version__,
        description=(
            "De-identifies medical images the moment they are uploaded (DICOM PS3.15 "
            "profiles), then stores them and records every transfer in a hash-chained ledger."
        ),
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    register_error_handlers(app)
    install_access_log(app)
    observability.install(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    for module in (health, uploads, dicomweb, ledger, metrics, subjects, reports):
        app.include_router(module.router)
    return app


def create_worker_app() -> FastAPI:
    """The app of one ``anonymizer serve --workers N`` process.

    uvicorn starts each worker in a fresh interpreter, where the serving process's logging
    setup does not exist: JSON logs are configured here again, then the app is built.
    """
    import logging  # noqa: PLC0415 - the factory runs once per worker

    observability.configure_logging(logging.INFO)
    return create_app()

"""The scheduled retention run inside the service: off unless ``RETENTION_SCHEDULE_HOURS``.

Every that many hours the service runs retention as ``anonymizer retention run`` would,
approved by ``RETENTION_APPROVER`` (the standing approval of the policy, recorded with
each run). Enable it on one replica only: runs on two replicas at once would both destroy
the same objects, and the second would write a redundant ``destroyed`` row.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from anonymizer.errors import DeidError
from anonymizer.privacy import RetentionReport
from app.services import Services

logger = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


def run_scheduled(services: Services, *, now: dt.datetime) -> RetentionReport:
    """One scheduled run, approved by the configured standing approval."""
    report = services.privacy.run_retention(
        approved_by=services.settings.retention_approver,
        now=now,
        actor="scheduled task",
        client="service",
    )
    logger.info(
        "retention run %s: %d due, %d destroyed, %d held, %d failed",
        report.run_id,
        len(report.due),
        len(report.destroyed),
        len(report.held),
        len(report.failed),
    )
    return report


async def retention_loop(
    services: Services,
    *,
    hours: float,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> None:
    """Sleep, run, repeat; a failed run is logged and the next one tries again."""
    while True:
        await sleep(hours * 3600)
        try:
            await run_in_threadpool(run_scheduled, services, now=clock())
        except DeidError as exc:
            logger.error("scheduled retention run failed (%s)", type(exc).__name__)


@contextlib.asynccontextmanager
async def retention_schedule(services: Services) -> AsyncIterator[asyncio.Task[None] | None]:
    """Run :func:`retention_loop` for the app's lifetime when the setting asks for it."""
    hours = services.settings.retention_schedule_hours
    if hours <= 0:
        yield None
        return
    task = asyncio.create_task(retention_loop(services, hours=hours))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

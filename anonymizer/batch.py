"""De-identify a whole data set: a directory tree, a zip archive or one file.

Used by ``anonymizer anonymize`` and, later, by the service::

    summary = run_batch(
        Path("raw"), Path("deid"), profile="research", key=PseudonymKey.from_file("deid.key"),
        key_path=Path("deid.key"), workers=4,
    )

Pseudonyms are keyed and deterministic, so the outputs are the same whatever the number of
workers. Every input gets one line in the report; a re-run with the same key and profile
skips the inputs whose output is already there (resume).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from anonymizer.batch_plan import Placer, Planner
from anonymizer.batch_report import (
    ItemRecord,
    ItemStatus,
    ReportFormat,
    ReportWriter,
    read_report,
)
from anonymizer.batch_worker import (
    Layout,
    Outcome,
    Task,
    WorkerConfig,
    init_worker,
    run_task,
    worker_for,
)
from anonymizer.dicom_file import Limits
from anonymizer.errors import DeidError
from anonymizer.keys import PseudonymKey
from anonymizer.pipeline import Anonymizer
from anonymizer.sources import ZipLimits, list_source

__all__ = [
    "BatchConfigError",
    "BatchSummary",
    "ItemRecord",
    "ItemStatus",
    "Layout",
    "ReportFormat",
    "ZipLimits",
    "run_batch",
]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

REPORT_NAME = "anonymizer-report.jsonl"

Progress = Callable[[ItemRecord, int], None]
"""Called after each input with its record and the number of inputs in all."""


class BatchConfigError(DeidError):
    """The batch cannot start: the destination overlaps the source, or is not a folder."""


@dataclass
class BatchSummary:
    """Counts of one batch run."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    report_path: Path = Path(REPORT_NAME)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Inputs per second (skipped ones included)."""
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def add(self, record: ItemRecord) -> None:
        """Count one finished input."""
        self.total += 1
        if record.status is ItemStatus.OK:
            self.ok += 1
        elif record.status is ItemStatus.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1
            self.reasons[record.reason or "unknown"] += 1


def run_batch(
    source: Path,
    destination: Path,
    *,
    profile: str | Path,
    key: PseudonymKey,
    key_path: Path | None = None,
    workers: int = 1,
    layout: Layout = Layout.TREE,
    report_path: Path | None = None,
    resume: bool = True,
    verify_resume: bool = False,
    limits: Limits | None = None,
    zip_limits: ZipLimits | None = None,
    progress: Progress | None = None,
) -> BatchSummary:
    """De-identify every input of ``source`` into ``destination``.

    Parameters
    ----------
    source
        A DICOM file, a directory (walked recursively, links not followed) or a ``.zip``.
    destination
        The output folder; created when missing.
    profile
        A profile name or a path to a YAML profile.
    key
        The pseudonym key.
    key_path
        The file ``key`` was read from; worker processes read it again from there. When
        None, the key itself is handed to the workers (a throw-away key).
    workers
        Number of processes; 1 runs everything in this process.
    layout
        ``tree`` mirrors the input paths; ``uid`` names outputs by their new UIDs.
    report_path
        The JSON Lines (or ``.csv``) report; ``destination/anonymizer-report.jsonl`` when None.
    resume
        Skip inputs the report lists as done whose output is still there (same size).
        Always off with a throw-away key, whose pseudonyms differ on every run.
    verify_resume
        Also compare the SHA-256 of each output before skipping it.
    limits, zip_limits
        Caps on each input and on an archive.
    progress
        Called after each input.

    Raises
    ------
    BatchConfigError
        The destination is the source, contains it, or is a file.
    SourceError
        The source does not exist, or an archive is refused whole.
    ProfileError
        The profile cannot be loaded.
    """
    if workers < 1:
        raise BatchConfigError("workers must be at least 1")
    started = time.perf_counter()
    report_path = report_path or destination / REPORT_NAME
    _check_places(source, destination)
    # Built here even when workers do the work: a bad profile fails before any process starts.
    anonymizer = Anonymizer(profile=profile, key=key, limits=limits)
    config = WorkerConfig(
        profile=profile,
        key_path=key_path,
        key=None if key_path is not None else key,
        key_id=key.key_id,
        profile_label=f"{anonymizer.compiled.name}@v{anonymizer.compiled.profile.version}",
        limits=anonymizer.limits,
        destination=destination,
        layout=layout,
    )
    listing = list_source(
        source, exclude=(destination, report_path), zip_limits=zip_limits or ZipLimits()
    )
    destination.mkdir(parents=True, exist_ok=True)
    previous = read_report(report_path) if resume and not key.ephemeral else {}
    total = len(listing.items) + len(listing.refused)
    summary = BatchSummary(report_path=report_path)
    planner = Planner(config=config, key=key, previous=previous, verify=verify_resume)
    placer = Placer(destination)
    with ReportWriter(report_path) as writer:

        def finish(record: ItemRecord) -> None:
            placer.note(record)
            writer.write(record)
            summary.add(record)
            if progress is not None:
                progress(record, total)

        for refused in listing.refused:
            finish(
                ItemRecord(
                    input=planner.label(refused.relative),
                    status=ItemStatus.FAILED,
                    reason=refused.problem.value,
                    message=refused.message,
                    profile=config.profile_label,
                    key_id=config.key_id,
                )
            )
        tasks: list[Task] = []
        for item in listing.items:
            planned = planner.plan(item, report_path=report_path)
            if isinstance(planned, ItemRecord):
                finish(planned)
            else:
                tasks.append(planned)
        for outcome in _execute(tasks, config=config, anonymizer=anonymizer, workers=workers):
            finish(placer.place(outcome))
    summary.seconds = time.perf_counter() - started
    logger.info(
        "batch done total=%d ok=%d failed=%d skipped=%d seconds=%.1f",
        summary.total,
        summary.ok,
        summary.failed,
        summary.skipped,
        summary.seconds,
    )
    return summary


def _check_places(source: Path, destination: Path) -> None:
    if not source.exists() and not source.is_symlink():
        raise BatchConfigError("the source does not exist")
    if destination.exists() and not destination.is_dir():
        raise BatchConfigError("the destination exists and is not a folder")
    src, dst = source.resolve(), destination.resolve()
    if src == dst or src.is_relative_to(dst):
        # Outputs could overwrite inputs; a destination inside the source is fine (skipped).
        raise BatchConfigError("the source is the destination or lies inside it")


def _execute(
    tasks: list[Task], *, config: WorkerConfig, anonymizer: Anonymizer, workers: int
) -> Iterator[Outcome]:
    if workers == 1 or len(tasks) <= 1:
        with worker_for(config, anonymizer) as worker:
            for task in tasks:
                yield worker.process(task)
        return
    # spawn, not fork: the parent may run threads (the progress bar's monitor).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=init_worker, initargs=(config,)
    ) as pool:
        try:
            yield from _bounded_map(pool, tasks, window=workers * 4)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _bounded_map(
    pool: ProcessPoolExecutor, tasks: Iterable[Task], *, window: int
) -> Iterator[Outcome]:
    # A bounded number of tasks in flight keeps memory flat for millions of inputs.
    queue = iter(tasks)
    pending: set[Future[Outcome]] = set()
    for task in queue:
        pending.add(pool.submit(run_task, task))
        if len(pending) >= window:
            break
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()
            following = next(queue, None)
            if following is not None:
                pending.add(pool.submit(run_task, following))

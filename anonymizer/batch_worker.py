"""The part of a batch that runs in each worker: one input in, one report record out.

A worker process builds one :class:`~anonymizer.pipeline.Anonymizer` in its initializer,
from the profile name or path and the key file (or, for a throw-away key, the key the parent
made, so that every worker shares it), then de-identifies the inputs it is handed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from anonymizer.batch_report import ItemRecord, ItemStatus
from anonymizer.dicom_file import Limits
from anonymizer.errors import DeidError
from anonymizer.keys import PseudonymKey
from anonymizer.pipeline import Anonymizer, ObjectResult
from anonymizer.sources import SourceError, SourceItem, SourceReader

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

# A UID as a path part: digits and single dots only, so never "." or "..".
_UID_PART = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_UID_MAX = 64


class Layout(StrEnum):
    """How outputs are named under the destination."""

    TREE = "tree"  # the input's relative path
    UID = "uid"  # <StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm, new UIDs


class WorkerProblem(StrEnum):
    """Reasons a worker fails an input, beside :class:`~anonymizer.errors.Reason`."""

    INVALID_OUTPUT_UID = "invalid_output_uid"
    IO_ERROR = "io_error"
    INTERNAL_ERROR = "internal_error"


class UnusableOutputUid(DeidError):
    """A new UID cannot name an output path (missing, too long, not digits and dots)."""


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker process needs; pickled once per process."""

    profile: str | Path
    key_path: Path | None
    key: PseudonymKey | None
    key_id: str
    profile_label: str
    limits: Limits
    destination: Path
    layout: Layout


@dataclass(frozen=True)
class Outcome:
    """A worker's answer: the record, and for the uid layout the staged output file.

    The parent moves a staged file to ``record.output`` itself, so that two inputs with
    the same new SOP Instance UID are caught instead of one overwriting the other.
    """

    record: ItemRecord
    staged: Path | None = None


@dataclass(frozen=True)
class Task:
    """One input to de-identify; ``output`` is set for the tree layout."""

    item: SourceItem
    label: str
    output: str | None


class Worker:
    """De-identifies inputs with one Anonymizer; never raises for a bad input."""

    def __init__(self, config: WorkerConfig, anonymizer: Anonymizer) -> None:
        self.config = config
        self.anonymizer = anonymizer
        self.reader = SourceReader()

    def process(self, task: Task) -> Outcome:
        """De-identify one input; return its report record (and staged file)."""
        try:
            # pydicom warns with element values in the text: never shown, never logged.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result, output, staged = self._write(task)
        except DeidError as exc:
            return self._failed(task, reason=_reason_of(exc), message=str(exc))
        except OSError as exc:
            # strerror only: the exception's text holds the path, maybe a patient's name.
            message = f"{type(exc).__name__}: {exc.strerror or 'input/output error'}"
            return self._failed(task, reason=WorkerProblem.IO_ERROR, message=message)
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop a batch
            # The type only: the traceback text of a parser error can quote values.
            logger.error("unexpected %s", type(exc).__name__)
            return self._failed(
                task, reason=WorkerProblem.INTERNAL_ERROR, message=type(exc).__name__
            )
        record = ItemRecord.from_result(
            result,
            input_label=task.label,
            output=output,
            profile=self.config.profile_label,
            key_id=self.config.key_id,
        )
        return Outcome(record, staged)

    def close(self) -> None:
        """Close the archives this worker opened."""
        self.reader.close()

    def _write(self, task: Task) -> tuple[ObjectResult, str, Path | None]:
        destination = self.config.destination
        with self.reader.open(task.item) as data:
            if task.output is not None:
                result = self.anonymizer.anonymize_file(data, destination / task.output)
                return result, task.output, None
            # The UIDs are known only once the object is done: write to a private temporary
            # file in the destination; the parent moves it to its name (same file system).
            fd, tmp_name = tempfile.mkstemp(dir=destination, prefix=".partial-", suffix=".dcm")
            staged = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as handle:
                    result = self.anonymizer.anonymize(data, handle)
                output = uid_output_path(result)
            except BaseException:
                staged.unlink(missing_ok=True)
                raise
            return result, output, staged

    def _failed(self, task: Task, *, reason: str, message: str) -> Outcome:
        record = ItemRecord(
            input=task.label,
            status=ItemStatus.FAILED,
            reason=str(reason),
            message=message,
            profile=self.config.profile_label,
            key_id=self.config.key_id,
        )
        return Outcome(record)


def uid_output_path(result: ObjectResult) -> str:
    """``<study>/<series>/<sop>.dcm`` from the new UIDs, each checked to be a safe path part.

    Raises
    ------
    UnusableOutputUid
        A UID is missing or is not a string of digits and dots of at most 64 characters.
    """
    parts = []
    for name, uid in (
        ("StudyInstanceUID", result.study_instance_uid),
        ("SeriesInstanceUID", result.series_instance_uid),
        ("SOPInstanceUID", result.sop_instance_uid),
    ):
        if not uid or len(uid) > _UID_MAX or not _UID_PART.fullmatch(uid):
            raise UnusableOutputUid(f"{name} is missing or not a valid UID; cannot name the output")
        parts.append(uid)
    return str(PurePosixPath(parts[0], parts[1], parts[2] + ".dcm"))


def _reason_of(exc: DeidError) -> str:
    if isinstance(exc, SourceError):
        return exc.problem.value
    if isinstance(exc, UnusableOutputUid):
        return WorkerProblem.INVALID_OUTPUT_UID.value
    return exc.reason.value


@contextlib.contextmanager
def worker_for(config: WorkerConfig, anonymizer: Anonymizer) -> Iterator[Worker]:
    """A worker in this process, sharing the caller's Anonymizer."""
    worker = Worker(config, anonymizer)
    try:
        yield worker
    finally:
        worker.close()


_WORKER: Worker | None = None


def init_worker(config: WorkerConfig) -> None:
    """Process pool initializer: build this process's Anonymizer."""
    global _WORKER  # noqa: PLW0603 - one worker per process is the point
    if config.key_path is not None:
        key = PseudonymKey.from_file(config.key_path)
        if key.key_id != config.key_id:
            raise DeidError("the key file changed while the batch was starting")
    elif config.key is not None:
        key = config.key
    else:
        raise DeidError("a worker needs a key file or a key")
    _WORKER = Worker(config, Anonymizer(profile=config.profile, key=key, limits=config.limits))


def run_task(task: Task) -> Outcome:
    """Process pool entry point: one input in this process's worker."""
    if _WORKER is None:
        raise DeidError("the worker process was not initialised")
    return _WORKER.process(task)

"""Deciding, in the parent process, what each input of a batch needs and where it goes.

The planner names each input in the report and skips what an earlier run already did
(resume); the placer moves the outputs of the uid layout to their names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from anonymizer.batch_report import ItemRecord, ItemStatus
from anonymizer.batch_worker import Layout, Outcome, Task, WorkerConfig, WorkerProblem
from anonymizer.keys import PseudonymKey
from anonymizer.sources import SourceItem

DONE = (ItemStatus.OK, ItemStatus.SKIPPED)
_HASH_CHUNK = 1 << 20


class BatchProblem(StrEnum):
    """Batch-level reasons an input failed, beside :class:`~anonymizer.errors.Reason`."""

    OUTPUT_CONFLICT = "output_path_conflict"
    DUPLICATE_SOP_INSTANCE = "duplicate_sop_instance_uid"


@dataclass
class Planner:
    """Names each input in the report and decides whether it is already done."""

    config: WorkerConfig
    key: PseudonymKey
    previous: dict[str, ItemRecord]
    verify: bool

    def label(self, relative: str) -> str:
        """The input's name in the report: its path, or a keyed hash of it (uid layout)."""
        if self.config.layout is Layout.TREE:
            # The output path mirrors the input path anyway.
            return relative
        # Input names can hold patient names: the uid layout reports a keyed hash instead.
        digest = hmac.new(
            self.key.secret,
            b"batch-input\0" + relative.encode("utf-8", "surrogateescape"),
            hashlib.sha256,
        )
        return "h-" + digest.hexdigest()[:32]

    def plan(self, item: SourceItem, *, report_path: Path) -> Task | ItemRecord:
        """A task for a worker, or the record of an input that needs no work."""
        label = self.label(item.relative)
        output = item.relative if self.config.layout is Layout.TREE else None
        if output is not None and _same_file(self.config.destination / output, report_path):
            return ItemRecord(
                input=label,
                status=ItemStatus.FAILED,
                reason=BatchProblem.OUTPUT_CONFLICT.value,
                message="the output would overwrite the report",
                profile=self.config.profile_label,
                key_id=self.config.key_id,
            )
        previous = self.previous.get(label)
        if previous is not None and self._done(previous, output):
            return dataclasses.replace(previous, status=ItemStatus.SKIPPED, input=label)
        return Task(item=item, label=label, output=output)

    def _done(self, previous: ItemRecord, output: str | None) -> bool:
        if previous.status not in DONE or not previous.output_is_safe():
            return False
        if (previous.key_id, previous.profile) != (self.config.key_id, self.config.profile_label):
            return False
        if output is not None and previous.output != output:
            return False
        path = self.config.destination / str(previous.output)
        if not path.is_file() or path.stat().st_size != previous.size:
            return False
        return not self.verify or _sha256(path) == previous.sha256


class Placer:
    """Moves staged uid-layout outputs to their names, refusing duplicate SOP Instance UIDs.

    Two inputs of one run that become the same SOP Instance UID (the same instance sent
    twice, perhaps in another transfer syntax) would otherwise overwrite each other. The
    same bytes twice are fine; different bytes fail the later one.
    """

    def __init__(self, destination: Path) -> None:
        self.destination = destination
        self.written: dict[str, str | None] = {}

    def note(self, record: ItemRecord) -> None:
        """Remember an output this run produced or kept."""
        if record.status in DONE and record.output:
            self.written[record.output] = record.sha256

    def place(self, outcome: Outcome) -> ItemRecord:
        """Move a staged output to its name; the record to report."""
        record, staged = outcome.record, outcome.staged
        if staged is None or record.output is None:
            return record
        if record.output in self.written:
            staged.unlink(missing_ok=True)
            if self.written[record.output] == record.sha256:
                return record
            return _failed_like(
                record,
                reason=BatchProblem.DUPLICATE_SOP_INSTANCE,
                message="another input of this run has the same new SOP Instance UID",
            )
        target = self.destination / record.output
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(target)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            return _failed_like(
                record,
                reason=WorkerProblem.IO_ERROR,
                message=f"{type(exc).__name__}: {exc.strerror or 'input/output error'}",
            )
        return record


def _failed_like(record: ItemRecord, *, reason: str, message: str) -> ItemRecord:
    return ItemRecord(
        input=record.input,
        status=ItemStatus.FAILED,
        reason=str(reason),
        message=message,
        profile=record.profile,
        key_id=record.key_id,
    )


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

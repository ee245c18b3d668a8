"""The batch report: one line per input, appended as each input finishes.

JSON Lines by default, CSV when the report's name ends in ``.csv``. A line holds the input's
relative path (or a keyed hash of it), the output path, the status, the reason of a failure,
the new UIDs and counts, never a value from inside a file. A re-run reads the report back
to skip what is already done.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from anonymizer.pipeline import ObjectResult


class ItemStatus(StrEnum):
    """What happened to one input."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class ReportFormat(StrEnum):
    """How the report is written."""

    JSONL = "jsonl"
    CSV = "csv"

    @classmethod
    def for_path(cls, path: Path) -> ReportFormat:
        """CSV for a ``.csv`` name, JSON Lines otherwise."""
        return cls.CSV if path.suffix.lower() == ".csv" else cls.JSONL


@dataclass
class ItemRecord:
    """One line of the report."""

    input: str
    status: ItemStatus
    output: str | None = None
    reason: str | None = None
    message: str | None = None
    profile: str | None = None
    key_id: str | None = None
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    sop_class_uid: str | None = None
    transfer_syntax: str | None = None
    patient_pseudonym: str | None = None
    removed: int | None = None
    replaced: int | None = None
    emptied: int | None = None
    uids_mapped: int | None = None
    dates_shifted: int | None = None
    private_removed: int | None = None
    private_kept: int | None = None
    size: int | None = None
    sha256: str | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_result(
        cls, result: ObjectResult, *, input_label: str, output: str, profile: str, key_id: str
    ) -> ItemRecord:
        """The record of an input the pipeline de-identified."""
        values = {k: v for k, v in result.as_dict().items() if k in _FIELD_NAMES}
        values["warnings"] = list(result.warnings)
        return cls(
            input=input_label,
            status=ItemStatus.OK,
            output=output,
            profile=profile,
            key_id=key_id,
            **values,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ItemRecord | None:
        """A record read back from a report line, or None when the line is not one."""
        try:
            values: dict[str, Any] = {name: row.get(name) for name in _FIELD_NAMES}
            values["status"] = ItemStatus(str(row["status"]))
            values["input"] = str(row["input"])
            warnings = row.get("warnings") or []
            values["warnings"] = (
                [w for w in warnings.split(";") if w] if isinstance(warnings, str) else warnings
            )
            for name in _INT_FIELDS:
                value = values[name]
                values[name] = None if value in (None, "") else int(value)
            for name in _TEXT_FIELDS:
                if values[name] == "":
                    values[name] = None
            return cls(**values)
        except (KeyError, ValueError, TypeError):
            return None

    def as_row(self) -> dict[str, Any]:
        """The record as a flat dict, in report column order."""
        row = {name: getattr(self, name) for name in _FIELD_NAMES}
        row["warnings"] = list(self.warnings)
        return row

    def output_is_safe(self) -> bool:
        """Whether ``output`` is a relative path that stays inside the destination."""
        if not self.output:
            return False
        path = PurePosixPath(self.output)
        return not path.is_absolute() and ".." not in path.parts and "\\" not in self.output


_FIELD_NAMES = tuple(f.name for f in fields(ItemRecord))
_TEXT_FIELDS = tuple(name for name in _FIELD_NAMES if name not in ("input", "status", "warnings"))
_INT_FIELDS = (
    "removed",
    "replaced",
    "emptied",
    "uids_mapped",
    "dates_shifted",
    "private_removed",
    "private_kept",
    "size",
)


class ReportWriter:
    """Append records to the report, one flushed line each, so a crash loses at most one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = ReportFormat.for_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = _ends_without_newline(path)
        is_new = not path.exists() or path.stat().st_size == 0
        # surrogateescape: file names that are not UTF-8 round-trip through the report.
        self._handle: TextIO = path.open(
            "a", encoding="utf-8", errors="surrogateescape", newline=""
        )
        if needs_newline:
            self._handle.write("\n")
        self._csv: csv.DictWriter[str] | None = None
        if self.format is ReportFormat.CSV:
            self._csv = csv.DictWriter(self._handle, fieldnames=_FIELD_NAMES)
            if is_new:
                self._csv.writeheader()

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, record: ItemRecord) -> None:
        """Append one record and flush it."""
        row = record.as_row()
        if self._csv is not None:
            row["warnings"] = ";".join(record.warnings)
            self._csv.writerow(row)
        else:
            self._handle.write(json.dumps(row, sort_keys=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the report file."""
        self._handle.close()


def read_report(path: Path) -> dict[str, ItemRecord]:
    """The last record of every input in an existing report; empty when there is none.

    Lines that cannot be parsed (a run killed mid-line) are ignored.
    """
    if not path.is_file():
        return {}
    latest: dict[str, ItemRecord] = {}
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
        rows: Any = (
            csv.DictReader(handle)
            if ReportFormat.for_path(path) is ReportFormat.CSV
            else (_json_row(line) for line in handle)
        )
        for row in rows:
            record = ItemRecord.from_row(row) if isinstance(row, dict) else None
            if record is not None:
                latest[record.input] = record
    return latest


def _json_row(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _ends_without_newline(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) != b"\n"

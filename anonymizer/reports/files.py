"""Reports beside images in batch mode: a folder of reports, each linked to its study.

A report's study is named by its path: a folder named by the original Study Instance UID
(``REPORTS/1.2.3.4/result.json``), or a file name that starts with it
(``1.2.3.4.json``, ``1.2.3.4_summary.pdf``); failing that, by the report itself (a DICOM
report, or a JSON report's top-level ``StudyInstanceUID``). Each goes to
``DST/<de-identified study UID>/reports/<report id>.<ext>``, written only once it passed the
leak check, with the same pseudonyms as the images of the same key and profile.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from anonymizer.errors import DeidError
from anonymizer.pipeline import Anonymizer
from anonymizer.reports.deidentify import ReportAnonymizer, ReportInput
from anonymizer.reports.errors import ReportError, ReportReason, reason_of
from anonymizer.reports.options import ReportOptions
from anonymizer.reports.redact import is_pseudonym_uid
from anonymizer.reports.values import StudyValues

_UID = re.compile(r"[0-2](?:\.(?:0|[1-9][0-9]*)){2,}")
_LEADING_UID = re.compile(r"^([0-2](?:\.(?:0|[1-9][0-9]*)){2,})(?=$|[_\- ]|\.[A-Za-z])")


class ReportFileStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class ReportFileResult:
    """One report file: where it went, or why not. Holds no value from inside the file."""

    source: Path
    status: ReportFileStatus
    output: Path | None = None
    study_uid: str | None = None
    report_id: str | None = None
    kind: str | None = None
    size: int = 0
    sha256: str | None = None
    replaced: Mapping[str, int] = field(default_factory=dict)
    reason: str | None = None
    message: str | None = None


def study_of_path(relative: Path) -> str | None:
    """The original Study Instance UID a report's path names, if any."""
    for part in relative.parts[:-1]:
        if _UID.fullmatch(part) and len(part) <= 64:
            return part
    match = _LEADING_UID.match(relative.name)
    return match.group(1) if match else None


def anonymize_report_dir(
    source: Path,
    destination: Path,
    *,
    anonymizer: Anonymizer,
    options: ReportOptions | None = None,
    identifiers: Mapping[str, object] | None = None,
) -> list[ReportFileResult]:
    """De-identify every report under ``source`` into ``destination`` (see module doc)."""
    reports = ReportAnonymizer(anonymizer, options=options)
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink())
    by_study: dict[str | None, list[Path]] = {}
    for path in files:
        by_study.setdefault(study_of_path(path.relative_to(source)), []).append(path)
    results = []
    for study, paths in by_study.items():
        shared = StudyValues.from_identifiers(identifiers) if identifiers else StudyValues()
        parsed = []
        for path in paths:
            try:
                item, own = reports.parse(ReportInput(path.read_bytes(), filename=path.name))
            except DeidError as exc:
                results.append(_failed(path, source, exc))
                continue
            shared.merge(own)
            parsed.append((path, item, own))
        for path, item, own in parsed:
            try:
                report = reports.anonymize_parsed(item, own, study_uid=study, identifiers=shared)
                target = _target_study(study, report.study_uid, anonymizer)
                output = destination / target / "reports" / f"{report.report_id}.{report.extension}"
                _write(output, report.data)
            except DeidError as exc:
                results.append(_failed(path, source, exc))
                continue
            results.append(
                ReportFileResult(
                    source=path.relative_to(source),
                    status=ReportFileStatus.OK,
                    output=output.relative_to(destination),
                    study_uid=target,
                    report_id=report.report_id,
                    kind=str(report.kind),
                    size=report.size,
                    sha256=report.sha256,
                    replaced=report.replaced,
                )
            )
    return results


def _target_study(original: str | None, named: str | None, anonymizer: Anonymizer) -> str:
    """The de-identified study a report goes under; the path and the report must agree."""
    if original is None:
        if named is None:
            raise ReportError(
                ReportReason.STUDY_MISMATCH,
                "name the report's study by its folder or file name (Study Instance UID)",
            )
        return named
    mapped = original if is_pseudonym_uid(original) else anonymizer.pseudonyms.uid(original)
    if named is not None and named != mapped:
        raise ReportError(
            ReportReason.STUDY_MISMATCH, "the report names another study than its path"
        )
    return mapped


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(name).replace(target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _failed(path: Path, source: Path, exc: DeidError) -> ReportFileResult:
    return ReportFileResult(
        source=path.relative_to(source),
        status=ReportFileStatus.FAILED,
        reason=reason_of(exc),
        message=str(exc),
    )

"""Batch mode as a library: layouts, archives, resume, the report, and what never leaks."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import UID

from anonymizer import Anonymizer, DeidError, Limits, PseudonymKey
from anonymizer.batch import (
    BatchConfigError,
    ItemRecord,
    ItemStatus,
    Layout,
    run_batch,
)
from anonymizer.batch_report import ReportWriter, read_report
from anonymizer.batch_worker import (
    Task,
    UnusableOutputUid,
    WorkerConfig,
    init_worker,
    run_task,
    uid_output_path,
)
from anonymizer.errors import Reason
from anonymizer.pipeline import ObjectResult
from anonymizer.sources import SourceError, SourceItem, ZipLimits

KEY = PseudonymKey(key_id="test-batch", secret=b"b" * 32)
PLANTED_NAME = "FAKE^PLANTED^PERSON"
PLANTED_ID = "FAKE-ID-0001"
PLANTED_FILE = "FAKE_PLANTED_PERSON_ct.dcm"
UID_PATH = re.compile(r"^[0-9.]{1,64}/[0-9.]{1,64}/[0-9.]{1,64}\.dcm$")
INPUT_REASONS = {reason.value for reason in Reason}


def sample(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    assert found is not None, name
    return Path(found)


def plant_phi(path: Path) -> None:
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    ds.PatientName = PLANTED_NAME
    ds.PatientID = PLANTED_ID
    # A new instance, not a second copy of CT_small's (a made-up UID under a test root).
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID("1.2.826.0.1.3680043.8.498.7")
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Four good DICOM files (one with planted PHI), a broken one and a text file."""
    root = tmp_path / "src"
    (root / "study" / "series").mkdir(parents=True)
    shutil.copy(sample("CT_small.dcm"), root / "ct.dcm")
    shutil.copy(sample("MR_small.dcm"), root / "study" / "series" / "mr.dcm")
    shutil.copy(sample("rtplan.dcm"), root / "study" / "plan.dcm")
    plant_phi(root / "study" / PLANTED_FILE)
    (root / "broken.dcm").write_bytes(sample("CT_small.dcm").read_bytes()[:1500])
    (root / "notes.txt").write_text("not DICOM at all\n")
    return root


GOOD = {"ct.dcm", "study/series/mr.dcm", "study/plan.dcm", f"study/{PLANTED_FILE}"}
BAD = {"broken.dcm", "notes.txt"}


def report_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def outputs(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*.dcm"))
        if p.is_file()
    }


def test_tree_layout_mirrors_inputs_and_reports_each(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    seen: list[tuple[str, int]] = []

    summary = run_batch(
        src, dst, profile="basic", key=KEY, progress=lambda r, total: seen.append((r.input, total))
    )

    assert (summary.total, summary.ok, summary.failed, summary.skipped) == (6, 4, 2, 0)
    assert set(outputs(dst)) == GOOD
    assert sorted(name for name, _ in seen) == sorted(GOOD | BAD)
    assert {total for _, total in seen} == {6}
    lines = {line["input"]: line for line in report_lines(dst / "anonymizer-report.jsonl")}
    assert set(lines) == GOOD | BAD
    for name in GOOD:
        line = lines[name]
        assert line["status"] == "ok"
        assert line["output"] == name
        assert line["size"] == (dst / name).stat().st_size
        assert str(line["sop_instance_uid"]).startswith("2.25.")
        assert line["key_id"] == "test-batch"
    assert lines["notes.txt"]["reason"] == "not_dicom"
    assert lines["broken.dcm"]["status"] == "failed"
    assert lines["broken.dcm"]["reason"] in INPUT_REASONS
    assert summary.reasons["not_dicom"] == 1
    # Rejected inputs are never copied raw.
    assert not (dst / "broken.dcm").exists()
    assert not (dst / "notes.txt").exists()


def test_uid_layout_names_outputs_by_new_uids_and_hides_input_names(
    src: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "dst"

    summary = run_batch(src, dst, profile="basic", key=KEY, layout=Layout.UID)

    assert summary.ok == 4
    report_text = (dst / "anonymizer-report.jsonl").read_text()
    for line in report_lines(dst / "anonymizer-report.jsonl"):
        assert str(line["input"]).startswith("h-")
        if line["status"] == "ok":
            output = str(line["output"])
            assert UID_PATH.match(output)
            study, series, sop = output.removesuffix(".dcm").split("/")
            assert (study, series, sop) == (
                line["study_instance_uid"],
                line["series_instance_uid"],
                line["sop_instance_uid"],
            )
            ds = pydicom.dcmread(dst / output)
            assert ds.SOPInstanceUID == sop
    for needle in (PLANTED_NAME, PLANTED_ID, "FAKE_PLANTED", "mr.dcm", "notes", "series/"):
        assert needle not in report_text
    assert not list(dst.glob(".partial-*"))


def test_planted_phi_is_absent_from_outputs_and_report(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    run_batch(src, dst, profile="basic", key=KEY)

    report_text = (dst / "anonymizer-report.jsonl").read_text()
    assert PLANTED_NAME not in report_text
    assert PLANTED_ID not in report_text
    for data in outputs(dst).values():
        assert PLANTED_NAME.encode() not in data
        assert PLANTED_ID.encode() not in data


def test_resume_skips_done_inputs_and_redoes_a_deleted_output(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    first = run_batch(src, dst, profile="basic", key=KEY)
    before = outputs(dst)

    second = run_batch(src, dst, profile="basic", key=KEY)
    assert (second.ok, second.skipped, second.failed) == (0, 4, 2)

    (dst / "study" / "plan.dcm").unlink()
    third = run_batch(src, dst, profile="basic", key=KEY)
    assert (third.ok, third.skipped, third.failed) == (1, 3, 2)
    assert outputs(dst) == before
    assert first.ok == 4
    # Every run appended one line per input; the last line of each input is what counts.
    assert len(report_lines(dst / "anonymizer-report.jsonl")) == 18
    latest = read_report(dst / "anonymizer-report.jsonl")
    assert latest["study/plan.dcm"].status is ItemStatus.OK
    assert latest["ct.dcm"].status is ItemStatus.SKIPPED


def test_verify_resume_redoes_a_tampered_output_of_the_same_size(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    run_batch(src, dst, profile="basic", key=KEY)
    target = dst / "ct.dcm"
    good = target.read_bytes()
    target.write_bytes(good[:-4] + b"XXXX")

    trusting = run_batch(src, dst, profile="basic", key=KEY)
    assert trusting.ok == 0
    verifying = run_batch(src, dst, profile="basic", key=KEY, verify_resume=True)
    assert verifying.ok == 1
    assert target.read_bytes() == good


def test_resume_redoes_everything_for_another_key_or_profile(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    run_batch(src, dst, profile="basic", key=KEY)
    other_key = PseudonymKey(key_id="test-other", secret=b"o" * 32)
    assert run_batch(src, dst, profile="basic", key=other_key).ok == 4
    assert run_batch(src, dst, profile="research", key=other_key).ok == 4
    assert run_batch(src, dst, profile="basic", key=KEY, resume=False).ok == 4


def test_throwaway_key_turns_resume_off(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    run_batch(src, dst, profile="basic", key=PseudonymKey.throwaway())
    again = run_batch(src, dst, profile="basic", key=PseudonymKey.throwaway())
    assert (again.ok, again.skipped) == (4, 0)


def test_csv_report_is_written_and_read_back_for_resume(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    report = tmp_path / "report.csv"
    run_batch(src, dst, profile="basic", key=KEY, report_path=report)
    header = report.read_text().splitlines()[0]
    assert header.startswith("input,status,output,reason,message")

    again = run_batch(src, dst, profile="basic", key=KEY, report_path=report)

    assert (again.ok, again.skipped, again.failed) == (0, 4, 2)
    assert not (dst / "anonymizer-report.jsonl").exists()


def test_report_survives_a_run_killed_mid_line(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    with ReportWriter(report) as writer:
        writer.write(ItemRecord(input="a.dcm", status=ItemStatus.OK, output="a.dcm", size=1))
    with report.open("a") as handle:
        handle.write('{"input": "b.dcm", "sta')
    with ReportWriter(report) as writer:
        writer.write(ItemRecord(input="c.dcm", status=ItemStatus.FAILED, reason="not_dicom"))

    records = read_report(report)

    assert set(records) == {"a.dcm", "c.dcm"}
    assert records["c.dcm"].reason == "not_dicom"


def test_zip_input_mirrors_member_paths_and_refuses_unsafe_members(tmp_path: Path) -> None:
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(sample("CT_small.dcm"), "study/ct.dcm")
        zf.write(sample("MR_small.dcm"), "study/mr.dcm")
        zf.writestr("../../escaped.dcm", sample("CT_small.dcm").read_bytes())
        zf.writestr("bomb.dcm", bytes(20 << 20))
        zf.writestr("empty-folder/", b"")
    dst = tmp_path / "out" / "dst"

    summary = run_batch(archive, dst, profile="basic", key=KEY)

    assert (summary.ok, summary.failed) == (2, 2)
    assert set(outputs(dst)) == {"study/ct.dcm", "study/mr.dcm"}
    assert not list(tmp_path.rglob("escaped.dcm"))
    assert summary.reasons == {"unsafe_archive_path": 1, "zip_bomb": 1}
    assert "escaped" not in (dst / "anonymizer-report.jsonl").read_text()


def test_zip_over_the_total_cap_is_refused_whole(tmp_path: Path) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(sample("CT_small.dcm"), "ct.dcm")
    with pytest.raises(SourceError):
        run_batch(
            archive,
            tmp_path / "dst",
            profile="basic",
            key=KEY,
            zip_limits=ZipLimits(max_total_bytes=1000),
        )
    assert not list((tmp_path / "dst").rglob("*.dcm"))


def test_same_sop_instance_twice_in_uid_layout_fails_the_second(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    # The same instance in two transfer syntaxes: one SOP Instance UID, different bytes.
    shutil.copy(sample("MR_small.dcm"), root / "a.dcm")
    shutil.copy(sample("MR_small_RLE.dcm"), root / "b.dcm")
    shutil.copy(sample("MR_small.dcm"), root / "c.dcm")  # identical bytes: fine
    dst = tmp_path / "dst"

    summary = run_batch(root, dst, profile="basic", key=KEY, layout=Layout.UID)

    assert (summary.ok, summary.failed) == (2, 1)
    assert summary.reasons == {"duplicate_sop_instance_uid": 1}
    assert len(outputs(dst)) == 1
    # One process: inputs finish in order, so a.dcm wins, b.dcm fails and c.dcm matches a.
    statuses = [line["status"] for line in report_lines(dst / "anonymizer-report.jsonl")]
    assert statuses == ["ok", "failed", "ok"]


def test_destination_inside_source_is_not_walked(src: Path) -> None:
    dst = src / "anonymized"
    first = run_batch(src, dst, profile="basic", key=KEY)
    second = run_batch(src, dst, profile="basic", key=KEY)
    assert first.total == second.total == 6


def test_source_inside_destination_is_refused(src: Path) -> None:
    with pytest.raises(BatchConfigError):
        run_batch(src, src.parent, profile="basic", key=KEY)
    with pytest.raises(BatchConfigError):
        run_batch(src, src, profile="basic", key=KEY)


def test_destination_that_is_a_file_is_refused(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "file"
    dst.write_text("x")
    with pytest.raises(BatchConfigError):
        run_batch(src, dst, profile="basic", key=KEY)


def test_input_that_would_overwrite_the_report_fails(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    shutil.copy(sample("CT_small.dcm"), root / "anonymizer-report.jsonl")
    dst = tmp_path / "dst"

    summary = run_batch(root, dst, profile="basic", key=KEY)

    assert summary.reasons == {"output_path_conflict": 1}
    assert json.loads((dst / "anonymizer-report.jsonl").read_text())["status"] == "failed"


def test_single_file_source(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    summary = run_batch(sample("CT_small.dcm"), dst, profile="basic", key=KEY)
    assert summary.ok == 1
    assert set(outputs(dst)) == {"CT_small.dcm"}


def _result(**uids: str) -> ObjectResult:
    values: dict[str, object] = {
        "sop_instance_uid": "2.25.3",
        "study_instance_uid": "2.25.1",
        "series_instance_uid": "2.25.2",
        "sop_class_uid": "1.2",
        "transfer_syntax": "1.2.840.10008.1.2.1",
        "patient_pseudonym": None,
        "removed": 0,
        "replaced": 0,
        "emptied": 0,
        "uids_mapped": 0,
        "dates_shifted": 0,
        "private_removed": 0,
        "private_kept": 0,
        "pixels_cleaned": False,
        "size": 0,
        "sha256": "",
        "seconds": 0.0,
    }
    values.update(uids)
    return ObjectResult(**values)  # type: ignore[arg-type]


def test_uid_output_path_uses_the_three_uids() -> None:
    assert uid_output_path(_result()) == "2.25.1/2.25.2/2.25.3.dcm"


@pytest.mark.parametrize(
    "bad", ["", "..", ".", "1..2", ".1", "1.", "1/2", "1.2 ", "a.b", "1." + "2" * 70]
)
def test_uid_output_path_refuses_what_is_not_a_uid(bad: str) -> None:
    with pytest.raises(UnusableOutputUid):
        uid_output_path(_result(series_instance_uid=bad))


@pytest.mark.parametrize(
    ("error", "reason", "message"),
    [
        (
            PermissionError(13, "Permission denied", "/data/FAKE_PLANTED_PERSON.dcm"),
            "io_error",
            "PermissionError: Permission denied",
        ),
        (RuntimeError(f"bad value {PLANTED_NAME}"), "internal_error", "RuntimeError"),
    ],
)
def test_unexpected_errors_fail_one_input_without_their_text(
    src: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    reason: str,
    message: str,
) -> None:
    def explode(self: Anonymizer, source: object, destination: object) -> ObjectResult:
        raise error

    monkeypatch.setattr(Anonymizer, "anonymize_file", explode)
    dst = tmp_path / "dst"

    summary = run_batch(src, dst, profile="basic", key=KEY)

    assert summary.failed == 6
    assert summary.reasons == {reason: 6}
    lines = report_lines(dst / "anonymizer-report.jsonl")
    assert {line["message"] for line in lines if line["reason"] == reason} == {message}
    report = (dst / "anonymizer-report.jsonl").read_text()
    assert PLANTED_NAME not in report
    assert "/data/" not in report
    assert PLANTED_NAME not in caplog.text


def test_worker_process_entry_points(src: Path, tmp_path: Path, key_file: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    config = WorkerConfig(
        profile="basic",
        key_path=key_file,
        key=None,
        key_id=PseudonymKey.from_file(key_file).key_id,
        profile_label="basic@v1",
        limits=Limits(),
        destination=dst,
        layout=Layout.TREE,
    )
    init_worker(config)
    item = SourceItem(relative="ct.dcm", path=src / "ct.dcm")

    outcome = run_task(Task(item=item, label="ct.dcm", output="ct.dcm"))

    assert outcome.record.status is ItemStatus.OK
    assert (dst / "ct.dcm").is_file()
    with pytest.raises(DeidError, match="key file changed"):
        init_worker(dataclasses.replace(config, key_id="k-another"))


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "batch.key"
    KEY.write(path)
    return path

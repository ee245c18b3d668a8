"""The ``anonymizer`` command line: exit codes, messages, keys, profiles, workers, demo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner, Result
from pydicom.data import get_testdata_file

from anonymizer import PseudonymKey, __version__
from anonymizer.cli import cli
from anonymizer.demo import DEMO_SAMPLES

PLANTED_NAME = "FAKE^CLI^PERSON"
SUMMARY = re.compile(
    r"^(\d+) files: (\d+) ok, (\d+) failed, (\d+) skipped in [0-9.]+ s "
    r"\([0-9.]+ files/s\); report: (.+)$",
    re.MULTILINE,
)


def sample(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    assert found is not None, name
    return Path(found)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def summary_counts(result: Result) -> tuple[int, int, int, int]:
    match = SUMMARY.search(result.stdout)
    assert match, result.output
    total, ok, failed, skipped = (int(g) for g in match.groups()[:4])
    return total, ok, failed, skipped


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "deid.key"
    path.parent.mkdir()
    PseudonymKey(key_id="k-test-cli", secret=b"c" * 32).write(path)
    return path


@pytest.fixture
def good_src(tmp_path: Path) -> Path:
    root = tmp_path / "good"
    (root / "sub").mkdir(parents=True)
    shutil.copy(sample("CT_small.dcm"), root / "ct.dcm")
    shutil.copy(sample("rtplan.dcm"), root / "sub" / "plan.dcm")
    ds = pydicom.dcmread(sample("MR_small.dcm"))
    ds.PatientName = PLANTED_NAME
    ds.save_as(root / "sub" / "FAKE_CLI_PERSON.dcm", enforce_file_format=True)
    return root


@pytest.fixture
def mixed_src(good_src: Path) -> Path:
    (good_src / "readme.txt").write_text("not DICOM\n")
    (good_src / "broken.dcm").write_bytes(b"DICM" * 10)
    return good_src


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_all_ok_exits_0_with_summary(good_src: Path, tmp_path: Path, key_file: Path) -> None:
    dst = tmp_path / "dst"
    result = run("anonymize", good_src, dst, "--profile", "basic", "--key-file", key_file)

    assert result.exit_code == 0, result.output
    assert summary_counts(result) == (3, 3, 0, 0)
    assert SUMMARY.search(result.stdout).group(5) == str(dst / "anonymizer-report.jsonl")  # type: ignore[union-attr]
    assert (dst / "sub" / "plan.dcm").is_file()


def test_any_failure_exits_1_and_names_the_reasons(
    mixed_src: Path, tmp_path: Path, key_file: Path
) -> None:
    dst = tmp_path / "dst"
    result = run("anonymize", mixed_src, dst, "-p", "basic", "-k", key_file)

    assert result.exit_code == 1
    assert summary_counts(result) == (5, 3, 2, 0)
    assert "not_dicom" in result.stderr
    assert not (dst / "readme.txt").exists()
    assert not (dst / "broken.dcm").exists()


def test_rerun_skips_everything_and_redoes_a_deleted_output(
    good_src: Path, tmp_path: Path, key_file: Path
) -> None:
    dst = tmp_path / "dst"
    args = ("anonymize", good_src, dst, "-p", "basic", "-k", key_file)
    assert run(*args).exit_code == 0

    again = run(*args)
    assert again.exit_code == 0
    assert summary_counts(again) == (3, 0, 0, 3)

    (dst / "ct.dcm").unlink()
    third = run(*args)
    assert summary_counts(third) == (3, 1, 0, 2)

    fresh = run(*args, "--no-resume")
    assert summary_counts(fresh) == (3, 3, 0, 0)


def test_report_and_outputs_hold_no_planted_values(
    good_src: Path, tmp_path: Path, key_file: Path
) -> None:
    dst = tmp_path / "dst"
    result = run(
        "anonymize",
        good_src,
        dst,
        "-p",
        "basic",
        "-k",
        key_file,
        "--layout",
        "uid",
        "--report",
        tmp_path / "report.csv",
    )

    assert result.exit_code == 0, result.output
    report = (tmp_path / "report.csv").read_text()
    assert PLANTED_NAME not in report
    assert "FAKE_CLI_PERSON" not in report
    assert "FAKE_CLI_PERSON" not in result.output
    files = [p for p in dst.rglob("*") if p.is_file()]
    assert len(files) == 3
    for path in files:
        assert PLANTED_NAME.encode() not in path.read_bytes()
        assert "FAKE" not in str(path)


def test_missing_key_says_how_to_make_one(good_src: Path, tmp_path: Path) -> None:
    result = run("anonymize", good_src, tmp_path / "dst", "-p", "basic")

    assert result.exit_code == 2
    assert "anonymizer keygen -o deid.key" in result.stderr
    assert "--throwaway-key" in result.stderr
    assert "differ on every run" in result.stderr
    assert not (tmp_path / "dst").exists()


def test_both_key_options_is_a_usage_error(good_src: Path, tmp_path: Path, key_file: Path) -> None:
    result = run(
        "anonymize", good_src, tmp_path / "d", "-p", "basic", "-k", key_file, "--throwaway-key"
    )
    assert result.exit_code == 2
    assert "not both" in result.stderr


@pytest.mark.parametrize("content", [None, "not json", '{"key_id": "x", "secret": "c2hvcnQ="}'])
def test_bad_key_file_exits_2(good_src: Path, tmp_path: Path, content: str | None) -> None:
    bad = tmp_path / "bad.key"
    if content is not None:
        bad.write_text(content)
    result = run("anonymize", good_src, tmp_path / "dst", "-p", "basic", "-k", bad)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "keygen" in result.stderr
    assert "Traceback" not in result.output


def test_throwaway_key_works_and_says_resume_is_off(good_src: Path, tmp_path: Path) -> None:
    result = run("anonymize", good_src, tmp_path / "dst", "-p", "basic", "--throwaway-key")
    assert result.exit_code == 0
    assert "resume is off" in result.stderr


def test_unknown_or_missing_profile_exits_2(good_src: Path, tmp_path: Path, key_file: Path) -> None:
    unknown = run("anonymize", good_src, tmp_path / "dst", "-p", "no-such", "-k", key_file)
    assert unknown.exit_code == 2
    assert "no-such" in unknown.stderr
    missing = run("anonymize", good_src, tmp_path / "dst", "-k", key_file)
    assert missing.exit_code == 2
    assert "--profile" in missing.stderr
    assert "basic" in missing.stderr


def test_missing_source_and_bad_options_exit_2(tmp_path: Path, key_file: Path) -> None:
    assert run("anonymize", tmp_path / "nope", tmp_path / "dst", "-p", "basic").exit_code == 2
    src = tmp_path / "in"
    src.mkdir()
    assert (
        run(
            "anonymize", src, tmp_path / "d", "-p", "basic", "-k", key_file, "--workers", "0"
        ).exit_code
        == 2
    )
    assert (
        run(
            "anonymize", src, tmp_path / "d", "-p", "basic", "-k", key_file, "--layout", "flat"
        ).exit_code
        == 2
    )


def test_destination_containing_source_exits_2(good_src: Path, key_file: Path) -> None:
    result = run("anonymize", good_src, good_src.parent, "-p", "basic", "-k", key_file)
    assert result.exit_code == 2
    assert "inside" in result.stderr


def test_zip_slip_and_zip_bomb_are_refused(tmp_path: Path, key_file: Path) -> None:
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(sample("CT_small.dcm"), "a/ct.dcm")
        zf.writestr("../../../slipped.dcm", sample("CT_small.dcm").read_bytes())
        zf.writestr("bomb.dcm", bytes(30 << 20))
    dst = tmp_path / "deep" / "dst"

    result = run("anonymize", archive, dst, "-p", "basic", "-k", key_file)

    assert result.exit_code == 1
    assert summary_counts(result) == (3, 1, 2, 0)
    assert "unsafe_archive_path" in result.stderr
    assert "zip_bomb" in result.stderr
    assert [p.name for p in tmp_path.rglob("*.dcm")] == ["ct.dcm"]
    lines = [json.loads(x) for x in (dst / "anonymizer-report.jsonl").read_text().splitlines()]
    assert {line["reason"] for line in lines} == {None, "unsafe_archive_path", "zip_bomb"}


def test_progress_bar_only_when_asked_without_a_terminal(
    good_src: Path, tmp_path: Path, key_file: Path
) -> None:
    plain = run("anonymize", good_src, tmp_path / "a", "-p", "basic", "-k", key_file)
    assert "files/s]" not in plain.stderr
    shown = run("anonymize", good_src, tmp_path / "b", "-p", "basic", "-k", key_file, "--progress")
    assert "3/3" in shown.stderr
    assert "files/s" in shown.stderr
    quiet = run(
        "anonymize",
        good_src,
        tmp_path / "c",
        "-p",
        "basic",
        "--throwaway-key",
        "--progress",
        "--quiet",
    )
    assert quiet.stderr == ""
    assert summary_counts(quiet) == (3, 3, 0, 0)


def test_two_workers_give_byte_identical_outputs(
    mixed_src: Path, tmp_path: Path, key_file: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for dst, workers in ((one, "1"), (two, "2")):
        result = run(
            "anonymize",
            mixed_src,
            dst,
            "-p",
            "research",
            "-k",
            key_file,
            "--layout",
            "uid",
            "--workers",
            workers,
        )
        assert result.exit_code == 1
        assert summary_counts(result) == (5, 3, 2, 0)

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.dcm")}

    assert len(files(one)) == 3
    assert files(one) == files(two)


def test_keygen_writes_a_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "new.key"
    result = run("keygen", "-o", path)

    assert result.exit_code == 0
    key = PseudonymKey.from_file(path)
    assert key.key_id in result.stdout
    assert "re-identification secret" in result.stderr
    assert path.stat().st_mode & 0o077 == 0
    before = path.read_bytes()

    again = run("keygen", "-o", path)
    assert again.exit_code == 1
    assert "never overwritten" in again.stderr
    assert path.read_bytes() == before


def test_keygen_requires_an_output(tmp_path: Path) -> None:
    assert run("keygen").exit_code == 2


def test_profiles_list_names_every_shipped_profile() -> None:
    result = run("profiles", "list")
    assert result.exit_code == 0
    for name in ("basic", "research", "ai-upload", "keep-list"):
        assert re.search(rf"^{name}  \(version \d+\)$", result.stdout, re.MULTILINE)
    assert "extends: basic" in result.stdout
    assert "retain_safe_private" in result.stdout


def test_profiles_show_has_patient_name_row_and_policies() -> None:
    result = run("profiles", "show", "basic")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if line.startswith("(0010,0010)"))
    assert re.match(r"^\(0010,0010\)\s+Patient's Name\s+Z\s+\S+", row)
    for policy in (
        "dates: remove",
        "private: remove",
        "pixels:",
        "safe harbor: no",
        "unlisted public attributes: keep",
    ):
        assert policy in result.stdout
    research = run("profiles", "show", "research")
    assert "dates: shift" in research.stdout
    assert "chain: research -> basic" in research.stdout


def test_profiles_show_reads_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "name: site\nextends: basic\nattributes:\n  PatientName: remove\n", encoding="utf-8"
    )
    result = run("profiles", "show", path)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("(0010,0010)"))
    assert "remove" in row.split()


def test_profiles_show_errors_exit_2(tmp_path: Path) -> None:
    assert run("profiles", "show", "no-such-profile").exit_code == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nextends: basic\nattributes:\n  PatientNme: remove\n")
    result = run("profiles", "show", broken)
    assert result.exit_code == 2
    assert "PatientNme" in result.stderr


def test_demo_runs_every_sample(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run("demo", "--out", out)

    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if " ok " in line]
    assert len(rows) == len(DEMO_SAMPLES) >= 12
    assert f"{len(DEMO_SAMPLES)} files: {len(DEMO_SAMPLES)} ok, 0 failed" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(name for name, _ in DEMO_SAMPLES)


def test_console_entry_point_runs_in_a_fresh_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from anonymizer.cli import main; sys.argv[0] = 'anonymizer'; main()",
            "keygen",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--output" in result.stderr


def test_reports_beside_images_in_batch_mode(tmp_path: Path) -> None:
    """--reports DIR: a JSON report named by the original study lands beside its images."""
    source = tmp_path / "in"
    source.mkdir()
    path = get_testdata_file("CT_small.dcm", download=False)
    assert path is not None
    ds = pydicom.dcmread(path)
    ds.PatientName = "FAKE^CLIREPORT^PATIENT"
    ds.save_as(source / "ct.dcm")
    reports = tmp_path / "reports" / str(ds.StudyInstanceUID)
    reports.mkdir(parents=True)
    (reports / "result.json").write_text(
        json.dumps(
            {
                "StudyInstanceUID": str(ds.StudyInstanceUID),
                "PatientName": "FAKE^CLIREPORT^PATIENT",
                "finding": "nodule, 4 mm",
            }
        ),
        "utf-8",
    )
    key = tmp_path / "deid.key"
    PseudonymKey.generate().write(key)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "anonymize",
            str(source),
            str(out),
            "--profile",
            "basic",
            "--key-file",
            str(key),
            "--reports",
            str(tmp_path / "reports"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 reports: 1 ok, 0 failed" in result.output
    stored = list(out.rglob("reports/*"))
    assert len(stored) == 1
    text = stored[0].read_text("utf-8")
    assert "FAKE^CLIREPORT^PATIENT" not in text
    assert str(ds.StudyInstanceUID) not in text
    image = next(out.rglob("*.dcm"))
    assert pydicom.dcmread(image).StudyInstanceUID in str(stored[0])

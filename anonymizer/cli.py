"""The ``anonymizer`` command: anonymize data sets, inspect profiles, make keys, run a demo.

Exit status: 0 when every input is ok or skipped, 1 when any input failed, 2 for usage
errors (a bad option, a missing or invalid key, an unknown or invalid profile).
"""

from __future__ import annotations

import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import IO, Any

import click
from tqdm import tqdm

from anonymizer import DeidError, ProfileError, PseudonymKey, __version__
from anonymizer.batch import (
    BatchConfigError,
    BatchSummary,
    ItemRecord,
    ItemStatus,
    Layout,
    run_batch,
)
from anonymizer.demo import run_demo
from anonymizer.pipeline import Anonymizer
from anonymizer.profiles import Profile, builtin_profile_names, compile_profile, load_profile

_USAGE = 2
_FAILED = 1
_INTERRUPTED = 130
_UID_SHOWN = 24


class _Exit(click.ClickException):
    """A usage error: the message on stderr, no usage text, exit status 2."""

    exit_code = _USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Failed(_Exit):
    """The work failed: exit status 1."""

    exit_code = _FAILED


class _Interrupted(_Exit):
    """Stopped by Ctrl-C: exit status 130."""

    exit_code = _INTERRUPTED


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="anonymizer")
def cli() -> None:
    """De-identify DICOM images with PS3.15 Annex E profiles."""


@cli.command()
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(file_okay=False, path_type=Path))
@click.option("--profile", "-p", metavar="NAME|PATH", help="Shipped profile name or YAML file.")
@click.option(
    "--key-file",
    "-k",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pseudonym key made by 'anonymizer keygen'.",
)
@click.option(
    "--throwaway-key", is_flag=True, help="Use a random key: pseudonyms differ on every run."
)
@click.option("--workers", "-j", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--layout",
    type=click.Choice([layout.value for layout in Layout]),
    default=Layout.TREE.value,
    show_default=True,
    help="tree: mirror the input paths; uid: <study>/<series>/<sop>.dcm from the new UIDs.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines report (CSV if it ends in .csv); default DST/anonymizer-report.jsonl.",
)
@click.option("--no-resume", is_flag=True, help="Redo every input, even those already done.")
@click.option("--verify-resume", is_flag=True, help="Check outputs' SHA-256 before skipping.")
@click.option("--progress", is_flag=True, help="Show the progress bar even without a terminal.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no notes; summary only.")
@click.option(
    "--reports",
    "reports_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Analysis reports to de-identify too: DIR/<StudyUID>/... or files named by study.",
)
def anonymize(
    *,
    src: Path,
    dst: Path,
    profile: str | None,
    key_file: Path | None,
    throwaway_key: bool,
    workers: int,
    layout: str,
    report: Path | None,
    no_resume: bool,
    verify_resume: bool,
    progress: bool,
    quiet: bool,
    reports_dir: Path | None,
) -> None:
    """De-identify SRC (a file, a folder or a .zip) into the folder DST."""
    if not profile:
        names = ", ".join(builtin_profile_names())
        raise _Exit(f"choose a profile with --profile NAME or a YAML file (shipped: {names})")
    key = _load_key(key_file, throwaway=throwaway_key)
    if key.ephemeral and not quiet:
        click.echo("note: throw-away key: pseudonyms differ on every run; resume is off", err=True)
    bar = _ProgressBar(enabled=not quiet and (progress or sys.stderr.isatty()))
    try:
        summary = run_batch(
            src,
            dst,
            profile=_profile_arg(profile),
            key=key,
            key_path=key_file,
            workers=workers,
            layout=Layout(layout),
            report_path=report,
            resume=not no_resume,
            verify_resume=verify_resume,
            progress=bar.advance,
        )
    except (ProfileError, BatchConfigError) as exc:
        raise _Exit(str(exc)) from None
    except DeidError as exc:
        raise _Failed(str(exc)) from None
    except BrokenProcessPool:
        raise _Failed("a worker process died; run the same command again to resume") from None
    except KeyboardInterrupt:
        raise _Interrupted("interrupted; run the same command again to resume") from None
    finally:
        bar.close()
    click.echo(_summary_line(summary))
    reports_failed = 0
    if reports_dir is not None:
        # Imported here: the report readers (PDF and others) cost start-up time otherwise.
        from anonymizer.reports.files import (  # noqa: PLC0415
            ReportFileStatus,
            anonymize_report_dir,
        )

        outcomes = anonymize_report_dir(
            reports_dir, dst, anonymizer=Anonymizer(profile=_profile_arg(profile), key=key)
        )
        reports_failed = sum(o.status is ReportFileStatus.FAILED for o in outcomes)
        click.echo(
            f"{len(outcomes)} reports: {len(outcomes) - reports_failed} ok, {reports_failed} failed"
        )
    if summary.failed:
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary.reasons.most_common())
        click.echo(f"failed by reason: {reasons}", err=True)
    if summary.failed or reports_failed:
        sys.exit(_FAILED)


def _load_key(key_file: Path | None, *, throwaway: bool) -> PseudonymKey:
    if key_file is not None and throwaway:
        raise _Exit("give either --key-file or --throwaway-key, not both")
    if throwaway:
        return PseudonymKey.throwaway()
    if key_file is None:
        raise _Exit(
            "no pseudonym key given.\n"
            "  Make one once with:  anonymizer keygen -o deid.key\n"
            "  then pass:           --key-file deid.key\n"
            "  (keep the key apart from the data: it is the re-identification secret)\n"
            "  Or pass --throwaway-key for a random key; pseudonyms then differ on every run."
        )
    try:
        return PseudonymKey.from_file(key_file)
    except DeidError as exc:
        raise _Exit(f"{exc}; make a key with 'anonymizer keygen -o deid.key'") from None


class _ProgressBar:
    """A tqdm bar on stderr created on the first input, when the total is known."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: tqdm[Any] | None = None
        self._failed = 0

    def advance(self, record: ItemRecord, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = tqdm(total=total, unit=" files", file=sys.stderr, dynamic_ncols=True)
        if record.status is ItemStatus.FAILED:
            self._failed += 1
            self._bar.set_postfix(failed=self._failed, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _summary_line(summary: BatchSummary) -> str:
    return (
        f"{summary.total} files: {summary.ok} ok, {summary.failed} failed, "
        f"{summary.skipped} skipped in {summary.seconds:.1f} s ({summary.rate:.1f} files/s); "
        f"report: {summary.report_path}"
    )


@cli.group()
def profiles() -> None:
    """List the shipped profiles or show what one does."""


@profiles.command("list")
def profiles_list() -> None:
    """Name, description, extends chain and options of every shipped profile."""
    for name in builtin_profile_names():
        profile = _load(name)
        options = ", ".join(sorted(option.value for option in profile.options)) or "(none)"
        click.echo(f"{profile.name}  (version {profile.version})")
        click.echo(f"  {profile.description}")
        click.echo(f"  extends: {' -> '.join(profile.chain[1:]) or '(none)'}")
        click.echo(f"  options: {options}")


@profiles.command("show")
@click.argument("name", metavar="NAME|PATH")
def profiles_show(name: str) -> None:
    """The effective action of every Table E.1-1 attribute under profile NAME."""
    profile = _load(name)
    compiled = compile_profile(profile)
    dates = profile.dates
    shift = f" (shift {dates.shift_days[0]}..{dates.shift_days[1]} days)"
    pixels = profile.pixels
    scope = ", ".join([*pixels.modalities, *pixels.sop_classes])
    click.echo(f"profile: {profile.name} (version {profile.version}, edition {profile.edition})")
    click.echo(f"description: {profile.description}")
    click.echo(f"chain: {' -> '.join(profile.chain)}")
    options = ", ".join(sorted(option.value for option in profile.options)) or "(none)"
    click.echo(f"options: {options}")
    click.echo(f"dates: {dates.policy}{shift if dates.policy == 'shift' else ''}")
    extra = f" (+{len(profile.private.safe)} listed)" if profile.private.safe else ""
    click.echo(f"private: {profile.private.policy}{extra}")
    click.echo(f"pixels: {pixels.policy}{f' ({scope})' if scope else ''}")
    click.echo(f"safe harbor: {'yes' if profile.safe_harbor else 'no'}")
    click.echo(f"unlisted public attributes: {profile.unlisted}")
    click.echo("")
    click.echo(f"{'TAG':<12} {'NAME':<50} {'BASIC':<6} {'ACTION':<10} SOURCE")
    for row in compiled.effective_rows():
        click.echo(f"{row.tag:<12} {row.name:<50} {row.basic:<6} {row.action:<10} {row.source}")


def _profile_arg(text: str) -> str | Path:
    return Path(text) if text.endswith((".yaml", ".yml")) else text


def _load(name: str) -> Profile:
    try:
        return load_profile(_profile_arg(name))
    except ProfileError as exc:
        raise _Exit(str(exc)) from None


@cli.command()
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new key file.",
)
def keygen(output: Path) -> None:
    """Write a new random pseudonym key (never overwrites a file)."""
    key = PseudonymKey.generate()
    try:
        key.write(output)
    except FileExistsError:
        raise _Failed(f"{output} exists; a key file is never overwritten") from None
    except OSError as exc:
        raise _Failed(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote key {key.key_id} to {output}")
    click.echo(
        "warning: this file is the re-identification secret. Keep it apart from the data "
        "(not in the output folder, archive or bucket) and back it up: the same pseudonyms "
        "can only be made again with it.",
        err=True,
    )


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("anonymizer-data/demo"),
    show_default=True,
    help="Output folder.",
)
def demo(out: Path) -> None:
    """De-identify a dozen bundled sample files with the basic profile and a throw-away key."""
    rows = run_demo(out)
    click.echo(
        f"{'FILE':<24} {'WHAT':<32} {'STATUS':<16} {'REMOVED':>7} {'REPLACED':>8}  NEW SOP UID"
    )
    for row in rows:
        uid = row.sop_instance_uid
        # The 2.25. prefix is the same for all: show its start and its end.
        shown = uid if len(uid) <= _UID_SHOWN else f"{uid[:12]}...{uid[-9:]}"
        status = "ok" if row.ok else f"failed: {row.reason}"
        click.echo(
            f"{row.name:<24} {row.description:<32} {status:<16} {row.removed:>7} "
            f"{row.replaced:>8}  {shown}"
        )
    ok = sum(row.ok for row in rows)
    removed = sum(row.removed for row in rows)
    replaced = sum(row.replaced for row in rows)
    click.echo(
        f"{len(rows)} files: {ok} ok, {len(rows) - ok} failed; {removed} elements removed, "
        f"{replaced} replaced; outputs in {out}"
    )
    if ok < len(rows):
        sys.exit(_FAILED)


@cli.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", "-p", default="ai-upload", show_default=True, metavar="NAME|PATH")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--frame", type=click.IntRange(min=0), default=0, show_default=True)
def preview(source: Path, profile: str, output: Path, frame: int) -> None:
    """Side-by-side PNG: the original with masked boxes outlined, and the cleaned image."""
    from anonymizer.preview import write_preview  # noqa: PLC0415 - loads OpenCV

    try:
        shown = write_preview(source, output, profile=_profile_arg(profile), frame=frame)
    except ProfileError as exc:
        raise _Exit(str(exc)) from None
    except DeidError as exc:
        raise _Failed(str(exc)) from None
    state = "cleaned" if shown.cleaned else f"not cleaned ({shown.reason})"
    click.echo(f"{state}: {shown.boxes} boxes, {shown.masked_pixels} pixels masked -> {output}")


UsageProblem = _Exit
"""A usage error (exit status 2) for commands added to this group elsewhere (app/cli.py)."""


def main() -> None:
    """Entry point of the library-only command (the console script is ``app.cli:main``)."""
    cli(prog_name="anonymizer")


if __name__ == "__main__":
    main()

"""One adapter per tool, all with the signature ``anonymize(src: Path, dst: Path) -> None``.

Each factory does the tool's one-off setup (building its anonymizer, parsing its recipe)
and returns the adapter, so the timed loop measures per-file work only. Every tool runs
its default or basic configuration and writes its output file to ``dst``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom

Adapter = Callable[[Path, Path], None]


def floor() -> Adapter:
    """pydicom ``dcmread`` + ``save_as``: no de-identification, the speed floor."""

    def anonymize(src: Path, dst: Path) -> None:
        pydicom.dcmread(src).save_as(dst)

    return anonymize


def ours() -> Adapter:
    """This project's library, basic profile, in-process."""
    from anonymizer import Anonymizer, PseudonymKey  # noqa: PLC0415 - import inside the worker

    anonymizer = Anonymizer(profile="basic", key=PseudonymKey(key_id="bench", secret=b"k" * 32))

    def anonymize(src: Path, dst: Path) -> None:
        anonymizer.anonymize_file(src, dst)

    return anonymize


def ours_element_walk() -> Adapter:
    """Ours with every sequence parsed and walked element by element (the raw-sequence
    rewrite off): the same output, for a before/after in one run. Not in the default set."""
    from anonymizer import raw_sequence  # noqa: PLC0415 - import inside the worker

    raw_sequence.ENABLED = False
    return ours()


def dicognito() -> Adapter:
    """dicognito's Python API, one Anonymizer reused across files, saved like its CLI does."""
    from dicognito.anonymizer import Anonymizer  # noqa: PLC0415

    anonymizer = Anonymizer()

    def anonymize(src: Path, dst: Path) -> None:
        with pydicom.dcmread(src) as dataset:
            anonymizer.anonymize(dataset)
            dataset.save_as(dst, enforce_file_format=True)

    return anonymize


def deid() -> Adapter:
    """deid's ``replace_identifiers`` with its default recipe, parsed once."""
    from deid.config import DeidRecipe  # noqa: PLC0415
    from deid.dicom import replace_identifiers  # noqa: PLC0415
    from deid.logger import bot  # noqa: PLC0415

    bot.level = -10  # below ABORT: deid prints to stderr otherwise
    recipe = DeidRecipe()  # no argument: deid's default "dicom" recipe

    def anonymize(src: Path, dst: Path) -> None:
        written = replace_identifiers(
            [str(src)], deid=recipe, save=True, output_folder=str(dst.parent), overwrite=True
        )
        out = Path(written[0])  # deid names the output after the input's basename
        if out != dst:
            out.replace(dst)

    return anonymize


def dicom_anonymizer() -> Adapter:
    """dicom-anonymizer's ``anonymize_dicom_file`` with its default rules."""
    from dicomanonymizer import anonymize_dicom_file  # noqa: PLC0415

    def anonymize(src: Path, dst: Path) -> None:
        anonymize_dicom_file(str(src), str(dst))

    return anonymize


TOOLS: dict[str, Callable[[], Adapter]] = {
    "pydicom floor": floor,
    "ours": ours,
    "dicognito": dicognito,
    "deid": deid,
    "dicom-anonymizer": dicom_anonymizer,
    "ours (element walk)": ours_element_walk,
}
DEFAULT_TOOLS = ("pydicom floor", "ours", "dicognito", "deid", "dicom-anonymizer")
PEERS = ("dicognito", "deid", "dicom-anonymizer")


# Whole-folder command lines, each run as its own process and timed from outside, so that
# interpreter start-up and imports count: what a researcher waits for at the shell.
# deid has no command that writes de-identified files with its default recipe.
_FLOOR_SCRIPT = """import pathlib, sys, pydicom
src, dst = map(pathlib.Path, sys.argv[1:])
for path in sorted(src.iterdir()):
    pydicom.dcmread(path).save_as(dst / path.name)
"""
OURS_CLI = "ours"
FLOOR_CLI = "pydicom floor"


def command(name: str, src: Path, dst: Path) -> list[str]:
    """The command line of tool ``name`` that de-identifies every file of ``src`` into the
    existing folder ``dst`` (basic or default configuration)."""
    python = sys.executable
    scripts = Path(python).parent
    commands = {
        FLOOR_CLI: [python, "-c", _FLOOR_SCRIPT, str(src), str(dst)],
        OURS_CLI: [str(scripts / "anonymizer"), "anonymize", str(src), str(dst)]
        + ["--profile", "basic", "--throwaway-key", "--quiet", "--no-resume"],
        # dicognito's console script does not start in 0.19 (main() wants an argument).
        "dicognito": [python, "-m", "dicognito", "--output-directory", str(dst), "--quiet"]
        + [str(src)],
        "dicom-anonymizer": [str(scripts / "dicom-anonymizer"), str(src), str(dst)],
    }
    return commands[name]


COMMANDS = (FLOOR_CLI, OURS_CLI, "dicognito", "dicom-anonymizer")
# Tools whose command line names each output after its input (the leak check needs that).
KEEPS_NAMES = frozenset({FLOOR_CLI, OURS_CLI, "dicom-anonymizer"})


def make(name: str) -> Adapter:
    """Set up tool ``name`` quietly and return its adapter."""
    warnings.simplefilter("ignore")  # peers warn per file; the warnings are not timed work
    logging.disable(logging.WARNING)
    return TOOLS[name]()


def revision() -> str:
    """The library's git revision, marked ``+dirty`` when ``anonymizer/`` has changes."""
    repo = Path(__file__).resolve().parents[1]
    try:
        head = _git(repo, "rev-parse", "--short", "HEAD").strip()
        dirty = _git(repo, "status", "--porcelain", "anonymizer").strip()
    except OSError:
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}" or "unknown"


def _git(repo: Path, *args: str) -> str:
    """A read-only git command's output."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    return done.stdout

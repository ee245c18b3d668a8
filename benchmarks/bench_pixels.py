"""Pixel cleaning benchmark: accuracy on the generated corpus, and speed.

    python -m benchmarks.bench_pixels accuracy [--details N] [--save-failures DIR]
    python -m benchmarks.bench_pixels speed [--frames 200]
    python -m benchmarks.bench_pixels files [--presidio]

``accuracy`` runs every corpus sample (see ``pixel_corpus.py``) through
``clean_pixels`` as a DICOM data set (a fifth of the text samples JPEG-compressed first)
and scores the masked rectangles against the ground truth. ``speed`` times detection plus
masking per 512x512 frame on one core (CPU time of this thread, OpenCV single-threaded).
``files`` times whole-file cleaning of the burned-in sample files, and with
``--presidio`` runs Presidio's DicomImageRedactorEngine on the same files side by side.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

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
from benchmarks.pixel_corpus import Kind, Sample, build_corpus, frame_count

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
            for name in (kind, bucket, "text_all"):
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
PRESIDIO_BLOCKED = (
    "Presidio side by side: blocked. presidio-image-redactor needs a spaCy English model"
    " (en_core_web_lg by default); spaCy's official models are published on GitHub, not"
    " on PyPI, and only PyPI and Debian are reachable here."
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


def run_files(*, presidio: bool) -> None:
    """Whole-file cleaning (read, decode, detect, mask, encode, write) per file."""
    total_frames = 0
    total_seconds = 0.0
    for path in _burned_in_files():
        started = time.perf_counter()
        ds = pydicom.dcmread(path)
        result = clean_pixels(ds, settings=ALWAYS)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        elapsed = time.perf_counter() - started
        total_frames += result.frames
        total_seconds += elapsed
        print(
            f"{path.name:32s} frames={result.frames:4d} boxes={result.boxes:5d}"
            f" {elapsed:7.3f} s  {1000 * elapsed / max(result.frames, 1):7.1f} ms/frame"
            f"  {ds.Rows}x{ds.Columns} -> {result.transfer_syntax}"
        )
    print(
        f"total: {total_frames} frames in {total_seconds:.2f} s,"
        f" {total_frames / max(total_seconds, 1e-9):.1f} frames/s"
    )
    if presidio:
        print(PRESIDIO_BLOCKED)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["accuracy", "speed", "files"])
    parser.add_argument("--details", type=int, default=20)
    parser.add_argument("--save-failures", type=Path)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--presidio", action="store_true")
    parser.add_argument("--only", default="", help="substring filter on sample names")
    args = parser.parse_args()
    options = PixelOptions()
    if args.what in ("accuracy", "speed"):
        samples = [s for s in build_corpus() if args.only in s.name]
        if args.what == "accuracy":
            run_accuracy(samples, options, details=args.details, save=args.save_failures)
        else:
            run_speed(samples, options, frames=args.frames)
    else:
        run_files(presidio=args.presidio)


if __name__ == "__main__":
    main()

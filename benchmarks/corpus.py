"""Build the benchmark corpora, with obviously fake PHI planted, into a work directory.

* ``mixed``: the readable DICOM Part 10 image files (< 5 MB) among pydicom's bundled test
  files and pydicom-data, each saved back in its own transfer syntax with fake PHI planted.
* ``mixed-xN``: N copies of ``mixed``, each copy a new instance (new study, series and
  instance UIDs) with its own planted values: a research-sized batch of the same kinds of
  file, where a command's start-up weighs what it does in real use.
* ``large``: uncompressed 16-bit Enhanced CT multi-frame files built from CT_small's header,
  with noise pixel data appended in chunks (never held in memory whole).
* :func:`write_multiframe` also writes the ~1 GB file of the memory benchmark.

Each corpus directory holds ``files/`` (the DICOM files only, so a CLI can take the whole
folder) and ``manifest.json`` (the planted values per file). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

MAX_SMALL_BYTES = 5 << 20
MB = 1_000_000
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_ENHANCED_CT = UID("1.2.840.10008.5.1.4.1.1.2.1")
_PRIVATE_GROUP = 0x0099
_PRIVATE_CREATOR = "FAKE BENCH PHI"
_CHUNK_FRAMES = 16


@dataclass(frozen=True)
class Corpus:
    """A built corpus: its files and the values planted in each (keyed by file name)."""

    root: Path
    planted: dict[str, dict[str, str]]

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    @property
    def files(self) -> list[Path]:
        return [self.files_dir / name for name in sorted(self.planted)]

    @property
    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files)

    @classmethod
    def load(cls, root: Path) -> Corpus:
        manifest = json.loads((root / "manifest.json").read_text())
        return cls(root=root, planted=manifest["files"])


def testdata(name: str) -> Path:
    """The path of one of pydicom's bundled test files."""
    found = pydicom.data.get_testdata_file(name)
    if not isinstance(found, str):
        raise FileNotFoundError(name)
    return Path(found)


def fake_phi(n: int) -> dict[str, str]:
    """The planted values for file number ``n``: unmistakably fake, unique per file."""
    return {
        "PatientName": f"FAKE^BENCH^{n}",
        "PatientID": f"FAKEID{n}",
        "PatientBirthDate": f"1903{1 + n % 12:02d}{1 + n % 28:02d}",
        "AccessionNumber": f"FAKEACC{n}",
        "InstitutionName": f"Fake Bench Hospital {n}",
        "ReferringPhysicianName": f"FAKEREF^DOCTOR^{n}",
        "StudyDescription": f"fake study of FAKE^BENCH^{n}",
        "OtherPatientIDs": f"FAKEOTHER{n}",
        "PatientAddress": f"{n} Fake Bench Street, Nowhere",
        "private:PatientID": f"FAKEID{n}",
    }


def plant_phi(ds: Dataset, values: dict[str, str]) -> None:
    """Write ``values`` into ``ds``; ``private:*`` goes into a private block."""
    for keyword, value in values.items():
        if keyword.startswith("private:"):
            block = ds.private_block(_PRIVATE_GROUP, _PRIVATE_CREATOR, create=True)
            block.add_new(0x01, "LO", value)
        else:
            setattr(ds, keyword, value)


def small_sources() -> list[Path]:
    """Candidate files: pydicom's test and charset files, then pydicom-data's files."""
    roots = [
        Path(pydicom.data.__file__).parent / "test_files",
        Path(pydicom.data.__file__).parent / "charset_files",
    ]
    spec = importlib.util.find_spec("data_store")  # pydicom-data, optional
    if spec is not None and spec.origin is not None:
        roots.append(Path(spec.origin).parent / "data")
    found: list[Path] = []
    for root in roots:
        found.extend(sorted(p for p in root.rglob("*") if p.is_file()))
    return found


def _usable(path: Path) -> Dataset | None:
    """The data set if ``path`` is a readable Part 10 image file under 5 MB, else None."""
    if path.stat().st_size >= MAX_SMALL_BYTES:
        return None
    with path.open("rb") as handle:
        if handle.read(132)[128:] != b"DICM":
            return None  # no preamble: not Part 10
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
            for _ in ds.iterall():  # decode every element now, so bad files are skipped
                pass
    except Exception:  # noqa: BLE001 - pydicom raises many types on unreadable files
        return None
    if str(ds.file_meta.get("MediaStorageSOPClassUID", "")) == _DICOMDIR_CLASS:
        return None
    if not ds.get("SOPInstanceUID") or not any(tag in ds for tag in _PIXEL_TAGS):
        return None
    return ds


def build_mixed(work: Path) -> Corpus:
    """Build (or reuse) the mixed small corpus under ``work/mixed``."""
    root = work / "mixed"
    if (root / "manifest.json").exists():
        return Corpus.load(root)
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    planted: dict[str, dict[str, str]] = {}
    skipped: list[str] = []
    for source in small_sources():
        ds = _usable(source)
        if ds is None:
            skipped.append(source.name)
            continue
        n = len(planted) + 1
        values = fake_phi(n)
        name = f"{n:03d}_{source.stem}.dcm"
        try:
            plant_phi(ds, values)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds.save_as(files / name)  # pydicom keeps the data set's own transfer syntax
                pydicom.dcmread(files / name)
        except Exception:  # noqa: BLE001 - a file pydicom cannot write back is skipped
            (files / name).unlink(missing_ok=True)
            skipped.append(source.name)
            continue
        planted[name] = values
    manifest = {"files": planted, "skipped": len(skipped)}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return Corpus(root=root, planted=planted)


def build_mixed_copies(work: Path, copies: int) -> Corpus:
    """Build (or reuse) ``copies`` copies of the mixed corpus under ``work/mixed-x<copies>``."""
    base = build_mixed(work)
    root = work / f"mixed-x{copies}"
    if (root / "manifest.json").exists():
        return Corpus.load(root)
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    planted: dict[str, dict[str, str]] = {}
    for copy in range(copies):
        for index, source in enumerate(base.files, start=1):
            n = 10_000 * (copy + 1) + index
            name = f"{copy:02d}_{source.name}"
            values = fake_phi(n)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(source)
                for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                    setattr(ds, keyword, generate_uid(entropy_srcs=[name, keyword]))
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                plant_phi(ds, values)
                ds.save_as(files / name)
            planted[name] = values
    (root / "manifest.json").write_text(json.dumps({"files": planted}, indent=1))
    return Corpus(root=root, planted=planted)


def _multiframe_header(*, frames: int, rows: int, columns: int, seed: str) -> Dataset:
    """An Enhanced CT header from CT_small's: functional groups, no pixel data."""
    ds = pydicom.dcmread(testdata("CT_small.dcm"))
    for tag in [elem.tag for elem in ds if elem.tag >= 0x7FE00000]:
        del ds[tag]  # pixel data and trailing padding: pixel data is appended by hand
    uid = generate_uid(entropy_srcs=[seed, "sop"])
    ds.SOPClassUID = _ENHANCED_CT
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[seed, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[seed, "series"])
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.5]
    measures.SliceThickness = 1.0
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for index in range(frames):
        content = Dataset()
        content.InStackPositionNumber = index + 1
        content.FrameAcquisitionDateTime = "20200101120000"
        position = Dataset()
        position.ImagePositionPatient = [0.0, 0.0, float(index)]
        item = Dataset()
        item.FrameContentSequence = Sequence([content])
        item.PlanePositionSequence = Sequence([position])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _ENHANCED_CT
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def write_multiframe(
    path: Path,
    *,
    frames: int,
    values: dict[str, str],
    rows: int = 512,
    columns: int = 512,
    delimited: bool = False,
) -> int:
    """Write an uncompressed multi-frame file, pixel data streamed; return the pixel bytes.

    ``delimited``: every sequence and item with undefined length, as many scanners write
    them (pydicom parses those as it reads; defined-length ones it leaves raw)."""
    ds = _multiframe_header(frames=frames, rows=rows, columns=columns, seed=path.name)
    plant_phi(ds, values)
    if delimited:
        for elem in ds.iterall():
            if elem.VR == "SQ":
                elem.is_undefined_length = True
                for item in elem.value:
                    item.is_undefined_length_sequence_item = True
    frame_bytes = rows * columns * 2
    length = frames * frame_bytes
    if length >= 0xFFFFFFFF:
        raise ValueError("pixel data too long for one element")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pydicom.dcmwrite(handle, ds, enforce_file_format=True)
        # (7FE0,0010) OW, explicit VR little endian: tag, VR, 2 reserved bytes, 4-byte length
        handle.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length))
        for first in range(0, frames, _CHUNK_FRAMES):
            count = min(_CHUNK_FRAMES, frames - first)
            handle.write(os.urandom(count * frame_bytes))  # noise: no pattern a tool can skip
    return length


def build_large(
    work: Path, *, count: int = 4, size_mb: int = 150, delimited: bool = False
) -> Corpus:
    """Build (or reuse) ``count`` multi-frame files of about ``size_mb`` MB each
    (``delimited``: with undefined-length sequences and items)."""
    root = work / f"large-{count}x{size_mb}{'-delimited' if delimited else ''}"
    if (root / "manifest.json").exists():
        return Corpus.load(root)
    frames = max(1, size_mb * MB // (512 * 512 * 2))
    planted: dict[str, dict[str, str]] = {}
    for index in range(count):
        n = 1001 + index
        name = f"{n}_enhanced_ct_{frames}f.dcm"
        values = fake_phi(n)
        write_multiframe(root / "files" / name, frames=frames, values=values, delimited=delimited)
        planted[name] = values
    (root / "manifest.json").write_text(json.dumps({"files": planted}, indent=1))
    return Corpus(root=root, planted=planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("bench-work"))
    parser.add_argument("--large-count", type=int, default=4)
    parser.add_argument("--large-mb", type=int, default=150)
    args = parser.parse_args()
    for corpus in (
        build_mixed(args.work),
        build_large(args.work, count=args.large_count, size_mb=args.large_mb),
    ):
        print(f"{corpus.root}: {len(corpus.planted)} files, {corpus.total_bytes / MB:.1f} MB")


if __name__ == "__main__":
    main()

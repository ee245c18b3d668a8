"""The quick-start demo: de-identify a dozen of pydicom's bundled sample files.

The samples cover the modalities, encodings and character sets the pipeline meets most
(CT, MR, NM, US RGB, JPEG, JPEG 2000, RLE, big endian, deflate, implicit VR, SR, RT
plan, Korean ISO 2022). They all ship inside the pydicom wheel (a hard dependency), and
their patient data is fake. Nothing is downloaded: a missing sample is reported as such.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from pydicom.data import get_charset_files, get_testdata_file

from anonymizer.errors import DeidError
from anonymizer.keys import PseudonymKey
from anonymizer.pipeline import Anonymizer

DEMO_SAMPLES: tuple[tuple[str, str], ...] = (
    ("CT_small.dcm", "CT, explicit VR little endian"),
    ("MR_small.dcm", "MR, explicit VR little endian"),
    ("MR_small_implicit.dcm", "MR, implicit VR little endian"),
    ("MR_small_bigendian.dcm", "MR, explicit VR big endian"),
    ("examples_rgb_color.dcm", "US, RGB"),
    ("JPEG-lossy.dcm", "NM, JPEG extended (lossy)"),
    ("JPEG2000.dcm", "NM, JPEG 2000"),
    ("MR_small_RLE.dcm", "MR, RLE lossless"),
    ("image_dfl.dcm", "OT, deflated"),
    ("test-SR.dcm", "structured report"),
    ("rtplan.dcm", "RT plan"),
    ("chrI2.dcm", "OT, Korean, ISO 2022 IR 149"),
    ("chrKoreanMulti.dcm", "CR, Korean, ISO 2022 IR 149"),
)
"""File names (as pydicom knows them) and what each one shows."""

MISSING = "sample_missing"


@dataclass(frozen=True)
class DemoRow:
    """What happened to one sample. Holds new UIDs and counts, never an input value."""

    name: str
    description: str
    ok: bool
    reason: str | None = None
    removed: int = 0
    replaced: int = 0
    sop_instance_uid: str = ""


def sample_path(name: str) -> Path | None:
    """Where pydicom keeps the sample ``name``, or None; never downloads."""
    found = get_testdata_file(name, download=False)
    if found is None:
        charset = get_charset_files(name)
        found = charset[0] if charset else None
    return Path(found) if isinstance(found, str) else None


def run_demo(
    out: Path, *, profile: str = "basic", key: PseudonymKey | None = None
) -> list[DemoRow]:
    """De-identify every demo sample into ``out`` with ``profile`` and a throw-away key.

    Parameters
    ----------
    out
        Output folder, created when missing; a sample keeps its file name there.
    profile
        The profile to apply.
    key
        The pseudonym key; a throw-away key when None.
    """
    anonymizer = Anonymizer(profile=profile, key=key or PseudonymKey.throwaway())
    rows = []
    for name, description in DEMO_SAMPLES:
        source = sample_path(name)
        if source is None:
            rows.append(DemoRow(name, description, ok=False, reason=MISSING))
            continue
        try:
            # pydicom's warnings quote element values: they are not shown.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = anonymizer.anonymize_file(source, out / name)
        except DeidError as exc:
            rows.append(DemoRow(name, description, ok=False, reason=exc.reason.value))
            continue
        rows.append(
            DemoRow(
                name,
                description,
                ok=True,
                removed=result.removed,
                replaced=result.replaced,
                sop_instance_uid=result.sop_instance_uid,
            )
        )
    return rows

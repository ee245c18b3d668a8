"""Count planted fake PHI left in an output file.

Two checks: a case-insensitive byte search of the whole output (inflated first when the
transfer syntax is deflated), and pydicom's decoded value of each planted element.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

_PRIVATE_GROUP = 0x0099


def _searchable(data: bytes, ds: Dataset | None) -> bytes:
    """The output's bytes, with the data set inflated when it is deflated."""
    syntax = ds.file_meta.get("TransferSyntaxUID") if ds is not None else None
    if syntax != DeflatedExplicitVRLittleEndian or data[128:132] != b"DICM":
        return data
    # (0002,0000) UL, explicit VR: 8-byte header then the meta group's length
    meta_end = 144 + struct.unpack("<I", data[140:144])[0]
    try:
        return data + zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[meta_end:])
    except zlib.error:
        return data


def _decoded(ds: Dataset, field: str) -> str:
    if field.startswith("private:"):
        values = [
            elem.value.decode("latin-1") if isinstance(elem.value, bytes) else str(elem.value)
            for elem in ds
            if elem.tag.group == _PRIVATE_GROUP and elem.VR != "SQ"
        ]
        return "\\".join(values)
    elem = ds.get(field)
    return "" if elem is None else str(elem)


def leaked_fields(path: Path, planted: dict[str, str]) -> list[str]:
    """The planted fields still found in ``path``: ``field`` (decoded) or ``bytes:field``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _leaked_fields(path, planted)


def _leaked_fields(path: Path, planted: dict[str, str]) -> list[str]:
    data = path.read_bytes()
    ds: Dataset | None
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - an unreadable output is still searched as bytes
        ds = None
    lowered = _searchable(data, ds).lower()
    found = []
    for field, value in planted.items():
        in_bytes = value.lower().encode() in lowered
        in_value = ds is not None and value.lower() in _decoded(ds, field).lower()
        if in_value:
            found.append(field)
        elif in_bytes:
            found.append(f"bytes:{field}")
    return found

"""Our DICOM JSON of single elements equals pydicom's, on every element of real files."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pydicom.data
import pytest
from pydicom.data import get_charset_files
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from anonymizer.dicom_json import element_json

_BINARY = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
_PER_FILE = 200  # the first elements of each file: some hold tens of thousands


def _files() -> list[Path]:
    """pydicom's bundled test and character-set files (no pydicom-data search: slow)."""
    base = Path(pydicom.data.__file__).parent / "test_files"
    found = sorted(p for p in base.rglob("*") if p.is_file())
    return found + sorted(Path(p) for p in get_charset_files())


def _elements() -> list[DataElement]:
    found: list[DataElement] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in _files():
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # noqa: BLE001, S112 - DICOMDIRs, fragments, not DICOM at all
                continue
            kept = (e for e in ds.iterall() if e.VR not in _BINARY)
            found.extend(e for _, e in zip(range(_PER_FILE), kept, strict=False))
    return found


def test_equal_to_pydicom_on_every_element_of_pydicoms_test_files() -> None:
    elements = _elements()
    compared = 0
    differing: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for element in elements:
            try:
                expected = element.to_json_dict(None, 0)
            except Exception:  # noqa: BLE001, S112 - pydicom cannot write it either
                continue
            compared += 1
            if element_json(element) != expected:
                differing.append(f"{element.tag} {element.VR}")
    assert compared > 5000
    assert differing == []


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("PatientName", "Yamada^Tarou=山田^太郎=やまだ^たろう"),  # groups: pydicom writes it
        ("SliceThickness", "2.5"),  # DS: pydicom writes it
        ("InstanceNumber", "7"),
        ("ImageType", ["ORIGINAL", "", "AXIAL"]),
        ("PatientName", ""),
        ("ReferencedSOPSequence", []),
    ],
)
def test_equal_to_pydicom_on_edge_values(keyword: str, value: object) -> None:
    ds = Dataset()
    setattr(ds, keyword, value)
    element = ds[keyword]
    assert element_json(element) == element.to_json_dict(None, 0)

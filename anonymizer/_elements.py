"""Typed access to a Dataset's element dictionary, keyed by plain tag numbers."""

from __future__ import annotations

from typing import cast

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

Element = DataElement | RawDataElement


def elements_of(ds: Dataset) -> dict[int, Element]:
    """The element dictionary of ``ds``. Tags are ``BaseTag``, an ``int`` with equal hash."""
    return cast(dict[int, Element], ds._dict)

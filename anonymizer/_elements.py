"""Typed access to a Dataset's element dictionary, keyed by plain tag numbers."""

from __future__ import annotations

from typing import cast

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

Element = DataElement | RawDataElement


def elements_of(ds: Dataset) -> dict[int, Element]:
    """The element dictionary of ``ds``. Tags are ``BaseTag``, an ``int`` with equal hash."""
    return cast(dict[int, Element], ds._dict)


# VRs whose value the writer packs as its ASCII characters, padded to even length.
_ASCII_VRS = frozenset(
    ("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC")
    + ("UI", "UR", "UT")
)


def ascii_raw(
    tag: int, vr: str, value: object, *, implicit: bool, little: bool
) -> RawDataElement | None:
    """``value`` as a raw element already encoded, when it is plain ASCII text (or empty).

    The encoder copies such an element's bytes as they are, and pydicom decodes it only if
    someone reads it; building a ``DataElement`` costs more than both. None when the value
    is not plain ASCII text of an ASCII-packed VR: the caller builds a DataElement then.
    """
    if vr not in _ASCII_VRS:
        return None
    if value is None or value == "":
        text = ""
    elif type(value) is str:
        text = value
    elif type(value) is list and all(type(v) is str for v in value):
        text = "\\".join(value)
    else:
        return None
    if not text.isascii():
        return None
    data = text.encode("ascii")
    if len(data) % 2:
        data += b"\0" if vr == "UI" else b" "
    return RawDataElement(BaseTag(tag), vr, len(data), data, 0, implicit, little)

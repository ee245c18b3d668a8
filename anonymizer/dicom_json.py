"""DICOM JSON (PS3.18 F.2) of single elements, for the common value types.

pydicom's ``to_json_dict`` is general and slow; the service writes the JSON of every
stored instance's search attributes and of every STOW-RS answer, whose elements are
nearly all text, integers or person names. Those are written here, exactly as pydicom
writes them; anything else (binary, decimal, names with ideographic or phonetic groups)
is left to pydicom.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataelem import DataElement

_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
_INTEGER_VRS = frozenset({"US", "UL", "SS", "SL", "UV", "SV", "IS"})


def element_json(element: DataElement) -> dict[str, Any]:
    """``{"vr": ..., "Value": [...]}`` of ``element`` (no ``Value`` when it is empty)."""
    vr = element.VR
    value = element.value
    if vr == "SQ":
        return {
            "vr": vr,
            "Value": [{f"{e.tag:08X}": element_json(e) for e in item} for item in value],
        }
    if element.VM == 0 or value is None or value == "":
        return {"vr": vr}
    # Empty values inside a multi-valued element stay, as empty strings (as pydicom does).
    values = list(value) if element.VM > 1 else [value]
    written = _values(vr, values)
    if written is None:
        return dict(element.to_json_dict(None, 0))
    return {"vr": vr, "Value": written}


def _values(vr: str, values: list[Any]) -> list[Any] | None:
    """The JSON values of a text, integer or single-group name element; None otherwise."""
    if vr in _TEXT_VRS:
        return [str(v) for v in values]
    if vr in _INTEGER_VRS:
        return _integers(values)
    if vr == "PN":
        names = [str(v) for v in values]
        if all(name and "=" not in name for name in names):
            return [{"Alphabetic": name} for name in names]
    return None


def _integers(values: list[Any]) -> list[int] | None:
    if any(v is None or v == "" for v in values):
        return None
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        return None

"""PS3.18 Store Instances Response and QIDO results as DICOM JSON (Annex F) or XML (PS3.19)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from anonymizer.dicom_json import element_json

DICOM_JSON = "application/dicom+json"
DICOM_XML = "application/dicom+xml"

# PS3.18 Table I.2-2 failure reasons and PS3.4 B.2.3 warning reasons we use.
FAILURE_PROCESSING = 0x0110
FAILURE_OUT_OF_RESOURCES = 0xA700
FAILURE_CANNOT_UNDERSTAND = 0xC000
FAILURE_SOP_CLASS_NOT_SUPPORTED = 0x0122
WARNING_COERCION = 0xB000


def referenced_item(*, sop_class: str, sop_instance: str, url: str, warning: int | None) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    item.RetrieveURL = url
    if warning is not None:
        item.WarningReason = warning
    return item


def failed_item(*, sop_class: str, sop_instance: str, reason: int) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    item.FailureReason = reason
    return item


def store_response(
    *, study_url: str | None, referenced: list[Dataset], failed: list[Dataset]
) -> Dataset:
    """The Store Instances Response Module; empty sequences are left out."""
    ds = Dataset()
    ds.RetrieveURL = study_url or ""
    if failed:
        ds.FailedSOPSequence = Sequence(failed)
    if referenced:
        ds.ReferencedSOPSequence = Sequence(referenced)
    return ds


def to_json(ds: Dataset) -> dict[str, Any]:
    """DICOM JSON (PS3.18 F.2) of a response data set, as pydicom writes it, faster."""
    return {f"{element.tag:08X}": element_json(element) for element in ds}


def to_xml(ds: Dataset) -> bytes:
    """PS3.19 Native DICOM Model."""
    root = ET.Element("NativeDicomModel", xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM")
    _xml_dataset(root, ds)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _xml_dataset(parent: ET.Element, ds: Dataset) -> None:
    for element in ds:
        attr = ET.SubElement(
            parent,
            "DicomAttribute",
            attrib={"tag": f"{element.tag:08X}", "vr": element.VR, "keyword": element.keyword},
        )
        if element.VR == "SQ":
            for number, item in enumerate(element.value, start=1):
                node = ET.SubElement(attr, "Item", number=str(number))
                _xml_dataset(node, item)
            continue
        values = element.value if isinstance(element.value, list | tuple) else [element.value]
        for number, value in enumerate(values, start=1):
            if value is None or value == "":
                continue
            node = ET.SubElement(attr, "Value", number=str(number))
            node.text = str(value)

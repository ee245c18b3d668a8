"""When the profile's pixel policy asks for burned-in text to be cleaned (DESIGN.md).

Decided on the input, before the header stage: Modality, SOP Class and Burned In
Annotation as the sender wrote them. Under any policy but ``never``, an image whose Burned
In Annotation is YES is cleaned.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from anonymizer.profiles.model import PixelPolicy, PixelSettings


def cleaning_required(ds: Dataset, settings: PixelSettings) -> bool:
    """Whether the pixel data of ``ds`` must be cleaned before it may be stored."""
    if settings.policy is PixelPolicy.NEVER:
        return False
    if settings.policy is PixelPolicy.ALWAYS:
        return True
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return True
    if settings.policy is PixelPolicy.BURNED_IN_ANNOTATION:
        return False
    modality = str(ds.get("Modality", "")).strip().upper()
    sop_class = str(ds.get("SOPClassUID", "")).strip()
    return modality in settings.modalities or sop_class in settings.sop_classes

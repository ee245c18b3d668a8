"""When the profile's pixel policy asks for burned-in text to be cleaned (DESIGN.md).

Decided on the input, before the header stage: Modality, SOP Class and Burned In
Annotation as the sender wrote them. The rule itself is
:func:`anonymizer.pixels.policy.cleaning_reason`; this is its yes/no form for a header
read without its pixel data.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from anonymizer.pixels.policy import cleaning_reason
from anonymizer.profiles.model import PixelSettings


def cleaning_required(ds: Dataset, settings: PixelSettings) -> bool:
    """Whether the pixel data of ``ds`` (an object that has pixel data) must be cleaned."""
    return cleaning_reason(ds, settings, has_pixels=True).cleans

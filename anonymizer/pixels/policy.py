"""When the pixel stage cleans: the profile's pixel policy applied to one data set."""

from __future__ import annotations

from enum import StrEnum

from pydicom.dataset import Dataset

from anonymizer.profiles.model import PixelPolicy, PixelSettings

_PIXEL_DATA = 0x7FE00010


class CleanReason(StrEnum):
    """Why the pixel stage did or did not clean a data set."""

    POLICY_NEVER = "policy_never"
    NOT_SELECTED = "not_selected"  # the policy lists modalities / SOP classes; not this one
    NO_PIXEL_DATA = "no_pixel_data"
    ALWAYS = "always"
    MODALITY = "modality"
    SOP_CLASS = "sop_class"
    BURNED_IN_ANNOTATION = "burned_in_annotation"

    @property
    def cleans(self) -> bool:
        """Whether this reason means the pixels are cleaned."""
        return self in _CLEANING


_CLEANING = frozenset(
    {
        CleanReason.ALWAYS,
        CleanReason.MODALITY,
        CleanReason.SOP_CLASS,
        CleanReason.BURNED_IN_ANNOTATION,
    }
)


def cleaning_reason(
    ds: Dataset, settings: PixelSettings, *, has_pixels: bool | None = None
) -> CleanReason:
    """Decide whether ``ds`` needs its pixels cleaned under ``settings``.

    Call it on the data set as received (before the header stage), since Burned In
    Annotation (0028,0301), Modality and SOP Class UID are what it looks at.

    ``burned_in_annotation`` cleans when Burned In Annotation is YES. ``modalities`` cleans
    the listed modalities and SOP classes, and also any image whose Burned In Annotation is
    YES: a device that says it burned text in is believed.

    ``has_pixels`` says whether the object has pixel data when ``ds`` is a header read
    without it; by default ``ds`` itself is looked at.
    """
    if settings.policy is PixelPolicy.NEVER:
        return CleanReason.POLICY_NEVER
    if not (_PIXEL_DATA in ds if has_pixels is None else has_pixels):
        return CleanReason.NO_PIXEL_DATA
    if settings.policy is PixelPolicy.ALWAYS:
        return CleanReason.ALWAYS
    listed = _listed(ds, settings) if settings.policy is PixelPolicy.MODALITIES else None
    if listed is not None:
        return listed
    if _text(ds, "BurnedInAnnotation").upper() == "YES":
        return CleanReason.BURNED_IN_ANNOTATION
    return CleanReason.NOT_SELECTED


def _listed(ds: Dataset, settings: PixelSettings) -> CleanReason | None:
    modality = _text(ds, "Modality").upper()
    if modality and modality in {m.strip().upper() for m in settings.modalities}:
        return CleanReason.MODALITY
    sop_class = _text(ds, "SOPClassUID")
    if sop_class and sop_class in {s.strip() for s in settings.sop_classes}:
        return CleanReason.SOP_CLASS
    return None


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed value is treated as absent
        return ""
    return str(value).strip() if value else ""

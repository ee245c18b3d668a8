"""The profile's pixel policy decides when the pixel stage cleans."""

from __future__ import annotations

import itertools

import pytest
from pydicom.dataset import Dataset

from anonymizer.pixel_policy import cleaning_required
from anonymizer.pixels.policy import CleanReason, cleaning_reason
from anonymizer.profiles.model import PixelPolicy, PixelSettings

US_SOP = "1.2.840.10008.5.1.4.1.1.6.1"
CT_SOP = "1.2.840.10008.5.1.4.1.1.2"
AI_UPLOAD = PixelSettings(
    policy=PixelPolicy.MODALITIES, modalities=("US", "SC", "OT", "XA", "RF", "ES", "XC")
)


def _ds(modality: str, *, sop: str = CT_SOP, burned: str | None = None) -> Dataset:
    ds = Dataset()
    ds.Modality = modality
    ds.SOPClassUID = sop
    if burned is not None:
        ds.BurnedInAnnotation = burned
    ds.PixelData = b"\0\0"
    return ds


@pytest.mark.parametrize(
    ("settings", "ds", "reason"),
    [
        (
            PixelSettings(policy=PixelPolicy.NEVER),
            _ds("US", burned="YES"),
            CleanReason.POLICY_NEVER,
        ),
        (PixelSettings(policy=PixelPolicy.ALWAYS), _ds("CT"), CleanReason.ALWAYS),
        (AI_UPLOAD, _ds("US"), CleanReason.MODALITY),
        (AI_UPLOAD, _ds("CT"), CleanReason.NOT_SELECTED),
        (AI_UPLOAD, _ds("CT", burned="YES"), CleanReason.BURNED_IN_ANNOTATION),
        (AI_UPLOAD, _ds("CT", burned="NO"), CleanReason.NOT_SELECTED),
        (
            PixelSettings(policy=PixelPolicy.MODALITIES, sop_classes=(US_SOP,)),
            _ds("OT", sop=US_SOP),
            CleanReason.SOP_CLASS,
        ),
        (
            PixelSettings(policy=PixelPolicy.BURNED_IN_ANNOTATION),
            _ds("US"),
            CleanReason.NOT_SELECTED,
        ),
        (
            PixelSettings(policy=PixelPolicy.BURNED_IN_ANNOTATION),
            _ds("MR", burned="YES"),
            CleanReason.BURNED_IN_ANNOTATION,
        ),
    ],
)
def test_reason(settings: PixelSettings, ds: Dataset, reason: CleanReason) -> None:
    assert cleaning_reason(ds, settings) is reason


def test_no_pixel_data_is_not_cleaned() -> None:
    ds = _ds("US")
    del ds.PixelData
    reason = cleaning_reason(ds, AI_UPLOAD)
    assert reason is CleanReason.NO_PIXEL_DATA
    assert not reason.cleans


def test_agrees_with_the_pipeline_policy() -> None:
    """The stage and the pipeline's fail-closed check never disagree."""
    policies = [
        PixelSettings(policy=PixelPolicy.NEVER),
        PixelSettings(policy=PixelPolicy.ALWAYS),
        PixelSettings(policy=PixelPolicy.BURNED_IN_ANNOTATION),
        AI_UPLOAD,
        PixelSettings(policy=PixelPolicy.MODALITIES, sop_classes=(US_SOP,)),
    ]
    for settings, modality, sop, burned in itertools.product(
        policies, ["US", "CT", "OT"], [US_SOP, CT_SOP], [None, "YES", "NO"]
    ):
        ds = _ds(modality, sop=sop, burned=burned)
        assert cleaning_reason(ds, settings).cleans == cleaning_required(ds, settings)

"""The pixel stage on real device images with burned-in (fake) PHI.

The regions below were annotated by hand on the first frame of each file (x, y, width,
height): where the name, IDs, dates and institution are written. Inside them, every ink
pixel (one that stands out of the region's background) must lie in a masked box, and
after cleaning it must hold the fill value: no text can be read back.
"""

from __future__ import annotations

import copy
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import UID

from anonymizer.errors import BurnedInTextUnresolved, UnsupportedTransferSyntax
from anonymizer.pixels import (
    LossyOutput,
    OverlayHandling,
    PixelOptions,
    PixelResult,
    RegionRule,
    clean_pixels,
)
from anonymizer.pixels.codec import decode_pixels
from anonymizer.pixels.display import iter_display
from anonymizer.pixels.geometry import Box
from anonymizer.pixels.policy import CleanReason
from anonymizer.profiles.model import PixelPolicy, PixelSettings

ALWAYS = PixelSettings(policy=PixelPolicy.ALWAYS)
AI_UPLOAD = PixelSettings(
    policy=PixelPolicy.MODALITIES, modalities=("US", "SC", "OT", "XA", "RF", "ES", "XC")
)
Region = tuple[int, int, int, int]

PYDICOM_PHI: dict[str, list[Region]] = {
    "examples_palette.dcm": [
        (88, 0, 50, 28),  # OB
        (85, 30, 190, 26),  # 11-05-25-142825
        (315, 30, 210, 26),  # Philips Healthcare
        (660, 0, 135, 28),  # 5/25/2011
        (660, 30, 135, 26),  # 2:56:22 PM
    ],
    "OBXXXX1A.dcm": [(88, 0, 50, 28), (85, 30, 190, 26), (315, 30, 210, 26), (660, 0, 135, 56)],
    "OBXXXX1A_rle_2frame.dcm": [(85, 30, 190, 26), (315, 30, 210, 26), (660, 0, 135, 56)],
    "examples_rgb_color.dcm": [(5, 10, 88, 12)],  # BAPTIST MED CTR
    "examples_jpeg2k.dcm": [(10, 20, 170, 22), (270, 37, 100, 22)],  # name, time
    "US1_J2KI.dcm": [(10, 20, 170, 22), (270, 37, 100, 22)],
    "gdcm-US-ALOKA-16.dcm": [
        (70, 0, 190, 13),  # *WESTWAY MEDICAL*
        (100, 11, 120, 14),  # ULTRASOUND
        (525, 0, 115, 12),  # 24-MAY-02
        (520, 11, 120, 14),  # 11:24:20
    ],
}
DEID_PHI: dict[str, list[Region]] = {
    "GREYSCALE_IMAGE.dcm": [(0, 0, 300, 24), (385, 0, 310, 24), (815, 0, 205, 24)],
    "RGB_IMAGE.dcm": [
        (0, 0, 245, 30),  # ZZZDOWNTIME,MARY
        (385, 0, 65, 30),  # AC
        (495, 0, 235, 30),  # 8:48:26 AM 4/14/2020
        (765, 0, 130, 30),  # accession
        (0, 30, 150, 27),  # MRN
        (495, 30, 290, 27),  # CCHS CLEVELAND CLINIC
    ],
}
CINE_PHI: list[Region] = [(0, 0, 232, 20), (295, 0, 250, 20), (630, 0, 170, 20)]


def _read(path: str | Path | io.BytesIO) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def _pydicom_file(name: str) -> Dataset:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom-data)")
    return _read(str(path))


def _deid_folder() -> Path:
    data = pytest.importorskip("deid_data.data")
    return Path(data.get_dataset("ultrasounds"))


def _views(ds: Dataset) -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoded = decode_pixels(ds, max_bytes=1 << 32)
        views = list(iter_display(decoded, ds))
    return [v if v.ndim == 2 else v.astype(np.int16).sum(axis=2) // 3 for v in views]


def _covered(boxes: tuple[Box, ...], shape: tuple[int, ...]) -> np.ndarray:
    cover = np.zeros(shape[:2], bool)
    for box in boxes:
        cover[box.y : box.bottom, box.x : box.right] = True
    return cover


def _assert_no_text_left(
    original: Dataset,
    cleaned: Dataset,
    frame_boxes: tuple[tuple[Box, ...], ...],
    regions: list[Region],
) -> None:
    before, after = _views(original), _views(cleaned)
    assert len(before) == len(after) == len(frame_boxes)
    for index, (view, result) in enumerate(zip(before, after, strict=True)):
        cover = _covered(frame_boxes[index], view.shape)
        for x, y, w, h in regions:
            patch = view[y : y + h, x : x + w].astype(np.int16)
            ink = np.abs(patch - np.median(patch)) >= 80
            if index == 0:
                assert ink.any(), f"region {x},{y} holds no text: annotation wrong"
            missed = ink & ~cover[y : y + h, x : x + w]
            assert not missed.any(), f"frame {index}: text left at region {x},{y}"
            flat = result[y : y + h, x : x + w][ink]
            assert len(np.unique(flat)) <= 1, f"frame {index}: masked pixels not constant"


def _clean(ds: Dataset, settings: PixelSettings = ALWAYS, **options: object) -> PixelResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clean_pixels(ds, settings=settings, options=PixelOptions(**options))  # type: ignore[arg-type]


def _saved(ds: Dataset) -> Dataset:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return _read(buffer)


@pytest.mark.parametrize("name", sorted(PYDICOM_PHI))
def test_pydicom_burned_in_text_is_masked(name: str) -> None:
    original = _pydicom_file(name)
    ds = copy.deepcopy(original)
    result = _clean(ds)
    assert result.cleaned and result.reason is CleanReason.ALWAYS
    assert ds.BurnedInAnnotation == "NO"
    _assert_no_text_left(original, _saved(ds), result.frame_boxes, PYDICOM_PHI[name])


@pytest.mark.parametrize("name", sorted(DEID_PHI))
def test_deid_ultrasound_text_is_masked(name: str) -> None:
    original = _read(_deid_folder() / name)
    ds = copy.deepcopy(original)
    result = _clean(ds, settings=AI_UPLOAD)
    assert result.cleaned and result.reason is CleanReason.MODALITY
    assert result.transfer_syntax == str(original.file_meta.TransferSyntaxUID)
    _assert_no_text_left(original, _saved(ds), result.frame_boxes, DEID_PHI[name])


@pytest.mark.slow
def test_deid_greyscale_cine_every_frame(tmp_path: Path) -> None:
    with zipfile.ZipFile(_deid_folder() / "GREYSCALE_CINE.zip") as archive:
        member = next(n for n in archive.namelist() if n.endswith(".dcm"))
        path = Path(archive.extract(member, tmp_path))
    original = _read(path)
    ds = copy.deepcopy(original)
    result = _clean(ds, settings=AI_UPLOAD)
    assert result.frames == 27
    _assert_no_text_left(original, _saved(ds), result.frame_boxes, CINE_PHI)


@pytest.mark.slow
def test_pydicom_data_120_frame_jpeg_cine() -> None:
    original = _pydicom_file("color3d_jpeg_baseline.dcm")
    ds = copy.deepcopy(original)
    result = _clean(ds)
    assert result.frames == 120
    assert ds.LossyImageCompression == "01"
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    # "PLA" and "Gen THI" (top left) and the status bar are masked in every frame.
    _assert_no_text_left(original, _saved(ds), result.frame_boxes, [(18, 4, 45, 18)])


def test_policy_not_selected_leaves_the_data_set_alone() -> None:
    ds = _pydicom_file("CT_small.dcm")
    before = ds.PixelData
    result = _clean(ds, settings=AI_UPLOAD)
    assert not result.cleaned and result.reason is CleanReason.NOT_SELECTED
    assert ds.PixelData == before and "BurnedInAnnotation" not in ds


def test_clean_control_image_is_left_alone() -> None:
    """A CT slice without text: nothing, or next to nothing, is masked."""
    ds = _pydicom_file("693_UNCR.dcm")
    result = _clean(ds)
    assert result.cleaned
    assert result.masked_pixels <= 0.01 * ds.Rows * ds.Columns


def test_region_rules_blank_their_rectangles_even_without_detection() -> None:
    ds = _pydicom_file("OBXXXX1A.dcm")
    rule = RegionRule.model_validate(
        {
            "name": "philips-banner",
            "match": {"Modality": "US", "Rows": 600, "Columns": 800},
            "boxes": [[0, 0, 800, 60]],
        }
    )
    result = clean_pixels(ds, settings=ALWAYS, options=PixelOptions(detect=False), regions=[rule])
    assert result.region_rules == ("philips-banner",)
    assert result.masked_pixels == 800 * 60
    frames = decode_pixels(_saved(ds), max_bytes=1 << 30).frames
    assert len(np.unique(frames[0, :60])) == 1


def test_icon_removed_and_overlay_cleaned() -> None:
    ds = _pydicom_file("examples_overlay.dcm")
    assert "IconImageSequence" in ds
    overlay = ds.overlay_array(0x6000).copy()
    rule = RegionRule.model_validate(
        {"name": "all", "match": {"Modality": "MR"}, "boxes": [[0, 0, 484, 300]]}
    )
    result = clean_pixels(ds, settings=ALWAYS, regions=[rule])
    assert "IconImageSequence" not in ds
    if overlay.any():
        assert result.overlays_changed == 1
        assert not ds.overlay_array(0x6000).any()


def test_overlays_removed_when_asked() -> None:
    ds = _pydicom_file("examples_overlay.dcm")
    clean_pixels(ds, settings=ALWAYS, options=PixelOptions(overlays=OverlayHandling.REMOVE))
    tags = list(ds.keys())
    assert not [t for t in tags if 0x6000 <= t.group <= 0x601E]


def test_unsupported_syntax_raises_when_cleaning_is_required() -> None:
    ds = _pydicom_file("CT_small.dcm")
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.102")  # MPEG-4 AVC/H.264
    with pytest.raises(UnsupportedTransferSyntax):
        clean_pixels(ds, settings=ALWAYS)


def test_undecodable_pixels_raise_not_pass() -> None:
    ds = _pydicom_file("MR_small_RLE.dcm")
    ds.PixelData = ds.PixelData[:100]
    with pytest.raises(BurnedInTextUnresolved):
        clean_pixels(ds, settings=ALWAYS)


_CORNER = RegionRule.model_validate(
    {"name": "corner", "match": {"Modality": "OT"}, "boxes": [[0, 0, 20, 10]]}
)


def _clean_corner(ds: Dataset, **options: object) -> PixelResult:
    """Clean with a fixed rectangle to mask, so the pixel data has to be written anew."""
    ds.Modality = "OT"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clean_pixels(
            ds,
            settings=ALWAYS,
            options=PixelOptions(**options),  # type: ignore[arg-type]
            regions=[_CORNER],
        )


def test_lossy_input_stays_uncompressed_unless_asked() -> None:
    ds = _pydicom_file("SC_rgb_jpeg_dcmtk.dcm")
    result = _clean_corner(ds)
    assert result.masked_pixels == 200
    assert result.transfer_syntax == "1.2.840.10008.1.2.1" and not result.lossy_recompressed
    ds = _pydicom_file("SC_rgb_jpeg_dcmtk.dcm")
    result = _clean_corner(ds, lossy_output=LossyOutput.SAME_SYNTAX)
    assert result.transfer_syntax == "1.2.840.10008.1.2.4.50" and result.lossy_recompressed


def test_nothing_to_mask_keeps_the_pixel_data_as_it_came() -> None:
    ds = _pydicom_file("SC_rgb_jpeg_dcmtk.dcm")
    before = bytes(ds.PixelData)
    result = _clean(ds)
    assert result.cleaned and result.masked_pixels == 0
    assert result.transfer_syntax == "1.2.840.10008.1.2.4.50" and not result.lossy_recompressed
    assert bytes(ds.PixelData) == before
    assert ds.BurnedInAnnotation == "NO"


def test_result_holds_no_pixel_values() -> None:
    ds = _pydicom_file("examples_palette.dcm")
    result = _clean(ds)
    text = repr(result)
    assert "frame_boxes" not in text
    assert result.boxes == sum(len(b) for b in result.frame_boxes)

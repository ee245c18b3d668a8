"""``write_preview``: original and cleaned side by side, boxes drawn, for people to check."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file

from anonymizer.preview import write_preview


def test_dicom_preview(tmp_path: Path) -> None:
    source = str(get_testdata_file("examples_palette.dcm"))
    out = tmp_path / "preview.png"
    result = write_preview(source, out, profile="ai-upload")
    assert result.cleaned and result.boxes > 0 and result.frames == 1
    image = cv2.imread(str(out))
    assert image is not None
    assert image.shape == (350 + 22, 800 * 2 + 8, 3)
    left, right = image[22:, :800], image[22:, 808:]
    red = (left[..., 2] == 255) & (left[..., 1] == 0) & (left[..., 0] == 0)
    assert red.any()  # boxes drawn on the original
    # The ID "11-05-25-142825" is bright on the left and gone on the right.
    assert left[35:52, 95:270].max() > 200
    assert right[35:52, 95:270].max() < 60


def test_not_selected_is_said(tmp_path: Path) -> None:
    out = tmp_path / "ct.png"
    result = write_preview(str(get_testdata_file("CT_small.dcm")), out, profile="ai-upload")
    assert not result.cleaned and result.reason == "not_selected"
    assert out.exists()


def test_multiframe_frame_choice(tmp_path: Path) -> None:
    out = tmp_path / "mf.png"
    source = str(get_testdata_file("examples_ybr_color.dcm"))
    result = write_preview(source, out, profile="ai-upload", frame=12)
    assert result.frame == 12 and result.frames == 30


def test_png_preview(tmp_path: Path) -> None:
    pixels = np.zeros((120, 240, 3), np.uint8)
    cv2.putText(pixels, "DOE JANE 1234", (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    source = tmp_path / "shot.png"
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    source.write_bytes(buffer.getvalue())
    out = tmp_path / "shot-preview.png"
    result = write_preview(source, out)
    assert result.boxes >= 1
    image = cv2.imread(str(out))
    assert image is not None
    assert image.shape == (120 + 22, 240 * 2 + 8, 3)
    assert image[22 + 10 : 22 + 35, 248 + 5 : 248 + 180].max() == 0

"""A generated corpus of frames with burned-in text and recorded ground truth.

Backgrounds are real pixel data bundled with pydicom and pydicom-data (CT, MR, CR, US,
colour Doppler, multi-frame cine) and synthetic ones (ultrasound speckle sectors,
fluoroscopy noise, viewer screenshots, flat dark and bright screens). Text is fake PHI
(names, IDs, dates, institutions, Latin and Hangul) rendered with OpenCV Hershey fonts
and TrueType fonts (Debian fonts-dejavu-core, fonts-nanum), cap heights 7 to 40 px, in
several colours, in the corners and mid-image. Controls carry no text; structure frames
carry rulers, depth scales, calipers, grids and grey-scale bars and no text.

Ground truth per text item: the tight box of its ink (alpha >= 0.1) and its glyph pixels
(alpha >= 0.5). Per structure: the pixels drawn. Everything is seeded: the same corpus on
every run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.data import get_testdata_file
from pydicom.pixels.processing import convert_color_space

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/nanum"))
LATIN_FONTS = ("DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf")
HANGUL_FONTS = ("NanumGothic.ttf", "NanumMyeongjo.ttf", "NanumBarunGothic.ttf")
HERSHEY = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
)
LATIN_TEXT = (
    "ZZZ TEST^PATIENT",
    "DOE, JANE Q",
    "MRN 00079241539",
    "ID: 11-05-25-142825",
    "DOB 08/29/1951",
    "03/02/2017 05:24:57PM",
    "24-MAY-02 11:24:20",
    "CCHS CLEVELAND CLINIC",
    "St. Mary's Hospital",
    "Acc# 120907058",
    "SMITH^JOHN 45Y M",
    "2019-11-04",
    "Exam 4471",
    "Jose Garcia-Lopez",
)
HANGUL_TEXT = (
    "김민준",
    "홍길동 010-1234-5678",
    "서울대학교병원",
    "이서연 1985.03.14",
    "환자번호 20231187",
)
COLOURS_ON_DARK = (
    (255, 255, 255),
    (255, 255, 0),
    (0, 255, 0),
    (0, 255, 255),
    (200, 200, 200),
    (255, 160, 0),
    (150, 150, 150),
)
COLOURS_ON_BRIGHT = ((0, 0, 0), (0, 0, 160), (180, 0, 0), (60, 60, 60))


class Kind(StrEnum):
    """What a sample is for."""

    TEXT_PLAIN = "text_plain"
    TEXT_TEXTURED = "text_textured"
    CONTROL = "control"
    STRUCTURES = "structures"


@dataclass
class Patch:
    """A ground-truth region: a boolean mask placed at (x, y) in one frame."""

    x: int
    y: int
    mask: NDArray[np.bool_]
    label: str = ""
    texture: float = 0.0  # std of the background under the box before stamping (8-bit units)

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.mask.shape[1], self.mask.shape[0]


@dataclass
class Sample:
    """One image (one or more frames) and its ground truth per frame."""

    name: str
    kind: Kind
    source: str
    frames: NDArray[np.integer]  # (n, rows, columns, samples)
    photometric: str
    bits_stored: int = 8
    texts: list[list[Patch]] = field(default_factory=list)  # glyph pixels, per frame
    ink: list[list[Patch]] = field(default_factory=list)  # ink boxes, per frame
    structures: list[list[Patch]] = field(default_factory=list)
    jpeg: bool = False


# --- backgrounds -----------------------------------------------------------------------


@functools.cache
def _dicom_frames(name: str) -> NDArray[np.integer]:
    """Frames of a bundled test file as (n, rows, columns, samples), RGB for colour."""
    path = get_testdata_file(name, download=False)
    if path is None:
        raise FileNotFoundError(name)
    ds = pydicom.dcmread(path)
    array = ds.pixel_array
    if (
        str(ds.PhotometricInterpretation).startswith("YBR")
        and not ds.file_meta.TransferSyntaxUID.is_compressed
    ):
        array = convert_color_space(array, str(ds.PhotometricInterpretation), "RGB")
    samples = int(ds.SamplesPerPixel)
    return array.reshape(-1, int(ds.Rows), int(ds.Columns), samples)


def _to8(frame: NDArray[np.integer]) -> NDArray[np.uint8]:
    data = frame.astype(np.float32)
    low, high = np.percentile(data, (1, 99.5))
    out: NDArray[np.uint8] = np.clip(
        (data - low) * 255.0 / max(float(high - low), 1.0), 0, 255
    ).astype(np.uint8)
    return out


def _fit(image: NDArray[np.uint8], size: int = 512) -> NDArray[np.uint8]:
    """Centre-crop to square and resize to ``size``."""
    rows, columns = image.shape[:2]
    side = min(rows, columns)
    top, left = (rows - side) // 2, (columns - side) // 2
    crop = image[top : top + side, left : left + side]
    resized = np.asarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), np.uint8)
    return resized.reshape(size, size, -1)


def real_backgrounds() -> dict[str, NDArray[np.uint8]]:
    """Real anatomy without text, 8-bit, (rows, columns, samples)."""
    out: dict[str, NDArray[np.uint8]] = {}
    out["ct_head"] = _fit(_to8(_dicom_frames("693_UNCR.dcm")[0]))
    out["mr_shoulder"] = _fit(_to8(_dicom_frames("MR2_UNCR.dcm")[0]))
    cr = _to8(_dicom_frames("RG3_UNCR.dcm")[0])
    out["cr_leg"] = _fit(cr[100:1300, 200:1400])
    out["ct_brain"] = _fit(_to8(_dicom_frames("eCT_Supplemental.dcm")[0]))
    echo = _dicom_frames("JPGLosslessP14SV1_1s_1f_8b.dcm")[0]
    out["us_echo"] = _fit(echo[180:700, 250:770])
    doppler = _dicom_frames("US1_UNCR.dcm")[0].astype(np.uint8)
    out["us_doppler"] = cv2.resize(doppler[110:360, 90:610], (512, 256)).reshape(256, 512, 3)
    cine = _dicom_frames("color3d_jpeg_baseline.dcm")[0].astype(np.uint8)
    out["us_cardiac"] = _fit(cine[60:420, 140:500])
    return out


def speckle(rng: np.random.Generator, size: int = 512) -> NDArray[np.uint8]:
    """A synthetic B-mode sector: Rayleigh speckle, smoothed, with depth falloff."""
    raw = rng.rayleigh(1.0, (size, size)).astype(np.float32)
    noise = np.asarray(cv2.GaussianBlur(raw, (0, 0), sigmaX=1.2, sigmaY=0.8), np.float32)
    tissue = cv2.GaussianBlur(rng.random((size // 16, size // 16)).astype(np.float32), (3, 3), 0)
    tissue = cv2.resize(tissue, (size, size), interpolation=cv2.INTER_CUBIC)
    image = noise * (40 + 120 * tissue)
    yy, xx = np.mgrid[0:size, 0:size]
    angle = np.arctan2(xx - size / 2, yy + size * 0.1)
    sector = (np.abs(angle) < 0.65) & (yy > size * 0.05)
    image *= sector
    out: NDArray[np.uint8] = np.clip(image, 0, 255).astype(np.uint8)[..., None]
    return out


def fluoro(rng: np.random.Generator, size: int = 512) -> NDArray[np.uint8]:
    """A synthetic fluoroscopy frame: smooth anatomy-like shading plus quantum noise."""
    base = cv2.GaussianBlur(rng.random((size // 32, size // 32)).astype(np.float32), (3, 3), 0)
    base = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC) * 120 + 60
    counts = rng.poisson(np.maximum(base, 1) / 4).astype(np.float32) * 4
    vessel = np.zeros((size, size), np.float32)
    points = rng.integers(0, size, (6, 2))
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
        cv2.line(vessel, (int(x0), int(y0)), (int(x1), int(y1)), 50, int(rng.integers(3, 9)))
    image = np.asarray(cv2.GaussianBlur(counts, (0, 0), 0.7), np.float32) - np.asarray(
        cv2.GaussianBlur(vessel, (0, 0), 2), np.float32
    )
    out: NDArray[np.uint8] = np.clip(image, 0, 255).astype(np.uint8)[..., None]
    return out


def flat(rng: np.random.Generator, *, bright: bool, size: int = 512) -> NDArray[np.uint8]:
    """A flat dark or bright screen with a little noise, grey or RGB."""
    level = rng.integers(225, 250) if bright else rng.integers(0, 25)
    image = np.full((size, size), level, np.float32) + rng.normal(0, 1.5, (size, size))
    return np.clip(image, 0, 255).astype(np.uint8)[..., None]


def screenshot(
    rng: np.random.Generator, backgrounds: dict[str, NDArray[np.uint8]]
) -> NDArray[np.uint8]:
    """A viewer screenshot: dark UI, lighter title bars, two real images as viewports."""
    image = np.full((512, 512, 3), (38, 40, 44), np.uint8)
    cv2.rectangle(image, (0, 0), (511, 27), (70, 74, 80), -1)
    cv2.rectangle(image, (0, 484), (511, 511), (60, 62, 66), -1)
    names = list(backgrounds)
    for left in (8, 262):
        chosen = backgrounds[names[int(rng.integers(len(names)))]]
        view = np.asarray(cv2.resize(chosen, (242, 242)), np.uint8).reshape(242, 242, -1)
        image[120:362, left : left + 242] = view if view.shape[2] == 3 else np.repeat(view, 3, 2)
    return image


# --- text ------------------------------------------------------------------------------


def _font_path(name: str) -> Path | None:
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return folder / name
    return None


def render_hershey(text: str, cap: int, font: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """Alpha (0..1) of ``text`` with cap height ``cap`` px in a Hershey font."""
    (_, height), _ = cv2.getTextSize("H", font, 1.0, 1)
    scale = cap / height
    thickness = 1 if cap < 16 or rng.random() < 0.5 else 2
    (width, text_h), baseline = cv2.getTextSize(text, font, scale, thickness)
    canvas = np.zeros((text_h + baseline + 8, width + 8), np.uint8)
    aa = cv2.LINE_AA if rng.random() < 0.7 else cv2.LINE_8
    cv2.putText(canvas, text, (4, text_h + 4), font, scale, 255, thickness, aa)
    return canvas.astype(np.float32) / 255.0


def render_truetype(text: str, cap: int, font: Path) -> NDArray[np.float32]:
    """Alpha (0..1) of ``text`` with cap (or syllable) height ``cap`` px in a TrueType font."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415 - benchmark-only dependency

    probe = ImageFont.truetype(str(font), 100)
    left, top, right, bottom = probe.getbbox("H" if text.isascii() else "한")
    size = max(4, round(cap * 100 / max(bottom - top, 1)))
    face = ImageFont.truetype(str(font), size)
    left, top, right, bottom = face.getbbox(text)
    canvas = Image.new("L", (int(right - left) + 8, int(bottom - top) + 8), 0)
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), text, fill=255, font=face)
    return np.asarray(canvas, np.float32) / 255.0


def render_text(
    rng: np.random.Generator, cap: int, *, hangul: bool
) -> tuple[str, NDArray[np.float32]]:
    """A random fake-PHI string rendered in a random font; returns (font label, alpha)."""
    if hangul:
        font = _font_path(HANGUL_FONTS[int(rng.integers(len(HANGUL_FONTS)))])
        if font is not None:
            text = HANGUL_TEXT[int(rng.integers(len(HANGUL_TEXT)))]
            return font.stem, render_truetype(text, cap, font)
    text = LATIN_TEXT[int(rng.integers(len(LATIN_TEXT)))]
    if rng.random() < 0.45:
        font_id = HERSHEY[int(rng.integers(len(HERSHEY)))]
        return f"hershey{font_id}", render_hershey(text, cap, font_id, rng)
    path = _font_path(LATIN_FONTS[int(rng.integers(len(LATIN_FONTS)))])
    assert path is not None, "fonts-dejavu-core is required"
    return path.stem, render_truetype(text, cap, path)


def _trim(alpha: NDArray[np.float32]) -> NDArray[np.float32]:
    rows = np.flatnonzero((alpha >= 0.1).any(axis=1))
    cols = np.flatnonzero((alpha >= 0.1).any(axis=0))
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def stamp(
    image: NDArray[np.integer],
    alpha: NDArray[np.float32],
    x: int,
    y: int,
    colour: tuple[float, ...],
) -> None:
    """Blend ``colour`` (RGB; its mean for grey frames) into ``image`` (rows, columns,
    samples) with ``alpha`` at (x, y), clipped to the dtype's range."""
    h, w = alpha.shape
    region = image[y : y + h, x : x + w].astype(np.float32)
    value = np.array(colour if image.shape[2] == 3 else (sum(colour) / 3,), np.float32)
    blended = region * (1 - alpha[..., None]) + value * alpha[..., None]
    info = np.iinfo(image.dtype)
    image[y : y + h, x : x + w] = np.clip(np.rint(blended), info.min, info.max).astype(image.dtype)


def place_text(
    image: NDArray[np.uint8],
    rng: np.random.Generator,
    *,
    count: int,
    bright_background: bool,
    mid_image: bool,
    hangul_rate: float = 0.2,
) -> tuple[list[Patch], list[Patch]]:
    """Stamp ``count`` strings at free places; returns (glyph patches, ink patches)."""
    rows, columns = image.shape[:2]
    glyphs: list[Patch] = []
    ink: list[Patch] = []
    taken: list[tuple[int, int, int, int]] = []
    colours = COLOURS_ON_BRIGHT if bright_background else COLOURS_ON_DARK
    for _ in range(count):
        for _attempt in range(30):
            cap = int(rng.choice([7, 8, 9, 10, 12, 14, 16, 20, 24, 30, 36, 40]))
            label, alpha = render_text(rng, cap, hangul=rng.random() < hangul_rate)
            alpha = _trim(alpha)
            h, w = alpha.shape
            if w >= columns - 20 or h >= rows - 20:
                continue
            margin = int(rng.integers(2, 20))
            corner = 4 if mid_image and rng.random() < 0.5 else int(rng.integers(4))
            x = margin if corner in (0, 2) else columns - w - margin
            y = margin if corner in (0, 1) else rows - h - margin
            if corner >= 4:
                x = int(rng.integers(8, columns - w - 8))
                y = int(rng.integers(8, rows - h - 8))
            if corner < 4 and rng.random() < 0.5:  # a second row under the corner
                y = y + int(rng.integers(-2, 3)) * (h + 6)
            x = min(max(x, 2), columns - w - 2)
            y = min(max(y, 2), rows - h - 2)
            box = (x - 6, y - 6, x + w + 6, y + h + 6)
            if any(
                not (box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1])
                for t in taken
            ):
                continue
            colour = _readable_colour(image[y : y + h, x : x + w], alpha, colours, rng)
            if colour is None:
                continue
            texture = float(image[y : y + h, x : x + w].std())
            stamp(image, alpha, x, y, colour)
            taken.append(box)
            glyphs.append(Patch(x, y, alpha >= 0.5, label, texture))
            ink.append(Patch(x, y, alpha >= 0.1, label, texture))
            break
    return glyphs, ink


def _luma(colour: tuple[int, int, int]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def _readable_colour(
    region: NDArray[np.uint8],
    alpha: NDArray[np.float32],
    colours: tuple[tuple[int, int, int], ...],
    rng: np.random.Generator,
) -> tuple[int, int, int] | None:
    """A colour a person can read on ``region``: luminance contrast >= 70 with what is under
    the glyphs (median) for grey images; luminance or strong chroma contrast for colour."""
    grey = region.mean(axis=2) if region.shape[2] == 3 else region[..., 0].astype(np.float32)
    under = float(np.median(grey[alpha >= 0.5])) if (alpha >= 0.5).any() else float(grey.mean())
    order = rng.permutation(len(colours))
    for index in order:
        colour = colours[int(index)]
        lum = _luma(colour) if region.shape[2] == 3 else sum(colour) / 3
        if abs(lum - under) >= 70:
            return colour
    return None


# --- structures ------------------------------------------------------------------------


def _draw(
    image: NDArray[np.uint8], canvas: NDArray[np.uint8], colour: tuple[int, int, int], label: str
) -> Patch:
    """Stamp a drawn ``canvas`` (0/255, full frame) and return its pixels as a patch."""
    alpha = canvas.astype(np.float32) / 255.0
    stamp(image, alpha, 0, 0, colour)
    ys, xs = np.nonzero(canvas >= 128)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Patch(int(x0), int(y0), canvas[y0:y1, x0:x1] >= 128, label)


def ruler(image: NDArray[np.uint8], rng: np.random.Generator) -> Patch:
    """A depth scale or ruler: a line with minor and major ticks, or a column of dashes."""
    rows, columns = image.shape[:2]
    canvas = np.zeros((rows, columns), np.uint8)
    vertical = rng.random() < 0.6
    length = int(rng.integers(150, min(rows, columns) - 40))
    step = int(rng.integers(8, 26))
    tick = int(rng.integers(3, 9))
    thickness = int(rng.integers(1, 3))
    start = int(rng.integers(10, min(rows, columns) - length - 10))
    at = (
        int(rng.integers(12, 60))
        if rng.random() < 0.5
        else (columns if vertical else rows) - int(rng.integers(12, 60))
    )
    dashes_only = rng.random() < 0.3
    for i, pos in enumerate(range(start, start + length + 1, step)):
        size = tick * 2 if i % 5 == 0 else tick
        if vertical:
            cv2.line(canvas, (at, pos), (at + size, pos), 255, thickness)
        else:
            cv2.line(canvas, (pos, at), (pos, at - size), 255, thickness)
    if not dashes_only:
        if vertical:
            cv2.line(canvas, (at, start), (at, start + length), 255, thickness)
        else:
            cv2.line(canvas, (start, at), (start + length, at), 255, thickness)
    return _draw(image, canvas, (255, 255, 255) if rng.random() < 0.6 else (0, 255, 0), "ruler")


def calipers(image: NDArray[np.uint8], rng: np.random.Generator) -> Patch:
    """Two caliper marks ('+' or 'x') joined by a dotted line."""
    rows, columns = image.shape[:2]
    canvas = np.zeros((rows, columns), np.uint8)
    a = rng.integers(60, [columns - 60, rows - 60])
    b = rng.integers(60, [columns - 60, rows - 60])
    size = int(rng.integers(4, 9))
    for point in (a, b):
        x, y = int(point[0]), int(point[1])
        if rng.random() < 0.5:
            cv2.line(canvas, (x - size, y), (x + size, y), 255, 1)
            cv2.line(canvas, (x, y - size), (x, y + size), 255, 1)
        else:
            cv2.line(canvas, (x - size, y - size), (x + size, y + size), 255, 1)
            cv2.line(canvas, (x - size, y + size), (x + size, y - size), 255, 1)
    distance = float(np.hypot(*(b - a)))
    for t in np.arange(0.08, 0.93, 5.0 / max(distance, 1.0)):
        x, y = (a + (b - a) * t).astype(int)
        cv2.circle(canvas, (int(x), int(y)), 1, 255, -1)
    return _draw(
        image, canvas, (255, 255, 0) if rng.random() < 0.5 else (255, 255, 255), "calipers"
    )


def grid(image: NDArray[np.uint8], rng: np.random.Generator) -> Patch:
    """Grid lines across the frame."""
    rows, columns = image.shape[:2]
    canvas = np.zeros((rows, columns), np.uint8)
    step = int(rng.integers(32, 96))
    for pos in range(step // 2, max(rows, columns), step):
        cv2.line(canvas, (pos, 0), (pos, rows - 1), 255, 1)
        cv2.line(canvas, (0, pos), (columns - 1, pos), 255, 1)
    return _draw(image, canvas, (160, 160, 160), "grid")


def grey_bar(image: NDArray[np.uint8], rng: np.random.Generator) -> Patch:
    """A grey-scale bar: a vertical gradient strip."""
    rows, columns = image.shape[:2]
    width, height = int(rng.integers(8, 20)), int(rng.integers(100, 250))
    x, y = columns - width - int(rng.integers(10, 40)), int(rng.integers(20, rows - height - 20))
    ramp = np.linspace(255, 0, height, dtype=np.float32)[:, None].repeat(width, 1)
    region = image[y : y + height, x : x + width]
    region[:] = np.rint(ramp)[..., None].astype(np.uint8)
    return Patch(x, y, np.ones((height, width), bool), "grey_bar")


STRUCTURES = (ruler, calipers, grid, grey_bar)


# --- the corpus ------------------------------------------------------------------------


def _as_colour(
    image: NDArray[np.uint8], rng: np.random.Generator, rate: float
) -> NDArray[np.uint8]:
    if image.shape[2] == 1 and rng.random() < rate:
        return np.repeat(image, 3, axis=2)
    return image.copy()


def _augment(image: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """A flipped or shifted copy, so repeated backgrounds are not identical."""
    out = image[:, ::-1] if rng.random() < 0.5 else image
    shift = int(rng.integers(-40, 41))
    return np.ascontiguousarray(np.roll(out, shift, axis=0))


def _single(
    name: str, kind: Kind, source: str, image: NDArray[np.uint8], **extra: object
) -> Sample:
    photometric = "RGB" if image.shape[2] == 3 else "MONOCHROME2"
    sample = Sample(name, kind, source, image[None], photometric, **extra)  # type: ignore[arg-type]
    return sample


def _plain_background(
    rng: np.random.Generator, real: dict[str, NDArray[np.uint8]]
) -> tuple[str, NDArray[np.uint8], bool]:
    draw = rng.random()
    if draw < 0.4:
        return "flat_dark", _as_colour(flat(rng, bright=False), rng, 0.5), False
    if draw < 0.65:
        return "flat_bright", _as_colour(flat(rng, bright=True), rng, 0.5), True
    if draw < 0.85:
        return "screenshot", screenshot(rng, real), False
    image = _as_colour(flat(rng, bright=False), rng, 0.5)
    cv2.rectangle(image, (0, 0), (511, 30), (64, 64, 64)[: image.shape[2]], -1)
    return "ui_bar", image, False


def _textured_background(
    rng: np.random.Generator, real: dict[str, NDArray[np.uint8]], index: int
) -> tuple[str, NDArray[np.uint8]]:
    names = [*real, "speckle", "speckle", "fluoro", "fluoro"]
    name = names[index % len(names)]
    if name == "speckle":
        return name, _as_colour(speckle(rng), rng, 0.4)
    if name == "fluoro":
        return name, fluoro(rng)
    return name, _as_colour(_augment(real[name], rng), rng, 0.3)


def _sixteen_bit(rng: np.random.Generator, *, text: bool) -> Sample:
    """CT or MR stored values (12-16 bit) with text at the display maximum."""
    name = "693_UNCR.dcm" if rng.random() < 0.5 else "MR2_UNCR.dcm"
    frame = _dicom_frames(name)[0][..., 0]
    if frame.shape[0] != 512:
        frame = cv2.resize(frame, (512, 512), interpolation=cv2.INTER_AREA)
    # Stored values are unsigned here: a signed CT frame (693_UNCR: -2000 outside the
    # field of view) is offset to start at 0, as a rescale intercept would undo.
    lifted = frame.astype(np.int64) - min(int(frame.min()), 0)
    image = np.ascontiguousarray(np.clip(lifted, 0, 65535)).astype(np.uint16)[..., None]
    sample = Sample(
        f"{name[:-4]}_16bit",
        Kind.TEXT_TEXTURED if text else Kind.CONTROL,
        name,
        image[None],
        "MONOCHROME2",
        bits_stored=16,
    )
    if text:
        display = _to8(image[..., 0])[..., None]
        glyphs, ink = place_text(display, rng, count=3, bright_background=False, mid_image=True)
        high = min(float(np.percentile(image, 99.9)) * 1.1, 65535.0)
        for patch in glyphs:
            alpha = patch.mask.astype(np.float32)
            stamp(image, alpha, patch.x, patch.y, (high, high, high))
        for patch in ink:  # AA fringe too, at half strength
            alpha = patch.mask.astype(np.float32) * 0.5
            region = image[
                patch.y : patch.y + alpha.shape[0], patch.x : patch.x + alpha.shape[1], 0
            ]
            region[:] = np.maximum(region, (alpha * high).astype(np.uint16))
        sample.texts, sample.ink = [glyphs], [ink]
    return sample


def _cine(rng: np.random.Generator, *, source: str, frames: int, text: bool) -> Sample:
    """Several frames of a real or synthetic cine with the same text on every frame."""
    if source == "color3d":
        cine = _dicom_frames("color3d_jpeg_baseline.dcm").astype(np.uint8)
        start = int(rng.integers(0, cine.shape[0] - frames))
        images = [_fit(cine[start + i, 60:420, 140:500]) for i in range(frames)]
    else:
        images = [_as_colour(speckle(rng), rng, 0.0) for _ in range(frames)]
    stack = np.stack(images)
    sample = Sample(
        f"cine_{source}",
        Kind.TEXT_TEXTURED if text else Kind.CONTROL,
        source,
        stack,
        "RGB" if stack.shape[3] == 3 else "MONOCHROME2",
    )
    if text:
        # Draw once on a scratch copy to choose places and alphas, then stamp every frame.
        scratch = stack[0].copy()
        glyphs, ink = place_text(scratch, rng, count=4, bright_background=False, mid_image=True)
        colour = (255, 255, 255)
        for frame in stack:
            for patch in ink:
                stamp(frame, patch.mask.astype(np.float32), patch.x, patch.y, colour)
        sample.texts = [glyphs] * frames
        sample.ink = [ink] * frames
    return sample


def build_corpus(seed: int = 20261122) -> list[Sample]:
    """The benchmark corpus: about 370 frames. Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    real = real_backgrounds()
    samples: list[Sample] = []
    for i in range(100):
        source, image, bright = _plain_background(rng, real)
        glyphs, ink = place_text(
            image, rng, count=int(rng.integers(2, 6)), bright_background=bright, mid_image=True
        )
        samples.append(
            _single(
                f"plain{i:03d}",
                Kind.TEXT_PLAIN,
                source,
                image,
                texts=[glyphs],
                ink=[ink],
                jpeg=i % 5 == 4,
            )
        )
    for i in range(110):
        source, image = _textured_background(rng, real, i)
        glyphs, ink = place_text(
            image, rng, count=int(rng.integers(2, 5)), bright_background=False, mid_image=True
        )
        samples.append(
            _single(
                f"textured{i:03d}",
                Kind.TEXT_TEXTURED,
                source,
                image,
                texts=[glyphs],
                ink=[ink],
                jpeg=i % 5 == 4,
            )
        )
    samples += [_sixteen_bit(rng, text=True) for _ in range(10)]
    samples += [
        _cine(rng, source="color3d", frames=10, text=True),
        _cine(rng, source="speckle", frames=10, text=True),
    ]
    for i in range(40):
        source, image = _textured_background(rng, real, i)
        samples.append(
            _single(f"control{i:03d}", Kind.CONTROL, source, image, texts=[[]], ink=[[]])
        )
    for i in range(6):
        source, image, _ = _plain_background(rng, real)
        samples.append(
            _single(f"control_plain{i}", Kind.CONTROL, source, image, texts=[[]], ink=[[]])
        )
    samples += [_sixteen_bit(rng, text=False) for _ in range(4)]
    samples.append(_cine(rng, source="color3d", frames=10, text=False))
    for i in range(60):
        if i % 3 == 0:
            source, image = "flat_dark", _as_colour(flat(rng, bright=False), rng, 0.5)
        else:
            source, image = _textured_background(rng, real, i)
        drawers = [STRUCTURES[i % len(STRUCTURES)]]
        if rng.random() < 0.4:
            drawers.append(STRUCTURES[int(rng.integers(len(STRUCTURES)))])
        image = np.ascontiguousarray(image)
        patches = [draw(image, rng) for draw in drawers]
        samples.append(
            _single(
                f"structures{i:03d}",
                Kind.STRUCTURES,
                source,
                image,
                texts=[[]],
                ink=[[]],
                structures=[patches],
            )
        )
    for sample in samples:
        count = int(sample.frames.shape[0])
        for name in ("texts", "ink", "structures"):
            if not getattr(sample, name):
                setattr(sample, name, [[] for _ in range(count)])
    return samples


def frame_count(samples: list[Sample]) -> int:
    """Frames in the corpus."""
    return sum(int(s.frames.shape[0]) for s in samples)

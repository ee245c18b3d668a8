"""Where burned-in text is: classical OpenCV, no model, no download.

Text on a medical image is thin, high-contrast strokes of one colour, in rows of glyphs of
similar height. The detector works on an 8-bit view of one frame, at full scale (glyphs
up to 36 px) and at half scale (28 to 72 px):

1. **Strokes.** A white and a black top-hat (11x11, wider than any stroke at that scale)
   keep thin bright and thin dark structures and drop smooth anatomy and flat
   backgrounds, on the luminance and, for colour images, on the chroma. The two
   polarities are looked at apart. A pixel is a stroke where the response beats both an
   absolute contrast and three times the local texture level (a median over about 56 px),
   so speckle and fluoroscopy noise do not pass where text does. On textured frames the
   pixels of histogram-spike values (text is drawn in one exact colour) with absolute
   contrast are a further stroke mask, found even where texture raised the threshold.
2. **Glyphs.** Connected components of glyph size and shape stay; long thin, sparse or
   huge ones go. Components holding straight runs longer than any glyph stroke (rulers,
   grid lines, sector edges) lose those runs and are labelled again, so text touching a
   line survives.
3. **Text lines** (``lines.py``). Glyphs of similar height that sit side by side on
   shared rows chain into lines. A line is text when its glyphs share a top or base line,
   its height and density are those of text, and on texture its glyphs share one tone;
   a lone glyph is not (calipers, markers). Accepted lines absorb glyphs of their size at
   their ends (a lone "Q", "St."), and lines of one row are merged.

The boxes returned are tight around the glyphs; masking adds the padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from cv2.typing import MatLike
from numpy.typing import NDArray

from anonymizer.pixels.geometry import Box
from anonymizer.pixels.lines import Candidates, absorb, link, median, merge_lines

Image = NDArray[np.uint8]
Mat = MatLike  # what OpenCV hands back; uint8 throughout this module


@dataclass(frozen=True)
class DetectorSettings:
    """Tuning of :func:`detect_text`; the defaults are what the benchmark measures.

    Parameters
    ----------
    min_text_height
        Smallest glyph height (pixels) looked for.
    max_text_height
        Largest glyph height looked for; taller structures are not text.
    contrast
        Smallest stroke contrast, in 8-bit display units.
    texture_factor
        A stroke must also beat this multiple of the local mean stroke response, so
        speckle does not read as text.
    line_length
        Straight runs at least this long are lines (rulers, grids), not glyph strokes.
    """

    min_text_height: int = 6
    max_text_height: int = 64
    contrast: int = 40
    texture_factor: float = 3.0
    line_length: int = 41

    def __post_init__(self) -> None:
        if not 3 <= self.min_text_height <= self.max_text_height:
            raise ValueError("need 3 <= min_text_height <= max_text_height")
        if self.contrast < 1 or self.texture_factor < 0 or self.line_length < 8:
            raise ValueError("contrast >= 1, texture_factor >= 0 and line_length >= 8")


DEFAULT_SETTINGS = DetectorSettings()
_KERNEL = 11  # wider than any stroke of a glyph up to _LEVEL_MAX px high
_LEVEL_MAX = 36  # tallest glyph looked for at one scale; taller text is found at half scale
_CELL = 8  # texture is measured on cells of 8x8 pixels
_TEXTURE_WINDOW = 7  # cells
_HALF_MIN = 14  # at half scale, glyphs from this height (28 px at full scale)


@dataclass(frozen=True)
class _Level:
    """One scale of the search: glyph heights in pixels of that scale."""

    min_height: int
    max_height: int
    line_length: int


def detect_text(image: Image, settings: DetectorSettings = DEFAULT_SETTINGS) -> list[Box]:
    """Boxes around the lines of text in one 8-bit frame.

    Parameters
    ----------
    image
        ``(rows, columns)`` grey or ``(rows, columns, 3)`` RGB, uint8.
    settings
        Detector tuning.

    Returns
    -------
    list of Box
        One tight box per line of text (no padding), in no particular order.
    """
    full = _Level(
        settings.min_text_height, min(settings.max_text_height, _LEVEL_MAX), settings.line_length
    )
    channels = _channels(image)
    boxes = _detect_level(channels, full, settings, half=False)
    rows, columns = image.shape[:2]
    if settings.max_text_height > _LEVEL_MAX and min(rows, columns) >= 4 * _HALF_MIN:
        level = _Level(
            max(_HALF_MIN, settings.min_text_height // 2),
            min((settings.max_text_height + 1) // 2, _LEVEL_MAX),
            settings.line_length,
        )
        boxes += [
            Box(b.x * 2, b.y * 2, b.width * 2 + 1, b.height * 2 + 1)
            for b in _detect_level(channels[:1], level, settings, half=True)
        ]
    return merge_lines(boxes)


_SQUARE2 = np.ones((2, 2), np.uint8)


def _detect_level(
    channels: list[tuple[Mat, tuple[int, ...]]],
    level: _Level,
    settings: DetectorSettings,
    *,
    half: bool,
) -> list[Box]:
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_KERNEL, _KERNEL))
    boxes: list[Box] = []
    for channel, operations in channels:
        sources: list[Mat] = []
        responses: list[Mat] = []
        for operation in operations:
            source = channel
            if half:
                # Halve by keeping the stroke side of each 2x2 block (max for bright
                # strokes, min for dark), so one-pixel strokes keep their contrast.
                pooled = cv2.dilate if operation == cv2.MORPH_TOPHAT else cv2.erode
                source = np.ascontiguousarray(pooled(channel, _SQUARE2)[::2, ::2])
            sources.append(source)
            responses.append(cv2.morphologyEx(source, operation, kernel))
        strongest = responses[0] if len(responses) == 1 else cv2.max(responses[0], responses[1])
        textured = False
        for source, response in zip(sources, responses, strict=True):
            # Bright strokes (top-hat) and dark strokes (black-hat) are looked at apart:
            # the black-hat of bright text is the gaps between its letters.
            threshold = _threshold(response, settings)
            strokes = cv2.compare(response, threshold.full, cv2.CMP_GT)
            glyphs = _glyphs(strokes, level, response, source)
            boxes.extend(_text_lines(glyphs, level, threshold, settings.contrast))
            textured = textured or int(threshold.cells.max()) > settings.contrast
        tone = _tone_mask(channel) if textured and not half else None
        if tone is not None:
            # Pixels of a spike value that also stand out of their surroundings: the
            # cores of flat-coloured strokes, found even where texture raised the
            # threshold above (so only needed where there is texture).
            floor = np.full_like(strongest, settings.contrast)
            strokes = cv2.bitwise_and(tone, cv2.compare(strongest, floor, cv2.CMP_GT))
            glyphs = _glyphs(strokes, level, channel, channel)
            boxes.extend(_text_lines(glyphs, level, None, settings.contrast))
    return boxes


def _tone_mask(channel: Mat) -> Mat | None:
    """Pixels of the values that stand out of the histogram as spikes.

    Text is drawn in one exact colour; its stroke cores share one value (or, after JPEG,
    a narrow band), a spike in a histogram that speckle and anatomy keep smooth.
    """
    hist = cv2.calcHist([channel], [0], None, [256], [0, 256]).ravel()
    band = np.convolve(hist, np.ones(3, np.float32), mode="same")
    padded = np.pad(band, 4, mode="edge")
    around = (padded[:-8] + padded[8:]) / 2
    spikes = np.flatnonzero((band > 3 * around + 30) & (band < 0.2 * channel.size))
    if len(spikes) == 0:
        return None
    lut = np.zeros(256, np.uint8)
    for value in spikes:
        lut[max(value - 1, 0) : value + 2] = 255
    return cv2.LUT(channel, lut)


_BOTH = (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT)
_MIN_CHROMA = 24


def _channels(image: Mat) -> list[tuple[Mat, tuple[int, ...]]]:
    """Luminance, both polarities; for colour also chroma, where text is the bright part."""
    if image.ndim == 2:
        return [(image, _BOTH)]
    if image.shape[2] == 1:
        return [(image[..., 0], _BOTH)]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    red, green, blue = cv2.split(image)
    chroma = cv2.subtract(cv2.max(cv2.max(red, green), blue), cv2.min(cv2.min(red, green), blue))
    if int(chroma.max()) < _MIN_CHROMA:
        return [(grey, _BOTH)]  # grey stored as RGB: chroma has nothing to add
    return [(grey, _BOTH), (chroma, (cv2.MORPH_TOPHAT,))]


@dataclass(frozen=True)
class _Threshold:
    """The stroke threshold per pixel, and per cell of _CELL x _CELL pixels."""

    full: Mat
    cells: Mat

    def at_many(self, rows: NDArray[np.int64], columns: NDArray[np.int64]) -> NDArray[np.int64]:
        """The thresholds of the cells holding each (row, column)."""
        cells_rows, cells_columns = self.cells.shape[:2]
        row = np.minimum(rows // _CELL, cells_rows - 1)
        column = np.minimum(columns // _CELL, cells_columns - 1)
        found: NDArray[np.int64] = np.asarray(self.cells, np.int64)[row, column]
        return found


def _threshold(response: Mat, settings: DetectorSettings) -> _Threshold:
    """Absolute contrast, raised where the neighbourhood is textured.

    The texture level is a median over about 56x56 pixels of 8x8 mean responses: a line
    of text covers less than half of such a window, so it does not raise its own
    threshold, while speckle, which covers all of it, does.
    """
    rows, columns = response.shape[:2]
    small = cv2.resize(
        response,
        (max(1, columns // _CELL), max(1, rows // _CELL)),
        interpolation=cv2.INTER_AREA,
    )
    if settings.texture_factor == 0:
        cells = np.full_like(small, settings.contrast)
        return _Threshold(np.full_like(response, settings.contrast), cells)
    # Reflect, not replicate, at the edges: a line of text along the border must not
    # fill the window with copies of itself.
    pad = _TEXTURE_WINDOW // 2
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    level = cv2.medianBlur(padded, _TEXTURE_WINDOW)[pad:-pad, pad:-pad]
    scaled = cv2.convertScaleAbs(level, alpha=settings.texture_factor)
    cells = cv2.max(scaled, np.full_like(scaled, settings.contrast))
    full = cv2.resize(cells, (columns, rows), interpolation=cv2.INTER_LINEAR)
    return _Threshold(full, cells)


def _remove_lines(mask: Mat, length: int) -> Mat:
    horizontal = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
    vertical = cv2.getStructuringElement(cv2.MORPH_RECT, (1, length))
    lines = cv2.bitwise_or(
        cv2.morphologyEx(mask, cv2.MORPH_OPEN, horizontal),
        cv2.morphologyEx(mask, cv2.MORPH_OPEN, vertical),
    )
    if not lines.any():
        return mask
    lines = cv2.dilate(lines, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    return cv2.bitwise_and(mask, cv2.bitwise_not(lines))


@dataclass(frozen=True)
class _Glyphs:
    """Connected components kept as glyphs: ``stats`` rows are x, y, w, h, area; ``ids``
    their labels in ``labels``, where ``response`` and ``channel`` are measured."""

    stats: NDArray[np.int32]
    ids: NDArray[np.int64]
    labels: Mat
    response: Mat
    channel: Mat

    def means(self, members: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mean stroke response and mean tone of the given glyphs (indices into stats)."""
        x, y, w, h = (self.stats[members, i] for i in range(4))
        top, left = int(y.min()), int(x.min())
        bottom, right = int((y + h).max()), int((x + w).max())
        labels = self.labels[top:bottom, left:right].ravel().astype(np.int64)
        ids = self.ids[members]
        size = int(ids.max()) + 1
        area = np.maximum(self.stats[members, 4], 1)
        response = self.response[top:bottom, left:right].ravel()
        channel = self.channel[top:bottom, left:right].ravel()
        sums = np.bincount(labels, weights=response, minlength=size)[ids]
        tones = np.bincount(labels, weights=channel, minlength=size)[ids]
        return sums / area, tones / area


_LABELS_16 = 65000


def _label(mask: Mat) -> tuple[int, Mat, NDArray[np.int32]]:
    # 16-bit labels halve the memory traffic; enough unless the mask is mostly noise.
    depth = cv2.CV_16U if cv2.countNonZero(mask) < _LABELS_16 else cv2.CV_32S
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, depth, cv2.CCL_BBDT
    )
    return int(count), labels, np.asarray(stats, np.int32)


def _split_lines(
    labels: Mat, stats: NDArray[np.int32], long_ids: NDArray[np.int64], length: int
) -> tuple[Mat, NDArray[np.int32]]:
    """Take the straight runs (rulers, grid lines, sector edges) out of the components
    that hold them, so text touching a line is not lost with it; each remainder is
    labelled again inside its own box and appended to ``stats``."""
    labels = np.asarray(labels)
    if labels.dtype == np.uint16 and len(stats) + 4096 * len(long_ids) >= _LABELS_16:
        labels = labels.astype(np.int32)
    extra = [stats]
    next_id = len(stats)
    for label in long_ids:
        x, y, w, h = (int(v) for v in stats[label, :4])
        region = labels[y : y + h, x : x + w]
        own = region == label
        found, parts, part_stats = _label(_remove_lines(own.astype(np.uint8) * 255, length))
        parts = np.asarray(parts).astype(np.int64)
        region[own] = np.where(parts[own] > 0, parts[own] + next_id - 1, 0).astype(region.dtype)
        part_stats = part_stats[1:found].copy()
        part_stats[:, 0] += x
        part_stats[:, 1] += y
        extra.append(part_stats)
        next_id += found - 1
        stats[label, 2:5] = 0  # the component as it was is gone
    return labels, np.vstack(extra)


def _glyphs(mask: Mat, level: _Level, response: Mat, channel: Mat) -> _Glyphs:
    count, labels, stats = _label(mask)
    longest = np.maximum(stats[1:count, 2], stats[1:count, 3])
    long_ids = np.flatnonzero(longest >= level.line_length) + 1
    if len(long_ids):
        labels, stats = _split_lines(labels, stats, long_ids, level.line_length)
    stats = stats[1:]
    x, y, w, h, area = (stats[:, i] for i in range(5))
    longest = np.maximum(w, h)
    fill = area / np.maximum(w * h, 1)
    keep = (
        (h <= level.max_height)
        & (w <= level.max_height * 4)
        & (longest >= 2)
        # long and thin: a line fragment or a tick, not a glyph
        & ~((np.minimum(w, h) <= 2) & (longest > level.max_height // 2))
        # wide but sparse: curves, sector edges, dotted outlines
        & ~((w * h >= 100) & (fill < 0.1))
        # much wider than high, thin: a line that survived the opening
        & ~((w > 8 * h) & (h <= 3))
    )
    return _Glyphs(
        stats=stats[keep],
        ids=np.flatnonzero(keep) + 1,
        labels=labels,
        response=response,
        channel=channel,
    )


def _text_lines(
    glyphs: _Glyphs, level: _Level, threshold: _Threshold | None, contrast: int
) -> list[Box]:
    """Group glyphs into lines and keep those that look like text.

    The geometry of every candidate line is judged at once (vectorised); tone and
    contrast, which need the pixels, only for the lines that pass. ``threshold`` None
    means the glyphs come from the tone mask: judged as on texture.
    """
    stats = glyphs.stats
    if len(stats) < 2:
        return []
    x, y, w, h, area = (stats[:, i].astype(np.int64) for i in range(5))
    lines = Candidates.build(x=x, y=y, w=w, h=h, area=area, labels=link(x, y, w, h))
    if threshold is None:
        limits = np.full(len(lines.size), 255, np.int64)
        plain = np.zeros(len(limits), bool)
    else:
        limits = threshold.at_many(lines.centre_row, lines.centre_column)
        plain = limits <= contrast
    boxes: list[Box] = []
    for index in np.flatnonzero(lines.geometry_ok(min_height=level.min_height, plain=plain)):
        members = lines.members(int(index))
        strength, tone = glyphs.means(members)
        margin = median(strength) / max(float(limits[index]), 1.0)
        tone_spread = float(tone.std()) / max(float(strength.mean()), 1.0)
        if plain[index] and margin < 1.2:
            continue  # faint: shading, not drawn text
        if not plain[index] and lines.main[index] <= 3 and tone_spread > 0.08:
            continue  # a few blobs of different tones on texture: speckle
        height = float(lines.glyph_height[index])
        box = absorb(lines.box(int(index)), glyph_height=height, x=x, y=y, w=w, h=h)
        boxes.append(_extend_by_tone(box, glyphs, tone=median(tone), contrast=contrast))
    return boxes


def _extend_by_tone(box: Box, glyphs: _Glyphs, *, tone: float, contrast: int) -> Box:
    """Follow the line's own colour sideways: strokes of the same tone that stand out of
    their surroundings continue the line where the background got busier and the
    glyphs there did not make it through the texture threshold."""
    rows, columns = glyphs.channel.shape[:2]
    reach = 3 * box.height
    left, right = max(box.x - reach, 0), min(box.right + reach, columns)
    top, bottom = max(box.y, 0), min(box.bottom, rows)
    if bottom <= top:
        return box
    channel = np.asarray(glyphs.channel[top:bottom, left:right], np.int16)
    response = np.asarray(glyphs.response[top:bottom, left:right])
    tolerance = max(12.0, 0.15 * contrast)
    strokes = (np.abs(channel - tone) <= tolerance) & (response > contrast)
    inked = strokes.sum(axis=0) >= max(1, box.height // 6)
    gap_allowed = max(2, box.height)
    start = _reach(np.flatnonzero(inked[: box.x - left])[::-1], box.x - left, gap_allowed)
    end = (
        _reach(
            np.flatnonzero(inked[box.right - left :]) + box.right - left,
            box.right - left - 1,
            gap_allowed,
        )
        + 1
    )
    return Box(left + start, box.y, end - start, box.height)


def _reach(inked: NDArray[np.int64], edge: int, gap_allowed: int) -> int:
    """The farthest inked column reached from ``edge`` through gaps of at most
    ``gap_allowed`` columns; ``inked`` is ordered outward from the edge."""
    if len(inked) == 0:
        return edge
    gaps = np.abs(np.diff(np.r_[edge, inked])) - 1
    broken = np.flatnonzero(gaps > gap_allowed)
    stop = int(broken[0]) if len(broken) else len(inked)
    return int(inked[stop - 1]) if stop > 0 else edge

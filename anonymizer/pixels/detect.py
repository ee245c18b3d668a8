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
   contrast are a further stroke mask, found even where texture raised the threshold,
   and so is a 3x3 top-hat (and black-hat) of the luminance: one- and two-pixel strokes
   of small text on speckle, whose grains, wider, it drops.
2. **Glyphs.** Connected components of glyph size and shape stay; long thin, sparse or
   huge ones go. Components holding straight runs longer than any glyph stroke (rulers,
   grid lines, sector edges) lose those runs and are labelled again, so text touching a
   line survives.
3. **Text lines** (``lines.py``). Glyphs of similar height that sit side by side on
   shared rows chain into lines. A line is text when its glyphs share a top or base line,
   its height and density are those of text, and on texture its glyphs share one tone;
   a lone glyph is not (calipers, markers). A line too tall for its glyphs (text touching
   a vessel or an anatomy edge) is tried again without its much taller members, and must
   then hold three glyphs or more of one tone; so is a line whose glyphs are of several
   tones (text chained to anatomy beside it), keeping only the members of the tone and
   size of its largest glyph, which must then stand out clearly. Accepted lines absorb
   glyphs of their size at their ends (a lone "Q", "St."), and lines of one row are
   merged. The glyphs of all masks and both scales are judged in one go, laid side by
   side.

The boxes returned are tight around the glyphs; masking adds the padding.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np
from cv2.typing import MatLike
from numpy.typing import NDArray

from anonymizer.pixels.geometry import Box
from anonymizer.pixels.lines import TALL, Candidates, Spread, absorb, link, merge_lines

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
    passes = _passes(channels, full, settings, half=False)
    rows, columns = image.shape[:2]
    if settings.max_text_height > _LEVEL_MAX and min(rows, columns) >= 4 * _HALF_MIN:
        level = _Level(
            max(_HALF_MIN, settings.min_text_height // 2),
            min((settings.max_text_height + 1) // 2, _LEVEL_MAX),
            settings.line_length,
        )
        passes += _passes(channels[:1], level, settings, half=True)
    return merge_lines(_text_lines(passes, settings.contrast))


_SQUARE2 = np.ones((2, 2), np.uint8)


@dataclass(frozen=True)
class _Pass:
    """The glyphs found in one stroke mask and how their lines are judged: against
    ``threshold`` (None: glyphs of the tone mask, judged as on texture), at ``level``;
    their boxes are in pixels of the image shrunk by ``scale``; ``chroma``: found in the
    chroma, not the luminance; ``fine``: found by the 3x3 top-hat of a textured frame,
    judged as on texture whatever its threshold."""

    glyphs: _Glyphs
    level: _Level
    threshold: _Threshold | None
    scale: int
    chroma: bool = False
    fine: bool = False


def _passes(
    channels: list[tuple[Mat, tuple[int, ...]]],
    level: _Level,
    settings: DetectorSettings,
    *,
    half: bool,
) -> list[_Pass]:
    """The glyphs of every stroke mask of one scale: per channel and polarity, and on
    textured frames of the tone mask."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_KERNEL, _KERNEL))
    scale = 2 if half else 1
    passes: list[_Pass] = []
    for number, (channel, operations) in enumerate(channels):
        chroma = number > 0
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
        textured = False
        for source, response in zip(sources, responses, strict=True):
            # Bright strokes (top-hat) and dark strokes (black-hat) are looked at apart:
            # the black-hat of bright text is the gaps between its letters.
            threshold = _threshold(response, settings)
            glyphs = _glyphs(threshold.strokes(response), level, response, source)
            passes.append(_Pass(glyphs, level, threshold, scale, chroma))
            textured = textured or threshold.textured
        if textured and not half and not chroma:
            passes += _fine_passes(channel, operations, level, settings)
        tone = _tone_mask(channel) if textured and not half else None
        if tone is not None:
            # Pixels of a spike value that also stand out of their surroundings: the
            # cores of flat-coloured strokes, found even where texture raised the
            # threshold above (so only needed where there is texture).
            strongest = responses[0] if len(responses) == 1 else cv2.max(*responses)
            floor = np.full_like(strongest, settings.contrast)
            strokes = cv2.bitwise_and(tone, cv2.compare(strongest, floor, cv2.CMP_GT))
            glyphs = _glyphs(strokes, level, channel, channel)
            passes.append(_Pass(glyphs, level, None, scale, chroma))
    return passes


_FINE = 3  # the finer top-hat: strokes of one or two pixels on texture


def _fine_passes(
    channel: Mat, operations: tuple[int, ...], level: _Level, settings: DetectorSettings
) -> list[_Pass]:
    """The glyphs of a 3x3 top-hat (and black-hat) of a textured channel, full scale.

    Thin text on speckle is one or two pixels wide: the 11x11 top-hat also keeps the
    speckle grains around it and the texture threshold rises above the text. A 3x3
    top-hat keeps only what is narrower than three pixels, where speckle grains
    (wider) fall back. Its glyphs go through the same line tests as the others, as on
    texture: its own threshold rarely rises above ``contrast``, and the lenient tests
    for plain backgrounds would pass pairs of speckle grains.
    """
    kernel = _fine_kernel()
    passes: list[_Pass] = []
    for operation in operations:
        response = cv2.morphologyEx(channel, operation, kernel)
        threshold = _threshold(response, settings)
        glyphs = _glyphs(threshold.strokes(response), level, response, channel)
        passes.append(_Pass(glyphs, level, threshold, 1, fine=True))
    return passes


@functools.cache
def _fine_kernel() -> Mat:
    """The structuring element of the finer top-hat."""
    return cv2.getStructuringElement(cv2.MORPH_RECT, (_FINE, _FINE))


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
    """The stroke threshold per cell of _CELL x _CELL pixels, and per pixel (None where
    it is ``contrast`` throughout: no texture)."""

    cells: Mat
    full: Mat | None
    contrast: int

    @property
    def textured(self) -> bool:
        """Whether texture raised the threshold anywhere."""
        return self.full is not None

    def strokes(self, response: Mat) -> Mat:
        """Where ``response`` beats the threshold (255) or not (0)."""
        if self.full is None:
            return cv2.threshold(response, self.contrast, 255, cv2.THRESH_BINARY)[1]
        return cv2.compare(response, self.full, cv2.CMP_GT)

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
        return _Threshold(np.full_like(small, settings.contrast), None, settings.contrast)
    # Reflect, not replicate, at the edges: a line of text along the border must not
    # fill the window with copies of itself.
    pad = _TEXTURE_WINDOW // 2
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    level = cv2.medianBlur(padded, _TEXTURE_WINDOW)[pad:-pad, pad:-pad]
    scaled = cv2.convertScaleAbs(level, alpha=settings.texture_factor)
    cells = cv2.max(scaled, np.full_like(scaled, settings.contrast))
    if int(cells.max()) <= settings.contrast:
        return _Threshold(cells, None, settings.contrast)
    full = cv2.resize(cells, (columns, rows), interpolation=cv2.INTER_LINEAR)
    return _Threshold(cells, full, settings.contrast)


def _without_lines(mask: Mat, length: int) -> Mat | None:
    """``mask`` less its straight runs of ``length`` or more and their neighbours; None
    where it has none."""
    horizontal, vertical = _line_kernels(length)
    lines = cv2.bitwise_or(
        cv2.morphologyEx(mask, cv2.MORPH_OPEN, horizontal),
        cv2.morphologyEx(mask, cv2.MORPH_OPEN, vertical),
    )
    if not cv2.hasNonZero(lines):
        return None
    return cv2.subtract(mask, cv2.dilate(lines, _SQUARE3))


_SQUARE3 = np.ones((3, 3), np.uint8)


@functools.cache
def _line_kernels(length: int) -> tuple[Mat, Mat]:
    """Structuring elements of a horizontal and a vertical run of ``length`` pixels."""
    return np.ones((1, length), np.uint8), np.ones((length, 1), np.uint8)


@dataclass(frozen=True)
class _Pixels:
    """The set pixels of a mask in raster order: columns ``x``, rows ``y``, their
    ``index`` in the flattened mask, and the stroke ``response`` and ``channel`` values
    there."""

    x: NDArray[np.int32]
    y: NDArray[np.int32]
    index: NDArray[np.intp]
    response: NDArray[np.uint8]
    channel: NDArray[np.uint8]

    @classmethod
    def of(cls, mask: Mat, response: Mat, channel: Mat) -> _Pixels | None:
        """The set pixels of ``mask``; None where there are none."""
        points = cv2.findNonZero(mask)
        if points is None:
            return None
        xy = np.asarray(points, np.int32).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        index = y.astype(np.intp) * mask.shape[1] + x
        return cls(x, y, index, _at(response, index), _at(channel, index))


def _at(image: Mat, index: NDArray[np.intp]) -> NDArray[np.uint8]:
    """The values of a uint8 image at flat indices."""
    found: NDArray[np.uint8] = np.asarray(image, np.uint8).reshape(-1).take(index)
    return found


@dataclass(frozen=True)
class _Components:
    """Connected components, one row each: ``stats`` x, y, width, height, area; ``sums``
    the sums of the stroke response and of the channel over the component's pixels."""

    stats: NDArray[np.int64]
    sums: NDArray[np.float64]

    @classmethod
    def measure(
        cls, ids: NDArray[np.integer], pixels: _Pixels
    ) -> tuple[_Components, NDArray[np.int64], NDArray[np.int64]]:
        """Measure the components labelled ``ids`` 1 to n at ``pixels``.

        Also returns the order of the pixels that groups them by component (raster order
        within each) and where each component starts in it.
        """
        count = int(ids.max()) + 1
        area = np.bincount(ids, minlength=count)[1:]
        order = np.argsort(ids, kind="stable")
        ends = np.cumsum(area)
        starts = ends - area
        x, y = pixels.x[order].astype(np.int64), pixels.y[order].astype(np.int64)
        left = np.minimum.reduceat(x, starts)
        width = np.maximum.reduceat(x, starts) - left + 1
        top = y[starts]  # raster order: a component's first pixel is on its top row
        height = y[ends - 1] - top + 1
        sums = _sums(ids, count, pixels, slice(None))
        stats = np.stack((left, top, width, height, area), axis=1)
        return cls(stats, sums), order, starts


def _sums(
    ids: NDArray[np.integer],
    count: int,
    pixels: _Pixels,
    members: NDArray[np.int64] | slice,
) -> NDArray[np.float64]:
    """Per label 1 to ``count`` - 1: the sums of response and channel over the pixels
    (``members`` of ``pixels``) that carry it in ``ids``."""
    found = [
        np.bincount(ids, weights=values[members], minlength=count)[1:]
        for values in (pixels.response, pixels.channel)
    ]
    return np.stack(found, axis=1)


def _label(mask: Mat) -> NDArray[np.integer]:
    """The 8-connected component labels of a mask (0: background)."""
    # 16-bit labels halve the memory traffic; enough unless the mask is mostly noise.
    depth = cv2.CV_16U if cv2.countNonZero(mask) < _LABELS_16 else cv2.CV_32S
    _, labels = cv2.connectedComponentsWithAlgorithm(mask, 8, depth, cv2.CCL_BBDT)
    return cast("NDArray[np.integer]", np.asarray(labels))


_LABELS_16 = 65000


def _components(mask: Mat, response: Mat, channel: Mat, line_length: int) -> _Components:
    """The connected components of ``mask``, those holding a straight run of
    ``line_length`` or more (rulers, grid lines, sector edges) replaced by what is left
    of them without their runs, so text touching a line is not lost with it.

    Measured from the set pixels only: a stroke mask is sparse, and OpenCV's own
    statistics visit every pixel, background included.
    """
    pixels = _Pixels.of(mask, response, channel)
    if pixels is None:
        return _Components(np.zeros((0, 5), np.int64), np.zeros((0, 2), np.float64))
    ids = _label(mask).reshape(-1).take(pixels.index)
    found, order, starts = _Components.measure(ids, pixels)
    stats = found.stats
    long_ids = np.flatnonzero(np.maximum(stats[:, 2], stats[:, 3]) >= line_length)
    if len(long_ids) == 0:
        return found
    ends = np.append(starts[1:], len(order))
    parts = [
        _split_lines(
            _Components(stats[index], found.sums[index]),
            pixels,
            order[starts[index] : ends[index]],
            line_length,
        )
        for index in long_ids
    ]
    keep = np.ones(len(stats), bool)
    keep[long_ids] = False
    return _Components(
        np.concatenate([stats[keep], *(part.stats for part in parts)]),
        np.concatenate([found.sums[keep], *(part.sums for part in parts)]),
    )


def _split_lines(
    component: _Components, pixels: _Pixels, members: NDArray[np.int64], line_length: int
) -> _Components:
    """What is left of one ``component`` (a single row; its pixels are ``members`` of
    ``pixels``) without its straight runs, as components of their own."""
    left, top, width, height = (int(v) for v in component.stats[:4])
    rows, columns = pixels.y[members] - top, pixels.x[members] - left
    own = np.zeros((height, width), np.uint8)
    own[rows, columns] = 255
    rest = _without_lines(own, line_length)
    if rest is None:
        return _Components(component.stats[None], component.sums[None])
    depth = cv2.CV_16U if len(members) < _LABELS_16 else cv2.CV_32S
    count, labels, parts, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        rest, 8, depth, cv2.CCL_BBDT
    )
    ids = cast("NDArray[np.integer]", np.asarray(labels))[rows, columns]
    stats = np.asarray(parts[1:], np.int64) + np.array([left, top, 0, 0, 0])
    return _Components(stats, _sums(ids, count, pixels, members))


@dataclass(frozen=True)
class _Glyphs:
    """Connected components kept as glyphs: ``stats`` rows are x, y, w, h, area;
    ``strength`` and ``tone`` their mean stroke response and channel value; ``response``
    and ``channel`` the images they were found in."""

    stats: NDArray[np.int64]
    strength: NDArray[np.float64]
    tone: NDArray[np.float64]
    response: Mat
    channel: Mat


def _glyphs(mask: Mat, level: _Level, response: Mat, channel: Mat) -> _Glyphs:
    found = _components(mask, response, channel, level.line_length)
    stats = found.stats
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
    area = np.maximum(area[keep], 1)
    sums = found.sums[keep]
    return _Glyphs(
        stats=stats[keep],
        strength=sums[:, 0] / area,
        tone=sums[:, 1] / area,
        response=response,
        channel=channel,
    )


_APART = 256  # columns between passes laid side by side: more than any line reaches


@dataclass(frozen=True)
class _Table:
    """The glyphs of all passes laid side by side, ``_APART`` columns apart (so no line
    joins two passes): boxes (``x`` shifted by the pass's ``offsets`` entry), area, mean
    stroke response and tone, and the pass each comes from."""

    x: NDArray[np.int64]
    y: NDArray[np.int64]
    w: NDArray[np.int64]
    h: NDArray[np.int64]
    area: NDArray[np.int64]
    strength: NDArray[np.float64]
    tone: NDArray[np.float64]
    pass_of: NDArray[np.int64]
    offsets: NDArray[np.int64]

    @classmethod
    def of(cls, passes: list[_Pass]) -> _Table:
        """The glyphs of ``passes``, in order."""
        widths = [p.glyphs.channel.shape[1] + _APART for p in passes]
        offsets = np.cumsum([0, *widths[:-1]]).astype(np.int64)
        stats = np.concatenate([p.glyphs.stats for p in passes])
        pass_of = np.repeat(np.arange(len(passes)), [len(p.glyphs.stats) for p in passes])
        return cls(
            x=stats[:, 0] + offsets[pass_of],
            y=stats[:, 1],
            w=stats[:, 2],
            h=stats[:, 3],
            area=stats[:, 4],
            strength=np.concatenate([p.glyphs.strength for p in passes]),
            tone=np.concatenate([p.glyphs.tone for p in passes]),
            pass_of=pass_of,
            offsets=offsets,
        )

    def lines(self, picked: NDArray[np.int64]) -> Candidates:
        """The candidate lines of the glyphs ``picked``."""
        x, y, w, h = self.x[picked], self.y[picked], self.w[picked], self.h[picked]
        return Candidates.build(x=x, y=y, w=w, h=h, area=self.area[picked], labels=link(x, y, w, h))


@dataclass
class _Found:
    """Accepted lines: tight boxes (left, top, right, bottom rows), glyph heights,
    passes and tones."""

    boxes: list[NDArray[np.int64]] = field(default_factory=list)
    heights: list[NDArray[np.float64]] = field(default_factory=list)
    passes: list[NDArray[np.int64]] = field(default_factory=list)
    tones: list[float] = field(default_factory=list)


def _text_lines(passes: list[_Pass], contrast: int) -> list[Box]:
    """Group the glyphs of every pass into lines and keep those that look like text.

    All passes are judged together: the geometry of every candidate line at once
    (vectorised), tone and contrast only for the lines that pass. A line too tall for
    its glyphs (text touching anatomy) is tried again without its glyphs much taller
    than the others, and must then hold three glyphs or more of one tone; any rejected
    line is tried again with only its glyphs of the tone and size of its largest one
    (luminance, full scale), and must then also stand out clearly.
    """
    table = _Table.of(passes)
    if len(table.x) < 2:
        return []
    found = _Found()
    everything = np.arange(len(table.x))
    lines = table.lines(everything)
    ok = _judge(
        lines, everything, table=table, passes=passes, contrast=contrast, found=found, pruned=False
    )
    retries = (
        (_pruned(lines, ok, table.h), 0.0),
        (_of_one_tone(lines, ok, table, passes), _MARGIN),
    )
    for retry, margin in retries:
        if len(retry) >= 2:
            _judge(
                table.lines(retry),
                retry,
                table=table,
                passes=passes,
                contrast=contrast,
                found=found,
                pruned=True,
                min_margin=margin,
            )
    if not found.boxes:
        return []
    grown = absorb(
        np.concatenate(found.boxes),
        glyph_height=np.concatenate(found.heights),
        x=table.x,
        y=table.y,
        w=table.w,
        h=table.h,
    )
    boxes: list[Box] = []
    for (x0, y0, x1, y1), index, tone in zip(
        grown.tolist(), np.concatenate(found.passes).tolist(), found.tones, strict=True
    ):
        source = passes[index]
        box = Box(x0 - int(table.offsets[index]), y0, x1 - x0, y1 - y0)
        box = _extend_by_tone(box, source.glyphs, tone=tone, contrast=contrast)
        if source.scale > 1:
            box = Box(
                box.x * source.scale,
                box.y * source.scale,
                box.width * source.scale + 1,
                box.height * source.scale + 1,
            )
        boxes.append(box)
    return boxes


_OUTLIER = 1.6  # members this many times the glyph height do not belong to it


def _pruned(lines: Candidates, ok: NDArray[np.bool_], h: NDArray[np.int64]) -> NDArray[np.int64]:
    """The glyphs of the rejected lines of three or more that are too tall for their
    glyph height, less their members much taller than that (a blob the text touches)."""
    tall = ~ok & (lines.main >= 3) & (lines.bottom - lines.top > TALL * lines.glyph_height)
    if not tall.any():
        return np.zeros(0, np.int64)
    line_of = np.empty(len(h), np.int64)
    line_of[lines.order] = np.repeat(np.arange(len(lines.size)), lines.size)
    height = lines.glyph_height[line_of]
    return np.flatnonzero(tall[line_of] & (h <= _OUTLIER * height))


_MARGIN = 1.5  # stroke response over threshold that lines of a tone retry need
_TONE_SHARE = 0.15  # members within this share of the reference stroke response in tone


def _of_one_tone(
    lines: Candidates, ok: NDArray[np.bool_], table: _Table, passes: list[_Pass]
) -> NDArray[np.int64]:
    """The glyphs of the rejected lines of three or more that share the tone and size of
    their largest glyph, where that leaves members out: text chained to anatomy or
    speckle of another tone, which spoiled the line's alignment or height."""
    rejected = ~ok & (lines.size >= 3)
    if not rejected.any():
        return np.zeros(0, np.int64)
    count = len(lines.size)
    line_of = np.empty(len(table.x), np.int64)
    line_of[lines.order] = np.repeat(np.arange(count), lines.size)
    by_area = np.lexsort((table.area[lines.order], line_of[lines.order]))
    largest = lines.order[by_area][lines.start + lines.size - 1]  # per line
    tone, height = table.tone[largest], table.h[largest]
    tolerance = np.maximum(12.0, _TONE_SHARE * table.strength[largest])
    near = (
        (np.abs(table.tone - tone[line_of]) <= tolerance[line_of])
        & (table.h >= 0.45 * height[line_of])
        & (table.h <= _OUTLIER * height[line_of])
    )
    near &= np.array([p.scale == 1 and not p.chroma for p in passes])[table.pass_of]
    kept = np.bincount(line_of, weights=near, minlength=count)
    split = rejected & (kept >= 3) & (kept < lines.size)
    return np.flatnonzero(split[line_of] & near)


def _judge(
    lines: Candidates,
    glyphs: NDArray[np.int64],
    *,
    table: _Table,
    passes: list[_Pass],
    contrast: int,
    found: _Found,
    pruned: bool,
    min_margin: float = 0.0,
) -> NDArray[np.bool_]:
    """Add the lines that look like text to ``found``; ``glyphs`` maps the members of
    ``lines`` to ``table``. Lines of ``pruned`` glyphs must have three main glyphs or
    more and be of one tone, however long; every line a median stroke response of at
    least ``min_margin`` times its threshold. Returns which lines passed the geometry
    tests."""
    line_pass = table.pass_of[glyphs[lines.order[lines.start]]]
    limits, plain = _limits(passes, lines, line_pass, table.offsets, contrast)
    min_height = np.array([p.level.min_height for p in passes])[line_pass]
    ok = lines.geometry_ok(min_height=min_height, plain=plain)
    checked = np.flatnonzero(ok)
    if len(checked) == 0:
        return ok
    members = glyphs[lines.members(checked)]
    sizes = lines.size[checked]
    strength = Spread.of(table.strength[members], sizes)
    tone = Spread.of(table.tone[members], sizes)
    on_plain, main = plain[checked], lines.main[checked]
    margin = strength.median / np.maximum(limits[checked], 1.0)
    tone_spread = tone.std / np.maximum(strength.mean, 1.0)
    rejected = (
        (on_plain & (margin < 1.2))  # faint: shading, not drawn text
        # blobs of different tones on texture: speckle, anatomy
        | ((pruned | (~on_plain & (main <= 3))) & (tone_spread > 0.08))
        | (pruned & (main < 3))
        | (margin < min_margin)
    )
    picked = checked[~rejected]
    if len(picked):
        found.boxes.append(lines.boxes(picked))
        found.heights.append(lines.glyph_height[picked])
        found.passes.append(line_pass[picked])
        found.tones.extend(tone.median[~rejected].tolist())
    return ok


def _limits(
    passes: list[_Pass],
    lines: Candidates,
    line_pass: NDArray[np.int64],
    offsets: NDArray[np.int64],
    contrast: int,
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per candidate line: the stroke threshold at its centre, and whether that is the
    plain one (no texture there). Lines of the tone mask and of the finer top-hat count
    as on texture (they are looked for on textured frames only)."""
    limits = np.full(len(line_pass), 255, np.int64)
    for index, found in enumerate(passes):
        if found.threshold is None:
            continue
        picked = np.flatnonzero(line_pass == index)
        limits[picked] = found.threshold.at_many(
            lines.centre_row[picked], lines.centre_column[picked] - offsets[index]
        )
    textured = np.array([p.threshold is None or p.fine for p in passes])[line_pass]
    plain: NDArray[np.bool_] = (limits <= contrast) & ~textured
    return limits, plain


def _extend_by_tone(box: Box, glyphs: _Glyphs, *, tone: float, contrast: int) -> Box:
    """Follow the line's own colour sideways: strokes of the same tone that stand out of
    their surroundings continue the line where the background got busier and the
    glyphs there did not make it through the texture threshold.

    The colour followed is the one the line's strokes are drawn in (see
    :func:`_drawn_tone`; ``tone``, the glyphs' mean, where it has no strokes). A line
    drawn in one colour is followed further, and also where its strokes stand only a few
    levels out of a smooth background (text running onto a bright flat region).
    """
    rows, columns = glyphs.channel.shape[:2]
    top, bottom = max(box.y, 0), min(box.bottom, rows)
    if bottom <= top:
        return box
    inner = slice(max(box.x, 0), min(box.right, columns))
    drawn = _drawn_tone(
        np.asarray(glyphs.channel[top:bottom, inner]),
        np.asarray(glyphs.response[top:bottom, inner]),
        contrast,
    )
    one_colour = drawn is not None and drawn.share >= _DRAWN_SHARE
    reach = (_DRAWN_REACH if one_colour else 3) * box.height
    left, right = max(box.x - reach, 0), min(box.right + reach, columns)
    channel = np.asarray(glyphs.channel[top:bottom, left:right], np.uint8)
    response = np.asarray(glyphs.response[top:bottom, left:right], np.uint8)
    value = tone if drawn is None else drawn.value
    of_tone = np.abs(_VALUES - value) <= _TONE_TOLERANCE  # per 8-bit value
    strokes = of_tone[channel] & (response > contrast)
    if one_colour:
        strokes |= _faint_strokes(channel, response, value)
    inked = np.count_nonzero(strokes, axis=0) >= max(1, box.height // 6)
    gap_allowed = max(2, round(_GAP * box.height))
    before = inked[: box.x - left][::-1].tobytes()  # outward from the box, leftward
    after = inked[box.right - left :].tobytes()
    start = box.x - _reach(before, gap_allowed)
    end = box.right + _reach(after, gap_allowed)
    return Box(start, box.y, end - start, box.height)


_TONE_TOLERANCE = 8  # display levels from the drawn colour that still count as it
_GAP = 1.25  # line heights of gap (a word space) a line is followed across
_DRAWN_SHARE = 0.15  # share of a line's strokes at its drawn colour: of one colour
_DRAWN_REACH = 6  # line heights a line of one colour is followed sideways (else 3)
_FAINT = 8  # smallest stroke response of a faint stroke of the drawn colour
_BAND_TEXTURE = 3.0  # a faint stroke beats this many times the band's median response


def _faint_strokes(
    channel: NDArray[np.uint8], response: NDArray[np.uint8], value: float
) -> NDArray[np.bool_]:
    """Pixels of exactly the drawn ``value`` that stand a little out of a smooth band:
    above ``_FAINT`` and ``_BAND_TEXTURE`` times the band's median response, so that
    noise on a bright region (a CT's white matter) does not pass where a flat one
    would."""
    floor = max(_FAINT, _BAND_TEXTURE * float(np.median(response)))
    exact = _NEAR_VALUE[round(value)][channel]  # within one level of the drawn value
    faint: NDArray[np.bool_] = exact & (response >= floor)
    return faint


# _NEAR_VALUE[v][c]: whether display value c is within one level of v.
_NEAR_VALUE = np.abs(np.arange(256)[:, None] - np.arange(256)[None, :]) <= 1


@dataclass(frozen=True)
class _Drawn:
    """The colour a line's strokes are drawn in and the share of them at it."""

    value: float
    share: float


def _drawn_tone(
    channel: NDArray[np.uint8], response: NDArray[np.uint8], contrast: int
) -> _Drawn | None:
    """The value text in ``channel`` is drawn in: the most common value of its strokes
    (pixels whose ``response`` beats ``contrast``), with its neighbours. A glyph's mean
    tone is pulled towards the background by its anti-aliased edges, more so the thinner
    its strokes; the drawn colour is one exact value, the cores of every stroke. None
    where there are no strokes."""
    values = channel[response > contrast]
    if values.size == 0:
        return None
    counts = np.convolve(np.bincount(values, minlength=256), np.ones(3, np.int64), mode="same")
    mode = int(np.argmax(counts))
    return _Drawn(float(mode), float(counts[mode]) / values.size)


_VALUES = np.arange(256, dtype=np.int16)


def _reach(inked: bytes, gap_allowed: int) -> int:
    """How many columns a line extends through ``inked`` (one byte a column, 1 inked,
    ordered outward from the line's end): to the last inked column reached through gaps
    of at most ``gap_allowed`` columns."""
    gap = inked.find(bytes(gap_allowed + 1))
    return inked.rfind(1, 0, len(inked) if gap < 0 else gap) + 1

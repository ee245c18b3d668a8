"""Glyphs into lines of text: grouping, the shape tests, growing and merging lines.

Pure array code on glyph boxes (x, y, width, height, area); no image is looked at here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from anonymizer.pixels.geometry import Box

TALL = 2.6  # a line this many times its glyph height is not one line of text


def absorb(
    boxes: NDArray[np.int64],
    *,
    glyph_height: NDArray[np.float64],
    x: NDArray[np.int64],
    y: NDArray[np.int64],
    w: NDArray[np.int64],
    h: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Grow text lines over glyphs of their size on their rows that did not join a line
    themselves: a lone word ("Q", "St."), a first or last letter set apart.

    ``boxes`` holds one line a row (left, top, right, bottom), ``glyph_height`` each
    line's glyph height; all lines are grown at once, and the grown boxes returned.
    """
    left, top, right, bottom = (boxes[:, i : i + 1].copy() for i in range(4))
    height = glyph_height[:, None]
    # Glyphs on the rows of the line as found (one row of this matrix per line); only
    # glyphs on the rows of some line are looked at further.
    band = (y < bottom + height) & (y + h > top - height)
    some = np.flatnonzero(band.any(axis=0))
    band, x, y, w, h = band[:, some], x[some], y[some], w[some], h[some]
    x_end, y_end = x + w, y + h
    reach = 1.2 * height + 2
    for _ in range(3):
        shared = np.minimum(y_end, bottom) - np.maximum(y, top)
        near = (
            band
            & (shared >= 0.6 * h)
            & (h >= 0.3 * height)
            & (h <= 1.6 * height)
            & (x_end >= left - reach)
            & (x <= right + reach)
            & ((x < left) | (x_end > right))
        )
        if not near.any():
            break
        left = np.minimum(left, np.where(near, x, left).min(axis=1, keepdims=True))
        right = np.maximum(right, np.where(near, x_end, right).max(axis=1, keepdims=True))
        top = np.minimum(top, np.where(near, y, top).min(axis=1, keepdims=True))
        bottom = np.maximum(bottom, np.where(near, y_end, bottom).max(axis=1, keepdims=True))
    grown: NDArray[np.int64] = np.hstack((left, top, right, bottom))
    return grown


@dataclass(frozen=True)
class Candidates:
    """Candidate lines as arrays, one entry per line; ``order``/``start`` list members."""

    order: NDArray[np.int64]
    start: NDArray[np.int64]
    size: NDArray[np.int64]
    left: NDArray[np.int64]
    top: NDArray[np.int64]
    right: NDArray[np.int64]
    bottom: NDArray[np.int64]
    glyph_height: NDArray[np.float64]
    upper_height: NDArray[np.float64]
    main: NDArray[np.int64]
    aligned: NDArray[np.float64]
    all_on_both: NDArray[np.bool_]
    density: NDArray[np.float64]

    @classmethod
    def build(
        cls,
        *,
        x: NDArray[np.int64],
        y: NDArray[np.int64],
        w: NDArray[np.int64],
        h: NDArray[np.int64],
        area: NDArray[np.int64],
        labels: NDArray[np.int64],
    ) -> Candidates:
        """Measure every group of ``labels`` at once."""
        order = np.lexsort((h, labels))  # by line, then by height within the line
        start = np.flatnonzero(np.r_[True, np.diff(labels[order]) != 0])
        size = np.diff(np.r_[start, len(order)])
        line_of = np.repeat(np.arange(len(start)), size)  # per sorted glyph
        glyph_height = h[order][start + (size - 1) // 2].astype(np.float64)
        # Thin strokes on texture break into pieces (the bars of an E, a jamo), which
        # pull the median down; the upper quartile still has the glyphs' height.
        upper_height = h[order][start + (3 * (size - 1)) // 4].astype(np.float64)
        left = np.minimum.reduceat(x[order], start)
        top = np.minimum.reduceat(y[order], start)
        right = np.maximum.reduceat((x + w)[order], start)
        bottom = np.maximum.reduceat((y + h)[order], start)
        # Members that count: not punctuation (shorter than 0.45 of the median height).
        is_main = h[order] >= 0.45 * glyph_height[line_of]
        main = np.add.reduceat(is_main.astype(np.int64), start)
        tolerance = np.maximum(1.5, 0.2 * glyph_height)
        on_top = _near_median(y[order], line_of, is_main, tolerance)
        on_base = _near_median((y + h)[order], line_of, is_main, tolerance)
        either = np.add.reduceat((is_main & (on_top | on_base)).astype(np.int64), start)
        both = np.add.reduceat((is_main & on_top & on_base).astype(np.int64), start)
        box_area = np.maximum((right - left) * (bottom - top), 1)
        return cls(
            order=order,
            start=start,
            size=size,
            left=left,
            top=top,
            right=right,
            bottom=bottom,
            glyph_height=glyph_height,
            upper_height=upper_height,
            main=main,
            aligned=either / np.maximum(main, 1),
            all_on_both=both == main,
            density=np.add.reduceat(area[order], start) / box_area,
        )

    @property
    def centre_row(self) -> NDArray[np.int64]:
        """Row of each line's centre."""
        return (self.top + self.bottom) // 2

    @property
    def centre_column(self) -> NDArray[np.int64]:
        """Column of each line's centre."""
        return (self.left + self.right) // 2

    def geometry_ok(
        self, *, min_height: int | NDArray[np.int64], plain: NDArray[np.bool_]
    ) -> NDArray[np.bool_]:
        """Lines whose shape, alignment and density are those of text.

        Glyphs are of text size (by the upper quartile of their heights, so a line of
        broken glyphs counts) and share a top line or a base line (caps, digits,
        x-height letters; Hangul jamo touch the top or the bottom of their syllable);
        speckle grains and anatomy fragments do not line up.
        """
        height = self.bottom - self.top
        width = self.right - self.left
        members, gh = self.main, self.glyph_height
        pair = members == 2
        rejected = (
            (members < 2)
            | (self.upper_height < min_height * 0.6)
            | (height > TALL * gh)
            | (width < 1.2 * gh)
            | (self.density < 0.06)
            | (self.density > 0.75)
            | (~plain & (members < 4) & (gh < 6))  # a few specks on texture
            # A pair must agree on both lines (two random grains rarely do) and, on a
            # textured background, be glyph-sized; longer lines mostly share one line.
            | (pair & ~self.all_on_both)
            | (pair & ~plain & (gh < 8))
            | (~pair & (self.aligned < 0.7))
        )
        ok: NDArray[np.bool_] = ~rejected
        return ok

    def members(self, indices: NDArray[np.int64]) -> NDArray[np.int64]:
        """Indices (into the glyph arrays) of the members of the given lines, line after
        line (``self.size[indices]`` each)."""
        sizes = self.size[indices]
        shift = np.repeat(self.start[indices] - (np.cumsum(sizes) - sizes), sizes)
        picked: NDArray[np.int64] = self.order[np.arange(int(sizes.sum())) + shift]
        return picked

    def boxes(self, indices: NDArray[np.int64]) -> NDArray[np.int64]:
        """The tight boxes of the given lines, one a row: left, top, right, bottom."""
        picked: NDArray[np.int64] = np.stack(
            (self.left[indices], self.top[indices], self.right[indices], self.bottom[indices]),
            axis=1,
        )
        return picked


@dataclass(frozen=True)
class Spread:
    """Per line: the median, mean and standard deviation of a value over its members."""

    median: NDArray[np.float64]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]

    @classmethod
    def of(cls, values: NDArray[np.float64], sizes: NDArray[np.int64]) -> Spread:
        """The spread of ``values``, given line after line, ``sizes`` entries each."""
        line = np.repeat(np.arange(len(sizes)), sizes)
        begin = np.cumsum(sizes) - sizes
        ordered = values[np.lexsort((values, line))]
        low, high = ordered[begin + (sizes - 1) // 2], ordered[begin + sizes // 2]
        mean = np.add.reduceat(values, begin) / sizes
        deviation = values - mean[line]
        std = np.sqrt(np.add.reduceat(deviation * deviation, begin) / sizes)
        return cls(median=(low + high) / 2, mean=mean, std=std)


def _near_median(
    values: NDArray[np.int64],
    line_of: NDArray[np.int64],
    counted: NDArray[np.bool_],
    tolerance: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Per glyph: within ``tolerance`` of the median over the counted glyphs of its line."""
    lines = int(line_of.max()) + 1 if len(line_of) else 0
    picked = np.flatnonzero(counted)
    medians = np.zeros(lines, np.float64)
    if len(picked):
        order = np.lexsort((values[picked], line_of[picked]))
        ordered_lines = line_of[picked][order]
        begin = np.flatnonzero(np.r_[True, np.diff(ordered_lines) != 0])
        counts = np.diff(np.r_[begin, len(order)])
        medians[ordered_lines[begin]] = values[picked][order][begin + (counts - 1) // 2]
    near: NDArray[np.bool_] = np.abs(values - medians[line_of]) <= tolerance[line_of]
    return near


def link(
    x: NDArray[np.int64], y: NDArray[np.int64], w: NDArray[np.int64], h: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Label glyphs that chain into one line.

    Two glyphs link when the gap between them is at most 0.6 of the taller one's height
    and they share rows: similar heights (within 2.2x) overlapping by half the smaller,
    or a much smaller glyph (punctuation, a dot, a jamo) inside the taller one's rows
    and close to it. Text of another size next to a line does not join it.
    """
    order = np.argsort(x, kind="stable")
    x, y, w, h = x[order], y[order], w[order], h[order]
    right, bottom = x + w, y + h
    reach = right + np.maximum(2, (h * 6 + 9) // 10)
    # Candidate partners of i: glyphs starting at or after x[i] and before its reach.
    ends = np.searchsorted(x, reach, side="right")
    starts = np.arange(len(x)) + 1
    counts = np.maximum(ends - starts, 0)
    first = np.repeat(np.arange(len(x)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    second = np.repeat(starts, counts) + offsets
    hi, hj = h[first], h[second]
    tall, short = np.maximum(hi, hj), np.minimum(hi, hj)
    gap = x[second] - right[first]
    shared = np.minimum(bottom[first], bottom[second]) - np.maximum(y[first], y[second])
    similar = (tall <= 2.2 * short) & (shared >= 0.5 * short) & (gap <= 0.6 * tall + 2)
    tall_top = np.where(hi >= hj, y[first], y[second])
    tall_bottom = np.where(hi >= hj, bottom[first], bottom[second])
    short_top = np.where(hi >= hj, y[second], y[first])
    short_bottom = np.where(hi >= hj, bottom[second], bottom[first])
    slack = np.maximum(1, tall // 5)
    inside = (short_top >= tall_top - slack) & (short_bottom <= tall_bottom + slack)
    punctuation = inside & (gap <= 0.35 * tall + 1)
    keep = similar | punctuation
    labels = _components(len(x), first[keep], second[keep])
    out = np.empty_like(labels)
    out[order] = labels
    return out


def _components(count: int, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    """Connected components of a graph given as edge lists (label propagation)."""
    labels = np.arange(count, dtype=np.int64)
    if len(a) == 0:
        return labels
    while True:
        low = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        labels = labels[labels]  # pointer jumping: long chains settle in few rounds
        if np.array_equal(labels, before):
            return labels


_NEAR = 2.5  # line heights between words of one line
_FAR = 6.0  # line heights between two pieces of one line, of one height, found apart
_SAME_HEIGHT = 1.35  # how much taller one piece may be than the other to join from afar


def merge_lines(boxes: list[Box]) -> list[Box]:
    """Join boxes that overlap, or sit side by side on one line with a gap of at most
    two and a half line heights (words of one line, parts found in different channels),
    or up to six line heights where both are of about one height (the two ends of a
    string whose middle, on a busier or brighter background, was not found).
    """
    merged = sorted(boxes, key=lambda b: (b.x, b.y))
    changed = True
    while changed and len(merged) > 1:
        changed = False
        out: list[Box] = []
        for box in merged:
            top, bottom = box.y, box.y + box.height
            for index, other in enumerate(out):
                # No rows in common: neither overlapping nor side by side (a cheap test first).
                if other.y >= bottom or top >= other.y + other.height:
                    continue
                if _joinable(box, other):
                    out[index] = other.union(box)
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


def _joinable(a: Box, b: Box) -> bool:
    """Whether two line boxes are parts of one line (see :func:`merge_lines`)."""
    if a.overlap(b) > 0:
        return True
    shared = min(a.bottom, b.bottom) - max(a.y, b.y)
    low, high = sorted((a.height, b.height))
    if shared < 0.6 * low or high > 1.8 * low:
        return False
    gap = max(a.x, b.x) - min(a.right, b.right)
    return gap <= (_FAR if high <= _SAME_HEIGHT * low else _NEAR) * high

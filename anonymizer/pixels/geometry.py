"""Rectangles in pixel coordinates: what detection finds and masking fills."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Box:
    """An axis-aligned rectangle: ``x``, ``y`` of the top-left pixel, ``width``, ``height``.

    Coordinates are columns and rows of the image; a box may extend past the image and is
    clipped when it is used.
    """

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError("a box has a non-negative width and height")

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.y + self.height

    @property
    def area(self) -> int:
        """Width times height."""
        return self.width * self.height

    def padded(self, padding: int) -> Box:
        """The box grown by ``padding`` pixels on every side."""
        return Box(
            self.x - padding,
            self.y - padding,
            self.width + 2 * padding,
            self.height + 2 * padding,
        )

    def clipped(self, rows: int, columns: int) -> Box | None:
        """The part of the box inside a ``rows`` x ``columns`` image, or None."""
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.right, columns), min(self.bottom, rows)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)

    def overlap(self, other: Box) -> int:
        """The area the two boxes share."""
        width = min(self.right, other.right) - max(self.x, other.x)
        height = min(self.bottom, other.bottom) - max(self.y, other.y)
        return max(width, 0) * max(height, 0)

    def contains(self, other: Box) -> bool:
        """Whether ``other`` lies wholly inside this box."""
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def union(self, other: Box) -> Box:
        """The smallest box holding both."""
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.right, other.right), max(self.bottom, other.bottom)
        return Box(x0, y0, x1 - x0, y1 - y0)

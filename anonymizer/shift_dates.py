"""Shift DA and DT values by whole days, keep their precision, and truncate to the year.

Values that cannot be parsed are not guessed at: the caller replaces them with a dummy.
"""

from __future__ import annotations

import datetime as dt
import re

_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?([+-]\d{4})?$")

_AGE = re.compile(r"(\d{1,4})\s*([YyMmWwDd]?)")


class UnparsableDate(ValueError):  # noqa: N818 - internal signal, never leaves the library
    """A DA or DT value that is not a valid date."""


def shift_da(value: str, days: int, *, year_only: bool = False) -> str:
    """Shift one DA value (``YYYYMMDD``, or the old ``YYYY.MM.DD``)."""
    text = value.strip().replace(".", "")
    if len(text) != 8 or not text.isdigit():
        raise UnparsableDate("DA")
    try:
        date = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        shifted = date + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        raise UnparsableDate("DA") from None
    if year_only:
        return f"{shifted.year:04d}0101"
    return shifted.strftime("%Y%m%d")


def shift_dt(value: str, days: int, *, year_only: bool = False) -> str:
    """Shift one DT value, keeping its precision and its UTC offset."""
    text = value.strip()
    match = _DT.match(text)
    if not match:
        raise UnparsableDate("DT")
    year, month, day, time_part, offset = match.groups()
    if year_only:
        # Shift the date as precisely as it is given, as shift_da does, then keep the year,
        # so that a DA and a DT of the same day give the same year.
        return year if days == 0 else _shift_partial(year, month or "01", day or "01", days)[:4]
    if month is None or day is None:
        # Year or year-month precision: shift the first day and keep the precision.
        shifted = _shift_partial(year, month or "01", "01", days)
        return shifted[: 4 + (2 if month else 0)] + (offset or "")
    return _shift_partial(year, month, day, days) + (time_part or "") + (offset or "")


def _shift_partial(year: str, month: str, day: str, days: int) -> str:
    try:
        date = dt.date(int(year), int(month), int(day)) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        raise UnparsableDate("DT") from None
    return date.strftime("%Y%m%d")


def clamp_age(value: str) -> str:
    """HIPAA Safe Harbor: ages over 89 years become ``090Y``.

    A malformed age in years (``95Y``, ``95 Y``, or a bare ``95``) is clamped as well: an
    age that escaped for being badly written would still be an age over 89.
    """
    text = value.strip()
    match = _AGE.fullmatch(text)
    if match and match.group(2).upper() in ("Y", "") and int(match.group(1)) > 89:
        return "090Y"
    return text

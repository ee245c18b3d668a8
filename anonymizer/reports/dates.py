"""Dates in report text: found in the common written forms, shifted keeping their form.

A date is a date of birth when a birth keyword stands right before it (``DOB:``,
``생년월일``) or when it equals the birth date of the linked patient; any other date follows
the profile's date policy.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_B = r"(?<![A-Za-z0-9_])(?<![0-9]\.)"  # not inside a word, a number or a UID
_E = r"(?![A-Za-z0-9])(?!\.[0-9])"
_YEAR = r"(?P<y>(?:19|20)\d{2})"
_MONTH = r"(?P<m>1[0-2]|0?[1-9])"
_DAY = r"(?P<d>3[01]|[12]\d|0?[1-9])"
_MONTH_NAMES: tuple[str, ...] = ("january", "february", "march", "april", "may", "june", "july")
_MONTH_NAMES += ("august", "september", "october", "november", "december")

_MON = (
    r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_FORMATS = (
    # 2024-03-15, 2024.03.15, 2024/3/15 (ISO order, any of the usual separators)
    re.compile(rf"{_B}{_YEAR}(?P<s>[-./])(?P<m>1[0-2]|0?[1-9])(?P=s){_DAY}{_E}"),
    # 2024년 3월 15일
    re.compile(rf"(?<![0-9]){_YEAR}\s*년\s*{_MONTH}\s*월\s*{_DAY}\s*일"),
    # March 15, 2024 / Mar. 15th 2024
    re.compile(rf"{_B}{_MON}\.?\s+{_DAY}(?:st|nd|rd|th)?,?\s+{_YEAR}{_E}", re.IGNORECASE),
    # 15 March 2024 / 15-Mar-2024
    re.compile(
        rf"{_B}{_DAY}(?:st|nd|rd|th)?(?P<s2>[\s-])(?:of\s+)?{_MON}\.?(?:,?\s+|-){_YEAR}{_E}",
        re.IGNORECASE,
    ),
    # 15/03/2024 or 03/15/2024: day and month order unknown
    re.compile(
        rf"{_B}(?P<a>3[01]|[12]\d|0?[1-9])(?P<s>[-./])(?P<b>3[01]|[12]\d|0?[1-9])(?P=s){_YEAR}{_E}"
    ),
)
# YYYYMMDD and YYMMDD are numbers like any other unless a birth keyword names them.
_COMPACT = re.compile(
    rf"{_B}(?P<y>(?:19|20)?\d{{2}})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01]){_E}"
)
_BIRTH_CONTEXT = re.compile(
    r"(?:\bDOB|\bD\.O\.B\.?|\bdate\s+of\s+birth|\bbirth\s*date|\bbirthdate|\bborn(?:\s+on)?"
    r"|생년월일|출생일?|생일)\s*(?:\(?[A-Za-z./-]{0,10}\)?)?\s*[:=)\-]?\s*$",
    re.IGNORECASE,
)
_CONTEXT_WINDOW = 40


@dataclass(frozen=True)
class FoundDate:
    """A date in text: where, which day (None when day and month order is unknown)."""

    start: int
    end: int
    date: dt.date | None
    birth: bool
    match: re.Match[str]

    def render(self, days: int, *, year_only: bool = False) -> str | None:
        """The same text with the date moved by ``days``; None when it cannot be shifted."""
        if self.date is None:
            return None
        try:
            moved = self.date + dt.timedelta(days=days)
        except OverflowError:
            return None
        if year_only:
            return f"{moved.year:04d}"
        return _substitute(self.match, moved)


def find_dates(text: str, *, birth_dates: frozenset[dt.date] = frozenset()) -> list[FoundDate]:
    """Every date in ``text`` in a form listed above, with birth dates marked."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for pattern in _FORMATS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(s < end and start < e for s, e in taken):
                continue
            date, candidates = _date_of(match)
            if not candidates:
                continue
            birth = _birth_context(text, start) or bool(candidates & birth_dates)
            found.append(FoundDate(start, end, date, birth, match))
            taken.append((start, end))
    for match in _COMPACT.finditer(text):
        start, end = match.span()
        if any(s < end and start < e for s, e in taken) or not _birth_context(text, start):
            continue
        date, candidates = _date_of(match)
        if candidates:
            found.append(FoundDate(start, end, date, True, match))
    return sorted(found, key=lambda f: f.start)


def parse_date_value(value: str) -> dt.date | None:
    """The day of a whole field value: ``20240315``, ``2024-03-15``, ISO date-times."""
    text = value.strip()
    match = re.fullmatch(r"((?:18|19|20)\d{2})-?(\d{2})-?(\d{2})(?:[T ].*|\d{2}.*)?", text)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def shift_date_value(value: str, days: int, *, year_only: bool = False) -> str | None:
    """Shift the day of a whole field value, keeping its form (time and zone kept)."""
    text = value.strip()
    match = re.fullmatch(r"((?:18|19|20)\d{2})(-?)(\d{2})(-?)(\d{2})(.*)", text, re.DOTALL)
    if not match:
        return None
    try:
        moved = dt.date(int(match[1]), int(match[3]), int(match[5])) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    if year_only:
        return f"{moved.year:04d}"
    sep1, sep2, rest = match[2], match[4], match[6]
    return f"{moved.year:04d}{sep1}{moved.month:02d}{sep2}{moved.day:02d}{rest}"


def _birth_context(text: str, start: int) -> bool:
    return bool(_BIRTH_CONTEXT.search(text[max(0, start - _CONTEXT_WINDOW) : start]))


def _date_of(match: re.Match[str]) -> tuple[dt.date | None, set[dt.date]]:
    """The date, and every date the text may mean (two when day and month may swap)."""
    groups = match.groupdict()
    year = int(groups["y"])
    if year < 100:
        year += 1900 if year > dt.date.today().year % 100 else 2000
    if groups.get("a"):
        a, b = int(groups["a"]), int(groups["b"])
        candidates = {d for d in (_make(year, b, a), _make(year, a, b)) if d is not None}
        return (next(iter(candidates)) if len(candidates) == 1 else None), candidates
    month = _month_number(groups["mon"]) if groups.get("mon") else int(groups["m"])
    date = _make(year, month, int(groups["d"]))
    return date, ({date} if date else set())


def _make(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_number(name: str) -> int:
    key = name.lower()[:3]
    return next(i for i, full in enumerate(_MONTH_NAMES, 1) if full.startswith(key))


def _substitute(match: re.Match[str], moved: dt.date) -> str:
    """Rewrite the year, month and day groups of ``match`` in their original widths."""
    groups = match.groupdict()
    numbers = [groups[k] for k in ("a", "b", "m", "d") if groups.get(k)]
    # "2024-03-15" stays zero-padded, "2024년 3월 15일" does not.
    pad = any(n.startswith("0") for n in numbers) or (
        len(numbers) > 1 and all(len(n) == 2 for n in numbers)
    )
    values: dict[str, str] = {}
    if groups.get("a"):
        day_first = int(groups["a"]) > 12
        values["a"] = _width(pad, moved.day if day_first else moved.month)
        values["b"] = _width(pad, moved.month if day_first else moved.day)
    else:
        values["d"] = _width(pad, moved.day)
        if groups.get("mon"):
            values["mon"] = _month_name(groups["mon"], moved.month)
        else:
            values["m"] = _width(pad, moved.month)
    year = groups["y"]
    values["y"] = f"{moved.year:04d}" if len(year) == 4 else f"{moved.year % 100:02d}"
    text = match.group(0)
    base = match.start()
    for name in sorted(values, key=match.start, reverse=True):
        start, end = match.start(name) - base, match.end(name) - base
        text = text[:start] + values[name] + text[end:]
    return text


def _width(pad: bool, number: int) -> str:
    return f"{number:02d}" if pad else str(number)


def _month_name(original: str, month: int) -> str:
    full = _MONTH_NAMES[month - 1]
    name = full if len(original) > 3 else full[:3]
    if original.isupper():
        return name.upper()
    return name.capitalize() if original[:1].isupper() else name

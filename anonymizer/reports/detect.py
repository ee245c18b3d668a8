"""Patterns that identify a person on their own, wherever they appear in a report.

Korean resident registration numbers (with their date, century and check-digit rules),
phone numbers (Korean and international forms), e-mail addresses, record numbers named by a
keyword or by the site's own pattern, and DICOM UIDs. Every number pattern refuses to start
or end inside a longer number or a UID, so the digit runs of a UID are never taken for a
phone number or a registration number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

_B = r"(?<![A-Za-z0-9_])(?<![0-9]\.)"  # ASCII bounds: Korean particles follow numbers ("로")
_E = r"(?![A-Za-z0-9_])(?!\.[0-9])"
# Since October 2020 new registration numbers end in random digits: no check digit.
_RRN_RANDOM_SINCE = dt.date(2020, 10, 1)
_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_CENTURY = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000}


class Kind(StrEnum):
    """What an identifying value is; its placeholder is ``[KIND]``."""

    NAME = "NAME"
    ID = "ID"
    UID = "UID"
    ACCESSION = "ACCESSION"
    BIRTH_DATE = "BIRTH_DATE"
    DATE = "DATE"
    RRN = "RRN"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    INSTITUTION = "INSTITUTION"
    ADDRESS = "ADDRESS"

    @property
    def placeholder(self) -> str:
        return f"[{self.value}]"


@dataclass(frozen=True)
class Span:
    """One identifying value found in a text: where, what, and (if known) its replacement.

    ``priority`` decides between findings of exactly the same extent: lower wins.
    """

    start: int
    end: int
    kind: Kind
    priority: int
    replacement: str | None = None


_RRN = re.compile(
    rf"{_B}(?P<birth>\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))"
    rf"(?P<sep>\s?[-‐–]\s?|\s)?(?P<rest>[1-8](?:\d{{6}}|[*xX●]{{6}})){_E}"
)
_RRN_CONTEXT = re.compile(
    r"(?:주민\s*(?:등록)?\s*번호|외국인\s*등록\s*번호|\bRRN|resident\s+registration(?:\s+number)?)"
    r"\s*(?:\([^)]{0,20}\))?\s*[:=]?\s*$",
    re.IGNORECASE,
)
_PHONES = (
    # Korean mobile: 010-0000-1234, 010 0000 1234, 01000001234, (010)0000-1234
    re.compile(rf"{_B}(?:01[016789]|\(01[016789]\))[-. ]?\d{{3,4}}[-. ]?\d{{4}}{_E}"),
    # Korean landline and internet phone: 02-000-1234, 031-000-1234, (02) 000-1234, 070-...
    re.compile(
        rf"{_B}(?:\(0(?:2|[3-6][1-5]|70)\)\s?|0(?:2|[3-6][1-5]|70)[-. ])\d{{3,4}}[-. ]\d{{4}}{_E}"
    ),
    # North American: (555) 010-1234, 555-010-1234, 555.010.1234
    re.compile(
        rf"{_B}(?:\([2-9]\d{{2}}\)\s?[2-9]\d{{2}}-\d{{4}}|[2-9]\d{{2}}-[2-9]\d{{2}}-\d{{4}}"
        rf"|[2-9]\d{{2}}\.[2-9]\d{{2}}\.\d{{4}}){_E}"
    ),
)
# International: +82 10-0000-1234, +82-2-000-1234, +1 (555) 010-1234, +44 20 0000 0000
_INTERNATIONAL = re.compile(
    r"(?<![A-Za-z0-9_+])\+[1-9]\d{0,2}"
    rf"(?:[-. ]?(?:\(0\))?[-. ]?(?:\(\d{{1,4}}\)|\d{{1,4}})){{2,6}}{_E}"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_ID_VALUE = r"(?P<id>(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9][A-Za-z0-9-]{2,31})(?![A-Za-z0-9-])"
_ID_CONTEXT = re.compile(
    r"(?:(?<![A-Za-z])(?:MRN|M\.R\.N\.?|PID|medical\s+record(?:\s+(?:number|no\.?|#))?"
    r"|patient\s*(?:id|no\.?|number|#)|hospital\s+(?:number|no\.?|id)|chart\s*(?:number|no\.?|#)"
    r"|record\s+(?:number|no\.?))|환자\s*(?:번호|ID)|(?<!주민)등록\s*번호|병록\s*번호|차트\s*번호)"
    rf"\s*(?:[:#=]|is)?\s*{_ID_VALUE}",
    re.IGNORECASE,
)
_ACCESSION_CONTEXT = re.compile(
    r"(?:(?<![A-Za-z])(?:accession(?:\s*(?:number|no\.?|#))?|acc\.?\s*(?:no\.?|#))"
    rf"|검사\s*번호|접수\s*번호)\s*(?:[:#=]|is)?\s*{_ID_VALUE}",
    re.IGNORECASE,
)
UID_PATTERN = re.compile(r"(?<![A-Za-z0-9_.])[0-2](?:\.(?:0|[1-9][0-9]*)){3,}(?![0-9])(?!\.[0-9])")
_MIN_UID = 9
_PHONE_DIGITS = (8, 15)  # E.164 allows at most 15 digits

# Lower wins when two findings cover exactly the same text.
PRIORITY_KNOWN = 0
_PRIORITY = {
    Kind.UID: 1,
    Kind.RRN: 2,
    Kind.EMAIL: 3,
    Kind.PHONE: 4,
    Kind.BIRTH_DATE: 5,
    Kind.DATE: 5,
    Kind.ACCESSION: 6,
    Kind.ID: 7,
}


def priority(kind: Kind) -> int:
    """The priority of a pattern finding of ``kind``."""
    return _PRIORITY.get(kind, 8)


def rrn_check_digit(first_twelve: str) -> int:
    """The check digit of a Korean resident registration number (born before Oct 2020)."""
    total = sum(int(d) * w for d, w in zip(first_twelve, _RRN_WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def is_rrn(text: str, *, context: bool = False, today: dt.date | None = None) -> bool:
    """Whether ``text`` (``YYMMDD-GNNNNNN``, with or without the dash) is a valid RRN.

    The birth date must exist and not lie in the future (the 7th digit gives the century:
    1, 2, 5, 6 the 1900s; 3, 4, 7, 8 the 2000s). The check digit must hold, unless the
    number was issued after the check digit was dropped (born since October 2020), or
    ``context`` says it is one (a ``주민등록번호:`` label before it), or the last six digits
    are masked (``850302-1******`` still gives away birth date and sex).
    """
    digits = re.sub(r"[\s\-‐–]", "", text)
    born = _rrn_birth(digits)
    if born is None or born > (today or dt.date.today()):
        return False
    if not digits[7:].isdigit() or context or born >= _RRN_RANDOM_SINCE:
        return True  # masked, labelled, or issued without a check digit
    check = int(digits[12])
    if digits[6] in "5678":
        # Foreigner registration numbers used (13 - sum % 11) % 10 before 2020.
        total = sum(int(d) * w for d, w in zip(digits[:12], _RRN_WEIGHTS, strict=True))
        return check in (rrn_check_digit(digits[:12]), (13 - total % 11) % 10)
    return check == rrn_check_digit(digits[:12])


def _rrn_birth(digits: str) -> dt.date | None:
    """The birth date an RRN's first seven digits give, if it exists."""
    if len(digits) != 13 or not digits[:7].isdigit() or digits[6] not in _CENTURY:
        return None
    try:
        return dt.date(_CENTURY[digits[6]] + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return None


def find_patterns(text: str, *, mrn: re.Pattern[str] | None = None) -> list[Span]:
    """Every self-identifying pattern in ``text`` (dates are found by :mod:`.dates`)."""
    spans: list[Span] = []
    for match in _RRN.finditer(text):
        before = text[max(0, match.start() - 30) : match.start()]
        if is_rrn(match.group(0), context=bool(_RRN_CONTEXT.search(before))):
            spans.append(_span(match.start(), match.end(), Kind.RRN))
    for pattern in _PHONES:
        spans.extend(_span(m.start(), m.end(), Kind.PHONE) for m in pattern.finditer(text))
    for match in _INTERNATIONAL.finditer(text):
        digits = sum(c.isdigit() for c in match.group(0))
        if _PHONE_DIGITS[0] <= digits <= _PHONE_DIGITS[1]:
            spans.append(_span(match.start(), match.end(), Kind.PHONE))
    spans.extend(_span(m.start(), m.end(), Kind.EMAIL) for m in _EMAIL.finditer(text))
    for pattern, kind in ((_ID_CONTEXT, Kind.ID), (_ACCESSION_CONTEXT, Kind.ACCESSION)):
        spans.extend(_span(m.start("id"), m.end("id"), kind) for m in pattern.finditer(text))
    if mrn is not None:
        spans.extend(_mrn_spans(text, mrn))
    return spans


def resolve(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping findings in text order: the leftmost wins, then the longest, then the
    lower priority."""
    chosen: list[Span] = []
    end = -1
    for span in sorted(spans, key=lambda s: (s.start, s.start - s.end, s.priority)):
        if span.start >= end:
            chosen.append(span)
            end = span.end
    return chosen


def find_uids(text: str) -> list[re.Match[str]]:
    """UID-shaped tokens: at least four arcs, the first 0, 1 or 2, not inside a number."""
    return [m for m in UID_PATTERN.finditer(text) if len(m.group(0)) >= _MIN_UID]


def _mrn_spans(text: str, mrn: re.Pattern[str]) -> list[Span]:
    spans = []
    group: int | str = "id" if "id" in mrn.groupindex else (1 if mrn.groups else 0)
    for match in mrn.finditer(text):
        start, end = match.span(group)
        if start >= 0 and end > start:
            spans.append(Span(start, end, Kind.ID, priority(Kind.ID) - 1))
    return spans


def _span(start: int, end: int, kind: Kind) -> Span:
    return Span(start, end, kind, priority(kind))

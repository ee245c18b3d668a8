"""Attribute matching of DICOM searches (PS3.4 C.2.2.2, as QIDO-RS uses it) on DICOM JSON.

The catalogue keeps each stored instance's search attributes as DICOM JSON (PS3.18 F.2);
a query value becomes a predicate over one such attribute:

* empty: universal matching (every instance matches);
* ``*`` or ``?`` in a text value: wildcard matching, ``*`` any run, ``?`` one character;
* ``A-B``, ``A-`` or ``-B`` for dates, times and date-times: range matching, inclusive;
* several UIDs separated by ``,`` or ``\\``: list of UID matching;
* anything else: single value matching, the value itself.

Person names match without regard to case (so ``anon*`` finds ``ANON^...``); everything
else is case-sensitive. An attribute the instance does not have, or has empty, matches only
universally.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any] | None], bool]

_RANGE_VRS = frozenset({"DA", "TM", "DT"})
_WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_MAX_VALUE = 1024


class QueryValueError(ValueError):
    """A query value that cannot be matched (too long, or a malformed range)."""


def matcher(vr: str, value: str) -> Predicate:
    """The predicate of a query ``value`` for an attribute of value representation ``vr``."""
    if len(value) > _MAX_VALUE:
        raise QueryValueError("query value too long")
    if value == "":
        return lambda _attribute: True
    if vr == "UI":
        wanted = {v.strip() for v in re.split(r"[,\\]", value) if v.strip()}
        return _any_value(lambda v: v in wanted)
    if vr in _RANGE_VRS and "-" in value:
        return _range(vr, value)
    fold = vr == "PN"
    if vr in _WILDCARD_VRS and ("*" in value or "?" in value):
        pattern = _wildcard(value.casefold() if fold else value)
        return _any_value(lambda v: pattern.fullmatch(v.casefold() if fold else v) is not None)
    expected = value.casefold() if fold else value
    return _any_value(lambda v: (v.casefold() if fold else v) == expected)


def _any_value(test: Callable[[str], bool]) -> Predicate:
    def predicate(attribute: Mapping[str, Any] | None) -> bool:
        return any(test(v) for v in _texts(attribute))

    return predicate


def _texts(attribute: Mapping[str, Any] | None) -> list[str]:
    """The values of a DICOM JSON attribute as text (a person name by its alphabetic group)."""
    if not attribute:
        return []
    texts = []
    for value in attribute.get("Value", []):
        text = value.get("Alphabetic", "") if isinstance(value, Mapping) else value
        if text is not None and text != "":
            texts.append(str(text))
    return texts


def _wildcard(value: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    )


def _range(vr: str, value: str) -> Predicate:
    if value.count("-") != 1:
        raise QueryValueError(f"a {vr} range holds one '-'")
    low, high = (_normal(vr, part.strip()) for part in value.split("-"))
    if not low and not high:
        raise QueryValueError(f"a {vr} range needs a start or an end")

    def inside(text: str) -> bool:
        # Compared to the precision of each bound: "-1100" holds 11:00:00 and not 11:05.
        stored = _normal(vr, text)
        return (not low or stored[: len(low)] >= low) and (not high or stored[: len(high)] <= high)

    return _any_value(inside)


def _normal(vr: str, text: str) -> str:
    """Comparable digits: separators (``2020-01-01`` is not a query form, but ``10:30`` is
    stored by some) and a date-time's UTC offset left out."""
    if not text:
        return ""
    if vr == "DT":
        text = text.split("+", maxsplit=1)[0]
    digits = re.sub(r"[^0-9.]", "", text)
    if not digits.replace(".", "").isdigit():
        raise QueryValueError(f"not a {vr} value")
    return digits

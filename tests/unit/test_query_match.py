"""QIDO-RS attribute matching (PS3.4 C.2.2.2) over the catalogue's DICOM JSON."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizer.query_match import QueryValueError, matcher


def _attr(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def _pn(name: str) -> dict[str, Any]:
    return _attr("PN", {"Alphabetic": name})


@pytest.mark.parametrize(
    ("vr", "query", "attribute", "matches"),
    [
        ("LO", "", None, True),  # universal matching: even an absent attribute
        ("LO", "ABC", None, False),
        ("LO", "ABC", _attr("LO"), False),  # present but empty
        ("CS", "CT", _attr("CS", "CT"), True),
        ("CS", "CT", _attr("CS", "ct"), False),  # case matters outside names
        ("CS", "CT", _attr("CS", "MR", "CT"), True),  # any of several values
        ("PN", "anon^abc", _pn("ANON^ABC"), True),  # names: case does not matter
        ("PN", "ANON*", _pn("ANON^4F2A"), True),
        ("PN", "*^4F?A", _pn("ANON^4F2A"), True),
        ("PN", "ANON?", _pn("ANON^4F2A"), False),
        ("SH", "A*C", _attr("SH", "ABBC"), True),
        ("SH", "A*C", _attr("SH", "ABBD"), False),
        ("SH", "A.C", _attr("SH", "ABC"), False),  # regex characters are literal
        ("UI", "1.2.3", _attr("UI", "1.2.3"), True),
        ("UI", "1.2.3", _attr("UI", "1.2.30"), False),
        ("UI", "1.2.4,1.2.3", _attr("UI", "1.2.3"), True),  # list of UIDs
        ("UI", "1.2.4\\1.2.5", _attr("UI", "1.2.3"), False),
        ("UI", "1.2.*", _attr("UI", "1.2.3"), False),  # no wildcards in UIDs
        ("DA", "20200101-20201231", _attr("DA", "20200615"), True),
        ("DA", "20200101-20201231", _attr("DA", "20210101"), False),
        ("DA", "20200101-20201231", _attr("DA", "20201231"), True),  # inclusive
        ("DA", "-20191231", _attr("DA", "20200101"), False),
        ("DA", "20191231-", _attr("DA", "20200101"), True),
        ("DA", "20200101-", _attr("DA"), False),  # an empty date is in no range
        ("DA", "20200615", _attr("DA", "20200615"), True),
        ("TM", "1000-1100", _attr("TM", "110000"), True),  # to the bound's precision
        ("TM", "1000-1100", _attr("TM", "110500"), False),
        ("TM", "1000-1100", _attr("TM", "095959.123"), False),
        ("DT", "20200101-20200102", _attr("DT", "20200102093000+0100"), True),
        ("IS", "5", _attr("IS", 5), True),
        ("US", "512", _attr("US", 256), False),
    ],
)
def test_matching(vr: str, query: str, attribute: dict[str, Any] | None, matches: bool) -> None:
    assert matcher(vr, query)(attribute) is matches


@pytest.mark.parametrize(
    ("vr", "query"),
    [("DA", "2020-01-01"), ("DA", "-"), ("TM", "ab-cd"), ("LO", "x" * 1025)],
)
def test_malformed_queries_are_refused(vr: str, query: str) -> None:
    with pytest.raises(QueryValueError):
        matcher(vr, query)

"""Shifting DA and DT values by whole days, and clamping ages."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizer.shift_dates import UnparsableDate, clamp_age, shift_da, shift_dt


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240228", 1, "20240229"),  # leap year
        ("20240229", 1, "20240301"),
        ("20230228", 1, "20230301"),  # not a leap year
        ("20240301", -1, "20240229"),
        ("20000228", 1, "20000229"),  # divisible by 400
        ("19000228", 1, "19000301"),  # divisible by 100 only
        ("20240131", 1, "20240201"),
        ("20240101", -1, "20231231"),
        ("20231231", 1, "20240101"),
        ("20240229", 365, "20250228"),
        ("20240315", -730, "20220316"),  # 2024-02-29 lies between
        ("20240315", 0, "20240315"),
        ("2024.03.15", -15, "20240229"),  # ACR-NEMA form
        ("20240315 ", -1, "20240314"),  # trailing padding
    ],
)
def test_shift_da(value: str, days: int, expected: str) -> None:
    assert shift_da(value, days) == expected


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240315", -100, "20230101"),
        ("20240105", -10, "20230101"),  # the year of the shifted day
        ("20240315", 0, "20240101"),
    ],
)
def test_shift_da_year_only(value: str, days: int, expected: str) -> None:
    assert shift_da(value, days, year_only=True) == expected


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240228235959.123456+0100", 1, "20240229235959.123456+0100"),
        ("20240229120000.5-0500", 1, "20240301120000.5-0500"),
        ("20231231235959.000001", 1, "20240101235959.000001"),
        ("20240315101112", -1, "20240314101112"),
        ("202403151011", -1, "202403141011"),
        ("2024031510", -1, "2024031410"),
        ("20240315", -1, "20240314"),
        ("20240315+0000", -1, "20240314+0000"),
    ],
)
def test_shift_dt_keeps_time_fraction_and_offset(value: str, days: int, expected: str) -> None:
    assert shift_dt(value, days) == expected


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("2024", -1, "2023"),  # year precision: Jan 1 shifted, year kept as the precision
        ("2024", 10, "2024"),
        ("202403", -1, "202402"),
        ("202403", 40, "202404"),
        ("202403+0100", -1, "202402+0100"),
        ("2024-0800", 400, "2025-0800"),
    ],
)
def test_shift_dt_keeps_year_and_month_precision(value: str, days: int, expected: str) -> None:
    assert shift_dt(value, days) == expected


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240315101112.5+0100", -100, "2023"),
        ("20240315", 0, "2024"),
        ("2024", 0, "2024"),
        ("20241231", -5, "2024"),  # the day is known: Dec 26 is still 2024
        ("20240105", -10, "2023"),
    ],
)
def test_shift_dt_year_only(value: str, days: int, expected: str) -> None:
    assert shift_dt(value, days, year_only=True) == expected


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    st.integers(min_value=-36500, max_value=36500),
)
def test_da_and_dt_of_the_same_day_agree(day: dt.date, days: int) -> None:
    da = day.strftime("%Y%m%d")
    assert shift_dt(da + "120000", days)[:8] == shift_da(da, days)
    assert shift_dt(da, days, year_only=True) == shift_da(da, days, year_only=True)[:4]
    expected = day + dt.timedelta(days=days)
    assert shift_da(da, days) == expected.strftime("%Y%m%d")


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    st.integers(min_value=-36500, max_value=36500),
)
def test_shift_is_reversible(day: dt.date, days: int) -> None:
    da = day.strftime("%Y%m%d")
    assert shift_da(shift_da(da, days), -days) == da


@pytest.mark.parametrize(
    "value",
    ["", "2024", "2024031", "202403150", "20241315", "20240230", "2024-03-15", "ABCDEFGH", "0"],
)
def test_unparsable_da(value: str) -> None:
    with pytest.raises(UnparsableDate):
        shift_da(value, 1)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "24",
        "2024031",
        "20241315",
        "20240230120000",
        "2024-03-15T10:00",
        "20240315101112.1234567",
        "20240315+01",
        "garbage",
    ],
)
def test_unparsable_dt(value: str) -> None:
    with pytest.raises(UnparsableDate):
        shift_dt(value, 1)


def test_shift_out_of_range_is_unparsable() -> None:
    with pytest.raises(UnparsableDate):
        shift_da("99991231", 1)
    with pytest.raises(UnparsableDate):
        shift_dt("00010101", -1)


def test_unparsable_message_names_only_the_vr() -> None:
    with pytest.raises(UnparsableDate) as info:
        shift_da("FAKE1234", 1)
    assert str(info.value) == "DA"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("089Y", "089Y"),
        ("090Y", "090Y"),
        ("091Y", "090Y"),
        ("120Y", "090Y"),
        ("999Y", "090Y"),
        ("030M", "030M"),
        ("999M", "999M"),  # 83 years
        ("100W", "100W"),
        ("100D", "100D"),
        ("045Y", "045Y"),
        (" 095Y ", "090Y"),
        ("95Y", "090Y"),  # malformed, still over 89
        ("95", "090Y"),
        ("89", "89"),
        ("", ""),
        ("ABCD", "ABCD"),
    ],
)
def test_clamp_age(value: str, expected: str) -> None:
    assert clamp_age(value) == expected

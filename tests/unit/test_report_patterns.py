"""The self-identifying patterns of report text: they catch what identifies, and nothing else.

Every number here is made up in the test. Registration numbers are built with a valid check
digit from obviously fake parts (serial 00000), phones use unassigned ranges (010-0000-xxxx,
NANP 555-01xx), e-mail addresses use example.com.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from anonymizer.reports.dates import find_dates, parse_date_value, shift_date_value
from anonymizer.reports.detect import (
    Kind,
    find_patterns,
    find_uids,
    is_rrn,
    resolve,
    rrn_check_digit,
)
from anonymizer.reports.redact import is_pseudonym_uid
from anonymizer.reports.values import name_patterns

WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def fake_rrn(birth: str, gender: str, serial: str = "00000", *, valid: bool = True) -> str:
    """``YYMMDD-GSSSSSC`` with the check digit computed here (independently of the code)."""
    first = birth + gender + serial
    check = (11 - sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11) % 10
    if not valid:
        check = (check + 1) % 10
    return f"{birth}-{gender}{serial}{check}"


def kinds(text: str, mrn: re.Pattern[str] | None = None) -> list[tuple[Kind, str]]:
    spans = resolve(find_patterns(text, mrn=mrn))
    return sorted((s.kind, text[s.start : s.end]) for s in spans)


# -- resident registration numbers ---------------------------------------------------


def test_check_digit_matches_the_published_algorithm() -> None:
    # 12 digits weighted 2..9,2..5; check = (11 - sum mod 11) mod 10
    # 8*2+5*3+0*4+3*5+0*6+2*7+1*8+2*9+3*2+4*3+5*4+6*5 = 154 = 14*11 -> (11 - 0) % 10 = 1
    assert rrn_check_digit("850302123456") == 1
    assert rrn_check_digit("610203100000") == int(fake_rrn("610203", "1")[-1])


@pytest.mark.parametrize(
    ("birth", "gender"),
    [("610203", "1"), ("610203", "2"), ("050607", "3"), ("050607", "4"), ("790101", "5")],
)
def test_valid_rrns_are_found_with_or_without_dash(birth: str, gender: str) -> None:
    rrn = fake_rrn(birth, gender)
    assert is_rrn(rrn)
    assert kinds(f"주민번호 {rrn} 확인") == [(Kind.RRN, rrn)]
    bare = rrn.replace("-", "")
    assert kinds(f"RRN{':'} {bare}.") == [(Kind.RRN, bare)]
    assert kinds(f"번호는{rrn}입니다") == [(Kind.RRN, rrn)]  # Korean particles touch numbers


def test_wrong_check_digit_is_not_an_rrn() -> None:
    rrn = fake_rrn("610203", "1", valid=False)
    assert not is_rrn(rrn)
    assert kinds(f"sample {rrn} lot") == []


def test_wrong_check_digit_with_a_label_is_still_an_rrn() -> None:
    # Re-issued numbers may not follow the check digit; a label says what it is.
    rrn = fake_rrn("610203", "1", valid=False)
    assert kinds(f"주민등록번호: {rrn}") == [(Kind.RRN, rrn)]


@pytest.mark.parametrize(
    "birth",
    [
        "611303",
        "610230",
        "610000",
        "610132",
        "610229",
    ],  # month 13, Feb 30, day 0, 32, 1961 not leap
)
def test_impossible_birth_dates_are_not_rrns(birth: str) -> None:
    rrn = fake_rrn(birth, "1")
    assert not is_rrn(rrn)
    assert not is_rrn(rrn, context=True)
    assert kinds(f"주민등록번호: {rrn}") == []


def test_future_birth_dates_and_nineteenth_century_digits_are_not_rrns() -> None:
    assert not is_rrn(fake_rrn("880123", "4"), today=dt.date(2026, 1, 1))  # 2088
    assert not is_rrn(fake_rrn("610203", "9"))  # 1800s: nobody alive
    assert not is_rrn(fake_rrn("610203", "0"))


def test_numbers_issued_since_october_2020_need_no_check_digit() -> None:
    rrn = fake_rrn("210315", "3", valid=False)
    assert is_rrn(rrn, today=dt.date(2026, 1, 1))


def test_masked_rrn_still_gives_away_birth_and_sex() -> None:
    assert kinds("주민번호 610203-1******") == [(Kind.RRN, "610203-1******")]


def test_rrn_digit_runs_inside_uids_and_longer_numbers_are_left_alone() -> None:
    digits = fake_rrn("610203", "1").replace("-", "")
    uid = f"1.2.410.200001.{digits}.1"
    assert kinds(f"SOP {uid} was read") == []
    assert kinds(f"SOP 1.2.410.{digits}") == []
    assert kinds(f"barcode 9{digits}") == []
    assert kinds(f"lot {digits}7") == []


# -- phones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "010-0000-1234",
        "010 0000 1234",
        "010.0000.1234",
        "01000001234",
        "(010)0000-1234",
        "02-000-1234",
        "031-000-1234",
        "(02) 0000-1234",
        "070-0000-1234",
        "+82 10-0000-1234",
        "+82-2-000-1234",
        "+82 (0)10 0000 1234",
        "+1 (202) 555-0143",
        "+44 20 7946 0000",
        "(202) 555-0143",
        "202-555-0143",
    ],
)
def test_phone_numbers_in_korean_and_international_forms(phone: str) -> None:
    assert kinds(f"연락처 {phone}로 연락") == [(Kind.PHONE, phone)]
    assert kinds(f"call {phone}.") == [(Kind.PHONE, phone)]


@pytest.mark.parametrize(
    "text",
    [
        "study on 2024-03-15 at 10:20",
        "nodule 10.5 x 12.3 mm, HU -650",
        "SOP 1.2.410.200001.101.0000.1234.5",
        "series 1.3.12.2.1107.5.2.010.0000.1234",
        "lot 2010-0000-12345",
        "ratio 010-12, score 0.91",
        "version 3.10.0001.1234",
        "dose 120 kVp 250 mAs 1.25 mm",
    ],
)
def test_near_misses_are_not_phones(text: str) -> None:
    assert [k for k, _ in kinds(text) if k is Kind.PHONE] == []


# -- e-mail, record numbers --------------------------------------------------------------


def test_email_addresses() -> None:
    assert kinds("mail fake.patient+ai@example.com.") == [
        (Kind.EMAIL, "fake.patient+ai@example.com")
    ]
    assert kinds("see docs@ in section 2") == []


def test_record_numbers_named_by_a_keyword() -> None:
    found = kinds("MRN: FAKE0001, Patient ID FAKE-77, 등록번호 12345678, Accession # A0001")
    assert found == sorted(
        [
            (Kind.ID, "FAKE0001"),
            (Kind.ID, "FAKE-77"),
            (Kind.ID, "12345678"),
            (Kind.ACCESSION, "A0001"),
        ]
    )
    assert kinds("the patient identified no complaints; chart reviewed") == []


def test_record_numbers_by_the_sites_pattern() -> None:
    mrn = re.compile(r"\bH(?P<id>\d{7})\b")
    assert kinds("seen at H0000123 ward", mrn=mrn) == [(Kind.ID, "0000123")]
    assert kinds("seen at H0000123 ward") == []


# -- UIDs ---------------------------------------------------------------------------------


def test_uid_tokens_are_whole_uids_only() -> None:
    text = "compare 1.2.840.113619.2.55.3.1234 with v1.2.3.4 and 192.168.0.1 and 2.0.1"
    assert [m.group(0) for m in find_uids(text)] == ["1.2.840.113619.2.55.3.1234"]


def test_pseudonym_uids_are_recognized() -> None:
    from anonymizer import PseudonymKey
    from anonymizer.pseudonyms import Pseudonymizer

    mapped = Pseudonymizer(PseudonymKey(key_id="t", secret=b"k" * 32)).uid("1.2.3.4.5")
    assert is_pseudonym_uid(mapped)
    assert not is_pseudonym_uid("2.25.1234")
    assert not is_pseudonym_uid("1.2.3.4.5")


# -- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-03-15", dt.date(2024, 3, 15)),
        ("2024.3.5", dt.date(2024, 3, 5)),
        ("2024년 3월 15일", dt.date(2024, 3, 15)),
        ("March 15, 2024", dt.date(2024, 3, 15)),
        ("15-Mar-2024", dt.date(2024, 3, 15)),
        ("15/03/2024", dt.date(2024, 3, 15)),
    ],
)
def test_dates_in_common_forms(text: str, day: dt.date) -> None:
    [found] = find_dates(f"seen {text} again")
    assert found.date == day
    assert not found.birth


def test_birth_dates_by_keyword_or_by_value() -> None:
    [labelled] = find_dates("DOB: 1961-02-03")
    assert labelled.birth
    [compact] = find_dates("생년월일 19610203")
    assert compact.birth
    assert find_dates("lot 19610203") == []  # a bare number is a number
    [known] = find_dates("seen 03/02/1961", birth_dates=frozenset({dt.date(1961, 2, 3)}))
    assert known.birth and known.date is None  # day and month order unknown


def test_shifting_keeps_the_written_form() -> None:
    [iso] = find_dates("2024-03-15")
    assert iso.render(-10) == "2024-03-05"
    [korean] = find_dates("2024년 3월 15일")
    assert korean.render(20) == "2024년 4월 4일"
    [english] = find_dates("Mar 15, 2024")
    assert english.render(-15) == "Feb 29, 2024"
    assert iso.render(-100, year_only=True) == "2023"
    assert shift_date_value("2024-03-15T10:00:00Z", -1) == "2024-03-14T10:00:00Z"
    assert shift_date_value("20240315", 1) == "20240316"
    assert parse_date_value("not a date") is None


def test_dates_inside_uids_are_not_dates() -> None:
    assert find_dates("1.2.2024.03.15.7") == []


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "spelling"),
    [
        ("FAKE^REPORT^PATIENT", "Fake Report Patient"),
        ("FAKE^REPORT^PATIENT", "Report Fake"),
        ("FAKE^REPORT^PATIENT", "FAKE, REPORT"),
        ("가짜^환자", "가짜환자"),
        ("가짜^환자", "가짜 환자"),
        ("Fake^Taro=仮^太郎=かり^たろう", "仮太郎"),
        ("Fake^Taro=仮^太郎=かり^たろう", "かり たろう"),
    ],
)
def test_name_spellings(name: str, spelling: str) -> None:
    patterns = [re.compile(p, re.IGNORECASE) for p, _ in name_patterns(name)]
    assert any(p.fullmatch(spelling) for p in patterns)


def test_single_name_parts_are_not_names() -> None:
    # "환자" means "patient" and "REPORT" is a word: parts alone are no match.
    for name, part in (("가짜^환자", "환자"), ("FAKE^REPORT^PATIENT", "REPORT")):
        patterns = [re.compile(p, re.IGNORECASE) for p, _ in name_patterns(name)]
        assert not any(p.fullmatch(part) for p in patterns)

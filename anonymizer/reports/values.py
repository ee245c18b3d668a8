"""The identifying values of the study a report describes, and how to find them in text.

The service keeps no original values, so they come with the report: from the identifying
fields of a JSON report, from the header of a DICOM report, and from the ``identifiers`` a
caller may send beside a report (used in memory only, never stored or logged). Each value
is looked for in every spelling a report may use: a DICOM name ``FAMILY^GIVEN`` also as
``GIVEN FAMILY``, ``FAMILY, GIVEN`` and, in Korean, Chinese or Japanese, ``FAMILYGIVEN``;
each of its alphabetic, ideographic and phonetic groups; a birth date in every written form.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from anonymizer.identifiers import OWN_VOCABULARY
from anonymizer.reports.dates import parse_date_value
from anonymizer.reports.errors import ReportError, ReportReason
from anonymizer.reports.fields import FieldKind, classify

_MIN_TEXT = 3
_MIN_DIGITS = 4
_MIN_CJK = 2
_MAX_IDENTIFIERS = 256
# DICOM keywords of a report's header that carry identifying values.
_DICOM_FIELDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "AccessionNumber",
    "StudyID",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)


@dataclass
class StudyValues:
    """Identifying values gathered for one request (a builder: reports add to it)."""

    patient_ids: dict[str, str] = field(default_factory=dict)  # id -> issuer
    patient_names: set[str] = field(default_factory=set)
    person_names: set[str] = field(default_factory=set)
    birth_dates: set[dt.date] = field(default_factory=set)
    birth_texts: set[str] = field(default_factory=set)
    accessions: set[str] = field(default_factory=set)
    other_ids: set[str] = field(default_factory=set)
    institutions: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    uids: set[str] = field(default_factory=set)
    issuer: str = ""

    def add(self, kind: FieldKind, value: str, *, issuer: str = "") -> None:
        """Add one value of a field of ``kind``."""
        text = value.strip(" \0")
        if not text:
            return
        if kind is FieldKind.PATIENT_ID:
            self.patient_ids.setdefault(text, issuer or self.issuer)
        elif kind is FieldKind.ISSUER:
            self.issuer = self.issuer or text
            self.institutions.add(text)
        elif kind is FieldKind.BIRTH_DATE:
            date = parse_date_value(text)
            if date is not None:
                self.birth_dates.add(date)
            self.birth_texts.add(text)
        else:
            target = _TARGETS.get(kind)
            if target is not None:
                getattr(self, target).add(text)

    def merge(self, other: StudyValues) -> None:
        """Add every value of ``other``."""
        for key, issuer in other.patient_ids.items():
            self.patient_ids.setdefault(key, issuer)
        for name in (*_TARGETS.values(), "birth_dates", "birth_texts"):
            getattr(self, name).update(getattr(other, name))
        self.issuer = self.issuer or other.issuer

    @property
    def primary_patient_id(self) -> tuple[str, str] | None:
        """The first patient ID (and its issuer): the one the images' pseudonym came from."""
        for key, issuer in self.patient_ids.items():
            return key, issuer
        return None

    @classmethod
    def from_identifiers(cls, identifiers: Mapping[str, object]) -> StudyValues:
        """Values a caller sent beside a report: ``{"PatientName": ..., "PatientID": ...}``.

        Keys are DICOM keywords or their JSON spellings; values are strings or lists of
        strings. An unknown key is refused (naming the key, never a value).
        """
        values = cls()
        issuer = identifiers.get("IssuerOfPatientID") or identifiers.get("issuer")
        values.issuer = issuer if isinstance(issuer, str) else ""
        count = 0
        for key, raw in identifiers.items():
            kind = classify(key)
            if kind is None or kind is FieldKind.DATE:
                raise ReportError(
                    ReportReason.INVALID_IDENTIFIERS, f"unknown identifier key {key[:64]!r}"
                )
            items = raw if isinstance(raw, list) else [raw]
            for item in items:
                if not isinstance(item, str):
                    raise ReportError(
                        ReportReason.INVALID_IDENTIFIERS,
                        f"identifier {key[:64]!r} must be a string or a list of strings",
                    )
                count += 1
                if count > _MAX_IDENTIFIERS:
                    raise ReportError(ReportReason.INVALID_IDENTIFIERS, "too many identifiers")
                values.add(kind, item)
        return values

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyValues:
        """The identifying values of a DICOM report's header."""
        values = cls()
        issuer = ds.get("IssuerOfPatientID")
        values.issuer = str(issuer).strip() if issuer else ""
        for keyword in _DICOM_FIELDS:
            if keyword not in ds:
                continue
            kind = classify(keyword)
            value = ds[keyword].value
            items = value if isinstance(value, MultiValue | list) else [value]
            for item in items:
                if item is not None and not isinstance(item, bytes):
                    values.add(kind or FieldKind.OTHER_ID, str(item))
        return values


_TARGETS = {
    FieldKind.PATIENT_NAME: "patient_names",
    FieldKind.PERSON_NAME: "person_names",
    FieldKind.ACCESSION: "accessions",
    FieldKind.OTHER_ID: "other_ids",
    FieldKind.INSTITUTION: "institutions",
    FieldKind.ADDRESS: "addresses",
    FieldKind.PHONE: "phones",
    FieldKind.EMAIL: "emails",
    FieldKind.UID: "uids",
}


def name_patterns(name: str) -> list[tuple[str, str]]:
    """Regular expressions for every spelling of a person's name (each group, each order).

    Each comes with its first and last letters, which decide the word bounds it needs.
    """
    out: list[tuple[str, str]] = []
    for group in name.split("="):
        parts = [p.strip() for p in group.split("^") if p.strip()]
        if "^" not in group and " " in group.strip():
            words = group.split()
            parts = [words[-1], *words[:-1]]  # "John Q Doe": family name last
        if not parts:
            continue
        family, given = parts[0], parts[1:3]
        orders = {(family, *given), (*given, family)}
        if given:
            orders.add((family, given[0]))
            orders.add((given[0], family))
        for order in orders:
            text = "".join(order)
            if _too_short(text):
                continue
            ascii_only = all(p.isascii() for p in order)
            # Words of a name may be joined by "^", ", " or spaces; CJK names run together.
            sep = r"(?:\s*[,^]\s*|\s+)" if ascii_only else r"(?:\s*[,^]\s*|\s*)"
            out.append((sep.join(re.escape(p) for p in order), order[0][:1] + order[-1][-1:]))
    return out


def literal_pattern(value: str) -> str:
    """A value spelt as given, any amount of white space where it has some."""
    return r"\s+".join(re.escape(word) for word in value.split())


def phone_pattern(value: str) -> str | None:
    """A phone number's digits with any separators between them."""
    digits = [c for c in value if c.isdigit()]
    if len(digits) < 7:
        return None
    return r"[-. ()]*".join(digits)


def birth_date_texts(date: dt.date) -> set[str]:
    """Compact forms of a birth date, which the date finder leaves to context."""
    return {date.strftime("%Y%m%d"), date.strftime("%y%m%d")}


def bounded(pattern: str, sample: str, *, uid: bool = False) -> str:
    """Wrap ``pattern`` so it matches only as a whole word (or a whole UID) of ``sample``."""
    if uid:
        return rf"(?<![0-9.])(?:{pattern})(?![0-9])(?!\.[0-9])"
    head = r"(?<![A-Za-z0-9_])(?<![0-9]\.)" if sample[:1].isascii() and sample[:1].isalnum() else ""
    tail = r"(?![A-Za-z0-9_])(?!\.[0-9])" if sample[-1:].isascii() and sample[-1:].isalnum() else ""
    return f"{head}(?:{pattern}){tail}"


def usable(value: str) -> bool:
    """Long enough to look for without matching by chance, and not our own vocabulary."""
    return not _too_short(value) and value.lower() not in OWN_VOCABULARY


def _too_short(text: str) -> bool:
    if not text.isascii():
        return len(text) < _MIN_CJK
    if text.isdigit():
        return len(text) < _MIN_DIGITS
    return len(text) < _MIN_TEXT


def flatten(values: Iterable[str]) -> list[str]:
    """Values sorted longest first, so that a longer spelling wins over a part of it."""
    return sorted(set(values), key=len, reverse=True)

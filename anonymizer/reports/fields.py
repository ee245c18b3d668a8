"""What a named field holds: JSON keys, caller-supplied identifier keys and DICOM keywords.

Keys are compared lower-cased with everything but letters and digits dropped, so
``PatientName``, ``patient_name`` and ``patient-name`` are one key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum


class FieldKind(StrEnum):
    """The identifying content of a field, or ``CONTEXT`` for an object to look into."""

    UID = "uid"
    PATIENT_ID = "patient_id"
    ISSUER = "issuer"
    PATIENT_NAME = "patient_name"
    NAME_PART = "name_part"
    PERSON_NAME = "person_name"
    BIRTH_DATE = "birth_date"
    DATE = "date"
    ACCESSION = "accession"
    OTHER_ID = "other_id"
    INSTITUTION = "institution"
    ADDRESS = "address"
    PHONE = "phone"
    EMAIL = "email"


def _keys(kind: FieldKind, words: str) -> dict[str, FieldKind]:
    return dict.fromkeys(words.split(), kind)


_EXACT: dict[str, FieldKind] = {
    **_keys(
        FieldKind.PATIENT_ID,
        "patientid patientsid mrn medicalrecordnumber hospitalnumber patientnumber "
        "chartnumber registrationnumber pid",
    ),
    **_keys(FieldKind.ISSUER, "issuerofpatientid issuer"),
    **_keys(FieldKind.PATIENT_NAME, "patientname patientsname patient"),
    **_keys(
        FieldKind.NAME_PART,
        "firstname lastname givenname familyname middlename surname forename",
    ),
    **_keys(
        FieldKind.PERSON_NAME,
        "otherpatientnames patientbirthname patientmotherbirthname mothersmaidenname "
        "referringphysicianname referringphysician physician physicianname radiologist "
        "reportingradiologist readingphysician nameofphysiciansreadingstudy "
        "performingphysicianname operatorsname operator requestingphysician "
        "physiciansofrecord author reporter reader signedby verifiedby "
        "verifyingobservername responsibleperson technologist doctor personname",
    ),
    **_keys(
        FieldKind.BIRTH_DATE,
        "patientbirthdate patientsbirthdate birthdate dateofbirth dob birthday",
    ),
    **_keys(FieldKind.ACCESSION, "accessionnumber accession accessionno accno"),
    **_keys(
        FieldKind.OTHER_ID,
        "otherpatientids studyid admissionid visitid encounterid",
    ),
    **_keys(
        FieldKind.INSTITUTION,
        "institutionname institution hospital hospitalname facility clinic "
        "institutionaldepartmentname department responsibleorganization",
    ),
    **_keys(
        FieldKind.ADDRESS,
        "institutionaddress patientaddress address streetaddress referringphysicianaddress",
    ),
    **_keys(
        FieldKind.PHONE,
        "phone telephone phonenumber telephonenumber mobile fax patienttelephonenumbers "
        "referringphysiciantelephonenumbers",
    ),
    **_keys(FieldKind.EMAIL, "email emailaddress"),
    **_keys(FieldKind.UID, "uid"),
}
# Objects whose fields describe one kind of party: {"patient": {"name": ..., "id": ...}}.
_PATIENT_PARENTS = frozenset({"patient", "subject", "patientinfo", "patientinformation"})
_PERSON_PARENTS = frozenset(
    {
        "physician",
        "referringphysician",
        "radiologist",
        "reader",
        "author",
        "operator",
        "doctor",
        "reporter",
        "technologist",
        "signedby",
        "verifiedby",
    }
)
_INSTITUTION_PARENTS = frozenset({"institution", "hospital", "facility", "clinic"})
_IN_CONTEXT: dict[frozenset[str], dict[str, FieldKind]] = {
    _PATIENT_PARENTS: {
        "name": FieldKind.PATIENT_NAME,
        "fullname": FieldKind.PATIENT_NAME,
        "id": FieldKind.PATIENT_ID,
        "identifier": FieldKind.PATIENT_ID,
        "number": FieldKind.PATIENT_ID,
    },
    _PERSON_PARENTS: {"name": FieldKind.PERSON_NAME, "fullname": FieldKind.PERSON_NAME},
    _INSTITUTION_PARENTS: {"name": FieldKind.INSTITUTION},
}
_AT_SUFFIX = re.compile(r"(?:_at|At)$")


def normalize(key: str) -> str:
    """``Patient's Name`` -> ``patientsname``."""
    return re.sub(r"[^0-9a-z]", "", key.lower())


def classify(key: str, parent: str = "") -> FieldKind | None:
    """What the field ``key`` holds, inside an object that is the value of ``parent``."""
    norm = normalize(key)
    for parents, table in _IN_CONTEXT.items():
        if normalize(parent) in parents and norm in table:
            return table[norm]
    found = _EXACT.get(norm)
    if found is not None:
        return found
    return _by_suffix(key, norm)


_RULES: tuple[tuple[Callable[[str, str], bool], FieldKind], ...] = (
    (lambda key, norm: norm.endswith(("uid", "uids")), FieldKind.UID),
    (lambda key, norm: "birth" in norm or norm.endswith("dob"), FieldKind.BIRTH_DATE),
    (
        lambda key, norm: (
            norm.endswith(("date", "datetime", "dttm", "timestamp")) or bool(_AT_SUFFIX.search(key))
        ),
        FieldKind.DATE,
    ),
    (lambda key, norm: "phone" in norm or norm.endswith("fax"), FieldKind.PHONE),
    (lambda key, norm: "email" in norm, FieldKind.EMAIL),
    (
        lambda key, norm: (
            norm.endswith("address") and not norm.endswith(("ipaddress", "macaddress"))
        ),
        FieldKind.ADDRESS,
    ),
)


def _by_suffix(key: str, norm: str) -> FieldKind | None:
    for test, kind in _RULES:
        if test(key, norm):
            return kind
    if not norm.endswith("name"):
        return None
    prefix = norm[: -len("name")]
    if prefix in _PATIENT_PARENTS:
        return FieldKind.PATIENT_NAME
    if prefix in _PERSON_PARENTS or prefix.endswith(("physician", "radiologist")):
        return FieldKind.PERSON_NAME
    return FieldKind.INSTITUTION if prefix in _INSTITUTION_PARENTS else None

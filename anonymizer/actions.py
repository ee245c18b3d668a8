"""What a profile can do to one data element, and the PS3.15 options that change it.

The single-letter codes are those of PS3.15 Table E.1-1; ``PSEUDONYM`` and ``SHIFT`` are the
keyed, deterministic forms of ``D`` and ``C`` that this project uses for identifiers and
dates (see DESIGN.md, "Pseudonyms are deterministic and stateless").
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """The action applied to one data element."""

    REMOVE = "remove"
    EMPTY = "empty"
    DUMMY = "dummy"
    KEEP = "keep"
    CLEAN = "clean"
    UID = "uid"
    PSEUDONYM = "pseudonym"
    SHIFT = "shift"

    @classmethod
    def parse(cls, text: str) -> Action:
        """Read an action from its name or its PS3.15 letter (``X``, ``Z``, ``D`` ...)."""
        value = text.strip()
        if value.upper() in _LETTERS:
            return _LETTERS[value.upper()]
        return cls(value.lower())

    def describe(self) -> str:
        """One line a person can read, as used in the README's profile table."""
        return _DESCRIPTIONS[self]


_LETTERS = {
    "X": Action.REMOVE,
    "Z": Action.EMPTY,
    "D": Action.DUMMY,
    "K": Action.KEEP,
    "C": Action.CLEAN,
    "U": Action.UID,
}

_DESCRIPTIONS = {
    Action.REMOVE: "X: remove the element",
    Action.EMPTY: "Z: keep the element with an empty value",
    Action.DUMMY: "D: replace with a dummy value consistent with the VR",
    Action.KEEP: "K: keep the value; sequences are kept and their items cleaned",
    Action.CLEAN: "C: keep with identifying content replaced (dates shifted, text scrubbed)",
    Action.UID: "U: replace every UID with a keyed 2.25 UID, the same everywhere",
    Action.PSEUDONYM: "keyed pseudonym, the same for the same input under the same key",
    Action.SHIFT: "shift dates by the patient's keyed offset; times are kept",
}


class Option(StrEnum):
    """The PS3.15 options that have a column in Table E.1-1 (code in CID 7050)."""

    RETAIN_SAFE_PRIVATE = "retain_safe_private"
    RETAIN_UIDS = "retain_uids"
    RETAIN_DEVICE_IDENTITY = "retain_device_identity"
    RETAIN_INSTITUTION_IDENTITY = "retain_institution_identity"
    RETAIN_PATIENT_CHARACTERISTICS = "retain_patient_characteristics"
    RETAIN_LONGITUDINAL_FULL_DATES = "retain_longitudinal_full_dates"
    RETAIN_LONGITUDINAL_MODIFIED_DATES = "retain_longitudinal_modified_dates"
    CLEAN_DESCRIPTORS = "clean_descriptors"
    CLEAN_STRUCTURED_CONTENT = "clean_structured_content"
    CLEAN_GRAPHICS = "clean_graphics"

    @property
    def code(self) -> str:
        """The CID 7050 code value recorded in De-identification Method Code Sequence."""
        return OPTION_CODES[self][0]

    @property
    def meaning(self) -> str:
        """The CID 7050 code meaning."""
        return OPTION_CODES[self][1]


BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
CLEAN_PIXEL_DATA_CODE = ("113101", "Clean Pixel Data Option")

OPTION_CODES = {
    Option.CLEAN_GRAPHICS: ("113103", "Clean Graphics Option"),
    Option.CLEAN_STRUCTURED_CONTENT: ("113104", "Clean Structured Content Option"),
    Option.CLEAN_DESCRIPTORS: ("113105", "Clean Descriptors Option"),
    Option.RETAIN_LONGITUDINAL_FULL_DATES: (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    Option.RETAIN_LONGITUDINAL_MODIFIED_DATES: (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    Option.RETAIN_PATIENT_CHARACTERISTICS: ("113108", "Retain Patient Characteristics Option"),
    Option.RETAIN_DEVICE_IDENTITY: ("113109", "Retain Device Identity Option"),
    Option.RETAIN_UIDS: ("113110", "Retain UIDs Option"),
    Option.RETAIN_SAFE_PRIVATE: ("113111", "Retain Safe Private Option"),
    Option.RETAIN_INSTITUTION_IDENTITY: ("113112", "Retain Institution Identity Option"),
}

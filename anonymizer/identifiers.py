"""The identifying values of one input object, and how to find or scrub them in text.

Collected before the header stage runs, from the attributes that identify a person,
an institution or a study and that the profile does not keep; completed while the header
stage runs with the UIDs it replaced and the dates and names it removed. The verify stage
then looks for every one of them in the output, and the Clean (C) action scrubs them out of
free text the profile keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from anonymizer._elements import elements_of
from anonymizer.actions import Action
from anonymizer.profiles.compile import CompiledProfile, dictionary_vr

# Attributes whose values identify the patient, their family, staff, institution or visit.
STRONG_TAGS: tuple[int, ...] = (
    0x00100010,  # PatientName
    0x00101001,  # OtherPatientNames
    0x00101005,  # PatientBirthName
    0x00101060,  # PatientMotherBirthName
    0x00100020,  # PatientID
    0x00101000,  # OtherPatientIDs
    0x00100030,  # PatientBirthDate
    0x00101040,  # PatientAddress
    0x00102154,  # PatientTelephoneNumbers
    0x00102155,  # PatientTelecomInformation
    0x00101090,  # MedicalRecordLocator
    0x00080050,  # AccessionNumber
    0x00200010,  # StudyID
    0x00080080,  # InstitutionName
    0x00080081,  # InstitutionAddress
    0x00081040,  # InstitutionalDepartmentName
    0x00080090,  # ReferringPhysicianName
    0x00080092,  # ReferringPhysicianAddress
    0x00080094,  # ReferringPhysicianTelephoneNumbers
    0x00081050,  # PerformingPhysicianName
    0x00081060,  # NameOfPhysiciansReadingStudy
    0x00081070,  # OperatorsName
    0x00321032,  # RequestingPhysician
    0x00081048,  # PhysiciansOfRecord
    0x00102297,  # ResponsiblePerson
    0x00102299,  # ResponsibleOrganization
    0x00081010,  # StationName
)
# Values of these are looked for everywhere only when long enough to be specific;
# short ones ("Here", "CT01") only in names and free text.
_CONTEXT_TAGS = frozenset(
    {0x00080080, 0x00080081, 0x00081040, 0x00080092, 0x00102299, 0x00081010, 0x00101040}
)
_MIN_CONTEXT = 6
_OTHER_PATIENT_IDS_SEQUENCE = 0x00101002
_MIN_TEXT = 3  # shorter values match by chance; they are replaced by the profile anyway
_MIN_DIGITS = 4
# What the pipeline itself writes: the pseudonym prefix, dummy values, the scrub placeholder
# and the method attributes. An input that already holds one of them (data anonymized
# before, "ANON", "19000101") identifies nobody by it, and the output always holds them.
OWN_VOCABULARY = frozenset(
    {
        "anon",
        "anonymous",
        "anonymized",
        "[removed]",
        "removed",
        "modified",
        "unmodified",
        "yes",
        "dcm",
        "19000101",
        "19000101000000",
        "000000",
        "000d",
    }
)


@dataclass
class Identifiers:
    """Identifying values of one input, decoded, plus the raw bytes they were stored as."""

    strong: set[str] = field(default_factory=set)
    weak: set[str] = field(default_factory=set)
    restricted: set[str] = field(default_factory=set)
    removed_text: set[str] = field(default_factory=set)
    uids: set[str] = field(default_factory=set)
    raw: set[bytes] = field(default_factory=set)
    encodings: tuple[str, ...] = ("ascii",)

    def add_value(self, value: object, *, strong: bool, context: bool = False) -> None:
        """Add a decoded element value (string, person name or multi-value).

        Whole values are looked for everywhere; single name components, and short values
        of ``context`` attributes (institution, station ...), only in names and free text.
        """
        self.add_texts(_texts(value), strong=strong, context=context)

    def add_texts(
        self, texts: Iterable[tuple[str, bool]], *, strong: bool, context: bool = False
    ) -> None:
        """Add (text, is a single name component) pairs, as :func:`_texts` yields them."""
        target = self.strong if strong else self.weak
        for text, component in texts:
            for variant in _variants(text):
                if component or (context and len(variant) < _MIN_CONTEXT):
                    self.restricted.add(variant)
                else:
                    target.add(variant)

    def decode_raw(self, value: bytes) -> list[str] | None:
        """The values of a raw text element, if its character set decodes without pydicom.

        Single-byte and UTF-8 sets decode directly (no pydicom conversion, which would also
        turn the raw element into one pydicom must re-encode); None for the others.
        """
        codec = _SIMPLE_CODECS.get(self.encodings[0]) if len(self.encodings) <= 2 else None
        if codec is None:
            return None
        return [t for t in value.decode(codec, "replace").split("\\") if t.strip(" \0")]

    def decode_raw_text(self, value: bytes, *, split: bool) -> list[str] | None:
        """The values of a raw text element as pydicom decodes them (trailing spaces and
        NULs off; split at backslashes unless ``split`` is False), if its character set
        decodes without pydicom; None for the others."""
        codec = _SIMPLE_CODECS.get(self.encodings[0]) if len(self.encodings) <= 2 else None
        if codec is None:
            return None
        text = value.decode(codec, "replace").rstrip(" \0")
        return text.split("\\") if split else [text]

    def add_removed_text(self, text: str) -> None:
        """Add the text of a removed descriptor: looked for everywhere but in coded entries."""
        stripped = text.strip(" \0")
        if stripped:
            self.removed_text.add(stripped)

    def needles(self) -> set[bytes]:
        """Byte strings to look for anywhere: each value in each encoding, lower-cased."""
        out = self._encode(self.strong | self.weak)
        out.update(
            lowered
            for lowered in (r.lower() for r in self.raw)
            if _long_enough(lowered) and lowered.decode("latin-1") not in OWN_VOCABULARY
        )
        return out

    def restricted_needles(self) -> set[bytes]:
        """Byte strings to look for only in person names and free text."""
        return self._encode(self.restricted)

    def removed_text_needles(self) -> set[bytes]:
        """Removed descriptor texts: a coded entry's meaning may repeat them harmlessly."""
        return self._encode(self.removed_text)

    def _encode(self, texts: set[str]) -> set[bytes]:
        out: set[bytes] = set()
        for text in texts:
            if text.lower() in OWN_VOCABULARY:
                continue
            for encoding in (*self.encodings, "utf-8"):
                try:
                    encoded = text.encode(encoding)
                except (UnicodeEncodeError, LookupError):
                    continue
                if _long_enough(encoded):
                    out.add(encoded.lower())
        return out


def collect_identifiers(ds: Dataset, compiled: CompiledProfile) -> Identifiers:
    """Collect the strong identifiers of ``ds`` that the profile does not keep."""
    found = Identifiers(encodings=_encodings(ds))
    for tag in STRONG_TAGS:
        if tag not in elements_of(ds) or compiled.action_for(tag) is Action.KEEP:
            continue
        _add_element(ds, tag, found)
    if _OTHER_PATIENT_IDS_SEQUENCE in elements_of(ds):
        for item in ds[_OTHER_PATIENT_IDS_SEQUENCE].value or []:
            if 0x00100020 in elements_of(item):
                _add_element(item, 0x00100020, found)
    return found


def _add_element(ds: Dataset, tag: int, found: Identifiers) -> None:
    raw = elements_of(ds)[tag]
    context = tag in _CONTEXT_TAGS
    value = getattr(raw, "value", None)
    if isinstance(value, bytes) and getattr(raw, "is_raw", False):
        stripped = value.strip(b" \0")
        if stripped and not (context and len(stripped) < _MIN_CONTEXT):
            found.raw.add(stripped)
        texts = found.decode_raw(value)
        if texts is not None:
            if dictionary_vr(tag) == "PN":
                found.add_texts(pn_texts(texts), strong=True, context=context)
            else:
                found.add_value(texts, strong=True, context=context)
            return
    found.add_value(ds[tag].value, strong=True, context=context)


_SIMPLE_CODECS = {"iso8859": "latin-1", "latin_1": "latin-1", "UTF8": "utf-8", "utf_8": "utf-8"}


def pn_texts(values: list[str]) -> Iterable[tuple[str, bool]]:
    """What ``_texts`` yields for PersonName values, from their decoded strings."""
    for value in values:
        text = value.rstrip(" \0")
        yield text, False
        for group in text.split("="):
            if group:
                yield group, False
                yield from ((c.strip(), True) for c in group.split("^") if c.strip())


def _encodings(ds: Dataset) -> tuple[str, ...]:
    charset = getattr(ds, "_character_set", None) or ["iso8859"]
    if isinstance(charset, str):
        charset = [charset]  # one encoding, not its letters
    return tuple(dict.fromkeys([*charset, "ascii"]))


def _texts(value: object) -> Iterable[tuple[str, bool]]:
    """(text, is a single name component) for each text in a value."""
    if value is None:
        return
    if isinstance(value, MultiValue | list | tuple):
        for item in value:
            yield from _texts(item)
        return
    if isinstance(value, PersonName):
        yield str(value), False
        for group in (value.alphabetic, value.ideographic, value.phonetic):
            if group:
                yield group, False
                yield from ((c.strip(), True) for c in group.split("^") if c.strip())
        return
    if isinstance(value, bytes):
        return
    yield str(value), False


def _variants(text: str) -> set[str]:
    text = text.strip(" \0")
    out = {text} if text else set()
    # Names are written "DOE^JOHN" in DICOM and "John Doe" or "DOE, JOHN" elsewhere.
    if "^" in text:
        parts = [p for p in text.split("=")[0].split("^") if p]
        out.add(" ".join(parts))
        if len(parts) >= 2:
            out.add(f"{parts[1]} {parts[0]}")
            out.add(f"{parts[0]}, {parts[1]}")
        if not text.isascii():
            # Korean, Chinese and Japanese names are written family name first, unspaced:
            # "홍^길동" is "홍길동" in running text.
            out.add("".join(parts))
    return out


def _long_enough(encoded: bytes) -> bool:
    if encoded.isdigit():
        return len(encoded) >= _MIN_DIGITS
    return len(encoded) >= _MIN_TEXT


_WORD = re.compile(rb"[a-z0-9]")


def find_needles(haystack_lower: bytes, needles: Iterable[bytes]) -> list[tuple[int, bytes]]:
    """Where the needles occur as whole words (not inside a longer run of letters or digits)."""
    hits = []
    for needle in needles:
        start = haystack_lower.find(needle)
        while start != -1:
            end = start + len(needle)
            if _bounded(haystack_lower, start, end, needle):
                hits.append((start, needle))
                break
            start = haystack_lower.find(needle, start + 1)
    return hits


def _bounded(data: bytes, start: int, end: int, needle: bytes) -> bool:
    first, last = needle[:1], needle[-1:]
    if start > 0 and _same_class(data[start - 1 : start], first):
        return False
    return not (end < len(data) and _same_class(data[end : end + 1], last))


def _same_class(a: bytes, b: bytes) -> bool:
    if a.isdigit() or a == b".":
        return b.isdigit()
    return (a.isalnum() or a == b"_") and (b.isalnum() or b == b"_")


def scrub_text(text: str, identifiers: Identifiers, placeholder: str = "[REMOVED]") -> str:
    """Replace every identifying value in ``text`` (whole words, any case)."""
    values = sorted(
        (
            v
            for v in identifiers.strong | identifiers.restricted
            if len(v) >= _MIN_TEXT and v.lower() not in OWN_VOCABULARY
        ),
        key=len,
        reverse=True,
    )
    if not values:
        return text
    pattern = "|".join(re.escape(v) for v in values)
    # Word boundaries are ASCII only, as in find_needles: scripts written without spaces
    # (Korean, Chinese, Japanese) run a name into the next word ("홍길동님").
    regex = re.compile(rf"(?<![A-Za-z0-9_])(?:{pattern})(?![A-Za-z0-9_])", re.IGNORECASE)
    return regex.sub(placeholder, text)

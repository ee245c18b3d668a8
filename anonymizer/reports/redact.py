"""Find and replace identifying values in report text, and prove that none is left.

One :class:`Redactor` serves one report (or one request's reports): it holds the linked
study's identifying values with their replacements (the keyed pseudonyms the images got, or
typed placeholders, as the options say) and applies the patterns of :mod:`.detect` and
:mod:`.dates`. Where findings overlap, the leftmost longest wins.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from pydicom._uid_dict import UID_dictionary

from anonymizer.actions import Action
from anonymizer.profiles.compile import CompiledProfile
from anonymizer.profiles.model import DatePolicy
from anonymizer.pseudonyms import Pseudonymizer
from anonymizer.reports.dates import FoundDate, find_dates, shift_date_value
from anonymizer.reports.detect import (
    PRIORITY_KNOWN,
    Kind,
    Span,
    find_patterns,
    find_uids,
    priority,
    resolve,
)
from anonymizer.reports.fields import FieldKind
from anonymizer.reports.options import Replacement, ReportOptions
from anonymizer.reports.values import (
    StudyValues,
    birth_date_texts,
    bounded,
    flatten,
    literal_pattern,
    name_patterns,
    phone_pattern,
    usable,
)

# The header attribute whose profile action decides whether a kind of value is kept.
_TAGS = {
    FieldKind.PATIENT_ID: 0x00100020,
    FieldKind.PATIENT_NAME: 0x00100010,
    FieldKind.BIRTH_DATE: 0x00100030,
    FieldKind.ACCESSION: 0x00080050,
    FieldKind.INSTITUTION: 0x00080080,
    FieldKind.ADDRESS: 0x00101040,
    FieldKind.PHONE: 0x00102154,
    FieldKind.PERSON_NAME: 0x00080090,
    FieldKind.OTHER_ID: 0x00200010,
    FieldKind.UID: 0x0020000D,
}
_KIND_OF = {
    FieldKind.PATIENT_ID: Kind.ID,
    FieldKind.ISSUER: Kind.INSTITUTION,
    FieldKind.PATIENT_NAME: Kind.NAME,
    FieldKind.NAME_PART: Kind.NAME,
    FieldKind.PERSON_NAME: Kind.NAME,
    FieldKind.BIRTH_DATE: Kind.BIRTH_DATE,
    FieldKind.DATE: Kind.DATE,
    FieldKind.ACCESSION: Kind.ACCESSION,
    FieldKind.OTHER_ID: Kind.ID,
    FieldKind.INSTITUTION: Kind.INSTITUTION,
    FieldKind.ADDRESS: Kind.ADDRESS,
    FieldKind.PHONE: Kind.PHONE,
    FieldKind.EMAIL: Kind.EMAIL,
    FieldKind.UID: Kind.UID,
}

# A patient pseudonym (``P`` + 15 base32): a report written from de-identified images
# quotes it after "Patient ID:", and it identifies nobody.
_OWN_ID = re.compile(r"P[A-Z2-7]{15}")


@dataclass(frozen=True)
class _Known:
    pattern: re.Pattern[str]
    kind: Kind
    replacement: str


def is_pseudonym_uid(uid: str) -> bool:
    """Whether ``uid`` has the form of our pseudonym UIDs (a version 8 UUID under 2.25)."""
    if not uid.startswith("2.25.") or not uid[5:].isdigit():
        return False
    number = int(uid[5:])
    if number >= 1 << 128:
        return False
    raw = number.to_bytes(16, "big")
    return raw[6] >> 4 == 8 and raw[8] >> 6 == 0b10


class Redactor:
    """Replace the identifying values of one study in text, and check text for them.

    Parameters
    ----------
    values
        The identifying values of the linked study.
    pseudonyms
        The tenant's pseudonymizer: the same replacements as the images got.
    compiled
        The profile: its date policy, and which attributes it keeps.
    options
        Replacement style and the record-number pattern.
    study_uid
        The original Study Instance UID, when known (for the date shift of a study
        without a patient ID).
    """

    def __init__(
        self,
        values: StudyValues,
        *,
        pseudonyms: Pseudonymizer,
        compiled: CompiledProfile,
        options: ReportOptions,
        study_uid: str | None = None,
    ) -> None:
        self.values = values
        self.pseudonyms = pseudonyms
        self.options = options
        self.placeholders = options.replacement is Replacement.PLACEHOLDER
        profile = compiled.profile
        self.kept = frozenset(k for k, t in _TAGS.items() if compiled.action_for(t) is Action.KEEP)
        self.date_policy = profile.dates.policy
        self.safe_harbor = profile.safe_harbor
        self.mrn = re.compile(options.mrn_pattern) if options.mrn_pattern else None
        primary = values.primary_patient_id
        self.patient_pseudonym = pseudonyms.patient_id(*primary) if primary else None
        patient_key = self.patient_pseudonym or (f"study:{study_uid}" if study_uid else None)
        self.shift_days: int | None = None
        if self.date_policy is DatePolicy.SHIFT and patient_key is not None:
            self.shift_days = pseudonyms.date_shift(patient_key)
        self.own: set[str] = set()
        self.counts: Counter[str] = Counter()
        self._known = self._build_known()

    # -- replacements ------------------------------------------------------------------
    def uid(self, original: str) -> str:
        """The UID as the images got it: keyed, unless registry, already ours, or kept."""
        text = original.strip()
        if (
            FieldKind.UID in self.kept
            or text in UID_dictionary
            or is_pseudonym_uid(text)
            or not text
        ):
            return text
        mapped = self.pseudonyms.uid(text)
        self.own.add(mapped)
        return mapped

    def field_value(self, kind: FieldKind, value: str, *, issuer: str = "") -> str | None:
        """The replacement of a whole field value of ``kind``; None keeps the value."""
        result = self._replace(kind, value, issuer=issuer)
        if result is not None:
            self.counts[_KIND_OF[kind]] += 1
        return result

    def _replace(self, kind: FieldKind, value: str, *, issuer: str = "") -> str | None:
        if kind in self.kept:
            return None
        if kind is FieldKind.UID:
            return self.uid(value)
        if kind is FieldKind.DATE:
            return self._shift_field(value)
        pseudonym = None if self.placeholders else self._pseudonym(kind, value, issuer=issuer)
        return pseudonym or _KIND_OF[kind].placeholder

    def _pseudonym(self, kind: FieldKind, value: str, *, issuer: str) -> str | None:
        if kind is FieldKind.PATIENT_ID:
            result = self.pseudonyms.patient_id(value.strip(), issuer or self.values.issuer)
        elif kind is FieldKind.PATIENT_NAME:
            result = self._patient_name(value)
        elif kind is FieldKind.ACCESSION:
            result = self.pseudonyms.token("00080050", value.strip(), 16)
        else:
            return None
        self.own.add(result)
        return result

    def _patient_name(self, name: str) -> str:
        if self.patient_pseudonym:
            return self.pseudonyms.patient_name(self.patient_pseudonym)
        # As the header stage names a patient without an ID (PS3.15 "D", keyed).
        return "ANON^" + self.pseudonyms.token("00100010", name.strip(), 64)[:10]

    @property
    def days(self) -> int | None:
        """Days to move a date by; None when dates go (removed, or no shift is known)."""
        if self.date_policy is DatePolicy.KEEP:
            return 0
        return self.shift_days if self.date_policy is DatePolicy.SHIFT else None

    def keeps_dates(self) -> bool:
        return self.date_policy is DatePolicy.KEEP and not self.safe_harbor

    def _shift_field(self, value: str) -> str | None:
        if self.keeps_dates():
            return None
        days = self.days
        if days is not None:
            shifted = shift_date_value(value, days, year_only=self.safe_harbor)
            if shifted is not None:
                return shifted
        return Kind.DATE.placeholder

    # -- known values ------------------------------------------------------------------
    def _build_known(self) -> list[_Known]:
        values = self.values
        known: list[_Known] = []

        def add(kind: FieldKind, patterns: list[tuple[str, str]], replacement: str) -> None:
            if kind in self.kept:
                return
            for pattern, sample in patterns:
                regex = re.compile(bounded(pattern, sample), re.IGNORECASE)
                known.append(_Known(regex, _KIND_OF[kind], replacement))

        for pid, issuer in values.patient_ids.items():
            if usable(pid):
                replacement = self._replace(FieldKind.PATIENT_ID, pid, issuer=issuer) or pid
                add(FieldKind.PATIENT_ID, [(literal_pattern(pid), pid)], replacement)
        for kind, names in (
            (FieldKind.PATIENT_NAME, values.patient_names),
            (FieldKind.PERSON_NAME, values.person_names),
        ):
            for name in names:
                add(kind, name_patterns(name), self._replace(kind, name) or name)
        births = set(values.birth_texts)
        for date in values.birth_dates:
            births |= birth_date_texts(date)
        simple = (
            (FieldKind.BIRTH_DATE, births),
            (FieldKind.ACCESSION, values.accessions),
            (FieldKind.OTHER_ID, values.other_ids),
            (FieldKind.INSTITUTION, values.institutions),
            (FieldKind.ADDRESS, values.addresses),
            (FieldKind.EMAIL, values.emails),
        )
        for kind, texts in simple:
            for text in flatten(t for t in texts if usable(t)):
                replacement = self._replace(kind, text) or text
                add(kind, [(literal_pattern(text), text)], replacement)
        phones = [
            (p, "".join(c for c in v if c.isdigit()))
            for v in values.phones
            if (p := phone_pattern(v))
        ]
        add(FieldKind.PHONE, phones, Kind.PHONE.placeholder)
        if FieldKind.UID not in self.kept:
            known.extend(
                _Known(re.compile(bounded(re.escape(uid), uid, uid=True)), Kind.UID, self.uid(uid))
                for uid in values.uids
                if uid not in UID_dictionary and not is_pseudonym_uid(uid) and len(uid) >= 3
            )
        return known

    def is_own(self, text: str, span: Span) -> bool:
        """Whether the finding is one of our own pseudonyms (already de-identified text)."""
        value = text[span.start : span.end]
        if value in self.own:
            return True
        return span.kind is Kind.ID and span.replacement is None and bool(_OWN_ID.fullmatch(value))

    # -- finding -----------------------------------------------------------------------
    def spans(self, text: str) -> list[tuple[Span, FoundDate | None]]:
        """Every identifying finding in ``text``, overlaps resolved, in text order."""
        found: list[tuple[Span, FoundDate | None]] = []
        for entry in self._known:
            for match in entry.pattern.finditer(text):
                if match.end() > match.start():
                    span = Span(
                        match.start(), match.end(), entry.kind, PRIORITY_KNOWN, entry.replacement
                    )
                    found.append((span, None))
        found.extend((span, None) for span in find_patterns(text, mrn=self.mrn))
        if FieldKind.UID not in self.kept:
            for match in find_uids(text):
                uid = match.group(0)
                if uid not in UID_dictionary and not is_pseudonym_uid(uid):
                    found.append(
                        (Span(match.start(), match.end(), Kind.UID, priority(Kind.UID)), None)
                    )
        births = frozenset(self.values.birth_dates)
        for found_date in find_dates(text, birth_dates=births):
            kind = Kind.BIRTH_DATE if found_date.birth else Kind.DATE
            if kind is Kind.DATE and self.keeps_dates():
                continue
            span = Span(found_date.start, found_date.end, kind, priority(kind))
            found.append((span, found_date))
        dates = {span: found_date for span, found_date in found if found_date is not None}
        return [(span, dates.get(span)) for span in resolve(span for span, _ in found)]

    def _replacement(self, span: Span, date: FoundDate | None, text: str) -> str:
        if span.replacement is not None:
            return span.replacement
        if span.kind is Kind.UID:
            return self.uid(text)
        days = self.days
        if span.kind is Kind.DATE and date is not None and days is not None:
            shifted = date.render(days, year_only=self.safe_harbor)
            if shifted is not None:
                return shifted
        return span.kind.placeholder

    def scrub(self, text: str) -> str:
        """``text`` with every identifying value replaced."""
        if not text:
            return text
        parts: list[str] = []
        position = 0
        for span, date in self.spans(text):
            original = text[span.start : span.end]
            if self.is_own(text, span):
                continue
            parts.append(text[position : span.start])
            parts.append(self._replacement(span, date, original))
            self.counts[span.kind] += 1
            position = span.end
        parts.append(text[position:])
        return "".join(parts)

    def leaks(self, text: str) -> list[Kind]:
        """The kinds of identifying values still in ``text`` (our own pseudonyms excepted)."""
        found = []
        for span, _date in self.spans(text):
            if self.is_own(text, span):
                continue
            if span.kind is Kind.DATE and self.days is not None:
                continue  # a date moved by the patient's shift (or kept) is no leak
            found.append(span.kind)
        return found

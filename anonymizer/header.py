"""Apply a compiled profile to a pydicom Dataset, recursively through every sequence.

Kept elements are left as the raw bytes pydicom read, so they are written back unchanged
and cost nothing to decode; only elements the profile changes are decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from pydicom._uid_dict import UID_dictionary
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from anonymizer import raw_sequence
from anonymizer._elements import ascii_raw, elements_of
from anonymizer.actions import CLEAN_PIXEL_DATA_CODE, Action
from anonymizer.encode import encode_dataset
from anonymizer.errors import NestingTooDeep
from anonymizer.identifiers import Identifiers, collect_identifiers, pn_texts, scrub_text
from anonymizer.profiles.compile import CompiledProfile, dictionary_vr
from anonymizer.profiles.model import DatePolicy, PrivatePolicy
from anonymizer.pseudonyms import Pseudonymizer
from anonymizer.raw_sequence import MIN_REMEMBERED_TEXT, Replaced, Rules, rewrite_sequence
from anonymizer.shift_dates import UnparsableDate, clamp_age, shift_da, shift_dt

TOOL_NAME = "upload-anonymizer"
_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN"})
_DECODE_ON_REMOVE = frozenset({"PN", "DA", "DT", "LO", "LT", "ST", "UT", "UC", "SH"})
_MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "ST": 1024, "UC": 2**31}
_MIN_WEAK_TEXT = MIN_REMEMBERED_TEXT
_UNDEFINED = 0xFFFFFFFF
# Text VRs whose backslash is a character, not a value delimiter.
_UNSPLIT_VRS = frozenset({"LT", "ST", "UT"})
_DUMMY_TEXT = "ANONYMIZED"
_DUMMIES: dict[str, object] = {
    "PN": "ANONYMOUS",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "AS": "000D",
    "IS": "0",
    "DS": "0",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "UV": 0,
    "SV": 0,
    "FL": 0.0,
    "FD": 0.0,
    "AT": 0,
    "OB": b"\0\0",
    "OW": b"\0\0",
    "UN": b"\0\0",
}
_PATIENT_ID = 0x00100020
_PATIENT_NAME = 0x00100010
_ISSUER_OF_PATIENT_ID = 0x00100021
_STUDY_UID = 0x0020000D
_OVERLAY_DATA = 0x3000
_PATIENT_IDENTITY_REMOVED = 0x00120062
_DEIDENTIFICATION_METHOD = 0x00120063
_METHOD_CODES = 0x00120064
_LONGITUDINAL_TEMPORAL = 0x00280303


@dataclass
class HeaderStats:
    """What the header stage did to one object (counts only, nothing identifying)."""

    removed: int = 0
    replaced: int = 0
    emptied: int = 0
    uids_mapped: int = 0
    dates_shifted: int = 0
    dates_removed: int = 0
    scrubbed: int = 0
    private_removed: int = 0
    private_kept: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class HeaderResult:
    """The outcome of the header stage: stats and the identifiers to verify against."""

    stats: HeaderStats
    identifiers: Identifiers
    date_shift_days: int
    patient_pseudonym: str | None


class _Walker:
    def __init__(
        self,
        *,
        compiled: CompiledProfile,
        pseudonyms: Pseudonymizer,
        identifiers: Identifiers,
        shift_days: int,
        patient_pseudonym: str | None,
        max_depth: int,
    ) -> None:
        self.compiled = compiled
        self.profile = compiled.profile
        self.pseudonyms = pseudonyms
        self.ids = identifiers
        self.shift_days = shift_days
        self.patient_pseudonym = patient_pseudonym
        self.max_depth = max_depth
        self.stats = HeaderStats()
        self.safe_harbor = compiled.profile.safe_harbor
        self.handlers: dict[Action, Callable[[Dataset, int, int], None]] = {
            Action.REMOVE: self._remove,
            Action.EMPTY: self._empty,
            Action.DUMMY: self._dummy,
            Action.CLEAN: self._clean,
            Action.UID: self._uid,
            Action.PSEUDONYM: self._pseudonym,
            Action.SHIFT: self._shift,
        }

    # -- traversal -------------------------------------------------------------------
    def walk(self, ds: Dataset, depth: int, *, clean: bool) -> None:
        if depth > self.max_depth:
            raise NestingTooDeep(f"sequences nested deeper than {self.max_depth} levels")
        elements = elements_of(ds)
        kept_blocks: set[tuple[int, int]] = set()
        creators: list[int] = []
        action_for = self.compiled.action_for
        cached = self.compiled.cached_action
        sequence_tags = self.compiled.sequence_tags
        check_ages = self.safe_harbor
        age_tags = self.compiled.age_tags
        keep = Action.KEEP
        for tag in list(elements):
            # pydicom's BaseTag compares in Python: look tables up with a plain int, and
            # the element dictionary with the very key object it holds.
            number = int(tag)
            group = number >> 16
            if group & 1:
                self._private(ds, tag, depth, kept_blocks, creators)
                continue
            if not number & 0xFFFF or group in (0x0000, 0x0002):
                # Group lengths are retired; file meta is written anew; command elements
                # (group 0000) have no place in a stored data set, and pydicom reads a data
                # set that starts with them as a command set.
                del elements[tag]
                continue
            action = cached(number) or action_for(number)
            if action is keep:
                elem = elements[tag]
                vr = elem.VR
                if (
                    clean
                    or vr == "SQ"
                    or (vr is None or vr == "UN")
                    and number in sequence_tags
                    or getattr(elem, "length", 0) == 0xFFFFFFFF
                    or check_ages
                    and number in age_tags
                ):
                    self._keep(ds, tag, depth, clean=clean)
            else:
                self.handlers[action](ds, tag, depth)
        for tag in creators:
            if (tag >> 16, tag & 0xFF) not in kept_blocks:
                del elements[tag]

    def _vr(self, ds: Dataset, tag: int) -> str:
        elem = elements_of(ds)[tag]
        vr = elem.VR
        if vr and vr != "UN":
            return vr
        return dictionary_vr(tag) or "UN"

    def _is_sequence(self, ds: Dataset, tag: int) -> bool:
        elem = elements_of(ds)[tag]
        vr = elem.VR
        if vr == "SQ":
            return True
        if vr in (None, "UN") and tag in self.compiled.sequence_tags:
            return True
        return isinstance(elem, RawDataElement) and elem.length == 0xFFFFFFFF and vr != "OB"

    def _items(self, ds: Dataset, tag: int) -> list[Dataset]:
        value = ds[tag].value
        return list(value) if isinstance(value, Sequence) else []

    def _keep(self, ds: Dataset, tag: int, depth: int, *, clean: bool) -> None:
        if not clean and self._rewrite_raw(ds, tag, depth):
            return
        if self._is_sequence(ds, tag):
            if ds[tag].VR != "SQ":
                # Undefined length and not a known sequence: we cannot look inside, so it goes.
                self._drop(ds, tag)
                self.stats.warnings.append(f"unreadable_sequence_removed:{_tag(tag)}")
                return
            for item in self._items(ds, tag):
                self.walk(item, depth + 1, clean=clean)
            return
        if self.safe_harbor and tag in self.compiled.age_tags:
            elem = ds[tag]
            if isinstance(elem.value, str) and elem.value:
                elem.value = clamp_age(elem.value)
            return
        if clean and self._vr(ds, tag) in _TEXT_VRS:
            self._scrub(ds, tag)

    def _rewrite_raw(self, ds: Dataset, tag: int, depth: int) -> bool:
        """De-identify a sequence still in its raw bytes, if it needs keeping and removing
        only (see raw_sequence); False when it must be parsed and walked."""
        elem = elements_of(ds)[tag]
        if not (
            raw_sequence.ENABLED
            and isinstance(elem, RawDataElement)
            and isinstance(elem.value, bytes)
            and elem.length in (len(elem.value), _UNDEFINED)
            and (elem.VR == "SQ" or elem.VR is None and tag in self.compiled.sequence_tags)
        ):
            return False
        implicit, little = elem.is_implicit_VR, elem.is_little_endian
        rules = Rules(
            vr_of=dictionary_vr,
            action_of=self._public_action,
            keep_as_read=self._kept_as_read,
            replacement=partial(self._raw_replacement, implicit=implicit, little=little),
            max_depth=self.max_depth,
        )
        done = rewrite_sequence(
            elem.value, implicit=implicit, little=little, rules=rules, depth=depth + 1
        )
        if done is None:
            return False
        # An undefined-length sequence (raw_header) stays so: its value is its items.
        length = elem.length if elem.length == _UNDEFINED else len(done.value)
        elements_of(ds)[tag] = elem._replace(length=length, value=done.value)
        for value in done.removed_dates:
            self._remember_date(value)
        self.ids.uids.update(done.uids)
        if done.weak_texts:
            self.ids.add_value(done.weak_texts, strong=False)
        for name, count in done.counts.items():
            setattr(self.stats, name, getattr(self.stats, name) + count)
        return True

    def _raw_replacement(
        self, tag: int, action: Action, vr: str, old: bytes, *, implicit: bool, little: bool
    ) -> Replaced | None:
        """What _uid, _empty or _dummy would write for a raw element (see raw_sequence),
        where that needs no decoding beyond ASCII; else None. Changes nothing."""
        if action is Action.UID or vr == "UI" and action in (Action.DUMMY, Action.CLEAN):
            return self._raw_uids(tag, vr, old, implicit=implicit, little=little)
        if action is Action.SHIFT or action is Action.CLEAN and vr in ("DA", "DT"):
            return self._raw_shift(tag, vr, old, implicit=implicit, little=little)
        if action is Action.CLEAN:
            # _clean leaves other VRs as they are; text and AE values it rewrites.
            return None if vr in _TEXT_VRS or vr == "AE" else Replaced(None, vr, {})
        if action is Action.EMPTY:
            value: object = None
            counts = {"emptied": 1}
        elif action is Action.DUMMY:
            value = _DUMMIES.get(vr, _DUMMY_TEXT)
            counts = {"replaced": 1}
        else:
            return None
        raw = ascii_raw(tag, vr, value, implicit=implicit, little=little)
        if raw is None or raw.value is None:
            return None
        return Replaced(raw.value, vr, counts, forgets_old=True)

    def _raw_uids(
        self, tag: int, vr: str, old: bytes, *, implicit: bool, little: bool
    ) -> Replaced | None:
        """What _uid writes for a raw element holding ASCII UIDs."""
        if not old.isascii():
            return None
        text = old.decode("ascii").strip("\0 ")
        originals = [v.strip("\0 ") for v in text.split("\\")] if text else []
        if not originals:
            return Replaced(None, vr, {})
        mapped = [u if u in UID_dictionary else self.pseudonyms.uid(u) for u in originals]
        raw = ascii_raw(
            tag,
            "UI",
            mapped if len(mapped) > 1 else mapped[0],
            implicit=implicit,
            little=little,
        )
        if raw is None or raw.value is None:
            return None
        kept = tuple(u for u in originals if u not in UID_dictionary)
        return Replaced(raw.value, "UI", {"uids_mapped": len(mapped)}, uids=kept)

    def _raw_shift(
        self, tag: int, vr: str, old: bytes, *, implicit: bool, little: bool
    ) -> Replaced | None:
        """What _shift writes for a raw date: the value decoded as ``ds[tag].value`` would
        give it, shifted; None where _shift would empty an unparsable date."""
        if vr not in ("DA", "DT"):
            return Replaced(None, vr, {})
        raw = RawDataElement(BaseTag(tag), vr, len(old), old, 0, implicit, little)
        value = convert_raw_data_element(raw).value
        if not value:
            return Replaced(None, vr, {})
        try:
            texts, shifted = self._shifted(vr, value)
        except UnparsableDate:
            return None
        new = ascii_raw(
            tag, vr, shifted if len(shifted) > 1 else shifted[0], implicit=implicit, little=little
        )
        if new is None or new.value is None:
            return None
        return Replaced(new.value, vr, {"dates_shifted": 1}, weak_texts=tuple(texts))

    def _public_action(self, tag: int) -> Action:
        return self.compiled.cached_action(tag) or self.compiled.action_for(tag)

    def _kept_as_read(self, tag: int) -> bool:
        """Whether walk() leaves a kept, non-sequence element as it was read."""
        return not (self.safe_harbor and tag in self.compiled.age_tags)

    # -- public actions --------------------------------------------------------------
    def _remember_date(self, value: bytes) -> None:
        text = value.decode("ascii", "replace").strip(" \0")
        self.ids.add_value([t for t in text.split("\\") if t], strong=False)

    def _remember(self, ds: Dataset, tag: int, vr: str) -> None:
        """Keep removed names, dates and long free text, to prove they are gone."""
        if vr not in _DECODE_ON_REMOVE:
            return
        raw = elements_of(ds)[tag]
        if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes):
            # Decode only what can matter: dates are ASCII, and text shorter than the
            # weak-text threshold in bytes is shorter still in characters.
            if vr in ("DA", "DT"):
                self._remember_date(raw.value)
                return
            if vr != "PN" and len(raw.value.strip(b" \0")) < _MIN_WEAK_TEXT:
                return
            if vr == "PN":
                names = self.ids.decode_raw(raw.value)
                if names is not None:
                    self.ids.add_texts(pn_texts(names), strong=False)
                    return
            else:
                texts = self.ids.decode_raw_text(raw.value, split=vr not in _UNSPLIT_VRS)
                if texts is not None:
                    # One value, as pydicom would give it (a multi-valued one is not text).
                    if len(texts) == 1 and len(texts[0].strip()) >= _MIN_WEAK_TEXT:
                        self.ids.add_removed_text(texts[0])
                    return
        value = ds[tag].value
        if vr in ("PN", "DA", "DT"):
            self.ids.add_value(value, strong=False)
        elif isinstance(value, str) and len(value.strip()) >= _MIN_WEAK_TEXT:
            self.ids.add_removed_text(value)

    def _drop(self, ds: Dataset, tag: int) -> None:
        del elements_of(ds)[tag]
        self.stats.removed += 1

    def _remove(self, ds: Dataset, tag: int, depth: int) -> None:
        vr = self._vr(ds, tag)
        self._remember(ds, tag, vr)
        if vr in ("DA", "DT"):
            self.stats.dates_removed += 1
        self._drop(ds, tag)

    def _set(self, ds: Dataset, tag: int, vr: str, value: object) -> None:
        elements = elements_of(ds)
        old = elements.get(tag)
        if isinstance(old, RawDataElement):
            # Plain ASCII values go in already encoded, in the encoding the set was read in.
            raw = ascii_raw(
                tag, vr, value, implicit=old.is_implicit_VR, little=old.is_little_endian
            )
            if raw is not None:
                elements[tag] = raw
                return
        elements[tag] = DataElement(tag, vr, value)

    def _empty(self, ds: Dataset, tag: int, depth: int) -> None:
        vr = self._vr(ds, tag)
        self._remember(ds, tag, vr)
        if vr in ("DA", "DT"):
            self.stats.dates_removed += 1
        self._set(ds, tag, vr, Sequence() if vr == "SQ" else None)
        self.stats.emptied += 1

    def _dummy(self, ds: Dataset, tag: int, depth: int) -> None:
        vr = self._vr(ds, tag)
        if vr == "SQ":
            self._set(ds, tag, vr, Sequence([Dataset()]))
        elif vr == "UI":
            self._uid(ds, tag, depth)
            return
        else:
            self._remember(ds, tag, vr)
            if vr in ("DA", "DT"):
                self.stats.dates_removed += 1
            self._set(ds, tag, vr, _DUMMIES.get(vr, _DUMMY_TEXT))
        self.stats.replaced += 1

    def _clean(self, ds: Dataset, tag: int, depth: int) -> None:
        vr = self._vr(ds, tag)
        if vr == "SQ":
            for item in self._items(ds, tag):
                self.walk(item, depth + 1, clean=True)
        elif vr in ("DA", "DT"):
            self._shift(ds, tag, depth)
        elif vr == "UI":
            self._uid(ds, tag, depth)
        elif vr == "AE":
            self._pseudonym(ds, tag, depth)
        elif vr in _TEXT_VRS:
            self._scrub(ds, tag)

    def _scrub(self, ds: Dataset, tag: int) -> None:
        elem = ds[tag]
        value = elem.value
        if not value:
            return
        texts = [str(v) for v in value] if isinstance(value, MultiValue) else [str(value)]
        cleaned = [scrub_text(t, self.ids) for t in texts]
        if cleaned != texts:
            limit = _MAX_LENGTH.get(elem.VR)
            if limit:
                cleaned = [c[:limit] for c in cleaned]
            elem.value = cleaned if len(cleaned) > 1 else cleaned[0]
            self.stats.scrubbed += 1

    def _uid(self, ds: Dataset, tag: int, depth: int) -> None:
        vr = self._vr(ds, tag)
        if vr == "SQ":
            for item in self._items(ds, tag):
                self.walk(item, depth + 1, clean=False)
            return
        originals = self._uid_values(ds, tag)
        if not originals:
            return
        # UIDs from the DICOM registry (SOP classes, coding schemes) identify nobody.
        mapped = [u if u in UID_dictionary else self.pseudonyms.uid(u) for u in originals]
        self.ids.uids.update(u for u in originals if u not in UID_dictionary)
        self._set(ds, tag, "UI", mapped if len(mapped) > 1 else mapped[0])
        self.stats.uids_mapped += len(mapped)

    def _uid_values(self, ds: Dataset, tag: int) -> list[str]:
        """The UIDs an element holds; read from its raw bytes when they are ASCII."""
        raw = elements_of(ds)[tag]
        if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes) and raw.value.isascii():
            text = raw.value.decode("ascii").strip("\0 ")
            return [v.strip("\0 ") for v in text.split("\\")] if text else []
        value = ds[tag].value
        if not value:
            return []
        if isinstance(value, MultiValue):
            return [str(v).strip("\0 ") for v in value]
        return [str(value).strip("\0 ")]

    def _pseudonym(self, ds: Dataset, tag: int, depth: int) -> None:
        vr = self._vr(ds, tag)
        if tag == _PATIENT_ID and self.patient_pseudonym:
            self._set(ds, tag, vr, self.patient_pseudonym)
        elif tag == _PATIENT_NAME and self.patient_pseudonym:
            self._set(ds, tag, vr, self.pseudonyms.patient_name(self.patient_pseudonym))
        else:
            value = ds[tag].value
            if not value:
                return
            self._remember(ds, tag, vr)
            token = self.pseudonyms.token(f"{tag:08X}", str(value), _MAX_LENGTH.get(vr, 16))
            self._set(ds, tag, vr, f"ANON^{token[:10]}" if vr == "PN" else token)
        self.stats.replaced += 1

    def _shift(self, ds: Dataset, tag: int, depth: int) -> None:
        vr = self._vr(ds, tag)
        if vr not in ("DA", "DT"):
            return  # times are kept: the shift is in whole days
        elem = ds[tag]
        value = elem.value
        if not value:
            return
        try:
            texts, shifted = self._shifted(vr, value)
        except UnparsableDate:
            self.stats.warnings.append(f"unparsable_date_emptied:{_tag(tag)}")
            self._empty(ds, tag, depth)
            return
        self.ids.add_value(texts, strong=False)
        self._set(ds, tag, vr, shifted if len(shifted) > 1 else shifted[0])
        self.stats.dates_shifted += 1

    def _shifted(self, vr: str, value: object) -> tuple[list[str], list[str]]:
        """A date value's texts and their shifted forms (raises UnparsableDate)."""
        texts = [str(v) for v in value] if isinstance(value, MultiValue) else [str(value)]
        shifter = shift_da if vr == "DA" else shift_dt
        shifted = [
            shifter(t, self.shift_days, year_only=self.safe_harbor) if t.strip() else t
            for t in texts
        ]
        return texts, shifted

    # -- private elements ------------------------------------------------------------
    def _private(
        self,
        ds: Dataset,
        tag: int,
        depth: int,
        kept_blocks: set[tuple[int, int]],
        creators: list[int],
    ) -> None:
        element = tag & 0xFFFF
        if 0x0010 <= element <= 0x00FF:
            creators.append(tag)
            return
        if element < 0x0010:
            del elements_of(ds)[tag]
            return
        action = self.compiled.private_action(tag)
        if action is None:
            action = self._private_policy(ds, tag)
        if action is Action.REMOVE:
            self._drop(ds, tag)
            self.stats.private_removed += 1
            return
        kept_blocks.add((tag >> 16, element >> 8))
        self.stats.private_kept += 1
        if action is Action.KEEP:
            if self._is_sequence(ds, tag):
                for item in self._items(ds, tag):
                    self.walk(item, depth + 1, clean=False)
        else:
            self.handlers[action](ds, tag, depth)

    def _private_policy(self, ds: Dataset, tag: int) -> Action:
        policy = self.profile.private.policy
        if policy is PrivatePolicy.KEEP:
            return Action.KEEP
        if policy is PrivatePolicy.REMOVE:
            return Action.REMOVE
        group, element = tag >> 16, tag & 0xFFFF
        creator_tag = (group << 16) | (element >> 8)
        if creator_tag not in elements_of(ds):
            return Action.REMOVE
        creator = ds[creator_tag].value
        if not isinstance(creator, str):
            return Action.REMOVE
        if self.compiled.is_safe_private(group, creator.strip(), element):
            return Action.KEEP
        return Action.REMOVE


def deidentify_header(
    ds: Dataset,
    *,
    compiled: CompiledProfile,
    pseudonyms: Pseudonymizer,
    max_depth: int = 16,
    pixels_cleaned: bool = False,
) -> HeaderResult:
    """De-identify ``ds`` in place and record the method attributes (PS3.15 E.1.1).

    Returns what was done and the identifying values the verify stage must not find.
    """
    identifiers = collect_identifiers(ds, compiled)
    patient_key, patient_pseudonym = _patient(ds, pseudonyms)
    shift = 0
    if compiled.profile.dates.policy is DatePolicy.SHIFT:
        shift = pseudonyms.date_shift(patient_key)
    walker = _Walker(
        compiled=compiled,
        pseudonyms=pseudonyms,
        identifiers=identifiers,
        shift_days=shift,
        patient_pseudonym=patient_pseudonym,
        max_depth=max_depth,
    )
    walker.walk(ds, 0, clean=False)
    _drop_orphan_overlays(ds)
    _record_method(ds, compiled, pseudonyms, walker.stats, pixels_cleaned=pixels_cleaned)
    return HeaderResult(
        stats=walker.stats,
        identifiers=identifiers,
        date_shift_days=shift,
        patient_pseudonym=patient_pseudonym,
    )


def _patient(ds: Dataset, pseudonyms: Pseudonymizer) -> tuple[str, str | None]:
    """The key for the patient's date shift, and the patient pseudonym if there is an ID."""
    patient_id = _text(ds, _PATIENT_ID)
    issuer = _text(ds, _ISSUER_OF_PATIENT_ID)
    if patient_id:
        pseudonym = pseudonyms.patient_id(patient_id, issuer)
        return pseudonym, pseudonym
    # No patient ID: one shift per study, so a study stays internally consistent.
    return "study:" + _text(ds, _STUDY_UID), None


def _text(ds: Dataset, tag: int) -> str:
    if tag not in elements_of(ds):
        return ""
    value = ds[tag].value
    return str(value).strip() if value else ""


def _drop_orphan_overlays(ds: Dataset) -> None:
    """An overlay whose Overlay Data (60xx,3000) was removed goes whole (Clean Graphics)."""
    groups = {t >> 16 for t in elements_of(ds) if 0x6000 <= t >> 16 <= 0x601E and not t >> 16 & 1}
    for group in groups:
        if (group << 16) | _OVERLAY_DATA not in elements_of(ds):
            for tag in [t for t in elements_of(ds) if t >> 16 == group]:
                del elements_of(ds)[tag]


def _record_method(
    ds: Dataset,
    compiled: CompiledProfile,
    pseudonyms: Pseudonymizer,
    stats: HeaderStats,
    *,
    pixels_cleaned: bool,
) -> None:
    profile = compiled.profile
    codes = compiled.option_codes()
    if pixels_cleaned:
        codes = sorted([*codes, CLEAN_PIXEL_DATA_CODE])
    if profile.dates.policy is DatePolicy.KEEP and not profile.safe_harbor:
        temporal = "UNMODIFIED"
    elif stats.dates_shifted:
        temporal = "MODIFIED"
    else:
        temporal = "REMOVED"
    method = [
        TOOL_NAME,
        f"profile {profile.name} v{profile.version} (PS3.15 {profile.edition})"[:64],
        f"key {pseudonyms.key.key_id}"[:64],
    ]
    implicit, little = ds.original_encoding
    elements = elements_of(ds)
    for tag, vr, value in (
        (_PATIENT_IDENTITY_REMOVED, "CS", "YES"),
        (_DEIDENTIFICATION_METHOD, "LO", method),
        (_LONGITUDINAL_TEMPORAL, "CS", temporal),
    ):
        raw = None
        if implicit is not None and little is not None:
            raw = ascii_raw(tag, vr, value, implicit=implicit, little=little)
        elements[tag] = raw or DataElement(tag, vr, value)
    elements[_METHOD_CODES] = _method_codes(tuple(codes), implicit, little)


def _method_codes(
    codes: tuple[tuple[str, str], ...], implicit: bool | None, little: bool | None
) -> DataElement | RawDataElement:
    """The Deidentification Method Code Sequence: encoded once per code set and encoding,
    then inserted as raw bytes (the same few codes go into every object)."""
    if implicit is None or little is None:
        return _code_sequence(codes)
    key = (codes, implicit, little)
    found = _ENCODED_CODES.get(key)
    if found is None:
        holder = Dataset()
        holder[_METHOD_CODES] = _code_sequence(codes)
        encoded = encode_dataset(holder, implicit=implicit, little=little)
        value = encoded[8 if implicit else 12 :]
        found = RawDataElement(BaseTag(_METHOD_CODES), "SQ", len(value), value, 0, implicit, little)
        _ENCODED_CODES[key] = found
    return found


def _code_sequence(codes: tuple[tuple[str, str], ...]) -> DataElement:
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    return DataElement(_METHOD_CODES, "SQ", Sequence(items))


_ENCODED_CODES: dict[tuple[tuple[tuple[str, str], ...], bool, bool], RawDataElement] = {}


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"

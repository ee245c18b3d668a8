"""The leak check: prove that no identifying value of the input is left in the output.

Runs on the encoded output (preamble, file meta and data set, without the pixel data whose
text is the pixel stage's business). Every identifying value is looked for in each encoding
the input used and in UTF-8, in any letter case, as a whole word; original UIDs are looked
for as whole UIDs. A hit rejects the object and names the tag path of the element that
holds it, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeGuard

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from anonymizer._elements import elements_of
from anonymizer.actions import Action
from anonymizer.errors import LeakDetected, VerificationFailed
from anonymizer.identifiers import Identifiers, find_needles
from anonymizer.profiles.compile import CompiledProfile, dictionary_vr
from anonymizer.raw_sequence import RawElement, RawSequenceError, iter_sequence, raw_path

_UID_TOKEN = re.compile(rb"[0-9][0-9.]{2,63}")
_FREE_TEXT_VRS = frozenset({"PN", "LT", "ST", "UT", "UC"})
_ADDED_BY_US = frozenset({0x00120062, 0x00120063, 0x00120064, 0x00280303})
# Code Value, Coding Scheme Designator, Code Meaning, Long Code Value, URN Code Value.
_CODED_ENTRY = frozenset({0x00080100, 0x00080102, 0x00080104, 0x00080119, 0x00080120})


def verify_output(
    encoded: bytes, ds: Dataset, *, identifiers: Identifiers, compiled: CompiledProfile
) -> None:
    """Raise :class:`LeakDetected` or :class:`VerificationFailed` unless the output is clean."""
    if ds.get("PatientIdentityRemoved") != "YES" or "DeidentificationMethod" not in ds:
        raise VerificationFailed("de-identification method attributes are missing")
    _check_removed(ds, compiled, "")
    lowered = encoded.lower()
    hits = find_needles(lowered, identifiers.needles())
    if identifiers.uids:
        tokens = {m.group(0).rstrip(b".") for m in _UID_TOKEN.finditer(encoded)}
        originals = {u.encode("ascii", "replace") for u in identifiers.uids}
        hits += [(0, uid) for uid in tokens & originals]
    if hits:
        needles = {needle for _, needle in hits}
        paths = sorted(set(_locate(ds, needles, ""))) or ["(file bytes outside any element)"]
        raise LeakDetected(paths)
    restricted = identifiers.restricted_needles()
    # Walk the elements only when a needle occurs somewhere in the bytes at all.
    if restricted and find_needles(lowered, restricted):
        paths = sorted(set(_locate(ds, restricted, "", free_text_only=True)))
        if paths:
            raise LeakDetected(paths)
    removed_text = identifiers.removed_text_needles()
    if removed_text and find_needles(lowered, removed_text):
        # A removed Study Description often repeats a procedure code's meaning
        # ("ECHOCARDIOGRAM"); the coded entry is kept (K) and identifies nobody.
        paths = sorted(set(_locate(ds, removed_text, "", skip=_CODED_ENTRY)))
        if paths:
            raise LeakDetected(paths)


def _check_removed(ds: Dataset, compiled: CompiledProfile, prefix: str) -> None:
    """Every public element whose action is REMOVE must be gone, at every depth."""
    for tag, elem in elements_of(ds).items():
        group = tag >> 16
        if group & 1 or tag in _ADDED_BY_US:
            continue
        if compiled.action_for(tag) is Action.REMOVE:
            raise VerificationFailed(f"element {prefix}{_tag(tag)} should have been removed")
        if isinstance(elem, DataElement) and elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                _check_removed(item, compiled, f"{prefix}{_tag(tag)}[{i}]/")
        elif _is_raw_sequence(elem):
            path = f"{prefix}{_tag(tag)}"
            for nested in _raw_elements(elem, path):
                if not nested.tag >> 16 & 1 and compiled.action_for(nested.tag) is Action.REMOVE:
                    where = raw_path(path, nested)
                    raise VerificationFailed(f"element {where} should have been removed")


def _is_raw_sequence(elem: DataElement | RawDataElement) -> TypeGuard[RawDataElement]:
    """A sequence the header stage rewrote from its raw bytes (see raw_sequence)."""
    return (
        isinstance(elem, RawDataElement)
        and isinstance(elem.value, bytes)
        and (elem.VR or dictionary_vr(elem.tag)) == "SQ"
    )


def _raw_elements(elem: RawDataElement, path: str) -> list[RawElement]:
    assert isinstance(elem.value, bytes)  # noqa: S101 - checked by _is_raw_sequence
    try:
        return iter_sequence(
            elem.value,
            implicit=elem.is_implicit_VR,
            little=elem.is_little_endian,
            vr_of=dictionary_vr,
        )
    except RawSequenceError:
        raise VerificationFailed(f"sequence {path} cannot be read back") from None


def _locate(
    ds: Dataset,
    needles: set[bytes],
    prefix: str,
    *,
    free_text_only: bool = False,
    skip: frozenset[int] = frozenset(),
) -> Iterator[str]:
    for tag, elem in elements_of(ds).items():
        if isinstance(elem, DataElement) and isinstance(elem.value, Sequence):
            path = f"{prefix}{_tag(tag)}"
            for i, item in enumerate(elem.value):
                yield from _locate(
                    item, needles, f"{path}[{i}]/", free_text_only=free_text_only, skip=skip
                )
            continue
        if tag in skip:
            continue
        if _is_raw_sequence(elem):
            assert isinstance(elem.value, bytes)  # noqa: S101 - checked by _is_raw_sequence
            if not find_needles(elem.value.lower(), needles):
                continue
            path = f"{prefix}{_tag(tag)}"
            for nested in _raw_elements(elem, path):
                if nested.tag in skip or free_text_only and nested.vr not in _FREE_TEXT_VRS:
                    continue
                if nested.value and find_needles(nested.value.lower(), needles):
                    yield raw_path(path, nested)
            continue
        if free_text_only and (elem.VR or dictionary_vr(tag)) not in _FREE_TEXT_VRS:
            continue
        data = _element_bytes(elem)
        if data and find_needles(data, needles):
            yield f"{prefix}{_tag(tag)}"


def _element_bytes(elem: DataElement | RawDataElement) -> bytes:
    value = elem.value
    if isinstance(value, bytes):
        return value.lower()
    if value is None:
        return b""
    text = str(list(value)) if isinstance(value, list | tuple) else str(value)
    return text.encode("utf-8", "replace").lower()


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"

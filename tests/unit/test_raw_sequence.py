"""Sequences rewritten from their raw bytes: the same output as the element-by-element walk.

``raw_sequence.ENABLED`` switches the raw path off (pydicom parses every sequence and the
header stage walks it element by element); every test here runs an input both
ways and compares the bytes written and the counts reported, on pydicom's real files
(enhanced multi-frame ones among them), on generated functional groups, and on random
nested sequences from hypothesis. Malformed or unusual sequences must fall back.
"""

from __future__ import annotations

import io
import struct
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pydicom
import pytest
from factories import (
    CT_STORAGE,
    UID_ROOT,
    anonymizer_for,
    enhanced_multiframe,
    leaked,
    leaked_uids,
    pydicom_file,
    real_files,
    write_profile,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from anonymizer import header, raw_sequence
from anonymizer.actions import Action
from anonymizer.encode import encode_file_meta
from anonymizer.errors import DeidError, VerificationFailed
from anonymizer.profiles.compile import dictionary_vr
from anonymizer.raw_sequence import Rules, iter_sequence, raw_path, rewrite_sequence
from anonymizer.verify import _check_removed, _locate

ENHANCED = ("eCT_Supplemental.dcm", "liver.dcm", "liver_expb.dcm")
LONG = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
UNDEFINED = 0xFFFFFFFF


def _run(data: bytes | Path | str, anonymizer: Any, *, raw: bool) -> tuple[bytes, dict[str, Any]]:
    """Output bytes and result fields (or the error) with the raw path on or off."""
    saved = raw_sequence.ENABLED
    raw_sequence.ENABLED = raw
    out = io.BytesIO()
    try:
        result = anonymizer.anonymize(data if isinstance(data, bytes) else str(data), out)
    except DeidError as exc:
        return b"", {"error": type(exc).__name__, "message": str(exc)}
    finally:
        raw_sequence.ENABLED = saved
    fields = asdict(result)
    fields.pop("seconds")
    return out.getvalue(), fields


@pytest.fixture
def rewrites(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many sequences the raw path rewrote (their value lengths), while the test runs."""
    done: list[int] = []

    def counting(value: bytes, **kwargs: Any) -> raw_sequence.Rewrite | None:
        result = rewrite_sequence(value, **kwargs)
        if result is not None:
            done.append(len(value))
        return result

    monkeypatch.setattr(header, "rewrite_sequence", counting)
    return done


# -- real files ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["basic", "research", "ai-upload"])
def test_real_files_same_bytes_both_ways(profile: str, rewrites: list[int]) -> None:
    anonymizer = anonymizer_for(profile)
    differ = []
    for path in real_files():
        fast = _run(path, anonymizer, raw=True)
        slow = _run(path, anonymizer, raw=False)
        if fast != slow:
            differ.append(path.name)
    assert differ == []
    assert len(rewrites) > 20  # the raw path did run, on real sequences


def _defined_lengths(name: str) -> bytes:
    """A real file with every sequence and item written with its length (pydicom reads
    undefined-length sequences whole, so only defined-length ones reach the raw path)."""
    ds = pydicom.dcmread(pydicom_file(name))
    for elem in ds.iterall():
        if elem.VR == "SQ":
            elem.is_undefined_length = False
            for item in elem.value:
                item.is_undefined_length_sequence_item = False
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("name", ENHANCED)
@pytest.mark.parametrize("profile", ["basic", "research"])
def test_enhanced_multiframe_functional_groups_take_the_raw_path(
    name: str, profile: str, rewrites: list[int]
) -> None:
    anonymizer = anonymizer_for(profile)
    original = pydicom_file(name)
    assert _run(original, anonymizer, raw=True) == _run(original, anonymizer, raw=False)
    rewrites.clear()
    data = _defined_lengths(name)
    fast = _run(data, anonymizer, raw=True)
    assert fast == _run(data, anonymizer, raw=False)
    source = pydicom.dcmread(io.BytesIO(data))
    # The per-frame functional groups were rewritten whole, all frames in one go.
    per_frame = source._dict[BaseTag(0x52009230)]
    assert isinstance(per_frame, RawDataElement)
    assert per_frame.length in rewrites
    ds = pydicom.dcmread(io.BytesIO(fast[0]))
    assert len(ds.PerFrameFunctionalGroupsSequence) == len(source.PerFrameFunctionalGroupsSequence)
    if profile == "basic":
        for item in ds.PerFrameFunctionalGroupsSequence:
            for content in item.get("FrameContentSequence", []):
                assert content.get("FrameAcquisitionDateTime") in (None, "19000101000000")


def test_safe_harbor_ages_inside_sequences_are_still_clamped(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "sh", "extends: research\nsafe_harbor: true\n")
    anonymizer = anonymizer_for(profile)
    data = _part10(
        _element(
            0x0040A730,
            "SQ",
            _item(_element(0x00101010, "AS", b"095Y", explicit=True)),
            explicit=True,
        ),
    )
    fast, slow = _run(data, anonymizer, raw=True), _run(data, anonymizer, raw=False)
    assert fast == slow
    assert b"095Y" not in fast[0] and b"090Y" in fast[0]


# -- generated functional groups ----------------------------------------------------------


def _element(tag: int, vr: str, value: bytes, *, explicit: bool, undefined: bool = False) -> bytes:
    """One little-endian element; an undefined-length sequence gets its delimiter."""
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    length = UNDEFINED if undefined else len(value)
    if undefined:
        value += _delimiter(0xE0DD)
    if not explicit:
        return head + struct.pack("<L", length) + value
    if vr in LONG:
        return head + vr.encode() + struct.pack("<HL", 0, length) + value
    return head + vr.encode() + struct.pack("<H", length) + value


def _delimiter(element: int) -> bytes:
    return struct.pack("<HHL", 0xFFFE, element, 0)


def _item(*elements: bytes, undefined: bool = False) -> bytes:
    content = b"".join(elements)
    if undefined:
        head = struct.pack("<HHL", 0xFFFE, 0xE000, UNDEFINED)
        return head + content + _delimiter(0xE00D)
    return struct.pack("<HHL", 0xFFFE, 0xE000, len(content)) + content


def _part10(*elements: bytes, syntax: str = "1.2.840.10008.1.2.1", explicit: bool = True) -> bytes:
    meta = encode_file_meta(sop_class=CT_STORAGE, sop_instance="1.2.3.4", transfer_syntax=syntax)
    head = (
        _element(0x00080016, "UI", CT_STORAGE.encode() + b"\0", explicit=explicit),
        _element(0x00080018, "UI", b"1.2.3.4\0", explicit=explicit),
        _element(0x00100010, "PN", b"FAKE^RAWSEQ", explicit=explicit),
        _element(0x00100020, "LO", b"FAKE-RAW-ID1", explicit=explicit),
    )
    return b"\0" * 128 + b"DICM" + meta + b"".join(head) + b"".join(elements)


@pytest.mark.parametrize("undefined", [False, True], ids=["lengths", "delimited"])
@pytest.mark.parametrize("explicit", [True, False], ids=["explicit", "implicit"])
@pytest.mark.parametrize("profile", ["basic", "research"])
def test_generated_functional_groups(
    explicit: bool, profile: str, undefined: bool, rewrites: list[int]
) -> None:
    data = enhanced_multiframe(40, implicit=not explicit, undefined=undefined)
    anonymizer = anonymizer_for(profile)
    fast, slow = _run(data, anonymizer, raw=True), _run(data, anonymizer, raw=False)
    assert fast == slow
    assert "error" not in fast[1]
    planted = ["20030417101500", "20030417101501", "FAKE^HOSTILE", "FAKE COMMENT AFTER"]
    assert leaked(fast[0], planted) == []
    assert leaked_uids(fast[0], [f"{UID_ROOT}.5.{frame}" for frame in range(40)]) == []
    assert fast[1]["uids_mapped"] >= 40
    assert max(rewrites) > 40 * 100  # the whole per-frame sequence, in one piece
    # Two date-times per frame: dummied by basic, shifted by research.
    assert fast[1]["replaced" if profile == "basic" else "dates_shifted"] >= 80


# -- random nested sequences --------------------------------------------------------------

# (tag, VR, value): kept, removed, dummied, emptied, or falling back (UID, name, private).
POOL = (
    (0x00200032, "DS", b"1.5\\-2\\3 "),
    (0x00209057, "UL", struct.pack("<L", 7)),
    (0x00209056, "SH", b"FAKESTACK1"),
    (0x00189074, "DT", b"20030417101500"),
    (0x00080022, "DA", b"19990808"),
    (0x00080022, "DA", b"19990808\\20010101"),
    (0x00080022, "DA", b"1999XX08"),
    (0x00080022, "DA", b""),
    (0x00080023, "DA", b"20010101"),
    (0x00080081, "ST", b"FAKE ADDRESS 1 LONG STREET"),
    (0x00080081, "ST", b"FAKE ST "),
    (0x00181030, "LO", b"FAKE PROTOCOL"),
    (0x00101010, "AS", b"095Y"),
    (0x00081155, "UI", b"1.2.826.0.1.3680043.8.498.990.77\0"),
    (0x00100010, "PN", b"FAKE^NESTED"),
    (0x00090010, "LO", b"FAKE CREATOR"),
    (0x00091001, "LO", b"FAKE PRIVATE"),
    (0x00080100, "SH", b"T-D1100 "),
    (0x00181063, "DS", b"33.3"),
)
SEQUENCES = (0x00081140, 0x00209111, 0x00209113, 0x0040A730, 0x00400254)


# A drawn item: its elements, each (tag, VR, value) or (tag, undefined, items); an item
# is (undefined, elements).
Item = tuple[bool, list[tuple[Any, ...]]]


@st.composite
def items(draw: st.DrawFn, depth: int = 0) -> Item:
    """One item: a duplicate-free draw from POOL and SEQUENCES, nested up to 3 deep."""
    chosen: dict[int, tuple[Any, ...]] = {}
    for _ in range(draw(st.integers(0, 5))):
        if depth < 3 and draw(st.integers(0, 3)) == 0:
            tag = draw(st.sampled_from(SEQUENCES))
            nested = draw(st.lists(items(depth + 1), max_size=3))
            chosen[tag] = (tag, draw(st.booleans()), nested)
        else:
            tag, vr, value = draw(st.sampled_from(POOL))
            chosen[tag] = (tag, vr, value)
    return draw(st.booleans()), [chosen[t] for t in sorted(chosen)]


def _encode_item(item: Item, *, explicit: bool) -> bytes:
    undefined, elements = item
    encoded = []
    for element in elements:
        if isinstance(element[2], list):
            tag, seq_undefined, nested = element
            body = b"".join(_encode_item(i, explicit=explicit) for i in nested)
            encoded.append(_element(tag, "SQ", body, explicit=explicit, undefined=seq_undefined))
        else:
            tag, vr, value = element
            encoded.append(_element(tag, vr, value, explicit=explicit))
    return _item(*encoded, undefined=undefined)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=st.lists(items(), min_size=1, max_size=4),
    explicit=st.booleans(),
    delimited=st.booleans(),
    profile=st.sampled_from(["basic", "research"]),
)
def test_random_nested_sequences_same_bytes_both_ways(
    drawn: list[Item], explicit: bool, delimited: bool, profile: str
) -> None:
    body = b"".join(_encode_item(i, explicit=explicit) for i in drawn)
    syntax = "1.2.840.10008.1.2.1" if explicit else "1.2.840.10008.1.2"
    data = _part10(
        _element(0x00081140, "SQ", body, explicit=explicit, undefined=delimited),
        syntax=syntax,
        explicit=explicit,
    )
    anonymizer = anonymizer_for(profile)
    fast, slow = _run(data, anonymizer, raw=True), _run(data, anonymizer, raw=False)
    assert fast == slow
    if "error" not in fast[1]:
        assert leaked(fast[0], ["FAKE^NESTED", "FAKE ADDRESS 1 LONG STREET", "FAKE^RAWSEQ"]) == []


# -- fall back on anything unusual ----------------------------------------------------------


def _rewrite(value: bytes, *, max_depth: int = 16) -> object:
    rules = Rules(
        vr_of=dictionary_vr,
        action_of=lambda tag: Action.KEEP if tag != 0x00080081 else Action.REMOVE,
        keep_as_read=lambda tag: True,
        replacement=lambda tag, action, vr, old: None,
        max_depth=max_depth,
    )
    return rewrite_sequence(value, implicit=False, little=True, rules=rules, depth=1)


GOOD = _item(_element(0x00200032, "DS", b"1\\2\\3 ", explicit=True))


@pytest.mark.parametrize(
    "value",
    [
        GOOD[:-1],  # truncated
        GOOD + b"\0\0",  # trailing bytes
        struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + GOOD[8:],  # not an item tag
        _item(
            _element(0x00200037, "DS", b"1 ", explicit=True),
            _element(0x00200032, "DS", b"1 ", explicit=True),
        ),  # out of order
        _item(
            _element(0x00200032, "DS", b"1 ", explicit=True),
            _element(0x00200032, "DS", b"1 ", explicit=True),
        ),  # twice
        _item(_element(0x00291010, "OB", b"xx", explicit=True)),  # private
        _item(_element(0x00200032, "UN", b"1 ", explicit=True)),  # UN
        _item(_element(0x00200032, "Q!", b"1 ", explicit=True)),  # no such VR
        _item(_element(0x00200000, "UL", b"\0\0\0\0", explicit=True)),  # group length
        _item(b"\x08\x00\x00\x14OB\x01\x00\x02\x00\x00\x00xx"),  # reserved bytes set
        _item(
            _element(0x00080081, "ST", b"FAKE ADDRESS 1 LONG STREET", explicit=True)
        ),  # removed text
        _item(
            _element(
                0x00081140,
                "SQ",
                _item(_element(0x00081140, "SQ", b"", explicit=True)),
                explicit=True,
            )
        ),
    ],
    ids=[
        "truncated",
        "trailing",
        "not-item",
        "out-of-order",
        "twice",
        "private",
        "UN",
        "bad-VR",
        "group-length",
        "reserved",
        "remembered-text",
        "too-deep",
    ],
)
def test_unusual_sequences_fall_back(value: bytes) -> None:
    assert _rewrite(value, max_depth=2) is None


def test_well_formed_sequence_is_rewritten() -> None:
    value = GOOD + _item(
        _element(0x00080081, "ST", b"FAKE ST ", explicit=True),
        _element(0x00200032, "DS", b"4\\5\\6 ", explicit=True),
    )
    done = _rewrite(value)
    assert isinstance(done, raw_sequence.Rewrite)
    assert done.value == GOOD + _item(_element(0x00200032, "DS", b"4\\5\\6 ", explicit=True))
    assert done.counts == {"removed": 1}


# -- the leak check reads rewritten sequences ---------------------------------------------


def _raw_sequence_dataset(item: bytes) -> Dataset:
    ds = Dataset()
    ds._dict[BaseTag(0x00081140)] = RawDataElement(
        BaseTag(0x00081140), "SQ", len(item), item, 0, False, True
    )
    return ds


def test_check_removed_looks_inside_raw_sequences() -> None:
    item = _item(_element(0x00080081, "ST", b"FAKE ST ", explicit=True))
    ds = _raw_sequence_dataset(item)
    with pytest.raises(VerificationFailed, match=r"\(0008,1140\)\[0\]/\(0008,0081\)"):
        _check_removed(ds, anonymizer_for("basic").compiled, "")


def test_check_removed_rejects_an_unreadable_raw_sequence() -> None:
    ds = _raw_sequence_dataset(GOOD[:-2])
    with pytest.raises(VerificationFailed, match="cannot be read back"):
        _check_removed(ds, anonymizer_for("basic").compiled, "")


def test_locate_names_the_nested_element() -> None:
    item = _item(
        _element(0x00200032, "DS", b"1\\2\\3 ", explicit=True),
        _element(0x00209056, "SH", b"FAKESTACK1", explicit=True),
    )
    ds = _raw_sequence_dataset(item + item)
    paths = sorted(_locate(ds, {b"fakestack1"}, ""))
    assert paths == ["(0008,1140)[0]/(0020,9056)", "(0008,1140)[1]/(0020,9056)"]


def test_iter_sequence_paths_and_values() -> None:
    inner = _item(_element(0x00209057, "UL", struct.pack("<L", 9), explicit=True))
    value = _item(_element(0x00209111, "SQ", inner, explicit=True), undefined=True)
    found = iter_sequence(value, implicit=False, little=True, vr_of=dictionary_vr)
    assert [raw_path("(5200,9230)", e) for e in found] == [
        "(5200,9230)[0]/(0020,9111)",
        "(5200,9230)[0]/(0020,9111)[0]/(0020,9057)",
    ]
    assert found[1].value == struct.pack("<L", 9)


@pytest.mark.parametrize("profile", ["basic", "research"])
def test_a_changed_date_copied_into_kept_text_is_caught_both_ways(profile: str) -> None:
    """The date the raw path dummies or shifts is remembered: the leak check finds it
    where a kept element repeats it."""
    content = _item(
        _element(0x00189074, "DT", b"20030417101500", explicit=True),
        _element(0x00209056, "SH", b"20030417101500", explicit=True),  # Stack ID, kept
    )
    data = _part10(_element(0x00209111, "SQ", content, explicit=True))
    anonymizer = anonymizer_for(profile)
    fast, slow = _run(data, anonymizer, raw=True), _run(data, anonymizer, raw=False)
    assert fast == slow
    assert fast[1]["error"] == "LeakDetected"
    assert "(0020,9111)[0]/(0020,9056)" in fast[1]["message"]

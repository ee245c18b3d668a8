"""Sequences de-identified from their raw bytes, without building pydicom data sets.

An enhanced multi-frame object carries one functional-group item per frame: hundreds to
thousands of small nested data sets, whose parsing, walking and encoding cost more than
the rest of the header. Most of their elements are kept as read (positions, spacings,
indices), removed whole, or given a value that needs no decoding beyond ASCII (a fixed
dummy, an empty value, a shifted date, a mapped UID). When every element inside a
sequence is of those kinds, :func:`rewrite_sequence` writes the result straight from the
raw value, recomputing item and sequence lengths; the header stage supplies the values.

It takes only well-formed input: any private, UN, unknown, group length or delimiter
element, any value the header stage must decode or remember (names, long text), elements
out of tag order, a length that does not add up or nesting past the limit makes it return
None, and the caller parses the sequence with pydicom and walks it element by element as
before. On what it does take, its output is byte for byte what that path writes (tests
compare both on real files and random nesting). :func:`iter_sequence` reads such a value
back, for the leak check.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from pydicom.valuerep import EXPLICIT_VR_LENGTH_32 as _LONG
from pydicom.valuerep import STANDARD_VR as _VRS

from anonymizer.actions import Action

_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
# Deeper than this, a scan gives up (the leak check then fails closed, and reading falls
# back to pydicom, whose own recursion limit the nesting cap reports).
_MAX_SCAN_DEPTH = 32
# Whether sequences are read and rewritten raw at all; tests turn it off to compare with
# pydicom's parsing and the element-by-element walk.
ENABLED = True
# Removed text shorter than this (in bytes, padding stripped) is not remembered by the
# header stage either: the two thresholds are the same constant.
MIN_REMEMBERED_TEXT = 12
_REMEMBERED_TEXT = frozenset({"LO", "LT", "ST", "UT", "UC", "SH"})


class RawSequenceError(ValueError):
    """A raw value that is not a well-formed sequence (or one this module does not take)."""


@dataclass
class Rewrite:
    """A rewritten sequence value; what was done in it, as counts named like the header
    stage's statistics; the dates it no longer holds; the original UIDs it replaced."""

    value: bytes
    counts: Counter[str] = field(default_factory=Counter)
    removed_dates: list[bytes] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)
    weak_texts: list[str] = field(default_factory=list)


class Replaced(NamedTuple):
    """What an action other than keep or remove writes in place of one element."""

    value: bytes | None  # None: the element stays as it was read
    vr: str
    counts: dict[str, int]
    forgets_old: bool = False  # the old value leaves the output (dates are remembered)
    uids: tuple[str, ...] = ()  # original UIDs it replaces, for the leak check
    weak_texts: tuple[str, ...] = ()  # old values the leak check looks for (shifted dates)


# replacement(tag, action, VR, old value): what to write, or None for "not here".
Replacement = Callable[[int, Action, str, bytes], Replaced | None]


class Rules(NamedTuple):
    """What the header stage does, as :func:`rewrite_sequence` needs to know it.

    ``keep_as_read(tag)`` says whether a kept element is written back unchanged;
    ``replacement`` gives what an action other than keep or remove writes, or None where
    this module cannot do it. None of them may change anything: when the rewrite gives
    up, the header stage does it all again.
    """

    vr_of: Callable[[int], str | None]
    action_of: Callable[[int], Action]
    keep_as_read: Callable[[int], bool]
    replacement: Replacement
    max_depth: int


class RawElement(NamedTuple):
    """One element met inside a raw sequence: where (item indices and tags, alternating,
    down to its own tag), its tag, its VR and its raw value."""

    trail: tuple[int, ...]
    tag: int
    vr: str
    value: bytes


class _Reader:
    """Element headers of one encoding, read from one buffer."""

    def __init__(
        self,
        data: bytes | mmap.mmap,
        *,
        implicit: bool,
        little: bool,
        vr_of: Callable[[int], str | None],
    ) -> None:
        order = "<" if little else ">"
        self.data = data
        self.implicit = implicit
        self.vr_of = vr_of
        self.tag_length = struct.Struct(order + "HHL")
        self.short = struct.Struct(order + "HH2sH")
        self.long = struct.Struct(order + "HH2sHL")

    def header(self, pos: int, end: int) -> tuple[int, str, int, int]:
        """(tag, VR, value length, value start) of the element at ``pos``."""
        if pos + 8 > end:
            raise RawSequenceError("element header past the end")
        group, element, length = self.tag_length.unpack_from(self.data, pos)
        tag = group << 16 | element
        if group == 0xFFFE:
            return tag, "", length, pos + 8
        if self.implicit:
            vr = self.vr_of(tag)
            if vr is None:
                raise RawSequenceError("element of unknown VR")
            return tag, vr, length, pos + 8
        _, _, code, short = self.short.unpack_from(self.data, pos)
        try:
            vr = code.decode("ascii")
        except UnicodeDecodeError:
            raise RawSequenceError("invalid VR") from None
        if vr not in _VRS or vr == "UN":
            raise RawSequenceError("invalid or UN VR")
        if vr not in _LONG:
            return tag, vr, short, pos + 8
        if pos + 12 > end:
            raise RawSequenceError("element header past the end")
        _, _, _, reserved, length = self.long.unpack_from(self.data, pos)
        if reserved:
            raise RawSequenceError("reserved bytes set")
        return tag, vr, length, pos + 12

    @staticmethod
    def value_end(start: int, length: int, end: int) -> int:
        """Where a value starting at ``start`` ends (``end`` if its length is undefined)."""
        if length == _UNDEFINED:
            return end
        if start + length > end:
            raise RawSequenceError("value past the end")
        return start + length


class _Rewriter(_Reader):
    def __init__(self, data: bytes, *, implicit: bool, little: bool, rules: Rules) -> None:
        super().__init__(data, implicit=implicit, little=little, vr_of=rules.vr_of)
        self.action_of = rules.action_of
        self.keep_as_read = rules.keep_as_read
        self.replacement = rules.replacement
        # Never deeper than a scan reads back (the leak check reads what this writes).
        self.max_depth = min(rules.max_depth, _MAX_SCAN_DEPTH)
        self.result = Rewrite(b"")

    def sequence(self, pos: int, end: int, *, undefined: bool, depth: int) -> tuple[bytes, int]:
        """The rewritten items from ``pos``, and where the sequence's value ends."""
        if depth > self.max_depth:
            raise RawSequenceError("nested too deep")
        pack = self.tag_length.pack
        out: list[bytes] = []
        while undefined or pos < end:
            tag, _, length, start = self.header(pos, end)
            if tag == _SEQUENCE_END and undefined:
                if length:
                    raise RawSequenceError("sequence delimiter with a length")
                return b"".join(out), start
            if tag != _ITEM:
                raise RawSequenceError("not an item")
            if length == _UNDEFINED:
                content, pos = self.item(start, end, undefined=True, depth=depth)
                out += (pack(0xFFFE, 0xE000, _UNDEFINED), content, pack(0xFFFE, 0xE00D, 0))
            else:
                if start + length > end:
                    raise RawSequenceError("item past the end")
                content, pos = self.item(start, start + length, undefined=False, depth=depth)
                out += (pack(0xFFFE, 0xE000, len(content)), content)
        if pos != end:
            raise RawSequenceError("sequence length does not add up")
        return b"".join(out), pos

    def item(self, pos: int, end: int, *, undefined: bool, depth: int) -> tuple[bytes, int]:
        """The rewritten content of one item, and where the item ends."""
        out: list[bytes] = []
        previous = -1
        while undefined or pos < end:
            tag, vr, length, start = self.header(pos, end)
            if tag == _ITEM_END and undefined:
                if length:
                    raise RawSequenceError("item delimiter with a length")
                return b"".join(out), start
            group = tag >> 16
            if tag <= previous or group & 1 or group in (0x0000, 0x0002, 0xFFFE):
                raise RawSequenceError("element out of order, private or structural")
            if not tag & 0xFFFF:
                raise RawSequenceError("group length")
            previous = tag
            if length == _UNDEFINED:
                if vr != "SQ":
                    raise RawSequenceError("undefined length outside a sequence")
            elif start + length > end:
                raise RawSequenceError("value past the end")
            pos = self.element((tag, vr, length, start), pos, end, out, depth=depth)
        if pos != end:
            raise RawSequenceError("item length does not add up")
        return b"".join(out), pos

    def element(
        self, head: tuple[int, str, int, int], pos: int, end: int, out: list[bytes], *, depth: int
    ) -> int:
        """Keep, rewrite or drop the element whose header is at ``pos``; return its end."""
        tag, vr, length, start = head
        undefined = length == _UNDEFINED
        stop = end if undefined else start + length
        action = self.action_of(tag)
        if action is Action.KEEP:
            if vr == "SQ":
                items, stop = self.sequence(start, stop, undefined=undefined, depth=depth + 1)
                out.append(self._sequence_element(tag, items, undefined=undefined))
            elif self.keep_as_read(tag):
                out.append(self.data[pos:stop])
            else:
                raise RawSequenceError("kept element the header stage changes")
        elif undefined or vr == "SQ":
            raise RawSequenceError("a sequence under an action other than keep")
        elif action is Action.REMOVE:
            self._forget(vr, self.data[start:stop])
            self.result.counts["removed"] += 1
        else:
            self._replace(tag, action, vr, (pos, start, stop), out)
        return stop

    def _replace(
        self, tag: int, action: Action, vr: str, span: tuple[int, int, int], out: list[bytes]
    ) -> None:
        pos, start, stop = span
        old = self.data[start:stop]
        new = self.replacement(tag, action, vr, old)
        if new is None:
            raise RawSequenceError("an action this module does not take")
        if new.forgets_old:
            self._forget(vr, old)
        if new.value is None:
            out.append(self.data[pos:stop])
        else:
            out += (self._element_head(tag, new.vr, len(new.value)), new.value)
        self.result.counts.update(new.counts)
        self.result.uids += new.uids
        self.result.weak_texts += new.weak_texts

    def _forget(self, vr: str, value: bytes) -> None:
        """Note a value that leaves the output: dates are remembered for the leak check."""
        if vr in ("DA", "DT"):
            self.result.removed_dates.append(value)
            self.result.counts["dates_removed"] += 1
        elif vr == "PN" or (
            vr in _REMEMBERED_TEXT and len(value.strip(b" \0")) >= MIN_REMEMBERED_TEXT
        ):
            raise RawSequenceError("removed text the leak check must remember")

    def _element_head(self, tag: int, vr: str, length: int) -> bytes:
        group, element = tag >> 16, tag & 0xFFFF
        if self.implicit:
            return self.tag_length.pack(group, element, length)
        if vr in _LONG:
            return self.long.pack(group, element, vr.encode("ascii"), 0, length)
        if length > 0xFFFF:
            raise RawSequenceError("value too long for its VR")
        return self.short.pack(group, element, vr.encode("ascii"), length)

    def _sequence_element(self, tag: int, items: bytes, *, undefined: bool) -> bytes:
        head = self._element_head(tag, "SQ", _UNDEFINED if undefined else len(items))
        if undefined:
            return head + items + self.tag_length.pack(0xFFFE, 0xE0DD, 0)
        return head + items


def rewrite_sequence(
    value: bytes, *, implicit: bool, little: bool, rules: Rules, depth: int
) -> Rewrite | None:
    """The de-identified value of a defined-length sequence read raw, or None to say: do
    it the long way. ``depth`` is the depth of the sequence's items."""
    rewriter = _Rewriter(value, implicit=implicit, little=little, rules=rules)
    try:
        items, _ = rewriter.sequence(0, len(value), undefined=False, depth=depth)
    except (RawSequenceError, struct.error):
        return None
    rewriter.result.value = items
    return rewriter.result


def iter_sequence(
    value: bytes, *, implicit: bool, little: bool, vr_of: Callable[[int], str | None]
) -> list[RawElement]:
    """Every element inside a defined-length sequence value, at any depth.

    A nested sequence comes (with an empty value) before its elements. Raises
    :class:`RawSequenceError` if the value is not a well-formed sequence.
    """
    scanner = _Scanner(value, implicit=implicit, little=little, vr_of=vr_of)
    try:
        scanner.items(0, len(value), undefined=False, trail=(), depth=1)
    except struct.error:
        raise RawSequenceError("truncated element header") from None
    return scanner.found


def raw_path(prefix: str, element: RawElement) -> str:
    """The tag path of an element :func:`iter_sequence` found, below the sequence ``prefix``."""
    trail = element.trail
    return prefix + "".join(
        f"[{trail[i]}]/({trail[i + 1] >> 16:04X},{trail[i + 1] & 0xFFFF:04X})"
        for i in range(0, len(trail), 2)
    )


def sequence_end(
    data: bytes | mmap.mmap,
    start: int,
    *,
    implicit: bool,
    little: bool,
    vr_of: Callable[[int], str | None],
) -> int | None:
    """Where the undefined-length sequence whose items begin at ``start`` ends (after its
    delimiter); None if it is not a well-formed sequence this module takes."""
    scanner = _Scanner(data, implicit=implicit, little=little, vr_of=vr_of, collect=False)
    try:
        return scanner.items(start, len(data), undefined=True, trail=(), depth=1)
    except (RawSequenceError, struct.error):
        return None


class _Scanner(_Reader):
    def __init__(
        self,
        data: bytes | mmap.mmap,
        *,
        implicit: bool,
        little: bool,
        vr_of: Callable[[int], str | None],
        collect: bool = True,
    ) -> None:
        super().__init__(data, implicit=implicit, little=little, vr_of=vr_of)
        self.collect = collect
        self.found: list[RawElement] = []

    def items(
        self, pos: int, end: int, *, undefined: bool, trail: tuple[int, ...], depth: int
    ) -> int:
        """Collect the elements of a sequence's items; return where the sequence ends."""
        if depth > _MAX_SCAN_DEPTH:
            raise RawSequenceError("nested too deep")
        index = 0
        while undefined or pos < end:
            tag, _, length, start = self.header(pos, end)
            if tag == _SEQUENCE_END and undefined:
                return start
            if tag != _ITEM:
                raise RawSequenceError("not an item")
            stop = self.value_end(start, length, end)
            undefined_item = length == _UNDEFINED
            pos = self.item(
                start, stop, undefined=undefined_item, trail=(*trail, index), depth=depth
            )
            index += 1
        if pos != end:
            raise RawSequenceError("sequence length does not add up")
        return pos

    def item(
        self, pos: int, end: int, *, undefined: bool, trail: tuple[int, ...], depth: int
    ) -> int:
        """Collect the elements of one item; return where the item ends."""
        while undefined or pos < end:
            tag, vr, length, start = self.header(pos, end)
            if tag == _ITEM_END and undefined:
                return start
            if tag >> 16 == 0xFFFE:
                # pydicom would take an item or delimiter tag here as an element, and
                # one that starts an item makes it guess implicit VR for the item.
                raise RawSequenceError("item or delimiter tag inside an item")
            stop = self.value_end(start, length, end)
            if vr == "SQ":
                if self.collect:
                    self.found.append(RawElement((*trail, tag), tag, vr, b""))
                pos = self.items(
                    start,
                    stop,
                    undefined=length == _UNDEFINED,
                    trail=(*trail, tag),
                    depth=depth + 1,
                )
                continue
            if length == _UNDEFINED:
                raise RawSequenceError("undefined length outside a sequence")
            if self.collect:
                self.found.append(RawElement((*trail, tag), tag, vr, bytes(self.data[start:stop])))
            pos = stop
        if pos != end:
            raise RawSequenceError("item length does not add up")
        return pos

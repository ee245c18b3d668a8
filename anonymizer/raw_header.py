"""Read a top-level data set with pydicom, keeping undefined-length sequences raw.

pydicom leaves a defined-length sequence as raw bytes until someone reads it, but parses an
undefined-length one on the spot, item by item, into data sets. Scanners write many of
their functional groups that way. Here pydicom reads the data set up to each such
sequence; the sequence's extent is found by the strict reader of ``raw_sequence``, and the
sequence goes in as a raw element (value: its items, without the delimiter; length:
undefined), which pydicom converts exactly as it would have parsed it if anyone reads it,
and which the header stage can rewrite from its bytes. Reading then resumes after it.

Anything unusual (a sequence the strict reader does not take, a segment whose first
element would make pydicom guess another VR mode, a segment that ends inside an element)
returns None: the caller reads the whole data set with pydicom in one go, as before.
"""

from __future__ import annotations

import io
import mmap
import struct
from collections.abc import Callable

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.tag import BaseTag

from anonymizer.profiles.compile import dictionary_vr
from anonymizer.raw_sequence import sequence_end

_UNDEFINED = 0xFFFFFFFF
# At most this many undefined-length sequences are read apart (each costs a pydicom call).
_MAX_SEGMENTS = 256


def read_keeping_sequences_raw(
    buffer: mmap.mmap | bytes,
    start: int,
    *,
    implicit: bool,
    little: bool,
    stop_at: Callable[[int], bool],
) -> tuple[Dataset, int] | None:
    """The data set from ``start`` until ``stop_at(tag)`` (or the end), and where reading
    stopped; undefined-length public sequences kept raw. None: read it the usual way."""
    stream: io.BufferedIOBase | mmap.mmap = (
        buffer if isinstance(buffer, mmap.mmap) else io.BytesIO(buffer)
    )
    found: list[int] = []

    def stop_when(tag: int, vr: str | None, length: int) -> bool:
        if stop_at(tag):
            return True
        if length != _UNDEFINED or tag >> 16 & 1:
            return False
        if vr == "SQ" or vr is None and dictionary_vr(tag) == "SQ":
            found.append(stream.tell() - (8 if implicit else 12))
            return True
        return False

    elements: dict[BaseTag, object] = {}
    position = start
    for _ in range(_MAX_SEGMENTS):
        if position > start and not _starts_plainly(buffer, position, implicit=implicit):
            return None
        stream.seek(position)
        found.clear()
        part = read_dataset(
            stream,  # type: ignore[arg-type]
            is_implicit_VR=implicit,
            is_little_endian=little,
            stop_when=stop_when,
        )
        if not part._dict and stream.tell() != position:
            # The file ended inside an element: pydicom warns and drops everything it had
            # read of the segment. What it does on the whole data set is what happens to it.
            return None
        elements.update(part._dict)
        position = stream.tell()
        if not found:
            return Dataset(elements), position  # type: ignore[arg-type]
        sequence = _raw_sequence(buffer, found[0], implicit=implicit, little=little)
        if sequence is None:
            return None
        raw, position = sequence
        elements[raw.tag] = raw
    return None


def _raw_sequence(
    buffer: mmap.mmap | bytes, at: int, *, implicit: bool, little: bool
) -> tuple[RawDataElement, int] | None:
    """The undefined-length sequence whose header is at ``at``, as a raw element, and
    where it ends (after its delimiter)."""
    group, element = struct.unpack_from("<HH" if little else ">HH", buffer, at)
    value_start = at + (8 if implicit else 12)
    end = sequence_end(buffer, value_start, implicit=implicit, little=little, vr_of=dictionary_vr)
    if end is None:
        return None
    value = bytes(buffer[value_start : end - 8])
    tag = BaseTag(group << 16 | element)
    vr = None if implicit else "SQ"
    return RawDataElement(tag, vr, _UNDEFINED, value, value_start, implicit, little), end


def _starts_plainly(buffer: mmap.mmap | bytes, at: int, *, implicit: bool) -> bool:
    """Whether pydicom, starting a data set at ``at``, keeps the VR mode it was given
    (it guesses from the first element: two capital letters mean explicit VR)."""
    if at + 6 > len(buffer):
        return True
    vr = buffer[at + 4 : at + 6]
    looks_explicit = 0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B
    return looks_explicit != implicit

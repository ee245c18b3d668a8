"""Read untrusted DICOM safely, header only, and write the de-identified result.

The header is parsed from a memory map (a bogus element length can read no further than
the file's end) and stops before the pixel data, whose bytes are copied from the input to
the output in chunks, so a 2 GB multi-frame file costs the memory of its header.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import _read_file_meta_info, read_dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from anonymizer import raw_sequence
from anonymizer.encode import encode_dataset, encode_file_meta
from anonymizer.errors import (
    ElementTooLong,
    InflatedTooLarge,
    MalformedDicom,
    NestingTooDeep,
    NotDicom,
    TooLarge,
    UnsupportedTransferSyntax,
)
from anonymizer.raw_header import read_keeping_sequences_raw

_PREAMBLE = 128
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})
_ITEM = 0xFFFEE000
_SEQUENCE_END = 0xFFFEE0DD
_COPY_CHUNK = 1 << 20
_HASH_CHUNK = 4 << 20
# Below this, a thread and a system call cost more than copying through Python.
_KERNEL_COPY_FROM = 8 << 20
_UNDEFINED = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010


@dataclass(frozen=True)
class Limits:
    """Caps that keep hostile input from costing memory or time."""

    max_file_bytes: int = 8 << 30
    max_inflated_bytes: int = 256 << 20
    max_depth: int = 16


@dataclass
class PixelSpan:
    """Where the pixel data element (tag to end of value) lies in the parsed buffer."""

    start: int
    end: int


@dataclass
class DicomInput:
    """A parsed input: the header data set and where its pixel data lies."""

    dataset: Dataset
    transfer_syntax: UID
    size: int
    pixels: PixelSpan | None
    warnings: list[str] = field(default_factory=list)
    _buffer: mmap.mmap | bytes | None = field(default=None, repr=False)
    _path: Path | None = field(default=None, repr=False)

    def copy_pixels(self, out: BinaryIO, digest: object | None = None) -> int:
        """Copy the pixel data element, unchanged, to ``out``; return the bytes written."""
        if self.pixels is None:
            return 0
        start, end = self.pixels.start, self.pixels.end
        written = 0
        update = getattr(digest, "update", None)
        if self._path is not None and end - start >= _KERNEL_COPY_FROM:
            copied = _copy_and_hash(self._path, out, start=start, count=end - start, update=update)
            if copied is not None:
                return copied
        if self._path is not None and (self._buffer is None or end - start >= _KERNEL_COPY_FROM):
            # Read through a plain file handle: mapped pages would count against our memory
            # (small pixel data is copied from the mapping: no second open of the file).
            with self._path.open("rb") as handle:
                handle.seek(start)
                while written < end - start:
                    chunk = handle.read(min(_COPY_CHUNK, end - start - written))
                    if not chunk:
                        raise MalformedDicom("the file changed while it was being read")
                    out.write(chunk)
                    if update:
                        update(chunk)
                    written += len(chunk)
            return written
        assert self._buffer is not None  # noqa: S101 - set whenever _path is not
        view = memoryview(self._buffer)[start:end]
        for offset in range(0, len(view), _COPY_CHUNK):
            part = view[offset : offset + _COPY_CHUNK]
            out.write(part)
            if update:
                update(part)
        return len(view)

    def pixel_element(self) -> Dataset:
        """The pixel data element read whole, as a one-element data set (pixel cleaning)."""
        if self.pixels is None:
            return Dataset()
        start, end = self.pixels.start, self.pixels.end
        if self._path is not None:
            with self._path.open("rb") as handle:
                handle.seek(start)
                data = handle.read(end - start)
        else:
            assert self._buffer is not None  # noqa: S101 - set whenever _path is not
            data = bytes(self._buffer[start:end])
        implicit, little = _encoding(self.transfer_syntax)
        try:
            return read_dataset(io.BytesIO(data), is_implicit_VR=implicit, is_little_endian=little)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad input
            raise MalformedDicom(f"unreadable pixel data ({type(exc).__name__})") from None

    def close(self) -> None:
        if isinstance(self._buffer, mmap.mmap):
            self._buffer.close()
        self._buffer = None

    def __enter__(self) -> DicomInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_and_hash(
    source: Path,
    out: BinaryIO,
    *,
    start: int,
    count: int,
    update: Callable[[bytes], object] | None,
) -> int | None:
    """Kernel copy, with the checksum computed by a second thread reading the same pages.

    hashlib releases the GIL on large buffers, so on two cores the hash costs about no
    extra time. None when the output is not a file (the caller copies through Python).
    """
    if update is None:
        return _kernel_copy(source, out, start=start, count=count)
    errors: list[BaseException] = []

    def hash_range() -> None:
        try:
            with source.open("rb") as handle:
                handle.seek(start)
                left = count
                while left:
                    chunk = handle.read(min(_HASH_CHUNK, left))
                    if not chunk:
                        raise MalformedDicom("the file changed while it was being read")
                    update(chunk)
                    left -= len(chunk)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=hash_range, name="pixel-hash")
    worker.start()
    try:
        copied = _kernel_copy(source, out, start=start, count=count)
    finally:
        worker.join()
    if errors:
        raise errors[0]
    return copied


def _kernel_copy(source: Path, out: BinaryIO, *, start: int, count: int) -> int | None:
    """Copy file to file inside the kernel (no bytes through Python); None if unsupported."""
    try:
        out_fd = out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    out.flush()
    with source.open("rb") as handle:
        in_fd = handle.fileno()
        offset = start
        remaining = count
        try:
            while remaining:
                sent = os.sendfile(out_fd, in_fd, offset, min(remaining, 1 << 30))
                if sent == 0:
                    raise MalformedDicom("the file changed while it was being read")
                offset += sent
                remaining -= sent
        except OSError:
            if remaining == count:
                return None  # nothing sent: the caller copies through Python instead
            raise
    return count


def read_dicom(source: str | os.PathLike[str] | bytes, limits: Limits = Limits()) -> DicomInput:
    """Parse the header of a DICOM Part 10 file or bare data set, stopping at pixel data.

    Raises a specific :class:`~anonymizer.errors.InputError` for anything it cannot read safely.
    """
    path: Path | None = None
    if isinstance(source, bytes):
        buffer: mmap.mmap | bytes = source
        size = len(source)
    else:
        path = Path(source)
        size = path.stat().st_size
        if size == 0:
            raise NotDicom("the file is empty")
        if size > limits.max_file_bytes:
            raise TooLarge(f"file larger than {limits.max_file_bytes} bytes")
        with path.open("rb") as handle:
            buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if size > limits.max_file_bytes:
        raise TooLarge(f"object larger than {limits.max_file_bytes} bytes")
    try:
        return _parse(buffer, size, path, limits)
    except BaseException:
        if isinstance(buffer, mmap.mmap):
            buffer.close()
        raise


def _parse(buffer: mmap.mmap | bytes, size: int, path: Path | None, limits: Limits) -> DicomInput:
    if size >= _PREAMBLE + 4 and buffer[_PREAMBLE : _PREAMBLE + 4] == b"DICM":
        stream: io.BufferedIOBase | mmap.mmap = (
            buffer if isinstance(buffer, mmap.mmap) else io.BytesIO(buffer)
        )
        stream.seek(_PREAMBLE + 4)
        meta, transfer_syntax = _read_meta(stream)
        if transfer_syntax == DeflatedExplicitVRLittleEndian:
            return _parse_deflated(buffer, stream.tell(), meta, limits)
        data_start = stream.tell()
    else:
        meta, transfer_syntax, data_start = _sniff_bare(buffer, size)
    implicit, little = _encoding(transfer_syntax)
    if data_start + 8 <= size and _looks_explicit(buffer, data_start) == implicit:
        raise MalformedDicom("the data set is not encoded as its transfer syntax says")
    ds, position = _read_header(buffer, data_start, implicit=implicit, little=little)
    ds.file_meta = meta
    inp = DicomInput(
        dataset=ds,
        transfer_syntax=transfer_syntax,
        size=size,
        pixels=None,
        _buffer=buffer,
        _path=path,
    )
    _find_pixels(inp, buffer, position, implicit=implicit, little=little)
    return inp


def _find_pixels(
    inp: DicomInput, buffer: mmap.mmap | bytes, position: int, *, implicit: bool, little: bool
) -> None:
    """Locate Pixel Data at ``position``, and make sure nothing identifying follows it."""
    size = len(buffer)
    tail = position
    if position <= size - 4 and _tag_at(buffer, position, little) == _PIXEL_DATA:
        inp.pixels = _pixel_span(buffer, position, size, implicit=implicit, little=little)
        tail = inp.pixels.end
    if tail < size:
        _check_tail(buffer, tail, implicit=implicit, little=little)
        inp.warnings.append("trailing_elements_removed")


def _check_tail(buffer: mmap.mmap | bytes, start: int, *, implicit: bool, little: bool) -> None:
    """What follows Pixel Data is dropped; it must be only what may follow it (PS3.5 7.1).

    Tags ascend, so a patient's name or any other header attribute cannot legitimately sit
    there; if one does, the values the leak check needs are unknown, and we refuse.
    """
    stream = buffer if isinstance(buffer, mmap.mmap) else io.BytesIO(buffer)
    stream.seek(start)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tail = read_dataset(
                stream,  # type: ignore[arg-type]
                is_implicit_VR=implicit,
                is_little_endian=little,
            )
    except RecursionError:
        raise NestingTooDeep("sequences nested too deep to parse") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad input
        raise MalformedDicom(f"unreadable data after the header ({type(exc).__name__})") from None
    if any(tag <= _PIXEL_DATA for tag in tail._dict):
        raise MalformedDicom("header elements out of order after pixel data")


def _read_meta(stream: io.BufferedIOBase | mmap.mmap) -> tuple[FileMetaDataset, UID]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = _read_file_meta_info(stream)  # type: ignore[arg-type]
            return meta, UID(str(meta.get("TransferSyntaxUID", "")))
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad meta
        raise MalformedDicom(f"unreadable file meta information ({type(exc).__name__})") from None


def _sniff_bare(buffer: mmap.mmap | bytes, size: int) -> tuple[FileMetaDataset, UID, int]:
    """A data set without preamble or meta: only accepted when it starts like one."""
    if size < 8:
        raise NotDicom("too short to be DICOM")
    group_le = struct.unpack("<H", buffer[0:2])[0]
    group_be = struct.unpack(">H", buffer[0:2])[0]
    explicit = _looks_explicit(buffer, 0)
    if group_le in (0x0008, 0x0002):
        syntax = ExplicitVRLittleEndian if explicit else ImplicitVRLittleEndian
    elif group_be in (0x0008, 0x0002) and explicit:
        syntax = ExplicitVRBigEndian
    else:
        raise NotDicom("no DICM prefix and no data set at the start")
    return FileMetaDataset(), syntax, 0


def _looks_explicit(buffer: mmap.mmap | bytes, offset: int) -> bool:
    vr = bytes(buffer[offset + 4 : offset + 6])
    return vr.isalpha() and vr.isupper()


def _encoding(transfer_syntax: UID) -> tuple[bool, bool]:
    if transfer_syntax == ImplicitVRLittleEndian:
        return True, True
    if transfer_syntax == ExplicitVRBigEndian:
        return False, False
    if not transfer_syntax or not transfer_syntax.is_transfer_syntax:
        raise UnsupportedTransferSyntax("missing or unknown transfer syntax")
    return False, True


def _read_header(
    buffer: mmap.mmap | bytes, start: int, *, implicit: bool, little: bool
) -> tuple[Dataset, int]:
    """The data set up to Pixel Data (or the end), and the offset where reading stopped."""
    stream = buffer if isinstance(buffer, mmap.mmap) else io.BytesIO(buffer)
    stream.seek(start)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kept = None
            if raw_sequence.ENABLED:
                kept = read_keeping_sequences_raw(
                    buffer, start, implicit=implicit, little=little, stop_at=_at_pixel_data_tag
                )
            if kept is None:
                stream.seek(start)
                ds = read_dataset(
                    stream,  # type: ignore[arg-type]
                    is_implicit_VR=implicit,
                    is_little_endian=little,
                    stop_when=_at_pixel_data,
                )
            else:
                ds, stopped = kept
                stream.seek(stopped)
    except RecursionError:
        raise NestingTooDeep("sequences nested too deep to parse") from None
    except MemoryError:
        raise ElementTooLong("an element is too large to read") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad input
        raise MalformedDicom(f"unreadable data set ({type(exc).__name__})") from None
    position = stream.tell()
    size = len(buffer)
    ds.set_original_encoding(implicit, little, ds._character_set)
    _check_lengths(ds, size)
    if position == size and _last_element_end(ds) < position:
        # pydicom stops quietly at a cut element header; that may have been Pixel Data.
        raise MalformedDicom("the file ends inside an element header")
    return ds, position


def _last_element_end(ds: Dataset) -> int:
    """Where the last top-level element's value ends; large when it cannot be known."""
    end = -1
    for elem in ds._dict.values():
        tell = getattr(elem, "value_tell", None)
        length = getattr(elem, "length", _UNDEFINED)
        if tell is None or length == _UNDEFINED or not isinstance(elem, RawDataElement):
            return 1 << 62
        end = max(end, tell + length)
    return end


def _at_pixel_data_tag(tag: int) -> bool:
    return int.__ge__(tag, _PIXEL_DATA)


def _at_pixel_data(tag: int, vr: str | None, length: int) -> bool:
    # Stop at Pixel Data itself, not at the first 7FE0 element: a (7FE0,0000) group
    # length or the Extended Offset Table come before it and are header elements.
    # int's own comparison: BaseTag's Python-level __ge__ costs more per element.
    return int.__ge__(tag, _PIXEL_DATA)


def _check_lengths(ds: Dataset, size: int) -> None:
    for elem in ds._dict.values():
        length = getattr(elem, "length", 0)
        if length != _UNDEFINED and length > size:
            raise ElementTooLong("an element declares more bytes than the file holds")
        value = getattr(elem, "value", None)
        if isinstance(value, bytes) and length != _UNDEFINED and len(value) < length:
            raise ElementTooLong("an element declares more bytes than the file holds")


def _tag_at(buffer: mmap.mmap | bytes, offset: int, little: bool) -> int:
    group, element = struct.unpack("<HH" if little else ">HH", buffer[offset : offset + 4])
    return int((group << 16) | element)


def _pixel_span(
    buffer: mmap.mmap | bytes, start: int, size: int, *, implicit: bool, little: bool
) -> PixelSpan:
    order = "<" if little else ">"
    offset = start + 4
    long_vr = not implicit and bytes(buffer[offset : offset + 2]) in _LONG_VRS
    if start + (12 if long_vr else 8) > size:
        raise ElementTooLong("pixel data element is cut short")
    if implicit:
        (length,) = struct.unpack(order + "L", buffer[offset : offset + 4])
        offset += 4
    else:
        vr = bytes(buffer[offset : offset + 2])
        if vr in _LONG_VRS:
            (length,) = struct.unpack(order + "L", buffer[offset + 4 : offset + 8])
            offset += 8
        else:
            (length,) = struct.unpack(order + "H", buffer[offset + 2 : offset + 4])
            offset += 4
    if length == _UNDEFINED:
        end = _encapsulated_end(buffer, offset, size, order)
    else:
        end = offset + length
    if end > size:
        raise ElementTooLong("pixel data declares more bytes than the file holds")
    return PixelSpan(start, end)


def _encapsulated_end(buffer: mmap.mmap | bytes, offset: int, size: int, order: str) -> int:
    while offset + 8 <= size:
        tag = _tag_at(buffer, offset, order == "<")
        (length,) = struct.unpack(order + "L", buffer[offset + 4 : offset + 8])
        offset += 8
        if tag == _SEQUENCE_END:
            return offset
        if tag != _ITEM or length == _UNDEFINED:
            raise MalformedDicom("encapsulated pixel data has a bad item")
        offset += length
    raise MalformedDicom("encapsulated pixel data has no sequence delimiter")


def _parse_deflated(
    buffer: mmap.mmap | bytes, start: int, meta: FileMetaDataset, limits: Limits
) -> DicomInput:
    """Inflate with a cap (pydicom would inflate without one), then parse as Explicit LE."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(bytes(buffer[start:]), limits.max_inflated_bytes + 1)
    except zlib.error:
        raise MalformedDicom("deflated data set does not inflate") from None
    if len(inflated) > limits.max_inflated_bytes or inflater.unconsumed_tail:
        raise InflatedTooLarge(f"deflated data set inflates past {limits.max_inflated_bytes} bytes")
    ds, position = _read_header(inflated, 0, implicit=False, little=True)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    inp = DicomInput(
        dataset=ds,
        transfer_syntax=ExplicitVRLittleEndian,
        size=len(inflated),
        pixels=None,
        _buffer=inflated,
    )
    if isinstance(buffer, mmap.mmap):
        buffer.close()
    inp.warnings.append("deflate_written_as_explicit_little_endian")
    _find_pixels(inp, inflated, position, implicit=False, little=True)
    return inp


def encode_header(ds: Dataset, transfer_syntax: UID) -> bytes:
    """Preamble (zeros), new file meta and the data set without pixel data, as bytes.

    MediaStorageSOPInstanceUID follows the (new) SOPInstanceUID; nothing of the input's
    file meta (source AE titles, private information) survives.
    """
    implicit, little = _encoding(transfer_syntax)
    meta = encode_file_meta(
        sop_class=str(ds.SOPClassUID),
        sop_instance=str(ds.SOPInstanceUID),
        transfer_syntax=str(transfer_syntax),
    )
    return b"".join(
        (b"\0" * _PREAMBLE, b"DICM", meta, encode_dataset(ds, implicit=implicit, little=little))
    )

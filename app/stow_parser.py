"""Split a STOW-RS ``multipart/related`` body into parts, streaming, with caps.

Fed the raw request stream chunk by chunk; each part is spooled to a private file, so
memory stays bounded whatever the body size. Parts are split only on ``CRLF--boundary``
(python-multipart's parser), so CRLF CRLF and ``--`` inside DICOM bytes are harmless.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

_MAX_BOUNDARY = 200


class StowRequestError(Exception):
    """The request as a whole is unusable; ``status`` says how to answer."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class StowLimits:
    max_parts: int = 1000
    max_part_bytes: int = 1 << 30
    max_header_bytes: int = 16 << 10


@dataclass
class Part:
    """One body part: its headers (lower-case names) and where its bytes were spooled."""

    headers: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    size: int = 0
    too_large: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class RelatedType:
    """The parsed ``Content-Type`` of a STOW request."""

    boundary: bytes
    type: str
    transfer_syntax: str | None


def parse_content_type(value: str | None) -> RelatedType:
    """Check the request is ``multipart/related; type="application/dicom"`` (415 otherwise)."""
    if not value:
        raise StowRequestError(415, "unsupported_media_type", "Content-Type is missing")
    media, params = parse_options_header(value)
    if media.lower() != b"multipart/related":
        raise StowRequestError(
            415, "unsupported_media_type", "STOW-RS takes multipart/related bodies"
        )
    related = params.get(b"type", b"application/dicom").decode("latin-1").lower()
    if related != "application/dicom":
        raise StowRequestError(
            415, "unsupported_media_type", 'only type="application/dicom" parts are supported'
        )
    boundary = params.get(b"boundary", b"")
    # RFC 2046 limits senders to 70 characters, but Orthanc sends 73: be lenient, not lax.
    if not boundary or len(boundary) > _MAX_BOUNDARY:
        raise StowRequestError(400, "bad_boundary", "the multipart boundary is missing or long")
    syntax = params.get(b"transfer-syntax")
    return RelatedType(boundary, related, syntax.decode("latin-1") if syntax else None)


class _Collector:
    def __init__(self, spool: Path, limits: StowLimits) -> None:
        self.spool = spool
        self.limits = limits
        self.parts: list[Part] = []
        self._current: Part | None = None
        self._handle: BinaryIO | None = None
        self._field = bytearray()
        self._value = bytearray()
        self._header_bytes = 0

    def on_part_begin(self) -> None:
        if len(self.parts) >= self.limits.max_parts:
            raise StowRequestError(413, "too_many_parts", "too many parts in one request")
        self._current = Part()
        self._header_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_header_bytes:
            raise StowRequestError(431, "part_headers_too_large", "part headers are too large")

    def on_header_end(self) -> None:
        assert self._current is not None  # noqa: S101 - the parser calls part_begin first
        name = self._field.decode("latin-1").strip().lower()
        self._current.headers[name] = self._value.decode("latin-1").strip()
        self._field.clear()
        self._value.clear()

    def on_headers_finished(self) -> None:
        fd, name = tempfile.mkstemp(dir=self.spool, suffix=".part")
        assert self._current is not None  # noqa: S101
        self._current.path = Path(name)
        self._handle = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        assert part is not None and self._handle is not None  # noqa: S101
        part.size += end - start
        if part.size > self.limits.max_part_bytes:
            part.too_large = True
            return
        self._handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._current is not None:
            self.parts.append(self._current)
            self._current = None

    def discard(self) -> None:
        """Close and delete everything spooled so far, the unfinished part included."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        unfinished = [self._current] if self._current is not None else []
        remove_parts([*self.parts, *unfinished])


async def read_parts(
    stream: AsyncIterator[bytes], *, related: RelatedType, spool: Path, limits: StowLimits
) -> list[Part]:
    """Parse the body into spooled parts. The caller deletes ``part.path`` files."""
    collector = _Collector(spool, limits)
    parser = MultipartParser(
        related.boundary,
        callbacks={
            "on_part_begin": collector.on_part_begin,
            "on_part_data": collector.on_part_data,
            "on_part_end": collector.on_part_end,
            "on_header_field": collector.on_header_field,
            "on_header_value": collector.on_header_value,
            "on_header_end": collector.on_header_end,
            "on_headers_finished": collector.on_headers_finished,
        },
        max_header_count=32,
        max_header_size=limits.max_header_bytes,
    )
    try:
        async for chunk in stream:
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        collector.discard()
        raise StowRequestError(400, "bad_multipart", "the multipart body is malformed") from None
    except BaseException:
        collector.discard()
        raise
    return collector.parts


def remove_parts(parts: list[Part]) -> None:
    for part in parts:
        if part.path is not None:
            part.path.unlink(missing_ok=True)

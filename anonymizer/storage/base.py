"""The storage backend protocol: where de-identified objects go, and where that is.

Keys are built by the service from the tenant and pseudonymized UIDs only, and checked
against :data:`KEY_PATTERN` by every backend, so no input value can steer a path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from anonymizer.errors import StorageError

_PART = r"[A-Za-z0-9][A-Za-z0-9._=-]{0,127}"
KEY_PATTERN = re.compile(rf"^{_PART}(/{_PART}){{0,15}}$")


@dataclass(frozen=True)
class Destination:
    """Where stored objects physically are and who holds them (PIPA Art. 28-8 facts)."""

    country: str
    region: str
    recipient: str
    recipient_contact: str
    method: str


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object: its key, size and SHA-256 (hex)."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PutResult:
    """``created`` is False when an identical object was already there (idempotent retry)."""

    info: ObjectInfo
    created: bool


class Storage(Protocol):
    """What every backend offers. Implementations raise :class:`StorageError` subclasses."""

    destination: Destination

    def put(self, key: str, data: bytes | Path, *, sha256: str) -> PutResult:
        """Store ``data`` (bytes, or a file to stream from) under ``key`` unless present.

        Never overwrites different content; refuses data that does not match ``sha256``.
        """
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`ObjectNotFound` if absent."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """Size and checksum of the object, or None if absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object (every version, where the backend keeps versions)."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``."""
        ...

    def ping(self) -> None:
        """Raise :class:`StorageUnavailable` unless the backend answers."""
        ...


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_sha256(data: bytes | Path) -> str:
    """SHA-256 (hex) of bytes or of a file's content."""
    if isinstance(data, Path):
        return file_sha256(data)
    return hashlib.sha256(data).hexdigest()


def data_size(data: bytes | Path) -> int:
    return data.stat().st_size if isinstance(data, Path) else len(data)


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`StorageError`."""
    if not KEY_PATTERN.match(key) or ".." in key.split("/"):
        raise StorageError("object key has characters or parts that are not allowed")
    return key

"""In-memory storage for tests and dry runs; same contract as the real backends."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from anonymizer.errors import ObjectConflict, ObjectNotFound
from anonymizer.storage.base import Destination, ObjectInfo, PutResult, check_key

_MEMORY = Destination(
    country="(none)",
    region="(memory)",
    recipient="(this process)",
    recipient_contact="",
    method="in-memory",
)


class MemoryStorage:
    """A dictionary of key -> bytes."""

    def __init__(self, *, destination: Destination = _MEMORY) -> None:
        self.destination = destination
        self._objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes | Path, *, sha256: str) -> PutResult:
        check_key(key)
        if isinstance(data, Path):
            data = data.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ObjectConflict("the data does not match the checksum sent with it")
        info = ObjectInfo(key=key, size=len(data), sha256=sha256)
        existing = self._objects.get(key)
        if existing is not None:
            if hashlib.sha256(existing).hexdigest() != sha256:
                raise ObjectConflict("a different object is already stored under this key")
            return PutResult(info=info, created=False)
        self._objects[key] = bytes(data)
        return PutResult(info=info, created=True)

    def get(self, key: str) -> bytes:
        try:
            return self._objects[check_key(key)]
        except KeyError:
            raise ObjectNotFound("no object under this key") from None

    def head(self, key: str) -> ObjectInfo | None:
        data = self._objects.get(check_key(key))
        if data is None:
            return None
        return ObjectInfo(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def delete(self, key: str) -> None:
        if self._objects.pop(check_key(key), None) is None:
            raise ObjectNotFound("no object under this key")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in sorted(self._objects):
            if key.startswith(prefix):
                info = self.head(key)
                if info is not None:
                    yield info

    def ping(self) -> None:
        return None

"""Local directory storage: the embedded default.

Writes go to a private temporary file in the same directory, are flushed to disk, then
linked into place with ``os.link``, which fails if the key exists: a retry can never
overwrite a stored object, and a reader never sees half an object.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from anonymizer.errors import ObjectConflict, ObjectNotFound, StorageUnavailable
from anonymizer.storage.base import (
    Destination,
    ObjectInfo,
    PutResult,
    check_key,
    data_size,
    file_sha256,
)

_LOCAL = Destination(
    country="(local)",
    region="(local directory)",
    recipient="(this service)",
    recipient_contact="",
    method="local file system write",
)
_CHUNK = 1 << 20


class LocalStorage:
    """Objects as files under ``root``; keys map to relative paths."""

    def __init__(self, root: str | os.PathLike[str], *, destination: Destination = _LOCAL) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.destination = destination
        self._folders: set[Path] = set()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes | Path, *, sha256: str) -> PutResult:
        path = self._path(key)
        info = ObjectInfo(key=key, size=data_size(data), sha256=sha256)
        try:
            tmp = path.parent / f".tmp-{secrets.token_hex(8)}"
            fd = self._create(tmp)
            try:
                with os.fdopen(fd, "wb") as handle:
                    # The checksum is computed from the bytes as they are written: one read.
                    if _write_hashed(data, handle) != sha256:
                        raise ObjectConflict("the data does not match the checksum sent with it")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.link(tmp, path)
                created = True
            except FileExistsError:
                created = False
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"local storage failed ({type(exc).__name__})") from None
        if not created:
            existing = self.head(key)
            if existing is None or existing.sha256 != sha256:
                raise ObjectConflict("a different object is already stored under this key")
        return PutResult(info=info, created=created)

    def _create(self, tmp: Path) -> int:
        """Open a new temporary file; its folder is made once (again if someone removed it)."""
        folder = tmp.parent
        if folder in self._folders:
            try:
                return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileNotFoundError:
                self._folders.discard(folder)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._folders.add(folder)
        return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound("no object under this key") from None

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(key=key, size=path.stat().st_size, sha256=file_sha256(path))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            size = path.stat().st_size
            # Overwrite before unlinking, so the bytes are not left on disk for recovery.
            with path.open("r+b") as handle:
                for offset in range(0, size, _CHUNK):
                    handle.write(b"\0" * min(_CHUNK, size - offset))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
        except FileNotFoundError:
            raise ObjectNotFound("no object under this key") from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.name.startswith(".tmp-"):
                continue
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                yield ObjectInfo(key=key, size=path.stat().st_size, sha256=file_sha256(path))

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageUnavailable("local storage directory is not writable")


def _write_hashed(data: bytes | Path, out: BinaryIO) -> str:
    """Write ``data`` (bytes, or a file's content) to ``out``; the SHA-256 of what was written."""
    if not isinstance(data, Path):
        out.write(data)
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with data.open("rb") as source:
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()

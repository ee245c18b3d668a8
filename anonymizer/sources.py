"""Find the inputs of a batch: one file, a directory tree, or a zip archive.

Inputs are named by their relative path inside the source, as a POSIX string. An archive is
never extracted to a path built from a member name: each member is read into memory, or into
a private temporary file when large, and handed to the pipeline from there. Members with
unsafe names (absolute, ``..``), links, encrypted members and members that inflate
suspiciously well (zip bombs) are refused one by one; an archive that declares too many
members or too many bytes in all is refused whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO

from anonymizer.errors import DeidError

_IN_MEMORY_MAX = 64 << 20
_COPY_CHUNK = 1 << 20


class SourceProblem(StrEnum):
    """Why an input was refused before the pipeline saw it (stable, like ``Reason``)."""

    UNSAFE_PATH = "unsafe_archive_path"
    LINK = "link_not_followed"
    ZIP_BOMB = "zip_bomb"
    TOO_MANY_MEMBERS = "too_many_archive_members"
    ENCRYPTED = "encrypted_archive_member"
    DUPLICATE = "duplicate_archive_member"
    BAD_ARCHIVE = "invalid_archive"
    UNREADABLE = "unreadable_input"


class SourceError(DeidError):
    """The source as a whole cannot be used (missing, not readable, an unsafe archive)."""

    def __init__(self, message: str, *, problem: SourceProblem) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class ZipLimits:
    """Caps on an archive, checked against what its central directory declares.

    Parameters
    ----------
    max_members
        Most members (files and folders) an archive may list.
    max_total_bytes
        Most bytes all members may inflate to, together.
    max_ratio
        Highest inflated/compressed ratio of a member larger than ``ratio_floor`` bytes.
    ratio_floor
        Members smaller than this are not ratio-checked (tiny files compress oddly).
    """

    max_members: int = 100_000
    max_total_bytes: int = 64 << 30
    max_ratio: float = 100.0
    ratio_floor: int = 1 << 20


@dataclass(frozen=True)
class SourceItem:
    """One input: a file on disk, or a member of an archive (by index, since names repeat)."""

    relative: str
    path: Path | None = None
    archive: Path | None = None
    member_index: int = -1
    declared_size: int = 0


@dataclass(frozen=True)
class Refused:
    """An input that was refused while listing; ``message`` never holds a value."""

    relative: str
    problem: SourceProblem
    message: str


@dataclass
class Listing:
    """What a source holds: inputs to process and inputs refused up front."""

    items: list[SourceItem] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def is_archive(source: Path) -> bool:
    """Whether ``source`` is treated as a zip archive (by its suffix)."""
    return source.is_file() and source.suffix.lower() == ".zip"


def list_source(
    source: Path, *, exclude: tuple[Path, ...] = (), zip_limits: ZipLimits | None = None
) -> Listing:
    """List the inputs of ``source``: a file, a directory (recursively) or a ``.zip``.

    Parameters
    ----------
    source
        The file, directory or archive.
    exclude
        Folders and files left out (the destination and the report, when inside the source).
    zip_limits
        Caps on an archive; the defaults when None.

    Raises
    ------
    SourceError
        The source does not exist, or the archive is refused whole.
    """
    if source.is_symlink() and not source.exists():
        raise SourceError("the source is a broken link", problem=SourceProblem.UNREADABLE)
    if is_archive(source):
        return _list_archive(source, zip_limits or ZipLimits())
    if source.is_file():
        return Listing(items=[SourceItem(relative=source.name, path=source)])
    if source.is_dir():
        return _list_directory(source, {p.resolve() for p in exclude})
    raise SourceError(
        "the source is not a file, a directory or a .zip archive",
        problem=SourceProblem.UNREADABLE,
    )


def _list_directory(root: Path, exclude: set[Path]) -> Listing:
    # Walk the resolved root without following links, so every path below it is canonical
    # and can be compared with the excluded (resolved) paths without a syscall each.
    root = root.resolve()
    listing = Listing()
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        kept = []
        for name in sorted(dirnames):
            child = base / name
            if child.is_symlink():
                listing.refused.append(
                    Refused(_relative(child, root), SourceProblem.LINK, "link to a folder skipped")
                )
            elif child not in exclude:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            child = base / name
            if child in exclude:
                continue
            relative = _relative(child, root)
            mode = child.lstat().st_mode
            if stat.S_ISLNK(mode):
                listing.refused.append(Refused(relative, SourceProblem.LINK, "link not followed"))
            elif stat.S_ISREG(mode):
                listing.items.append(SourceItem(relative=relative, path=child))
            else:
                listing.refused.append(
                    Refused(relative, SourceProblem.UNREADABLE, "not a regular file")
                )
    return listing


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _list_archive(archive: Path, limits: ZipLimits) -> Listing:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(
            f"the archive cannot be read ({type(exc).__name__})", problem=SourceProblem.BAD_ARCHIVE
        ) from None
    if len(infos) > limits.max_members:
        raise SourceError(
            f"the archive lists {len(infos)} members, more than the cap of {limits.max_members}",
            problem=SourceProblem.TOO_MANY_MEMBERS,
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise SourceError(
            f"the archive would inflate to {total} bytes, more than the cap of "
            f"{limits.max_total_bytes} (zip bomb?)",
            problem=SourceProblem.ZIP_BOMB,
        )
    listing = Listing()
    seen: set[str] = set()
    for index, info in enumerate(infos):
        if info.is_dir():
            continue
        relative = safe_member_name(info.filename)
        if relative is None:
            # The name itself may be the attack (or a patient's name): it is not reported.
            listing.refused.append(
                Refused(
                    f"<member {index}>",
                    SourceProblem.UNSAFE_PATH,
                    "absolute or '..' member name refused",
                )
            )
            continue
        refusal = _member_refusal(info, relative, seen, limits)
        if refusal is not None:
            listing.refused.append(refusal)
            continue
        seen.add(relative)
        listing.items.append(
            SourceItem(
                relative=relative,
                archive=archive,
                member_index=index,
                declared_size=info.file_size,
            )
        )
    return listing


def _member_refusal(
    info: zipfile.ZipInfo, relative: str, seen: set[str], limits: ZipLimits
) -> Refused | None:
    if stat.S_ISLNK(info.external_attr >> 16):
        return Refused(relative, SourceProblem.LINK, "link member refused")
    if info.flag_bits & 0x1:
        return Refused(relative, SourceProblem.ENCRYPTED, "encrypted member refused")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor and ratio > limits.max_ratio:
        return Refused(
            relative,
            SourceProblem.ZIP_BOMB,
            f"member inflates {ratio:.0f} times, more than the cap of {limits.max_ratio:.0f}"
            " (zip bomb?)",
        )
    if relative in seen:
        return Refused(relative, SourceProblem.DUPLICATE, "a member of that name came earlier")
    return None


def safe_member_name(name: str) -> str | None:
    """The member name as a safe relative POSIX path, or None when it is unsafe.

    Unsafe: empty, absolute (``/x``, ``C:x``, ``\\\\host``), holding ``..``, a backslash or NUL.
    """
    if not name or "\x00" in name or "\\" in name:
        return None
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [part for part in PurePosixPath(name).parts if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


class SourceReader:
    """Hands each input to the pipeline as a path or as bytes; keeps archives open.

    One reader per process; use it as a context manager so archives are closed.
    """

    def __init__(self) -> None:
        self._archives: dict[Path, zipfile.ZipFile] = {}

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every archive opened so far."""
        for zf in self._archives.values():
            zf.close()
        self._archives.clear()

    @contextlib.contextmanager
    def open(self, item: SourceItem) -> Iterator[Path | bytes]:
        """Yield the input as a path (a file, or a private temporary copy) or as bytes."""
        if item.path is not None:
            yield item.path
            return
        if item.archive is None:
            raise SourceError("the item names no file", problem=SourceProblem.UNREADABLE)
        zf = self._archive(item.archive)
        info = zf.infolist()[item.member_index]
        if item.declared_size <= _IN_MEMORY_MAX:
            with _member_errors(), zf.open(info) as member:
                data = _read_bounded(member, item.declared_size)
            yield data
            return
        folder = Path(tempfile.mkdtemp(prefix="anonymizer-member-"))
        try:
            # A private file with a random name: never a path built from the member name.
            target = folder / "member.dcm"
            with _member_errors(), zf.open(info) as member, target.open("xb") as out:
                _copy_bounded(member, out, item.declared_size)
            yield target
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _archive(self, path: Path) -> zipfile.ZipFile:
        zf = self._archives.get(path)
        if zf is None:
            zf = zipfile.ZipFile(path)
            self._archives[path] = zf
        return zf


@contextlib.contextmanager
def _member_errors() -> Iterator[None]:
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SourceError(
            f"the archive member cannot be read ({type(exc).__name__})",
            problem=SourceProblem.BAD_ARCHIVE,
        ) from None


def _read_bounded(member: IO[bytes], declared: int) -> bytes:
    # zipfile stops at the declared size and checks the CRC; reading one byte more than
    # declared is a second guard should that ever change.
    data = member.read(declared + 1)
    if len(data) > declared:
        raise zipfile.BadZipFile("member longer than declared")
    return data


def _copy_bounded(member: IO[bytes], out: IO[bytes], declared: int) -> None:
    written = 0
    while chunk := member.read(_COPY_CHUNK):
        written += len(chunk)
        if written > declared:
            raise zipfile.BadZipFile("member longer than declared")
        out.write(chunk)

"""Listing and reading batch inputs: directories, zip archives, and the unsafe ones."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from anonymizer import sources
from anonymizer.sources import (
    SourceError,
    SourceProblem,
    SourceReader,
    ZipLimits,
    list_source,
    safe_member_name,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.dcm", "a.dcm"),
        ("study/series/a.dcm", "study/series/a.dcm"),
        ("./study//a.dcm", "study/a.dcm"),
        ("/etc/passwd", None),
        ("../evil.dcm", None),
        ("study/../../evil.dcm", None),
        ("study/..", None),
        ("C:evil.dcm", None),
        ("C:/evil.dcm", None),
        ("..\\evil.dcm", None),
        ("a\x00b", None),
        ("", None),
        (".", None),
    ],
)
def test_safe_member_name(name: str, expected: str | None) -> None:
    assert safe_member_name(name) == expected


def _zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_directory_is_walked_sorted_and_recursively(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "b" / "c").mkdir(parents=True)
    (root / "z.dcm").write_bytes(b"z")
    (root / "a.dcm").write_bytes(b"a")
    (root / "b" / "c" / "d.dcm").write_bytes(b"d")

    listing = list_source(root)

    assert [item.relative for item in listing.items] == ["a.dcm", "z.dcm", "b/c/d.dcm"]
    assert all(item.path is not None and item.path.is_file() for item in listing.items)
    assert listing.refused == []


def test_links_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.dcm").write_bytes(b"x")
    root = tmp_path / "src"
    root.mkdir()
    (root / "real.dcm").write_bytes(b"r")
    (root / "file-link.dcm").symlink_to(outside / "secret.dcm")
    (root / "dir-link").symlink_to(outside, target_is_directory=True)

    listing = list_source(root)

    assert [item.relative for item in listing.items] == ["real.dcm"]
    refused = {r.relative: r.problem for r in listing.refused}
    assert refused == {"file-link.dcm": SourceProblem.LINK, "dir-link": SourceProblem.LINK}


def test_excluded_folder_and_file_are_left_out(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "out").mkdir(parents=True)
    (root / "in.dcm").write_bytes(b"i")
    (root / "out" / "done.dcm").write_bytes(b"o")
    (root / "report.jsonl").write_text("{}\n")

    listing = list_source(root, exclude=(root / "out", root / "report.jsonl"))

    assert [item.relative for item in listing.items] == ["in.dcm"]


def test_single_file_is_one_item(tmp_path: Path) -> None:
    path = tmp_path / "one.dcm"
    path.write_bytes(b"1")
    listing = list_source(path)
    assert [(item.relative, item.path) for item in listing.items] == [("one.dcm", path)]


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        list_source(tmp_path / "nothing-here")
    assert caught.value.problem is SourceProblem.UNREADABLE


def test_zip_members_are_listed_and_read_as_bytes(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "in.zip", {"s1/a.dcm": b"A" * 100, "s1/b.dcm": b"B" * 50})
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("s2/", b"")  # a folder entry

    listing = list_source(archive)

    assert [item.relative for item in listing.items] == ["s1/a.dcm", "s1/b.dcm"]
    with SourceReader() as reader:
        contents = []
        for item in listing.items:
            with reader.open(item) as data:
                contents.append(data)
    assert contents == [b"A" * 100, b"B" * 50]


def test_zip_slip_and_absolute_names_are_refused_without_their_names(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "evil.zip",
        {"../../escaped.dcm": b"x", "/abs/olute.dcm": b"y", "ok/fine.dcm": b"z"},
    )

    listing = list_source(archive)

    assert [item.relative for item in listing.items] == ["ok/fine.dcm"]
    assert [r.problem for r in listing.refused] == [SourceProblem.UNSAFE_PATH] * 2
    for refused in listing.refused:
        assert "escaped" not in refused.relative
        assert "olute" not in refused.relative
        assert refused.relative.startswith("<member ")


def test_link_members_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link.dcm")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("real.dcm", b"r")

    listing = list_source(archive)

    assert [item.relative for item in listing.items] == ["real.dcm"]
    assert [(r.relative, r.problem) for r in listing.refused] == [("link.dcm", SourceProblem.LINK)]


def test_encrypted_members_are_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "locked.zip", {"locked.dcm": b"not really encrypted"})
    # Set the "encrypted" bit of the general purpose flags in the central directory.
    raw = bytearray(archive.read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 8] |= 0x1
    archive.write_bytes(bytes(raw))

    listing = list_source(archive)

    assert listing.items == []
    assert [r.problem for r in listing.refused] == [SourceProblem.ENCRYPTED]


def test_duplicate_member_names_are_refused_after_the_first(tmp_path: Path) -> None:
    archive = tmp_path / "dup.zip"
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("same.dcm", b"first")
        zf.writestr("same.dcm", b"second")

    listing = list_source(archive)

    assert [item.member_index for item in listing.items] == [0]
    assert [r.problem for r in listing.refused] == [SourceProblem.DUPLICATE]


def test_member_that_inflates_too_well_is_a_zip_bomb(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", {"bomb.dcm": bytes(20 << 20), "fine.dcm": b"f" * 10})
    assert archive.stat().st_size < 100_000

    listing = list_source(archive)

    assert [item.relative for item in listing.items] == ["fine.dcm"]
    assert [(r.relative, r.problem) for r in listing.refused] == [
        ("bomb.dcm", SourceProblem.ZIP_BOMB)
    ]
    assert "zip bomb" in listing.refused[0].message


def test_small_members_are_not_ratio_checked(tmp_path: Path) -> None:
    # 512 KiB of zeros inflates ~1000 times but stays under the 1 MiB floor.
    archive = _zip(tmp_path / "blank.zip", {"blank.dcm": bytes(512 << 10)})
    assert [item.relative for item in list_source(archive).items] == ["blank.dcm"]


def test_archive_declaring_too_many_bytes_is_refused_whole(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "big.zip", {"a.dcm": b"a" * 600, "b.dcm": b"b" * 600})
    with pytest.raises(SourceError) as caught:
        list_source(archive, zip_limits=ZipLimits(max_total_bytes=1000))
    assert caught.value.problem is SourceProblem.ZIP_BOMB


def test_archive_with_too_many_members_is_refused_whole(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "many.zip", {f"{i}.dcm": b"x" for i in range(5)})
    with pytest.raises(SourceError) as caught:
        list_source(archive, zip_limits=ZipLimits(max_members=4))
    assert caught.value.problem is SourceProblem.TOO_MANY_MEMBERS


def test_file_named_zip_that_is_not_one_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK but not really a zip archive")
    with pytest.raises(SourceError) as caught:
        list_source(fake)
    assert caught.value.problem is SourceProblem.BAD_ARCHIVE


def test_corrupt_member_is_an_archive_error(tmp_path: Path) -> None:
    payload = os.urandom(4000)
    archive = _zip(tmp_path / "corrupt.zip", {"m.dcm": payload}, compression=zipfile.ZIP_STORED)
    raw = bytearray(archive.read_bytes())
    offset = raw.index(payload[:64])
    raw[offset + 100] ^= 0xFF  # the CRC no longer matches
    archive.write_bytes(bytes(raw))

    (item,) = list_source(archive).items
    with SourceReader() as reader, pytest.raises(SourceError) as caught, reader.open(item):
        pass
    assert caught.value.problem is SourceProblem.BAD_ARCHIVE


def test_large_member_is_spooled_to_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_IN_MEMORY_MAX", 10)
    payload = b"0123456789" * 50
    archive = _zip(tmp_path / "in.zip", {"PATIENT_NAME_IN_PATH/scan.dcm": payload})

    (item,) = list_source(archive).items
    with SourceReader() as reader, reader.open(item) as data:
        assert isinstance(data, Path)
        assert data.read_bytes() == payload
        assert "PATIENT_NAME" not in str(data)
        assert not data.is_relative_to(tmp_path)
        spooled = data
    assert not spooled.exists()
    assert not spooled.parent.exists()

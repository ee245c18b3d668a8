"""The pseudonym key file: round trip, permissions, no overwrite, no secret in messages."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from anonymizer.errors import KeyInvalid
from anonymizer.keys import PseudonymKey
from anonymizer.pseudonyms import Pseudonymizer


def secret_forms(key: PseudonymKey) -> list[str]:
    return [
        base64.b64encode(key.secret).decode(),
        key.secret.hex(),
        repr(key.secret),
        str(key.secret),
    ]


def test_round_trip(tmp_path: Path) -> None:
    key = PseudonymKey.generate()
    path = tmp_path / "deid.key"
    key.write(path)
    loaded = PseudonymKey.from_file(path)
    assert loaded.key_id == key.key_id
    assert loaded.secret == key.secret
    assert loaded.ephemeral is False
    assert Pseudonymizer(loaded).uid("1.2.3") == Pseudonymizer(key).uid("1.2.3")


def test_round_trip_with_str_path(tmp_path: Path) -> None:
    key = PseudonymKey.generate()
    key.write(str(tmp_path / "k.json"))
    assert PseudonymKey.from_file(str(tmp_path / "k.json")).secret == key.secret


def test_file_is_json_with_the_documented_fields(tmp_path: Path) -> None:
    key = PseudonymKey.generate()
    key.write(tmp_path / "deid.key")
    data = json.loads((tmp_path / "deid.key").read_text("utf-8"))
    assert set(data) == {"key_id", "secret", "created"}
    assert base64.b64decode(data["secret"]) == key.secret
    assert data["key_id"] == key.key_id


def test_file_mode_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    old = os.umask(0)  # even with a permissive umask
    try:
        PseudonymKey.generate().write(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    first = PseudonymKey.generate()
    first.write(path)
    with pytest.raises(FileExistsError):
        PseudonymKey.generate().write(path)
    assert PseudonymKey.from_file(path).secret == first.secret


def test_write_refuses_to_follow_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "deid.key"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        PseudonymKey.generate().write(link)
    assert not target.exists()


def test_generate_gives_distinct_keys_and_ids() -> None:
    keys = [PseudonymKey.generate() for _ in range(20)]
    assert len({k.secret for k in keys}) == 20
    assert len({k.key_id for k in keys}) == 20
    for key in keys:
        assert len(key.secret) == 32
        assert key.key_id.startswith("k-")
        assert len(key.key_id) == 18
        assert key.secret.hex()[:16] not in key.key_id


def test_key_id_is_derived_from_the_secret(tmp_path: Path) -> None:
    key = PseudonymKey.generate()
    key.write(tmp_path / "a.key")
    again = PseudonymKey.from_file(tmp_path / "a.key")
    assert PseudonymKey.generate().key_id != again.key_id
    assert again.key_id == key.key_id


def test_throwaway() -> None:
    first, second = PseudonymKey.throwaway(), PseudonymKey.throwaway()
    assert first.ephemeral
    assert first.key_id == "ephemeral"
    assert first.secret != second.secret
    assert Pseudonymizer(first).uid("1.2.3") != Pseudonymizer(second).uid("1.2.3")


@pytest.mark.parametrize("factory", [PseudonymKey.generate, PseudonymKey.throwaway])
def test_repr_and_str_do_not_show_the_secret(factory: object) -> None:
    assert callable(factory)
    key = factory()
    assert isinstance(key, PseudonymKey)
    for text in (repr(key), str(key), f"{key}", repr([key])):
        for form in secret_forms(key):
            assert form not in text
    assert key.key_id in repr(key)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyInvalid, match="does not exist"):
        PseudonymKey.from_file(tmp_path / "nope.key")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(KeyInvalid):
        PseudonymKey.from_file(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        "[]",
        "null",
        '{"key_id": "k-1"}',
        '{"secret": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}',
        '{"key_id": "k-1", "secret": "!!!not base64!!!"}',
        '{"key_id": "k-1", "secret": 12345}',
        b"\xff\xfe\x00garbage".decode("latin-1"),
    ],
)
def test_garbage_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content, "latin-1")
    with pytest.raises(KeyInvalid) as info:
        PseudonymKey.from_file(path)
    assert str(path) in str(info.value)
    assert "AAAAAAAA" not in str(info.value)
    assert "not base64" not in str(info.value)


def test_short_secret_message_has_no_secret(tmp_path: Path) -> None:
    secret = b"FAKESECRET-0123"  # 15 bytes
    encoded = base64.b64encode(secret).decode()
    path = tmp_path / "short.key"
    path.write_text(json.dumps({"key_id": "k-short", "secret": encoded}), "utf-8")
    with pytest.raises(KeyInvalid) as info:
        PseudonymKey.from_file(path)
    message = str(info.value)
    assert "shorter than 16 bytes" in message
    assert encoded not in message
    assert "FAKESECRET" not in message
    assert info.value.__cause__ is None


def test_secret_not_in_garbage_error_chain(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"FAKESECRET-0123456789").decode() + "#"
    path = tmp_path / "bad.key"
    path.write_text(json.dumps({"key_id": "k-x", "secret": encoded}), "utf-8")
    with pytest.raises(KeyInvalid) as info:
        PseudonymKey.from_file(path)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert encoded not in str(info.value)


def test_constructor_rejects_short_secret() -> None:
    with pytest.raises(KeyInvalid):
        PseudonymKey(key_id="k", secret=b"x" * 15)
    assert PseudonymKey(key_id="k", secret=b"x" * 16).secret == b"x" * 16

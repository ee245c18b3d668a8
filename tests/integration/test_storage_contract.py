"""One contract, every backend: memory, local directory, and S3 through boto3 on a real server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from anonymizer.errors import ObjectConflict, ObjectNotFound, StorageError, StorageUnavailable
from anonymizer.storage import Destination, LocalStorage, MemoryStorage, Storage
from anonymizer.storage.s3 import S3Config, S3Storage

pytestmark = pytest.mark.integration

NL = Destination(
    country="NL",
    region="eu-west-1",
    recipient="Example Cloud B.V.",
    recipient_contact="privacy@example.invalid",
    method="HTTPS PUT to object storage",
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["memory", "local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "memory":
        return MemoryStorage()
    if request.param == "local":
        return LocalStorage(tmp_path / "objects")
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(
        S3Config(
            bucket=bucket,
            region="eu-west-1",
            destination=NL,
            endpoint_url=server.url,
            access_key_id="test",
            secret_access_key="test",
        )
    )


def test_put_get_head_roundtrip(storage: Storage) -> None:
    data = b"DICM" * 1000
    result = storage.put("t1/2.25.1/2.25.2/2.25.3.dcm", data, sha256=_sha(data))
    assert result.created
    assert result.info.size == len(data)
    assert storage.get("t1/2.25.1/2.25.2/2.25.3.dcm") == data
    head = storage.head("t1/2.25.1/2.25.2/2.25.3.dcm")
    assert head is not None
    assert head.sha256 == _sha(data)
    assert head.size == len(data)


def test_same_bytes_again_is_idempotent(storage: Storage) -> None:
    data = b"same instance"
    storage.put("t1/a.dcm", data, sha256=_sha(data))
    again = storage.put("t1/a.dcm", data, sha256=_sha(data))
    assert not again.created
    assert storage.get("t1/a.dcm") == data


def test_different_bytes_never_overwrite(storage: Storage) -> None:
    storage.put("t1/a.dcm", b"first", sha256=_sha(b"first"))
    with pytest.raises(ObjectConflict):
        storage.put("t1/a.dcm", b"second", sha256=_sha(b"second"))
    assert storage.get("t1/a.dcm") == b"first"


def test_checksum_that_does_not_match_is_refused(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        storage.put("t1/bad.dcm", b"payload", sha256=_sha(b"other payload"))
    assert storage.head("t1/bad.dcm") is None
    spooled = tmp_path / "spooled.dcm"
    spooled.write_bytes(b"payload" * 300_000)  # more than one copy chunk
    with pytest.raises(StorageError):
        storage.put("t1/bad-file.dcm", spooled, sha256=_sha(b"payload"))
    assert storage.head("t1/bad-file.dcm") is None
    assert [o.key for o in storage.list("t1/")] == []  # no partial object left behind


def test_missing_objects(storage: Storage) -> None:
    assert storage.head("t1/none.dcm") is None
    with pytest.raises(ObjectNotFound):
        storage.get("t1/none.dcm")
    with pytest.raises(ObjectNotFound):
        storage.delete("t1/none.dcm")


def test_list_by_prefix_and_delete(storage: Storage) -> None:
    for name in ("t1/s/a.dcm", "t1/s/b.dcm", "t2/s/c.dcm"):
        storage.put(name, name.encode(), sha256=_sha(name.encode()))
    assert [o.key for o in storage.list("t1/")] == ["t1/s/a.dcm", "t1/s/b.dcm"]
    storage.delete("t1/s/a.dcm")
    assert storage.head("t1/s/a.dcm") is None
    assert [o.key for o in storage.list("t1/")] == ["t1/s/b.dcm"]


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/key", "t1/../x", "t1//x", "t1/x y", ""])
def test_unsafe_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(StorageError):
        storage.put(key, b"x", sha256=_sha(b"x"))


def test_local_storage_writes_no_partial_files(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "objects")
    store.put("t/a.dcm", b"abc", sha256=_sha(b"abc"))
    names = sorted(p.name for p in (tmp_path / "objects" / "t").iterdir())
    assert names == ["a.dcm"]
    assert (tmp_path / "objects" / "t" / "a.dcm").stat().st_mode & 0o077 == 0


def test_local_delete_overwrites_before_unlinking(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "objects")
    store.put("t/a.dcm", b"secret bytes", sha256=_sha(b"secret bytes"))
    path = tmp_path / "objects" / "t" / "a.dcm"
    linked = tmp_path / "hardlink"
    linked.hardlink_to(path)  # a second name sees what delete did to the bytes
    store.delete("t/a.dcm")
    assert not path.exists()
    assert linked.read_bytes() == b"\0" * len(b"secret bytes")


def test_s3_sends_encryption_and_checksum(s3_server: object, s3_bucket: str) -> None:
    import boto3

    url = s3_server.url  # type: ignore[attr-defined]
    store = S3Storage(
        S3Config(
            bucket=s3_bucket,
            region="eu-west-1",
            destination=NL,
            endpoint_url=url,
            access_key_id="test",
            secret_access_key="test",
        )
    )
    store.put("t/enc.dcm", b"encrypted", sha256=_sha(b"encrypted"))
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    head = client.head_object(Bucket=s3_bucket, Key="t/enc.dcm", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ChecksumSHA256"]


def test_s3_delete_removes_every_version(s3_server: object, s3_bucket: str) -> None:
    import boto3

    url = s3_server.url  # type: ignore[attr-defined]
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    store = S3Storage(
        S3Config(
            bucket=s3_bucket,
            region="eu-west-1",
            destination=NL,
            endpoint_url=url,
            access_key_id="test",
            secret_access_key="test",
        )
    )
    store.put("t/v.dcm", b"v1", sha256=_sha(b"v1"))
    client.delete_object(Bucket=s3_bucket, Key="t/v.dcm")  # leaves a delete marker
    client.put_object(Bucket=s3_bucket, Key="t/v.dcm", Body=b"v2")
    store.delete("t/v.dcm")
    versions = client.list_object_versions(Bucket=s3_bucket, Prefix="t/v.dcm")
    assert versions.get("Versions", []) == []
    assert versions.get("DeleteMarkers", []) == []


def test_s3_unreachable_is_storage_unavailable() -> None:
    store = S3Storage(
        S3Config(
            bucket="deid-none",
            region="eu-west-1",
            destination=NL,
            endpoint_url="http://127.0.0.1:9",
            access_key_id="test",
            secret_access_key="test",
            connect_timeout=0.5,
            read_timeout=0.5,
            max_attempts=1,
        )
    )
    with pytest.raises(StorageUnavailable):
        store.put("t/a.dcm", b"x", sha256=_sha(b"x"))
    with pytest.raises(StorageUnavailable):
        store.ping()


def test_put_from_a_file_streams_it(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "spooled.dcm"
    data = bytes(range(256)) * 5000
    source.write_bytes(data)
    result = storage.put("t1/from-file.dcm", source, sha256=_sha(data))
    assert result.created
    assert result.info.size == len(data)
    assert storage.get("t1/from-file.dcm") == data


def test_local_storage_remakes_a_folder_removed_behind_its_back(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects")
    storage.put("t1/s/a.dcm", b"first", sha256=_sha(b"first"))
    storage.delete("t1/s/a.dcm")
    (tmp_path / "objects" / "t1" / "s").rmdir()  # an operator tidies empty folders
    storage.put("t1/s/b.dcm", b"second", sha256=_sha(b"second"))
    assert storage.get("t1/s/b.dcm") == b"second"

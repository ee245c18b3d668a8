"""S3 storage through boto3: any region, optional S3-compatible endpoint.

Every put sends a SHA-256 checksum and ``If-None-Match: *``, so the server rejects a
corrupted upload and a retry can never overwrite a stored object; the checksum the server
reports back is compared with ours before the put counts as done.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from anonymizer.errors import ObjectConflict, ObjectNotFound, StorageError, StorageUnavailable
from anonymizer.storage.base import (
    Destination,
    ObjectInfo,
    PutResult,
    check_key,
    data_sha256,
    data_size,
)

_PRECONDITION = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Config:
    """Where and how to store. ``sse`` is ``AES256`` (SSE-S3), ``aws:kms`` or None."""

    bucket: str
    region: str
    destination: Destination
    endpoint_url: str | None = None
    sse: str | None = "AES256"
    kms_key_id: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3


class S3Storage:
    """Objects in one bucket, under an optional key prefix."""

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.destination = config.destination
        self._client: Any = boto3.client(
            "s3",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            config=Config(
                # We send our own SHA-256; CRC defaults break S3-compatible servers
                # (botocore >= 1.36, see standards-notes.md).
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                retries={"max_attempts": config.max_attempts, "mode": "standard"},
            ),
        )

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.config.prefix}{key}"

    def put(self, key: str, data: bytes | Path, *, sha256: str) -> PutResult:
        full = self._key(key)
        if data_sha256(data) != sha256:
            raise ObjectConflict("the data does not match the checksum sent with it")
        checksum = base64.b64encode(binascii.unhexlify(sha256)).decode("ascii")
        extra: dict[str, str] = {}
        if self.config.sse:
            extra["ServerSideEncryption"] = self.config.sse
        if self.config.kms_key_id:
            extra["SSEKMSKeyId"] = self.config.kms_key_id
        size = data_size(data)
        info = ObjectInfo(key=key, size=size, sha256=sha256)
        body: Any = data.open("rb") if isinstance(data, Path) else data
        try:
            self._client.put_object(
                Bucket=self.config.bucket,
                Key=full,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                IfNoneMatch="*",
                ContentType="application/octet-stream",
                Metadata={"sha256": sha256},
                **extra,
            )
            created = True
        except ClientError as exc:
            if _code(exc) not in _PRECONDITION:
                raise _translate(exc) from None
            created = False
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 unreachable ({type(exc).__name__})") from None
        finally:
            if not isinstance(body, bytes):
                body.close()
        stored = self.head(key)
        if stored is None or stored.sha256 != sha256 or stored.size != size:
            if created:
                raise StorageError("S3 reports a different checksum than the one sent")
            raise ObjectConflict("a different object is already stored under this key")
        return PutResult(info=info, created=created)

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.config.bucket, Key=self._key(key))
            return bytes(response["Body"].read())
        except ClientError as exc:
            raise _translate(exc) from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 unreachable ({type(exc).__name__})") from None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._client.head_object(
                Bucket=self.config.bucket, Key=self._key(key), ChecksumMode="ENABLED"
            )
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise _translate(exc) from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 unreachable ({type(exc).__name__})") from None
        return ObjectInfo(key=key, size=int(response["ContentLength"]), sha256=_sha256_of(response))

    def delete(self, key: str) -> None:
        """Delete every version and delete marker of the key (versioned buckets too)."""
        full = self._key(key)
        try:
            pages = self._client.get_paginator("list_object_versions").paginate(
                Bucket=self.config.bucket, Prefix=full
            )
            victims = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for page in pages
                for kind in ("Versions", "DeleteMarkers")
                for entry in page.get(kind, [])
                if entry["Key"] == full
            ]
            if not victims:
                raise ObjectNotFound("no object under this key")
            for victim in victims:
                self._client.delete_object(Bucket=self.config.bucket, **victim)
        except ClientError as exc:
            raise _translate(exc) from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 unreachable ({type(exc).__name__})") from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        start = f"{self.config.prefix}{prefix}"
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=start
            )
            for page in pages:
                for entry in page.get("Contents", []):
                    key = entry["Key"][len(self.config.prefix) :]
                    info = self.head(key)
                    if info is not None:
                        yield info
        except ClientError as exc:
            raise _translate(exc) from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 unreachable ({type(exc).__name__})") from None

    def ping(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.config.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"S3 bucket not reachable ({type(exc).__name__})") from None


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


def _translate(exc: ClientError) -> StorageError:
    code = _code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _MISSING:
        return ObjectNotFound("no object under this key")
    if status >= 500 or code in {"SlowDown", "ServiceUnavailable", "InternalError"}:
        return StorageUnavailable(f"S3 error {code}")
    return StorageError(f"S3 refused the request ({code})")


def _sha256_of(response: dict[str, Any]) -> str:
    checksum = response.get("ChecksumSHA256")
    if checksum and "-" not in checksum:
        return binascii.hexlify(base64.b64decode(checksum)).decode("ascii")
    return str(response.get("Metadata", {}).get("sha256", ""))

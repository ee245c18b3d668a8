"""The pseudonym key: the re-identification secret, kept apart from the data.

A key file is JSON: ``{"key_id": "k-...", "secret": "<base64, 32 bytes>", "created": "..."}``.
The key id is recorded in every output (De-identification Method) so a data set says which
key made it, without saying anything about the key itself.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from anonymizer.errors import KeyInvalid

_MIN_SECRET = 16


@dataclass(frozen=True, repr=False)
class PseudonymKey:
    """An HMAC-SHA256 key and its public id. ``repr`` never shows the secret."""

    key_id: str
    secret: bytes
    ephemeral: bool = False

    def __post_init__(self) -> None:
        if len(self.secret) < _MIN_SECRET:
            raise KeyInvalid(f"key {self.key_id!r} is shorter than {_MIN_SECRET} bytes")

    def __repr__(self) -> str:
        return f"PseudonymKey(key_id={self.key_id!r}, ephemeral={self.ephemeral})"

    @classmethod
    def generate(cls) -> PseudonymKey:
        """A new random 256-bit key."""
        secret = secrets.token_bytes(32)
        return cls(key_id=_key_id(secret), secret=secret)

    @classmethod
    def throwaway(cls) -> PseudonymKey:
        """A random key that is never written anywhere: pseudonyms differ on every run."""
        secret = secrets.token_bytes(32)
        return cls(key_id="ephemeral", secret=secret, ephemeral=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PseudonymKey:
        """Read a key file written by :meth:`write` or ``anonymizer keygen``."""
        try:
            data = json.loads(Path(path).read_text("utf-8"))
            secret = base64.b64decode(data["secret"], validate=True)
            key_id = str(data["key_id"])
        except FileNotFoundError:
            raise KeyInvalid(f"key file {os.fspath(path)!r} does not exist") from None
        except (OSError, ValueError, KeyError, TypeError, binascii.Error):
            raise KeyInvalid(
                f"key file {os.fspath(path)!r} is not a key written by 'anonymizer keygen'"
            ) from None
        return cls(key_id=key_id, secret=secret)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the key file readable by its owner only; never overwrites."""
        data = {
            "key_id": self.key_id,
            "secret": base64.b64encode(self.secret).decode("ascii"),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")


def _key_id(secret: bytes) -> str:
    # The id is a hash of a hash: it names the key without helping anyone guess it.
    return "k-" + hashlib.sha256(b"key-id\0" + hashlib.sha256(secret).digest()).hexdigest()[:16]

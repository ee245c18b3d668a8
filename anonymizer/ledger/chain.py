"""The hash chain: each row's hash covers its fields and the previous row's hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "seq",
    "recorded_at",
    "event",
    "tenant",
    "object_key",
    "size",
    "sha256",
    "items",
    "destination_country",
    "destination_region",
    "recipient",
    "recipient_contact",
    "method",
    "purpose",
    "retention",
    "request_id",
    "profile",
    "key_id",
)


def row_hash(fields: Mapping[str, object], prev_hash: str) -> str:
    """SHA-256 of the previous hash and the row's fields as canonical JSON."""
    payload = json.dumps(
        {name: fields[name] for name in CHAINED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()

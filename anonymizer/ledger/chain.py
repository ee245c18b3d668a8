"""The hash chain: each row's hash covers its fields and the previous row's hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: ``ok`` and where it first broke, if it did."""

    rows: int
    ok: bool
    first_bad_seq: int | None
    problem: str | None


def row_hash(
    fields: Mapping[str, object], prev_hash: str, names: Sequence[str] = CHAINED_FIELDS
) -> str:
    """SHA-256 of the previous hash and the row's ``names`` fields as canonical JSON."""
    payload = json.dumps(
        {name: fields[name] for name in names},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def verify_rows(rows: Iterable[Any], names: Sequence[str] = CHAINED_FIELDS) -> ChainReport:
    """Recompute every hash in ``seq`` order: an edited, removed or inserted row breaks it."""
    prev = GENESIS
    count = 0
    for row in rows:
        count += 1
        fields = {name: getattr(row, name) for name in names}
        if row.seq != count:
            return ChainReport(count, False, row.seq, f"row {count} is missing")
        if row.prev_hash != prev:
            return ChainReport(count, False, row.seq, "previous-hash link broken")
        if row_hash(fields, prev, names) != row.row_hash:
            return ChainReport(count, False, row.seq, "row content does not match its hash")
        prev = row.row_hash
    return ChainReport(count, True, None, None)

"""Keyed, deterministic replacements: UIDs, patient IDs, names and date shifts.

Each is HMAC-SHA256 under the pseudonym key of a domain-separated input, so the same input
gives the same output on any worker and any day, with no shared table, and nobody without
the key can confirm a guess (PS3.15 E.1.1 warns against unkeyed hashes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from anonymizer.keys import PseudonymKey

_UID_CACHE_LIMIT = 100_000


class Pseudonymizer:
    """Compute pseudonyms under one key. Cheap to build; caches UIDs it has mapped."""

    def __init__(self, key: PseudonymKey, *, shift_days: tuple[int, int] = (-730, -1)) -> None:
        low, high = shift_days
        if low > high or low <= 0 <= high:
            # An unshifted date is not modified (PS3.15 113107), so 0 must not be drawn.
            raise ValueError("shift_days must be (low, high), low <= high, not containing 0")
        self.key = key
        self.shift_days = shift_days
        self._uids: dict[str, str] = {}

    def _digest(self, domain: bytes, value: str) -> bytes:
        message = domain + b"\0" + value.encode("utf-8")
        return hmac.new(self.key.secret, message, hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """A ``2.25.`` UID (a version 8 UUID as decimal) for ``original``.

        PS3.5 B.2: at most 39 digits after ``2.25.``, no leading zero.
        """
        cached = self._uids.get(original)
        if cached is not None:
            return cached
        raw = bytearray(self._digest(b"uid", original)[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80  # UUID version 8 (custom)
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
        mapped = "2.25." + str(int.from_bytes(raw, "big"))
        if len(self._uids) >= _UID_CACHE_LIMIT:
            self._uids.clear()
        self._uids[original] = mapped
        return mapped

    def patient_id(self, original: str, issuer: str = "") -> str:
        """A 16-character patient pseudonym, ``P`` plus base32, for ID and issuer."""
        digest = self._digest(b"patient-id", f"{issuer}\0{original}")
        return "P" + base64.b32encode(digest).decode("ascii")[:15]

    def patient_name(self, patient_pseudonym: str) -> str:
        """The patient's name becomes ``ANON^<patient pseudonym>``, tied to the ID."""
        return f"ANON^{patient_pseudonym}"

    def token(self, domain: str, original: str, length: int = 16) -> str:
        """A short upper-case token for any other identifier (AE titles, device names)."""
        digest = self._digest(domain.encode("ascii"), original)
        return base64.b32encode(digest).decode("ascii")[:length]

    def date_shift(self, patient_key: str) -> int:
        """Days to add to every date of this patient: one value per patient and key."""
        low, high = self.shift_days
        digest = self._digest(b"date-shift", patient_key)
        return low + int.from_bytes(digest[:8], "big") % (high - low + 1)

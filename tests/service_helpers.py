"""Shared helpers of the service tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Keys:
    """API keys made for one test: clinic-a with each scope, and clinic-b with all."""

    upload: str
    read: str
    admin: str
    other_tenant: str
    reader_only: str


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

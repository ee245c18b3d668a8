"""Response shapes of the JSON API (shown as they are in the OpenAPI docs)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class FileStatus(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class FileResult(BaseModel):
    """What happened to one uploaded file (or one member of an uploaded archive)."""

    file: str = Field(description="The uploaded file name, with the member path for archives")
    status: FileStatus
    key: str | None = Field(default=None, description="Storage key of the de-identified object")
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    sop_instance_uid: str | None = None
    removed: int = 0
    replaced: int = 0
    uids_mapped: int = 0
    pixels_cleaned: bool = False
    size: int | None = None
    sha256: str | None = None
    warnings: list[str] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="Machine-readable rejection reason")
    message: str | None = Field(
        default=None, description="Why it was rejected (never holds values)"
    )


class UploadResponse(BaseModel):
    request_id: str
    profile: str
    stored: int
    rejected: int
    files: list[FileResult]


class LedgerRow(BaseModel):
    seq: int
    recorded_at: str
    event: str
    tenant: str
    object_key: str
    size: int
    sha256: str
    items: list[str]
    destination_country: str
    destination_region: str
    recipient: str
    recipient_contact: str
    method: str
    purpose: str
    retention: str
    request_id: str
    profile: str
    key_id: str
    prev_hash: str
    row_hash: str

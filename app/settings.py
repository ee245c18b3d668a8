"""Service settings from ``ANONYMIZER_*`` environment variables (pydantic-settings).

With nothing set, the service runs on its embedded defaults: a data directory under the
working directory holding local storage, the SQLite database and the pseudonym key.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from anonymizer.retention import RetentionPolicies

_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "example", "xxx", "todo"}


class StorageKind(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="ANONYMIZER_", extra="ignore", frozen=True)

    data_dir: Path = Path("anonymizer-data")
    database_url: SecretStr | None = None
    key_file: Path | None = None
    storage: StorageKind = StorageKind.LOCAL

    s3_bucket: str = ""
    s3_region: str = "eu-west-1"
    s3_endpoint_url: str | None = None
    s3_sse: str | None = "AES256"
    s3_kms_key_id: str | None = None
    s3_prefix: str = ""
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None

    destination_country: str = "(local)"
    destination_region: str = "(local directory)"
    recipient_name: str = "(this service)"
    recipient_contact: str = ""
    transfer_method: str = "HTTPS upload, stored by the service"
    purpose: str = "storage of de-identified medical images for analysis"
    retention: str = "as agreed with the controller"

    default_profile: str = "basic"
    allowed_profiles: list[str] = Field(
        default_factory=lambda: ["basic", "research", "ai-upload", "keep-list"]
    )
    cors_origins: list[str] = Field(default_factory=list)
    public_url: str | None = None

    max_request_bytes: int = 2 << 30
    max_part_bytes: int = 1 << 30
    max_files: int = 1000
    max_header_bytes: int = 16 << 10
    max_archive_members: int = 10_000
    max_inflated_bytes: int = 4 << 30
    max_compression_ratio: int = 200

    retention_policies: dict[str, dict[str, str]] = Field(default_factory=dict)
    retention_schedule_hours: float = Field(default=0.0, ge=0)
    retention_approver: str = "scheduled retention task"
    access_log_retention_days: int = Field(default=730, ge=365)

    @field_validator("database_url", "s3_secret_access_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("looks like a placeholder; set a real value")
        return value

    @field_validator("retention_policies")
    @classmethod
    def _valid_policies(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        RetentionPolicies.from_mapping(value)  # raises PolicyInvalid, a ValueError
        return value

    @property
    def policies(self) -> RetentionPolicies:
        return RetentionPolicies.from_mapping(self.retention_policies)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir.resolve() / 'anonymizer.db'}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "pseudonym.key"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()

"""Storage backends: local directory (default), S3 through boto3, and memory (tests)."""

from anonymizer.storage.base import Destination, ObjectInfo, PutResult, Storage, check_key
from anonymizer.storage.local import LocalStorage
from anonymizer.storage.memory import MemoryStorage

__all__ = [
    "Destination",
    "LocalStorage",
    "MemoryStorage",
    "ObjectInfo",
    "PutResult",
    "Storage",
    "check_key",
]

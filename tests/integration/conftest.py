"""Integration tests run against real servers on loopback (see tests/servers.py)."""

from servers import postgres_url, s3_bucket, s3_server

__all__ = ["postgres_url", "s3_bucket", "s3_server"]

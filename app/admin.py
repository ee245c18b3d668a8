"""What the service's operators run from the command line: serve, API keys, the ledger.

Called by ``anonymizer serve|keys|ledger`` (see ``anonymizer/cli.py``), which import this
module only when one of those commands runs, so the library itself never loads the web
framework. Settings come from the same ``ANONYMIZER_*`` variables as the service.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from contextlib import closing
from dataclasses import asdict
from typing import TextIO

from anonymizer.apikeys import ApiKeys, Scope
from anonymizer.ledger import Ledger, row_as_dict
from anonymizer.ledger.reconcile import AuditReport, audit, reconcile
from app.services import build_services
from app.settings import get_settings


def serve(*, host: str, port: int, out: TextIO, workers: int = 1) -> None:
    """Run the service with uvicorn on the embedded defaults or the environment's settings.

    With ``workers`` > 1, uvicorn runs that many processes, each building its own parts
    from the same settings; this process first makes the key and the schema, so they
    never race to.
    """
    import uvicorn  # noqa: PLC0415 - only the serving process needs it

    from app.main import create_app  # noqa: PLC0415
    from app.observability import configure_logging  # noqa: PLC0415

    settings = get_settings()
    services = build_services(settings)
    configure_logging(logging.INFO)
    where = (
        f"S3 bucket {settings.s3_bucket} ({settings.s3_region})"
        if settings.storage.value == "s3"
        else f"{settings.objects_dir.resolve()}"
    )
    processes = f", {workers} worker processes" if workers > 1 else ""
    print(
        f"upload anonymizer on http://{host}:{port}  (OpenAPI docs: /docs){processes}",
        file=out,
    )
    print(f"  data directory: {settings.data_dir.resolve()}", file=out)
    print(f"  objects:        {where}", file=out)
    print(f"  database:       {_safe_url(settings.resolved_database_url)}", file=out)
    print(f"  pseudonym key:  {settings.resolved_key_file.resolve()} (keep it apart)", file=out)
    if not services.api_keys.list():
        print(
            "  no API key yet: anonymizer keys create --tenant demo --scopes upload,read",
            file=out,
        )
    out.flush()
    if workers > 1:
        services.close()
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
        return
    try:
        uvicorn.run(
            create_app(services=services),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
    finally:
        services.close()


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _ledger() -> Ledger:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Ledger(settings.resolved_database_url)


def create_key(*, tenant: str, scopes: str, label: str) -> tuple[str, str]:
    """Make an API key; returns (token, key id)."""
    parsed = frozenset(Scope(s.strip()) for s in scopes.split(",") if s.strip())
    with _ledger() as ledger:
        token, principal = ApiKeys(ledger.engine).create(tenant=tenant, scopes=parsed, label=label)
    return token, principal.key_id


def list_keys(*, tenant: str | None) -> list[dict[str, str | None]]:
    with _ledger() as ledger:
        rows = ApiKeys(ledger.engine).list(tenant=tenant)
    return [
        {
            "key_id": r.key_id,
            "tenant": r.tenant,
            "scopes": r.scopes,
            "label": r.label,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]


def revoke_key(key_id: str) -> bool:
    with _ledger() as ledger:
        return ApiKeys(ledger.engine).revoke(key_id)


def verify_ledger(*, tenant: str | None, repair: bool) -> AuditReport:
    """Prove the chain and cross-check storage; with ``repair``, reconcile first."""
    services = build_services(get_settings())
    try:
        if repair:
            return reconcile(services.ledger, services.storage)
        return audit(services.ledger, services.storage, tenant=tenant)
    finally:
        services.close()


def export_ledger(*, fmt: str, since: dt.datetime | None, tenant: str | None) -> str:
    """The disclosure record as CSV or JSON."""
    with _ledger() as ledger, closing(ledger.rows(tenant=tenant, since=since)) as rows:
        data = [row_as_dict(row) for row in rows]
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    if data:
        writer = csv.DictWriter(out, fieldnames=list(data[0]))
        writer.writeheader()
        for row in data:
            writer.writerow({**row, "items": "; ".join(row["items"])})
    return out.getvalue()


def report_dict(report: AuditReport) -> dict[str, object]:
    return {
        "chain": asdict(report.chain),
        "rows_checked": report.rows_checked,
        "objects_checked": report.objects_checked,
        "missing_objects": report.missing_objects,
        "checksum_mismatches": report.checksum_mismatches,
        "orphan_objects": report.orphan_objects,
        "mismatches": report.mismatches,
        "ok": report.ok,
    }

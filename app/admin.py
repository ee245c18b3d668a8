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

from anonymizer.access_log import AdminAction, Outcome
from anonymizer.apikeys import Scope
from anonymizer.ledger import row_as_dict
from anonymizer.ledger.reconcile import AuditReport, audit, reconcile
from app.admin_retention import LOCAL, open_services, operator
from app.services import Services, build_services
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

    configure_logging(logging.INFO)  # first: building the services may log already
    settings = get_settings()
    services = build_services(settings)
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
            "app.main:create_worker_app",
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


def create_key(*, tenant: str, scopes: str, label: str) -> tuple[str, str]:
    """Make an API key; returns (token, key id). Recorded in the access log."""
    parsed = frozenset(Scope(s.strip()) for s in scopes.split(",") if s.strip())
    with open_services() as services:
        token, principal = services.api_keys.create(tenant=tenant, scopes=parsed, label=label)
        _record(services, AdminAction.API_KEY_CREATE, tenant=tenant, request_id=principal.key_id)
    return token, principal.key_id


def list_keys(*, tenant: str | None) -> list[dict[str, str | None]]:
    with open_services() as services:
        rows = services.api_keys.list(tenant=tenant)
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
    with open_services() as services:
        revoked = services.api_keys.revoke(key_id)
        _record(
            services,
            AdminAction.API_KEY_REVOKE,
            tenant=None,
            request_id=key_id,
            outcome=Outcome.OK if revoked else Outcome.NOT_FOUND,
        )
    return revoked


def verify_ledger(*, tenant: str | None, repair: bool) -> AuditReport:
    """Prove the chain and cross-check storage; with ``repair``, reconcile first."""
    with open_services() as services:
        if repair:
            report = reconcile(services.ledger, services.storage)
        else:
            report = audit(services.ledger, services.storage, tenant=tenant)
        action = AdminAction.LEDGER_REPAIR if repair else AdminAction.LEDGER_VERIFY
        _record(services, action, tenant=tenant)
    return report


def export_ledger(*, fmt: str, since: dt.datetime | None, tenant: str | None) -> str:
    """The disclosure record as CSV or JSON (the export itself is recorded)."""
    with open_services() as services:
        with closing(services.ledger.rows(tenant=tenant, since=since)) as rows:
            data = [row_as_dict(row) for row in rows]
        _record(services, AdminAction.LEDGER_EXPORT, tenant=tenant)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    if data:
        writer = csv.DictWriter(out, fieldnames=list(data[0]))
        writer.writeheader()
        for row in data:
            writer.writerow({**row, "items": "; ".join(row["items"])})
    return out.getvalue()


def _record(
    services: Services,
    action: AdminAction,
    *,
    tenant: str | None,
    request_id: str = "",
    outcome: Outcome = Outcome.OK,
) -> None:
    services.privacy.record_action(
        action,
        tenant=tenant,
        actor=operator(),
        client=LOCAL,
        now=dt.datetime.now(dt.UTC),
        request_id=request_id,
        outcome=outcome,
    )


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

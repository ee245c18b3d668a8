"""What ``anonymizer retention|subjects|audit|tenant-keys`` run (see ``cli_retention.py``).

Each builds the service's parts from the ``ANONYMIZER_*`` settings, acts, records the
action in the access log as ``cli:<operating-system user>`` from ``local``, and closes.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict
from typing import Any

from anonymizer.access_log import AdminAction, access_row_dict
from anonymizer.privacy import RetentionReport
from anonymizer.subjects import RequestKind, SubjectResult
from app.services import Services, build_services
from app.settings import get_settings

LOCAL = "local"
_ACTIONS = {
    RequestKind.LOOKUP: AdminAction.SUBJECT_LOOKUP,
    RequestKind.SUSPEND: AdminAction.SUBJECT_SUSPEND,
    RequestKind.RELEASE: AdminAction.SUBJECT_RELEASE,
    RequestKind.ERASE: AdminAction.SUBJECT_ERASE,
}


def operator() -> str:
    """``cli:<user>``: who ran the command, as far as the system knows."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def open_services() -> Iterator[Services]:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    services = build_services(settings)
    try:
        yield services
    finally:
        services.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_retention(
    *, approved_by: str, tenant: str | None, dry_run: bool, as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """Destroy what is due (or, dry, list it); ``as_of`` is only for dry runs."""
    if as_of is not None and not dry_run:
        raise ValueError("--as-of is only for dry runs: destruction uses the real time")
    with open_services() as services:
        report = services.privacy.run_retention(
            approved_by=approved_by,
            now=as_of or _now(),
            tenant=tenant,
            dry_run=dry_run,
            actor=operator(),
            client=LOCAL,
        )
    return retention_dict(report)


def retention_dict(report: RetentionReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "dry_run": report.dry_run,
        "as_of": report.now.isoformat(),
        "policies": list(report.policies),
        "due": [
            {
                "tenant": d.object.tenant,
                "object_key": d.object.key,
                "category": str(d.object.category),
                "stored_at": d.object.stored_at.isoformat(),
                "deadline": d.deadline.isoformat(),
                "held": d.held,
            }
            for d in report.due
        ],
        "destroyed": list(report.destroyed),
        "held": list(report.held),
        "failed": list(report.failed),
        "ledger_rows_past_retention": report.ledger_rows_past_retention,
        "key_generations_destroyed": report.generations_destroyed,
        "ok": report.ok,
    }


def policies() -> dict[str, str]:
    """The effective policy of the default and of each configured tenant."""
    configured = get_settings().policies
    shown = {"*": configured.default.describe()}
    shown.update({name: p.describe() for name, p in sorted(configured.tenants.items())})
    return shown


def subject_request(
    kind: RequestKind, *, tenant: str, patient_id: str, issuer: str
) -> dict[str, Any]:
    """Look up, suspend, release or erase one person's objects."""
    actor = operator()
    with open_services() as services:
        result = services.privacy.subjects.handle(
            kind, tenant=tenant, patient_id=patient_id, issuer=issuer, actor=actor
        )
        services.privacy.record_action(
            _ACTIONS[kind],
            tenant=tenant,
            actor=actor,
            client=LOCAL,
            now=_now(),
            objects=tuple(o.object_key for o in result.objects),
            request_id=result.request_id,
        )
    return subject_dict(result)


def subject_dict(result: SubjectResult) -> dict[str, Any]:
    return {
        "request_id": result.request_id,
        "kind": str(result.kind),
        "generations": list(result.generations),
        "held": result.held,
        "objects": [asdict(o) for o in result.objects],
        "destroyed": list(result.destroyed),
    }


def verify_audit() -> dict[str, Any]:
    """Prove the access log's chain."""
    settings = get_settings()
    with open_services() as services:
        report = services.privacy.access_log.verify_chain()
    return {**asdict(report), "retention_days": settings.access_log_retention_days}


def export_audit(
    *, fmt: str, since: dt.datetime | None, until: dt.datetime | None, tenant: str | None
) -> str:
    """The access log for a review period, as CSV or JSON; the export is itself recorded."""
    with open_services() as services:
        log = services.privacy.access_log
        with closing(log.rows(tenant=tenant, since=since, until=until)) as rows:
            data = [access_row_dict(row) for row in rows]
        services.privacy.record_action(
            AdminAction.AUDIT_EXPORT, tenant=tenant, actor=operator(), client=LOCAL, now=_now()
        )
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        fieldnames=[
            "seq",
            "recorded_at",
            "tenant",
            "actor",
            "action",
            "objects",
            "query",
            "client",
            "outcome",
            "request_id",
            "prev_hash",
            "row_hash",
        ],
    )
    writer.writeheader()
    for row in data:
        target = row.pop("target")
        writer.writerow(
            {
                **row,
                "objects": " ".join(target.get("objects", [])),
                "query": json.dumps(target.get("query", {}), sort_keys=True),
            }
        )
    return out.getvalue()


def key_generations(tenant: str) -> list[dict[str, Any]]:
    """The tenant's key generations (ids and dates; never secrets)."""
    with open_services() as services:
        found = services.privacy.tenant_keys.generations(tenant)
    return [{**asdict(g), "status": str(g.status)} for g in found]


def rotate_key(tenant: str) -> dict[str, Any]:
    """Start the tenant's next key generation; new uploads use it at once."""
    with open_services() as services:
        now = _now()
        made = services.privacy.tenant_keys.rotate(tenant, now=now)
        services.privacy.record_action(
            AdminAction.KEY_ROTATE,
            tenant=tenant,
            actor=operator(),
            client=LOCAL,
            now=now,
            request_id=f"g{made.generation}",
        )
    return {**asdict(made), "status": str(made.status)}

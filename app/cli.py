"""The ``anonymizer`` console script: the library's commands plus the service's.

``anonymizer/cli.py`` holds the library's commands (anonymize, profiles, keygen, demo)
and never imports the service; this module adds ``serve``, ``keys`` and ``ledger``, whose
back-ends (``app.admin``) load only when one of them runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from anonymizer.cli import UsageProblem, cli
from app.cli_retention import audit, retention, subjects, tenant_keys

_FAILED = 1


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes (one per core; scheduled retention must then stay off).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Run the upload service (ANONYMIZER_* variables configure it; defaults: local)."""
    from app import admin  # noqa: PLC0415 - loaded only when the command runs

    admin.serve(host=host, port=port, out=sys.stdout, workers=workers)


@cli.group()
def keys() -> None:
    """Manage the service's API keys."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant the key belongs to.")
@click.option(
    "--scopes", default="upload", show_default=True, help="Comma list of upload, read, admin."
)
@click.option("--label", default="", help="A note to recognise the key by.")
def keys_create(tenant: str, scopes: str, label: str) -> None:
    """Make an API key; the token is shown once."""
    from app import admin  # noqa: PLC0415

    try:
        token, key_id = admin.create_key(tenant=tenant, scopes=scopes, label=label)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    click.echo(token)
    click.echo(
        f"key id {key_id} for tenant {tenant}: store the token now, it is not kept", err=True
    )


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
def keys_list(tenant: str | None) -> None:
    """List API keys (ids, tenants, scopes; never secrets)."""
    from app import admin  # noqa: PLC0415

    for row in admin.list_keys(tenant=tenant):
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(f"{row['key_id']}  {row['tenant']:<16} {row['scopes']:<20} {state}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id."""
    from app import admin  # noqa: PLC0415

    if not admin.revoke_key(key_id):
        raise UsageProblem(f"no active key with id {key_id}")
    click.echo(f"revoked {key_id}")


@cli.group()
def ledger() -> None:
    """Verify and export the transfer ledger."""


@ledger.command("verify")
@click.option("--tenant", default=None, help="Cross-check only this tenant's objects.")
@click.option("--repair", is_flag=True, help="Delete orphan objects (never acknowledged) first.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ledger_verify(tenant: str | None, repair: bool, as_json: bool) -> None:
    """Prove the hash chain; check every row's object and every object's row."""
    import json  # noqa: PLC0415

    from app import admin  # noqa: PLC0415

    report = admin.verify_ledger(tenant=tenant, repair=repair)
    if as_json:
        click.echo(json.dumps(admin.report_dict(report), indent=2))
    else:
        chain = "ok" if report.chain.ok else f"BROKEN at row {report.chain.first_bad_seq}"
        click.echo(
            f"chain {chain} ({report.chain.rows} rows); {report.objects_checked} objects; "
            f"{len(report.missing_objects)} missing, {len(report.checksum_mismatches)} "
            f"checksum mismatches, {len(report.orphan_objects)} without a row"
        )
    if not report.ok:
        sys.exit(_FAILED)


@ledger.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--since", type=click.DateTime(), default=None, help="From this time (UTC).")
@click.option("--tenant", default=None, help="Only this tenant's rows.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def ledger_export(fmt: str, since: Any, tenant: str | None, output: Path | None) -> None:
    """Write the disclosure record of transfers (CSV or JSON)."""
    import datetime as dt  # noqa: PLC0415

    from app import admin  # noqa: PLC0415

    moment = since.replace(tzinfo=dt.UTC) if since is not None else None
    text = admin.export_ledger(fmt=fmt, since=moment, tenant=tenant)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, "utf-8")


for _group in (retention, subjects, audit, tenant_keys):
    cli.add_command(_group)


def main() -> None:
    """Entry point of the ``anonymizer`` console script."""
    cli(prog_name="anonymizer")


if __name__ == "__main__":
    main()

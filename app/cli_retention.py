"""``anonymizer retention|subjects|audit|tenant-keys``: the privacy officer's commands.

They live beside ``app/cli.py`` (the service's commands) because the library never
imports the service; like those, they load their back-end (``app.admin_retention``) only
when run. A patient ID is never taken from the command line (it would stay in the shell
history and the process list): it is prompted for, hidden, or read from stdin.

Exit status: 0 done, 1 something failed (a broken chain, an object that could not be
destroyed), 2 usage errors.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from anonymizer.errors import DeidError

_FAILED = 1
_USAGE = 2


def _backend() -> Any:
    from app import admin_retention  # noqa: PLC0415 - the service loads only when needed

    return admin_retention


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _fail(message: str, code: int = _USAGE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _emit(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group()
def retention() -> None:
    """Destroy what is past its retention period."""


@retention.command("run")
@click.option("--approved-by", default="", help="Who approved this destruction (recorded).")
@click.option("--tenant", default=None, help="Only this tenant's objects.")
@click.option("--dry-run", is_flag=True, help="List what would be destroyed; destroy nothing.")
@click.option(
    "--as-of", type=click.DateTime(), default=None, help="Dry runs only: pretend it is then (UTC)."
)
def retention_run(approved_by: str, tenant: str | None, dry_run: bool, as_of: Any) -> None:
    """Select objects past their deadline, record the approval, destroy them."""
    if not dry_run and not approved_by.strip():
        _fail("--approved-by is required unless --dry-run")
    try:
        report = _backend().run_retention(
            approved_by=approved_by, tenant=tenant, dry_run=dry_run, as_of=_utc(as_of)
        )
    except (ValueError, DeidError) as exc:
        _fail(str(exc))
    _emit(report)
    if not report["ok"]:
        sys.exit(_FAILED)


@retention.command("policy")
def retention_policy() -> None:
    """Show the effective retention policies (default and per tenant)."""
    _emit(_backend().policies())


@click.group()
def subjects() -> None:
    """A data subject's requests: access, suspension, release, erasure."""


def _subject_command(kind: str, help_text: str) -> click.Command:
    @click.command(kind, help=help_text)
    @click.option("--tenant", required=True, help="The tenant holding the person's data.")
    @click.option("--issuer", default="", help="Issuer of Patient ID, if the data had one.")
    @click.option("--stdin", "from_stdin", is_flag=True, help="Read the patient ID from stdin.")
    @click.option("--yes", is_flag=True, help="Erase without asking again.")
    def command(tenant: str, issuer: str, from_stdin: bool, yes: bool) -> None:
        from anonymizer.subjects import RequestKind  # noqa: PLC0415

        if from_stdin:
            patient_id = sys.stdin.readline().strip()
        else:
            patient_id = click.prompt("Original patient ID", hide_input=True).strip()
        if not patient_id:
            _fail("a patient ID is required")
        if kind == "erase" and not yes:
            click.confirm(f"Destroy everything stored for this person in {tenant}?", abort=True)
        try:
            result = _backend().subject_request(
                RequestKind(kind), tenant=tenant, patient_id=patient_id, issuer=issuer
            )
        except DeidError as exc:
            _fail(str(exc))
        _emit(result)

    return command


for _kind, _help in (
    ("lookup", "List everything stored for one person (right of access)."),
    ("suspend", "Hold a person's objects: not served, not destroyed by retention."),
    ("release", "End a suspension."),
    ("erase", "Destroy everything stored for one person (right to erasure)."),
):
    subjects.add_command(_subject_command(_kind, _help))


@click.group()
def audit() -> None:
    """The access log: verify it, export it for review."""


@audit.command("verify")
def audit_verify() -> None:
    """Prove the access log's hash chain (exit 1 if broken)."""
    report = _backend().verify_audit()
    _emit(report)
    if not report["ok"]:
        sys.exit(_FAILED)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--since", type=click.DateTime(), default=None, help="From this time (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Before this time (UTC).")
@click.option("--tenant", default=None, help="Only this tenant's rows.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def audit_export(fmt: str, since: Any, until: Any, tenant: str | None, output: Path | None) -> None:
    """Write the access log of a period (the monthly review) as CSV or JSON."""
    text = _backend().export_audit(fmt=fmt, since=_utc(since), until=_utc(until), tenant=tenant)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, "utf-8")


@click.group("tenant-keys")
def tenant_keys() -> None:
    """Generations of the tenants' pseudonym keys."""


@tenant_keys.command("list")
@click.option("--tenant", required=True)
def tenant_keys_list(tenant: str) -> None:
    """Show a tenant's key generations (ids and dates, never secrets)."""
    _emit(_backend().key_generations(tenant))


@tenant_keys.command("rotate")
@click.option("--tenant", required=True)
def tenant_keys_rotate(tenant: str) -> None:
    """Start the next key generation; the old one stays for requests on old data."""
    try:
        _emit(_backend().rotate_key(tenant))
    except (ValueError, DeidError) as exc:
        _fail(str(exc))

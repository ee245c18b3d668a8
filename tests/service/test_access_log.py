"""The access log: every read and admin action recorded, chained, verifiable, redacted."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from privacy_helpers import ct, upload, wired_app
from service_helpers import Keys, auth
from sqlalchemy import text

from anonymizer.errors import LedgerError
from anonymizer.retention_models import AccessRow
from app import cli_retention
from app.retention_task import retention_loop, retention_schedule
from app.services import Services
from app.settings import Settings, get_settings

RAW_ID = "FAKE-ACCESS-0001"


@pytest.fixture
def app_client(services: Services) -> Iterator[TestClient]:
    with TestClient(wired_app(services)) as test_client:
        yield test_client


def _rows(services: Services) -> list[AccessRow]:
    return list(services.privacy.access_log.rows())


def test_a_wado_read_is_recorded_with_who_what_where_outcome(
    app_client: TestClient, services: Services, keys: Keys
) -> None:
    stored = upload(app_client, keys.upload, ct(patient_id=RAW_ID, study="1", sop="11"))
    assert _rows(services) == []  # uploads are the ledger's business
    response = app_client.get(
        f"/dicomweb/studies/{stored['study_instance_uid']}", headers=auth(keys.read)
    )
    assert response.status_code == 200
    (row,) = _rows(services)
    read_key = keys.read.split("_")[1]
    assert (row.tenant, row.actor, row.client, row.outcome) == (
        "clinic-a",
        read_key,
        "testclient",
        "ok",
    )
    assert row.action == "GET /dicomweb/studies/{study_uid}"
    target = json.loads(row.target)
    assert target["objects"] == [stored["key"]]
    assert target["query"] == {"study_uid": stored["study_instance_uid"]}
    assert row.request_id == response.headers["X-Request-ID"]


def test_refused_and_missing_reads_are_recorded_too(
    app_client: TestClient, services: Services, keys: Keys
) -> None:
    assert app_client.get("/dicomweb/studies/2.25.1").status_code == 401
    assert app_client.get("/dicomweb/studies/2.25.1", headers=auth(keys.read)).status_code == 404
    assert app_client.get("/v1/ledger", headers=auth(keys.read)).status_code == 403
    outcomes = [(r.actor, r.outcome) for r in _rows(services)]
    assert outcomes == [
        ("(none)", "denied"),
        (keys.read.split("_")[1], "not_found"),
        (
            keys.read.split("_")[1],
            "denied",
        ),
    ]


def test_search_and_ledger_export_are_recorded_and_raw_ids_redacted(
    app_client: TestClient, services: Services, keys: Keys
) -> None:
    upload(app_client, keys.upload, ct(patient_id=RAW_ID, study="1", sop="11"))
    app_client.get(f"/dicomweb/studies?PatientID={RAW_ID}&Modality=CT", headers=auth(keys.read))
    app_client.get(f"/dicomweb/studies?{RAW_ID}=1", headers=auth(keys.read))
    app_client.get("/v1/ledger?format=csv", headers=auth(keys.admin))
    search, odd, export = _rows(services)
    assert json.loads(search.target)["query"] == {"PatientID": "(redacted)", "Modality": "CT"}
    assert json.loads(odd.target)["query"] == {"(other parameters)": "1"}
    assert export.action == "GET /v1/ledger"
    assert json.loads(export.target)["query"] == {"format": "csv"}
    assert all(RAW_ID not in row.target for row in _rows(services))


def test_no_read_is_served_without_its_record(
    app_client: TestClient, services: Services, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = upload(app_client, keys.upload, ct(patient_id=RAW_ID, study="1", sop="11"))

    def broken(*_args: object, **_kwargs: object) -> int:
        raise LedgerError("access log unavailable (OperationalError)")

    monkeypatch.setattr(services.privacy.access_log, "append", broken)
    response = app_client.get(
        f"/dicomweb/studies/{stored['study_instance_uid']}", headers=auth(keys.read)
    )
    assert response.status_code == 503
    assert b"DICM" not in response.content


def test_audit_verify_passes_and_fails_after_an_edit_by_hand(
    app_client: TestClient, services: Services, keys: Keys
) -> None:
    for _ in range(3):
        app_client.get("/dicomweb/studies", headers=auth(keys.read))
    assert services.privacy.access_log.verify_chain().ok
    with services.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE access_log SET client = '10.0.0.9' WHERE seq = 2"))
    report = services.privacy.access_log.verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 2)
    with services.ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM access_log WHERE seq = 2"))
    assert services.privacy.access_log.verify_chain().problem == "row 2 is missing"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI back-ends read the same data directory as the ``services`` fixture."""
    monkeypatch.setenv("ANONYMIZER_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_cli_subject_erase_audit_verify_and_export(
    app_client: TestClient, services: Services, keys: Keys, tmp_path: Path
) -> None:
    stored = upload(app_client, keys.upload, ct(patient_id=RAW_ID, study="1", sop="11"))
    runner = CliRunner()
    erased = runner.invoke(
        cli_retention.subjects,
        ["erase", "--tenant", "clinic-a", "--issuer", "FAKE-ISSUER", "--stdin", "--yes"],
        input=f"{RAW_ID}\n",
    )
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output)["destroyed"] == [stored["key"]]
    assert services.storage.head(stored["key"]) is None

    verified = runner.invoke(cli_retention.audit, ["verify"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["ok"] is True

    out = tmp_path / "access.csv"
    exported = runner.invoke(
        cli_retention.audit, ["export", "--since", "2000-01-01", "-o", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    text_out = out.read_text("utf-8")
    assert "subject.erase" in text_out
    assert stored["key"] in text_out
    assert RAW_ID not in text_out
    actions = [r.action for r in _rows(services)]
    assert actions[-2:] == ["subject.erase", "audit.export"]

    with services.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE access_log SET actor = 'someone-else' WHERE seq = 1"))
    broken = runner.invoke(cli_retention.audit, ["verify"])
    assert broken.exit_code == 1
    assert json.loads(broken.output)["first_bad_seq"] == 1


def test_the_scheduled_task_runs_retention_with_its_standing_approval(
    services: Services,
) -> None:
    sleeps: list[float] = []

    async def one_tick(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 1:
            raise asyncio.CancelledError

    moment = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(retention_loop(services, hours=24, sleep=one_tick, clock=lambda: moment))
    assert sleeps == [86_400, 86_400]
    (row,) = _rows(services)
    assert (row.action, row.actor, row.client) == ("retention.run", "scheduled task", "service")
    assert row.recorded_at.startswith("2031-01-01")


def test_the_schedule_is_off_by_default(services: Services) -> None:
    async def started() -> object:
        async with retention_schedule(services) as task:
            return task

    assert asyncio.run(started()) is None


@pytest.mark.usefixtures("cli_env")
def test_cli_retention_and_tenant_keys(
    app_client: TestClient, services: Services, keys: Keys
) -> None:
    stored = upload(app_client, keys.upload, ct(patient_id=RAW_ID, study="1", sop="11"))
    runner = CliRunner()
    assert json.loads(runner.invoke(cli_retention.retention, ["policy"]).output) == {
        "*": "*: images=keep, reports=keep, ledger=keep"
    }
    dry = runner.invoke(cli_retention.retention, ["run", "--dry-run", "--as-of", "2999-01-01"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["due"] == []  # nothing is due without a policy
    unapproved = runner.invoke(cli_retention.retention, ["run"])
    assert unapproved.exit_code == 2
    pretend = runner.invoke(
        cli_retention.retention, ["run", "--approved-by", "Fake Officer", "--as-of", "2999-01-01"]
    )
    assert pretend.exit_code == 2  # destruction always uses the real time
    assert services.storage.head(stored["key"]) is not None

    rotated = runner.invoke(cli_retention.tenant_keys, ["rotate", "--tenant", "clinic-a"])
    assert rotated.exit_code == 0, rotated.output
    listed = json.loads(
        runner.invoke(cli_retention.tenant_keys, ["list", "--tenant", "clinic-a"]).output
    )
    assert [(g["generation"], g["status"]) for g in listed] == [(1, "retired"), (2, "current")]
    assert all("secret" not in g for g in listed)
    actions = [r.action for r in _rows(services)]
    assert actions == ["retention.dry_run", "tenant_key.rotate"]

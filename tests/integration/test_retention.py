"""Retention with a controlled clock: what is due is destroyed beyond recovery, nothing else.

On S3 (moto server, versioned bucket, with PostgreSQL) no version or delete marker of a
destroyed object is left; on local storage (with SQLite) the file is overwritten before it
is unlinked. Ledger rows and the access log record each run, and both chains verify until
a row is edited by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from anonymizer.catalog import Catalog, CatalogEntry
from anonymizer.keys import PseudonymKey
from anonymizer.ledger import Ledger, TransferRecord
from anonymizer.ledger.reconcile import audit
from anonymizer.privacy import ApprovalRequired, Privacy
from anonymizer.retention import RetentionPolicies
from anonymizer.retention_models import ApprovalRow
from anonymizer.storage import Destination, LocalStorage, Storage
from anonymizer.storage.s3 import S3Config, S3Storage
from anonymizer.tenant_keys import generation_key

pytestmark = pytest.mark.integration

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
MASTER = PseudonymKey(key_id="k-test", secret=b"m" * 32)
NL = Destination(
    country="NL",
    region="eu-west-1",
    recipient="Example Cloud B.V.",
    recipient_contact="privacy@example.invalid",
    method="HTTPS PUT to object storage",
)
POLICIES = RetentionPolicies.from_mapping(
    {
        "*": {"images": "30d", "reports": "60d", "ledger": "3650d"},
        "clinic-b": {"images": "keep", "reports": "keep", "ledger": "keep"},
    }
)
OLD = "clinic-a/2.25.1/2.25.11/2.25.111.dcm"  # stored at T0: due at T0 + 30 days
NEW = "clinic-a/2.25.2/2.25.21/2.25.211.dcm"  # stored at T0 + 10 days: not due
REPORT = "clinic-a/2.25.1/reports/2.25.119.json"  # a report, 60 days: not due
HELD = "clinic-a/2.25.3/2.25.31/2.25.311.dcm"  # due, but its patient is held
OTHER = "clinic-b/2.25.4/2.25.41/2.25.411.dcm"  # clinic-b keeps everything
HELD_PATIENT = "PAAAAAAAAAAAAAAA"


@dataclass
class World:
    storage: Storage
    ledger: Ledger
    privacy: Privacy
    versions: Any = None  # the S3 client, to list versions; None on local storage
    bucket: str = ""


def _s3_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(params=["local+sqlite", "s3+postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "local+sqlite":
        storage: Storage = LocalStorage(tmp_path / "objects", destination=NL)
        ledger = Ledger(f"sqlite:///{tmp_path / 'db.sqlite'}")
        client, bucket = None, ""
    else:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        client = _s3_client(server.url)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        storage = S3Storage(
            S3Config(
                bucket=bucket,
                region="eu-west-1",
                destination=NL,
                endpoint_url=server.url,
                access_key_id="test",
                secret_access_key="test",
            )
        )
        ledger = Ledger(request.getfixturevalue("postgres_url"))
    privacy = Privacy(storage=storage, ledger=ledger, master_key=MASTER, policies=POLICIES)
    yield World(storage, ledger, privacy, client, bucket)
    ledger.close()


def _store(world: World, key: str, *, at: dt.datetime, items: str = "medical images") -> None:
    tenant = key.split("/", maxsplit=1)[0]
    data = f"de-identified bytes of {key}".encode()
    sha = hashlib.sha256(data).hexdigest()
    if world.versions is not None:
        # an older version and a delete marker under the same key, as a versioned bucket keeps
        world.versions.put_object(Bucket=world.bucket, Key=key, Body=b"an older version")
        world.versions.delete_object(Bucket=world.bucket, Key=key)
    world.storage.put(key, data, sha256=sha)
    world.ledger.append(
        TransferRecord(
            tenant=tenant,
            object_key=key,
            size=len(data),
            sha256=sha,
            items=(items,),
            destination_country=NL.country,
            destination_region=NL.region,
            recipient=NL.recipient,
            recipient_contact=NL.recipient_contact,
            method=NL.method,
            purpose="AI analysis",
            retention="30 days",
            request_id="req-1",
            profile="basic",
            key_id=generation_key(MASTER, tenant, 1).key_id,
        ),
        now=at,
    )
    if key.endswith(".dcm"):
        study, series, sop = key.removesuffix(".dcm").split("/")[1:]
        Catalog(world.ledger.engine).add(
            CatalogEntry(
                tenant=tenant,
                study_uid=study,
                series_uid=series,
                sop_uid=sop,
                sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                modality="CT",
                study_date="20300101",
                patient_id=HELD_PATIENT if key == HELD else "PBBBBBBBBBBBBBBB",
                object_key=key,
                size=len(data),
                sha256=sha,
                attributes={},
            )
        )


def _versions(world: World, key: str) -> list[object]:
    if world.versions is None:
        return []
    found = world.versions.list_object_versions(Bucket=world.bucket, Prefix=key)
    return [*found.get("Versions", []), *found.get("DeleteMarkers", [])]


def _populate(world: World) -> None:
    _store(world, OLD, at=T0)
    _store(world, NEW, at=T0 + dt.timedelta(days=10))
    _store(world, REPORT, at=T0, items="analysis reports")
    _store(world, HELD, at=T0)
    _store(world, OTHER, at=T0)
    world.privacy.holds.place(
        tenant="clinic-a", patients={HELD_PATIENT}, request_id="sr_0", now="2030-01-01"
    )


def test_due_objects_are_destroyed_and_nothing_else(world: World) -> None:
    _populate(world)
    if world.versions is not None:
        assert len(_versions(world, OLD)) == 3  # the test's premise: old version, marker, ours
    linked = None
    if isinstance(world.storage, LocalStorage):
        # a second link to the file shows what unlinking alone would leave on disk
        linked = world.storage.root / "witness"
        os.link(world.storage.root / OLD, linked)
    now = T0 + dt.timedelta(days=31)

    dry = world.privacy.run_retention(approved_by="", now=now, dry_run=True)
    assert [d.object.key for d in dry.due] == [OLD, HELD]
    assert dry.held == (HELD,)
    assert dry.destroyed == ()
    assert world.storage.head(OLD) is not None

    with pytest.raises(ApprovalRequired):
        world.privacy.run_retention(approved_by=" ", now=now)

    report = world.privacy.run_retention(
        approved_by="Fake Privacy Officer", now=now, actor="cli:officer"
    )
    assert report.ok
    assert report.destroyed == (OLD,)
    assert report.held == (HELD,)
    assert world.storage.head(OLD) is None
    assert _versions(world, OLD) == []
    for kept in (NEW, REPORT, HELD, OTHER):
        assert world.storage.head(kept) is not None, kept
    if linked is not None:
        assert set(linked.read_bytes()) == {0}  # overwritten before it was unlinked
        linked.unlink()
    assert (
        Catalog(world.ledger.engine).find(tenant="clinic-a", filters={"SOPInstanceUID": "2.25.111"})
        == []
    )

    (row,) = world.ledger.rows(event="destroyed")
    assert (row.object_key, row.request_id) == (OLD, report.run_id)
    assert row.sha256 == hashlib.sha256(f"de-identified bytes of {OLD}".encode()).hexdigest()
    assert row.purpose == "retention period ended"
    assert row.method.startswith("destroyed:")
    assert row.recorded_at.startswith("2030-02-01")

    with Session(world.ledger.engine) as session:
        approval = session.execute(select(ApprovalRow)).scalar_one()
    assert approval.approval_id == report.run_id
    assert approval.approved_by == "Fake Privacy Officer"
    assert approval.policy.startswith("*: images=30d, reports=60d, ledger=3650d")
    assert approval.objects == 1

    actions = [(r.action, r.actor) for r in world.privacy.access_log.rows()]
    assert actions == [("retention.dry_run", "operator"), ("retention.run", "cli:officer")]
    last = list(world.privacy.access_log.rows())[-1]
    assert json.loads(last.target)["objects"] == [OLD]

    assert audit(world.ledger, world.storage).ok
    assert world.ledger.verify_chain().ok
    assert world.privacy.access_log.verify_chain().ok

    again = world.privacy.run_retention(approved_by="Fake Privacy Officer", now=now)
    assert again.destroyed == ()

    later = world.privacy.run_retention(
        approved_by="Fake Privacy Officer", now=T0 + dt.timedelta(days=61)
    )
    assert set(later.destroyed) == {NEW, REPORT}
    assert world.storage.head(HELD) is not None
    assert world.storage.head(OTHER) is not None

    with world.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE transfers SET purpose = 'edited' WHERE event = 'destroyed'"))
        conn.execute(text("UPDATE access_log SET actor = 'someone' WHERE seq = 2"))
    assert not world.ledger.verify_chain().ok
    broken = world.privacy.access_log.verify_chain()
    assert (broken.ok, broken.first_bad_seq) == (False, 2)


def test_a_run_interrupted_after_deleting_is_finished_by_the_next(world: World) -> None:
    _store(world, OLD, at=T0)
    world.storage.delete(OLD)  # as if the last run stopped before writing its ledger row
    assert not audit(world.ledger, world.storage).ok
    report = world.privacy.run_retention(
        approved_by="Fake Privacy Officer", now=T0 + dt.timedelta(days=31)
    )
    assert report.destroyed == (OLD,)
    assert audit(world.ledger, world.storage).ok


def test_ledger_rows_past_their_own_retention_are_counted_not_deleted(world: World) -> None:
    _store(world, OLD, at=T0)
    report = world.privacy.run_retention(
        approved_by="", now=T0 + dt.timedelta(days=3651), dry_run=True
    )
    assert report.ledger_rows_past_retention == 1
    assert len(list(world.ledger.rows())) == 1

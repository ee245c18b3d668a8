"""Retention rules and policies, key generations and access-log redaction: pure functions."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from anonymizer.access_log import Outcome, redact_query
from anonymizer.intake import tenant_key
from anonymizer.keys import PseudonymKey
from anonymizer.pseudonyms import Pseudonymizer
from anonymizer.retention import (
    Category,
    LiveObject,
    PolicyInvalid,
    RetentionPolicies,
    RetentionPolicy,
    Rule,
    category_of,
    select_due,
)
from anonymizer.tenant_keys import generation_key, generation_of
from app.settings import Settings

T0 = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)
MASTER = PseudonymKey(key_id="k-test", secret=b"m" * 32)


def _object(key: str, *, tenant: str = "clinic-a", at: dt.datetime = T0) -> LiveObject:
    return LiveObject(
        tenant=tenant,
        key=f"{tenant}/{key}",
        sha256="ab" * 32,
        size=1,
        stored_at=at,
        key_id="k-test/clinic-a",
        items=("medical images",),
        category=category_of(f"{tenant}/{key}", ()),
    )


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("365d", Rule(days=365)),
        (" 0d ", Rule(days=0)),
        ("2031-06-30", Rule(until=dt.date(2031, 6, 30))),
        ("KEEP", Rule()),
    ],
)
def test_rules_parse(text: str, rule: Rule) -> None:
    assert Rule.parse(text) == rule
    assert Rule.parse(rule.describe()) == rule


@pytest.mark.parametrize("text", ["", "365", "1y", "-3d", "2031-13-01", "forever"])
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(PolicyInvalid):
        Rule.parse(text)


def test_deadlines() -> None:
    assert Rule(days=30).deadline(T0) == T0 + dt.timedelta(days=30)
    end = Rule(until=dt.date(2031, 1, 1)).deadline(T0)
    assert end == dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert Rule().deadline(T0) is None


def test_a_tenant_policy_overrides_the_default_per_category() -> None:
    policies = RetentionPolicies.from_mapping(
        {"*": {"images": "30d", "reports": "90d"}, "clinic-a": {"images": "2031-01-01"}}
    )
    mine = policies.for_tenant("clinic-a")
    assert mine.rule(Category.IMAGES) == Rule(until=dt.date(2031, 1, 1))
    assert mine.rule(Category.REPORTS) == Rule(days=90)
    assert policies.for_tenant("clinic-z").rule(Category.IMAGES) == Rule(days=30)
    assert mine.describe() == "clinic-a: images=2031-01-01, reports=90d, ledger=keep"


def test_nothing_is_due_without_a_policy() -> None:
    far = T0 + dt.timedelta(days=100_000)
    assert select_due([_object("2.25.1/2.25.2/2.25.3.dcm")], RetentionPolicies(), now=far) == []


@pytest.mark.parametrize(
    "rules",
    [
        {"images": "400d", "reports": "30d", "ledger": "365d"},  # ledger shorter than images
        {"reports": "30d", "ledger": "365d"},  # images kept forever, ledger not
    ],
)
def test_the_ledger_must_outlive_the_objects(rules: dict[str, str]) -> None:
    with pytest.raises(PolicyInvalid, match="ledger"):
        RetentionPolicies.from_mapping({"*": rules})


def test_unknown_categories_are_refused() -> None:
    with pytest.raises(PolicyInvalid):
        RetentionPolicies.from_mapping({"*": {"scans": "30d"}})


def test_settings_refuse_an_invalid_policy() -> None:
    with pytest.raises(ValidationError):
        Settings(retention_policies={"*": {"images": "sometime"}})
    with pytest.raises(ValidationError):
        Settings(access_log_retention_days=200)


def test_categories() -> None:
    assert category_of("t/2.25.1/reports/r.json", ()) == Category.REPORTS
    assert category_of("t/2.25.1/2.25.2/2.25.3.dcm", ("analysis reports",)) == Category.REPORTS
    assert category_of("t/2.25.1/2.25.2/2.25.3.dcm", ("medical images",)) == Category.IMAGES
    assert category_of("reports/2.25.1/2.25.2/2.25.3.dcm", ()) == Category.IMAGES


def test_due_at_the_deadline_and_held_objects_marked() -> None:
    policies = RetentionPolicies(RetentionPolicy("*", {Category.IMAGES: Rule(days=30)}))
    old = _object("2.25.1/2.25.2/2.25.3.dcm")
    young = _object("2.25.1/2.25.2/2.25.4.dcm", at=T0 + dt.timedelta(seconds=1))
    report = _object("2.25.1/reports/2.25.5.json")
    deadline = T0 + dt.timedelta(days=30)
    due = select_due([old, young, report], policies, now=deadline, held=frozenset({old.key}))
    assert [(d.object.key, d.deadline, d.held) for d in due] == [(old.key, deadline, True)]


def test_generation_one_is_the_key_every_stored_object_used() -> None:
    assert generation_key(MASTER, "clinic-a", 1) == tenant_key(MASTER, "clinic-a")
    second = generation_key(MASTER, "clinic-a", 2)
    assert second.key_id == "k-test/clinic-a/g2"
    assert second.secret != tenant_key(MASTER, "clinic-a").secret
    assert second.secret != generation_key(MASTER, "clinic-b", 2).secret
    one, two = (Pseudonymizer(generation_key(MASTER, "clinic-a", g)) for g in (1, 2))
    assert one.patient_id("FAKE-1") != two.patient_id("FAKE-1")
    assert generation_of("k-test/clinic-a", master=MASTER, tenant="clinic-a") == 1
    assert generation_of("k-test/clinic-a/g7", master=MASTER, tenant="clinic-a") == 7
    assert generation_of("k-test/clinic-b/g7", master=MASTER, tenant="clinic-a") is None
    assert generation_of("k-other/clinic-a", master=MASTER, tenant="clinic-a") is None
    with pytest.raises(ValueError, match="generations"):
        generation_key(MASTER, "clinic-a", 0)


def test_queries_keep_only_values_of_the_expected_shape() -> None:
    pseudonym = Pseudonymizer(MASTER).patient_id("FAKE-1")
    query = {
        "PatientID": "FAKE-MRN-0001",
        "00100020": pseudonym,
        "StudyInstanceUID": "2.25.123",
        "study_uid": "12345678",  # a bare number is not a UID: could be an MRN
        "StudyDate": "20300101-20300131",
        "Modality": "CT",
        "limit": "10",
        "FAKE^NAME": "1",
    }
    assert redact_query(query) == {
        "PatientID": "(redacted)",
        "00100020": pseudonym,
        "StudyInstanceUID": "2.25.123",
        "study_uid": "(redacted)",
        "StudyDate": "20300101-20300131",
        "Modality": "CT",
        "limit": "10",
        "(other parameters)": "1",
    }


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (401, Outcome.DENIED),
        (403, Outcome.DENIED),
        (404, Outcome.NOT_FOUND),
        (451, Outcome.HELD),
        (422, Outcome.REJECTED),
        (503, Outcome.ERROR),
    ],
)
def test_outcomes_from_status(status: int, outcome: Outcome) -> None:
    assert Outcome.from_status(status) is outcome

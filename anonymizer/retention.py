"""Retention policies: when each stored object is due for destruction.

A rule is ``"<N>d"`` (N days after the object was stored), a date ``"YYYY-MM-DD"`` (for
example the end of the agreement; due at its start, UTC) or ``"keep"`` (no deadline, the
default, so nothing is ever destroyed unless a policy says so). Rules are given per
:class:`Category` in a default policy (``"*"``) and per tenant, a tenant's rule replacing
the default's for that category only.

The ledger's own rule says how long ledger rows must be kept. Rows cannot be deleted
without breaking the hash chain, so the service never deletes them; it only checks that
the ledger outlives every object rule given in days (a row must outlive its object) and
counts the rows past their deadline in each run. Sealing and pruning the ledger (export,
sign, restart the chain from an anchor) is out of scope. The access log is likewise kept
whole: its configured retention (at least a year) is a minimum, met by never deleting.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from enum import StrEnum

from anonymizer.access_log import parse_iso
from anonymizer.errors import DeidError
from anonymizer.ledger import Ledger

_DAYS = re.compile(r"^([0-9]{1,6})d$")
KEEP = "keep"
DEFAULT_POLICY = "*"
_STORED = "stored"


class Category(StrEnum):
    """What a retention rule applies to."""

    IMAGES = "images"
    REPORTS = "reports"
    LEDGER = "ledger"


class PolicyInvalid(DeidError, ValueError):  # noqa: N818
    """A retention rule or policy cannot be used; the message names the rule, not data."""


@dataclass(frozen=True)
class Rule:
    """Keep for ``days`` after storing, or ``until`` a date, or (neither) keep."""

    days: int | None = None
    until: dt.date | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``"365d"``, ``"2027-12-31"`` or ``"keep"``."""
        value = text.strip().lower()
        if value == KEEP:
            return cls()
        match = _DAYS.match(value)
        if match:
            return cls(days=int(match.group(1)))
        try:
            return cls(until=dt.date.fromisoformat(value))
        except ValueError:
            raise PolicyInvalid(
                "a retention rule is '<N>d', a date 'YYYY-MM-DD' or 'keep'"
            ) from None

    def deadline(self, stored_at: dt.datetime) -> dt.datetime | None:
        """When an object stored at ``stored_at`` is due, or None to keep it."""
        if self.days is not None:
            return stored_at + dt.timedelta(days=self.days)
        if self.until is not None:
            return dt.datetime.combine(self.until, dt.time(), tzinfo=dt.UTC)
        return None

    def describe(self) -> str:
        if self.days is not None:
            return f"{self.days}d"
        return self.until.isoformat() if self.until is not None else KEEP


@dataclass(frozen=True)
class RetentionPolicy:
    """The rules of one tenant (or the default), by category."""

    name: str
    rules: Mapping[Category, Rule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ledger = self.rule(Category.LEDGER)
        if ledger == Rule():
            return
        for category in (Category.IMAGES, Category.REPORTS):
            rule = self.rule(category)
            if rule == Rule() or (
                ledger.days is not None and rule.days is not None and rule.days > ledger.days
            ):
                raise PolicyInvalid(
                    f"policy {self.name}: the ledger must be kept at least as long as "
                    f"{category} (a row must outlive its object)"
                )

    def rule(self, category: Category) -> Rule:
        return self.rules.get(category, Rule())

    def deadline(self, category: Category, stored_at: dt.datetime) -> dt.datetime | None:
        """When an object of ``category`` stored at ``stored_at`` is due."""
        return self.rule(category).deadline(stored_at)

    def describe(self) -> str:
        """``name: images=365d, reports=2027-12-31, ledger=keep``: what approvals record."""
        parts = ", ".join(f"{c}={self.rule(c).describe()}" for c in Category)
        return f"{self.name}: {parts}"


@dataclass(frozen=True)
class RetentionPolicies:
    """The default policy and the tenants' own."""

    default: RetentionPolicy = field(default_factory=lambda: RetentionPolicy(DEFAULT_POLICY))
    tenants: Mapping[str, RetentionPolicy] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, str]]) -> RetentionPolicies:
        """``{"*": {"images": "365d"}, "clinic-a": {"images": "2027-12-31"}}``."""
        base = _rules(data.get(DEFAULT_POLICY, {}), DEFAULT_POLICY)
        tenants = {
            name: RetentionPolicy(name, {**base, **_rules(rules, name)})
            for name, rules in data.items()
            if name != DEFAULT_POLICY
        }
        return cls(RetentionPolicy(DEFAULT_POLICY, base), tenants)

    def for_tenant(self, tenant: str) -> RetentionPolicy:
        return self.tenants.get(tenant, self.default)


def _rules(data: Mapping[str, str], name: str) -> dict[Category, Rule]:
    rules: dict[Category, Rule] = {}
    for category, text in data.items():
        try:
            rules[Category(category)] = Rule.parse(text)
        except ValueError:
            raise PolicyInvalid(
                f"policy {name}: categories are {', '.join(Category)}; rules '<N>d', "
                "'YYYY-MM-DD' or 'keep'"
            ) from None
    return rules


@dataclass(frozen=True)
class LiveObject:
    """An object whose latest ledger row says it is stored."""

    tenant: str
    key: str
    sha256: str
    size: int
    stored_at: dt.datetime
    key_id: str
    items: tuple[str, ...]
    category: Category


@dataclass(frozen=True)
class DueObject:
    """A live object past its deadline, and whether a hold keeps it."""

    object: LiveObject
    deadline: dt.datetime
    held: bool


def category_of(key: str, items: Iterable[str]) -> Category:
    """Reports are stored under a ``reports`` folder or recorded as reports; else images."""
    if "reports" in key.split("/")[1:-1] or any("report" in item.lower() for item in items):
        return Category.REPORTS
    return Category.IMAGES


def live_objects(ledger: Ledger, *, tenant: str | None = None) -> list[LiveObject]:
    """Every stored object (latest row ``stored``), from the ledger, in chain order."""
    latest: dict[tuple[str, str], LiveObject | None] = {}
    with closing(ledger.rows(tenant=tenant)) as rows:
        for row in rows:
            if row.event != _STORED:
                latest[(row.tenant, row.object_key)] = None
                continue
            items = tuple(json.loads(row.items))
            latest[(row.tenant, row.object_key)] = LiveObject(
                tenant=row.tenant,
                key=row.object_key,
                sha256=row.sha256,
                size=row.size,
                stored_at=parse_iso(row.recorded_at),
                key_id=row.key_id,
                items=items,
                category=category_of(row.object_key, items),
            )
    return [found for found in latest.values() if found is not None]


def select_due(
    objects: Iterable[LiveObject],
    policies: RetentionPolicies,
    *,
    now: dt.datetime,
    held: frozenset[str] = frozenset(),
) -> list[DueObject]:
    """Objects whose deadline is at or before ``now``; ``held`` keys are marked held."""
    due = []
    for found in objects:
        deadline = policies.for_tenant(found.tenant).deadline(found.category, found.stored_at)
        if deadline is not None and deadline <= now:
            due.append(DueObject(found, deadline, found.key in held))
    return due


def ledger_rows_past_retention(
    ledger: Ledger, policies: RetentionPolicies, *, now: dt.datetime, tenant: str | None = None
) -> int:
    """Ledger rows older than their tenant's ledger rule: reported, never deleted."""
    count = 0
    with closing(ledger.rows(tenant=tenant)) as rows:
        for row in rows:
            rule = policies.for_tenant(row.tenant).rule(Category.LEDGER)
            deadline = rule.deadline(parse_iso(row.recorded_at))
            if deadline is not None and deadline <= now:
                count += 1
    return count

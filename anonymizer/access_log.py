"""The access log: every read of stored data and every admin action, hash-chained.

Rows are chained exactly like the transfer ledger (``anonymizer.ledger.chain``): each
row's hash is the SHA-256 of the previous row's hash and the row's fields as canonical
JSON, ``seq`` has no gaps, and appends are serialised, so an edited, removed or inserted
row breaks :meth:`AccessLog.verify_chain`. PIPC's Security Measures Standards (Art. 8) ask
for account, time, address, data subject and task, kept at least one year (two for health
data); rows are never deleted by the service, so the retention is a minimum it always meets.

Targets hold object keys (de-identified UIDs) and query values that look like UIDs,
pseudonyms, modalities or dates; anything else a caller sends is redacted, so a raw
identifier typed into a search never lands here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Generator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from anonymizer.database import stream_rows
from anonymizer.errors import LedgerError
from anonymizer.ledger.chain import GENESIS, ChainReport, row_hash, verify_rows
from anonymizer.retention_models import AccessRow

_PG_LOCK_KEY = 7_305_002  # one advisory lock for the access log's chain
REDACTED = "(redacted)"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)+$")
_RULES: dict[str, re.Pattern[str]] = {
    "uid": _UID,
    "pseudonym": re.compile(r"^P[A-Z2-7]{15}$"),
    "date": re.compile(r"^[0-9]{8}(-[0-9]{8})?$|^-[0-9]{8}$|^[0-9]{8}-$"),
    "modality": re.compile(r"^[A-Z]{1,16}$"),
    "number": re.compile(r"^[0-9]{1,9}$"),
    "time": re.compile(r"^[0-9T:.+Z -]{4,40}$"),
    "word": re.compile(r"^(json|csv|xml|all|true|false)$"),
    "id": re.compile(r"^[a-z]{2}_[0-9a-f]{16}$"),
}
# What each query or path parameter may hold; anything else is redacted.
_PARAMETERS = {
    **dict.fromkeys(
        (
            "StudyInstanceUID",
            "0020000D",
            "SeriesInstanceUID",
            "0020000E",
            "SOPInstanceUID",
            "00080018",
            "study_uid",
            "series_uid",
            "sop_uid",
        ),
        "uid",
    ),
    **dict.fromkeys(("PatientID", "00100020"), "pseudonym"),
    **dict.fromkeys(("StudyDate", "00080020"), "date"),
    **dict.fromkeys(("Modality", "00080060"), "modality"),
    **dict.fromkeys(("limit", "offset"), "number"),
    **dict.fromkeys(("since", "until"), "time"),
    **dict.fromkeys(("format", "includefield", "fuzzymatching"), "word"),
    **dict.fromkeys(("subject_request", "retention_run"), "id"),
}
_OTHER = "(other parameters)"
CHAINED_FIELDS = (
    "seq",
    "recorded_at",
    "tenant",
    "actor",
    "action",
    "target",
    "client",
    "outcome",
    "request_id",
)


class Outcome(StrEnum):
    """How an access ended."""

    OK = "ok"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    HELD = "held"
    REJECTED = "rejected"
    ERROR = "error"

    @classmethod
    def from_status(cls, status: int) -> Outcome:
        """The outcome of an HTTP answer."""
        table = {401: cls.DENIED, 403: cls.DENIED, 404: cls.NOT_FOUND, 451: cls.HELD}
        if status < 400:
            return cls.OK
        return table.get(status, cls.REJECTED if status < 500 else cls.ERROR)


class AdminAction(StrEnum):
    """Actions taken outside HTTP (CLI, scheduled task); HTTP rows name their route."""

    RETENTION_RUN = "retention.run"
    RETENTION_DRY_RUN = "retention.dry_run"
    SUBJECT_LOOKUP = "subject.lookup"
    SUBJECT_SUSPEND = "subject.suspend"
    SUBJECT_RELEASE = "subject.release"
    SUBJECT_ERASE = "subject.erase"
    KEY_ROTATE = "tenant_key.rotate"
    AUDIT_EXPORT = "audit.export"
    LEDGER_EXPORT = "ledger.export"
    LEDGER_VERIFY = "ledger.verify"
    LEDGER_REPAIR = "ledger.repair"
    API_KEY_CREATE = "api_key.create"
    API_KEY_REVOKE = "api_key.revoke"


@dataclass(frozen=True)
class AccessRecord:
    """Who did what to which objects, from where, and how it ended."""

    tenant: str
    actor: str
    action: str
    client: str
    outcome: Outcome
    objects: tuple[str, ...] = ()
    query: Mapping[str, str] = field(default_factory=dict)
    request_id: str = ""

    def target(self) -> str:
        """Objects and the redacted query as canonical JSON."""
        data: dict[str, Any] = {"objects": list(self.objects)}
        if self.query:
            data["query"] = redact_query(self.query)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


def redact_query(query: Mapping[str, str]) -> dict[str, str]:
    """Keep parameter values of the expected shape (UIDs, pseudonyms, dates); redact the rest.

    A raw patient ID typed into ``PatientID`` is not a pseudonym, so it is redacted;
    parameters we do not know are only counted, since even their names could identify.
    """
    kept: dict[str, str] = {}
    others = 0
    for name, value in query.items():
        rule = _PARAMETERS.get(name)
        if rule is None:
            others += 1
            continue
        kept[name] = value if _RULES[rule].match(value) else REDACTED
    if others:
        kept[_OTHER] = str(others)
    return kept


def chain_hash(fields: Mapping[str, object], prev_hash: str) -> str:
    """SHA-256 of the previous hash and the row's fields: the ledger's construction."""
    return row_hash(fields, prev_hash, CHAINED_FIELDS)


class AccessLog:
    """Append to, read and verify the access log in the service database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, record: AccessRecord, *, now: dt.datetime | None = None) -> int:
        """Append one row and return its seq; :class:`LedgerError` if it cannot be written."""
        moment = now or dt.datetime.now(dt.UTC)
        try:
            with Session(self.engine) as session, session.begin():
                if self.engine.dialect.name == "postgresql":
                    session.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                    )
                last = session.execute(
                    select(AccessRow.seq, AccessRow.row_hash)
                    .order_by(AccessRow.seq.desc())
                    .limit(1)
                ).first()
                seq = (last[0] + 1) if last else 1
                prev = last[1] if last else GENESIS
                fields: dict[str, Any] = {
                    "seq": seq,
                    "recorded_at": iso(moment),
                    "tenant": record.tenant,
                    "actor": record.actor[:128],
                    "action": record.action[:128],
                    "target": record.target(),
                    "client": record.client[:64],
                    "outcome": str(record.outcome),
                    "request_id": record.request_id[:64],
                }
                session.add(AccessRow(**fields, prev_hash=prev, row_hash=chain_hash(fields, prev)))
                return seq
        except OperationalError as exc:
            raise LedgerError(f"access log unavailable ({type(exc).__name__})") from None
        except SQLAlchemyError as exc:
            raise LedgerError(f"access log write failed ({type(exc).__name__})") from None

    def rows(
        self,
        *,
        tenant: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> Generator[AccessRow, None, None]:
        """Rows in chain order, optionally of one tenant and in ``[since, until)``."""
        query = select(AccessRow).order_by(AccessRow.seq)
        if tenant is not None:
            query = query.where(AccessRow.tenant == tenant)
        if since is not None:
            query = query.where(AccessRow.recorded_at >= iso(since))
        if until is not None:
            query = query.where(AccessRow.recorded_at < iso(until))
        yield from stream_rows(self.engine, query)

    def verify_chain(self) -> ChainReport:
        """Recompute every hash in order: an edited, removed or inserted row breaks it."""
        with closing(self.rows()) as rows:
            return verify_rows(rows, CHAINED_FIELDS)


def access_row_dict(row: AccessRow) -> dict[str, Any]:
    """A row as plain data for export, with ``target`` decoded."""
    data = {name: getattr(row, name) for name in (*CHAINED_FIELDS, "prev_hash", "row_hash")}
    data["target"] = json.loads(data["target"])
    return data


def iso(moment: dt.datetime) -> str:
    """The database's time format (the ledger's): UTC, microseconds, ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> dt.datetime:
    """Read a time written by :func:`iso`."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


__all__: Sequence[str] = [
    "AccessLog",
    "AccessRecord",
    "AdminAction",
    "Outcome",
    "access_row_dict",
    "redact_query",
]

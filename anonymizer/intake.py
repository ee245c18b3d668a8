"""The service's road for one uploaded object: de-identify, verify, store, record, catalogue.

The web doors (``app``) call this; nothing reaches storage before the pipeline has
accepted the object, and nothing is recorded before storage has it (see ``transfer``).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from sqlalchemy import Connection

from anonymizer._elements import elements_of
from anonymizer.apikeys import check_tenant
from anonymizer.catalog import Catalog, CatalogEntry, add_entries
from anonymizer.dicom_json import element_json
from anonymizer.errors import DeidError, InputError, LedgerError, StorageUnavailable
from anonymizer.keys import PseudonymKey
from anonymizer.ledger import Ledger
from anonymizer.pipeline import Anonymizer, ObjectResult
from anonymizer.storage.base import Storage
from anonymizer.transfer import TransferTerms, store_and_record, transfer_record

# Inputs up to this size are de-identified into memory rather than into a spool file.
_IN_MEMORY = 4 << 20
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# De-identified attributes the catalogue keeps for QIDO-RS answers.
_QIDO_TAGS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "PatientID",
    "PatientName",
    "PatientSex",
    "PatientAge",
    "SeriesInstanceUID",
    "SeriesNumber",
    "Modality",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "NumberOfFrames",
)


def _size(source: Path | bytes) -> int:
    """The input's size; an unreadable path counts as large (the pipeline then says why)."""
    if isinstance(source, bytes):
        return len(source)
    try:
        return source.stat().st_size
    except OSError:
        return _IN_MEMORY + 1


def catalog_tags() -> frozenset[str]:
    """The attributes the catalogue keeps of each instance, as 8-digit hex tags."""
    return _CATALOG_TAGS


_INDEXED = tuple((tag, f"{tag:08X}") for tag in (int(tag_for_keyword(k) or 0) for k in _QIDO_TAGS))
_CATALOG_TAGS = frozenset(name for _, name in _INDEXED)


class StudyMismatch(InputError):  # noqa: N818
    """The instance does not belong to the study named in the request."""


@dataclass(frozen=True)
class Ingested:
    """One accepted object: where it went and what the pipeline did."""

    key: str
    result: ObjectResult
    created: bool
    ledger_seq: int | None


def tenant_key(master: PseudonymKey, tenant: str) -> PseudonymKey:
    """The tenant's pseudonym key, derived from the service key: tenants are unlinkable."""
    secret = hmac.new(master.secret, b"tenant\0" + tenant.encode(), hashlib.sha256).digest()
    return PseudonymKey(key_id=f"{master.key_id}/{tenant}", secret=secret)


class Intake:
    """De-identify and store objects for many tenants with one service key."""

    def __init__(
        self,
        *,
        master_key: PseudonymKey,
        storage: Storage,
        ledger: Ledger,
        catalog: Catalog,
        terms: TransferTerms,
        spool_dir: Path,
    ) -> None:
        self.master_key = master_key
        self.storage = storage
        self.ledger = ledger
        self.catalog = catalog
        self.terms = terms
        self.spool_dir = spool_dir
        self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._anonymizers: dict[tuple[str, str], Anonymizer] = {}

    def anonymizer(self, *, tenant: str, profile: str) -> Anonymizer:
        """The (cached) anonymizer of a tenant and profile."""
        cache_key = (tenant, profile)
        found = self._anonymizers.get(cache_key)
        if found is None:
            found = Anonymizer(profile=profile, key=tenant_key(self.master_key, tenant))
            self._anonymizers[cache_key] = found
        return found

    def ingest(
        self,
        source: Path | bytes,
        *,
        tenant: str,
        profile: str,
        request_id: str,
        study_uid: str | None = None,
    ) -> Ingested:
        """De-identify ``source``, store it and record the transfer.

        Raises an :class:`~anonymizer.errors.InputError` (reject this object),
        ``StorageUnavailable`` or ``LedgerError`` (the service cannot store anything now).
        """
        (outcome,) = self.ingest_many(
            [source], tenant=tenant, profile=profile, request_id=request_id, study_uid=study_uid
        )
        if isinstance(outcome, DeidError):
            raise outcome
        return outcome

    def ingest_many(
        self,
        sources: Sequence[Path | bytes],
        *,
        tenant: str,
        profile: str,
        request_id: str,
        study_uid: str | None = None,
    ) -> list[Ingested | DeidError]:
        """De-identify and store each source, then record all of them in one transaction.

        One outcome per source, in order: what was stored, or the error that rejected it.
        Once storage is unavailable the remaining sources get that error untried. Objects
        are put first and recorded after (the write order of :mod:`anonymizer.transfer`);
        if the ledger then fails, every put object gets the ``LedgerError`` and is left
        for a retry or for reconciliation, as a single object would be.
        """
        check_tenant(tenant)
        anonymizer = self.anonymizer(tenant=tenant, profile=profile)
        outcomes: list[Ingested | DeidError] = []
        puts: list[tuple[int, Ingested, CatalogEntry]] = []
        unavailable: StorageUnavailable | None = None
        for source in sources:
            if unavailable is not None:
                outcomes.append(unavailable)
                continue
            try:
                ingested, entry = self._put(source, anonymizer, tenant=tenant, study_uid=study_uid)
            except StorageUnavailable as exc:
                unavailable = exc
                outcomes.append(exc)
                continue
            except DeidError as exc:
                outcomes.append(exc)
                continue
            puts.append((len(outcomes), ingested, entry))
            outcomes.append(ingested)
        if puts:
            self._record(
                puts,
                outcomes,
                tenant=tenant,
                profile=profile,
                request_id=request_id,
                key_id=anonymizer.key.key_id,
            )
        return outcomes

    def _put(
        self, source: Path | bytes, anonymizer: Anonymizer, *, tenant: str, study_uid: str | None
    ) -> tuple[Ingested, CatalogEntry]:
        """De-identify one source and put it to storage (not yet recorded).

        The output goes to memory when the input is small (its size bounds the output's,
        give or take the header), to a file in the private spool otherwise.
        """
        indexed: dict[str, Any] = {}

        def index(ds: Dataset) -> None:
            indexed.update(_index(ds))

        if _size(source) <= _IN_MEMORY:
            buffer = io.BytesIO()
            result = anonymizer.anonymize(source, buffer, on_header=index)
            key = self._key(tenant, result, anonymizer, study_uid)
            put = self.storage.put(key, buffer.getvalue(), sha256=result.sha256)
        else:
            fd, name = tempfile.mkstemp(dir=self.spool_dir, suffix=".dcm")
            path = Path(name)
            try:
                with os.fdopen(fd, "wb") as spooled:
                    result = anonymizer.anonymize(source, spooled, on_header=index)
                key = self._key(tenant, result, anonymizer, study_uid)
                put = self.storage.put(key, path, sha256=result.sha256)
            finally:
                path.unlink(missing_ok=True)
        entry = _catalog_entry(indexed, tenant=tenant, key=key, result=result)
        return Ingested(key=key, result=result, created=put.created, ledger_seq=None), entry

    @staticmethod
    def _key(
        tenant: str, result: ObjectResult, anonymizer: Anonymizer, study_uid: str | None
    ) -> str:
        """The object key; the request may name the study by its original or new UID."""
        if study_uid is not None and result.study_instance_uid not in {
            study_uid,
            anonymizer.pseudonyms.uid(study_uid),
        }:
            raise StudyMismatch("the instance belongs to another study than the request's")
        return object_key(tenant, result)

    def _record(
        self,
        puts: list[tuple[int, Ingested, CatalogEntry]],
        outcomes: list[Ingested | DeidError],
        *,
        tenant: str,
        profile: str,
        request_id: str,
        key_id: str,
    ) -> None:
        """The ledger rows and catalogue entries of the put objects, in one transaction
        when both live in the same database (the service's setup)."""
        records = [
            transfer_record(
                self.storage,
                key=ingested.key,
                size=ingested.result.size,
                sha256=ingested.result.sha256,
                tenant=tenant,
                terms=self.terms,
                request_id=request_id,
                profile=profile,
                key_id=key_id,
            )
            for _, ingested, _ in puts
        ]
        entries = [entry for _, _, entry in puts]
        shared = self.catalog.engine is self.ledger.engine

        def catalogue(conn: Connection) -> None:
            add_entries(conn, entries)

        try:
            seqs = self.ledger.append_many(records, also=catalogue if shared else None)
        except LedgerError as exc:
            for index, _, _ in puts:
                outcomes[index] = exc
            return
        if not shared:
            for entry in entries:
                self.catalog.add(entry)
        for (index, ingested, _), seq in zip(puts, seqs, strict=True):
            outcomes[index] = replace(ingested, ledger_seq=seq)


@dataclass(frozen=True)
class IngestedImage:
    """One PNG or JPEG upload: metadata stripped, burned-in text masked, stored."""

    key: str
    size: int
    sha256: str
    masked_boxes: int
    metadata_removed: tuple[str, ...]
    created: bool
    ledger_seq: int | None


def ingest_image(
    intake: Intake, data: bytes, *, tenant: str, profile: str, request_id: str
) -> IngestedImage:
    """Clean an ordinary image (photo, viewer screenshot) and store it under the tenant.

    Its key is the SHA-256 of the cleaned bytes: nothing of the upload names it.
    """
    from anonymizer.images import clean_image  # noqa: PLC0415 - loads OpenCV

    check_tenant(tenant)
    cleaned, result = clean_image(data)
    sha256 = hashlib.sha256(cleaned).hexdigest()
    key = f"{tenant}/images/{sha256[:40]}.{result.output_format.value.lower()}"
    stored = store_and_record(
        storage=intake.storage,
        ledger=intake.ledger,
        key=key,
        data=cleaned,
        sha256=sha256,
        tenant=tenant,
        terms=TransferTerms(
            items=("image (metadata removed, burned-in text masked)",),
            purpose=intake.terms.purpose,
            retention=intake.terms.retention,
        ),
        request_id=request_id,
        profile=profile,
        key_id=intake.master_key.key_id,
    )
    return IngestedImage(
        key=key,
        size=len(cleaned),
        sha256=sha256,
        masked_boxes=len(result.boxes),
        metadata_removed=result.metadata_removed,
        created=stored.created,
        ledger_seq=stored.ledger_seq,
    )


def object_key(tenant: str, result: ObjectResult) -> str:
    """``tenant/study/series/instance.dcm`` from the de-identified UIDs only."""
    parts = (result.study_instance_uid, result.series_instance_uid, result.sop_instance_uid)
    if not all(_UID.match(p) and len(p) <= 64 for p in parts):
        raise InputError("the instance lacks valid Study, Series or SOP Instance UIDs")
    return f"{tenant}/{parts[0]}/{parts[1]}/{parts[2]}.dcm"


def _index(ds: Dataset) -> dict[str, Any]:
    """What the catalogue keeps of a de-identified header (no re-reading of the output)."""
    attributes: dict[str, Any] = {}
    present = elements_of(ds)
    for tag, name in _INDEXED:
        if tag in present:
            attributes[name] = element_json(ds[tag])

    def text(name: str) -> str:
        values = attributes.get(name, {}).get("Value", [])
        return str(values[0]) if values else ""

    return {
        "attributes": attributes,
        "Modality": text("00080060"),
        "StudyDate": text("00080020")[:8],
        "PatientID": text("00100020"),
    }


def _catalog_entry(
    indexed: dict[str, Any], *, tenant: str, key: str, result: ObjectResult
) -> CatalogEntry:
    return CatalogEntry(
        tenant=tenant,
        study_uid=result.study_instance_uid,
        series_uid=result.series_instance_uid,
        sop_uid=result.sop_instance_uid,
        sop_class_uid=result.sop_class_uid,
        modality=indexed["Modality"],
        study_date=indexed["StudyDate"],
        patient_id=indexed["PatientID"],
        object_key=key,
        size=result.size,
        sha256=result.sha256,
        attributes=indexed["attributes"],
    )

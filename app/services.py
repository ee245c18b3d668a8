"""Build the service's parts from settings once, at start-up, and hand them to routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request

from anonymizer.apikeys import ApiKeys
from anonymizer.catalog import Catalog
from anonymizer.errors import KeyInvalid
from anonymizer.intake import Intake
from anonymizer.keys import PseudonymKey
from anonymizer.ledger import Ledger
from anonymizer.privacy import Privacy
from anonymizer.reports.intake import report_row_cleanup
from anonymizer.storage import Destination, LocalStorage, Storage
from anonymizer.tenant_keys import RotatingIntake
from anonymizer.transfer import TransferTerms
from app.settings import Settings, StorageKind

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler needs."""

    settings: Settings
    storage: Storage
    ledger: Ledger
    catalog: Catalog
    api_keys: ApiKeys
    intake: Intake
    privacy: Privacy

    def close(self) -> None:
        self.ledger.close()


def build_services(settings: Settings) -> Services:
    """Open storage and database, load (or on first start create) the pseudonym key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    storage = _storage(settings)
    ledger = Ledger(settings.resolved_database_url)
    key = _key(settings)
    terms = TransferTerms(
        items=("medical images (de-identified)",),
        purpose=settings.purpose,
        retention=settings.retention,
    )
    intake = RotatingIntake(
        master_key=key,
        storage=storage,
        ledger=ledger,
        catalog=Catalog(ledger.engine),
        terms=terms,
        spool_dir=settings.spool_dir,
    )
    return Services(
        settings=settings,
        storage=storage,
        ledger=ledger,
        catalog=intake.catalog,
        api_keys=ApiKeys(ledger.engine),
        intake=intake,
        privacy=Privacy(
            storage=storage,
            ledger=ledger,
            master_key=key,
            policies=settings.policies,
            cleanups=(report_row_cleanup(ledger.engine),),
        ),
    )


def _destination(settings: Settings) -> Destination:
    return Destination(
        country=settings.destination_country,
        region=settings.destination_region,
        recipient=settings.recipient_name,
        recipient_contact=settings.recipient_contact,
        method=settings.transfer_method,
    )


def _storage(settings: Settings) -> Storage:
    if settings.storage is StorageKind.S3:
        # boto3 is imported only for S3: it costs ~25 MB in a process that never uses it.
        from anonymizer.storage.s3 import S3Config, S3Storage  # noqa: PLC0415

        return S3Storage(
            S3Config(
                bucket=settings.s3_bucket,
                region=settings.s3_region,
                destination=_destination(settings),
                endpoint_url=settings.s3_endpoint_url,
                sse=settings.s3_sse,
                kms_key_id=settings.s3_kms_key_id,
                prefix=settings.s3_prefix,
                access_key_id=_secret(settings.s3_access_key_id),
                secret_access_key=_secret(settings.s3_secret_access_key),
            )
        )
    return LocalStorage(settings.objects_dir, destination=_destination(settings))


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else None


def _key(settings: Settings) -> PseudonymKey:
    path = settings.resolved_key_file
    if not path.exists() and settings.key_file is None:
        PseudonymKey.generate().write(path)
        logger.warning("created a new pseudonym key in the data directory; keep it apart")
    try:
        return PseudonymKey.from_file(path)
    except KeyInvalid:
        raise


def get_services(request: Request) -> Services:
    """FastAPI dependency: the services built at start-up."""
    services: Services = request.app.state.services
    return services

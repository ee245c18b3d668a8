"""``GET /v1/ledger``: the tenant's transfer record, for admins (JSON or CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from contextlib import closing
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from anonymizer.ledger import row_as_dict
from app.auth import Admin
from app.schemas import LedgerRow
from app.services import Services, get_services

router = APIRouter(prefix="/v1", tags=["ledger"])


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


@router.get(
    "/ledger",
    response_model=list[LedgerRow],
    responses={200: {"content": {"text/csv": {}}}},
)
def ledger(
    principal: Admin,
    services: Annotated[Services, Depends(get_services)],
    since: Annotated[dt.datetime | None, Query(description="ISO 8601 time, inclusive")] = None,
    format: Annotated[ExportFormat, Query()] = ExportFormat.JSON,  # noqa: A002 - API name
) -> Response:
    """Every transfer of the caller's tenant, in chain order."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    with closing(services.ledger.rows(tenant=principal.tenant, since=since)) as rows:
        data = [row_as_dict(row) for row in rows]
    if format is ExportFormat.CSV:
        return Response(to_csv(data), media_type="text/csv; charset=utf-8")
    return JSONResponse(data)


def to_csv(rows: list[dict[str, object]]) -> str:
    """Ledger rows as CSV, items joined with '; '."""
    out = io.StringIO()
    fields = list(LedgerRow.model_fields)
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        flat = dict(row)
        items = flat.get("items")
        if isinstance(items, list):
            flat["items"] = "; ".join(str(i) for i in items)
        writer.writerow(flat)
    return out.getvalue()

"""``POST /v1/subjects:lookup|suspend|release|erase``: a data subject's requests, for admins.

The body carries the person's *original* patient ID and issuer; the service computes the
pseudonym under each live key generation of the caller's tenant and acts on what it
finds. The ID is used for the computation only: it is not stored, logged or answered,
and the request is recorded by its id, kind, key id, time and object count.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from anonymizer.apikeys import Principal
from anonymizer.subjects import RequestKind, SubjectResult
from app.access import note_objects, note_query
from app.auth import Admin
from app.services import Services, get_services

router = APIRouter(prefix="/v1", tags=["subjects"])
ServicesDep = Annotated[Services, Depends(get_services)]


class SubjectQuery(BaseModel):
    """Who the request is about: the original Patient ID and Issuer of Patient ID."""

    model_config = ConfigDict(extra="forbid")

    patient_id: str = Field(min_length=1, max_length=1024, description="Original Patient ID")
    issuer: str = Field(default="", max_length=1024, description="Issuer of Patient ID")


class SubjectObjectOut(BaseModel):
    object_key: str
    study_uid: str
    series_uid: str
    sop_uid: str
    modality: str
    stored_at: str
    generation: int | None = Field(description="Key generation the object was made with")


class SubjectAnswer(BaseModel):
    request_id: str
    kind: RequestKind
    generations: list[int] = Field(description="Live key generations that were tried")
    held: bool = Field(description="Whether the person's objects are held now")
    objects: list[SubjectObjectOut]
    destroyed: list[str] = Field(description="Object keys destroyed by this request")


def _handle(
    kind: RequestKind,
    request: Request,
    query: SubjectQuery,
    principal: Principal,
    services: Services,
) -> SubjectAnswer:
    result: SubjectResult = services.privacy.subjects.handle(
        kind,
        tenant=principal.tenant,
        patient_id=query.patient_id,
        issuer=query.issuer,
        actor=principal.key_id,
    )
    note_objects(request, (o.object_key for o in result.objects))
    note_query(request, subject_request=result.request_id)
    return SubjectAnswer(
        request_id=result.request_id,
        kind=result.kind,
        generations=list(result.generations),
        held=result.held,
        objects=[SubjectObjectOut(**vars(o)) for o in result.objects],
        destroyed=list(result.destroyed),
    )


@router.post("/subjects:lookup")
def lookup(
    request: Request, query: SubjectQuery, principal: Admin, services: ServicesDep
) -> SubjectAnswer:
    """Access: list everything stored for the person."""
    return _handle(RequestKind.LOOKUP, request, query, principal, services)


@router.post("/subjects:suspend")
def suspend(
    request: Request, query: SubjectQuery, principal: Admin, services: ServicesDep
) -> SubjectAnswer:
    """Suspension: hold the person's objects (not served, not destroyed by retention)."""
    return _handle(RequestKind.SUSPEND, request, query, principal, services)


@router.post("/subjects:release")
def release(
    request: Request, query: SubjectQuery, principal: Admin, services: ServicesDep
) -> SubjectAnswer:
    """End a suspension."""
    return _handle(RequestKind.RELEASE, request, query, principal, services)


@router.post("/subjects:erase")
def erase(
    request: Request, query: SubjectQuery, principal: Admin, services: ServicesDep
) -> SubjectAnswer:
    """Deletion: destroy the person's objects, with a ledger row each."""
    return _handle(RequestKind.ERASE, request, query, principal, services)

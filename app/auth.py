"""API key authentication: every route but health needs a key; scopes and tenants apply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from anonymizer.apikeys import Principal, Scope
from app.services import Services, get_services

_BEARER = "bearer "


def _token(authorization: str | None, api_key: str | None) -> str | None:
    if api_key:
        return api_key
    if authorization and authorization.lower().startswith(_BEARER):
        return authorization[len(_BEARER) :].strip()
    return None


def require(scope: Scope) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and checks one scope."""

    def dependency(
        request: Request,
        services: Annotated[Services, Depends(get_services)],
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Principal:
        token = _token(authorization, x_api_key)
        principal = services.api_keys.authenticate(token) if token else None
        if principal is None:
            raise HTTPException(  # noqa: DOC501 - FastAPI turns it into the 401 answer
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail={"reason": "unauthenticated", "message": "a valid API key is required"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.can(scope) and not principal.can(Scope.ADMIN):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail={"reason": "forbidden", "message": f"this key lacks the {scope} scope"},
            )
        request.state.principal = principal
        return principal

    return dependency


Uploader = Annotated[Principal, Depends(require(Scope.UPLOAD))]
Reader = Annotated[Principal, Depends(require(Scope.READ))]
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]

"""FastAPI dependencies shared by the JSON routes and the pages: the services of the app, the caller's
principal from a bearer token, role checks, and the id path parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from companion.container import Services
from companion.identity.auth import Principal, Role, authenticate
from companion.schemas import MAX_DB_ID

RowId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="Database id.")]
MenteeId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="The mentee's user id.")]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="API token from `companion users add` or first start.")


def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    with services.db.session() as session:
        principal = authenticate(session, token)
    request.state.principal = principal  # read by the audit middleware (audit_http.py)
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_admin(user: CurrentUser) -> Principal:
    user.require(Role.admin)
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]

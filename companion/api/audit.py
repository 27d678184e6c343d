"""The audit log of admin actions, newest first (admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from companion.api.deps import AdminUser, ServicesDep
from companion.identity.schemas import AuditEventOut

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit", summary="Recorded admin actions, newest first (admin)")
def list_events(
    services: ServicesDep,
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500, description="Most events returned.")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Events skipped first.")] = 0,
    action: Annotated[
        str | None, Query(max_length=100, description="Only actions containing this text (any case).")
    ] = None,
    actor: Annotated[str | None, Query(max_length=100, description="Only this actor name.")] = None,
    since: Annotated[
        datetime | None, Query(description="Only events at or after this time (ISO 8601; UTC if no offset).")
    ] = None,
) -> list[AuditEventOut]:
    return services.audit.list(limit=limit, offset=offset, action=action, actor=actor, since=since)

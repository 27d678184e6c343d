"""The audit log of admin actions: who did what, to which target, through which door (api, web, cli).

A plain service over the `audit_events` table. HTTP requests are recorded at the edge by
`audit_http.AuditMiddleware`; the command line records its changing commands itself.
"""

from __future__ import annotations

import builtins
import getpass
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from companion.identity.auth import Principal
from companion.identity.schemas import AuditEventOut
from companion.storage.db import AuditEvent, Database, User

log = logging.getLogger("companion.identity.audit")

VIAS = ("api", "web", "cli")
# column sizes of `audit_events`
_ACTOR, _ACTION, _TARGET = 100, 100, 300


class AuditLog:
    def __init__(self, *, db: Database) -> None:
        self.db = db

    def record(
        self,
        *,
        actor: Principal | None,
        actor_name: str,
        action: str,
        target: str = "",
        via: str,
        details: dict[str, Any] | None = None,
    ) -> AuditEventOut:
        """Store one event. Long names are cut to the column sizes rather than refused."""
        if via not in VIAS:
            raise ValueError(f"via must be one of {', '.join(VIAS)}, not {via!r}")
        with self.db.session() as session:
            # an account deleted by the very action being recorded cannot be referenced any more
            actor_id = actor.id if actor is not None and session.get(User, actor.id) is not None else None
            row = AuditEvent(
                at=datetime.now(UTC),
                actor_user_id=actor_id,
                actor_name=actor_name[:_ACTOR],
                action=action[:_ACTION],
                target=target[:_TARGET],
                via=via,
                details=dict(details or {}),
            )
            session.add(row)
            session.flush()
            return AuditEventOut.model_validate(row)

    def record_quietly(self, **event: Any) -> AuditEventOut | None:
        """`record`, for callers whose own work already succeeded: a failure to write the event is
        logged with its traceback and never raised, so the action's result is kept."""
        try:
            return self.record(**event)
        except Exception:
            log.exception(
                "AUDIT EVENT LOST: could not record %s by %s on %r",
                event.get("action"),
                event.get("actor_name"),
                event.get("target", ""),
            )
            return None

    def list(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
    ) -> builtins.list[AuditEventOut]:
        """Events newest first. `action`: the action contains this text (any case); `actor`: exactly
        this actor name; `since`: at or after this time (a time without offset is taken as UTC)."""
        query = select(AuditEvent)
        if action:
            query = query.where(func.lower(AuditEvent.action).contains(action.lower(), autoescape=True))
        if actor:
            query = query.where(AuditEvent.actor_name == actor)
        if since is not None:
            since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
            query = query.where(AuditEvent.at >= since)
        query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
        with self.db.session() as session:
            return [AuditEventOut.model_validate(row) for row in session.scalars(query)]


def os_user() -> str:
    """The person at the terminal, for events recorded by the command line."""
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry (some containers)
        return "unknown"

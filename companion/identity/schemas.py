"""Response model of the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from companion.schemas import UtcDateTime


class AuditEventOut(BaseModel):
    """One recorded admin action."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDateTime = Field(description="When the action finished (UTC).")
    actor_user_id: int | None = Field(
        description="Account that acted; null for the command line or a since-deleted account."
    )
    actor_name: str = Field(description="User name, or the OS user for the command line.")
    action: str = Field(
        description="What was done: 'METHOD /route/{template}' for the API, a command name for the CLI."
    )
    target: str = Field(description="What it was done to: path parameters, a name, a file or a folder.")
    via: str = Field(description="api, web or cli.")
    details: dict[str, Any] = Field(description="More about the action, e.g. the HTTP status or counts.")

"""E-mail nudges and personal preferences over the API: one's own preferences (the e-mail opt-out and the
private calendar feed's address, with a reset), the calendar feed itself (ICS, reached by its secret
token, no sign-in), and for admins the recent sends and starting a nudge run as a job."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from companion.api.deps import AdminUser, CurrentUser, ServicesDep
from companion.api.jobs import accepted
from companion.jobs.schemas import JobOut
from companion.jobs.tasks import start_nudges
from companion.program.calendar import MAX_TOKEN
from companion.program.nudges import SentOut
from companion.program.preferences import PreferencesIn, PreferencesOut

router = APIRouter(tags=["nudges"])
CALENDAR_TYPE = "text/calendar; charset=utf-8"


class NudgeRunIn(BaseModel):
    today: date | None = Field(None, description="The day to judge the pairs on (default: today).")
    dry_run: bool = Field(False, description="Only list what would be sent; nothing is sent or recorded.")


@router.get("/v1/me/preferences", summary="My e-mail opt-out and my private calendar feed's address")
def my_preferences(services: ServicesDep, user: CurrentUser) -> PreferencesOut:
    return services.preferences.get(user.id)


@router.put("/v1/me/preferences", summary="Opt out of (or back into) the e-mail nudges")
def set_my_preferences(body: PreferencesIn, services: ServicesDep, user: CurrentUser) -> PreferencesOut:
    return services.preferences.set_opt_out(user.id, body.email_opt_out)


@router.post(
    "/v1/me/preferences/calendar/reset",
    summary="A new address for my calendar feed; the old one stops working (404)",
)
def reset_my_calendar(services: ServicesDep, user: CurrentUser) -> PreferencesOut:
    return services.preferences.reset_calendar(user.id)


@router.get(
    "/calendar/{token}.ics",
    summary="A private calendar feed (ICS): sessions, the next session due, cycle milestones; no sign-in",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "The feed."}},
)
def calendar_feed(
    token: Annotated[str, Path(min_length=1, max_length=MAX_TOKEN, pattern=r"^[\w-]+$")],
    services: ServicesDep,
) -> Response:
    body = services.calendars.feed(token)
    return Response(body, media_type=CALENDAR_TYPE, headers={"Cache-Control": "private, no-store"})


@router.get("/v1/nudges", summary="E-mail nudges sent, newest first (admin)")
def recent_nudges(
    services: ServicesDep,
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500, description="Most recent sends.")] = 50,
) -> list[SentOut]:
    return services.nudges.recent(limit=limit)


@router.post(
    "/v1/nudges/run",
    status_code=202,
    response_model=JobOut,
    summary="Start a nudge run (or a dry run) as a background job (admin); follow it at /v1/jobs/{id}",
)
def run_nudges(body: NudgeRunIn, services: ServicesDep, admin: AdminUser) -> JSONResponse:
    return accepted(start_nudges(services, principal=admin, today=body.today, dry_run=body.dry_run))

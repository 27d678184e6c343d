from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from companion.api.deps import CurrentUser, MenteeId, RowId, ServicesDep
from companion.program.outcomes import GoalOutcome, ProgressIn, ProgressOut, StatusChange
from companion.records.service import GoalIn, GoalOut, SessionIn, SessionOut, SessionUpdate
from companion.schemas import MAX_DB_ID

router = APIRouter(prefix="/v1", tags=["records"])


@router.get("/mentees/{mentee_id}/goals", summary="A mentee's saved goals")
def list_goals(
    mentee_id: MenteeId,
    services: ServicesDep,
    user: CurrentUser,
    status: str | None = Query(None, pattern="^(active|achieved|dropped)$"),
) -> list[GoalOut]:
    return services.records.list_goals(user, mentee_id, status=status)


@router.post("/mentees/{mentee_id}/goals", status_code=201, summary="Save goals (e.g. drafted ones)")
def add_goals(
    mentee_id: MenteeId, body: list[GoalIn], services: ServicesDep, user: CurrentUser
) -> list[GoalOut]:
    return services.records.add_goals(user, mentee_id, body)


@router.put("/mentees/{mentee_id}/goals/{goal_id}", summary="Edit a saved goal")
def update_goal(
    mentee_id: MenteeId, goal_id: RowId, body: GoalIn, services: ServicesDep, user: CurrentUser
) -> GoalOut:
    return services.records.update_goal(user, mentee_id, goal_id, body)


@router.delete("/mentees/{mentee_id}/goals/{goal_id}", status_code=204, summary="Delete a saved goal")
def delete_goal(mentee_id: MenteeId, goal_id: RowId, services: ServicesDep, user: CurrentUser) -> Response:
    services.records.delete_goal(user, mentee_id, goal_id)
    return Response(status_code=204)


@router.get("/mentees/{mentee_id}/goals/{goal_id}/outcome", summary="A goal's status and progress notes")
def goal_outcome(
    mentee_id: MenteeId, goal_id: RowId, services: ServicesDep, user: CurrentUser
) -> GoalOutcome:
    return services.outcomes.outcome(user, mentee_id, goal_id)


@router.post(
    "/mentees/{mentee_id}/goals/{goal_id}/status",
    summary="Mark a goal achieved, dropped or active again (sets the day it closed)",
)
def change_goal_status(
    mentee_id: MenteeId, goal_id: RowId, body: StatusChange, services: ServicesDep, user: CurrentUser
) -> GoalOutcome:
    return services.outcomes.change_status(user, mentee_id, goal_id, body)


@router.post(
    "/mentees/{mentee_id}/goals/{goal_id}/progress", status_code=201, summary="Add a progress note to a goal"
)
def add_goal_progress(
    mentee_id: MenteeId, goal_id: RowId, body: ProgressIn, services: ServicesDep, user: CurrentUser
) -> ProgressOut:
    return services.outcomes.add_progress(user, mentee_id, goal_id, body)


@router.post("/sessions", status_code=201, summary="Record a session and its notes")
def add_session(body: SessionIn, services: ServicesDep, user: CurrentUser) -> SessionOut:
    return services.records.add_session(user, body)


@router.get("/sessions", summary="A mentee's sessions, newest first")
def list_sessions(
    mentee_id: Annotated[int, Query(ge=1, le=MAX_DB_ID, description="The mentee's user id.")],
    services: ServicesDep,
    user: CurrentUser,
) -> list[SessionOut]:
    return services.records.list_sessions(user, mentee_id)


@router.get("/sessions/{session_id}", summary="One session")
def get_session(session_id: RowId, services: ServicesDep, user: CurrentUser) -> SessionOut:
    return services.records.get_session(user, session_id)


@router.patch("/sessions/{session_id}", summary="Update a session's notes, date or length")
def update_session(
    session_id: RowId, body: SessionUpdate, services: ServicesDep, user: CurrentUser
) -> SessionOut:
    return services.records.update_session(user, session_id, body)

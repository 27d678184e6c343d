from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from companion.api.deps import CurrentUser, ServicesDep
from companion.assistant.models import (
    AskRequest,
    AskResponse,
    FeedbackRequest,
    FeedbackResponse,
    GoalDraftRequest,
    GoalDraftResponse,
    SessionPrepRequest,
    SessionPrepResponse,
)
from companion.http import sse_lines

router = APIRouter(prefix="/v1", tags=["assistant"])


@router.post("/goals/draft", summary="Draft 1-5 SMART goals from a mentee's aspiration, with citations")
def draft_goals(body: GoalDraftRequest, services: ServicesDep, user: CurrentUser) -> GoalDraftResponse:
    return services.mentoring.draft_goals(user, body)


@router.post("/sessions/prep", summary="A time-boxed agenda and questions for the next session")
def prepare_session(
    body: SessionPrepRequest, services: ServicesDep, user: CurrentUser
) -> SessionPrepResponse:
    return services.mentoring.prepare_session(user, body)


@router.post("/feedback/coach", summary="Rewrite draft feedback as situation, behaviour, impact, next step")
def coach_feedback(body: FeedbackRequest, services: ServicesDep, user: CurrentUser) -> FeedbackResponse:
    return services.mentoring.coach_feedback(user, body)


@router.post(
    "/ask",
    summary="Answer from the guides with [n] citations; streams server-sent events when asked",
    response_model=AskResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def ask(body: AskRequest, request: Request, services: ServicesDep, user: CurrentUser) -> Any:
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if not wants_stream:
        return services.mentoring.ask(user, body)
    events = services.mentoring.ask_stream(user, body)
    return StreamingResponse(
        sse_lines(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )

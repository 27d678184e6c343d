"""Mentor pages: my mentees (their goals and sessions, record a session, edit its notes) and the feedback
coach (draft and rewrite side by side, the situation/behaviour/impact/next-step parts, what changed and
why, and a word-level diff).

Access is the records service's: a mentor acts only on their active mentees (403 otherwise), as in the
JSON API (`companion/api/records.py`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from companion.api.deps import MenteeId, RowId, ServicesDep
from companion.assistant.models import FeedbackRequest, FeedbackResponse
from companion.assistant.textdiff import diff_counts, word_diff
from companion.errors import CompanionError
from companion.identity.auth import Principal
from companion.records.service import SessionIn, SessionUpdate
from companion.web.common import CheckedForm, MentorPage, field, from_form, render
from companion.web.outcome_forms import NOTICES as PROGRESS_NOTICES
from companion.web.outcome_forms import save_progress, typed_progress

router = APIRouter(prefix="/mentor", include_in_schema=False)

Model = TypeVar("Model", bound=BaseModel)

LABELS = {
    "held_on": "Date",
    "length_minutes": "Length in minutes",
    "notes": "Notes",
    "draft": "Your draft feedback",
    "context": "Context",
}
NOTICES = {"session": "Session recorded.", "notes": "Notes saved.", **PROGRESS_NOTICES}


def checked(model: type[Model], **values: Any) -> Model:
    """A request model from the form's values, or InvalidInput saying which fields to fix."""
    return from_form(model, LABELS, prefix="please check the form: ", **values)


# ---- my mentees -------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def mentees_page(request: Request, services: ServicesDep, mentor: MentorPage) -> HTMLResponse:
    records, who = services.records, mentor.principal
    mentees = [
        {
            "mentee": m,
            "goals": records.list_goals(who, m.id),
            "sessions": records.list_sessions(who, m.id),
        }
        for m in records.my_mentees(who)
    ]
    context = {
        "mentees": mentees,
        "rhythm": services.rhythm.my_rhythm(who),
        "surveys_for_you": services.surveys.mine(who),
        "achievements": services.outcomes.achievements(who),
    }
    return render(request, "mentor/mentees.html", context)


def _mentee_page(
    request: Request,
    services: ServicesDep,
    principal: Principal,
    mentee_id: int,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    records = services.records
    records.check_access(principal, mentee_id)  # not my mentee -> 403, before anything is read
    goals = records.list_goals(principal, mentee_id)
    brief = next((m for m in records.my_mentees(principal) if m.id == mentee_id), None)
    page: dict[str, Any] = {
        "mentee_id": mentee_id,
        "name": (brief.display_name or brief.name) if brief else f"mentee {mentee_id}",
        "user_name": brief.name if brief else "",
        "goals": goals,
        "progress": services.outcomes.progress_by_goal(principal, mentee_id),
        "achievements": [a for a in services.outcomes.achievements(principal) if a.mentee_id == mentee_id],
        "typed_progress": {},
        "sessions": records.list_sessions(principal, mentee_id),
        "new": {"held_on": date.today().isoformat(), "length_minutes": "60", "notes": ""},
        "edited": {},
    }
    page.update(context)
    return render(request, "mentor/mentee.html", page, status_code=status_code)


@router.get("/mentees/{user_id}", response_class=HTMLResponse)
def mentee_page(
    request: Request, services: ServicesDep, mentor: MentorPage, user_id: MenteeId, saved: str = ""
) -> HTMLResponse:
    return _mentee_page(request, services, mentor.principal, user_id, notice=NOTICES.get(saved, ""))


@router.post("/mentees/{user_id}/sessions", response_class=HTMLResponse)
def record_session(
    request: Request, services: ServicesDep, mentor: MentorPage, form: CheckedForm, user_id: MenteeId
) -> Response:
    typed = {
        "held_on": field(form, "held_on"),
        "length_minutes": field(form, "length_minutes"),
        "notes": field(form, "notes"),
    }
    try:
        data = checked(SessionIn, mentee_id=user_id, **typed)
        created = services.records.add_session(mentor.principal, data)
    except CompanionError as exc:
        # re-checks access first: for someone else's mentee this raises 403 (the error page, no form)
        return _mentee_page(
            request,
            services,
            mentor.principal,
            user_id,
            new=typed,
            error=exc.message,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/mentor/mentees/{user_id}?saved=session#session-{created.id}", status_code=303)


@router.post("/mentees/{user_id}/goals/{goal_id}/progress", response_class=HTMLResponse)
def goal_progress(
    request: Request,
    services: ServicesDep,
    mentor: MentorPage,
    form: CheckedForm,
    user_id: MenteeId,
    goal_id: RowId,
) -> Response:
    try:
        done = save_progress(services, mentor.principal, user_id, goal_id, form)
    except CompanionError as exc:
        return _mentee_page(
            request,
            services,
            mentor.principal,
            user_id,
            typed_progress=typed_progress(form, goal_id),
            error=exc.message,
            status_code=exc.status_code,
        )
    anchor = "achieved" if done == "achieved" else f"goal-{goal_id}"
    return RedirectResponse(f"/mentor/mentees/{user_id}?saved={done}#{anchor}", status_code=303)


@router.post("/sessions/{session_id}/notes", response_class=HTMLResponse)
def edit_notes(
    request: Request, services: ServicesDep, mentor: MentorPage, form: CheckedForm, session_id: RowId
) -> Response:
    existing = services.records.get_session(mentor.principal, session_id)  # not my mentee's -> 403 page
    notes = field(form, "notes")
    try:
        services.records.update_session(mentor.principal, session_id, checked(SessionUpdate, notes=notes))
    except CompanionError as exc:
        edited = {session_id: notes}
        return _mentee_page(
            request,
            services,
            mentor.principal,
            existing.mentee_id,
            edited=edited,
            error=exc.message,
            status_code=exc.status_code,
        )
    target = f"/mentor/mentees/{existing.mentee_id}?saved=notes#session-{session_id}"
    return RedirectResponse(target, status_code=303)


# ---- feedback coach ---------------------------------------------------------------------------------


def _feedback_page(
    request: Request, *, result: FeedbackResponse | None = None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    diff = word_diff(result.original, result.rewritten) if result else []
    page: dict[str, Any] = {
        "form": {"draft": "", "context": "", "situation": "", "impact": ""},
        "result": result,
        "diff": diff,
        "counts": diff_counts(diff),
    }
    page.update(context)
    return render(request, "mentor/feedback.html", page, status_code=status_code)


@router.get("/feedback", response_class=HTMLResponse)
def feedback_page(request: Request, mentor: MentorPage) -> HTMLResponse:
    return _feedback_page(request)


@router.post("/feedback", response_class=HTMLResponse)
def coach_feedback(
    request: Request, services: ServicesDep, mentor: MentorPage, form: CheckedForm
) -> HTMLResponse:
    typed = {name: field(form, name) for name in ("draft", "context", "situation", "impact")}
    polish = field(form, "polish") == "1"
    try:
        result = services.mentoring.coach_feedback(
            mentor.principal, checked(FeedbackRequest, **typed, polish=polish)
        )
    except CompanionError as exc:
        return _feedback_page(request, form=typed, error=exc.message, status_code=exc.status_code)
    return _feedback_page(request, form=typed, result=result)

"""Mentee pages: my goals (draft with the assistant, save, edit, delete), prepare my next session, and the
mentors recommended for me (with the proposed matches to accept or decline).

Routes parse the form and call the same services as the JSON API (`services.mentoring`, `services.records`,
`services.people`, `services.matching`); every call acts on the signed-in mentee only, and the services
repeat the access checks. Errors re-render the page with the message, the service's status code and the
user's typed input.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from companion.api.deps import RowId, ServicesDep
from companion.assistant.models import Citation, DraftedGoal, GoalDraftRequest, SessionPrepRequest
from companion.errors import CompanionError, InvalidInput, NotFound
from companion.identity.accounts import SignedIn
from companion.program.recognition import NominationIn
from companion.records.service import GOAL_STATUSES, GoalIn, GoalOut
from companion.web.common import CheckedForm, MenteePage, field, from_form, render
from companion.web.outcome_forms import NOTICES as PROGRESS_NOTICES
from companion.web.outcome_forms import save_progress, typed_progress

router = APIRouter(prefix="/mentee", include_in_schema=False)

MAX_DRAFTS = 5
MAX_STEPS = 10
MAX_STEP_CHARS = 300
MAX_FOCUS_CHARS = 300
RECOMMENDATIONS = 5
LABELS = {
    "aspiration": "What you want to achieve",
    "context": "Context",
    "max_goals": "Number of goals",
    "statement": "Goal",
    "measure": "Measure",
    "target_date": "Target date",
    "first_steps": "First steps",
    "citations": "Guide citations",
    "status": "Status",
    "length_minutes": "Session length",
    "goals": "Focus",
}
GOAL_NOTICES = {
    "saved": "Saved the selected goals.",
    "added": "Goal added.",
    "updated": "Goal updated.",
    "deleted": "Goal deleted.",
    **PROGRESS_NOTICES,
    "nominated": "Thank you: your nomination is with the program team.",
}
MATCH_NOTICES = {
    "accepted": "You accepted the match. It is confirmed once the mentor accepts too.",
    "confirmed": "Match confirmed: you and your mentor are now linked.",
    "declined": "You declined the match; that mentor will not be proposed to you again.",
    "profile": "Profile saved: these recommendations are made from it.",
}
EXCLUSIONS = {
    "places": "have no places left",
    "language": "share no language with you",
    "overlap": "share too few working hours with you",
    "reporting_line": "are in your reporting line",
    "avoided": "are on your avoid list (or have you on theirs)",
    "forbidden": "were declined or ruled out for you",
}


# ---- form helpers ------------------------------------------------------------------------------------


def _whole_number(text: str, label: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidInput(f"{label} must be a whole number from {low} to {high}")
    return value


def _goal_values(form: FormData, suffix: str = "") -> dict[str, str]:
    """The goal fields as typed, so a refused form can be shown again unchanged."""
    names = ("statement", "measure", "target_date", "first_steps", "status")
    values = {name: field(form, f"{name}{suffix}") for name in names}
    values["status"] = values["status"] or "active"
    return values


def _goal_in(values: dict[str, str], citations: list[Citation], prefix: str = "") -> GoalIn:
    steps = [line.strip() for line in values["first_steps"].splitlines() if line.strip()]
    if len(steps) > MAX_STEPS:
        raise InvalidInput(f"{prefix}First steps: at most {MAX_STEPS} (one per line)")
    if any(len(step) > MAX_STEP_CHARS for step in steps):
        raise InvalidInput(f"{prefix}First steps: each step is at most {MAX_STEP_CHARS} characters")
    if values["status"] not in GOAL_STATUSES:
        raise InvalidInput(f"{prefix}Status: choose one of {', '.join(GOAL_STATUSES)}")
    target: date | None = None
    if values["target_date"]:
        try:
            target = date.fromisoformat(values["target_date"])
        except ValueError:
            raise InvalidInput(f"{prefix}Target date: use a date like 2026-06-30") from None
    return from_form(
        GoalIn,
        LABELS,
        prefix=prefix,
        statement=values["statement"],
        measure=values["measure"],
        target_date=target,
        first_steps=steps,
        citations=citations,
        status=values["status"],
    )


def _parse_citations(raw: str) -> list[Citation] | None:
    """The citations a draft carries through the form (JSON); None when they were damaged."""
    try:
        data = json.loads(raw or "[]")
        if not isinstance(data, list) or len(data) > 20:
            return None
        return [Citation.model_validate(item) for item in data]
    except (ValueError, ValidationError):
        return None


def _draft_row(goal: DraftedGoal) -> dict[str, Any]:
    return {
        "statement": goal.statement,
        "measure": goal.measure,
        "target_date": goal.target_date.isoformat(),
        "first_steps": "\n".join(goal.first_steps),
        "citations": goal.citations,
        "citations_json": json.dumps([c.model_dump() for c in goal.citations]),
        "picked": True,
        "damaged": False,
    }


def _draft_rows_from(form: FormData) -> list[dict[str, Any]]:
    """The drafts as posted back (edited text, ticks and carried citations)."""
    try:
        count = min(max(int(field(form, "draft_count", "0")), 0), MAX_DRAFTS)
    except ValueError:
        count = 0
    picked = {value for value in form.getlist("pick") if isinstance(value, str)}
    rows = []
    for i in range(count):
        raw = field(form, f"citations-{i}")
        citations = _parse_citations(raw)
        row: dict[str, Any] = _goal_values(form, f"-{i}")
        row.update(
            citations=citations or [],
            citations_json=raw if citations is not None else "[]",
            picked=str(i) in picked,
            damaged=citations is None,
        )
        rows.append(row)
    return rows


def _origin(form: FormData) -> str:
    return "grounded" if field(form, "origin") == "grounded" else "model"


# ---- my goals ----------------------------------------------------------------------------------------


def _goals_page(
    request: Request, services: ServicesDep, user: SignedIn, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    me = user.principal
    page: dict[str, Any] = {
        "goals": services.records.list_goals(me, me.id),
        "progress": services.outcomes.progress_by_goal(me, me.id),
        "achievements": services.outcomes.achievements(me),
        "typed_progress": {},
        "my_mentors": services.recognition.my_mentors(me),
        "award_name": services.settings.program.award_name,
        "nomination": {"mentor_id": "", "reason": ""},
        "statuses": GOAL_STATUSES,
        "ask": {"aspiration": "", "context": "", "max_goals": "3"},
        "drafts": None,
        "draft_origin": "model",
        "draft_notes": [],
        "new": {"status": "active"},
        "editing": None,
        "rhythm": services.rhythm.my_rhythm(me),
        "surveys_for_you": services.surveys.mine(me),
    }
    page.update(context)
    return render(request, "mentee/goals.html", page, status_code=status_code)


def _own_goal(services: ServicesDep, user: SignedIn, goal_id: int) -> GoalOut:
    me = user.principal
    for goal in services.records.list_goals(me, me.id):
        if goal.id == goal_id:
            return goal
    raise NotFound(f"you have no goal {goal_id}")


def _back_to_goals(done: str, anchor: str = "goals") -> Response:
    return RedirectResponse(f"/mentee?done={done}#{anchor}", status_code=303)


@router.get("", response_class=HTMLResponse)
def goals_page(
    request: Request,
    services: ServicesDep,
    user: MenteePage,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    return _goals_page(request, services, user, notice=GOAL_NOTICES.get(done, ""))


@router.post("/goals/draft", response_class=HTMLResponse)
def draft_goals(request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm) -> HTMLResponse:
    ask = {name: field(form, name) for name in ("aspiration", "context", "max_goals")}
    try:
        count = _whole_number(ask["max_goals"] or "3", "Number of goals", 1, MAX_DRAFTS)
        body = from_form(
            GoalDraftRequest,
            LABELS,
            aspiration=ask["aspiration"],
            context=ask["context"],
            max_goals=count,
            polish=field(form, "polish") == "1",
        )
        result = services.mentoring.draft_goals(user.principal, body)
    except CompanionError as exc:
        return _goals_page(request, services, user, ask=ask, error=exc.message, status_code=exc.status_code)
    return _goals_page(
        request,
        services,
        user,
        ask=ask,
        drafts=[_draft_row(goal) for goal in result.goals],
        draft_origin=result.origin,
        draft_notes=result.generation.notes,
        notice=f"The assistant drafted {len(result.goals)} goal(s): review them under 'Drafts to review'.",
    )


@router.post("/goals/save", response_class=HTMLResponse)
def save_drafts(request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm) -> Response:
    rows = _draft_rows_from(form)
    try:
        chosen = [(i, row) for i, row in enumerate(rows) if row["picked"]]
        if not chosen:
            raise InvalidInput("tick at least one draft goal to save")
        goals = []
        for i, row in chosen:
            if row["damaged"]:
                raise InvalidInput(f"Draft {i + 1}: its guide citations were damaged; draft the goals again")
            goals.append(_goal_in(row, row["citations"], f"Draft {i + 1}: "))
        services.records.add_goals(user.principal, user.principal.id, goals)
    except CompanionError as exc:
        context = {"drafts": rows, "draft_origin": _origin(form), "error": exc.message}
        return _goals_page(request, services, user, status_code=exc.status_code, **context)
    return _back_to_goals("saved")


@router.post("/goals", response_class=HTMLResponse)
def add_goal(request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm) -> Response:
    values = _goal_values(form)
    try:
        goal = _goal_in(values, [])
        services.records.add_goals(user.principal, user.principal.id, [goal])
    except CompanionError as exc:
        return _goals_page(
            request, services, user, new=values, error=exc.message, status_code=exc.status_code
        )
    return _back_to_goals("added")


@router.post("/goals/{goal_id}/edit", response_class=HTMLResponse)
def edit_goal(
    request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm, goal_id: RowId
) -> Response:
    values = _goal_values(form)
    try:
        current = _own_goal(services, user, goal_id)
        goal = _goal_in(values, current.citations)
        services.records.update_goal(user.principal, user.principal.id, goal_id, goal)
    except CompanionError as exc:
        editing = {"id": goal_id, **values}
        return _goals_page(
            request, services, user, editing=editing, error=exc.message, status_code=exc.status_code
        )
    return _back_to_goals("updated", f"goal-{goal_id}")


@router.post("/goals/{goal_id}/delete", response_class=HTMLResponse)
def delete_goal(
    request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm, goal_id: RowId
) -> Response:
    try:
        services.records.delete_goal(user.principal, user.principal.id, goal_id)
    except CompanionError as exc:
        return _goals_page(request, services, user, error=exc.message, status_code=exc.status_code)
    return _back_to_goals("deleted")


@router.post("/goals/{goal_id}/progress", response_class=HTMLResponse)
def goal_progress(
    request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm, goal_id: RowId
) -> Response:
    try:
        done = save_progress(services, user.principal, user.principal.id, goal_id, form)
    except CompanionError as exc:
        typed = typed_progress(form, goal_id)
        return _goals_page(
            request, services, user, typed_progress=typed, error=exc.message, status_code=exc.status_code
        )
    return _back_to_goals(done, "achieved" if done == "achieved" else f"goal-{goal_id}")


@router.post("/nominations", response_class=HTMLResponse)
def nominate_mentor(request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm) -> Response:
    typed = {"mentor_id": field(form, "mentor_id"), "reason": field(form, "reason")}
    try:
        mentor_id = _whole_number(typed["mentor_id"] or "0", "Mentor", 1, 2**31 - 1)
        body = from_form(
            NominationIn,
            {"reason": "Why they deserve it", "mentor_id": "Mentor"},
            mentor_id=mentor_id,
            reason=typed["reason"],
        )
        services.recognition.nominate(user.principal, body)
    except CompanionError as exc:
        return _goals_page(
            request, services, user, nomination=typed, error=exc.message, status_code=exc.status_code
        )
    return _back_to_goals("nominated", "nominate")


# ---- prepare my next session -------------------------------------------------------------------------


def _prepare_page(
    request: Request, services: ServicesDep, user: SignedIn, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    me = user.principal
    page: dict[str, Any] = {
        "sessions": services.records.list_sessions(me, me.id),
        "active_goals": services.records.list_goals(me, me.id, status="active"),
        "prep": {"length_minutes": "60", "focus": ""},
        "result": None,
        "total": 0,
    }
    page.update(context)
    return render(request, "mentee/prepare.html", page, status_code=status_code)


@router.get("/prepare", response_class=HTMLResponse)
def prepare_page(request: Request, services: ServicesDep, user: MenteePage) -> HTMLResponse:
    return _prepare_page(request, services, user)


@router.post("/prepare", response_class=HTMLResponse)
def prepare_session(
    request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm
) -> HTMLResponse:
    me = user.principal
    prep = {"length_minutes": field(form, "length_minutes", "60"), "focus": field(form, "focus")}
    try:
        length = _whole_number(prep["length_minutes"], "Session length (minutes)", 15, 180)
        if len(prep["focus"]) > MAX_FOCUS_CHARS:
            raise InvalidInput(f"Focus: at most {MAX_FOCUS_CHARS} characters")
        goals: list[str] | None = None
        if prep["focus"]:  # the focus comes first, then the saved active goals (the service's default)
            active = [g.statement for g in services.records.list_goals(me, me.id, status="active")]
            goals = [prep["focus"], *active][:10]
        result = services.mentoring.prepare_session(
            me,
            from_form(
                SessionPrepRequest,
                LABELS,
                length_minutes=length,
                goals=goals,
                polish=field(form, "polish") == "1",
            ),
        )
    except CompanionError as exc:
        return _prepare_page(
            request, services, user, prep=prep, error=exc.message, status_code=exc.status_code
        )
    total = sum(item.minutes for item in result.items)
    return _prepare_page(request, services, user, prep=prep, result=result, total=total)


# ---- mentors for me ----------------------------------------------------------------------------------


def _mentors_page(
    request: Request, services: ServicesDep, user: SignedIn, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    me = user.principal
    page: dict[str, Any] = {
        "profile": None,
        "recs": None,
        "matches": [m for m in services.matching.list_matches(principal=me) if m.status != "withdrawn"],
        "exclusions": EXCLUSIONS,
    }
    try:
        page["profile"] = services.people.me(me)
    except NotFound:
        pass
    if page["profile"] is not None:
        try:
            page["recs"] = services.matching.recommend(page["profile"].id, k=RECOMMENDATIONS, principal=me)
        except CompanionError as exc:
            page["error"], status_code = exc.message, exc.status_code
    page.update(context)
    return render(request, "mentee/mentors.html", page, status_code=status_code)


@router.get("/mentors", response_class=HTMLResponse)
def mentors_page(
    request: Request,
    services: ServicesDep,
    user: MenteePage,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    return _mentors_page(request, services, user, notice=MATCH_NOTICES.get(done, ""))


def _decide(
    request: Request, services: ServicesDep, user: SignedIn, match_id: int, *, accept: bool
) -> Response:
    try:
        match = services.matching.decide(match_id, accept=accept, principal=user.principal)
    except CompanionError as exc:
        return _mentors_page(request, services, user, error=exc.message, status_code=exc.status_code)
    done = "declined" if not accept else "confirmed" if match.status == "accepted" else "accepted"
    return RedirectResponse(f"/mentee/mentors?done={done}#matches", status_code=303)


@router.post("/mentors/matches/{match_id}/accept", response_class=HTMLResponse)
def accept_match(
    request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm, match_id: RowId
) -> Response:
    return _decide(request, services, user, match_id, accept=True)


@router.post("/mentors/matches/{match_id}/decline", response_class=HTMLResponse)
def decline_match(
    request: Request, services: ServicesDep, user: MenteePage, form: CheckedForm, match_id: RowId
) -> Response:
    return _decide(request, services, user, match_id, accept=False)

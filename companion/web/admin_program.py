"""Admin page for the program's cycles (`/admin/program`): the cycles, a form to start one, and for the
chosen cycle its milestones (add, edit, delete), its pairs with their rhythm, the at-risk list with the
reasons, and a form to add an active mentorship. Forms post to the same services as the JSON API
(`services.programs`, `services.rhythm`); errors re-render the page with the message and the typed input."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from companion.api.deps import RowId, ServicesDep
from companion.errors import CompanionError, InvalidInput
from companion.program.schemas import (
    CycleIn,
    CycleOut,
    MilestoneIn,
    MilestoneUpdate,
    PairIn,
    ProgramIn,
)
from companion.schemas import MAX_DB_ID
from companion.web.common import AdminPage, CheckedForm, field, from_form, render

router = APIRouter(prefix="/admin/program", include_in_schema=False)
Model = TypeVar("Model", bound=BaseModel)
PAGE = "/admin/program"
PAIRS_PER_PAGE = 100  # rows of the pairs table per page (a cycle can hold thousands of pairs)
LABELS = {
    "name": "Name",
    "kind": "Kind",
    "cadence_days": "Check-in every (days)",
    "starts_on": "Start date",
    "ends_on": "End date",
    "title": "Milestone",
    "due_on": "Due date",
    "mentorship_id": "Pair",
    "joined_on": "Joined on",
}
NOTICES = {
    "program": "Program created.",
    "cycle": "Cycle created with the milestones of the settings.",
    "milestone": "Milestone added.",
    "edited": "Milestone saved.",
    "deleted": "Milestone deleted.",
    "pair": "Pair added to the cycle.",
    "removed": "Pair taken out of the cycle.",
}
EMPTY_CYCLE = {"program_id": "", "name": "", "starts_on": "", "ends_on": ""}
EMPTY_MILESTONE = {"title": "", "due_on": "", "kind": "checkpoint"}


def checked(model: type[Model], **values: Any) -> Model:
    return from_form(model, LABELS, prefix="please check the form: ", **values)


def _blank_is_none(**values: str) -> dict[str, str | None]:
    return {key: (value or None) for key, value in values.items()}


def _chosen(services: ServicesDep, cycles: list[CycleOut], cycle_id: int | None) -> CycleOut | None:
    """The cycle to show: the one asked for, else the one running today, else the newest."""
    if cycle_id is not None:
        return services.programs.get_cycle(cycle_id)
    if not cycles:
        return None
    today = date.today()
    running = next((c for c in cycles if c.starts_on <= today <= c.ends_on), cycles[0])
    return services.programs.get_cycle(running.id)


def _page(
    request: Request,
    services: ServicesDep,
    *,
    cycle_id: int | None = None,
    pairs_page: int = 1,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    services.programs.ensure_default_program()
    cycles = services.programs.list_cycles()
    try:
        cycle = _chosen(services, cycles, cycle_id)
    except CompanionError as exc:
        cycle, status_code = None, exc.status_code
        context.setdefault("error", exc.message)
    rhythm = services.rhythm.cycle_rhythm(cycle.id) if cycle else None
    total = len(rhythm.pairs) if rhythm else 0
    pages = max(1, -(-total // PAIRS_PER_PAGE))
    pairs_page = min(pairs_page, pages)
    start = (pairs_page - 1) * PAIRS_PER_PAGE
    page: dict[str, Any] = {
        "programs": services.programs.list_programs(),
        "cycles": cycles,
        "cycle": cycle,
        "rhythm": rhythm,
        # the pairs table shows one page (at-risk pairs come first); the at-risk list above it shows all
        "shown_pairs": rhythm.pairs[start : start + PAIRS_PER_PAGE] if rhythm else [],
        "pairs_pager": {"page": pairs_page, "pages": pages, "first": start + 1, "total": total},
        "options": services.programs.mentorship_options(cycle.id) if cycle else [],
        "cycle_form": EMPTY_CYCLE,
        "milestone_form": EMPTY_MILESTONE,
        "program_form": {"name": "", "kind": "one_to_one", "cadence_days": ""},
        "edited": {},
    }
    page.update(context)
    return render(request, "admin/program.html", page, status_code=status_code)


def _back(cycle_id: int, done: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"{PAGE}?cycle={cycle_id}&done={done}{anchor}", status_code=303)


@router.get("", response_class=HTMLResponse)
def program_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    cycle: Annotated[int | None, Query(ge=1, le=MAX_DB_ID)] = None,
    done: str = "",
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page of the pairs table.")] = 1,
) -> HTMLResponse:
    return _page(request, services, cycle_id=cycle, pairs_page=page, notice=NOTICES.get(done, ""))


@router.post("/programs", response_class=HTMLResponse)
def create_program(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> Response:
    typed = {name: field(form, name) for name in ("name", "kind", "cadence_days")}
    try:
        program = services.programs.create_program(
            checked(
                ProgramIn, name=typed["name"], kind=typed["kind"], cadence_days=typed["cadence_days"] or None
            )
        )
    except CompanionError as exc:
        return _page(request, services, program_form=typed, error=exc.message, status_code=exc.status_code)
    request.state.audit_target = f"program {program.id}"
    return RedirectResponse(f"{PAGE}?done=program#programs", status_code=303)


@router.post("/cycles", response_class=HTMLResponse)
def create_cycle(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> Response:
    typed = {name: field(form, name) for name in EMPTY_CYCLE}
    try:
        program_id = int(typed["program_id"]) if typed["program_id"].isdigit() else 0
        if not 0 < program_id <= MAX_DB_ID:
            raise InvalidInput("please check the form: choose the cycle's program")
        values = _blank_is_none(name=typed["name"], starts_on=typed["starts_on"], ends_on=typed["ends_on"])
        cycle = services.programs.create_cycle(program_id, checked(CycleIn, **values))
    except CompanionError as exc:
        return _page(request, services, cycle_form=typed, error=exc.message, status_code=exc.status_code)
    request.state.audit_target = f"cycle {cycle.id}"
    return _back(cycle.id, "cycle")


@router.post("/cycles/{cycle_id}/milestones", response_class=HTMLResponse)
def add_milestone(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, cycle_id: RowId
) -> Response:
    typed = {name: field(form, name) for name in EMPTY_MILESTONE}
    try:
        services.programs.add_milestone(cycle_id, checked(MilestoneIn, **_blank_is_none(**typed)))
    except CompanionError as exc:
        return _page(
            request,
            services,
            cycle_id=cycle_id,
            milestone_form=typed,
            error=exc.message,
            status_code=exc.status_code,
        )
    return _back(cycle_id, "milestone", "#milestones")


@router.post("/cycles/{cycle_id}/milestones/{milestone_id}", response_class=HTMLResponse)
def edit_milestone(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    form: CheckedForm,
    cycle_id: RowId,
    milestone_id: RowId,
) -> Response:
    typed = {name: field(form, name) for name in EMPTY_MILESTONE}
    try:
        services.programs.update_milestone(
            cycle_id, milestone_id, checked(MilestoneUpdate, **_blank_is_none(**typed))
        )
    except CompanionError as exc:
        return _page(
            request,
            services,
            cycle_id=cycle_id,
            edited={milestone_id: typed},
            error=exc.message,
            status_code=exc.status_code,
        )
    return _back(cycle_id, "edited", f"#milestone-{milestone_id}")


@router.post("/cycles/{cycle_id}/milestones/{milestone_id}/delete", response_class=HTMLResponse)
def delete_milestone(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    form: CheckedForm,
    cycle_id: RowId,
    milestone_id: RowId,
) -> Response:
    try:
        services.programs.delete_milestone(cycle_id, milestone_id)
    except CompanionError as exc:
        return _page(request, services, cycle_id=cycle_id, error=exc.message, status_code=exc.status_code)
    return _back(cycle_id, "deleted", "#milestones")


@router.post("/cycles/{cycle_id}/pairs", response_class=HTMLResponse)
def add_pair(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, cycle_id: RowId
) -> Response:
    values = _blank_is_none(mentorship_id=field(form, "mentorship_id"), joined_on=field(form, "joined_on"))
    try:
        if values["mentorship_id"] is None:
            raise InvalidInput("please check the form: choose a pair to add")
        pair = services.programs.add_pair(cycle_id, checked(PairIn, **values))
    except CompanionError as exc:
        return _page(request, services, cycle_id=cycle_id, error=exc.message, status_code=exc.status_code)
    request.state.audit_target = f"cycle {cycle_id}, mentorship {pair.mentorship_id}"
    return _back(cycle_id, "pair", "#pairs")


@router.post("/cycles/{cycle_id}/pairs/{mentorship_id}/remove", response_class=HTMLResponse)
def remove_pair(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    form: CheckedForm,
    cycle_id: RowId,
    mentorship_id: RowId,
) -> Response:
    try:
        services.programs.remove_pair(cycle_id, mentorship_id)
    except CompanionError as exc:
        return _page(request, services, cycle_id=cycle_id, error=exc.message, status_code=exc.status_code)
    return _back(cycle_id, "removed", "#pairs")

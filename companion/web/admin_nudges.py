"""The admin's e-mail nudges page (`/admin/nudges`): whether e-mail is on, the recent sends, "run nudges
now" (a background job whose report the page shows when it ends), and a dry-run preview of what a run
would send today (or on a chosen day). Also the admin's own opt-out of the admin e-mails."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from companion.api.deps import ServicesDep
from companion.errors import CompanionError, InvalidInput
from companion.jobs.service import MAX_JOB_ID
from companion.jobs.tasks import NUDGES, start_nudges
from companion.program.email import OFF_MESSAGE
from companion.program.nudges import REASONS
from companion.web.common import AdminPage, CheckedForm, field, render
from companion.web.jobs_pages import job_context

router = APIRouter(prefix="/admin/nudges", tags=["admin pages"], include_in_schema=False)


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"day: {text!r} is not a date; use YYYY-MM-DD, or leave it empty for today"
        ) from None


def _page(
    request: Request, services: ServicesDep, admin: AdminPage, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    email = services.settings.email
    page: dict[str, Any] = {
        "email_on": email.enabled,
        "off_message": OFF_MESSAGE,
        "email": email,
        "recent": services.nudges.recent(limit=50),
        "reasons": REASONS,
        "preferences": services.preferences.get(admin.principal.id),
        "preview": None,
        "day": "",
        "job": None,
        "job_active": False,
    }
    page.update(context)
    return render(request, "admin/nudges.html", page, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def nudges_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    job: Annotated[str | None, Query(max_length=MAX_JOB_ID)] = None,
    saved: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    context = job_context(services, job, page="/admin/nudges", kinds=(NUDGES,))
    if saved == "email":
        context["notice"] = "E-mail preference saved."
    return _page(request, services, admin, **context)


@router.post("/run", response_class=HTMLResponse)
def run_now(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> Response:
    day_text = field(form, "day")
    try:
        job = start_nudges(services, principal=admin.principal, today=_day(day_text))
    except CompanionError as exc:
        return _page(
            request,
            services,
            admin,
            error=f"Not started: {exc.message}",
            day=day_text,
            status_code=exc.status_code,
        )
    request.state.audit_action = "run nudges"
    request.state.audit_target = job.title
    return RedirectResponse(f"/admin/nudges?job={job.id}", status_code=303)


@router.post("/preview", response_class=HTMLResponse)
def preview(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> HTMLResponse:
    day_text = field(form, "day")
    try:
        report = services.nudges.run(_day(day_text), dry_run=True)
    except CompanionError as exc:
        return _page(request, services, admin, error=exc.message, day=day_text, status_code=exc.status_code)
    return _page(request, services, admin, preview=report, day=day_text)

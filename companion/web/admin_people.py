"""Admin page for people: the profiles (paged, filtered by role), a CSV/JSON import with its per-row report
(as `POST /v1/people/import`), and loading the synthetic demo organization."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from companion.api.deps import ServicesDep
from companion.errors import CompanionError, InvalidInput
from companion.jobs.schemas import JobOut, JobStatus
from companion.jobs.service import MAX_JOB_ID
from companion.jobs.tasks import PEOPLE_IMPORT, start_people_import
from companion.matching.schemas import ImportReport
from companion.web.common import AdminPage, CheckedForm, field, render, uploaded_file
from companion.web.jobs_pages import job_context

router = APIRouter(prefix="/admin/people", include_in_schema=False)
PAGE_SIZE = 50
DEMO_MAX = 2000


def _page(
    request: Request,
    services: ServicesDep,
    *,
    role: str = "",
    page: int = 1,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    counts = services.people.count()
    total = counts.get(role, 0) if role else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    people = services.people.list_people(role=role or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    values: dict[str, Any] = {
        "people": people,
        "counts": counts,
        "role": role,
        "page": page,
        "pages": pages,
        "total": total,
        "first": (page - 1) * PAGE_SIZE + 1 if people else 0,
        "report": None,
        "report_title": "",
        "demo": {"seed": "7", "size": "300"},
        "demo_max": DEMO_MAX,
    }
    values.update(context)
    return render(request, "admin/people.html", values, status_code=status_code)


def _summary(report: ImportReport) -> str:
    return (
        f"created {len(report.created)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"failed {len(report.failed)}; {report.embedded} profiles embedded"
        + (f"; deactivated {len(report.deactivated)}" if report.sync else "")
        + "."
    )


@router.get("", response_class=HTMLResponse)
def people_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    role: Annotated[Literal["", "mentor", "mentee"], Query()] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    job: Annotated[str | None, Query(max_length=MAX_JOB_ID)] = None,
) -> HTMLResponse:
    context = job_context(services, job, page="/admin/people", kinds=(PEOPLE_IMPORT,))
    shown: JobOut | None = context["job"]
    if shown is not None and shown.status == JobStatus.done and shown.result is not None:
        report = ImportReport.model_validate(shown.result)
        context.update(report=report, report_title=shown.title)
        context["error" if report.failed else "notice"] = f"{shown.title}: {_summary(report)}"
    return _page(request, services, role=role, page=page, **context)


@router.post("/import", response_class=HTMLResponse)
def import_people(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm
) -> Response:
    try:
        data, name = uploaded_file(
            form,
            max_bytes=services.settings.max_upload_bytes,
            missing="choose a .csv or .json file of people to import",
        )
        sync, dry_run = field(form, "sync") == "1", field(form, "dry_run") == "1"
        if len(data) > services.settings.jobs.background_above_bytes or field(form, "background") == "1":
            job = start_people_import(
                services, data, name, principal=admin.principal, sync=sync, dry_run=dry_run
            )
            if not dry_run:
                request.state.audit_action = "sync people" if sync else "import people"
                request.state.audit_target = name
            return RedirectResponse(f"/admin/people?job={job.id}", status_code=303)
        report = services.people.import_bytes(data, name, sync=sync, dry_run=dry_run)
    except CompanionError as exc:
        return _page(request, services, error=f"Import refused: {exc.message}", status_code=exc.status_code)
    if not report.dry_run:
        request.state.audit_action = "sync people" if report.sync else "import people"
        request.state.audit_target = name
    message = f"{'Dry run of' if report.dry_run else 'Imported'} {name}: {_summary(report)}"
    context: dict[str, Any] = {"error": message} if report.failed else {"notice": message}
    return _page(request, services, report=report, report_title=f"Import of {name}", **context)


@router.post("/demo", response_class=HTMLResponse)
def load_demo(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> HTMLResponse:
    seed_text, size_text = field(form, "seed", "7"), field(form, "size", "300")
    try:
        seed, size = _whole_number("seed", seed_text), _whole_number("size", size_text)
        if not 20 <= size <= DEMO_MAX:
            raise InvalidInput(f"size: the demo organization has 20 to {DEMO_MAX} people")
        report = services.people.load_demo(seed=seed, size=size)
        made = services.program_demo.load(seed=seed)  # once: a second load adds nothing
    except CompanionError as exc:
        demo = {"seed": seed_text, "size": size_text}
        return _page(request, services, error=exc.message, demo=demo, status_code=exc.status_code)
    request.state.audit_action = "load demo people"
    request.state.audit_target = f"seed {seed}, {size} people"
    title = f"Demo organization, seed {seed}, {size} people"
    program = ""
    if made.created:
        program = f"; demo program: {made.cycles} cycles, {made.pairs} pairs (see the dashboard)"
    notice = f"{title}: {_summary(report)}{program}"
    return _page(request, services, report=report, report_title=title, notice=notice)


def _whole_number(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(f"{name}: enter a whole number") from None
    if not 0 <= value <= 2**31 - 1:
        raise InvalidInput(f"{name}: enter a number from 0 to {2**31 - 1}")
    return value

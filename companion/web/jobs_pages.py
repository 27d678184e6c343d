"""Background jobs on the pages: a job's state as JSON for the progress partial's script (signed in with the
browser session, so the API's tokens never reach page scripts), and cancelling from the page.

Pages that start a job redirect to themselves with `?job=<id>`; they render `_job.html`, which follows the
job by polling `GET /admin/jobs/{id}` when JavaScript runs and by refreshing the page when it does not
(`_job_refresh.html`), then shows the job's report.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse

from companion.api.deps import ServicesDep
from companion.errors import CompanionError, NotFound
from companion.jobs.schemas import JobOut
from companion.jobs.service import MAX_JOB_ID
from companion.web.common import AdminPage, CheckedForm, field

router = APIRouter(prefix="/admin/jobs", include_in_schema=False)
JobId = Annotated[str, Path(min_length=1, max_length=MAX_JOB_ID, pattern=r"^[\w-]+$")]
REFRESH_SECONDS = 2


@router.get("/{job_id}")
def job_state(job_id: JobId, services: ServicesDep, admin: AdminPage) -> JobOut:
    return services.jobs.get(job_id)


@router.post("/{job_id}/cancel")
def cancel_job(
    request: Request, job_id: JobId, services: ServicesDep, admin: AdminPage, form: CheckedForm
) -> RedirectResponse:
    back = field(form, "next", "/admin/knowledge")
    if not back.startswith("/admin/") or back.startswith("//"):
        back = "/admin/knowledge"
    try:
        job = services.jobs.cancel(job_id)
    except CompanionError:
        job = services.jobs.get(job_id)  # already ended: the page shows how
    request.state.audit_action = "cancel job"
    request.state.audit_target = f"{job.kind} {job.id}"
    return RedirectResponse(back, status_code=303)


def job_context(services: Any, job_id: str | None, *, page: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    """The `job` a page shows (from its `?job=` parameter), and whether the page must refresh."""
    if not job_id:
        return {"job": None, "job_active": False}
    try:
        job = services.jobs.get(job_id)
    except NotFound:
        return {"job": None, "job_active": False, "error": f"No job {job_id}: it may have been removed."}
    if job.kind not in kinds:
        return {"job": None, "job_active": False}
    return {
        "job": job,
        "job_active": not job.finished,
        "job_page": f"{page}?job={job.id}",
        "refresh_seconds": REFRESH_SECONDS,
    }

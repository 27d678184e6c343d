"""Background jobs: list, one job's status and progress, cancel (admin: every job kind is admin work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from companion.api.deps import AdminUser, ServicesDep
from companion.jobs.schemas import JobOut, JobStatus
from companion.jobs.service import MAX_JOB_ID

JobId = Annotated[str, Path(min_length=1, max_length=MAX_JOB_ID, pattern=r"^[\w-]+$", description="Job id.")]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("", summary="Background jobs, newest first (admin)")
def list_jobs(
    services: ServicesDep,
    _admin: AdminUser,
    kind: Annotated[str | None, Query(max_length=50, description="Only this kind.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    return services.jobs.list_jobs(kind=kind, status=status, limit=limit)


@router.get("/{job_id}", summary="One job: status, progress, result or error (admin)")
def get_job(job_id: JobId, services: ServicesDep, _admin: AdminUser) -> JobOut:
    return services.jobs.get(job_id)


@router.post("/{job_id}/cancel", summary="Cancel a job: at once when queued, at its next step when running")
def cancel_job(job_id: JobId, services: ServicesDep, _admin: AdminUser) -> JobOut:
    return services.jobs.cancel(job_id)


Background = Annotated[
    bool,
    Query(description="Run it as a background job: answers 202 with the job (follow it at /v1/jobs/{id})."),
]
ACCEPTED: dict[int | str, dict[str, object]] = {
    202: {"model": JobOut, "description": "Started as a background job (`?background=true`)."}
}


def accepted(job: JobOut) -> JSONResponse:
    """202 with the job, and where to follow it."""
    return JSONResponse(
        job.model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"}
    )

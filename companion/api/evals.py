"""Admin review of eval runs: list, inspect, compare, label (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from companion.api.deps import AdminUser, RowId, ServicesDep
from companion.api.jobs import accepted
from companion.evaluation.schemas import (
    CompareReport,
    EvalResultTrace,
    EvalRunDetail,
    EvalRunOut,
    LabelIn,
    LabelOut,
)
from companion.jobs.schemas import EvalRunRequest, JobOut
from companion.jobs.tasks import start_eval_run
from companion.schemas import MAX_DB_ID

router = APIRouter(prefix="/v1/evals", tags=["evals"])


@router.get("/runs", summary="Stored eval runs, newest first (admin)")
def list_runs(
    services: ServicesDep,
    admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500, description="Most recent runs.")] = 50,
) -> list[EvalRunOut]:
    return services.evaluation.list_runs(limit=limit)


@router.post(
    "/runs",
    status_code=202,
    response_model=JobOut,
    summary="Start an eval run as a background job (admin); follow it at /v1/jobs/{id}",
)
def start_run(body: EvalRunRequest, services: ServicesDep, admin: AdminUser) -> JSONResponse:
    return accepted(start_eval_run(services, body, principal=admin))


@router.get("/runs/{run_id}", summary="One run: settings, per-suite scores and every case's metrics (admin)")
def get_run(
    run_id: RowId,
    services: ServicesDep,
    admin: AdminUser,
    suite: Annotated[str | None, Query(max_length=50, description="Only this suite.")] = None,
    passed: Annotated[bool | None, Query(description="Only passed (true) or failed (false) cases.")] = None,
) -> EvalRunDetail:
    return services.evaluation.get_run(run_id, suite=suite, passed=passed)


@router.get("/results/{result_id}", summary="One case's trace: inputs, retrieved context, output (admin)")
def get_result(result_id: RowId, services: ServicesDep, admin: AdminUser) -> EvalResultTrace:
    return services.evaluation.get_result(result_id)


@router.get("/compare", summary="Regressions and improvements from run a to run b (admin)")
def compare(
    services: ServicesDep,
    admin: AdminUser,
    a: Annotated[int, Query(ge=1, le=MAX_DB_ID, description="Baseline run id.")],
    b: Annotated[int, Query(ge=1, le=MAX_DB_ID, description="Run compared with the baseline.")],
) -> CompareReport:
    return services.evaluation.compare(a, b)


@router.post("/results/{result_id}/label", summary="Label a result good or bad (admin)")
def label(result_id: RowId, body: LabelIn, services: ServicesDep, admin: AdminUser) -> LabelOut:
    return services.evaluation.label(result_id, admin, body)

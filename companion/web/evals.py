"""Admin pages for eval review under /admin/evals: runs with a pass-rate trend, a run's cases, one case's
trace, a comparison. Server-rendered; the trend chart is inline SVG drawn here. Auth: an admin's session, as
on every admin page (bearer tokens are for the JSON API, `/v1/evals`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from companion.api.deps import ServicesDep
from companion.errors import CompanionError, InvalidInput, validation_message
from companion.evaluation.runner import SUITES
from companion.evaluation.schemas import EvalRunOut
from companion.jobs.consumer import SCHEDULED_EVAL_PREFIX
from companion.jobs.schemas import EvalRunRequest, JobOut, JobStatus
from companion.jobs.service import MAX_JOB_ID
from companion.jobs.tasks import EVAL_RUN, start_eval_run
from companion.web.common import AdminPage, CheckedForm, field, render
from companion.web.jobs_pages import job_context

router = APIRouter(prefix="/admin/evals", tags=["admin pages"], include_in_schema=False)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def trend_svg(runs: list[EvalRunOut], *, width: int = 640, height: int = 200) -> dict[str, Any]:
    """Per-suite pass rate over runs (oldest left), as polylines in a width x height box."""
    ordered = sorted(runs, key=lambda r: r.id)
    suites = sorted({s for r in ordered for s in r.summary})
    pad = 30
    span = height - 2 * pad
    step = (width - 2 * pad) / max(len(ordered) - 1, 1)
    lines = []
    for i, suite in enumerate(suites):
        points = [
            (round(pad + n * step, 1), round(height - pad - r.summary[suite].pass_rate * span, 1))
            for n, r in enumerate(ordered)
            if suite in r.summary
        ]
        lines.append(
            {
                "suite": suite,
                "color": PALETTE[i % len(PALETTE)],
                "points": " ".join(f"{x},{y}" for x, y in points),
                "dots": points,
            }
        )
    labels = [(round(pad + n * step, 1), r.id) for n, r in enumerate(ordered)]
    return {"width": width, "height": height, "pad": pad, "lines": lines, "labels": labels}


def _runs(
    request: Request, services: ServicesDep, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    runs = services.evaluation.list_runs(limit=50)
    recent = services.jobs.list_jobs(kind=EVAL_RUN, limit=20)
    page: dict[str, Any] = {
        "runs": runs,
        "chart": trend_svg(runs),
        "suites": list(SUITES),
        "backends": services.eval_backends,
        "form": {
            "suites": [], "limit": "", "judge": services.settings.evals.judge, "backend": "", "note": ""
        },  # fmt: skip
        "running": [j for j in recent if not j.finished],
        "regression": _scheduled_regression(recent),
        "job": None,
        "job_active": False,
    }
    page.update(context)
    return render(request, "evals/runs.html", page, status_code=status_code)


def _scheduled_regression(recent: list[JobOut]) -> dict[str, Any] | None:
    """The latest scheduled run, when it scored worse than the run before it on some cases."""
    scheduled = [j for j in recent if j.id.startswith(SCHEDULED_EVAL_PREFIX) and j.status == JobStatus.done]
    if not scheduled or not scheduled[0].result:
        return None
    result = scheduled[0].result
    if not result.get("regressions"):
        return None
    return {"run": result["run_id"], "baseline": result["baseline_id"], "count": result["regressions"],
            "delta": result.get("score_delta", 0.0), "title": scheduled[0].title}  # fmt: skip


@router.get("", response_class=HTMLResponse)
def runs_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    job: Annotated[str | None, Query(max_length=MAX_JOB_ID)] = None,
) -> Response:
    context = job_context(services, job, page="/admin/evals", kinds=(EVAL_RUN,))
    shown: JobOut | None = context["job"]
    if shown is not None and shown.status == JobStatus.done and shown.result and shown.result.get("run_id"):
        return RedirectResponse(f"/admin/evals/runs/{shown.result['run_id']}", status_code=303)
    return _runs(request, services, **context)


@router.post("/run", response_class=HTMLResponse)
def start_run(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> Response:
    chosen = [s for s in form.getlist("suite") if isinstance(s, str)]
    limit_text, backend, note = field(form, "limit"), field(form, "backend"), field(form, "note")
    judge = field(form, "judge") == "1"
    sent: dict[str, Any] = {"suites": chosen, "limit": limit_text, "judge": judge, "backend": backend,
            "note": note}  # fmt: skip
    try:
        if limit_text and not limit_text.isdigit():
            raise InvalidInput("limit: a whole number of cases per suite, or empty for every case")
        body = EvalRunRequest(
            suites=chosen,
            limit=int(limit_text) if limit_text else None,
            judge=judge,
            backend=backend or None,
            note=note[:500],
        )
        job = start_eval_run(services, body, principal=admin.principal)
    except (CompanionError, ValidationError) as exc:
        message = exc.message if isinstance(exc, CompanionError) else validation_message(exc)
        return _runs(request, services, error=f"Run not started: {message}", form=sent, status_code=422)
    request.state.audit_action = "start eval run"
    request.state.audit_target = job.title
    return RedirectResponse(f"/admin/evals?job={job.id}", status_code=303)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    run_id: int,
    services: ServicesDep,
    admin: AdminPage,
    suite: Annotated[str | None, Query(max_length=50)] = None,
    passed: Annotated[bool | None, Query()] = None,
) -> HTMLResponse:
    detail = services.evaluation.get_run(run_id, suite=suite or None, passed=passed)
    context = {"detail": detail, "suite": suite or "", "passed": passed}
    return render(request, "evals/run.html", context)


@router.get("/results/{result_id}", response_class=HTMLResponse)
def result_page(request: Request, result_id: int, services: ServicesDep, admin: AdminPage) -> HTMLResponse:
    trace = services.evaluation.get_result(result_id)
    return render(request, "evals/result.html", {"r": trace})


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    a: Annotated[int, Query(ge=1)],
    b: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    report = services.evaluation.compare(a, b)
    return render(request, "evals/compare.html", {"c": report})

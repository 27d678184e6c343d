"""Admin pages for eval review under /admin/evals: runs with a pass-rate trend, a run's cases, one case's
trace, a comparison. Server-rendered; the trend chart is inline SVG drawn here. Auth: an admin's session, as
on every admin page (bearer tokens are for the JSON API, `/v1/evals`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from companion.api.deps import ServicesDep
from companion.evaluation.schemas import EvalRunOut
from companion.web.common import AdminPage, render

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


@router.get("", response_class=HTMLResponse)
def runs_page(request: Request, services: ServicesDep, admin: AdminPage) -> HTMLResponse:
    runs = services.evaluation.list_runs(limit=50)
    return render(request, "evals/runs.html", {"runs": runs, "chart": trend_svg(runs)})


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

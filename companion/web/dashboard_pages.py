"""Admin pages of the program's success: the dashboard (one cycle picked, and the trend across cycles;
every chart drawn by the server as SVG with a table of the same figures beside it and a CSV download)
and the mentor recognition report (with its CSV)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from companion.api.deps import ServicesDep
from companion.program.dashboard import Dashboard
from companion.schemas import MAX_DB_ID
from companion.web.charts import bar_chart, column_chart, line_chart
from companion.web.common import AdminPage, render

router = APIRouter(prefix="/admin", include_in_schema=False)

CycleQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_ID)]
AT_RISK_SHOWN = 50
MENTORS_SHOWN = 15


def _csv(text: str, name: str) -> Response:
    disposition = f'attachment; filename="{name}.csv"'
    return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _charts(dash: Dashboard) -> dict[str, Markup]:
    charts: dict[str, Markup] = {}
    if dash.summary is None:
        return charts
    charts["histogram"] = column_chart(
        "Pairs by number of sessions", [(b.label, b.value) for b in dash.histogram], unit=" pairs"
    )
    charts["rhythm"] = bar_chart("Pairs on rhythm", [(b.label, b.value) for b in dash.rhythm], unit=" pairs")
    charts["goals"] = bar_chart("Goals by status", [(b.label, b.value) for b in dash.goals], unit=" goals")
    charts["hours"] = bar_chart(
        "Mentor hours", [(h.name, h.hours) for h in dash.mentor_hours[:MENTORS_SHOWN]], unit=" h"
    )
    for q in dash.ratings:
        if q.shown:
            charts[f"rating-{q.survey_id}-{q.key}"] = column_chart(
                f"{q.survey}: {q.text}", [(b.label, b.value) for b in q.distribution], unit=" answers"
            )
    started = [c for c in dash.trend if c.on_rhythm_share is not None]
    charts["trend-rhythm"] = line_chart(
        "Share of pairs on rhythm, per cycle (%)",
        [(c.cycle.name, round((c.on_rhythm_share or 0) * 100)) for c in started],
        maximum=100,
    )
    texts = {q.key: q.text for q in dash.ratings}
    for key in _trend_keys(dash):
        points = [(c.cycle.name, c.rating_means[key] or 0.0) for c in dash.trend if c.rating_means.get(key)]
        if points:
            charts[f"trend-rating-{key}"] = line_chart(
                f"{texts.get(key, key)} Mean per cycle (1-5)", points, maximum=5
            )
    return charts


def _trend_keys(dash: Dashboard) -> list[str]:
    keys: list[str] = []
    for c in dash.trend:
        keys.extend(k for k in c.rating_means if k not in keys)
    return keys


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request, services: ServicesDep, admin: AdminPage, cycle_id: CycleQuery = None
) -> HTMLResponse:
    dash = services.dashboard.dashboard(cycle_id=cycle_id)
    page: dict[str, Any] = {
        "dash": dash,
        "charts": _charts(dash),
        "pct": _pct,
        "trend_keys": _trend_keys(dash),
        "question_text": {q.key: q.text for q in dash.ratings},
        "at_risk_shown": AT_RISK_SHOWN,
        "mentors_shown": MENTORS_SHOWN,
        "csv_query": f"?cycle_id={dash.cycle.id}" if dash.cycle else "",
    }
    return render(request, "admin/dashboard.html", page)


@router.get("/dashboard/{figure}.csv")
def dashboard_csv(
    services: ServicesDep,
    admin: AdminPage,
    figure: Annotated[str, Path(pattern="^[a-z-]{1,40}$")],
    cycle_id: CycleQuery = None,
) -> Response:
    return _csv(services.dashboard.figure_csv(figure, cycle_id=cycle_id), f"dashboard-{figure}")


@router.get("/recognition", response_class=HTMLResponse)
def recognition_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    cycle_id: CycleQuery = None,
    format: Annotated[str, Query(pattern="^(html|csv)$")] = "html",
) -> Response:
    if format == "csv":
        return _csv(services.recognition.report_csv(cycle_id=cycle_id), "recognition")
    report = services.recognition.report(cycle_id=cycle_id)
    page: dict[str, Any] = {
        "report": report,
        "cycles": services.dashboard.cycles(),
        "chart": bar_chart(
            "Mentor hours", [(m.name, m.hours) for m in report.mentors[:MENTORS_SHOWN]], unit=" h"
        ),
        "mentors_shown": MENTORS_SHOWN,
    }
    return render(request, "admin/recognition.html", page)

"""JSON routes for mentor recognition (the report, nominations) and the success dashboard. Admins read
the report and the dashboard; mentees nominate their own mentors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from companion.api.deps import AdminUser, CurrentUser, ServicesDep
from companion.program.dashboard import FIGURES, Dashboard
from companion.program.recognition import NominationIn, NominationOut, RecognitionReport
from companion.schemas import MAX_DB_ID

router = APIRouter(prefix="/v1", tags=["program"])

CycleQuery = Annotated[
    int | None, Query(ge=1, le=MAX_DB_ID, description="A cycle's id (default: the dashboard's choice).")
]
FigurePath = Annotated[str, Path(pattern="^[a-z-]{1,40}$", description=f"One of: {', '.join(FIGURES)}.")]
CSV = "text/csv; charset=utf-8"


def _csv(text: str, name: str) -> Response:
    return Response(
        text, media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}
    )


@router.get("/recognition", summary="Mentor recognition report (sessions, hours, goals, nominations)")
def recognition(services: ServicesDep, user: AdminUser, cycle_id: CycleQuery = None) -> RecognitionReport:
    return services.recognition.report(cycle_id=cycle_id)


@router.get(
    "/recognition.csv",
    summary="Mentor recognition report as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def recognition_csv(services: ServicesDep, user: AdminUser, cycle_id: CycleQuery = None) -> Response:
    return _csv(services.recognition.report_csv(cycle_id=cycle_id), "recognition")


@router.post("/nominations", status_code=201, summary="Nominate your mentor for the program's award")
def nominate(body: NominationIn, services: ServicesDep, user: CurrentUser) -> NominationOut:
    return services.recognition.nominate(user, body)


@router.get("/nominations", summary="Your nominations (admins: every nomination)")
def nominations(services: ServicesDep, user: CurrentUser) -> list[NominationOut]:
    return services.recognition.my_nominations(user)


@router.get("/dashboard", summary="Success dashboard figures for one cycle and across cycles")
def dashboard(services: ServicesDep, user: AdminUser, cycle_id: CycleQuery = None) -> Dashboard:
    return services.dashboard.dashboard(cycle_id=cycle_id)


@router.get(
    "/dashboard/{figure}.csv",
    summary="One dashboard figure as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def dashboard_csv(
    figure: FigurePath, services: ServicesDep, user: AdminUser, cycle_id: CycleQuery = None
) -> Response:
    return _csv(services.dashboard.figure_csv(figure, cycle_id=cycle_id), f"dashboard-{figure}")

"""Mentor recommendations, cohort matching runs, and answering proposed matches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from companion.api.deps import AdminUser, CurrentUser, RowId, ServicesDep
from companion.api.jobs import ACCEPTED, Background, accepted
from companion.jobs.tasks import start_cohort
from companion.matching.audit import MatchAudit
from companion.matching.schemas import (
    CohortReport,
    CohortRequest,
    MatchOut,
    MatchStatus,
    RecommendationsResponse,
    RunAcceptance,
    RunOut,
)
from companion.schemas import MAX_DB_ID

router = APIRouter(prefix="/v1", tags=["matching"])


@router.get(
    "/mentees/{mentee_id}/recommendations",
    summary="Best mentors for a mentee, with score breakdown and reason (the mentee or an admin)",
)
def recommendations(
    mentee_id: RowId,
    services: ServicesDep,
    user: CurrentUser,
    k: Annotated[int, Query(ge=1, le=50, description="How many mentors.")] = 5,
) -> RecommendationsResponse:
    return services.matching.recommend(mentee_id, k=k, principal=user)


@router.post(
    "/matching/cohort",
    response_model=CohortReport,
    responses=ACCEPTED,
    summary="Match many mentees at once, exactly optimal (admin)",
)
def cohort(
    body: CohortRequest, services: ServicesDep, admin: AdminUser, background: Background = False
) -> Any:
    if background:
        return accepted(start_cohort(services, body, principal=admin))
    return services.matching.cohort(body, created_by=admin.id)


@router.get("/matching/runs/{run_id}", summary="A stored matching run (admin)")
def get_run(run_id: RowId, services: ServicesDep, _admin: AdminUser) -> RunOut:
    return services.matching.get_run(run_id)


@router.get(
    "/matching/runs/{run_id}/audit",
    summary="A run's fairness audit: match rate and mean score per group, mentor load, spread (admin)",
)
def run_audit(run_id: RowId, services: ServicesDep, _admin: AdminUser) -> MatchAudit:
    return services.matching.run_audit(run_id)


@router.post("/matching/runs/{run_id}/accept", summary="Accept every proposed match of a run (admin)")
def accept_run(run_id: RowId, services: ServicesDep, _admin: AdminUser) -> RunAcceptance:
    accepted, skipped = services.matching.accept_run(run_id)
    return RunAcceptance(accepted=[m.id for m in accepted if m.id is not None], skipped=skipped)


@router.get("/matches", summary="Matches: admins see all, others the ones they are part of")
def list_matches(
    services: ServicesDep,
    user: CurrentUser,
    run_id: Annotated[int | None, Query(ge=1, le=MAX_DB_ID, description="Only this run.")] = None,
    status: Annotated[MatchStatus | None, Query(description="Only this status.")] = None,
) -> list[MatchOut]:
    return services.matching.list_matches(principal=user, run_id=run_id, status=status)


@router.post(
    "/matches/{match_id}/accept", summary="Accept a proposed match (its mentor, its mentee or an admin)"
)
def accept(match_id: RowId, services: ServicesDep, user: CurrentUser) -> MatchOut:
    return services.matching.decide(match_id, accept=True, principal=user)


@router.post(
    "/matches/{match_id}/decline", summary="Decline a proposed match (its mentor, its mentee or an admin)"
)
def decline(match_id: RowId, services: ServicesDep, user: CurrentUser) -> MatchOut:
    return services.matching.decide(match_id, accept=False, principal=user)

"""Programs, cycles, milestones and a cycle's pairs (admin), the rhythm of a cycle's pairs and its at-risk
list (admin), and the caller's own rhythm (`/v1/me/rhythm`, mentors and mentees)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from companion.api.deps import AdminUser, CurrentUser, RowId, ServicesDep
from companion.program.schemas import (
    CycleIn,
    CycleOut,
    CycleUpdate,
    MilestoneIn,
    MilestoneOut,
    MilestoneUpdate,
    MyPairRhythm,
    PairIn,
    PairOut,
    PairRhythmOut,
    ProgramIn,
    ProgramOut,
    ProgramUpdate,
    RhythmReport,
)

router = APIRouter(prefix="/v1", tags=["program"])


# ---- programs ----------------------------------------------------------------------------------------


@router.get("/programs", summary="Programs (admin)")
def list_programs(services: ServicesDep, _admin: AdminUser) -> list[ProgramOut]:
    return services.programs.list_programs()


@router.post("/programs", status_code=201, summary="Create a program (admin)")
def create_program(body: ProgramIn, services: ServicesDep, _admin: AdminUser) -> ProgramOut:
    return services.programs.create_program(body)


@router.get("/programs/{program_id}", summary="One program (admin)")
def get_program(program_id: RowId, services: ServicesDep, _admin: AdminUser) -> ProgramOut:
    return services.programs.get_program(program_id)


@router.patch(
    "/programs/{program_id}", summary="Change a program's name, kind, description or cadence (admin)"
)
def update_program(
    program_id: RowId, body: ProgramUpdate, services: ServicesDep, _admin: AdminUser
) -> ProgramOut:
    return services.programs.update_program(program_id, body)


@router.delete("/programs/{program_id}", status_code=204, summary="Delete a program without cycles (admin)")
def delete_program(program_id: RowId, services: ServicesDep, _admin: AdminUser) -> Response:
    services.programs.delete_program(program_id)
    return Response(status_code=204)


@router.get("/programs/{program_id}/cycles", summary="A program's cycles, newest first (admin)")
def list_cycles(program_id: RowId, services: ServicesDep, _admin: AdminUser) -> list[CycleOut]:
    return services.programs.list_cycles(program_id)


@router.post(
    "/programs/{program_id}/cycles",
    status_code=201,
    summary="Start a cycle of a program, with the milestones of the settings (admin)",
)
def create_cycle(program_id: RowId, body: CycleIn, services: ServicesDep, _admin: AdminUser) -> CycleOut:
    return services.programs.create_cycle(program_id, body)


# ---- cycles ------------------------------------------------------------------------------------------


@router.get("/cycles/{cycle_id}", summary="A cycle with its milestones and warnings (admin)")
def get_cycle(cycle_id: RowId, services: ServicesDep, _admin: AdminUser) -> CycleOut:
    return services.programs.get_cycle(cycle_id)


@router.patch("/cycles/{cycle_id}", summary="Rename a cycle or move its dates (admin)")
def update_cycle(cycle_id: RowId, body: CycleUpdate, services: ServicesDep, _admin: AdminUser) -> CycleOut:
    return services.programs.update_cycle(cycle_id, body)


@router.delete(
    "/cycles/{cycle_id}",
    status_code=204,
    summary="Delete a cycle (its mentorships and sessions stay) (admin)",
)
def delete_cycle(cycle_id: RowId, services: ServicesDep, _admin: AdminUser) -> Response:
    services.programs.delete_cycle(cycle_id)
    return Response(status_code=204)


@router.get("/cycles/{cycle_id}/milestones", summary="A cycle's milestones by due date (admin)")
def list_milestones(cycle_id: RowId, services: ServicesDep, _admin: AdminUser) -> list[MilestoneOut]:
    return services.programs.list_milestones(cycle_id)


@router.post("/cycles/{cycle_id}/milestones", status_code=201, summary="Add a milestone to a cycle (admin)")
def add_milestone(
    cycle_id: RowId, body: MilestoneIn, services: ServicesDep, _admin: AdminUser
) -> MilestoneOut:
    return services.programs.add_milestone(cycle_id, body)


@router.patch("/cycles/{cycle_id}/milestones/{milestone_id}", summary="Edit a milestone (admin)")
def update_milestone(
    cycle_id: RowId, milestone_id: RowId, body: MilestoneUpdate, services: ServicesDep, _admin: AdminUser
) -> MilestoneOut:
    return services.programs.update_milestone(cycle_id, milestone_id, body)


@router.delete(
    "/cycles/{cycle_id}/milestones/{milestone_id}", status_code=204, summary="Delete a milestone (admin)"
)
def delete_milestone(
    cycle_id: RowId, milestone_id: RowId, services: ServicesDep, _admin: AdminUser
) -> Response:
    services.programs.delete_milestone(cycle_id, milestone_id)
    return Response(status_code=204)


@router.get("/cycles/{cycle_id}/pairs", summary="A cycle's pairs with their session dates (admin)")
def list_pairs(cycle_id: RowId, services: ServicesDep, _admin: AdminUser) -> list[PairOut]:
    return services.programs.list_pairs(cycle_id)


@router.post(
    "/cycles/{cycle_id}/pairs", status_code=201, summary="Add an active mentorship to a cycle (admin)"
)
def add_pair(cycle_id: RowId, body: PairIn, services: ServicesDep, _admin: AdminUser) -> PairOut:
    return services.programs.add_pair(cycle_id, body)


@router.delete(
    "/cycles/{cycle_id}/pairs/{mentorship_id}", status_code=204, summary="Take a pair out of a cycle (admin)"
)
def remove_pair(cycle_id: RowId, mentorship_id: RowId, services: ServicesDep, _admin: AdminUser) -> Response:
    services.programs.remove_pair(cycle_id, mentorship_id)
    return Response(status_code=204)


@router.get(
    "/cycles/{cycle_id}/rhythm",
    summary="Each pair's sessions against the expected rhythm, at-risk pairs first (admin)",
)
def cycle_rhythm(cycle_id: RowId, services: ServicesDep, _admin: AdminUser) -> RhythmReport:
    return services.rhythm.cycle_rhythm(cycle_id)


@router.get("/cycles/{cycle_id}/at-risk", summary="The cycle's at-risk pairs and why (admin)")
def cycle_at_risk(cycle_id: RowId, services: ServicesDep, _admin: AdminUser) -> list[PairRhythmOut]:
    return services.rhythm.at_risk(cycle_id)


@router.get("/me/rhythm", summary="My own pairs' rhythm in the cycles running today (mentor or mentee)")
def my_rhythm(services: ServicesDep, user: CurrentUser) -> list[MyPairRhythm]:
    return services.rhythm.my_rhythm(user)

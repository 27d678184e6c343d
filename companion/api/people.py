"""People: profiles of mentors and mentees, and their import."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile

from companion.api.deps import AdminUser, CurrentUser, RowId, ServicesDep
from companion.api.jobs import ACCEPTED, Background, accepted
from companion.http import read_upload
from companion.jobs.tasks import start_people_import
from companion.matching.schemas import (
    ImportReport,
    OwnProfile,
    PersonBrief,
    PersonIn,
    PersonOut,
    PersonRole,
    PersonUpdate,
)

router = APIRouter(prefix="/v1/people", tags=["people"])


@router.get("", summary="List profiles (admin)")
def list_people(
    services: ServicesDep,
    _admin: AdminUser,
    role: Annotated[Literal["mentor", "mentee"] | None, Query(description="Only this role.")] = None,
    department: Annotated[str | None, Query(max_length=200, description="Only this department.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PersonOut]:
    return services.people.list_people(role=role, department=department, limit=limit, offset=offset)


@router.post("", status_code=201, summary="Create a profile (admin)")
def create_person(body: PersonIn, services: ServicesDep, _admin: AdminUser) -> PersonOut:
    return services.people.create(body)


@router.post(
    "/import",
    response_model=ImportReport,
    responses=ACCEPTED,
    summary="Import profiles from a CSV or JSON file (admin); bad rows are reported",
)
def import_people(
    file: Annotated[UploadFile, File(description="A .csv or .json file of people.")],
    services: ServicesDep,
    admin: AdminUser,
    sync: Annotated[
        bool, Query(description="The file is everyone: deactivate active people missing from it.")
    ] = False,
    dry_run: Annotated[bool, Query(description="Report what would change; write nothing.")] = False,
    background: Background = False,
) -> Any:
    data, name = read_upload(file, services.settings.max_upload_bytes)
    if background:
        job = start_people_import(services, data, name, principal=admin, sync=sync, dry_run=dry_run)
        return accepted(job)
    return services.people.import_bytes(data, name, sync=sync, dry_run=dry_run)


@router.get("/me", summary="Your own profile")
def my_profile(services: ServicesDep, user: CurrentUser) -> PersonOut:
    return services.people.me(user)


@router.put("/me", summary="Create or edit your own matching profile (mentors and mentees)")
def save_my_profile(body: OwnProfile, services: ServicesDep, user: CurrentUser) -> PersonOut:
    return services.people.save_own(user, body)


@router.get("/skills", summary="Skills already on profiles, most used first (suggestions)")
def skills_in_use(
    services: ServicesDep,
    _user: CurrentUser,
    role: Annotated[PersonRole | None, Query(description="Only skills of mentors or of mentees.")] = None,
) -> list[str]:
    return services.people.skills_in_use(role)


@router.get("/{person_id}", summary="One profile (admin, its owner, or the mentor of that mentee)")
def get_person(person_id: RowId, services: ServicesDep, user: CurrentUser) -> PersonOut:
    return services.people.get(person_id, principal=user)


@router.patch("/{person_id}", summary="Change a profile (admin: any field; owner: profile fields)")
def update_person(
    person_id: RowId, body: PersonUpdate, services: ServicesDep, user: CurrentUser
) -> PersonOut:
    return services.people.update(person_id, body, principal=user)


@router.delete("/{person_id}", summary="Delete a profile and its matches (admin)")
def delete_person(person_id: RowId, services: ServicesDep, _admin: AdminUser) -> PersonBrief:
    return services.people.delete(person_id)

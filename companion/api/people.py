"""People: profiles of mentors and mentees, and their import."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile

from companion.api.deps import AdminUser, CurrentUser, ServicesDep
from companion.http import read_upload
from companion.matching.people import MAX_ID
from companion.matching.schemas import ImportReport, PersonBrief, PersonIn, PersonOut, PersonUpdate

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Database id.")]

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


@router.post("/import", summary="Import profiles from a CSV or JSON file (admin); bad rows are reported")
def import_people(
    file: Annotated[UploadFile, File(description="A .csv or .json file of people.")],
    services: ServicesDep,
    _admin: AdminUser,
) -> ImportReport:
    data, name = read_upload(file, services.settings.max_upload_bytes)
    return services.people.import_bytes(data, name)


@router.get("/me", summary="Your own profile")
def my_profile(services: ServicesDep, user: CurrentUser) -> PersonOut:
    return services.people.me(user)


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

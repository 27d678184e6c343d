"""Survey routes: admins create, edit and read the results of surveys (aggregates only) and handle the
contact requests; mentees and mentors list the open surveys for them and answer one. Answering through a
personal link is a page (`/surveys/answer/{token}`), not an API route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from companion.api.deps import AdminUser, CurrentUser, RowId, ServicesDep
from companion.program.surveys import (
    AnswerIn,
    ContactRequest,
    MySurvey,
    ResponseReceipt,
    SurveyIn,
    SurveyOut,
    SurveyResults,
    SurveyUpdate,
)

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


@router.get("", summary="All surveys, newest first (admin)")
def list_surveys(services: ServicesDep, admin: AdminUser) -> list[SurveyOut]:
    return services.surveys.list_surveys()


@router.post("", status_code=201, summary="Create a survey (default questions and dates when unset)")
def create_survey(body: SurveyIn, services: ServicesDep, admin: AdminUser) -> SurveyOut:
    return services.surveys.create(body)


@router.get("/mine", summary="The open surveys for me, and whether I answered them")
def my_surveys(services: ServicesDep, user: CurrentUser) -> list[MySurvey]:
    return services.surveys.mine(user)


@router.get("/contact-requests", summary="Participants who asked the program team to contact them")
def contact_requests(
    services: ServicesDep,
    admin: AdminUser,
    include_handled: Annotated[bool, Query(description="Also the ones already handled.")] = False,
) -> list[ContactRequest]:
    return services.surveys.contact_requests(include_handled=include_handled)


@router.post("/contact-requests/{response_id}/handled", summary="Mark a contact request as handled")
def handle_contact_request(response_id: RowId, services: ServicesDep, admin: AdminUser) -> ContactRequest:
    return services.surveys.mark_handled(response_id)


@router.get("/{survey_id}", summary="One survey with its questions (admin)")
def get_survey(survey_id: RowId, services: ServicesDep, admin: AdminUser) -> SurveyOut:
    return services.surveys.get(survey_id)


@router.patch(
    "/{survey_id}",
    summary="Edit a survey (once answered, its questions keep their keys and types)",
    responses={409: {"description": "The edit would change the questions of an answered survey."}},
)
def update_survey(survey_id: RowId, body: SurveyUpdate, services: ServicesDep, admin: AdminUser) -> SurveyOut:
    return services.surveys.update(survey_id, body)


@router.delete("/{survey_id}", status_code=204, summary="Delete a survey and its answers")
def delete_survey(survey_id: RowId, services: ServicesDep, admin: AdminUser) -> Response:
    services.surveys.delete(survey_id)
    return Response(status_code=204)


@router.get("/{survey_id}/results", summary="Aggregated results (only of at least N answers)")
def survey_results(survey_id: RowId, services: ServicesDep, admin: AdminUser) -> SurveyResults:
    return services.surveys.results(survey_id)


@router.post(
    "/{survey_id}/responses",
    status_code=201,
    summary="Answer a survey (once)",
    responses={409: {"description": "Already answered, or the survey is not open."}},
)
def answer_survey(
    survey_id: RowId, body: AnswerIn, services: ServicesDep, user: CurrentUser
) -> ResponseReceipt:
    return services.surveys.answer(user, survey_id, body)

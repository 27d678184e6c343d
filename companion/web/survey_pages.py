"""Survey pages: answering a survey (signed in from one's home page, or signed out through a personal
link, where the link's token is the credential and the page shows only that survey), and the admins'
survey pages (create, edit the questions, read the aggregated results, handle contact requests).

Routes parse the form and call `services.surveys`, which applies every rule (who may answer, once per
person, open dates, the N-answers threshold). A refused form is shown again with the person's input.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from companion.api.deps import RowId, ServicesDep
from companion.errors import CompanionError, Conflict, InvalidInput
from companion.program.surveys import (
    MAX_QUESTIONS,
    AnswerIn,
    Question,
    SurveyIn,
    SurveyOut,
    SurveyUpdate,
    key_from_text,
)
from companion.web.charts import column_chart
from companion.web.common import AdminPage, CheckedForm, PageUser, field, from_form, render

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(min_length=1, max_length=200, description="The personal link's token.")]
LABELS = {
    "kind": "Kind",
    "audience": "Audience",
    "title": "Title",
    "cycle_id": "Cycle",
    "opens_on": "Opens on",
    "closes_on": "Closes on",
    "questions": "Questions",
    "contact_note": "Note",
    "answers": "Answers",
}
BLANK_ROWS = 2
NOTICES = {
    "created": "Survey created with the default questions: edit them below.",
    "saved": "Survey saved.",
    "deleted": "Survey deleted.",
    "handled": "Contact request marked as handled.",
}


def _checked(model: type[Any], **values: Any) -> Any:
    return from_form(model, LABELS, prefix="please check the form: ", **values)


# ---- answering ---------------------------------------------------------------------------------------


def _typed_answers(form: FormData, survey: SurveyOut) -> dict[str, str]:
    return {q.key: field(form, f"q_{q.key}") for q in survey.questions}


def _answer_in(form: FormData, survey: SurveyOut) -> tuple[AnswerIn | None, dict[str, Any], str]:
    typed: dict[str, Any] = {
        "answers": _typed_answers(form, survey),
        "contact_requested": field(form, "contact") == "on",
        "contact_note": field(form, "contact_note"),
    }
    try:
        answers: dict[str, int | str | None] = {k: v for k, v in typed["answers"].items() if v}
        data = _checked(AnswerIn, **{**typed, "answers": answers})
    except InvalidInput as exc:
        return None, typed, exc.message
    return data, typed, ""


def _answer_page(
    request: Request,
    survey: SurveyOut,
    *,
    action: str,
    answered: bool,
    name: str = "",
    typed: dict[str, Any] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    page: dict[str, Any] = {
        "survey": survey,
        "action": action,
        "answered": answered,
        "name": name,
        "typed": typed or {"answers": {}, "contact_requested": False, "contact_note": ""},
        "today": date.today(),
    }
    page.update(context)
    return render(request, "surveys/answer.html", page, status_code=status_code)


@router.get("/surveys/{survey_id}", response_class=HTMLResponse)
def answer_page(request: Request, services: ServicesDep, user: PageUser, survey_id: RowId) -> HTMLResponse:
    mine = services.surveys.for_answering(user.principal, survey_id)
    return _answer_page(request, mine.survey, action=f"/surveys/{survey_id}", answered=mine.answered)


@router.post("/surveys/{survey_id}", response_class=HTMLResponse)
def submit_answers(
    request: Request, services: ServicesDep, user: PageUser, form: CheckedForm, survey_id: RowId
) -> HTMLResponse:
    mine = services.surveys.for_answering(user.principal, survey_id)
    action = f"/surveys/{survey_id}"
    data, typed, problem = _answer_in(form, mine.survey)
    try:
        if data is None:
            raise InvalidInput(problem)
        receipt = services.surveys.answer(user.principal, survey_id, data)
    except CompanionError as exc:
        answered = isinstance(exc, Conflict) and mine.answered
        return _answer_page(
            request,
            mine.survey,
            action=action,
            answered=answered,
            typed=typed,
            error=exc.message,
            status_code=exc.status_code,
        )
    return render(request, "surveys/thanks.html", {"survey": mine.survey, "receipt": receipt, "home": True})


@router.get("/surveys/answer/{token}", response_class=HTMLResponse)
def token_page(request: Request, services: ServicesDep, token: Token) -> HTMLResponse:
    opened = services.surveys.by_token(token)
    return _answer_page(
        request, opened.survey, action=f"/surveys/answer/{token}", answered=opened.answered, name=opened.name
    )


@router.post("/surveys/answer/{token}", response_class=HTMLResponse)
async def token_submit(request: Request, services: ServicesDep, token: Token) -> HTMLResponse:
    # no session and no CSRF token here: the secret token in the address is the credential, and a
    # forged post from another site would have to know it
    form = await request.form()
    opened = services.surveys.by_token(token)
    action = f"/surveys/answer/{token}"
    data, typed, problem = _answer_in(form, opened.survey)
    try:
        if data is None:
            raise InvalidInput(problem)
        receipt = services.surveys.answer_by_token(token, data)
    except CompanionError as exc:
        answered = isinstance(exc, Conflict) and opened.answered
        return _answer_page(
            request,
            opened.survey,
            action=action,
            answered=answered,
            name=opened.name,
            typed=typed,
            error=exc.message,
            status_code=exc.status_code,
        )
    return render(
        request, "surveys/thanks.html", {"survey": opened.survey, "receipt": receipt, "home": False}
    )


# ---- admin -------------------------------------------------------------------------------------------


def _admin_list(
    request: Request, services: ServicesDep, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    page: dict[str, Any] = {
        "surveys": services.surveys.list_surveys(),
        "contacts": services.surveys.contact_requests(),
        "cycles": services.surveys.cycle_choices(),
        "form": {
            "kind": "mid",
            "audience": "both",
            "cycle_id": "",
            "title": "",
            "opens_on": "",
            "closes_on": "",
        },
    }
    page.update(context)
    return render(request, "surveys/admin_list.html", page, status_code=status_code)


@router.get("/admin/surveys", response_class=HTMLResponse)
def admin_surveys(request: Request, services: ServicesDep, admin: AdminPage, done: str = "") -> HTMLResponse:
    return _admin_list(request, services, notice=NOTICES.get(done, ""))


@router.post("/admin/surveys", response_class=HTMLResponse)
def admin_create(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> Response:
    typed = {
        name: field(form, name) for name in ("kind", "audience", "cycle_id", "title", "opens_on", "closes_on")
    }
    try:
        data = _checked(SurveyIn, **{k: v for k, v in typed.items() if v})
        created = services.surveys.create(data)
    except CompanionError as exc:
        return _admin_list(request, services, form=typed, error=exc.message, status_code=exc.status_code)
    request.state.audit_action = "create survey"
    request.state.audit_target = f"survey {created.id}"
    return RedirectResponse(f"/admin/surveys/{created.id}?done=created", status_code=303)


@router.post("/admin/surveys/contacts/{response_id}/handled", response_class=HTMLResponse)
def admin_handled(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, response_id: RowId
) -> Response:
    services.surveys.mark_handled(response_id)
    request.state.audit_action = "handle survey contact request"
    request.state.audit_target = f"response {response_id}"
    return RedirectResponse("/admin/surveys?done=handled#contacts", status_code=303)


def _question_rows(survey: SurveyOut) -> list[dict[str, str]]:
    rows = [
        {"key": q.key, "text": q.text, "type": q.type, "position": str(n), "remove": ""}
        for n, q in enumerate(survey.questions, start=1)
    ]
    return rows


def _rating_chart(result: Any) -> Any:
    if not result.counts:
        return ""
    return column_chart(result.text, [(str(r), float(c)) for r, c in result.counts.items()], unit="people")


def _admin_survey(
    request: Request,
    services: ServicesDep,
    survey_id: int,
    *,
    rows: list[dict[str, str]] | None = None,
    edit: dict[str, str] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    survey = services.surveys.get(survey_id)
    results = services.surveys.results(survey_id)
    blank = {"key": "", "text": "", "type": "rating", "position": "", "remove": ""}
    shown_rows = rows if rows is not None else _question_rows(survey)
    page: dict[str, Any] = {
        "survey": survey,
        "results": results,
        "rows": shown_rows + [dict(blank) for _ in range(BLANK_ROWS)],
        "edit": edit
        or {
            "title": survey.title,
            "audience": survey.audience,
            "opens_on": survey.opens_on.isoformat() if survey.opens_on else "",
            "closes_on": survey.closes_on.isoformat() if survey.closes_on else "",
        },
        "chart": _rating_chart,
    }
    page.update(context)
    return render(request, "surveys/admin_survey.html", page, status_code=status_code)


@router.get("/admin/surveys/{survey_id}", response_class=HTMLResponse)
def admin_survey(
    request: Request, services: ServicesDep, admin: AdminPage, survey_id: RowId, done: str = ""
) -> HTMLResponse:
    return _admin_survey(request, services, survey_id, notice=NOTICES.get(done, ""))


def _typed_rows(form: FormData) -> list[dict[str, str]]:
    try:
        count = int(field(form, "rows") or "0")
    except ValueError:
        count = 0
    rows = []
    for i in range(min(max(count, 0), MAX_QUESTIONS + BLANK_ROWS)):
        row = {name: field(form, f"q{i}_{name}") for name in ("key", "text", "type", "position", "remove")}
        if row["key"] or row["text"]:
            rows.append(row)
    return rows


def _questions_of(rows: list[dict[str, str]]) -> list[Question]:
    """The questions from the edit form: removed rows left out, the rest in the order their numbers say,
    a key made from the text when a new question has none."""
    kept: list[tuple[int, int, dict[str, str]]] = []
    for i, row in enumerate(rows):
        if row["remove"] == "on":
            continue
        where = f"question {i + 1} ({row['text'][:40] or row['key']})"
        if not row["text"]:
            raise InvalidInput(f"{where}: write the question, or tick Remove")
        try:
            position = int(row["position"]) if row["position"] else 1000 + i
        except ValueError:
            raise InvalidInput(f"{where}: the order must be a whole number") from None
        kept.append((position, i, row))
    kept.sort(key=lambda item: (item[0], item[1]))
    taken = {row["key"] for _, _, row in kept if row["key"]}
    questions = []
    for _, i, row in kept:
        key = row["key"]
        if not key:
            key = key_from_text(row["text"], taken)
            taken.add(key)
        questions.append(
            from_form(
                Question,
                {"key": "Key", "text": "Question", "type": "Type"},
                prefix=f"please check question {i + 1}: ",
                key=key,
                text=row["text"],
                type=row["type"],
            )
        )
    if not questions:
        raise InvalidInput("a survey needs at least one question")
    return questions


@router.post("/admin/surveys/{survey_id}", response_class=HTMLResponse)
def admin_save(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, survey_id: RowId
) -> Response:
    services.surveys.get(survey_id)  # an unknown survey: the 404 page, not a form
    edit = {name: field(form, name) for name in ("title", "audience", "opens_on", "closes_on")}
    rows = _typed_rows(form)
    try:
        questions = _questions_of(rows)
        update = _checked(
            SurveyUpdate,
            title=edit["title"] or None,
            audience=edit["audience"] or None,
            opens_on=edit["opens_on"] or None,
            closes_on=edit["closes_on"] or None,
            questions=[q.model_dump() for q in questions],
        )
        services.surveys.update(survey_id, update)
    except CompanionError as exc:
        return _admin_survey(
            request, services, survey_id, rows=rows, edit=edit, error=exc.message, status_code=exc.status_code
        )
    request.state.audit_action = "edit survey"
    request.state.audit_target = f"survey {survey_id}"
    return RedirectResponse(f"/admin/surveys/{survey_id}?done=saved", status_code=303)


@router.post("/admin/surveys/{survey_id}/delete", response_class=HTMLResponse)
def admin_delete(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, survey_id: RowId
) -> Response:
    services.surveys.delete(survey_id)
    request.state.audit_action = "delete survey"
    request.state.audit_target = f"survey {survey_id}"
    return RedirectResponse("/admin/surveys?done=deleted", status_code=303)

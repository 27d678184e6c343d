"""Ask the handbook (every role) and the guide viewer that citations open.

`/ask` works without JavaScript: the form posts, and the page shows the answer with its [n] markers
linked to the cited guide sections. With JavaScript (static/ask.js) the same form streams the answer from
`POST /ask/stream`: the ask capability's server-sent events, authorised by the session cookie and the
`X-CSRF-Token` header, so the page never holds an API token.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from companion.api.deps import ServicesDep
from companion.assistant.models import AskRequest, AskResponse, Citation
from companion.errors import CompanionError, InvalidInput, validation_problems
from companion.http import sse_lines
from companion.web.common import CheckedForm, PageUser, field, render

router = APIRouter(include_in_schema=False)

QUESTION_MIN, QUESTION_MAX = 3, 1000  # as AskRequest.question
_MARKER = re.compile(r"\[(\d+)\]")


def answer_parts(answer: str, citations: list[Citation]) -> list[tuple[str, Citation | None]]:
    """The answer cut at its [n] markers: (text, None) pieces and ("[n]", citation) links. A marker that
    names no returned citation stays plain text."""
    by_n = {c.n: c for c in citations}
    parts: list[tuple[str, Citation | None]] = []
    position = 0
    for match in _MARKER.finditer(answer):
        citation = by_n.get(int(match.group(1)))
        if citation is None:
            continue
        if match.start() > position:
            parts.append((answer[position : match.start()], None))
        parts.append((match.group(0), citation))
        position = match.end()
    if position < len(answer):
        parts.append((answer[position:], None))
    return parts


def ask_request(question: str, *, polish: bool = False) -> AskRequest:
    """The question checked with a message for people (empty, too short, too long -> InvalidInput)."""
    if len(question) < QUESTION_MIN:
        raise InvalidInput(f"type a question first (at least {QUESTION_MIN} characters)")
    if len(question) > QUESTION_MAX:
        raise InvalidInput(
            f"the question is too long ({len(question)} characters); keep it under {QUESTION_MAX}"
        )
    try:
        return AskRequest(question=question, polish=polish)
    except ValidationError as exc:  # kept in step with AskRequest should its rules change
        raise InvalidInput(f"the question cannot be asked: {validation_problems(exc)[0].message}") from exc


def _page(
    request: Request, *, question: str = "", result: AskResponse | None = None, **context: Any
) -> HTMLResponse:
    status = int(context.pop("status_code", 200))
    page: dict[str, Any] = {
        "question": question,
        "result": result,
        "parts": answer_parts(result.answer, result.citations) if result else [],
        "question_max": QUESTION_MAX,
    }
    page.update(context)
    return render(request, "ask/ask.html", page, status_code=status)


@router.get("/ask", response_class=HTMLResponse)
def ask_page(request: Request, user: PageUser) -> HTMLResponse:
    return _page(request)


@router.post("/ask", response_class=HTMLResponse)
def ask(request: Request, services: ServicesDep, user: PageUser, form: CheckedForm) -> HTMLResponse:
    question = field(form, "question")
    try:
        result = services.mentoring.ask(user.principal, ask_request(question, polish=_polish(form)))
    except CompanionError as exc:
        return _page(request, question=question, error=exc.message, status_code=exc.status_code)
    return _page(request, question=question, result=result)


@router.post("/ask/stream")
def ask_stream(services: ServicesDep, user: PageUser, form: CheckedForm) -> Response:
    """The ask capability's event stream (`sources`, the grounded `draft`, one final `answer`) for the
    page's script. Refusals are JSON errors shaped like the API's, so the script can show their message."""
    try:
        request = ask_request(field(form, "question"), polish=_polish(form))
        events = services.mentoring.ask_stream(user.principal, request)
    except CompanionError as exc:
        body = {"error": {"code": exc.code, "message": exc.message}}
        return JSONResponse(body, status_code=exc.status_code)
    return StreamingResponse(
        sse_lines(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _polish(form: Any) -> bool:
    """The "try the model anyway" button posts polish=1."""
    return field(form, "polish") in ("1", "true", "on")


@router.get("/guides/view", response_class=HTMLResponse)
def guide_view(
    request: Request,
    services: ServicesDep,
    user: PageUser,
    source: Annotated[str, Query(min_length=1, max_length=1000)],
    chunk: Annotated[str, Query(min_length=1, max_length=200)],
) -> HTMLResponse:
    section = services.knowledge.guide_section(source, chunk)  # unknown -> NotFound -> the 404 page
    return render(request, "ask/guide.html", {"section": section})

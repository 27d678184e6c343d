"""create_app(settings) -> FastAPI: routers and the one place errors become HTTP responses."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from companion import __version__
from companion.api import assistant, health, knowledge, records, search
from companion.api import audit as audit_api
from companion.api import evals as evals_api
from companion.api import jobs as jobs_api
from companion.api import matching as matching_api
from companion.api import nudges as nudges_api
from companion.api import outcomes as outcomes_api
from companion.api import people as people_api
from companion.api import program as program_api
from companion.api import surveys as surveys_api
from companion.api.shutdown import CutOnShutdown
from companion.container import Services
from companion.errors import CompanionError, summarize, validation_problems
from companion.identity import http_audit as audit_http
from companion.identity import http_security as security
from companion.settings import Settings
from companion.web import (
    admin_knowledge,
    admin_matching,
    admin_nudges,
    admin_people,
    admin_program,
    admin_users,
    ask_pages,
    dashboard_pages,
    jobs_pages,
    mentee_pages,
    mentor_pages,
    profile_pages,
    session_pages,
    survey_pages,
)
from companion.web import evals as evals_pages
from companion.web.common import attach_session, render

log = logging.getLogger("companion")
STATIC_DIR = Path(__file__).parent / "web" / "static"
API_PREFIXES = ("/v1", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/static", "/calendar")
TITLES = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 405: "Not allowed here"}


def _warm(services: Services, stop: threading.Event) -> None:
    try:
        services.warm_sentences(stop)
    except Exception:  # noqa: BLE001 - a cold cache only makes the first answers slower
        logging.getLogger(__name__).warning("could not pre-embed the guide sentences", exc_info=True)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    services = services or Services(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.db.create_tables()
        stop = threading.Event()
        warming: threading.Thread | None = None
        if services.settings.embeddings.mode == "model" and services.settings.assistant.warm_sentences:
            warming = threading.Thread(
                target=_warm, args=(services, stop), name="warm-sentences", daemon=True
            )
            warming.start()
        yield
        # a warm-up still running at shutdown stops after its current batch, before the model is released
        stop.set()
        if warming is not None:
            warming.join(timeout=30)
        services.close()

    app = FastAPI(
        title="Companion",
        version=__version__,
        description="LLM-assisted mentoring companion: cited search over your organization's guides.",
        lifespan=lifespan,
    )
    app.state.services = services
    for module in (health, search, knowledge, assistant, records, people_api, matching_api, evals_api):
        app.include_router(module.router)
    app.include_router(audit_api.router)
    app.include_router(jobs_api.router)
    app.include_router(program_api.router)
    app.include_router(surveys_api.router)
    app.include_router(outcomes_api.router)
    app.include_router(nudges_api.router)
    for page_module in (
        session_pages,
        admin_users,
        evals_pages,
        admin_knowledge,
        admin_people,
        admin_matching,
        admin_program,
        dashboard_pages,
        admin_nudges,
        ask_pages,
        mentee_pages,
        mentor_pages,
        profile_pages,
    ):
        app.include_router(page_module.router)
    app.include_router(jobs_pages.router)
    app.include_router(survey_pages.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _install_error_handlers(app)
    audit_http.install(app)  # before security: runs inside the size and rate limits
    security.install(app, services.settings.security)
    app.add_middleware(CutOnShutdown)  # last, so outermost: requests cut by a shutdown get a JSON 503
    return app


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def _page_error(request: Request, status: int, message: str) -> Response:
    """Errors on web pages: no session -> the sign-in page, anything else -> an HTML error page."""
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
    if getattr(request.state, "principal", None) is None:
        _attach_session(request)
    title = TITLES.get(status, "Something went wrong" if status >= 500 else "Request refused")
    return render(request, "pages/error.html", {"title": title, "message": message}, status_code=status)


def _attach_session(request: Request) -> None:
    """Show who is signed in on error pages too (their routes may have failed before the session check)."""
    try:
        attach_session(request, request.app.state.services.accounts)
    except CompanionError:
        return


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CompanionError)
    async def companion_error(request: Request, exc: CompanionError) -> Response:
        if _is_page(request):
            return _page_error(request, exc.status_code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        response = _error(exc.status_code, exc.code, exc.message, exc.details)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = validation_problems(exc, skip=("body",), whole="body")
        summary = summarize(problems)
        if _is_page(request):
            return _page_error(request, 422, f"please check the form: {summary}")
        details = [{"field": p.field, "problem": p.message} for p in problems]
        return _error(422, "invalid_input", f"invalid request: {summary}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        if _is_page(request):
            return _page_error(request, exc.status_code, str(exc.detail))
        response = _error(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        if _is_page(request):
            return _page_error(request, 500, "unexpected server error; the details are in the server log")
        return _error(500, "internal_error", "unexpected server error; the details are in the server log")

"""create_app(settings) -> FastAPI: routers and the one place errors become HTTP responses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__, security
from .api import assistant, health, knowledge, records, search
from .api import evals as evals_api
from .api import matching as matching_api
from .api import people as people_api
from .deps import Services
from .errors import CompanionError
from .settings import Settings
from .web import evals as evals_pages

log = logging.getLogger("companion")


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    services = services or Services(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.db.create_tables()
        yield
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
    app.include_router(evals_pages.router)
    _install_error_handlers(app)
    security.install(app, services.settings.security)
    return app


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CompanionError)
    async def companion_error(_request: Request, exc: CompanionError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        response = _error(exc.status_code, exc.code, exc.message, exc.details)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append({"field": where, "problem": err.get("msg", "invalid")})
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return _error(422, "invalid_input", f"invalid request: {summary}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        response = _error(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return _error(500, "internal_error", "unexpected server error; the details are in the server log")

"""Sign-in, sign-out and the start page (each role lands on its own home)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from companion.api.deps import ServicesDep
from companion.errors import InvalidInput, Unauthorized
from companion.web.common import HOME, SESSION_COOKIE, CheckedForm, PageUser, render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so a crafted link cannot bounce a user to another site after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@router.get("/", response_class=HTMLResponse)
def home(user: PageUser) -> Response:
    return RedirectResponse(HOME[user.principal.role], status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "pages/signin.html", {"next": _safe_next(next) or "", "name": ""})


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    services: ServicesDep,
    name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        if not name.strip() or not password:
            raise InvalidInput("enter your user name and your password")
        cookie, user = services.accounts.sign_in(name.strip(), password)
    except (Unauthorized, InvalidInput) as exc:
        context = {"next": _safe_next(next) or "", "error": exc.message, "name": name}
        return render(request, "pages/signin.html", context, status_code=exc.status_code)
    target = _safe_next(next) or HOME[user.principal.role]
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(services.settings.web.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=services.settings.web.secure_cookies,
        path="/",
    )
    return response


@router.post("/signout")
def signout(request: Request, services: ServicesDep, _form: CheckedForm) -> Response:
    services.accounts.sign_out(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

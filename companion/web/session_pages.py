"""Sign-in, sign-out and the start page (each role lands on its own home)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from companion.api.deps import ServicesDep
from companion.errors import CompanionError, Forbidden, InvalidInput, Unauthorized
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


def _signin_context(services: ServicesDep, **context: object) -> dict[str, object]:
    sso = services.settings.sso
    return {
        "sso_enabled": sso.enabled,
        "sso_only": sso.sso_only,
        "sso_label": sso.button_label,
        "name": "",
        **context,
    }


def _with_session(response: Response, services: ServicesDep, cookie: str) -> Response:
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


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, services: ServicesDep, next: str | None = None) -> HTMLResponse:
    return render(request, "pages/signin.html", _signin_context(services, next=_safe_next(next) or ""))


@router.get("/signin/sso", response_class=HTMLResponse, name="sso_start")
def sso_start(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    """Send the browser to the identity provider (single sign-on)."""
    if not services.sso.enabled:
        context = _signin_context(services, error="single sign-on is not configured here (COMPANION_SSO__*)")
        return render(request, "pages/signin.html", context, status_code=404)
    try:
        url = services.sso.start(
            redirect_uri=str(request.url_for("sso_callback")), next_path=_safe_next(next) or ""
        )
    except CompanionError as exc:
        context = _signin_context(services, error=exc.message)
        return render(request, "pages/signin.html", context, status_code=exc.status_code)
    return RedirectResponse(url, status_code=303)


@router.get("/signin/sso/callback", response_class=HTMLResponse, name="sso_callback")
def sso_callback(
    request: Request,
    services: ServicesDep,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Where the identity provider sends the browser back: the account is found or made, a session opens."""
    if not services.sso.enabled:
        return render(request, "pages/signin.html", _signin_context(services), status_code=404)
    try:
        done = services.sso.finish(
            redirect_uri=str(request.url_for("sso_callback")), code=code, state=state, error=error
        )
    except CompanionError as exc:
        context = _signin_context(services, error=f"Single sign-on failed: {exc.message}")
        return render(request, "pages/signin.html", context, status_code=exc.status_code)
    target = done.next_path or HOME[done.signed_in.principal.role]
    return _with_session(RedirectResponse(target, status_code=303), services, done.cookie)


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    services: ServicesDep,
    name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        if services.settings.sso.sso_only:
            raise Forbidden("password sign-in is off here: use your organization's identity provider")
        if not name.strip() or not password:
            raise InvalidInput("enter your user name and your password")
        cookie, user = services.accounts.sign_in(name.strip(), password)
    except (Unauthorized, InvalidInput, Forbidden) as exc:
        context = _signin_context(services, next=_safe_next(next) or "", error=exc.message, name=name)
        return render(request, "pages/signin.html", context, status_code=exc.status_code)
    target = _safe_next(next) or HOME[user.principal.role]
    return _with_session(RedirectResponse(target, status_code=303), services, cookie)


@router.post("/signout")
def signout(request: Request, services: ServicesDep, _form: CheckedForm) -> Response:
    services.accounts.sign_out(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

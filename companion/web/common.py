"""What every page route shares: templates, the signed-in user, role checks and CSRF checks.

Pages sign in with a session cookie (see `companion.identity.accounts`). A page for another role answers 403;
a page without a session redirects to /signin (done by the error handler in `companion.app`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from companion.api.deps import ServicesDep
from companion.errors import Forbidden, InvalidInput, Unauthorized, validation_message
from companion.http import read_upload
from companion.identity.accounts import Accounts, SignedIn, csrf_matches
from companion.identity.auth import Role

SESSION_COOKIE = "companion_session"
Model = TypeVar("Model", bound=BaseModel)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def guide_url(citation: Any) -> str:
    """Where a citation (a Citation model or its stored dict) opens: the guide viewer at that chunk."""
    get = citation.get if isinstance(citation, dict) else lambda key: getattr(citation, key, "")
    source, chunk = quote(str(get("source")), safe=""), quote(str(get("chunk_id")), safe="")
    return f"/guides/view?source={source}&chunk={chunk}"


templates.env.globals["guide_url"] = guide_url

NAV: dict[Role, list[tuple[str, str]]] = {
    Role.mentee: [
        ("/mentee", "My goals"),
        ("/mentee/prepare", "Prepare a session"),
        ("/mentee/mentors", "Mentors for me"),
        ("/profile", "My profile"),
        ("/ask", "Ask the handbook"),
    ],
    Role.mentor: [
        ("/mentor", "My mentees"),
        ("/mentor/feedback", "Feedback coach"),
        ("/profile", "My profile"),
        ("/ask", "Ask the handbook"),
    ],
    Role.admin: [
        ("/admin/dashboard", "Dashboard"),
        ("/admin/knowledge", "Knowledge"),
        ("/admin/people", "People"),
        ("/admin/matching", "Matching"),
        ("/admin/program", "Program"),
        ("/admin/surveys", "Surveys"),
        ("/admin/users", "Users"),
        ("/admin/evals", "Evals"),
        ("/admin/nudges", "Nudges"),
        ("/ask", "Ask"),
    ],
}
HOME = {Role.mentee: "/mentee", Role.mentor: "/mentor", Role.admin: "/admin/knowledge"}


def attach_session(request: Request, accounts: Accounts) -> SignedIn | None:
    """The browser session behind the request's cookie, if any, recorded on `request.state` for the
    layout (who is signed in, the CSRF token) and the audit middleware."""
    user = accounts.lookup(request.cookies.get(SESSION_COOKIE))
    if user is not None:
        request.state.principal = user.principal
        request.state.csrf_token = user.csrf_token
    return user


def signed_in(request: Request, services: ServicesDep) -> SignedIn:
    user = attach_session(request, services.accounts)
    if user is None:
        raise Unauthorized("sign in to see this page")
    return user


PageUser = Annotated[SignedIn, Depends(signed_in)]


def _role_page(role: Role) -> Callable[[SignedIn], SignedIn]:
    def check(user: PageUser) -> SignedIn:
        if user.principal.role != role:
            raise Forbidden(
                f"this page is for {role.value}s; you are signed in as {user.principal.role.value}"
            )
        return user

    return check


MenteePage = Annotated[SignedIn, Depends(_role_page(Role.mentee))]
MentorPage = Annotated[SignedIn, Depends(_role_page(Role.mentor))]
AdminPage = Annotated[SignedIn, Depends(_role_page(Role.admin))]


async def checked_form(request: Request, user: PageUser) -> FormData:
    """The posted form, after checking its CSRF token (form field `csrf_token` or header X-CSRF-Token)."""
    form = await request.form()
    sent = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not csrf_matches(user.csrf_token, sent if isinstance(sent, str) else None):
        raise Forbidden("this form has expired or came from another site: reload the page and try again")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def field(form: FormData, name: str, default: str = "") -> str:
    """A text field of a posted form, stripped ('' when absent or a file)."""
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def from_form(model: type[Model], labels: Mapping[str, str], *, prefix: str = "", **values: Any) -> Model:
    """A request model built from a form's values; its validation errors become one InvalidInput that
    names the fields by the form's labels ("Goal: string should have at least 3 characters")."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(f"{prefix}{validation_message(exc, labels=labels)}") from None


def uploaded_file(form: FormData, *, max_bytes: int, missing: str) -> tuple[bytes, str]:
    """The `file` field of a posted form, read and checked like API uploads: (content, safe file name)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput(missing)
    return read_upload(upload, max_bytes)


def nav_badges(request: Request, principal: Any) -> dict[str, tuple[int, str]]:
    """Counts shown beside nav entries (href -> (count, what it counts)): for admins, the contact requests
    from surveys that nobody has handled yet."""
    if principal is None or principal.role != Role.admin:
        return {}
    services = getattr(request.app.state, "services", None)
    if services is None:
        return {}
    waiting = services.surveys.open_contact_count()
    return {"/admin/surveys": (waiting, "contact requests waiting")} if waiting else {}


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a page with the layout's needs (user, nav, CSRF token) filled in."""
    principal = getattr(request.state, "principal", None)
    base: dict[str, Any] = {
        "user": principal,
        "nav": NAV.get(principal.role, []) if principal else [],
        "badges": nav_badges(request, principal),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "path": request.url.path,
        "error": "",
        "notice": "",
    }
    base.update(context or {})
    return templates.TemplateResponse(request, name, base, status_code=status_code)

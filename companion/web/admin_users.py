"""Admin page for accounts: list users, create one (with a password and an API token), reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from companion.api.deps import ServicesDep
from companion.errors import CompanionError, InvalidInput
from companion.identity.auth import parse_role
from companion.web.common import AdminPage, CheckedForm, field, render

router = APIRouter(prefix="/admin/users", include_in_schema=False)


def _page(request: Request, services: ServicesDep, **context: object) -> HTMLResponse:
    status = context.pop("status_code", 200)
    page: dict[str, object] = {
        "users": services.accounts.list(),
        "token": "",
        "form": {},
    }
    page.update(context)
    return render(request, "pages/admin_users.html", page, status_code=int(str(status)))


@router.get("", response_class=HTMLResponse)
def users_page(request: Request, services: ServicesDep, admin: AdminPage) -> HTMLResponse:
    return _page(request, services)


@router.post("", response_class=HTMLResponse)
def create_user(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> HTMLResponse:
    name, role, password = field(form, "name"), field(form, "role", "mentee"), field(form, "password")
    try:
        if not password:
            raise InvalidInput("set a first password for the new user")
        user, token = services.accounts.create(name=name, role=parse_role(role), password=password)
    except CompanionError as exc:
        form_values = {"name": name, "role": role}
        return _page(request, services, error=exc.message, form=form_values, status_code=exc.status_code)
    request.state.audit_action = "create user"
    request.state.audit_target = user.name
    notice = f"Created {user.role.value} {user.name}. Give them their password; their API token is below."
    return _page(request, services, notice=notice, token=token, status_code=201)


@router.post("/{name}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    form: CheckedForm,
    name: Annotated[str, Path(max_length=100)],
) -> HTMLResponse:
    try:
        services.accounts.set_password(name, field(form, "password"))
    except CompanionError as exc:
        return _page(request, services, error=f"{name}: {exc.message}", status_code=exc.status_code)
    request.state.audit_action = "reset password"
    request.state.audit_target = name
    return _page(request, services, notice=f"New password set for {name}; their open sessions were ended.")

"""The profile page of mentors and mentees (`/profile`): they fill in and edit their own matching profile
(goals or expertise, skills with suggestions from the skills in use, languages, time zone, capacity for
mentors, soft preferences). The organization's fields (department, site, manager) stay with admins and
imports. A mentee who saves lands on their recommended mentors, made from what they just saved.

The page also holds everyone's e-mail opt-out and private calendar feed (its address, with a reset that
makes the old address answer 404); admins, who have no profile, set their opt-out on `/admin/nudges`."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from companion.api.deps import ServicesDep
from companion.errors import CompanionError, Forbidden, NotFound, validation_message
from companion.identity.accounts import SignedIn
from companion.identity.auth import Role
from companion.matching.schemas import OwnProfile, PersonOut
from companion.program.email import OFF_MESSAGE
from companion.web.common import CheckedForm, PageUser, field, render

router = APIRouter(tags=["pages"], include_in_schema=False)
TIMEZONES = sorted(available_timezones())
SUGGESTIONS = 40
_TEXT = {"mentor": "expertise", "mentee": "goals"}


def _own(user: SignedIn) -> SignedIn:
    if user.principal.role == Role.admin:
        raise Forbidden("this page is for mentors and mentees; admins edit profiles on the People page")
    return user


def _values(profile: PersonOut | None) -> dict[str, Any]:
    if profile is None:
        return {"name": "", "text": "", "bio": "", "skills": "", "languages": "", "timezone": "",
                "capacity": "", "department": "", "site": "", "mentors": "", "avoid": ""}
    prefs = profile.preferences
    return {
        "name": profile.name,
        "text": profile.expertise if profile.role == "mentor" else profile.goals,
        "bio": profile.bio,
        "skills": "; ".join(profile.skills),
        "languages": "; ".join(profile.languages),
        "timezone": profile.timezone,
        "capacity": str(profile.capacity) if profile.role == "mentor" else "",
        "department": prefs.department or "",
        "site": prefs.site or "",
        "mentors": "; ".join(prefs.mentors),
        "avoid": "; ".join(prefs.avoid),
    }


def _page(
    request: Request,
    services: ServicesDep,
    user: SignedIn,
    *,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    role = user.principal.role.value
    try:
        profile: PersonOut | None = services.people.me(user.principal)
    except NotFound:
        profile = None
    skills_role = "mentor" if role == "mentee" else "mentee"  # mentees want what mentors offer, and back
    preferences = services.preferences.get(user.principal.id)  # the calendar token is made on first view
    page = {
        "preferences": preferences,
        "calendar_url": str(request.base_url).rstrip("/") + preferences.calendar_path,
        "email_off": "" if preferences.email_enabled else OFF_MESSAGE,
        "profile": profile,
        "role": role,
        "values": values if values is not None else _values(profile),
        "timezones": TIMEZONES,
        "suggestions": services.people.skills_in_use(skills_role, limit=SUGGESTIONS),
        **context,
    }
    return render(request, "profile.html", page, status_code=status_code)


@router.get("/profile", response_class=HTMLResponse)
def profile_page(
    request: Request, services: ServicesDep, user: PageUser, saved: Annotated[str, Query(max_length=10)] = ""
) -> HTMLResponse:
    notice = {"1": "Profile saved.", "email": "E-mail preference saved.",
              "calendar": "New calendar link made: the old one no longer works."}.get(saved, "")  # fmt: skip
    return _page(request, services, _own(user), notice=notice)


def _profile_from(form: FormData, role: str) -> tuple[dict[str, Any], OwnProfile]:
    values = {name: field(form, name) for name in _values(None)}
    data: dict[str, Any] = {
        "name": values["name"] or None,
        _TEXT[role]: values["text"],
        "bio": values["bio"],
        "skills": values["skills"],
        "languages": values["languages"],
        "timezone": values["timezone"] or None,
        "preferences": {
            "department": values["department"] or None,
            "site": values["site"] or None,
            "avoid": values["avoid"],
            **({"mentors": values["mentors"]} if role == "mentee" else {}),
        },
    }
    if role == "mentor" and values["capacity"]:
        data["capacity"] = values["capacity"]
    return values, OwnProfile.model_validate(data)


@router.post("/profile", response_class=HTMLResponse)
def save_profile(request: Request, services: ServicesDep, user: PageUser, form: CheckedForm) -> Response:
    me = _own(user)
    role = me.principal.role.value
    values = {name: field(form, name) for name in _values(None)}
    try:
        values, profile = _profile_from(form, role)
        services.people.save_own(me.principal, profile)
    except ValidationError as exc:
        return _page(request, services, me, values=values, error=validation_message(exc), status_code=422)
    except CompanionError as exc:
        return _page(request, services, me, values=values, error=exc.message, status_code=exc.status_code)
    if role == "mentee":
        return RedirectResponse("/mentee/mentors?done=profile", status_code=303)
    return RedirectResponse("/profile?saved=1", status_code=303)


def _back(form: FormData) -> str:
    return "/admin/nudges" if field(form, "next") == "/admin/nudges" else "/profile"


@router.post("/profile/preferences")
def save_preferences(request: Request, services: ServicesDep, user: PageUser, form: CheckedForm) -> Response:
    """The e-mail toggle (ticked: send me e-mail), for every role."""
    opt_out = field(form, "email") != "1"
    services.preferences.set_opt_out(user.principal.id, opt_out)
    request.state.audit_action = "e-mail opt-out" if opt_out else "e-mail opt-in"
    return RedirectResponse(f"{_back(form)}?saved=email", status_code=303)


@router.post("/profile/calendar/reset")
def reset_calendar(request: Request, services: ServicesDep, user: PageUser, form: CheckedForm) -> Response:
    services.preferences.reset_calendar(user.principal.id)
    request.state.audit_action = "reset calendar link"
    return RedirectResponse("/profile?saved=calendar", status_code=303)

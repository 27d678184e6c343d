"""The goal progress form shared by the mentee's goals page and the mentor's mentee page: one form adds a
progress note, changes the status (with the day it closed), or both, through the outcomes service."""

from __future__ import annotations

from datetime import date

from starlette.datastructures import FormData

from companion.container import Services
from companion.errors import InvalidInput
from companion.identity.auth import Principal
from companion.program.outcomes import STATUSES, ProgressIn, StatusChange
from companion.web.common import field, from_form

LABELS = {"note": "Progress note", "status": "Status", "on": "Achieved or dropped on"}
NOTICES = {
    "progress": "Progress note saved.",
    "achieved": "Goal achieved: well done!",
    "status": "Status changed.",
}


def typed_progress(form: FormData, goal_id: int) -> dict[str, object]:
    """The progress form as typed, to show it again when it is refused."""
    return {
        "goal_id": goal_id,
        "note": field(form, "note"),
        "status": field(form, "status"),
        "on": field(form, "on"),
    }


def save_progress(
    services: Services, principal: Principal, mentee_id: int, goal_id: int, form: FormData
) -> str:
    """Apply the posted progress form; returns the notice key for the page it redirects to."""
    note, status, on_text = field(form, "note"), field(form, "status"), field(form, "on")
    on: date | None = None
    if on_text:
        try:
            on = date.fromisoformat(on_text)
        except ValueError:
            raise InvalidInput("Achieved or dropped on: use a date like 2026-06-30") from None
    if status:
        if status not in STATUSES:
            raise InvalidInput(f"Status: choose one of {', '.join(STATUSES)}")
        change = from_form(StatusChange, LABELS, status=status, note=note, on=on)
        services.outcomes.change_status(principal, mentee_id, goal_id, change)
        return "achieved" if status == "achieved" else "status"
    if on is not None:
        raise InvalidInput("choose the new status (achieved or dropped) to go with the date")
    if not note:
        raise InvalidInput("write a progress note or choose a new status")
    services.outcomes.add_progress(principal, mentee_id, goal_id, from_form(ProgressIn, LABELS, note=note))
    return "progress"

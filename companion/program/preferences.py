"""A user's own choices (`user_preferences`): the e-mail opt-out, and the secret token of their private
calendar feed (made on first use, replaced on reset so the old feed address stops working)."""

from __future__ import annotations

import secrets

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from companion.storage.db import Database, UserPreference


class PreferencesOut(BaseModel):
    email_opt_out: bool = Field(description="True: no e-mail nudges are sent to this user.")
    email_enabled: bool = Field(description="Whether this server sends e-mail at all.")
    calendar_url: str = Field(
        description="The user's private calendar feed (ICS); anyone with it can read it."
    )
    calendar_path: str = Field(description="The feed's path on this server.")


class PreferencesIn(BaseModel):
    email_opt_out: bool = Field(description="True: stop the e-mail nudges.")


def calendar_path(token: str) -> str:
    return f"/calendar/{token}.ics"


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Preferences:
    def __init__(self, *, db: Database, base_url: str, email_enabled: bool) -> None:
        self.db = db
        self.base_url = base_url.rstrip("/")
        self.email_enabled = email_enabled

    def _row(self, session: Session, user_id: int) -> UserPreference:
        row = session.get(UserPreference, user_id)
        if row is None:
            row = UserPreference(user_id=user_id, email_opt_out=False)
            session.add(row)
        if not row.calendar_token:
            row.calendar_token = new_token()
        session.flush()
        return row

    def _out(self, row: UserPreference) -> PreferencesOut:
        return PreferencesOut(
            email_opt_out=row.email_opt_out,
            email_enabled=self.email_enabled,
            calendar_url=self.base_url + calendar_path(str(row.calendar_token)),
            calendar_path=calendar_path(str(row.calendar_token)),
        )

    def get(self, user_id: int) -> PreferencesOut:
        """The user's preferences (their calendar token is made here on first view)."""
        with self.db.session() as session:
            return self._out(self._row(session, user_id))

    def set_opt_out(self, user_id: int, opt_out: bool) -> PreferencesOut:
        with self.db.session() as session:
            row = self._row(session, user_id)
            row.email_opt_out = opt_out
            return self._out(row)

    def reset_calendar(self, user_id: int) -> PreferencesOut:
        """A new feed address; the old one answers 404 from now on."""
        with self.db.session() as session:
            row = self._row(session, user_id)
            row.calendar_token = new_token()
            return self._out(row)

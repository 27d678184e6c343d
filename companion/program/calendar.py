"""Private calendar feeds (ICS, built with `icalendar`): a user's mentoring sessions, the next session due
by the rhythm of each of their pairs (a tentative event), and the milestones of their cycles. The feed is
reached by the secret token in `user_preferences.calendar_token`, without signing in; an unknown or
replaced token is a NotFound. Session notes never go into the feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from companion.errors import NotFound
from companion.program.cadence import CadenceRules, assess
from companion.program.pairs import cycle_pairs, display_names
from companion.settings import ProgramSettings
from companion.storage.db import (
    CycleMentorship,
    Database,
    Mentorship,
    Milestone,
    SessionRecord,
    UserPreference,
)

PRODID = "-//Companion//mentoring calendar//EN"
MAX_TOKEN = 64


class CalendarFeeds:
    def __init__(self, *, db: Database, program: ProgramSettings) -> None:
        self.db = db
        self.program = program

    def feed(self, token: str, *, today: date | None = None) -> bytes:
        """The ICS feed the token opens (NotFound: unknown, or reset since)."""
        today = today or date.today()
        if not token or len(token) > MAX_TOKEN:
            raise NotFound("no such calendar")
        with self.db.session() as session:
            user_id = session.scalar(
                select(UserPreference.user_id).where(UserPreference.calendar_token == token)
            )
            if user_id is None:
                raise NotFound("no such calendar: the link may have been reset")
            return self.build(session, user_id, today=today).to_ical()

    def build(self, session: Session, user_id: int, *, today: date) -> Calendar:
        names = display_names(session)
        cal = Calendar()
        cal.add("prodid", PRODID)
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("x-wr-calname", f"Mentoring: {names.get(user_id, 'me')}")
        stamp = datetime.now(UTC).replace(microsecond=0)
        for event in self._sessions(session, user_id, names):
            event.add("dtstamp", stamp)
            cal.add_component(event)
        for event in self._next_due(session, user_id, names, today):
            event.add("dtstamp", stamp)
            cal.add_component(event)
        for event in self._milestones(session, user_id):
            event.add("dtstamp", stamp)
            cal.add_component(event)
        return cal

    def _sessions(self, session: Session, user_id: int, names: dict[int, str]) -> list[Event]:
        rows = session.scalars(
            select(SessionRecord)
            .where(or_(SessionRecord.mentee_user_id == user_id, SessionRecord.mentor_user_id == user_id))
            .order_by(SessionRecord.held_on)
        ).all()
        events = []
        for row in rows:
            other = row.mentor_user_id if row.mentee_user_id == user_id else row.mentee_user_id
            with_whom = f" with {names[other]}" if other in names else ""
            event = _day_event(f"session-{row.id}@companion", f"Mentoring session{with_whom}", row.held_on)
            event.add("description", f"{row.length_minutes} minutes, logged in Companion.")
            event.add("status", "CONFIRMED")
            events.append(event)
        return events

    def _next_due(self, session: Session, user_id: int, names: dict[int, str], today: date) -> list[Event]:
        events = []
        for pair in cycle_pairs(session, today=today, starts_by=today, user_id=user_id):
            rules = CadenceRules.from_settings(self.program, cadence_days=pair.cadence_days)
            cycle = pair.cycle
            rhythm = assess(
                pair.sessions, starts_on=cycle.starts_on, ends_on=cycle.ends_on, today=today, rules=rules
            )
            due = max(rhythm.next_due, today)
            if due > cycle.ends_on:
                continue
            other = pair.mentor_id if pair.mentee_id == user_id else pair.mentee_id
            uid = f"due-{cycle.id}-{pair.mentor_id}-{pair.mentee_id}@companion"
            event = _day_event(
                uid, f"Next mentoring session due (with {names.get(other, 'your partner')})", due
            )
            event.add("status", "TENTATIVE")
            event.add(
                "description", f"By the {cycle.name} rhythm: a session every {rules.cadence_days} days."
            )
            events.append(event)
        return events

    def _milestones(self, session: Session, user_id: int) -> list[Event]:
        cycles = select(CycleMentorship.cycle_id).join(
            Mentorship, Mentorship.id == CycleMentorship.mentorship_id
        )
        cycles = cycles.where(or_(Mentorship.mentor_user_id == user_id, Mentorship.mentee_user_id == user_id))
        rows = session.scalars(
            select(Milestone).where(Milestone.cycle_id.in_(cycles)).order_by(Milestone.due_on)
        )
        return [_day_event(f"milestone-{m.id}@companion", m.title, m.due_on) for m in rows]


def _day_event(uid: str, summary: str, day: date) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    return event

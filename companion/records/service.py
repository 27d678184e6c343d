"""Mentees' goals and session notes. Every call checks that the caller may act on that mentee."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from companion.assistant.models import Citation
from companion.errors import InvalidInput, NotFound
from companion.identity.auth import Principal, Role, check_mentee_records, mentees_of
from companion.program.outcomes import current_cycle_id, record_status
from companion.schemas import DbId
from companion.storage.db import Database, GoalRecord, Person, SessionRecord, User

GOAL_STATUSES = ("active", "achieved", "dropped")


class _GoalFields(BaseModel):
    statement: str = Field(min_length=3, max_length=1000)
    measure: str = Field("", max_length=1000)
    target_date: date | None = None
    first_steps: list[str] = Field(default_factory=list, max_length=10)
    citations: list[Citation] = Field(default_factory=list, max_length=20)
    status: str = Field("active", pattern="^(active|achieved|dropped)$")


# fields of a fetched goal that the server keeps itself: a goal read with GET can be sent back with PUT
_READ_ONLY_GOAL_FIELDS = ("id", "mentee_id", "closed_on", "cycle_id")


class GoalIn(_GoalFields):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in _READ_ONLY_GOAL_FIELDS}
        return data


class GoalOut(_GoalFields):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int
    mentee_id: int
    closed_on: date | None = Field(None, description="The day the goal was achieved or dropped.")
    cycle_id: int | None = Field(None, description="The cycle the goal was set in, if any.")


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee_id: DbId
    mentor_id: DbId | None = None
    held_on: date
    length_minutes: int = Field(60, ge=5, le=480)
    notes: str = Field("", max_length=20000)


class SessionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(None, max_length=20000)
    length_minutes: int | None = Field(None, ge=5, le=480)
    held_on: date | None = None


class SessionOut(BaseModel):
    id: int
    mentee_id: int
    mentor_id: int | None
    held_on: date
    length_minutes: int
    notes: str


class MenteeBrief(BaseModel):
    id: int = Field(description="The mentee's user id.")
    name: str = Field(description="User name.")
    display_name: str | None = Field(None, description="Name on the linked people profile, if any.")


class RecordsService:
    def __init__(self, *, db: Database, today: Callable[[], date] = date.today) -> None:
        self.db = db
        self.today = today

    # ---- goals -----------------------------------------------------------------------------------

    def list_goals(self, principal: Principal, mentee_id: int, *, status: str | None = None) -> list[GoalOut]:
        with self.db.session() as session:
            self._check(session, principal, mentee_id)
            query = select(GoalRecord).where(GoalRecord.mentee_user_id == mentee_id)
            if status:
                query = query.where(GoalRecord.status == status)
            return [_goal_out(g) for g in session.scalars(query.order_by(GoalRecord.id))]

    def add_goals(self, principal: Principal, mentee_id: int, goals: list[GoalIn]) -> list[GoalOut]:
        if not goals:
            raise InvalidInput("send at least one goal")
        with self.db.session() as session:
            self._check(session, principal, mentee_id)
            today = self.today()
            cycle_id = current_cycle_id(session, mentee_id, today)  # goals set in a cycle belong to it
            rows = []
            for goal in goals:
                fields = _goal_fields(goal)
                status = fields.pop("status")
                rows.append(
                    GoalRecord(
                        mentee_user_id=mentee_id, created_by=principal.id, cycle_id=cycle_id, **fields
                    )
                )
                if status != "active":  # saved as already achieved or dropped: closed today
                    rows[-1].status, rows[-1].closed_on = status, today
            session.add_all(rows)
            session.flush()
            return [_goal_out(r) for r in rows]

    def update_goal(self, principal: Principal, mentee_id: int, goal_id: int, goal: GoalIn) -> GoalOut:
        with self.db.session() as session:
            self._check(session, principal, mentee_id)
            row = self._goal(session, mentee_id, goal_id)
            fields = _goal_fields(goal)
            status = fields.pop("status")
            for key, value in fields.items():
                setattr(row, key, value)
            # a status change sets (or clears) closed_on and leaves a progress row, like the outcomes API
            record_status(session, row, status, today=self.today(), author_id=principal.id)
            session.flush()
            return _goal_out(row)

    def delete_goal(self, principal: Principal, mentee_id: int, goal_id: int) -> None:
        with self.db.session() as session:
            self._check(session, principal, mentee_id)
            session.delete(self._goal(session, mentee_id, goal_id))

    # ---- sessions --------------------------------------------------------------------------------

    def add_session(self, principal: Principal, data: SessionIn) -> SessionOut:
        with self.db.session() as session:
            self._check(session, principal, data.mentee_id)
            mentor_id = data.mentor_id
            if mentor_id is None and principal.role == Role.mentor:
                mentor_id = principal.id
            if mentor_id is not None:
                mentor = session.get(User, mentor_id)
                if mentor is None or mentor.role != Role.mentor:
                    raise InvalidInput(f"mentor_id {mentor_id} is not a mentor")
            row = SessionRecord(
                mentee_user_id=data.mentee_id,
                mentor_user_id=mentor_id,
                held_on=data.held_on,
                length_minutes=data.length_minutes,
                notes=data.notes,
                created_by=principal.id,
            )
            session.add(row)
            session.flush()
            return _session_out(row)

    def list_sessions(self, principal: Principal, mentee_id: int) -> list[SessionOut]:
        with self.db.session() as session:
            self._check(session, principal, mentee_id)
            rows = session.scalars(
                select(SessionRecord)
                .where(SessionRecord.mentee_user_id == mentee_id)
                .order_by(SessionRecord.held_on.desc(), SessionRecord.id.desc())
            )
            return [_session_out(r) for r in rows]

    def get_session(self, principal: Principal, session_id: int) -> SessionOut:
        with self.db.session() as session:
            row = session.get(SessionRecord, session_id)
            if row is None:
                raise NotFound(f"no session with id {session_id}")
            self._check(session, principal, row.mentee_user_id)
            return _session_out(row)

    def update_session(self, principal: Principal, session_id: int, data: SessionUpdate) -> SessionOut:
        with self.db.session() as session:
            row = session.get(SessionRecord, session_id)
            if row is None:
                raise NotFound(f"no session with id {session_id}")
            self._check(session, principal, row.mentee_user_id)
            for key, value in data.model_dump(exclude_none=True).items():
                setattr(row, key, value)
            session.flush()
            return _session_out(row)

    def latest_notes(self, principal: Principal, mentee_id: int) -> str | None:
        sessions = self.list_sessions(principal, mentee_id)
        return next((s.notes for s in sessions if s.notes.strip()), None)

    # ---- mentorships ----------------------------------------------------------------------------

    def my_mentees(self, principal: Principal) -> list[MenteeBrief]:
        """A mentor's active mentees, by name (anyone else has none)."""
        if principal.role != Role.mentor:
            return []
        with self.db.session() as session:
            ids = mentees_of(session, principal.id)
            if not ids:
                return []
            rows = session.execute(
                select(User.id, User.name, Person.name)
                .outerjoin(Person, Person.user_id == User.id)
                .where(User.id.in_(ids))
                .order_by(User.name)
            )
            return [MenteeBrief(id=uid, name=name, display_name=shown) for uid, name, shown in rows]

    # ---- helpers ---------------------------------------------------------------------------------

    def check_access(self, principal: Principal, mentee_id: int) -> None:
        """Refuse unless the caller may act on this mentee's records: 403 for someone else's mentee (and,
        for non-admins, for a user who is no mentee), 404 for admins naming no mentee."""
        with self.db.session() as session:
            self._check(session, principal, mentee_id)

    def resolve_mentee(self, principal: Principal, mentee_id: int | None) -> int:
        """The mentee a request is about: explicit, or the caller when the caller is a mentee."""
        if mentee_id is not None:
            return mentee_id
        if principal.role == Role.mentee:
            return principal.id
        raise InvalidInput("mentee_id is required (only mentees default to themselves)")

    def _check(self, session: Any, principal: Principal, mentee_id: int) -> None:
        # admins learn a mentee does not exist; others get the same 403 as for someone else's records
        check_mentee_records(session, principal, mentee_id)

    @staticmethod
    def _goal(session: Any, mentee_id: int, goal_id: int) -> GoalRecord:
        row = session.get(GoalRecord, goal_id)
        if row is None or row.mentee_user_id != mentee_id:
            raise NotFound(f"mentee {mentee_id} has no goal {goal_id}")
        return row


def _goal_fields(goal: GoalIn) -> dict[str, Any]:
    data = goal.model_dump(mode="json")
    data["target_date"] = goal.target_date
    return data


def _goal_out(row: GoalRecord) -> GoalOut:
    return GoalOut(
        id=row.id,
        mentee_id=row.mentee_user_id,
        statement=row.statement,
        measure=row.measure,
        target_date=row.target_date,
        first_steps=list(row.first_steps or []),
        citations=[Citation.model_validate(c) for c in row.citations or []],
        status=row.status,
        closed_on=row.closed_on,
        cycle_id=row.cycle_id,
    )


def _session_out(row: SessionRecord) -> SessionOut:
    return SessionOut(
        id=row.id,
        mentee_id=row.mentee_user_id,
        mentor_id=row.mentor_user_id,
        held_on=row.held_on,
        length_minutes=row.length_minutes,
        notes=row.notes,
    )

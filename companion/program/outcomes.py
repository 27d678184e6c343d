"""Goal outcomes: a goal's status (active, achieved, dropped) with the day it closed, its dated progress
notes by the mentee or their mentor, the cycle a new goal belongs to, and the achievements the mentee's
and the mentor's pages celebrate.

The storage-level helpers (`current_cycle_id`, `record_status`) are shared with the records service, so a
status change made through a goal edit and one made here leave the same trail (closed_on + a progress row).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from companion.errors import InvalidInput, NotFound
from companion.identity.auth import Principal, Role, check_mentee_records, mentees_of
from companion.schemas import UtcDateTime
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    GoalProgress,
    GoalRecord,
    Mentorship,
    Person,
    User,
)

STATUSES = ("active", "achieved", "dropped")
CLOSED = ("achieved", "dropped")
STATUS_PATTERN = "^(active|achieved|dropped)$"


class StatusChange(BaseModel):
    """Move a goal to a status; `on` is the day it was achieved or dropped (default: today)."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(pattern=STATUS_PATTERN, description="active, achieved or dropped.")
    note: str = Field("", max_length=4000, description="What happened (optional).")
    on: date | None = Field(None, description="The day it was achieved or dropped (default: today).")


class ProgressIn(BaseModel):
    """A progress note on a goal, optionally moving it to another status."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=4000, description="What moved forward (or did not).")
    status: str | None = Field(None, pattern=STATUS_PATTERN, description="A new status, if it changed.")


class ProgressOut(BaseModel):
    id: int
    goal_id: int
    note: str
    status: str | None = Field(description="The status the goal moved to with this note, if it moved.")
    author_id: int | None
    author_name: str | None = Field(description="Who wrote it (the mentee or their mentor).")
    created_at: UtcDateTime


class GoalOutcome(BaseModel):
    id: int
    mentee_id: int
    statement: str
    status: str
    closed_on: date | None = Field(description="The day it was achieved or dropped.")
    cycle_id: int | None = Field(description="The cycle the goal was set in, if any.")
    progress: list[ProgressOut] = Field(default_factory=list, description="Progress notes, oldest first.")


class Achievement(BaseModel):
    """An achieved goal, for the celebration cards."""

    goal_id: int
    mentee_id: int
    mentee_name: str
    statement: str
    closed_on: date | None


# ---- storage-level helpers (used by the records service too) ----------------------------------------


def current_cycle_id(session: Session, mentee_user_id: int, today: date) -> int | None:
    """The cycle running today that one of the mentee's active pairs takes part in (the latest started)."""
    return session.scalar(
        select(Cycle.id)
        .join(CycleMentorship, CycleMentorship.cycle_id == Cycle.id)
        .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
        .where(
            Mentorship.mentee_user_id == mentee_user_id,
            Mentorship.active.is_(True),
            Cycle.starts_on <= today,
            Cycle.ends_on >= today,
        )
        .order_by(Cycle.starts_on.desc(), Cycle.id.desc())
        .limit(1)
    )


def record_status(
    session: Session,
    goal: GoalRecord,
    status: str,
    *,
    today: date,
    on: date | None = None,
    author_id: int | None = None,
    note: str = "",
) -> GoalProgress | None:
    """Move `goal` to `status`: a closing status sets `closed_on` (`on`, default today), going back to
    active clears it; a progress row records the move. Returns None when the status did not change."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    if on is not None:
        if status not in CLOSED:
            raise InvalidInput("a date ('on') goes only with achieved or dropped")
        if on > today:
            raise InvalidInput(f"the day a goal was {status} cannot be in the future (today is {today})")
        created = goal.created_at.date() if goal.created_at else None
        if created and on < created:
            raise InvalidInput(f"the goal was set on {created}; it cannot have been {status} before that")
    if status == goal.status and (on is None or on == goal.closed_on):
        return None
    goal.status = status
    goal.closed_on = (on or today) if status in CLOSED else None
    row = GoalProgress(goal_id=goal.id, note=note, status=status, author_user_id=author_id)
    session.add(row)
    session.flush()
    return row


# ---- the service ------------------------------------------------------------------------------------


class OutcomesService:
    """Status changes and progress notes on goals, under the same access rules as the goals themselves:
    the mentee, their active mentor, or an admin."""

    def __init__(self, *, db: Database, today: Callable[[], date] = date.today) -> None:
        self.db = db
        self.today = today

    def change_status(
        self, principal: Principal, mentee_id: int, goal_id: int, change: StatusChange
    ) -> GoalOutcome:
        with self.db.session() as session:
            goal = self._goal(session, principal, mentee_id, goal_id)
            record_status(
                session,
                goal,
                change.status,
                today=self.today(),
                on=change.on,
                author_id=principal.id,
                note=change.note.strip(),
            )
            return self._outcome(session, goal)

    def add_progress(
        self, principal: Principal, mentee_id: int, goal_id: int, data: ProgressIn
    ) -> ProgressOut:
        note = data.note.strip()
        if not note:
            raise InvalidInput("write a progress note (it cannot be only spaces)")
        with self.db.session() as session:
            goal = self._goal(session, principal, mentee_id, goal_id)
            row = None
            if data.status is not None:
                row = record_status(
                    session, goal, data.status, today=self.today(), author_id=principal.id, note=note
                )
            if row is None:
                row = GoalProgress(goal_id=goal.id, note=note, status=None, author_user_id=principal.id)
                session.add(row)
                session.flush()
            return _progress_out(row, principal.name)

    def outcome(self, principal: Principal, mentee_id: int, goal_id: int) -> GoalOutcome:
        with self.db.session() as session:
            return self._outcome(session, self._goal(session, principal, mentee_id, goal_id))

    def progress_by_goal(self, principal: Principal, mentee_id: int) -> dict[int, list[ProgressOut]]:
        """Every progress note of the mentee's goals, by goal id, oldest first (one query)."""
        with self.db.session() as session:
            check_mentee_records(session, principal, mentee_id)
            rows = session.execute(
                select(GoalProgress, User.name)
                .join(GoalRecord, GoalRecord.id == GoalProgress.goal_id)
                .outerjoin(User, User.id == GoalProgress.author_user_id)
                .where(GoalRecord.mentee_user_id == mentee_id)
                .order_by(GoalProgress.created_at, GoalProgress.id)
            )
            out: dict[int, list[ProgressOut]] = {}
            for row, name in rows:
                out.setdefault(row.goal_id, []).append(_progress_out(row, name))
            return out

    def achievements(self, principal: Principal, *, limit: int = 10) -> list[Achievement]:
        """Achieved goals to celebrate: a mentee's own; a mentor's active mentees'; newest first."""
        if principal.role == Role.mentee:
            ids = {principal.id}
        elif principal.role == Role.mentor:
            with self.db.session() as session:
                ids = mentees_of(session, principal.id)
        else:
            return []
        if not ids:
            return []
        with self.db.session() as session:
            rows = session.execute(
                select(GoalRecord, User.name, Person.name)
                .join(User, User.id == GoalRecord.mentee_user_id)
                .outerjoin(Person, Person.user_id == User.id)
                .where(GoalRecord.mentee_user_id.in_(ids), GoalRecord.status == "achieved")
                .order_by(GoalRecord.closed_on.desc(), GoalRecord.id.desc())
                .limit(limit)
            )
            return [
                Achievement(
                    goal_id=goal.id,
                    mentee_id=goal.mentee_user_id,
                    mentee_name=shown or name,
                    statement=goal.statement,
                    closed_on=goal.closed_on,
                )
                for goal, name, shown in rows
            ]

    # ---- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _goal(session: Session, principal: Principal, mentee_id: int, goal_id: int) -> GoalRecord:
        check_mentee_records(session, principal, mentee_id)
        goal = session.get(GoalRecord, goal_id)
        if goal is None or goal.mentee_user_id != mentee_id:
            raise NotFound(f"mentee {mentee_id} has no goal {goal_id}")
        return goal

    @staticmethod
    def _outcome(session: Session, goal: GoalRecord) -> GoalOutcome:
        rows = session.execute(
            select(GoalProgress, User.name)
            .outerjoin(User, User.id == GoalProgress.author_user_id)
            .where(GoalProgress.goal_id == goal.id)
            .order_by(GoalProgress.created_at, GoalProgress.id)
        )
        return GoalOutcome(
            id=goal.id,
            mentee_id=goal.mentee_user_id,
            statement=goal.statement,
            status=goal.status,
            closed_on=goal.closed_on,
            cycle_id=goal.cycle_id,
            progress=[_progress_out(row, name) for row, name in rows],
        )


def _progress_out(row: GoalProgress, author_name: str | None) -> ProgressOut:
    created: datetime = row.created_at
    return ProgressOut(
        id=row.id,
        goal_id=row.goal_id,
        note=row.note,
        status=row.status,
        author_id=row.author_user_id,
        author_name=author_name,
        created_at=created,
    )

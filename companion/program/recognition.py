"""Mentor recognition: per mentor, the sessions and hours of the session log, their mentees, the goals
their mentees achieved and the nominations for the program's award; mentees nominate their own mentor(s)
with a reason, once per cycle. The report is for admins (page, CSV, API, CLI).

Each figure is one grouped query over all mentors, so the report costs the same few queries at any size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import Session

from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.identity.auth import Principal, Role
from companion.schemas import DbId, UtcDateTime
from companion.settings import ProgramSettings
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    GoalRecord,
    Mentorship,
    Nomination,
    Person,
    SessionRecord,
    User,
)


class NominationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentor_id: DbId = Field(description="The user id of one of your mentors.")
    reason: str = Field(min_length=10, max_length=2000, description="Why they deserve the award.")


class NominationOut(BaseModel):
    id: int
    cycle_id: int | None
    cycle_name: str | None
    mentor_id: int
    mentor_name: str
    reason: str
    created_at: UtcDateTime


class MentorRecognition(BaseModel):
    mentor_id: int
    name: str = Field(description="The name on the mentor's profile (or the user name).")
    user_name: str
    sessions: int
    hours: float = Field(description="Hours of the logged sessions (from their lengths).")
    mentees: int
    goals_achieved: int = Field(
        description="Goals their mentees achieved (in the cycle, when one is chosen)."
    )
    nominations: int
    reasons: list[str] = Field(default_factory=list, description="The nominations' reasons (admins only).")


class RecognitionReport(BaseModel):
    award_name: str
    cycle_id: int | None
    cycle_name: str | None
    mentors: list[MentorRecognition]


class MyMentor(BaseModel):
    """One of a mentee's mentors, and whether the mentee already nominated them in the current cycle."""

    mentor_id: int
    name: str
    cycle_id: int | None
    cycle_name: str | None
    nominated: bool


CSV_COLUMNS = ["mentor", "user", "sessions", "hours", "mentees", "goals_achieved", "nominations"]


class RecognitionService:
    def __init__(
        self, *, db: Database, settings: ProgramSettings, today: Callable[[], date] = date.today
    ) -> None:
        self.db = db
        self.settings = settings
        self.today = today

    # ---- the report ----------------------------------------------------------------------------------

    def report(self, *, cycle_id: int | None = None) -> RecognitionReport:
        with self.db.session() as session:
            cycle = _cycle(session, cycle_id)
            sessions = _sessions(session, cycle)
            mentees = _mentees(session, cycle)
            achieved = _achieved(session, cycle)
            nominations = _nominations(session, cycle)
            ids = set(sessions) | set(mentees) | set(achieved) | set(nominations)
            names = _names(session, ids)
            rows = []
            for mentor_id in ids:
                if mentor_id not in names:
                    continue  # a deleted user
                user_name, shown = names[mentor_id]
                count, minutes = sessions.get(mentor_id, (0, 0))
                reasons = nominations.get(mentor_id, [])
                rows.append(
                    MentorRecognition(
                        mentor_id=mentor_id,
                        name=shown or user_name,
                        user_name=user_name,
                        sessions=count,
                        hours=round(minutes / 60, 2),
                        mentees=mentees.get(mentor_id, 0),
                        goals_achieved=achieved.get(mentor_id, 0),
                        nominations=len(reasons),
                        reasons=reasons,
                    )
                )
            rows.sort(key=lambda r: (-r.hours, -r.nominations, r.name.lower()))
            return RecognitionReport(
                award_name=self.settings.award_name,
                cycle_id=cycle.id if cycle else None,
                cycle_name=cycle.name if cycle else None,
                mentors=rows,
            )

    def report_csv(self, *, cycle_id: int | None = None) -> str:
        report = self.report(cycle_id=cycle_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for r in report.mentors:
            writer.writerow(
                [
                    r.name,
                    r.user_name,
                    r.sessions,
                    f"{r.hours:.2f}",
                    r.mentees,
                    r.goals_achieved,
                    r.nominations,
                ]
            )
        return out.getvalue()

    # ---- nominations ---------------------------------------------------------------------------------

    def nominate(self, principal: Principal, data: NominationIn) -> NominationOut:
        """A mentee nominates one of their mentors, once per cycle (the pair's current or latest cycle)."""
        if principal.role != Role.mentee:
            raise Forbidden("only mentees nominate mentors for the award")
        reason = " ".join(data.reason.split())
        if len(reason) < 10:
            raise InvalidInput("reason: say in at least 10 characters why your mentor deserves the award")
        with self.db.session() as session:
            pair = session.scalar(
                select(Mentorship).where(
                    Mentorship.mentee_user_id == principal.id, Mentorship.mentor_user_id == data.mentor_id
                )
            )
            if pair is None:
                raise NotFound(f"user {data.mentor_id} is not one of your mentors")
            cycle = _pair_cycle(session, pair.id, self.today())
            cycle_id = cycle.id if cycle else None
            already = session.scalar(
                select(Nomination.id).where(
                    Nomination.nominator_user_id == principal.id,
                    Nomination.nominee_user_id == data.mentor_id,
                    Nomination.cycle_id == cycle_id
                    if cycle_id is not None
                    else Nomination.cycle_id.is_(None),
                )
            )
            if already is not None:
                when = f"in {cycle.name}" if cycle else "already"
                raise Conflict(f"you nominated this mentor {when}; one nomination per mentor and cycle")
            row = Nomination(
                cycle_id=cycle_id,
                nominator_user_id=principal.id,
                nominee_user_id=data.mentor_id,
                reason=reason,
            )
            session.add(row)
            session.flush()
            return self._out(session, row, cycle)

    def my_nominations(self, principal: Principal) -> list[NominationOut]:
        """The nominations a mentee made (admins: every nomination), newest first."""
        with self.db.session() as session:
            query = select(Nomination).order_by(Nomination.created_at.desc(), Nomination.id.desc())
            if principal.role == Role.mentee:
                query = query.where(Nomination.nominator_user_id == principal.id)
            elif principal.role != Role.admin:
                raise Forbidden("nominations are made by mentees and read by admins")
            rows = list(session.scalars(query))
            cycles = {
                c.id: c
                for c in session.scalars(select(Cycle).where(Cycle.id.in_({r.cycle_id for r in rows})))
            }
            return [self._out(session, r, cycles.get(r.cycle_id) if r.cycle_id else None) for r in rows]

    def my_mentors(self, principal: Principal) -> list[MyMentor]:
        """A mentee's mentors (current and past pairs), for the nomination form."""
        if principal.role != Role.mentee:
            return []
        today = self.today()
        with self.db.session() as session:
            pairs = list(
                session.scalars(
                    select(Mentorship)
                    .where(Mentorship.mentee_user_id == principal.id)
                    .order_by(Mentorship.active.desc(), Mentorship.id)
                )
            )
            names = _names(session, {p.mentor_user_id for p in pairs})
            out = []
            for pair in pairs:
                cycle = _pair_cycle(session, pair.id, today)
                cycle_id = cycle.id if cycle else None
                nominated = session.scalar(
                    select(Nomination.id).where(
                        Nomination.nominator_user_id == principal.id,
                        Nomination.nominee_user_id == pair.mentor_user_id,
                        Nomination.cycle_id == cycle_id
                        if cycle_id is not None
                        else Nomination.cycle_id.is_(None),
                    )
                )
                user_name, shown = names.get(pair.mentor_user_id, (f"user {pair.mentor_user_id}", None))
                out.append(
                    MyMentor(
                        mentor_id=pair.mentor_user_id,
                        name=shown or user_name,
                        cycle_id=cycle_id,
                        cycle_name=cycle.name if cycle else None,
                        nominated=nominated is not None,
                    )
                )
            return out

    @staticmethod
    def _out(session: Session, row: Nomination, cycle: Cycle | None) -> NominationOut:
        user_name, shown = _names(session, {row.nominee_user_id}).get(row.nominee_user_id, ("", None))
        return NominationOut(
            id=row.id,
            cycle_id=row.cycle_id,
            cycle_name=cycle.name if cycle else None,
            mentor_id=row.nominee_user_id,
            mentor_name=shown or user_name,
            reason=row.reason,
            created_at=row.created_at,
        )


# ---- grouped queries ---------------------------------------------------------------------------------


def _cycle(session: Session, cycle_id: int | None) -> Cycle | None:
    if cycle_id is None:
        return None
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"no cycle with id {cycle_id}")
    return cycle


def _pair_cycle(session: Session, mentorship_id: int, today: date) -> Cycle | None:
    """The cycle a pair's nomination counts for: the one running today, else the latest it took part in."""
    query = (
        select(Cycle)
        .join(CycleMentorship, CycleMentorship.cycle_id == Cycle.id)
        .where(CycleMentorship.mentorship_id == mentorship_id, Cycle.starts_on <= today)
        .order_by((Cycle.ends_on >= today).desc(), Cycle.starts_on.desc(), Cycle.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def _sessions(session: Session, cycle: Cycle | None) -> dict[int, tuple[int, int]]:
    query = select(
        SessionRecord.mentor_user_id,
        func.count(SessionRecord.id),
        func.coalesce(func.sum(SessionRecord.length_minutes), 0),
    ).where(SessionRecord.mentor_user_id.is_not(None))
    if cycle is not None:
        query = query.where(SessionRecord.held_on >= cycle.starts_on, SessionRecord.held_on <= cycle.ends_on)
    rows = session.execute(query.group_by(SessionRecord.mentor_user_id))
    return {int(mentor): (int(count), int(minutes)) for mentor, count, minutes in rows if mentor is not None}


def _mentees(session: Session, cycle: Cycle | None) -> dict[int, int]:
    query = select(Mentorship.mentor_user_id, func.count(distinct(Mentorship.mentee_user_id)))
    if cycle is not None:
        query = query.join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id).where(
            CycleMentorship.cycle_id == cycle.id
        )
    return {int(m): int(n) for m, n in session.execute(query.group_by(Mentorship.mentor_user_id))}


def _achieved(session: Session, cycle: Cycle | None) -> dict[int, int]:
    """Achieved goals of each mentor's mentees (in a cycle: the goals set in it, of the cycle's pairs)."""
    query = (
        select(Mentorship.mentor_user_id, func.count(distinct(GoalRecord.id)))
        .join(GoalRecord, GoalRecord.mentee_user_id == Mentorship.mentee_user_id)
        .where(GoalRecord.status == "achieved")
    )
    if cycle is not None:
        query = query.join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id).where(
            CycleMentorship.cycle_id == cycle.id, GoalRecord.cycle_id == cycle.id
        )
    else:
        # a goal set in a cycle counts for the mentor the mentee had in that cycle; one set outside any
        # cycle counts for each of the mentee's mentors
        in_cycle = (
            select(CycleMentorship.id)
            .where(
                CycleMentorship.cycle_id == GoalRecord.cycle_id,
                CycleMentorship.mentorship_id == Mentorship.id,
            )
            .exists()
        )
        query = query.where(or_(GoalRecord.cycle_id.is_(None), in_cycle))
    return {int(m): int(n) for m, n in session.execute(query.group_by(Mentorship.mentor_user_id))}


def _nominations(session: Session, cycle: Cycle | None) -> dict[int, list[str]]:
    query = select(Nomination.nominee_user_id, Nomination.reason).order_by(
        Nomination.created_at, Nomination.id
    )
    if cycle is not None:
        query = query.where(Nomination.cycle_id == cycle.id)
    out: dict[int, list[str]] = {}
    for nominee, reason in session.execute(query):
        out.setdefault(int(nominee), []).append(reason)
    return out


def _names(session: Session, ids: set[int]) -> dict[int, tuple[str, str | None]]:
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.name, Person.name)
        .outerjoin(Person, Person.user_id == User.id)
        .where(User.id.in_(ids))
    )
    return {int(uid): (name, shown) for uid, name, shown in rows}

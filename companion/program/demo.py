"""The demo program on top of the demo organization: a formal one-to-one program with a past (ended) cycle
and a current one, their pairs (user accounts for the chosen demo people, linked as mentorships), sessions
with varied rhythms (so some pairs are at risk), goals with outcomes and progress notes, a mid-cycle
survey with answers, and award nominations; so the dashboard is full on first start.

Deterministic for a seed and a day; idempotent: when the demo program exists nothing is added.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from companion.program.cadence import due_in_week
from companion.settings import ProgramSettings
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    GoalProgress,
    GoalRecord,
    Mentorship,
    Milestone,
    Nomination,
    Person,
    Program,
    SessionRecord,
    Survey,
    SurveyResponse,
    User,
)

PROGRAM_NAME = "Larkfield Mentoring (demo)"
PAST_PAIRS = 20
CONTINUING = 14  # past pairs that carry on into the current cycle
NEW_PAIRS = 10
CURRENT_WEEK = 15  # the current cycle began this many weeks ago (past the week-12 at-risk check)
QUESTIONS: list[dict[str, object]] = [
    {"key": "useful", "text": "How useful were your sessions?", "type": "rating"},
    {"key": "rhythm", "text": "How well does your pair keep its rhythm?", "type": "rating"},
    {"key": "recommend", "text": "Would you recommend the program?", "type": "rating"},
    {"key": "comments", "text": "Anything else you want to tell the program team?", "type": "text"},
]
GOALS = [
    "Present our team's quarterly results to the leadership group",
    "Lead a design review from agenda to written decisions",
    "Write and publish an internal guide on a tool I know well",
    "Run a customer interview on my own and share the findings",
    "Own the on-call handover for my team for one month",
    "Give structured feedback to a peer using situation, behaviour and impact",
    "Plan and facilitate my team's next retrospective",
    "Ship a small feature end to end, from spec to release notes",
    "Build a relationship with a stakeholder in another department",
    "Prepare a case for a promotion conversation with my manager",
]
NOTES = [
    "Agreed the first step and a date for it.",
    "Drafted an outline; next time we review it together.",
    "Practised the opening; felt more confident.",
    "Blocked for two weeks by release work; picking it up again.",
    "Shared a first version and got useful comments.",
    "Booked the slot with the stakeholders.",
]
SESSION_NOTES = [
    "Reviewed progress on the goals and agreed next steps.",
    "Talked through a difficult conversation and how to prepare for it.",
    "Looked at the draft together and listed three improvements.",
    "Discussed priorities for the coming weeks.",
    "Role-played the presentation opening.",
]
REASONS = [
    "Always made time for our sessions and came prepared with good questions.",
    "Helped me prepare my first leadership presentation step by step.",
    "Gave honest, kind feedback that changed how I run meetings.",
    "Introduced me to people across the company who could help with my goal.",
    "Kept our rhythm even during a busy release and never cancelled twice.",
    "Encouraged me to take on the on-call handover and backed me through it.",
]
COMMENTS = [
    "",
    "",
    "More structure in the first weeks would help.",
    "Great pairing.",
    "Sessions felt rushed.",
]


class DemoProgramReport(BaseModel):
    created: bool
    program_id: int | None
    cycles: int = 0
    pairs: int = 0
    sessions: int = 0
    goals: int = 0
    survey_answers: int = 0
    nominations: int = 0
    users_created: int = 0
    note: str = ""


@dataclass
class _Pair:
    mentorship_id: int
    mentor_id: int
    mentee_id: int


@dataclass
class _Counts:
    sessions: int = 0
    goals: int = 0
    answers: int = 0
    nominations: int = 0
    users: int = 0
    pairs: set[int] = field(default_factory=set)


class DemoProgram:
    def __init__(
        self, *, db: Database, settings: ProgramSettings, today: Callable[[], date] = date.today
    ) -> None:
        self.db = db
        self.settings = settings
        self.today = today

    def load(self, *, seed: int = 7) -> DemoProgramReport:
        today = self.today()
        with self.db.session() as session:
            existing = session.scalar(select(Program).where(Program.name == PROGRAM_NAME))
            if existing is not None:
                return _report(session, existing, created=False, users=0)
            rng = random.Random(seed)
            people = _people(session, rng)
            if people is None:
                need = PAST_PAIRS + NEW_PAIRS
                note = f"no demo program: it needs at least 5 mentors with places and {need} mentees"
                return DemoProgramReport(created=False, program_id=None, note=note)
            mentors, mentees = people
            counts = _Counts()
            mentor_users = [_user_for(session, p, counts) for p in mentors]
            mentee_users = [_user_for(session, p, counts) for p in mentees]
            program = Program(
                name=PROGRAM_NAME,
                kind="one_to_one",
                description="Six-month one-to-one mentoring at Larkfield Labs (demo data).",
                cadence_days=self.settings.cadence_days,
            )
            session.add(program)
            session.flush()
            weeks = self.settings.cycle_weeks
            current_start = today - timedelta(weeks=CURRENT_WEEK)
            past_end = current_start - timedelta(days=15)
            past_start = past_end - timedelta(days=weeks * 7 - 1)
            past = self._cycle(
                session, program, f"Cycle {past_start.year}-{past_start.month:02d}", past_start, weeks
            )
            current = self._cycle(
                session,
                program,
                f"Cycle {current_start.year}-{current_start.month:02d}",
                current_start,
                weeks,
            )
            if past.name == current.name:
                current.name += " (2)"
            past_pairs = [
                _pair(session, mentor_users[i % len(mentor_users)], mentee_users[i], active=i < CONTINUING)
                for i in range(PAST_PAIRS)
            ]
            new_pairs = [
                _pair(session, mentor_users[(i + 3) % len(mentor_users)], mentee_users[i], active=True)
                for i in range(PAST_PAIRS, PAST_PAIRS + NEW_PAIRS)
            ]
            current_pairs = past_pairs[:CONTINUING] + new_pairs
            for cycle, pairs, profile in (
                (past, past_pairs, (60, 25, 15, 0)),
                (current, current_pairs, (45, 20, 25, 10)),
            ):
                for pair in pairs:
                    session.add(
                        CycleMentorship(
                            cycle_id=cycle.id, mentorship_id=pair.mentorship_id, joined_on=cycle.starts_on
                        )
                    )
                    counts.pairs.add(pair.mentorship_id)
                    kind = rng.choices(("regular", "slow", "stopped", "none"), weights=profile)[0]
                    counts.sessions += self._sessions(session, rng, cycle, pair, kind, today)
                    counts.goals += _goals(session, rng, cycle, pair, today, ended=cycle is past)
            counts.answers += _survey(session, rng, past, past_pairs, answers=32, today=today)
            counts.answers += _survey(session, rng, current, current_pairs, answers=3, today=today)
            counts.nominations += _nominations(session, rng, past, past_pairs, 6)
            counts.nominations += _nominations(session, rng, current, current_pairs, 3)
            session.flush()
            return _report(session, program, created=True, users=counts.users)

    def _cycle(self, session: Session, program: Program, name: str, starts_on: date, weeks: int) -> Cycle:
        cycle = Cycle(
            program_id=program.id,
            name=name,
            starts_on=starts_on,
            ends_on=starts_on + timedelta(days=weeks * 7 - 1),
        )
        session.add(cycle)
        session.flush()
        for m in self.settings.milestones:
            due = due_in_week(starts_on, m.week) if m.week else cycle.ends_on
            session.add(
                Milestone(
                    cycle_id=cycle.id, key=m.key, title=m.title, due_on=min(due, cycle.ends_on), kind=m.kind
                )
            )
        return cycle

    def _sessions(
        self, session: Session, rng: random.Random, cycle: Cycle, pair: _Pair, kind: str, today: date
    ) -> int:
        until = min(today, cycle.ends_on)
        if kind == "none":
            return 0
        step = (
            (24, 33) if kind == "slow" else (self.settings.cadence_days - 2, self.settings.cadence_days + 2)
        )
        stop = until - timedelta(days=rng.randint(35, 50)) if kind == "stopped" else until
        day = cycle.starts_on + timedelta(days=rng.randint(1, 6))
        made = 0
        while day <= stop:
            session.add(
                SessionRecord(
                    mentee_user_id=pair.mentee_id,
                    mentor_user_id=pair.mentor_id,
                    held_on=day,
                    length_minutes=rng.choice((30, 45, 60, 60, 60, 90)),
                    notes=rng.choice(SESSION_NOTES),
                    created_by=pair.mentor_id,
                    created_at=_at(day, 17),
                )
            )
            made += 1
            day += timedelta(days=rng.randint(*step))
        return made


# ---- helpers -------------------------------------------------------------------------------------------


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


def _people(session: Session, rng: random.Random) -> tuple[list[Person], list[Person]] | None:
    mentors = list(
        session.scalars(
            select(Person)
            .where(Person.role == "mentor", Person.active.is_(True), Person.capacity > 0)
            .order_by(Person.id)
        )
    )
    mentees = list(
        session.scalars(
            select(Person).where(Person.role == "mentee", Person.active.is_(True)).order_by(Person.id)
        )
    )
    need = PAST_PAIRS + NEW_PAIRS
    if len(mentors) < 5 or len(mentees) < need:
        return None
    return rng.sample(mentors, 12 if len(mentors) >= 12 else len(mentors)), rng.sample(mentees, need)


_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def _user_for(session: Session, person: Person, counts: _Counts) -> int:
    """The person's user account: the linked one, or a new one (no password; an admin sets it)."""
    if person.user_id is not None:
        return person.user_id
    base = (
        _NAME_CHARS.sub("", (person.email or person.key).split("@")[0]).strip("._-")[:90]
        or f"person{person.id}"
    )
    name, n = base, 1
    while session.scalar(select(User.id).where(User.name == name)) is not None:
        n += 1
        name = f"{base}{n}"
    user = User(name=name, role=person.role)
    session.add(user)
    session.flush()
    person.user_id = user.id
    counts.users += 1
    return user.id


def _pair(session: Session, mentor_id: int, mentee_id: int, *, active: bool) -> _Pair:
    row = session.scalar(
        select(Mentorship).where(
            Mentorship.mentor_user_id == mentor_id, Mentorship.mentee_user_id == mentee_id
        )
    )
    if row is None:
        row = Mentorship(mentor_user_id=mentor_id, mentee_user_id=mentee_id, active=active)
        session.add(row)
        session.flush()
    return _Pair(row.id, mentor_id, mentee_id)


def _goals(
    session: Session, rng: random.Random, cycle: Cycle, pair: _Pair, today: date, *, ended: bool
) -> int:
    until = min(today, cycle.ends_on)
    count = rng.choices((0, 1, 2, 3), weights=(8, 35, 40, 17))[0]
    for statement in rng.sample(GOALS, count):
        # most goals are agreed in the first four weeks; some later
        week = rng.choices((1, 2, 3, 4, 6, 8), weights=(20, 25, 20, 15, 12, 8))[0]
        set_on = min(cycle.starts_on + timedelta(days=(week - 1) * 7 + rng.randint(0, 6)), until)
        goal = GoalRecord(
            mentee_user_id=pair.mentee_id,
            statement=statement,
            measure="Done when my mentor and I agree it happened, with the evidence written down.",
            target_date=cycle.ends_on,
            first_steps=["Agree the first step in the next session"],
            status="active",
            created_by=pair.mentee_id,
            created_at=_at(set_on, 10),
            cycle_id=cycle.id,
        )
        session.add(goal)
        session.flush()
        span = max(1, (until - set_on).days)
        for _ in range(rng.randint(0, 2)):
            noted = set_on + timedelta(days=rng.randint(1, span))
            author = rng.choice((pair.mentee_id, pair.mentor_id))
            session.add(
                GoalProgress(
                    goal_id=goal.id, note=rng.choice(NOTES), author_user_id=author, created_at=_at(noted, 12)
                )
            )
        outcome = rng.choices(
            ("achieved", "dropped", "active"), weights=(55, 15, 30) if ended else (25, 5, 70)
        )[0]
        if outcome != "active" and span > 21:
            closed = set_on + timedelta(days=rng.randint(21, span))
            goal.status, goal.closed_on = outcome, closed
            note = (
                "Done, and celebrated in our session."
                if outcome == "achieved"
                else "Dropped: priorities changed."
            )
            session.add(
                GoalProgress(
                    goal_id=goal.id,
                    note=note,
                    status=outcome,
                    author_user_id=pair.mentee_id,
                    created_at=_at(closed, 15),
                )
            )
    return count


def _survey(
    session: Session, rng: random.Random, cycle: Cycle, pairs: list[_Pair], *, answers: int, today: date
) -> int:
    opens = due_in_week(cycle.starts_on, 12) - timedelta(days=6)
    closes = opens + timedelta(days=20)
    if cycle.starts_on <= today <= cycle.ends_on:  # the running cycle's survey is still open today, so
        closes = max(closes, today + timedelta(days=14))  # a demo participant can answer it at once
    survey = Survey(
        cycle_id=cycle.id,
        kind="mid",
        audience="both",
        title=f"Mid-cycle check-in, {cycle.name}",
        questions=QUESTIONS,
        opens_on=opens,
        closes_on=closes,
    )
    session.add(survey)
    session.flush()
    people = [(p.mentee_id, "mentee") for p in pairs] + [
        (m, "mentor") for m in sorted({p.mentor_id for p in pairs})
    ]
    chosen = rng.sample(people, min(answers, len(people)))
    for user_id, role in chosen:
        good = rng.random() < 0.8
        session.add(
            SurveyResponse(
                survey_id=survey.id,
                user_id=user_id,
                role=role,
                answers={
                    "useful": rng.choice((4, 5, 5) if good else (2, 3)),
                    "rhythm": rng.choice((3, 4, 5) if good else (1, 2, 3)),
                    "recommend": rng.choice((4, 5) if good else (2, 3, 4)),
                    "comments": rng.choice(COMMENTS),
                },
                submitted_at=_at(min(opens + timedelta(days=rng.randint(0, 10)), today), 9),
            )
        )
    return len(chosen)


def _nominations(session: Session, rng: random.Random, cycle: Cycle, pairs: list[_Pair], count: int) -> int:
    chosen = rng.sample(pairs, min(count, len(pairs)))
    for pair in chosen:
        session.add(
            Nomination(
                cycle_id=cycle.id,
                nominator_user_id=pair.mentee_id,
                nominee_user_id=pair.mentor_id,
                reason=rng.choice(REASONS),
            )
        )
    return len(chosen)


def _report(session: Session, program: Program, *, created: bool, users: int) -> DemoProgramReport:
    cycle_ids = select(Cycle.id).where(Cycle.program_id == program.id)
    pair_ids = select(CycleMentorship.mentorship_id).where(CycleMentorship.cycle_id.in_(cycle_ids))
    mentees = select(Mentorship.mentee_user_id).where(Mentorship.id.in_(pair_ids))

    def count(query: object) -> int:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]

    return DemoProgramReport(
        created=created,
        program_id=program.id,
        cycles=count(select(func.count()).select_from(Cycle).where(Cycle.program_id == program.id)),
        pairs=count(
            select(func.count(func.distinct(CycleMentorship.mentorship_id))).where(
                CycleMentorship.cycle_id.in_(cycle_ids)
            )
        ),
        sessions=count(
            select(func.count()).select_from(SessionRecord).where(SessionRecord.mentee_user_id.in_(mentees))
        ),
        goals=count(select(func.count()).select_from(GoalRecord).where(GoalRecord.cycle_id.in_(cycle_ids))),
        survey_answers=count(
            select(func.count())
            .select_from(SurveyResponse)
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .where(Survey.cycle_id.in_(cycle_ids))
        ),
        nominations=count(
            select(func.count()).select_from(Nomination).where(Nomination.cycle_id.in_(cycle_ids))
        ),
        users_created=users,
    )

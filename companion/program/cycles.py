"""Programs, their cycles and milestones, and which pairs (mentorships) take part in a cycle.

The rules kept here: a cycle ends after it starts (by default `program.cycle_weeks` later); two cycles of
one program never overlap; a new cycle gets the milestones of `program.milestones`; a milestone is due
within its cycle; a mentee is in at most one pair per cycle; in a group program a mentor's circle holds
at most `group_max_mentees` (circles under `group_min_mentees` are reported as warnings).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from companion.errors import Conflict, InvalidInput, NotFound
from companion.program.cadence import due_in_week, week_of
from companion.program.pairs import cycle_sessions
from companion.program.schemas import (
    CycleIn,
    CycleOut,
    CycleUpdate,
    MentorshipOption,
    MilestoneIn,
    MilestoneKind,
    MilestoneOut,
    MilestoneUpdate,
    PairIn,
    PairOut,
    ProgramIn,
    ProgramKind,
    ProgramOut,
    ProgramUpdate,
    slug_key,
)
from companion.settings import ProgramSettings
from companion.storage.cycle_rules import circle_sizes, join_refusal, small_circles
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    Mentorship,
    Milestone,
    Person,
    Program,
    User,
)

DEFAULT_PROGRAM = "Formal mentoring"


@dataclass
class CyclePair:
    """A pair of a cycle with the people's names and the dates of its sessions in the cycle."""

    mentorship_id: int
    mentor_id: int
    mentor_name: str
    mentee_id: int
    mentee_name: str
    active: bool
    joined_on: date | None
    session_dates: list[date] = field(default_factory=list)

    def out(self) -> PairOut:
        return PairOut(**self.__dict__)


class ProgramService:
    def __init__(self, *, db: Database, settings: ProgramSettings) -> None:
        self.db = db
        self.settings = settings

    # ---- programs ------------------------------------------------------------------------------------

    def list_programs(self) -> list[ProgramOut]:
        with self.db.session() as session:
            return [
                self._program_out(session, p) for p in session.scalars(select(Program).order_by(Program.id))
            ]

    def get_program(self, program_id: int) -> ProgramOut:
        with self.db.session() as session:
            return self._program_out(session, _program(session, program_id))

    def create_program(self, data: ProgramIn) -> ProgramOut:
        with self.db.session() as session:
            _name_free(session, data.name)
            row = Program(
                name=data.name,
                kind=data.kind,
                description=data.description,
                cadence_days=data.cadence_days or self.settings.cadence_days,
            )
            session.add(row)
            session.flush()
            return self._program_out(session, row)

    def update_program(self, program_id: int, data: ProgramUpdate) -> ProgramOut:
        with self.db.session() as session:
            row = _program(session, program_id)
            if data.name is not None and data.name != row.name:
                _name_free(session, data.name)
                row.name = data.name
            if data.kind is not None and data.kind != row.kind:
                if data.kind == "group":
                    self._check_circles_fit(session, program_id)
                row.kind = data.kind
            if data.description is not None:
                row.description = data.description
            if data.cadence_days is not None:
                row.cadence_days = data.cadence_days
            session.flush()
            return self._program_out(session, row)

    def delete_program(self, program_id: int) -> None:
        with self.db.session() as session:
            row = _program(session, program_id)
            cycles = _count(session, select(func.count(Cycle.id)).where(Cycle.program_id == program_id))
            if cycles:
                raise Conflict(f"program {row.name!r} still has {cycles} cycle(s): delete them first")
            session.delete(row)

    def find_program(self, ref: str) -> ProgramOut:
        """A program by id or by name (any case)."""
        with self.db.session() as session:
            row = session.get(Program, int(ref)) if ref.isdigit() and len(ref) < 10 else None
            row = row or session.scalar(
                select(Program).where(func.lower(Program.name) == ref.strip().lower())
            )
            if row is None:
                raise NotFound(f"no program with id or name {ref!r}")
            return self._program_out(session, row)

    def ensure_default_program(self) -> ProgramOut:
        """The first program, creating a one-to-one "Formal mentoring" program when there is none."""
        try:
            with self.db.session() as session:
                first = session.scalar(select(Program).order_by(Program.id).limit(1))
                if first is None:
                    first = Program(
                        name=DEFAULT_PROGRAM, kind="one_to_one", cadence_days=self.settings.cadence_days
                    )
                    session.add(first)
                    session.flush()
                return self._program_out(session, first)
        except IntegrityError:  # another request made it at the same moment: use that one
            return self.find_program(DEFAULT_PROGRAM)

    # ---- cycles --------------------------------------------------------------------------------------

    def list_cycles(self, program_id: int | None = None) -> list[CycleOut]:
        """Cycles, newest start first (of one program, or of all)."""
        with self.db.session() as session:
            query = select(Cycle).order_by(Cycle.starts_on.desc(), Cycle.id.desc())
            if program_id is not None:
                _program(session, program_id)
                query = query.where(Cycle.program_id == program_id)
            return [self._cycle_out(session, c, warnings=False) for c in session.scalars(query)]

    def get_cycle(self, cycle_id: int) -> CycleOut:
        """A cycle with its milestones and its warnings (group circles under the minimum)."""
        with self.db.session() as session:
            return self._cycle_out(session, _cycle(session, cycle_id))

    def create_cycle(self, program_id: int, data: CycleIn) -> CycleOut:
        ends_on = data.ends_on or data.starts_on + timedelta(weeks=self.settings.cycle_weeks) - timedelta(
            days=1
        )
        _check_dates(data.starts_on, ends_on)
        with self.db.session() as session:
            program = _program(session, program_id)
            _no_overlap(session, program, data.starts_on, ends_on)
            row = Cycle(
                program_id=program_id,
                name=data.name or f"{program.name} {data.starts_on:%Y-%m-%d} to {ends_on:%Y-%m-%d}",
                starts_on=data.starts_on,
                ends_on=ends_on,
            )
            session.add(row)
            session.flush()
            for template in self.settings.milestones:
                due = ends_on if template.week is None else due_in_week(data.starts_on, template.week)
                if due > ends_on:  # a week beyond a short cycle: due at its end
                    due = ends_on
                session.add(
                    Milestone(
                        cycle_id=row.id,
                        key=template.key,
                        title=template.title,
                        due_on=due,
                        kind=template.kind,
                    )
                )
            session.flush()
            return self._cycle_out(session, row)

    def update_cycle(self, cycle_id: int, data: CycleUpdate) -> CycleOut:
        with self.db.session() as session:
            row = _cycle(session, cycle_id)
            starts_on, ends_on = data.starts_on or row.starts_on, data.ends_on or row.ends_on
            _check_dates(starts_on, ends_on)
            _no_overlap(session, _program(session, row.program_id), starts_on, ends_on, skip=row.id)
            shift = starts_on - row.starts_on
            for milestone in _milestones(session, row.id):
                due = ends_on if milestone.due_on == row.ends_on else milestone.due_on + shift
                if not starts_on <= due <= ends_on:
                    raise InvalidInput(
                        f"milestone {milestone.title!r} would be due on {due}, outside the new dates "
                        f"{starts_on} to {ends_on}: move or delete it first"
                    )
                milestone.due_on = due
            row.starts_on, row.ends_on = starts_on, ends_on
            if data.name is not None:
                row.name = data.name
            session.flush()
            return self._cycle_out(session, row)

    def delete_cycle(self, cycle_id: int) -> None:
        """Delete a cycle, its milestones and its pair memberships (the mentorships and sessions stay)."""
        with self.db.session() as session:
            row = _cycle(session, cycle_id)
            session.execute(delete(CycleMentorship).where(CycleMentorship.cycle_id == cycle_id))
            session.execute(delete(Milestone).where(Milestone.cycle_id == cycle_id))
            session.delete(row)

    def current_cycle(self, program_id: int, today: date | None = None) -> CycleOut | None:
        """The program's cycle running on `today` (None between cycles)."""
        today = today or date.today()
        with self.db.session() as session:
            _program(session, program_id)
            row = session.scalar(
                select(Cycle)
                .where(Cycle.program_id == program_id, Cycle.starts_on <= today, Cycle.ends_on >= today)
                .order_by(Cycle.starts_on.desc())
                .limit(1)
            )
            return self._cycle_out(session, row) if row is not None else None

    def cycles_of_user(self, user_id: int, today: date | None = None) -> list[tuple[CycleOut, int]]:
        """The cycles running on `today` that a pair of this user (as mentor or mentee) takes part in, as
        (cycle, mentorship id)."""
        today = today or date.today()
        with self.db.session() as session:
            rows = session.execute(
                select(Cycle, CycleMentorship.mentorship_id)
                .join(CycleMentorship, CycleMentorship.cycle_id == Cycle.id)
                .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
                .where(
                    or_(Mentorship.mentor_user_id == user_id, Mentorship.mentee_user_id == user_id),
                    Cycle.starts_on <= today,
                    Cycle.ends_on >= today,
                )
                .order_by(Cycle.starts_on, Cycle.id, CycleMentorship.mentorship_id)
            ).all()
            return [(self._cycle_out(session, cycle, warnings=False), mid) for cycle, mid in rows]

    # ---- milestones ----------------------------------------------------------------------------------

    def list_milestones(self, cycle_id: int) -> list[MilestoneOut]:
        with self.db.session() as session:
            row = _cycle(session, cycle_id)
            return [_milestone_out(m, row) for m in _milestones(session, cycle_id)]

    def add_milestone(self, cycle_id: int, data: MilestoneIn) -> MilestoneOut:
        with self.db.session() as session:
            cycle = _cycle(session, cycle_id)
            _due_within(cycle, data.due_on)
            key = data.key or slug_key(data.title)
            taken = {m.key for m in _milestones(session, cycle_id)}
            if data.key and key in taken:
                raise Conflict(f"cycle {cycle.name!r} already has a milestone with key {key!r}")
            base, n = key, 2
            while key in taken:  # a key made from the title: number it
                key, n = f"{base[:46]}_{n}", n + 1
            row = Milestone(cycle_id=cycle_id, key=key, title=data.title, due_on=data.due_on, kind=data.kind)
            session.add(row)
            session.flush()
            return _milestone_out(row, cycle)

    def update_milestone(self, cycle_id: int, milestone_id: int, data: MilestoneUpdate) -> MilestoneOut:
        with self.db.session() as session:
            cycle = _cycle(session, cycle_id)
            row = _milestone(session, cycle_id, milestone_id)
            if data.due_on is not None:
                _due_within(cycle, data.due_on)
                row.due_on = data.due_on
            if data.title is not None:
                row.title = data.title
            if data.kind is not None:
                row.kind = data.kind
            session.flush()
            return _milestone_out(row, cycle)

    def delete_milestone(self, cycle_id: int, milestone_id: int) -> None:
        with self.db.session() as session:
            _cycle(session, cycle_id)
            session.delete(_milestone(session, cycle_id, milestone_id))

    # ---- pairs ---------------------------------------------------------------------------------------

    def list_pairs(self, cycle_id: int) -> list[PairOut]:
        return [pair.out() for pair in self.cycle_pairs(cycle_id)]

    def cycle_pairs(self, cycle_id: int) -> list[CyclePair]:
        """The cycle's pairs, by mentor then mentee name, each with the dates of its sessions held within
        the cycle (a session counts for the pair when it names the pair's mentor, or no mentor)."""
        with self.db.session() as session:
            cycle = _cycle(session, cycle_id)
            return _pairs_with_sessions(session, cycle)

    def add_pair(self, cycle_id: int, data: PairIn) -> PairOut:
        with self.db.session() as session:
            cycle = _cycle(session, cycle_id)
            program = _program(session, cycle.program_id)
            mentorship = session.get(Mentorship, data.mentorship_id)
            if mentorship is None:
                raise NotFound(f"no mentorship with id {data.mentorship_id}")
            if not mentorship.active:
                raise InvalidInput(
                    f"mentorship {mentorship.id} has ended; only active pairs can join a cycle"
                )
            if data.joined_on is not None:
                _due_within(cycle, data.joined_on, what="the joining date")
            self._check_pair_fits(session, cycle, program.kind, mentorship)
            session.add(
                CycleMentorship(cycle_id=cycle_id, mentorship_id=mentorship.id, joined_on=data.joined_on)
            )
            try:
                session.flush()
            except IntegrityError:  # a concurrent add of the same pair
                raise Conflict(f"mentorship {mentorship.id} is already in cycle {cycle.name!r}") from None
            pair = next(p for p in _pairs_with_sessions(session, cycle) if p.mentorship_id == mentorship.id)
            return pair.out()

    def remove_pair(self, cycle_id: int, mentorship_id: int) -> None:
        with self.db.session() as session:
            cycle = _cycle(session, cycle_id)
            row = session.scalar(
                select(CycleMentorship).where(
                    CycleMentorship.cycle_id == cycle_id, CycleMentorship.mentorship_id == mentorship_id
                )
            )
            if row is None:
                raise NotFound(f"mentorship {mentorship_id} is not in cycle {cycle.name!r}")
            session.delete(row)

    def mentorship_options(self, cycle_id: int) -> list[MentorshipOption]:
        """Active mentorships whose mentee has no pair in the cycle yet, by mentor then mentee name."""
        with self.db.session() as session:
            _cycle(session, cycle_id)
            taken = (
                select(Mentorship.mentee_user_id)
                .join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id)
                .where(CycleMentorship.cycle_id == cycle_id)
            )
            mentor_u, mentee_u, mentor_p, mentee_p = _people_aliases()
            rows = session.execute(
                _named(select(Mentorship.id), mentor_u, mentee_u, mentor_p, mentee_p).where(
                    Mentorship.active.is_(True), Mentorship.mentee_user_id.not_in(taken)
                )
            ).all()
            options = [
                MentorshipOption(mentorship_id=mid, mentor_name=mp or mu, mentee_name=ep or eu)
                for mid, mu, mp, eu, ep in rows
            ]
            return sorted(options, key=lambda o: (o.mentor_name.lower(), o.mentee_name.lower()))

    def mentorship_between(self, mentor: str, mentee: str) -> int:
        """The id of the active mentorship of two users, named by their user names."""
        with self.db.session() as session:
            mentor_u, mentee_u = aliased(User), aliased(User)
            found = session.scalar(
                select(Mentorship.id)
                .join(mentor_u, mentor_u.id == Mentorship.mentor_user_id)
                .join(mentee_u, mentee_u.id == Mentorship.mentee_user_id)
                .where(mentor_u.name == mentor, mentee_u.name == mentee, Mentorship.active.is_(True))
            )
            if found is None:
                raise NotFound(f"no active mentorship of mentor {mentor!r} with mentee {mentee!r}")
            return found

    # ---- helpers -------------------------------------------------------------------------------------

    def _check_pair_fits(self, session: Session, cycle: Cycle, kind: str, mentorship: Mentorship) -> None:
        refusal = join_refusal(
            session, cycle, mentorship, group=kind == "group", group_max=self.settings.group_max_mentees
        )
        if refusal is None:
            return
        if refusal.rule == "in_cycle":
            raise Conflict(f"mentorship {mentorship.id} is already in cycle {cycle.name!r}")
        if refusal.rule == "mentee_taken":
            raise Conflict(
                f"{_user_name(session, mentorship.mentee_user_id)} is already in cycle {cycle.name!r} with "
                f"mentor {_user_name(session, refusal.other_mentor_user_id or 0)}; a mentee has one pair "
                "per cycle (remove that pair first)"
            )
        raise InvalidInput(
            f"the circle of {_user_name(session, mentorship.mentor_user_id)} in cycle {cycle.name!r} "
            f"already has {refusal.circle} mentees, the most a group circle may have "
            f"(setting program.group_max_mentees = {self.settings.group_max_mentees})"
        )

    def _check_circles_fit(self, session: Session, program_id: int) -> None:
        """Before a program becomes a group program: no circle of its cycles is over the maximum."""
        rows = session.execute(
            select(Cycle.name, Mentorship.mentor_user_id, func.count(Mentorship.id))
            .join(CycleMentorship, CycleMentorship.cycle_id == Cycle.id)
            .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
            .where(Cycle.program_id == program_id)
            .group_by(Cycle.name, Mentorship.mentor_user_id)
        ).all()
        for cycle_name, mentor, size in rows:
            if size > self.settings.group_max_mentees:
                raise InvalidInput(
                    f"cannot make this a group program: the circle of {_user_name(session, mentor)} in cycle "
                    f"{cycle_name!r} has {size} mentees, more than program.group_max_mentees "
                    f"({self.settings.group_max_mentees})"
                )

    def _program_out(self, session: Session, row: Program) -> ProgramOut:
        cycles = _count(session, select(func.count(Cycle.id)).where(Cycle.program_id == row.id))
        return ProgramOut(
            id=row.id,
            name=row.name,
            kind=_kind(row.kind),
            description=row.description,
            cadence_days=row.cadence_days,
            cycles=cycles,
            created_at=row.created_at,
        )

    def _cycle_out(self, session: Session, row: Cycle, *, warnings: bool = True) -> CycleOut:
        program = _program(session, row.program_id)
        pairs = _count(
            session, select(func.count(CycleMentorship.id)).where(CycleMentorship.cycle_id == row.id)
        )
        return CycleOut(
            id=row.id,
            program_id=program.id,
            program_name=program.name,
            program_kind=_kind(program.kind),
            name=row.name,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            weeks=-(-((row.ends_on - row.starts_on).days + 1) // 7),
            pairs=pairs,
            milestones=[_milestone_out(m, row) for m in _milestones(session, row.id)],
            warnings=self._warnings(session, row, program) if warnings else [],
        )

    def _warnings(self, session: Session, cycle: Cycle, program: Program) -> list[str]:
        if program.kind != "group":
            return []
        low = self.settings.group_min_mentees
        small = small_circles(circle_sizes(session, cycle.id), group_min=low)
        return [
            f"the circle of {_user_name(session, mentor)} has {size} mentee(s); "
            f"a group circle needs at least {low}"
            for mentor, size in sorted(small.items(), key=lambda r: _user_name(session, r[0]).lower())
        ]


# ---- queries and checks ------------------------------------------------------------------------------


def _people_aliases() -> tuple[type[User], type[User], type[Person], type[Person]]:
    return aliased(User), aliased(User), aliased(Person), aliased(Person)


def _named(
    query: Any,
    mentor_u: type[User],
    mentee_u: type[User],
    mentor_p: type[Person],
    mentee_p: type[Person],
) -> Select[Any]:
    """`query` (on mentorships) with the mentor's and mentee's user names and profile names added."""
    return (
        query.add_columns(mentor_u.name, mentor_p.name, mentee_u.name, mentee_p.name)
        .join(mentor_u, mentor_u.id == Mentorship.mentor_user_id)
        .join(mentee_u, mentee_u.id == Mentorship.mentee_user_id)
        .outerjoin(mentor_p, mentor_p.user_id == Mentorship.mentor_user_id)
        .outerjoin(mentee_p, mentee_p.user_id == Mentorship.mentee_user_id)
    )


def _pairs_with_sessions(session: Session, cycle: Cycle) -> list[CyclePair]:
    mentor_u, mentee_u, mentor_p, mentee_p = _people_aliases()
    members = session.execute(
        _named(
            select(Mentorship.id, Mentorship.mentor_user_id, Mentorship.mentee_user_id, Mentorship.active),
            mentor_u,
            mentee_u,
            mentor_p,
            mentee_p,
        )
        .add_columns(CycleMentorship.joined_on)
        .join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id)
        .where(CycleMentorship.cycle_id == cycle.id)
    ).all()
    pairs = {
        mid: CyclePair(mid, mentor, mp or mu, mentee, ep or eu, active, joined)
        for mid, mentor, mentee, active, mu, mp, eu, ep, joined in members
    }
    held = session.execute(cycle_sessions(cycle.id, cycle.starts_on, cycle.ends_on)).all()
    dates: dict[int, list[date]] = defaultdict(list)
    for _, mid, held_on, _minutes in held:
        dates[mid].append(held_on)
    for mid, pair in pairs.items():
        pair.session_dates = dates.get(mid, [])
    return sorted(
        pairs.values(), key=lambda p: (p.mentor_name.lower(), p.mentee_name.lower(), p.mentorship_id)
    )


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(query) or 0)


def _kind(value: str) -> ProgramKind:
    return "group" if value == "group" else "one_to_one"


def _program(session: Session, program_id: int) -> Program:
    row = session.get(Program, program_id)
    if row is None:
        raise NotFound(f"no program with id {program_id}")
    return row


def _cycle(session: Session, cycle_id: int) -> Cycle:
    row = session.get(Cycle, cycle_id)
    if row is None:
        raise NotFound(f"no cycle with id {cycle_id}")
    return row


def _milestone(session: Session, cycle_id: int, milestone_id: int) -> Milestone:
    row = session.get(Milestone, milestone_id)
    if row is None or row.cycle_id != cycle_id:
        raise NotFound(f"cycle {cycle_id} has no milestone with id {milestone_id}")
    return row


def _milestones(session: Session, cycle_id: int) -> list[Milestone]:
    query = select(Milestone).where(Milestone.cycle_id == cycle_id).order_by(Milestone.due_on, Milestone.id)
    return list(session.scalars(query))


def _milestone_out(row: Milestone, cycle: Cycle) -> MilestoneOut:
    kind: MilestoneKind = (
        "goals" if row.kind == "goals" else "survey" if row.kind == "survey" else "checkpoint"
    )
    return MilestoneOut(
        id=row.id,
        cycle_id=row.cycle_id,
        key=row.key,
        title=row.title,
        due_on=row.due_on,
        kind=kind,
        week=week_of(row.due_on, cycle.starts_on),
    )


def _user_name(session: Session, user_id: int) -> str:
    shown = session.scalar(select(Person.name).where(Person.user_id == user_id).limit(1))
    return shown or session.scalar(select(User.name).where(User.id == user_id)) or f"user {user_id}"


def _name_free(session: Session, name: str) -> None:
    if session.scalar(select(Program.id).where(func.lower(Program.name) == name.lower())) is not None:
        raise Conflict(f"a program named {name!r} already exists")


def _check_dates(starts_on: date, ends_on: date) -> None:
    if ends_on <= starts_on:
        raise InvalidInput(f"the cycle must end after it starts (start {starts_on}, end {ends_on})")
    if (ends_on - starts_on).days > 3 * 366:
        raise InvalidInput(f"a cycle lasts at most three years (start {starts_on}, end {ends_on})")


def _no_overlap(session: Session, program: Program, starts_on: date, ends_on: date, *, skip: int = 0) -> None:
    clash = session.scalar(
        select(Cycle)
        .where(
            Cycle.program_id == program.id,
            Cycle.id != skip,
            Cycle.starts_on <= ends_on,
            Cycle.ends_on >= starts_on,
        )
        .limit(1)
    )
    if clash is not None:
        raise Conflict(
            f"the dates {starts_on} to {ends_on} overlap cycle {clash.name!r} ({clash.starts_on} to "
            f"{clash.ends_on}) of program {program.name!r}; cycles of one program must not overlap"
        )


def _due_within(cycle: Cycle, day: date, *, what: str = "a milestone's due date") -> None:
    if not cycle.starts_on <= day <= cycle.ends_on:
        raise InvalidInput(
            f"{what} must fall within the cycle ({cycle.starts_on} to {cycle.ends_on}); got {day}"
        )

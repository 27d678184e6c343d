"""ProgramService and RhythmService rules: programs, cycle dates and overlap, milestones from settings,
membership of pairs, group circle sizes, the session dates of a cycle's pairs and their rhythm (on SQLite,
and the rhythm query on PostgreSQL too)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from companion.container import Services
from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.identity.auth import Principal, Role, create_user, link_mentorship
from companion.program.cycles import DEFAULT_PROGRAM
from companion.program.schemas import (
    CycleIn,
    CycleUpdate,
    MilestoneIn,
    MilestoneUpdate,
    PairIn,
    ProgramIn,
    ProgramUpdate,
)
from companion.settings import Settings
from companion.storage.db import Mentorship, Person, SessionRecord
from tests.support.app import make_settings

START = date(2026, 1, 5)


class World:
    """Users, pairs and sessions written straight to the database."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.users: dict[str, int] = {}

    def user(self, name: str, role: Role, display: str | None = None) -> int:
        with self.services.db.session() as session:
            user, _ = create_user(session, name=name, role=role)
            if display:
                session.add(
                    Person(key=name, name=display, role=role.value, user_id=user.id, timezone="Europe/London")
                )
            self.users[name] = user.id
            return user.id

    def pair(self, mentor: str, mentee: str) -> int:
        for name, role in ((mentor, Role.mentor), (mentee, Role.mentee)):
            if name not in self.users:
                self.user(name, role)
        with self.services.db.session() as session:
            row = link_mentorship(
                session, mentor_user_id=self.users[mentor], mentee_user_id=self.users[mentee]
            )
            return row.id

    def sessions(self, mentor: str | None, mentee: str, *days: int) -> None:
        with self.services.db.session() as session:
            for n in days:
                session.add(
                    SessionRecord(
                        mentee_user_id=self.users[mentee],
                        mentor_user_id=self.users[mentor] if mentor else None,
                        held_on=START + timedelta(days=n),
                        length_minutes=60,
                    )
                )

    def principal(self, name: str, role: Role) -> Principal:
        return Principal(id=self.users[name], name=name, role=role)


def _world(settings: Settings) -> Iterator[World]:
    services = Services(settings)
    services.db.create_tables()
    yield World(services)
    services.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from _world(make_settings(tmp_path))


def one_to_one(world: World) -> int:
    return world.services.programs.create_program(ProgramIn(name="Formal", kind="one_to_one")).id


# ---- programs ----------------------------------------------------------------------------------------


def test_programs_are_created_listed_updated_and_deleted(world: World) -> None:
    programs = world.services.programs
    made = programs.create_program(ProgramIn(name="  Group   circles ", kind="group"))
    assert (made.name, made.kind, made.cadence_days, made.cycles) == ("Group circles", "group", 14, 0)
    weekly = programs.create_program(ProgramIn(name="Weekly", cadence_days=7))
    assert weekly.kind == "one_to_one" and weekly.cadence_days == 7
    with pytest.raises(Conflict, match="already exists"):
        programs.create_program(ProgramIn(name="group circles"))
    changed = programs.update_program(weekly.id, ProgramUpdate(description="Sprint pairs", cadence_days=10))
    assert (changed.description, changed.cadence_days, changed.name) == ("Sprint pairs", 10, "Weekly")
    with pytest.raises(Conflict):
        programs.update_program(weekly.id, ProgramUpdate(name="Group circles"))
    assert [p.name for p in programs.list_programs()] == ["Group circles", "Weekly"]
    programs.create_cycle(weekly.id, CycleIn(starts_on=START))
    with pytest.raises(Conflict, match="still has 1 cycle"):
        programs.delete_program(weekly.id)
    programs.delete_program(made.id)
    with pytest.raises(NotFound, match="no program with id"):
        programs.get_program(made.id)


def test_the_default_program_is_made_once(world: World) -> None:
    programs = world.services.programs
    first = programs.ensure_default_program()
    assert (first.name, first.kind) == (DEFAULT_PROGRAM, "one_to_one")
    assert programs.ensure_default_program().id == first.id
    assert len(programs.list_programs()) == 1


# ---- cycles and milestones ---------------------------------------------------------------------------


def test_a_cycle_ends_by_default_after_the_configured_weeks_with_the_milestones_of_settings(
    world: World,
) -> None:
    cycle = world.services.programs.create_cycle(one_to_one(world), CycleIn(starts_on=START))
    assert cycle.ends_on == START + timedelta(weeks=26) - timedelta(days=1)
    assert cycle.weeks == 26
    assert cycle.name == "Formal 2026-01-05 to 2026-07-05"
    milestones = [(m.key, m.due_on, m.week, m.kind) for m in cycle.milestones]
    assert milestones == [
        ("goals_agreed", date(2026, 2, 1), 4, "goals"),  # the last day of week 4
        ("mid_survey", date(2026, 3, 29), 12, "survey"),
        ("end_survey", cycle.ends_on, 26, "survey"),  # week unset: the cycle's end
    ]


def test_milestones_follow_the_settings_and_fit_a_short_cycle(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        program={
            "cycle_weeks": 8,
            "milestones": [
                {"key": "kickoff", "title": "Kick-off", "week": 1},
                {"key": "late", "title": "Late", "week": 20},
            ],
        },
    )
    for world in _world(settings):
        cycle = world.services.programs.create_cycle(
            one_to_one(world), CycleIn(starts_on=START, name="Spring")
        )
        assert cycle.name == "Spring" and cycle.weeks == 8
        assert [(m.key, m.due_on) for m in cycle.milestones] == [
            ("kickoff", START + timedelta(days=6)),
            ("late", cycle.ends_on),  # week 20 of an 8-week cycle: due at its end
        ]


def test_cycle_dates_are_checked(world: World) -> None:
    programs, program = world.services.programs, one_to_one(world)
    with pytest.raises(InvalidInput, match="must end after it starts"):
        programs.create_cycle(program, CycleIn(starts_on=START, ends_on=START))
    with pytest.raises(InvalidInput, match="must end after it starts"):
        programs.create_cycle(program, CycleIn(starts_on=START, ends_on=START - timedelta(days=1)))
    with pytest.raises(InvalidInput, match="at most three years"):
        programs.create_cycle(program, CycleIn(starts_on=START, ends_on=START + timedelta(days=4000)))
    with pytest.raises(NotFound):
        programs.create_cycle(999, CycleIn(starts_on=START))
    assert programs.list_cycles() == []  # nothing half-written


def test_cycles_of_one_program_never_overlap(world: World) -> None:
    programs, program = world.services.programs, one_to_one(world)
    spring = programs.create_cycle(program, CycleIn(starts_on=START, ends_on=date(2026, 6, 30)))
    with pytest.raises(Conflict, match="overlap cycle"):
        programs.create_cycle(program, CycleIn(starts_on=date(2026, 6, 30), ends_on=date(2026, 12, 31)))
    autumn = programs.create_cycle(program, CycleIn(starts_on=date(2026, 7, 1), ends_on=date(2026, 12, 31)))
    # another program may run at the same time
    other = programs.create_program(ProgramIn(name="Circles", kind="group"))
    programs.create_cycle(other.id, CycleIn(starts_on=START, ends_on=date(2026, 6, 30)))
    with pytest.raises(Conflict, match="overlap"):
        programs.update_cycle(spring.id, CycleUpdate(ends_on=date(2026, 7, 1)))
    assert [c.id for c in programs.list_cycles(program)] == [autumn.id, spring.id]  # newest first
    assert programs.current_cycle(program, date(2026, 7, 1)).id == autumn.id  # type: ignore[union-attr]
    assert programs.current_cycle(program, date(2027, 1, 1)) is None


def test_moving_a_cycle_moves_its_milestones(world: World) -> None:
    programs = world.services.programs
    cycle = programs.create_cycle(one_to_one(world), CycleIn(starts_on=START))
    moved = programs.update_cycle(
        cycle.id, CycleUpdate(starts_on=START + timedelta(days=7), ends_on=cycle.ends_on + timedelta(days=21))
    )
    assert [m.due_on - n.due_on for m, n in zip(moved.milestones[:2], cycle.milestones[:2], strict=True)] == [
        timedelta(days=7)
    ] * 2
    assert moved.milestones[2].due_on == moved.ends_on  # the end-of-cycle milestone stays at the end
    extra = programs.add_milestone(
        cycle.id, MilestoneIn(title="Late review", due_on=moved.ends_on - timedelta(days=1))
    )
    with pytest.raises(InvalidInput, match="Late review"):
        programs.update_cycle(cycle.id, CycleUpdate(ends_on=moved.ends_on - timedelta(days=10)))
    assert programs.get_cycle(cycle.id).ends_on == moved.ends_on  # refused whole
    programs.delete_milestone(cycle.id, extra.id)


def test_admins_add_edit_and_delete_milestones(world: World) -> None:
    programs = world.services.programs
    cycle = programs.create_cycle(one_to_one(world), CycleIn(starts_on=START))
    added = programs.add_milestone(cycle.id, MilestoneIn(title="Mid-cycle review!", due_on=date(2026, 4, 10)))
    assert (added.key, added.kind, added.week) == ("mid_cycle_review", "checkpoint", 14)
    again = programs.add_milestone(cycle.id, MilestoneIn(title="Mid-cycle review", due_on=date(2026, 4, 17)))
    assert again.key == "mid_cycle_review_2"
    with pytest.raises(Conflict, match="already has a milestone with key 'goals_agreed'"):
        programs.add_milestone(cycle.id, MilestoneIn(key="goals_agreed", title="Again", due_on=START))
    with pytest.raises(InvalidInput, match="within the cycle"):
        programs.add_milestone(cycle.id, MilestoneIn(title="Too late", due_on=date(2027, 1, 1)))
    edited = programs.update_milestone(
        cycle.id, added.id, MilestoneUpdate(title="Review", due_on=date(2026, 4, 3), kind="survey")
    )
    assert (edited.title, edited.due_on, edited.kind, edited.key) == (
        "Review",
        date(2026, 4, 3),
        "survey",
        added.key,
    )
    with pytest.raises(InvalidInput, match="within the cycle"):
        programs.update_milestone(cycle.id, added.id, MilestoneUpdate(due_on=START - timedelta(days=1)))
    programs.delete_milestone(cycle.id, again.id)
    keys = [m.key for m in programs.list_milestones(cycle.id)]
    assert keys == ["goals_agreed", "mid_survey", "mid_cycle_review", "end_survey"]  # by due date
    other = programs.create_cycle(one_to_one_named(world, "Other"), CycleIn(starts_on=START))
    with pytest.raises(NotFound, match="has no milestone"):
        programs.update_milestone(other.id, added.id, MilestoneUpdate(title="Stolen"))


def one_to_one_named(world: World, name: str) -> int:
    return world.services.programs.create_program(ProgramIn(name=name)).id


# ---- pairs -------------------------------------------------------------------------------------------


def test_pairs_join_and_leave_a_cycle(world: World) -> None:
    programs = world.services.programs
    cycle = programs.create_cycle(one_to_one(world), CycleIn(starts_on=START))
    world.user("ana", Role.mentor, display="Ana Mentor")
    first = world.pair("ana", "bo")
    second = world.pair("ana", "cy")
    assert {o.mentorship_id for o in programs.mentorship_options(cycle.id)} == {first, second}
    pair = programs.add_pair(cycle.id, PairIn(mentorship_id=first))
    assert (pair.mentor_name, pair.mentee_name, pair.active, pair.session_dates) == (
        "Ana Mentor",
        "bo",
        True,
        [],
    )
    assert [o.mentorship_id for o in programs.mentorship_options(cycle.id)] == [second]
    with pytest.raises(Conflict, match="already in cycle"):
        programs.add_pair(cycle.id, PairIn(mentorship_id=first))
    with pytest.raises(NotFound, match="no mentorship"):
        programs.add_pair(cycle.id, PairIn(mentorship_id=999))
    with pytest.raises(InvalidInput, match="joining date"):
        programs.add_pair(cycle.id, PairIn(mentorship_id=second, joined_on=date(2030, 1, 1)))
    programs.add_pair(cycle.id, PairIn(mentorship_id=second, joined_on=date(2026, 2, 2)))
    assert programs.get_cycle(cycle.id).pairs == 2
    programs.remove_pair(cycle.id, first)
    assert [p.mentee_name for p in programs.list_pairs(cycle.id)] == ["cy"]
    with pytest.raises(NotFound, match="is not in cycle"):
        programs.remove_pair(cycle.id, first)


def test_a_mentee_has_one_pair_per_cycle_and_ended_pairs_cannot_join(world: World) -> None:
    programs = world.services.programs
    cycle = programs.create_cycle(one_to_one(world), CycleIn(starts_on=START))
    first = world.pair("ana", "bo")
    second = world.pair("dee", "bo")
    programs.add_pair(cycle.id, PairIn(mentorship_id=first))
    with pytest.raises(Conflict, match="bo is already in cycle .* with mentor ana"):
        programs.add_pair(cycle.id, PairIn(mentorship_id=second))
    ended = world.pair("dee", "eli")
    with world.services.db.session() as session:
        session.get(Mentorship, ended).active = False  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="has ended"):
        programs.add_pair(cycle.id, PairIn(mentorship_id=ended))


def test_group_circles_stay_within_the_configured_size(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, program={"group_min_mentees": 2, "group_max_mentees": 3})
    for world in _world(settings):
        programs = world.services.programs
        group = programs.create_program(ProgramIn(name="Circles", kind="group"))
        cycle = programs.create_cycle(group.id, CycleIn(starts_on=START))
        world.user("ana", Role.mentor, display="Ana Mentor")
        pairs = [world.pair("ana", f"m{i}") for i in range(4)]
        programs.add_pair(cycle.id, PairIn(mentorship_id=pairs[0]))
        assert programs.get_cycle(cycle.id).warnings == [
            "the circle of Ana Mentor has 1 mentee(s); a group circle needs at least 2"
        ]
        programs.add_pair(cycle.id, PairIn(mentorship_id=pairs[1]))
        programs.add_pair(cycle.id, PairIn(mentorship_id=pairs[2]))
        assert programs.get_cycle(cycle.id).warnings == []
        with pytest.raises(InvalidInput, match="already has 3 mentees.*group_max_mentees = 3"):
            programs.add_pair(cycle.id, PairIn(mentorship_id=pairs[3]))
        assert programs.get_cycle(cycle.id).pairs == 3
        # a one-to-one program with a mentor of four mentees cannot become a group program of max 3
        formal = programs.create_program(ProgramIn(name="Formal"))
        big = programs.create_cycle(formal.id, CycleIn(starts_on=START))
        for mentorship in pairs:
            programs.add_pair(big.id, PairIn(mentorship_id=mentorship))
        with pytest.raises(InvalidInput, match="has 4 mentees"):
            programs.update_program(formal.id, ProgramUpdate(kind="group"))
        assert programs.get_program(formal.id).kind == "one_to_one"


def test_a_pairs_sessions_in_the_cycle_are_listed(world: World) -> None:
    programs = world.services.programs
    cycle = programs.create_cycle(one_to_one(world), CycleIn(starts_on=START, ends_on=date(2026, 3, 31)))
    first = world.pair("ana", "bo")
    world.pair("dee", "bo")  # the mentee's other mentor, not in this cycle
    programs.add_pair(cycle.id, PairIn(mentorship_id=first))
    world.sessions("ana", "bo", 30, 2, -5, 200)  # two in the cycle, one before, one after
    world.sessions(None, "bo", 40)  # no mentor named: counts for the pair
    world.sessions("dee", "bo", 10)  # with the other mentor: does not count
    (pair,) = programs.cycle_pairs(cycle.id)
    assert pair.session_dates == [START + timedelta(days=n) for n in (2, 30, 40)]


# ---- rhythm ------------------------------------------------------------------------------------------


def rhythm_world(world: World) -> int:
    programs = world.services.programs
    cycle = programs.create_cycle(one_to_one(world), CycleIn(starts_on=START))
    for mentor, mentee, days in (
        ("ana", "steady", (0, 14, 28, 42)),
        ("ana", "quiet", (0,)),
        ("ben", "late", (0, 14, 28)),
        ("ben", "gone", ()),
    ):
        programs.add_pair(cycle.id, PairIn(mentorship_id=world.pair(mentor, mentee)))
        world.sessions(mentor, mentee, *days)
    return cycle.id


def test_the_rhythm_report_puts_at_risk_pairs_first(world: World) -> None:
    cycle_id = rhythm_world(world)
    report = world.services.rhythm.cycle_rhythm(cycle_id, today=START + timedelta(days=50))
    rows = [(p.mentee_name, p.status, p.sessions, p.expected, p.reasons) for p in report.pairs]
    assert rows == [
        # the same gap: by mentor, then mentee name
        ("quiet", "at_risk", 1, 3, ["no session for 50 days"]),
        ("gone", "at_risk", 0, 3, ["no session since the cycle began 50 days ago"]),
        ("late", "overdue", 3, 3, []),
        ("steady", "on_rhythm", 4, 3, []),
    ]
    assert (report.week, report.at_risk, report.on_rhythm) == (8, 2, 1)
    assert report.rules.cadence_days == 14 and report.rules.gap_days == 28
    steady = report.pairs[-1]
    assert steady.last_session == START + timedelta(days=42)
    assert steady.next_due == START + timedelta(days=56)
    at_risk = world.services.rhythm.at_risk(cycle_id, today=START + timedelta(days=50))
    assert [p.mentee_name for p in at_risk] == ["quiet", "gone"]


def test_the_programs_cadence_is_used(world: World) -> None:
    cycle_id = rhythm_world(world)
    program_id = world.services.programs.get_cycle(cycle_id).program_id
    world.services.programs.update_program(program_id, ProgramUpdate(cadence_days=7))
    report = world.services.rhythm.cycle_rhythm(cycle_id, today=START + timedelta(days=50))
    steady = next(p for p in report.pairs if p.mentee_name == "steady")
    assert (steady.expected, steady.status) == (7, "overdue")


def test_a_late_joiner_is_judged_from_the_day_it_joined(world: World) -> None:
    programs = world.services.programs
    cycle = programs.create_cycle(one_to_one(world), CycleIn(starts_on=START))
    pair = world.pair("ana", "new")
    programs.add_pair(cycle.id, PairIn(mentorship_id=pair, joined_on=START + timedelta(days=40)))
    (row,) = world.services.rhythm.cycle_rhythm(cycle.id, today=START + timedelta(days=50)).pairs
    assert (row.status, row.expected, row.days_since_last) == ("on_rhythm", 0, 10)
    (early,) = world.services.rhythm.cycle_rhythm(cycle.id, today=START + timedelta(days=30)).pairs
    assert early.status == "not_started"


def test_after_the_cycle_nothing_is_due(world: World) -> None:
    cycle_id = rhythm_world(world)
    end = world.services.programs.get_cycle(cycle_id).ends_on
    report = world.services.rhythm.cycle_rhythm(cycle_id, today=end + timedelta(days=3))
    assert all(p.next_due is None for p in report.pairs)
    assert report.week == 26


def test_my_rhythm_shows_a_mentor_and_a_mentee_their_own_pairs(world: World) -> None:
    cycle_id = rhythm_world(world)
    today = START + timedelta(days=50)
    rhythm = world.services.rhythm
    mine = rhythm.my_rhythm(world.principal("ana", Role.mentor), today=today)
    assert [(p.partner_name, p.status) for p in mine] == [("steady", "on_rhythm"), ("quiet", "at_risk")]
    assert mine[0].cycle_id == cycle_id and mine[0].week == 8
    assert [m.key for m in mine[0].upcoming] == ["mid_survey", "end_survey"]  # goals_agreed is past
    (own,) = rhythm.my_rhythm(world.principal("quiet", Role.mentee), today=today)
    assert (own.partner_name, own.reasons) == ("ana", ["no session for 50 days"])
    world.user("loner", Role.mentee)
    assert rhythm.my_rhythm(world.principal("loner", Role.mentee), today=today) == []
    assert rhythm.my_rhythm(world.principal("quiet", Role.mentee), today=date(2027, 1, 1)) == []
    admin = Principal(id=999, name="root", role=Role.admin)
    with pytest.raises(Forbidden):
        rhythm.my_rhythm(admin)


def test_deleting_a_cycle_keeps_the_mentorships_and_sessions(world: World) -> None:
    cycle_id = rhythm_world(world)
    world.services.programs.delete_cycle(cycle_id)
    with pytest.raises(NotFound):
        world.services.programs.get_cycle(cycle_id)
    with world.services.db.session() as session:
        assert session.query(Mentorship).count() == 4
        assert session.query(SessionRecord).count() == 8


def test_the_rhythm_query_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    for world in _world(make_settings(tmp_path, database_url=postgres_url)):
        cycle_id = rhythm_world(world)
        world.sessions("ana", "steady", 400)  # after the cycle: not counted
        report = world.services.rhythm.cycle_rhythm(cycle_id, today=START + timedelta(days=50))
        assert [(p.mentee_name, p.status, p.sessions) for p in report.pairs] == [
            ("quiet", "at_risk", 1),
            ("gone", "at_risk", 0),
            ("late", "overdue", 3),
            ("steady", "on_rhythm", 4),
        ]
        assert world.services.programs.get_cycle(cycle_id).pairs == 4

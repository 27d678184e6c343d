"""The rules for who may join a program cycle, shared by the program pages and cohort matching.

Both `companion.program.cycles` (an admin adds a pair by hand) and `companion.matching.service` (an
accepted match of a cohort run for a cycle) put mentorships into `cycle_mentorships`; neither may import
the other, so the rule lives here, next to the tables:

- a mentee is in at most one pair per cycle (ended pairs still count until they are taken out);
- in a `group` program a mentor's circle holds at most `group_max` mentees;
- circles under `group_min` are not refused but reported as warnings.

The functions read the database and decide; the callers phrase the refusal (an HTTP error, a skipped
match) in their own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from companion.storage.db import Cycle, CycleMentorship, Mentorship, Program

RefusalRule = Literal["in_cycle", "mentee_taken", "circle_full"]


@dataclass(frozen=True)
class Refusal:
    """Why a mentorship may not join a cycle."""

    rule: RefusalRule
    other_mentor_user_id: int | None = None  # mentee_taken: the mentor the mentee already has there
    circle: int = 0  # circle_full: the mentees the mentor's circle already holds


def is_group_cycle(session: Session, cycle: Cycle) -> bool:
    """True when the cycle belongs to a group-circles program."""
    return session.scalar(select(Program.kind).where(Program.id == cycle.program_id)) == "group"


def circle_limit(capacity: int, *, group: bool, group_max: int) -> int:
    """How many mentees a mentor may take in a cycle: their capacity, and in a group program at most
    `group_max` (whatever a larger capacity says)."""
    return min(capacity, group_max) if group else capacity


def circle_sizes(session: Session, cycle_id: int) -> dict[int, int]:
    """Mentees per mentor (user id) among the cycle's pairs, ended pairs included."""
    rows = session.execute(
        select(Mentorship.mentor_user_id, func.count(Mentorship.id))
        .join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id)
        .where(CycleMentorship.cycle_id == cycle_id)
        .group_by(Mentorship.mentor_user_id)
    ).tuples()
    return {int(mentor): int(size) for mentor, size in rows}


def small_circles(sizes: dict[int, int], *, group_min: int) -> dict[int, int]:
    """The circles (mentor id -> size) that have mentees but fewer than `group_min`."""
    return {mentor: size for mentor, size in sizes.items() if 0 < size < group_min}


def join_refusal(
    session: Session, cycle: Cycle, mentorship: Mentorship, *, group: bool, group_max: int
) -> Refusal | None:
    """None when the mentorship may join the cycle; otherwise the rule it would break."""
    members = session.execute(
        select(Mentorship.id, Mentorship.mentor_user_id, Mentorship.mentee_user_id)
        .join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id)
        .where(CycleMentorship.cycle_id == cycle.id)
    ).tuples()
    circle = 0
    for mid, mentor, mentee in members:
        if mid == mentorship.id:
            return Refusal("in_cycle")
        if mentee == mentorship.mentee_user_id:
            return Refusal("mentee_taken", other_mentor_user_id=mentor)
        if mentor == mentorship.mentor_user_id:
            circle += 1
    if group and circle >= group_max:
        return Refusal("circle_full", circle=circle)
    return None

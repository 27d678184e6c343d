"""The pairs of the cycles running on a day, with the dates of their sessions in the cycle: what the
nudges and the calendar feeds judge a pair's rhythm from (with `companion.program.cadence.assess`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from companion.storage.db import Cycle, CycleMentorship, Mentorship, Person, Program, SessionRecord, User


@dataclass
class CyclePair:
    cycle: Cycle
    cadence_days: int
    mentor_id: int
    mentee_id: int
    sessions: list[date] = field(default_factory=list)


def cycle_pairs(
    session: Session, *, today: date, starts_by: date, user_id: int | None = None
) -> list[CyclePair]:
    """The active pairs of every cycle that has not ended by `today` and starts by `starts_by` (only the
    pairs `user_id` is in, when given), each with its sessions held since the cycle began."""
    query = (
        select(Cycle, Program.cadence_days, Mentorship.mentor_user_id, Mentorship.mentee_user_id)
        .join(Program, Program.id == Cycle.program_id)
        .join(CycleMentorship, CycleMentorship.cycle_id == Cycle.id)
        .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
        .where(Cycle.starts_on <= starts_by, Cycle.ends_on >= today, Mentorship.active.is_(True))
    )
    if user_id is not None:
        query = query.where(or_(Mentorship.mentor_user_id == user_id, Mentorship.mentee_user_id == user_id))
    pairs = [
        CyclePair(cycle, cadence, mentor, mentee) for cycle, cadence, mentor, mentee in session.execute(query)
    ]
    if not pairs:
        return pairs
    first = min(p.cycle.starts_on for p in pairs)
    held: dict[int, list[tuple[int | None, date]]] = defaultdict(list)
    for chunk in chunks(sorted({p.mentee_id for p in pairs}), 500):
        rows = session.execute(
            select(SessionRecord.mentee_user_id, SessionRecord.mentor_user_id, SessionRecord.held_on).where(
                SessionRecord.mentee_user_id.in_(chunk), SessionRecord.held_on >= first
            )
        )
        for mentee, mentor, held_on in rows:
            held[mentee].append((mentor, held_on))
    for pair in pairs:
        # a session logged without a mentor counts for the mentee's pair
        pair.sessions = [d for mentor, d in held[pair.mentee_id] if mentor in (None, pair.mentor_id)]
    return pairs


def cycle_sessions(cycle_id: int, starts_on: date, ends_on: date) -> Select[int, int, date, int]:
    """The sessions held between a cycle's dates by its pairs, one row each: (cycle pair id, mentorship id,
    day, minutes). A session logged without a mentor counts for the mentee's pair."""
    return (
        select(
            CycleMentorship.id,
            CycleMentorship.mentorship_id,
            SessionRecord.held_on,
            SessionRecord.length_minutes,
        )
        .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
        .join(
            SessionRecord,
            and_(
                SessionRecord.mentee_user_id == Mentorship.mentee_user_id,
                or_(
                    SessionRecord.mentor_user_id == Mentorship.mentor_user_id,
                    SessionRecord.mentor_user_id.is_(None),
                ),
            ),
        )
        .where(
            CycleMentorship.cycle_id == cycle_id,
            SessionRecord.held_on >= starts_on,
            SessionRecord.held_on <= ends_on,
        )
        .order_by(SessionRecord.held_on)
    )


def display_names(session: Session, ids: Iterable[int] | None = None) -> dict[int, str]:
    """The name to show for each user (all users, or only `ids`): the linked people profile's name, else
    the account name."""
    query = select(User.id, User.name, Person.name).outerjoin(Person, Person.user_id == User.id)
    if ids is not None:
        wanted = set(ids)
        if not wanted:
            return {}
        query = query.where(User.id.in_(wanted))
    return {int(uid): shown or name for uid, name, shown in session.execute(query)}


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

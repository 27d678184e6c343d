"""Request and response models of programs, cycles, milestones, a cycle's pairs and their rhythm (the
check-in cadence and the pairs at risk). Other program parts (surveys, nudges, outcomes) keep their own
models in their own modules."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from companion.schemas import DbId, UtcDateTime

ProgramKind = Literal["one_to_one", "group"]
MilestoneKind = Literal["goals", "survey", "checkpoint"]
PairStatus = Literal["at_risk", "overdue", "on_rhythm", "not_started"]
KEY_PATTERN = r"^[a-z0-9][a-z0-9_]{0,49}$"
_KEY = re.compile(KEY_PATTERN)


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2199, 12, 31)


def _clean_text(value: object) -> object:
    """One line of text: control characters dropped, runs of whitespace made one space."""
    if not isinstance(value, str):
        return value
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _plain_text(value: object) -> object:
    """Free text: control characters other than line breaks and tabs dropped."""
    if not isinstance(value, str):
        return value
    return "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()


def _sensible_date(value: date | None) -> date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be a date from {FIRST_DAY} to {LAST_DAY}")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- programs ----------------------------------------------------------------------------------------


class ProgramIn(_In):
    name: str = Field(min_length=1, max_length=200, description="Unique name, e.g. 'Formal mentoring'.")
    kind: ProgramKind = Field(
        "one_to_one", description="`one_to_one` pairs, or `group` circles of one mentor with several mentees."
    )
    description: str = Field("", max_length=2000)
    cadence_days: int | None = Field(
        None, ge=1, le=90, description="A session every this many days (unset: `program.cadence_days`)."
    )

    _clean = field_validator("name", mode="before")(_clean_text)
    _plain = field_validator("description", mode="before")(_plain_text)


class ProgramUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: ProgramKind | None = None
    description: str | None = Field(None, max_length=2000)
    cadence_days: int | None = Field(None, ge=1, le=90)

    _clean = field_validator("name", mode="before")(_clean_text)
    _plain = field_validator("description", mode="before")(_plain_text)


class ProgramOut(BaseModel):
    id: int
    name: str
    kind: ProgramKind
    description: str
    cadence_days: int
    cycles: int = Field(description="How many cycles the program has.")
    created_at: UtcDateTime


# ---- cycles and milestones ---------------------------------------------------------------------------


class CycleIn(_In):
    name: str | None = Field(None, min_length=1, max_length=200, description="Unset: named by its dates.")
    starts_on: date
    ends_on: date | None = Field(None, description="Unset: `program.cycle_weeks` after the start.")

    _clean = field_validator("name", mode="before")(_clean_text)
    _dates = field_validator("starts_on", "ends_on")(_sensible_date)


class CycleUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    starts_on: date | None = Field(None, description="Moving the start moves the milestones with it.")
    ends_on: date | None = Field(None, description="Milestones due at the old end move to the new end.")

    _clean = field_validator("name", mode="before")(_clean_text)
    _dates = field_validator("starts_on", "ends_on")(_sensible_date)


class MilestoneIn(_In):
    key: str | None = Field(
        None, pattern=KEY_PATTERN, description="Stable key (unset: made from the title), unique in the cycle."
    )
    title: str = Field(min_length=1, max_length=300)
    due_on: date = Field(description="A day within the cycle.")
    kind: MilestoneKind = "checkpoint"

    _clean = field_validator("title", mode="before")(_clean_text)
    _dates = field_validator("due_on")(_sensible_date)


class MilestoneUpdate(_In):
    title: str | None = Field(None, min_length=1, max_length=300)
    due_on: date | None = None
    kind: MilestoneKind | None = None

    _clean = field_validator("title", mode="before")(_clean_text)
    _dates = field_validator("due_on")(_sensible_date)


class MilestoneOut(BaseModel):
    id: int
    cycle_id: int
    key: str
    title: str
    due_on: date
    kind: MilestoneKind
    week: int = Field(description="The week of the cycle it is due in (1 = the first seven days).")


class CycleOut(BaseModel):
    id: int
    program_id: int
    program_name: str
    program_kind: ProgramKind
    name: str
    starts_on: date
    ends_on: date
    weeks: int = Field(description="Length in weeks (rounded up).")
    pairs: int = Field(description="How many pairs take part.")
    milestones: list[MilestoneOut]
    warnings: list[str] = Field(
        default_factory=list, description="What needs the admin's attention, e.g. group circles too small."
    )


# ---- pairs in a cycle --------------------------------------------------------------------------------


class PairIn(_In):
    mentorship_id: DbId
    joined_on: date | None = Field(
        None, description="When the pair joined, if after the cycle's start: its rhythm counts from then."
    )

    _dates = field_validator("joined_on")(_sensible_date)


class PairOut(BaseModel):
    mentorship_id: int
    mentor_id: int
    mentor_name: str
    mentee_id: int
    mentee_name: str
    active: bool = Field(description="Whether the mentorship is still active.")
    joined_on: date | None
    session_dates: list[date] = Field(
        description="Dates of the pair's sessions within the cycle, oldest first."
    )


class MentorshipOption(BaseModel):
    """An active mentorship not yet in the cycle (what the admin page offers to add)."""

    mentorship_id: int
    mentor_name: str
    mentee_name: str


# ---- rhythm ------------------------------------------------------------------------------------------


class PairRhythmOut(BaseModel):
    mentorship_id: int
    mentor_id: int
    mentor_name: str
    mentee_id: int
    mentee_name: str
    sessions: int = Field(description="Sessions held in the cycle so far.")
    expected: int = Field(description="Sessions the rhythm asks for by now.")
    last_session: date | None
    days_since_last: int | None = Field(description="Days from the last session (or the start) to today.")
    next_due: date | None = Field(description="When the next session is due (none once the cycle ended).")
    on_rhythm: bool
    at_risk: bool
    status: PairStatus
    reasons: list[str] = Field(description="Why the pair is at risk (empty when it is not).")


class RhythmRules(BaseModel):
    cadence_days: int
    gap_days: int
    min_sessions: int
    by_week: int


class RhythmReport(BaseModel):
    cycle: CycleOut
    today: date
    week: int = Field(description="The week of the cycle today is in (0 before the start).")
    rules: RhythmRules
    pairs: list[PairRhythmOut] = Field(description="At-risk pairs first, then overdue, then on rhythm.")
    at_risk: int
    on_rhythm: int


class MyPairRhythm(PairRhythmOut):
    """One of the caller's own pairs in a current cycle, with what is coming up."""

    cycle_id: int
    cycle_name: str
    program_name: str
    cycle_ends_on: date
    week: int
    partner_name: str = Field(description="The other person of the pair.")
    upcoming: list[MilestoneOut] = Field(description="The cycle's milestones due from today on.")


def slug_key(title: str) -> str:
    """A milestone key made from its title ('Mid-cycle check-in' -> 'mid_cycle_check_in')."""
    key = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50].rstrip("_")
    return key if _KEY.match(key) else "milestone"

"""Check-in cadence: how a pair's sessions in a cycle compare with the expected rhythm, and whether the
pair is at risk. Pure rules over dates (no database), so the dashboard, the pages, the nudges and the API
all judge a pair the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from companion.settings import ProgramSettings


@dataclass(frozen=True)
class CadenceRules:
    """The rules a pair is held to (from `ProgramSettings`, the cadence from the program)."""

    cadence_days: int = 14
    gap_days: int = 28
    min_sessions: int = 4
    by_week: int = 12

    @classmethod
    def from_settings(cls, settings: ProgramSettings, *, cadence_days: int | None = None) -> CadenceRules:
        return cls(
            cadence_days=cadence_days or settings.cadence_days,
            gap_days=settings.at_risk_gap_days,
            min_sessions=settings.at_risk_min_sessions,
            by_week=settings.at_risk_by_week,
        )


@dataclass(frozen=True)
class PairRhythm:
    """One pair in one cycle, judged on `today`."""

    sessions: int
    expected: int  # sessions the rhythm asks for between the cycle's start and today (or its end)
    last_session: date | None
    days_since_last: int | None  # from the last session (or the cycle's start when none) to today
    next_due: date  # when the next session is due by the rhythm
    on_rhythm: bool
    at_risk: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return not self.at_risk and not self.on_rhythm


def assess(
    held_on: Sequence[date], *, starts_on: date, ends_on: date, today: date, rules: CadenceRules
) -> PairRhythm:
    """Judge a pair from the dates of its sessions. Sessions outside the cycle are ignored, and so are
    sessions dated after `today` (planned, not held yet); a cycle that has not started yet is never at
    risk; after the cycle's end, the rhythm is judged at its end."""
    until = min(today, ends_on)
    dates = sorted(d for d in held_on if starts_on <= d <= until)
    last = dates[-1] if dates else None
    elapsed = max(0, (until - starts_on).days)
    expected = elapsed // rules.cadence_days
    anchor = last or starts_on
    next_due = date.fromordinal(anchor.toordinal() + rules.cadence_days)
    if today < starts_on:
        return PairRhythm(0, 0, None, None, next_due, True, False, [])
    since = (until - anchor).days
    reasons: list[str] = []
    if since >= rules.gap_days:
        if last:
            reasons.append(f"no session for {since} days")
        else:
            reasons.append(f"no session since the cycle began {since} days ago")
    week = elapsed // 7 + 1
    if week > rules.by_week and len(dates) < rules.min_sessions:
        # count only the sessions held by the end of that week
        by = date.fromordinal(starts_on.toordinal() + rules.by_week * 7 - 1)
        held_by = sum(1 for d in dates if d <= by)
        if held_by < rules.min_sessions:
            reasons.append(f"{held_by} of {rules.min_sessions} sessions by week {rules.by_week}")
    # on rhythm: no later than one cadence (plus a few days' grace) since the last session, and no
    # more than one session behind the rhythm overall
    grace = max(2, rules.cadence_days // 4)
    on_rhythm = since <= rules.cadence_days + grace and len(dates) >= expected - 1
    return PairRhythm(
        sessions=len(dates),
        expected=expected,
        last_session=last,
        days_since_last=since,
        next_due=next_due,
        on_rhythm=on_rhythm and not reasons,
        at_risk=bool(reasons),
        reasons=reasons,
    )


def week_of(day: date, starts_on: date) -> int:
    """The week of the cycle `day` falls in (1 for the first seven days; 0 before the start)."""
    if day < starts_on:
        return 0
    return (day - starts_on).days // 7 + 1


def due_in_week(starts_on: date, week: int) -> date:
    """The last day of a week of the cycle."""
    return date.fromordinal(starts_on.toordinal() + week * 7 - 1)

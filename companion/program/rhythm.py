"""The rhythm of a cycle's pairs: each pair's sessions against the expected check-in cadence, its last
session, when the next one is due, and whether it is at risk (and why), judged by
`companion.program.cadence.assess` with the program's cadence and the at-risk rules of the settings.
Also the caller's own pairs in the cycles running today (`my_rhythm`), for the mentor and mentee pages."""

from __future__ import annotations

from datetime import date

from companion.errors import Forbidden
from companion.identity.auth import Principal, Role
from companion.program.cadence import CadenceRules, PairRhythm, assess, week_of
from companion.program.cycles import CyclePair, ProgramService
from companion.program.schemas import (
    CycleOut,
    MyPairRhythm,
    PairRhythmOut,
    PairStatus,
    RhythmReport,
    RhythmRules,
)
from companion.settings import ProgramSettings

ORDER: dict[PairStatus, int] = {"at_risk": 0, "overdue": 1, "on_rhythm": 2, "not_started": 3}


class RhythmService:
    def __init__(self, *, programs: ProgramService, settings: ProgramSettings) -> None:
        self.programs = programs
        self.settings = settings

    def rules(self, cycle: CycleOut) -> CadenceRules:
        cadence = self.programs.get_program(cycle.program_id).cadence_days
        return CadenceRules.from_settings(self.settings, cadence_days=cadence)

    def cycle_rhythm(self, cycle_id: int, *, today: date | None = None) -> RhythmReport:
        """Every pair of the cycle judged on `today`: at-risk pairs first (the longest gap first), then
        overdue ones, then those on rhythm, each group by mentor and mentee name."""
        today = today or date.today()
        cycle = self.programs.get_cycle(cycle_id)
        rules = self.rules(cycle)
        pairs = [judge(pair, cycle, rules, today) for pair in self.programs.cycle_pairs(cycle_id)]
        pairs.sort(key=lambda p: (ORDER[p.status], -(p.days_since_last or 0) if p.at_risk else 0))
        return RhythmReport(
            cycle=cycle,
            today=today,
            week=week_of(min(today, cycle.ends_on), cycle.starts_on),
            rules=RhythmRules(
                cadence_days=rules.cadence_days,
                gap_days=rules.gap_days,
                min_sessions=rules.min_sessions,
                by_week=rules.by_week,
            ),
            pairs=pairs,
            at_risk=sum(1 for p in pairs if p.at_risk),
            on_rhythm=sum(1 for p in pairs if p.status == "on_rhythm"),
        )

    def at_risk(self, cycle_id: int, *, today: date | None = None) -> list[PairRhythmOut]:
        return [p for p in self.cycle_rhythm(cycle_id, today=today).pairs if p.at_risk]

    def my_rhythm(self, principal: Principal, *, today: date | None = None) -> list[MyPairRhythm]:
        """A mentor's or mentee's own pairs in the cycles running today, with each cycle's upcoming
        milestones."""
        if principal.role == Role.admin:
            raise Forbidden("admins take part in no pairs: see a cycle's rhythm at /v1/cycles/{id}/rhythm")
        today = today or date.today()
        mine: list[MyPairRhythm] = []
        for cycle, mentorship_id in self.programs.cycles_of_user(principal.id, today):
            rules = self.rules(cycle)
            pair = next(p for p in self.programs.cycle_pairs(cycle.id) if p.mentorship_id == mentorship_id)
            judged = judge(pair, cycle, rules, today)
            partner = pair.mentee_name if principal.role == Role.mentor else pair.mentor_name
            mine.append(
                MyPairRhythm(
                    **judged.model_dump(),
                    cycle_id=cycle.id,
                    cycle_name=cycle.name,
                    program_name=cycle.program_name,
                    cycle_ends_on=cycle.ends_on,
                    week=week_of(today, cycle.starts_on),
                    partner_name=partner,
                    upcoming=[m for m in cycle.milestones if m.due_on >= today],
                )
            )
        return mine


def judge(pair: CyclePair, cycle: CycleOut, rules: CadenceRules, today: date) -> PairRhythmOut:
    """One pair's rhythm; a pair that joined after the cycle's start is judged from the day it joined."""
    starts_on = max(cycle.starts_on, pair.joined_on or cycle.starts_on)
    rhythm = assess(pair.session_dates, starts_on=starts_on, ends_on=cycle.ends_on, today=today, rules=rules)
    return PairRhythmOut(
        mentorship_id=pair.mentorship_id,
        mentor_id=pair.mentor_id,
        mentor_name=pair.mentor_name,
        mentee_id=pair.mentee_id,
        mentee_name=pair.mentee_name,
        sessions=rhythm.sessions,
        expected=rhythm.expected,
        last_session=rhythm.last_session,
        days_since_last=rhythm.days_since_last,
        next_due=rhythm.next_due if today <= cycle.ends_on and rhythm.next_due <= cycle.ends_on else None,
        on_rhythm=rhythm.on_rhythm,
        at_risk=rhythm.at_risk,
        status=status_of(rhythm, started=today >= starts_on),
        reasons=rhythm.reasons,
    )


def status_of(rhythm: PairRhythm, *, started: bool) -> PairStatus:
    if not started:
        return "not_started"
    if rhythm.at_risk:
        return "at_risk"
    return "on_rhythm" if rhythm.on_rhythm else "overdue"

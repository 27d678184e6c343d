"""The pure check-in rules of companion.program.cadence: on rhythm, overdue, a gap that puts a pair at risk,
too few sessions by week 12, a cycle not started yet, a cycle that has ended, planned sessions."""

from __future__ import annotations

from datetime import date, timedelta

from companion.program.cadence import CadenceRules, assess, due_in_week, week_of
from companion.settings import ProgramSettings

START = date(2026, 1, 5)  # a Monday
END = START + timedelta(weeks=26) - timedelta(days=1)
RULES = CadenceRules()  # every 14 days; at risk after 28 days without a session or < 4 by week 12


def day(n: int) -> date:
    return START + timedelta(days=n)


def judge(sessions: list[int], today: int, rules: CadenceRules = RULES):  # type: ignore[no-untyped-def]
    return assess([day(n) for n in sessions], starts_on=START, ends_on=END, today=day(today), rules=rules)


def test_rules_come_from_settings_and_the_programs_cadence() -> None:
    settings = ProgramSettings(at_risk_gap_days=21, at_risk_min_sessions=3, at_risk_by_week=8)
    rules = CadenceRules.from_settings(settings, cadence_days=7)
    assert (rules.cadence_days, rules.gap_days, rules.min_sessions, rules.by_week) == (7, 21, 3, 8)
    assert CadenceRules.from_settings(settings).cadence_days == 14


def test_a_pair_meeting_every_two_weeks_is_on_rhythm() -> None:
    rhythm = judge([0, 14, 28, 42], today=50)
    assert (rhythm.sessions, rhythm.expected) == (4, 3)
    assert rhythm.last_session == day(42)
    assert rhythm.days_since_last == 8
    assert rhythm.next_due == day(56)
    assert rhythm.on_rhythm and not rhythm.at_risk and not rhythm.overdue
    assert rhythm.reasons == []


def test_a_late_session_is_overdue_before_it_is_at_risk() -> None:
    rhythm = judge([0, 14], today=14 + 20)  # 20 days since the last: past 14 + grace, under 28
    assert not rhythm.on_rhythm and not rhythm.at_risk
    assert rhythm.overdue


def test_four_weeks_without_a_session_is_at_risk() -> None:
    rhythm = judge([0, 14], today=14 + 28)
    assert rhythm.at_risk and not rhythm.on_rhythm
    assert rhythm.reasons == ["no session for 28 days"]
    one_day_less = judge([0, 14], today=14 + 27)
    assert not one_day_less.at_risk


def test_no_session_since_the_start_names_the_start() -> None:
    rhythm = judge([], today=30)
    assert rhythm.at_risk
    assert rhythm.reasons == ["no session since the cycle began 30 days ago"]
    assert rhythm.last_session is None and rhythm.next_due == day(14)


def test_fewer_than_four_sessions_by_week_12_is_at_risk() -> None:
    # three sessions, the last recent enough that the gap rule does not fire
    rhythm = judge([10, 40, 70], today=84)  # day 84 is the first day of week 13
    assert week_of(day(84), START) == 13
    assert rhythm.at_risk
    assert rhythm.reasons == ["3 of 4 sessions by week 12"]
    still_in_week_12 = judge([10, 40, 70], today=83)
    assert not still_in_week_12.at_risk


def test_a_pair_that_caught_up_after_week_12_is_no_longer_at_risk() -> None:
    rhythm = judge([10, 40, 70, 86], today=90)
    assert not rhythm.at_risk
    assert rhythm.sessions == 4


def test_both_reasons_at_once() -> None:
    rhythm = judge([5], today=100)
    assert rhythm.reasons == ["no session for 95 days", "1 of 4 sessions by week 12"]


def test_before_the_start_nothing_is_due_or_at_risk() -> None:
    rhythm = assess([], starts_on=START, ends_on=END, today=START - timedelta(days=3), rules=RULES)
    assert (rhythm.sessions, rhythm.expected) == (0, 0)
    assert rhythm.on_rhythm and not rhythm.at_risk
    assert rhythm.days_since_last is None
    assert rhythm.next_due == day(14)


def test_after_the_end_the_pair_is_judged_on_the_last_day() -> None:
    sessions = list(range(0, 182, 14))  # every 14 days for the whole cycle: 13 sessions
    rhythm = assess(
        [day(n) for n in sessions], starts_on=START, ends_on=END, today=END + timedelta(days=60), rules=RULES
    )
    assert rhythm.sessions == 13
    assert rhythm.expected == (END - START).days // 14
    assert rhythm.days_since_last == (END - day(168)).days
    assert not rhythm.at_risk


def test_sessions_outside_the_cycle_do_not_count() -> None:
    before, after = START - timedelta(days=1), END + timedelta(days=1)
    rhythm = assess([before, day(3), after], starts_on=START, ends_on=END, today=END, rules=RULES)
    assert rhythm.sessions == 1
    assert rhythm.last_session == day(3)


def test_a_planned_session_after_today_is_not_counted_as_held() -> None:
    # a session recorded ahead of time must not hide a gap (it has not happened yet)
    rhythm = judge([0, 60], today=40)
    assert rhythm.sessions == 1
    assert rhythm.last_session == day(0)
    assert rhythm.days_since_last == 40
    assert rhythm.at_risk


def test_a_weekly_program_is_held_to_its_own_cadence() -> None:
    weekly = CadenceRules(cadence_days=7)
    assert judge([0, 14], today=21, rules=weekly).on_rhythm  # one behind, last a week ago: allowed
    late = judge([0], today=12, rules=weekly)  # 12 days since the last: past 7 + 2 days' grace
    assert late.expected == 1 and late.next_due == day(7)
    assert not late.on_rhythm and not late.at_risk
    assert judge([0], today=12).on_rhythm  # the same dates on the default 14-day cadence


def test_weeks_of_the_cycle() -> None:
    assert week_of(START - timedelta(days=1), START) == 0
    assert week_of(START, START) == 1
    assert week_of(day(6), START) == 1
    assert week_of(day(7), START) == 2
    assert due_in_week(START, 1) == day(6)
    assert due_in_week(START, 4) == day(27)
    assert week_of(due_in_week(START, 12), START) == 12

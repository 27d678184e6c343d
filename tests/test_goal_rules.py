"""The goals composer on aspirations written for these tests (none is from evals/goals.jsonl): what the
aspiration is about, a measure that fits its kind, and grammatical goals in its own terms."""

from __future__ import annotations

import re
from datetime import date

import pytest

from companion.assistant.composer import compose_goals
from companion.assistant.goal_rules import article, base_form, gerund, plural, read_aspiration, singular
from companion.assistant.grounding import Grounding
from companion.evaluation.quality.specificity import goal_specificity, measure_key

TODAY = date(2027, 4, 5)
HORIZON = date(2027, 7, 5)

# one or more of each kind, phrased as people type them
ASPIRATIONS = [
    "I'd like to transition from retail banking into compliance",
    "switch from bar work to event management",
    "become an operations manager",
    "get my forklift licence",
    "become a certified scrum master",
    "I want to speak up more at the weekly huddle",
    "contribute more in board meetings so that my ideas are heard",
    "hand over the supplier invoices to my assistant",
    "delegate more so I can leave on time",
    "present the audit findings to the regional directors",
    "write shorter status updates",
    "chair the monthly residents meetings",
    "widen my network within the hospital trust",
    "tell a customer no without apologising",
    "stop skipping lunch on busy days",
    "cut my average response time to tickets",
    "get promoted to staff nurse next year",
    "understand how our pricing model works",
    "get better at Excel so that I can build my own forecasts",
    "coach two junior analysts",
    "finish the onboarding guide for new volunteers",
]


def goals_for(aspiration: str, max_goals: int = 3) -> list:
    return compose_goals(
        aspiration=aspiration, context="", max_goals=max_goals, grounding=Grounding.of([]), today=TODAY,
        horizon=HORIZON,
    )  # fmt: skip


def text_of(goals: list) -> str:
    return " ".join(f"{g.statement} {g.measure} {' '.join(g.first_steps)}" for g in goals)


@pytest.mark.parametrize("aspiration", ASPIRATIONS)
def test_goals_are_grammatical_specific_and_inside_the_horizon(aspiration: str) -> None:
    goals = goals_for(aspiration)
    text = text_of(goals)
    assert len(goals) == 3
    assert "up more" not in goals[0].measure
    for bad in (" on up", " in from", "I want", "I'd like", " so I ", "  ", " a a", " an an"):
        assert bad not in text, (bad, text)
    assert not re.search(r"\b(?:a|an)\s+(?:a|an|the|your|my)\b", text), text
    assert not re.search(r"\ba\s+[aeio]\w", text, re.I), text  # "a operations manager"
    assert not re.search(r"[\[\]{}]", text)
    assert all(TODAY < g.target_date <= HORIZON for g in goals)
    assert HORIZON.isoformat() in goals[0].statement
    assert all(re.search(r"\d", g.measure) and len(g.first_steps) >= 2 for g in goals)
    value, why = goal_specificity(aspiration, [(g.statement, g.measure) for g in goals])
    assert value == 1.0, why


def test_different_aspirations_get_different_measures() -> None:
    keys = [measure_key(goals_for(a, 1)[0].measure) for a in ASPIRATIONS]
    assert len(set(keys)) == len(keys)


def test_leading_filler_and_a_time_phrase_are_not_part_of_the_topic() -> None:
    read = read_aspiration("I'd really like to get promoted to staff nurse next year")
    assert read.core == "Get promoted to staff nurse"
    goal = goals_for("I'd really like to get promoted to staff nurse next year", 1)[0]
    assert "the promotion to staff nurse" in goal.measure and "next year" not in text_of([goal])


def test_a_phrasal_verb_stays_whole() -> None:
    read = read_aspiration("I want to speak up more at the weekly huddle")
    assert read.verb == "speak up"
    goals = goals_for("I want to speak up more at the weekly huddle")
    assert (
        goals[0].measure.startswith("At least ")
        and "weekly huddles in which you speak up" in goals[0].measure
    )
    assert "Before your next weekly huddle" in goals[0].first_steps[0]
    assert read_aspiration("hand over the supplier invoices to my assistant").verb == "hand over"


def test_the_purpose_clause_is_the_why_not_the_topic() -> None:
    read = read_aspiration("get better at Excel so that I can build my own forecasts")
    assert read.why == "you can build your own forecasts"
    goals = goals_for("get better at Excel so that I can build my own forecasts")
    assert goals[0].measure.startswith("4 practice sessions on Excel,")
    assert "forecasts" not in goals[0].measure
    assert "so that I can build my own forecasts" in goals[0].statement
    assert any("you can build your own forecasts" in s for s in goals[0].first_steps)
    delegate = goals_for("delegate more so I can leave on time")
    assert "leave on time" not in delegate[0].measure and "to others" in delegate[0].measure


def test_a_move_from_one_field_into_another_names_the_target_and_where_they_are() -> None:
    goals = goals_for("I'd like to transition from retail banking into compliance")
    first = goals[0]
    assert "conversations with people who work in compliance" in first.measure
    assert "shadowing day" in first.measure
    assert any("in retail banking that carries over to compliance" in s for s in first.first_steps)
    assert "someone who works in compliance" in goals[1].statement


def test_a_role_is_named_with_its_article_and_plural() -> None:
    goals = goals_for("become an operations manager")
    assert "conversations with operations managers" in goals[0].measure
    assert "an operations manager" in goals[1].statement
    switch = goals_for("switch from bar work to event management")
    assert "people who work in event management" in switch[0].measure
    assert "people in event management" not in text_of(switch)


def test_a_credential_is_booked_and_passed() -> None:
    licence = goals_for("get my forklift licence")[0]
    assert licence.measure.startswith("The exam for the forklift licence booked and passed")
    certified = goals_for("become a certified scrum master")[0]
    assert "the assessment to become a certified scrum master booked and passed" in certified.statement
    assert "conversations with" not in certified.measure


def test_a_habit_to_break_is_noted_each_time() -> None:
    goal = goals_for("stop skipping lunch on busy days", 1)[0]
    assert "caught yourself skipping lunch on busy days" in goal.measure


def test_a_story_is_read_for_what_the_mentee_is_asked_to_do() -> None:
    story = (
        "so basically I work in a small shop and things are fine but my manager wants me to run the monthly "
        "stock take on my own, which I have never done, and I worry I will get the numbers wrong"
    )
    goals = goals_for(story, 2)
    assert "stock take" in goals[0].measure
    assert "manager wants" not in text_of(goals) and "worry" not in text_of(goals)


def test_an_event_to_lead_is_counted_once_or_per_occurrence() -> None:
    single = goals_for("host a workshop for new managers", 1)[0]
    assert single.measure.startswith("1 workshop for new managers that you host")
    recurring = goals_for("chair the monthly residents meetings", 1)[0]
    assert recurring.measure.startswith("4 of the monthly residents meetings that you chair")


@pytest.mark.parametrize(
    ("word", "base"),
    [("prioritising", "prioritise"), ("running", "run"), ("saying", "say"), ("handling", "handle"),
     ("checking", "check"), ("writing", "write"), ("listening", "listen"), ("managing", "manage")],
)  # fmt: skip
def test_base_form_of_a_gerund(word: str, base: str) -> None:
    assert base_form(word) == base


def test_word_helpers() -> None:
    assert (
        gerund("speak up") == "speaking up"
        and gerund("delegate") == "delegating"
        and gerund("run") == "running"
    )
    assert gerund("write and publish a post") == "writing and publishing a post"
    assert article("operations manager") == "an" and article("unit lead") == "a" and article("hour") == "an"
    assert plural("charge nurse on your ward") == "charge nurses on your ward"
    assert (
        plural("sprint planning") == "sprint planning sessions"
        and plural("design documents") == "design documents"
    )
    assert singular("design documents") == "design document" and singular("weekly huddles") == "weekly huddle"


def test_only_a_role_or_a_place_is_a_target() -> None:
    applied = goals_for("apply for the site supervisor job", 1)[0]
    assert "conversations with site supervisors" in applied.measure
    office = goals_for("move to the Leeds office", 1)[0]
    assert "people who work in the Leeds office" in office.measure
    hours = goals_for("switch from nights to days", 1)[0]
    assert "shadowing" not in hours.measure and "people who work in" not in hours.measure
    fluent = goals_for("become fluent in Portuguese", 1)[0]
    assert fluent.measure.startswith("4 practice sessions on Portuguese")


def test_a_regular_habit_is_tracked_in_its_own_period() -> None:
    weekly = goals_for("be at my desk by eight every morning", 1)[0]
    assert "weeks in a row in which you are at your desk by eight every morning" in weekly.measure
    monthly = goals_for("visit one partner school a month", 1)[0]
    assert "months in a row in which you visit one partner school a month" in monthly.measure

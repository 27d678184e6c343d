"""The assistant's pipeline on a scripted fake model: valid, repaired, fallback, grounded, cited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from companion.assistant.feedback_rules import find_flags, strip_flagged
from companion.assistant.models import AskRequest, FeedbackRequest, GoalDraftRequest, SessionPrepRequest
from companion.assistant.service import fit_minutes
from companion.errors import BackendUnavailable
from tests.support.assistant import ADMIN, agenda, build, fake, good_goals


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


# ---- goals --------------------------------------------------------------------------------------


def test_valid_goals_come_from_the_model_with_citations(kb: Path) -> None:
    services = build(kb, [good_goals(2)])
    result = services.mentoring.draft_goals(
        ADMIN, GoalDraftRequest(aspiration="get better at public speaking")
    )
    assert result.origin == "model" and result.generation.attempts == 1
    assert len(result.goals) == 2
    assert all(g.citations and g.citations[0].n == 1 for g in result.goals)
    assert result.goals[0].target_date == date.today() + timedelta(weeks=8)
    kind, messages = fake(services).calls[0]
    prompt = messages[1].content
    assert kind == "structured" and "<guide_excerpts>" in prompt and "public speaking" in prompt
    assert result.sources[0].citation in prompt, "the cited excerpt is the one that was fenced in the prompt"


def test_invalid_goals_are_repaired_once(kb: Path) -> None:
    bad = good_goals(1)
    bad["goals"][0]["measure"] = "lots"  # type: ignore[index]
    bad["goals"][0]["target_date"] = "2001-01-01"  # type: ignore[index]
    services = build(kb, [bad, good_goals(1)])
    result = services.mentoring.draft_goals(
        ADMIN, GoalDraftRequest(aspiration="get better at public speaking")
    )
    assert result.origin == "model" and result.generation.attempts == 2
    problems = " ".join(result.generation.problems)
    assert "measure must count something" in problems and "target_date must be after" in problems
    repair = fake(services).calls[1][1]
    assert repair[-2].role == "assistant" and "2001-01-01" in repair[-2].content
    assert "measure must count" in repair[-1].content


@pytest.mark.parametrize(
    "replies",
    [
        ["not json at all", "{still not"],
        [{"goals": []}, {"wrong": "shape"}],
        [good_goals(1) | {"goals": [{**good_goals(1)["goals"][0], "sources": [9]}]}] * 2,  # type: ignore[list-item, dict-item]
    ],
)
def test_goals_fall_back_to_a_grounded_draft(kb: Path, replies: list[object]) -> None:
    services = build(kb, replies)
    request = GoalDraftRequest(
        aspiration="I want to get better at public speaking", max_goals=2, horizon_weeks=10
    )
    result = services.mentoring.draft_goals(ADMIN, request)
    assert result.origin == "grounded" and result.generation.origin == "grounded"
    assert result.generation.attempts == 2 and result.generation.problems
    assert result.goals[0].statement.startswith("Get better at public speaking")
    assert result.goals[0].target_date == date.today() + timedelta(weeks=10)
    assert any(ch.isdigit() for ch in result.goals[0].measure)
    assert all(g.citations for g in result.goals)
    assert {c.source for g in result.goals for c in g.citations} <= {s.source for s in result.sources}


def test_missing_sources_are_attributed_and_noted(kb: Path) -> None:
    reply = good_goals(1)
    reply["goals"][0]["sources"] = []  # type: ignore[index]
    services = build(kb, [reply])
    result = services.mentoring.draft_goals(
        ADMIN, GoalDraftRequest(aspiration="public speaking presentations")
    )
    assert result.origin == "model" and result.goals[0].citations
    assert "cited the closest excerpt" in result.generation.notes[0]


# ---- session prep -------------------------------------------------------------------------------


def test_agenda_minutes_add_up_and_are_rescaled_when_close(kb: Path) -> None:
    services = build(kb, [agenda([10, 20, 25])])
    result = services.mentoring.prepare_session(
        ADMIN, SessionPrepRequest(length_minutes=60, goals=["Ship the demo"], last_notes="Blocked on access")
    )
    assert result.origin == "model"
    assert sum(i.minutes for i in result.items) == 60
    assert result.generation.notes == ["minutes rescaled from 55 to 60"]
    assert all(i.citations[0].n == 2 for i in result.items)
    prompt = fake(services).calls[0][1][1].content
    assert "Ship the demo" in prompt and "Blocked on access" in prompt


def test_agenda_far_off_is_repaired_then_falls_back(kb: Path) -> None:
    services = build(kb, [agenda([5, 5]), agenda([1])])
    result = services.mentoring.prepare_session(
        ADMIN, SessionPrepRequest(length_minutes=45, goals=["Ship the demo", "Write the design doc"])
    )
    assert result.origin == "grounded"
    assert "minutes add up to 10; they must add up to 45" in " ".join(result.generation.problems)
    assert sum(i.minutes for i in result.items) == 45
    titles = [i.title for i in result.items]
    assert "Goal: Ship the demo" in titles and "Goal: Write the design doc" in titles
    assert all(i.citations for i in result.items) and result.questions
    assert all(q.endswith("?") for q in result.questions)


@pytest.mark.parametrize(
    ("weights", "total"), [([1, 1, 1], 10), ([10, 20, 25], 60), ([0, 0], 5), ([1.0, 1.5, 4.5, 2, 1], 15)]
)
def test_fit_minutes_is_exact(weights: list[float], total: int) -> None:
    minutes = fit_minutes(weights, total)
    assert sum(minutes) == total and all(m >= 1 for m in minutes)


# ---- feedback -----------------------------------------------------------------------------------


def test_feedback_rules_spot_absolutes_judgments_and_vagueness() -> None:
    flags = {
        (f.kind, f.phrase)
        for f in find_flags("You ALWAYS interrupt, you're lazy and it's not good. Sign off.")
    }
    assert flags == {("absolute", "always"), ("character", "lazy"), ("vague", "not good")}
    assert find_flags("In Tuesday's review you presented the plan clearly.") == []
    assert strip_flagged("You are always late and lazy.") == "You are late."


def test_feedback_from_the_model_keeps_rule_changes(kb: Path) -> None:
    reply = {
        "rewritten": "In Tuesday's stand-up you arrived ten minutes after we started. We had to repeat the "
        "updates. Could you join on time next week, or message me if something gets in the way?",
        "situation": "Tuesday's stand-up meeting",
        "behaviour": "arrived ten minutes after the start",
        "impact": "the team had to repeat the updates",
        "next_step": "join on time or send a message",
        "changes": [{"what": "Replaced 'always' with the specific meeting", "why": "specific is fair"}],
        "sources": [3],
    }
    services = build(kb, [reply])
    result = services.mentoring.coach_feedback(ADMIN, FeedbackRequest(draft="You are always late. So lazy."))
    assert result.origin == "model"
    assert result.rewritten.startswith("In Tuesday's stand-up")
    whats = [c.what for c in result.changes]
    assert whats[0].startswith("Replaced 'always'") and "Removed the judgment 'lazy'" in whats
    assert len([w for w in whats if "always" in w]) == 1, "a change the model already made is not repeated"
    assert {f.phrase for f in result.flagged} == {"always", "lazy"}
    assert result.citations[0].n == 3


def test_feedback_rewrite_that_keeps_judgments_falls_back(kb: Path) -> None:
    still_bad = {
        "rewritten": "You are always late and that is lazy, please stop doing that in every meeting we have.",
        "situation": "every meeting we have",
        "behaviour": "always being late",
        "impact": "it is annoying for all",
        "next_step": "stop being lazy now",
        "changes": [],
        "sources": [1],
    }
    services = build(kb, [still_bad, still_bad])
    result = services.mentoring.coach_feedback(ADMIN, FeedbackRequest(draft="You are always late and lazy."))
    assert result.origin == "grounded"
    assert "still contains absolute wording: 'always'" in " ".join(result.generation.problems)
    assert find_flags(result.rewritten) == [] or all(f.kind == "vague" for f in find_flags(result.rewritten))
    # the grounded rewrite keeps what was observed, softened, and asks for what is missing: no blanks
    assert "late several times" in result.rewritten and "[" not in result.rewritten + result.situation
    assert result.situation == "" and any("when and where" in q.lower() for q in result.questions)
    assert result.citations


# ---- ask ----------------------------------------------------------------------------------------


def test_answer_markers_resolve_to_returned_chunks(kb: Path) -> None:
    services = build(kb, ["Use a time-boxed agenda with a check-in and commitments [1]. Try GROW [3] [1]."])
    result = services.mentoring.ask(ADMIN, AskRequest(question="How should I structure the session agenda?"))
    assert result.origin == "model" and result.covered
    assert [c.n for c in result.citations] == [1, 3]
    assert [c.chunk_id for c in result.citations] == [result.sources[0].chunk_id, result.sources[2].chunk_id]
    assert result.sources[0].source == "sessions.md"


def test_answer_without_citations_is_repaired_then_extracted(kb: Path) -> None:
    services = build(kb, ["Just do it.", "Still no citations here at all."])
    result = services.mentoring.ask(ADMIN, AskRequest(question="How should I structure the session agenda?"))
    assert result.origin == "grounded" and result.covered
    assert result.generation.attempts == 2
    assert "[1]" in result.answer and result.citations[0].n == 1
    assert "agenda" in result.answer.lower()


def test_uncovered_question_says_so_without_calling_the_model(kb: Path) -> None:
    services = build(kb, ["should not be used [1]"])
    result = services.mentoring.ask(ADMIN, AskRequest(question="zzzz qqqq xylophone?"))
    assert not result.covered and result.citations == []
    assert "do not cover" in result.answer
    assert fake(services).calls == []


def test_model_saying_not_covered_is_respected(kb: Path) -> None:
    services = build(kb, ["NOT COVERED"])
    result = services.mentoring.ask(ADMIN, AskRequest(question="How should I structure the session agenda?"))
    assert not result.covered and result.origin == "model"


def test_stream_sends_the_grounded_draft_first_then_the_validated_answer(kb: Path) -> None:
    reply = "Time-box the agenda and use GROW [2]. End with commitments [2]."
    services = build(kb, [reply])
    events = services.mentoring.ask_stream(ADMIN, AskRequest(question="How do I structure the agenda?"))
    first, second = next(events), next(events)
    assert [first[0], second[0]] == ["sources", "draft"]
    assert fake(services).calls == [], "the draft is sent before the model is asked"
    draft = second[1]
    assert draft["origin"] == "grounded" and draft["citations"] and "[" in draft["answer"]
    rest = list(events)
    assert [name for name, _ in rest] == ["answer"], "no unchecked token text is ever sent"
    final = rest[0][1]
    assert final["answer"] == reply and final["origin"] == "model"
    assert [c["n"] for c in final["citations"]] == [2]


def test_a_polish_that_adds_claims_of_its_own_is_refused_and_the_draft_stands(kb: Path) -> None:
    """Every sentence of a model's answer must be in the excerpts (reworded at most): the second sentence
    here is the model's own, so the reply and its repair fail and the grounded draft answers. The problem
    names the sentence by number and never repeats the unchecked text."""
    invented = (
        "Time-box the agenda and use GROW [1]. Mentors earn a yearly bonus for each mentee promoted [1]."
    )
    services = build(kb, [invented, invented])
    result = services.mentoring.ask(ADMIN, AskRequest(question="How do I structure the agenda?", polish=True))
    assert result.origin == "grounded" and "bonus" not in result.answer
    problems = result.generation.problems
    assert any("sentence 2 says what no excerpt says" in p for p in problems), problems
    assert not any("bonus" in p for p in problems), "unchecked model text is never echoed"


def test_a_polish_may_reword_and_combine_the_excerpts_it_cites(kb: Path) -> None:
    reworded = "Time-box your agenda, and end the session with commitments, using GROW [1][2]."
    services = build(kb, [reworded])
    result = services.mentoring.ask(ADMIN, AskRequest(question="How do I structure the agenda?", polish=True))
    assert result.origin == "model" and result.answer == reworded


# ---- backend faults -----------------------------------------------------------------------------


def test_backend_down_falls_back_when_allowed(kb: Path) -> None:
    services = build(kb, [])
    fake(services).error = BackendUnavailable("model endpoint unreachable")
    result = services.mentoring.coach_feedback(ADMIN, FeedbackRequest(draft="Your report was not good."))
    assert result.origin == "grounded"
    assert result.generation.problems == ["model unavailable: model endpoint unreachable"]
    answer = services.mentoring.ask(ADMIN, AskRequest(question="How do I structure the agenda?"))
    assert answer.origin == "grounded" and answer.citations


def test_backend_down_raises_when_fallback_is_off(kb: Path) -> None:
    services = build(kb, [], fallback_on_error=False)
    fake(services).error = BackendUnavailable("model endpoint unreachable")
    with pytest.raises(BackendUnavailable):
        services.mentoring.draft_goals(ADMIN, GoalDraftRequest(aspiration="public speaking"))
    with pytest.raises(BackendUnavailable):
        services.mentoring.ask_stream(ADMIN, AskRequest(question="How do I structure the agenda?"))


@pytest.mark.parametrize(
    ("replies", "origin", "problems"),
    [
        (["no markers here at all, sorry", "Time-box the agenda and use GROW [2]."], "model", 1),
        (["no markers here at all, sorry", "still none in this reply either"], "grounded", 2),
    ],
)
def test_stream_repairs_at_most_once(kb: Path, replies: list[str], origin: str, problems: int) -> None:
    services = build(kb, replies)
    events = list(services.mentoring.ask_stream(ADMIN, AskRequest(question="How do I structure the agenda?")))
    final = events[-1][1]
    assert final["origin"] == origin and final["generation"]["attempts"] == 2
    assert len(final["generation"]["problems"]) == problems
    assert all("repaired repaired" not in p for p in final["generation"]["problems"])
    assert len(fake(services).calls) == 2 and fake(services).calls[1][0] == "complete"

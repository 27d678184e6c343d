"""The polish policy: `never`, `always`, `auto` on the latest calibration (or the no-calibration rule), and
`polish: true` from a request; `companion eval calibrate` stores the rates `auto` reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.assistant.models import AskRequest, FeedbackRequest, GoalDraftRequest
from companion.assistant.policy import Calibration
from companion.container import Services
from tests.support.assistant import ADMIN, build, fake, good_goals

QUESTION = AskRequest(question="How do I structure the session agenda?")
ANSWER = "Time-box the agenda and use GROW [2]."


def _record(services: Services, task: str, rate: float) -> None:
    services.calibrations.record(
        Calibration(
            backend=services.llm.name,
            task=task,
            prompt_version=services.prompts.version(task),
            cases=10,
            passed=round(rate * 10),
            pass_rate=rate,
        )
    )


def test_never_answers_with_the_grounded_draft_without_calling_the_model(tmp_path: Path) -> None:
    services = build(
        tmp_path, [ANSWER], extra={"assistant": {"min_similarity": 0.05, "policy": {"ask": "never"}}}
    )
    result = services.mentoring.ask(ADMIN, QUESTION.model_copy(update={"polish": True}))
    assert result.origin == "grounded" and result.generation.attempts == 0 and result.citations
    assert "'never'" in result.generation.policy
    assert fake(services).calls == [], "not even 'try the model anyway' overrides never"


def test_auto_follows_the_latest_calibration_of_this_backend_and_prompt(tmp_path: Path) -> None:
    services = build(tmp_path, [ANSWER, ANSWER])
    _record(services, "ask", 0.2)
    low = services.mentoring.ask(ADMIN, QUESTION)
    assert low.origin == "grounded" and fake(services).calls == []
    assert "0.20 (2/10) < 0.50" in low.generation.policy
    _record(services, "ask", 0.8)  # the latest row counts
    high = services.mentoring.ask(ADMIN, QUESTION)
    assert high.origin == "model" and high.answer == ANSWER and len(fake(services).calls) == 1
    # a calibration of another prompt version does not count for this one
    services.calibrations.record(Calibration(services.llm.name, "goals", "other-prompt", 10, 10, 1.0))
    assert services.polish_policy.decide("goals", services.prompts.version("goals")).reason.startswith(
        "no calibration"
    )


@pytest.mark.parametrize(
    ("rule", "local", "calls"),
    [("call", True, True), ("skip", False, False), ("skip_local", True, False), ("skip_local", False, True)],
)
def test_auto_without_calibration(tmp_path: Path, rule: str, local: bool, calls: bool) -> None:
    services = build(
        tmp_path, [], extra={"assistant": {"min_similarity": 0.05, "auto_without_calibration": rule}}
    )
    services.polish_policy.local = local  # the backend kind is what the rule looks at
    assert services.polish_policy.decide("feedback", "v1").call is calls


def test_a_request_may_ask_for_the_model_when_auto_would_not(tmp_path: Path) -> None:
    services = build(tmp_path, [good_goals(1)], extra={"assistant": {"auto_without_calibration": "skip"}})
    request = GoalDraftRequest(aspiration="give short presentations on public speaking", max_goals=1)
    assert services.mentoring.draft_goals(ADMIN, request).origin == "grounded"
    assert fake(services).calls == []
    polished = services.mentoring.draft_goals(ADMIN, request.model_copy(update={"polish": True}))
    assert polished.origin == "model" and polished.generation.policy == "the request asked for the model"
    prompt = fake(services).calls[0][1][1].content
    assert "<draft>" in prompt and "public speaking" in prompt, "the model edits the composer's draft"


def test_a_failed_polish_leaves_the_draft_standing(tmp_path: Path) -> None:
    services = build(
        tmp_path, ["not json", "{still not"], extra={"assistant": {"policy": {"feedback": "always"}}}
    )
    draft = "You never listen to anyone in our meetings."
    grounded = services.mentoring.coach_feedback(ADMIN, FeedbackRequest(draft=draft), policy="never")
    polished = services.mentoring.coach_feedback(ADMIN, FeedbackRequest(draft=draft))
    assert polished.origin == "grounded" and polished.generation.attempts == 2
    assert polished.rewritten == grounded.rewritten and polished.questions == grounded.questions


def test_calibrate_stores_pass_rates_that_auto_then_uses(tmp_path: Path) -> None:
    services = build(tmp_path, [], extra={"assistant": {"auto_without_calibration": "call"}})
    fake(services).replies.extend(["not json"] * 2 + [""] * 2)  # the goals case fails, repair included
    found = services.evaluation.calibrate(suites=["goals", "ask"], limit=1)
    assert [(c.task, c.cases) for c in found] == [("goals", 1), ("ask", 1)]
    assert all(c.passed == 0 and c.pass_rate == 0.0 for c in found)
    latest = services.calibrations.latest(services.llm.name, "goals", services.prompts.version("goals"))
    assert latest is not None and latest.pass_rate == 0.0
    before = len(fake(services).calls)
    result = services.mentoring.draft_goals(ADMIN, GoalDraftRequest(aspiration="public speaking"))
    assert result.origin == "grounded" and len(fake(services).calls) == before, "auto now skips the model"

"""The assistant: goal drafting, session prep, feedback coaching and cited answers.

Each task: retrieve guidance -> the grounded composer builds the draft (`composer.py`, no model) -> the
policy decides whether the model polishes it (`policy.py`) -> the model's edit is validated, repaired
once -> else the draft stands. `origin` says which one answered: `model` or `grounded`. Every item carries
citations to the retrieved chunks.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from pydantic import Field, create_model

from companion.assistant import composer
from companion.assistant.composer import Encoder, fit_minutes
from companion.assistant.feedback_rules import changes_for, find_flags, rewrite_problems
from companion.assistant.generation import Attempts, Generator
from companion.assistant.grounding import EXCERPT_CHARS, Grounding
from companion.assistant.guard import PromptGuard, is_hostile
from companion.assistant.llm import Message
from companion.assistant.models import (
    AgendaItem,
    AskRequest,
    AskResponse,
    Change,
    DraftAgenda,
    DraftedGoal,
    DraftFeedback,
    DraftGoal,
    DraftGoals,
    FeedbackRequest,
    FeedbackResponse,
    GenerationInfo,
    GoalDraftRequest,
    GoalDraftResponse,
    SessionPrepRequest,
    SessionPrepResponse,
)
from companion.assistant.policy import Decision, PolishPolicy
from companion.identity.auth import Principal, Role
from companion.knowledge.keyword import tokenize
from companion.knowledge.retrieval import Retriever
from companion.records.service import RecordsService
from companion.settings import AssistantSettings

__all__ = ["EXCERPT_CHARS", "Grounding", "MentoringService", "fit_minutes"]

NOT_COVERED = "NOT COVERED"
_NOT_COPIED = "the {what} reads like instructions to the assistant, so the grounded draft does not quote it"
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class MentoringService:
    def __init__(
        self,
        *,
        retriever: Retriever,
        generator: Generator,
        records: RecordsService,
        settings: AssistantSettings,
        sentences: Encoder,
        policy: PolishPolicy,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.records = records
        self.settings = settings
        self.sentences = sentences
        self.policy = policy
        self.today = today

    # ---- shared ----------------------------------------------------------------------------------

    def ground(self, query: str, k: int | None = None) -> Grounding:
        return Grounding.of(self.retriever.retrieve(query=query, k=k or self.settings.k))

    def decide(self, task: str, polish: bool, override: str | None = None) -> Decision:
        return self.policy.decide(
            task, self.generator.prompts.version(task), polish=polish, override=override
        )

    def _info(
        self, task: str, attempts: Attempts[Any], notes: list[str], decision: Decision, draft_seconds: float
    ) -> GenerationInfo:
        return GenerationInfo(
            origin="model" if attempts.value is not None else "grounded",
            model=self.generator.llm.name,
            attempts=attempts.calls,
            problems=attempts.problems,
            prompt_version=self.generator.prompts.version(task),
            notes=notes,
            model_seconds=round(attempts.model_seconds, 3),
            policy=decision.reason,
            draft_seconds=round(draft_seconds, 3),
        )

    # ---- goals -----------------------------------------------------------------------------------

    def draft_goals(
        self, principal: Principal, request: GoalDraftRequest, *, policy: str | None = None
    ) -> GoalDraftResponse:
        mentee_id = request.mentee_id
        if mentee_id is not None or principal.role == Role.mentee:
            mentee_id = self.records.resolve_mentee(principal, mentee_id)
            self.records.check_access(principal, mentee_id)
        today = self.today()
        horizon = today + timedelta(weeks=request.horizon_weeks)
        started = time.perf_counter()
        grounding = self.ground(f"setting SMART goals: {request.aspiration} {request.context}")
        k = len(grounding.citations)
        drafted = composer.compose_goals(
            aspiration=request.aspiration,
            context=request.context,
            max_goals=request.max_goals,
            grounding=grounding,
            today=today,
            horizon=horizon,
        )
        draft_seconds = time.perf_counter() - started
        aspiration_words = set(tokenize(f"{request.aspiration} {request.context}"))

        def check(draft: DraftGoals) -> list[str]:
            problems = []
            if len(draft.goals) > request.max_goals:
                problems.append(f"give at most {request.max_goals} goals")
            seen: set[str] = set()
            for i, goal in enumerate(draft.goals, start=1):
                label = f"goal {i}"
                if _words(goal.statement) < 4:
                    problems.append(f"{label}: the statement must be a sentence of at least 4 words")
                if goal.statement.strip().lower() in seen:
                    problems.append(f"{label}: repeats another goal")
                seen.add(goal.statement.strip().lower())
                if aspiration_words and not aspiration_words & set(
                    tokenize(f"{goal.statement} {goal.measure}")
                ):
                    problems.append(f"{label}: has nothing to do with the mentee's aspiration")
                if not re.search(r"\d", goal.measure) or _words(goal.measure) < 2:
                    problems.append(f"{label}: the measure must count something, with a number")
                problems.extend(_date_problems(label, goal.target_date, today, horizon))
                if not goal.first_steps or any(_words(step) < 2 for step in goal.first_steps):
                    problems.append(f"{label}: give 1 to 3 first steps of at least 2 words each")
                problems.extend(_source_problems(label, goal.sources, k))
            return problems

        decision = self.decide("goals", request.polish, policy)
        attempts: Attempts[DraftGoals] = Attempts()
        if decision.call:
            draft_json = {
                "goals": [
                    {
                        "statement": g.statement,
                        "measure": g.measure,
                        "target_date": g.target_date.isoformat(),
                        "first_steps": g.first_steps,
                        "sources": [c.n for c in g.citations],
                    }
                    for g in drafted
                ]
            }
            attempts = self.generator.structured(
                task="goals",
                variables={
                    "aspiration": request.aspiration,
                    "context": request.context,
                    "max_goals": request.max_goals,
                    "today": today.isoformat(),
                    "horizon_date": horizon.isoformat(),
                    "excerpts": grounding.excerpts,
                    "draft": json.dumps(draft_json, ensure_ascii=False),
                },
                schema=_goals_schema(request.max_goals),
                check=check,
            )
        notes: list[str] = []
        if attempts.value is not None:
            goals = []
            for goal in attempts.value.goals:
                citations, attributed = grounding.cite(goal.sources, f"{goal.statement} {goal.measure}")
                if attributed:
                    notes.append(f"goal '{goal.statement[:40]}' gave no sources; cited the closest excerpt")
                goals.append(
                    DraftedGoal(
                        statement=goal.statement.strip(),
                        measure=goal.measure.strip(),
                        target_date=date.fromisoformat(goal.target_date),
                        first_steps=[s.strip() for s in goal.first_steps],
                        citations=citations,
                    )
                )
        else:
            goals = drafted
            if is_hostile(request.aspiration):
                notes.append(_NOT_COPIED.format(what="aspiration"))
        info = self._info("goals", attempts, notes, decision, draft_seconds)
        return GoalDraftResponse(
            mentee_id=mentee_id, goals=goals, origin=info.origin, generation=info, sources=grounding.citations
        )

    # ---- session prep ----------------------------------------------------------------------------

    def prepare_session(
        self, principal: Principal, request: SessionPrepRequest, *, policy: str | None = None
    ) -> SessionPrepResponse:
        mentee_id: int | None = None
        goals = request.goals
        notes_text = request.last_notes
        if request.mentee_id is not None or principal.role == Role.mentee:
            mentee_id = self.records.resolve_mentee(principal, request.mentee_id)
            self.records.check_access(principal, mentee_id)
            if goals is None:
                goals = [g.statement for g in self.records.list_goals(principal, mentee_id, status="active")]
            if notes_text is None:
                notes_text = self.records.latest_notes(principal, mentee_id)
        goals = [g.strip() for g in goals or [] if g.strip()]
        notes_text = (notes_text or "").strip()
        length = request.length_minutes
        started = time.perf_counter()
        grounding = self.ground(f"session agenda time-box GROW model: {' '.join(goals)} {notes_text[:300]}")
        k = len(grounding.citations)
        draft_items, draft_questions = composer.compose_agenda(
            goals=goals, notes=notes_text, length=length, grounding=grounding
        )
        draft_seconds = time.perf_counter() - started

        def check(draft: DraftAgenda) -> list[str]:
            problems = []
            if len(draft.items) < 2:
                problems.append("give at least 2 agenda items")
            titles = [item.title.strip().lower() for item in draft.items]
            if len(set(titles)) < len(titles):
                problems.append("two agenda items have the same title")
            for i, item in enumerate(draft.items, start=1):
                if _words(item.title) < 1 or _words(item.purpose) < 3:
                    problems.append(f"item {i}: needs a title and a purpose of at least 3 words")
                if item.minutes < 1:
                    problems.append(f"item {i}: minutes must be at least 1")
                problems.extend(_source_problems(f"item {i}", item.sources, k))
            total = sum(max(item.minutes, 0) for item in draft.items)
            if not length * 0.5 <= total <= length * 1.5:
                problems.append(f"the minutes add up to {total}; they must add up to {length}")
            if not draft.questions or any(_words(q) < 3 for q in draft.questions):
                problems.append("give 2 to 4 questions of at least 3 words each")
            return problems

        decision = self.decide("agenda", request.polish, policy)
        attempts: Attempts[DraftAgenda] = Attempts()
        if decision.call:
            draft_json = {
                "items": [
                    {
                        "title": i.title,
                        "minutes": i.minutes,
                        "purpose": i.purpose,
                        "sources": [c.n for c in i.citations],
                    }  # fmt: skip
                    for i in draft_items
                ],
                "questions": draft_questions,
            }
            attempts = self.generator.structured(
                task="agenda",
                variables={
                    "length_minutes": length,
                    "goals": goals,
                    "last_notes": notes_text,
                    "excerpts": grounding.excerpts,
                    "draft": json.dumps(draft_json, ensure_ascii=False),
                },
                schema=DraftAgenda,
                check=check,
            )
        notes: list[str] = []
        if attempts.value is not None:
            draft = attempts.value
            minutes = [item.minutes for item in draft.items]
            if sum(minutes) != length:
                notes.append(f"minutes rescaled from {sum(minutes)} to {length}")
                minutes = fit_minutes([float(m) for m in minutes], length)
            items = []
            for item, mins in zip(draft.items, minutes, strict=True):
                citations, attributed = grounding.cite(item.sources, f"{item.title} {item.purpose}")
                if attributed:
                    notes.append(f"item '{item.title[:40]}' gave no sources; cited the closest excerpt")
                items.append(
                    AgendaItem(
                        title=item.title.strip(),
                        minutes=mins,
                        purpose=item.purpose.strip(),
                        citations=citations,
                    )
                )
            questions = [_as_question(q) for q in draft.questions]
        else:
            items, questions = draft_items, draft_questions
            if any(is_hostile(g) for g in goals):
                notes.append(_NOT_COPIED.format(what="goal text"))
        info = self._info("agenda", attempts, notes, decision, draft_seconds)
        return SessionPrepResponse(
            mentee_id=mentee_id,
            length_minutes=length,
            items=items,
            questions=questions,
            goals_used=goals,
            notes_used=bool(notes_text),
            origin=info.origin,
            generation=info,
            sources=grounding.citations,
        )

    # ---- feedback coaching -----------------------------------------------------------------------

    def coach_feedback(
        self, principal: Principal, request: FeedbackRequest, *, policy: str | None = None
    ) -> FeedbackResponse:
        flags = find_flags(request.draft)
        started = time.perf_counter()
        grounding = self.ground(f"giving feedback situation behaviour impact next step: {request.draft}")
        k = len(grounding.citations)
        composed = composer.compose_feedback(
            draft=request.draft, context=request.context, situation=request.situation, impact=request.impact
        )
        draft_seconds = time.perf_counter() - started
        original = " ".join(request.draft.split()).lower()

        def check(draft: DraftFeedback) -> list[str]:
            problems = rewrite_problems(draft.rewritten)
            if _words(draft.rewritten) < 12:
                problems.append("the rewrite must be 2 to 5 full sentences")
            if " ".join(draft.rewritten.split()).lower() == original:
                problems.append("the rewrite is the same as the draft")
            if "[" in _MARKER.sub("", draft.rewritten):
                problems.append("the rewrite must not leave [bracketed] blanks")
            for part in ("situation", "behaviour", "impact", "next_step"):
                if _words(getattr(draft, part)) < 3:
                    problems.append(f"'{part}' must be a sentence of at least 3 words")
            problems.extend(_source_problems("the rewrite", draft.sources, k))
            return problems

        decision = self.decide("feedback", request.polish, policy)
        attempts: Attempts[DraftFeedback] = Attempts()
        context = " ".join(
            p
            for p in (
                request.context,
                _labelled("Situation", request.situation),
                _labelled("Impact", request.impact),
            )
            if p  # fmt: skip
        )
        if decision.call:
            draft_json = {
                "rewritten": composed.rewritten,
                "situation": composed.situation,
                "behaviour": composed.behaviour,
                "impact": composed.impact,
                "next_step": composed.next_step,
            }
            attempts = self.generator.structured(
                task="feedback",
                variables={
                    "draft": request.draft,
                    "context": context,
                    "flagged": [f"'{f.phrase}': {f.why}" for f in flags],
                    "excerpts": grounding.excerpts,
                    "draft_json": json.dumps(draft_json, ensure_ascii=False),
                },
                schema=DraftFeedback,
                check=check,
            )
        rule_changes = changes_for(flags)
        notes: list[str] = []
        if attempts.value is not None:
            d = attempts.value
            model_changes = [
                Change(what=c.what.strip(), why=c.why.strip()) for c in d.changes if c.what.strip()
            ]
            covered = " ".join(c.what.lower() for c in model_changes)
            changes = model_changes + [c for c in rule_changes if c.what.split("'")[1] not in covered]
            citations, attributed = grounding.cite(d.sources, d.rewritten)
            if attributed:
                notes.append("the rewrite gave no sources; cited the closest excerpt")
            parts = {
                "rewritten": d.rewritten.strip(),
                "situation": d.situation.strip(),
                "behaviour": d.behaviour.strip(),
                "impact": d.impact.strip(),
                "next_step": d.next_step.strip(),
            }
        else:
            parts = {
                "rewritten": composed.rewritten,
                "situation": composed.situation,
                "behaviour": composed.behaviour,
                "impact": composed.impact,
                "next_step": composed.next_step,
            }
            if is_hostile(request.draft):
                notes.append(_NOT_COPIED.format(what="draft"))
            kept = " ".join(composed.rewritten.split()) == " ".join(request.draft.split())
            changes = rule_changes + [
                Change(
                    what="Kept your wording; marked its situation, behaviour, impact and next step",
                    why="nothing in it judges the person or overstates, and it already ties an action to a "
                    "moment and its effect",
                )
                if kept
                else Change(
                    what="Structured as situation, behaviour, impact and next step",
                    why="feedback tied to a moment, an observable action and its effect can be acted on",
                )
            ]
            citations = grounding.safe_citations[:2]
        info = self._info("feedback", attempts, notes, decision, draft_seconds)
        return FeedbackResponse(
            original=request.draft,
            changes=changes,
            flagged=flags,
            questions=composed.questions,
            citations=citations,
            origin=info.origin,
            generation=info,
            **parts,
        )

    # ---- questions -------------------------------------------------------------------------------

    def ask(self, principal: Principal, request: AskRequest, *, policy: str | None = None) -> AskResponse:
        pool = self.answer_pool(request)
        if not self._covered(pool):
            return self._not_covered(request.question, pool.narrowed(None)[0])
        draft, grounding, decision, seconds = self._ask_draft(request, pool, policy)
        if not decision.call:
            return draft
        return self._polish_answer(request, grounding, draft, decision, seconds)

    def answer_pool(self, request: AskRequest) -> Grounding:
        """The sources to show (`k`) and, after them, the wider pool the composer picks sentences from."""
        k = request.k or self.settings.k
        extra = max(self.settings.answer_pool - k, 0)
        return Grounding.of(self.retriever.retrieve(query=request.question, k=k, extra=extra), shown=k)

    def ask_stream(
        self, principal: Principal, request: AskRequest, *, policy: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events: `sources`, then `draft` (the grounded answer, at once, with `polishing`: whether the
        model is being asked), then one `answer`: the model's
        polish when the policy called it and it passed validation, otherwise the draft again. No model
        text is sent before it has passed validation. With `fallback_on_error` off the model is asked
        before the stream starts, so a backend error can still answer 503/504."""
        pool = self.answer_pool(request)
        if not self._covered(pool):
            shown = pool.narrowed(None)[0]
            final = self._not_covered(request.question, shown)
            sources = {"sources": [c.model_dump() for c in shown.citations]}
            return iter([("sources", sources), ("answer", final.model_dump(mode="json"))])
        draft, grounding, decision, seconds = self._ask_draft(request, pool, policy)
        sources_event = ("sources", {"sources": [c.model_dump() for c in grounding.citations]})
        draft_event = ("draft", {**draft.model_dump(mode="json"), "polishing": decision.call})
        if decision.call and not self.generator.fallback_on_error:
            final = self._polish_answer(request, grounding, draft, decision, seconds)
            return iter([sources_event, draft_event, ("answer", final.model_dump(mode="json"))])

        def events() -> Iterator[tuple[str, dict[str, Any]]]:
            yield sources_event
            yield draft_event
            final = (
                self._polish_answer(request, grounding, draft, decision, seconds) if decision.call else draft
            )
            yield "answer", final.model_dump(mode="json")

        return events()

    def _ask_draft(
        self, request: AskRequest, pool: Grounding, policy: str | None
    ) -> tuple[AskResponse, Grounding, Decision, float]:
        """The composer's answer from the whole pool, and the grounding narrowed to the shown sources plus
        the pool chunks it cites (what the response lists and the model is shown)."""
        started = time.perf_counter()
        text = composer.compose_answer(
            request.question, pool, self.sentences, max_sentences=self.settings.answer_sentences
        )
        grounding, text = pool.narrowed(text)
        seconds = time.perf_counter() - started
        decision = self.decide("ask", request.polish, policy)
        attempts: Attempts[str] = Attempts()
        response = self._answer(request.question, grounding, attempts, text, decision, seconds)
        return response, grounding, decision, seconds

    def _polish_answer(
        self,
        request: AskRequest,
        grounding: Grounding,
        draft: AskResponse,
        decision: Decision,
        seconds: float,
    ) -> AskResponse:
        messages = self.generator.prompts.render(
            "ask", question=request.question, excerpts=grounding.excerpts, draft=draft.answer
        )
        check = self._answer_check(grounding, _ask_guard(messages, request.question, grounding, draft.answer))
        attempts = self.generator.text(messages=messages, check=check)
        return self._answer(request.question, grounding, attempts, draft.answer, decision, seconds)

    def _covered(self, grounding: Grounding) -> bool:
        best = max((c.dense_similarity or -1.0 for c in grounding.chunks), default=-1.0)
        return best >= self.settings.min_similarity

    def _not_covered(self, question: str, grounding: Grounding) -> AskResponse:
        best = max((c.dense_similarity or -1.0 for c in grounding.chunks), default=-1.0)
        return AskResponse(
            question=question,
            answer="The program guides do not cover this question. Ask your program admin, or rephrase it "
            "in terms of the mentoring program.",
            covered=False,
            citations=[],
            sources=grounding.citations,
            origin="grounded",
            generation=GenerationInfo(
                origin="grounded",
                model=self.generator.llm.name,
                attempts=0,
                problems=[f"no guide passage is close enough (best similarity {best:.2f})"],
                prompt_version=self.generator.prompts.version("ask"),
                policy="the guides do not cover the question, so the model is not asked",
            ),
        )

    def _answer_check(self, grounding: Grounding, guard: PromptGuard) -> Callable[[str], list[str]]:
        k = len(grounding.citations)
        excerpts = {
            c.n: set(tokenize(chunk.text))
            for c, chunk in zip(grounding.citations, grounding.chunks, strict=True)
        }
        share = self.settings.polish_support

        def check(text: str) -> list[str]:
            problems = guard.problems(text)
            if text.upper().startswith(NOT_COVERED):
                return problems
            markers = [int(m) for m in _MARKER.findall(text)]
            if not markers:
                problems.append("cite at least one excerpt with a marker like [1]")
            bad = sorted({m for m in markers if not 1 <= m <= k})
            if bad:
                problems.append(f"markers {bad} are not excerpt numbers (1-{k})")
            if _words(_MARKER.sub("", text)) < 5:
                problems.append("the answer is too short")
            sentences = [s.strip().lower() for s in _SENTENCE.split(text) if s.strip()]
            if len(sentences) - len(set(sentences)) >= 2:
                problems.append("the answer repeats itself")
            if markers:
                problems.extend(unsupported_sentences(text, excerpts, share=share))
            return problems

        return check

    def _answer(
        self,
        question: str,
        grounding: Grounding,
        attempts: Attempts[str],
        draft: str | None,
        decision: Decision,
        seconds: float,
    ) -> AskResponse:
        text = attempts.value
        info = self._info("ask", attempts, [], decision, seconds)
        if text is not None and text.upper().startswith(NOT_COVERED):
            return AskResponse(
                question=question,
                answer="The program guides do not cover this question.",
                covered=False,
                citations=[],
                sources=grounding.citations,
                origin="model",
                generation=info,
            )
        if text is None:
            text = draft
        if text is None:  # every passage found talks to the assistant: nothing can be quoted
            return AskResponse(
                question=question,
                answer="The guide passages found for this question cannot be quoted; ask your program admin.",
                covered=False,
                citations=[],
                sources=grounding.citations,
                origin="grounded",
                generation=info,
            )
        used = sorted({int(m) for m in _MARKER.findall(text)})
        return AskResponse(
            question=question,
            answer=text,
            covered=True,
            citations=[grounding.citations[n - 1] for n in used if 1 <= n <= len(grounding.citations)],
            sources=grounding.citations,
            origin=info.origin,
            generation=info,
        )


# ---- helpers --------------------------------------------------------------------------


def unsupported_sentences(text: str, excerpts: dict[int, set[str]], *, share: float) -> list[str]:
    """Problems for the answer's sentences that no excerpt grounds: at least `share` of a sentence's content
    words must occur in one excerpt, or in the excerpts the sentence cites taken together (a polish may
    reword the draft, not add claims of its own)."""
    problems = []
    for number, sentence in enumerate(_SENTENCE.split(text.strip()), start=1):
        words = set(tokenize(_MARKER.sub("", sentence)))
        if len(words) < 3:
            continue
        cited = set().union(*(excerpts.get(int(m), set()) for m in _MARKER.findall(sentence)))
        best = max((len(words & terms) / len(words) for terms in [cited, *excerpts.values()]), default=0.0)
        if best < share:  # the problem names the sentence by number: unchecked text is never echoed
            problems.append(f"sentence {number} says what no excerpt says; quote or closely reword them")
    return problems


def _ask_guard(messages: list[Message], question: str, grounding: Grounding, draft: str) -> PromptGuard:
    """The draft is built from the excerpts, so a reply may keep it: it is data the reply may repeat."""
    excerpts = grounding.excerpts
    untrusted = [question, draft, *(e["text"] for e in excerpts), *(e["citation"] for e in excerpts)]
    return PromptGuard([m.content for m in messages], untrusted)


def _goals_schema(max_goals: int) -> type[DraftGoals]:
    """DraftGoals with the array bound set to what was asked, so constrained decoding stops there."""
    return create_model(
        "DraftGoals",
        __base__=DraftGoals,
        goals=(list[DraftGoal], Field(min_length=1, max_length=max_goals)),
    )


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", text))


def _source_problems(label: str, sources: list[int], k: int) -> list[str]:
    bad = [n for n in sources if not 1 <= n <= k]
    return [f"{label}: sources {bad} are not excerpt numbers (1-{k})"] if bad else []


def _date_problems(label: str, value: str, today: date, horizon: date) -> list[str]:
    try:
        when = date.fromisoformat(value)
    except ValueError:
        return [f"{label}: target_date must be a date as YYYY-MM-DD"]
    if not today < when <= horizon:
        return [f"{label}: target_date must be after {today} and no later than {horizon}"]
    return []


def _as_question(text: str) -> str:
    text = text.strip()
    return text if text.endswith("?") else text.rstrip(".!") + "?"


def _labelled(label: str, text: str) -> str:
    text = " ".join(text.split())
    return f"{label}: {text}." if text and not is_hostile(text) else ""

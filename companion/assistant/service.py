"""The assistant: goal drafting, session prep, feedback coaching and cited answers.

Each task: retrieve guidance -> prompt -> model -> validate -> one repair -> else a grounded fallback
(`origin: "fallback"`). Every item carries citations to the retrieved chunks.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import Field, create_model

from companion.assistant.feedback_rules import changes_for, find_flags, rewrite_problems, strip_flagged
from companion.assistant.generation import Attempts, Generator
from companion.assistant.guard import PromptGuard, is_hostile
from companion.assistant.llm import Message
from companion.assistant.models import (
    AgendaItem,
    AskRequest,
    AskResponse,
    Change,
    Citation,
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
from companion.errors import BackendTimeout, BackendUnavailable
from companion.identity.auth import Principal, Role
from companion.knowledge.keyword import tokenize
from companion.knowledge.retrieval import Retriever
from companion.knowledge.schemas import RetrievedChunk
from companion.records.service import RecordsService
from companion.settings import AssistantSettings

EXCERPT_CHARS = 1200
NOT_COVERED = "NOT COVERED"
_NOT_COPIED = "the {what} reads like instructions to the assistant, so the grounded draft does not quote it"
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Grounding:
    chunks: list[RetrievedChunk]
    citations: list[Citation]

    @property
    def hostile(self) -> set[int]:
        """Indexes of chunks carrying text addressed to the assistant: the model still sees them (fenced as
        data), but no fallback quotes or cites them."""
        return {i for i, chunk in enumerate(self.chunks) if is_hostile(chunk.text)}

    @property
    def safe_citations(self) -> list[Citation]:
        hostile = self.hostile
        return [c for i, c in enumerate(self.citations) if i not in hostile]

    @property
    def excerpts(self) -> list[dict[str, Any]]:
        return [
            {"n": c.n, "citation": c.citation, "text": chunk.text[:EXCERPT_CHARS]}
            for c, chunk in zip(self.citations, self.chunks, strict=True)
        ]

    def cite(self, numbers: list[int], text: str) -> tuple[list[Citation], bool]:
        """Citations for an item: the excerpt numbers the model gave, or else the excerpt that shares the
        most words with the item. The flag says whether it had to be attributed that way."""
        chosen = [self.citations[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(self.citations)]
        if chosen or not self.citations:
            return chosen, False
        return [self.citations[self.best_match(text)]], True

    def best_match(self, text: str) -> int:
        words = set(tokenize(text))
        hostile = self.hostile
        scores = [len(words & set(tokenize(chunk.text))) for chunk in self.chunks]
        return max(range(len(scores)), key=lambda i: (i not in hostile, scores[i], -i))


class MentoringService:
    def __init__(
        self,
        *,
        retriever: Retriever,
        generator: Generator,
        records: RecordsService,
        settings: AssistantSettings,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.records = records
        self.settings = settings
        self.today = today

    # ---- shared ----------------------------------------------------------------------------------

    def ground(self, query: str, k: int | None = None) -> Grounding:
        chunks = self.retriever.retrieve(query=query, k=k or self.settings.k)
        citations = [
            Citation(
                n=i,
                chunk_id=c.id,
                source=c.source,
                heading=c.heading,
                citation=c.citation,
                start=c.start,
                end=c.end,
            )
            for i, c in enumerate(chunks, start=1)
        ]
        return Grounding(chunks, citations)

    def _info(self, task: str, attempts: Attempts[Any], notes: list[str]) -> GenerationInfo:
        return GenerationInfo(
            origin="model" if attempts.value is not None else "fallback",
            model=self.generator.llm.name,
            attempts=attempts.calls,
            problems=attempts.problems,
            prompt_version=self.generator.prompts.version(task),
            notes=notes,
            model_seconds=round(attempts.model_seconds, 3),
        )

    # ---- goals -----------------------------------------------------------------------------------

    def draft_goals(self, principal: Principal, request: GoalDraftRequest) -> GoalDraftResponse:
        mentee_id = request.mentee_id
        if mentee_id is not None or principal.role == Role.mentee:
            mentee_id = self.records.resolve_mentee(principal, mentee_id)
            self.records.check_access(principal, mentee_id)
        today = self.today()
        horizon = today + timedelta(weeks=request.horizon_weeks)
        grounding = self.ground(f"setting SMART goals: {request.aspiration} {request.context}")
        k = len(grounding.citations)
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

        attempts = self.generator.structured(
            task="goals",
            variables={
                "aspiration": request.aspiration,
                "context": request.context,
                "max_goals": request.max_goals,
                "today": today.isoformat(),
                "horizon_date": horizon.isoformat(),
                "excerpts": grounding.excerpts,
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
            goals = _fallback_goals(request, grounding, today, horizon)
            if is_hostile(request.aspiration):
                notes.append(_NOT_COPIED.format(what="aspiration"))
        return GoalDraftResponse(
            mentee_id=mentee_id,
            goals=goals,
            origin="model" if attempts.value is not None else "fallback",
            generation=self._info("goals", attempts, notes),
            sources=grounding.citations,
        )

    # ---- session prep ----------------------------------------------------------------------------

    def prepare_session(self, principal: Principal, request: SessionPrepRequest) -> SessionPrepResponse:
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
        grounding = self.ground(f"session agenda time-box GROW model: {' '.join(goals)} {notes_text[:300]}")
        k = len(grounding.citations)

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

        attempts = self.generator.structured(
            task="agenda",
            variables={
                "length_minutes": length,
                "goals": goals,
                "last_notes": notes_text,
                "excerpts": grounding.excerpts,
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
            items, questions = _fallback_agenda(goals, notes_text, length, grounding)
            if any(is_hostile(g) for g in goals):
                notes.append(_NOT_COPIED.format(what="goal text"))
        return SessionPrepResponse(
            mentee_id=mentee_id,
            length_minutes=length,
            items=items,
            questions=questions,
            goals_used=goals,
            notes_used=bool(notes_text),
            origin="model" if attempts.value is not None else "fallback",
            generation=self._info("agenda", attempts, notes),
            sources=grounding.citations,
        )

    # ---- feedback coaching -----------------------------------------------------------------------

    def coach_feedback(self, principal: Principal, request: FeedbackRequest) -> FeedbackResponse:
        flags = find_flags(request.draft)
        grounding = self.ground(f"giving feedback situation behaviour impact next step: {request.draft}")
        k = len(grounding.citations)
        original = " ".join(request.draft.split()).lower()

        def check(draft: DraftFeedback) -> list[str]:
            problems = rewrite_problems(draft.rewritten)
            if _words(draft.rewritten) < 12:
                problems.append("the rewrite must be 2 to 5 full sentences")
            if " ".join(draft.rewritten.split()).lower() == original:
                problems.append("the rewrite is the same as the draft")
            for part in ("situation", "behaviour", "impact", "next_step"):
                if _words(getattr(draft, part)) < 3:
                    problems.append(f"'{part}' must be a sentence of at least 3 words")
            problems.extend(_source_problems("the rewrite", draft.sources, k))
            return problems

        attempts = self.generator.structured(
            task="feedback",
            variables={
                "draft": request.draft,
                "context": request.context,
                "flagged": [f"'{f.phrase}': {f.why}" for f in flags],
                "excerpts": grounding.excerpts,
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
            parts = _fallback_feedback(request.draft)
            if is_hostile(request.draft):
                notes.append(_NOT_COPIED.format(what="draft"))
            changes = rule_changes + [
                Change(
                    what="Structured as situation, behaviour, impact and next step",
                    why="feedback tied to a moment, an observable action and its effect can be acted on; "
                    "fill in the bracketed parts with what you saw",
                )
            ]
            citations = grounding.safe_citations[:2] or grounding.citations[:2]
        return FeedbackResponse(
            original=request.draft,
            changes=changes,
            flagged=flags,
            citations=citations,
            origin="model" if attempts.value is not None else "fallback",
            generation=self._info("feedback", attempts, notes),
            **parts,
        )

    # ---- questions -------------------------------------------------------------------------------

    def ask(self, principal: Principal, request: AskRequest) -> AskResponse:
        grounding = self.ground(request.question, request.k)
        if not self._covered(grounding):
            return self._not_covered(request.question, grounding)
        messages = self.generator.prompts.render(
            "ask", question=request.question, excerpts=grounding.excerpts
        )
        check = self._answer_check(grounding, _ask_guard(messages, request.question, grounding))
        attempts = self.generator.text(messages=messages, check=check)
        return self._answer(request.question, grounding, attempts)

    def ask_stream(self, principal: Principal, request: AskRequest) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events: `sources`, then `token`s, then one `answer` (the validated, final answer: it replaces the
        streamed text when a repair or the fallback was needed). Backend errors before the first token
        raise here, so the route can still answer 503/504."""
        grounding = self.ground(request.question, request.k)
        sources_event = ("sources", {"sources": [c.model_dump() for c in grounding.citations]})
        if not self._covered(grounding):
            final = self._not_covered(request.question, grounding)
            return iter([sources_event, ("answer", final.model_dump(mode="json"))])
        messages = self.generator.prompts.render(
            "ask", question=request.question, excerpts=grounding.excerpts
        )
        llm = self.generator.llm
        guard = _ask_guard(messages, request.question, grounding)
        check = self._answer_check(grounding, guard)
        started = time.perf_counter()
        tokens = llm.stream(messages)
        first: str | None = None
        failure: str | None = None
        try:
            first = next(tokens, None)
        except (BackendUnavailable, BackendTimeout) as exc:
            if not self.generator.fallback_on_error:
                raise
            failure = f"model unavailable: {exc.message}"

        def events() -> Iterator[tuple[str, dict[str, Any]]]:
            try:
                yield from answer_events()
            finally:
                close = getattr(tokens, "close", None)
                if close is not None:  # frees the model whether the reader finished, broke off or left
                    close()

        def answer_events() -> Iterator[tuple[str, dict[str, Any]]]:
            yield sources_event
            attempts: Attempts[str] = Attempts(calls=1)
            if failure:
                attempts.problems.append(failure)
                yield "answer", self._answer(request.question, grounding, attempts).model_dump(mode="json")
                return
            # Tokens are shown a few words late: a reply that starts quoting the prompt or copying an
            # injected marker is cut off before any of that text is sent.
            text, shown, refused = "", 0, False
            try:
                for token in itertools.chain([first] if first else [], tokens):
                    text += token
                    if guard.problems(text):
                        refused = True
                        break
                    safe = guard.safe_prefix(text)
                    if safe > shown:
                        yield "token", {"text": text[shown:safe]}
                        shown = safe
            except (BackendUnavailable, BackendTimeout) as exc:
                attempts.problems.append(f"model failed mid-stream: {exc.message}")
                yield "answer", self._answer(request.question, grounding, attempts).model_dump(mode="json")
                return
            close = getattr(tokens, "close", None)
            if close is not None:  # the model is free before the repair call below asks for it
                close()
            if not refused and len(text) > shown:
                yield "token", {"text": text[shown:]}
            attempts.model_seconds = time.perf_counter() - started
            text = text.strip()
            problems = check(text)
            if not problems:
                attempts.value = text
            else:
                attempts.problems.extend(f"reply: {p}" for p in problems)
                retry = self.generator.text(
                    messages=self.generator.repair_messages(messages, text, problems), check=check, tries=1
                )
                attempts.calls += retry.calls
                attempts.model_seconds += retry.model_seconds
                attempts.problems.extend(p.replace("reply:", "repaired reply:", 1) for p in retry.problems)
                attempts.value = retry.value
            yield "answer", self._answer(request.question, grounding, attempts).model_dump(mode="json")

        return events()

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
            origin="fallback",
            generation=GenerationInfo(
                origin="fallback",
                model=self.generator.llm.name,
                attempts=0,
                problems=[f"no guide passage is close enough (best similarity {best:.2f})"],
                prompt_version=self.generator.prompts.version("ask"),
            ),
        )

    def _answer_check(self, grounding: Grounding, guard: PromptGuard) -> Callable[[str], list[str]]:
        k = len(grounding.citations)

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
            return problems

        return check

    def _answer(self, question: str, grounding: Grounding, attempts: Attempts[str]) -> AskResponse:
        text = attempts.value
        info = self._info("ask", attempts, [])
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
            text = _extractive_answer(question, grounding)
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


# ---- helpers and fallbacks --------------------------------------------------------------------------


def _ask_guard(messages: list[Message], question: str, grounding: Grounding) -> PromptGuard:
    excerpts = grounding.excerpts
    untrusted = [question, *(e["text"] for e in excerpts), *(e["citation"] for e in excerpts)]
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


def fit_minutes(weights: list[float], total: int) -> list[int]:
    """Whole minutes proportional to `weights`, each at least 1, adding up to exactly `total`
    (largest-remainder rounding)."""
    n = len(weights)
    if n == 0:
        return []
    if total < n:
        raise ValueError("fewer minutes than items")
    positive = [max(w, 0.0) for w in weights]
    scale = sum(positive) or float(n)
    spare = total - n  # every item gets 1 minute, the rest is shared by weight
    shares = [(w if sum(positive) else 1.0) / scale * spare for w in positive]
    minutes = [1 + int(s) for s in shares]
    order = sorted(range(n), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for i in order[: total - sum(minutes)]:
        minutes[i] += 1
    return minutes


def _core_of(aspiration: str) -> str:
    if is_hostile(aspiration):
        return "Make progress on my development goal"
    core = aspiration.strip().rstrip(".!?")
    core = re.sub(r"^(i\s+(want|would like|'d like|hope|need)\s+to|to)\s+", "", core, flags=re.I)
    return core[:1].upper() + core[1:] if core else "Make progress on my development goal"


def _fallback_goals(
    request: GoalDraftRequest, grounding: Grounding, today: date, horizon: date
) -> list[DraftedGoal]:
    core = _core_of(request.aspiration)
    midpoint = today + (horizon - today) / 2
    safe = grounding.safe_citations
    read = [f"Read the guidance in {safe[0].citation}"] if safe else []
    goals = [
        DraftedGoal(
            statement=f"{core}, showing clear progress by {horizon.isoformat()}.",
            measure="Complete at least 3 concrete practice attempts toward this goal, each noted with what "
            "went well and what to change.",
            target_date=horizon,
            first_steps=[
                "Agree with your mentor what 'done' looks like for this goal",
                "Schedule the first practice attempt within the next two weeks",
                *read,
            ][:3],
            citations=grounding.cite([], f"SMART goal measurable time-bound {core}")[0],
        )
    ]
    if request.max_goals >= 2:
        goals.append(
            DraftedGoal(
                statement=f"Reach a first milestone on '{core[:80]}' by {midpoint.isoformat()} and review it "
                "with your mentor.",
                measure="1 milestone reviewed with your mentor, with 2 lessons written down.",
                target_date=midpoint,
                first_steps=["Pick the milestone and write it down", "Book the review in a session"],
                citations=grounding.cite([], f"review goals progress milestone {core}")[0],
            )
        )
    return goals


def _fallback_agenda(
    goals: list[str], notes: str, length: int, grounding: Grounding
) -> tuple[list[AgendaItem], list[str]]:
    goals = [g for g in goals if not is_hostile(g)]  # never quote text addressed to the assistant
    checkin = ("Check-in and wins since last time", 1.0, "Share what went well since you last met.")
    plan: list[tuple[str, float, str]] = [checkin]
    if notes:
        purpose = "Go through the actions agreed last time: done, in progress or blocked."
        plan.append(("Review actions from last session", 1.5, purpose))
    for goal in goals[:3]:
        purpose = f"Where things stand on '{goal[:80]}', and what is getting in the way."
        plan.append((f"Goal: {goal[:60]}", 4.5 / min(len(goals), 3), purpose))
    if not goals:
        plan.append(("Clarify goals for this cycle", 4.5, "Agree on one to three SMART goals to work on."))
    plan.append(("Options and way forward", 2.0, "Explore options for the next steps and choose one to try."))
    plan.append(("Commitments and close", 1.0, "Agree who does what before the next session."))
    if length < len(plan):
        plan = plan[:1] + plan[-1:]
    minutes = fit_minutes([w for _, w, _ in plan], length)
    items = [
        AgendaItem(title=t, minutes=m, purpose=p, citations=grounding.cite([], f"session agenda {t} {p}")[0])
        for (t, _, p), m in zip(plan, minutes, strict=True)
    ]
    questions = [
        f"What is the smallest next step on '{g[:60]}', and what might get in the way?" for g in goals[:2]
    ]
    if notes:
        questions.append("Which actions from last time did I finish, and what did I learn from the others?")
    questions.append("What support would help me most before our next session?")
    return items, questions[:4]


def _fallback_feedback(draft: str) -> dict[str, str]:
    observed = ("" if is_hostile(draft) else strip_flagged(draft)) or "[what you observed]"
    situation = "[when and where it happened: the meeting, task or date]"
    impact = "[one concrete effect on the work, the team or the person]"
    next_step = "[one specific thing to try next time, and the support you offer]"
    return {
        "rewritten": f"In {situation}, I noticed this: {observed} The effect was {impact}. "
        f"Next time, could we try {next_step}? I'm glad to help with it.",
        "situation": situation,
        "behaviour": f"What was observed: {observed}",
        "impact": impact,
        "next_step": next_step,
    }


def _extractive_answer(question: str, grounding: Grounding) -> str:
    """Fallback answer: the guide sentences that share the most words with the question, each cited."""
    wanted = set(tokenize(question))
    scored: list[tuple[int, int, int, str]] = []
    hostile = grounding.hostile
    for n, chunk in enumerate(grounding.chunks, start=1):
        if n - 1 in hostile:
            continue  # a chunk that talks to the assistant is never quoted
        body = re.sub(r"^#+\s.*$", "", chunk.text, flags=re.M)
        for position, sentence in enumerate(_SENTENCE.split(" ".join(body.split()))):
            overlap = len(wanted & set(tokenize(sentence)))
            if overlap and _words(sentence) >= 5:
                scored.append((overlap, -n, -position, sentence.strip()))
    best = sorted(scored, reverse=True)[:3]
    if not best:
        safe = grounding.safe_citations
        if not safe:
            return "The guide passages found for this question cannot be quoted; ask your program admin."
        return f"See the guide section {safe[0].citation} [{safe[0].n}]."
    return " ".join(f"{sentence} [{-neg_n}]" for _, neg_n, _, sentence in best)

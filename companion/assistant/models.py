"""Models of the assistant: what the model is asked to fill (`Draft*`, every array bounded so constrained
decoding stays finite) and what the API returns (every generated item carries its citations)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from companion.schemas import MAX_DB_ID

Origin = Literal["model", "grounded"]


class Citation(BaseModel):
    n: int = Field(description="Marker number used in this response, e.g. [1].")
    chunk_id: str
    source: str
    heading: str
    citation: str = Field(description="Readable: 'source § heading path'.")
    start: int
    end: int


class GenerationInfo(BaseModel):
    origin: Origin = Field(
        description="`model`: the model's polish of the grounded draft passed validation; `grounded`: the "
        "draft composed from the inputs and the retrieved guidance, without the model or after its reply "
        "failed validation."
    )
    model: str = Field(description="Backend that was asked.")
    attempts: int = Field(
        description="Model calls made (0 when the policy did not call it, 1, or 2 after a repair)."
    )
    problems: list[str] = Field(default_factory=list, description="Why a reply was repaired or replaced.")
    prompt_version: str = Field(description="Hash of the prompt template used.")
    notes: list[str] = Field(default_factory=list, description="Adjustments made to the model's output.")
    model_seconds: float = Field(0.0, description="Time spent waiting for the model.")
    policy: str = Field("", description="Why the model was or was not asked to polish the draft.")
    draft_seconds: float = Field(0.0, description="Time spent composing the grounded draft.")


# ---- model-facing drafts --------------------------------------------------------------------------


class DraftGoal(BaseModel):
    statement: str = Field(max_length=200)
    measure: str = Field(max_length=160)
    target_date: str = Field(max_length=10, description="YYYY-MM-DD")
    first_steps: list[Annotated[str, Field(max_length=120)]] = Field(max_length=3)
    sources: list[int] = Field(max_length=3)


class DraftGoals(BaseModel):
    goals: list[DraftGoal] = Field(min_length=1, max_length=5)


class DraftAgendaItem(BaseModel):
    title: str = Field(max_length=80)
    minutes: int
    purpose: str = Field(max_length=200)
    sources: list[int] = Field(max_length=3)


class DraftAgenda(BaseModel):
    items: list[DraftAgendaItem] = Field(min_length=1, max_length=8)
    questions: list[Annotated[str, Field(max_length=160)]] = Field(max_length=5)


class DraftChange(BaseModel):
    what: str = Field(max_length=120)
    why: str = Field(max_length=200)


class DraftFeedback(BaseModel):
    rewritten: str = Field(max_length=600)
    situation: str = Field(max_length=200)
    behaviour: str = Field(max_length=200)
    impact: str = Field(max_length=200)
    next_step: str = Field(max_length=200)
    changes: list[DraftChange] = Field(max_length=5)
    sources: list[int] = Field(max_length=3)


# ---- API ----------------------------------------------------------------------------------------


class GoalDraftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee_id: int | None = Field(
        None, ge=1, le=MAX_DB_ID, description="Mentee (user id). Default: the caller, if a mentee."
    )
    aspiration: str = Field(min_length=3, max_length=1000, description="What the mentee wants to achieve.")
    context: str = Field("", max_length=2000, description="Role, constraints, what was tried.")
    max_goals: int = Field(3, ge=1, le=5, description="At most this many goals.")
    horizon_weeks: int = Field(12, ge=2, le=52, description="Latest target date, in weeks from today.")
    polish: bool = Field(
        False, description="Ask the model to polish the grounded draft even when the `auto` policy would not."
    )


class DraftedGoal(BaseModel):
    statement: str
    measure: str
    target_date: date
    first_steps: list[str]
    citations: list[Citation]


class GoalDraftResponse(BaseModel):
    mentee_id: int | None
    goals: list[DraftedGoal]
    origin: Origin
    generation: GenerationInfo
    sources: list[Citation] = Field(description="Every guide chunk retrieved as grounding.")


class SessionPrepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee_id: int | None = Field(
        None, ge=1, le=MAX_DB_ID, description="Mentee (user id). Default: the caller, if a mentee."
    )
    length_minutes: int = Field(60, ge=15, le=180, description="Session length; agenda minutes add up to it.")
    goals: list[str] | None = Field(
        None, max_length=10, description="Goals to prepare for. Default: the mentee's saved active goals."
    )
    last_notes: str | None = Field(
        None, max_length=5000, description="Notes of the last session. Default: the latest stored session's."
    )
    polish: bool = Field(
        False, description="Ask the model to polish the grounded draft even when the `auto` policy would not."
    )


class AgendaItem(BaseModel):
    title: str
    minutes: int
    purpose: str
    citations: list[Citation]


class SessionPrepResponse(BaseModel):
    mentee_id: int | None
    length_minutes: int
    items: list[AgendaItem]
    questions: list[str]
    goals_used: list[str]
    notes_used: bool
    origin: Origin
    generation: GenerationInfo
    sources: list[Citation]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    draft: str = Field(min_length=5, max_length=4000, description="The feedback as the mentor would say it.")
    context: str = Field("", max_length=2000, description="What happened, who it is for.")
    situation: str = Field(
        "", max_length=500, description="When and where it happened (the answer to the coach's question)."
    )
    impact: str = Field(
        "", max_length=500, description="The effect it had (the answer to the coach's question)."
    )
    polish: bool = Field(
        False, description="Ask the model to polish the grounded draft even when the `auto` policy would not."
    )


class Flag(BaseModel):
    kind: Literal["absolute", "character", "vague", "sarcasm", "intent", "rhetorical", "label"]
    phrase: str
    why: str


class Change(BaseModel):
    what: str
    why: str


class FeedbackResponse(BaseModel):
    original: str
    rewritten: str
    situation: str
    behaviour: str
    impact: str
    next_step: str
    changes: list[Change]
    flagged: list[Flag] = Field(description="Problems found in the draft by rules.")
    questions: list[str] = Field(
        default_factory=list,
        description="What the coach needs to know to finish the rewrite (the situation, the impact); answer "
        "them in `situation` / `impact` and coach again.",
    )
    citations: list[Citation]
    origin: Origin
    generation: GenerationInfo


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3, max_length=1000)
    k: int | None = Field(None, ge=1, le=20, description="Guide chunks to ground the answer on.")
    stream: bool = Field(
        False, description="Stream server-sent events: the sources, the grounded draft, then the answer."
    )
    polish: bool = Field(
        False, description="Ask the model to polish the grounded draft even when the `auto` policy would not."
    )


class AskResponse(BaseModel):
    question: str
    answer: str = Field(description="Text with [n] markers; each n is in `citations`.")
    covered: bool = Field(description="False when the guides do not cover the question.")
    citations: list[Citation] = Field(description="The chunks the answer cites, by marker number.")
    sources: list[Citation] = Field(description="Every chunk retrieved.")
    origin: Origin
    generation: GenerationInfo

"""Response models of the eval runs, results, labels and comparisons (API and CLI `--json`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from companion.schemas import UtcDateTime


class MetricValue(BaseModel):
    value: float = Field(description="0 (worst) to 1 (best).")
    reason: str
    gate: bool = Field(description="Counted in the case score (informational metrics are not).")


class SuiteSummary(BaseModel):
    cases: int
    score: float = Field(description="Mean case score.")
    pass_rate: float = Field(description="Share of cases whose score reached the pass threshold.")
    metrics: dict[str, float] = Field(description="Mean of each metric over the suite's cases.")
    model_called: int = Field(0, description="Cases in which the policy asked the model to polish the draft.")
    validity: float | None = Field(
        None, description="Model-pass rate: share of the cases that called the model whose reply passed."
    )
    quality_grounded: float | None = Field(
        None, description="Mean quality of the grounded drafts alone (the composer, no model)."
    )
    quality_final: float | None = Field(None, description="Mean quality of the final outputs.")


class EvalRunOut(BaseModel):
    id: int
    created_at: UtcDateTime  # SQLite returns naive UTC times
    suites: list[str]
    case_limit: int | None
    model: str
    prompt_versions: dict[str, str]
    score: float = Field(description="Mean of the suite scores.")
    pass_rate: float
    cases: int
    seconds: float
    note: str
    summary: dict[str, SuiteSummary]
    skipped: dict[str, str] = Field(default_factory=dict, description="Suites not run, and why.")


class EvalResultOut(BaseModel):
    id: int
    run_id: int
    suite: str
    case_id: str
    task: str
    score: float
    passed: bool
    origin: str
    seconds: float
    metrics: dict[str, MetricValue]
    labels: list[LabelOut] = Field(default_factory=list)


class EvalResultTrace(EvalResultOut):
    inputs: dict[str, Any]
    context: list[dict[str, Any]] = Field(description="The chunks retrieved for this case, with their text.")
    output: dict[str, Any]


class JudgeAgreement(BaseModel):
    labelled: int = Field(description="Results with an admin label and a judge score.")
    agreement: float | None = Field(description="Share where the judge (score >= 0.5) agrees with the label.")


class EvalRunDetail(BaseModel):
    run: EvalRunOut
    settings: dict[str, Any]
    results: list[EvalResultOut]
    judge: JudgeAgreement


class CaseChange(BaseModel):
    suite: str
    case_id: str
    before: float
    after: float
    delta: float
    passed_before: bool
    passed_after: bool
    metrics: list[str] = Field(description="Metrics that moved, with the new reason.")
    result_a: int
    result_b: int


class CompareReport(BaseModel):
    a: int
    b: int
    score_delta: float
    suites: dict[str, float] = Field(description="Per suite: score of b minus score of a.")
    regressions: list[CaseChange]
    improvements: list[CaseChange]
    unchanged: int
    only_in_a: list[str]
    only_in_b: list[str]
    prompt_changes: dict[str, list[str | None]] = Field(description="Prompts whose hash differs: [a, b].")


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    good: bool = Field(description="Whether the output is good enough to show a user.")
    note: str = Field("", max_length=2000, description="Why.")


class LabelOut(BaseModel):
    id: int
    result_id: int
    user_id: int | None
    good: bool
    note: str
    created_at: UtcDateTime  # SQLite returns naive UTC times


EvalResultOut.model_rebuild()
EvalResultTrace.model_rebuild()

"""What the API, the pages and the CLI show of a job."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from companion.schemas import UtcDateTime


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = frozenset({JobStatus.done, JobStatus.failed, JobStatus.cancelled})


class JobProgress(BaseModel):
    done: int = Field(description="Steps finished (files, rows, cases).")
    total: int | None = Field(description="Steps in all; null until the job knows.")
    message: str = Field(description="What the job is doing now, or how it ended.")
    percent: int | None = Field(description="done / total as a whole percentage; null without a total.")


class JobOut(BaseModel):
    id: str
    kind: str = Field(description="ingest_upload, reingest, ingest_sample, people_import, eval_run, cohort.")
    title: str = Field(description="A short description for people.")
    status: JobStatus
    progress: JobProgress
    result: dict[str, Any] | None = Field(description="What the work returned (its report), once done.")
    error: str | None = Field(description="Why it failed or was cancelled.")
    started_by: str = Field(description="Name of the user who started it ('' for a scheduled job).")
    attempts: int = Field(description="Times it was started (more than 1 after an interruption).")
    cancel_requested: bool
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class EvalRunRequest(BaseModel):
    """An eval run to start in the background (what `companion eval run` takes)."""

    suites: list[str] = Field(default_factory=list, max_length=20, description="Suites to run (empty: all).")
    limit: int | None = Field(None, ge=1, le=100000, description="At most this many cases per suite.")
    judge: bool | None = Field(None, description="Grade with the LLM judge too (null: the setting).")
    backend: str | None = Field(
        None, max_length=20, description="Chat backend: local, openai or fake (null: the configured one)."
    )
    note: str = Field("", max_length=500, description="A note stored with the run.")

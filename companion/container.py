"""The only wiring: builds the services from settings (the FastAPI dependencies are in `api/deps.py`).

Tests swap backends through settings (fake embeddings, in-memory store, temp database) or through
`app.dependency_overrides[get_services]`.
"""

from __future__ import annotations

from functools import cached_property

from companion.assistant.generation import Generator
from companion.assistant.llm import ChatModel, build_chat_model
from companion.assistant.prompts import PromptLibrary
from companion.assistant.service import MentoringService
from companion.evaluation.runner import EvaluationService
from companion.identity.accounts import Accounts
from companion.identity.audit import AuditLog
from companion.knowledge.embeddings import TextEmbedder, build_embedder
from companion.knowledge.ingest import KnowledgeService
from companion.knowledge.retrieval import Retriever
from companion.knowledge.store import VectorStore, build_store
from companion.matching.people import PeopleService
from companion.matching.profiles import ProfileVectors
from companion.matching.service import MatchingService
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
    def retriever(self) -> Retriever:
        return Retriever(embedder=self.embedder, store=self.store, settings=self.settings.retrieval)

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
        )

    @cached_property
    def llm(self) -> ChatModel:
        return build_chat_model(self.settings.llm)

    @cached_property
    def prompts(self) -> PromptLibrary:
        return PromptLibrary(self.settings.prompts_dir)

    @cached_property
    def records(self) -> RecordsService:
        return RecordsService(db=self.db)

    @cached_property
    def mentoring(self) -> MentoringService:
        generator = Generator(
            llm=self.llm, prompts=self.prompts, fallback_on_error=self.settings.llm.fallback_on_error
        )
        return MentoringService(
            retriever=self.retriever,
            generator=generator,
            records=self.records,
            settings=self.settings.assistant,
        )

    @cached_property
    def profile_vectors(self) -> ProfileVectors:
        return ProfileVectors(embedder=self.embedder, batch_size=self.settings.embeddings.batch_size)

    @cached_property
    def people(self) -> PeopleService:
        return PeopleService(db=self.db, vectors=self.profile_vectors, settings=self.settings.matching)

    @cached_property
    def matching(self) -> MatchingService:
        return MatchingService(db=self.db, vectors=self.profile_vectors, settings=self.settings.matching)

    @cached_property
    def evaluation(self) -> EvaluationService:
        return EvaluationService(
            db=self.db,
            mentoring=self.mentoring,
            matching=self.matching,
            llm=self.llm,
            prompts=self.prompts,
            settings=self.settings,
        )

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(db=self.db, settings=self.settings.web)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(db=self.db)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()

"""The only wiring: builds the services from settings, and the FastAPI dependency aliases.

Tests swap backends through settings (fake embeddings, in-memory store, temp database) or through
`app.dependency_overrides[get_services]`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .accounts import Accounts
from .audit import AuditLog
from .auth import Principal, Role, authenticate
from .db import Database
from .embeddings import TextEmbedder, build_embedder
from .evaluation import EvaluationService
from .generation import Generator
from .knowledge import KnowledgeService
from .llm import ChatModel, build_chat_model
from .matching import MatchingService
from .mentoring import MentoringService
from .people import PeopleService
from .profiles import ProfileVectors
from .prompts import PromptLibrary
from .records import RecordsService
from .retrieval import Retriever
from .settings import Settings
from .store import VectorStore, build_store


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
        return PromptLibrary()

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


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="API token from `companion users add` or first start.")


def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    with services.db.session() as session:
        principal = authenticate(session, token)
    request.state.principal = principal  # read by the audit middleware (audit_http.py)
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_admin(user: CurrentUser) -> Principal:
    user.require(Role.admin)
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]

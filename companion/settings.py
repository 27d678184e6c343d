"""Typed settings, read from the environment (prefix ``COMPANION_``, nested fields joined by ``__``).

Example: ``COMPANION_STORE__MODE=server COMPANION_STORE__URL=http://127.0.0.1:8001``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    host: str = Field("127.0.0.1", description="Address `companion serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `companion serve` listens on.")
    chunk_size: int = Field(1000, ge=100, le=20000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(150, ge=0, description="Characters shared by consecutive chunks of a section.")
    max_upload_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest document accepted by the upload route."
    )
    sample_knowledge_dir: Path = Field(
        REPO_ROOT / "knowledge",
        description="Guides ingested by `serve` on first start when the index is empty.",
    )
    seed_sample_knowledge: bool = Field(
        True, description="Ingest the sample guides on `serve` when the index is empty."
    )
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embedding backend.")
    store: StoreSettings = Field(default_factory=StoreSettings, description="Vector store backend.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Retrieval tuning.")

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

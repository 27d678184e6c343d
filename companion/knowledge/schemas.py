"""Knowledge models: retrieved chunks, search requests and responses, ingest reports, ingested documents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from companion.schemas import UtcDateTime


class RetrievedChunk(BaseModel):
    id: str = Field(description="Stable chunk id (hash of source, offsets and text).")
    text: str
    source: str = Field(description="Guide the chunk comes from, relative to the ingested folder.")
    title: str = Field(description="Title of the guide.")
    heading: str = Field(description="Heading path of the section, joined with ' > '.")
    start: int = Field(description="Character offset of the chunk in the loaded guide text.")
    end: int = Field(description="Character offset just past the chunk.")
    score: float = Field(description="Fused rank score (higher is better).")
    dense_similarity: float | None = Field(None, description="Cosine similarity, when found by dense search.")
    keyword_score: float | None = Field(None, description="BM25 score, when found by keyword search.")
    citation: str = Field(description="Readable citation: 'source § heading path'.")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000, description="What to look for.")
    k: int | None = Field(None, ge=1, le=50, description="How many chunks to return (default from settings).")
    filters: dict[str, str | list[str]] | None = Field(
        None, description="Restrict by metadata: {'source': 'smart-goals.md'} or a list of values."
    )


class SearchResponse(BaseModel):
    query: str
    results: list[RetrievedChunk]


class FileFailure(BaseModel):
    source: str
    reason: str


class IngestReport(BaseModel):
    added: list[str] = Field(default_factory=list, description="New guides.")
    updated: list[str] = Field(default_factory=list, description="Guides whose content changed.")
    unchanged: list[str] = Field(default_factory=list, description="Guides skipped because nothing changed.")
    deleted: list[str] = Field(default_factory=list, description="Guides removed from the index.")
    failed: list[FileFailure] = Field(default_factory=list, description="Files skipped, with the reason.")
    chunks_written: int = Field(0, description="Chunks embedded and written.")
    chunks_deleted: int = Field(0, description="Stale chunks removed.")


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    title: str
    content_hash: str
    chunks: int
    size_bytes: int
    ingested_at: UtcDateTime

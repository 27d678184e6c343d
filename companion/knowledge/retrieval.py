"""Hybrid retrieval: dense similarity and BM25 fused by reciprocal rank, then near duplicates dropped."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from companion.errors import InvalidInput
from companion.knowledge.embeddings import TextEmbedder
from companion.knowledge.keyword import KeywordIndex
from companion.knowledge.schemas import RetrievedChunk
from companion.knowledge.store import StoredChunk, VectorStore
from companion.settings import RetrievalSettings

FILTER_KEYS = ("source", "title")
_WORDS = re.compile(r"\w+")


@dataclass
class _IndexState:
    index: KeywordIndex
    chunks: list[StoredChunk]
    version: int
    count: int
    checked_at: float


class Retriever:
    def __init__(
        self,
        *,
        embedder: TextEmbedder,
        store: VectorStore,
        settings: RetrievalSettings,
        refresh_seconds: float = 5.0,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.settings = settings
        self.refresh_seconds = refresh_seconds
        self._state: _IndexState | None = None
        self._lock = threading.Lock()

    def retrieve(
        self, *, query: str, k: int | None = None, filters: dict[str, Any] | None = None
    ) -> list[RetrievedChunk]:
        query = query.strip()
        if not query:
            raise InvalidInput("query is empty: ask something, e.g. 'how do I set SMART goals?'")
        k = k or self.settings.k
        where, allowed = _parse_filters(filters)
        n = max(self.settings.candidates, k)
        vector = self.embedder.encode([query])[0]
        dense = self.store.query(vector, n, where)
        state = self._keyword_state()
        mask = None
        if allowed:
            mask = np.array([_matches(c.metadata, allowed) for c in state.chunks], dtype=bool)
        keyword = [(state.chunks[row], score) for row, score in state.index.search(query, n, mask)]

        fused: dict[str, float] = {}
        by_id: dict[str, StoredChunk] = {}
        similarity: dict[str, float] = {}
        keyword_score: dict[str, float] = {}
        for rank, chunk in enumerate(dense, start=1):
            fused[chunk.id] = fused.get(chunk.id, 0.0) + self.settings.dense_weight / (
                self.settings.rrf_k + rank
            )
            by_id[chunk.id] = chunk
            similarity[chunk.id] = chunk.similarity or 0.0
        for rank, (chunk, score) in enumerate(keyword, start=1):
            fused[chunk.id] = fused.get(chunk.id, 0.0) + self.settings.keyword_weight / (
                self.settings.rrf_k + rank
            )
            by_id.setdefault(chunk.id, chunk)
            keyword_score[chunk.id] = score

        ranked = sorted(fused, key=lambda cid: (-fused[cid], cid))
        kept: list[RetrievedChunk] = []
        kept_shingles: list[set[tuple[str, ...]]] = []
        for cid in ranked:
            chunk = by_id[cid]
            shingles = _shingles(chunk.text)
            if any(_jaccard(shingles, other) > self.settings.duplicate_threshold for other in kept_shingles):
                continue
            kept.append(_to_result(chunk, fused[cid], similarity.get(cid), keyword_score.get(cid)))
            kept_shingles.append(shingles)
            if len(kept) == k:
                break
        return kept

    def _keyword_state(self) -> _IndexState:
        with self._lock:
            state = self._state
            now = time.monotonic()
            if state is not None and state.version == self.store.version:
                if now - state.checked_at < self.refresh_seconds:
                    return state
                count = self.store.count()  # someone else may have written to a shared server
                if count == state.count:
                    state.checked_at = now
                    return state
            version = self.store.version
            chunks = list(self.store.iter_all())
            index = KeywordIndex([c.id for c in chunks], (_indexed_text(c) for c in chunks))
            self._state = _IndexState(index, chunks, version, len(chunks), now)
            return self._state


def _indexed_text(chunk: StoredChunk) -> str:
    meta = chunk.metadata
    return f"{meta.get('title', '')} {meta.get('heading', '')}\n{chunk.text}"


def _to_result(
    chunk: StoredChunk, score: float, similarity: float | None, keyword: float | None
) -> RetrievedChunk:
    meta = chunk.metadata
    heading = str(meta.get("heading", ""))
    source = str(meta.get("source", ""))
    return RetrievedChunk(
        id=chunk.id,
        text=chunk.text,
        source=source,
        title=str(meta.get("title", "")),
        heading=heading,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=round(score, 6),
        dense_similarity=None if similarity is None else round(similarity, 4),
        keyword_score=None if keyword is None else round(keyword, 4),
        citation=f"{source} § {heading}" if heading else source,
    )


def _parse_filters(filters: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, set[str]]]:
    if not filters:
        return None, {}
    allowed: dict[str, set[str]] = {}
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            raise InvalidInput(f"unknown filter {key!r}; filters can use: {', '.join(FILTER_KEYS)}")
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise InvalidInput(f"filter {key!r} takes a string or a non-empty list of strings")
        allowed[key] = set(values)
    clauses = [{key: {"$in": sorted(values)}} for key, values in allowed.items()]
    where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
    return where, allowed


def _matches(metadata: dict[str, Any], allowed: dict[str, set[str]]) -> bool:
    return all(str(metadata.get(key, "")) in values for key, values in allowed.items())


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    if len(words) < 3:
        return {tuple(words)}
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)

"""Retrieval: dense similarity first, a sentence-level rerank, keyword evidence as a bounded boost, then
near duplicates dropped.

Ranking modes (`retrieval.ranking`), chosen by measurement (`python -m benchmarks.retrieval_quality`):
- `rerank` (default): the candidates are the dense top `candidates` plus the keyword top
  `keyword_candidates`; each scores
      (1 - sentence_weight) x chunk similarity + sentence_weight x best sentence similarity
      + keyword_boost x (its keyword score / the best keyword score among the candidates)
  where the best sentence similarity is the query's cosine with the best-matching of the chunk's sentences
  and heading (vectors made at ingest by the same model, stored in the catalogue). A chunk found only by
  keywords is given the lowest chunk similarity of the dense list (an upper bound of its own). Keywords
  never add more than `keyword_boost`.
- `rrf`: reciprocal-rank fusion of the dense and keyword rankings with their weights (the old default).
- `dense`: the dense ranking alone.
Keyword search runs in the database (`companion.knowledge.keyword`); dense search in Chroma.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from companion.errors import CompanionError, InvalidInput
from companion.knowledge.embeddings import TextEmbedder
from companion.knowledge.keyword import KeywordSearch
from companion.knowledge.schemas import RetrievedChunk
from companion.knowledge.sentences import best_similarity
from companion.knowledge.store import StoredChunk, VectorStore
from companion.settings import RetrievalSettings

FILTER_KEYS = ("source", "title")
_WORDS = re.compile(r"\w+")


@dataclass
class Candidates:
    """What ranking works from: the dense list (best first, with similarities), the keyword top list over
    the whole corpus, the keyword scores of the dense candidates and every candidate's best sentence
    similarity."""

    dense: list[StoredChunk]
    keyword: list[tuple[StoredChunk, float]]
    keyword_scores: dict[str, float] = field(default_factory=dict)
    sentence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    chunk: StoredChunk
    score: float
    similarity: float | None
    keyword: float | None


class Retriever:
    def __init__(
        self,
        *,
        embedder: TextEmbedder,
        store: VectorStore,
        keyword: KeywordSearch,
        settings: RetrievalSettings,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.keyword = keyword
        self.settings = settings

    def retrieve(
        self,
        *,
        query: str,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
        extra: int = 0,
    ) -> list[RetrievedChunk]:
        """The top `k` chunks; with `extra`, up to that many more after them: the next best in ranking
        order without the per-guide limit (a wider pool for picking answer sentences; the first `k` are
        the same either way)."""
        query = query.strip()
        if not query:
            raise InvalidInput("query is empty: ask something, e.g. 'how do I set SMART goals?'")
        k = k or self.settings.k
        found = self.candidates(query, max(self.settings.candidates, k + extra), filters)
        ranked = rank(found, self.settings)
        threshold = self.settings.duplicate_threshold
        kept = drop_duplicates(ranked, k, threshold, self.settings.max_per_source)
        if extra > 0:
            kept = kept + widen(ranked, kept, extra, threshold)
        return [_to_result(s) for s in kept]

    def warm_up(self) -> float:
        """Load the model, the vector index and the full-text index before the first request, so that
        it is served as fast as any other. Returns the seconds taken; a backend that is down is left for
        the request to report."""
        started = time.perf_counter()
        try:
            self.retrieve(query="how do I agree goals with my mentee?")
        except CompanionError:
            pass
        return time.perf_counter() - started

    def candidates(
        self, query: str, n: int, filters: dict[str, Any] | None = None, *, keyword_n: int | None = None
    ) -> Candidates:
        """The dense top `n` and the keyword evidence the ranking needs (see the module docstring)."""
        where, allowed = _parse_filters(filters)
        settings = self.settings
        nearest: list[tuple[str, float]] = []
        vector = None
        if settings.ranking == "rrf" and settings.dense_weight == 0:
            pass  # keyword only: skip embedding the query and the vector search
        else:
            vector = self.embedder.embed_vector(query)
            nearest = self.store.nearest(vector, n, where)
        if settings.ranking == "dense" or (settings.ranking == "rrf" and settings.keyword_weight == 0):
            return Candidates(dense=self._dense(nearest), keyword=[])
        if keyword_n is None:
            keyword_n = n if settings.ranking == "rrf" else settings.keyword_candidates
        hits = self.keyword.search(query, keyword_n, filters=allowed)
        scores = {h.chunk.id: h.score for h in hits}
        missing = [cid for cid, _ in nearest if cid not in scores]
        if missing and settings.ranking != "rrf":
            for hit in self.keyword.search(query, len(missing), filters=allowed, within=missing):
                scores[hit.chunk.id] = hit.score
        # one catalogue read: the dense candidates' texts, and every candidate's sentence vectors
        rerank = settings.ranking == "rerank" and settings.sentence_weight > 0 and vector is not None
        wanted = [cid for cid, _ in nearest] + ([h.chunk.id for h in hits] if rerank else [])
        rows = self.keyword.chunks(list(dict.fromkeys(wanted)))
        dense = self._dense(nearest, rows)
        found = Candidates(dense=dense, keyword=[(h.chunk, h.score) for h in hits], keyword_scores=scores)
        if rerank and vector is not None:
            for cid, (_, blob) in rows.items():
                similarity = best_similarity(blob, vector)
                if similarity is not None:
                    found.sentence[cid] = similarity
        return found

    def _dense(
        self,
        nearest: list[tuple[str, float]],
        rows: dict[str, tuple[StoredChunk, bytes | None]] | None = None,
    ) -> list[StoredChunk]:
        """The dense hits as chunks, text and metadata from the catalogue `rows` (read here when not
        given); a chunk the catalogue does not have (yet) is read from the vector store."""
        if not nearest:
            return []
        if rows is None:
            rows = self.keyword.chunks([cid for cid, _ in nearest])
        absent = [cid for cid, _ in nearest if cid not in rows]
        from_store = {c.id: c for c in self.store.get(absent)} if absent else {}
        dense: list[StoredChunk] = []
        for cid, similarity in nearest:
            chunk = rows[cid][0] if cid in rows else from_store.get(cid)
            if chunk is not None:
                dense.append(StoredChunk(chunk.id, chunk.text, chunk.metadata, similarity))
        return dense


def rank(found: Candidates, settings: RetrievalSettings) -> list[Scored]:
    """Order the candidates by the configured ranking (best first, ties by id)."""
    if settings.ranking == "rrf":
        return _rrf(found, settings)
    similarity = {c.id: c.similarity or 0.0 for c in found.dense}
    by_id: dict[str, StoredChunk] = {c.id: c for c in found.dense}
    if settings.ranking == "dense":
        scored = [Scored(c, similarity[c.id], similarity[c.id], None) for c in found.dense]
        return sorted(scored, key=lambda s: (-s.score, s.chunk.id))
    keyword = dict(found.keyword_scores)
    for chunk, score in found.keyword:
        by_id.setdefault(chunk.id, chunk)
        keyword.setdefault(chunk.id, score)
    floor = min(similarity.values(), default=0.0)
    best = max(keyword.values(), default=0.0)
    weight = settings.sentence_weight
    scored = []
    for cid, chunk in by_id.items():
        sim = similarity.get(cid)
        kw = keyword.get(cid)
        base = floor if sim is None else sim
        sentence = found.sentence.get(cid, base)
        boost = settings.keyword_boost * (kw / best) if kw and best > 0 else 0.0
        scored.append(Scored(chunk, (1 - weight) * base + weight * sentence + boost, sim, kw))
    return sorted(scored, key=lambda s: (-s.score, s.chunk.id))


def _rrf(found: Candidates, settings: RetrievalSettings) -> list[Scored]:
    fused: dict[str, float] = {}
    by_id: dict[str, StoredChunk] = {}
    similarity: dict[str, float] = {}
    keyword_score: dict[str, float] = {}
    for rank_, chunk in enumerate(found.dense, start=1):
        fused[chunk.id] = fused.get(chunk.id, 0.0) + settings.dense_weight / (settings.rrf_k + rank_)
        by_id[chunk.id] = chunk
        similarity[chunk.id] = chunk.similarity or 0.0
    for rank_, (chunk, score) in enumerate(found.keyword, start=1):
        fused[chunk.id] = fused.get(chunk.id, 0.0) + settings.keyword_weight / (settings.rrf_k + rank_)
        by_id.setdefault(chunk.id, chunk)
        keyword_score[chunk.id] = score
    ranked = sorted(fused, key=lambda cid: (-fused[cid], cid))
    return [Scored(by_id[c], fused[c], similarity.get(c), keyword_score.get(c)) for c in ranked]


def drop_duplicates(ranked: list[Scored], k: int, threshold: float, max_per_source: int = 0) -> list[Scored]:
    """The first `k`, skipping any chunk whose word trigrams overlap a kept one's above `threshold`, and
    (when `max_per_source` > 0) any chunk of a guide that already has that many kept; those skipped for
    their guide fill the list at the end when fewer than `k` others remain."""
    kept: list[Scored] = []
    spare: list[Scored] = []
    kept_shingles: list[frozenset[tuple[str, ...]]] = []
    per_source: dict[str, int] = {}
    for item in ranked:
        shingles = _shingles(item.chunk.text)
        if any(_jaccard(shingles, other) > threshold for other in kept_shingles):
            continue
        source = str(item.chunk.metadata.get("source", ""))
        if max_per_source and per_source.get(source, 0) >= max_per_source:
            spare.append(item)
            continue
        per_source[source] = per_source.get(source, 0) + 1
        kept.append(item)
        kept_shingles.append(shingles)
        if len(kept) == k:
            break
    return kept + spare[: k - len(kept)]


def widen(ranked: list[Scored], kept: list[Scored], extra: int, threshold: float) -> list[Scored]:
    """Up to `extra` chunks of `ranked` after `kept`, in ranking order, skipping near duplicates of any
    chunk already taken (no per-guide limit: a guide that answers the question may give several)."""
    taken = {s.chunk.id for s in kept}
    shingles = [_shingles(s.chunk.text) for s in kept]
    more: list[Scored] = []
    for item in ranked:
        if len(more) == extra:
            break
        if item.chunk.id in taken:
            continue
        own = _shingles(item.chunk.text)
        if any(_jaccard(own, other) > threshold for other in shingles):
            continue
        more.append(item)
        shingles.append(own)
    return more


def _to_result(item: Scored) -> RetrievedChunk:
    chunk, score, similarity, keyword = item.chunk, item.score, item.similarity, item.keyword
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


@lru_cache(maxsize=4096)
def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    if len(words) < 3:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + 3]) for i in range(len(words) - 2))


def _jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)

"""Keyword search in the database engine, over the chunk catalogue (`knowledge_chunks`).

- SQLite: the FTS5 table `knowledge_chunks_fts` (porter stemming), ranked by FTS5's own `bm25()`.
- PostgreSQL: the generated tsvector `search_vector` (english stemming) with a GIN index, ranked by
  `ts_rank_cd`.

Both indexes are kept in step with the catalogue by the database itself (triggers, a generated column), in
the same transaction as the ingest that writes the rows: nothing is held in memory, nothing is rebuilt, and
every process (or `serve` replica) on the same database sees a write on its next query. A query is the
OR of its content words, so a chunk matching any of them is a candidate; filters on source and title are
part of the SQL.

`tokenize` (a light stemmer) is also used by the assistant and the metrics to compare word sets.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from companion.knowledge.store import StoredChunk
from companion.storage.db import Database, KnowledgeChunk

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    """a about after all also am an and any are as at be because been before being but by can could did do
    does doing for from had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not of off on once only or other our ours out over own same she should so some
    such than that the their theirs them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours""".split()
)
MAX_QUERY_TERMS = 32
FILTER_COLUMNS = {"source": "c.source", "title": "c.title"}


def tokenize(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """A deliberately light suffix stripper: enough to join goal/goals and mentoring/mentor."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix in ("ingly", "ings", "ing", "edly", "ies", "ied", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            return stem + "y" if suffix in ("ies", "ied") else stem
    return word


def query_terms(query: str) -> list[str]:
    """The query's content words, lower case, unstemmed (the engine stems them), first use order. Only
    [a-z0-9] characters, so they are safe inside an FTS5 phrase or a tsquery."""
    seen: dict[str, None] = {}
    for word in _TOKEN.findall(query.lower()):
        if word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)[:MAX_QUERY_TERMS]


@dataclass(frozen=True)
class KeywordHit:
    chunk: StoredChunk
    score: float  # higher is better (BM25 on SQLite, ts_rank_cd on PostgreSQL)


# ---- the catalogue ------------------------------------------------------------------------------------


def catalogue_row(
    chunk_id: str, text_: str, metadata: Mapping[str, object], sentence_vectors: bytes | None = None
) -> dict[str, object]:
    """One `knowledge_chunks` row from a stored chunk's id, text, store metadata and sentence vectors."""
    return {
        "sentence_vectors": sentence_vectors,
        "chunk_id": chunk_id,
        "source": str(metadata.get("source", "")),
        "title": str(metadata.get("title", "")),
        "heading": str(metadata.get("heading", "")),
        "body": text_,
        "start": int(str(metadata.get("start", 0))),
        "end": int(str(metadata.get("end", 0))),
    }


def add_rows(session: Session, rows: Sequence[dict[str, object]]) -> None:
    """Insert catalogue rows (the full-text index follows in the same transaction)."""
    for i in range(0, len(rows), 1000):
        session.execute(insert(KnowledgeChunk), list(rows[i : i + 1000]))


def delete_ids(session: Session, chunk_ids: Iterable[str]) -> None:
    ids = list(chunk_ids)
    for i in range(0, len(ids), 1000):
        session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.chunk_id.in_(ids[i : i + 1000])))


def delete_source(session: Session, source: str) -> int:
    result = session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.source == source))
    return int(getattr(result, "rowcount", 0) or 0)


def ids_for_source(session: Session, source: str) -> set[str]:
    return set(session.scalars(select(KnowledgeChunk.chunk_id).where(KnowledgeChunk.source == source)))


def catalogue_chunks(db: Database, chunk_ids: Sequence[str]) -> dict[str, tuple[StoredChunk, bytes | None]]:
    """These chunks as the catalogue holds them (text, citation metadata, sentence vectors), by id; ids
    not in the catalogue are left out."""
    if not chunk_ids:
        return {}
    c = KnowledgeChunk
    with db.session() as session:
        rows = session.execute(
            select(
                c.chunk_id, c.source, c.title, c.heading, c.body, c.start, c.end, c.sentence_vectors
            ).where(c.chunk_id.in_(list(chunk_ids)))
        ).all()
    return {row.chunk_id: (_stored(row), row.sentence_vectors or None) for row in rows}


def _stored(row: Any) -> StoredChunk:
    metadata: dict[str, str | int | float | bool] = {
        "source": row.source,
        "title": row.title,
        "heading": row.heading,
        "start": row.start,
        "end": row.end,
    }
    return StoredChunk(id=row.chunk_id, text=row.body, metadata=metadata)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(KnowledgeChunk)) or 0)


# ---- search -------------------------------------------------------------------------------------------


class KeywordSearch:
    """Full-text search over the catalogue, in whichever engine the database is.

    Only the query's *distinctive* words are searched: a word found in `term_limit` chunks or more says
    little about any one of them (its BM25 weight is near zero) and would make the engine score most of
    the corpus, so it is left out, like a stopword learned from the corpus. Each word's count is probed
    with a bounded query (it stops at `term_limit` rows) and remembered for `term_cache_seconds`."""

    def __init__(self, *, db: Database, term_limit: int = 2000, term_cache_seconds: float = 300.0) -> None:
        self.db = db
        self.dialect = db.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"keyword search supports SQLite and PostgreSQL, not {self.dialect}")
        self.term_limit = term_limit
        self.term_cache_seconds = term_cache_seconds
        self._term_counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def distinctive(self, terms: Sequence[str]) -> list[str]:
        """The terms found in fewer than `term_limit` chunks."""
        now = time.monotonic()
        counts: dict[str, int] = {}
        unknown: list[str] = []
        with self._lock:
            for term in terms:
                cached = self._term_counts.get(term)
                if cached is not None and now - cached[1] < self.term_cache_seconds:
                    counts[term] = cached[0]
                else:
                    unknown.append(term)
        if unknown:
            if self.dialect == "sqlite":
                probe = (
                    "SELECT count(*) FROM (SELECT rowid FROM knowledge_chunks_fts "
                    "WHERE knowledge_chunks_fts MATCH :q LIMIT :cap)"
                )
            else:
                probe = (
                    "SELECT count(*) FROM (SELECT 1 FROM knowledge_chunks "
                    "WHERE search_vector @@ to_tsquery('english', :q) LIMIT :cap) AS s"
                )
            with self.db.session() as session:
                for term in unknown:
                    q = f'"{term}"' if self.dialect == "sqlite" else term
                    counts[term] = int(
                        session.execute(text(probe), {"q": q, "cap": self.term_limit}).scalar() or 0
                    )
            with self._lock:
                if len(self._term_counts) > 50_000:
                    self._term_counts.clear()
                for term in unknown:
                    if counts[term]:  # a word not there yet is probed again: the next write may add it
                        self._term_counts[term] = (counts[term], now)
        return [t for t in terms if 0 < counts[t] < self.term_limit]

    def forget_counts(self) -> None:
        """Drop the remembered word counts (after a large write, or in tests)."""
        with self._lock:
            self._term_counts.clear()

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, tuple[StoredChunk, bytes | None]]:
        """These chunks' text, metadata and sentence vectors from the catalogue (see `catalogue_chunks`)."""
        return catalogue_chunks(self.db, chunk_ids)

    def search(
        self,
        query: str,
        n: int,
        *,
        filters: dict[str, set[str]] | None = None,
        within: Sequence[str] | None = None,
    ) -> list[KeywordHit]:
        """The best `n` chunks for the OR of the query's words, best first. `filters`: allowed values per
        column (source, title); `within`: only these chunk ids (to score a given candidate list)."""
        if n <= 0 or (within is not None and not within):
            return []
        terms = self.distinctive(query_terms(query))
        if not terms:
            return []
        params: dict[str, object] = {"n": n}
        clauses: list[str] = []
        expanding: list[str] = []
        for key, values in (filters or {}).items():
            clauses.append(f"{FILTER_COLUMNS[key]} IN :f_{key}")
            params[f"f_{key}"] = sorted(values)
            expanding.append(f"f_{key}")
        if within is not None:
            clauses.append("c.chunk_id IN :within")
            params["within"] = list(within)
            expanding.append("within")
        extra = "".join(f" AND {c}" for c in clauses)
        columns = 'c.chunk_id, c.source, c.title, c.heading, c.body, c.start, c."end"'
        if self.dialect == "sqlite":
            params["q"] = " OR ".join(f'"{t}"' for t in terms)
            sql = (
                f"SELECT {columns}, -bm25(knowledge_chunks_fts) AS score FROM knowledge_chunks_fts "
                "JOIN knowledge_chunks c ON c.id = knowledge_chunks_fts.rowid "
                f"WHERE knowledge_chunks_fts MATCH :q{extra} "
                "ORDER BY bm25(knowledge_chunks_fts), c.chunk_id LIMIT :n"
            )
        else:
            params["q"] = " | ".join(terms)
            sql = (
                f"SELECT {columns}, ts_rank_cd(c.search_vector, q.query) AS score "
                "FROM knowledge_chunks c, to_tsquery('english', :q) AS q(query) "
                f"WHERE c.search_vector @@ q.query{extra} ORDER BY score DESC, c.chunk_id LIMIT :n"
            )
        statement = text(sql).bindparams(*(bindparam(name, expanding=True) for name in expanding))
        with self.db.session() as session:
            rows = session.execute(statement, params).all()
        return [KeywordHit(chunk=_stored(row), score=float(row.score)) for row in rows]

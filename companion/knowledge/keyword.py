"""An in-memory BM25 index over the stored chunks, as a sparse matrix so a query costs milliseconds at
100k chunks: the score of every chunk is the sum of the matrix columns of the query's terms."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from scipy import sparse

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    """a about after all also am an and any are as at be because been before being but by can could did do
    does doing for from had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not of off on once only or other our ours out over own same she should so some
    such than that the their theirs them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours""".split()
)


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


class KeywordIndex:
    def __init__(self, ids: list[str], texts: Iterable[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.ids = ids
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(ids), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[row] = len(tokens)
            for term, count in Counter(tokens).items():
                rows.append(row)
                cols.append(vocab.setdefault(term, len(vocab)))
                counts.append(count)
        self.vocab = vocab
        n_docs = max(len(ids), 1)
        tf = np.asarray(counts, dtype=np.float32)
        row_idx = np.asarray(rows, dtype=np.int64)
        col_idx = np.asarray(cols, dtype=np.int64)
        doc_freq = np.bincount(col_idx, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
        avg_len = float(lengths.mean()) if len(ids) else 1.0
        norm = k1 * (1 - b + b * lengths[row_idx] / max(avg_len, 1e-9))
        weights = idf[col_idx] * tf * (k1 + 1) / (tf + norm)
        self._matrix = sparse.csc_matrix(
            (weights, (row_idx, col_idx)), shape=(len(ids), len(vocab)), dtype=np.float32
        )

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top `n` (row, score) pairs with a positive score; `mask` (bool per row) filters rows."""
        terms = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not terms or n <= 0 or not self.ids:
            return []
        scores = np.asarray(self._matrix[:, terms].sum(axis=1)).ravel()
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > n:
            candidates = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [(int(i), float(scores[i])) for i in order]

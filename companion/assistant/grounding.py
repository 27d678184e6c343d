"""The retrieved guidance of one request: the chunks, their numbered citations, and which of them carry
text addressed to the assistant (never quoted by the composer, never cited by it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from companion.assistant.guard import is_hostile
from companion.assistant.models import Citation
from companion.knowledge.keyword import tokenize
from companion.knowledge.schemas import RetrievedChunk

EXCERPT_CHARS = 1200


@dataclass
class Grounding:
    chunks: list[RetrievedChunk]
    citations: list[Citation]

    @classmethod
    def of(cls, chunks: list[RetrievedChunk]) -> Grounding:
        citations = [
            Citation(
                n=i,
                chunk_id=c.id,
                source=c.source,
                heading=c.heading,
                citation=c.citation,
                start=c.start,
                end=c.end,
            )
            for i, c in enumerate(chunks, start=1)
        ]
        return cls(chunks, citations)

    @property
    def hostile(self) -> set[int]:
        """Indexes of chunks carrying text addressed to the assistant: the model still sees them (fenced as
        data), but the composer never quotes or cites them."""
        return {i for i, chunk in enumerate(self.chunks) if is_hostile(chunk.text)}

    @property
    def safe_citations(self) -> list[Citation]:
        hostile = self.hostile
        return [c for i, c in enumerate(self.citations) if i not in hostile]

    @property
    def excerpts(self) -> list[dict[str, Any]]:
        return [
            {"n": c.n, "citation": c.citation, "text": chunk.text[:EXCERPT_CHARS]}
            for c, chunk in zip(self.citations, self.chunks, strict=True)
        ]

    def cite(self, numbers: list[int], text: str) -> tuple[list[Citation], bool]:
        """Citations for an item: the excerpt numbers the model gave, or else the excerpt that shares the
        most words with the item. The flag says whether it had to be attributed that way."""
        chosen = [self.citations[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(self.citations)]
        if chosen or not self.citations:
            return chosen, False
        return [self.citations[self.best_match(text)]], True

    def best_match(self, text: str) -> int:
        words = set(tokenize(text))
        hostile = self.hostile
        scores = [len(words & set(tokenize(chunk.text))) for chunk in self.chunks]
        return max(range(len(scores)), key=lambda i: (i not in hostile, scores[i], -i))

    def safe_cite(self, text: str) -> list[Citation]:
        """The closest excerpt that is not hostile, or none when every excerpt is."""
        if len(self.hostile) == len(self.chunks):
            return []
        return [self.citations[self.best_match(text)]]

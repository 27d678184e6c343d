"""The retrieved guidance of one request: the chunks, their numbered citations, and which of them carry
text addressed to the assistant (never quoted by the composer, never cited by it).

For `ask` the chunks are a wider pool than the sources shown: the first `shown` are the sources, the rest
are there for the composer to pick sentences from; `narrowed` keeps the shown ones plus the pool chunks an
answer cites, renumbered in that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from companion.assistant.guard import is_hostile
from companion.assistant.models import Citation
from companion.knowledge.keyword import tokenize
from companion.knowledge.schemas import RetrievedChunk

EXCERPT_CHARS = 1200
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass
class Grounding:
    chunks: list[RetrievedChunk]
    citations: list[Citation]
    shown: int | None = None  # how many of the chunks are the sources shown (None: all of them)

    @classmethod
    def of(cls, chunks: list[RetrievedChunk], shown: int | None = None) -> Grounding:
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
        return cls(chunks, citations, shown)

    def narrowed(self, answer: str | None) -> tuple[Grounding, str | None]:
        """The shown chunks plus the pool chunks `answer` cites (in the order of the pool), numbered
        1..n in that order, and the answer with its markers renumbered to match."""
        shown = len(self.chunks) if self.shown is None else min(self.shown, len(self.chunks))
        cited = {int(m) for m in _MARKER.findall(answer or "")}
        keep = list(range(shown)) + [i for i in range(shown, len(self.chunks)) if i + 1 in cited]
        number = {old + 1: new for new, old in enumerate(keep, start=1)}
        narrow = Grounding.of([self.chunks[i] for i in keep])
        if answer is None:
            return narrow, None

        def renumber(match: re.Match[str]) -> str:
            n = int(match.group(1))
            return f"[{number[n]}]" if n in number else match.group(0)

        return narrow, _MARKER.sub(renumber, answer)

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
        """The excerpt sharing the most words with `text`, a word in its heading counting twice (a heading
        says what the passage is about; a passage can mention a word in passing); ties go to the better
        retrieved."""
        words = set(tokenize(text))
        hostile = self.hostile
        scores = [
            len(words & set(tokenize(chunk.text))) + len(words & set(tokenize(chunk.heading or "")))
            for chunk in self.chunks
        ]
        return max(range(len(scores)), key=lambda i: (i not in hostile, scores[i], -i))

    def safe_cite(self, text: str) -> list[Citation]:
        """The closest excerpt that is not hostile, or none when every excerpt is."""
        if len(self.hostile) == len(self.chunks):
            return []
        return [self.citations[self.best_match(text)]]

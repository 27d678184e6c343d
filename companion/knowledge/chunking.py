"""Heading-aware chunking with overlap.

A document is cut into sections at its headings; each section keeps the path of headings above it.
A section longer than the chunk size is split into overlapping windows that end on a paragraph,
sentence or word boundary. Offsets always index into `LoadedText.text`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from companion.knowledge.loaders import LoadedText


@dataclass(frozen=True)
class Chunk:
    """A piece of a guide as stored in the index."""

    id: str
    source: str
    title: str
    heading: tuple[str, ...]
    start: int
    end: int
    text: str

    @property
    def heading_path(self) -> str:
        return " > ".join(self.heading)

    def indexed_text(self) -> str:
        """What is embedded and keyword-indexed: title and heading path give the chunk its context."""
        context = " > ".join([self.title, *(h for h in self.heading if h != self.title)])
        return f"{context}\n\n{self.text}"


def chunk_document(loaded: LoadedText, *, source: str, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    for start, end, path in _sections(loaded):
        for piece_start, piece_end in _windows(loaded.text, start, end, chunk_size, chunk_overlap):
            text = loaded.text[piece_start:piece_end]
            if _is_only_heading(text, path):
                continue
            chunks.append(
                Chunk(
                    id=chunk_id(source, piece_start, piece_end, text),
                    source=source,
                    title=loaded.title,
                    heading=path,
                    start=piece_start,
                    end=piece_end,
                    text=text,
                )
            )
    return chunks


def chunk_id(source: str, start: int, end: int, text: str) -> str:
    return hashlib.sha256(f"{source}\x00{start}\x00{end}\x00{text}".encode()).hexdigest()[:32]


def _sections(loaded: LoadedText) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, heading path) for every section, in order, covering the whole text."""
    text = loaded.text
    marks = sorted(loaded.headings, key=lambda h: h.offset)
    sections: list[tuple[int, int, tuple[str, ...]]] = []
    if not marks or marks[0].offset > 0:
        sections.append((0, marks[0].offset if marks else len(text), ()))
    stack: list[tuple[int, str]] = []
    for i, mark in enumerate(marks):
        while stack and stack[-1][0] >= mark.level:
            stack.pop()
        stack.append((mark.level, mark.text))
        end = marks[i + 1].offset if i + 1 < len(marks) else len(text)
        sections.append((mark.offset, end, tuple(t for _, t in stack)))
    return [(s, e, p) for s, e, p in sections if text[s:e].strip()]


def _windows(text: str, start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    start, end = _strip_span(text, start, end)
    if end - start <= size:
        return [(start, end)] if end > start else []
    windows: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        limit = min(pos + size, end)
        cut = limit if limit == end else _best_cut(text, pos, limit)
        s, e = _strip_span(text, pos, cut)
        if e > s:
            windows.append((s, e))
        if cut >= end:
            break
        nxt = max(cut - overlap, pos + 1)
        # begin the overlap on a word boundary so no chunk starts mid-word
        while nxt < cut and not text[nxt - 1].isspace():
            nxt += 1
        pos = nxt
    return windows


def _best_cut(text: str, pos: int, limit: int) -> int:
    """The latest good boundary in the last 40 % of the window: paragraph, then sentence, then word."""
    floor = pos + int((limit - pos) * 0.6)
    window = text[floor:limit]
    for sep in ("\n\n", ". ", "? ", "! ", ".\n", "\n", " "):
        i = window.rfind(sep)
        if i != -1:
            return floor + i + len(sep)
    return limit


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_only_heading(text: str, path: tuple[str, ...]) -> bool:
    """A section made of its heading line alone adds nothing: its children carry the heading path."""
    if not path:
        return False
    body = text.strip().lstrip("#").strip()
    return body == path[-1]

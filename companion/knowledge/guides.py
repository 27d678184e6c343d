"""Reading a guide back from the index: the section a citation points to, and its neighbours.

Chunks are exact slices of a guide's loaded text (with their offsets), cut at headings and, inside a long
section, into overlapping windows. So a section is a run of chunks with the same heading path, and its
text can be put back together from the chunks alone, with no need to keep the original file.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.errors import NotFound
from companion.knowledge.store import StoredChunk


@dataclass(frozen=True)
class SectionRef:
    """A section of a guide, named by its heading path and opened at its first chunk."""

    heading: str
    chunk_id: str


@dataclass(frozen=True)
class GuideSection:
    """One section of a guide, split around the cited chunk: `before` + `cited` + `after`."""

    source: str
    title: str
    heading: str
    chunk_id: str
    before: str
    cited: str
    after: str
    contents: list[SectionRef]
    index: int  # this section's place in `contents`

    @property
    def previous(self) -> SectionRef | None:
        return self.contents[self.index - 1] if self.index > 0 else None

    @property
    def next(self) -> SectionRef | None:
        return self.contents[self.index + 1] if self.index + 1 < len(self.contents) else None


def _offsets(chunk: StoredChunk) -> tuple[int, int]:
    start = int(chunk.metadata.get("start", 0))
    return start, int(chunk.metadata.get("end", start + len(chunk.text)))


def _heading(chunk: StoredChunk) -> str:
    return str(chunk.metadata.get("heading", ""))


def section_of(chunks: list[StoredChunk], *, source: str, chunk_id: str) -> GuideSection:
    """The section of guide `source` (whose stored chunks are `chunks`) that holds chunk `chunk_id`."""
    if not chunks:
        raise NotFound(f"no guide {source!r} in the knowledge base; it may have been deleted or renamed")
    ordered = sorted(chunks, key=lambda c: (_offsets(c), c.id))
    runs: list[list[StoredChunk]] = []
    for chunk in ordered:
        if runs and _heading(runs[-1][-1]) == _heading(chunk):
            runs[-1].append(chunk)
        else:
            runs.append([chunk])
    found = next(((i, c) for i, run in enumerate(runs) for c in run if c.id == chunk_id), None)
    if found is None:
        raise NotFound(
            f"guide {source!r} has no passage {chunk_id!r}; the guide was probably changed since this "
            "citation was made: ask the question again"
        )
    index, cited = found
    run = runs[index]
    span_start = min(_offsets(c)[0] for c in run)
    span_end = max(_offsets(c)[1] for c in run)
    # Write every chunk at its offset; overlapping windows agree, and the rare gap is whitespace.
    text = [" "] * (span_end - span_start)
    for chunk in run:
        start, end = _offsets(chunk)
        piece = chunk.text[: end - start]
        text[start - span_start : start - span_start + len(piece)] = piece
    joined = "".join(text)
    start, end = (offset - span_start for offset in _offsets(cited))
    title = str(cited.metadata.get("title", "")) or source
    return GuideSection(
        source=source,
        title=title,
        heading=_heading(cited),
        chunk_id=chunk_id,
        before=joined[:start],
        cited=joined[start:end],
        after=joined[end:],
        contents=[SectionRef(heading=_heading(r[0]), chunk_id=r[0].id) for r in runs],
        index=index,
    )

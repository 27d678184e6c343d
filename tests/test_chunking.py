from __future__ import annotations

from companion.knowledge.chunking import chunk_document
from companion.knowledge.loaders import load_bytes

LONG_SECTION = " ".join(f"Sentence number {i} talks about mentoring practice." for i in range(80))
DOC = f"""# Handbook

## Short section

A short body.

## Long section

{LONG_SECTION}

### Child

Child body text.
"""


def _chunks(size: int = 300, overlap: int = 50):  # type: ignore[no-untyped-def]
    loaded = load_bytes(DOC.encode(), "handbook.md")
    return loaded, chunk_document(loaded, source="handbook.md", chunk_size=size, chunk_overlap=overlap)


def test_offsets_point_at_the_chunk_text() -> None:
    loaded, chunks = _chunks()
    for chunk in chunks:
        assert loaded.text[chunk.start : chunk.end] == chunk.text
        assert chunk.source == "handbook.md" and chunk.title == "Handbook"


def test_heading_paths_follow_nesting() -> None:
    _, chunks = _chunks()
    paths = {c.heading for c in chunks}
    assert ("Handbook", "Short section") in paths
    assert ("Handbook", "Long section") in paths
    assert ("Handbook", "Long section", "Child") in paths
    # the H1 alone has no body, so it yields no chunk of its own
    assert ("Handbook",) not in paths


def test_long_sections_split_with_overlap_on_word_boundaries() -> None:
    loaded, chunks = _chunks(size=300, overlap=50)
    long_chunks = [c for c in chunks if c.heading == ("Handbook", "Long section")]
    assert len(long_chunks) > 5
    for a, b in zip(long_chunks, long_chunks[1:], strict=False):
        assert len(a.text) <= 300
        assert b.start < a.end, "consecutive windows overlap"
        assert loaded.text[b.start - 1].isspace(), "windows start on a word boundary"
    covered = "".join(loaded.text[c.start : c.end] for c in long_chunks)
    assert "Sentence number 79" in covered and "Sentence number 0 " in covered


def test_ids_are_stable_and_change_with_content() -> None:
    _, first = _chunks()
    _, second = _chunks()
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    changed = load_bytes(DOC.replace("A short body.", "A changed body.").encode(), "handbook.md")
    third = chunk_document(changed, source="handbook.md", chunk_size=300, chunk_overlap=50)
    assert {c.id for c in third} != {c.id for c in first}


def test_indexed_text_carries_title_and_heading() -> None:
    _, chunks = _chunks()
    child = next(c for c in chunks if c.heading[-1] == "Child")
    assert child.indexed_text().startswith("Handbook > Long section > Child\n\n")

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.container import Services
from companion.errors import NotFound
from companion.knowledge.chunking import chunk_document
from companion.knowledge.loaders import load_bytes
from companion.settings import Settings
from tests.support.knowledge import GOALS, write_corpus


def expected_ids(services: Services, path: Path, source: str) -> set[str]:
    loaded = load_bytes(path.read_bytes(), source)
    s = services.settings
    return {
        c.id
        for c in chunk_document(loaded, source=source, chunk_size=s.chunk_size, chunk_overlap=s.chunk_overlap)
    }


class CountingEmbedder:
    """Wraps the real (fake-mode) embedder and counts texts encoded."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.encoded = 0

    def encode(self, texts, *, batch_size=None):  # type: ignore[no-untyped-def]
        self.encoded += len(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def test_ingest_every_type_then_reingest_writes_nothing(services: Services, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "guides")
    report = services.knowledge.ingest_paths([corpus])
    assert sorted(report.added) == [
        "feedback.md",
        "goals.md",
        "policy.pdf",
        "remote.html",
        "sub/listening.txt",
        "tools.docx",
    ]
    assert report.failed == [] and report.chunks_written == services.store.count() > 0

    counter = CountingEmbedder(services.embedder)
    services.knowledge.embedder = counter  # type: ignore[assignment]
    again = services.knowledge.ingest_paths([corpus])
    assert again.chunks_written == 0 and again.added == [] and again.updated == []
    assert len(again.unchanged) == 6
    assert counter.encoded == 0, "an unchanged corpus must not be embedded again"
    docs = services.knowledge.list_documents()
    assert [d.source for d in docs] == sorted(report.added)
    assert all(d.chunks > 0 and len(d.content_hash) == 64 for d in docs)


def test_changed_file_replaces_its_chunks(services: Services, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "guides")
    services.knowledge.ingest_paths([corpus])
    before = services.store.ids_for_source("goals.md")
    (corpus / "goals.md").write_text(GOALS + "\n## Time-bound\n\nPick a review date in week 12.\n")
    report = services.knowledge.ingest_paths([corpus])
    assert report.updated == ["goals.md"] and len(report.unchanged) == 5
    after = services.store.ids_for_source("goals.md")
    assert after == expected_ids(services, corpus / "goals.md", "goals.md")
    assert after != before
    hits = services.retriever.retrieve(query="review date week 12", k=1)
    assert hits[0].source == "goals.md" and "week 12" in hits[0].text


def test_bad_files_are_reported_and_the_rest_goes_in(services: Services, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "guides")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.7\n garbage \x00\x01")
    (corpus / "empty.md").write_text("")
    (corpus / "binary.txt").write_bytes(bytes(range(256)))
    (corpus / "photo.png").write_bytes(b"\x89PNG")
    report = services.knowledge.ingest_paths([corpus, tmp_path / "missing"])
    failed = {f.source: f.reason for f in report.failed}
    assert set(failed) == {"corrupt.pdf", "empty.md", "binary.txt", "photo.png", str(tmp_path / "missing")}
    assert (
        "PDF" in failed["corrupt.pdf"] and "empty" in failed["empty.md"] and "binary" in failed["binary.txt"]
    )
    assert len(report.added) == 6
    assert {d.source for d in services.knowledge.list_documents()} == set(report.added)


def test_removed_file_is_pruned_or_deleted(services: Services, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "guides")
    services.knowledge.ingest_paths([corpus])
    (corpus / "feedback.md").unlink()
    report = services.knowledge.ingest_paths([corpus], prune=True)
    assert report.deleted == ["feedback.md"]
    assert services.store.ids_for_source("feedback.md") == set()
    assert "feedback.md" not in {d.source for d in services.knowledge.list_documents()}

    doc = next(d for d in services.knowledge.list_documents() if d.source == "goals.md")
    deleted = services.knowledge.delete_document(doc.id)
    assert deleted.deleted == ["goals.md"] and deleted.chunks_deleted == doc.chunks
    assert services.store.ids_for_source("goals.md") == set()
    with pytest.raises(NotFound):
        services.knowledge.delete_document(doc.id)
    with pytest.raises(NotFound):
        services.knowledge.delete_source("never-ingested.md")


def test_interrupted_ingest_is_completed_exactly(services: Services, tmp_path: Path) -> None:
    """State left by a crash (half the new chunks written, stale chunks still there) is repaired."""
    corpus = tmp_path / "guides"
    corpus.mkdir()
    body = "# Big\n\n" + "\n\n".join(
        f"## Part {i}\n\nParagraph {i} about mentoring goals." for i in range(20)
    )
    (corpus / "big.md").write_text(body)
    ids = sorted(expected_ids(services, corpus / "big.md", "big.md"))
    half = ids[: len(ids) // 2]
    vectors = np.zeros((len(half) + 1, services.embedder.dimensions), dtype=np.float32)
    vectors[:, 0] = 1.0
    meta = {"source": "big.md", "title": "Big", "heading": "", "start": 0, "end": 1}
    services.store.upsert([*half, "stale-chunk"], vectors, ["x"] * (len(half) + 1), [meta] * (len(half) + 1))

    report = services.knowledge.ingest_paths([corpus])
    assert report.updated == ["big.md"]
    assert report.chunks_written == len(ids) - len(half) and report.chunks_deleted == 1
    assert services.store.ids_for_source("big.md") == set(ids)
    assert services.store.count() == len(ids)


def test_upload_bytes_validates_before_writing(services: Services) -> None:
    from companion.errors import InvalidInput, UnsupportedMediaType

    with pytest.raises(InvalidInput, match="plain name"):
        services.knowledge.ingest_bytes(b"# x\n\ny", "../escape.md")
    with pytest.raises(UnsupportedMediaType):
        services.knowledge.ingest_bytes(b"data", "notes.exe")
    with pytest.raises(InvalidInput, match="PDF header"):
        services.knowledge.ingest_bytes(b"just text", "renamed.pdf")
    assert services.store.count() == 0 and services.knowledge.list_documents() == []
    report = services.knowledge.ingest_bytes(b"# Upload\n\nA guide about trust.", "upload.md")
    assert report.added == ["upload.md"] and services.store.count() == report.chunks_written == 1


def test_catalogue_on_both_databases(any_db_settings: Settings, tmp_path: Path) -> None:
    services = Services(any_db_settings)
    services.db.create_tables()
    corpus = write_corpus(tmp_path / "guides")
    services.knowledge.ingest_paths([corpus])
    services.knowledge.ingest_paths([corpus])
    docs = services.knowledge.list_documents()
    assert len(docs) == 6 and len({d.id for d in docs}) == 6
    services.knowledge.delete_source("goals.md")
    assert len(services.knowledge.list_documents()) == 5
    services.close()

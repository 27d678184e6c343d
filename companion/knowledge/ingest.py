"""Knowledge ingestion: files -> text -> heading-aware chunks -> embeddings -> vector store.

Chunk ids come from content hashes, so the store and the chunk catalogue (the database table the keyword
search runs on) say what is already there:
- a file whose chunk ids all exist in both is skipped without embedding anything;
- a changed file gets only its new chunks embedded and written to the store, then, in one database
  transaction, its new catalogue rows, its stale rows removed and its document row; then its stale vectors
  removed (new before old, so a crash midway leaves nothing missing, and the next run finishes the job);
- a removed file can be deleted by source, or pruned after a run.
Embedding is batched across files, so many small guides still fill the model's batches.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from companion.errors import InvalidInput, LimitExceeded, NotFound, UnsupportedMediaType
from companion.knowledge import keyword
from companion.knowledge.chunking import Chunk, chunk_document
from companion.knowledge.embeddings import TextEmbedder
from companion.knowledge.guides import GuideSection, section_of
from companion.knowledge.loaders import (
    SUPPORTED_SUFFIXES,
    LoadedText,
    UnreadableFile,
    check_content,
    load_bytes,
)
from companion.knowledge.schemas import DocumentOut, FileFailure, IngestReport
from companion.knowledge.sentences import encode_sentences
from companion.knowledge.store import Metadata, VectorStore
from companion.settings import IngestLimits
from companion.storage.db import Database, Document, utcnow

Progress = Callable[[str], None]
ChunkProgress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed) in one flush
_SAFE_NAME = re.compile(r"^[\w][\w .()-]{0,200}$")


@dataclass
class _Plan:
    source: str
    title: str
    content_hash: str
    size: int
    chunks: list[Chunk]
    stale_ids: list[str]  # in the store or the catalogue, but no longer in the file
    new_chunks: list[Chunk]  # missing from the store: embedded and written
    uncatalogued: list[Chunk]  # missing from the catalogue
    store_stale: list[str]
    is_new: bool
    vectors: np.ndarray | None = field(default=None, repr=False)


class KnowledgeService:
    def __init__(
        self,
        *,
        db: Database,
        store: VectorStore,
        embedder: TextEmbedder,
        chunk_size: int,
        chunk_overlap: int,
        batch_size: int = 64,
        flush_chunks: int = 512,
        uploads_dir: Path | None = None,
        sample_dir: Path | None = None,
        limits: IngestLimits | None = None,
    ) -> None:
        """`uploads_dir`: where uploaded guides are kept, so they can be re-ingested (None: not kept).
        `sample_dir`: the sample handbook's folder, also searched for a guide's file on re-ingest.
        `limits`: bounds on one file (decompressed size, characters, chunks, PDF pages); a file over one
        is refused before anything of it is written."""
        self.db = db
        self.store = store
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.batch_size = batch_size
        self.flush_chunks = flush_chunks
        self.uploads_dir = uploads_dir
        self.sample_dir = sample_dir
        self.limits = limits or IngestLimits()
        self._lock = threading.Lock()

    # ---- ingestion -------------------------------------------------------------------------------

    def collect(self, paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[FileFailure]]:
        """Expand folders into (file, source) pairs. Sources are paths relative to the folder given."""
        files: list[tuple[Path, str]] = []
        failures: list[FileFailure] = []
        for path in paths:
            if path.is_dir():
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    rel = file.relative_to(path)
                    if any(part.startswith(".") for part in rel.parts):
                        continue
                    if file.suffix.lower() in SUPPORTED_SUFFIXES:
                        files.append((file, rel.as_posix()))
                    else:
                        failures.append(
                            FileFailure(
                                source=rel.as_posix(), reason=f"unsupported type {file.suffix or '(none)'!r}"
                            )
                        )
            elif path.is_file():
                files.append((path, path.name))
            else:
                failures.append(FileFailure(source=str(path), reason="no such file or folder"))
        return files, failures

    def ingest_paths(
        self, paths: Iterable[Path], *, prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        files, failures = self.collect(paths)
        sources = [(src, _reader(path)) for path, src in files]
        report = self.ingest_sources(sources, progress=progress)
        report.failed[:0] = failures
        if prune:
            seen = {src for _, src in files}
            for doc in self.list_documents():
                if doc.source not in seen:
                    report.chunks_deleted += self._delete(doc.source)
                    report.deleted.append(doc.source)
        return report

    def check_upload(self, data: bytes, filename: str) -> str:
        """The cheap checks of an upload (a plain name, a supported type, content that matches it), done
        before the file is queued for a background ingest. Returns the name."""
        name = Path(filename).name
        if not name or name != filename or not _SAFE_NAME.match(name):
            raise InvalidInput(
                "file name must be a plain name (letters, digits, spaces, '.', '-', '_', '()'), no folders"
            )
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(SUPPORTED_SUFFIXES)
            suffix = Path(name).suffix or "(none)"
            raise UnsupportedMediaType(f"unsupported file type {suffix!r}; supported: {supported}")
        check_content(data, name, self.limits)
        return name

    def ingest_bytes(
        self,
        data: bytes,
        filename: str,
        *,
        progress: Progress | None = None,
        chunk_progress: ChunkProgress | None = None,
    ) -> IngestReport:
        """Ingest one uploaded file. Refuses (rather than skips) a file that cannot be read.
        `chunk_progress` hears after each embedding batch (a large guide's progress)."""
        name = self.check_upload(data, filename)
        prepared = self._chunks(data, name)  # fail (unreadable, over a limit) before anything is written
        report = self.ingest_sources(
            [(name, lambda: data)],
            progress=progress,
            chunk_progress=chunk_progress,
            prepared={name: prepared},
        )
        if report.failed:
            raise UnreadableFile(report.failed[0].reason)
        self._keep_upload(name, data)
        return report

    def _keep_upload(self, name: str, data: bytes) -> None:
        """Keep an ingested upload in `uploads_dir` (written whole, then renamed into place)."""
        if self.uploads_dir is None:
            return
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        partial = self.uploads_dir / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(self.uploads_dir / name)

    def guide_file(self, source: str) -> Path | None:
        """The file a guide was ingested from, when the server keeps it: an upload or a sample guide."""
        for folder in (self.uploads_dir, self.sample_dir):
            if folder is None or not folder.is_dir():
                continue
            path = (folder / source).resolve()
            if path.is_file() and path.is_relative_to(folder.resolve()):
                return path
        return None

    def reingest(
        self, sources: Iterable[str] | None = None, *, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest these guides again from their kept files (default: every listed guide).

        Unchanged files embed nothing; a guide whose file the server does not keep is reported as failed.
        """
        wanted = [d.source for d in self.list_documents()] if sources is None else list(sources)
        found: list[tuple[str, Callable[[], bytes]]] = []
        missing: list[FileFailure] = []
        for source in wanted:
            path = self.guide_file(source)
            if path is None:
                reason = (
                    "the server does not keep this guide's file (ingested from the command line?); "
                    "upload it again"
                )
                missing.append(FileFailure(source=source, reason=reason))
            else:
                found.append((source, _reader(path)))
        report = self.ingest_sources(found, progress=progress)
        report.failed[:0] = missing
        return report

    def reingest_document(self, document_id: int) -> IngestReport:
        return self.reingest([self.get_document(document_id).source])

    def ingest_sample(self, *, progress: Progress | None = None) -> IngestReport:
        """Ingest the sample handbook folder (adds back sample guides that were deleted)."""
        if self.sample_dir is None or not self.sample_dir.is_dir():
            raise NotFound(
                f"the sample guides folder {self.sample_dir} does not exist (it is set by "
                "COMPANION_SAMPLE_KNOWLEDGE_DIR)"
            )
        return self.ingest_paths([self.sample_dir], progress=progress)

    def ingest_sources(
        self,
        sources: list[tuple[str, Callable[[], bytes]]],
        *,
        progress: Progress | None = None,
        chunk_progress: ChunkProgress | None = None,
        prepared: dict[str, tuple[LoadedText, list[Chunk]]] | None = None,
    ) -> IngestReport:
        """`prepared`: sources already loaded and chunked (an upload checked first), not parsed again."""
        report = IngestReport()
        with self._lock:
            pending: list[_Plan] = []
            pending_chunks = 0
            for source, read in sources:
                try:
                    plan = self._plan(source, read(), (prepared or {}).get(source))
                except (UnreadableFile, LimitExceeded, OSError) as exc:
                    report.failed.append(FileFailure(source=source, reason=str(exc)))
                    if progress:
                        progress(source)
                    continue
                if plan is None:
                    report.unchanged.append(source)
                    if progress:
                        progress(source)
                    continue
                pending.append(plan)
                pending_chunks += len(plan.new_chunks)
                if pending_chunks >= self.flush_chunks:
                    self._flush(pending, report, progress, chunk_progress)
                    pending, pending_chunks = [], 0
            self._flush(pending, report, progress, chunk_progress)
        return report

    def _plan(
        self, source: str, data: bytes, prepared: tuple[LoadedText, list[Chunk]] | None = None
    ) -> _Plan | None:
        """Work out what to write for one file; None when the store already holds exactly its chunks."""
        loaded, chunks = prepared or self._chunks(data, source)
        content_hash = hashlib.sha256(data).hexdigest()
        expected = {c.id for c in chunks}
        existing = self.store.ids_for_source(source)
        with self.db.session() as session:
            catalogued = keyword.ids_for_source(session, source)
        if existing == expected == catalogued:
            self._record(source, loaded.title, content_hash, len(chunks), len(data), only_if_changed=True)
            return None
        return _Plan(
            source=source,
            title=loaded.title,
            content_hash=content_hash,
            size=len(data),
            chunks=chunks,
            stale_ids=sorted(catalogued - expected),
            new_chunks=[c for c in chunks if c.id not in existing],
            uncatalogued=[c for c in chunks if c.id not in catalogued],
            store_stale=sorted(existing - expected),
            is_new=not (existing or catalogued),
        )

    def _chunks(self, data: bytes, source: str) -> tuple[LoadedText, list[Chunk]]:
        """Load and chunk one file within the limits (UnreadableFile or LimitExceeded otherwise)."""
        loaded = load_bytes(data, source, self.limits)
        chunks = chunk_document(
            loaded, source=source, chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap
        )
        if len(chunks) > self.limits.max_chunks:
            raise LimitExceeded(
                f"{source} would be cut into {len(chunks):,} chunks",
                limit=self.limits.max_chunks,
                setting="max_chunks",
            )
        return loaded, chunks

    def _flush(
        self,
        plans: list[_Plan],
        report: IngestReport,
        progress: Progress | None,
        chunk_progress: ChunkProgress | None = None,
    ) -> None:
        texts = [c.indexed_text() for plan in plans for c in plan.new_chunks]
        vectors = self._encode(texts, chunk_progress) if texts else None
        rows = [c for plan in plans for c in plan.uncatalogued]
        blobs = encode_sentences(self.embedder, [(c.text, c.heading_path) for c in rows], self.batch_size)
        sentence_vectors = {c.id: blob for c, blob in zip(rows, blobs, strict=True)}
        offset = 0
        for plan in plans:
            n = len(plan.new_chunks)
            if n and vectors is not None:
                self.store.upsert(
                    [c.id for c in plan.new_chunks],
                    vectors[offset : offset + n],
                    [c.text for c in plan.new_chunks],
                    [_metadata(c) for c in plan.new_chunks],
                )
            offset += n
            self._record(
                plan.source,
                plan.title,
                plan.content_hash,
                len(plan.chunks),
                plan.size,
                add=[_catalogue_row(c, sentence_vectors[c.id]) for c in plan.uncatalogued],
                remove=plan.stale_ids,
            )
            self.store.delete_ids(plan.store_stale)
            (report.added if plan.is_new else report.updated).append(plan.source)
            report.chunks_written += n
            report.chunks_deleted += len(set(plan.stale_ids) | set(plan.store_stale))
            if progress:
                progress(plan.source)

    def _encode(self, texts: list[str], chunk_progress: ChunkProgress | None) -> np.ndarray:
        """Embed in one call, or batch by batch when someone follows the progress (nothing is written
        before every batch is done, so stopping between batches leaves the index as it was)."""
        if chunk_progress is None:
            return self.embedder.encode(texts, batch_size=self.batch_size)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            parts.append(self.embedder.encode(batch, batch_size=self.batch_size))
            chunk_progress(min(start + self.batch_size, len(texts)), len(texts))
        return np.vstack(parts)

    def _record(
        self,
        source: str,
        title: str,
        content_hash: str,
        chunks: int,
        size: int,
        *,
        only_if_changed: bool = False,
        add: list[dict[str, object]] | None = None,
        remove: list[str] | None = None,
    ) -> None:
        """The document's row and its catalogue changes, in one transaction."""
        with self.db.session() as session:
            if remove:
                keyword.delete_ids(session, remove)
            if add:
                keyword.add_rows(session, add)
            doc = session.scalar(select(Document).where(Document.source == source))
            if doc is None:
                session.add(
                    Document(
                        source=source, title=title, content_hash=content_hash, chunks=chunks, size_bytes=size
                    )
                )
            elif not only_if_changed or doc.content_hash != content_hash or doc.chunks != chunks:
                doc.title, doc.content_hash, doc.chunks, doc.size_bytes = title, content_hash, chunks, size
                doc.ingested_at = utcnow()

    # ---- catalogue ---------------------------------------------------------------------------------

    def list_documents(self) -> list[DocumentOut]:
        with self.db.session() as session:
            docs = session.scalars(select(Document).order_by(Document.source))
            return [DocumentOut.model_validate(d) for d in docs]

    def guide_section(self, source: str, chunk_id: str) -> GuideSection:
        """The section of a guide holding this chunk, put back together from the index (opens a citation).
        Unknown guide or chunk -> NotFound."""
        return section_of(self.store.chunks_for_source(source), source=source, chunk_id=chunk_id)

    def get_document(self, document_id: int) -> DocumentOut:
        with self.db.session() as session:
            doc = session.get(Document, document_id)
            if doc is None:
                raise NotFound(f"no document with id {document_id}")
            return DocumentOut.model_validate(doc)

    def delete_document(self, document_id: int) -> IngestReport:
        doc = self.get_document(document_id)
        return self.delete_source(doc.source)

    def delete_source(self, source: str) -> IngestReport:
        with self._lock:
            removed = self._delete(source)
        if removed < 0:
            raise NotFound(f"no document with source {source!r}")
        return IngestReport(deleted=[source], chunks_deleted=removed)

    def _delete(self, source: str) -> int:
        """Remove chunks first, then the catalogue row and any kept upload. Returns chunks removed, -1 if
        nothing was known."""
        from_store = self.store.delete_source(source)  # first: after a crash the guide is still listed
        with self.db.session() as session:
            catalogued = keyword.delete_source(session, source)
            doc = session.scalar(select(Document).where(Document.source == source))
            if doc is not None:
                session.delete(doc)
        removed = max(from_store, catalogued)
        kept = self.uploads_dir / source if self.uploads_dir is not None else None
        if kept is not None and kept.parent == self.uploads_dir and kept.is_file():
            kept.unlink()
        if doc is None and removed == 0:
            return -1
        return removed

    def sync_catalogue(self) -> int:
        """Fill an empty chunk catalogue from the vector store (a data dir or backup from before the
        catalogue existed). Returns the rows written; 0 when the catalogue already has rows."""
        with self._lock, self.db.session() as session:
            if keyword.count(session):
                return 0
            chunks = list(self.store.iter_all())
            for i in range(0, len(chunks), self.flush_chunks):
                batch = chunks[i : i + self.flush_chunks]
                blobs = encode_sentences(
                    self.embedder,
                    [(c.text, str(c.metadata.get("heading", ""))) for c in batch],
                    self.batch_size,
                )
                rows = [
                    keyword.catalogue_row(c.id, c.text, c.metadata, blob)
                    for c, blob in zip(batch, blobs, strict=True)
                ]
                keyword.add_rows(session, rows)
            return len(chunks)


def _reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def _catalogue_row(chunk: Chunk, sentence_vectors: bytes) -> dict[str, object]:
    return keyword.catalogue_row(chunk.id, chunk.text, _metadata(chunk), sentence_vectors)


def _metadata(chunk: Chunk) -> Metadata:
    return {
        "source": chunk.source,
        "title": chunk.title,
        "heading": chunk.heading_path,
        "start": chunk.start,
        "end": chunk.end,
    }

"""Backup and restore of the database and the vector store, as one folder of plain files:

- `database.json`: every table's rows (SQLite or PostgreSQL alike; dates as ISO text, bytes as base64);
- `chunks.jsonl`: every stored chunk with its text, metadata and embedding (any store mode);
- `manifest.json`: what was written, with counts, the embedder, the format version and the schema revision.

Restore goes into an empty database and an empty collection (it refuses otherwise), so a restore never
mixes two states. Chunk ids are content hashes, so a restored store answers exactly as the original.
The database is first migrated to the newest schema revision, so a backup from an older revision restores
into the current schema (columns added since get their defaults); one from a newer revision is refused.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Date, DateTime, Integer, LargeBinary, func, insert, select, text

from companion.errors import Conflict, InvalidInput
from companion.storage.db import Base, Database
from companion.storage.migrate import known_revision

FORMAT = 1
BATCH = 1000
Metadata = dict[str, str | int | float | bool]


class VectorStore(Protocol):
    """What a backup needs of the vector store (`knowledge.store.VectorStore` has it); storage is below the
    services, so it names the methods rather than importing the store."""

    def count(self) -> int: ...

    def iter_with_embeddings(self) -> Iterator[tuple[str, str, Metadata, list[float]]]: ...

    def upsert(
        self, ids: list[str], embeddings: np.ndarray, texts: list[str], metadatas: list[Metadata]
    ) -> None: ...


def backup(*, db: Database, store: VectorStore, embedder_name: str, dest: Path) -> dict[str, Any]:
    """Write the backup folder `dest` (created; must be empty). Returns the manifest."""
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"backup folder {dest} is not empty; choose a new one")
    dest.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)[:1]
            rows = conn.execute(select(table).order_by(*order)).mappings()
            tables[table.name] = [{k: _dump(v) for k, v in row.items()} for row in rows]
    (dest / "database.json").write_text(json.dumps({"format": FORMAT, "tables": tables}))
    chunks = 0
    with (dest / "chunks.jsonl").open("w") as out:
        for chunk_id, text_, metadata, vector in store.iter_with_embeddings():
            out.write(json.dumps({"id": chunk_id, "text": text_, "metadata": metadata, "embedding": vector}))
            out.write("\n")
            chunks += 1
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "embedder": embedder_name,
        "rows": {name: len(rows) for name, rows in tables.items()},
        "chunks": chunks,
        "schema": db.schema_revision(),
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def restore(*, db: Database, store: VectorStore, embedder_name: str, source: Path) -> dict[str, Any]:
    """Load a backup folder into an empty database and an empty vector store. Returns the manifest."""
    try:
        manifest = json.loads((source / "manifest.json").read_text())
        dump = json.loads((source / "database.json").read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{source} is not a Companion backup: {exc}") from exc
    if manifest.get("format") != FORMAT or dump.get("format") != FORMAT:
        raise InvalidInput(f"backup format {manifest.get('format')!r} is not supported (expected {FORMAT})")
    if manifest.get("embedder") != embedder_name:
        raise Conflict(
            f"the backup's chunks were embedded with {manifest.get('embedder')!r}, but this service uses "
            f"{embedder_name!r}; restore with the same embedding settings"
        )
    revision = manifest.get("schema")  # absent in backups made before migrations: the first revision
    if revision is not None and not known_revision(str(revision)):
        raise InvalidInput(
            f"the backup is from schema revision {revision!r}, which this version of Companion does not "
            "know; restore it with the release that made it, or a newer one"
        )
    db.create_tables()
    with db.engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar():
                raise Conflict(f"the database is not empty (table {table.name}); restore into a new one")
    if store.count():
        raise Conflict("the vector store is not empty; restore into a new collection or data dir")
    with db.engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            rows = [_load_row(table, row) for row in dump["tables"].get(table.name, [])]
            for i in range(0, len(rows), BATCH):
                conn.execute(insert(table), rows[i : i + BATCH])
            pk = list(table.primary_key.columns)
            if conn.dialect.name == "postgresql" and rows and len(pk) == 1 and _serial(pk[0]):
                conn.execute(
                    text(  # names come from our own table definitions, never from input
                        f'SELECT setval(pg_get_serial_sequence(:t, :c), (SELECT max("{pk[0].name}") '
                        f'FROM "{table.name}"))'
                    ),
                    {"t": table.name, "c": pk[0].name},
                )
    batch: list[dict[str, Any]] = []
    with (source / "chunks.jsonl").open() as lines:
        for line in lines:
            if line.strip():
                batch.append(json.loads(line))
            if len(batch) >= BATCH:
                _upsert(store, batch)
                batch = []
    _upsert(store, batch)
    return dict(manifest)


def _upsert(store: VectorStore, batch: list[dict[str, Any]]) -> None:
    if not batch:
        return
    metadatas: list[Metadata] = [c["metadata"] for c in batch]
    store.upsert(
        [c["id"] for c in batch],
        np.asarray([c["embedding"] for c in batch], dtype=np.float32),
        [c["text"] for c in batch],
        metadatas,
    )


def _serial(column: Any) -> bool:
    """An integer key filled by a sequence on PostgreSQL (which must then continue past restored ids)."""
    return (
        isinstance(column.type, Integer)
        and column.autoincrement in (True, "auto")
        and not column.foreign_keys
    )


def _dump(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _load_row(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        if column.name not in row:
            continue
        value = row[column.name]
        if value is not None:
            if isinstance(column.type, DateTime):
                value = datetime.fromisoformat(value)
                if value.tzinfo is None and column.type.timezone:  # SQLite drops the offset; stored as UTC
                    value = value.replace(tzinfo=UTC)
            elif isinstance(column.type, Date):
                value = date.fromisoformat(value)
            elif isinstance(column.type, LargeBinary):
                value = base64.b64decode(value)
        out[column.name] = value
    return out

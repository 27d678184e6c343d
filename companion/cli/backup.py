"""`companion backup` and `companion restore`: the database and the vector store as one folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from companion.cli.audit import record_cli
from companion.container import Services
from companion.storage.backup import backup as run_backup
from companion.storage.backup import restore as run_restore

console = Console(stderr=True)


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    @app.command()
    def backup(
        dest: Annotated[Path, typer.Argument(help="New (or empty) folder to write the backup into.")],
    ) -> None:
        """Back up the database (every table, as JSON) and the vector store (chunks with embeddings)."""
        svc = services()

        def go() -> dict[str, Any]:
            svc.db.create_tables()
            return run_backup(db=svc.db, store=svc.store, embedder_name=svc.embedder.name, dest=dest)

        manifest = run(go)
        rows = sum(manifest["rows"].values())
        record_cli(svc, "backup", str(dest), rows=rows, chunks=manifest["chunks"])
        console.print(
            f"backed up {rows} rows in {len(manifest['rows'])} tables and {manifest['chunks']} chunks"
        )
        console.print(f"to {dest}")

    @app.command()
    def restore(
        source: Annotated[Path, typer.Argument(help="A folder written by `companion backup`.")],
    ) -> None:
        """Restore a backup into an empty database and vector store (refuses to overwrite data)."""
        svc = services()
        manifest = run(
            lambda: run_restore(db=svc.db, store=svc.store, embedder_name=svc.embedder.name, source=source)
        )
        rows = sum(manifest["rows"].values())
        record_cli(svc, "restore", str(source), rows=rows, chunks=manifest["chunks"])
        console.print(f"restored {rows} rows and {manifest['chunks']} chunks from {source}")

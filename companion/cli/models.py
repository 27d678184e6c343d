"""`companion model pull|list|use`: local GGUF models in the data dir."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from companion.assistant.llm import packaged_gguf_path
from companion.container import Services
from companion.errors import CompanionError

console = Console()
err = Console(stderr=True)


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    model_app = typer.Typer(help="Local GGUF models: pull one, list them, choose the one in use.")
    app.add_typer(model_app, name="model", no_args_is_help=True)

    @model_app.command("pull")
    def pull(
        source: Annotated[str, typer.Argument(help="A catalogue name (see `model list`) or a GGUF URL.")],
        name: Annotated[str | None, typer.Option(help="Name to record it under (URL pulls).")] = None,
        use: Annotated[bool, typer.Option("--use", help="Also make it the model in use.")] = False,
    ) -> None:
        """Download a GGUF into the data dir (resumes an interrupted download; checks the GGUF header)."""
        svc = services()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
        ) as bar:
            task = bar.add_task(f"pulling {source}", total=None)

            def advance(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            try:
                model = run(lambda: svc.models.pull(source, name=name, progress=advance))
            except KeyboardInterrupt:
                err.print("[yellow]interrupted[/yellow]: the part file is kept; run the same pull to resume")
                raise typer.Exit(130) from None
        console.print(f"pulled {model.name}: {svc.models.path_of(model)} ({model.size} bytes)")
        published = " (matches the one the server publishes)" if model.verified else ""
        console.print(f"sha256 {model.sha256}{published}")
        if use:
            run(lambda: svc.models.use(model.name))
            console.print(f"local mode now uses {model.name}")
        else:
            console.print(f"use it with: companion model use {model.name}")

    @model_app.command("list")
    def list_models(
        as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    ) -> None:
        """Pulled models, the packaged one and the catalogue; `*` marks the one local mode loads."""
        svc = services()
        try:
            packaged = packaged_gguf_path()
        except CompanionError:
            packaged = None
        rows = run(lambda: svc.models.rows(settings_path=svc.settings.llm.model_path, packaged_path=packaged))
        if as_json:
            print(
                json.dumps(
                    [
                        {
                            "name": row.name,
                            "kind": row.kind,
                            "path": str(row.path) if row.path else None,
                            "size": row.size,
                            "in_use": row.in_use,
                            "note": row.note,
                        }
                        for row in rows
                    ],
                    indent=2,
                )
            )
            return
        table = Table("", "name", "kind", "size", "path / source")
        for row in rows:
            size = f"{row.size / 1e9:.2f} GB" if row.size else ""
            where = str(row.path) if row.path else row.note
            table.add_row("*" if row.in_use else "", row.name, row.kind, size, where)
        console.print(table)
        if svc.settings.llm.mode != "local":
            console.print(
                f"[yellow]note:[/yellow] llm.mode is {svc.settings.llm.mode}; local models are unused"
            )

    @model_app.command("use")
    def use(
        choice: Annotated[
            str, typer.Argument(help="A pulled model's name, `packaged`, or the path of a GGUF file.")
        ],
    ) -> None:
        """Choose the GGUF local mode loads (COMPANION_LLM__MODEL_PATH, when set, still wins)."""
        svc = services()
        path = run(lambda: svc.models.use(choice))
        console.print(f"local mode now uses {path or 'the packaged SmolLM2-135M-Instruct'}")
        if svc.settings.llm.model_path is not None:
            console.print(
                f"[yellow]note:[/yellow] COMPANION_LLM__MODEL_PATH={svc.settings.llm.model_path} is set "
                "and wins"
            )

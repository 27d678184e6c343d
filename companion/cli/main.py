"""The `companion` command line."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from companion.cli.assistant import register as register_assistant_commands
from companion.cli.audit import record_cli
from companion.cli.audit import register as register_audit_commands
from companion.cli.backup import register as register_backup_commands
from companion.cli.db import register as register_db_commands
from companion.cli.eval import register as register_eval_commands
from companion.cli.jobs import register as register_jobs_commands
from companion.cli.matching import register as register_matching_commands
from companion.cli.models import register as register_model_commands
from companion.cli.nudges import register as register_nudge_commands
from companion.cli.outcomes import register as register_outcomes_commands
from companion.cli.program import register as register_program_commands
from companion.cli.surveys import register as register_survey_commands
from companion.container import Services
from companion.errors import CompanionError, validation_problems
from companion.identity.auth import create_user, ensure_first_admin, list_users, parse_role
from companion.knowledge.schemas import IngestReport
from companion.settings import Settings

app = typer.Typer(help="Companion: an LLM-assisted mentoring companion.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users and their API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def main() -> None:
    app()


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for problem in validation_problems(exc):
            where = f"COMPANION_{'__'.join(problem.path).upper()}" if problem.path else "settings"
            err.print(f"[red]configuration error:[/red] {where}: {problem.message}")
        raise typer.Exit(2) from None


def _services() -> Services:
    return Services(_settings())


def _run(fn: Callable[[], T]) -> T:
    """Run a command body; a CompanionError becomes a one-line message and exit code 1."""
    try:
        return fn()
    except CompanionError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None


register_matching_commands(app, services=_services, run=_run)
register_assistant_commands(app, services=_services, run=_run)
register_eval_commands(app, services=_services, run=_run)
register_backup_commands(app, services=_services, run=_run)
register_db_commands(app, services=_services, run=_run)
register_audit_commands(app, services=_services, run=_run)
register_jobs_commands(app, services=_services, run=_run)
register_model_commands(app, services=_services, run=_run)
program_app = register_program_commands(app, services=_services, run=_run)
register_survey_commands(app, services=_services, run=_run)
register_outcomes_commands(program_app, services=_services, run=_run)
register_nudge_commands(app, services=_services, run=_run)


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[str], None]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total, current="")
        yield lambda source: bar.update(task, advance=1, current=source)


def _ingest(services: Services, paths: list[Path], *, prune: bool = False) -> IngestReport:
    files, _ = services.knowledge.collect(paths)
    services.db.create_tables()
    with _progress(len(files), "ingesting") as advance:
        return services.knowledge.ingest_paths(paths, prune=prune, progress=advance)


def _counts(report: IngestReport) -> dict[str, int]:
    return {
        "added": len(report.added),
        "updated": len(report.updated),
        "deleted": len(report.deleted),
        "failed": len(report.failed),
        "chunks_written": report.chunks_written,
    }


def _print_report(report: IngestReport) -> None:
    console.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"deleted {len(report.deleted)}, failed {len(report.failed)}; "
        f"{report.chunks_written} chunks written, {report.chunks_deleted} removed"
    )
    for failure in report.failed:
        console.print(f"[yellow]skipped[/yellow] {failure.source}: {failure.reason}")


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders of guides (.md .txt .html .pdf .docx).")
    ],
    prune: Annotated[
        bool, typer.Option(help="Also remove indexed guides that are not among these paths.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest guides. Unchanged files are skipped, changed files replaced, unreadable files reported."""
    services = _services()
    report = _run(lambda: _ingest(services, paths, prune=prune))
    record_cli(services, "ingest", " ".join(str(p) for p in paths), prune=prune, **_counts(report))
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _print_report(report)


@app.command()
def forget(
    source: Annotated[str, typer.Argument(help="Source of the guide, as `companion search` shows it.")],
) -> None:
    """Remove one guide and its chunks from the index."""
    services = _services()
    services.db.create_tables()
    report = _run(lambda: services.knowledge.delete_source(source))
    record_cli(services, "forget", source, chunks_deleted=report.chunks_deleted)
    console.print(f"removed {source} ({report.chunks_deleted} chunks)")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="How many results.")] = 5,
    source: Annotated[list[str] | None, typer.Option(help="Only these sources (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Search the guides and print the best chunks with their sources."""
    services = _services()
    filters: dict[str, Any] | None = {"source": source} if source else None
    results = _run(lambda: services.retriever.retrieve(query=query, k=k, filters=filters))
    if as_json:
        print(json.dumps([r.model_dump() for r in results], indent=2))
        return
    if not results:
        console.print("no results: is anything ingested? try `companion ingest knowledge/`")
    for n, r in enumerate(results, start=1):
        console.print(
            f"[bold][{n}] {r.citation}[/bold]  [dim](score {r.score:.4f}, chars {r.start}-{r.end})[/dim]"
        )
        snippet = " ".join(r.text.split())
        console.print(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}\n", markup=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
) -> None:
    """Run the API. First start: creates an admin (token printed once) and ingests the sample guides."""
    import uvicorn

    from companion.app import create_app

    settings = _settings()
    services = Services(settings)

    def prepare() -> None:
        services.db.create_tables()
        with services.db.session() as session:
            token = ensure_first_admin(session)
        if token:
            password = secrets.token_urlsafe(12)
            services.accounts.set_password("admin", password)
            err.print(
                "[bold green]Created the first admin user 'admin'.[/bold green] Shown once, keep them safe:\n"
                f"\n    web sign-in password: {password}\n    API token:            {token}\n"
                "\nChange the password with `companion users passwd admin`."
            )
        synced = services.knowledge.sync_catalogue()
        if synced:
            err.print(f"Chunk catalogue was empty: copied {synced} chunks from the vector store")
        if (
            settings.seed_sample_knowledge
            and services.store.count() == 0
            and settings.sample_knowledge_dir.is_dir()
        ):
            err.print(f"Index is empty: ingesting the sample guides from {settings.sample_knowledge_dir}")
            _print_report(_ingest(services, [settings.sample_knowledge_dir]))
        services.retriever.warm_up()  # model, vector index and full-text pages loaded before the first query

    _run(prepare)
    bind_host, bind_port = host or settings.host, port or settings.port
    err.print(f"Companion on http://{bind_host}:{bind_port}  (API docs: http://{bind_host}:{bind_port}/docs)")
    consumer = None
    if settings.jobs.consumer_in_serve and settings.jobs.backend != "immediate":
        consumer = services.job_consumer()
        recovered = _run(consumer.start)
        err.print(
            f"Background jobs: {settings.jobs.workers} worker threads on the {settings.jobs.backend} queue"
            + (f"; recovered {recovered}" if recovered["requeued"] or recovered["failed"] else "")
        )
    try:
        uvicorn.run(
            create_app(settings, services=services),
            host=bind_host,
            port=bind_port,
            log_level="info",
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
    except KeyboardInterrupt:
        if consumer is not None:
            consumer.stop()
        _end_cut_requests(130)
        raise
    if consumer is not None:
        consumer.stop()
    _end_cut_requests(0)


def _end_cut_requests(code: int) -> None:
    """After uvicorn shut down, a request it cut may still run in a worker thread (a slow model call, say),
    and Python would wait for that thread before exiting: end the process now instead."""
    import os
    import threading

    busy = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    if busy:
        err.print(f"Stopped; {len(busy)} thread(s) still busy with cut requests were ended.")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="mentee, mentor or admin.")] = "mentee",
) -> None:
    """Create a user and print its API token (shown once)."""
    services = _services()

    def add() -> str:
        services.db.create_tables()
        with services.db.session() as session:
            _, token = create_user(session, name=name, role=parse_role(role))
        return token

    token = _run(add)
    record_cli(services, "users add", name, role=role)
    err.print(f"created {role} {name!r}; API token (shown once):")
    print(token)


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[
        str | None,
        typer.Option(help="The new password; prompted for (hidden) when left out.", show_default=False),
    ] = None,
) -> None:
    """Set or reset a user's web sign-in password (ends their open browser sessions)."""
    services = _services()
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)

    def change() -> None:
        services.db.create_tables()
        services.accounts.set_password(name, password)

    _run(change)
    record_cli(services, "users passwd", name)
    err.print(f"password set for {name!r}")


@users_app.command("list")
def users_list() -> None:
    """List users and their roles."""
    services = _services()

    def rows() -> list[tuple[int, str, str, str]]:
        services.db.create_tables()
        with services.db.session() as session:
            return [
                (u.id, u.name, u.role, u.created_at.isoformat(timespec="seconds"))
                for u in list_users(session)
            ]

    table = Table("id", "name", "role", "created")
    for row in _run(rows):
        table.add_row(*(str(c) for c in row))
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    main()

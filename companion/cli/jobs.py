"""`companion jobs` (list, show and follow, cancel, queue an eval run) and `companion worker`."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from companion.container import Services
from companion.evaluation.runner import SUITES
from companion.identity.auth import Principal, Role
from companion.jobs.schemas import EvalRunRequest, JobOut, JobStatus
from companion.jobs.tasks import start_eval_run

console = Console()
err = Console(stderr=True)
CLI_PRINCIPAL = Principal(id=0, name="cli", role=Role.admin)


def follow(services: Services, job: JobOut, *, interval: float = 0.5) -> JobOut:
    """Show a job's progress as a rich bar until it ends; returns the ended job."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}"),
        console=err,
    ) as bar:
        task = bar.add_task(escape(job.title), total=job.progress.total, message="")
        while True:
            bar.update(
                task,
                total=job.progress.total,
                completed=job.progress.done,
                message=escape(job.progress.message[:60]),
            )
            if job.finished:
                return job
            time.sleep(interval)
            job = services.jobs.get(job.id)


def _print_end(job: JobOut) -> None:
    if job.status == JobStatus.done:
        console.print(f"job {job.id} done: {job.title}")
        if job.result and "run_id" in job.result:
            console.print(f"eval run {job.result['run_id']}: score {job.result.get('score', 0):.3f}")
    else:
        err.print(f"[red]job {job.id} {job.status.value}:[/red] {escape(job.error or '')}")


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    jobs_app = typer.Typer(help="Background jobs: list, show (and follow), cancel.", no_args_is_help=True)
    app.add_typer(jobs_app, name="jobs")

    @jobs_app.command("list")
    def jobs_list(
        status: Annotated[JobStatus | None, typer.Option(help="Only jobs with this status.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=500, help="Most recent jobs to show.")] = 20,
    ) -> None:
        """Jobs, newest first."""
        svc = services()
        svc.db.create_tables()
        jobs: list[JobOut] = run(lambda: svc.jobs.list_jobs(status=status, limit=limit))
        table = Table("id", "created (UTC)", "job", "status", "progress", "by")
        for j in jobs:
            total = f"/{j.progress.total}" if j.progress.total is not None else ""
            table.add_row(
                j.id, j.created_at.strftime("%Y-%m-%d %H:%M:%S"), escape(j.title), j.status.value,
                f"{j.progress.done}{total} {escape(j.progress.message[:50])}", j.started_by or "(schedule)",
            )  # fmt: skip
        console.print(table)

    @jobs_app.command("show")
    def jobs_show(
        job_id: Annotated[str, typer.Argument(help="Job id, as `companion jobs list` shows it.")],
        follow_: Annotated[
            bool, typer.Option("--follow", "-f", help="Show its progress until it ends.")
        ] = False,
    ) -> None:
        """One job: status, progress, result or error."""
        svc = services()
        svc.db.create_tables()
        job: JobOut = run(lambda: svc.jobs.get(job_id))
        if follow_:
            job = follow(svc, job)
            _print_end(job)
            if job.status != JobStatus.done:
                raise typer.Exit(1)
            return
        print(job.model_dump_json(indent=2))

    @jobs_app.command("cancel")
    def jobs_cancel(job_id: Annotated[str, typer.Argument(help="Job id.")]) -> None:
        """Cancel a job: at once when it waits, at its next step when it runs."""
        svc = services()
        svc.db.create_tables()
        job: JobOut = run(lambda: svc.jobs.cancel(job_id))
        console.print(f"job {job.id}: {job.status.value} ({job.progress.message})")

    @jobs_app.command("eval")
    def jobs_eval(
        suite: Annotated[
            list[str] | None, typer.Option(help=f"Suite (repeatable): {', '.join(SUITES)}. Default: all.")
        ] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="At most this many cases per suite.")] = None,
        judge: Annotated[bool | None, typer.Option("--judge/--no-judge", help="Use the LLM judge.")] = None,
        backend: Annotated[str | None, typer.Option(help="Chat backend (default: the configured).")] = None,
        note: Annotated[str, typer.Option(help="A note stored with the run.")] = "",
        follow_: Annotated[bool, typer.Option("--follow/--no-follow", help="Show its progress.")] = True,
    ) -> None:
        """Queue an eval run for the consumer (in `serve` or `companion worker`) and follow it."""
        svc = services()
        svc.db.create_tables()
        request = EvalRunRequest(suites=suite or [], limit=limit, judge=judge, backend=backend, note=note)
        job: JobOut = run(lambda: start_eval_run(svc, request, principal=CLI_PRINCIPAL))
        err.print(f"queued job {job.id}: {escape(job.title)}")
        if not follow_:
            print(job.id)
            return
        job = follow(svc, job)
        _print_end(job)
        if job.status != JobStatus.done:
            raise typer.Exit(1)

    @app.command()
    def worker(
        periodic: Annotated[
            bool, typer.Option(help="Also run the periodic work (recovery, the scheduled eval run).")
        ] = True,
    ) -> None:
        """Run background jobs from the queue, without the web server (for several machines: use Redis,
        PostgreSQL and a Chroma server, and set COMPANION_JOBS__CONSUMER_IN_SERVE=false on `serve`)."""
        svc = services()
        if svc.settings.jobs.backend == "immediate":
            err.print("[red]error:[/red] the immediate queue (COMPANION_JOBS__MODE=immediate) has no worker")
            raise typer.Exit(2)
        run(svc.db.create_tables)
        consumer = svc.job_consumer(periodic=periodic)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        recovered = run(consumer.start)
        err.print(
            f"worker: {svc.settings.jobs.workers} threads on the {svc.settings.jobs.backend} queue; "
            f"recovered {len(recovered['requeued'])} interrupted job(s), "
            f"{len(recovered['failed'])} marked failed. Ctrl-C stops."
        )
        stop.wait()
        err.print("worker: stopping (running jobs get 5 s to finish, then are recovered on the next start)")
        consumer.stop()
        svc.close()

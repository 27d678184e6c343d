"""`companion nudges run [--today YYYY-MM-DD] [--dry-run]`: send today's e-mail nudges (or list them) and
print what was sent, skipped and why, and any SMTP errors; `companion nudges sent` lists recent sends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from companion.container import Services
from companion.program.email import OFF_MESSAGE
from companion.program.nudges import NudgeReport

console = Console()
err = Console(stderr=True)


def _summary(report: NudgeReport) -> Table:
    title = f"Nudges for {report.today}" + (" (dry run: nothing sent)" if report.dry_run else "")
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    if report.dry_run:
        table.add_row("would send", str(report.would_send))
    else:
        table.add_row("sent", str(report.sent))
        table.add_row("failed", str(report.failed))
    for reason, count in sorted(report.by_reason.items()):
        table.add_row(f"  {reason.replace('_', ' ')}", str(count))
    for why, count in sorted(report.skipped.items()):
        table.add_row(f"skipped: {why}", str(count))
    return table


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    nudges_app = typer.Typer(
        help="E-mail nudges: reminders, at-risk pairs, surveys, milestones.", no_args_is_help=True
    )
    app.add_typer(nudges_app, name="nudges")

    @nudges_app.command("run")
    def run_nudges(
        today: Annotated[
            datetime | None,
            typer.Option(formats=["%Y-%m-%d"], help="Judge the pairs on this day (default: today)."),
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be sent.")] = False,
    ) -> None:
        """Send the nudges due today, each at most once per person, reason and period."""
        svc = services()

        def go() -> NudgeReport:
            svc.db.create_tables()
            day: date | None = today.date() if today else None
            return svc.nudges.run(day, dry_run=dry_run)

        report = run(go)
        if not report.email_on:
            err.print(f"[yellow]{OFF_MESSAGE}[/yellow]" + ("" if dry_run else " Nothing was sent."))
        console.print(_summary(report))
        for error in report.errors:
            err.print(f"[red]error:[/red] {escape(error)}")
        console.print(f"took {report.seconds:.2f} s")
        if report.failed:
            raise typer.Exit(1)

    @nudges_app.command("sent")
    def sent(limit: Annotated[int, typer.Option(min=1, max=500, help="How many.")] = 20) -> None:
        """The most recent e-mails sent."""
        svc = services()
        svc.db.create_tables()
        table = Table(title="Recent nudges")
        for column in ("sent", "to", "address", "reason", "subject"):
            table.add_column(column)
        for row in run(lambda: svc.nudges.recent(limit=limit)):
            table.add_row(
                row.sent_at.strftime("%Y-%m-%d %H:%M"), row.user, row.address, row.reason, escape(row.subject)
            )
        console.print(table)

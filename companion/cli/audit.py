"""`companion audit list`, and `record_cli`: how the changing commands put themselves in the audit log
(via "cli", actor = the OS user, since the command line has no signed-in account)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter
from rich.console import Console
from rich.table import Table

from companion.container import Services
from companion.identity.audit import os_user
from companion.identity.schemas import AuditEventOut

console = Console()


def record_cli(svc: Services, action: str, target: str = "", **details: Any) -> None:
    """Record a command that changed something. The command's work is done: a failure to record it is
    logged (with its traceback), never raised."""
    svc.audit.record_quietly(
        actor=None, actor_name=os_user(), action=action, target=target, via="cli", details=details
    )


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    """Add `audit list` to the command line."""
    audit_app = typer.Typer(help="The audit log of admin actions (API, web pages, command line).")
    app.add_typer(audit_app, name="audit")

    @audit_app.command("list")
    def audit_list(
        limit: Annotated[int, typer.Option(min=1, max=500, help="Most events shown, newest first.")] = 50,
        action: Annotated[str | None, typer.Option(help="Only actions containing this text.")] = None,
        actor: Annotated[str | None, typer.Option(help="Only this actor name.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the events as JSON.")] = False,
    ) -> None:
        """Show recorded admin actions, newest first."""

        def load() -> list[AuditEventOut]:
            svc = services()
            svc.db.create_tables()
            return svc.audit.list(limit=limit, offset=0, action=action, actor=actor)

        events: list[AuditEventOut] = run(load)
        if as_json:
            print(TypeAdapter(list[AuditEventOut]).dump_json(events, indent=2).decode())
            return
        if not events:
            console.print("no audit events recorded yet")
            return
        table = Table("id", "at (UTC)", "via", "actor", "action", "target", "details")
        for e in events:
            details = ", ".join(f"{k}={v}" for k, v in e.details.items())
            table.add_row(
                str(e.id),
                e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                e.via,
                e.actor_name,
                e.action,
                e.target,
                details,
            )
        console.print(table)

"""`companion db`: the schema revision of the database, upgrades, and new revisions (for developers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from companion.container import Services

if TYPE_CHECKING:
    from companion.storage.migrate import Migration

console = Console()
err = Console(stderr=True)


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    db_app = typer.Typer(help="Database schema: current revision and upgrades.", no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("current")
    def db_current() -> None:
        """Print the database's schema revision and whether it is the newest this version knows."""
        from companion.storage.migrate import (
            head as newest,  # Alembic is imported only by the commands that need it
        )

        svc = services()
        revision: str | None = run(svc.db.schema_revision)
        head = newest()
        if revision == head:
            console.print(f"{revision} (head)")
        elif revision is None:
            console.print(f"none (head is {head}): an empty database, or one made before migrations")
            err.print("run `companion db upgrade` (the service also upgrades on start)")
        else:
            console.print(f"{revision} (head is {head})")
            err.print("run `companion db upgrade` (the service also upgrades on start)")

    @db_app.command("upgrade")
    def db_upgrade() -> None:
        """Migrate the schema to the newest revision (the service and the other commands do it too)."""
        svc = services()
        result: Migration = run(svc.db.create_tables)
        if result.adopted:
            console.print(
                f"stamped a database from before migrations as {result.adopted}; now at {result.after} (head)"
            )
        elif not result.changed:
            console.print(f"already at {result.after} (head)")
        elif result.before is None:
            console.print(f"created the schema at {result.after} (head)")
        else:
            console.print(f"upgraded from {result.before} to {result.after} (head)")

    @db_app.command("revision")
    def db_revision(
        message: Annotated[str, typer.Argument(help="What the revision changes, e.g. 'add goal tags'.")],
        autogenerate: Annotated[
            bool,
            typer.Option(help="Fill it with the differences between the models and the newest revision."),
        ] = True,
    ) -> None:
        """Write the next revision file into companion/migrations/versions (run from a checkout)."""
        from companion.storage.migrate import new_revision

        path = run(lambda: new_revision(message, autogenerate=autogenerate))
        console.print(f"wrote {path}")
        err.print("review it: autogenerate misses renames, data changes and some type changes")

"""Schema migrations: Alembic, configured in code (no alembic.ini), revisions in `companion/migrations`.

`upgrade(engine)` is what `Database.create_tables()` runs on every start:
- already at the newest revision (head): two small queries and nothing else;
- an empty database: every revision from the first;
- a database made by a release from before migrations (Companion's tables, no `alembic_version`): it is
  stamped with the revision its tables match, then upgraded.

Two processes starting at once take turns: PostgreSQL through a transaction-level advisory lock (one per
schema), SQLite through `BEGIN IMMEDIATE`; the second one then finds the database at head. Within one
process, a lock keeps Alembic runs apart too.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from companion.errors import BackendUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
_LOCK_KEY = 0x436F6D70  # first advisory-lock key ("Comp"); the second is a hash of the schema name
_IN_PROCESS = threading.Lock()  # Alembic's `context` and `op` are module globals: one run at a time

# Tables of revision 0001, the schema of the last release without migrations.
_FIRST_RELEASE_TABLES = frozenset(
    {
        "users",
        "api_tokens",
        "documents",
        "mentorships",
        "goals",
        "mentoring_sessions",
        "people",
        "profile_vectors",
        "match_runs",
        "matches",
        "eval_runs",
        "eval_results",
        "eval_labels",
    }
)


@dataclass(frozen=True)
class Migration:
    """What `upgrade` did: the revision before (None: empty or from before migrations) and after, and
    the revision a database from before migrations was stamped with."""

    before: str | None
    after: str
    adopted: str | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def config(connection: Connection | None = None) -> Config:
    """An Alembic config for our migrations folder; `env.py` runs on `connection`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "r%%(rev)s_%%(slug)s")  # module names must not start with a digit
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision shipped with this code."""
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({heads}); merge them into one")
    return heads[0]


def current(connection: Connection) -> str | None:
    """The database's revision, or None when it has no `alembic_version` table (or an empty one)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    value = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return str(value) if value is not None else None


def upgrade(engine: Engine) -> Migration:
    """Bring the database to head (see the module docstring). Safe to call often and concurrently."""
    target = head()
    with engine.connect() as conn:
        if current(conn) == target:
            return Migration(before=target, after=target)
    with _exclusive(engine) as conn:
        before = current(conn)  # again, under the lock: another process may have just migrated
        adopted = None
        if before is None:
            adopted = _release_revision(conn)
            if adopted:
                command.stamp(config(conn), adopted)
        elif not known_revision(before):
            raise BackendUnavailable(
                f"the database is at schema revision {before!r}, which this version of Companion does not "
                f"know (it knows up to {target!r}); run a newer release"
            )
        if (adopted or before) != target:
            command.upgrade(config(conn), "head")
    return Migration(before=before, after=target, adopted=adopted)


def downgrade(engine: Engine, revision: str) -> None:
    """Go back to `revision` ("base" drops everything). For tests and for undoing a bad upgrade."""
    with _exclusive(engine) as conn:
        command.downgrade(config(conn), revision)


def new_revision(message: str, *, autogenerate: bool) -> Path:
    """Write the next revision file (r0003_..., ...) into the migrations folder. With `autogenerate`, it
    holds the differences between the models and a scratch SQLite database at head. Returns its path."""
    from companion.storage.db import Database

    rev_id = f"{int(head()) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            upgrade(db.engine)
            with _IN_PROCESS, db.engine.connect() as conn:
                script = command.revision(
                    config(conn), message=message, autogenerate=autogenerate, rev_id=rev_id
                )
        finally:
            db.dispose()
    _scripts.cache_clear()
    if script is None or isinstance(script, list):  # pragma: no cover - one head, one script
        raise RuntimeError("alembic wrote no single revision")
    return Path(script.path)


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of ours (a database or backup from a newer release is not)."""
    return revision in _known_revisions()


def _known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def _release_revision(conn: Connection) -> str | None:
    """The revision whose schema a database without `alembic_version` has: None when it has none of
    Companion's tables; "0002" when it was made by the development version that introduced them with
    `create_all` (password hashes, web sessions, audit events); "0001" for the last release."""
    names = set(inspect(conn).get_table_names())
    ours = names & _FIRST_RELEASE_TABLES
    if not ours:
        return None
    if ours != _FIRST_RELEASE_TABLES:
        missing = ", ".join(sorted(_FIRST_RELEASE_TABLES - ours))
        raise BackendUnavailable(
            f"the database has some of Companion's tables but not {missing}, and no schema revision; "
            "point COMPANION_DATABASE_URL at an empty database or at one made by Companion"
        )
    user_columns = {c["name"] for c in inspect(conn).get_columns("users")}
    if {"web_sessions", "audit_events"} <= names and "password_hash" in user_columns:
        return "0002"
    return "0001"


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock; everything done on it commits at the end (one
    transaction: PostgreSQL and SQLite both roll DDL back on error)."""
    with _IN_PROCESS, engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # A batch migration copies a table, drops the old one and renames the copy: with foreign keys
            # on, dropping `users` would cascade to every row that refers to it. Off only for this
            # connection, and only possible outside a transaction.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, held until commit
        elif conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(), '')))"),
                {"key": _LOCK_KEY},
            )
        try:
            yield conn
            conn.commit()
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()

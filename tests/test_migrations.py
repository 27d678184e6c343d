"""Schema migrations: from an empty database and from the last release's schema, on SQLite and PostgreSQL;
the migrated schema equals the models; downgrade; concurrent starts; the fast path; backups; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, String, event, insert, inspect, select, text
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.errors import BackendUnavailable, InvalidInput
from companion.identity.auth import Role, authenticate, create_user, hash_token
from companion.settings import Settings
from companion.storage import migrate
from companion.storage.backup import backup, restore
from companion.storage.db import (
    ENGINE_MANAGED_TABLES,
    AuditEvent,
    Base,
    Database,
    User,
    WebSession,
    include_name,
)
from tests.support.app import make_settings

NEW_TABLES = {"web_sessions", "audit_events", "jobs", "knowledge_chunks"}
STAMP = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

HEAD = migrate.head()
# columns later revisions add to the previous release's tables (compared rows leave them out)
COLUMNS_ADDED_SINCE_0001 = {
    "password_hash", "active", "deactivated_at", "sso_subject", "cycle_id", "closed_on"
}


def _db(settings: Settings) -> Database:
    return Database(settings.resolved_database_url)


def _differences(engine: Engine, metadata: MetaData = Base.metadata) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        return list(compare_metadata(context, metadata))


def _to_revision(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.upgrade(migrate.config(conn), revision)


def _as_previous_release(engine: Engine) -> None:
    """The schema of the last release (revision 0001, which equals its models) without `alembic_version`,
    as its `create_all` left it."""
    _to_revision(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))


def _seed_previous_release(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Rows in the previous release's tables, written through the reflected (old) schema."""
    old = MetaData()
    old.reflect(engine)
    assert "password_hash" not in old.tables["users"].c and not NEW_TABLES & set(old.tables)
    rows: dict[str, list[dict[str, Any]]] = {
        "users": [
            {"id": 1, "name": "ada", "role": "admin", "created_at": STAMP},
            {"id": 2, "name": "mia", "role": "mentee", "created_at": STAMP},
            {"id": 3, "name": "max", "role": "mentor", "created_at": STAMP},
        ],
        "api_tokens": [
            {"id": 1, "user_id": 2, "token_hash": hash_token("mia-token"), "prefix": "mia-tok",
             "created_at": STAMP, "revoked": False},
        ],
        "mentorships": [
            {"id": 1, "mentor_user_id": 3, "mentee_user_id": 2, "active": True, "created_at": STAMP},
        ],
        "goals": [
            {"id": 1, "mentee_user_id": 2, "statement": "Lead one retro by June", "measure": "one retro",
             "target_date": date(2026, 6, 30), "first_steps": ["ask the team"], "citations": [],
             "status": "active", "created_by": 3, "created_at": STAMP, "updated_at": STAMP},
        ],
        "people": [
            {"id": 1, "key": "p1", "name": "Mia", "email": "mia@example.org", "role": "mentee", "user_id": 2,
             "department": "Design", "site": "Leeds", "manager_key": None, "seniority": "junior",
             "timezone": "Europe/London", "languages": ["en"], "skills": ["facilitation"], "expertise": "",
             "goals": "run retros", "bio": "", "capacity": 0, "preferences": {"prefer_site": "same"},
             "created_at": STAMP, "updated_at": STAMP},
        ],
        "documents": [
            {"id": 1, "source": "smart-goals.md", "title": "SMART goals", "content_hash": "ab" * 32,
             "chunks": 4, "size_bytes": 1200, "ingested_at": STAMP},
        ],
    }  # fmt: skip
    with engine.begin() as conn:
        for name, values in rows.items():
            conn.execute(insert(old.tables[name]), values)
    return _rows(engine, list(rows))


def _rows(engine: Engine, names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of these tables, in the columns of the previous release, times as naive UTC."""
    old = MetaData()
    old.reflect(engine, only=names)

    def plain(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    with engine.connect() as conn:
        return {
            name: [
                tuple(plain(v) for k, v in row._mapping.items() if k not in COLUMNS_ADDED_SINCE_0001)
                for row in conn.execute(select(old.tables[name]).order_by(old.tables[name].c.id))
            ]
            for name in names
        }


def test_revisions_are_one_line_named_by_id() -> None:
    scripts = list(reversed(list(migrate._scripts().walk_revisions())))
    assert (scripts[0].revision, scripts[0].down_revision) == ("0001", None)
    for before, after in zip(scripts, scripts[1:], strict=False):
        assert after.down_revision == before.revision, f"{after.revision} does not follow {before.revision}"
    assert migrate.head() == scripts[-1].revision
    for script in scripts:
        assert Path(script.path).name.startswith(f"r{script.revision}_")


def test_upgrade_from_empty_matches_the_models(any_db_settings: Settings) -> None:
    db = _db(any_db_settings)
    assert db.schema_revision() is None
    result = db.create_tables()
    assert (result.before, result.after, result.adopted) == (None, HEAD, None)
    assert db.schema_revision() == HEAD
    tables = set(inspect(db.engine).get_table_names()) - ENGINE_MANAGED_TABLES
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(db.engine) == [], "a model changed without a migration: `companion db revision`"

    # the comparison is not blind: a column the migrations lack is reported
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["users"].append_column(Column("nickname", String(50), nullable=True))
    assert [d[0] for d in _differences(db.engine, drifted)] == ["add_column"]
    db.dispose()


def test_previous_release_is_stamped_and_upgraded_with_rows_intact(any_db_settings: Settings) -> None:
    db = _db(any_db_settings)
    _as_previous_release(db.engine)
    before = _seed_previous_release(db.engine)

    result = db.create_tables()
    assert (result.before, result.adopted, result.after) == (None, "0001", HEAD)
    assert db.schema_revision() == HEAD
    assert _rows(db.engine, list(before)) == before
    assert _differences(db.engine) == []

    # the new column and tables work, and so does a token issued before the upgrade
    with db.session() as session:
        assert authenticate(session, "mia-token").name == "mia"
        session.get(User, 1).password_hash = "argon2-hash"  # type: ignore[union-attr]
        session.add(WebSession(id_hash="a" * 64, user_id=2, csrf_token="c" * 64, expires_at=STAMP))
        session.add(
            AuditEvent(actor_user_id=1, actor_name="ada", action="users.add", target="max", via="cli")
        )
    with db.session() as session:
        assert session.get(User, 1).password_hash == "argon2-hash"  # type: ignore[union-attr]
        session.delete(session.get(User, 2))  # cascades to the new table too
    with db.session() as session:
        assert session.scalars(select(WebSession)).all() == []
        assert [e.actor_name for e in session.scalars(select(AuditEvent))] == ["ada"]

    assert not db.create_tables().changed, "at head: nothing more to do"
    db.dispose()


def test_downgrade_of_0002_keeps_the_old_rows(any_db_settings: Settings) -> None:
    db = _db(any_db_settings)
    _to_revision(db.engine, "0001")
    before = _seed_previous_release(db.engine)
    assert db.create_tables().before == "0001"
    with db.session() as session:
        session.get(User, 2).password_hash = "argon2-hash"  # type: ignore[union-attr]
        session.add(WebSession(id_hash="b" * 64, user_id=2, csrf_token="c" * 64, expires_at=STAMP))

    migrate.downgrade(db.engine, "0001")
    assert db.schema_revision() == "0001"
    inspector = inspect(db.engine)
    assert not NEW_TABLES & set(inspector.get_table_names())
    assert "password_hash" not in {c["name"] for c in inspector.get_columns("users")}
    # SQLite rebuilt `users` to drop the column: the rows that refer to it must survive that
    assert _rows(db.engine, list(before)) == before
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1, "switched back on"

    assert db.create_tables().before == "0001"
    assert _differences(db.engine) == []
    migrate.downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.dispose()


def test_database_from_the_development_schema_is_stamped_and_upgraded(tmp_path: Path) -> None:
    db = _db(make_settings(tmp_path))
    # what df06e4e's create_all made: the 0002 schema without a revision
    db.create_tables()
    migrate.downgrade(db.engine, "0002")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    result = db.create_tables()
    assert (result.before, result.adopted, result.after) == (None, "0002", HEAD)
    assert db.schema_revision() == HEAD and _differences(db.engine) == []
    db.dispose()


def test_foreign_or_newer_databases_are_refused(tmp_path: Path) -> None:
    foreign = Database(f"sqlite:///{tmp_path / 'foreign.db'}")
    with foreign.engine.begin() as conn:
        conn.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT)"))
    with pytest.raises(BackendUnavailable, match="some of Companion's tables but not api_tokens"):
        foreign.create_tables()

    newer = Database(f"sqlite:///{tmp_path / 'newer.db'}")
    newer.create_tables()
    with newer.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(BackendUnavailable, match="revision '0099', which this version .* does not know"):
        newer.create_tables()
    foreign.dispose()
    newer.dispose()


def test_at_head_only_reads_the_revision(tmp_path: Path) -> None:
    db = _db(make_settings(tmp_path))
    db.create_tables()
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[0].upper()))
    for _ in range(5):
        assert not db.create_tables().changed
    assert len(statements) <= 10 and set(statements) <= {"PRAGMA", "SELECT"}, statements
    db.dispose()


_RACER = """
import json, sys
from companion.storage import migrate
from companion.storage.db import Database
migrate.head()
db = Database(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
result = db.create_tables()
print(json.dumps([result.before, result.after]), flush=True)
"""


def test_two_processes_starting_at_once_migrate_once(any_db_settings: Settings) -> None:
    url = any_db_settings.resolved_database_url
    any_db_settings.data_dir.mkdir(parents=True, exist_ok=True)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for racer in racers:  # both imported and connected: start them together
        assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    outcomes = []
    for racer in racers:
        out, errors = racer.communicate(timeout=120)
        assert racer.returncode == 0, errors
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(outcomes, key=str) == [[HEAD, HEAD], [None, HEAD]], "exactly one migrated"
    db = _db(any_db_settings)
    assert db.schema_revision() == HEAD and _differences(db.engine) == []
    db.dispose()


def test_a_backup_from_the_previous_schema_restores_at_head(tmp_path: Path) -> None:
    source = Services(make_settings(tmp_path / "source"))
    source.db.create_tables()
    with source.db.session() as session:
        create_user(session, name="mia", role=Role.mentee)
    manifest = backup(
        db=source.db, store=source.store, embedder_name=source.embedder.name, dest=tmp_path / "bk"
    )
    assert manifest["schema"] == HEAD
    source.close()

    # turn it into a backup the previous release would have written
    old = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    del old["schema"]
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(old))
    dump = json.loads((tmp_path / "bk" / "database.json").read_text())
    for name in NEW_TABLES:
        del dump["tables"][name]
    for row in dump["tables"]["users"]:
        del row["password_hash"]
    (tmp_path / "bk" / "database.json").write_text(json.dumps(dump))

    target = Services(make_settings(tmp_path / "target"))
    restore(db=target.db, store=target.store, embedder_name=target.embedder.name, source=tmp_path / "bk")
    assert target.db.schema_revision() == HEAD
    with target.db.session() as session:
        assert [(u.name, u.password_hash) for u in session.scalars(select(User))] == [("mia", None)]
    target.close()

    old["schema"] = "0099"
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(old))
    fresh = Services(make_settings(tmp_path / "fresh"))
    with pytest.raises(InvalidInput, match="schema revision '0099'"):
        restore(db=fresh.db, store=fresh.store, embedder_name=fresh.embedder.name, source=tmp_path / "bk")
    assert fresh.db.schema_revision() is None, "refused before touching the database"
    fresh.close()


def test_cli_db_current_and_upgrade(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"COMPANION_DATA_DIR": str(tmp_path / "data"), "COMPANION_EMBEDDINGS__MODE": "fake"}

    def run(*args: str) -> str:
        result = runner.invoke(cli_app, ["db", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    assert run("current").startswith(f"none (head is {HEAD})")
    assert run("upgrade").strip() == f"created the schema at {HEAD} (head)"
    assert run("current").strip() == f"{HEAD} (head)"
    assert run("upgrade").strip() == f"already at {HEAD} (head)"

    db = Database(f"sqlite:///{tmp_path / 'data' / 'companion.db'}")
    migrate.downgrade(db.engine, "0001")
    db.dispose()
    assert run("current").startswith(f"0001 (head is {HEAD})")
    assert run("upgrade").strip() == f"upgraded from 0001 to {HEAD} (head)"

    (tmp_path / "old").mkdir()
    old = Database(f"sqlite:///{tmp_path / 'old' / 'companion.db'}")
    _as_previous_release(old.engine)
    old.dispose()
    env["COMPANION_DATA_DIR"] = str(tmp_path / "old")
    stamped = f"stamped a database from before migrations as 0001; now at {HEAD} (head)"
    assert run("upgrade").strip() == stamped

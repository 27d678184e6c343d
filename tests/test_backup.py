"""Backup and restore: a restored service holds the same rows, chunks and tokens, and answers the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.errors import Conflict
from companion.identity.auth import Role, authenticate, create_user
from companion.records.service import GoalIn
from companion.settings import Settings
from companion.storage.backup import backup, restore
from companion.storage.db import Base
from tests.support.app import make_settings
from tests.support.knowledge import write_corpus


def _plain(value: object) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:  # PostgreSQL keeps the UTC offset
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value)


def _snapshot(services: Services) -> dict[str, list[tuple[object, ...]]]:
    with services.db.engine.connect() as conn:
        return {
            t.name: sorted(tuple(_plain(v) for v in row) for row in conn.execute(select(t)))
            for t in Base.metadata.sorted_tables
        }


def test_backup_then_restore_on_both_databases(tmp_path: Path, any_db_settings: Settings) -> None:
    source = Services(make_settings(tmp_path / "source"))
    source.db.create_tables()
    source.knowledge.ingest_paths([write_corpus(tmp_path / "guides")])
    with source.db.session() as session:
        mentee, token = create_user(session, name="mia", role=Role.mentee)
    source.records.add_goals(
        authenticate_principal(source, token), mentee.id, [GoalIn(statement="Lead one retro by June")]
    )
    manifest = backup(
        db=source.db, store=source.store, embedder_name=source.embedder.name, dest=tmp_path / "bk"
    )
    assert manifest["chunks"] == source.store.count() and manifest["rows"]["users"] == 1

    target = Services(any_db_settings)
    restore(db=target.db, store=target.store, embedder_name=target.embedder.name, source=tmp_path / "bk")
    assert _snapshot(target) == _snapshot(source)
    assert sorted(c.id for c in target.store.iter_all()) == sorted(c.id for c in source.store.iter_all())
    query = "overlapping hours across time zones"
    assert [r.id for r in target.retriever.retrieve(query=query, k=3)] == [
        r.id for r in source.retriever.retrieve(query=query, k=3)
    ]
    with target.db.session() as session:
        assert authenticate(session, token).name == "mia", "tokens survive a restore"
        create_user(session, name="new-after-restore", role=Role.mentor)  # ids continue past restored ones
    with pytest.raises(Conflict, match="not empty"):
        restore(db=target.db, store=target.store, embedder_name=target.embedder.name, source=tmp_path / "bk")
    with pytest.raises(Conflict, match="not empty"):
        backup(db=source.db, store=source.store, embedder_name=source.embedder.name, dest=tmp_path / "bk")
    source.close()
    target.close()


def authenticate_principal(services: Services, token: str):  # type: ignore[no-untyped-def]
    with services.db.session() as session:
        return authenticate(session, token)


def test_cli_backup_and_restore_with_the_embedded_store(tmp_path: Path) -> None:
    runner = CliRunner()

    def env(name: str) -> dict[str, str]:
        return {
            "COMPANION_DATA_DIR": str(tmp_path / name),
            "COMPANION_EMBEDDINGS__MODE": "fake",
            "COMPANION_STORE__MODE": "embedded",
        }

    guides = write_corpus(tmp_path / "guides")
    assert runner.invoke(cli_app, ["ingest", str(guides)], env=env("a")).exit_code == 0
    done = runner.invoke(cli_app, ["backup", str(tmp_path / "bk")], env=env("a"))
    assert done.exit_code == 0, done.output
    restored = runner.invoke(cli_app, ["restore", str(tmp_path / "bk")], env=env("b"))
    assert restored.exit_code == 0, restored.output
    again = runner.invoke(cli_app, ["restore", str(tmp_path / "bk")], env=env("b"))
    assert again.exit_code == 1 and "not empty" in again.output
    search = runner.invoke(cli_app, ["search", "--json", "remote mentoring time zones"], env=env("b"))
    original = runner.invoke(cli_app, ["search", "--json", "remote mentoring time zones"], env=env("a"))
    assert search.exit_code == 0 and search.stdout == original.stdout

"""A short, bounded load test against a real `companion serve` subprocess on loopback.

The machinery is `benchmarks/load.py` (the 50-client, 60-second benchmark); here it runs small:
12 concurrent clients for 6 s on fake embeddings, on SQLite and, when COMPANION_TEST_POSTGRES_URL is
set, on a fresh PostgreSQL schema. Every request must succeed and every acknowledged write must be in
the database afterwards.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from benchmarks import load as load_bench
from companion.container import Services
from companion.errors import BackendUnavailable
from companion.settings import Settings
from companion.storage.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None: SQLite in the run's data dir; else a fresh PostgreSQL schema (skipped when unset)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_concurrent_clients_get_no_errors_and_lose_no_writes(
    database_url: str | None, tmp_path: Path
) -> None:
    config = load_bench.LoadConfig(
        clients=12, seconds=6.0, database_url=database_url, embeddings="fake", demo_size=100
    )
    result = load_bench.run(config, tmp_path)

    assert result["errors"] == 0, result["errors_by_kind_and_status"]
    assert result["lost_writes"] == 0, result["writes"]
    assert result["writes"]["response_did_not_echo_write"] == 0
    assert result["writes"]["duplicated_goals"] == 0
    # every kind of request, and every kind of write, happened under concurrency
    assert set(result["by_kind"]) == set(load_bench.MIX)
    assert all(stats["requests"] > 0 for stats in result["by_kind"].values())
    acknowledged = result["writes"]["acknowledged"]
    assert acknowledged["write_goal"] > 0
    assert acknowledged["write_session"] > 0
    assert acknowledged["patch_session"] > 0
    assert result["clients_detail"]["mentor_clients"] == 2
    # the server agrees: no 5xx in its access log and no traceback
    statuses = result["server_log"]["access_log_statuses"]
    assert sum(statuses.values()) >= result["overall"]["requests"]
    assert not [s for s in statuses if s.startswith("5")]
    assert result["server_log"]["tracebacks"] == 0, result["server_log"]["error_lines"]
    assert result["overall"]["requests"] == sum(s["requests"] for s in result["by_kind"].values())


def test_the_connection_pool_covers_every_worker_thread(any_db_settings: Settings) -> None:
    """`serve` runs requests on up to 40 threads, one connection each: the pool keeps that many open, so
    connections are reused under load instead of opened and closed per request."""
    services = Services(any_db_settings)
    try:
        pool = services.db.engine.pool
        assert pool.size() == any_db_settings.database_pool_size == 40  # type: ignore[attr-defined]
        held = [services.db.engine.connect() for _ in range(45)]  # 40 kept + up to 10 more in a burst
        for conn in held:
            conn.close()
        assert pool.checkedin() == 40  # type: ignore[attr-defined]
    finally:
        services.close()


def test_a_pool_exhausted_for_too_long_is_a_503_not_a_500(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'one.db'}", pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with db.engine.connect():  # the only connection, held
            with pytest.raises(BackendUnavailable, match="database unavailable: QueuePool limit"):
                with db.session() as session:
                    session.execute(text("SELECT 1"))
    finally:
        db.dispose()


def test_the_check_finds_acknowledged_writes_missing_from_the_database(tmp_path: Path) -> None:
    """The load test's own check: a goal that is not there, and a session still holding the notes from
    before its last acknowledged edit, are lost; an edit sent later without an answer may stand in."""
    from companion.identity.auth import Role, create_user
    from companion.storage.db import GoalRecord, SessionRecord

    url = f"sqlite:///{tmp_path / 'check.db'}"
    db = Database(url)
    db.create_tables()
    run = "0123abcd"
    with db.session() as session:
        user, _ = create_user(session, name="m1", role=Role.mentee)
        session.add(GoalRecord(mentee_user_id=user.id, statement=f"Goal (load-{run}-c1-g1)"))
        kept = SessionRecord(mentee_user_id=user.id, held_on=date.today(), length_minutes=30)
        kept.notes = f"Marker load-{run}-c1-p12."  # an unanswered edit after the acknowledged p4
        stale = SessionRecord(mentee_user_id=user.id, held_on=date.today(), length_minutes=30)
        stale.notes = f"Marker load-{run}-c1-s2."  # created, but the acknowledged edit p1 is not there
        session.add_all([kept, stale])
        session.flush()
        kept_id, stale_id = kept.id, stale.id
    db.dispose()
    tally = load_bench.Tally()
    tally.goal_markers = {f"load-{run}-c1-g1", f"load-{run}-c1-g3"}
    tally.session_created = {kept_id: f"load-{run}-c1-s3", stale_id: f"load-{run}-c1-s2", 9999: "x"}
    tally.session_patches = {
        kept_id: [(f"load-{run}-c1-p4", True), (f"load-{run}-c1-p12", False)],
        stale_id: [(f"load-{run}-c1-p1", True)],
    }

    writes = load_bench.verify_writes(url, run, tally)

    assert writes["lost"] == {
        "goals": [f"load-{run}-c1-g3"],
        "sessions": [9999],
        "session_edits": [stale_id],
    }
    assert writes["lost_writes"] == 3

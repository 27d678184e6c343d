"""`companion program ...` and `companion cycle ...`: create a program and a cycle, add pairs, print the
rhythm with at-risk pairs first; bad input exits 1 with a message."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.cli.main import app
from companion.container import Services
from companion.identity.auth import Role, create_user, link_mentorship
from companion.settings import Settings
from companion.storage.db import SessionRecord

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COLUMNS": "220",
    }


def _pairs(tmp_path: Path) -> None:
    """Two pairs of mentor `ana`: `steady` met every two weeks, `quiet` once."""
    services = Services(Settings(data_dir=tmp_path / "data", embeddings={"mode": "fake"}))  # type: ignore[arg-type]
    services.db.create_tables()
    with services.db.session() as session:
        ana, _ = create_user(session, name="ana", role=Role.mentor)
        for name, days in (("steady", (5, 19, 33, 47)), ("quiet", (5,))):
            mentee, _ = create_user(session, name=name, role=Role.mentee)
            link_mentorship(session, mentor_user_id=ana.id, mentee_user_id=mentee.id)
            for day in days:
                session.add(
                    SessionRecord(
                        mentee_user_id=mentee.id,
                        mentor_user_id=ana.id,
                        held_on=date(2026, 1, day) if day <= 31 else date(2026, 2, day - 31),
                        length_minutes=45,
                    )
                )
    services.close()


def test_program_and_cycle_commands(env: dict[str, str], tmp_path: Path) -> None:
    made = runner.invoke(app, ["program", "create", "Formal mentoring", "--cadence-days", "14"], env=env)
    assert made.exit_code == 0, made.output
    assert "created program 1 Formal mentoring (one_to_one)" in made.stdout
    listed = runner.invoke(app, ["program", "list", "--json"], env=env)
    assert [p["name"] for p in json.loads(listed.stdout)] == ["Formal mentoring"]

    cycle = runner.invoke(
        app,
        ["cycle", "create", "--program", "formal mentoring", "--starts", "2026-01-05", "--name", "Spring"],
        env=env,
    )
    assert cycle.exit_code == 0, cycle.output
    assert "cycle 1 Spring (Formal mentoring): 2026-01-05 to 2026-07-05, 26 weeks, 0 pair(s)" in cycle.stdout
    assert "week  4  2026-02-01  Goals agreed" in cycle.stdout
    clash = runner.invoke(app, ["cycle", "create", "--program", "1", "--starts", "2026-03-01"], env=env)
    assert clash.exit_code == 1 and "overlap" in clash.stderr

    _pairs(tmp_path)
    by_names = runner.invoke(app, ["cycle", "add-pair", "1", "--mentor", "ana", "--mentee", "quiet"], env=env)
    assert by_names.exit_code == 0, by_names.output
    assert "(ana with quiet) to cycle 1" in by_names.stdout
    by_id = runner.invoke(app, ["cycle", "add-pair", "1", "--mentorship", "1"], env=env)
    assert by_id.exit_code == 0 and "(ana with steady)" in by_id.stdout
    again = runner.invoke(app, ["cycle", "add-pair", "1", "--mentorship", "1"], env=env)
    assert again.exit_code == 1 and "already in cycle" in again.stderr

    rhythm = runner.invoke(app, ["cycle", "rhythm", "1", "--today", "2026-02-24"], env=env)
    assert rhythm.exit_code == 0, rhythm.output
    assert "2 pair(s), 1 at risk, 1 on rhythm" in rhythm.stdout
    # the table's width follows the terminal: check its order here and its cells in the JSON
    lines = [line for line in rhythm.stdout.splitlines() if "ana" in line]
    assert "quiet" in lines[0] and "steady" in lines[1]
    as_json = runner.invoke(app, ["cycle", "rhythm", "1", "--today", "2026-02-24", "--json"], env=env)
    pairs = json.loads(as_json.stdout)
    pairs = pairs["pairs"] if isinstance(pairs, dict) else pairs
    quiet, steady = pairs[0], pairs[1]
    assert quiet["mentee_name"] == "quiet" and quiet["at_risk"]
    assert "no session for 50 days" in quiet["reasons"]
    assert steady["mentee_name"] == "steady" and steady["on_rhythm"]
    assert (steady["sessions"], steady["expected"]) == (4, 3)
    at_risk = runner.invoke(app, ["cycle", "at-risk", "1", "--today", "2026-02-24", "--json"], env=env)
    assert [p["mentee_name"] for p in json.loads(at_risk.stdout)] == ["quiet"]
    listed_cycles = runner.invoke(app, ["cycle", "list", "--program", "Formal mentoring"], env=env)
    assert "2 pair(s)" in listed_cycles.stdout


def test_bad_cycle_input_exits_with_a_message(env: dict[str, str]) -> None:
    runner.invoke(app, ["program", "create", "Formal"], env=env)
    cases = [
        (["program", "create", "Circles", "--kind", "triad"], "kind"),
        (["program", "create", "formal"], "already exists"),
        (["cycle", "create", "--program", "Nope", "--starts", "2026-01-05"], "no program"),
        (["cycle", "create", "--program", "Formal", "--starts", "05/01/2026"], "--starts must be a date"),
        (
            ["cycle", "create", "--program", "Formal", "--starts", "2026-01-05", "--ends", "2026-01-01"],
            "end after",
        ),
        (["cycle", "add-pair", "9", "--mentorship", "1"], "no cycle with id 9"),
        (["cycle", "rhythm", "7"], "no cycle with id 7"),
    ]
    for args, words in cases:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert words in result.stderr, (args, result.stderr)
    runner.invoke(app, ["cycle", "create", "--program", "Formal", "--starts", "2026-01-05"], env=env)
    unnamed = runner.invoke(app, ["cycle", "add-pair", "1"], env=env)
    assert unnamed.exit_code == 1 and "--mentorship ID, or --mentor USER and --mentee USER" in unnamed.stderr

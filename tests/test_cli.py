from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.cli.main import app
from tests.support.knowledge import write_corpus

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Embedded store and SQLite in a temp dir, fake embeddings: state survives between commands."""
    return {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "embedded",
        "COLUMNS": "200",
    }


def test_users_add_and_list(env: dict[str, str]) -> None:
    added = runner.invoke(app, ["users", "add", "maya", "--role", "mentor"], env=env)
    assert added.exit_code == 0, added.output
    assert added.stdout.strip().startswith("cmp_")
    listed = runner.invoke(app, ["users", "list"], env=env)
    assert "maya" in listed.stdout and "mentor" in listed.stdout
    duplicate = runner.invoke(app, ["users", "add", "maya"], env=env)
    assert duplicate.exit_code == 1 and "already exists" in duplicate.stderr
    bad_role = runner.invoke(app, ["users", "add", "sam", "--role", "boss"], env=env)
    assert bad_role.exit_code == 1 and "unknown role" in bad_role.stderr


def test_ingest_reports_bad_files_then_search_and_forget(env: dict[str, str], tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "guides")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    first = runner.invoke(app, ["ingest", str(corpus), "--json"], env=env)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert len(report["added"]) == 6
    assert [f["source"] for f in report["failed"]] == ["broken.pdf"]

    again = runner.invoke(app, ["ingest", str(corpus)], env=env)
    assert "unchanged 6" in again.stdout and "0 chunks written" in again.stdout
    assert "skipped broken.pdf" in again.stdout

    found = runner.invoke(app, ["search", "overlapping hours time zones", "-k", "2", "--json"], env=env)
    results = json.loads(found.stdout)
    assert results[0]["source"] == "remote.html" and len(results) == 2
    readable = runner.invoke(app, ["search", "overlapping hours time zones", "-k", "1"], env=env)
    assert "[1] remote.html § Remote" in readable.stdout

    forgot = runner.invoke(app, ["forget", "remote.html"], env=env)
    assert forgot.exit_code == 0 and "removed remote.html" in forgot.stdout
    missing = runner.invoke(app, ["forget", "remote.html"], env=env)
    assert missing.exit_code == 1 and "no document" in missing.stderr


def test_search_with_empty_query_is_a_clear_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["search", "  "], env=env)
    assert result.exit_code == 1 and "query is empty" in result.stderr


def test_bad_settings_are_reported(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["users", "list"], env={**env, "COMPANION_STORE__MODE": "server"})
    assert result.exit_code == 2
    assert "configuration error" in result.stderr and "store.url" in result.stderr


def test_assistant_commands_on_the_fake_model(env: dict[str, str], tmp_path: Path) -> None:
    fake = {**env, "COMPANION_LLM__MODE": "fake", "COMPANION_ASSISTANT__MIN_SIMILARITY": "0.05"}
    corpus = write_corpus(tmp_path / "guides")
    assert runner.invoke(app, ["ingest", str(corpus)], env=fake).exit_code == 0

    goals = runner.invoke(
        app, ["goals", "get better at public speaking", "--max-goals", "2", "--json"], env=fake
    )
    assert goals.exit_code == 0, goals.output
    body = json.loads(goals.stdout)
    assert body["origin"] == "grounded" and len(body["goals"]) == 2 and body["goals"][0]["citations"]

    agenda = runner.invoke(app, ["agenda", "--goal", "Ship the demo", "--minutes", "30"], env=fake)
    assert (
        agenda.exit_code == 0
        and "Goal: Ship the demo" in agenda.stdout
        and "origin: grounded" in agenda.stdout
    )

    coached = runner.invoke(app, ["feedback", "You never listen [to me], it is not good."], env=fake)
    assert coached.exit_code == 0
    assert "you did not listen [to me]" in coached.stdout, "the mentor's brackets survive rich markup"
    assert "? When and where did this happen" in coached.stdout, "missing parts are asked, not blanks"
    assert "Replaced the absolute word 'never'" in coached.stdout

    scripted = {
        **fake,
        "COMPANION_LLM__FAKE_REPLIES": '["Agree on overlapping working hours across time zones [1]."]',
    }
    answered = runner.invoke(
        app, ["ask", "overlapping hours across time zones?", "--no-stream"], env=scripted
    )
    assert answered.exit_code == 0, answered.output
    assert (
        "Agree on overlapping working hours across time zones [1]." in answered.stdout
        and "[1] remote.html" in answered.stdout
    )
    bad = runner.invoke(app, ["goals", "x"], env=fake)
    assert bad.exit_code != 0


def test_streamed_ask_prints_the_draft_first_and_never_unchecked_model_text(
    env: dict[str, str], tmp_path: Path
) -> None:
    fake = {**env, "COMPANION_LLM__MODE": "fake", "COMPANION_ASSISTANT__MIN_SIMILARITY": "0.05"}
    assert runner.invoke(app, ["ingest", str(write_corpus(tmp_path / "guides"))], env=fake).exit_code == 0
    unchecked = {**fake, "COMPANION_LLM__FAKE_REPLIES": '["UNCHECKED no markers", "UNCHECKED still none"]'}
    failed = runner.invoke(app, ["ask", "overlapping hours across time zones?"], env=unchecked)
    assert failed.exit_code == 0, failed.output
    assert "UNCHECKED" not in failed.stdout, "a reply that failed validation is never printed"
    assert "[1]" in failed.stdout and "origin: grounded" in failed.stdout
    good = {**fake, "COMPANION_LLM__FAKE_REPLIES": '["Agree on overlapping working hours [1]."]'}
    passed = runner.invoke(app, ["ask", "overlapping hours across time zones?"], env=good)
    out = passed.stdout
    assert out.index("polish it") < out.index("The model's polish passed the checks:")
    assert out.index("The model's polish passed the checks:") < out.index(
        "Agree on overlapping working hours [1]."
    )

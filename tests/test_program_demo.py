"""The demo program made with the demo organization: two cycles (one ended), pairs with varied rhythms so
some are at risk, goals with outcomes, a past mid-cycle survey with enough answers and a current one with
too few, nominations; the same for the same seed and day, and nothing added when loaded again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.program.dashboard import DashboardService
from companion.program.demo import DemoProgram
from companion.storage.db import GoalRecord, Mentorship, Person, SessionRecord, SurveyResponse
from tests.support.app import make_settings

DAY = date(2026, 11, 2)


def _fresh(tmp_path: Path, name: str) -> Services:
    services = Services(make_settings(tmp_path / name))
    services.db.create_tables()
    services.people.load_demo(seed=7, size=90)
    return services


def _fingerprint(services: Services) -> list[tuple[object, ...]]:
    with services.db.session() as s:
        rows = s.execute(
            select(Person.key, SessionRecord.held_on, SessionRecord.length_minutes)
            .join(Person, Person.user_id == SessionRecord.mentee_user_id)
            .order_by(Person.key, SessionRecord.held_on)
        )
        return [tuple(r) for r in rows]


def test_demo_program_is_full_deterministic_and_idempotent(tmp_path: Path) -> None:
    one = _fresh(tmp_path, "one")
    demo = DemoProgram(db=one.db, settings=one.settings.program, today=lambda: DAY)
    first = demo.load(seed=7)
    assert first.created and (first.cycles, first.pairs) == (2, 30)
    assert first.sessions > 150 and first.goals > 20 and first.nominations == 9
    assert first.survey_answers == 35
    again = demo.load(seed=7)
    assert not again.created and again.model_dump(exclude={"created", "users_created"}) == first.model_dump(
        exclude={"created", "users_created"}
    )
    with one.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Mentorship)) == 30
        assert s.scalar(select(func.count()).select_from(SurveyResponse)) == 35
        achieved = s.scalar(
            select(func.count()).select_from(GoalRecord).where(GoalRecord.status == "achieved")
        )
        assert achieved and achieved > 5
    two = _fresh(tmp_path, "two")
    DemoProgram(db=two.db, settings=two.settings.program, today=lambda: DAY).load(seed=7)
    assert _fingerprint(one) == _fingerprint(two)
    three = _fresh(tmp_path, "three")
    DemoProgram(db=three.db, settings=three.settings.program, today=lambda: DAY).load(seed=8)
    assert _fingerprint(one) != _fingerprint(three)

    dash = DashboardService(db=one.db, settings=one.settings.program, today=lambda: DAY).dashboard()
    assert dash.summary is not None and dash.summary.pairs == 24 and dash.summary.at_risk > 0
    assert dash.summary.on_rhythm_share and 0 < dash.summary.on_rhythm_share < 1
    assert all(not q.shown for q in dash.ratings)  # the current cycle's survey has 3 answers
    past = dash.trend[0]
    assert past.rating_means["useful"] is not None and past.goals_achieved > 0


def test_too_few_people_make_no_program(tmp_path: Path) -> None:
    services = Services(make_settings(tmp_path))
    services.db.create_tables()
    report = services.program_demo.load(seed=7)
    assert not report.created and "needs at least" in report.note


def test_cli_people_demo_makes_the_program_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    monkeypatch.setenv("COMPANION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COMPANION_EMBEDDINGS__MODE", "fake")
    runner = CliRunner()
    first = runner.invoke(cli_app, ["people", "demo", "--size", "90"])
    assert first.exit_code == 0, first.output
    assert "demo program made: 2 cycles, 30 pairs" in " ".join(first.output.split())
    second = runner.invoke(cli_app, ["people", "demo", "--size", "90"])
    assert "demo program already there, unchanged" in " ".join(second.output.split())
    plain = runner.invoke(cli_app, ["people", "demo", "--size", "90", "--no-program"])
    assert "demo program" not in plain.output

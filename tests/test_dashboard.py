"""Success dashboard: exact figures on a seeded database (pairs, the sessions histogram, rhythm, goals by
week 4, goal outcomes, survey ratings only from enough answers, the trend across cycles, mentor hours,
pairs at risk), the CSV of each figure, a fixed number of queries whatever the number of pairs, and the
admin page (charts with tables beside them, CSV downloads, the picker, 403 for others)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from companion.container import Services
from companion.errors import NotFound
from companion.identity.auth import Role, create_user
from companion.program.dashboard import DashboardService
from companion.settings import Settings
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    GoalRecord,
    Mentorship,
    Program,
    SessionRecord,
    Survey,
    SurveyResponse,
)
from tests.support.app import Api, web_client

TODAY = date(2026, 4, 20)  # week 16 of the current cycle (started Monday 2026-01-05)
QUESTIONS = [
    {"key": "useful", "text": "How useful were your sessions?", "type": "rating"},
    {"key": "rhythm", "text": "How well does your pair keep its rhythm?", "type": "rating"},
    {"key": "comments", "text": "Anything else?", "type": "text"},
]


@dataclass
class Seeded:
    past: int
    current: int
    future: int
    users: dict[str, int]


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)


def _every(start: date, days: int, count: int) -> list[date]:
    return [start + timedelta(days=days * i) for i in range(count)]


def seed(services: Services) -> Seeded:
    """Four pairs in the current cycle: on rhythm (8 sessions), at risk (3, last 41 days ago), at risk (none),
    behind (5, every 21 days); one pair in the ended cycle; a future cycle."""
    with services.db.session() as s:
        users = {}
        for name, role in [("m1", Role.mentor), ("m2", Role.mentor)] + [
            (f"e{i}", Role.mentee) for i in range(1, 5)
        ]:
            users[name] = create_user(s, name=name, role=role)[0].id
        program = Program(name="One to one", cadence_days=14)
        s.add(program)
        s.flush()
        past = Cycle(
            program_id=program.id, name="2025 H2", starts_on=date(2025, 7, 7), ends_on=date(2025, 12, 28)
        )
        current = Cycle(
            program_id=program.id, name="2026 H1", starts_on=date(2026, 1, 5), ends_on=date(2026, 6, 28)
        )
        future = Cycle(
            program_id=program.id, name="2026 H2", starts_on=date(2026, 9, 7), ends_on=date(2027, 2, 28)
        )
        s.add_all([past, current, future])
        s.flush()
        pairs = {}
        for mentor, mentee in (("m1", "e1"), ("m1", "e2"), ("m2", "e3"), ("m2", "e4")):
            row = Mentorship(mentor_user_id=users[mentor], mentee_user_id=users[mentee])
            s.add(row)
            s.flush()
            pairs[mentee] = row
            s.add(CycleMentorship(cycle_id=current.id, mentorship_id=row.id))
        s.add(CycleMentorship(cycle_id=past.id, mentorship_id=pairs["e1"].id))

        def sessions(mentee: str, mentor: str, days: list[date], minutes: int) -> None:
            s.add_all(
                SessionRecord(
                    mentee_user_id=users[mentee],
                    mentor_user_id=users[mentor],
                    held_on=d,
                    length_minutes=minutes,
                )
                for d in days
            )

        sessions("e1", "m1", _every(date(2026, 1, 6), 14, 8), 60)  # last 2026-04-14
        sessions("e2", "m1", [date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10)], 30)
        sessions("e4", "m2", _every(date(2026, 1, 15), 21, 5), 45)  # last 2026-04-09
        sessions("e1", "m1", [date(2025, 9, 1), date(2025, 9, 15)], 60)  # the past cycle
        sessions("e1", "m2", [date(2026, 2, 1)], 60)  # not e1's pair: never counted
        week4 = date(2026, 2, 1)  # end of week 4
        s.add_all(
            [
                GoalRecord(
                    mentee_user_id=users["e1"],
                    statement="g1",
                    status="achieved",
                    cycle_id=current.id,
                    created_at=_at(date(2026, 1, 12)),
                    closed_on=date(2026, 3, 1),
                ),
                GoalRecord(
                    mentee_user_id=users["e2"],
                    statement="g2",
                    status="active",
                    cycle_id=current.id,
                    created_at=_at(week4 + timedelta(days=14)),
                ),
                # no cycle, but set between the cycle's dates by a mentee of its pairs
                GoalRecord(
                    mentee_user_id=users["e3"],
                    statement="g3",
                    status="dropped",
                    cycle_id=None,
                    created_at=_at(date(2026, 1, 20)),
                    closed_on=date(2026, 2, 20),
                ),
                GoalRecord(
                    mentee_user_id=users["e4"],
                    statement="old",
                    status="achieved",
                    cycle_id=past.id,
                    created_at=_at(date(2025, 8, 1)),
                ),
            ]
        )
        now_survey = Survey(cycle_id=current.id, kind="mid", title="Mid-cycle", questions=QUESTIONS)
        old_survey = Survey(cycle_id=past.id, kind="mid", title="Mid-cycle 2025", questions=QUESTIONS)
        s.add_all([now_survey, old_survey])
        s.flush()
        for i, useful in enumerate([5, 4, 4, 3, 5]):
            answers: dict[str, object] = {"useful": useful, "comments": "private words"}
            if i < 3:
                answers["rhythm"] = 4
            s.add(SurveyResponse(survey_id=now_survey.id, user_id=None, role="mentee", answers=answers))
        for _ in range(6):
            s.add(
                SurveyResponse(survey_id=old_survey.id, user_id=None, role="mentee", answers={"useful": "3"})
            )
        return Seeded(past.id, current.id, future.id, users)


@pytest.fixture
def seeded(services: Services) -> Seeded:
    return seed(services)


def _service(services: Services) -> DashboardService:
    return DashboardService(db=services.db, settings=services.settings.program, today=lambda: TODAY)


def test_figures_of_the_current_cycle(services: Services, seeded: Seeded) -> None:
    dash = _service(services).dashboard()
    assert dash.cycle is not None and dash.cycle.id == seeded.current  # the running cycle by default
    assert [c.name for c in dash.cycles] == ["2026 H2", "2026 H1", "2025 H2"]
    s = dash.summary
    assert s is not None
    assert (s.pairs, s.sessions, s.sessions_per_pair) == (4, 16, 4.0)
    assert [(b.label, b.value) for b in dash.histogram] == [
        ("0", 1),
        ("1", 0),
        ("2", 0),
        ("3", 1),
        ("4", 0),
        ("5", 1),
        ("6", 0),
        ("7", 0),
        ("8", 1),
    ]
    assert [(b.label, b.value) for b in dash.rhythm] == [("on rhythm", 1), ("behind", 1), ("at risk", 2)]
    assert s.on_rhythm_share == 0.25
    assert dash.goals_by_week4 == 2 and s.goals_by_week4_share == 0.5  # e1 and e3; e2's goal came in week 7
    assert [(b.label, b.value) for b in dash.goals] == [("active", 1), ("achieved", 1), ("dropped", 1)]
    assert (s.goals_set, s.goals_achieved, s.at_risk) == (3, 1, 2)
    assert [(h.name, h.sessions, h.hours) for h in dash.mentor_hours] == [("m1", 11, 9.5), ("m2", 5, 3.75)]
    assert s.hours == 13.25
    risky = {p.mentee_name: p for p in dash.at_risk}
    assert list(risky) == ["e3", "e2"]  # longest without a session first
    assert risky["e3"].reasons == [
        "no session since the cycle began 105 days ago",
        "0 of 4 sessions by week 12",
    ]
    assert risky["e2"].reasons == ["no session for 41 days", "3 of 4 sessions by week 12"]
    assert risky["e2"].last_session == date(2026, 3, 10) and risky["e2"].expected == 7


def test_ratings_only_from_enough_answers_and_the_trend(services: Services, seeded: Seeded) -> None:
    dash = _service(services).dashboard()
    useful, rhythm = dash.ratings  # the text question is never shown
    assert (useful.answers, useful.shown, useful.mean) == (5, True, 4.2)
    assert [b.value for b in useful.distribution] == [0, 0, 1, 2, 2]
    assert (rhythm.answers, rhythm.shown, rhythm.mean, rhythm.distribution) == (3, False, None, [])
    assert [c.cycle.name for c in dash.trend] == ["2025 H2", "2026 H1"]  # started cycles, oldest first
    assert [c.rating_means for c in dash.trend] == [
        {"useful": 3.0, "rhythm": None},
        {"useful": 4.2, "rhythm": None},
    ]
    past = dash.trend[0]
    assert (past.pairs, past.sessions, past.goals_achieved) == (1, 2, 0)  # e4 had no pair in 2025 H2
    # with a lower threshold the rhythm question is shown
    services.settings.program.survey_min_answers = 3
    again = _service(services).dashboard()
    assert again.ratings[1].shown and again.ratings[1].mean == 4.0


def test_other_cycles_and_unknown_ones(services: Services, seeded: Seeded) -> None:
    svc = _service(services)
    past = svc.dashboard(cycle_id=seeded.past)
    assert past.summary is not None and past.summary.pairs == 1
    assert past.summary.goals_by_week4_share == 0.0  # e1 had no goal in that cycle
    future = svc.dashboard(cycle_id=seeded.future)
    assert future.summary is not None and future.summary.pairs == 0 and future.summary.on_rhythm_share is None
    with pytest.raises(NotFound):
        svc.dashboard(cycle_id=999)
    with pytest.raises(NotFound):
        svc.figure_csv("nope")


def test_no_cycles_means_an_empty_dashboard(services: Services) -> None:
    dash = _service(services).dashboard()
    assert dash.cycles == [] and dash.summary is None


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_of_each_figure(services: Services, seeded: Seeded) -> None:
    svc = _service(services)
    assert _rows(svc.figure_csv("sessions-per-pair"))[:2] == [["sessions", "pairs"], ["0", "1"]]
    assert _rows(svc.figure_csv("rhythm")) == [
        ["rhythm", "pairs"],
        ["on rhythm", "1"],
        ["behind", "1"],
        ["at risk", "2"],
    ]
    assert _rows(svc.figure_csv("mentor-hours"))[1:] == [["m1", "2", "11", "9.50"], ["m2", "2", "5", "3.75"]]
    ratings = _rows(svc.figure_csv("ratings"))
    assert ratings[1] == ["Mid-cycle", "How useful were your sessions?", "5", "4.20", "0", "0", "1", "2", "2"]
    assert ratings[2][:3] == ["Mid-cycle", "How well does your pair keep its rhythm?", "fewer than 5"]
    assert "private words" not in svc.figure_csv("ratings")
    risk = _rows(svc.figure_csv("at-risk"))
    assert risk[1][:5] == ["m2", "e3", "0", "7", ""]
    trend = _rows(svc.figure_csv("trend"))
    assert trend[0][-2:] == ["rhythm", "useful"] and trend[2][-1] == "4.20" and trend[2][-2] == ""
    summary = dict(_rows(svc.figure_csv("summary"))[1:])
    assert summary["on rhythm"] == "25.0%" and summary["goals by week 4"] == "50.0%"
    goals = _rows(svc.figure_csv("goals"))
    assert goals[-1] == ["pairs with a goal by week 4", "2"]


def test_query_count_does_not_grow_with_the_pairs(services: Services, seeded: Seeded) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    svc = _service(services)
    event.listen(services.db.engine, "before_cursor_execute", count)
    try:
        svc.dashboard()
        small = len(statements)
        with services.db.session() as s:
            for i in range(40):
                mentee = create_user(s, name=f"extra{i}", role=Role.mentee)[0].id
                pair = Mentorship(mentor_user_id=seeded.users["m1"], mentee_user_id=mentee)
                s.add(pair)
                s.flush()
                s.add(CycleMentorship(cycle_id=seeded.current, mentorship_id=pair.id))
                s.add(
                    SessionRecord(
                        mentee_user_id=mentee,
                        mentor_user_id=seeded.users["m1"],
                        held_on=date(2026, 4, 1),
                        length_minutes=60,
                    )
                )
        statements.clear()
        dash = svc.dashboard()
        assert dash.summary is not None and dash.summary.pairs == 44
        assert len(statements) == small, "the dashboard's queries must not depend on the number of pairs"
    finally:
        event.remove(services.db.engine, "before_cursor_execute", count)


@pytest.fixture
def admin_api(api: Api) -> Iterator[Api]:
    seed(api.services)
    yield api


def test_admin_page_charts_tables_csv_and_picker(admin_api: Api) -> None:
    admin = web_client(admin_api, "admin")
    assert 'id="no-cycles"' not in admin.get("/admin/dashboard").text  # the default cycle (by the real date)
    page = admin.get("/admin/dashboard", params={"cycle_id": 2})  # the seeded current cycle
    assert page.status_code == 200
    text = page.text
    assert '<a href="/admin/dashboard" aria-current="page">Dashboard</a>' in text
    for section in ("sessions", "rhythm", "goals", "ratings", "at-risk", "hours", "trend"):
        assert f'id="{section}"' in text
    assert text.count('<svg class="chart"') >= 6
    for table in (
        "table-sessions",
        "table-rhythm",
        "table-goals",
        "table-risk",
        "table-hours",
        "table-trend",
    ):
        assert f'id="{table}"' in text
    assert "Fewer than 5 answers so far (3)" in text
    assert "private words" not in text
    picked = admin.get("/admin/dashboard", params={"cycle_id": 1})
    assert picked.status_code == 200 and 'value="1" selected' in picked.text
    link = admin.get("/admin/dashboard/rhythm.csv", params={"cycle_id": 2})
    assert link.status_code == 200 and link.headers["content-type"].startswith("text/csv")
    assert "attachment" in link.headers["content-disposition"]
    assert link.text.splitlines()[0] == "rhythm,pairs"
    assert admin.get("/admin/dashboard/nope.csv").status_code == 404
    assert admin.get("/admin/dashboard", params={"cycle_id": "x"}).status_code == 422
    assert admin.get("/admin/dashboard", params={"cycle_id": 99}).status_code == 404
    for role in ("mentee", "mentor"):
        assert web_client(admin_api, role).get("/admin/dashboard").status_code == 403


def test_api_dashboard_and_csv(admin_api: Api) -> None:
    client = admin_api.client
    body = client.get("/v1/dashboard", params={"cycle_id": 2}, headers=admin_api.auth("admin")).json()
    assert body["summary"]["pairs"] == 4 and body["min_answers"] == 5
    figure = client.get(
        "/v1/dashboard/mentor-hours.csv", params={"cycle_id": 2}, headers=admin_api.auth("admin")
    )
    assert figure.text.splitlines()[1].startswith("m1,2,11,")
    assert client.get("/v1/dashboard", headers=admin_api.auth("mentor")).status_code == 403
    missing = client.get("/v1/dashboard/none.csv", headers=admin_api.auth("admin"))
    assert missing.status_code == 404 and "choose one of" in missing.json()["error"]["message"]


def test_the_same_figures_on_sqlite_and_postgresql(any_db_settings: Settings) -> None:
    services = Services(any_db_settings)
    services.db.create_tables()
    try:
        seeded = seed(services)
        dash = _service(services).dashboard(cycle_id=seeded.current)
        assert dash.summary is not None
        assert (dash.summary.pairs, dash.summary.sessions, dash.summary.at_risk) == (4, 16, 2)
        assert dash.goals_by_week4 == 2 and dash.summary.goals_set == 3
        assert dash.ratings[0].mean == 4.2 and not dash.ratings[1].shown
        mentors = {m.user_name: m for m in services.recognition.report(cycle_id=seeded.current).mentors}
        assert (mentors["m1"].sessions, mentors["m1"].hours, mentors["m1"].goals_achieved) == (11, 9.5, 1)
    finally:
        services.close()

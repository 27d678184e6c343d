"""Issue 16's "done means", as one path through the real local stack, on a SQLite file and on PostgreSQL:
`companion people demo` (the command line, default size) on a fresh data dir; an admin signs in and opens
the dashboard: a cycle's rhythm, goal outcomes, survey results and at-risk pairs are there with charts,
tables and CSV; a mentee of the demo answers the open survey from their home page; the program page
lists the same at-risk pairs."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
from pathlib import Path

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from companion.app import create_app
from companion.container import Services
from companion.identity.auth import Role, create_user
from companion.settings import Settings
from companion.storage.db import SurveyResponse, User
from tests.support.app import make_settings
from tests.support.server import TEST_OVERRIDES, module_command

PASSWORD = "demo-path-horse-battery"


def _demo_cli(settings: Settings) -> str:
    """`companion people demo` in its own process, on the settings' data dir and database."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_OVERRIDES and not k.startswith("COMPANION_")}
    env |= {
        "COMPANION_DATA_DIR": str(settings.data_dir),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_LLM__MODE": "fake",
        "COMPANION_SEED_SAMPLE_KNOWLEDGE": "false",
        "ANONYMIZED_TELEMETRY": "False",
    }
    if settings.database_url:
        env["COMPANION_DATABASE_URL"] = settings.database_url
    done = subprocess.run(
        [*module_command(), "people", "demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.split())


def _signed_in(app: object, name: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    response = client.post("/signin", data={"name": name, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


def _page(client: TestClient, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return BeautifulSoup(response.text, "html.parser")


def _csv(client: TestClient, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def _body_rows(page: BeautifulSoup, table: str) -> list[list[str]]:
    found = page.select_one(f"#{table}")
    assert found is not None, table
    return [
        [c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in found.select("tbody tr")
    ]


def test_demo_first_start_dashboard_survey_and_at_risk(any_db_settings: Settings, tmp_path: Path) -> None:
    started = time.monotonic()
    settings = make_settings(tmp_path / "fresh", database_url=any_db_settings.database_url)
    out = _demo_cli(settings)
    assert "300 people" in out and "demo program made: 2 cycles" in out, out

    services = Services(settings)
    try:
        with services.db.session() as session:
            create_user(session, name="boss", role=Role.admin)
        services.accounts.set_password("boss", PASSWORD)
        app = create_app(settings, services=services)
        admin = _signed_in(app, "boss")

        # the dashboard opens on the running cycle: every figure is there and non-empty
        dash = _page(admin, "/admin/dashboard")
        pairs = int(dash.select_one("#tile-pairs").get_text(strip=True))  # type: ignore[union-attr]
        at_risk = int(dash.select_one("#tile-risk").get_text(strip=True))  # type: ignore[union-attr]
        assert pairs == 24 and 0 < at_risk < pairs
        assert len(dash.select("svg.chart")) >= 5
        rhythm = {row[0]: int(row[1]) for row in _body_rows(dash, "table-rhythm")}
        assert sum(rhythm.values()) == pairs and all(rhythm.values()), rhythm
        goals = _body_rows(dash, "table-goals")
        assert any(row[0].lower().startswith("achieved") and int(row[1]) > 0 for row in goals), goals
        risk_rows = _body_rows(dash, "table-risk")
        assert len(risk_rows) == at_risk and all(row[-1] for row in risk_rows)
        assert "Fewer than 5 answers" in dash.select_one("#ratings").get_text()  # type: ignore[union-attr]
        trend = _body_rows(dash, "table-trend")
        assert len(trend) == 2 and any(cell.replace(".", "").isdigit() for cell in trend[0][-3:]), trend

        # survey results: the past cycle's survey has enough answers for its ratings to be shown
        picker = dash.select("#cycle-id option")
        past_id = next(o["value"] for o in picker if o.get("selected") is None)
        past = _page(admin, f"/admin/dashboard?cycle_id={past_id}")
        ratings = past.select("article.rating")
        assert len(ratings) == 3 and "How useful were your sessions?" in ratings[0].get_text()
        assert ratings[0].select_one("svg.chart") is not None and ratings[0].select_one("table") is not None

        # CSV downloads of the same figures
        assert len(_csv(admin, "/admin/dashboard/at-risk.csv")) == at_risk + 1
        summary = dict(_csv(admin, "/admin/dashboard/summary.csv")[1:])
        assert summary["pairs"] == str(pairs)
        assert len(_csv(admin, f"/admin/dashboard/ratings.csv?cycle_id={past_id}")) > 3

        # a mentee of the demo answers the open survey from their home page
        with services.db.session() as session:
            mentees = list(session.scalars(select(User.name).where(User.role == "mentee").order_by(User.id)))
            answers_before = session.scalar(select(func.count(SurveyResponse.id)))
        link, mentee = None, None
        for name in mentees:
            services.accounts.set_password(name, PASSWORD)
            mentee = _signed_in(app, name)
            link = _page(mentee, "/mentee").select_one("a[id^=open-survey-]")
            if link is not None:
                break
        assert link is not None and mentee is not None, "no demo mentee has an open survey to answer"
        form = _page(mentee, str(link["href"])).select_one("#survey-form")
        assert form is not None
        data = {"csrf_token": form.select_one("input[name=csrf_token]")["value"]}  # type: ignore[index]
        for field in form.select("[name^=q_]"):
            data[str(field["name"])] = "4" if field.name == "input" else "The sessions help me plan."
        sent = mentee.post(str(form["action"]), data=data)
        assert sent.status_code in (200, 303), sent.text[:500]
        with services.db.session() as session:
            assert session.scalar(select(func.count(SurveyResponse.id))) == (answers_before or 0) + 1
        assert "answered, thank you" in _page(mentee, "/mentee").get_text()

        # the program page lists the same at-risk pairs as the dashboard
        current_id = next(o["value"] for o in picker if o.get("selected") is not None)
        program = _page(admin, f"/admin/program?cycle_id={current_id}")
        listed = program.select("#at-risk li[id^=risk-]")
        assert len(listed) == at_risk
        names = {row[0] for row in risk_rows}
        assert all(any(n in li.get_text() for n in names) for li in listed)
    finally:
        services.close()
    assert time.monotonic() - started < 40, "the done-means path should stay under ~40 s"

"""The matching page shows a run's fairness audit (charts with tables beside them, warnings, mentor load)
and runs a cohort match for a chosen program cycle."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from companion.container import Services
from companion.storage.db import Cycle, CycleMentorship, MatchRun, Program
from tests.support.app import Api, csrf_of, make_api, make_settings, web_client
from tests.support.people import link, load_team


@pytest.fixture
def team_api(tmp_path: Path) -> Iterator[Api]:
    services = Services(make_settings(tmp_path, matching={"audit_min_group_size": 1}))
    services.db.create_tables()
    load_team(services)
    for api in make_api(services):
        link(services, "mia", "mentee1")
        link(services, "good", "mentor1")
        yield api
    services.close()


def section(html: str, element_id: str) -> str:
    found = re.search(rf'<(\w+) id="{element_id}"[^>]*>.*?</\1>', html, re.S)
    assert found, f"no #{element_id}"
    return found.group(0)


def test_matching_page_shows_the_audit_with_charts_tables_and_warnings(team_api: Api) -> None:
    admin = web_client(team_api, "admin")
    csrf = csrf_of(admin.get("/admin/matching").text)
    page = admin.post("/admin/matching/run", data={"csrf_token": csrf}).text
    assert "Matched 2 of 3 mentees (66.7%)" in section(page, "audit-summary")
    warnings = section(page, "audit-warnings")
    assert "timezone Asia/Kolkata: 0 of 1 matched (0.0%), 66.7 points under the overall 66.7%" in warnings
    zones = section(page, "audit-table-timezone")
    assert re.search(r"Asia/Kolkata.*?<td>1</td><td>0</td><td>0\.0%</td>", zones, re.S)
    assert re.search(r"Europe/London.*?<td>2</td><td>2</td><td>100\.0%</td>", zones, re.S)
    timezone = section(page, "audit-timezone")
    assert (
        "<title>Match rate by time zone</title>" in timezone
        and "<title>Mean score by time zone</title>" in timezone
    )
    assert "<desc>Europe/London: 100%; Asia/Kolkata: 0%</desc>" in timezone
    assert 'id="audit-timezone" class="card" open' in page, "a dimension with a warning is opened"
    load = section(page, "audit-load")
    assert "<title>Mentors by load (held + assigned, of capacity)</title>" in load
    assert section(page, "audit-load-buckets").count("<tr>") == 5  # header + four buckets
    # the stored run's page shows the same audit
    stored = admin.get("/admin/matching?run=1").text
    assert section(stored, "audit-warnings") == warnings
    assert section(stored, "audit-table-timezone") == zones


def test_a_cohort_run_for_a_cycle_from_the_page(team_api: Api) -> None:
    services = team_api.services
    with services.db.session() as session:
        program = Program(name="Formal")
        session.add(program)
        session.flush()
        cycle = Cycle(
            program_id=program.id, name="Spring", starts_on=date(2026, 1, 5), ends_on=date(2026, 6, 30)
        )
        session.add(cycle)
        session.flush()
        cycle_id = cycle.id
    admin = web_client(team_api, "admin")
    form = admin.get("/admin/matching").text
    assert f'<option value="{cycle_id}">Formal: Spring (2026-01-05 to 2026-06-30)</option>' in form
    csrf = csrf_of(form)
    bad = admin.post("/admin/matching/run", data={"csrf_token": csrf, "cycle_id": "spring"})
    assert bad.status_code == 422 and "cycle: choose a cycle from the list" in bad.text
    missing = admin.post("/admin/matching/run", data={"csrf_token": csrf, "cycle_id": "999"})
    assert missing.status_code == 422 and "no cycle 999" in missing.text
    page = admin.post(
        "/admin/matching/run", data={"csrf_token": csrf, "cycle_id": str(cycle_id), "pins": "mia = good"}
    ).text
    assert "For cycle Formal: Spring (2026-01-05 to 2026-06-30): 0 pair(s) excluded" in page
    assert f'<option value="{cycle_id}" selected>' in page, "the chosen cycle stays selected"
    with services.db.session() as session:
        run = session.scalars(select(MatchRun)).one()
        assert run.cycle_id == cycle_id
    published = admin.post(f"/admin/matching/runs/{run.id}/publish", data={"csrf_token": csrf}).text
    assert "The run&#39;s mentorships are now part of its cycle." in published
    with services.db.session() as session:
        joined = session.scalar(
            select(func.count(CycleMentorship.id)).where(CycleMentorship.cycle_id == cycle_id)
        )
    assert joined == 1, "only mia and good have user accounts, so only their pair is a mentorship"
    assert f'<option value="{cycle_id}" selected>' in admin.get(f"/admin/matching?run={run.id}").text

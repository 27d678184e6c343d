"""Jobs on the pages: a large upload, a re-ingest and a people import start jobs and show their progress
(with a refresh for browsers without JavaScript), cancel from the page, and /admin/evals starts a run, follows
it and lands on it; a scheduled run that regressed shows a notice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from companion.container import Services
from companion.jobs.consumer import SCHEDULED_EVAL_PREFIX, start_scheduled_eval
from tests.support.app import KNOWLEDGE, Api, csrf_of, make_api, make_settings, web_client

GUIDE = b"# Check-ins\n\n## Weekly\nMentor and mentee meet every week to review the goals they agreed.\n"
PEOPLE = (
    b"id,name,role,timezone,languages,skills,expertise,goals,capacity\n"
    b"t1,Tom Mentor,mentor,Europe/London,english,python,I teach python testing,,1\n"
    b"e1,Eve Mentee,mentee,Europe/London,english,python,,I want to learn python testing,\n"
)


def _api(tmp_path: Path, **jobs: object) -> Iterator[Api]:
    settings = make_settings(
        tmp_path, llm={"mode": "fake"}, jobs={"mode": "immediate", "background_above_bytes": 64, **jobs}
    )
    services = Services(settings)
    services.db.create_tables()
    yield from make_api(services)
    services.close()


@pytest.fixture
def api_now(tmp_path: Path) -> Iterator[Api]:
    """Jobs run at once (immediate queue): a started job has ended by the time the page loads."""
    yield from _api(tmp_path)


@pytest.fixture
def api_later(tmp_path: Path) -> Iterator[Api]:
    """Jobs wait on a memory queue with no consumer: the page shows them queued."""
    yield from _api(tmp_path, mode="memory")


def _post(client: TestClient, page: str, action: str, **kwargs: object) -> object:
    csrf = csrf_of(client.get(page).text)
    data = {"csrf_token": csrf, **kwargs.pop("data", {})}  # type: ignore[dict-item]
    return client.post(action, data=data, **kwargs)  # type: ignore[arg-type]


def test_a_large_upload_becomes_a_job_and_the_page_shows_its_report(api_now: Api) -> None:
    admin = web_client(api_now, "admin")
    upload = "/admin/knowledge/upload"
    response = _post(admin, "/admin/knowledge", upload, files={"file": ("weekly.md", GUIDE)})
    assert response.status_code == 303  # type: ignore[attr-defined]
    target = response.headers["location"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"/admin/knowledge\?job=[0-9a-f]{32}", target)
    page = admin.get(target)
    assert page.status_code == 200
    assert 'id="job"' in page.text and 'data-job-status="done"' in page.text
    assert "Ingest of weekly.md: 1 added, 0 updated, 0 unchanged, 0 failed" in page.text
    assert 'id="ingest-result"' in page.text and 'data-source="weekly.md"' in page.text
    assert 'http-equiv="refresh"' not in page.text, "an ended job needs no refresh"

    # a small file is still ingested in the request, as before
    small = _post(admin, "/admin/knowledge", upload, files={"file": ("s.md", b"# S\n\nx\n")})
    assert small.status_code == 201  # type: ignore[attr-defined]


def test_re_ingest_all_runs_as_a_job_that_waits_with_a_refresh_and_can_be_cancelled(api_later: Api) -> None:
    api_later.services.knowledge.ingest_bytes(GUIDE, "weekly.md")
    admin = web_client(api_later, "admin")
    page = admin.get("/admin/knowledge")
    assert '<input type="hidden" name="background" value="1">' in page.text
    started = _post(admin, "/admin/knowledge", "/admin/knowledge/reingest", data={"background": "1"})
    target = started.headers["location"]  # type: ignore[attr-defined]
    waiting = admin.get(target)
    assert 'data-job-status="queued"' in waiting.text and "Re-ingest of every guide" in waiting.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in waiting.text
    assert "/static/jobs.js" in waiting.text and 'data-job-url="/admin/jobs/' in waiting.text
    assert 'id="job-cancel"' in waiting.text

    job_id = target.rsplit("=", 1)[1]
    state = admin.get(f"/admin/jobs/{job_id}")
    assert state.status_code == 200 and state.json()["status"] == "queued"
    assert web_client(api_later, "mentee").get(f"/admin/jobs/{job_id}").status_code == 403

    csrf = csrf_of(waiting.text)
    cancelled = admin.post(f"/admin/jobs/{job_id}/cancel", data={"csrf_token": csrf, "next": target})
    assert cancelled.status_code == 303 and cancelled.headers["location"] == target
    after = admin.get(target)
    assert 'data-job-status="cancelled"' in after.text
    assert "Re-ingest of every guide cancelled: cancelled before it started" in after.text
    assert admin.post(f"/admin/jobs/{job_id}/cancel", data={"next": target}).status_code == 403, "CSRF"
    # a `next` off the admin pages is not followed
    again = admin.post(f"/admin/jobs/{job_id}/cancel", data={"csrf_token": csrf, "next": "//evil.example"})
    assert again.headers["location"] == "/admin/knowledge"


def test_a_large_people_import_becomes_a_job_with_the_row_report(api_now: Api) -> None:
    admin = web_client(api_now, "admin")
    response = _post(admin, "/admin/people", "/admin/people/import", files={"file": ("p.csv", PEOPLE)})
    target = response.headers["location"]  # type: ignore[attr-defined]
    assert target.startswith("/admin/people?job=")
    page = admin.get(target)
    assert "Import of p.csv: created 2, updated 0, unchanged 0, failed 0" in page.text
    assert 'id="import-report"' in page.text
    refused = _post(admin, "/admin/people", "/admin/people/import", files={"file": ("p.txt", PEOPLE)})
    assert refused.status_code == 422 and "use a .csv or .json file" in refused.text  # type: ignore[attr-defined]


def test_admin_starts_an_eval_run_from_the_page_and_lands_on_it(api_now: Api) -> None:
    admin = web_client(api_now, "admin")
    page = admin.get("/admin/evals")
    for mark in ('id="eval-form"', 'id="suite-feedback"', 'id="eval-limit"', 'id="eval-judge"',
                 '<option value="fake" selected>fake (configured)</option>', 'id="no-runs"'):  # fmt: skip
        assert mark in page.text, mark
    started = _post(
        admin, "/admin/evals", "/admin/evals/run",
        data={"suite": ["feedback", "goals"], "limit": "1", "backend": "fake", "note": "from the page"},
    )  # fmt: skip
    target = started.headers["location"]  # type: ignore[attr-defined]
    assert target.startswith("/admin/evals?job=")
    landed = admin.get(target)
    assert landed.status_code == 303 and landed.headers["location"] == "/admin/evals/runs/1"
    run = api_now.services.evaluation.get_run(1)
    assert run.run.cases == 2 and run.run.note == "from the page"

    for data, message in (
        ({"limit": "many"}, "limit: a whole number"),
        ({"suite": "nope"}, "unknown suite &#39;nope&#39;"),
        ({"backend": "openai"}, "backend &#39;openai&#39; is not available here"),
    ):
        refused = _post(admin, "/admin/evals", "/admin/evals/run", data=data)
        assert refused.status_code == 422 and message in refused.text, refused.text  # type: ignore[attr-defined]
    assert len(api_now.services.evaluation.list_runs()) == 1


def test_an_eval_run_in_progress_is_listed_and_followed(api_later: Api) -> None:
    admin = web_client(api_later, "admin")
    started = _post(admin, "/admin/evals", "/admin/evals/run", data={"suite": "feedback", "limit": "1"})
    target = started.headers["location"]  # type: ignore[attr-defined]
    waiting = admin.get(target)
    assert waiting.status_code == 200 and 'data-job-status="queued"' in waiting.text
    assert f'data-done-url="{target}"' in waiting.text
    listing = admin.get("/admin/evals")
    assert 'id="running-evals"' in listing.text and "Eval run: feedback, at most 1 cases each" in listing.text


def test_a_scheduled_run_that_regressed_shows_a_notice(api_now: Api) -> None:
    services = api_now.services
    jobs_settings = services.settings.jobs.model_copy(
        update={"nightly_eval_suites": ["feedback"], "nightly_eval_limit": 2}
    )
    admin = web_client(api_now, "admin")
    services.knowledge.ingest_paths([KNOWLEDGE])
    day = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    first = start_scheduled_eval(services.jobs, jobs_settings, now=day)
    same = start_scheduled_eval(services.jobs, jobs_settings, now=day + timedelta(days=1))
    assert same.result is not None and same.result["regressions"] == 0
    assert 'id="regression-notice"' not in admin.get("/admin/evals").text, "no regression, no notice"

    # the handbook is gone before the next night's run: its answers lose their sources and citations
    for document in services.knowledge.list_documents():
        services.knowledge.delete_document(document.id)
    worse = start_scheduled_eval(services.jobs, jobs_settings, now=day + timedelta(days=2))
    assert worse.id == f"{SCHEDULED_EVAL_PREFIX}20261203" and worse.result is not None
    assert worse.result["baseline_id"] == same.result["run_id"] and worse.result["regressions"] >= 1
    page = admin.get("/admin/evals").text
    assert 'id="regression-notice"' in page
    assert f"{worse.result['regressions']} case(s) scored lower" in page
    assert f"/admin/evals/compare?a={same.result['run_id']}&b={worse.result['run_id']}" in page
    assert first.status == "done"


def test_a_cohort_match_in_the_background_lands_on_its_review(api_now: Api) -> None:
    api_now.services.people.import_bytes(PEOPLE, "p.csv")
    admin = web_client(api_now, "admin")
    assert 'id="run-background"' in admin.get("/admin/matching").text
    started = _post(admin, "/admin/matching", "/admin/matching/run", data={"background": "1"})
    target = started.headers["location"]  # type: ignore[attr-defined]
    assert target.startswith("/admin/matching?job=")
    landed = admin.get(target)
    assert landed.status_code == 303 and landed.headers["location"] == "/admin/matching?run=1"
    review = admin.get("/admin/matching?run=1").text
    assert "Review: Run 1" in review and 'data-mentee="e1"' in review
    # a dry run has no stored run: the job's report is shown where the job is
    dry = _post(admin, "/admin/matching", "/admin/matching/run", data={"background": "1", "dry_run": "on"})
    page = admin.get(dry.headers["location"]).text  # type: ignore[attr-defined]
    assert "Dry run (not stored)" in page and 'data-job-status="done"' in page

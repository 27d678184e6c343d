"""Nudges and preferences through the app: the opt-out toggle and the calendar feed on the profile page and
the API, the admin nudges page (e-mail off notice, dry-run preview, run now as a job), the daily schedule,
the CLI, and the e-mail to admins when the scheduled eval run regresses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select

from companion.container import Services
from companion.jobs.consumer import start_scheduled_eval, start_scheduled_nudges
from companion.program.email import OFF_MESSAGE, RecordingMailer
from companion.storage.db import Person, SessionRecord, User, UserPreference
from tests.support.app import KNOWLEDGE, Api, csrf_of, make_api, make_settings, web_client
from tests.support.nudges import CYCLE_START, address, build_program

AT_RISK_DAY = CYCLE_START + timedelta(days=30)


@pytest.fixture
def mail_api(tmp_path: Path) -> Iterator[Api]:
    services = Services(make_settings(tmp_path, email={"mode": "fake"}))
    services.db.create_tables()
    yield from make_api(services)


def _user_id(services: Services, name: str) -> int:
    with services.db.session() as session:
        return int(session.scalar(select(User.id).where(User.name == name)))  # type: ignore[arg-type]


def _in_a_pair(api: Api) -> tuple[int, int]:
    """mentee1 and mentor1 (the test users) as a pair of a running cycle, with e-mail addresses."""
    services = api.services
    mentee, mentor = _user_id(services, "mentee1"), _user_id(services, "mentor1")
    world = build_program(services.db, pairs=1, prefix="x")
    with services.db.session() as session:
        from companion.storage.db import Mentorship

        pair = session.get(Mentorship, world.pairs[0].mentorship)
        assert pair is not None
        pair.mentor_user_id, pair.mentee_user_id = mentor, mentee
        for user_id, name in ((mentee, "mentee1"), (mentor, "mentor1")):
            session.add(
                Person(
                    key=name,
                    name=name.title(),
                    email=address(name),
                    role=name[:-1],
                    user_id=user_id,
                    timezone="UTC",
                )
            )
        session.add(
            SessionRecord(
                mentee_user_id=mentee,
                mentor_user_id=mentor,
                held_on=CYCLE_START + timedelta(2),
                length_minutes=50,
                notes="secret notes",
            )
        )
    return mentee, mentor


def test_the_profile_page_toggles_email_and_the_api_agrees(mail_api: Api) -> None:
    client = web_client(mail_api, "mentee")
    page = client.get("/profile")
    assert page.status_code == 200 and 'id="email-nudges"' in page.text and " checked" in page.text
    assert OFF_MESSAGE not in page.text  # e-mail is on (the fake mailer)
    saved = client.post("/profile/preferences", data={"csrf_token": csrf_of(page.text)})  # unticked
    assert saved.status_code == 303 and saved.headers["location"] == "/profile?saved=email"
    api = mail_api.client.get("/v1/me/preferences", headers=mail_api.auth("mentee")).json()
    assert api["email_opt_out"] is True and api["email_enabled"] is True
    back = mail_api.client.put(
        "/v1/me/preferences", headers=mail_api.auth("mentee"), json={"email_opt_out": False}
    )
    assert back.json()["email_opt_out"] is False
    bad = mail_api.client.put(
        "/v1/me/preferences", headers=mail_api.auth("mentee"), json={"email_opt_out": "x"}
    )
    assert bad.status_code in (400, 422) and "email_opt_out" in bad.text
    no_csrf = client.post("/profile/preferences", data={"email": "1"})
    assert no_csrf.status_code == 403


def test_pages_say_when_email_is_off(api: Api) -> None:
    mentee = web_client(api, "mentee").get("/profile")
    assert OFF_MESSAGE in mentee.text
    admin = web_client(api, "admin").get("/admin/nudges")
    assert admin.status_code == 200 and OFF_MESSAGE in admin.text and 'id="nudges-run" disabled' in admin.text


def test_the_calendar_feed_has_sessions_the_next_due_and_milestones_and_resets(mail_api: Api) -> None:
    _in_a_pair(mail_api)
    client = web_client(mail_api, "mentee")
    page = client.get("/profile")
    url = page.text.split('id="calendar-url" readonly value="', 1)[1].split('"', 1)[0]
    assert url.startswith("http://testserver/calendar/") and url.endswith(".ics")
    path = url.removeprefix("http://testserver")
    anonymous = mail_api.client.get(path)  # no sign-in: the token is the key
    assert anonymous.status_code == 200 and anonymous.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(anonymous.content)
    events = {str(e["uid"]).split("-")[0]: e for e in cal.walk("VEVENT")}
    session_event = events["session"]
    assert session_event.decoded("dtstart") == CYCLE_START + timedelta(2)
    assert "Mentor1" in str(session_event["summary"])
    assert "secret notes" not in anonymous.text
    assert str(events["milestone"]["summary"]) == "Goals agreed"
    assert "due" not in events  # the cycle ended before today (the next-due event: the test below)
    # the mentor's own feed is another address with the same session
    mentor_url = mail_api.client.get("/v1/me/preferences", headers=mail_api.auth("mentor")).json()[
        "calendar_path"
    ]
    assert mentor_url != path and "Mentee1" in mail_api.client.get(mentor_url).text
    reset = client.post("/profile/calendar/reset", data={"csrf_token": csrf_of(page.text)})
    assert reset.status_code == 303
    assert mail_api.client.get(path).status_code == 404
    new_path = mail_api.client.get("/v1/me/preferences", headers=mail_api.auth("mentee")).json()[
        "calendar_path"
    ]
    assert new_path != path and mail_api.client.get(new_path).status_code == 200
    unknown = mail_api.client.get("/calendar/made-up-token.ics")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    api_reset = mail_api.client.post(
        "/v1/me/preferences/calendar/reset", headers=mail_api.auth("mentee")
    ).json()
    assert api_reset["calendar_path"] != new_path and mail_api.client.get(new_path).status_code == 404


def test_the_next_due_session_is_a_tentative_event_while_the_cycle_runs(tmp_path: Path) -> None:
    services = Services(make_settings(tmp_path))
    services.db.create_tables()
    world = build_program(services.db, pairs=1, sessions=[[CYCLE_START + timedelta(days=3)]])
    mentee = world.pairs[0].mentee
    services.preferences.get(mentee)
    with services.db.session() as session:
        token = session.scalar(select(UserPreference.calendar_token).where(UserPreference.user_id == mentee))
    cal = Calendar.from_ical(services.calendars.feed(str(token), today=CYCLE_START + timedelta(days=5)))
    (due,) = [e for e in cal.walk("VEVENT") if str(e["uid"]).startswith("due-")]
    assert due.decoded("dtstart") == CYCLE_START + timedelta(days=17) and str(due["status"]) == "TENTATIVE"
    after = Calendar.from_ical(services.calendars.feed(str(token), today=CYCLE_START + timedelta(weeks=30)))
    assert not [e for e in after.walk("VEVENT") if str(e["uid"]).startswith("due-")]  # the cycle has ended
    services.close()


def test_admin_previews_then_runs_the_nudges_as_a_job(mail_api: Api) -> None:
    mentee, mentor = _in_a_pair(mail_api)
    with mail_api.services.db.session() as session:  # drop the one session: the pair is at risk by day 30
        for row in session.scalars(select(SessionRecord)):
            session.delete(row)
    client = web_client(mail_api, "admin")
    page = client.get("/admin/nudges")
    assert page.status_code == 200 and 'id="recent-none"' in page.text and OFF_MESSAGE not in page.text
    csrf = csrf_of(page.text)
    preview = client.post("/admin/nudges/preview", data={"csrf_token": csrf, "day": AT_RISK_DAY.isoformat()})
    assert preview.status_code == 200 and 'class="count-would-send">2<' in preview.text
    assert address("mentee1") in preview.text
    mailer = mail_api.services.mailer
    assert isinstance(mailer, RecordingMailer) and mailer.sent == []
    bad = client.post("/admin/nudges/preview", data={"csrf_token": csrf, "day": "31/01/2026"})
    assert bad.status_code == 422 and "use YYYY-MM-DD" in bad.text
    started = client.post("/admin/nudges/run", data={"csrf_token": csrf, "day": AT_RISK_DAY.isoformat()})
    assert started.status_code == 303 and started.headers["location"].startswith("/admin/nudges?job=")
    done = client.get(started.headers["location"])
    assert 'class="count-sent">2<' in done.text and 'id="recent-sends"' in done.text
    assert sorted(m.to for m in mailer.sent) == [address("mentee1"), address("mentor1")]
    again = client.post("/admin/nudges/run", data={"csrf_token": csrf, "day": AT_RISK_DAY.isoformat()})
    assert "Skipped: already sent</th><td>2<" in client.get(again.headers["location"]).text
    assert len(mailer.sent) == 2
    sent = mail_api.client.get("/v1/nudges", headers=mail_api.auth("admin")).json()
    assert {s["user_id"] for s in sent} == {mentee, mentor} and {s["reason"] for s in sent} == {"at_risk"}
    job = mail_api.client.post("/v1/nudges/run", headers=mail_api.auth("admin"), json={"dry_run": True})
    assert job.status_code == 202 and job.json()["result"]["dry_run"] is True
    # the admin's own opt-out of the admin e-mails lives on this page
    saved = client.post("/profile/preferences", data={"csrf_token": csrf, "next": "/admin/nudges"})
    assert saved.headers["location"] == "/admin/nudges?saved=email"
    assert "E-mail preference saved." in client.get(saved.headers["location"]).text


def test_the_daily_nudge_job_runs_once_a_day(tmp_path: Path) -> None:
    services = Services(make_settings(tmp_path, email={"mode": "fake"}))
    services.db.create_tables()
    build_program(services.db, pairs=1)
    day = datetime(2026, 2, 4, 7, 0, tzinfo=UTC)  # 30 days into the cycle
    first = start_scheduled_nudges(services.jobs, now=day)
    again = start_scheduled_nudges(services.jobs, now=day)
    assert first.id == again.id == "nudges-20260204" and first.status == "done"
    assert first.result is not None and first.result["dry_run"] is False
    seven = datetime(2026, 2, 5, 7, 0)  # huey reads its schedule in naive UTC
    assert "daily_nudges" in {task.name for task in services.jobs.huey.read_periodic(seven)}
    assert "daily_nudges" not in {
        task.name for task in services.jobs.huey.read_periodic(seven.replace(hour=8))
    }
    services.close()
    off = Services(make_settings(tmp_path / "off"))
    assert "daily_nudges" not in {task.name for task in off.jobs.huey.read_periodic(seven)}
    off.close()


def test_the_cli_runs_and_previews_the_nudges(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from companion.cli.main import app as cli_app

    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_EMAIL__MODE": "fake",
    }
    services = Services(make_settings(tmp_path, email={"mode": "fake"}))
    services.db.create_tables()
    build_program(services.db, pairs=2)
    services.close()
    runner = CliRunner()
    dry = runner.invoke(cli_app, ["nudges", "run", "--today", AT_RISK_DAY.isoformat(), "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert re.search(r"would send\s*│\s*4\s*│", dry.stdout), dry.stdout
    real = runner.invoke(cli_app, ["nudges", "run", "--today", AT_RISK_DAY.isoformat()], env=env)
    assert real.exit_code == 0 and "sent" in real.stdout and "at risk" in real.stdout
    twice = runner.invoke(cli_app, ["nudges", "run", "--today", AT_RISK_DAY.isoformat()], env=env)
    assert "skipped: already sent" in twice.stdout
    listed = runner.invoke(cli_app, ["nudges", "sent"], env=env)
    assert listed.exit_code == 0 and "pmentee1" in listed.stdout
    bad = runner.invoke(cli_app, ["nudges", "run", "--today", "tomorrow"], env=env)
    assert bad.exit_code == 2 and "tomorrow" in bad.output


def test_a_scheduled_eval_run_that_regresses_emails_the_admins_once(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        llm={"mode": "fake"},
        email={"mode": "fake"},
        jobs={"mode": "immediate", "nightly_eval_suites": ["feedback"], "nightly_eval_limit": 2},
    )
    services = Services(settings)
    services.db.create_tables()
    with services.db.session() as session:
        admin = User(name="boss", role="admin")
        session.add(admin)
        session.flush()
        session.add(
            Person(
                key="boss", name="Bo", email=address("boss"), role="mentor", user_id=admin.id, timezone="UTC"
            )
        )
    services.knowledge.ingest_paths([KNOWLEDGE])
    day = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    start_scheduled_eval(services.jobs, settings.jobs, now=day)
    for document in services.knowledge.list_documents():  # without its guides the assistant does worse
        services.knowledge.delete_document(document.id)
    worse = start_scheduled_eval(services.jobs, settings.jobs, now=day + timedelta(days=1))
    assert worse.result is not None and worse.result["regressions"] > 0 and worse.result["emailed"] == 1
    mailer = services.mailer
    assert isinstance(mailer, RecordingMailer)
    (mail,) = mailer.sent
    assert (
        mail.to == address("boss")
        and mail.subject == f"The scheduled eval run #{worse.result['run_id']} regressed"
    )
    services.close()

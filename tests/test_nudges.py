"""E-mail nudges on the recording fake mailer: each reason, once per period, opt-out, no address, e-mail
off, the cap, failures that are retried, and two runs at once sending once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from companion.container import Services
from companion.program import invitations
from companion.program.email import RecordingMailer, render
from companion.program.nudges import (
    ALREADY_SENT,
    AT_RISK,
    CONTACT,
    EMAIL_OFF,
    EVAL_REGRESSION,
    MILESTONE,
    NO_ADDRESS,
    OPTED_OUT,
    OVER_CAP,
    REMINDER,
    SURVEY,
)
from companion.storage.db import NudgeSent, Person, Survey, SurveyResponse, User
from tests.support.app import make_settings
from tests.support.nudges import CYCLE_START, address, build_program

# no session for 30 days: at risk (and the goals milestone has passed)
AT_RISK_DAY = CYCLE_START + timedelta(days=30)


def _services(tmp_path: Path, **email: object) -> Iterator[Services]:
    services = Services(make_settings(tmp_path, email={"mode": "fake", **email}))
    services.db.create_tables()
    yield services
    services.close()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    yield from _services(tmp_path)


def _mailer(services: Services) -> RecordingMailer:
    mailer = services.mailer
    assert isinstance(mailer, RecordingMailer)
    return mailer


def _admin_with_address(services: Services, name: str = "boss") -> int:
    with services.db.session() as session:
        user = User(name=name, role="admin")
        session.add(user)
        session.flush()
        session.add(
            Person(
                key=name, name="Bo Admin", email=address(name), role="mentor", user_id=user.id, timezone="UTC"
            )
        )
        return user.id


def test_an_at_risk_pair_gets_one_email_each_not_two(services: Services) -> None:
    build_program(services.db, pairs=1)
    first = services.nudges.run(AT_RISK_DAY)
    assert first.sent == 2 and first.by_reason == {AT_RISK: 2}, first
    second = services.nudges.run(AT_RISK_DAY + timedelta(days=3))  # the same 4-week window
    assert second.sent == 0 and second.skipped == {ALREADY_SENT: 2}
    sent = _mailer(services).sent
    assert sorted(m.to for m in sent) == [address("pmentee0"), address("pmentor0")]
    to_mentee = next(m for m in sent if m.to == address("pmentee0"))
    assert "Pmentor0" in to_mentee.subject
    assert "no session since the cycle began 30 days ago" in to_mentee.text
    assert "no session since the cycle began 30 days ago" in to_mentee.html
    assert "/profile" in to_mentee.text and "Stop these e-mails" in to_mentee.html
    # the next 4-week window of the cycle asks again
    later = services.nudges.run(AT_RISK_DAY + timedelta(days=28))
    assert later.by_reason == {AT_RISK: 2}


def test_a_reminder_before_the_next_session_and_a_goals_milestone(services: Services) -> None:
    met = CYCLE_START + timedelta(days=10)
    build_program(services.db, pairs=1, sessions=[[met]])
    today = met + timedelta(days=12)  # next session due on day 24, within the 2 days' lead
    report = services.nudges.run(today)
    assert report.by_reason == {REMINDER: 2, MILESTONE: 2}, report
    reminder = next(
        m for m in _mailer(services).sent if m.to == address("pmentee0") and "due by" in m.subject
    )
    assert (met + timedelta(days=14)).isoformat() in reminder.subject
    assert f"Your last session was on {met.isoformat()}" in reminder.text
    milestone = next(m for m in _mailer(services).sent if m.subject.startswith("Agree your goals"))
    due = (CYCLE_START + timedelta(days=27)).isoformat()
    assert milestone.subject == f"Agree your goals by {due}"
    assert services.nudges.run(today + timedelta(days=1)).sent == 0


def test_no_reminder_while_the_next_session_is_far_off(services: Services) -> None:
    met = CYCLE_START + timedelta(days=30)
    build_program(services.db, pairs=1, sessions=[[CYCLE_START + timedelta(days=16), met]], milestones=False)
    assert services.nudges.run(met + timedelta(days=2)).items == []


def test_opted_out_and_no_address_are_skipped_with_their_reason(services: Services) -> None:
    world = build_program(services.db, pairs=1)
    build_program(services.db, pairs=1, emails=False, prefix="q")
    services.preferences.set_opt_out(world.pairs[0].mentee, True)
    report = services.nudges.run(AT_RISK_DAY)
    assert report.sent == 1 and report.skipped == {OPTED_OUT: 1, NO_ADDRESS: 2}, report
    assert [m.to for m in _mailer(services).sent] == [address("pmentor0")]
    services.preferences.set_opt_out(world.pairs[0].mentee, False)
    assert services.nudges.run(AT_RISK_DAY).sent == 1


def test_a_leaver_is_not_written_to(services: Services) -> None:
    world = build_program(services.db, pairs=1)
    with services.db.session() as session:
        person = session.scalar(select(Person).where(Person.user_id == world.pairs[0].mentor))
        assert person is not None
        person.active = False
    report = services.nudges.run(AT_RISK_DAY)
    assert report.sent == 1 and report.skipped == {NO_ADDRESS: 1}
    assert [m.to for m in _mailer(services).sent] == [address("pmentee0")]


def test_email_off_sends_nothing_and_says_so(tmp_path: Path) -> None:
    services = Services(make_settings(tmp_path))
    services.db.create_tables()
    build_program(services.db, pairs=1)
    report = services.nudges.run(AT_RISK_DAY)
    assert not report.email_on and report.sent == 0 and report.skipped == {EMAIL_OFF: 2}
    preview = services.nudges.run(AT_RISK_DAY, dry_run=True)
    assert preview.would_send == 2 and [i.status for i in preview.items] == ["would send"] * 2
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(NudgeSent)) == 0


def test_a_dry_run_claims_nothing(services: Services) -> None:
    build_program(services.db, pairs=1)
    assert services.nudges.run(AT_RISK_DAY, dry_run=True).would_send == 2
    assert _mailer(services).sent == []
    assert services.nudges.run(AT_RISK_DAY).sent == 2


def test_the_cap_leaves_the_rest_for_the_next_run(tmp_path: Path) -> None:
    for services in _services(tmp_path, max_per_run=3):
        build_program(services.db, pairs=2)
        first = services.nudges.run(AT_RISK_DAY)
        assert first.sent == 3 and first.skipped == {OVER_CAP: 1}
        second = services.nudges.run(AT_RISK_DAY)
        assert second.sent == 1 and second.skipped == {ALREADY_SENT: 3}


def test_a_refused_address_is_reported_and_retried_next_run_the_others_go(services: Services) -> None:
    build_program(services.db, pairs=2)
    mailer = _mailer(services)
    mailer.refuse.add(address("pmentee1"))
    report = services.nudges.run(AT_RISK_DAY)
    assert report.sent == 3 and report.failed == 1
    assert len(report.errors) == 1 and "pmentee1" in report.errors[0] and "550" in report.errors[0]
    mailer.refuse.clear()
    again = services.nudges.run(AT_RISK_DAY)
    assert again.sent == 1 and [m.to for m in mailer.sent[-1:]] == [address("pmentee1")]


def test_a_server_that_is_down_fails_the_run_cleanly_and_the_next_run_sends(services: Services) -> None:
    build_program(services.db, pairs=2)
    mailer = _mailer(services)
    mailer.down = True
    report = services.nudges.run(AT_RISK_DAY)
    assert report.sent == 0 and report.failed == 4
    assert report.errors == ["the fake SMTP server is down; 4 e-mail(s) not sent, the next run tries again"]
    mailer.down = False
    assert services.nudges.run(AT_RISK_DAY).sent == 4


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_runs_at_once_send_each_nudge_once(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    extra = {"database_url": request.getfixturevalue("postgres_url")} if database == "postgresql" else {}
    services = Services(make_settings(tmp_path, email={"mode": "fake"}, **extra))
    services.db.create_tables()
    build_program(services.db, pairs=15)
    barrier = threading.Barrier(2)
    reports = []

    def run() -> None:
        barrier.wait()
        reports.append(services.nudges.run(AT_RISK_DAY))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(reports) == 2 and sum(r.sent for r in reports) == 30
    assert sorted(m.to for m in _mailer(services).sent) == sorted(
        address(f"p{role}{i}") for i in range(15) for role in ("mentor", "mentee")
    )
    services.close()


def test_survey_invitations_carry_a_personal_link_until_answered(services: Services) -> None:
    world = build_program(services.db, pairs=1, milestones=False)
    today = CYCLE_START + timedelta(days=5)
    with services.db.session() as session:
        survey = Survey(
            cycle_id=world.cycle,
            kind="mid",
            audience="mentee",
            title="Mid-cycle check-in",
            questions=[],
            opens_on=today,
            closes_on=today + timedelta(days=14),
        )
        session.add(survey)
        session.flush()
    report = services.nudges.run(today)
    assert report.by_reason == {SURVEY: 1}
    (mail,) = _mailer(services).sent
    assert mail.to == address("pmentee0") and "Mid-cycle check-in" in mail.subject
    link = next(w for w in mail.text.split() if "/surveys/answer/" in w)
    assert link.startswith("http://127.0.0.1:8000/surveys/answer/") and link in mail.html
    with services.db.session() as session:
        invitation = invitations.resolve(session, link.rsplit("/", 1)[1])
        assert invitation is not None and invitation.user_id == world.pairs[0].mentee
    assert services.nudges.run(today + timedelta(days=1)).sent == 0


def test_admins_hear_of_a_contact_request_without_the_answers(services: Services) -> None:
    world = build_program(services.db, pairs=1, milestones=False)
    admin = _admin_with_address(services)
    with services.db.session() as session:
        survey = Survey(cycle_id=world.cycle, kind="end", audience="both", title="End of cycle", questions=[])
        session.add(survey)
        session.flush()
        session.add(
            SurveyResponse(
                survey_id=survey.id,
                user_id=world.pairs[0].mentee,
                role="mentee",
                answers={"q1": "my secret answer"},
                contact_requested=True,
                contact_note="please call me about my manager",
            )
        )
    today = CYCLE_START + timedelta(days=3)
    report = services.nudges.run(today)
    assert report.by_reason == {CONTACT: 1}
    (mail,) = _mailer(services).sent
    assert mail.to == address("boss") and "End of cycle" in mail.subject
    for secret in ("my secret answer", "manager", "Pmentee0"):
        assert secret not in mail.text and secret not in mail.html
    assert services.nudges.run(today).sent == 0
    assert admin


def test_the_scheduled_eval_regression_email_goes_once_per_run(services: Services) -> None:
    _admin_with_address(services)
    with services.db.session() as session:
        session.add(User(name="admin-without-address", role="admin"))
    report = services.nudges.notify_admins_of_regression(
        run_id=7, baseline_id=6, regressions=3, score_delta=-0.05
    )
    assert report.by_reason == {EVAL_REGRESSION: 1} and report.skipped == {NO_ADDRESS: 1}
    (mail,) = _mailer(services).sent
    assert mail.subject == "The scheduled eval run #7 regressed"
    assert "/admin/evals/compare?a=6&b=7" in mail.text and "-0.050" in mail.text
    again = services.nudges.notify_admins_of_regression(
        run_id=7, baseline_id=6, regressions=3, score_delta=-0.05
    )
    assert again.sent == 0


def test_templates_refuse_missing_or_undeclared_inputs() -> None:
    good = {"name": "A", "partner": "B", "reasons": ["x"], "cycle": "C", "unsubscribe_url": "u"}
    assert render("at_risk", "a@x", good).subject == "Your mentoring with B needs a session"
    with pytest.raises(ValueError, match="missing inputs \\['partner'\\]"):
        render("at_risk", "a@x", {k: v for k, v in good.items() if k != "partner"})
    with pytest.raises(ValueError, match="undeclared inputs \\['extra'\\]"):
        render("at_risk", "a@x", {**good, "extra": 1})
    html = render("at_risk", "a@x", {**good, "partner": "<b>Eve</b>"}).html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html  # the HTML part escapes what it is given

"""Nudges over real SMTP: an aiosmtpd server on a loopback port records what arrives. An at-risk pair gets
one e-mail each after two runs (on SQLite and PostgreSQL), each with a text and an HTML part; a refused
recipient is reported, not marked sent, and the others arrive; a server that is not there, or refuses the
login, is a clear error in the report, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from companion.container import Services
from companion.program.email import Message, ServerUnavailable, SmtpMailer
from companion.settings import EmailSettings
from companion.storage.db import NudgeSent
from tests.support.app import free_port, make_settings
from tests.support.nudges import CYCLE_START, Recorder, address, build_program, self_signed, smtp_server

AT_RISK_DAY = CYCLE_START + timedelta(days=30)
SENDER = "programme@larkfield.example"


def _services(tmp_path: Path, port: int, **overrides: Any) -> Services:
    email = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "sender": SENDER,
        "timeout_seconds": 5,
        **overrides.pop("email", {}),
    }
    services = Services(make_settings(tmp_path, email=email, **overrides))
    services.db.create_tables()
    return services


@pytest.fixture
def smtp() -> Iterator[tuple[int, Recorder]]:
    with smtp_server(refuse={address("pmentee1")}) as server:
        yield server


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_an_at_risk_pair_gets_one_email_each_over_smtp_not_two(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[int, Recorder], database: str
) -> None:
    port, recorder = smtp
    extra = {"database_url": request.getfixturevalue("postgres_url")} if database == "postgresql" else {}
    services = _services(tmp_path, port, **extra)
    build_program(services.db, pairs=1)
    first = services.nudges.run(AT_RISK_DAY)
    second = services.nudges.run(AT_RISK_DAY + timedelta(days=1))
    assert first.sent == 2 and first.errors == [] and second.sent == 0, (first, second)
    for name in ("pmentee0", "pmentor0"):
        (mail,) = recorder.to(address(name))
        assert mail.sender == SENDER and mail.message["From"] == SENDER
        assert mail.subject.startswith("Your mentoring with") and mail.subject.endswith("needs a session")
        assert mail.message.is_multipart() and mail.message.get_content_type() == "multipart/alternative"
        assert "no session since the cycle began 30 days ago" in mail.part("plain")
        assert "<li>no session since the cycle began 30 days ago</li>" in mail.part("html")
        assert "http://127.0.0.1:8000/profile" in mail.part("plain")
    services.close()


def test_a_refused_recipient_is_reported_and_not_marked_sent_the_others_arrive(
    tmp_path: Path, smtp: tuple[int, Recorder]
) -> None:
    port, recorder = smtp
    services = _services(tmp_path, port)
    build_program(services.db, pairs=3)
    report = services.nudges.run(AT_RISK_DAY)
    assert report.sent == 5 and report.failed == 1
    (error,) = report.errors
    assert "pmentee1" in error and "550" in error and "no such mailbox" in error
    assert {a for r in recorder.received for a in r.recipients} == {
        address(f"p{role}{i}") for i in range(3) for role in ("mentor", "mentee")
    } - {address("pmentee1")}
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(NudgeSent)) == 5
    # the next run tries the refused one again (and only it), and it is refused again
    again = services.nudges.run(AT_RISK_DAY)
    assert again.sent == 0 and again.failed == 1 and again.skipped == {"already sent": 5}
    assert recorder.refused == [address("pmentee1")] * 2 and len(recorder.received) == 5
    services.close()


def test_no_server_is_a_clear_error_and_nothing_is_marked_sent(tmp_path: Path) -> None:
    services = _services(tmp_path, free_port())
    build_program(services.db, pairs=1)
    report = services.nudges.run(AT_RISK_DAY)
    assert report.sent == 0 and report.failed == 2
    (error,) = report.errors
    assert error.startswith("cannot talk to the SMTP server 127.0.0.1:") and "next run tries again" in error
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(NudgeSent)) == 0
    services.close()


def test_login_is_used_when_a_user_name_is_set_and_a_wrong_password_is_reported(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"nudger", b"s3cret")
        return AuthResult(success=ok, handled=False)

    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=check,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        message = Message(to=address("x"), subject="Hello", text="plain body", html="<p>html body</p>")
        good = EmailSettings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            security="none",
            username="nudger",
            password="s3cret",
            timeout_seconds=5,
        )  # type: ignore[arg-type]
        with SmtpMailer(good).open() as outbox:
            outbox.send(message)
        (mail,) = recorder.received
        assert mail.part("plain").strip() == "plain body" and "<p>html body</p>" in mail.part("html")
        services = _services(tmp_path, port, email={"username": "nudger", "password": "wrong"})
        build_program(services.db, pairs=1)
        report = services.nudges.run(AT_RISK_DAY)
        assert report.sent == 0 and report.failed == 2
        assert report.errors[0].startswith("SMTP login as nudger refused: 535")
        services.close()
    finally:
        controller.stop()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_is_verified_against_the_configured_ca(tmp_path: Path, security: str) -> None:
    pair = self_signed(tmp_path)
    tls = {"starttls": pair} if security == "starttls" else {"smtps": pair}
    message = Message(to=address("x"), subject="Over TLS", text="plain", html="<p>html</p>")
    with smtp_server(**tls) as (port, recorder):  # type: ignore[arg-type]
        trusted = EmailSettings(
            smtp_host="127.0.0.1", smtp_port=port, security=security, ca_file=pair[0], timeout_seconds=5
        )  # type: ignore[arg-type]
        with SmtpMailer(trusted).open() as outbox:
            outbox.send(message)
        assert [r.subject for r in recorder.received] == ["Over TLS"]
        untrusted = trusted.model_copy(update={"ca_file": None})
        with (
            pytest.raises(ServerUnavailable, match="CERTIFICATE_VERIFY_FAILED"),
            SmtpMailer(untrusted).open() as outbox,
        ):
            outbox.send(message)
        assert len(recorder.received) == 1

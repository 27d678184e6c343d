"""An admin presses "Run nudges now" on /admin/nudges in Chromium, and the at-risk pair's e-mails arrive in
a real SMTP server on loopback (aiosmtpd). `companion serve` runs on fake backends with its own job queue
(huey on SQLite, the consumer in-process) and e-mail pointed at the test server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest

from companion.container import Services
from tests.support.app import make_settings
from tests.support.browser import ARTIFACTS, DESKTOP, PHONE, Server, Session
from tests.support.nudges import Recorder, address, build_program, smtp_server
from tests.support.server import Serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser

MENTEE_PASSWORD = "nudge-me-gently-7"


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Recorder]]:
    root = tmp_path_factory.mktemp("nudge")
    data = root / "data"
    with smtp_server() as (port, recorder):
        env = {
            "COMPANION_DATA_DIR": str(data),
            "COMPANION_EMBEDDINGS__MODE": "fake",
            "COMPANION_STORE__MODE": "memory",
            "COMPANION_LLM__MODE": "fake",
            "COMPANION_SEED_SAMPLE_KNOWLEDGE": "false",
            "COMPANION_EMAIL__SMTP_HOST": "127.0.0.1",
            "COMPANION_EMAIL__SMTP_PORT": str(port),
            "COMPANION_EMAIL__SECURITY": "none",
            "COMPANION_EMAIL__SENDER": "programme@larkfield.example",
        }
        drop = ["COMPANION_DATABASE_URL", "COMPANION_JOBS__MODE", "COMPANION_EMAIL__MODE"]
        log = ARTIFACTS / "browser" / "nudge-serve.log"
        with Serve(env=env, drop=drop, cwd=root, log=log, ready_timeout=180) as serve:
            password = serve.admin_password
            assert password, serve.output()[-2000:]
            # a pair of a cycle that began 30 days ago, with no session since: at risk today
            services = Services(make_settings(root, data_dir=data))
            build_program(services.db, pairs=1, starts_on=date.today() - timedelta(days=30), milestones=False)
            services.accounts.set_password("pmentee0", MENTEE_PASSWORD)
            services.close()
            yield Server(serve.base_url, data, password, log), recorder


def test_an_admin_runs_the_nudges_and_the_email_arrives(
    mail_server: tuple[Server, Recorder], browser: Browser
) -> None:
    server, recorder = mail_server
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    try:
        s = Session(server, context)
        s.sign_in("admin", server.admin_password)
        s.goto("/admin/nudges")
        assert s.page.locator("#email-on").is_visible() and not s.page.locator("#email-off").count()
        s.submit("#nudges-preview")
        assert s.page.locator("#preview-table .count-would-send").inner_text() == "2"
        assert recorder.received == [], "a dry run sends nothing"
        s.submit("#nudges-run")
        assert s.path() == "/admin/nudges"
        # the page follows the job and reloads when it ends, showing the run's report
        s.page.wait_for_selector("#run-report", timeout=60_000)
        assert s.page.locator("#run-report-table .count-sent").inner_text() == "2"
        assert s.page.locator("#recent-sends tbody tr").count() == 2
        s.screenshot("admin-nudges-desktop")
        for name in ("pmentee0", "pmentor0"):
            (mail,) = recorder.to(address(name))
            assert mail.subject.endswith("needs a session")
            assert "no session since the cycle began 30 days ago" in mail.part("plain")
            assert "no session since the cycle began 30 days ago" in mail.part("html")
        # pressed again: nothing new goes out
        s.goto("/admin/nudges")
        s.submit("#nudges-run")
        s.page.wait_for_selector("#run-report", timeout=60_000)
        assert s.page.locator("#run-report-table .count-sent").inner_text() == "0"
        assert len(recorder.received) == 2
        phone = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
        p = Session(server, phone)
        p.page.context.add_cookies(context.cookies())
        p.goto("/admin/nudges")
        assert p.overflow()["excess"] <= 0, p.overflow()
        assert p.unlabelled_fields() == []
        p.screenshot("admin-nudges-phone")
        phone.close()
    finally:
        context.close()



def test_a_mentee_opts_out_and_resets_the_calendar_link_on_a_phone(
    mail_server: tuple[Server, Recorder], browser: Browser
) -> None:
    server, _ = mail_server
    context = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    try:
        s = Session(server, context)
        s.sign_in("pmentee0", MENTEE_PASSWORD)
        s.goto("/profile")
        assert s.page.is_checked("#email-nudges") and not s.page.locator("#email-off").count()
        feed = s.page.input_value("#calendar-url")
        assert feed.startswith(f"{server.base_url}/calendar/") and feed.endswith(".ics")
        ics = context.request.get(feed)
        assert ics.status == 200 and ics.headers["content-type"].startswith("text/calendar")
        assert "BEGIN:VCALENDAR" in ics.text() and "STATUS:TENTATIVE" in ics.text()  # the next session due
        s.page.uncheck("#email-nudges")
        s.submit("#email-save")
        assert "E-mail preference saved." in s.page.locator("p.notice").inner_text()
        assert not s.page.is_checked("#email-nudges")
        s.screenshot("profile-email-calendar-phone")
        assert s.overflow()["excess"] <= 0, s.overflow()
        s.submit("#calendar-reset")
        assert "the old one no longer works" in s.page.locator("p.notice").inner_text()
        assert s.page.input_value("#calendar-url") != feed
        assert context.request.get(feed).status == 404
        s.page.check("#email-nudges")
        s.submit("#email-save")
        assert s.page.is_checked("#email-nudges")
    finally:
        context.close()

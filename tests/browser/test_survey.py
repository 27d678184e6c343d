"""A survey in the browser: the admin creates one, the mentee opens it from their home page, answers it
(ratings and text) and sees the thank-you; then the mentor answers through a personal link, signed out,
asking to be contacted, and the admin sees the answer count and the contact request badge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from companion.program import invitations
from companion.storage.db import Database, User
from tests.support.browser import DESKTOP, PHONE, Accounts, Server


def _token_for(server: Server, user_name: str, survey_id: int) -> str:
    """A personal link token, as the e-mail invitation would carry it, issued in the server's database."""
    db = Database(f"sqlite:///{(server.data_dir / 'companion.db').resolve()}")
    try:
        with db.session() as session:
            user_id = session.scalar(select(User.id).where(User.name == user_name))
            assert user_id is not None, f"no account {user_name}"
            return invitations.issue(session, survey_id=survey_id, user_id=user_id)
    finally:
        db.dispose()


def test_a_mentee_answers_a_survey_then_a_personal_link_signed_out(
    server: Server, accounts: Accounts, open_session: Any
) -> None:
    admin = open_session(as_user=("admin", server.admin_password))
    admin.goto("/admin/surveys")
    admin.page.select_option("#new-kind", "mid")
    admin.page.select_option("#new-audience", "both")
    admin.page.fill("#new-title", "Browser check-in")
    admin.submit("#create-submit")
    assert "Survey created with the default questions" in admin.page.locator("p.notice").inner_text()
    survey_id = int(admin.path().rsplit("/", 1)[1])
    assert admin.unlabelled_fields() == []
    admin.screenshot("survey-admin-edit-desktop")

    mentee = open_session(as_user=(accounts.names["mentee"], accounts.passwords["mentee"]))
    mentee.goto("/mentee")
    box = mentee.page.locator("#surveys-for-you")
    assert "Browser check-in" in box.inner_text()
    with mentee.page.expect_navigation():
        box.get_by_role("link", name="Browser check-in").click()
    assert mentee.path() == f"/surveys/{survey_id}"
    assert mentee.unlabelled_fields() == []
    mentee.page.get_by_role("group", name="How well are you and your mentoring partner").get_by_label(
        "4"
    ).check()
    mentee.page.locator("#q-rhythm-5").check()
    mentee.page.fill("#q-going_well", "We meet every other Tuesday and keep notes.")
    mentee.screenshot("survey-answer-mentee-desktop")
    mentee.submit("#survey-submit")
    assert mentee.page.locator("h1").inner_text() == "Thank you"
    assert "Browser check-in" in mentee.page.locator("#survey-thanks").inner_text()
    mentee.goto("/mentee")
    assert "answered, thank you" in mentee.page.locator("#surveys-for-you").inner_text()

    token = _token_for(server, accounts.names["mentor"], survey_id)
    signed_out = open_session(PHONE)
    signed_out.goto(f"/surveys/answer/{token}")
    assert signed_out.page.locator("h1").inner_text() == "Browser check-in"
    assert signed_out.page.locator("form.signout").count() == 0, "signed out: only the survey"
    assert signed_out.overflow()["excess"] <= 0, signed_out.overflow()
    signed_out.page.locator("#q-relationship-3").check()
    signed_out.page.fill("#q-change", "More time for the first session.")
    signed_out.page.locator("#contact-box").check()
    signed_out.page.fill("#contact-note", "I would like to talk about my mentee's workload.")
    signed_out.screenshot("survey-answer-link-phone")
    signed_out.submit("#survey-submit")
    assert signed_out.page.locator("#contact-confirmed").is_visible()
    signed_out.goto(f"/surveys/answer/{token}")
    assert signed_out.page.locator("#already-answered").is_visible()

    admin.goto(f"/admin/surveys/{survey_id}")
    assert admin.page.locator("#answer-count").inner_text() == "2"
    assert (
        "Results appear once 5 people have answered (2 so far)."
        in admin.page.locator("#results").inner_text()
    )
    assert admin.page.locator("#badge-admin-surveys").inner_text().startswith("1")
    admin.goto("/admin/surveys")
    contacts = admin.page.locator("#contacts").inner_text()
    assert "I would like to talk about my mentee's workload." in contacts
    admin.page.set_viewport_size(DESKTOP)
    admin.screenshot("survey-admin-list-desktop")

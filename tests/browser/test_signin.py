"""Sign-in, sign-out and keyboard use of the sign-in form, in a real browser."""

from __future__ import annotations

from typing import Any

from tests.support.browser import PHONE, Server


def test_wrong_password_shows_the_error_and_right_one_lands_on_the_admin_home(
    server: Server, open_session: Any
) -> None:
    s = open_session()
    s.goto("/signin")
    s.screenshot("signin-desktop")
    s.page.fill("#name", "admin")
    s.page.fill("#password", "not-the-password")
    with s.page.expect_navigation() as nav:
        s.page.click("form[action='/signin'] button[type=submit]")
    assert nav.value is not None and nav.value.status == 401
    alert = s.page.get_by_role("alert")
    assert "wrong user name or password" in alert.inner_text()
    assert s.page.input_value("#name") == "admin"  # the typed name is kept
    s.screenshot("signin-error-desktop")
    assert not [c for c in s.context.cookies() if c["name"] == "companion_session"]

    s.page.fill("#password", server.admin_password)
    with s.page.expect_navigation():
        s.page.click("form[action='/signin'] button[type=submit]")
    assert s.path() == "/admin/knowledge"
    session_cookie = next(c for c in s.context.cookies() if c["name"] == "companion_session")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"
    assert s.page.locator("header .who").inner_text().startswith("admin")


def test_sign_out_ends_the_session(server: Server, open_session: Any) -> None:
    s = open_session()
    s.sign_in("admin", server.admin_password)
    s.goto("/admin/users")
    s.sign_out()
    assert s.path() == "/signin"
    response = s.goto("/admin/users")
    # no session any more: back to the sign-in page, which will return to the page asked for
    assert s.path() == "/signin" and response.status == 200
    assert s.page.input_value("input[name=next]") == "/admin/users"


def test_sign_in_form_works_with_the_keyboard_only(server: Server, open_session: Any) -> None:
    s = open_session()
    s.goto("/signin")
    keyboard = s.page.keyboard
    # the user name field has focus on load (autofocus); Tab moves on to the password, Enter submits
    assert s.page.evaluate("document.activeElement.id") == "name"
    keyboard.type("admin")
    keyboard.press("Tab")
    assert s.page.evaluate("document.activeElement.id") == "password"
    keyboard.type(server.admin_password)
    with s.page.expect_navigation():
        keyboard.press("Enter")
    assert s.path() == "/admin/knowledge"


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_the_content(
    server: Server, open_session: Any
) -> None:
    s = open_session()
    s.sign_in("admin", server.admin_password)
    s.goto("/admin/users")
    s.page.keyboard.press("Tab")
    assert s.page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    s.page.keyboard.press("Enter")
    assert s.page.evaluate("document.activeElement.id") == "main"


def test_sign_in_page_fits_a_phone_and_every_field_is_labelled(server: Server, open_session: Any) -> None:
    s = open_session(PHONE)
    s.goto("/signin")
    s.screenshot("signin-phone")
    assert s.unlabelled_fields() == []
    assert s.overflow()["excess"] <= 0, s.overflow()

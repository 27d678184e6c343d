"""Every role's main pages: another role gets 403, every form field has a label, nothing overflows a
phone screen, and a screenshot of each page at desktop and at phone width.

These run after the main paths (see conftest's ordering), so the pages show the data those paths made.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import DESKTOP, PHONE, Accounts, Server

MAIN_PAGES = {
    "admin": ["/admin/knowledge", "/admin/people", "/admin/matching", "/admin/users", "/admin/evals", "/ask"],
    "mentee": ["/mentee", "/mentee/prepare", "/mentee/mentors", "/ask"],
    "mentor": ["/mentor", "/mentor/feedback", "/ask"],
}
FORBIDDEN = [
    ("mentee", "/admin/users"),
    ("mentee", "/admin/knowledge"),
    ("mentee", "/mentor"),
    ("mentee", "/mentor/feedback"),
    ("mentor", "/mentee"),
    ("mentor", "/mentee/mentors"),
    ("mentor", "/admin/matching"),
    ("admin", "/mentee"),
    ("admin", "/mentor/feedback"),
]


def _user(server: Server, accounts: Accounts, role: str) -> tuple[str, str]:
    if role == "admin":
        return ("admin", server.admin_password)
    return (accounts.names[role], accounts.passwords[role])


def _shot_name(role: str, path: str, width: str) -> str:
    slug = path.strip("/").replace("/", "-") or "home"
    return f"page-{role}-{slug}-{width}"


@pytest.mark.parametrize(("role", "path"), FORBIDDEN, ids=[f"{r}{p}" for r, p in FORBIDDEN])
def test_another_roles_page_is_403(
    server: Server, accounts: Accounts, open_session: Any, role: str, path: str
) -> None:
    s = open_session(as_user=_user(server, accounts, role))
    response = s.goto(path)
    assert response.status == 403
    assert s.path() == path  # refused in place, not bounced elsewhere
    assert s.page.locator("h1").inner_text() == "Not allowed"
    assert f"signed in as {role}" in s.page.get_by_role("alert").inner_text()


@pytest.mark.parametrize(
    ("role", "path"),
    [(role, path) for role, paths in MAIN_PAGES.items() for path in paths],
    ids=[f"{role}{path}" for role, paths in MAIN_PAGES.items() for path in paths],
)
def test_main_page_is_labelled_fits_a_phone_and_is_captured(
    server: Server, accounts: Accounts, open_session: Any, role: str, path: str
) -> None:
    desktop = open_session(DESKTOP, as_user=_user(server, accounts, role))
    response = desktop.goto(path)
    assert response.status == 200
    assert desktop.unlabelled_fields() == []
    # one h1, and headings never skip a level going down
    levels = desktop.page.evaluate(
        "() => Array.from(document.querySelectorAll('main h1, main h2, main h3, main h4'))"
        ".map(h => +h.tagName[1])"
    )
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    # the current page is marked in the navigation (for screen readers as well as by look)
    if path in [href for paths in MAIN_PAGES.values() for href in paths]:
        assert desktop.page.locator(f'header nav a[href="{path}"][aria-current="page"]').count() == 1
    desktop.screenshot(_shot_name(role, path, "desktop"))

    phone = open_session(PHONE, as_user=_user(server, accounts, role))
    assert phone.goto(path).status == 200
    overflow = phone.overflow()
    assert overflow["excess"] <= 0, f"{path} is wider than a 375 px phone: {overflow}"
    phone.screenshot(_shot_name(role, path, "phone"))

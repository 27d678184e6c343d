"""Every role's main pages: another role gets 403, every form field has a label, nothing overflows a
phone screen, and a screenshot of each page at desktop and at phone width.

These run after the main paths (see conftest's ordering), so the pages show the data those paths made.
Before the tour a program cycle is set up on the command line for the pair the main paths published (the
mentee and the mentor), with an open survey, and the mentee marks their saved goal achieved, so the home
pages show their rhythm, survey and achievement sections and the admin's program pages have a cycle.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.browser import DESKTOP, PHONE, Accounts, Server, Session
from tests.support.server import TEST_OVERRIDES, module_command

if TYPE_CHECKING:
    from playwright.sync_api import Browser

MAIN_PAGES = {
    "admin": [
        "/admin/knowledge",
        "/admin/people",
        "/admin/matching",
        "/admin/users",
        "/admin/evals",
        "/admin/program",
        "/admin/dashboard",
        "/admin/recognition",
        "/admin/surveys",
        "/ask",
    ],
    "mentee": ["/mentee", "/mentee/prepare", "/mentee/mentors", "/ask"],
    "mentor": ["/mentor", "/mentor/feedback", "/ask"],
}
NOT_IN_NAV = {"/admin/recognition"}  # reached from the dashboard, not the navigation
# the home pages' program sections the tour set-up makes appear
HOME_SECTIONS = {"mentee": ["#my-rhythm", "#surveys-for-you", "#achieved"], "mentor": ["#my-rhythm"]}
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


def _cli(server: Server, *args: str) -> str:
    """A `companion` command on the server's data dir (same configuration as the server)."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_OVERRIDES} | {
        "COMPANION_DATA_DIR": str(server.data_dir),
        "ANONYMIZED_TELEMETRY": "False",
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run(
        [*module_command(), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"companion {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def program_tour(
    server: Server, accounts: Accounts, browser: Browser, signed_in_states: dict[str, Any]
) -> Iterator[int]:
    """A cycle that began five weeks ago with the published pair in it, an open mid-cycle survey for both
    of them, and the mentee's saved goal marked achieved in the browser. Yields the cycle's id."""

    _cli(server, "program", "create", "Tour mentoring")
    _cli(
        server,
        "cycle",
        "create",
        "--program",
        "Tour mentoring",
        "--starts",
        str(date.today() - timedelta(weeks=5)),
    )
    cycles = json.loads(_cli(server, "cycle", "list", "--program", "Tour mentoring", "--json"))
    cycle_id = int(cycles[0]["id"])
    _cli(
        server,
        "cycle",
        "add-pair",
        str(cycle_id),
        "--mentor",
        accounts.names["mentor"],
        "--mentee",
        accounts.names["mentee"],
    )
    _cli(server, "surveys", "create", "--kind", "mid", "--cycle", str(cycle_id), "--opens", str(date.today()))
    context = browser.new_context(
        viewport=DESKTOP, storage_state=signed_in_states.get(accounts.names["mentee"])
    )  # type: ignore[arg-type]
    mentee = Session(server, context)
    mentee.goto("/mentee")
    if mentee.path() == "/signin":
        mentee.sign_in(*_user(server, accounts, "mentee"))
        mentee.goto("/mentee")
    form = mentee.page.locator("form[id^=progress-]").first
    goal_id = (form.get_attribute("id") or "").removeprefix("progress-")
    mentee.page.locator(f"#progress-{goal_id}").evaluate("f => f.closest('details').open = true")
    mentee.page.fill(f"#progress-note-{goal_id}", "Done: the first report runs in under a minute.")
    mentee.page.select_option(f"#progress-status-{goal_id}", "achieved")
    mentee.submit(f"#progress-save-{goal_id}")
    assert mentee.page.locator(f"#achieved-{goal_id}").is_visible()
    context.close()
    yield cycle_id


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
    server: Server, accounts: Accounts, open_session: Any, program_tour: int, role: str, path: str
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
    if path not in NOT_IN_NAV:
        assert desktop.page.locator(f'header nav a[href="{path}"][aria-current="page"]').count() == 1
    desktop.screenshot(_shot_name(role, path, "desktop"))

    phone = open_session(PHONE, as_user=_user(server, accounts, role))
    assert phone.goto(path).status == 200
    overflow = phone.overflow()
    assert overflow["excess"] <= 0, f"{path} is wider than a 375 px phone: {overflow}"
    phone.screenshot(_shot_name(role, path, "phone"))


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_home_page_shows_the_pairs_rhythm_survey_and_achievement(
    server: Server, accounts: Accounts, open_session: Any, program_tour: int, role: str
) -> None:
    phone = open_session(PHONE, as_user=_user(server, accounts, role))
    assert phone.goto(f"/{role}").status == 200
    for section in HOME_SECTIONS[role]:
        assert phone.page.locator(section).is_visible(), section
    rhythm = phone.page.locator("#my-rhythm").inner_text()
    assert "Tour mentoring" in rhythm and "week 6" in rhythm and "Sessions this cycle" in rhythm, rhythm
    if role == "mentee":
        assert "Mid-cycle" in phone.page.locator("#surveys-for-you").inner_text()
    assert phone.overflow()["excess"] <= 0
    phone.screenshot(f"page-{role}-program-sections-phone")


def test_admin_program_pages_show_the_tour_cycle(
    server: Server, accounts: Accounts, open_session: Any, program_tour: int
) -> None:
    admin = open_session(DESKTOP, as_user=_user(server, accounts, "admin"))
    assert admin.goto(f"/admin/program?cycle_id={program_tour}").status == 200
    assert accounts.names["mentee"] in admin.page.locator("main").inner_text().lower()
    assert admin.goto(f"/admin/dashboard?cycle_id={program_tour}").status == 200
    assert admin.page.locator("#tile-pairs").inner_text().strip() == "1"
    assert admin.goto("/admin/surveys").status == 200
    assert "Mid-cycle" in admin.page.locator("main").inner_text()

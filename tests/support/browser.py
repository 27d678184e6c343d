"""Shared pieces of the browser tests (`tests/browser`): where Chromium and the artifacts are, the
viewports, the accounts the admin creates, the running server and a signed-in browser session. The
fixtures that build them are in `tests/browser/conftest.py`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.app import REPO

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Response

CHROMIUM = Path(os.environ.get("COMPANION_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("COMPANION_TEST_ARTIFACTS", REPO / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
# the guides `serve` ingests on first start: a few, to keep start-up short; the admin uploads one more
SEED_GUIDES = ["program-overview.md", "running-a-session.md", "smart-goals.md", "giving-feedback.md"]
UPLOADED_GUIDE = "recognizing-mentors.md"
# a model reply is cut at this many tokens: enough for the JSON of each task, short enough for CI
MAX_TOKENS = int(os.environ.get("COMPANION_TEST_BROWSER_MAX_TOKENS", "256"))
START_TIMEOUT = 420.0
MODEL_TIMEOUT_MS = 240_000  # one page action that waits for the model (slow on a busy 2-core machine)
PASSWORDS = {"mentee": "maya-walks-2-lisbon", "mentor": "omar-reads-9-maps"}
NAMES = {"mentee": "maya", "mentor": "omar"}


def missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; .ci/run does this)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright for Python is missing (pip install -e '.[test]')"
    return None


@dataclass
class Server:
    base_url: str
    data_dir: Path
    admin_password: str
    log: Path
    timings: dict[str, float] = field(default_factory=dict)


class Session:
    """One signed-in (or anonymous) browser context, with the helpers the tests share."""

    def __init__(self, server: Server, context: BrowserContext) -> None:
        self.server = server
        self.context = context
        self.page: Page = context.new_page()
        self.page.set_default_timeout(30_000)
        # pages ask before deleting or publishing (data-confirm): say yes, as the user would
        self.page.on("dialog", lambda dialog: dialog.accept())

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def goto(self, path: str) -> Response:
        response = self.page.goto(self.url(path))
        assert response is not None, f"no response for {path}"
        return response

    def submit(self, selector: str, timeout: float = 30_000) -> Response | None:
        """Click a submit button and wait for the page the form leads to (slow for model calls)."""
        with self.page.expect_navigation(timeout=timeout) as navigation:
            self.page.click(selector, timeout=timeout)
        return navigation.value

    def sign_in(self, name: str, password: str) -> None:
        self.goto("/signin")
        self.page.fill("#name", name)
        self.page.fill("#password", password)
        self.submit("form[action='/signin'] button[type=submit]")

    def sign_out(self) -> None:
        self.submit("form.signout button[type=submit]")

    def path(self) -> str:
        return self.page.url.removeprefix(self.server.base_url).split("?")[0]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target

    def unlabelled_fields(self) -> list[str]:
        """Visible-or-not form fields (not hidden inputs) without an accessible name."""
        result: list[str] = self.page.evaluate(
            """() => Array.from(document.querySelectorAll('input, select, textarea'))
                 .filter(el => el.type !== 'hidden')
                 .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                               && !el.getAttribute('aria-labelledby'))
                 .map(el => el.outerHTML.slice(0, 120))"""
        )
        return result

    def overflow(self) -> dict[str, Any]:
        """How much wider than the window the page is (0 when it fits), and the widest culprits."""
        result: dict[str, Any] = self.page.evaluate(
            """() => {
                 const width = window.innerWidth;
                 const wide = Array.from(document.querySelectorAll('body *'))
                   .filter(el => el.getBoundingClientRect().right > width + 1 && !el.closest('.scroll'))
                   .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                                          + (el.className ? '.' + String(el.className) : ''));
                 return {excess: document.documentElement.scrollWidth - width, wide: wide};
               }"""
        )
        return result


@dataclass
class Accounts:
    """The mentee and mentor accounts the admin created in the browser (names and passwords)."""

    names: dict[str, str]
    passwords: dict[str, str]

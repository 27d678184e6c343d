"""Browser tests: real headless Chromium (driven by Playwright) against a real `companion serve`.

One server runs for the whole session on a loopback port, on a temp data dir, with the real embedding
model and the embedded local LLM. Everything else is set up through the pages, as an admin would: the
accounts at /admin/users, a small demo organization and an import at /admin/people, a match at
/admin/matching.

Screenshots go to `test-artifacts/screenshots/` (or `$COMPANION_TEST_ARTIFACTS/screenshots/`), and the
server's log and the slow steps' timings to `.../browser/`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.app import KNOWLEDGE, REPO, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

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


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; .ci/run does this)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright for Python is missing (pip install -e '.[test]')"
    return None


# the modules run in this order: the main paths build the data the page tour then shows
MODULE_ORDER = ["test_signin.py", "test_paths.py", "test_pages.py"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = _missing()
    ours = [i for i, item in enumerate(items) if here in Path(str(item.fspath)).parents]
    for index in ours:
        items[index].add_marker(pytest.mark.browser)
        if reason:
            items[index].add_marker(pytest.mark.skip(reason=reason))

    def rank(item: pytest.Item) -> int:
        name = Path(str(item.fspath)).name
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    reordered = sorted((items[i] for i in ours), key=rank)  # stable: keeps each module's own order
    for index, item in zip(ours, reordered, strict=True):
        items[index] = item


@dataclass
class Server:
    base_url: str
    data_dir: Path
    admin_password: str
    log: Path
    timings: dict[str, float] = field(default_factory=dict)


def _companion() -> Path:
    script = Path(sys.executable).parent / "companion"
    return script if script.exists() else Path(shutil.which("companion") or "companion")


def _wait_for_password(process: subprocess.Popen[bytes], log: Path, deadline: float) -> str:
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if match := re.search(r"web sign-in password: (\S+)", text):
            return match.group(1)
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode} before it was ready:\n{text}")
        time.sleep(0.5)
    raise AssertionError("serve printed no admin password in time")


def _wait_ready(process: subprocess.Popen[bytes], base: str, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"serve exited with {process.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"/readyz never answered 200:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if reason := _missing():
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("browser")
    guides = root / "guides"
    guides.mkdir()
    for name in SEED_GUIDES:
        shutil.copy(KNOWLEDGE / name, guides / name)
    data = root / "data"
    port = free_port()
    env = {
        **os.environ,
        "COMPANION_DATA_DIR": str(data),
        "COMPANION_SAMPLE_KNOWLEDGE_DIR": str(guides),
        "COMPANION_LLM__MAX_TOKENS": str(MAX_TOKENS),
        "ANONYMIZED_TELEMETRY": "False",
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    # the real model, store and LLM: drop any test overrides inherited from the caller's environment
    for name in (
        "COMPANION_EMBEDDINGS__MODE",
        "COMPANION_STORE__MODE",
        "COMPANION_LLM__MODE",
        "COMPANION_DATABASE_URL",
    ):
        env.pop(name, None)
    log_dir = ARTIFACTS / "browser"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "serve.log"
    started = time.monotonic()
    partial = Server(f"http://127.0.0.1:{port}", data, "", log)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(_companion()), "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=str(root),
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        password = _wait_for_password(process, log, deadline)
        _wait_ready(process, partial.base_url, log, deadline)
        partial.admin_password = password
        partial.timings["server ready (s)"] = time.monotonic() - started
        yield partial
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        # how long the slow steps took (model calls above all), for the record
        (log_dir / "timings.json").write_text(json.dumps(partial.timings, indent=2))
        timings = ", ".join(f"{k} {v:.1f}" for k, v in partial.timings.items())
        print(f"\nbrowser tests: {timings}")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if reason := _missing():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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


@pytest.fixture(scope="package")
def signed_in_states() -> dict[str, Any]:
    """Cookies of one sign-in per user, so tests that only look at pages need not sign in again."""
    return {}


@pytest.fixture
def open_session(server: Server, browser: Browser, signed_in_states: dict[str, Any]) -> Iterator[Any]:
    """A factory of fresh browser contexts (own cookies), closed after the test.

    `open_session(viewport, as_user=(name, password))` reuses that user's earlier sign-in when there is one.
    """
    contexts: list[BrowserContext] = []

    def make(viewport: dict[str, int] | None = None, as_user: tuple[str, str] | None = None) -> Session:
        state = signed_in_states.get(as_user[0]) if as_user else None
        context = browser.new_context(viewport=viewport or DESKTOP, storage_state=state)  # type: ignore[arg-type]
        contexts.append(context)
        session = Session(server, context)
        if as_user and state is None:
            session.sign_in(*as_user)
            assert session.path() != "/signin", f"{as_user[0]} could not sign in"
            signed_in_states[as_user[0]] = context.storage_state()
        return session

    yield make
    for context in contexts:
        context.close()


@dataclass
class Accounts:
    """The mentee and mentor accounts the admin created in the browser (names and passwords)."""

    names: dict[str, str]
    passwords: dict[str, str]


@pytest.fixture(scope="package")
def accounts(server: Server, browser: Browser) -> Iterator[Accounts]:
    """The admin creates a mentee and a mentor account at /admin/users, in the browser."""
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    session = Session(server, context)
    session.sign_in("admin", server.admin_password)
    for role in ("mentee", "mentor"):
        session.goto("/admin/users")
        session.page.fill("#u-name", NAMES[role])
        session.page.select_option("#u-role", role)
        session.page.fill("#u-password", PASSWORDS[role])
        session.submit("form[action='/admin/users'] button[type=submit]")
        notice = session.page.locator("p.notice").inner_text()
        assert f"Created {role} {NAMES[role]}" in notice, notice
    context.close()
    yield Accounts(names=dict(NAMES), passwords=dict(PASSWORDS))

"""Browser tests: real headless Chromium (driven by Playwright) against a real `companion serve`.

One server runs for the whole session on a loopback port, on a temp data dir, with the real embedding
model and the embedded local LLM. Everything else is set up through the pages, as an admin would: the
accounts at /admin/users, a small demo organization and an import at /admin/people, a match at
/admin/matching.

Screenshots go to `test-artifacts/screenshots/` (or `$COMPANION_TEST_ARTIFACTS/screenshots/`), and the
server's log and the slow steps' timings to `.../browser/`. The pieces the test modules share (viewports,
`Server`, `Session`, `Accounts`) are in `tests/support/browser.py`; the server is started by the one
launcher, `tests/support/server.py`. Under pytest-xdist every browser test runs on one worker (the
`browser` xdist group), so there is one server and the modules keep their order.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.app import KNOWLEDGE
from tests.support.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    MAX_TOKENS,
    NAMES,
    PASSWORDS,
    SEED_GUIDES,
    START_TIMEOUT,
    Accounts,
    Server,
    Session,
    missing,
)
from tests.support.server import TEST_OVERRIDES, Serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext


# the modules run in this order: the main paths build the data the page tour then shows
MODULE_ORDER = ["test_signin.py", "test_paths.py", "test_pages.py"]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = missing()
    ours = [i for i, item in enumerate(items) if here in Path(str(item.fspath)).parents]
    for index in ours:
        items[index].add_marker(pytest.mark.browser)
        items[index].add_marker(pytest.mark.xdist_group("browser"))
        if reason:
            items[index].add_marker(pytest.mark.skip(reason=reason))

    def rank(item: pytest.Item) -> int:
        name = Path(str(item.fspath)).name
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    reordered = sorted((items[i] for i in ours), key=rank)  # stable: keeps each module's own order
    for index, item in zip(ours, reordered, strict=True):
        items[index] = item


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if reason := missing():
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("browser")
    guides = root / "guides"
    guides.mkdir()
    for name in SEED_GUIDES:
        shutil.copy(KNOWLEDGE / name, guides / name)
    data = root / "data"
    env = {
        "COMPANION_DATA_DIR": str(data),
        "COMPANION_SAMPLE_KNOWLEDGE_DIR": str(guides),
        "COMPANION_LLM__MAX_TOKENS": str(MAX_TOKENS),
        "ANONYMIZED_TELEMETRY": "False",
        "HF_HUB_OFFLINE": "1",
    }
    log_dir = ARTIFACTS / "browser"
    # the real model, store and LLM: test overrides inherited from the caller's environment are dropped
    serve = Serve(
        env=env, cwd=root, log=log_dir / "serve.log", drop=TEST_OVERRIDES, ready_timeout=START_TIMEOUT
    )
    started = time.monotonic()
    partial = Server(serve.base_url, data, "", serve.log or log_dir / "serve.log")
    with serve:
        password = serve.admin_password
        assert password, f"serve printed no admin password on first start:\n{serve.output()[-3000:]}"
        partial.admin_password = password
        partial.timings["server ready (s)"] = time.monotonic() - started
        try:
            yield partial
        finally:
            # how long the slow steps took (model calls above all), for the record
            (log_dir / "timings.json").write_text(json.dumps(partial.timings, indent=2))
            timings = ", ".join(f"{k} {v:.1f}" for k, v in partial.timings.items())
            print(f"\nbrowser tests: {timings}")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if reason := missing():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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

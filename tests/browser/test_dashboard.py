"""An admin opens the success dashboard on the demo data in Chromium: sees the charts with their tables,
picks the past cycle (survey ratings shown) and the current one (at-risk pairs, too few answers), takes
screenshots at desktop and phone width, and downloads a CSV."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import ARTIFACTS, DESKTOP, PHONE
from tests.support.server import Serve, module_command

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def dash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`companion serve` on fake embeddings and the fake chat model (no page here needs a model), with the
    demo organization and its demo program loaded while it runs. Yields (base URL, admin password)."""
    root = tmp_path_factory.mktemp("dashboard")
    env = {
        "COMPANION_DATA_DIR": str(root / "data"),
        "COMPANION_SEED_SAMPLE_KNOWLEDGE": "false",
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_LLM__MODE": "fake",
        "ANONYMIZED_TELEMETRY": "False",
    }
    drop = ["COMPANION_STORE__MODE", "COMPANION_DATABASE_URL"]
    with Serve(env=env, drop=drop, cwd=root, log=ARTIFACTS / "browser" / "dashboard-serve.log") as server:
        password = server.admin_password
        assert password, server.output()
        full = {k: v for k, v in os.environ.items() if k not in drop} | env
        demo = subprocess.run(
            [*module_command(), "people", "demo", "--seed", "7", "--size", "120"],
            env=full,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "demo program made" in " ".join(demo.stdout.split())
        yield server.base_url, password


def _sign_in(page: Page, base: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_admin_sees_the_dashboard_on_demo_data_and_downloads_a_csv(
    dash_server: tuple[str, str], browser: Browser, tmp_path: Path
) -> None:
    base, password = dash_server
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        _sign_in(page, base, password)
        page.get_by_role("link", name="Dashboard").click()
        page.wait_for_url(f"{base}/admin/dashboard")
        assert page.locator("h1").inner_text() == "Program dashboard"
        # the current cycle: pairs, charts beside their tables, at-risk pairs, a survey with too few answers
        assert int(page.locator("#tile-pairs").inner_text()) == 24
        assert page.locator("svg.chart").count() >= 5
        for table in ("#table-sessions", "#table-rhythm", "#table-goals", "#table-hours", "#table-trend"):
            assert page.locator(table).is_visible(), table
        assert page.locator("#table-risk tbody tr").count() >= 1
        assert "Fewer than 5 answers" in page.locator("#ratings").inner_text()
        current = tmp_path / "dashboard-current-desktop.png"
        page.screenshot(path=str(current), full_page=True)

        # the past cycle: its survey reached the threshold, so the distributions are drawn
        options = page.locator("#cycle-id option")
        past_value = options.nth(options.count() - 1).get_attribute("value")
        page.select_option("#cycle-id", past_value)
        with page.expect_navigation():
            page.click("#cycle-picker button")
        assert f"cycle_id={past_value}" in page.url
        ratings = page.locator("#ratings article.rating")
        assert ratings.count() == 3
        assert ratings.first.locator("svg.chart").count() == 1 and "mean" in ratings.first.inner_text()
        page.screenshot(path=str(tmp_path / "dashboard-past-desktop.png"), full_page=True)

        with page.expect_download() as info:
            page.click("#csv-ratings")
        saved = tmp_path / "ratings.csv"
        info.value.save_as(str(saved))
        rows = list(csv.reader(io.StringIO(saved.read_text())))
        assert rows[0][:4] == ["survey", "question", "answers", "mean"]
        assert len(rows) == 4 and all(int(r[2]) >= 5 for r in rows[1:])

        page.set_viewport_size(PHONE)
        page.reload()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the dashboard is {width}px wide on a phone"
        page.screenshot(path=str(tmp_path / "dashboard-past-phone.png"), full_page=True)
        assert current.stat().st_size > 10_000
    finally:
        context.close()

"""A new employee signs in through the organization's identity provider (a real OpenID Connect provider
on loopback: `oidc-provider-mock`), fills in a matching profile and sees recommended mentors, in Chromium."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.app import KNOWLEDGE
from tests.support.browser import ARTIFACTS, SCREENSHOTS
from tests.support.server import Serve, module_command

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as provider:
        yield f"http://localhost:{provider.server_port}"


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory, idp: str) -> Iterator[str]:
    """`companion serve` with single sign-on on, the real embedding model, the demo organization's people,
    and the fake chat model (no page here calls the model). Yields its base URL."""
    root = tmp_path_factory.mktemp("sso")
    env = {
        "COMPANION_DATA_DIR": str(root / "data"),
        "COMPANION_SAMPLE_KNOWLEDGE_DIR": str(KNOWLEDGE),
        "COMPANION_SEED_SAMPLE_KNOWLEDGE": "false",
        "COMPANION_LLM__MODE": "fake",
        "COMPANION_SSO__ISSUER_URL": idp,
        "COMPANION_SSO__CLIENT_ID": "companion",
        "COMPANION_SSO__CLIENT_SECRET": "browser-test-secret",
        "COMPANION_SSO__ROLE_MAP": '{"mentoring-admins": "admin"}',
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    drop = ["COMPANION_EMBEDDINGS__MODE", "COMPANION_STORE__MODE", "COMPANION_DATABASE_URL"]
    full = {k: v for k, v in os.environ.items() if k not in drop} | env
    demo = subprocess.run(
        [*module_command(), "people", "demo", "--seed", "5", "--size", "60"],
        env=full,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    with Serve(env=env, drop=drop, cwd=root, log=ARTIFACTS / "browser" / "sso-serve.log") as server:
        yield server.base_url


def test_a_new_employee_signs_in_with_sso_fills_a_profile_and_sees_mentors(
    sso_server: str, idp: str, browser: Browser
) -> None:
    sub = f"new-hire-{secrets.token_hex(3)}"
    claims: dict[str, Any] = {"preferred_username": "lena.novak", "email": "lena@larkfield.example"}
    assert httpx.put(f"{idp}/users/{sub}", json=claims, timeout=5).status_code == 204
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{sso_server}/signin")
        with page.expect_navigation():
            page.click("#sso-signin")
        assert page.url.startswith(idp), page.url  # at the identity provider
        page.fill("input[name=sub]", sub)
        with page.expect_navigation(url=f"{sso_server}/mentee"):
            page.get_by_role("button", name="Authorize").click()
        assert "lena.novak" in page.locator("header .who").inner_text()

        page.goto(f"{sso_server}/mentee/mentors")
        with page.expect_navigation():
            page.click("#fill-profile")
        page.fill("#profile-text", "I want to get better at debugging firmware timing problems with an RTOS.")
        page.fill("#profile-skills", "rtos; hardware debugging")
        page.fill("#profile-languages", "english")
        page.fill("#profile-timezone", "Europe/London")
        _shot(page, "sso-profile-desktop")
        with page.expect_navigation():
            page.click("#profile-save")
        assert page.url.endswith("/mentee/mentors?done=profile")
        recommendations = page.locator("#recommendations li.card")
        assert recommendations.count() >= 1
        assert "Profile saved" in page.get_by_role("status").inner_text()
        _shot(page, "sso-mentors-desktop")
    finally:
        context.close()


def _shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target

"""Single sign-on against a real OpenID Connect provider on loopback (the `oidc-provider-mock` package):
first sign-in creates the account, claims map to roles, and every failure is a clear page, never a 500."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from oidc_provider_mock import run_server_in_thread
from sqlalchemy import select, update

from companion.container import Services
from companion.errors import Unauthorized
from companion.storage.db import SsoState, User
from tests.support.app import Api, free_port, make_api, make_settings

ROLE_MAP = {"mentoring-admins": "admin", "mentors": "mentor"}


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def person(idp: str, sub: str, **claims: Any) -> str:
    """Put a person into the identity provider with these claims; returns their subject."""
    assert httpx.put(f"{idp}/users/{sub}", json=claims, timeout=5).status_code == 204
    return sub


def sso_api(tmp_path: Any, idp: str, **sso: Any) -> Iterator[Api]:
    settings = make_settings(
        tmp_path,
        sso={
            "issuer_url": idp,
            "client_id": "companion",
            "client_secret": "s3cret",
            "role_map": ROLE_MAP,
            **sso,
        },
    )
    services = Services(settings)
    services.db.create_tables()
    yield from make_api(services)


@pytest.fixture
def api(tmp_path: Any, idp: str) -> Iterator[Api]:
    yield from sso_api(tmp_path, idp)


def browser(api: Api) -> TestClient:
    return TestClient(api.client.app, follow_redirects=False)


def sign_in(client: TestClient, sub: str, *, next_path: str = "") -> httpx.Response:
    """The whole redirect dance a browser does: us -> provider (pick the person) -> our callback."""
    start = client.get("/signin/sso" + (f"?next={next_path}" if next_path else ""))
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == ["companion"] and query["code_challenge_method"] == ["S256"]
    assert "nonce" in query and "state" in query
    chosen = httpx.post(authorize, data={"sub": sub}, follow_redirects=False, timeout=5)
    assert chosen.status_code in (302, 303), chosen.text
    back = urlsplit(chosen.headers["location"])
    assert back.path == "/signin/sso/callback"
    return client.get(f"{back.path}?{back.query}")


def users(api: Api) -> dict[str, tuple[str, str | None]]:
    with api.services.db.session() as session:
        return {u.name: (u.role, u.sso_subject) for u in session.scalars(select(User))}


def test_a_new_employee_signs_in_and_gets_an_account_with_the_default_role(api: Api, idp: str) -> None:
    sub = person(idp, f"emp-{secrets.token_hex(4)}", preferred_username="Nia.Okafor", email="nia@org.example")
    client = browser(api)
    page = client.get("/signin")
    assert 'id="sso-signin"' in page.text and 'action="/signin"' in page.text  # both ways in

    done = sign_in(client, sub)
    assert done.status_code == 303 and done.headers["location"] == "/mentee"
    assert "companion_session" in done.headers["set-cookie"] and "HttpOnly" in done.headers["set-cookie"]
    assert users(api)["nia.okafor"] == ("mentee", sub)
    home = client.get("/mentee")
    assert home.status_code == 200 and "nia.okafor" in home.text

    again = sign_in(browser(api), sub)  # the same person again: the same account, not a second one
    assert again.status_code == 303 and len([n for n in users(api) if n.startswith("nia")]) == 1


def test_groups_map_to_roles_and_the_provider_stays_the_source_of_truth(api: Api, idp: str) -> None:
    sub = person(idp, f"adm-{secrets.token_hex(4)}", preferred_username="grace", groups=["mentoring-admins"])
    done = sign_in(browser(api), sub, next_path="/admin/people")
    assert done.headers["location"] == "/admin/people" and users(api)["grace"][0] == "admin"
    person(idp, sub, preferred_username="grace", groups=["staff", "mentors"])
    sign_in(browser(api), sub)
    assert users(api)["grace"][0] == "mentor"


def test_a_person_without_a_mapped_role_is_refused_when_there_is_no_default(tmp_path: Any, idp: str) -> None:
    for api in sso_api(tmp_path, idp, default_role=None):
        sub = person(idp, f"nob-{secrets.token_hex(4)}", preferred_username="nobody", groups=["staff"])
        refused = sign_in(browser(api), sub)
        assert refused.status_code == 403 and "has no Companion role" in refused.text
        assert "nobody" not in users(api)


def test_an_expired_or_reused_sign_in_state_is_refused(api: Api, idp: str) -> None:
    sub = person(idp, f"slow-{secrets.token_hex(4)}", preferred_username="slow.sam")
    client = browser(api)
    start = client.get("/signin/sso")
    with api.services.db.session() as session:  # the person took 20 minutes at the provider
        session.execute(update(SsoState).values(created_at=datetime.now(UTC) - timedelta(minutes=20)))
    chosen = httpx.post(start.headers["location"], data={"sub": sub}, follow_redirects=False, timeout=5)
    back = urlsplit(chosen.headers["location"])
    expired = client.get(f"{back.path}?{back.query}")
    assert expired.status_code == 401 and "expired" in expired.text and "slow.sam" not in users(api)
    reused = client.get(f"{back.path}?{back.query}")
    assert reused.status_code == 401 and "already used" in reused.text

    forged = client.get("/signin/sso/callback?code=abc&state=not-ours")
    assert forged.status_code == 401 and "unknown" in forged.text
    denied = client.get("/signin/sso/callback?error=access_denied")
    assert denied.status_code == 401 and "access_denied" in denied.text


def test_an_id_token_for_another_audience_is_refused(api: Api, idp: str) -> None:
    sub = person(idp, f"aud-{secrets.token_hex(4)}", preferred_username="other.app.user")
    nonce = secrets.token_urlsafe(16)
    redirect = "http://other.example/cb"
    authorize = httpx.post(
        f"{idp}/oauth2/authorize",
        params={
            "client_id": "another-app",
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "openid",
            "nonce": nonce,
            "state": "x",
        },
        data={"sub": sub},
        follow_redirects=False,
        timeout=5,
    )
    code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{idp}/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
        auth=("another-app", "whatever"),
        timeout=5,
    ).json()
    with pytest.raises(Unauthorized, match="aud"):
        api.services.sso.validate_id_token(token["id_token"], nonce=nonce)
    with pytest.raises(Unauthorized, match="refused"):
        api.services.sso.validate_id_token(token["id_token"][:-8] + "AAAAAAAA", nonce=nonce)


def test_a_local_account_is_never_taken_over_by_name(api: Api, idp: str) -> None:
    with api.services.db.session() as session:
        session.add(User(name="ana", role="admin"))
    sub = person(idp, f"ana-{secrets.token_hex(4)}", preferred_username="ana")
    refused = sign_in(browser(api), sub)
    assert refused.status_code == 403 and "already exists" in refused.text
    assert users(api)["ana"] == ("admin", None)


def test_sso_only_turns_password_sign_in_off(tmp_path: Any, idp: str) -> None:
    for api in sso_api(tmp_path, idp, sso_only=True):
        api.services.accounts.set_password("mentee1", "correct-horse-battery")
        client = browser(api)
        page = client.get("/signin")
        assert 'id="sso-signin"' in page.text and 'action="/signin"' not in page.text
        refused = client.post("/signin", data={"name": "mentee1", "password": "correct-horse-battery"})
        assert refused.status_code == 403 and "password sign-in is off" in refused.text
        # API tokens keep working
        assert api.client.get("/v1/people/skills", headers=api.auth("mentee")).status_code == 200


def test_an_unreachable_provider_is_a_clear_page_and_no_sso_is_a_404(tmp_path: Any) -> None:
    for api in sso_api(tmp_path, f"http://127.0.0.1:{free_port()}"):
        down = browser(api).get("/signin/sso")
        assert down.status_code == 401 and "could not be reached" in down.text
    plain = make_settings(tmp_path / "plain")
    services = Services(plain)
    services.db.create_tables()
    for api in make_api(services):
        client = browser(api)
        assert 'id="sso-signin"' not in client.get("/signin").text
        assert client.get("/signin/sso").status_code == 404
        assert client.get("/signin/sso/callback?code=a&state=b").status_code == 404

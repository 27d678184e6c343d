"""Web sign-in: password hashing, session cookies, CSRF, role pages, admin account management."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from companion.container import Services
from companion.storage.db import User, WebSession
from companion.web.common import SESSION_COOKIE
from tests.support.app import WEB_PASSWORD, Api, csrf_of, make_api, make_settings, web_client


def anonymous(api: Api) -> TestClient:
    return TestClient(api.client.app, follow_redirects=False)


def test_signin_page_is_an_accessible_form(api: Api) -> None:
    page = anonymous(api).get("/signin")
    assert page.status_code == 200
    assert '<label for="name">' in page.text and '<label for="password">' in page.text
    assert 'autocomplete="current-password"' in page.text


def test_password_is_stored_as_argon2_hash_not_plain(api: Api) -> None:
    api.services.accounts.set_password("mentee1", WEB_PASSWORD)
    with api.services.db.session() as session:
        stored = session.scalar(select(User.password_hash).where(User.name == "mentee1"))
    assert stored is not None and stored.startswith("$argon2id$") and WEB_PASSWORD not in stored


def test_signin_sets_httponly_session_cookie_and_lands_on_role_home(api: Api) -> None:
    api.services.accounts.set_password("mentor1", WEB_PASSWORD)
    client = anonymous(api)
    response = client.post("/signin", data={"name": "mentor1", "password": WEB_PASSWORD})
    assert response.status_code == 303 and response.headers["location"] == "/mentor"
    cookie = response.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    with api.services.db.session() as session:
        stored = session.scalars(select(WebSession.id_hash)).all()
    raw = client.cookies[SESSION_COOKIE]
    assert len(stored) == 1 and raw not in stored  # only the digest is kept


def test_wrong_password_unknown_user_and_no_password_all_refused_alike(api: Api) -> None:
    api.services.accounts.set_password("mentee1", WEB_PASSWORD)
    client = anonymous(api)
    for name, password in [("mentee1", "wrong-password!"), ("nobody", WEB_PASSWORD), ("mentor1", "x" * 12)]:
        response = client.post("/signin", data={"name": name, "password": password})
        assert response.status_code == 401
        assert "wrong user name or password" in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    empty = client.post("/signin", data={"name": "", "password": ""})
    assert empty.status_code == 422 and "enter your user name" in empty.text


def test_pages_without_session_redirect_to_signin_and_come_back(api: Api) -> None:
    client = anonymous(api)
    response = client.get("/admin/users")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fadmin%2Fusers"
    api.services.accounts.set_password("admin1", WEB_PASSWORD)
    back = client.post("/signin", data={"name": "admin1", "password": WEB_PASSWORD, "next": "/admin/users"})
    assert back.headers["location"] == "/admin/users"


def test_next_cannot_send_the_user_to_another_site(api: Api) -> None:
    api.services.accounts.set_password("mentee1", WEB_PASSWORD)
    for target in ["//evil.example/x", "https://evil.example/", "/\\evil.example"]:
        response = anonymous(api).post(
            "/signin", data={"name": "mentee1", "password": WEB_PASSWORD, "next": target}
        )
        assert response.headers["location"] == "/mentee"


def test_other_roles_pages_are_403_html(api: Api) -> None:
    mentee = web_client(api, "mentee")
    response = mentee.get("/admin/users")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "this page is for admins" in response.text
    assert mentee.get("/admin/evals").status_code == 403


def test_unknown_page_is_html_404_but_api_stays_json(api: Api) -> None:
    client = web_client(api, "mentee")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    json_404 = client.get("/v1/no-such-route")
    assert json_404.status_code == 404 and json_404.json()["error"]["code"] == "not_found"


def test_admin_creates_account_with_csrf_and_new_user_signs_in(api: Api) -> None:
    admin = web_client(api, "admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "mentee1" in page.text
    token = csrf_of(page.text)
    form = {"name": "ada", "role": "mentor", "password": "a-long-password-1"}
    created = admin.post("/admin/users", data={**form, "csrf_token": token})
    assert created.status_code == 201 and "Created mentor ada" in created.text and "cmp_" in created.text
    response = anonymous(api).post("/signin", data={"name": "ada", "password": "a-long-password-1"})
    assert response.status_code == 303 and response.headers["location"] == "/mentor"


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(api: Api) -> None:
    admin = web_client(api, "admin")
    form = {"name": "eve", "role": "admin", "password": "a-long-password-1"}
    for token in [None, "forged-token"]:
        data = dict(form, csrf_token=token) if token else form
        response = admin.post("/admin/users", data=data)
        assert response.status_code == 403 and "reload the page" in response.text
    assert "eve" not in [u.name for u in api.services.accounts.list()]


def test_bad_account_input_is_explained(api: Api) -> None:
    admin = web_client(api, "admin")
    token = csrf_of(admin.get("/admin/users").text)
    short = admin.post(
        "/admin/users", data={"name": "bob", "role": "mentee", "password": "short", "csrf_token": token}
    )
    assert short.status_code == 422 and "at least 10 characters" in short.text
    taken = admin.post(
        "/admin/users",
        data={"name": "mentee1", "role": "mentee", "password": "long-enough-1", "csrf_token": token},
    )
    assert taken.status_code == 409 and "already exists" in taken.text
    role = admin.post(
        "/admin/users", data={"name": "x1", "role": "boss", "password": "long-enough-1", "csrf_token": token}
    )
    assert role.status_code == 422 and "unknown role" in role.text


def test_password_reset_ends_the_users_sessions(api: Api) -> None:
    mentee = web_client(api, "mentee")
    assert mentee.get("/").status_code == 303 and mentee.get("/").headers["location"] == "/mentee"
    admin = web_client(api, "admin")
    token = csrf_of(admin.get("/admin/users").text)
    reset = admin.post(
        "/admin/users/mentee1/password", data={"password": "brand-new-pass-2", "csrf_token": token}
    )
    assert reset.status_code == 200 and "New password set for mentee1" in reset.text
    assert mentee.get("/").headers["location"].startswith("/signin")
    again = anonymous(api).post("/signin", data={"name": "mentee1", "password": "brand-new-pass-2"})
    assert again.status_code == 303


def test_signout_needs_csrf_and_ends_the_session(api: Api) -> None:
    client = web_client(api, "mentor")
    cookie = client.cookies[SESSION_COOKIE]
    assert client.post("/signout").status_code == 403
    # the layout carries the sign-out form with the session's token on any signed-in page
    page = client.get("/no-such-page")
    out = client.post("/signout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    replay = anonymous(api)
    replay.cookies.set(SESSION_COOKIE, cookie)
    assert replay.get("/").headers["location"].startswith("/signin")


def test_sessions_expire(tmp_path) -> None:  # type: ignore[no-untyped-def]
    services = Services(make_settings(tmp_path, web={"session_hours": 0.0003}))  # about one second
    for api in make_api(services):
        client = web_client(api, "mentee")
        assert client.get("/").headers["location"] == "/mentee"
        time.sleep(1.3)
        assert client.get("/").headers["location"].startswith("/signin")
    services.close()

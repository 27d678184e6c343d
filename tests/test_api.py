from __future__ import annotations

import pytest

from companion.container import Services
from companion.errors import Conflict, InvalidInput, Unauthorized
from companion.identity.auth import Role, authenticate, create_user, ensure_first_admin, hash_token
from companion.settings import Settings
from tests.support.app import Api
from tests.support.documents import make_pdf

GUIDE = b"# Giving feedback\n\n## Impact\n\nName the impact of the behaviour on the team, then a next step.\n"


def upload(api: Api, role: str, name: str, data: bytes, content_type: str = "text/markdown"):  # type: ignore[no-untyped-def]
    return api.client.post(
        "/v1/knowledge/documents", headers=api.auth(role), files={"file": (name, data, content_type)}
    )


def test_health_and_ready(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "vector_store": "ok", "embeddings": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/v1/search"), ("get", "/v1/knowledge/documents"), ("delete", "/v1/knowledge/documents/1")],
)
def test_v1_routes_need_a_token(api: Api, method: str, path: str) -> None:
    anonymous = getattr(api.client, method)(path)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = getattr(api.client, method)(path, headers={"Authorization": "Bearer cmp_wrong"})
    assert wrong.status_code == 401 and "invalid" in wrong.json()["error"]["message"]


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_only_admins_upload_and_delete(api: Api, role: str) -> None:
    denied = upload(api, role, "guide.md", GUIDE)
    assert denied.status_code == 403 and "admin" in denied.json()["error"]["message"]
    assert api.client.delete("/v1/knowledge/documents/1", headers=api.auth(role)).status_code == 403
    assert api.services.store.count() == 0


def test_admin_upload_list_search_delete(api: Api) -> None:
    created = upload(api, "admin", "feedback.md", GUIDE)
    assert created.status_code == 201, created.text
    assert created.json()["added"] == ["feedback.md"]
    pdf = upload(
        api, "admin", "policy.pdf", make_pdf([["Confidential notes stay private."]]), "application/pdf"
    )
    assert pdf.status_code == 201

    docs = api.client.get("/v1/knowledge/documents", headers=api.auth("mentee")).json()
    assert [d["source"] for d in docs] == ["feedback.md", "policy.pdf"]
    one = api.client.get(f"/v1/knowledge/documents/{docs[0]['id']}", headers=api.auth("mentor"))
    assert one.json()["title"] == "Giving feedback"

    found = api.client.post(
        "/v1/search", headers=api.auth("mentee"), json={"query": "impact on the team", "k": 2}
    )
    assert found.status_code == 200
    top = found.json()["results"][0]
    assert top["source"] == "feedback.md" and top["citation"] == "feedback.md § Giving feedback > Impact"
    assert "impact of the behaviour" in top["text"]

    gone = api.client.delete(f"/v1/knowledge/documents/{docs[0]['id']}", headers=api.auth("admin"))
    assert gone.status_code == 200 and gone.json()["deleted"] == ["feedback.md"]
    assert (
        api.client.delete(f"/v1/knowledge/documents/{docs[0]['id']}", headers=api.auth("admin")).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("notes.exe", b"MZ", 415, "unsupported_media_type"),
        ("fake.pdf", b"plain text", 422, "unreadable_file"),
        ("empty.md", b"", 422, "unreadable_file"),
        ("bin.txt", b"\x00\x01\x02\x03", 422, "unreadable_file"),
        ("broken.docx", b"PK\x03\x04broken", 422, "unreadable_file"),
    ],
)
def test_upload_rejects_bad_files(api: Api, name: str, data: bytes, status: int, code: str) -> None:
    response = upload(api, "admin", name, data, "application/octet-stream")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert api.services.store.count() == 0
    assert api.client.get("/v1/knowledge/documents", headers=api.auth("admin")).json() == []


def test_upload_size_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.app import make_api, make_settings

    services = Services(make_settings(tmp_path, max_upload_bytes=100))
    services.db.create_tables()
    for api in make_api(services):
        response = upload(api, "admin", "big.md", b"# Big\n\n" + b"x" * 200)
        assert response.status_code == 413 and "100 byte" in response.json()["error"]["message"]
        assert upload(api, "admin", "small.md", b"# Small\n\nfits").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": ""},
        {"query": "x", "k": 0},
        {"query": "x", "k": 500},
        {"query": "x", "extra": 1},
        {"query": "x", "filters": {"author": "me"}},
        {"query": "   "},
    ],
)
def test_bad_search_input_is_422_json(api: Api, body: dict) -> None:  # type: ignore[type-arg]
    response = api.client.post("/v1/search", headers=api.auth("mentee"), json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["message"]


def test_malformed_json_and_unknown_route(api: Api) -> None:
    response = api.client.post(
        "/v1/search", headers={**api.auth("mentee"), "Content-Type": "application/json"}, content=b"{not json"
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    missing = api.client.get("/v1/nothing-here", headers=api.auth("admin"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_users_tokens_on_both_databases(any_db_settings: Settings) -> None:
    services = Services(any_db_settings)
    services.db.create_tables()
    with services.db.session() as session:
        token = ensure_first_admin(session)
        assert token is not None and token.startswith("cmp_")
        assert ensure_first_admin(session) is None, "only when there are no users"
        _, mentee_token = create_user(session, name="ana", role=Role.mentee)
    with services.db.session() as session:
        principal = authenticate(session, mentee_token)
        assert (principal.name, principal.role) == ("ana", Role.mentee)
        assert authenticate(session, token).role == Role.admin
        with pytest.raises(Unauthorized):
            authenticate(session, mentee_token + "x")
        with pytest.raises(Conflict):
            create_user(session, name="ana", role=Role.mentor)
        with pytest.raises(InvalidInput):
            create_user(session, name="bad name!", role=Role.mentor)
    from companion.storage.db import ApiToken

    with services.db.session() as session:
        stored = [t.token_hash for t in session.query(ApiToken).all()]
        assert mentee_token not in stored and all(len(h) == 64 for h in stored), "tokens are stored hashed"
        revoked = session.query(ApiToken).filter(ApiToken.token_hash == hash_token(mentee_token))
        revoked.update({"revoked": True})
    with services.db.session() as session:  # nothing is cached: the next request is refused
        with pytest.raises(Unauthorized, match="revoked"):
            authenticate(session, mentee_token)
        assert authenticate(session, token).name == "admin"
    services.close()


def test_mentee_record_access_rules(services: Services) -> None:
    from companion.errors import Forbidden
    from companion.identity.auth import Principal, check_mentee_access, link_mentorship

    with services.db.session() as session:
        mentee, _ = create_user(session, name="mia", role=Role.mentee)
        other, _ = create_user(session, name="oli", role=Role.mentee)
        mentor, _ = create_user(session, name="max", role=Role.mentor)
        admin, _ = create_user(session, name="ada", role=Role.admin)
        as_mentee = Principal(mentee.id, mentee.name, Role.mentee)
        as_mentor = Principal(mentor.id, mentor.name, Role.mentor)
        check_mentee_access(session, as_mentee, mentee.id)
        check_mentee_access(session, Principal(admin.id, admin.name, Role.admin), other.id)
        with pytest.raises(Forbidden):
            check_mentee_access(session, as_mentee, other.id)
        with pytest.raises(Forbidden):
            check_mentee_access(session, as_mentor, mentee.id)
        link_mentorship(session, mentor_user_id=mentor.id, mentee_user_id=mentee.id)
        check_mentee_access(session, as_mentor, mentee.id)
        with pytest.raises(Forbidden):
            check_mentee_access(session, as_mentor, other.id)
        with pytest.raises(InvalidInput):
            link_mentorship(session, mentor_user_id=mentee.id, mentee_user_id=other.id)

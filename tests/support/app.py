"""Settings, services and API clients for tests: fake embeddings, in-memory Chroma, a temp SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from companion.app import create_app
from companion.container import Services
from companion.identity.auth import Role, create_user
from companion.settings import Settings
from tests.support.server import free_port as free_port  # re-exported: tests import it from here

REPO = Path(__file__).resolve().parents[2]
KNOWLEDGE = REPO / "knowledge"
POSTGRES_ENV = "COMPANION_TEST_POSTGRES_URL"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "embeddings": {"mode": "fake"},
        "store": {"mode": "memory"},
        "chunk_size": 400,
        "chunk_overlap": 60,
        # cheap password hashes: the default Argon2id cost (64 MiB, 3 passes) is for real accounts
        "web": {"password_time_cost": 1, "password_memory_kib": 1024},
        # background jobs run at once in the caller; tests of the real queues choose their backend
        "jobs": {"mode": "immediate"},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class Api:
    """A TestClient plus one token per role."""

    def __init__(self, client: TestClient, services: Services, tokens: dict[str, str]) -> None:
        self.client = client
        self.services = services
        self.tokens = tokens

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_api(services: Services) -> Iterator[Api]:
    app = create_app(services.settings, services=services)
    with TestClient(app) as client:
        tokens = {}
        with services.db.session() as session:
            for role in Role:
                _, tokens[role.value] = create_user(session, name=f"{role.value}1", role=role)
        yield Api(client, services, tokens)


WEB_PASSWORD = "correct-horse-battery"


def web_client(api: Api, role: str) -> TestClient:
    """A browser-like client (cookies kept, redirects not followed) signed in as the `<role>1` user."""
    name = f"{role}1"
    api.services.accounts.set_password(name, WEB_PASSWORD)
    client = TestClient(api.client.app, follow_redirects=False)
    response = client.post("/signin", data={"name": name, "password": WEB_PASSWORD})
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)

"""Shared fixtures. Unit tests run on fake embeddings, an in-memory Chroma and a temp SQLite file;
tests marked `real_model` use the packaged embedding model; PostgreSQL tests need
COMPANION_TEST_POSTGRES_URL (set by .ci/run) and skip without it."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from companion.app import create_app
from companion.auth import Role, create_user
from companion.deps import Services
from companion.settings import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"
POSTGRES_ENV = "COMPANION_TEST_POSTGRES_URL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "embeddings": {"mode": "fake"},
        "store": {"mode": "memory"},
        "chunk_size": 400,
        "chunk_overlap": 60,
        # cheap password hashes: the default Argon2id cost (64 MiB, 3 passes) is for real accounts
        "web": {"password_time_cost": 1, "password_memory_kib": 1024},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = Services(settings)
    svc.db.create_tables()
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A fresh schema per test, dropped afterwards, so tests never see each other's rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_base_url else "?"
    yield f"{postgres_base_url}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return make_settings(tmp_path)
    url = request.getfixturevalue("postgres_url")
    return make_settings(tmp_path, database_url=url)


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


@pytest.fixture
def api(services: Services) -> Iterator[Api]:
    yield from make_api(services)


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

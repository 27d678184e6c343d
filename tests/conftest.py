"""Shared fixtures. Unit tests run on fake embeddings, an in-memory Chroma and a temp SQLite file;
tests marked `real_model` use the packaged embedding model; PostgreSQL tests need
COMPANION_TEST_POSTGRES_URL (set by .ci/run) and skip without it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from companion.container import Services
from companion.settings import Settings
from tests.support.app import (
    KNOWLEDGE,
    POSTGRES_ENV,
    Api,
    make_api,
    make_settings,
)

pytest_plugins = ["tests.support.xdist_groups"]

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# one CPU thread per model: the suite runs on two xdist workers sharing two cores, and a model that takes
# every core while the other worker is busy runs several times slower (llama.cpp most of all). Settings
# made in the tests and the `serve` processes they start inherit these (nested settings merge with them).
os.environ.setdefault("COMPANION_LLM__THREADS", "1")
os.environ.setdefault("COMPANION_EMBEDDINGS__THREADS", "1")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The suite runs on pytest-xdist workers (`-n auto --dist loadgroup`, see pyproject.toml). The
    real-model tests of one module go to one worker, in order, so its module fixtures (a model loaded, a
    store ingested) are built once; two modules may run on the two workers at once, each model on one
    thread (COMPANION_LLM__THREADS above). (The browser tests are one group, `browser`, set in
    tests/browser/conftest.py.)"""
    for item in items:
        if item.get_closest_marker("real_model") and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(f"real_model_{item.path.stem}"))


@pytest.fixture(scope="session")
def real_handbook_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the sample handbook ingested once (per xdist worker) through the real embedding
    model, embedded Chroma and SQLite. Tests work on a copy of it (`shutil.copytree`), never on it."""
    data = tmp_path_factory.mktemp("real-handbook")
    services = Services(Settings(data_dir=data, store={"mode": "embedded"}))  # type: ignore[arg-type]
    services.db.create_tables()
    report = services.knowledge.ingest_paths([KNOWLEDGE])
    services.close()
    assert report.failed == [] and len(report.added) >= 10, report
    return data


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


@pytest.fixture
def api(services: Services) -> Iterator[Api]:
    yield from make_api(services)

"""The `server` store mode against a real `chroma run` on a free loopback port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from companion.container import Services
from companion.errors import BackendUnavailable
from tests.support.app import free_port, make_api, make_settings
from tests.support.knowledge import write_corpus

pytestmark = pytest.mark.chroma_server


def _chroma_binary() -> str:
    local = Path(sys.executable).parent / "chroma"
    found = str(local) if local.exists() else shutil.which("chroma")
    if not found:
        pytest.skip("the `chroma` command is not installed")
    return found


def start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [_chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError("chroma run exited early")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("chroma run did not become ready in 60 s")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    port = free_port()
    path = tmp_path / "chroma-server"
    process = start_chroma(path, port)
    yield f"http://127.0.0.1:{port}", path, port
    process.terminate()
    process.wait(timeout=20)


def test_ingest_and_search_through_a_chroma_server(
    chroma_server: tuple[str, Path, int], tmp_path: Path
) -> None:
    url, _, _ = chroma_server
    settings = make_settings(tmp_path, store={"mode": "server", "url": url})
    services = Services(settings)
    services.db.create_tables()
    corpus = write_corpus(tmp_path / "guides")
    report = services.knowledge.ingest_paths([corpus])
    assert len(report.added) == 6 and services.store.count() == report.chunks_written

    # a second service (another replica) sees the same data through the server
    other = Services(make_settings(tmp_path / "replica", store={"mode": "server", "url": url}))
    other.db.create_tables()
    results = other.retriever.retrieve(query="overlapping hours across time zones", k=2)
    assert results[0].source == "remote.html"
    assert other.knowledge.ingest_paths([corpus]).chunks_written == 0, "unchanged: nothing re-embedded"
    services.close()
    other.close()


def test_server_down_is_a_clear_503_and_recovers(
    chroma_server: tuple[str, Path, int], tmp_path: Path
) -> None:
    url, _, port = chroma_server
    dead_port = free_port()
    settings = make_settings(tmp_path, store={"mode": "server", "url": f"http://127.0.0.1:{dead_port}"})
    services = Services(settings)
    services.db.create_tables()
    with pytest.raises(BackendUnavailable, match="vector store unavailable"):
        services.store.count()
    for api in make_api(services):
        ready = api.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "ok"
        assert "vector store unavailable" in ready.json()["checks"]["vector_store"]
        search = api.client.post("/v1/search", headers=api.auth("mentee"), json={"query": "goals"})
        assert search.status_code == 503 and search.json()["error"]["code"] == "backend_unavailable"
        assert api.client.get("/healthz").status_code == 200

        # the server comes up on that port: the same service recovers without a restart
        process = start_chroma(tmp_path / "late-chroma", dead_port)
        try:
            assert api.client.get("/readyz").status_code == 200
            assert (
                api.client.post("/v1/search", headers=api.auth("mentee"), json={"query": "goals"}).status_code
                == 200
            )
        finally:
            process.terminate()
            process.wait(timeout=20)

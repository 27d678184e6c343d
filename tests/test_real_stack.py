"""Through the real packaged embedding model, embedded Chroma and `companion serve` itself."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from companion.container import Services
from companion.settings import Settings
from tests.support.app import KNOWLEDGE, REPO
from tests.support.server import Serve

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def real_services(
    tmp_path_factory: pytest.TempPathFactory, real_handbook_template: Path
) -> Iterator[Services]:
    """The handbook ingested through the real model (the `real_handbook_template` fixture checks that
    every guide was added)."""
    data = shutil.copytree(real_handbook_template, tmp_path_factory.mktemp("real") / "data")
    services = Services(Settings(data_dir=data, store={"mode": "embedded"}))  # type: ignore[arg-type]
    services.db.create_tables()
    yield services
    services.close()


def test_retrieval_recall_at_5_on_the_handbook(real_services: Services) -> None:
    cases = [
        json.loads(line) for line in (REPO / "evals" / "retrieval.jsonl").read_text().splitlines() if line
    ]
    assert len(cases) >= 40
    hits = 0
    reciprocal = 0.0
    for case in cases:
        sources = [r.source for r in real_services.retriever.retrieve(query=case["question"], k=5)]
        rank = next((i for i, s in enumerate(sources, start=1) if s in case["sources"]), None)
        hits += rank is not None
        reciprocal += 1 / rank if rank else 0.0
    recall, mrr = hits / len(cases), reciprocal / len(cases)
    print(f"\nretrieval over {len(cases)} questions: recall@5={recall:.3f} MRR={mrr:.3f}")
    assert recall >= 0.9
    assert mrr >= 0.7


def test_reingest_of_the_handbook_writes_nothing(real_services: Services) -> None:
    report = real_services.knowledge.ingest_paths([KNOWLEDGE])
    assert report.chunks_written == 0 and report.added == report.updated == []


# the first start ingests these as its sample guides, one of which says how often sessions happen (the
# whole handbook goes through the real model in the `real_handbook_template` fixture)
FIRST_START_GUIDES = ["program-overview.md", "running-a-session.md", "smart-goals.md", "matching.md"]


def test_serve_first_start_answers_cited_search(tmp_path: Path) -> None:
    data, sample = tmp_path / "data", tmp_path / "sample"
    sample.mkdir()
    for name in FIRST_START_GUIDES:
        shutil.copy(KNOWLEDGE / name, sample / name)
    env = {"COMPANION_DATA_DIR": str(data), "COMPANION_SAMPLE_KNOWLEDGE_DIR": str(sample)}
    with Serve(env=env, cwd=tmp_path, ready_timeout=240) as server:
        token = server.token
        assert token, "first start prints the admin token"
        base = server.base_url
        headers = {"Authorization": f"Bearer {token}"}
        response = httpx.post(
            f"{base}/v1/search",
            headers=headers,
            json={"query": "How often do mentoring sessions happen and how long are they?", "k": 3},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert len(results) == 3
        assert all(r["citation"].startswith(r["source"]) and r["heading"] for r in results)
        assert any("two weeks" in r["text"] for r in results)
        docs = httpx.get(f"{base}/v1/knowledge/documents", headers=headers, timeout=10).json()
        assert {d["source"] for d in docs} == set(FIRST_START_GUIDES)
        assert httpx.post(f"{base}/v1/search", json={"query": "x"}, timeout=10).status_code == 401

    # second start: same data, no new admin, nothing re-ingested
    with Serve(env=env, cwd=tmp_path, ready_timeout=180) as again:
        assert again.token is None
        assert "ingesting the sample guides" not in again.output()

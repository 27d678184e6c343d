"""Every assistant capability through the real model, llama.cpp in-process (`local`); goals (structured
output) and ask (text) also through the same packaged model behind a real `python -m llama_cpp.server`
reached through LangChain (`openai`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from companion.assistant.llm import packaged_gguf_path
from companion.assistant.models import (
    AskResponse,
    FeedbackResponse,
    GoalDraftResponse,
    SessionPrepResponse,
)
from companion.container import Services
from companion.settings import Settings
from tests.support.app import Api, free_port, make_api

pytestmark = pytest.mark.real_model

# a short reply limit and three excerpts in each prompt (prompt reading is most of a call's time on one
# thread) keep the suite quick; the tests assert the rules, which hold for any reply and any grounding
LLM_COMMON = {"max_tokens": 160, "temperature": 0.2}
GROUNDING_CHUNKS = 3


@pytest.fixture(scope="module")
def knowledge_dir(tmp_path_factory: pytest.TempPathFactory, real_handbook_template: Path) -> Path:
    """One embedded store with the handbook, shared by both modes (each gets its own database)."""
    return shutil.copytree(real_handbook_template, tmp_path_factory.mktemp("assistant-real") / "data")


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_gguf_path())]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, "llama_cpp.server exited"
        time.sleep(0.5)
    else:
        process.kill()
        raise AssertionError("llama_cpp.server did not start")
    yield base
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module", params=["local", "openai"])
def real_api(request: pytest.FixtureRequest, knowledge_dir: Path) -> Iterator[Api]:
    llm: dict[str, object] = {"mode": request.param, **LLM_COMMON}
    if request.param == "openai":
        llm |= {
            "base_url": request.getfixturevalue("llama_server"),
            "model": "smollm2",
            "timeout_seconds": 120,
        }
    settings = Settings(
        data_dir=knowledge_dir,
        database_url=f"sqlite:///{knowledge_dir / f'{request.param}.db'}",
        store={"mode": "embedded"},  # type: ignore[arg-type]
        llm=llm,  # type: ignore[arg-type]
        seed_sample_knowledge=False,
        # the start-up warm-up of the composer's sentence vectors would take a core from the model here;
        # it has tests of its own
        assistant={"warm_sentences": False, "k": GROUNDING_CHUNKS},  # type: ignore[arg-type]
    )
    services = Services(settings)
    services.db.create_tables()
    yield from make_api(services)


def _assert_cited(citations: list[dict[str, object]], sources: list[dict[str, object]]) -> None:
    assert citations, "every item carries citations"
    ids = {s["chunk_id"] for s in sources}
    assert all(c["chunk_id"] in ids for c in citations), "citations point at retrieved chunks"


def test_goals(real_api: Api) -> None:
    response = real_api.client.post(
        "/v1/goals/draft",
        headers=real_api.auth("mentee"),
        # polish: the real model is asked even without a calibration (the `auto` policy would skip it)
        json={
            "aspiration": "become confident presenting my team's work to leadership",
            "max_goals": 1,
            "polish": True,
        },
    )
    assert response.status_code == 200, response.text
    body = GoalDraftResponse.model_validate(response.json()).model_dump(mode="json")
    assert len(body["goals"]) == 1 and body["origin"] in ("model", "grounded")
    assert body["generation"]["model_seconds"] > 0 and body["generation"]["attempts"] in (1, 2)
    for goal in body["goals"]:
        assert goal["statement"] and goal["measure"] and goal["first_steps"]
        _assert_cited(goal["citations"], body["sources"])
    assert any(s["source"] == "smart-goals.md" for s in body["sources"])


# the OpenAI-compatible path is covered by the goals (structured) and ask (text) tests
@pytest.mark.parametrize("real_api", ["local"], indirect=True)
def test_session_prep(real_api: Api) -> None:
    response = real_api.client.post(
        "/v1/sessions/prep",
        headers=real_api.auth("mentee"),
        json={
            "length_minutes": 45,
            "goals": ["Present two demos to leadership by March"],
            "last_notes": "Drafted the outline.",
        },
    )
    assert response.status_code == 200, response.text
    body = SessionPrepResponse.model_validate(response.json()).model_dump(mode="json")
    assert sum(item["minutes"] for item in body["items"]) == 45
    for item in body["items"]:
        _assert_cited(item["citations"], body["sources"])
    assert body["questions"]


# the OpenAI-compatible path is covered by the goals (structured) and ask (text) tests
@pytest.mark.parametrize("real_api", ["local"], indirect=True)
def test_feedback(real_api: Api) -> None:
    response = real_api.client.post(
        "/v1/feedback/coach",
        headers=real_api.auth("mentor"),
        json={"draft": "You are always late to our sessions and it's lazy.", "polish": True},
    )
    assert response.status_code == 200, response.text
    body = FeedbackResponse.model_validate(response.json()).model_dump(mode="json")
    assert not re.search(r"\b(always|lazy)\b", body["rewritten"], re.I)
    assert {f["phrase"] for f in body["flagged"]} == {"always", "lazy"}
    assert body["behaviour"] and body["next_step"] and body["generation"]["attempts"] >= 1
    # a part the draft does not say comes back as a question for the mentor, never as a blank
    assert all(body[part] or body["questions"] for part in ("situation", "impact"))
    assert body["changes"] and body["citations"]


def test_ask(real_api: Api) -> None:
    response = real_api.client.post(
        "/v1/ask",
        headers=real_api.auth("mentee"),
        json={"question": "How often do mentoring sessions happen?"},
    )
    assert response.status_code == 200, response.text
    body = AskResponse.model_validate(response.json()).model_dump(mode="json")
    assert body["covered"]
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers and markers == {c["n"] for c in body["citations"]}
    _assert_cited(body["citations"], body["sources"])

    off_topic = real_api.client.post(
        "/v1/ask",
        headers=real_api.auth("mentee"),
        json={"question": "What is a good sourdough bread recipe?"},
    )
    assert off_topic.json()["covered"] is False and off_topic.json()["citations"] == []

"""Ask the handbook page (no-JS post and the page's SSE stream) and the guide viewer citations open."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from companion.container import Services
from companion.knowledge.loaders import load_bytes
from companion.web.common import guide_url
from tests.support.app import KNOWLEDGE, Api, csrf_of, make_api, make_settings, web_client

GUIDES = ("giving-feedback.md", "running-a-session.md")
QUESTION = "How should I give feedback to my mentee?"


@pytest.fixture
def ask_api(tmp_path: Path) -> Iterator[Api]:
    # min_similarity -1: every question counts as covered, so the scripted model reply is used; the
    # replies quote excerpts [1] and [2] as this ranking orders them (on the fake embedder), so it is pinned
    settings = make_settings(
        tmp_path,
        llm={"mode": "fake"},
        assistant={"min_similarity": -1},
        retrieval={"sentence_weight": 0.7, "keyword_boost": 0.05},
    )
    services = Services(settings)
    services.db.create_tables()
    report = services.knowledge.ingest_paths([KNOWLEDGE / name for name in GUIDES])
    assert sorted(report.added) == sorted(GUIDES)
    yield from make_api(services)


def script(api: Api, *replies: str) -> None:
    api.services.llm.replies.extend(replies)  # type: ignore[attr-defined]


def signed_in(api: Api, role: str = "mentee") -> tuple[TestClient, str]:
    client = web_client(api, role)
    return client, csrf_of(client.get("/ask").text)


def links(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="(/guides/view\?[^"]+)"', page)]


def sse(raw: str) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.parametrize("role", ["mentee", "mentor", "admin"])
def test_ask_page_renders_for_every_role(ask_api: Api, role: str) -> None:
    page = web_client(ask_api, role).get("/ask")
    assert page.status_code == 200
    text = page.text
    assert '<label for="ask-question">' in text and 'id="ask-form"' in text
    assert 'aria-live="polite"' in text and '<script src="/static/ask.js" defer>' in text
    assert 'href="/ask" aria-current="page"' in text  # the nav marks the page for every role


def test_ask_page_needs_a_session(ask_api: Api) -> None:
    anonymous = TestClient(ask_api.client.app, follow_redirects=False)
    response = anonymous.get("/ask")
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=%2Fask"


def test_no_js_post_shows_answer_with_linked_markers_and_citations(ask_api: Api) -> None:
    client, csrf = signed_in(ask_api)
    script(
        ask_api,
        "Raise something serious in private [1], and plan about twelve sessions in a six-month cycle [2].",
    )
    page = client.post("/ask", data={"csrf_token": csrf, "question": QUESTION})
    assert page.status_code == 200, page.text
    answer = re.search(r'<div id="ask-answer"[^>]*>(.*?)</div>', page.text, re.S)
    assert answer is not None
    markers = re.findall(r'<a class="marker" href="([^"]+)"[^>]*>\[(\d)\]</a>', answer.group(1))
    assert [n for _, n in markers] == ["1", "2"]
    assert re.sub(r"<[^>]+>", "", answer.group(1)) == (
        "Raise something serious in private [1], and plan about twelve sessions in a six-month cycle [2]."
    )
    assert 'id="cite-1"' in page.text and 'id="cite-2"' in page.text
    assert re.search(r'<div id="ask-grounded"\s+hidden', page.text), "a model answer is not flagged"
    # every marker and every listed citation opens the guide viewer on that passage
    urls = links(page.text)
    assert len(urls) == 4 and set(urls) == {html.unescape(h) for h, _ in markers}
    for url in urls:
        viewer = client.get(url)
        assert viewer.status_code == 200 and '<mark id="cited"' in viewer.text


def test_no_js_grounded_answer_is_flagged_and_offers_the_model(ask_api: Api) -> None:
    client, csrf = signed_in(ask_api)
    page = client.post("/ask", data={"csrf_token": csrf, "question": QUESTION})  # no reply queued
    assert page.status_code == 200
    assert re.search(r'<div id="ask-grounded">\s*<p><span class="flag">Grounded draft</span>', page.text)
    assert links(page.text), "the grounded draft cites its sentences"
    assert 'name="polish" value="1"' in page.text and "Try the model anyway" in page.text


def test_try_the_model_anyway_asks_it_even_when_auto_would_not(ask_api: Api) -> None:
    client, csrf = signed_in(ask_api)
    ask_api.services.settings.assistant.auto_without_calibration = "skip"
    reply = (
        "Give feedback about something serious in private [1]. "
        "A six-month cycle adds up to about twelve sessions [2]."
    )
    script(ask_api, reply)
    plain = client.post("/ask", data={"csrf_token": csrf, "question": QUESTION})
    assert ask_api.services.llm.calls == [], "auto without calibration: the model is not asked"  # type: ignore[attr-defined]
    assert "Grounded draft" in plain.text
    page = client.post("/ask", data={"csrf_token": csrf, "question": QUESTION, "polish": "1"})
    assert len(ask_api.services.llm.calls) == 1  # type: ignore[attr-defined]
    assert re.search(r'<div id="ask-grounded"\s+hidden', page.text)
    assert "twelve sessions" in page.text


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "type a question first"), ("hi", "type a question first"), ("why " * 300, "too long (1199")],
)
def test_bad_question_is_422_with_message_and_keeps_input(ask_api: Api, question: str, message: str) -> None:
    client, csrf = signed_in(ask_api)
    page = client.post("/ask", data={"csrf_token": csrf, "question": question})
    assert page.status_code == 422 and message in page.text and 'role="alert"' in page.text
    assert f">{question.strip()}</textarea>" in page.text
    stream = client.post("/ask/stream", data={"question": question}, headers={"X-CSRF-Token": csrf})
    assert stream.status_code == 422 and message in stream.json()["error"]["message"]


def test_no_js_post_needs_csrf(ask_api: Api) -> None:
    client, _ = signed_in(ask_api)
    assert client.post("/ask", data={"question": QUESTION}).status_code == 403


def test_stream_sends_sources_the_draft_then_the_answer(ask_api: Api) -> None:
    client, csrf = signed_in(ask_api, "mentor")
    reply = (
        "Give feedback about something serious in private [1]. "
        "A six-month cycle adds up to about twelve sessions [2]."
    )
    script(ask_api, reply)
    with client.stream(
        "POST", "/ask/stream", data={"question": QUESTION}, headers={"X-CSRF-Token": csrf}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = "".join(response.iter_text())
    events = sse(raw)
    names = [name for name, _ in events]
    assert names == ["sources", "draft", "answer"], "no unchecked model text is streamed"
    draft = events[1][1]
    assert draft["origin"] == "grounded" and draft["polishing"] and draft["citations"]
    final = events[-1][1]
    assert final["answer"] == reply and final["origin"] == "model"
    assert [c["n"] for c in final["citations"]] == [1, 2]
    assert final["citations"][0]["chunk_id"] == events[0][1]["sources"][0]["chunk_id"]


def test_stream_refuses_missing_or_wrong_csrf_header(ask_api: Api) -> None:
    client, csrf = signed_in(ask_api)
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}, {"X-CSRF-Token": ""}):
        response = client.post("/ask/stream", data={"question": QUESTION}, headers=headers)
        assert response.status_code == 403
        assert "text/event-stream" not in response.headers["content-type"]
    assert ask_api.services.llm.calls == []  # type: ignore[attr-defined]


def test_stream_without_session_is_sent_to_signin(ask_api: Api) -> None:
    anonymous = TestClient(ask_api.client.app, follow_redirects=False)
    response = anonymous.post("/ask/stream", data={"question": QUESTION}, headers={"X-CSRF-Token": "x"})
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_stream_backend_error_is_a_json_error_not_a_stream(ask_api: Api) -> None:
    from companion.errors import BackendUnavailable

    client, csrf = signed_in(ask_api)
    ask_api.services.mentoring.generator.fallback_on_error = False
    ask_api.services.llm.error = BackendUnavailable("model server is down")  # type: ignore[attr-defined]
    response = client.post("/ask/stream", data={"question": QUESTION}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "model server is down"


# ---- guide viewer -----------------------------------------------------------------------------------


def test_guide_viewer_shows_the_cited_passage_in_its_section(ask_api: Api) -> None:
    client, _ = signed_in(ask_api, "admin")
    chunks = ask_api.services.store.chunks_for_source("running-a-session.md")
    by_heading: dict[str, list] = {}  # type: ignore[type-arg]
    for c in chunks:
        by_heading.setdefault(str(c.metadata["heading"]), []).append(c)
    for run in by_heading.values():
        run.sort(key=lambda c: int(c.metadata["start"]))
    order = sorted(by_heading, key=lambda h: int(by_heading[h][0].metadata["start"]))
    # a long section in the middle of the guide, split into overlapping windows: open its second window
    heading = next(h for h in order[1:-1] if len(by_heading[h]) > 1)
    run = by_heading[heading]
    cited = run[1]
    page = client.get(guide_url({"source": "running-a-session.md", "chunk_id": cited.id}))
    assert page.status_code == 200
    assert "<h1>Preparing and Running a Mentoring Session</h1>" in page.text
    assert f'<h2 id="guide-section-heading">{html.escape(heading)}</h2>' in page.text
    mark = re.search(r'<mark id="cited"[^>]*>(.*?)</mark>', page.text, re.S)
    assert mark is not None
    highlighted = html.unescape(re.sub(r'<span class="sr-only">[^<]*</span>', "", mark.group(1)))
    assert highlighted == cited.text
    # the other window of the section is shown around it, not repeated where they overlap
    body = re.search(r'id="guide-text"[^>]*>(.*?)</div>', page.text, re.S)
    assert body is not None
    text = html.unescape(re.sub(r"<[^>]+>", "", body.group(1)))
    assert run[0].text.split()[0] in text and text.count(cited.text[-40:]) == 1
    prev = re.search(r'id="guide-prev" rel="prev" href="([^"]+)"', page.text)
    nxt = re.search(r'id="guide-next" rel="next" href="([^"]+)"', page.text)
    assert prev and nxt
    assert client.get(html.unescape(prev.group(1))).status_code == 200
    assert client.get(html.unescape(nxt.group(1))).status_code == 200


def test_sections_are_rebuilt_exactly_from_the_chunks(ask_api: Api) -> None:
    knowledge = ask_api.services.knowledge
    for source in GUIDES:
        loaded = load_bytes((KNOWLEDGE / source).read_bytes(), source)
        chunks = ask_api.services.store.chunks_for_source(source)
        for chunk in chunks:
            section = knowledge.guide_section(source, chunk.id)
            assert section.cited == chunk.text and section.title == loaded.title
            same = [c for c in chunks if c.metadata["heading"] == chunk.metadata["heading"]]
            start = min(int(c.metadata["start"]) for c in same)
            end = max(int(c.metadata["end"]) for c in same)
            whole = section.before + section.cited + section.after
            assert whole.split() == loaded.text[start:end].split()
            assert section.contents[section.index].heading == chunk.metadata["heading"]
        assert len({s.heading for s in knowledge.guide_section(source, chunks[0].id).contents}) > 5


@pytest.mark.parametrize(
    "query",
    [
        "source=nope.md&chunk=0123",
        "source=giving-feedback.md&chunk=0123456789abcdef",
        "source=giving-feedback.md&chunk=%3Cscript%3E",
    ],
)
def test_guide_viewer_404s_on_unknown_guide_or_passage(ask_api: Api, query: str) -> None:
    client, _ = signed_in(ask_api, "mentor")
    page = client.get(f"/guides/view?{query}")
    assert page.status_code == 404 and 'role="alert"' in page.text
    shown = html.unescape(page.text)
    assert "no guide 'nope.md' in the knowledge base" in shown or "has no passage" in shown
    assert "<script>" not in page.text


def test_guide_viewer_needs_both_parameters(ask_api: Api) -> None:
    client, _ = signed_in(ask_api)
    assert client.get("/guides/view?source=giving-feedback.md").status_code == 422
    anonymous = TestClient(ask_api.client.app, follow_redirects=False)
    assert anonymous.get("/guides/view?source=a&chunk=b").status_code == 303

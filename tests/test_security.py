"""Edge hardening: security headers, the request body limit, rate limiting per token, uploads checked by
content, and the server errors the fuzzer found (each now a clear 4xx)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.container import Services
from companion.identity.http_security import API_CSP, TokenBuckets
from tests.support.app import Api, make_api, make_settings
from tests.support.documents import make_docx, make_pdf


def _api(tmp_path: Path, **overrides: object) -> Iterator[Api]:
    services = Services(make_settings(tmp_path, **overrides))
    services.db.create_tables()
    yield from make_api(services)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Api]:
    yield from _api(
        tmp_path,
        security={"max_request_bytes": 2048, "rate_limit_per_minute": 60, "rate_limit_burst": 5},
        max_upload_bytes=1024,
    )


def test_security_headers_on_every_kind_of_response(api: Api) -> None:
    responses = {
        "json": api.client.get("/healthz"),
        "error": api.client.get("/v1/knowledge/documents"),
        "not_found": api.client.get("/nothing"),
        "openapi": api.client.get("/openapi.json"),
        "docs": api.client.get("/docs"),
    }
    for kind, response in responses.items():
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", kind
        assert headers["x-frame-options"] == "DENY", kind
        assert headers["referrer-policy"] == "no-referrer", kind
        assert "frame-ancestors 'none'" in headers["content-security-policy"], kind
    assert responses["json"].headers["content-security-policy"] == API_CSP
    assert "https://cdn.jsdelivr.net" in responses["docs"].headers["content-security-policy"]
    assert responses["error"].headers["cache-control"] == "no-store"


def test_body_limit_is_a_413_json_error(limited: Api) -> None:
    big = {"query": "x" * 4000}
    response = limited.client.post("/v1/search", headers=limited.auth("mentee"), json=big)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large" and "2048 byte limit" in error["message"]
    assert "COMPANION_SECURITY__MAX_REQUEST_BYTES" in error["message"]
    assert response.headers["x-content-type-options"] == "nosniff"

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"query": "'
        for _ in range(10):
            yield b"y" * 400
        yield b'"}'

    streamed = limited.client.post(
        "/v1/search",
        headers={**limited.auth("admin"), "Content-Type": "application/json"},
        content=chunked(),
    )
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"
    small = limited.client.post("/v1/search", headers=limited.auth("mentor"), json={"query": "goals"})
    assert small.status_code == 200


def test_rate_limit_per_token_with_retry_after(limited: Api) -> None:
    statuses = [
        limited.client.get("/v1/knowledge/documents", headers=limited.auth("mentee")).status_code
        for _ in range(7)
    ]
    assert statuses == [200] * 5 + [429] * 2
    refused = limited.client.get("/v1/knowledge/documents", headers=limited.auth("mentee"))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1 and "60 a minute" in refused.json()["error"]["message"]
    # other tokens have their own buckets; health checks are never limited
    assert limited.client.get("/v1/knowledge/documents", headers=limited.auth("admin")).status_code == 200
    assert all(limited.client.get("/healthz").status_code == 200 for _ in range(10))


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, max_keys=3, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    now[0] = 1.0
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    for key in "bcdef":  # bounded memory: the least recently used bucket goes
        buckets.take(key)
    assert len(buckets._buckets) == 3


def test_uploads_are_checked_by_content_not_by_name(api: Api) -> None:
    def upload(name: str, data: bytes) -> int:
        files = {"file": (name, data, "application/octet-stream")}
        response = api.client.post("/v1/knowledge/documents", headers=api.auth("admin"), files=files)
        return response.status_code

    pdf = make_pdf([["A real PDF page."]])
    docx = make_docx([("Heading 1", "Title"), ("Normal", "A real Word document.")])
    assert upload("renamed.docx", pdf) == 422, "a PDF named .docx"
    assert upload("renamed.pdf", docx) == 422, "a Word file named .pdf"
    assert upload("renamed.md", pdf[:200] + b"\x00\x00") == 422, "binary bytes named .md"
    assert upload("latin1.txt", "café".encode("latin-1")) == 422, "not UTF-8"
    assert upload("page.html", b"<h1>Real</h1><p>HTML page text.</p>") == 201
    assert upload("real.pdf", pdf) == 201
    assert api.services.store.count() == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/mentees/942555264271755142758400/goals", None),
        ("DELETE", "/v1/mentees/1/goals/2756037462047570466299764635860992", None),
        ("GET", "/v1/sessions?mentee_id=164262745120900378240483328", None),
        ("GET", "/v1/sessions/942555264271755142758400", None),
        ("PATCH", "/v1/sessions/942555264271755142758400", {}),
        ("GET", "/v1/knowledge/documents/942555264271755142758400", None),
        ("DELETE", "/v1/knowledge/documents/942555264271755142758400", None),
        ("POST", "/v1/sessions", {"mentee_id": 2**40, "held_on": "2026-01-01"}),
        ("POST", "/v1/goals/draft", {"aspiration": "learn things", "mentee_id": 2**40}),
    ],
)
def test_ids_too_large_for_the_database_are_422_not_500(
    api: Api, method: str, path: str, body: dict[str, object] | None
) -> None:
    """Found by the fuzzer: these were 500s (OverflowError from SQLite, out of range on PostgreSQL)."""
    response = api.client.request(method, path, headers=api.auth("admin"), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


def test_times_carry_their_utc_offset(api: Api) -> None:
    """Found by the fuzzer: SQLite returned naive datetimes, which break the documented date-time format."""
    files = {"file": ("g.md", b"# Goals\n\nSet one.", "text/markdown")}
    assert (
        api.client.post("/v1/knowledge/documents", headers=api.auth("admin"), files=files).status_code == 201
    )
    doc = api.client.get("/v1/knowledge/documents", headers=api.auth("admin")).json()[0]
    assert doc["ingested_at"].endswith(("Z", "+00:00"))

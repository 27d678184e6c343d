"""SIGTERM or Ctrl-C drains `companion serve` within 10 s: requests in flight that finish within the
grace period get their answer, longer ones are cut, and the process exits. A slow model endpoint on
loopback makes one answer take 1 s and another take a minute."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.app import free_port
from tests.support.serve import read_token, start_serve, stop, wait_ready


class SlowModel:
    """An OpenAI-compatible chat endpoint that answers after 1 s, or after 60 s when asked about 'slow'."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[str] = []
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                slow = "slow" in body
                owner.received.append("slow" if slow else "quick")
                owner.release.wait(60 if slow else 1)
                reply = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "fake",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "Agree on a goal and a date [1]."},
                        }
                    ],
                }
                data = json.dumps(reply).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def model() -> Iterator[SlowModel]:
    server = SlowModel()
    yield server
    server.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_answers_short_requests_cuts_long_ones_and_exits_within_10_s(
    tmp_path: Path, model: SlowModel, stop_signal: signal.Signals
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_serve(
        tmp_path / "data",
        port,
        llm__mode="openai",
        llm__base_url=f"http://127.0.0.1:{model.port}/v1",
        llm__model="fake",
        llm__timeout_seconds="120",
        llm__max_retries="0",
        llm__fallback_on_error="false",
        assistant__min_similarity="-1",
        shutdown_grace_seconds="4",
    )
    try:
        token, log = read_token(process)
        wait_ready(base)
        headers = {"Authorization": f"Bearer {token}"}
        outcomes: dict[str, object] = {}

        def ask(label: str, question: str) -> None:
            try:
                response = httpx.post(
                    f"{base}/v1/ask", headers=headers, json={"question": question}, timeout=90
                )
                outcomes[label] = response.status_code
            except httpx.HTTPError as exc:
                outcomes[label] = type(exc).__name__

        slow = threading.Thread(target=ask, args=("slow", "a slow question about goals?"))
        slow.start()
        deadline = time.monotonic() + 20
        while "slow" not in model.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "slow" in model.received, "the slow request reached the model"
        quick = threading.Thread(target=ask, args=("quick", "how do I set a good goal?"))
        quick.start()
        while "quick" not in model.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "quick" in model.received

        sent = time.monotonic()
        process.send_signal(stop_signal)
        process.wait(timeout=15)
        took = time.monotonic() - sent
        quick.join(timeout=5)
        slow.join(timeout=5)
        code = process.returncode
        print(f"\n{stop_signal.name} -> exit in {took:.1f} s; outcomes {outcomes}; exit code {code}")
        assert took < 10, f"serve took {took:.1f} s to exit after {stop_signal.name}"
        assert outcomes["quick"] == 200, "a request that finishes within the grace period is answered"
        assert outcomes["slow"] == 503 and not slow.is_alive(), "the minute-long request was cut, with a 503"
        assert not [line for line in log if "Traceback" in line], "a cut request is no server error"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/healthz", timeout=2)
    finally:
        stop(process)

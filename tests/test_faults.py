"""Faults: an ingest killed midway, PostgreSQL going away and coming back, the model endpoint down, slow
or answering garbage. Everything runs on loopback: a TCP proxy and a fake OpenAI-compatible server that
the tests start and stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from companion.container import Services
from tests.support.app import Api, free_port, make_api, make_settings

COMPANION = str(Path(sys.executable).parent / "companion")


# --- ingest killed with SIGKILL --------------------------------------------------------------------------


def write_big_corpus(root: Path, files: int = 200) -> Path:
    root.mkdir(parents=True)
    for i in range(files):
        sections = "\n\n".join(
            f"## Part {j} of guide {i}\n\n"
            + " ".join(
                f"Guide {i} part {j} sentence {k} about mentoring practice {i * 7 + j}." for k in range(6)
            )
            for j in range(4)
        )
        (root / f"guide-{i:04d}.md").write_text(f"# Guide {i}\n\n{sections}\n")
    return root


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COMPANION_DATA_DIR": str(data_dir),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "embedded",
        "COMPANION_CHUNK_SIZE": "200",
        "COMPANION_CHUNK_OVERLAP": "30",
        "COMPANION_DATABASE_URL": "",
        "ANONYMIZED_TELEMETRY": "False",
    }


def _stored_ids(data_dir: Path) -> list[str]:
    settings = make_settings(
        data_dir.parent, data_dir=data_dir, store={"mode": "embedded"}, chunk_size=200, chunk_overlap=30
    )
    services = Services(settings)
    ids = [chunk.id for chunk in services.store.iter_all()]
    services.close()
    return ids


def _chroma_rows(data_dir: Path) -> int:
    path = data_dir / "chroma" / "chroma.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2) as conn:
            return int(conn.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_ingest_killed_midway_is_completed_exactly_by_the_next_run(tmp_path: Path) -> None:
    corpus = write_big_corpus(tmp_path / "corpus")
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    subprocess.run([COMPANION, "ingest", str(corpus)], env=_env(clean_dir), check=True, capture_output=True)
    clean = _stored_ids(clean_dir)

    process = subprocess.Popen(
        [COMPANION, "ingest", str(corpus)],
        env=_env(crash_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and process.poll() is None:
        written = _chroma_rows(crash_dir)
        if written >= 700:  # a few flushes in: some guides recorded, the rest not yet
            break
        time.sleep(0.01)
    assert process.poll() is None, "the ingest finished before it could be killed; make the corpus larger"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    partial = _stored_ids(crash_dir)
    assert 0 < len(partial) < len(clean), (len(partial), len(clean))

    again = subprocess.run(
        [COMPANION, "ingest", "--json", str(corpus)], env=_env(crash_dir), check=True, capture_output=True
    )
    report = json.loads(again.stdout)
    recovered = _stored_ids(crash_dir)
    assert len(recovered) == len(set(recovered)), "no duplicate chunks"
    assert sorted(recovered) == sorted(clean), "exactly the chunks of a clean ingest"
    print(
        f"ingest killed after {len(partial)} of {len(clean)} chunks (200 files); the next run wrote "
        f"{report['chunks_written']} chunks and left {len(recovered)}, identical to a clean ingest"
    )


# --- PostgreSQL unavailable -----------------------------------------------------------------------------


class TcpProxy:
    """A loopback TCP proxy that can be stopped (every connection cut) and started again on its port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                try:  # wakes the accept() blocked in the other thread, so the port really closes
                    self._listener.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._listener.close()
                self._listener = None
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_postgres_down_is_a_clear_503_and_recovers_without_restart(postgres_url: str, tmp_path: Path) -> None:
    url = make_url(postgres_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    services = Services(make_settings(tmp_path, database_url=proxied))
    services.db.create_tables()
    try:
        for api in make_api(services):
            docs = "/v1/knowledge/documents"
            assert api.client.get(docs, headers=api.auth("mentee")).status_code == 200
            proxy.stop()
            ready = api.client.get("/readyz")
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["database"].startswith("database unavailable") and checks["vector_store"] == "ok"
            down = api.client.get(docs, headers=api.auth("mentee"))
            assert down.status_code == 503, down.text
            assert down.json()["error"] == {
                "code": "backend_unavailable",
                "message": down.json()["error"]["message"],
            } and down.json()["error"]["message"].startswith("database unavailable")
            assert api.client.get("/healthz").status_code == 200, "liveness stays green"

            proxy.start()
            assert api.client.get("/readyz").status_code == 200
            assert api.client.get(docs, headers=api.auth("mentee")).status_code == 200
    finally:
        proxy.stop()


def test_database_on_a_closed_port_is_named_by_readyz(tmp_path: Path) -> None:
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2"
    services = Services(make_settings(tmp_path, database_url=closed))
    from fastapi.testclient import TestClient

    from companion.app import create_app

    app = create_app(services.settings, services=services)
    client = TestClient(app)  # no lifespan: the tables cannot be created on a database that is down
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "database unavailable" in ready.json()["checks"]["database"]
    assert ready.json()["checks"]["vector_store"] == "ok"
    response = client.get("/v1/knowledge/documents", headers={"Authorization": "Bearer cmp_x"})
    assert response.status_code == 503 and response.json()["error"]["code"] == "backend_unavailable"
    services.close()


# --- model endpoint down, slow or answering garbage -----------------------------------------------------


class FakeModelServer:
    """An OpenAI-compatible /v1/chat/completions on loopback; `mode` is ok, slow, garbage or error."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if owner.mode == "slow":
                    time.sleep(3)
                if owner.mode == "error":
                    self._reply(500, b'{"error": {"message": "model crashed"}}')
                    return
                if owner.mode == "garbage":
                    self._reply(200, b"<html>this is not JSON</html>")
                    return
                body = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "fake",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {
                                "role": "assistant",
                                "content": "A good goal names a measure and a date [1].",
                            },
                        }
                    ],
                }
                self._reply(200, json.dumps(body).encode())

            def _reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the slow mode's timeout)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    yield server
    server.stop()


def _model_api(tmp_path: Path, server: FakeModelServer, *, fallback: bool) -> Iterator[Api]:
    settings = make_settings(
        tmp_path,
        llm={
            "mode": "openai",
            "base_url": f"http://127.0.0.1:{server.port}/v1",
            "model": "fake",
            "timeout_seconds": 1.0,
            "max_retries": 0,
            "fallback_on_error": fallback,
        },
        assistant={"min_similarity": 0.0},
    )
    services = Services(settings)
    services.db.create_tables()
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "goals.md").write_text("# Goals\n\n## SMART\n\nA goal names a measure and a date.\n")
    services.knowledge.ingest_paths([kb])
    yield from make_api(services)


def _ask(api: Api) -> Any:
    return api.client.post(
        "/v1/ask", headers=api.auth("mentee"), json={"question": "what makes a goal good?"}
    )


def test_model_down_slow_or_garbage_gives_503_504_and_recovers(
    tmp_path: Path, model_server: FakeModelServer
) -> None:
    for api in _model_api(tmp_path, model_server, fallback=False):
        down = _ask(api)  # nothing listens yet
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "backend_unavailable"
        assert "model endpoint unreachable" in down.json()["error"]["message"]
        assert api.client.get("/healthz").status_code == 200 and api.client.get("/readyz").status_code == 200

        model_server.start()
        first = _ask(api).json()
        assert first["origin"] == "model", first
        outcomes = {}
        for mode in ("slow", "garbage", "error"):
            model_server.mode = mode
            started = time.monotonic()
            response = _ask(api)
            outcomes[mode] = (
                response.status_code,
                response.json()["error"]["code"],
                time.monotonic() - started,
            )
        assert outcomes["slow"][:2] == (504, "backend_timeout") and outcomes["slow"][2] < 2.5
        assert outcomes["garbage"][:2] == (503, "backend_unavailable")
        assert outcomes["error"][:2] == (503, "backend_unavailable")
        assert api.client.get("/readyz").status_code == 200, "readiness does not depend on the model"

        model_server.mode = "ok"
        recovered = _ask(api)
        assert recovered.status_code == 200 and recovered.json()["origin"] == "model"
        print("model faults without fallback:", {m: o[:2] for m, o in outcomes.items()})


def test_model_faults_fall_back_flagged_when_configured(
    tmp_path: Path, model_server: FakeModelServer
) -> None:
    for api in _model_api(tmp_path, model_server, fallback=True):
        down = _ask(api)
        assert down.status_code == 200, down.text
        body = down.json()
        assert body["origin"] == "grounded" and body["generation"]["problems"], "flagged, with the reason"
        assert body["citations"], "the fallback is grounded in the retrieved guidance"
        model_server.start()
        for mode in ("slow", "garbage"):
            model_server.mode = mode
            assert _ask(api).json()["origin"] == "grounded", mode
        model_server.mode = "ok"
        assert _ask(api).json()["origin"] == "model"

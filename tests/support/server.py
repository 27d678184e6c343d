"""The one launcher of `companion serve` in a subprocess, used by the tests, the browser tests, the
benchmarks and the wheel smoke (`.ci/wheel_smoke.py`).

    with Serve(env={"COMPANION_DATA_DIR": str(data)}, cwd=tmp) as server:   # started and ready
        httpx.get(f"{server.base_url}/readyz")
        server.token                                                        # printed on first start

It picks a free loopback port, merges the server's stdout and stderr into one log (kept in memory, copied
to `log` when given), waits for `GET /readyz` to answer 200 and stops the server with SIGINT (uvicorn's
graceful shutdown), then SIGTERM and SIGKILL if it hangs. A server that exits or is not ready in time
raises `ServerFailed` with the end of its output.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

TOKEN = re.compile(r"\b(cmp_[A-Za-z0-9_-]{20,})")
PASSWORD = re.compile(r"web sign-in password: (\S+)")
# the server's defaults apply unless the caller sets these again
TEST_OVERRIDES = (
    "COMPANION_EMBEDDINGS__MODE",
    "COMPANION_STORE__MODE",
    "COMPANION_LLM__MODE",
    "COMPANION_DATABASE_URL",
)
TAIL = 4000


class ServerFailed(RuntimeError):
    """`companion serve` exited, or did not get ready in time; the message ends with its output."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def module_command() -> list[str]:
    """`companion serve` from the code this Python imports (the checkout under PYTHONPATH)."""
    return [sys.executable, "-m", "companion"]


class Serve:
    """`companion serve` in a subprocess: `start()`, `wait_ready()`, `stop()`, or use it as a context
    manager (start and wait on enter, stop on exit).

    `env` is added to this process's environment, or replaces it with `inherit_env=False`; names in
    `drop` are removed from it. `on_line(line, seconds_since_start)` sees every output line as it comes."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path,
        command: Sequence[str] | None = None,
        port: int | None = None,
        log: Path | None = None,
        inherit_env: bool = True,
        drop: Sequence[str] = (),
        ready_timeout: float = 300.0,
        on_line: Callable[[str, float], None] | None = None,
    ) -> None:
        base = dict(os.environ) if inherit_env else {}
        for name in drop:
            base.pop(name, None)
        base.update(env or {})
        base.setdefault("COLUMNS", "200")
        base.setdefault("PYTHONUNBUFFERED", "1")
        self.env = base
        self.cwd = cwd
        self.command = list(command or module_command())
        self.port = port or free_port()
        self.log = log
        self.ready_timeout = ready_timeout
        self.on_line = on_line
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self.ready_seconds: float | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._pump: threading.Thread | None = None

    # ---- output --------------------------------------------------------------------------------------

    def output(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def _tail(self) -> str:
        text = self.output()
        return text[-TAIL:] if len(text) > TAIL else text

    @property
    def token(self) -> str | None:
        """The first admin's API token, when this start created it."""
        match = TOKEN.search(self.output())
        return match.group(1) if match else None

    @property
    def admin_password(self) -> str | None:
        match = PASSWORD.search(self.output())
        return match.group(1) if match else None

    def _read(self, stream: Any, sink: Any) -> None:
        for line in stream:
            with self._lock:
                self._lines.append(line)
            if sink is not None:
                sink.write(line)
                sink.flush()
            if self.on_line is not None:
                self.on_line(line, time.monotonic() - self.started_at)
        if sink is not None:
            sink.close()

    # ---- life cycle ----------------------------------------------------------------------------------

    def start(self) -> Serve:
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
        sink = self.log.open("w") if self.log is not None else None
        self.started_at = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [*self.command, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=str(self.cwd),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            if sink is not None:
                sink.close()
            raise ServerFailed(f"cannot start {self.command[0]}: {exc}") from exc
        self._pump = threading.Thread(target=self._read, args=(self.process.stdout, sink), daemon=True)
        self._pump.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> float:
        """Poll `/readyz` until it answers 200; returns the seconds since start."""
        assert self.process is not None, "start() first"
        limit = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with httpx.Client(base_url=self.base_url, timeout=5.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    self._join()
                    raise ServerFailed(
                        f"companion serve exited with code {self.process.returncode} before it was "
                        f"ready; its output:\n{self._tail()}"
                    )
                try:
                    if client.get("/readyz").status_code == 200:
                        self.ready_seconds = time.monotonic() - self.started_at
                        return self.ready_seconds
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
        raise ServerFailed(
            f"companion serve on {self.base_url} did not answer GET /readyz with 200 within {limit:.0f} s; "
            f"its output:\n{self._tail()}"
        )

    def stop(self, timeout: float = 30.0) -> dict[str, Any]:
        """Stop the server: SIGINT, then SIGTERM, then SIGKILL. Returns how, how long and the exit code."""
        if self.process is None:
            return {"stop": "never started"}
        if self.process.poll() is not None:
            self._join()
            return {"stop": "already exited", "exit_code": self.process.returncode}
        started = time.monotonic()
        how = "SIGINT"
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            how = "SIGTERM"
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                how = "SIGKILL"
                self.process.kill()
                self.process.wait()
        self._join()
        return {
            "stop": how,
            "stop_s": round(time.monotonic() - started, 2),
            "exit_code": self.process.returncode,
        }

    def _join(self) -> None:
        if self._pump is not None:
            self._pump.join(timeout=10)

    def __enter__(self) -> Serve:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

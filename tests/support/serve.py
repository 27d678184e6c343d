"""A real `companion serve` subprocess on fake backends, for tests of whole-process behaviour (shutdown,
memory): start it, read the first admin token it prints, wait until ready, read its memory use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx


def start_serve(data_dir: Path, port: int, **env: str) -> subprocess.Popen[str]:
    """`companion serve` with fake embeddings and an in-memory vector store; `env` adds COMPANION_ vars."""
    values = {
        **os.environ,
        "COMPANION_DATA_DIR": str(data_dir),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_LLM__MODE": "fake",
        "COLUMNS": "200",
        **{f"COMPANION_{k.upper()}": v for k, v in env.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "companion", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=values,
        cwd=str(data_dir.parent),
    )


def read_token(process: subprocess.Popen[str], timeout: float = 120) -> tuple[str, list[str]]:
    """The admin API token printed on first start, and the server's log lines: stderr is read until the
    server says where it listens, then drained into the list by a thread (a full pipe would stall it)."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    token = None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}")
            continue
        if m := re.search(r"\b(cmp_[A-Za-z0-9_-]{20,})", line):
            token = m.group(1)
        if "Companion on http://" in line:
            assert token, "first start prints the admin token"
            lines: list[str] = []
            threading.Thread(target=_drain, args=(process.stderr, lines), daemon=True).start()
            return token, lines
    raise AssertionError("serve did not start in time")


def _drain(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def wait_ready(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("readyz never turned 200")


def memory_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process in KiB, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)

"""The shared `companion serve` launcher (tests/support/server.py): its failures say what happened and
show the server's output; a real start is covered by test_load.py, test_real_stack.py and the browser
tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.server import Serve, ServerFailed


def _python(code: str) -> list[str]:
    # Serve appends `serve --host ... --port ...`; `python -c` takes them as sys.argv
    return [sys.executable, "-c", code]


def test_a_server_that_exits_early_fails_with_its_exit_code_and_output(tmp_path: Path) -> None:
    failing = Serve(
        command=_python("import sys; print('cannot open the database:', sys.argv[1:3]); sys.exit(3)"),
        cwd=tmp_path,
        ready_timeout=60,
    )
    with pytest.raises(ServerFailed) as caught, failing:
        pass
    message = str(caught.value)
    assert "exited with code 3 before it was ready" in message
    assert "cannot open the database: ['serve', '--host']" in message
    assert failing.stop()["stop"] == "already exited"


def test_a_server_that_never_gets_ready_times_out_with_its_output_and_is_stopped(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "serve.log"
    hanging = Serve(
        command=_python("import time; print('loading the model', flush=True); time.sleep(120)"),
        cwd=tmp_path,
        log=log,
        ready_timeout=2,
    )
    with pytest.raises(ServerFailed, match=r"did not answer GET /readyz with 200 within 2 s(.|\n)*loading"):
        hanging.__enter__()
    assert hanging.process is not None and hanging.process.poll() is not None, "the server was stopped"
    assert "loading the model" in log.read_text()
    assert hanging.base_url == f"http://127.0.0.1:{hanging.port}"

"""Time and memory of `companion serve` answering hostile uploads (the corpus of tests/test_hostile_files).

Starts `python -m companion serve` on a free loopback port with a temp data dir (embedded Chroma, SQLite,
the embedding model chosen by --embeddings, no sample guides), uploads one ordinary guide to warm the
loaders and the model, then sends every file of `tests/support/hostile.py`'s CORPUS and a 200k-row people
CSV, one at a time. For each it records the status, the error code and the seconds it took; for the
server it records the peak RSS (VmHWM) before and after the corpus. Prints one JSON object.

    .venv/bin/python benchmarks/hostile_files.py [--embeddings model|fake]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from _common import emit, free_port, log, r  # noqa: E402

from tests.support.documents import make_docx  # noqa: E402
from tests.support.hostile import CORPUS, people_csv  # noqa: E402
from tests.support.serve import memory_kib, read_token, stop, wait_ready  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", choices=("model", "fake"), default="model")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPANION_")}
    env.update(
        COMPANION_DATA_DIR=str(tmp / "data"),
        COMPANION_EMBEDDINGS__MODE=args.embeddings,
        COMPANION_SEED_SAMPLE_KNOWLEDGE="false",
        COLUMNS="200",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "companion", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=str(tmp),
    )
    cases: dict[str, Any] = {}
    try:
        token, _ = read_token(process, timeout=300)
        wait_ready(base, timeout=120)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            warm = make_docx([("h1", "Warm up"), ("p", "An ordinary guide, to load the parsers and model.")])
            assert client.post("/v1/knowledge/documents", files={"file": ("warm.docx", warm)}).is_success
            rss_before, peak_before = memory_kib(process.pid)
            uploads = [(case, name, build()) for case, name, build in CORPUS]
            uploads.append(("people-csv-200k-rows", "people.csv", people_csv(200_000)))
            for case, name, data in uploads:
                route = "/v1/people/import" if name.endswith(".csv") else "/v1/knowledge/documents"
                started = time.perf_counter()
                response = client.post(route, files={"file": (name, data)})
                seconds = time.perf_counter() - started
                error = response.json().get("error", {}) if response.content else {}
                cases[case] = {
                    "bytes": len(data),
                    "status": response.status_code,
                    "code": error.get("code"),
                    "seconds": r(seconds, 3),
                }
                log(f"{case}: {response.status_code} {error.get('code')} in {seconds:.2f}s")
            rss_after, peak_after = memory_kib(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        stop(process)
        shutil.rmtree(tmp, ignore_errors=True)
    emit(
        {
            "benchmark": "hostile_files",
            "embeddings": args.embeddings,
            "cases": cases,
            "all_4xx": all(400 <= c["status"] < 500 for c in cases.values()),
            "slowest_seconds": max(c["seconds"] for c in cases.values()),
            "server_rss_mb_before": r(rss_before / 1024, 1),
            "server_peak_rss_mb_before": r(peak_before / 1024, 1),
            "server_peak_rss_mb_after": r(peak_after / 1024, 1),
            "server_rss_mb_after": r(rss_after / 1024, 1),
            "peak_growth_mb": r((peak_after - peak_before) / 1024, 1),
        }
    )


if __name__ == "__main__":
    main()

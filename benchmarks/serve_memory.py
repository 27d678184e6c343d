"""Memory and startup time of `companion serve` on first start.

Starts `python -m companion serve --host 127.0.0.1 --port <free>` (the launcher of
`tests/support/server.py`) as a subprocess with
COMPANION_DATA_DIR set to a temp dir (other COMPANION_* variables are removed from its
environment so the defaults apply). A first start creates the admin user (its `cmp_...` token is
printed once on stderr and parsed here) and ingests the sample handbook from knowledge/. The
script polls GET /readyz until it answers 200, sends `--searches` POST /v1/search requests, reads
VmHWM (peak RSS) and VmRSS from /proc/<pid>/status for the server and any descendants, then
stops the server with SIGINT (uvicorn's graceful shutdown; SIGTERM/SIGKILL only as a fallback).

    .venv/bin/python -m benchmarks.serve_memory [--searches 100] [--timeout 600]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CpuMonitor,
    add_wait_quiet_option,
    emit,
    log,
    percentile,
    queries,
    r,
    wait_for_quiet,
)
from tests.support.server import Serve, ServerFailed

TOKEN = re.compile(r"\b(cmp_[A-Za-z0-9_-]{20,})")
HANDBOOK_QUERIES = [
    "how do I set SMART goals with my mentee?",
    "what should happen in the first mentoring session?",
    "how do I give difficult feedback?",
    "what is the difference between coaching and mentoring?",
    "how are mentors and mentees matched?",
    "how do we end a mentoring relationship well?",
    "tips for remote mentoring over video calls",
    "how is the success of the program measured?",
    "how are mentors recognised?",
    "what is active listening?",
    "how often should mentoring sessions happen?",
    "formal versus informal mentoring",
    "how do I build trust with a new mentee?",
    "what should a session agenda contain?",
    "when should goals be reviewed?",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--searches", type=int, default=100, help="search requests after ready (default 100)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for /readyz (default 600)"
    )
    parser.add_argument("--seed", type=int, default=0)
    add_wait_quiet_option(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="companion-bench-serve-"))
    try:
        emit(run(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- /proc helpers --------------------------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may contain spaces: the fields after ')' are positional
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def _memory(pid: int) -> dict[str, Any]:
    pids = [pid, *_descendants(pid)]
    hwm = {p: _status_kib(p, "VmHWM") for p in pids}
    rss = {p: _status_kib(p, "VmRSS") for p in pids}
    return {
        "processes": len(pids),
        "peak_rss_mib": r(sum(v or 0 for v in hwm.values()) / 1024, 1),
        "current_rss_mib": r(sum(v or 0 for v in rss.values()) / 1024, 1),
        "main_peak_rss_mib": r((hwm.get(pid) or 0) / 1024, 1),
        "main_current_rss_mib": r((rss.get(pid) or 0) / 1024, 1),
    }


# ---- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPANION_")}
    env.update(
        COMPANION_DATA_DIR=str(tmp / "data"),
        COLUMNS="200",  # keep rich from wrapping the token line
        PYTHONUNBUFFERED="1",
        ANONYMIZED_TELEMETRY="False",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    quiet = wait_for_quiet(args.wait_quiet)
    events: dict[str, float] = {}
    found: dict[str, str] = {}

    def on_line(line: str, now: float) -> None:
        print(f"[server] {line.rstrip()}", file=sys.stderr, flush=True)
        if "token" not in found and (m := TOKEN.search(line)):
            found["token"] = m.group(1)
            events.setdefault("token_printed_s", now)
        if "ingesting the sample guides" in line:
            events.setdefault("seed_ingest_started_s", now)
        if line.startswith("added "):
            found["seed_ingest_report"] = line.strip()
            events.setdefault("seed_ingest_done_s", now)
        if "Companion on http" in line:
            events.setdefault("listening_announced_s", now)

    server = Serve(
        env=env, inherit_env=False, cwd=tmp, ready_timeout=args.timeout, on_line=on_line
    ).start()
    proc = server.process
    assert proc is not None
    log(f"started companion serve pid {proc.pid} on {server.base_url}")
    startup_cpu = CpuMonitor([proc.pid])

    base = server.base_url
    result: dict[str, Any] = {"benchmark": "serve_memory", "wait_quiet": quiet}
    latencies: list[float] = []
    try:
        client = httpx.Client(base_url=base, timeout=60.0, trust_env=False)
        try:
            ready_s = server.wait_ready()
        except ServerFailed as exc:
            raise SystemExit(str(exc)) from None
        log(f"ready after {ready_s:.1f}s")
        startup_cpu_result = startup_cpu.result()
        at_ready = _memory(proc.pid)

        token = found.get("token")
        if not token:
            raise SystemExit("no cmp_ token found in the server output")
        client.headers["Authorization"] = f"Bearer {token}"
        docs = client.get("/v1/knowledge/documents")
        docs.raise_for_status()

        rng = random.Random(args.seed)
        qs = list(HANDBOOK_QUERIES)  # real questions about the sample handbook, then generated ones
        qs += queries(rng, max(0, args.searches - len(qs)))
        qs = qs[: args.searches]
        search_cpu = CpuMonitor([proc.pid])
        for q in qs:
            t0 = time.perf_counter()
            resp = client.post("/v1/search", json={"query": q, "k": 5})
            latencies.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
        search_cpu_result = search_cpu.result()
        after = _memory(proc.pid)
        client.close()

        result.update(
            {
                "startup_to_ready_s": r(ready_s),
                "startup_events_s": {k: r(v) for k, v in sorted(events.items(), key=lambda kv: kv[1])},
                "seed_ingest_report": found.get("seed_ingest_report"),
                "documents_indexed": len(docs.json()),
                "searches": len(latencies),
                "search_p50_ms": r(percentile(latencies, 50)),
                "search_p99_ms": r(percentile(latencies, 99)),
                "search_mean_ms": r(statistics.fmean(latencies)) if latencies else None,
                "rss_at_ready_mib": at_ready["current_rss_mib"],
                "peak_rss_mib": after["peak_rss_mib"],
                "current_rss_mib": after["current_rss_mib"],
                "processes": after["processes"],
                "cpu_startup": startup_cpu_result,
                "cpu_searches": search_cpu_result,
                "main_process": {
                    "peak_rss_mib": after["main_peak_rss_mib"],
                    "current_rss_mib": after["main_current_rss_mib"],
                },
            }
        )
    finally:
        stopped = server.stop()
        log(f"server stopped with {stopped['stop']}, exit code {stopped.get('exit_code')}")
        result.update(stopped)
    # cross-check: the largest peak RSS among this script's waited-for children (KiB on Linux)
    result["rusage_children_maxrss_mib"] = r(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    result["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return result


if __name__ == "__main__":
    main()

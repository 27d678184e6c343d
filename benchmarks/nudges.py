"""E-mail nudge run time: `--pairs` pairs (default 2,000) of one running cycle, every pair at risk, so a
run e-mails both people of each pair (4,000 e-mails) over real SMTP to an aiosmtpd server on loopback,
in its own process, that counts what arrives. Reports the dry run, the sending run (claim, render, send;
per e-mail), and the second run the same day (every nudge already sent: nothing goes out), and checks
what arrived.

Everything runs in a temp dir (deleted at the end): a SQLite database, or `--database URL` (a PostgreSQL
database to use; its tables must be empty).

    python -m benchmarks.nudges [--pairs 2000] [--database URL]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks._common import emit, free_port, log
from companion.container import Services
from companion.settings import Settings
from tests.support.nudges import CYCLE_START, build_program

# an SMTP server in its own process (so it does not share this one's interpreter lock): one line per
# message received goes to the file named by argv[2]
SERVER = """
import sys, time
from aiosmtpd.controller import Controller
out = open(sys.argv[2], "a", buffering=1)
class Count:
    async def handle_DATA(self, server, session, envelope):
        out.write(f"{len(envelope.rcpt_tos)} {len(envelope.content)}\\n")
        return "250 OK"
c = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]), ready_timeout=10)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"""


@contextmanager
def smtp_process(root: Path) -> Iterator[tuple[int, Path]]:
    port, counted = free_port(), root / "received.txt"
    counted.touch()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(counted)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield port, counted
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-nudges-"))
    try:
        emit(run(args.pairs, root, args.database))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(pairs: int, root: Path, database: str | None) -> dict[str, Any]:
    today = CYCLE_START + timedelta(days=30)  # no session in 30 days: every pair is at risk
    with smtp_process(root) as (port, counted):
        settings = Settings(
            data_dir=root / "data",
            database_url=database,
            embeddings={"mode": "fake"},  # type: ignore[arg-type]
            store={"mode": "memory"},  # type: ignore[arg-type]
            email={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "security": "none",  # type: ignore[arg-type]
                "max_per_run": pairs * 2 + 10,
            },
        )
        services = Services(settings)
        services.db.create_tables()
        started = time.perf_counter()
        build_program(services.db, pairs=pairs, milestones=False)
        setup_s = time.perf_counter() - started
        log(f"{pairs} pairs written in {setup_s:.1f}s")

        started = time.perf_counter()
        dry = services.nudges.run(today, dry_run=True)
        dry_s = time.perf_counter() - started
        log(f"dry run: {dry.would_send} would be sent, {dry_s:.2f}s")

        started = time.perf_counter()
        first = services.nudges.run(today)
        first_s = time.perf_counter() - started
        log(f"run: {first.sent} sent, {first.failed} failed in {first_s:.2f}s")

        started = time.perf_counter()
        second = services.nudges.run(today)
        second_s = time.perf_counter() - started
        log(f"second run: {second.sent} sent in {second_s:.2f}s")
        received = len(counted.read_text().splitlines())
        services.close()
    return {
        "benchmark": "nudges",
        "database": "postgresql" if database else "sqlite",
        "pairs": pairs,
        "setup_s": round(setup_s, 2),
        "dry_run_s": round(dry_s, 3),
        "would_send": dry.would_send,
        "run_s": round(first_s, 3),
        "sent": first.sent,
        "failed": first.failed,
        "emails_per_s": round(first.sent / first_s, 1) if first_s else None,
        "ms_per_email": round(first_s * 1000 / first.sent, 3) if first.sent else None,
        "second_run_s": round(second_s, 3),
        "second_run_sent": second.sent,
        "second_run_skipped": second.skipped,
        "received_by_smtp_server": received,
        "one_each": received == first.sent == pairs * 2 and second.sent == 0,
    }


if __name__ == "__main__":
    main()

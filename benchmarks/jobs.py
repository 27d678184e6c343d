"""Background jobs: start latency and no-op throughput on the SQLite and Redis queues, and the time of an eval
run started over HTTP (POST /v1/evals/runs, then polling GET /v1/jobs/{id}) until it has landed.

Everything runs in a temp dir (deleted at the end): SQLite database, huey on `jobs.db` or on the Redis at
`--redis` (default redis://127.0.0.1:6379/15, skipped when unreachable), a consumer on threads in this
process.
- start latency: the time from `JobService.start()` being called to the job's handler starting, one job at
  a time on an idle consumer (median and p95 of `--latency-jobs` jobs);
- throughput: `--jobs` no-op jobs started at once, until the last is recorded done, with `--workers`
  consumer threads (each job: the claim, two progress writes and the outcome, in the database);
- eval run from the web: the app under a TestClient with fake embeddings and the fake chat model (every
  task takes its grounded draft), `--eval-limit` cases per suite, started and followed over HTTP.

    python -m benchmarks.jobs [--jobs 500] [--workers 2] [--redis URL]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._common import emit, log
from companion.jobs.consumer import JobConsumer
from companion.jobs.queue import build_huey
from companion.jobs.service import JobContext, JobService
from companion.settings import JobsSettings
from companion.storage.db import Database


def _queue(backend: str, redis_url: str, workers: int) -> JobsSettings:
    if backend == "redis":
        name = f"bench{uuid.uuid4().hex[:8]}"
        return JobsSettings(mode="redis", redis_url=redis_url, name=name, workers=workers)
    return JobsSettings(mode="sqlite", workers=workers)


def _redis_up(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def measure_queue(
    backend: str, *, redis_url: str, jobs: int, latency_jobs: int, workers: int
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"companion-jobs-{backend}-"))
    db = Database(f"sqlite:///{tmp / 'companion.db'}")
    db.create_tables()
    settings = _queue(backend, redis_url, workers)
    entered: dict[str, float] = {}

    def probe(ctx: JobContext) -> dict[str, Any]:
        entered[ctx.job_id] = time.perf_counter()
        return {}

    def noop(ctx: JobContext) -> dict[str, Any]:
        ctx.progress(0, 1, "no-op")
        ctx.progress(1, 1, "no-op done")
        return {}

    service = JobService(
        db=db, huey=build_huey(settings, tmp), handlers={"probe": probe, "noop": noop}, settings=settings
    )
    consumer = JobConsumer(service, settings, periodic=False)
    consumer.start()
    try:
        time.sleep(0.5)  # the consumer is polling
        latencies = []
        for _ in range(latency_jobs):
            before = time.perf_counter()
            job = service.start("probe", title="probe")
            while job.id not in entered:
                time.sleep(0.001)
            latencies.append(entered[job.id] - before)
            while not service.get(job.id).finished:
                time.sleep(0.002)
        started = time.perf_counter()
        ids = [service.start("noop", title="noop").id for _ in range(jobs)]
        enqueued = time.perf_counter() - started
        pending = set(ids)
        while pending:
            finished = {j.id for j in service.list_jobs(limit=jobs + latency_jobs) if j.finished}
            pending -= finished
            if pending:
                time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        consumer.stop()
        db.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    latencies.sort()
    return {
        "start_latency_ms_median": round(statistics.median(latencies) * 1000, 1),
        "start_latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
        "noop_jobs": jobs,
        "workers": workers,
        "enqueue_seconds": round(enqueued, 2),
        "all_done_seconds": round(elapsed, 2),
        "noop_jobs_per_second": round(jobs / elapsed, 1),
    }


def measure_eval_from_the_web(limit: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from companion.app import create_app
    from companion.container import Services
    from companion.identity.auth import Role, create_user
    from companion.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="companion-jobs-eval-"))
    settings = Settings(
        data_dir=tmp / "data",
        embeddings={"mode": "fake"},  # type: ignore[arg-type]
        store={"mode": "memory"},  # type: ignore[arg-type]
        llm={"mode": "fake"},  # type: ignore[arg-type]
        jobs={"mode": "sqlite"},  # type: ignore[arg-type]
    )
    services = Services(settings)
    services.db.create_tables()
    services.knowledge.ingest_sample()
    with services.db.session() as session:
        _, token = create_user(session, name="bench-admin", role=Role.admin)
    headers = {"Authorization": f"Bearer {token}"}
    consumer = services.job_consumer(periodic=False)
    consumer.start()
    try:
        with TestClient(create_app(settings, services=services)) as client:
            started = time.perf_counter()
            response = client.post("/v1/evals/runs", json={"limit": limit}, headers=headers)
            accepted = time.perf_counter() - started
            job_id = response.json()["id"]
            while True:
                job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
                if job["status"] in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.1)
            total = time.perf_counter() - started
    finally:
        consumer.stop()
        services.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "status": job["status"],
        "cases": job["progress"]["total"],
        "cases_per_suite": limit,
        "backend": "fake chat model, fake embeddings",
        "post_answered_ms": round(accepted * 1000, 1),
        "started_to_landed_seconds": round(total, 2),
        "run_id": (job.get("result") or {}).get("run_id"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500, help="No-op jobs for the throughput figure.")
    parser.add_argument("--latency-jobs", type=int, default=40, help="Jobs timed one at a time.")
    parser.add_argument("--workers", type=int, default=2, help="Consumer threads.")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="Redis URL for the Redis queue.")
    parser.add_argument("--eval-limit", type=int, default=3, help="Cases per suite of the eval run.")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "jobs"}
    for backend in ("sqlite", "redis"):
        if backend == "redis" and not _redis_up(args.redis):
            result[backend] = {"skipped": f"no Redis at {args.redis}"}
            continue
        log(f"{backend}: {args.latency_jobs} timed starts, then {args.jobs} no-op jobs")
        result[backend] = measure_queue(
            backend,
            redis_url=args.redis,
            jobs=args.jobs,
            latency_jobs=args.latency_jobs,
            workers=args.workers,
        )
    log(f"eval run from the web, {args.eval_limit} cases per suite")
    result["eval_run_from_the_web"] = measure_eval_from_the_web(args.eval_limit)
    emit(result)


if __name__ == "__main__":
    main()
